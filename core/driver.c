// SPDX-License-Identifier: MIT
/*
 * The driver: the one submit/reap loop every model runs under. Submitter threads are made and
 * their models set up before the clock starts; a ramp runs unmeasured, then the measured window
 * (by --runtime or --tasks), then a drain that is counted for conservation only. Closed loop
 * refills a slot as soon as it frees; open loop follows a precomputed schedule and measures
 * latency from each task's intended start, so a stalled model cannot hide its backlog
 * (no coordinated omission).
 */
#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cluster.h"
#include "driver.h"
#include "live.h"
#include "model.h"
#include "probe.h"
#include "sysstat.h"

/* --timeline: marks are kept for this much of the window, at most MAX_MARKS per submitter. */
#define TIMELINE_NS	100000000ull
#define MAX_MARKS	8192

struct iom_mark {
	uint64_t t_ns;
	uint64_t id;
	char what;			/* 'S' submitted, 'C' completed (any terminal state) */
};

/*
 * The fewest free slots a lean cell fills by one submit_n (job_submit_batch): below it the
 * batch's own steps cost more than the calls they save (callgrind, uring nop: at C=2 a batch
 * path costs 25 instructions a task more, at C=4 10 fewer, at C=16 35 fewer).
 */
#define BATCH_MIN	4u

/* Open loop: no submitter precomputes more than this many intended start times. */
#define MAX_SCHEDULE	(64u << 20)

struct iom_run;

struct iom_job {
	struct iom_ctx ctx;
	struct iom_run *run;
	pthread_t thread;
	bool thread_made;
	struct iom_hist *hist;
	/*
	 * The latest run of equal window latencies, not yet in hist: a batch submitted at one
	 * stamp and reaped at one has one latency, recorded once per run (job_record_latency).
	 */
	uint64_t lat_run_ns, lat_run_n;
	/*
	 * A lean cell's latest run of tasks that ended at one stamp from one start stamp (a batch
	 * submitted at one clock reading and reaped at one), not yet accounted but in nr_state:
	 * its stamps, its size, and nr_state[IOM_COMPLETED] before it. What hangs on the end
	 * stamp alone (the window, the latest ends, the latency) is then done once a run
	 * (job_flush_end_run).
	 */
	uint64_t end_run_ns, end_run_start_ns, end_run_n, end_run_completed0;
	uint64_t nr_state[IOM_NR_STATES];
	uint64_t nr_submitted;		/* tasks handed to the model (RUNNING); the next one's seq */
	/* Task k's seq is k * seq_stride + seq_index (job_seq): unique over submitters and processes. */
	unsigned int seq_stride, seq_index;
	uint64_t nr_window_completed;	/* of the window's tasks (hist->count), COMPLETED */
	uint64_t nr_started_window;	/* tasks started inside the window (achieved rate) */
	uint64_t nr_late, nr_bug, nr_busy;
	uint64_t nr_verify_fail;	/* --verify: reads that returned bytes the file does not hold */
	uint64_t quota_left;		/* --tasks: measured tasks still to submit */
	uint64_t last_end_ns;
	uint32_t *free_slots;
	/*
	 * A lean cell's batch for the model's submit_n, used from batch_from free slots up
	 * (NULL and UINT_MAX: one submit a task).
	 */
	struct iom_task **batch;
	unsigned int batch_from;
	unsigned int nr_free;
	bool *slot_busy;
	void *bufs;
	uint64_t *schedule;		/* open loop: intended start, ns after the run's start */
	size_t nr_schedule, next_schedule;
	uint64_t backlog_max;
	uint64_t last_arrival_ns;	/* open loop: latest intended start of a task submitted */
	uint64_t last_terminal_ns;	/* latest terminal state of any task, window or not */
	uint64_t expire_delay_ns;	/* sum over EXPIRED tasks: deadline to EXPIRED state */
	/* Retries: a slot waiting to run its task again, after a backoff. */
	uint8_t *attempts;		/* per slot: attempts after the first */
	uint32_t *retry_slot;
	uint64_t *retry_due_ns;
	unsigned int nr_retry_pending;
	uint64_t nr_retries, nr_give_ups;
	uint64_t nr_faults;		/* attempts failed by --fault */
	/*
	 * --api async: a slot in the retry queue may instead wait out a poll interval (its next
	 * STATUS/WAIT frame built); the frames sent, and the results learned with the server's
	 * done-to-answer time.
	 */
	bool *polling;
	uint64_t nr_requests, nr_learned, learned_us;
	bool stopping;			/* past the window: no new attempt starts */
	bool may_fault;			/* a --fault rate is set, or a live view may set one */
	/*
	 * A plain cell: closed loop; no fault, retry, live view, timeline, --verify or
	 * --cpu-work-us. Decided once; the submit and completion paths are then built without
	 * the tests for what it cannot have (job_submit_as, job_account_as).
	 */
	bool lean;
	bool async;			/* the model's IOM_CAP_ASYNC, read once */
	/*
	 * A plain cell whose tasks all end by themselves (a NOP at once, a read or write when the
	 * device answers): its waits take no timeout (job_loop). --batch-complete auto where
	 * completions come from a device into a CQ: the reap waits for half of what is in flight.
	 */
	bool wait_untimed, reap_half;
	/* --timeline: task submit/complete marks for the first TIMELINE_NS of the window. */
	struct iom_mark *marks;
	unsigned int nr_marks;
	pid_t tid;
	_Atomic uint64_t pub_done;	/* for the status line */
	/*
	 * A sync model's call in progress: its slot + 1, 0 when none; CALL_CLAIMED while main
	 * cancels it (run_cancel_calls), and the submitter waits for main to let go of the task.
	 */
	_Atomic uint32_t in_call;
	_Atomic uint64_t pub_submitted;
	bool setup_ok;
	int ret;
	char bug[160];
};

struct iom_run {
	const struct iom_cfg *cfg;
	struct iom_workload wl;
	unsigned int nr_jobs;
	struct iom_job *jobs;
	pthread_barrier_t ready, go;
	/*
	 * Held by main while it makes the submitters: they wait here first, so when a
	 * pthread_create fails the ones made leave (launch_failed) before the barriers, which
	 * count every submitter and would hold them, and main, forever.
	 */
	pthread_mutex_t launch;
	bool launch_failed;
	uint64_t t_run0, t_win0, t_stop;	/* t_stop: UINT64_MAX when measuring by tasks */
	_Atomic bool abort;
	_Atomic unsigned int nr_jobs_done;	/* submitters past their window */
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	struct iom_probe *probe;	/* NULL when off or unavailable */
	char err[256];
};

/* Set from the SIGINT handler: a lock-free atomic is async-signal-safe and race-free. */
static _Atomic int interrupted;

void iom_driver_interrupt(void)
{
	interrupted = 1;
}

bool iom_driver_interrupted(void)
{
	return interrupted;
}

long iom_timer_slack_ns(void)
{
	return (long)prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
}

void iom_cpu_work(uint64_t ns)
{
	uint64_t end = iom_now_ns() + ns;

	/* Real work, not a sleep: "free to do other work" means CPU the submitter spends. */
	while (iom_now_ns() < end)
		__asm__ __volatile__("" ::: "memory");
}

static void run_fail(struct iom_run *run, const char *msg)
{
	pthread_mutex_lock(&run->lock);
	if (!run->err[0])
		snprintf(run->err, sizeof(run->err), "%.*s", (int)sizeof(run->err) - 1, msg);
	pthread_mutex_unlock(&run->lock);
	atomic_store(&run->abort, true);
}

static bool is_async(const struct iom_cfg *cfg)
{
	return cfg->model->caps & IOM_CAP_ASYNC;
}

/*
 * --batch-complete auto (0) where completions come from a device into a completion queue the
 * kernel fills (O_DIRECT file I/O under a CQ model), closed loop, no deadline: each reap waits
 * for half of what is in flight, as fio's iodepth_batch_complete_min does by hand. One wake-up
 * then takes many CQEs while the other half keeps the device busy. Everywhere else auto is 1:
 * a NOP or a cached read completes inside the submit, a timer at its own time, an rpc at the
 * server's; there a wait for more only adds latency (and past a deadline, lateness).
 */
bool iom_batch_auto_half(const struct iom_cfg *cfg)
{
	return !cfg->batch_complete && (cfg->model->caps & IOM_CAP_ASYNC) &&
	       (cfg->model->caps & IOM_CAP_CQ) && cfg->wl.kind == IOM_WL_FILE && cfg->wl.direct &&
	       !cfg->deadline_ns && !(cfg->rate > 0) && !cfg->live;
}

#define CALL_CLAIMED	(1u << 31)

/*
 * How long what is in flight may take past the window before it is cancelled: 5 s beyond
 * four of the longest latency; 1 s once interrupted or live (a person is waiting).
 */
static uint64_t drain_grace_ns(const struct iom_cfg *cfg)
{
	uint64_t longest = cfg->wl.latency_ns > cfg->wl.bimodal_ns ? cfg->wl.latency_ns :
								     cfg->wl.bimodal_ns;

	return cfg->live || interrupted ? 1000000000ull : 5000000000ull + 4 * longest;
}

/*
 * The model's submit. A sync model's call is published, so main can cancel one still blocked
 * past the drain's grace (a server that never answers): a store and an exchange per call.
 */
static inline int job_model_submit(struct iom_job *job, struct iom_task *t)
{
	struct iom_ctx *ctx = &job->ctx;
	uint32_t mine = t->slot + 1;
	int ret;

	if (job->async)
		return ctx->cfg->model->submit(ctx, t);
	atomic_store_explicit(&job->in_call, mine, memory_order_release);
	ret = ctx->cfg->model->submit(ctx, t);
	/* Claimed: main is cancelling this very task; it must not change under main. */
	if (!atomic_compare_exchange_strong(&job->in_call, &mine, 0))
		while (atomic_load(&job->in_call))
			sched_yield();
	return ret;
}

/*
 * A submitter's k-th task's seq: the seqs of every submitter of every process of the run
 * interleave, none shared (stride = submitters x processes).
 */
static inline uint64_t job_seq(uint64_t k, unsigned int stride, unsigned int index)
{
	return k * stride + index;
}

/* t inside the measured window [t_win0, t_stop). */
static inline bool run_in_window(const struct iom_run *run, uint64_t t)
{
	return t >= run->t_win0 && t < run->t_stop;
}

/* The run of latencies still held, into hist. */
static void job_flush_latency_run(struct iom_job *job)
{
	if (job->lat_run_n)
		iom_hist_record_n(job->hist, job->lat_run_ns, job->lat_run_n);
	job->lat_run_n = 0;
}

/*
 * n tasks that ended at end from start, completed of them COMPLETED, accounted as they one by
 * one would have been: the latest end, and in the window the COMPLETED count, the latency and
 * the latest end in it. Straight into hist, not through the run of latencies (a run of ends is
 * already one record). The histogram is a sum (buckets, count, sum, min, max): the order of
 * records does not change it.
 */
static inline void job_account_ends(struct iom_job *job, uint64_t end, uint64_t start,
				    uint64_t completed, uint64_t n)
{
	if (end > job->last_terminal_ns)
		job->last_terminal_ns = end;
	if (run_in_window(job->run, end)) {
		job->nr_window_completed += completed;
		iom_hist_record_n(job->hist, end - start, n);
		if (end > job->last_end_ns)
			job->last_end_ns = end;
	}
}

/*
 * A lean cell's run of equal stamps, accounted as its tasks one by one would have been.
 * completed_to: nr_state[IOM_COMPLETED] as of the run's end.
 */
static void job_flush_end_run(struct iom_job *job, uint64_t completed_to)
{
	uint64_t n = job->end_run_n;
	uint64_t completed = completed_to - job->end_run_completed0;

	job->end_run_completed0 = completed_to;
	job->end_run_n = 0;
	if (n)
		job_account_ends(job, job->end_run_ns, job->end_run_start_ns, completed, n);
}

/*
 * t, counted in nr_state as state, starts a new run. Out of line, and last in the lean
 * accounting: once a run, not once a task, and a tail call. At depth 1 every task is a run of
 * its own (the next one starts at this one's end): it is accounted at once, and no run is held
 * (end_run_n stays 0, so a flush finds nothing).
 */
static __attribute__((noinline)) void job_new_end_run(struct iom_job *job,
						      const struct iom_task *t, int state)
{
	if (job->ctx.depth == 1) {
		job_account_ends(job, t->t_end_ns, t->t_start_ns, state == IOM_COMPLETED, 1);
		return;
	}
	job_flush_end_run(job, job->nr_state[IOM_COMPLETED] - (state == IOM_COMPLETED));
	job->end_run_ns = t->t_end_ns;
	job->end_run_start_ns = t->t_start_ns;
	job->end_run_n = 1;
}

/* Everything held in runs, into the counts and hist: before anyone reads them. */
static void job_flush_latency(struct iom_job *job)
{
	job_flush_end_run(job, job->nr_state[IOM_COMPLETED]);
	job_flush_latency_run(job);
}

static void job_bug(struct iom_job *job, const char *fmt, uint64_t v)
{
	job->nr_bug++;
	if (!job->bug[0])
		snprintf(job->bug, sizeof(job->bug), fmt, v);
}

static void job_mark_at(struct iom_job *job, char what, uint64_t t_ns, uint64_t id)
{
	uint64_t w0 = job->run->t_win0;

	if (job->nr_marks < MAX_MARKS && t_ns >= w0 && t_ns < w0 + TIMELINE_NS)
		job->marks[job->nr_marks++] = (struct iom_mark){ t_ns, id, what };
}

/* --timeline only: one test per task when it is off. */
static inline void job_mark(struct iom_job *job, char what, uint64_t t_ns, uint64_t id)
{
	if (job->marks)
		job_mark_at(job, what, t_ns, id);
}

/* The window's end: as planned, or earlier when the view stopped a live cell. */
static uint64_t run_window_end(const struct iom_run *run)
{
	uint64_t stop;

	if (!run->cfg->live)
		return run->t_stop;
	stop = atomic_load_explicit(&run->cfg->live->stop_ns, memory_order_relaxed);
	return stop < run->t_stop ? stop : run->t_stop;
}

/*
 * Live: may this submitter start another task now? Not while paused; otherwise while its
 * share of the live concurrency has a free place (a sync submitter's share is 0 or 1).
 */
static bool job_live_may_start(const struct iom_job *job)
{
	struct iom_live *live = job->run->cfg->live;
	unsigned int c, share, nr_jobs = job->run->nr_jobs;

	if (atomic_load_explicit(&live->paused, memory_order_relaxed))
		return false;
	c = atomic_load_explicit(&live->concurrency, memory_order_relaxed);
	share = c / nr_jobs + (job->ctx.job < c % nr_jobs);
	return job->ctx.depth - job->nr_free < share;
}

/* Live: a new attempt takes the knobs' latency and deadline as they are now. */
static void job_live_apply(const struct iom_job *job, struct iom_task *t, uint64_t start_ns)
{
	const struct iom_cfg *cfg = job->run->cfg;
	uint64_t lat = atomic_load_explicit(&cfg->live->latency_ns, memory_order_relaxed);
	uint64_t dl = atomic_load_explicit(&cfg->live->deadline_ns, memory_order_relaxed);

	t->deadline_ns = dl ? start_ns + dl : 0;
	/* The knob scales the workload's distribution: a bimodal tail stays a tail. */
	if (cfg->wl.latency_ns && lat != cfg->wl.latency_ns)
		lat = (uint64_t)((double)t->latency_ns * (double)lat / (double)cfg->wl.latency_ns);
	if (lat != t->latency_ns)
		iom_workload_set_latency(&job->run->wl, t, lat);
}

/*
 * --api async: t's frame came back COMPLETED. Either its result is learned (the task ends
 * COMPLETED), or its next frame waits in the retry queue for its poll interval (true: the task
 * goes on), or it ends FAILED (the reply says so) or ABORTED (past the window: nobody asks).
 */
static bool job_async_next(struct iom_job *job, struct iom_task *t)
{
	uint64_t delay = 0, learned_us = 0;
	int ret = iom_workload_async_next(&job->run->cfg->wl, t, &delay, &learned_us);

	job->nr_requests++;
	if (ret > 0) {
		job->nr_learned++;
		job->learned_us += learned_us;
		return false;
	}
	if (ret < 0 || job->stopping) {
		t->res = ret < 0 ? ret : -ECANCELED;
		atomic_store_explicit(&t->state, ret < 0 ? IOM_FAILED : IOM_ABORTED,
				      memory_order_relaxed);
		return false;
	}
	job->polling[t->slot] = true;
	job->retry_slot[job->nr_retry_pending] = t->slot;
	job->retry_due_ns[job->nr_retry_pending++] = t->t_end_ns + delay;
	return true;
}

/* Into hist, by runs of equal values: the same histogram, one bucket update a run. */
static inline void job_record_latency(struct iom_job *job, uint64_t lat_ns)
{
	if (lat_ns != job->lat_run_ns) {
		job_flush_latency_run(job);
		job->lat_run_ns = lat_ns;
	}
	job->lat_run_n++;
}

/*
 * The task's final state: count it, measure it, free its slot. lean is a constant at every
 * call: a plain cell's copy has no test for a live view, a timeline, --verify or a retry count.
 */
static inline __attribute__((always_inline)) void
job_account_as(struct iom_job *job, struct iom_task *t, int state, bool lean)
{
	struct iom_run *run = job->run;
	struct iom_live *live = lean ? NULL : run->cfg->live;

	job->nr_state[state]++;
	if (!lean)
		job_mark(job, 'C', t->t_end_ns, t->id);
	if (!lean && t->t_end_ns > job->last_terminal_ns)
		job->last_terminal_ns = t->t_end_ns;
	/* How long after its deadline the model called it: a poller learns it at its next look. */
	if (state == IOM_EXPIRED && t->deadline_ns && t->t_end_ns > t->deadline_ns)
		job->expire_delay_ns += t->t_end_ns - t->deadline_ns;
	iom_live_task_end(live, state, t->t_end_ns, t->t_end_ns - t->t_start_ns);
	if (!lean && run->cfg->verify && state == IOM_COMPLETED &&
	    ((t->op == IOM_OP_READ && iom_pattern_check(t->buf, t->offset, t->len) >= 0) ||
	     (t->op == IOM_OP_RPC && !iom_rpc_reply_ok(t->buf, t->id, run->cfg->wl.payload))))
		job->nr_verify_fail++;
	if (!lean && t->t_end_ns >= run->t_win0 &&
	    t->t_end_ns < (live ? run_window_end(run) : run->t_stop)) {
		job->nr_window_completed += state == IOM_COMPLETED;
		job_record_latency(job, t->t_end_ns - t->t_start_ns);
		if (t->t_end_ns > job->last_end_ns)
			job->last_end_ns = t->t_end_ns;
	}
	/* A plain cell never retries: its attempt counts stay 0. */
	if (!lean)
		job->attempts[t->slot] = 0;
	job->slot_busy[t->slot] = false;
	job->free_slots[job->nr_free++] = t->slot;
	/* A lean cell: the window, the latest ends and the latency once a run of equal stamps. */
	if (lean) {
		if (t->t_end_ns == job->end_run_ns && t->t_start_ns == job->end_run_start_ns)
			job->end_run_n++;
		else
			job_new_end_run(job, t, state);
	}
}

static void job_account(struct iom_job *job, struct iom_task *t, int state)
{
	job_account_as(job, t, state, false);
}

/* Exponential backoff, capped; "full jitter" draws uniformly below it (seeded, per attempt). */
static uint64_t backoff_ns(const struct iom_cfg *cfg, const struct iom_task *t, unsigned int n)
{
	uint64_t d = cfg->backoff_base_ns << (n - 1 < 30 ? n - 1 : 30);

	if (cfg->backoff == IOM_BACKOFF_NONE)
		return 0;
	if (d > cfg->backoff_cap_ns || d < cfg->backoff_base_ns)
		d = cfg->backoff_cap_ns;
	if (cfg->backoff == IOM_BACKOFF_EXP_JITTER)
		d = (uint64_t)(iom_unit(iom_mix64(cfg->wl.seed ^ t->id ^ ((uint64_t)n << 56))) *
			       (double)d);
	return d;
}

/*
 * Retry or not: an EXPIRED or FAILED task whose policy says retry goes again after its
 * backoff, as a new attempt of the same task (same id: with --idempotency-key the backend
 * can tell), so conservation still counts it once, by its last attempt's state.
 */
static bool job_maybe_retry(struct iom_job *job, struct iom_task *t, int state)
{
	const struct iom_cfg *cfg = job->run->cfg;
	bool wanted = (state == IOM_EXPIRED && cfg->retry_expired) ||
		      (state == IOM_FAILED && cfg->retry_failed);

	if (!wanted)
		return false;
	if (job->stopping || job->attempts[t->slot] >= cfg->retry_max) {
		job->nr_give_ups++;
		return false;
	}
	job->attempts[t->slot]++;
	job->nr_retries++;
	iom_live_count(cfg->live, IOM_LIVE_RETRY_WAIT, 1);
	job->retry_slot[job->nr_retry_pending] = t->slot;
	job->retry_due_ns[job->nr_retry_pending++] =
		t->t_end_ns + backoff_ns(cfg, t, job->attempts[t->slot]);
	return true;
}

/* iom_complete past its checks, for a cell that is not lean. */
static __attribute__((noinline)) void job_complete_full(struct iom_job *job, struct iom_task *t,
							int state)
{
	/* An armed kill or drop counts where it decided the outcome (not past a deadline). */
	if (job->may_fault &&
	    (t->fault_applied ||
	     (state == IOM_FAILED && (((t->fault_kind & IOM_FAULT_KILL) &&
				       t->res == -IOM_ERR_WORKER_DIED) ||
				      ((t->fault_kind & IOM_FAULT_DROP) &&
				       t->res == -IOM_ERR_CONN_DROPPED)))))
		job->nr_faults++;
	if (job->polling && state == IOM_COMPLETED) {
		if (job_async_next(job, t))
			return;
		state = atomic_load_explicit(&t->state, memory_order_relaxed);
	} else if (job->polling) {
		job->nr_requests++;	/* a frame that failed was sent all the same */
	}
	/* Only an EXPIRED or FAILED task can be retried: a COMPLETED one skips the policy. */
	if (state == IOM_COMPLETED || !job_maybe_retry(job, t, state))
		job_account(job, t, state);
	if (job->run->cfg->cpu_work_ns)
		iom_cpu_work(job->run->cfg->cpu_work_ns);
}

/* A checked report, counted. */
static inline __attribute__((always_inline)) void job_complete_as(struct iom_job *job,
								  struct iom_task *t, int state)
{
	job->nr_late += atomic_load_explicit(&t->nr_late, memory_order_relaxed);
	if (job->lean) {
		job_account_as(job, t, state, true);
		return;
	}
	job_complete_full(job, t, state);
}

/* A report of a task with no terminal state: said, and counted as FAILED. */
static __attribute__((noinline)) void job_complete_not_terminal(struct iom_job *job,
								struct iom_task *t)
{
	job_bug(job, "bug: task %" PRIu64 " reported done without a terminal state", t->id);
	job_complete_as(job, t, IOM_FAILED);
}

/*
 * Every path out of here is a return or a tail call (the bugs' included): the lean one saves
 * no register.
 */
void iom_complete(struct iom_ctx *ctx, struct iom_task *t)
{
	struct iom_job *job = ctx->drv;
	int state = atomic_load_explicit(&t->state, memory_order_acquire);

	ctx->nr_reported++;
	/* A context without a driver (a test driving a model by hand) only counts. */
	if (!job)
		return;
	if (t->slot >= ctx->depth || !job->slot_busy[t->slot]) {
		job_bug(job, "bug: task %" PRIu64 " reported done twice", t->id);
		return;
	}
	if (!iom_state_terminal(state)) {
		job_complete_not_terminal(job, t);
		return;
	}
	job_complete_as(job, t, state);
}

/* One seeded draw per (fault kind, task, attempt): a run repeats, a retry gets a fresh one. */
static bool job_fault_hits(const struct iom_job *job, const struct iom_task *t, uint64_t kind,
			   const uint32_t *ppm_p)
{
	const struct iom_cfg *cfg = job->run->cfg;
	uint32_t ppm = __atomic_load_n(ppm_p, __ATOMIC_RELAXED);
	uint64_t h;

	if (!ppm)
		return false;
	h = iom_mix64(cfg->wl.seed ^ kind ^
		      iom_mix64(t->id ^ ((uint64_t)job->attempts[t->slot] << 56)));
	return h % 1000000u < ppm;
}

/*
 * --fault: arm this attempt. errno: its success will be reported as -E (task.c). kill-worker:
 * the kernel_free worker that runs it dies holding it. drop-conn: the request asks the backend
 * to drop the connection where it would answer (after doing the work), so the answer is lost
 * mid-request whatever model sent it.
 */
static void job_draw_fault(const struct iom_job *job, struct iom_task *t)
{
	const struct iom_cfg *cfg = job->run->cfg;

	if (job_fault_hits(job, t, 0x6661756c74ull, &cfg->fault_ppm))
		t->fault_errno = cfg->fault_errno;
	if (job_fault_hits(job, t, 0x6b696c6cull, &cfg->fault_kill_ppm))
		t->fault_kind |= IOM_FAULT_KILL;
	if (t->op == IOM_OP_RPC && job_fault_hits(job, t, 0x64726f70ull, &cfg->fault_drop_ppm)) {
		struct iom_rpc_hdr h;

		t->fault_kind |= IOM_FAULT_DROP;
		memcpy(&h, t->buf, sizeof(h));
		h.flags |= IOM_RPC_F_DROP;
		memcpy(t->buf, &h, sizeof(h));
	}
}

/* Earliest pending retry, or UINT64_MAX. */
static uint64_t job_next_retry(const struct iom_job *job)
{
	uint64_t next = UINT64_MAX;

	for (unsigned int i = 0; i < job->nr_retry_pending; i++)
		if (job->retry_due_ns[i] < next)
			next = job->retry_due_ns[i];
	return next;
}

/* Start every retry that is due: the same task again, its request rebuilt from its number. */
static int job_submit_retries(struct iom_job *job, uint64_t now)
{
	struct iom_run *run = job->run;
	const struct iom_cfg *cfg = run->cfg;
	struct iom_ctx *ctx = &job->ctx;
	int queued = 0;

	for (unsigned int i = 0; i < job->nr_retry_pending;) {
		struct iom_task *t, last;
		int ret;

		if (job->retry_due_ns[i] > now) {
			i++;
			continue;
		}
		t = &ctx->tasks[job->retry_slot[i]];
		last = *t;
		if (job->polling && job->polling[t->slot]) {
			/* --api async: the same task's next frame, already built; its deadline kept. */
			iom_task_init(t, t->id, t->t_start_ns, t->deadline_ns);
		} else {
			iom_task_init(t, t->id, t->t_start_ns,
				      cfg->deadline_ns ? now + cfg->deadline_ns : 0);
			iom_workload_next(&run->wl, iom_id_seq(t->id), t);
			/* Live first: an rpc request rebuilt for a new latency keeps the fault's flag. */
			if (cfg->live)
				job_live_apply(job, t, now);
			if (job->may_fault)
				job_draw_fault(job, t);
		}
		iom_task_start(t, now);
		ret = job_model_submit(job, t);
		if (ret == IOM_Q_BUSY) {
			/*
			 * Not taken: the task keeps its last attempt's outcome, the one a give-up
			 * at the drain counts (it counted a state that was not terminal).
			 */
			*t = last;
			break;
		}
		if (job->polling && job->polling[t->slot])
			job->polling[t->slot] = false;
		else
			iom_live_count(cfg->live, IOM_LIVE_RETRY_WAIT, -1);
		job->retry_slot[i] = job->retry_slot[job->nr_retry_pending - 1];
		job->retry_due_ns[i] = job->retry_due_ns[--job->nr_retry_pending];
		if (ret == IOM_Q_QUEUED) {
			queued++;
		} else if (ret == IOM_Q_DONE) {
			iom_complete(ctx, t);
		} else {
			if (iom_task_finish(t, ret, IOM_CAUSE_OP, now) == IOM_FINISH_FIRST)
				iom_complete(ctx, t);
			return ret;
		}
	}
	return queued;
}

static int job_make_schedule(struct iom_job *job, unsigned int index)
{
	const struct iom_cfg *cfg = job->run->cfg;
	double rate = cfg->rate / job->run->nr_jobs, t_s;
	uint64_t span_ns;
	size_t n;

	if (cfg->tasks)
		n = job->quota_left + (size_t)(rate * (double)cfg->ramp_ns / 1e9) + 1;
	else {
		span_ns = cfg->ramp_ns + cfg->runtime_ns;
		n = (size_t)(rate * (double)span_ns / 1e9) + 1;
	}
	if (n > MAX_SCHEDULE)
		return -E2BIG;
	job->schedule = malloc(n * sizeof(*job->schedule));
	if (!job->schedule)
		return -ENOMEM;
	/* Submitters are staggered by a fraction of the gap, so their arrivals interleave. */
	t_s = (double)index / cfg->rate;
	for (size_t i = 0; i < n; i++) {
		job->schedule[i] = (uint64_t)(t_s * 1e9);
		if (cfg->rate_process == IOM_RATE_POISSON) {
			uint64_t h = iom_mix64(cfg->wl.seed ^ 0x706f6973736f6eull ^
					       iom_mix64(((uint64_t)index << 40) ^ i));
			t_s += -log(iom_unit(h)) / rate;
		} else {
			t_s += 1.0 / rate;
		}
	}
	job->nr_schedule = n;
	return 0;
}

static int job_setup(struct iom_job *job, unsigned int index)
{
	struct iom_run *run = job->run;
	const struct iom_cfg *cfg = run->cfg;
	struct iom_ctx *ctx = &job->ctx;
	unsigned int depth = ctx->depth;
	size_t buf_bytes = cfg->wl.kind == IOM_WL_FILE ? cfg->wl.bs :
			   cfg->wl.kind == IOM_WL_RPC ? iom_rpc_frame_len(&cfg->wl) : 0;
	int ret;

	job->hist = iom_hist_new();
	ctx->tasks = calloc(depth, sizeof(*ctx->tasks));
	job->free_slots = calloc(depth, sizeof(*job->free_slots));
	job->slot_busy = calloc(depth, sizeof(*job->slot_busy));
	job->attempts = calloc(depth, sizeof(*job->attempts));
	job->retry_slot = calloc(depth, sizeof(*job->retry_slot));
	job->retry_due_ns = calloc(depth, sizeof(*job->retry_due_ns));
	if (cfg->wl.kind == IOM_WL_RPC && cfg->wl.api == IOM_API_ASYNC)
		job->polling = calloc(depth, sizeof(*job->polling));
	if (!job->hist || !ctx->tasks || !job->free_slots || !job->slot_busy || !job->attempts ||
	    !job->retry_slot || !job->retry_due_ns ||
	    (cfg->wl.kind == IOM_WL_RPC && cfg->wl.api == IOM_API_ASYNC && !job->polling))
		return iom_err_set(&ctx->err, -ENOMEM, "submitter %u: task slots", index);
	job->tid = gettid();
	if (cfg->timeline && !(job->marks = malloc(MAX_MARKS * sizeof(*job->marks))))
		return iom_err_set(&ctx->err, -ENOMEM, "submitter %u: timeline marks", index);
	if (buf_bytes &&
	    posix_memalign(&job->bufs, 4096, (size_t)depth * ((buf_bytes + 4095) & ~4095ul)))
		return iom_err_set(&ctx->err, -ENOMEM, "submitter %u: buffers", index);
	for (unsigned int i = 0; i < depth; i++) {
		struct iom_task *t = &ctx->tasks[i];

		t->slot = i;
		t->fd = -1;
		if (buf_bytes)
			t->buf = (char *)job->bufs + (size_t)i * ((buf_bytes + 4095) & ~4095ul);
		/* Pop from the end: slot 0 first, which keeps small runs easy to read. */
		job->free_slots[i] = depth - 1 - i;
		/* rpc: one connection per slot, one request in flight on each (C = connections). */
		if (cfg->wl.kind == IOM_WL_RPC) {
			ret = iom_rpc_connect(&run->wl.addr, &ctx->err);
			if (ret < 0)
				return ret;
			t->fd = ret;
		}
	}
	job->nr_free = depth;
	job->may_fault = cfg->live || iom_fault_active(cfg);
	/* --api async: its polls need iom_complete's full path and the retry queue. */
	job->lean = !job->may_fault && !cfg->retry_expired && !cfg->retry_failed && !cfg->live &&
		    !job->marks && !cfg->verify && !cfg->cpu_work_ns && !(cfg->rate > 0) &&
		    !job->polling;
	job->async = is_async(cfg);
	job->wait_untimed = job->lean && (cfg->wl.kind == IOM_WL_NOP || cfg->wl.kind == IOM_WL_FILE);
	job->batch_from = UINT_MAX;
	if (job->lean && job->async && cfg->model->submit_n) {
		job->batch = calloc(depth, sizeof(*job->batch));
		if (!job->batch)
			return iom_err_set(&ctx->err, -ENOMEM, "submitter %u: task batch", index);
		job->batch_from = BATCH_MIN;
	}
	job->reap_half = iom_batch_auto_half(cfg);
	/*
	 * A plain nop or file cell without deadlines compares its stamps only with one another
	 * (latencies, the window's edges): they may come from the TSC, a third of a vDSO clock
	 * read here, one a task at depth 1; if the model stamps by iom_ctx_now() (a model whose
	 * stamps meet another clock clears it in setup).
	 */
	ctx->tsc_stamps = job->wait_untimed && !cfg->deadline_ns &&
			  (cfg->model->caps & IOM_CAP_CTX_CLOCK) && iom_tsc_fit_now(&ctx->tsc);
	if (cfg->tasks)
		job->quota_left = cfg->tasks / run->nr_jobs + (index < cfg->tasks % run->nr_jobs);
	if (cfg->rate > 0) {
		ret = job_make_schedule(job, index);
		if (ret)
			return iom_err_set(&ctx->err, ret, "open-loop schedule (rate x runtime)");
	}
	ret = cfg->model->setup(ctx);
	if (!ret && job->reap_half)
		snprintf(ctx->variant + strlen(ctx->variant), sizeof(ctx->variant) -
			 strlen(ctx->variant), "%sbc=auto", ctx->variant[0] ? "+" : "");
	return ret;
}

/* Open loop: how many scheduled tasks are due but not yet started. */
static uint64_t job_backlog(struct iom_job *job, uint64_t rel_now)
{
	size_t lo = job->next_schedule, hi = job->nr_schedule;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (job->schedule[mid] <= rel_now)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo - job->next_schedule;
}

/* lean: a constant, as in job_submit_as (a plain cell has no schedule and no live view). */
static inline __attribute__((always_inline)) bool
job_should_stop_as(struct iom_job *job, uint64_t now, bool lean)
{
	struct iom_run *run = job->run;

	if (atomic_load_explicit(&run->abort, memory_order_relaxed) || interrupted)
		return true;
	if (now >= run->t_stop)
		return true;
	if (run->cfg->tasks && now >= run->t_win0 && !job->quota_left)
		return true;
	if (!lean && run->cfg->rate > 0 && job->next_schedule >= job->nr_schedule)
		return true;
	if (!lean && run->cfg->live && iom_live_stopped(run->cfg->live))
		return true;
	return false;
}

static bool job_should_stop(struct iom_job *job, uint64_t now)
{
	return job_should_stop_as(job, now, false);
}

/* Out of line: only a sync task calls it from the submit loop, which stays small for the rest. */
static __attribute__((noinline)) bool job_should_stop_lean(struct iom_job *job, uint64_t now)
{
	return job_should_stop_as(job, now, true);
}

/*
 * Submit as many tasks as the loop mode allows now; returns how many the model queued. lean is
 * a constant at each call (job_loop_as): a plain cell's copy has no test for an open-loop
 * schedule, a live view, a fault draw or a timeline mark.
 */
static inline __attribute__((always_inline)) int
job_submit_as(struct iom_job *job, uint64_t *now, bool *stopping, bool lean)
{
	struct iom_run *run = job->run;
	const struct iom_cfg *cfg = run->cfg;
	struct iom_ctx *ctx = &job->ctx;
	int queued = 0;

	while (job->nr_free && !*stopping) {
		uint64_t start = *now, seq;
		struct iom_task *t;
		uint32_t slot;
		int ret;

		if (!lean && cfg->rate > 0) {
			start = run->t_run0 + job->schedule[job->next_schedule];
			if (start > *now)
				break;
		}
		if (!lean && cfg->live && !job_live_may_start(job))
			break;
		if (cfg->tasks && *now >= run->t_win0) {
			if (!job->quota_left) {
				*stopping = true;
				break;
			}
			job->quota_left--;
		}
		slot = job->free_slots[--job->nr_free];
		t = &ctx->tasks[slot];
		seq = job_seq(job->nr_submitted, job->seq_stride, job->seq_index);
		/* SCHEDULED and at once RUNNING: what comes before the model is the submitter's. */
		iom_task_init_running_as(t, iom_task_id(seq, slot), start,
					 cfg->deadline_ns ? start + cfg->deadline_ns : 0, *now, lean);
		iom_workload_next(&run->wl, seq, t);
		/* Live first: an rpc request rebuilt for a new latency keeps the fault's flag. */
		if (!lean && cfg->live)
			job_live_apply(job, t, start);
		/* No fault rate, none to draw: a plain cell's path has no test for it. */
		if (!lean && job->may_fault)
			job_draw_fault(job, t);
		job->slot_busy[slot] = true;
		if (!lean) {
			job_mark(job, 'S', *now, t->id);
			/* Counted before the model sees it: a sync task ends inside submit. */
			iom_live_count(cfg->live, IOM_LIVE_SUBMITTED, 1);
		}

		ret = job_model_submit(job, t);
		if (ret == IOM_Q_BUSY) {
			/* Not taken: the same task goes again after a reap; nothing is dropped. */
			if (!lean)
				iom_live_count(cfg->live, IOM_LIVE_SUBMITTED, -1);
			iom_task_requeue(t);
			job->slot_busy[slot] = false;
			job->free_slots[job->nr_free++] = slot;
			if (cfg->tasks && *now >= run->t_win0)
				job->quota_left++;
			job->nr_busy++;
			break;
		}
		job->nr_submitted++;
		if (!lean && cfg->rate > 0) {
			job->next_schedule++;
			if (start > job->last_arrival_ns)
				job->last_arrival_ns = start;
		}
		if (run_in_window(run, start))
			job->nr_started_window++;
		if (ret == IOM_Q_QUEUED) {
			queued++;
		} else if (ret == IOM_Q_DONE) {
			iom_complete(ctx, t);
			*now = ctx->now_ns;
		} else {
			/* The model could not take it at all: the task fails, the cell stops. */
			if (iom_task_finish(t, ret, IOM_CAUSE_OP, *now) == IOM_FINISH_FIRST)
				iom_complete(ctx, t);
			return ret;
		}
		/*
		 * An async batch queues at one clock reading: job_loop asked at that reading, and
		 * --tasks' quota is counted above. Ask again when the clock moved (a task ended in
		 * submit), or when the open loop's schedule or the live view can end the window.
		 */
		if ((ret == IOM_Q_DONE || (!lean && (cfg->rate > 0 || cfg->live))) &&
		    (lean ? job_should_stop_lean(job, *now) : job_should_stop(job, *now)))
			*stopping = true;
	}
	return queued;
}

/*
 * The tasks the model did not take, batch[from..n), back to their slots: last first, so the
 * free-slot stack gives them out again in the same order (and the same seqs).
 */
static void job_batch_untake(struct iom_job *job, unsigned int from, unsigned int n,
			     bool counts_quota)
{
	while (n-- > from) {
		struct iom_task *t = job->batch[n];

		iom_task_requeue(t);
		job->slot_busy[t->slot] = false;
		job->free_slots[job->nr_free++] = t->slot;
		job->quota_left += counts_quota;
	}
}

/*
 * A lean async cell whose model takes batches (submit_n): a task for every free slot (as far
 * as --tasks' quota allows), all at the batch's clock reading *now as job_submit_as makes
 * them, then one call. What it did not take goes back as a refused task does (IOM_Q_BUSY);
 * a task it failed ends FAILED and the cell stops, as in job_submit_as. Returns how many were
 * queued, or the error.
 */
static __attribute__((noinline)) int job_submit_batch(struct iom_job *job, uint64_t now,
						     bool *stopping)
{
	struct iom_run *run = job->run;
	const struct iom_cfg *cfg = run->cfg;
	struct iom_ctx *ctx = &job->ctx;
	bool counts_quota = cfg->tasks && now >= run->t_win0;
	uint64_t seq0 = job->nr_submitted, deadline = cfg->deadline_ns ? now + cfg->deadline_ns : 0;
	unsigned int n = job->nr_free, nr_free = job->nr_free, stride = job->seq_stride, k;
	int why = IOM_Q_QUEUED;

	if (*stopping || !n)
		return 0;
	if (counts_quota && job->quota_left < n)
		n = (unsigned int)job->quota_left;
	for (unsigned int i = 0; i < n; i++) {
		uint32_t slot = job->free_slots[--nr_free];
		struct iom_task *t = &ctx->tasks[slot];
		uint64_t seq = job_seq(seq0 + i, stride, job->seq_index);

		iom_task_init_running_as(t, iom_task_id(seq, slot), now, deadline, now, true);
		iom_workload_next(&run->wl, seq, t);
		job->slot_busy[slot] = true;
		job->batch[i] = t;
	}
	job->nr_free = nr_free;
	if (counts_quota)
		job->quota_left -= n;
	k = n ? (unsigned int)cfg->model->submit_n(ctx, job->batch, n, &why) : 0;
	/* A failed task was handed over: it counts as submitted, as in job_submit_as. */
	job->nr_submitted += k + (why < 0);
	if (run_in_window(run, now))
		job->nr_started_window += k + (why < 0);
	job_batch_untake(job, k + (why < 0), n, counts_quota);
	if (why == IOM_Q_BUSY)
		job->nr_busy++;
	if (why < 0) {
		struct iom_task *t = job->batch[k];

		if (iom_task_finish(t, why, IOM_CAUSE_OP, now) == IOM_FINISH_FIRST)
			iom_complete(ctx, t);
		return why;
	}
	/* The quota is spent and slots are free: no more tasks (job_submit_as says it so). */
	if (counts_quota && !job->quota_left && job->nr_free)
		*stopping = true;
	return (int)k;
}

/* --api async in a --runtime window: its polls go on past the window, for the drain's grace. */
static bool job_polls_past_window(const struct iom_job *job, uint64_t now)
{
	const struct iom_run *run = job->run;

	return job->polling && run->t_stop != UINT64_MAX &&
	       now < run->t_stop + drain_grace_ns(run->cfg);
}

/*
 * How long job_loop's wait for completions may take: to the next open-loop arrival or retry,
 * the window's end, and 200 ms at most so a full window of waits still notices Ctrl-C. A plain
 * cell whose tasks all end by themselves needs none (job->wait_untimed: job_loop waits with
 * UINT64_MAX and does not ask here): its wait ends at the next completion(s), so the window's
 * end and a Ctrl-C are seen at most one batch late, and the model has no timespec to copy into
 * the kernel nor a timer to arm.
 */
static uint64_t job_wait_timeout(const struct iom_job *job, uint64_t now)
{
	const struct iom_run *run = job->run;
	uint64_t timeout = UINT64_MAX;

	if (run->cfg->rate > 0 && job->nr_free) {
		uint64_t next = run->t_run0 + job->schedule[job->next_schedule];

		timeout = next > now ? next - now : 0;
	}
	if (run->t_stop != UINT64_MAX)
		timeout = run->t_stop > now && run->t_stop - now < timeout ? run->t_stop - now :
									      timeout;
	if (job->nr_retry_pending) {
		uint64_t next = job_next_retry(job);

		timeout = next <= now ? 0 : next - now < timeout ? next - now : timeout;
	}
	return timeout > 200000000ull ? 200000000ull : timeout;
}

/*
 * Every slot in flight and no task submitted for longer than any task may take (the drain's
 * grace): the model lost them. Under --tasks the loop would wait for a free slot forever (the
 * window never ends); the drain counts them instead (bug:, exit 3). Before the last submit an
 * ended task frees a slot that the next pass fills, so submits alone tell progress.
 */
static inline bool job_lost_every_slot(const struct iom_job *job, unsigned int inflight,
				       uint64_t now, uint64_t *progress, uint64_t *progress_ns)
{
	if (!job->run->cfg->tasks || inflight != job->ctx.depth)
		return false;
	if (job->nr_submitted != *progress) {
		*progress = job->nr_submitted;
		*progress_ns = now;
		return false;
	}
	return now - *progress_ns > drain_grace_ns(job->run->cfg);
}

/*
 * The submitter's loop: submit, publish the counts, reap. lean is a constant at each call
 * (job_loop): a plain cell has no retry queue, no open-loop schedule, no live view and no
 * --api async polls, so its copy has no test for them (at depth 1 the loop runs once a task).
 */
static inline __attribute__((always_inline)) int job_loop_as(struct iom_job *job, bool lean)
{
	struct iom_run *run = job->run;
	const struct iom_cfg *cfg = run->cfg;
	const struct iom_model *model = cfg->model;
	struct iom_ctx *ctx = &job->ctx;
	unsigned int min_batch = cfg->batch_complete ? cfg->batch_complete : 1;
	uint64_t now = iom_ctx_now(ctx), progress = 0, progress_ns = now;
	bool stopping = false;
	int ret;

	for (;;) {
		unsigned int inflight;

		int queued;

		if (!stopping && (lean ? job_should_stop_as(job, now, true) :
				  job_should_stop(job, now)))
			stopping = true;
		ret = !lean && job->nr_retry_pending ? job_submit_retries(job, now) : 0;
		/* A sync model ran those inside submit: the next task starts after them. */
		if (ret >= 0 && !job->async && ctx->now_ns > now)
			now = ctx->now_ns;
		queued = ret;
		if (ret >= 0) {
			/* A batch has a fixed cost: below BATCH_MIN tasks, one call each is less. */
			ret = lean && job->nr_free >= job->batch_from ?
				      job_submit_batch(job, now, &stopping) :
				      job_submit_as(job, &now, &stopping, lean);
			queued += ret > 0 ? ret : 0;
		}
		if (ret < 0) {
			/* Keep the model's own message when it said what failed. */
			if (!ctx->err.msg[0])
				iom_err_set(&ctx->err, ret, "%s: submit", model->name);
			return ret;
		}
		if (queued > 0 && model->flush) {
			ret = model->flush(ctx);
			if (ret < 0)
				return ret;
		}
		/* A slot waiting out a retry's backoff is not in flight. */
		inflight = ctx->depth - job->nr_free - (lean ? 0 : job->nr_retry_pending);
		/* Open loop: arrivals that are due but not started (no free slot, or a sync
		 * submitter still inside its last call) are the backlog. */
		if (!lean && cfg->rate > 0 && job->next_schedule < job->nr_schedule) {
			uint64_t backlog = job_backlog(job, now - run->t_run0);

			if (backlog > job->backlog_max)
				job->backlog_max = backlog;
		}
		atomic_store_explicit(&job->pub_done, job->nr_state[IOM_COMPLETED] +
				      job->nr_state[IOM_FAILED] + job->nr_state[IOM_ABORTED] +
				      job->nr_state[IOM_PARTIAL] + job->nr_state[IOM_EXPIRED],
				      memory_order_relaxed);
		atomic_store_explicit(&job->pub_submitted, job->nr_submitted, memory_order_relaxed);
		if (!stopping && job_lost_every_slot(job, inflight, now, &progress, &progress_ns))
			stopping = true;
		/*
		 * Stopped making tasks: the drain reaps what is still in flight. With --tasks the
		 * measured tasks are not done until their retries are (or, --api async, until
		 * their results are learned): keep going for those. --api async keeps polling
		 * past a --runtime window too, as a sync drain reaps its replies: a task is not
		 * ABORTED for ending between two polls, only past the drain's grace.
		 */
		if (stopping && (lean || !((cfg->tasks ? cfg->retry_expired || cfg->retry_failed ||
						job->polling : job_polls_past_window(job, now)) &&
				  (inflight || job->nr_retry_pending) &&
				  !atomic_load_explicit(&run->abort, memory_order_relaxed) &&
				  !interrupted)))
			return 0;
		if (!lean && !inflight && cfg->live && !job->nr_retry_pending && !job_live_may_start(job)) {
			/*
			 * Parked by the view (paused, or this submitter's share of the live
			 * concurrency is 0): sleep until a knob changes. gen is read before the
			 * check, so a change in between makes the futex return at once.
			 */
			uint32_t gen = atomic_load_explicit(&cfg->live->gen, memory_order_acquire);
			uint64_t until = now + 200000000ull;

			if (until > run->t_stop)
				until = run->t_stop;
			if (!job_live_may_start(job) && !iom_live_stopped(cfg->live) && until > now)
				iom_live_wait(cfg->live, gen, until);
			now = iom_now_ns();
			continue;
		}
		if (inflight) {
			uint64_t timeout = job->wait_untimed ? UINT64_MAX : job_wait_timeout(job, now);
			unsigned int want = min_batch < inflight ? min_batch : inflight;

			if (job->reap_half)
				want = inflight > 1 ? inflight / 2 : 1;
			ret = model->reap(ctx, timeout ? want : 0, ctx->depth, timeout);
			if (ret < 0)
				return ret;
			now = ctx->now_ns;
		} else if (!lean && (cfg->rate > 0 || job->nr_retry_pending)) {
			/* Nothing in flight; the next arrival or retry is in the future: sleep. */
			uint64_t next = cfg->rate > 0 && job->nr_free ?
					run->t_run0 + job->schedule[job->next_schedule] : UINT64_MAX;
			struct timespec ts;

			if (job->nr_retry_pending && job_next_retry(job) < next)
				next = job_next_retry(job);
			if (next > run->t_stop)
				next = run->t_stop;
			if (next > now + 200000000ull)
				next = now + 200000000ull;
			if (next > now) {
				ts = iom_ts(next);
				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			}
			now = iom_now_ns();
		} else if (!job->async) {
			now = ctx->now_ns ? ctx->now_ns : iom_ctx_now(ctx);
		} else {
			now = iom_ctx_now(ctx);
		}
	}
}

static int job_loop(struct iom_job *job)
{
	return job->lean ? job_loop_as(job, true) : job_loop_as(job, false);
}

/* Reap everything still in flight; cancel what will not finish; count what never came back. */
static void job_drain(struct iom_job *job)
{
	const struct iom_cfg *cfg = job->run->cfg;
	const struct iom_model *model = cfg->model;
	struct iom_ctx *ctx = &job->ctx;
	uint64_t now = iom_now_ns();
	uint64_t until = now + drain_grace_ns(cfg);
	bool cancelled = false;

	/* No new attempt after the window: a retry still waiting gives up with its last state. */
	job->stopping = true;
	while (job->nr_retry_pending) {
		struct iom_task *t = &ctx->tasks[job->retry_slot[--job->nr_retry_pending]];

		if (job->polling && job->polling[t->slot]) {
			/* --api async: a task between polls is not learned, and now never will be. */
			job->polling[t->slot] = false;
			t->res = -ECANCELED;
			t->t_end_ns = iom_now_ns();
			atomic_store(&t->state, IOM_ABORTED);
			job_account(job, t, IOM_ABORTED);
			continue;
		}
		iom_live_count(cfg->live, IOM_LIVE_RETRY_WAIT, -1);
		job->nr_give_ups++;
		job_account(job, t, atomic_load(&t->state));
	}
	while (job->nr_free < ctx->depth) {
		int ret;

		/* A signal during the wait shortens it. */
		if (!cancelled && until > now + drain_grace_ns(cfg))
			until = now + drain_grace_ns(cfg);
		if (now >= until) {
			if (cancelled || !model->cancel)
				break;
			/* Past any reasonable completion time: abort what is left, then wait 2 s. */
			for (unsigned int i = 0; i < ctx->depth; i++)
				if (job->slot_busy[i])
					model->cancel(ctx, &ctx->tasks[i]);
			if (model->flush)
				model->flush(ctx);
			cancelled = true;
			until = now + 2000000000ull;
		}
		/* In steps, so a signal is seen. */
		ret = model->reap(ctx, 1, ctx->depth, until - now < 200000000ull ? until - now :
						      200000000ull);
		if (ret < 0)
			break;
		now = iom_now_ns();
	}
	if (job->nr_free < ctx->depth)
		job_bug(job, "bug: %" PRIu64 " tasks never reported done",
			(uint64_t)(ctx->depth - job->nr_free));
}

static void *job_main(void *arg)
{
	struct iom_job *job = arg;
	struct iom_run *run = job->run;
	unsigned int index = job->ctx.job;
	int ret;

	pthread_mutex_lock(&run->launch);
	pthread_mutex_unlock(&run->launch);
	if (run->launch_failed)
		return NULL;
	/* Inherited from main already; set again so no thread can run with the 50 us default. */
	prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
	/* A name the probes can give a role (submitter) and a person can read in top -H. */
	{
		char name[16];

		snprintf(name, sizeof(name), "iom-sub-%u", index);
		pthread_setname_np(pthread_self(), name);
	}
	iom_live_thread(run->cfg->live, gettid(), IOM_LIVE_SUBMITTER, index);
	/* Every submitter inside the CPU set, whoever made it (main pins itself as well). */
	if (run->cfg->cpus_set &&
	    sched_setaffinity(0, sizeof(run->cfg->cpus), &run->cfg->cpus))
		ret = iom_err_set(&job->ctx.err, -errno, "sched_setaffinity %s",
				  run->cfg->cpus_str);
	else
		ret = job_setup(job, index);
	job->setup_ok = !ret;
	if (ret) {
		run_fail(run, job->ctx.err.msg);
	}
	pthread_barrier_wait(&run->ready);
	pthread_barrier_wait(&run->go);
	if (!ret && !atomic_load(&run->abort)) {
		ret = job_loop(job);
		if (ret) {
			if (!job->ctx.err.msg[0])
				iom_err_set(&job->ctx.err, ret, "%s", run->cfg->model->name);
			run_fail(run, job->ctx.err.msg);
		}
	}
	/* Past the window: tell main, so a --tasks run ends its window now. */
	if (atomic_fetch_add(&run->nr_jobs_done, 1) + 1 == run->nr_jobs) {
		pthread_mutex_lock(&run->lock);
		pthread_cond_signal(&run->done_cond);
		pthread_mutex_unlock(&run->lock);
	}
	if (job->setup_ok)
		job_drain(job);
	job_flush_latency(job);
	job->ret = ret;
	return NULL;
}

static void job_free(struct iom_job *job, const struct iom_model *model)
{
	/* A model's setup cleans up after itself when it fails: teardown only after success. */
	if (job->setup_ok && model->teardown)
		model->teardown(&job->ctx);
	for (unsigned int i = 0; job->ctx.tasks && job->run->cfg->wl.kind == IOM_WL_RPC &&
				i < job->ctx.depth; i++)
		if (job->ctx.tasks[i].fd >= 0)
			close(job->ctx.tasks[i].fd);
	iom_hist_free(job->hist);
	free(job->ctx.tasks);
	free(job->free_slots);
	free(job->batch);
	free(job->slot_busy);
	free(job->attempts);
	free(job->marks);
	free(job->retry_slot);
	free(job->retry_due_ns);
	free(job->polling);
	free(job->bufs);
	free(job->schedule);
}

/* Tasks ended and handed to the model so far, summed over submitters (relaxed: display only). */
static void run_counts(struct iom_run *run, uint64_t *done, uint64_t *submitted)
{
	*done = *submitted = 0;
	for (unsigned int i = 0; i < run->nr_jobs; i++) {
		*done += atomic_load_explicit(&run->jobs[i].pub_done, memory_order_relaxed);
		*submitted += atomic_load_explicit(&run->jobs[i].pub_submitted,
						   memory_order_relaxed);
	}
}

static void status_line(struct iom_run *run, uint64_t now, uint64_t done, uint64_t submitted,
			uint64_t *last_done, uint64_t *last_ns)
{
	const struct iom_cfg *cfg = run->cfg;
	double rate, elapsed = (double)(now - run->t_run0) / 1e9;
	char eta[32] = "";

	rate = now > *last_ns ? (double)(done - *last_done) * 1e9 / (double)(now - *last_ns) : 0;
	if (run->t_stop != UINT64_MAX)
		snprintf(eta, sizeof(eta), " ETA %.0fs",
			 run->t_stop > now ? (double)(run->t_stop - now) / 1e9 : 0.0);
	fprintf(stderr, "\r%s %5.1fs done %" PRIu64 " in flight %" PRIu64 " %.0f ops/s%s   ",
		cfg->label ? cfg->label : cfg->model->name, elapsed, done,
		submitted > done ? submitted - done : 0, rate, eta);
	*last_done = done;
	*last_ns = now;
}

/* --output: a 100 ms time series of the cell, series-row<N>.csv (NULL when not asked). */
static FILE *series_open(const struct iom_cfg *cfg)
{
	char path[PATH_MAX];
	FILE *f;

	if (!cfg->out_dir)
		return NULL;
	snprintf(path, sizeof(path), "%s/series-row%u.csv", cfg->out_dir, cfg->row_index);
	f = fopen(path, "we");
	if (f)
		fprintf(f, "t_ms,done,submitted,in_flight,in_window\n");
	return f;
}

/*
 * Main thread during the run: the window's edges (CPU samples, probes on and off), the status
 * line each second, the time series every 100 ms. It sleeps on a monotonic condition variable
 * that the last submitter signals when a --tasks window ends.
 */
static void run_watch(struct iom_run *run, struct iom_sample *s0, struct iom_sample *s1)
{
	const struct iom_cfg *cfg = run->cfg;
	uint64_t next_tick = run->t_run0 + 100000000ull, now, last_done = 0, last_ns = run->t_run0;
	unsigned int nr_ticks = 0;
	bool win_started = false;
	FILE *series = series_open(cfg);

	pthread_mutex_lock(&run->lock);
	for (;;) {
		uint64_t wake = next_tick;
		struct timespec ts;

		now = iom_now_ns();
		if (!win_started && now >= run->t_win0) {
			if (run->probe)
				iom_probe_window(run->probe, true);
			iom_sample_take(s0, cfg->cpus_set ? &cfg->cpus : NULL);
			s0->backend_ns = iom_workload_backend_cpu_ns(&run->wl);
			iom_workload_backend_sample(&run->wl);
			win_started = true;
		}
		if (win_started && now >= run->t_stop)
			break;
		if (atomic_load(&run->nr_jobs_done) == run->nr_jobs)
			break;
		if (interrupted)
			atomic_store(&run->abort, true);
		/* Stopped early (a signal, a failure): run_join waits for the rest. */
		if (atomic_load(&run->abort))
			break;
		if (now >= next_tick) {
			uint64_t done, submitted;

			run_counts(run, &done, &submitted);
			if (series)
				fprintf(series, "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%d\n",
					(now - run->t_run0) / 1000000, done, submitted,
					submitted > done ? submitted - done : 0, win_started);
			if (cfg->progress && ++nr_ticks % 10 == 0)
				status_line(run, now, done, submitted, &last_done, &last_ns);
			next_tick += 100000000ull;
			continue;
		}
		if (!win_started && run->t_win0 < wake)
			wake = run->t_win0;
		if (run->t_stop < wake)
			wake = run->t_stop;
		ts = iom_ts(wake);
		pthread_cond_timedwait(&run->done_cond, &run->lock, &ts);
	}
	pthread_mutex_unlock(&run->lock);
	if (!win_started) {
		if (run->probe)
			iom_probe_window(run->probe, true);
		iom_sample_take(s0, cfg->cpus_set ? &cfg->cpus : NULL);
		s0->backend_ns = iom_workload_backend_cpu_ns(&run->wl);
	}
	iom_sample_take(s1, cfg->cpus_set ? &cfg->cpus : NULL);
	s1->backend_ns = iom_workload_backend_cpu_ns(&run->wl);
	iom_workload_backend_sample(&run->wl);
	if (run->probe)
		iom_probe_window(run->probe, false);
	if (series)
		fclose(series);
	if (cfg->progress)
		fprintf(stderr, "\r\033[K");
}

/* Cancel each sync call in progress, claimed first so its task cannot change meanwhile. */
static void run_cancel_calls(struct iom_run *run)
{
	const struct iom_model *model = run->cfg->model;

	for (unsigned int i = 0; model->cancel && i < run->nr_jobs; i++) {
		struct iom_job *job = &run->jobs[i];
		uint32_t call = atomic_load(&job->in_call);

		if (!call || (call & CALL_CLAIMED) ||
		    !atomic_compare_exchange_strong(&job->in_call, &call, call | CALL_CLAIMED))
			continue;
		model->cancel(&job->ctx, &job->ctx.tasks[call - 1]);
		atomic_store(&job->in_call, 0);
	}
}

/*
 * Main, past the window: wait for the submitters. A sync call still blocked after the drain's
 * grace (no deadline, a server that never answers), or a second after a signal, is
 * cancelled, again each second: otherwise the join waits for ever, deaf to SIGTERM.
 */
static void run_join(struct iom_run *run)
{
	uint64_t now = iom_now_ns(), until = now + drain_grace_ns(run->cfg);

	pthread_mutex_lock(&run->lock);
	while (atomic_load(&run->nr_jobs_done) < run->nr_jobs) {
		struct timespec ts;

		now = iom_now_ns();
		if (until > now + drain_grace_ns(run->cfg))
			until = now + drain_grace_ns(run->cfg);
		if (now >= until) {
			pthread_mutex_unlock(&run->lock);
			run_cancel_calls(run);
			pthread_mutex_lock(&run->lock);
			until = iom_now_ns() + 1000000000ull;
			continue;
		}
		ts = iom_ts(until - now < 100000000ull ? until : now + 100000000ull);
		pthread_cond_timedwait(&run->done_cond, &run->lock, &ts);
	}
	pthread_mutex_unlock(&run->lock);
	for (unsigned int i = 0; i < run->nr_jobs; i++)
		pthread_join(run->jobs[i].thread, NULL);
}

static void row_set_params(struct iom_row *row, const struct iom_cfg *cfg, unsigned int nr_jobs)
{
	const struct iom_wl_params *w = &cfg->wl;

	snprintf(row->str[IOM_COL_model], sizeof(row->str[0]), "%s", cfg->model->name);
	snprintf(row->str[IOM_COL_workload], sizeof(row->str[0]), "%s", iom_wl_name(w->kind));
	row->num[IOM_COL_concurrency] = cfg->concurrency;
	row->num[IOM_COL_jobs] = nr_jobs;
	snprintf(row->str[IOM_COL_cpus], sizeof(row->str[0]), "%s",
		 cfg->cpus_set ? cfg->cpus_str : "all");
	snprintf(row->str[IOM_COL_mode], sizeof(row->str[0]), "%s",
		 cfg->rate > 0 ? "open" : "closed");
	row->num[IOM_COL_rate_target] = cfg->rate > 0 ? cfg->rate : NAN;
	row->num[IOM_COL_repeat] = cfg->repeat;
	row->num[IOM_COL_seed] = (double)w->seed;
	row->num[IOM_COL_batch_complete] = iom_batch_auto_half(cfg) ? 0 :
					     cfg->batch_complete ? cfg->batch_complete : 1;
	row->num[IOM_COL_deadline_us] = cfg->deadline_ns ? (double)cfg->deadline_ns / 1e3 : NAN;
	row->num[IOM_COL_cpu_work_us] = (double)cfg->cpu_work_ns / 1e3;
	if (w->kind == IOM_WL_RPC && w->service[0]) {
		/* The server's own service replaces the request's service time. */
		snprintf(row->str[IOM_COL_latency_dist], sizeof(row->str[0]), "service %s",
			 w->service);
	} else if (w->kind == IOM_WL_TIMER || w->kind == IOM_WL_RPC) {
		row->num[IOM_COL_latency_us] = (double)w->latency_ns / 1e3;
		if (w->dist == IOM_DIST_BIMODAL)
			snprintf(row->str[IOM_COL_latency_dist], sizeof(row->str[0]),
				 "bimodal:%g,%g", w->bimodal_p, (double)w->bimodal_ns / 1e3);
		else
			snprintf(row->str[IOM_COL_latency_dist], sizeof(row->str[0]), "%s",
				 iom_dist_name(w->dist));
	}
	if (w->kind == IOM_WL_FILE) {
		row->num[IOM_COL_bs] = w->bs;
		snprintf(row->str[IOM_COL_rw], sizeof(row->str[0]), "%s",
			 w->write ? "write" : "read");
		row->num[IOM_COL_direct] = w->direct;
		row->num[IOM_COL_size_bytes] = (double)w->size;
	}
}

static void row_set_status(struct iom_row *row, const char *status, const char *reason)
{
	snprintf(row->str[IOM_COL_status], sizeof(row->str[0]), "%s", status);
	snprintf(row->str[IOM_COL_reason], sizeof(row->str[0]), "%.*s", (int)sizeof(row->str[0]) - 1,
		 reason ? reason : "");
}

static void add_flag(struct iom_row *row, const char *flag)
{
	char *f = row->str[IOM_COL_flags];
	size_t n = strlen(f);

	snprintf(f + n, sizeof(row->str[0]) - n, "%s%s", n ? ";" : "", flag);
}

void iom_row_set_quantiles(struct iom_row *row, const struct iom_hist *h)
{
	static const struct { enum iom_col col; double q; } qs[] = {
		{ IOM_COL_lat_p50_ns, 0.5 }, { IOM_COL_lat_p90_ns, 0.9 },
		{ IOM_COL_lat_p99_ns, 0.99 }, { IOM_COL_lat_p999_ns, 0.999 },
	};

	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		row->num[qs[i].col] = iom_hist_quantile_backed(h, qs[i].q) ?
					      (double)iom_hist_quantile(h, qs[i].q) : NAN;
	row->num[IOM_COL_lat_max_ns] = h->count ? (double)h->max : NAN;
	row->num[IOM_COL_lat_mean_ns] = h->count ? iom_hist_mean(h) : NAN;
	row->num[IOM_COL_n_samples] = (double)h->count;
}

/* What the cell's jobs counted, added up over every job. */
struct run_totals {
	uint64_t nr_state[IOM_NR_STATES], submitted, window, window_completed, started, terminal;
	uint64_t retries, give_ups, faults, busy, status_reads, stale, wrong;
	uint64_t last_arrival, last_terminal, expire_delay, enters, reconnects, replaced;
	uint64_t harness_rss, requests, learned, learned_us;
	uint64_t verify_fail, late, bugs, backlog, last_end, overflow, tsc_jobs;
	const char *bug;
};

static void max_u64(uint64_t *max, uint64_t v)
{
	if (v > *max)
		*max = v;
}

/* Add up the jobs' counts and merge their histograms into hist. */
static void run_add_jobs(const struct iom_run *run, struct iom_hist *hist, struct run_totals *t)
{
	memset(t, 0, sizeof(*t));
	iom_hist_init(hist);
	for (unsigned int i = 0; i < run->nr_jobs; i++) {
		const struct iom_job *job = &run->jobs[i];

		for (int s = 0; s < IOM_NR_STATES; s++)
			t->nr_state[s] += job->nr_state[s];
		t->submitted += job->nr_submitted;
		t->tsc_jobs += job->ctx.tsc_stamps;
		/* Every task that ended inside the window is in the histogram, once. */
		t->window += job->hist ? job->hist->count : 0;
		t->window_completed += job->nr_window_completed;
		t->started += job->nr_started_window;
		/* A late rpc answer is read by a later task of the slot: the model counts it. */
		t->late += job->nr_late + job->ctx.stats.nr_late_replies;
		t->retries += job->nr_retries;
		t->give_ups += job->nr_give_ups;
		t->faults += job->nr_faults;
		t->verify_fail += job->nr_verify_fail;
		t->bugs += job->nr_bug;
		t->overflow += job->ctx.stats.nr_cq_overflow;
		t->busy += job->nr_busy;
		t->status_reads += job->ctx.stats.nr_status_reads;
		t->enters += job->ctx.stats.nr_enter;
		t->reconnects += job->ctx.stats.nr_reconnects;
		t->replaced += job->ctx.stats.nr_workers_replaced;
		t->stale += job->ctx.stats.nr_stale_reads;
		t->requests += job->nr_requests;
		t->learned += job->nr_learned;
		t->learned_us += job->learned_us;
		t->wrong += job->ctx.stats.nr_wrong_expired;
		max_u64(&t->backlog, job->backlog_max);
		max_u64(&t->last_end, job->last_end_ns);
		t->expire_delay += job->expire_delay_ns;
		max_u64(&t->last_arrival, job->last_arrival_ns);
		max_u64(&t->last_terminal, job->last_terminal_ns);
		if (job->bug[0] && !t->bug)
			t->bug = job->bug;
		/* Before the merge reads every page: what the window's recording made resident. */
		t->harness_rss += iom_hist_resident_bytes(job->hist);
		if (job->hist)
			iom_hist_merge(hist, job->hist);
	}
	for (int s = IOM_COMPLETED; s < IOM_NR_STATES; s++)
		t->terminal += t->nr_state[s];
}

/* The task counts, and the columns only some models or workloads have. */
static void row_set_counts(const struct iom_run *run, struct iom_row *row,
			   const struct run_totals *t)
{
	const struct iom_cfg *cfg = run->cfg;
	double terminal = (double)t->terminal;

	row->num[IOM_COL_submitted] = (double)t->submitted;
	row->num[IOM_COL_n_completed] = (double)t->nr_state[IOM_COMPLETED];
	row->num[IOM_COL_n_failed] = (double)t->nr_state[IOM_FAILED];
	row->num[IOM_COL_n_aborted] = (double)t->nr_state[IOM_ABORTED];
	row->num[IOM_COL_n_partial] = (double)t->nr_state[IOM_PARTIAL];
	row->num[IOM_COL_n_expired] = (double)t->nr_state[IOM_EXPIRED];
	row->num[IOM_COL_n_late] = (double)t->late;
	if (cfg->retry_expired || cfg->retry_failed) {
		row->num[IOM_COL_retries] = (double)t->retries;
		row->num[IOM_COL_give_ups] = (double)t->give_ups;
	}
	/* faults too: a live view may have turned the rate back to 0 after some. */
	if (iom_fault_active(cfg) || t->faults) {
		row->num[IOM_COL_faults] = (double)t->faults;
		iom_fault_format(cfg, row->str[IOM_COL_fault], sizeof(row->str[0]));
	}
	row->num[IOM_COL_harness_rss_bytes] = (double)t->harness_rss;
	row->num[IOM_COL_enters_per_task] = t->terminal ? (double)t->enters / terminal : NAN;
	if (cfg->wl.kind == IOM_WL_RPC) {
		row->num[IOM_COL_reconnects] = (double)t->reconnects;
		snprintf(row->str[IOM_COL_api], sizeof(row->str[0]), "%s",
			 cfg->wl.api == IOM_API_ASYNC ? cfg->wl.async_wait ? "async-wait" :
			 "async-poll" : "sync");
	}
	/* --api async: frames per ended task; the server's clock from done to the answer. */
	if (cfg->wl.kind == IOM_WL_RPC && cfg->wl.api == IOM_API_ASYNC) {
		row->num[IOM_COL_requests_per_task] = t->terminal ? (double)t->requests / terminal :
								    NAN;
		row->num[IOM_COL_done_to_learned_ns] = t->learned ? 1000.0 * (double)t->learned_us /
								    (double)t->learned : NAN;
	}
	if (cfg->model->caps & IOM_CAP_POOL)
		row->num[IOM_COL_workers_replaced] = (double)t->replaced;
	row->num[IOM_COL_tasks] = (double)t->window;
	if (t->nr_state[IOM_EXPIRED] && cfg->deadline_ns)
		row->num[IOM_COL_expire_delay_ns] = (double)t->expire_delay /
						    (double)t->nr_state[IOM_EXPIRED];
	/* Only a model whose submitter polls a status store (kernel_free --notify poll) reads it. */
	if (t->status_reads) {
		row->num[IOM_COL_status_reads_per_task] = t->terminal ? (double)t->status_reads /
									terminal : NAN;
		row->num[IOM_COL_stale_reads] = (double)t->stale;
		row->num[IOM_COL_wrong_expired] = (double)t->wrong;
	}
	/* Only a model with a completion queue of its own can overflow one. */
	row->num[IOM_COL_cq_overflow] = is_async(cfg) && (cfg->model->caps & IOM_CAP_CQ) ?
						(double)t->overflow : NAN;
	snprintf(row->str[IOM_COL_variant], sizeof(row->str[0]), "%s", run->jobs[0].ctx.variant);
}

/* The window's length and what went through it per second; the latency quantiles. */
static void row_set_window(const struct iom_run *run, struct iom_row *row,
			   const struct iom_hist *hist, const struct run_totals *t)
{
	const struct iom_cfg *cfg = run->cfg;
	double runtime_ns;

	/* The window: to its planned end (runtime), or to the last measured task (--tasks). */
	if (run->t_stop != UINT64_MAX && !run->err[0] && !interrupted)
		runtime_ns = run_window_end(run) > run->t_win0 ?
				     (double)(run_window_end(run) - run->t_win0) : NAN;
	else
		runtime_ns = t->last_end > run->t_win0 ? (double)(t->last_end - run->t_win0) : NAN;
	row->num[IOM_COL_runtime_ns] = runtime_ns;
	/*
	 * Throughput is COMPLETED tasks only: an EXPIRED or FAILED one ends early and would raise
	 * it while less work got done. Every ended task per second is its own column.
	 */
	row->num[IOM_COL_ops_per_s] = runtime_ns > 0 ?
					      (double)t->window_completed * 1e9 / runtime_ns : NAN;
	row->num[IOM_COL_ended_per_s] = runtime_ns > 0 ? (double)t->window * 1e9 / runtime_ns :
							 NAN;
	if (cfg->rate > 0) {
		row->num[IOM_COL_achieved_ops_per_s] =
			runtime_ns > 0 ? (double)t->started * 1e9 / runtime_ns : NAN;
		row->num[IOM_COL_backlog_max] = (double)t->backlog;
		/*
		 * How long the work outlived the offered load: from the last arrival's intended
		 * start until every task had its final state, retries included (with --tasks; a
		 * --runtime cell gives up waiting retries when its window ends).
		 */
		if (t->last_arrival && t->last_terminal)
			row->num[IOM_COL_drain_ns] = t->last_terminal > t->last_arrival ?
				(double)(t->last_terminal - t->last_arrival) : 0.0;
	}
	iom_row_set_quantiles(row, hist);
	/* Little's law over every task that held a slot (the histogram holds all that ended). */
	row->num[IOM_COL_inflight_avg] = row->num[IOM_COL_ended_per_s] * iom_hist_mean(hist) / 1e9;
	/* Live: the knobs moved the target during the window; the row says so instead. */
	if (cfg->live)
		add_flag(row, "live");
	else if (cfg->rate <= 0 && t->window &&
		 fabs(row->num[IOM_COL_inflight_avg] - cfg->concurrency) > 0.05 * cfg->concurrency)
		add_flag(row, "inflight_off");
	if (!t->window)
		add_flag(row, "no_tasks_in_window");
	/* The model's queue was full (IOM_Q_BUSY) at a submit: fewer than C were in flight then. */
	if (t->busy)
		add_flag(row, "queue_full");
	/* The stamps came from the TSC (core/clock.h), not clock_gettime. */
	if (t->tsc_jobs)
		add_flag(row, "tsc_stamps");
}

/* The row's status, worst first; returns the cell's exit code. */
static int run_verdict(const struct iom_run *run, struct iom_row *row, const struct run_totals *t)
{
	if (t->bugs || t->submitted != t->terminal) {
		char msg[200];

		if (t->bug)
			snprintf(msg, sizeof(msg), "%s", t->bug);
		else
			snprintf(msg, sizeof(msg), "bug: submitted %" PRIu64 " != terminal %" PRIu64,
				 t->submitted, t->terminal);
		row_set_status(row, "error", msg);
		return IOM_EXIT_BUG;
	}
	if (run->err[0]) {
		row_set_status(row, "error", run->err);
		return 0;
	}
	if (t->verify_fail) {
		char msg[128];

		snprintf(msg, sizeof(msg), "verify: %" PRIu64 " %s", t->verify_fail,
			 run->cfg->wl.kind == IOM_WL_RPC ? "replies were not the echo of their request" :
			 "reads returned bytes the file does not hold there");
		add_flag(row, "verify_failed");
		row_set_status(row, "error", msg);
		return 0;
	}
	if (interrupted) {
		row_set_status(row, "error", "interrupted");
		return 130;
	}
	row_set_status(row, "ok", "");
	return 0;
}

/* Fill the row from the jobs' counts and the window's samples; check the invariant. */
static int run_summarise(struct iom_run *run, struct iom_row *row, struct iom_hist *hist,
			 const struct iom_sample *s_setup, const struct iom_sample *s0,
			 const struct iom_sample *s1)
{
	struct run_totals t;
	double cpu_ns;

	run_add_jobs(run, hist, &t);
	row_set_counts(run, row, &t);
	row_set_window(run, row, hist, &t);

	iom_sample_fill_row(row, s_setup, s0, s1, t.window);
	/* Per CPU-second of everything the task cost: ours, and the backend's for rpc. */
	cpu_ns = row->num[IOM_COL_cpu_ns_per_task] * (double)t.window;
	row->num[IOM_COL_ops_per_cpu_s] = cpu_ns > 0 ? (double)t.window_completed * 1e9 / cpu_ns :
						      NAN;
	if (row->num[IOM_COL_cpu_foreign_ns] > 0.02 * (row->num[IOM_COL_cpu_system_ns] > 0 ?
						       row->num[IOM_COL_cpu_system_ns] : 1))
		add_flag(row, "foreign_cpu");
	return run_verdict(run, row, &t);
}

/*
 * --timeline FILE: the probes write thread states to FILE; the driver adds its task marks to
 * FILE-marks.csv (same time origin: ns after the window's start, same cell label), appended
 * cell after cell.
 */
static void run_write_marks(struct iom_run *run)
{
	const struct iom_cfg *cfg = run->cfg;
	char path[PATH_MAX];
	bool fresh;
	FILE *f;

	snprintf(path, sizeof(path), "%s-marks.csv", cfg->timeline);
	fresh = access(path, F_OK) != 0;
	f = fopen(path, "ae");
	if (!f)
		return;
	if (fresh)
		fprintf(f, "tid,event,t_ns,task_id,cell\n");
	for (unsigned int i = 0; i < run->nr_jobs; i++) {
		const struct iom_job *job = &run->jobs[i];

		for (unsigned int k = 0; k < job->nr_marks; k++)
			fprintf(f, "%d,%s,%" PRIu64 ",%" PRIu64 ",row%u\n", (int)job->tid,
				job->marks[k].what == 'S' ? "submit" : "complete",
				job->marks[k].t_ns - run->t_win0, job->marks[k].id, cfg->row_index);
	}
	fclose(f);
}

/* The errno rate is read atomically: `iomodels watch` turns it while the cell runs. */
bool iom_fault_active(const struct iom_cfg *cfg)
{
	return __atomic_load_n(&cfg->fault_ppm, __ATOMIC_RELAXED) || cfg->fault_kill_ppm ||
	       cfg->fault_drop_ppm || cfg->fault_cq_entries;
}

void iom_fault_format(const struct iom_cfg *cfg, char *buf, size_t len)
{
	uint32_t ppm = __atomic_load_n(&cfg->fault_ppm, __ATOMIC_RELAXED);
	size_t n = 0;

	buf[0] = '\0';
	if (ppm)
		n += (size_t)snprintf(buf + n, len - n, "errno:%s@%g",
				      strerrorname_np(cfg->fault_errno) ?
				      strerrorname_np(cfg->fault_errno) : "?", ppm / 1e6);
	if (cfg->fault_kill_ppm && n < len)
		n += (size_t)snprintf(buf + n, len - n, "%skill-worker@%g", n ? "," : "",
				      cfg->fault_kill_ppm / 1e6);
	if (cfg->fault_drop_ppm && n < len)
		n += (size_t)snprintf(buf + n, len - n, "%sdrop-conn@%g", n ? "," : "",
				      cfg->fault_drop_ppm / 1e6);
	if (cfg->fault_cq_entries && n < len)
		snprintf(buf + n, len - n, "%scq-overflow:%u", n ? "," : "", cfg->fault_cq_entries);
}

/* A fault this cell cannot have: the model has no pool, no CQ, or the workload no connection. */
int iom_fault_na(const struct iom_cfg *cfg, struct iom_err *err)
{
	if (cfg->fault_kill_ppm && !(cfg->model->caps & IOM_CAP_POOL))
		return iom_err_msg(err, "--fault kill-worker: %s has no worker pool",
				   cfg->model->name);
	if (cfg->fault_cq_entries && !(cfg->model->caps & IOM_CAP_CQ))
		return iom_err_msg(err, "--fault cq-overflow: %s has no completion queue",
				   cfg->model->name);
	if (cfg->fault_drop_ppm && cfg->wl.kind != IOM_WL_RPC)
		return iom_err_msg(err, "--fault drop-conn: the %s workload has no connection",
				   iom_wl_name(cfg->wl.kind));
	return 0;
}

/* Probes load before the cell's threads exist, so every thread of it is seen from birth. */
static void run_open_probes(struct iom_run *run, struct iom_row *row)
{
	const struct iom_cfg *cfg = run->cfg;
	static bool said_unavailable;
	struct iom_probe_opts opts = { 0 };
	struct iom_err err = { "" };
	char cell[32];

	if (!cfg->probes || !*cfg->probes || !strcmp(cfg->probes, "off"))
		return;
	snprintf(cell, sizeof(cell), "row%u", cfg->row_index);
	opts.list = cfg->probes;
	opts.tgid = getpid();
	opts.out_dir = cfg->out_dir;
	opts.cell = cell;
	opts.timeline = cfg->timeline;
	run->probe = iom_probe_open(&opts, &err);
	if (run->probe) {
		snprintf(row->str[IOM_COL_probes], sizeof(row->str[0]), "%s", cfg->probes);
		return;
	}
	snprintf(row->str[IOM_COL_probes], sizeof(row->str[0]), "unavailable: %s", err.msg);
	/* Said once per run, and the run goes on with empty probe columns. */
	if (!said_unavailable)
		fprintf(stderr, "probes: unavailable: %s\n", err.msg);
	said_unavailable = true;
}

/* Sync: C threads of depth 1. Async: J submitters sharing C between them. */
static unsigned int run_nr_jobs(const struct iom_cfg *cfg)
{
	unsigned int nr_jobs;

	if (!is_async(cfg))
		return cfg->concurrency;
	nr_jobs = cfg->jobs ? cfg->jobs : 1;
	return nr_jobs > cfg->concurrency ? cfg->concurrency : nr_jobs;
}

/*
 * Whether the cell can run here at all: the model, the fault asked for, the workload's file or
 * server. Returns false with the row's status set when it cannot.
 */
static bool run_cell_opens(struct iom_run *run, struct iom_row *row)
{
	const struct iom_cfg *cfg = run->cfg;
	struct iom_err err = { "" };
	int ret = cfg->model->probe(cfg->wl.kind, &err);

	if (ret == IOM_PROBE_NA) {
		row_set_status(row, "na", err.msg);
		return false;
	}
	if (ret < 0) {
		row_set_status(row, "unavailable", err.msg);
		return false;
	}
	if (iom_fault_na(cfg, &err)) {
		row_set_status(row, "na", err.msg);
		iom_fault_format(cfg, row->str[IOM_COL_fault], sizeof(row->str[0]));
		return false;
	}
	if (iom_workload_open(&run->wl, &cfg->wl, &err)) {
		row_set_status(row, "error", err.msg);
		return false;
	}
	if (cfg->wl.kind == IOM_WL_FILE) {
		double c = iom_cache_fraction(run->wl.fd, cfg->wl.size);

		row->num[IOM_COL_cache_before] = c >= 0 ? c : NAN;
	}
	return true;
}

static void run_sync_init(struct iom_run *run)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&run->lock, NULL);
	/* The watcher's deadlines are CLOCK_MONOTONIC, like every time in the driver. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&run->done_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_barrier_init(&run->ready, NULL, run->nr_jobs + 1);
	pthread_barrier_init(&run->go, NULL, run->nr_jobs + 1);
	pthread_mutex_init(&run->launch, NULL);
}

/*
 * Make the submitters; they wait on run->launch until all are made. On a failure the ones made
 * are joined, everything the run holds is released and false is returned.
 */
static bool run_launch(struct iom_run *run, struct iom_row *row)
{
	const struct iom_cfg *cfg = run->cfg;
	unsigned int nr_jobs = run->nr_jobs, depth_all = cfg->concurrency, place, places;
	struct iom_err err = { "" };
	pthread_attr_t attr;
	int ret, made = 0;

	pthread_attr_init(&attr);
	/* Small stacks: a sync model's cost per in-flight task includes its thread's stack. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	pthread_attr_setstacksize(&attr, 1u << 20);
#else
	pthread_attr_setstacksize(&attr, 128u << 10);
#endif
	iom_cluster_place(&place, &places);
	pthread_mutex_lock(&run->launch);
	for (unsigned int i = 0; i < nr_jobs; i++) {
		struct iom_job *job = &run->jobs[i];

		job->run = run;
		job->seq_stride = nr_jobs * places;
		job->seq_index = i * places + place;
		job->ctx.cfg = cfg;
		job->ctx.wl = &run->wl;
		job->ctx.job = i;
		job->ctx.drv = job;
		job->ctx.depth = depth_all / nr_jobs + (i < depth_all % nr_jobs);
		job->last_end_ns = 0;
		ret = pthread_create(&job->thread, &attr, job_main, job);
		if (ret) {
			iom_err_set(&err, -ret, "pthread_create submitter %u of %u", i + 1, nr_jobs);
			run_fail(run, err.msg);
			break;
		}
		job->thread_made = true;
		made++;
	}
	pthread_attr_destroy(&attr);
	run->launch_failed = (unsigned int)made < nr_jobs;
	pthread_mutex_unlock(&run->launch);
	if (!run->launch_failed)
		return true;
	for (int i = 0; i < made; i++)
		pthread_join(run->jobs[i].thread, NULL);
	pthread_barrier_destroy(&run->ready);
	pthread_barrier_destroy(&run->go);
	pthread_mutex_destroy(&run->launch);
	iom_probe_close(run->probe);
	iom_workload_close(&run->wl);
	row_set_status(row, "error", run->err);
	free(run->jobs);
	return false;
}

/* Start the window with the submitters (and the cluster), watch it, join the submitters. */
static void run_window(struct iom_run *run, struct iom_sample *s0, struct iom_sample *s1,
		       bool *synced)
{
	const struct iom_cfg *cfg = run->cfg;
	struct sched_param sp = { .sched_priority = 1 };
	bool rt;

	/*
	 * The watcher (this thread) takes the window's samples: with hundreds of busy threads on
	 * one CPU it would wait whole time slices for its turn and sample the wrong interval.
	 * Real-time priority (when allowed), set after the submitters were made so none inherits
	 * it, lets it run at the edges; it sleeps the rest of the time.
	 */
	pthread_barrier_wait(&run->ready);
	/*
	 * Every process of a cluster starts its window together (after its submitters are set
	 * up), as IOR's ranks start a phase. Before real-time priority: an MPI barrier spins.
	 */
	*synced = true;
	if (iom_cluster_window_barrier(!atomic_load(&run->abort)) && !atomic_load(&run->abort))
		run_fail(run, "another process of the job failed before its window");
	rt = !pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	run->t_run0 = iom_now_ns();
	run->t_win0 = run->t_run0 + cfg->ramp_ns;
	run->t_stop = cfg->tasks ? UINT64_MAX : run->t_win0 + cfg->runtime_ns;
	iom_live_window_start(cfg->live, run->t_win0);
	pthread_barrier_wait(&run->go);

	if (!atomic_load(&run->abort))
		run_watch(run, s0, s1);
	if (rt) {
		sp.sched_priority = 0;
		pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
	}
	if (atomic_load(&run->abort) && !s0->t_ns)
		iom_sample_take(s0, NULL), *s1 = *s0;
	run_join(run);
}

/*
 * --api async against the server this cell started: what a pending task costs it, at the
 * most tasks it held pending at once. srv_bytes_per_pending is its status store's own exact
 * count; srv_rss_per_pending its RSS growth since it listened (connections and threads in it:
 * here a pending task holds a connection). Empty for the sync API, a remote server, or none
 * pending: nothing to divide, and 0 would claim a task costs nothing.
 */
static void row_set_server_memory(struct iom_row *row, const struct iom_cfg *cfg,
				  const struct iom_workload *wl, const struct iom_backend_counts *bc)
{
	double pending = (double)bc->async_pending_max;

	if (cfg->wl.api != IOM_API_ASYNC || bc->async_pending_max <= 0)
		return;
	if (bc->async_bytes_at_max >= 0)
		row->num[IOM_COL_srv_bytes_per_pending] = (double)bc->async_bytes_at_max / pending;
	if (wl->backend_rss0 >= 0 && wl->backend_rss_max >= 0)
		row->num[IOM_COL_srv_rss_per_pending] =
			(double)(wl->backend_rss_max - wl->backend_rss0) / pending;
}

/* After the summary: marks, probes, the cache, the backend's columns; release the run. */
static void run_finish(struct iom_run *run, struct iom_row *row, const struct iom_sample *s0,
		       const struct iom_sample *s1)
{
	const struct iom_cfg *cfg = run->cfg;

	if (cfg->timeline)
		run_write_marks(run);
	if (run->probe) {
		iom_probe_fill_row(run->probe, row, (uint64_t)row->num[IOM_COL_tasks]);
		iom_probe_close(run->probe);
	}
	if (cfg->wl.kind == IOM_WL_FILE) {
		double c = iom_cache_fraction(run->wl.fd, cfg->wl.size);

		row->num[IOM_COL_cache_after] = c >= 0 ? c : NAN;
	}
	for (unsigned int i = 0; i < run->nr_jobs; i++)
		job_free(&run->jobs[i], cfg->model);
	free(run->jobs);
	pthread_barrier_destroy(&run->ready);
	pthread_barrier_destroy(&run->go);
	pthread_mutex_destroy(&run->launch);
	pthread_cond_destroy(&run->done_cond);
	pthread_mutex_destroy(&run->lock);
	if (cfg->wl.kind == IOM_WL_RPC) {
		struct iom_backend_counts bc;

		iom_workload_backend_stop(&run->wl, &bc);
		row_set_server_memory(row, cfg, &run->wl, &bc);
		if (s0->tcp_retrans >= 0 && s1->tcp_retrans >= 0)
			row->num[IOM_COL_tcp_retrans] = (double)(s1->tcp_retrans - s0->tcp_retrans);
		/*
		 * The backend must never be the bottleneck: past 70% of the CPU its threads can
		 * use, the cell measures the backend, not the model, and says so.
		 */
		if (row->num[IOM_COL_cpu_backend_ns] > 0.7 * row->num[IOM_COL_runtime_ns] *
						       iom_workload_backend_cpus(&run->wl))
			add_flag(row, "backend_bound");

		row->num[IOM_COL_n_dup] = bc.duplicates >= 0 ? (double)bc.duplicates : NAN;
	}
	iom_workload_close(&run->wl);
}

/* One cell of this process; *synced says whether it reached the cluster's window barrier. */
static int run_cell(const struct iom_cfg *cfg, struct iom_row *row, struct iom_hist *hist,
		    bool *synced)
{
	struct iom_run run = { .cfg = cfg };
	struct iom_sample s_setup, s0 = { 0 }, s1 = { 0 };
	int ret;

	iom_row_init(row);
	iom_hist_init(hist);
	run.nr_jobs = run_nr_jobs(cfg);
	row_set_params(row, cfg, run.nr_jobs);
	if (!run_cell_opens(&run, row))
		return 0;

	run_open_probes(&run, row);
	run.jobs = calloc(run.nr_jobs, sizeof(*run.jobs));
	if (!run.jobs) {
		iom_probe_close(run.probe);
		iom_workload_close(&run.wl);
		row_set_status(row, "error", "out of memory");
		return 0;
	}
	run_sync_init(&run);
	run.t_win0 = run.t_stop = UINT64_MAX;
	iom_sample_take_baseline(&s_setup, NULL);
	if (!run_launch(&run, row))
		return 0;
	run_window(&run, &s0, &s1, synced);

	ret = run_summarise(&run, row, hist, &s_setup, &s0, &s1);
	run_finish(&run, row, &s0, &s1);
	return ret;
}

void iom_cfg_init(struct iom_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->wl.kind = IOM_WL_TIMER;
	cfg->wl.latency_ns = 1000000;
	cfg->wl.seed = 1;
	cfg->wl.size = 1ull << 30;
	cfg->wl.bs = 4096;
	cfg->wl.payload = 64;
	cfg->retry_max = 3;
	cfg->backoff = IOM_BACKOFF_EXP_JITTER;
	cfg->backoff_base_ns = 1000000;
	cfg->backoff_cap_ns = 100000000;
	cfg->runtime_ns = 3000000000ull;
	cfg->batch_complete = 0;	/* auto (iom_batch_auto_half): --batch-complete N forces N */
}

int iom_run_cell(const struct iom_cfg *cfg, struct iom_row *row, struct iom_hist *hist)
{
	bool synced = false;
	int ret = run_cell(cfg, row, hist, &synced);

	/* A cell that ended before its window still meets the others at the barrier. */
	if (!synced)
		iom_cluster_window_barrier(false);
	return iom_cluster_reduce(row, hist, ret);
}
