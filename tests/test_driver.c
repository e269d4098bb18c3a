// SPDX-License-Identifier: MIT
/*
 * The harness's promises that no single model owns, each held by a test that fails when the
 * line carrying it breaks (tests/mutants.txt names the mutation each one kills):
 * - open loop: latency counts from each task's intended start (no coordinated omission), so an
 *   overloaded run shows its queueing delay and its backlog;
 * - timer slack 1 ns: recorded in run.json by a real run, and in force in the submitter threads;
 * - offsets: a pure function of the seed and the task's sequence number, so every model and
 *   every concurrency reads the same blocks;
 * - a block device is used only with --allow-device;
 * - backoff shapes: exp doubles from the base to the cap, exp-jitter draws below that;
 * - a plain cell's lean paths (no fault, retry, live view, timeline...) count every terminal
 *   state as the full paths do.
 */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/prctl.h>

#include "core/model.h"
#include "tests/helpers.h"

static struct iom_row row;
static struct iom_hist hist;

/*
 * Overload: 2 threads of 1 ms timers serve at most 2000/s; arrivals come at 4000/s for 0.4 s.
 * Task k is due at k/4000 s and can start no earlier than k/2000 s, so its latency from the
 * intended start grows to ~0.1 s by the end: the median is tens of ms. Stamped with the submit
 * time instead (coordinated omission) every task would show ~1 ms.
 */
static void test_open_loop_overload(void **state)
{
	const struct iom_model *m = iom_model_find("threads");
	struct iom_cfg cfg = iomt_cfg(m, IOM_WL_TIMER, 2, NULL);
	const double d_ns = 1e6;

	cfg.tasks = 0;
	cfg.rate = 4000;
	cfg.runtime_ns = 400000000;
	cfg.wl.latency_ns = (uint64_t)d_ns;
	iomt_run_ok(&cfg, &row, &hist);
	assert_string_equal(row.str[IOM_COL_mode], "open");
	print_message("overload: p50 %.2f ms for D = 1 ms, backlog_max %g\n",
		      row.num[IOM_COL_lat_p50_ns] / 1e6, row.num[IOM_COL_backlog_max]);
	if (!(row.num[IOM_COL_lat_p50_ns] > 5 * d_ns))
		fail_msg("p50 %.0f ns at twice the capacity: latency is not counted from the "
			 "intended start", row.num[IOM_COL_lat_p50_ns]);
	assert_true(row.num[IOM_COL_backlog_max] > 0);
}

/* A sync model that records the timer slack its submitter thread runs with. */
static atomic_long slack_seen_max, slack_seen_min;

static int slack_probe(enum iom_wl_kind wl, struct iom_err *err) { return 0; }
static int slack_setup(struct iom_ctx *ctx) { return 0; }
static void slack_teardown(struct iom_ctx *ctx) { }

static int slack_submit(struct iom_ctx *ctx, struct iom_task *t)
{
	long slack = (long)prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);

	if (slack > atomic_load(&slack_seen_max))
		atomic_store(&slack_seen_max, slack);
	if (slack < atomic_load(&slack_seen_min))
		atomic_store(&slack_seen_min, slack);
	ctx->now_ns = iom_now_ns();
	iom_task_finish(t, 0, IOM_CAUSE_OP, ctx->now_ns);
	return IOM_Q_DONE;
}

static const struct iom_model slack_model = {
	.name = "slack-recorder", .probe = slack_probe, .setup = slack_setup,
	.submit = slack_submit, .teardown = slack_teardown,
};

/*
 * The submitter threads run with 1 ns slack even when the thread that starts the run has the
 * kernel's 50 us default (threads inherit their creator's slack, so the driver must set it).
 */
static void test_timer_slack_in_submitters(void **state)
{
	struct iom_cfg cfg = iomt_cfg(&slack_model, IOM_WL_NOP, 4, NULL);
	long mine = (long)prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);

	assert_int_equal(prctl(PR_SET_TIMERSLACK, 50000, 0, 0, 0), 0);
	atomic_store(&slack_seen_max, 0);
	atomic_store(&slack_seen_min, LONG_MAX);
	cfg.tasks = 40;
	iomt_run_ok(&cfg, &row, &hist);
	prctl(PR_SET_TIMERSLACK, mine > 0 ? mine : 0, 0, 0, 0);
	if (atomic_load(&slack_seen_max) != 1 || atomic_load(&slack_seen_min) != 1)
		fail_msg("submitters ran with %ld..%ld ns of timer slack, want 1",
			 atomic_load(&slack_seen_min), atomic_load(&slack_seen_max));
}

/* A real run records the slack it ran with: 1 ns, not the 50 us default it was started with. */
static void test_timer_slack_in_run_json(void **state)
{
	char out[PATH_MAX], path[PATH_MAX + 16];
	char *argv[] = { (char *)iomt_bin(), "run", "--model", "threads", "--workload", "nop",
			 "--tasks", "20", "--quiet", "--output", out, NULL };
	struct json_object *root, *meta, *slack;
	struct iomt_proc r = { 0 };

	snprintf(out, sizeof(out), "%s/slack", iomt_tmpdir);
	assert_int_equal(prctl(PR_SET_TIMERSLACK, 50000, 0, 0, 0), 0);
	iomt_run(&r, iomt_tmpdir, argv, 60000);
	if (r.status)
		fail_msg("exit %d: %s", r.status, r.err);
	iomt_proc_free(&r);
	snprintf(path, sizeof(path), "%s/run.json", out);
	root = json_object_from_file(path);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "meta", &meta));
	assert_true(json_object_object_get_ex(meta, "timer_slack_ns", &slack));
	assert_int_equal(json_object_get_int64(slack), 1);
	json_object_put(root);
}

/* A sync model that records the offset of every read it is given. */
#define MAX_OFFSETS 4096
static uint64_t offsets[MAX_OFFSETS];
static atomic_uint nr_offsets;

static int rec_submit(struct iom_ctx *ctx, struct iom_task *t)
{
	unsigned int i = atomic_fetch_add(&nr_offsets, 1);

	if (i < MAX_OFFSETS)
		offsets[i] = t->offset;
	ctx->now_ns = iom_now_ns();
	iom_task_finish(t, t->len, IOM_CAUSE_OP, ctx->now_ns);
	return IOM_Q_DONE;
}

static const struct iom_model rec_model = {
	.name = "offset-recorder", .probe = slack_probe, .setup = slack_setup,
	.submit = rec_submit, .teardown = slack_teardown,
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The sorted offsets read by n tasks at concurrency c (c submitter threads: a sync model). */
static void offsets_read(uint64_t seed, unsigned int c, unsigned int n, uint64_t *sorted)
{
	struct iom_cfg cfg = iomt_cfg(&rec_model, IOM_WL_FILE, c, iomt_tmpdir);

	cfg.wl.seed = seed;
	cfg.tasks = n;
	atomic_store(&nr_offsets, 0);
	iomt_run_ok(&cfg, &row, &hist);
	assert_int_equal(atomic_load(&nr_offsets), n);
	memcpy(sorted, offsets, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_u64);
}

/*
 * The blocks read are task k's for k = 0..n-1, whoever submits it: the same at C=1 and C=8,
 * the same as the workload computes alone from (seed, k), and another set under another seed.
 */
static void test_offsets_from_seed(void **state)
{
	enum { N = 400 };
	static uint64_t one[N], eight[N], alone[N], other[N];
	struct iom_wl_params p = iomt_cfg(&rec_model, IOM_WL_FILE, 1, iomt_tmpdir).wl;
	struct iom_workload wl;
	struct iom_err err = { "" };
	struct iom_task t = { 0 };
	unsigned int distinct = 1;

	offsets_read(9, 1, N, one);
	offsets_read(9, 8, N, eight);
	offsets_read(10, 8, N, other);
	p.seed = 9;
	if (iom_workload_open(&wl, &p, &err))
		fail_msg("workload: %s", err.msg);
	for (unsigned int k = 0; k < N; k++) {
		iom_workload_next(&wl, k, &t);
		alone[k] = t.offset;
	}
	iom_workload_close(&wl);
	qsort(alone, N, sizeof(alone[0]), cmp_u64);
	assert_memory_equal(one, alone, sizeof(one));
	assert_memory_equal(eight, alone, sizeof(eight));
	assert_memory_not_equal(other, alone, sizeof(other));
	/* Spread over the file (1024 blocks), not one block again and again. */
	for (unsigned int k = 1; k < N; k++)
		distinct += one[k] != one[k - 1];
	assert_true(distinct > N / 2);
}

/*
 * A block device is refused without --allow-device, and read with it. The device is a loop
 * device over a file of ours (losetup), so even a broken refusal touches no real disk.
 */
static void test_block_device_refused(void **state)
{
	char img[PATH_MAX], cmd[2 * PATH_MAX + 64], dev[64] = "", refused[256];
	struct iom_wl_params p = iomt_cfg(&rec_model, IOM_WL_FILE, 1, NULL).wl;
	struct iom_err err = { "" };
	struct iom_workload wl;
	FILE *f;
	int ret;

	snprintf(img, sizeof(img), "%s/device.img", iomt_tmpdir);
	snprintf(cmd, sizeof(cmd), "truncate -s 4M '%s' && losetup -f --show '%s' 2>/dev/null",
		 img, img);
	f = popen(cmd, "r");
	assert_non_null(f);
	if (!fgets(dev, sizeof(dev), f))
		dev[0] = '\0';
	pclose(f);
	dev[strcspn(dev, "\n")] = '\0';
	if (!dev[0])
		iom_skip("no loop device (losetup -f failed): not root, or no loop module");
	snprintf(p.path, sizeof(p.path), "%s", dev);
	ret = iom_workload_open(&wl, &p, &err);
	if (ret == 0)
		iom_workload_close(&wl);
	snprintf(refused, sizeof(refused), "%s", err.msg);
	p.allow_device = true;
	err.msg[0] = '\0';
	if (ret && iom_workload_open(&wl, &p, &err) == 0)
		iom_workload_close(&wl);
	else if (!err.msg[0])
		snprintf(err.msg, sizeof(err.msg), "not tried");
	snprintf(cmd, sizeof(cmd), "losetup -d '%s'", dev);
	assert_int_equal(system(cmd), 0);
	if (ret == 0 || !strstr(refused, "--allow-device"))
		fail_msg("%s without --allow-device: %s", dev, ret ? refused : "opened");
	if (err.msg[0])
		fail_msg("%s with --allow-device: %s", dev, err.msg);
}

/*
 * A sync model whose every attempt fails (-EIO), recording per task when each attempt started
 * and ended: the gap between an attempt's end and the next one's start is its backoff.
 */
#define BO_TASKS	20
#define BO_RETRIES	4
struct bo_task {
	uint64_t start[BO_RETRIES + 1], end[BO_RETRIES + 1];
	unsigned int attempts;
};
static struct bo_task bo[BO_TASKS];
static uint64_t bo_ids[BO_TASKS];
static unsigned int bo_nr;
static pthread_mutex_t bo_lock = PTHREAD_MUTEX_INITIALIZER;

static int bo_submit(struct iom_ctx *ctx, struct iom_task *t)
{
	uint64_t now = iom_now_ns();
	unsigned int i;

	pthread_mutex_lock(&bo_lock);
	for (i = 0; i < bo_nr && bo_ids[i] != t->id; i++)
		;
	if (i == bo_nr && bo_nr < BO_TASKS)
		bo_ids[bo_nr++] = t->id;
	if (i < BO_TASKS && bo[i].attempts <= BO_RETRIES) {
		bo[i].start[bo[i].attempts] = now;
		bo[i].end[bo[i].attempts++] = now;
	}
	pthread_mutex_unlock(&bo_lock);
	ctx->now_ns = now;
	iom_task_finish(t, -EIO, IOM_CAUSE_OP, now);
	return IOM_Q_DONE;
}

static const struct iom_model bo_model = {
	.name = "always-fails", .probe = slack_probe, .setup = slack_setup,
	.submit = bo_submit, .teardown = slack_teardown,
};

/* Run BO_TASKS tasks, each failing 1 + BO_RETRIES times; the backoffs in ns, [task][retry]. */
static void backoffs(enum iom_backoff how, double gap[BO_TASKS][BO_RETRIES])
{
	struct iom_cfg cfg = iomt_cfg(&bo_model, IOM_WL_NOP, 4, NULL);

	memset(bo, 0, sizeof(bo));
	bo_nr = 0;
	cfg.tasks = BO_TASKS;
	cfg.retry_failed = true;
	cfg.retry_max = BO_RETRIES;
	cfg.backoff = how;
	cfg.backoff_base_ns = 2000000;
	cfg.backoff_cap_ns = 8000000;
	iomt_run_ok(&cfg, &row, &hist);
	assert_true(row.num[IOM_COL_n_failed] == BO_TASKS);
	assert_true(row.num[IOM_COL_retries] == BO_TASKS * BO_RETRIES);
	assert_int_equal(bo_nr, BO_TASKS);
	for (int i = 0; i < BO_TASKS; i++) {
		assert_int_equal(bo[i].attempts, BO_RETRIES + 1);
		for (int k = 0; k < BO_RETRIES; k++)
			gap[i][k] = (double)(bo[i].start[k + 1] - bo[i].end[k]);
	}
}

/*
 * Backoff shapes, base 2 ms, cap 8 ms: exp waits at least 2, 4, 8, 8 ms before retries 1..4
 * (a lower bound: a loaded machine only adds); exp-jitter draws each wait uniformly below
 * that, so its shortest wait before the fourth retry (20 draws below 8 ms, fixed by the seed)
 * falls well under 8 ms, where exp's never does.
 */
static void test_backoff_shapes(void **state)
{
	static double gap[BO_TASKS][BO_RETRIES];
	const double want[BO_RETRIES] = { 2e6, 4e6, 8e6, 8e6 };
	double shortest = 1e18;

	backoffs(IOM_BACKOFF_EXP, gap);
	for (int i = 0; i < BO_TASKS; i++)
		for (int k = 0; k < BO_RETRIES; k++)
			if (gap[i][k] < want[k])
				fail_msg("exp: task %d waited %.2f ms before retry %d, want >= %.0f",
					 i, gap[i][k] / 1e6, k + 1, want[k] / 1e6);
	backoffs(IOM_BACKOFF_EXP_JITTER, gap);
	for (int i = 0; i < BO_TASKS; i++)
		if (gap[i][BO_RETRIES - 1] < shortest)
			shortest = gap[i][BO_RETRIES - 1];
	print_message("exp-jitter: shortest wait before retry %d: %.2f ms (cap 8 ms)\n",
		      BO_RETRIES, shortest / 1e6);
	if (!(shortest < 6e6))
		fail_msg("exp-jitter: every wait before retry %d >= %.2f ms: no jitter", BO_RETRIES,
			 shortest / 1e6);
	backoffs(IOM_BACKOFF_NONE, gap);
}

/*
 * An async model that ends task k (its sequence number) by k mod 5: COMPLETED, FAILED,
 * PARTIAL_SUCCESS, EXPIRED, ABORTED, so every terminal state has the same known count.
 */
struct by_seq {
	unsigned int nr;
	struct iom_task *pending[];
};

static int by_seq_setup(struct iom_ctx *ctx)
{
	ctx->priv = calloc(1, sizeof(struct by_seq) + ctx->depth * sizeof(struct iom_task *));
	return ctx->priv ? 0 : -ENOMEM;
}

static void by_seq_teardown(struct iom_ctx *ctx)
{
	free(ctx->priv);
}

static int by_seq_submit(struct iom_ctx *ctx, struct iom_task *t)
{
	struct by_seq *b = ctx->priv;

	b->pending[b->nr++] = t;
	return IOM_Q_QUEUED;
}

static int by_seq_reap(struct iom_ctx *ctx, unsigned int min, unsigned int max, uint64_t timeout)
{
	static const struct { int64_t res; enum iom_cause cause; } end[5] = {
		{ 4096, IOM_CAUSE_OP }, { -EIO, IOM_CAUSE_OP }, { 100, IOM_CAUSE_OP },
		{ -ETIME, IOM_CAUSE_DEADLINE }, { -ECANCELED, IOM_CAUSE_CANCEL },
	};
	struct by_seq *b = ctx->priv;
	unsigned int n = b->nr;

	ctx->now_ns = iom_now_ns();
	for (unsigned int i = 0; i < n; i++) {
		struct iom_task *t = b->pending[i];
		unsigned int k = (unsigned int)(iom_id_seq(t->id) % 5);

		iom_task_finish(t, end[k].res, end[k].cause, ctx->now_ns);
		iom_complete(ctx, t);
	}
	b->nr = 0;
	return (int)n;
}

static const struct iom_model by_seq_model = {
	.name = "by-seq", .caps = IOM_CAP_ASYNC, .probe = slack_probe, .setup = by_seq_setup,
	.submit = by_seq_submit, .reap = by_seq_reap, .teardown = by_seq_teardown,
};

/* 500 tasks (iomt_cfg) of the by-seq model: 100 in each terminal state, none lost. */
static void by_seq_counts(const struct iom_cfg *cfg)
{
	iomt_run_ok(cfg, &row, &hist);
	assert_true(row.num[IOM_COL_n_completed] == 100);
	assert_true(row.num[IOM_COL_n_failed] == 100);
	assert_true(row.num[IOM_COL_n_partial] == 100);
	assert_true(row.num[IOM_COL_n_expired] == 100);
	assert_true(row.num[IOM_COL_n_aborted] == 100);
	/* The window's COMPLETED tasks (the rate's numerator; lean: counted once a run of stamps). */
	assert_true(fabs(row.num[IOM_COL_ops_per_s] * row.num[IOM_COL_runtime_ns] / 1e9 - 100) <
		    1e-6);
}

/*
 * A plain cell takes the lean submit and completion paths; --cpu-work-us (or any fault, retry,
 * live view, timeline) the full ones. Both must count each terminal state exactly, and measure
 * the same tasks.
 */
static void test_lean_paths_count_every_state(void **state)
{
	/* Depth 128 > the 100 tasks of a state: a path that leaks their slots ends, and says so. */
	struct iom_cfg cfg = iomt_cfg(&by_seq_model, IOM_WL_FILE, 128, iomt_tmpdir);
	double lean_tasks;

	by_seq_counts(&cfg);
	lean_tasks = row.num[IOM_COL_tasks];
	assert_true(lean_tasks == 500);
	cfg.cpu_work_ns = 1;
	by_seq_counts(&cfg);
	assert_true(row.num[IOM_COL_tasks] == lean_tasks);
}

/*
 * An async model that ends the oldest 1, 2 or 3 tasks in flight a reap (in turn) at one clock
 * reading, COMPLETED with res 0, and records each one's latency (end stamp - start stamp) in a
 * histogram of its own: the runs of equal stamps the lean path accounts by come in every size,
 * and a task's start stamp may differ from the one before it.
 */
static struct iom_hist fifo_lat;
static unsigned int fifo_reaps;

static int fifo_reap(struct iom_ctx *ctx, unsigned int min, unsigned int max, uint64_t timeout)
{
	struct by_seq *b = ctx->priv;
	unsigned int n = 1 + fifo_reaps++ % 3;

	n = n < b->nr ? n : b->nr;
	ctx->now_ns = iom_now_ns();
	for (unsigned int i = 0; i < n; i++) {
		struct iom_task *t = b->pending[i];

		iom_task_finish(t, 0, IOM_CAUSE_OP, ctx->now_ns);
		if (atomic_load(&t->state) == IOM_COMPLETED)
			iom_hist_record(&fifo_lat, t->t_end_ns - t->t_start_ns);
		iom_complete(ctx, t);
	}
	b->nr -= n;
	memmove(b->pending, b->pending + n, b->nr * sizeof(b->pending[0]));
	return (int)n;
}

static const struct iom_model fifo_model = {
	.name = "fifo", .caps = IOM_CAP_ASYNC, .probe = slack_probe, .setup = by_seq_setup,
	.submit = by_seq_submit, .reap = fifo_reap, .teardown = by_seq_teardown,
};

static void fifo_hist_same(struct iom_cfg *cfg)
{
	iom_hist_init(&fifo_lat);
	fifo_reaps = 0;
	iomt_run_ok(cfg, &row, &hist);
	assert_true(fifo_lat.count == 500);
	/* Every task COMPLETED in the window: the rate's numerator counts them all. */
	assert_true(fabs(row.num[IOM_COL_ops_per_s] * row.num[IOM_COL_runtime_ns] / 1e9 - 500) <
		    1e-6);
	assert_true(hist.count == fifo_lat.count);
	assert_true(hist.sum == fifo_lat.sum);
	assert_true(hist.min == fifo_lat.min);
	assert_true(hist.max == fifo_lat.max);
	assert_memory_equal(hist.buckets, fifo_lat.buckets, sizeof(hist.buckets));
}

/*
 * The run's histogram is the tasks' latencies, one record each, whatever path accounted them:
 * lean (by runs of equal stamps, at depth 1 and 8) and full (--cpu-work-us).
 */
static void test_hist_is_every_latency(void **state)
{
	struct iom_cfg cfg = iomt_cfg(&fifo_model, IOM_WL_NOP, 1, NULL);

	fifo_hist_same(&cfg);
	cfg.concurrency = 8;
	fifo_hist_same(&cfg);
	cfg.cpu_work_ns = 1;
	fifo_hist_same(&cfg);
}

/*
 * An async model that takes batches (submit_n) of at most 3 tasks, IOM_Q_BUSY for the rest, and
 * fails the task of seq taker_fail_seq with -EIO; each reap ends every task in flight,
 * COMPLETED. It checks that the tasks it takes come in seq order, none twice and none skipped:
 * a refused task comes again with its seq.
 */
static uint64_t taker_fail_seq, taker_next_seq;
static bool taker_out_of_order;

static int taker_take(struct by_seq *b, struct iom_task *t)
{
	uint64_t seq = iom_id_seq(t->id);

	if (seq == taker_fail_seq)
		return -EIO;
	if (seq != taker_next_seq++)
		taker_out_of_order = true;
	b->pending[b->nr++] = t;
	return IOM_Q_QUEUED;
}

static int taker_submit(struct iom_ctx *ctx, struct iom_task *t)
{
	return taker_take(ctx->priv, t);
}

static int taker_submit_n(struct iom_ctx *ctx, struct iom_task *const *tasks, unsigned int n,
			  int *why)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		int ret = i < 3 ? taker_take(ctx->priv, tasks[i]) : IOM_Q_BUSY;

		if (ret != IOM_Q_QUEUED) {
			*why = ret;
			break;
		}
	}
	return (int)i;
}

static int taker_reap(struct iom_ctx *ctx, unsigned int min, unsigned int max, uint64_t timeout)
{
	struct by_seq *b = ctx->priv;
	unsigned int n = b->nr;

	ctx->now_ns = iom_now_ns();
	for (unsigned int i = 0; i < n; i++) {
		iom_task_finish(b->pending[i], 0, IOM_CAUSE_OP, ctx->now_ns);
		iom_complete(ctx, b->pending[i]);
	}
	b->nr = 0;
	return (int)n;
}

static const struct iom_model taker_model = {
	.name = "taker", .caps = IOM_CAP_ASYNC, .probe = slack_probe, .setup = by_seq_setup,
	.submit = taker_submit, .submit_n = taker_submit_n, .reap = taker_reap,
	.teardown = by_seq_teardown,
};

/*
 * A plain cell's batches (submit_n) that the model takes in part: what it refused goes again,
 * every task once, in order, none lost; the busy answers are counted.
 */
static void test_batch_taken_in_part(void **state)
{
	struct iom_cfg cfg = iomt_cfg(&taker_model, IOM_WL_NOP, 16, NULL);

	taker_fail_seq = UINT64_MAX;
	taker_next_seq = 0;
	taker_out_of_order = false;
	iomt_run_ok(&cfg, &row, &hist);
	assert_false(taker_out_of_order);
	assert_true(row.num[IOM_COL_submitted] == 500);
	assert_true(row.num[IOM_COL_n_completed] == 500);
	assert_true(hist.count == 500);
}

/*
 * A task the model fails inside a batch ends FAILED, counted as submitted, and the cell stops;
 * the batch's tasks after it were never the model's: not submitted, not counted.
 */
static void test_batch_task_failed(void **state)
{
	struct iom_cfg cfg = iomt_cfg(&taker_model, IOM_WL_NOP, 16, NULL);
	int ret;

	taker_fail_seq = 100;
	taker_next_seq = 0;
	taker_out_of_order = false;
	ret = iom_run_cell(&cfg, &row, &hist);
	/* The cell's row says the model's error; the call itself succeeds (the row is written). */
	assert_int_equal(ret, 0);
	assert_string_equal(row.str[IOM_COL_status], "error");
	assert_false(taker_out_of_order);
	assert_true(row.num[IOM_COL_submitted] == 101);
	assert_true(row.num[IOM_COL_n_completed] == 100);
	assert_true(row.num[IOM_COL_n_failed] == 1);
	assert_true(row.num[IOM_COL_submitted] == iomt_terminal(&row));
}

/*
 * --fault errno at a rate: each attempt draws afresh, so about that share fails. A slot whose
 * earlier task drew the fault must not pass it on (a task's fault fields are reset when the
 * cell can arm one): at 25% of 500 tasks on 4 slots, far fewer than 300 fail.
 */
static void test_fault_not_inherited_by_slot(void **state)
{
	struct iom_cfg cfg = iomt_cfg(&fifo_model, IOM_WL_NOP, 4, NULL);

	cfg.fault_ppm = 250000;
	cfg.fault_errno = EIO;
	iom_hist_init(&fifo_lat);
	iomt_run_ok(&cfg, &row, &hist);
	assert_true(iomt_terminal(&row) == 500);
	assert_true(row.num[IOM_COL_n_failed] > 50);
	assert_true(row.num[IOM_COL_n_failed] < 300);
}

/*
 * A model with a completion queue that records what the driver's waits asked: the largest
 * minimum, and the first wait's timeout. Each reap ends every task in flight.
 */
static unsigned int cq_min_max;
static uint64_t cq_first_timeout;
static bool cq_waited;

static int cq_reap(struct iom_ctx *ctx, unsigned int min, unsigned int max, uint64_t timeout)
{
	struct by_seq *b = ctx->priv;
	unsigned int n = b->nr;

	if (!cq_waited)
		cq_first_timeout = timeout;
	cq_waited = true;
	if (min > cq_min_max)
		cq_min_max = min;
	ctx->now_ns = iom_now_ns();
	for (unsigned int i = 0; i < n; i++) {
		iom_task_finish(b->pending[i], 4096, IOM_CAUSE_OP, ctx->now_ns);
		iom_complete(ctx, b->pending[i]);
	}
	b->nr = 0;
	return (int)n;
}

static const struct iom_model cq_model = {
	.name = "cq-recorder", .caps = IOM_CAP_ASYNC | IOM_CAP_CQ, .probe = slack_probe,
	.setup = by_seq_setup, .submit = by_seq_submit, .reap = cq_reap,
	.teardown = by_seq_teardown,
};

static void cq_run(const struct iom_cfg *cfg)
{
	cq_min_max = 0;
	cq_waited = false;
	iomt_run_ok(cfg, &row, &hist);
	assert_true(row.num[IOM_COL_n_completed] == 500);
}

/*
 * A plain file cell's waits pass no timeout (UINT64_MAX): its tasks end by themselves. A cell
 * that is not plain (--cpu-work-us) keeps the 200 ms step, so Ctrl-C is seen there.
 */
static void test_plain_file_wait_untimed(void **state)
{
	struct iom_cfg cfg = iomt_cfg(&cq_model, IOM_WL_FILE, 32, iomt_tmpdir);

	cq_run(&cfg);
	assert_true(cq_first_timeout == UINT64_MAX);
	cfg.cpu_work_ns = 1;
	cq_run(&cfg);
	assert_true(cq_first_timeout <= 200000000ull);
}

/*
 * --batch-complete auto (0, the CLI's default): O_DIRECT file tasks of a CQ model, closed
 * loop, no deadline, wait for half of what is in flight (32 -> 16), and the row says so: variant
 * +bc=auto, batch_complete 0. --batch-complete N forces N (not recorded as auto); a deadline,
 * or cached I/O, keeps 1.
 */
static void test_batch_complete_auto_and_forced(void **state)
{
	struct iom_cfg cfg = iomt_cfg(&cq_model, IOM_WL_FILE, 32, iomt_tmpdir);
	struct iom_workload wl;
	struct iom_err err = { "" };

	cfg.wl.direct = true;
	if (iom_workload_open(&wl, &cfg.wl, &err)) {
		iom_skip("O_DIRECT in %s: %s", iomt_tmpdir, err.msg);
		return;
	}
	iom_workload_close(&wl);
	cfg.batch_complete = 0;
	cq_run(&cfg);
	assert_int_equal(cq_min_max, 16);
	assert_non_null(strstr(row.str[IOM_COL_variant], "bc=auto"));
	assert_true(row.num[IOM_COL_batch_complete] == 0);

	cfg.batch_complete = 4;
	cq_run(&cfg);
	assert_int_equal(cq_min_max, 4);
	assert_null(strstr(row.str[IOM_COL_variant], "bc=auto"));
	assert_true(row.num[IOM_COL_batch_complete] == 4);

	cfg.batch_complete = 0;
	cfg.deadline_ns = 1000000000ull;
	cq_run(&cfg);
	assert_int_equal(cq_min_max, 1);
	assert_null(strstr(row.str[IOM_COL_variant], "bc=auto"));
	assert_true(row.num[IOM_COL_batch_complete] == 1);

	cfg.deadline_ns = 0;
	cfg.wl.direct = false;
	cq_run(&cfg);
	assert_int_equal(cq_min_max, 1);
	assert_true(row.num[IOM_COL_batch_complete] == 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_loop_overload),
		cmocka_unit_test(test_timer_slack_in_submitters),
		cmocka_unit_test(test_timer_slack_in_run_json),
		cmocka_unit_test(test_offsets_from_seed),
		cmocka_unit_test(test_block_device_refused),
		cmocka_unit_test(test_backoff_shapes),
		cmocka_unit_test(test_lean_paths_count_every_state),
		cmocka_unit_test(test_hist_is_every_latency),
		cmocka_unit_test(test_fault_not_inherited_by_slot),
		cmocka_unit_test(test_batch_taken_in_part),
		cmocka_unit_test(test_batch_task_failed),
		cmocka_unit_test(test_plain_file_wait_untimed),
		cmocka_unit_test(test_batch_complete_auto_and_forced),
	};

	return cmocka_run_group_tests(tests, iomt_tmpdir_setup, iomt_tmpdir_teardown);
}
