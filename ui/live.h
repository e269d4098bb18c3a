/* SPDX-License-Identifier: MIT */
/*
 * What a live view (watch, demo) keeps of a running cell: the driver's hook (core/live.h, its
 * knobs) and, filled through the hook's ops, tasks per state, a histogram per second of
 * completion, the threads the cell made. Counters are atomics written relaxed by the cell's
 * threads and only displayed.
 */
#ifndef IOM_UI_LIVE_H
#define IOM_UI_LIVE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/hist.h"
#include "core/live.h"
#include "core/task.h"

/* Histograms of completion per second of the window, a ring of this many seconds. */
#define IOM_LIVE_SECS		4
/* Threads a cell may register (a sync model's submitters, kernel_free's workers). */
#define IOM_LIVE_MAX_TIDS	4096

struct iom_live_sec {
	_Atomic uint64_t count;
	_Atomic uint64_t buckets[IOM_HIST_NR_BUCKETS];
};

struct iom_live_view {
	struct iom_live hook;		/* cfg->live = &view->hook */
	_Atomic uint64_t t0_ns;		/* the window's start (0 until the cell starts) */
	_Atomic uint64_t ev[IOM_LIVE_NR_EVENTS];	/* by enum iom_live_event */
	_Atomic uint64_t nr_state[IOM_NR_STATES];	/* terminal states: totals */
	struct iom_live_sec sec[IOM_LIVE_SECS];	/* completions by second of their end */
	_Atomic uint32_t nr_tids;
	_Atomic int32_t tid[IOM_LIVE_MAX_TIDS];
	_Atomic uint32_t tid_info[IOM_LIVE_MAX_TIDS];	/* role << 24 | index */
};

/* A zeroed view with its knobs set; free() it after the cell returns. NULL without memory. */
struct iom_live_view *iom_live_view_new(unsigned int concurrency, uint64_t latency_ns,
					uint64_t deadline_ns);

static inline uint64_t iom_live_view_get(const struct iom_live_view *v, enum iom_live_event ev)
{
	return atomic_load_explicit(&v->ev[ev], memory_order_relaxed);
}

/*
 * Once per second k >= 1: completions of second k-1 into h (a plain histogram the caller
 * owns), and the ring slot that second k+1 will use cleared. Returns h->count.
 */
uint64_t iom_live_take_second(struct iom_live_view *v, uint64_t k, struct iom_hist *h);

/* One thread of this process, read from /proc/self/task/TID: stat, schedstat and syscall. */
struct iom_thread_sample {
	pid_t tid;
	char comm[16];
	char state;		/* R, S, D, ... from stat */
	uint64_t oncpu_ns;	/* schedstat: time on a CPU */
	uint64_t runwait_ns;	/* schedstat: time runnable, waiting for a CPU */
	long syscall_nr;	/* the call it is blocked in, -1 when running or unknown */
};
int iom_thread_read(pid_t tid, struct iom_thread_sample *s, bool want_syscall);
/* A short name for a syscall number a blocked thread may be in ("clock_nanosleep"), or NULL. */
const char *iom_live_syscall_name(long nr);

#endif
