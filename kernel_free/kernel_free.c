// SPDX-License-Identifier: MIT
/*
 * kernel_free: the seed's Async API built in user space, with its three failure domains in
 * three files: a bounded submit queue (queue.c), a pool of workers making the blocking calls
 * (worker.c), and a status store the submitter polls or is woken from (status.c). This file is
 * the submitter's side: ->submit hands a task id to the queue (202 + task id), ->reap learns
 * outcomes from the status store, enforces deadlines, and reports tasks to the driver.
 *
 * Variants (DESIGN §5), recorded in ctx->variant:
 *   --pool shared   one queue, W workers (libuv's thread pool);
 *   --pool per-fd   one worker per fd (glibc AIO): every workload here has a single fd (file)
 *                   or none (nop, timer: one request stream), so that is one worker;
 *   --notify wait   workers wake the submitter, coalesced (uv_async_send);
 *   --notify poll   the submitter scans the status store every P (the seed's poll loop);
 *                   "polls/task" in the variant is status-store scans per task reported;
 *   --nowait-first  a buffered read is tried inline with RWF_NOWAIT and handed to the pool
 *                   only if it would block (Seastar).
 *   --status-lag-us L, --confirm N (poll only): the seed's eventual consistency. The store's
 *                   replicas lag its primary by up to L, so a poll may say RUNNING of a task
 *                   already DONE; a deadline is acted on only after N "not done" reads in a
 *                   row (N = 1 trusts one read).
 *
 * Deadlines and cancels end a task at once (EXPIRED / ABORTED, from the submitter), but its
 * slot is reported only once no worker holds it any more: a worker's call that returns after
 * that is the Two Generals' late answer, counted by the task's finish. A cancel also cuts a
 * worker's timer short (its "remote call" is told to stop); a deadline does not (the call goes
 * on, as the seed's remote server would).
 *
 * Workers never move a task's state: they write the status store, whose compare-and-swap
 * settles a worker's return against a deadline or cancel. Only the submitter ends tasks, so by
 * iom_task_finish_owned (no locked instruction per task).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "kernel_free/kernel_free.h"
#include "kernel_free/kf.h"

/*
 * ctx->variant's counters are refreshed at most this often, and whenever nothing is in flight
 * (which is how the drain ends): the driver copies the string after the last reap.
 */
#define KF_VARIANT_EVERY_NS	100000000ull
/* --fault kill-worker: how often the submitter looks for dead workers. */
#define KF_SUPERVISE_NS		1000000ull

static int kf_probe(enum iom_wl_kind wl, struct iom_err *err)
{
	return 0;
}

static void kf_variant_refresh(struct iom_ctx *ctx, struct kf_ctx *kf)
{
	char polls[32] = "", nowait[48] = "";

	if (kf->poll)
		snprintf(polls, sizeof(polls), ",polls/task=%.2f",
			 kf->nr_tasks ? (double)kf->nr_polls / (double)kf->nr_tasks : 0.0);
	if (kf->nowait && kf->nowait_off)
		snprintf(nowait, sizeof(nowait), ",nowait-first:EOPNOTSUPP");
	else if (kf->nowait)
		snprintf(nowait, sizeof(nowait), ",nowait-first,inline=%.0f%%",
			 kf->nr_nowait_tries ? 100.0 * (double)kf->nr_inline /
						       (double)kf->nr_nowait_tries : 0.0);
	snprintf(ctx->variant, sizeof(ctx->variant), "%s%s%s", kf->variant, polls, nowait);
	kf->variant_ns = ctx->now_ns;
}

static void kf_free(struct kf_ctx *kf)
{
	kf_queue_free(&kf->q);
	kf_store_free(&kf->store);
	free(kf->slots);
	free(kf->ready);
	free(kf->taken);
	pthread_cond_destroy(&kf->start_cond);
	pthread_mutex_destroy(&kf->start_lock);
	free(kf);
}

static unsigned int kf_nr_workers(const struct iom_ctx *ctx)
{
	const struct iom_kf_opts *o = iom_cfg_model_opts(ctx->cfg);
	unsigned int w = o->workers ? o->workers : ctx->depth;

	if (o->pool == IOM_POOL_PER_FD)
		return 1;
	/* More workers than tasks in flight would only sleep. */
	if (w > ctx->depth)
		w = ctx->depth;
	if (w > KF_MAX_WORKERS)
		w = KF_MAX_WORKERS;
	return w ? w : 1;
}

/* CPUs the workers may run on: waking more at once than that only queues them up. */
static unsigned int kf_nr_cpus(const struct iom_cfg *cfg)
{
	cpu_set_t set;
	int n;

	if (cfg->cpus_set)
		n = CPU_COUNT(&cfg->cpus);
	else
		n = sched_getaffinity(0, sizeof(set), &set) ? 1 : CPU_COUNT(&set);
	return n > 0 ? (unsigned int)n : 1;
}

static void kf_variant_base(struct kf_ctx *kf, const struct iom_cfg *cfg)
{
	const struct iom_kf_opts *o = iom_cfg_model_opts(cfg);
	const char *pool = "shared", *tail = "";
	char notify[64] = "wait";

	if (o->pool == IOM_POOL_PER_FD)
		pool = cfg->wl.kind == IOM_WL_FILE ? "per-fd(1 fd)" : "per-fd(no fd: 1 stream)";
	if (kf->poll && (kf->lag_ns || kf->confirm > 1))
		snprintf(notify, sizeof(notify), "poll=%gus,lag<=%gus,confirm=%u",
			 (double)kf->poll_ns / 1e3, (double)kf->lag_ns / 1e3, kf->confirm);
	else if (kf->poll)
		snprintf(notify, sizeof(notify), "poll=%gus", (double)kf->poll_ns / 1e3);
	/*
	 * RWF_NOWAIT is for buffered reads: an O_DIRECT read would still wait for the device
	 * inside the call, and writes are not what --nowait-first is about.
	 */
	if (o->nowait_first && !kf->nowait)
		tail = cfg->wl.kind != IOM_WL_FILE ? ",nowait-first:n/a" :
		       cfg->wl.write ? ",nowait-first:n/a(write)" : ",nowait-first:n/a(O_DIRECT)";
	snprintf(kf->variant, sizeof(kf->variant), "%s,W=%u,%s%s", pool, kf->nr_workers, notify,
		 tail);
}

static int kf_setup(struct iom_ctx *ctx)
{
	const struct iom_cfg *cfg = ctx->cfg;
	const struct iom_kf_opts *o = iom_cfg_model_opts(cfg);
	struct kf_ctx *kf = calloc(1, sizeof(*kf));
	unsigned int qcap;
	int ret;

	if (!kf)
		return iom_err_set(&ctx->err, -ENOMEM, "kernel_free: setup");
	kf->cfg = cfg;
	kf->tasks = ctx->tasks;
	kf->addr = &ctx->wl->addr;
	kf->depth = ctx->depth;
	kf->nr_workers = kf_nr_workers(ctx);
	kf->wake_max = kf_nr_cpus(cfg);
	kf->poll = o->notify == IOM_NOTIFY_POLL;
	kf->poll_ns = o->poll_interval_ns ? o->poll_interval_ns : KF_POLL_DEFAULT_NS;
	kf->resubmit = cfg->on_partial == IOM_PARTIAL_RESUBMIT;
	/* Only a poller reads the store; a wake-up hands the slot over itself. */
	kf->lag_ns = kf->poll ? o->status_lag_ns : 0;
	/* The lag is counted from a worker's CLOCK_MONOTONIC stamp: the submitter's must match. */
	if (kf->lag_ns)
		ctx->tsc_stamps = false;
	kf->confirm = kf->poll && o->confirm > 1 ? o->confirm : 1;
	kf->nowait = o->nowait_first && cfg->wl.kind == IOM_WL_FILE && !cfg->wl.write &&
		     !cfg->wl.direct;
	kf->next_deadline_ns = UINT64_MAX;
	atomic_init(&kf->stop, false);
	atomic_init(&kf->nr_resubmit, 0);
	atomic_init(&kf->nr_reconnects, 0);
	/*
	 * Only a pool whose workers can die (--fault kill-worker) pays for watching them: the
	 * submitter looks every KF_SUPERVISE_NS, even while it waits for completions.
	 */
	kf->supervise = cfg->fault_kill_ppm > 0;
	pthread_mutex_init(&kf->start_lock, NULL);
	pthread_cond_init(&kf->start_cond, NULL);
	kf_variant_base(kf, cfg);

	/* Room for every task in flight twice over (dropped ids keep their cell a while). */
	qcap = 2 * ctx->depth < kf_queue_cap_max ? 2 * ctx->depth : kf_queue_cap_max;
	kf->slots = calloc(ctx->depth, sizeof(*kf->slots));
	kf->ready = calloc(ctx->depth, sizeof(*kf->ready));
	kf->taken = calloc(ctx->depth, sizeof(*kf->taken));
	if (!kf->slots || !kf->ready || !kf->taken || kf_queue_init(&kf->q, qcap, kf->nr_workers) ||
	    kf_store_init(&kf->store, ctx->depth)) {
		kf_free(kf);
		return iom_err_set(&ctx->err, -ENOMEM, "kernel_free: setup");
	}
	ret = kf_workers_start(kf, &ctx->err);
	if (ret) {
		kf_free(kf);
		ctx->priv = NULL;
		return ret;
	}
	ctx->priv = kf;
	kf_variant_refresh(ctx, kf);
	return 0;
}

static void kf_ready_push(struct kf_ctx *kf, uint32_t slot)
{
	/* Each slot is in the list at most once, so depth entries always suffice. */
	kf->slots[slot].ready = true;
	kf->ready[kf->ready_tail] = slot;
	kf->ready_tail = kf->ready_tail + 1 == kf->depth ? 0 : kf->ready_tail + 1;
	kf->nr_ready++;
}

/*
 * --nowait-first: the read from the page cache, inline, or nothing. True (the task is
 * COMPLETED, ->submit answers IOM_Q_DONE and the driver reports it) when it was all there;
 * otherwise the task goes to the pool for the rest (what NOWAIT read stays read).
 */
static bool kf_try_inline(struct iom_ctx *ctx, struct kf_ctx *kf, struct iom_task *t)
{
	struct iovec iov = { (char *)t->buf + t->done_bytes, t->len - t->done_bytes };
	ssize_t ret;

	kf->nr_nowait_tries++;
	ret = preadv2(t->fd, &iov, 1, (off_t)(t->offset + t->done_bytes), RWF_NOWAIT);
	if (ret < 0) {
		/* EAGAIN: it would block, the pool's job. EOPNOTSUPP: never on this fs. */
		if (errno == EOPNOTSUPP) {
			kf->nowait_off = true;
			kf_variant_refresh(ctx, kf);
		}
		return false;
	}
	t->done_bytes += (uint32_t)ret;
	if (t->done_bytes < t->len)
		return false;
	ctx->now_ns = iom_ctx_now(ctx);
	iom_task_finish_owned(t, t->done_bytes, IOM_CAUSE_OP, ctx->now_ns);
	kf->nr_inline++;
	kf->nr_tasks++;
	if (ctx->now_ns - kf->variant_ns >= KF_VARIANT_EVERY_NS)
		kf_variant_refresh(ctx, kf);
	return true;
}

static int kf_submit(struct iom_ctx *ctx, struct iom_task *t)
{
	struct kf_ctx *kf = ctx->priv;
	struct kf_slot *s = &kf->slots[t->slot];
	struct kf_status *e = &kf->store.entries[t->slot];

	if (kf->nowait && !kf->nowait_off && t->op == IOM_OP_READ && kf_try_inline(ctx, kf, t))
		return IOM_Q_DONE;
	/* The entry first: a worker that pops the id must find it QUEUED under this id. */
	kf_status_queued(e, iom_id_seq(t->id));
	/*
	 * Full: the driver retries the task after a reap. Unless a worker took it meanwhile: a
	 * retry keeps its id, and a dropped attempt's id may still be in the queue, whose taker
	 * runs this one. Then it is in flight (taking it back would run it, and report it, twice).
	 */
	if (!kf_queue_push(&kf->q, t->id) &&
	    kf_status_move(e, iom_id_seq(t->id), KF_ST_QUEUED, KF_ST_FREE))
		return IOM_Q_BUSY;
	*s = (struct kf_slot){ .inflight = true };
	iom_live_count(kf->cfg->live, IOM_LIVE_QUEUED, 1);
	kf->nr_inflight++;
	kf->nr_unwoken++;
	if (t->deadline_ns && t->deadline_ns < kf->next_deadline_ns)
		kf->next_deadline_ns = t->deadline_ns;
	return IOM_Q_QUEUED;
}

/*
 * The batch the driver just submitted: wake at most one parked worker per CPU (none if none
 * is parked); each worker that finds more behind the item it takes wakes the next.
 */
static int kf_flush(struct iom_ctx *ctx)
{
	struct kf_ctx *kf = ctx->priv;

	if (kf->nr_unwoken) {
		kf_queue_wake(&kf->q, kf->nr_unwoken < kf->wake_max ? kf->nr_unwoken :
								       kf->wake_max);
		kf->nr_unwoken = 0;
	}
	return 0;
}

/*
 * --status-lag-us: does this read of a DONE (or CUT) entry see it? Workers write the store's
 * primary; each read is served by a replica that is behind it by a lag drawn uniformly in
 * [0, L], seeded by the task and the read's number (replicas behind a load balancer lag by
 * different amounts), so an answer written less than that long ago still reads as "not done":
 * a stale read. The store only moves forward, so a read that does show the answer is true.
 */
static bool kf_replica_sees(const struct kf_ctx *kf, const struct iom_task *t, uint32_t nr_read,
			    uint64_t done_ns, uint64_t now)
{
	double u;

	if (!kf->lag_ns)
		return true;
	u = iom_unit(iom_mix64(kf->cfg->wl.seed ^ 0x7265706c696361ull ^ t->id ^
			       ((uint64_t)nr_read << 44)));
	return now >= done_ns + (uint64_t)(u * (double)kf->lag_ns);
}

/*
 * Poll mode: a task the poller sees as not done, past its deadline. Still in the queue, it is
 * dropped at once (the queue is the submitter's own: no status read is involved). Running, it
 * is EXPIRED only after confirm such reads in a row. If the primary had its answer, written
 * before the deadline, that EXPIRED is wrong: the stale store made the poller give up on a
 * task that had completed.
 */
static void kf_poll_expire(struct iom_ctx *ctx, struct kf_ctx *kf, uint32_t slot)
{
	struct kf_slot *s = &kf->slots[slot];
	struct iom_task *t = &kf->tasks[slot];
	struct kf_status *e = &kf->store.entries[slot];
	uint64_t seq = iom_id_seq(t->id);

	if (kf_status_move(e, seq, KF_ST_QUEUED, KF_ST_DROPPED)) {
		iom_task_finish_owned(t, -ETIME, IOM_CAUSE_DEADLINE, ctx->now_ns);
		s->finished = s->dropped = true;
		kf_ready_push(kf, slot);
		return;
	}
	if (++s->nr_running < kf->confirm)
		return;
	/* Acquire: a DONE word makes done_ns readable. */
	if (kf_word_st(kf_status_read(e)) == KF_ST_DONE && e->done_ns <= t->deadline_ns)
		kf->nr_wrong++;
	iom_task_finish_owned(t, -ETIME, IOM_CAUSE_DEADLINE, ctx->now_ns);
	s->finished = true;
}

/* Move what the workers finished into the ready list: from their hand-offs, or by a poll. */
static void kf_collect(struct iom_ctx *ctx, struct kf_ctx *kf)
{
	if (!kf->poll) {
		unsigned int n = kf_done_take(&kf->store.done, kf->taken);

		for (unsigned int i = 0; i < n; i++) {
			uint32_t slot = kf->taken[i];

			if (slot < kf->depth && kf->slots[slot].inflight && !kf->slots[slot].ready)
				kf_ready_push(kf, slot);
		}
		return;
	}
	/*
	 * One poll: every in-flight task's status, as the seed's client asks for its job, and
	 * the deadlines decided on what the polls say. At most one poll per interval P, however
	 * often the driver calls in: P is the poller's cadence (the seed's 0, 30, 60, 90 s), so
	 * N reads in a row span at least (N - 1) x P.
	 */
	if (ctx->now_ns < kf->next_poll_ns)
		return;
	kf->next_poll_ns = ctx->now_ns + kf->poll_ns;
	kf->nr_polls++;
	for (uint32_t slot = 0; slot < kf->depth; slot++) {
		struct kf_slot *s = &kf->slots[slot];
		struct iom_task *t = &kf->tasks[slot];
		struct kf_status *e = &kf->store.entries[slot];
		enum kf_st st;
		uint64_t w;

		if (!s->inflight || s->ready)
			continue;
		w = kf_status_read(e);
		st = kf_word_st(w);
		/*
		 * Decided already (EXPIRED or ABORTED): the client asks no more; the pool only
		 * waits for the worker to give the slot back, which it knows first hand.
		 */
		if (s->finished) {
			if (st == KF_ST_DONE || st == KF_ST_CUT || st == KF_ST_LOST)
				kf_ready_push(kf, slot);
			continue;
		}
		kf->nr_reads++;
		s->nr_reads++;
		if ((st == KF_ST_DONE || st == KF_ST_CUT) && kf_word_seq(w) == iom_id_seq(t->id)) {
			if (kf_replica_sees(kf, t, s->nr_reads, e->done_ns, ctx->now_ns)) {
				kf_ready_push(kf, slot);
				continue;
			}
			kf->nr_stale++;
		}
		if (t->deadline_ns && ctx->now_ns >= t->deadline_ns)
			kf_poll_expire(ctx, kf, slot);
	}
}

/*
 * --notify wait: deadlines that have passed (a poller decides them in kf_poll_expire, on what
 * it reads). A queued task leaves the queue (DROPPED) and is reported now; a
 * running one is EXPIRED now and reported when its worker returns. Also finds the next
 * deadline to wake up for. A scan of the slots: depth is at most a few thousand, and it runs
 * only when the earliest known deadline has come.
 */
static void kf_expire(struct iom_ctx *ctx, struct kf_ctx *kf)
{
	uint64_t now = ctx->now_ns, next = UINT64_MAX;

	for (uint32_t slot = 0; slot < kf->depth; slot++) {
		struct kf_slot *s = &kf->slots[slot];
		struct iom_task *t = &kf->tasks[slot];
		struct kf_status *e = &kf->store.entries[slot];
		uint64_t seq = iom_id_seq(t->id);
		enum kf_st st;

		if (!s->inflight || s->finished || s->ready || !t->deadline_ns)
			continue;
		if (t->deadline_ns > now) {
			if (t->deadline_ns < next)
				next = t->deadline_ns;
			continue;
		}
		if (kf_status_move(e, seq, KF_ST_QUEUED, KF_ST_DROPPED)) {
			iom_task_finish_owned(t, -ETIME, IOM_CAUSE_DEADLINE, now);
			s->finished = s->dropped = true;
			kf_ready_push(kf, (uint32_t)slot);
			continue;
		}
		st = kf_word_st(kf_status_read(e));
		/* Its call returned already (or its worker died): the slot is on its way. */
		if (st == KF_ST_DONE || st == KF_ST_CUT || st == KF_ST_LOST)
			continue;
		/* RUNNING: the worker's call goes on; what it returns will be late. */
		iom_task_finish_owned(t, -ETIME, IOM_CAUSE_DEADLINE, now);
		s->finished = true;
	}
	kf->next_deadline_ns = next;
}

/* Finish (if not done yet) and hand back up to budget ready tasks. */
static unsigned int kf_report(struct iom_ctx *ctx, struct kf_ctx *kf, unsigned int budget)
{
	unsigned int n = 0;

	while (kf->nr_ready && n < budget) {
		uint32_t slot = kf->ready[kf->ready_head];
		struct kf_slot *s = &kf->slots[slot];
		struct iom_task *t = &kf->tasks[slot];
		struct kf_status *e = &kf->store.entries[slot];

		kf->ready_head = kf->ready_head + 1 == kf->depth ? 0 : kf->ready_head + 1;
		kf->nr_ready--;
		if (!s->dropped) {
			uint64_t w = kf_status_read(e);

			if (kf_word_st(w) == KF_ST_DONE) {
				int64_t res = e->res;

				if ((t->op == IOM_OP_READ || t->op == IOM_OP_WRITE) && res >= 0)
					t->done_bytes = (uint32_t)res;
				/* Returned after its deadline, before we looked: EXPIRED, late. */
				if (!s->finished && t->deadline_ns && e->done_ns > t->deadline_ns)
					iom_task_finish_owned(t, -ETIME, IOM_CAUSE_DEADLINE, ctx->now_ns);
				/* FIRST, or LATE after EXPIRED/ABORTED: counted in t->nr_late. */
				iom_task_finish_owned(t, res, IOM_CAUSE_OP, ctx->now_ns);
			} else if (kf_word_st(w) == KF_ST_LOST) {
				/* Its worker died: FAILED, unless already ended (nothing came late). */
				if (!s->finished)
					iom_task_finish_owned(t, -IOM_ERR_WORKER_DIED, IOM_CAUSE_OP,
							ctx->now_ns);
			} else if (!s->finished) {
				/* CUT without our cancel cannot happen; report with a state. */
				iom_task_finish_owned(t, -ECANCELED, IOM_CAUSE_CANCEL, ctx->now_ns);
			}
		}
		s->inflight = false;
		s->ready = false;
		kf->nr_inflight--;
		kf->nr_tasks++;
		iom_live_count(kf->cfg->live, IOM_LIVE_REPORTED, 1);
		iom_complete(ctx, t);
		n++;
	}
	return n;
}

/*
 * --fault kill-worker: a worker died holding the task in slot. Nothing will come from it: the
 * entry says so (LOST, written by us: its writer is gone), and the slot is reported now. An
 * rpc task may have sent its request, whose answer would reach the slot's next task: the slot
 * gets a new connection.
 */
static void kf_lost(struct iom_ctx *ctx, struct kf_ctx *kf, uint32_t slot, uint64_t seq)
{
	struct kf_slot *s;
	struct iom_task *t;
	struct kf_status *e;
	enum kf_st st;

	if (slot >= kf->depth)
		return;
	s = &kf->slots[slot];
	t = &kf->tasks[slot];
	e = &kf->store.entries[slot];
	st = kf_word_st(kf_status_read(e));
	if (iom_id_seq(t->id) != seq || !s->inflight || (st != KF_ST_RUNNING && st != KF_ST_CANCEL))
		return;
	kf_status_done(e, seq, KF_ST_LOST, -IOM_ERR_WORKER_DIED, ctx->now_ns);
	/* The worker never got to count it into the status store: the view's stages add up. */
	iom_live_count(kf->cfg->live, IOM_LIVE_STORED, 1);
	if (t->op == IOM_OP_RPC && !iom_rpc_reconnect(kf->addr, &t->fd))
		atomic_fetch_add_explicit(&kf->nr_reconnects, 1, memory_order_relaxed);
	if (!s->ready)
		kf_ready_push(kf, slot);
}

/*
 * --fault kill-worker: find the workers that died, report what each held, and replace them.
 * The kernel knows a thread is gone (it clears the thread's tid at exit, CLONE_CHILD_CLEARTID):
 * pthread_tryjoin_np reads that without a system call, and joins the dead one.
 */
static void kf_supervise(struct iom_ctx *ctx, struct kf_ctx *kf)
{
	if (ctx->now_ns < kf->next_supervise_ns)
		return;
	kf->next_supervise_ns = ctx->now_ns + KF_SUPERVISE_NS;
	for (unsigned int i = 0; i < kf->nr_workers; i++) {
		struct kf_worker *w = &kf->workers[i];

		if (w->gone || pthread_tryjoin_np(w->thread, NULL))
			continue;
		if (w->holding != KF_NIL)
			kf_lost(ctx, kf, w->holding, w->holding_seq);
		if (!kf_worker_restart(w))
			kf->nr_replaced++;
	}
}

static int kf_reap(struct iom_ctx *ctx, unsigned int min, unsigned int max, uint64_t timeout_ns)
{
	struct kf_ctx *kf = ctx->priv;
	unsigned int done = 0;
	uint64_t end;

	kf_flush(ctx);
	ctx->now_ns = iom_ctx_now(ctx);
	end = timeout_ns > UINT64_MAX - ctx->now_ns ? UINT64_MAX : ctx->now_ns + timeout_ns;
	if (min > kf->nr_inflight)
		min = kf->nr_inflight;	/* never wait for tasks that are not there */
	if (min > max)
		min = max;
	for (;;) {
		uint64_t wake;

		if (kf->supervise)
			kf_supervise(ctx, kf);
		kf_collect(ctx, kf);
		/* A poller decides deadlines on what its polls say (kf_poll_expire). */
		if (!kf->poll && ctx->now_ns >= kf->next_deadline_ns)
			kf_expire(ctx, kf);
		/*
		 * Stamp what is reported after collecting it: every task collected is done by
		 * now, while the clock read before the collection may predate a completion it
		 * collects (a preempted submitter under TSan reported a 2 ms timer after 1.63 ms).
		 */
		if (kf->nr_ready)
			ctx->now_ns = iom_ctx_now(ctx);
		done += kf_report(ctx, kf, max - done);
		if (done >= min || done >= max || ctx->now_ns >= end)
			break;
		if (kf->poll) {
			/* Not woken by anyone: look again at the next poll, or at the end. */
			struct timespec ts;

			wake = end < kf->next_poll_ns ? end : kf->next_poll_ns;
			if (kf->supervise && kf->next_supervise_ns < wake)
				wake = kf->next_supervise_ns;
			ts = iom_ts(wake);
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		} else {
			wake = end < kf->next_deadline_ns ? end : kf->next_deadline_ns;
			/* A dead worker wakes nobody: the supervisor's look has to. */
			if (kf->supervise && kf->next_supervise_ns < wake)
				wake = kf->next_supervise_ns;
			kf_done_wait(&kf->store.done, wake);
		}
		ctx->stats.nr_enter++;
		ctx->now_ns = iom_ctx_now(ctx);	/* one clock reading per batch */
	}
	ctx->stats.nr_resubmit = atomic_load_explicit(&kf->nr_resubmit, memory_order_relaxed);
	ctx->stats.nr_reconnects = atomic_load_explicit(&kf->nr_reconnects, memory_order_relaxed);
	ctx->stats.nr_workers_replaced = kf->nr_replaced;
	ctx->stats.nr_status_reads = kf->nr_reads;
	ctx->stats.nr_stale_reads = kf->nr_stale;
	ctx->stats.nr_wrong_expired = kf->nr_wrong;
	/* Only poll and nowait-first have counters to show. */
	if ((kf->poll || kf->nowait) &&
	    (!kf->nr_inflight || ctx->now_ns - kf->variant_ns >= KF_VARIANT_EVERY_NS))
		kf_variant_refresh(ctx, kf);
	return (int)done;
}

/*
 * From the submitter. Queued: taken out, ABORTED, reported at the next reap. Running: ABORTED
 * now and the worker told to stop (a timer stops, an rpc's socket is shut down; a read or
 * write cannot be taken back, so it completes late); reported once the worker returns. Already returned: the result stands.
 */
static int kf_cancel(struct iom_ctx *ctx, struct iom_task *t)
{
	struct kf_ctx *kf = ctx->priv;
	struct kf_slot *s = &kf->slots[t->slot];
	struct kf_status *e = &kf->store.entries[t->slot];
	uint64_t seq = iom_id_seq(t->id), now = iom_now_ns();

	if (!s->inflight || s->ready)
		return 0;
	if (kf_status_move(e, seq, KF_ST_QUEUED, KF_ST_DROPPED)) {
		if (!s->finished)
			iom_task_finish_owned(t, -ECANCELED, IOM_CAUSE_CANCEL, now);
		s->finished = s->dropped = true;
		kf_ready_push(kf, t->slot);
		return 0;
	}
	/* Also for a task already EXPIRED: its worker need not sleep on for nothing. */
	if (kf_status_move(e, seq, KF_ST_RUNNING, KF_ST_CANCEL)) {
		if (!s->finished)
			iom_task_finish_owned(t, -ECANCELED, IOM_CAUSE_CANCEL, now);
		s->finished = true;
		kf_status_kick(e);
		kf_call_cut(e);
	}
	return 0;
}

static void kf_teardown(struct iom_ctx *ctx)
{
	struct kf_ctx *kf = ctx->priv;

	if (!kf)
		return;
	kf_workers_stop(kf);
	kf_free(kf);
	ctx->priv = NULL;
}

const struct iom_model iom_model_kernel_free = {
	.name = "kernel_free",
	.desc = "user-space queue + worker pool + status store (async in user space)",
	.caps = IOM_CAP_ASYNC | IOM_CAP_CANCEL | IOM_CAP_DEADLINE | IOM_CAP_POOL |
		IOM_CAP_CTX_CLOCK,
	.opts = iom_kf_opt_table,
	.opts_size = sizeof(struct iom_kf_opts),
	.opts_defaults = &iom_kf_opts_defaults,
	.opts_check = iom_kf_opts_check,
	.probe = kf_probe,
	.setup = kf_setup,
	.submit = kf_submit,
	.flush = kf_flush,
	.reap = kf_reap,
	.cancel = kf_cancel,
	.teardown = kf_teardown,
	.waits = "queue, workers, status store",
	.domains = "3: queue, worker, status",
	.task_id = "status-store key = task id",
	.completion = "a coalesced eventfd wake-up, then the status store is read (--notify poll: polls it)",
	.timer_waits_in = "a worker thread",
	.shape = IOM_SHAPE_POOL,
};
