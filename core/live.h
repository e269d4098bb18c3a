/* SPDX-License-Identifier: MIT */
/*
 * A running cell's live control block: the link between the driver and `iomodels watch` /
 * `iomodels demo`. The view turns knobs (concurrency, task latency, deadline, pause, stop) that
 * the submitters read once per task, and reads counters the submitters keep: tasks per state,
 * a histogram per second of completion, the threads each cell made.
 *
 * Everything here is an atomic read and written relaxed: the view only displays it, and a
 * knob that is read one task late still "takes effect on the next tasks". A cell without a
 * live block (cfg->live == NULL, every `run`) skips all of it: one predictable branch per task.
 */
#ifndef IOM_LIVE_H
#define IOM_LIVE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hist.h"
#include "task.h"

/* Histograms of completion per second of the window, a ring of this many seconds. */
#define IOM_LIVE_SECS		4
/* Threads a cell may register (a sync model's submitters, kernel_free's workers). */
#define IOM_LIVE_MAX_TIDS	4096

/* What a registered thread is, for the view's lanes. */
enum iom_live_role {
	IOM_LIVE_SUBMITTER,	/* a driver thread (iom-sub-N): a sync client, or an async loop */
	IOM_LIVE_WORKER,	/* a model's own worker (kernel_free's kf-wrk-N) */
};

/*
 * Stages a model may count tasks through, as cumulative entries (the view shows differences):
 * kernel_free counts pushed to its queue, taken by a worker, finished by the worker (in the
 * status store), reported to the driver.
 */
enum iom_live_stage {
	IOM_STAGE_QUEUED,
	IOM_STAGE_TAKEN,
	IOM_STAGE_STORED,
	IOM_STAGE_REPORTED,
	IOM_NR_STAGES,
};

struct iom_live_sec {
	_Atomic uint64_t count;
	_Atomic uint64_t buckets[IOM_HIST_NR_BUCKETS];
};

struct iom_live {
	/* --- knobs: the view writes them, every submitter reads them once per task --- */
	_Atomic uint32_t concurrency;	/* tasks in flight wanted, 1..cfg->concurrency (the max) */
	_Atomic uint64_t latency_ns;	/* the workload's D (timer duration, rpc service time) */
	_Atomic uint64_t deadline_ns;	/* relative deadline of new tasks, 0 = none */
	_Atomic uint32_t paused;	/* no new task starts; what is in flight finishes */
	_Atomic uint64_t stop_ns;	/* UINT64_MAX, or when the view ended the cell */
	_Atomic uint32_t gen;		/* +1 on every change: idle submitters sleep on it */

	/* --- counters: the driver writes them, the view reads them --- */
	_Atomic uint64_t t0_ns;		/* the window's start (0 until the cell starts) */
	_Atomic uint64_t nr_submitted;	/* tasks handed to the model (first attempts) */
	_Atomic uint64_t nr_state[IOM_NR_STATES];	/* terminal states: totals */
	_Atomic uint64_t nr_retry_wait;	/* slots waiting out a retry's backoff (SCHEDULED) */
	_Atomic uint64_t stage[IOM_NR_STAGES];
	struct iom_live_sec sec[IOM_LIVE_SECS];	/* completions by second of their end */
	_Atomic uint32_t nr_tids;
	_Atomic int32_t tid[IOM_LIVE_MAX_TIDS];
	_Atomic uint32_t tid_info[IOM_LIVE_MAX_TIDS];	/* role << 24 | index */
};

/* A zeroed block with its knobs set; free() it after the cell returns. NULL without memory. */
struct iom_live *iom_live_new(unsigned int concurrency, uint64_t latency_ns, uint64_t deadline_ns);

/* Knob changes from the view: store, then wake the idle submitters. */
void iom_live_set(struct iom_live *l, _Atomic uint64_t *knob, uint64_t v);
void iom_live_set32(struct iom_live *l, _Atomic uint32_t *knob, uint32_t v);
void iom_live_stop(struct iom_live *l);
bool iom_live_stopped(const struct iom_live *l);

/* An idle submitter: sleep until a knob changes or until abs_ns (CLOCK_MONOTONIC). */
void iom_live_wait(struct iom_live *l, uint32_t gen, uint64_t abs_ns);

/* A thread of the cell says who it is (the view groups threads by cell and role). */
void iom_live_add_tid(struct iom_live *l, pid_t tid, enum iom_live_role role, unsigned int index);

static inline void iom_live_count(_Atomic uint64_t *c, int64_t n)
{
	atomic_fetch_add_explicit(c, (uint64_t)n, memory_order_relaxed);
}

/* A task ended at end_ns after lat_ns: into the histogram of its second. */
void iom_live_record(struct iom_live *l, uint64_t end_ns, uint64_t lat_ns);

/*
 * The view, once per second k >= 1: completions of second k-1 into h (a plain histogram the
 * caller owns), and the ring slot that second k+1 will use cleared. Returns h->count.
 */
uint64_t iom_live_take_second(struct iom_live *l, uint64_t k, struct iom_hist *h);

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
