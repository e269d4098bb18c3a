// SPDX-License-Identifier: MIT
/*
 * The threads model's own promises (threads/threads.c): C in-flight tasks are C threads, and a
 * cancel interrupts the blocking call itself (a signal, EINTR), so a task blocked in a sleep or
 * a recv ends ABORTED at once, not when its call would have returned.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "tests/testutil.h"
#include "tests/helpers.h"

static struct iom_row row;
static struct iom_hist hist;

/* The seed's sync client: one thread per task in flight (the row's threads: C and main). */
static void test_thread_per_task(void **state)
{
	const struct iom_model *m = iom_model_find("threads");
	struct iom_cfg cfg;

	(void)state;
	assert_non_null(m);
	cfg = iomt_cfg(m, IOM_WL_TIMER, 32, NULL);
	cfg.runtime_ns = 200000000ull;
	iomt_run_ok(&cfg, &row, &hist);
	if (row.num[IOM_COL_threads] < 33)
		fail_msg("C=32: %g threads, not one a task", row.num[IOM_COL_threads]);
}

struct blocked {
	struct iomt_hand h;
	struct iom_cfg cfg;
	_Atomic bool ready;
	int submit_ret;
};

/* A sync model binds its context to the thread that sets it up: that thread submits. */
static void *blocked_submit(void *arg)
{
	struct blocked *b = arg;

	iomt_hand_setup(&b->h);
	iom_task_start(&b->h.t, iom_now_ns());
	atomic_store(&b->ready, true);
	b->submit_ret = b->cfg.model->submit(&b->h.ctx, &b->h.t);
	return NULL;
}

/* One task of wl, its call 5 s long, cancelled 20 ms into it: ABORTED within a second. */
static void cancel_blocked(enum iom_wl_kind wl)
{
	static struct blocked b;
	uint64_t t0, took;
	pthread_t th;

	memset(&b, 0, sizeof(b));
	b.cfg = iomt_cfg(iom_model_find("threads"), wl, 1, NULL);
	b.cfg.wl.latency_ns = 5000000000ull;
	iomt_hand_prepare(&b.h, &b.cfg);
	assert_int_equal(pthread_create(&th, NULL, blocked_submit, &b), 0);
	while (!atomic_load(&b.ready))
		usleep(1000);
	usleep(20000);
	t0 = iom_now_ns();
	assert_int_equal(b.cfg.model->cancel(&b.h.ctx, &b.h.t), 0);
	pthread_join(th, NULL);
	took = iom_now_ns() - t0;
	print_message("threads %s: %s %.1f ms after the cancel\n", iom_wl_name(wl),
		      iom_state_name(atomic_load(&b.h.t.state)), took / 1e6);
	assert_int_equal(b.submit_ret, IOM_Q_DONE);
	assert_int_equal(atomic_load(&b.h.t.state), IOM_ABORTED);
	assert_true(took < 1000000000ull);
	iomt_hand_close(&b.h);
}

static void test_cancel_interrupts_sleep(void **state)
{
	(void)state;
	cancel_blocked(IOM_WL_TIMER);
}

static void test_cancel_interrupts_recv(void **state)
{
	(void)state;
	cancel_blocked(IOM_WL_RPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thread_per_task),
		cmocka_unit_test(test_cancel_interrupts_sleep),
		cmocka_unit_test(test_cancel_interrupts_recv),
	};

	return cmocka_run_group_tests(tests, iomt_tmpdir_setup, iomt_tmpdir_teardown);
}
