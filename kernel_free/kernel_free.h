/* SPDX-License-Identifier: MIT */
/* kernel_free's own options (opts.c: the table, `iomodels help kernel_free`). */
#ifndef KF_KERNEL_FREE_H
#define KF_KERNEL_FREE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/opt.h"

enum iom_notify { IOM_NOTIFY_WAIT, IOM_NOTIFY_POLL };	/* how completions are learned */
enum iom_pool { IOM_POOL_SHARED, IOM_POOL_PER_FD };	/* libuv-like or glibc-AIO-like */

struct iom_kf_opts {
	unsigned int workers;		/* W worker threads (0 = C) */
	enum iom_notify notify;
	uint64_t poll_interval_ns;	/* --notify poll: time between status-store polls (0: 50 us) */
	enum iom_pool pool;
	bool nowait_first;		/* try the read inline with RWF_NOWAIT first */
	/*
	 * --notify poll: the status store's replicas lag its primary by up to this much (a read
	 * may say RUNNING for a task already DONE), and the poller acts on "still RUNNING at the
	 * deadline" only after confirm such reads in a row (1 = trust one read).
	 */
	uint64_t status_lag_ns;
	unsigned int confirm;
};

/* The model itself, for a scenario that sets these options on it (stale-status). */
extern const struct iom_model iom_model_kernel_free;
extern const struct iom_opt iom_kf_opt_table[];
extern const struct iom_kf_opts iom_kf_opts_defaults;
struct iom_cfg;
struct iom_err;
int iom_kf_opts_check(const void *opts, const struct iom_cfg *cfg, struct iom_err *err);

#endif
