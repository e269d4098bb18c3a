// SPDX-License-Identifier: MIT
/*
 * Task stamps from the TSC (core/clock.h): the fit follows CLOCK_MONOTONIC, and only cells
 * whose stamps meet no other clock take it: a plain nop or file cell of a model that stamps by
 * iom_ctx_now(), never a deadline, a timer or IOM_MASK=tsc. Every such cell still conserves
 * its tasks, and no latency wraps (a task started on one clock and ended on the other would
 * show a latency near 2^64 ns when the second reads behind the first).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/testutil.h"
#include "tests/helpers.h"
#include "core/clock.h"

static bool kernel_trusts_tsc(void)
{
	char *name = iomt_slurp_or_null("/sys/devices/system/clocksource/clocksource0/current_clocksource");
	bool tsc = name && strcmp(name, "tsc\n") == 0;

	free(name);
	return tsc;
}

/* Over 200 ms the fitted clock stays within 20 us of CLOCK_MONOTONIC and never goes back. */
static void test_fit_follows_monotonic(void **state)
{
	struct iom_tsc_fit fit;
	struct timespec ms = { .tv_sec = 0, .tv_nsec = 1000000 };
	uint64_t last = 0;
	int64_t worst = 0;

	(void)state;
	if (!kernel_trusts_tsc()) {
		assert_false(iom_tsc_fit_now(&fit));
		iom_skip("the kernel's clocksource is not tsc: stamps stay on clock_gettime");
		return;
	}
	assert_true(iom_tsc_fit_now(&fit));
	for (int i = 0; i < 200; i++) {
		int64_t off = iom_tsc_offset_ns(&fit);
		uint64_t now = iom_tsc_now_ns(&fit);

		if (llabs(off) > worst)
			worst = llabs(off);
		assert_true(now >= last);
		last = now;
		nanosleep(&ms, NULL);
	}
	print_message("TSC fit: worst offset from CLOCK_MONOTONIC %lld ns over 200 ms\n",
		      (long long)worst);
	assert_true(worst < 20000);
	setenv("IOM_MASK", "tsc", 1);
	assert_false(iom_tsc_fit_now(&fit));
	assert_true(fit.mult == 0);
	unsetenv("IOM_MASK");
}

static bool row_has_flag(const struct iom_row *row, const char *flag)
{
	return strstr(row->str[IOM_COL_flags], flag) != NULL;
}

/* One cell of m; whether its row says tsc_stamps. Every latency is below a second. */
static bool cell_tsc(const struct iom_model *m, enum iom_wl_kind wl, uint64_t deadline_ns)
{
	struct iom_cfg cfg = iomt_cfg(m, wl, 8, iomt_tmpdir);
	struct iom_row row;
	struct iom_hist hist;

	cfg.tasks = 4000;
	cfg.deadline_ns = deadline_ns;
	iomt_run_ok(&cfg, &row, &hist);
	assert_true(row.num[IOM_COL_n_completed] == 4000);
	assert_true(hist.max < 1000000000ull);
	return row_has_flag(&row, "tsc_stamps");
}

static void test_which_cells_take_tsc(void **state)
{
	bool trusted = kernel_trusts_tsc();

	(void)state;
	FOR_EACH_MODEL(m) {
		const enum iom_wl_kind kinds[] = { IOM_WL_NOP, IOM_WL_FILE };

		for (size_t k = 0; k < 2; k++) {
			if (!iomt_model_available(m, kinds[k]))
				continue;
			print_message("%s %s\n", m->name, iom_wl_name(kinds[k]));
			assert_true(cell_tsc(m, kinds[k], 0) == trusted);
			/* A deadline is handed to the kernel as an absolute CLOCK_MONOTONIC time. */
			assert_false(cell_tsc(m, kinds[k], 1000000000ull));
			setenv("IOM_MASK", "tsc", 1);
			assert_false(cell_tsc(m, kinds[k], 0));
			unsetenv("IOM_MASK");
		}
	}
}

/* Timers are set as absolute CLOCK_MONOTONIC times: their cells keep clock_gettime. */
static void test_timer_cells_keep_monotonic(void **state)
{
	(void)state;
	FOR_EACH_MODEL(m) {
		struct iom_cfg cfg = iomt_cfg(m, IOM_WL_TIMER, 8, iomt_tmpdir);
		struct iom_row row;
		struct iom_hist hist;

		if (!iomt_model_available(m, IOM_WL_TIMER))
			continue;
		cfg.tasks = 400;
		iomt_run_ok(&cfg, &row, &hist);
		assert_false(row_has_flag(&row, "tsc_stamps"));
		assert_true(hist.min >= cfg.wl.latency_ns);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fit_follows_monotonic),
		cmocka_unit_test(test_which_cells_take_tsc),
		cmocka_unit_test(test_timer_cells_keep_monotonic),
	};

	return cmocka_run_group_tests(tests, iomt_tmpdir_setup, iomt_tmpdir_teardown);
}
