/* SPDX-License-Identifier: MIT */
/* Errors: return 0 or -errno; record the context once, print it once. */
#ifndef IOM_ERR_H
#define IOM_ERR_H

struct iom_err {
	char msg[256];
};

/*
 * Record "<what>: <ENAME> (<strerror>)" in err and return neg_errno, so a caller can write
 * `return iom_err_set(err, -errno, "io_uring_queue_init");`.
 */
int iom_err_set(struct iom_err *err, int neg_errno, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Record a message with no errno; returns -EINVAL. */
int iom_err_msg(struct iom_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "EPERM" for 1; "E?" for an unknown value. */
const char *iom_errno_name(int errnum);

#endif
