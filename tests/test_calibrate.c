// SPDX-License-Identifier: MIT
/* calibrate: every figure measured (positive) and ordered where physics orders them. */
#include "calibrate/calibrate.h"
#include "testutil.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_calibrate_ordered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
