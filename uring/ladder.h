/* SPDX-License-Identifier: MIT */
/*
 * The ring-flag ladder the client model and the server share: the best the kernel grants
 * first. DEFER_TASKRUN needs SINGLE_ISSUER; SQPOLL takes neither. IOM_MASK (core/mask.h) passes
 * over a rung whose flags this kernel is said to lack, as its -EINVAL would.
 */
#ifndef IOM_URING_LADDER_H
#define IOM_URING_LADDER_H

#include <stdbool.h>
#include <liburing.h>

#include "core/mask.h"

static const unsigned int ur_ladder[] = {
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
	IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
	0,
};

static inline bool ur_rung_masked(unsigned int flags)
{
	return ((flags & IORING_SETUP_DEFER_TASKRUN) && iom_masked("defer_taskrun")) ||
	       ((flags & IORING_SETUP_COOP_TASKRUN) && iom_masked("coop_taskrun")) ||
	       ((flags & IORING_SETUP_SINGLE_ISSUER) && iom_masked("single_issuer"));
}

#endif
