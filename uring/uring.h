/* SPDX-License-Identifier: MIT */
#ifndef IOM_URING_H
#define IOM_URING_H

#include <stdbool.h>
#include <stddef.h>

#include "core/opt.h"

/* The liburing this build uses ("2.3 (dpkg liburing-dev)"): struct iom_model's lib_version. */
void iom_uring_lib_version(char *buf, size_t len);

/* Timer tasks in a user-space heap under one armed TIMEOUT, or one TIMEOUT each. */
enum iom_uring_timer { IOM_URING_TIMER_HEAP, IOM_URING_TIMER_OP };
/* rpc replies: a multishot recv per connection on a buffer ring, or a linked SEND -> RECV a task. */
enum iom_uring_rpc { IOM_URING_RPC_MULTISHOT, IOM_URING_RPC_LINKED };

/* uring's own options (opts.c: the table, `iomodels help uring`). */
struct iom_uring_opts {
	bool sqpoll;			/* a kernel SQ polling thread */
	bool fixed_buffers;		/* registered buffers (always with O_DIRECT) */
	unsigned int sq_entries;	/* cap the SQ (0 = room for every task in flight) */
	enum iom_uring_timer timer;
	enum iom_uring_rpc rpc;
};

/* The model itself, for a scenario that sets these options on it (faults' CQ). */
extern const struct iom_model iom_model_uring;
extern const struct iom_opt iom_uring_opt_table[];
extern const struct iom_uring_opts iom_uring_opts_defaults;

#endif
