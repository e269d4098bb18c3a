// SPDX-License-Identifier: MIT
/*
 * The client side of the async API (`run --workload rpc --api async`, docs/async-api.md): each
 * client model against the cell's own server, polling STATUS or with one WAIT, every task
 * learned; what a reply makes of a task (iom_workload_async_next); and the CLI's bad input.
 */
#include <errno.h>
#include <math.h>
#include <sys/stat.h>

#include "core/rpc.h"
#include "server/server.h"
#include "testutil.h"

static struct iom_row row;
static struct iom_hist hist;

/* An async cell: 100 tasks of 2 ms service on C = 4 connections. */
static struct iom_cfg async_cfg(const struct iom_model *m, bool wait)
{
	struct iom_cfg cfg = iomt_cfg(m, IOM_WL_RPC, 4, NULL);

	cfg.wl.api = IOM_API_ASYNC;
	cfg.wl.payload = sizeof(struct iom_rpc_async);
	cfg.wl.async_wait = wait;
	cfg.wl.async_poll_ns = wait ? 0 : 200000;
	cfg.wl.latency_ns = 2000000;
	cfg.tasks = 100;
	return cfg;
}

/*
 * A closed loop's slot runs one task after another, so the latencies of its tasks add up to
 * at most the window: C x runtime bounds their sum. A task stamped with a stale start (the
 * clock of before the previous task's last frame) breaks it whatever the machine's speed.
 */
static void assert_starts_fresh(const struct iom_cfg *cfg)
{
	double sum = row.num[IOM_COL_lat_mean_ns] * row.num[IOM_COL_tasks];
	double bound = cfg->concurrency * row.num[IOM_COL_runtime_ns];

	if (!(sum <= 1.05 * bound))
		fail_msg("%s: latencies add up to %.0f ns, over C x runtime %.0f ns", cfg->model->name,
			 sum, bound);
}

/* Every model: SUBMIT, then STATUS until COMPLETED; every task learned, in one state. */
static void test_poll_every_model(void **state)
{
	(void)state;
	FOR_EACH_MODEL(m) {
		struct iom_cfg cfg = async_cfg(m, false);

		if (!iomt_model_available(m, IOM_WL_RPC))
			continue;
		iomt_run_ok(&cfg, &row, &hist);
		assert_string_equal(row.str[IOM_COL_api], "async-poll");
		if (row.num[IOM_COL_n_completed] != 100)
			fail_msg("%s: %g of 100 tasks learned (failed %g, aborted %g)", m->name,
				 row.num[IOM_COL_n_completed], row.num[IOM_COL_n_failed],
				 row.num[IOM_COL_n_aborted]);
		/* SUBMIT and at least one STATUS, whatever the poll interval. */
		assert_true(row.num[IOM_COL_requests_per_task] >= 2);
		assert_true(row.num[IOM_COL_done_to_learned_ns] >= 0);
		assert_starts_fresh(&cfg);
	}
}

/* --wait: SUBMIT and one WAIT per task, answered when the service is done. */
static void test_wait_every_model(void **state)
{
	(void)state;
	FOR_EACH_MODEL(m) {
		struct iom_cfg cfg = async_cfg(m, true);

		if (!iomt_model_available(m, IOM_WL_RPC))
			continue;
		iomt_run_ok(&cfg, &row, &hist);
		assert_string_equal(row.str[IOM_COL_api], "async-wait");
		assert_true(row.num[IOM_COL_n_completed] == 100);
		if (row.num[IOM_COL_requests_per_task] != 2)
			fail_msg("%s: %g requests a task, not SUBMIT + WAIT", m->name,
				 row.num[IOM_COL_requests_per_task]);
		assert_starts_fresh(&cfg);
	}
}

/*
 * A --runtime window ends while most tasks wait out a poll interval (2 ms of service, polls
 * every 200 us): their polls go on past the window, as a sync drain reaps its replies, so
 * every task ends COMPLETED and none ABORTED for having ended between two polls.
 */
static void test_window_end_polls_on(void **state)
{
	(void)state;
	FOR_EACH_MODEL(m) {
		struct iom_cfg cfg = async_cfg(m, false);

		if (!iomt_model_available(m, IOM_WL_RPC))
			continue;
		cfg.tasks = 0;
		cfg.runtime_ns = 300000000ull;
		cfg.concurrency = 8;
		iomt_run_ok(&cfg, &row, &hist);
		if (row.num[IOM_COL_n_aborted] != 0 ||
		    row.num[IOM_COL_n_completed] != row.num[IOM_COL_submitted])
			fail_msg("%s: %g submitted, %g learned, %g aborted at the window's end",
				 m->name, row.num[IOM_COL_submitted], row.num[IOM_COL_n_completed],
				 row.num[IOM_COL_n_aborted]);
	}
}

/* The sync API's cells say so and have no async columns. */
static void test_sync_row(void **state)
{
	struct iom_cfg cfg = iomt_cfg(&*iom_models[1], IOM_WL_RPC, 2, NULL);

	(void)state;
	cfg.tasks = 50;
	iomt_run_ok(&cfg, &row, &hist);
	assert_string_equal(row.str[IOM_COL_api], "sync");
	assert_true(isnan(row.num[IOM_COL_requests_per_task]));
	assert_true(isnan(row.num[IOM_COL_done_to_learned_ns]));
	/* No task pending ever: nothing to divide, and 0 would say a task costs nothing. */
	assert_true(isnan(row.num[IOM_COL_srv_bytes_per_pending]));
	assert_true(isnan(row.num[IOM_COL_srv_rss_per_pending]));
}

/*
 * Server memory per pending task, on each server model the cell starts: C = 32 tasks of
 * 200 ms held pending (one WAIT each) through a 500 ms window, so about 3 tasks a slot are
 * submitted for each one pending at the peak. The store's exact bytes per pending task lie
 * between a record's least (the 24-byte header and five 8-byte fields: 64) and two records
 * with their indexes (a pending task and at most one unread result: 256); divided by the
 * tasks submitted they fall under 64, by the store's whole size (8192 slots) far over 256.
 * The RSS growth holds each task's connection too (threads: its thread's stack; 9-37 KiB
 * here): > 0 and under 64 KiB a task. C is small so that a server's whole RSS (3.5-4 MiB at
 * start), counted without the baseline, is over that cap. The cap holds in the plain build
 * only: the sanitizers' shadow memory and quarantine grow RSS for their own reasons (ASan:
 * 148 KiB a task on threads' stacks).
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RSS_CAP_PER_TASK	INFINITY
#else
#define RSS_CAP_PER_TASK	65536.0
#endif

static void test_server_memory_per_pending(void **state)
{
	(void)state;
	for (size_t i = 0; iom_server_models[i]; i++) {
		struct iom_cfg cfg = async_cfg(iom_model_find("epoll"), true);
		double exact, rss;

		snprintf(cfg.wl.server_model, sizeof(cfg.wl.server_model), "%s",
			 iom_server_models[i]->name);
		cfg.concurrency = 32;
		cfg.tasks = 0;
		cfg.runtime_ns = 500000000ull;
		cfg.wl.latency_ns = 200000000ull;
		iomt_run_ok(&cfg, &row, &hist);
		exact = row.num[IOM_COL_srv_bytes_per_pending];
		rss = row.num[IOM_COL_srv_rss_per_pending];
		if (!(row.num[IOM_COL_submitted] >= 2 * cfg.concurrency))
			fail_msg("server %s: %g tasks submitted, want 2 x C at least",
				 cfg.wl.server_model, row.num[IOM_COL_submitted]);
		if (!(exact >= 64 && exact <= 256) || !(rss > 0 && rss < RSS_CAP_PER_TASK))
			fail_msg("server %s: %g store bytes, %g RSS bytes per pending task",
				 cfg.wl.server_model, exact, rss);
	}
}

/* A reply in t's buffer: header (id, type, state) and body. */
static void reply(struct iom_task *t, uint64_t id, unsigned int type, unsigned int st,
		  uint64_t task, uint64_t aux)
{
	struct iom_rpc_async body = { .task = task, .aux = aux };

	t->len = (uint32_t)iom_rpc_fill(t->buf, id, 0, sizeof(body),
					(uint16_t)(type << IOM_RPC_TYPE_SHIFT |
						   st << IOM_RPC_STATE_SHIFT));
	memcpy((char *)t->buf + sizeof(struct iom_rpc_hdr), &body, sizeof(body));
}

static unsigned int frame_type(const struct iom_task *t, uint64_t *task)
{
	struct iom_rpc_hdr h;
	struct iom_rpc_async body;

	memcpy(&h, t->buf, sizeof(h));
	memcpy(&body, (const char *)t->buf + sizeof(h), sizeof(body));
	*task = body.task;
	assert_int_equal(h.id, t->id);
	return iom_rpc_type(h.flags);
}

/* What each reply makes of the task: the next frame and when, learned, or failed. */
static void test_async_next(void **state)
{
	struct iom_wl_params p = { .api = IOM_API_ASYNC, .async_poll_ns = 777 };
	unsigned char buf[64];
	struct iom_task t = { .id = 42, .buf = buf };
	uint64_t delay = 1, learned = 0, task = 0;

	(void)state;
	reply(&t, 42, IOM_RPC_SUBMIT, IOM_RPC_ST_SCHEDULED, 9, 0);
	assert_int_equal(iom_workload_async_next(&p, &t, &delay, &learned), 0);
	assert_int_equal(frame_type(&t, &task), IOM_RPC_STATUS);
	assert_int_equal(task, 9);
	assert_int_equal(delay, 777);
	reply(&t, 42, IOM_RPC_STATUS, IOM_RPC_ST_RUNNING, 9, 0);
	assert_int_equal(iom_workload_async_next(&p, &t, &delay, &learned), 0);
	assert_int_equal(frame_type(&t, &task), IOM_RPC_STATUS);
	reply(&t, 42, IOM_RPC_STATUS, IOM_RPC_ST_COMPLETED, 9, 123);
	assert_int_equal(iom_workload_async_next(&p, &t, &delay, &learned), 1);
	assert_int_equal(learned, 123);
	/* --wait: WAIT at once, and again at once when it says "not yet". */
	p.async_wait = true;
	reply(&t, 42, IOM_RPC_SUBMIT, IOM_RPC_ST_SCHEDULED, 9, 0);
	assert_int_equal(iom_workload_async_next(&p, &t, &delay, &learned), 0);
	assert_int_equal(frame_type(&t, &task), IOM_RPC_WAIT);
	assert_int_equal(delay, 0);
	reply(&t, 42, IOM_RPC_WAIT, IOM_RPC_ST_RUNNING, 9, 0);
	assert_int_equal(iom_workload_async_next(&p, &t, &delay, &learned), 0);
	assert_int_equal(frame_type(&t, &task), IOM_RPC_WAIT);
	/* The server forgot the task; a reply to another request; a SUBMIT without an id. */
	reply(&t, 42, IOM_RPC_STATUS, IOM_RPC_ST_UNKNOWN, 9, 0);
	assert_int_equal(iom_workload_async_next(&p, &t, &delay, &learned), -ENOENT);
	reply(&t, 41, IOM_RPC_STATUS, IOM_RPC_ST_COMPLETED, 9, 0);
	assert_int_equal(iom_workload_async_next(&p, &t, &delay, &learned), -EBADMSG);
	reply(&t, 42, IOM_RPC_ECHO, 0, 9, 0);
	assert_int_equal(iom_workload_async_next(&p, &t, &delay, &learned), -EBADMSG);
	reply(&t, 42, IOM_RPC_SUBMIT, IOM_RPC_ST_SCHEDULED, 0, 0);
	assert_int_equal(iom_workload_async_next(&p, &t, &delay, &learned), -EBADMSG);
}

/* Bad input: one line on stderr, exit 2, nothing written. */
static void test_bad_input(void **state)
{
	static const char *const cases[][6] = {
		{ "--api", "foo", NULL },
		{ "--poll-interval-us", "100", NULL },
		{ "--wait", NULL },
		{ "--api", "async", "--wait", "--poll-interval-us", "100", NULL },
		{ "--api", "async", "--verify", NULL },
	};
	char out[128];
	struct iomt_proc r = { 0 };
	struct stat st;

	(void)state;
	snprintf(out, sizeof(out), "%s/out", iomt_tmpdir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[16] = { (char *)iomt_bin(), "run", "--model", "epoll", "--workload",
				   "rpc", "--tasks", "10", "--output", out };
		int n = 10;

		for (size_t k = 0; cases[i][k]; k++)
			argv[n++] = (char *)cases[i][k];
		iomt_run(&r, NULL, argv, 30000);
		if (r.status != 2 || iomt_count_lines(r.err, "") != 1)
			fail_msg("case %zu: exit %d, stderr '%s'", i, r.status, r.err);
		assert_int_not_equal(stat(out, &st), 0);
	}
	{
		char *argv[] = { (char *)iomt_bin(), "run", "--model", "epoll", "--workload",
				 "timer", "--api", "async", "--tasks", "10", "--output", out,
				 NULL };

		iomt_run(&r, NULL, argv, 30000);
		if (r.status != 2 || iomt_count_lines(r.err, "") != 1 ||
		    !strstr(r.err, "--workload rpc"))
			fail_msg("async timer: exit %d, stderr '%s'", r.status, r.err);
		assert_int_not_equal(stat(out, &st), 0);
	}
	iomt_proc_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_async_next),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_sync_row),
		cmocka_unit_test(test_poll_every_model),
		cmocka_unit_test(test_wait_every_model),
		cmocka_unit_test(test_window_end_polls_on),
		cmocka_unit_test(test_server_memory_per_pending),
	};

	return cmocka_run_group_tests(tests, iomt_tmpdir_setup, iomt_tmpdir_teardown);
}
