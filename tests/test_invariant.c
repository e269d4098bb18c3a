// SPDX-License-Identifier: MIT
/*
 * The suite's core promise, as a user meets it: every task ends in exactly one terminal state,
 * or the run says "bug:" and exits 3. Broken models (tests/stub_models.c) run through a test
 * copy of the real binary (build/tests/iomodels-stub: cli/main.c, the library, the stubs); each
 * run must exit 3 with exactly one line on stderr, the bug named, and the row in runs.csv
 * marked error with the same reason. The control, stub-ok, must exit 0 with nothing on stderr.
 */
#include <libgen.h>
#include <limits.h>
#include <unistd.h>

#include "tests/helpers.h"

#define RUN_TIMEOUT_MS 30000	/* a lost task holds the run ~10 s (two graces of 5 s); 3x that */

struct ctx {
	char tmp[64];
	struct iomt_proc r;
	struct iomt_csv rows;
};

static const char *stub_bin(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("IOM_STUB_BIN");
	char bin[PATH_MAX];

	if (env && *env)
		return env;
	/* Next to the tests of the same build: <build>/iomodels -> <build>/tests/iomodels-stub. */
	snprintf(bin, sizeof(bin), "%s", iomt_bin());
	snprintf(path, sizeof(path), "%s/tests/iomodels-stub", dirname(bin));
	if (access(path, X_OK))
		fail_msg("%s missing: build it with `make %s` (make test does)", path, path);
	return path;
}

static int setup(void **state)
{
	struct ctx *x = calloc(1, sizeof(*x));

	if (!x || iomt_mkdtemp(x->tmp, sizeof(x->tmp), "invariant")) {
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
	iomt_csv_free(&x->rows);
	free(x);
	return 0;
}

/* Run one stub model over 20 nop tasks at C=conc; load its runs.csv. */
static void run_stub_c(struct ctx *x, const char *model, const char *conc)
{
	char out[PATH_MAX], csv[PATH_MAX + 16];
	char *argv[] = { (char *)stub_bin(), "run", "--model", (char *)model, "--workload", "nop",
			 "--tasks", "20", "--concurrency", (char *)conc, "--quiet", "--output", out,
			 NULL };

	snprintf(out, sizeof(out), "%s/out", x->tmp);
	iomt_run(&x->r, x->tmp, argv, RUN_TIMEOUT_MS);
	if (x->r.timed_out)
		fail_msg("%s: still running after %d ms", model, RUN_TIMEOUT_MS);
	snprintf(csv, sizeof(csv), "%s/runs.csv", out);
	iomt_csv_free(&x->rows);
	iomt_csv_load(&x->rows, csv);
	assert_int_equal(x->rows.nr, 2);
}

static void run_stub(struct ctx *x, const char *model)
{
	run_stub_c(x, model, "4");
}

/*
 * Exit 3, exactly one stderr line "iomodels: bug: ...want...", the row's reason the same; at
 * C=conc.
 */
static void expect_bug_c(struct ctx *x, const char *model, const char *conc, const char *want)
{
	const char *reason;

	run_stub_c(x, model, conc);
	if (x->r.status != IOM_EXIT_BUG)
		fail_msg("%s: exit %d, want %d; stderr:\n%s", model, x->r.status, IOM_EXIT_BUG,
			 x->r.err);
	if (iomt_count_lines(x->r.err, "") != 1 || x->r.err[x->r.err_len - 1] != '\n')
		fail_msg("%s: stderr is not one line:\n%s", model, x->r.err);
	if (iomt_count_lines(x->r.err, "iomodels: bug: ") != 1 || !strstr(x->r.err, want))
		fail_msg("%s: stderr does not say \"bug: ...%s\":\n%s", model, want, x->r.err);
	assert_string_equal(iomt_csv_str(&x->rows, 1, "status"), "error");
	reason = iomt_csv_str(&x->rows, 1, "reason");
	if (strncmp(reason, "bug: ", 5) || !strstr(reason, want))
		fail_msg("%s: runs.csv's reason is '%s'", model, reason);
}

static void expect_bug(struct ctx *x, const char *model, const char *want)
{
	expect_bug_c(x, model, "4", want);
}

static void test_control_ok(void **state)
{
	struct ctx *x = *state;

	run_stub(x, "stub-ok");
	if (x->r.status || x->r.err_len)
		fail_msg("stub-ok: exit %d, stderr:\n%s", x->r.status, x->r.err);
	assert_string_equal(iomt_csv_str(&x->rows, 1, "status"), "ok");
	assert_true(iomt_csv_num(&x->rows, 1, "submitted") ==
		    iomt_csv_num(&x->rows, 1, "n_completed"));
}

/* A task the model took and never reported: the drain gives up on it and says how many. */
static void test_lost_task(void **state)
{
	struct ctx *x = *state;

	expect_bug(x, "stub-lose", "1 tasks never reported done");
	/* The row still tells the truth: one more submitted than ended. */
	assert_true(iomt_csv_num(&x->rows, 1, "submitted") ==
		    iomt_csv_num(&x->rows, 1, "n_completed") + 1);
}

/*
 * At C=1 the lost task holds the only slot: with --tasks the window never ends, so the run
 * waited for a free slot until a signal came. Every slot in flight with nothing ended for the
 * drain's grace (5 s here) stops the submitting, and the drain counts the lost one.
 */
static void test_lost_every_slot(void **state)
{
	struct ctx *x = *state;

	expect_bug_c(x, "stub-lose", "1", "1 tasks never reported done");
	assert_true(iomt_csv_num(&x->rows, 1, "submitted") == 3);
	assert_true(iomt_csv_num(&x->rows, 1, "n_completed") == 2);
}

static void test_reported_running(void **state)
{
	expect_bug(*state, "stub-running", "reported done without a terminal state");
}

static void test_reported_twice(void **state)
{
	expect_bug(*state, "stub-twice", "reported done twice");
}

/* The stubs are a test build's only: the real binary does not know them (exit 2). */
static void test_real_binary_has_no_stubs(void **state)
{
	struct ctx *x = *state;
	char *argv[] = { (char *)iomt_bin(), "run", "--model", "stub-ok", "--workload", "nop",
			 "--tasks", "1", NULL };

	iomt_run(&x->r, x->tmp, argv, RUN_TIMEOUT_MS);
	assert_int_equal(x->r.status, 2);
	assert_non_null(strstr(x->r.err, "stub-ok"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_control_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_task, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_every_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reported_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reported_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_binary_has_no_stubs, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
