// SPDX-License-Identifier: MIT
/*
 * Retries and the Two Generals: a task retried on EXPIRED is still one task (conservation);
 * without an idempotency key the backend executes retries again (duplicates > 0), with the
 * key it executes nothing twice (duplicates == 0).
 */
#include <math.h>

#include "core/driver.h"
#include "core/model.h"
#include "tests/helpers.h"

static struct iom_row row;
static struct iom_hist hist;

static struct iom_cfg tg_cfg(const struct iom_model *m, bool key)
{
	struct iom_cfg cfg;

	iom_cfg_init(&cfg);
	cfg.model = m;
	cfg.wl.kind = IOM_WL_RPC;
	cfg.wl.seed = 3;
	/* Wide margins: fast tasks answer at once, slow ones after 200 ms, deadline 50 ms. */
	cfg.wl.latency_ns = 0;
	cfg.wl.dist = IOM_DIST_BIMODAL;
	cfg.wl.bimodal_p = 0.2;
	cfg.wl.bimodal_ns = 200000000;
	cfg.wl.idempotency_key = key;
	cfg.deadline_ns = 50000000;
	cfg.retry_expired = true;
	cfg.retry_max = 3;
	cfg.backoff = IOM_BACKOFF_EXP_JITTER;
	cfg.backoff_base_ns = 1000000;
	cfg.backoff_cap_ns = 10000000;
	cfg.concurrency = 4;
	cfg.tasks = 40;
	cfg.batch_complete = 1;
	cfg.verify = true;
	return cfg;
}

static void test_two_generals(void **state)
{
	FOR_EACH_MODEL(m) {
		if (!iomt_model_available(m, IOM_WL_RPC))
			continue;
		for (int key = 0; key < 2; key++) {
			struct iom_cfg cfg = tg_cfg(m, key);

			assert_int_equal(iom_run_cell(&cfg, &row, &hist), 0);
			if (strcmp(row.str[IOM_COL_status], "ok"))
				fail_msg("%s: %s", m->name, row.str[IOM_COL_reason]);
			/* Each task once, by its last attempt, however many attempts it took. */
			assert_true(iomt_terminal(&row) == 40 && row.num[IOM_COL_submitted] == 40);
			/* 8 slow tasks: each expires at least once and is retried. */
			assert_true(row.num[IOM_COL_retries] >= 8);
			if (key)
				assert_true(row.num[IOM_COL_n_dup] == 0);
			else
				assert_true(row.num[IOM_COL_n_dup] > 0);
		}
	}
}

/* No retry policy: the retry columns stay empty, not zero. */
static void test_no_policy_no_columns(void **state)
{
	struct iom_cfg cfg = tg_cfg(iom_models[0], false);

	cfg.retry_expired = false;
	cfg.tasks = 10;
	assert_int_equal(iom_run_cell(&cfg, &row, &hist), 0);
	assert_true(isnan(row.num[IOM_COL_retries]));
	assert_true(row.num[IOM_COL_n_expired] == 2);
}

/* Past the backend's capacity it answers BUSY: every model makes that a FAILED (-EBUSY) task. */
static void test_busy_is_failed(void **state)
{
	FOR_EACH_MODEL(m) {
		struct iom_cfg cfg = tg_cfg(m, false);

		/* A probe that fails skips (a failure in strict mode), never a silent pass. */
		if (!iomt_model_available(m, IOM_WL_RPC))
			continue;
		/* 8 requests of 20 ms at once against room for 1: at least 7 BUSY at the start. */
		cfg.wl.dist = IOM_DIST_FIXED;
		cfg.wl.latency_ns = 20000000;
		cfg.wl.backend_capacity = 1;
		cfg.retry_expired = false;
		cfg.deadline_ns = 0;
		cfg.concurrency = 8;
		cfg.tasks = 16;
		cfg.verify = false;
		assert_int_equal(iom_run_cell(&cfg, &row, &hist), 0);
		if (strcmp(row.str[IOM_COL_status], "ok"))
			fail_msg("%s: %s", m->name, row.str[IOM_COL_reason]);
		assert_true(row.num[IOM_COL_n_failed] >= 7);
		assert_true(row.num[IOM_COL_n_completed] >= 1);
		assert_true(row.num[IOM_COL_n_failed] + row.num[IOM_COL_n_completed] == 16);
	}
}

/*
 * --fault errno:EIO@P in every model: without a retry policy each injected fault is one FAILED
 * task (and nothing else fails); the count is near P*N (5 sigma of the binomial); with retries
 * every task completes and the attempts failed are the faults.
 */
static void test_fault_injection(void **state)
{
	FOR_EACH_MODEL(m) {
		struct iom_cfg cfg;
		const double n = 2000, p = 0.1, sigma = sqrt(n * p * (1 - p));

		if (!iomt_model_available(m, IOM_WL_NOP))
			continue;
		iom_cfg_init(&cfg);
		cfg.model = m;
		cfg.wl.kind = IOM_WL_NOP;
		cfg.wl.seed = 5;
		cfg.concurrency = 4;
		cfg.tasks = (uint64_t)n;
		cfg.batch_complete = 1;
		cfg.fault_errno = EIO;
		cfg.fault_ppm = (uint32_t)(p * 1e6);
		assert_int_equal(iom_run_cell(&cfg, &row, &hist), 0);
		if (strcmp(row.str[IOM_COL_status], "ok"))
			fail_msg("%s: %s", m->name, row.str[IOM_COL_reason]);
		print_message("%s: %g of %g failed by --fault errno:EIO@%g\n", m->name,
			      row.num[IOM_COL_faults], n, p);
		assert_true(row.num[IOM_COL_n_failed] == row.num[IOM_COL_faults]);
		assert_true(row.num[IOM_COL_n_failed] + row.num[IOM_COL_n_completed] == n);
		assert_true(fabs(row.num[IOM_COL_faults] - n * p) <= 5 * sigma);
		assert_string_equal(row.str[IOM_COL_fault], "errno:EIO@0.1");

		cfg.retry_failed = true;
		cfg.retry_max = 10;
		cfg.backoff = IOM_BACKOFF_NONE;
		assert_int_equal(iom_run_cell(&cfg, &row, &hist), 0);
		assert_true(row.num[IOM_COL_n_completed] == n);
		assert_true(row.num[IOM_COL_retries] == row.num[IOM_COL_faults]);
		assert_true(row.num[IOM_COL_faults] > 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_generals),
		cmocka_unit_test(test_no_policy_no_columns),
		cmocka_unit_test(test_busy_is_failed),
		cmocka_unit_test(test_fault_injection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
