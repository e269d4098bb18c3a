// SPDX-License-Identifier: MIT
/*
 * Tests for the failure-mode scenarios (the files in scenario/), run as a user
 * would: "$IOM_BIN" scenario NAME ... with small, bounded configurations, checking the CSV each
 * writes. Only outcomes the kernel's rules guarantee are asserted:
 *
 * - thundering-herd: the scenario waits until every waiter is asleep before each connection, so
 *   a connection meets N sleepers: the listener's wait queue wakes every naive epoll (N), an
 *   EPOLLEXCLUSIVE epoll or a blocking accept wakes one. Without that gate the counts drift
 *   (measured here, 4 waiters x 30: naive 2.7-4.0, accept 0.5-1.0, because a winner still awake
 *   takes the next connection without sleeping), so the gate is what makes 4 vs 1 exact.
 * - durability: a buffered pwrite returns with its page dirty (the flusher waits 30 s by
 *   default: dirty_expire_centisecs); after fdatasync or a linked FSYNC(DATASYNC) CQE the page is
 *   clean. No timing is asserted.
 * - stale-status: with replicas lagging by less than L, N reads in a row at least P apart
 *   cannot all be stale once (N - 1) x P >= L: zero wrong EXPIRED is a consequence, not a
 *   measurement.
 */
#include "scenario/scenario.h"
#include "tests/helpers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ARGS	16
#define RUN_TIMEOUT_MS	30000	/* far above a healthy run (< 2 s), even under TSan */
#define BAD_TIMEOUT_MS	5000
#define OUT		"@/out"	/* <tmpdir>/out (iomt_run_cli) */
#define TMPDIR		"@"	/* <tmpdir> */

struct ctx {
	char tmp[64];
	struct iomt_proc r;
	char *csv;		/* the CSV's text, for messages and searches */
	struct iomt_csv tab;	/* the same, by row and column */
};

static int setup(void **state)
{
	struct ctx *x = calloc(1, sizeof(*x));

	/* /tmp is a disk filesystem on our machines; the durability test writes its file here. */
	if (!x || iomt_mkdtemp(x->tmp, sizeof(x->tmp), "scenarios")) {
		free(x);
		return -1;
	}
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *x = *state;

	iomt_rm_tree(x->tmp);
	iomt_proc_free(&x->r);
	iomt_csv_free(&x->tab);
	free(x->csv);
	free(x);
	return 0;
}

/* Run "$IOM_BIN" args... (OUT and TMPDIR substituted) in the temporary directory, bounded. */
static void run_bin(struct ctx *x, const char *const *args, int timeout_ms)
{
	iomt_run_cli(&x->r, x->tmp, x->tmp, args, timeout_ms);
	if (x->r.timed_out)
		fail_msg("%s %s timed out after %d ms; stdout:\n%s", iomt_bin(), args[1],
			 timeout_ms, x->r.out);
}

static void load_csv(struct ctx *x, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/out/%s", x->tmp, name);
	free(x->csv);
	x->csv = iomt_slurp_or_null(path);
	if (!x->csv)
		fail_msg("%s not written; stdout:\n%s", path, x->r.out);
	iomt_csv_free(&x->tab);
	if (!iomt_csv_parse(&x->tab, x->csv))
		fail_msg("%s: malformed CSV:\n%s", path, x->csv);
}

/* The row whose first field is key. */
static int row_of(struct ctx *x, const char *key)
{
	for (int r = 1; r < x->tab.nr; r++)
		if (!strcmp(x->tab.f[r][0], key))
			return r;
	fail_msg("no row %s in:\n%s", key, x->csv);
	return -1;
}

static const char *row_str(struct ctx *x, const char *key, const char *name)
{
	return iomt_csv_str(&x->tab, row_of(x, key), name);
}

static double row_num(struct ctx *x, const char *key, const char *name)
{
	double v = iomt_csv_num(&x->tab, row_of(x, key), name);

	if (isnan(v))
		fail_msg("%s.%s is empty:\n%s", key, name, x->csv);
	return v;
}

static void test_list(void **state)
{
	struct ctx *x = *state;
	const char *args[] = { "scenario", "list", NULL };

	run_bin(x, args, BAD_TIMEOUT_MS);
	assert_int_equal(x->r.status, 0);
	assert_non_null(strstr(x->r.out, "thundering-herd "));
	assert_non_null(strstr(x->r.out, "durability "));
	assert_non_null(strstr(x->r.out, "stale-status "));
}

/* Each bad option: exit 2, one line on stderr, nothing on stdout, no output directory. */
static void test_bad_options(void **state)
{
	static const char *const cases[][8] = {
		{ "thundering-herd", "--waiters", "0", "--output", OUT },
		{ "thundering-herd", "--waiters", "abc", "--output", OUT },
		{ "thundering-herd", "--waiters", "4x", "--output", OUT },
		{ "thundering-herd", "--waiters", "-1", "--output", OUT },
		{ "thundering-herd", "--waiters", "257", "--output", OUT },
		{ "thundering-herd", "--output", OUT, "--waiters" },
		{ "thundering-herd", "--connections", "0", "--output", OUT },
		{ "thundering-herd", "--connections", "", "--output", OUT },
		{ "thundering-herd", "--frobnicate", "--output", OUT },
		{ "thundering-herd", "--output" },
		{ "durability", "--tasks", "0", "--output", OUT },
		{ "durability", "--tasks", "1.5", "--output", OUT },
		{ "durability", "--bs", "1000", "--output", OUT },
		{ "durability", "--bs", "6K", "--output", OUT },
		{ "durability", "--bs", "2M", "--output", OUT },
		{ "durability", "--size", "4K", "--bs", "8K", "--output", OUT },
		{ "durability", "--size", "1X", "--output", OUT },
		{ "durability", "--directory", "/nonexistent/iom", "--output", OUT },
		{ "durability", "--output", OUT, "--directory" },
		{ "durability", "--frobnicate", "--output", OUT },
		{ "stale-status", "--part", "c", "--output", OUT },
		{ "stale-status", "--confirm", "1", "--output", OUT },
		{ "stale-status", "--confirm", "2,3,4,5,6", "--output", OUT },
		{ "stale-status", "--confirm", "3,", "--output", OUT },
		{ "stale-status", "--status-lag-us", "-1", "--output", OUT },
		{ "stale-status", "--status-lag-us", "1500ns", "--output", OUT },
		{ "stale-status", "--status-lag-us", "2xs", "--output", OUT },
		{ "stale-status", "--status-lag-us", "11s", "--output", OUT },
		{ "stale-status", "--tasks", "0", "--output", OUT },
		{ "stale-status", "--bs", "1000", "--output", OUT },
		{ "stale-status", "--directory", "/nonexistent/iom", "--output", OUT },
		{ "stale-status", "--frobnicate", "--output", OUT },
		{ "stale-status", "--output", OUT, "--confirm" },
		{ "faults", "--tasks", "5", "--output", OUT },
		{ "faults", "--tasks", "x", "--output", OUT },
		{ "faults", "--frobnicate", "--output", OUT },
		{ "retry-storm", "--rate", "0", "--output", OUT },
		{ "retry-storm", "--capacity", "-1", "--output", OUT },
	};
	struct ctx *x = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[MAX_ARGS] = { "scenario" };
		char out[PATH_MAX], *nl;
		int n = 1;

		for (int j = 0; j < 8 && cases[i][j]; j++)
			args[n++] = cases[i][j];
		args[n] = NULL;
		run_bin(x, args, BAD_TIMEOUT_MS);
		if (x->r.status != 2)
			fail_msg("case %zu (%s %s): exit %d, want 2; stderr: %s", i, cases[i][0],
				 cases[i][1], x->r.status, x->r.err);
		nl = strchr(x->r.err, '\n');
		if (!nl || nl[1] || x->r.out_len)
			fail_msg("case %zu (%s %s): want one line on stderr and no stdout; got "
				 "stderr '%s' stdout '%s'", i, cases[i][0], cases[i][1], x->r.err,
				 x->r.out);
		snprintf(out, sizeof(out), "%s/out", x->tmp);
		if (!access(out, F_OK))
			fail_msg("case %zu (%s %s): wrote %s", i, cases[i][0], cases[i][1], out);
	}
}

/*
 * 4 waiters, 30 connections: naive epoll wakes every waiter (4.0), EPOLLEXCLUSIVE and a
 * blocking accept one (1.0), SO_REUSEPORT one. The bounds leave room for a stray wake-up.
 */
static void test_herd(void **state)
{
	const char *args[] = { "scenario", "thundering-herd", "--waiters", "4", "--connections",
			       "30", "--output", OUT, NULL };
	struct ctx *x = *state;
	double naive, excl, acc, rp;
	char st[64];

	run_bin(x, args, RUN_TIMEOUT_MS);
	if (x->r.status)
		fail_msg("exit %d; stdout:\n%s\nstderr:\n%s", x->r.status, x->r.out, x->r.err);
	assert_non_null(strstr(x->r.out, "verdict: naive epoll wakes"));
	load_csv(x, "herd.csv");
	for (size_t i = 0; i < 4; i++) {
		static const char *const v[] = { "accept", "epoll-naive", "epoll-exclusive",
						 "reuseport" };

		snprintf(st, sizeof(st), "%s", row_str(x, v[i], "status"));
		if (strcmp(st, "ok"))
			fail_msg("%s: status %s:\n%s", v[i], st, x->csv);
		assert_int_equal((int)row_num(x, v[i], "connections_done"), 30);
		assert_int_equal((int)row_num(x, v[i], "accepted"), 30);
	}
	naive = row_num(x, "epoll-naive", "wakeups_per_conn");
	excl = row_num(x, "epoll-exclusive", "wakeups_per_conn");
	acc = row_num(x, "accept", "wakeups_per_conn");
	rp = row_num(x, "reuseport", "wakeups_per_conn");
	if (!(naive > excl) || naive < 1.5 || excl > 1.5 || acc > 1.5 || rp > 1.5)
		fail_msg("wake-ups per connection: naive %.2f exclusive %.2f accept %.2f "
			 "reuseport %.2f; want naive >= 1.5 > exclusive, accept, reuseport:\n%s",
			 naive, excl, acc, rp, x->csv);
	/* Each accepted connection needed its waiter to wake at least once. */
	assert_true(excl >= 1.0 && acc >= 1.0 && rp >= 1.0);
	assert_true(row_num(x, "epoll-naive", "useless_per_conn") >= 0.5);
}

/* Does dir still hold a file the durability scenario made? */
static bool has_leftover(const char *dir)
{
	static const char pfx[] = "iomodels-durability.";
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, pfx, sizeof(pfx) - 1))
			found = true;
	closedir(d);
	return found;
}

static void test_durability(void **state)
{
	const char *args[] = { "scenario", "durability", "--tasks", "50", "--size", "4M",
			       "--directory", TMPDIR, "--output", OUT, NULL };
	struct ctx *x = *state;
	char st[64];

	run_bin(x, args, RUN_TIMEOUT_MS);
	if (x->r.status)
		fail_msg("exit %d; stdout:\n%s\nstderr:\n%s", x->r.status, x->r.out, x->r.err);
	/* The scenario's file is gone. */
	assert_false(has_leftover(x->tmp));
	if (strstr(x->r.out, "cachestat: unavailable"))
		iom_skip("cachestat(2) unavailable: %s", x->r.out);
	load_csv(x, "durability.csv");
	snprintf(st, sizeof(st), "%s", row_str(x, "buffered", "status"));
	assert_string_equal(st, "ok");
	snprintf(st, sizeof(st), "%s", row_str(x, "fdatasync", "status"));
	assert_string_equal(st, "ok");
	assert_int_equal((int)row_num(x, "buffered", "completed"), 50);
	assert_int_equal((int)row_num(x, "fdatasync", "completed"), 50);
	if (row_num(x, "buffered", "not_durable") <= 0)
		fail_msg("buffered: no task completed while dirty:\n%s", x->csv);
	assert_int_equal((int)row_num(x, "fdatasync", "not_durable"), 0);
	snprintf(st, sizeof(st), "%s", row_str(x, "uring-linked-fsync", "status"));
	if (!strcmp(st, "unavailable")) {
		snprintf(st, sizeof(st), "%s", row_str(x, "uring-linked-fsync", "reason"));
		iom_skip("uring-linked-fsync: %s", st);
	}
	assert_string_equal(st, "ok");
	assert_int_equal((int)row_num(x, "uring-linked-fsync", "completed"), 50);
	assert_int_equal((int)row_num(x, "uring-linked-fsync", "not_durable"), 0);
}

/*
 * stale-status (a): replicas up to 1 ms behind, a poll every 100 us. Without lag no read is
 * stale and no EXPIRED is wrong. Trusting one read, some task that finished in time is called
 * EXPIRED (each such task's reads before its deadline all hit a lagging replica: about one in
 * five here, so among 200 tasks none is practically impossible). Confirming 11 reads in a row
 * spans at least 10 x 100 us = the most a replica lags, so no stale read survives: exactly 0.
 */
static void test_stale_status(void **state)
{
	static const char *const rows[] = { "no-lag", "trust-one", "confirm-11" };
	/* The lag with its unit: the same 1000 us as the default, and the row says so. */
	const char *args[] = { "scenario", "stale-status", "--part", "a", "--tasks", "200",
			       "--status-lag-us", "1ms", "--confirm", "11", "--output", OUT, NULL };
	struct ctx *x = *state;
	char st[64];

	run_bin(x, args, RUN_TIMEOUT_MS);
	if (x->r.status)
		fail_msg("exit %d; stdout:\n%s\nstderr:\n%s", x->r.status, x->r.out, x->r.err);
	assert_non_null(strstr(x->r.out, "verdict: "));
	load_csv(x, "stale-status.csv");
	for (size_t i = 0; i < 3; i++) {
		snprintf(st, sizeof(st), "%s", row_str(x, rows[i], "status"));
		if (strcmp(st, "ok"))
			fail_msg("%s: status %s:\n%s", rows[i], st, x->csv);
		/* The invariant: every task once, COMPLETED or EXPIRED (nothing else can end it). */
		assert_int_equal((int)(row_num(x, rows[i], "completed") +
				       row_num(x, rows[i], "expired")), 200);
	}
	assert_int_equal((int)row_num(x, "no-lag", "stale_reads"), 0);
	assert_int_equal((int)row_num(x, "no-lag", "wrong_expired"), 0);
	if (row_num(x, "trust-one", "stale_reads") <= 0 ||
	    row_num(x, "trust-one", "wrong_expired") <= 0)
		fail_msg("trust-one: want stale reads and wrong EXPIRED > 0:\n%s", x->csv);
	assert_true(row_num(x, "confirm-11", "stale_reads") > 0);
	assert_int_equal((int)row_num(x, "confirm-11", "wrong_expired"), 0);
	/* The rows in runs.csv too, each with the model's own counts. */
	load_csv(x, "runs.csv");
	assert_non_null(strstr(x->csv, "lag<=1000us,confirm=11"));
}

/*
 * retry-storm, small: 1500 tasks/s for 1 s against room for 1 request of 1 ms: arrivals come
 * every 0.67 ms and each request is held at least 1 ms, so BUSY answers must happen. Every task
 * ends once (completed or gave up), and the drain is measured.
 */
static void test_retry_storm(void **state)
{
	static const char *const rows[] = { "none", "exp", "exp-jitter" };
	const char *args[] = { "scenario", "retry-storm", "--rate", "1500", "--capacity", "1",
			       "--output", OUT, NULL };
	struct ctx *x = *state;
	char st[64];

	run_bin(x, args, RUN_TIMEOUT_MS);
	if (x->r.status)
		fail_msg("exit %d; stdout:\n%s\nstderr:\n%s", x->r.status, x->r.out, x->r.err);
	assert_non_null(strstr(x->r.out, "verdict: offered 1500/s"));
	load_csv(x, "retry-storm.csv");
	for (size_t i = 0; i < 3; i++) {
		snprintf(st, sizeof(st), "%s", row_str(x, rows[i], "status"));
		if (strcmp(st, "ok"))
			fail_msg("%s: status %s:\n%s", rows[i], st, x->csv);
		assert_int_equal((int)row_num(x, rows[i], "offered"), 1500);
		assert_int_equal((int)(row_num(x, rows[i], "completed") +
				       row_num(x, rows[i], "gave_up")), 1500);
		assert_true(row_num(x, rows[i], "drain_ns") >= 0);
	}
	assert_true(row_num(x, "none", "busy") > 0);
	/* The verdict printed is the one its own rows give (the CSV's figures, rounded). */
	{
		struct iom_rs_row rs[3];
		char verdict[1536];

		for (int i = 0; i < 3; i++)
			rs[i] = (struct iom_rs_row){ true, row_num(x, rows[i], "busy"),
						     row_num(x, rows[i], "goodput_per_s"),
						     row_num(x, rows[i], "drain_ns") };
		iom_rs_verdict(rs, 1500, 1000, verdict, sizeof(verdict));
		if (!strstr(x->r.out, verdict))
			fail_msg("printed verdict is not its rows' verdict:\n%s\nwant:\n%s",
				 x->r.out, verdict);
	}
}

/*
 * The verdicts follow the rows they are given: fed figures that contradict the usual outcome,
 * they say "not shown" and name the figures; fed the usual ones, they state it.
 */
static void test_verdicts_follow_rows(void **state)
{
	struct iom_tg_row usual[] = {
		{ "threads", false, true, 12 }, { "threads", true, true, 0 },
		{ "uring", false, true, 9 },	{ "uring", true, true, 0 },
	};
	struct iom_tg_row against[] = {
		{ "threads", false, true, 0 }, { "threads", true, true, 0 },
		{ "uring", false, true, 9 },   { "uring", true, true, 3 },
		{ "epoll", false, false, 0 },
	};
	struct iom_tg_row none[] = { { "threads", false, false, 5 } };
	struct iom_rs_row rs_usual[3] = { { true, 900, 950, 4e6 }, { true, 800, 960, 9e6 },
					  { true, 700, 970, 8e6 } };
	struct iom_rs_row rs_against[3] = { { true, 0, 950, 9e6 }, { true, 800, 2500, 4e6 },
					    { true, 700, 970, 8e6 } };
	char v[1536];

	iom_tg_verdict(usual, 4, v, sizeof(v));
	assert_non_null(strstr(v, "verdict: in all 4 cells, without a key every retry"));
	assert_null(strstr(v, "not shown"));
	iom_tg_verdict(against, 5, v, sizeof(v));
	print_message("%s\n", v);
	assert_non_null(strstr(v, "verdict: not shown"));
	assert_non_null(strstr(v, "threads without a key: 0 duplicates"));
	assert_non_null(strstr(v, "uring with the key: 3 duplicates"));
	assert_null(strstr(v, "epoll"));	/* a cell that did not run says nothing */
	iom_tg_verdict(none, 1, v, sizeof(v));
	assert_non_null(strstr(v, "not measured"));

	iom_rs_verdict(rs_usual, 3000, 1000, v, sizeof(v));
	assert_non_null(strstr(v, "a backoff moved retries later"));
	assert_null(strstr(v, "Not shown"));
	iom_rs_verdict(rs_against, 3000, 1000, v, sizeof(v));
	print_message("%s\n", v);
	assert_non_null(strstr(v, "Not shown"));
	assert_non_null(strstr(v, "no BUSY answer without backoff (0)"));
	assert_non_null(strstr(v, "did not drain later than none (4.0 / 8.0 vs 9.0 ms)"));
	assert_non_null(strstr(v, "goodput 2500/s above the capacity 1000/s (exp)"));
	assert_null(strstr(v, "moved retries later, which"));
	rs_against[2].ok = false;
	iom_rs_verdict(rs_against, 3000, 1000, v, sizeof(v));
	assert_non_null(strstr(v, "not measured"));
}

/*
 * faults, small: every cell ran and kept the invariant, counted here from its own columns (not
 * the scenario's "conserved" flag); all 20 cells ran (errno x 4, kill x 2, drop x 3 x 4, and
 * the CQ pair); the tiny CQ overflowed (a NOP completes inside the enter that submits it, so 64
 * of them meet a CQ of 8) and its control did not. The counts of each fault are test_faults'.
 */
static void test_faults(void **state)
{
	static const char *const terminal[] = { "n_completed", "n_failed", "n_expired",
						"n_aborted" };
	const char *args[] = { "scenario", "faults", "--tasks", "100", "--output", OUT, NULL };
	struct ctx *x = *state;

	run_bin(x, args, RUN_TIMEOUT_MS);
	if (x->r.status)
		fail_msg("exit %d; stdout:\n%s\nstderr:\n%s", x->r.status, x->r.out, x->r.err);
	assert_non_null(strstr(x->r.out, "verdict: under every fault"));
	load_csv(x, "faults.csv");
	/* faults.csv has no partial column: none of its workloads can end PARTIAL_SUCCESS. */
	assert_int_equal(iomt_csv_col(&x->tab, "n_partial"), -1);
	for (int r = 1; r < x->tab.nr; r++) {
		double sum = 0, submitted = iomt_csv_num(&x->tab, r, "submitted");

		if (strcmp(iomt_csv_str(&x->tab, r, "status"), "ok"))
			fail_msg("row %d did not run:\n%s", r, x->csv);
		for (size_t i = 0; i < sizeof(terminal) / sizeof(terminal[0]); i++)
			sum += iomt_csv_num(&x->tab, r, terminal[i]);
		if (!(submitted > 0) || sum != submitted)
			fail_msg("row %d: submitted %g, terminal states %g:\n%s", r, submitted, sum,
				 x->csv);
	}
	if (x->tab.nr - 1 != 20)
		fail_msg("%d cells, want 20:\n%s", x->tab.nr - 1, x->csv);
	assert_true(row_num(x, "cq-overflow:8", "cq_overflow") > 0);
	assert_true(row_num(x, "none (control)", "cq_overflow") == 0);
	assert_true(row_num(x, "cq-overflow:8", "n_completed") ==
		    row_num(x, "cq-overflow:8", "submitted"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_herd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_durability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_storm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
		cmocka_unit_test(test_verdicts_follow_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
