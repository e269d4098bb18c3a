/* SPDX-License-Identifier: MIT */
#ifndef IOM_URING_H
#define IOM_URING_H

#include <stddef.h>

/* The liburing this build uses ("2.3 (dpkg liburing-dev)"): struct iom_model's lib_version. */
void iom_uring_lib_version(char *buf, size_t len);

#endif
