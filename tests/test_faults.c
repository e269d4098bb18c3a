// SPDX-License-Identifier: MIT
/*
 * --fault beyond errno, in small bounded cells through the driver: a kernel_free worker killed
 * mid-task, the backend dropping a connection mid-request, a tiny io_uring CQ. Under every fault
 * the run's invariant holds (each task submitted reached exactly one terminal state) and the
 * counts say what happened. Draws are seeded per task and attempt, so with P = 0.2 over 100
 * tasks "some task was hit" fails with probability 0.8^100; every other assertion follows from
 * how the fault works, not from timing.
 */
#include <errno.h>
#include <liburing.h>
#include <math.h>
#include <pthread.h>

#include "core/driver.h"
#include "core/model.h"
#include "tests/helpers.h"

static struct iom_row row;
static struct iom_hist hist;

static struct iom_cfg base(const struct iom_model *m, enum iom_wl_kind wl)
{
	struct iom_cfg cfg = iomt_cfg(m, wl, 4, NULL);

	cfg.wl.seed = 5;
	cfg.tasks = 100;
	cfg.retry_max = 10;
	cfg.backoff = IOM_BACKOFF_NONE;
	cfg.backoff_base_ns = 100000;
	cfg.backoff_cap_ns = 1000000;
	return cfg;
}

/* Run; the cell must be valid and conserve its tasks. */
static void run_ok(const struct iom_cfg *cfg, const char *what)
{
	int ret = iom_run_cell(cfg, &row, &hist);

	if (ret || strcmp(row.str[IOM_COL_status], "ok"))
		fail_msg("%s %s %s: exit %d, status %s: %s", cfg->model->name,
			 iom_wl_name(cfg->wl.kind), what, ret, row.str[IOM_COL_status],
			 row.str[IOM_COL_reason]);
	if (row.num[IOM_COL_submitted] != iomt_terminal(&row) ||
	    iomt_terminal(&row) != (double)cfg->tasks)
		fail_msg("%s %s %s: submitted %g, terminal %g, tasks %llu", cfg->model->name,
			 iom_wl_name(cfg->wl.kind), what, row.num[IOM_COL_submitted], iomt_terminal(&row),
			 (unsigned long long)cfg->tasks);
}

/*
 * kill-worker: the worker running a hit task dies holding it; the pool reports the task FAILED
 * (EOWNERDEAD) and replaces the worker, so every kill is one replaced worker and, without a
 * retry, one FAILED task. With retries every task completes, one retry per kill. rpc tasks
 * sent their request before dying: the slot gets a new connection each time.
 */
static void test_kill_worker(void **state)
{
	static const enum iom_wl_kind wls[] = { IOM_WL_NOP, IOM_WL_TIMER, IOM_WL_RPC };
	const struct iom_model *kf = iom_model_find("kernel_free");

	for (size_t i = 0; i < sizeof(wls) / sizeof(wls[0]); i++) {
		for (int notify = 0; notify < 2; notify++) {
			struct iom_cfg cfg = base(kf, wls[i]);

			cfg.fault_kill_ppm = 200000;
			iomt_kfo.notify = notify ? IOM_NOTIFY_POLL : IOM_NOTIFY_WAIT;
			run_ok(&cfg, "kill-worker@0.2");
			assert_string_equal(row.str[IOM_COL_fault], "kill-worker@0.2");
			assert_true(row.num[IOM_COL_faults] > 0);
			assert_true(row.num[IOM_COL_n_failed] == row.num[IOM_COL_faults]);
			assert_true(row.num[IOM_COL_workers_replaced] == row.num[IOM_COL_faults]);
			assert_true(row.num[IOM_COL_n_completed] ==
				    100 - row.num[IOM_COL_faults]);
			if (wls[i] == IOM_WL_RPC)
				assert_true(row.num[IOM_COL_reconnects] == row.num[IOM_COL_faults]);

			cfg.retry_failed = true;
			run_ok(&cfg, "kill-worker@0.2 + retry");
			assert_true(row.num[IOM_COL_n_completed] == 100);
			assert_true(row.num[IOM_COL_retries] == row.num[IOM_COL_faults]);
			assert_true(row.num[IOM_COL_workers_replaced] == row.num[IOM_COL_faults]);
		}
	}
}

/*
 * A worker killed after its task already EXPIRED: the task keeps its one terminal state, and
 * the death is no late answer (nothing came back). Every task is hit (P = 1): 40 ms timers,
 * a 10 ms deadline, the worker dies at 20 ms.
 */
static void test_kill_after_expired(void **state)
{
	struct iom_cfg cfg = base(iom_model_find("kernel_free"), IOM_WL_TIMER);

	cfg.fault_kill_ppm = 1000000;
	cfg.wl.latency_ns = 40000000;
	cfg.deadline_ns = 10000000;
	cfg.tasks = 8;
	run_ok(&cfg, "kill-worker@1, deadline before the death");
	assert_true(row.num[IOM_COL_n_expired] == 8);
	assert_true(row.num[IOM_COL_n_late] == 0);
	assert_true(row.num[IOM_COL_workers_replaced] == 8);
	/* The deadline decided these tasks, not the kill. */
	assert_true(row.num[IOM_COL_faults] == 0);
}

/*
 * drop-conn: the backend does the work, then drops the connection in place of the answer. Each
 * hit task fails (ECONNRESET) and its slot reconnects, in every model. Retried without an
 * idempotency key, each drop is work done twice (a duplicate); with the key, none is.
 */
static void test_drop_conn(void **state)
{
	FOR_EACH_MODEL(m) {
		struct iom_cfg cfg = base(m, IOM_WL_RPC);

		if (!iomt_model_available(m, IOM_WL_RPC))
			continue;
		cfg.fault_drop_ppm = 200000;
		cfg.verify = true;
		run_ok(&cfg, "drop-conn@0.2");
		assert_true(row.num[IOM_COL_faults] > 0);
		assert_true(row.num[IOM_COL_n_failed] == row.num[IOM_COL_faults]);
		assert_true(row.num[IOM_COL_reconnects] == row.num[IOM_COL_faults]);
		assert_true(row.num[IOM_COL_n_completed] == 100 - row.num[IOM_COL_faults]);

		cfg.retry_failed = true;
		run_ok(&cfg, "drop-conn@0.2 + retry, no key");
		assert_true(row.num[IOM_COL_n_completed] == 100);
		assert_true(row.num[IOM_COL_retries] == row.num[IOM_COL_faults]);
		assert_true(row.num[IOM_COL_n_dup] == row.num[IOM_COL_faults]);

		cfg.wl.idempotency_key = true;
		run_ok(&cfg, "drop-conn@0.2 + retry, key");
		assert_true(row.num[IOM_COL_n_completed] == 100);
		assert_true(row.num[IOM_COL_faults] > 0);
		assert_true(row.num[IOM_COL_n_dup] == 0);
	}
}

/*
 * cq-overflow: 32 NOPs in flight, an SQ and CQ of 4. A NOP completes inside the enter that
 * submits it, so the second batch of 4 meets a full CQ: the overflow path is taken for sure.
 * FEAT_NODROP: every task still completes. The control (--sq-entries 4, a CQ with room) never
 * overflows. Other workloads and a deadline (two CQEs a task) conserve too.
 */
static void test_cq_overflow(void **state)
{
	static const enum iom_wl_kind wls[] = { IOM_WL_NOP, IOM_WL_TIMER, IOM_WL_RPC };
	const struct iom_model *ur = iom_model_find("uring");
	struct iom_cfg cfg = base(ur, IOM_WL_NOP);

	if (!iomt_model_available(ur, IOM_WL_NOP))
		return;
	cfg.concurrency = 32;
	cfg.batch_complete = 32;
	cfg.tasks = 3200;
	iomt_uo.sq_entries = 4;
	run_ok(&cfg, "sq-entries 4");
	assert_true(row.num[IOM_COL_n_completed] == 3200);
	assert_true(row.num[IOM_COL_cq_overflow] == 0);
	iomt_uo.sq_entries = 0;
	cfg.fault_cq_entries = 4;
	run_ok(&cfg, "cq-overflow:4");
	assert_true(row.num[IOM_COL_n_completed] == 3200);
	assert_true(row.num[IOM_COL_cq_overflow] > 0);
	assert_non_null(strstr(row.str[IOM_COL_variant], "cq=4"));
	assert_string_equal(row.str[IOM_COL_fault], "cq-overflow:4");

	for (size_t i = 0; i < sizeof(wls) / sizeof(wls[0]); i++) {
		cfg = base(ur, wls[i]);
		cfg.concurrency = 16;
		cfg.fault_cq_entries = 4;
		cfg.deadline_ns = 50000000;
		if (!iomt_model_available(ur, wls[i]))
			continue;
		run_ok(&cfg, "cq-overflow:4 with a deadline");
		assert_true(row.num[IOM_COL_n_completed] == 100);
	}
}

/* A fault a cell cannot have makes it "na", with the reason, and runs nothing. */
static void test_fault_na(void **state)
{
	struct iom_cfg cfg = base(iom_model_find("threads"), IOM_WL_NOP);

	cfg.fault_kill_ppm = 100000;
	assert_int_equal(iom_run_cell(&cfg, &row, &hist), 0);
	assert_string_equal(row.str[IOM_COL_status], "na");
	assert_non_null(strstr(row.str[IOM_COL_reason], "no worker pool"));
	cfg.fault_kill_ppm = 0;
	cfg.fault_cq_entries = 8;
	assert_int_equal(iom_run_cell(&cfg, &row, &hist), 0);
	assert_string_equal(row.str[IOM_COL_status], "na");
	cfg = base(iom_model_find("uring"), IOM_WL_NOP);
	cfg.fault_drop_ppm = 100000;
	assert_int_equal(iom_run_cell(&cfg, &row, &hist), 0);
	assert_string_equal(row.str[IOM_COL_status], "na");
	assert_non_null(strstr(row.str[IOM_COL_reason], "no connection"));
}

/*
 * Why faults and cancels on a SINGLE_ISSUER ring go through its submitter: any other thread's
 * submit is refused with -EEXIST. (iomodels draws every fault and sends every cancel from the
 * submitter that owns the ring.)
 */
struct ring_arg {
	struct io_uring *ring;
	int ret;
};

static void *submit_from_other(void *p)
{
	struct ring_arg *a = p;
	struct io_uring_sqe *sqe = io_uring_get_sqe(a->ring);

	io_uring_prep_nop(sqe);
	a->ret = io_uring_submit(a->ring);
	return NULL;
}

static void test_single_issuer_other_thread(void **state)
{
	struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER |
					      IORING_SETUP_DEFER_TASKRUN };
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct ring_arg a = { &ring, 0 };
	pthread_t th;
	int ret = io_uring_queue_init_params(8, &ring, &p);

	if (ret == -EINVAL || ret == -ENOSYS || ret == -EPERM || ret == -EACCES)
		iom_skip("io_uring SINGLE_ISSUER|DEFER_TASKRUN: %s", strerror(-ret));
	assert_int_equal(ret, 0);
	/* The first submit names the issuer. */
	io_uring_prep_nop(io_uring_get_sqe(&ring));
	assert_int_equal(io_uring_submit_and_wait(&ring, 1), 1);
	assert_int_equal(io_uring_peek_cqe(&ring, &cqe), 0);
	io_uring_cqe_seen(&ring, cqe);
	assert_int_equal(pthread_create(&th, NULL, submit_from_other, &a), 0);
	pthread_join(th, NULL);
	assert_int_equal(a.ret, -EEXIST);
	io_uring_queue_exit(&ring);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_worker),
		cmocka_unit_test(test_kill_after_expired),
		cmocka_unit_test(test_drop_conn),
		cmocka_unit_test(test_cq_overflow),
		cmocka_unit_test(test_fault_na),
		cmocka_unit_test(test_single_issuer_other_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
