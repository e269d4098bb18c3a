/* SPDX-License-Identifier: MIT */
/*
 * kernel_free's private state, shared by its files: the submitter's context (kernel_free.c),
 * the workers (worker.c), the submit queue (queue.c) and the status store (status.c).
 */
#ifndef KF_KF_H
#define KF_KF_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/live.h"
#include "core/model.h"
#include "kernel_free/queue.h"
#include "kernel_free/status.h"

/* libuv's MAX_THREADPOOL_SIZE: more workers than this per submitter is not a thread pool. */
#define KF_MAX_WORKERS		1024
#define KF_POLL_DEFAULT_NS	50000ull

struct kf_ctx;

struct kf_worker {
	struct kf_parker parker;	/* first: its futex word on the worker's own line */
	struct kf_ctx *kf;
	pthread_t thread;
	unsigned int index;
	/*
	 * The task it holds (slot and sequence number), KF_NIL when none: read by the
	 * supervisor only after it has joined the dead thread, which orders the two.
	 */
	uint32_t holding;
	uint64_t holding_seq;
	bool gone;			/* died and could not be replaced: never join it again */
};

/* The submitter's own view of a slot (never touched by workers). */
struct kf_slot {
	bool inflight;		/* handed to the queue, not yet reported */
	bool finished;		/* the submitter already set EXPIRED/ABORTED */
	bool ready;		/* in the ready list, to be reported */
	bool dropped;		/* left the queue without a worker: nothing more will come */
	uint32_t nr_reads;	/* polls of this task's entry (seeds the replica a read hits) */
	uint32_t nr_running;	/* "not done" reads in a row since its deadline passed */
};

struct kf_ctx {
	/* Read-only after setup: workers read these. */
	const struct iom_cfg *cfg;
	const struct iom_rpc_addr *addr;	/* rpc: where a broken connection is replaced from */
	struct iom_task *tasks;
	unsigned int depth;
	unsigned int nr_workers;
	unsigned int wake_max;		/* workers a batch wakes at once: the pool's CPUs */
	bool poll;			/* --notify poll: no completion list, no wake-ups */
	bool resubmit;			/* short transfers go again for the rest */
	struct kf_queue q;
	struct kf_store store;
	struct kf_worker *workers;
	_Atomic bool stop;
	_Atomic uint64_t nr_resubmit;
	_Atomic uint64_t nr_reconnects;
	bool supervise;				/* --fault kill-worker: watch for dead workers */
	uint64_t nr_replaced;			/* dead workers replaced (submitter's) */
	uint64_t next_supervise_ns;

	/* Worker start-up hand-shake (setup only). */
	pthread_mutex_t start_lock;
	pthread_cond_t start_cond;
	unsigned int nr_started;
	int start_err;

	/* The submitter's alone. */
	struct kf_slot *slots;
	uint32_t *ready;		/* FIFO of slots to report, depth entries */
	unsigned int ready_head, ready_tail, nr_ready;
	uint32_t *taken;		/* scratch for kf_done_take() */
	unsigned int nr_inflight;	/* queued to workers and not yet reported */
	unsigned int nr_unwoken;	/* pushed since the last wake of the workers */
	uint64_t next_deadline_ns;	/* no in-flight deadline is earlier (may be stale) */
	uint64_t poll_ns;
	uint64_t next_poll_ns;		/* --notify poll: no poll before this */
	bool nowait;			/* --nowait-first on buffered reads */
	bool nowait_off;		/* the file system refused RWF_NOWAIT */
	uint64_t nr_polls, nr_tasks, nr_inline, nr_nowait_tries;
	uint64_t lag_ns;		/* --status-lag-us: replicas are behind by up to this */
	unsigned int confirm;		/* --confirm: "not done" reads in a row before EXPIRED */
	uint64_t nr_reads, nr_stale, nr_wrong;
	uint64_t variant_ns;		/* when ctx->variant was last refreshed */
	char variant[64];		/* the fixed part: pool, W, notify */
};

/* worker.c */
int kf_workers_start(struct kf_ctx *kf, struct iom_err *err);
void kf_workers_stop(struct kf_ctx *kf);
/* The submitter: a new thread for a worker that died (0 or an errno). */
int kf_worker_restart(struct kf_worker *w);


#endif
