/* SPDX-License-Identifier: MIT */
/* Kept for the files that include it by this name: everything is in tests/helpers.h. */
#ifndef IOM_TESTUTIL_H
#define IOM_TESTUTIL_H
#include "tests/helpers.h"
#endif
