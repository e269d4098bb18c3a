// SPDX-License-Identifier: MIT
/* kernel_free's own options: the table the command line and `iomodels help` read (opt.h). */
#include <errno.h>
#include <stddef.h>

#include "core/driver.h"
#include "core/err.h"
#include "kernel_free/kernel_free.h"

_Static_assert(sizeof(enum iom_notify) == sizeof(int) && sizeof(enum iom_pool) == sizeof(int),
	       "an enum option is stored as int");

static const char *const notify_words[] = { "wait", "poll", NULL };
static const char *const pool_words[] = { "shared", "per-fd", NULL };

#define OFF(field)	offsetof(struct iom_kf_opts, field)

const struct iom_opt iom_kf_opt_table[] = {
	{ .name = "workers", .type = IOM_OPT_UINT, .off = OFF(workers),
	  .help = "worker threads, W (0: C)", .lo = 1, .hi = 4096, .flags = IOM_OPT_OR_ZERO },
	{ .name = "notify", .type = IOM_OPT_ENUM, .off = OFF(notify), .words = notify_words,
	  .help = "wait for a wake-up, or poll the status store" },
	/* Also run's own (the async API's interval): a value given goes to both. */
	{ .name = "poll-interval-us", .type = IOM_OPT_US, .off = OFF(poll_interval_ns),
	  .help = "--notify poll: us between polls of the status store (0: 50)", .hi = 1e7 },
	{ .name = "pool", .type = IOM_OPT_ENUM, .off = OFF(pool), .words = pool_words,
	  .help = "one shared pool, or one worker per fd" },
	{ .name = "nowait-first", .type = IOM_OPT_BOOL, .off = OFF(nowait_first),
	  .help = "try a buffered read inline with RWF_NOWAIT first" },
	{ .name = "status-lag-us", .type = IOM_OPT_US, .off = OFF(status_lag_ns), .hi = 1e7,
	  .help = "--notify poll: the status store's reads lag its writes by up to L us" },
	{ .name = "confirm", .type = IOM_OPT_UINT, .off = OFF(confirm), .lo = 1, .hi = 1000,
	  .help = "--notify poll: EXPIRED only after N reads in a row say not done" },
	{ .name = NULL },
};

const struct iom_kf_opts iom_kf_opts_defaults = { .confirm = 1 };

/* What only a poller reads: a wake-up hands the finished slot over itself. */
int iom_kf_opts_check(const void *opts, const struct iom_cfg *cfg, struct iom_err *err)
{
	const struct iom_kf_opts *o = opts;

	if (o->notify == IOM_NOTIFY_POLL)
		return 0;
	if (o->status_lag_ns || o->confirm > 1)
		return iom_err_msg(err, "--status-lag-us/--confirm: kernel_free reads its status "
				   "store only with --notify poll");
	if (o->poll_interval_ns && cfg->wl.api != IOM_API_ASYNC)
		return iom_err_msg(err, "--poll-interval-us: only with --api async (or "
				   "kernel_free's --notify poll)");
	return 0;
}
