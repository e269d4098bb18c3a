/* SPDX-License-Identifier: MIT */
/*
 * The driver's one hook for a live view (`iomodels watch`, `iomodels demo`, both in ui/): the
 * knobs the view turns (concurrency, task latency, deadline, pause, stop), read by the
 * submitters once per task, and the events of the cell the view counts, reported through ops
 * the view fills. What the view keeps (counters, histograms per second, threads) is ui/'s.
 *
 * Knobs are atomics read relaxed: a knob read one task late still "takes effect on the next
 * tasks". A cell without a view (cfg->live == NULL, every `run`) skips all of it: one
 * predictable branch per task.
 */
#ifndef IOM_LIVE_H
#define IOM_LIVE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* What a cell tells its view, each a count (+n or -n). */
enum iom_live_event {
	IOM_LIVE_SUBMITTED,	/* tasks handed to the model (first attempts); -1: refused */
	IOM_LIVE_RETRY_WAIT,	/* slots waiting out a retry's backoff (SCHEDULED) */
	/*
	 * Stages a model may count tasks through, as cumulative entries (the view shows the
	 * differences): kernel_free counts pushed to its queue, taken by a worker, finished by
	 * the worker (in the status store), reported to the driver.
	 */
	IOM_LIVE_QUEUED,
	IOM_LIVE_TAKEN,
	IOM_LIVE_STORED,
	IOM_LIVE_REPORTED,
	IOM_LIVE_NR_EVENTS,
};

/* What a registered thread is, for the view's lanes. */
enum iom_live_role {
	IOM_LIVE_SUBMITTER,	/* a driver thread (iom-sub-N): a sync client, or an async loop */
	IOM_LIVE_WORKER,	/* a model's own worker (kernel_free's kf-wrk-N) */
};

struct iom_live;

/* Filled by the view; called from any thread of the cell, so each must be thread-safe. */
struct iom_live_ops {
	void (*count)(struct iom_live *l, enum iom_live_event ev, int64_t n);
	/* A task's final state (enum iom_state), when it ended and after how long. */
	void (*task_end)(struct iom_live *l, int state, uint64_t end_ns, uint64_t lat_ns);
	/* A thread of the cell says who it is (the view groups threads by cell and role). */
	void (*thread)(struct iom_live *l, pid_t tid, enum iom_live_role role, unsigned int index);
	/* The measuring window starts at t0_ns (CLOCK_MONOTONIC). */
	void (*window_start)(struct iom_live *l, uint64_t t0_ns);
};

struct iom_live {
	/* --- knobs: the view writes them (iom_live_set*), every submitter reads them per task --- */
	_Atomic uint32_t concurrency;	/* tasks in flight wanted, 1..cfg->concurrency (the max) */
	_Atomic uint64_t latency_ns;	/* the workload's D (timer duration, rpc service time) */
	_Atomic uint64_t deadline_ns;	/* relative deadline of new tasks, 0 = none */
	_Atomic uint32_t paused;	/* no new task starts; what is in flight finishes */
	_Atomic uint64_t stop_ns;	/* UINT64_MAX, or when the view ended the cell */
	_Atomic uint32_t gen;		/* +1 on every change: idle submitters sleep on it */
	const struct iom_live_ops *ops;
};

/* The view sets up its knobs (every other field of l is its business). */
void iom_live_init(struct iom_live *l, const struct iom_live_ops *ops, unsigned int concurrency,
		   uint64_t latency_ns, uint64_t deadline_ns);

/* Knob changes from the view: store, then wake the idle submitters. */
void iom_live_set(struct iom_live *l, _Atomic uint64_t *knob, uint64_t v);
void iom_live_set32(struct iom_live *l, _Atomic uint32_t *knob, uint32_t v);
void iom_live_stop(struct iom_live *l);
bool iom_live_stopped(const struct iom_live *l);

/* An idle submitter: sleep until a knob changes or until abs_ns (CLOCK_MONOTONIC). */
void iom_live_wait(struct iom_live *l, uint32_t gen, uint64_t abs_ns);

/* The cell's side: each does nothing without a view (l == NULL). */
static inline void iom_live_count(struct iom_live *l, enum iom_live_event ev, int64_t n)
{
	if (l)
		l->ops->count(l, ev, n);
}

static inline void iom_live_task_end(struct iom_live *l, int state, uint64_t end_ns,
				     uint64_t lat_ns)
{
	if (l)
		l->ops->task_end(l, state, end_ns, lat_ns);
}

static inline void iom_live_window_start(struct iom_live *l, uint64_t t0_ns)
{
	if (l)
		l->ops->window_start(l, t0_ns);
}

static inline void iom_live_thread(struct iom_live *l, pid_t tid, enum iom_live_role role,
				   unsigned int index)
{
	if (l)
		l->ops->thread(l, tid, role, index);
}

#endif
