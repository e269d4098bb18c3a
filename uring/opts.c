// SPDX-License-Identifier: MIT
/* uring's own options: the table the command line and `iomodels help uring` read (opt.h). */
#include <stddef.h>

#include "uring.h"

_Static_assert(sizeof(enum iom_uring_timer) == sizeof(int), "an enum option is stored as int");
_Static_assert(sizeof(enum iom_uring_rpc) == sizeof(int), "an enum option is stored as int");

static const char *const timer_words[] = { "heap", "op", NULL };
static const char *const rpc_words[] = { "multishot", "linked", NULL };

#define OFF(field)	offsetof(struct iom_uring_opts, field)

const struct iom_opt iom_uring_opt_table[] = {
	{ .name = "sqpoll", .type = IOM_OPT_BOOL, .off = OFF(sqpoll),
	  .help = "a kernel SQ polling thread (pinned with --cpus)" },
	{ .name = "fixed-buffers", .type = IOM_OPT_BOOL, .off = OFF(fixed_buffers),
	  .help = "registered buffers (always on with --direct)" },
	{ .name = "sq-entries", .type = IOM_OPT_UINT, .off = OFF(sq_entries),
	  .help = "an SQ of N entries (0: room for every task); --fault cq-overflow's control",
	  .lo = 4, .hi = 32768, .flags = IOM_OPT_POW2 | IOM_OPT_OR_ZERO },
	{ .name = "uring-timer", .type = IOM_OPT_ENUM, .off = OFF(timer), .words = timer_words,
	  .help = "timer tasks in a user-space heap, one armed TIMEOUT; or one TIMEOUT each" },
	{ .name = "uring-rpc", .type = IOM_OPT_ENUM, .off = OFF(rpc), .words = rpc_words,
	  .help = "rpc replies: a multishot recv per connection on a buffer ring; or a linked "
		  "SEND -> RECV a task" },
	{ .name = NULL },
};

const struct iom_uring_opts iom_uring_opts_defaults = { .timer = IOM_URING_TIMER_HEAP };
