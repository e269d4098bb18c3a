/* SPDX-License-Identifier: MIT */
/*
 * The one interface every I/O model implements, in the spirit of fio's ioengine_ops and redis'
 * aeApi*. The driver (driver.c) owns the tasks and the loop; a model only turns a task into its
 * own system calls and reports back, through iom_complete(), each task it is done with.
 *
 * A sync model does the whole task inside ->submit() and returns IOM_Q_DONE; its concurrency
 * comes from C submitter threads of depth 1 (fio's numjobs with a sync engine). An async model
 * returns IOM_Q_QUEUED and later reports the task from ->reap(); it runs J submitter threads,
 * each with depth C/J.
 */
#ifndef IOM_MODEL_H
#define IOM_MODEL_H

#include <stdint.h>
#include <time.h>

#include "clock.h"

#include "driver.h"
#include "err.h"
#include "opt.h"
#include "task.h"
#include "workload.h"

enum iom_q {
	IOM_Q_DONE,	/* finished inside submit (sync); the driver completes it */
	IOM_Q_QUEUED,	/* in flight; ->reap() will report it */
	IOM_Q_BUSY,	/* not taken now (queue full): the driver backs off and retries */
};

#define IOM_CAP_ASYNC		(1u << 0)	/* tasks complete through ->reap() */
#define IOM_CAP_BATCH		(1u << 1)	/* ->flush() submits many with one syscall */
#define IOM_CAP_CANCEL		(1u << 2)	/* ->cancel() works on an in-flight task */
#define IOM_CAP_DEADLINE	(1u << 3)	/* enforces --deadline-us in the kernel */
#define IOM_CAP_POOL		(1u << 4)	/* runs a worker pool: --fault kill-worker */
#define IOM_CAP_CQ		(1u << 5)	/* has a completion queue: --fault cq-overflow */
#define IOM_CAP_CTX_CLOCK	(1u << 6)	/* stamps tasks by iom_ctx_now(): TSC stamps allowed */

#define IOM_PROBE_NA		1		/* ->probe(): this model cannot do the workload */

/* How a model's tasks wait, as watch draws its lane (ui/watch.c). */
enum iom_shape {
	IOM_SHAPE_PLAIN,	/* its threads' states only */
	IOM_SHAPE_THREAD_PER_TASK, /* one client thread blocked in each task's call */
	IOM_SHAPE_LOOP,		/* one loop per submitter waits on a ready list */
	IOM_SHAPE_RING,		/* a submission queue, the kernel (and io-wq), a completion queue */
	IOM_SHAPE_POOL,		/* a queue, a pool of workers, a status store */
};

/* Model-side counters a row reports (the driver sums them over submitters). */
struct iom_model_stats {
	uint64_t nr_cq_overflow;	/* times the CQ was seen overflowing */
	uint64_t nr_enter;		/* io_uring_enter / blocking syscalls made by the submitter */
	uint64_t nr_resubmit;		/* short transfers resubmitted for the rest */
	uint64_t nr_late_replies;	/* rpc: answers of expired tasks read later on their slot */
	uint64_t nr_reconnects;		/* rpc: connections replaced (cut-off frame, dropped) */
	uint64_t nr_workers_replaced;	/* kernel_free: dead workers the pool replaced */
	/* kernel_free --notify poll: the status store as the poller saw it. */
	uint64_t nr_status_reads;	/* entries read by polls */
	uint64_t nr_stale_reads;	/* reads that said "not done" of a task already DONE */
	uint64_t nr_wrong_expired;	/* EXPIRED by the poller, though DONE before the deadline */
};

struct iom_ctx {
	const struct iom_cfg *cfg;
	const struct iom_workload *wl;
	unsigned int job;		/* submitter index, 0..jobs-1 */
	unsigned int depth;		/* most tasks this submitter has in flight */
	struct iom_task *tasks;		/* depth task slots, owned by the driver */
	void *priv;			/* the model's state */
	uint64_t now_ns;		/* the model's latest clock reading (one per reap batch) */
	bool tsc_stamps;		/* stamps by iom_ctx_now() come from the TSC (core/clock.h) */
	struct iom_tsc_fit tsc;		/* its fit, anchored at the cell's start */
	struct iom_model_stats stats;
	uint64_t nr_reported;		/* tasks handed back through iom_complete() */
	char variant[160];		/* what the model was granted (e.g. ring flags), recorded */
	struct iom_err err;
	struct iom_job *drv;		/* the driver's per-submitter state */
};

struct iom_model {
	const char *name;
	const char *desc;
	unsigned int caps;
	/*
	 * Optional: the library the model is built on ("liburing"; run.json's key is
	 * "<lib>_version") and its version as this build knows it, for run.json and --version.
	 */
	const char *lib;
	void (*lib_version)(char *buf, size_t len);
	/*
	 * Optional: the model's own options (opt.h), a table ended by { NULL } over a struct of
	 * opts_size bytes whose defaults are opts_defaults; and a check of a set of them against
	 * the rest of the cell's configuration (-EINVAL and one line in err when they conflict).
	 */
	const struct iom_opt *opts;
	size_t opts_size;
	const void *opts_defaults;
	int (*opts_check)(const void *opts, const struct iom_cfg *cfg, struct iom_err *err);
	/* Can this kernel and user run workload wl? 0, IOM_PROBE_NA or -errno, reason in err. */
	int (*probe)(enum iom_wl_kind wl, struct iom_err *err);
	int (*setup)(struct iom_ctx *ctx);
	/* t is RUNNING. Returns enum iom_q, or -errno (the cell stops, err says why). */
	int (*submit)(struct iom_ctx *ctx, struct iom_task *t);
	/*
	 * Optional, for an async model (its submit never returns IOM_Q_DONE): tasks[0..n), all
	 * RUNNING, in order, as n calls of submit would take them. Returns k, how many were queued
	 * (a prefix); when k < n, *why is what submit returned for tasks[k] (IOM_Q_BUSY or
	 * -errno), and the model has kept nothing of tasks[k..n). The driver calls it for a plain
	 * cell (no fault, retry, live view...): one call a batch, not one a task.
	 */
	int (*submit_n)(struct iom_ctx *ctx, struct iom_task *const *tasks, unsigned int n,
			int *why);
	/* Optional: push everything queued by submit to the kernel in one call. */
	int (*flush)(struct iom_ctx *ctx);
	/*
	 * Report finished tasks with iom_complete(): wait up to timeout_ns (0 = do not wait,
	 * UINT64_MAX = no limit) for at least min of them, report at most max. Returns how many
	 * were reported or -errno.
	 */
	int (*reap)(struct iom_ctx *ctx, unsigned int min, unsigned int max, uint64_t timeout_ns);
	/* Ask for an in-flight task to be aborted; it is still reported through ->reap(). */
	int (*cancel)(struct iom_ctx *ctx, struct iom_task *t);
	void (*teardown)(struct iom_ctx *ctx);
	/*
	 * What watch, the demo and the report say of the model, so that none names one: how a task
	 * waits, its failure domains ("N: what can fail on its own"), where a timer task sleeps,
	 * and the shape of the lane watch draws. Optional: a model that leaves them out gets a
	 * lane of bare thread counts and a "-" in the demo's table.
	 */
	const char *waits;
	const char *domains;
	/* The report's checklist (models.csv): what names a task in flight, how its end is
	 * learned. Optional, as the three above. */
	const char *task_id;
	const char *completion;
	const char *timer_waits_in;
	enum iom_shape shape;
};

/* The model's options for cfg (cfg->model's struct of them, or its defaults); NULL if none. */
const void *iom_cfg_model_opts(const struct iom_cfg *cfg);

/* The driver's side: the model is done with t (terminal state set, no CQE still due). */
void iom_complete(struct iom_ctx *ctx, struct iom_task *t);

/*
 * A task stamp: from the TSC in a cell whose stamps are only compared with one another
 * (ctx->tsc_stamps, set by the driver), else CLOCK_MONOTONIC.
 */
static inline uint64_t iom_ctx_now(const struct iom_ctx *ctx)
{
	return ctx->tsc_stamps ? iom_tsc_now_ns(&ctx->tsc) : iom_now_ns();
}

static inline struct timespec iom_ts(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };
	return ts;
}

/* models.c: the table of models, the only place that names every one. */
extern const struct iom_model *const iom_models[];
const struct iom_model *iom_model_find(const char *name);
/*
 * For a view or a scenario that needs a kind of model, never a name: the model of the table
 * whose caps hold all of want and none of avoid and whose ->probe() accepts wl, the one with
 * the most caps (it shows the most; the table's order breaks a tie); NULL if none.
 */
const struct iom_model *iom_model_pick(unsigned int want, unsigned int avoid,
				       enum iom_wl_kind wl);
/*
 * Test hook: more models iom_model_find() knows (never in iom_models, so never in "all"). Only
 * a test build of the binary sets it (tests/stub_models.c); the real binary leaves it NULL.
 */
extern const struct iom_model *const *iom_models_extra;

#endif
