// SPDX-License-Identifier: MIT
/* calibrate: every figure measured (positive) and ordered where physics orders them. */
#include "calibrate/calibrate.h"
#include "testutil.h"

#include <math.h>
#include <unistd.h>

#include "core/err.h"

static void test_calibrate_ordered(void **state)
{
	struct iom_calibration cal;

	assert_int_equal(iom_calibrate(&cal), 0);
	iom_calibration_print(&cal, stdout, false);
	assert_true(cal.syscall_ns > 0);
	assert_true(cal.clock_gettime_ns > 0);
	assert_true(cal.memcpy_4k_ns > 0);
	assert_true(cal.tcp_rtt_ns > 0);
	assert_true(cal.timer_overshoot_ns > 0);
	if (cal.uring_nop_d1_ns < 0)
		iom_skip("io_uring unavailable (%.0f)", cal.uring_nop_d1_ns);
	assert_true(cal.uring_nop_d128_ns > 0);
	/* A switch to another thread and back is a syscall plus a switch. */
	assert_true(cal.ctx_switch_ns > cal.syscall_ns);
	/* Batching amortises the enter: 128 NOPs per syscall cost less each than 1. */
	assert_true(cal.uring_nop_d128_ns < cal.uring_nop_d1_ns);
	/* vDSO clock reads never enter the kernel. */
	assert_true(cal.clock_gettime_ns < cal.syscall_ns);
	/* The backend's capacity is measured, and is what its CPU per request allows. */
	assert_true(cal.backend_ns_per_request > 0);
	assert_true(cal.backend_capacity_per_s > 0);
	if (cal.wakeup_cross_cpu_ns >= 0)
		assert_true(cal.wakeup_cross_cpu_ns >= cal.wakeup_same_cpu_ns);
}

/*
 * calibrate --probes: the sched probe really followed the ping-pong's two threads, and each
 * figure is a median inside its 95% interval. (How much the probes cost is a benchmark's
 * question, not a test's: no bound on the ns.)
 */
static void test_probe_cost(void **state)
{
	struct iom_probe_cost pc;
	struct iom_err err = { 0 };
	int ret;

	if (geteuid() != 0)
		iom_skip("BPF probes need root (euid %u)", (unsigned int)geteuid());
	ret = iom_calibrate_probe_cost("on", &pc, &err);
	if (ret)
		fail_msg("iom_calibrate_probe_cost: %s", err.msg);
	iom_probe_cost_print(&pc, "on", stdout, false);
	assert_true(pc.off_ns > 0);
	assert_true(pc.ours_slots >= 2);
	assert_true(isfinite(pc.ours_ns) && isfinite(pc.other_ns));
	assert_true(pc.ours_lo_ns <= pc.ours_ns && pc.ours_ns <= pc.ours_hi_ns);
	assert_true(pc.other_lo_ns <= pc.other_ns && pc.other_ns <= pc.other_hi_ns);
	/* A list without the sched probe is measured too, and takes no thread records. */
	ret = iom_calibrate_probe_cost("uring", &pc, &err);
	if (ret)
		fail_msg("iom_calibrate_probe_cost uring: %s", err.msg);
	assert_int_equal(pc.ours_slots, 0);
	/* A bad list is an error with a message, not a measurement. */
	err.msg[0] = 0;
	assert_true(iom_calibrate_probe_cost("nosuch", &pc, &err) < 0);
	assert_true(err.msg[0] != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_calibrate_ordered),
		cmocka_unit_test(test_probe_cost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
