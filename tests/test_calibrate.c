// SPDX-License-Identifier: MIT
/* calibrate: every figure measured (positive) and ordered where physics orders them. */
#include "calibrate/calibrate.h"
#include "testutil.h"

#include <math.h>
#include <sys/socket.h>
#include <unistd.h>

#include "calibrate/echo.h"
#include "core/err.h"
#include "core/rpc.h"

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
	{
		/* Its CPUs (1, or 2 given 2 or more) / its CPU per request (calibrate.c). */
		double cpus = sysconf(_SC_NPROCESSORS_ONLN) < 2 ? 1 : 2;
		double ns_per_s = cal.backend_capacity_per_s * cal.backend_ns_per_request;

		if (fabs(ns_per_s - cpus * 1e9) > 1e-6 * cpus * 1e9)
			fail_msg("capacity %.0f/s x %.0f ns per request = %.0f CPU-ns per s, want %.0f",
				 cal.backend_capacity_per_s, cal.backend_ns_per_request, ns_per_s,
				 cpus * 1e9);
	}
	/* Every bare echo loop answered the fixed client, and its CPU was measured. */
	assert_true(cal.echo_blocking_per_s > 0 && cal.echo_blocking_cpu_us > 0);
	assert_true(cal.echo_epoll_per_s > 0 && cal.echo_epoll_cpu_us > 0);
	assert_true(cal.echo_uring_per_s > 0 && cal.echo_uring_cpu_us > 0);
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

#define ECHO_CONNS	8
#define ECHO_FRAMES	40
#define ECHO_PAYLOAD	40	/* 64 bytes a frame */

static bool recv_all(int fd, char *buf, size_t n)
{
	while (n) {
		ssize_t r = recv(fd, buf, n, 0);

		if (r <= 0)
			return false;
		buf += r;
		n -= (size_t)r;
	}
	return true;
}

/*
 * One round: ECHO_CONNS clients each send ECHO_FRAMES frames, one at a time, two at once
 * (pipelined) and one split in two sends (a frame across recvs), check every echo, and leave.
 */
static void echo_round(const struct iom_rpc_addr *addr, uint64_t base_id)
{
	int fds[ECHO_CONNS];
	struct iom_err err = { "" };

	for (int c = 0; c < ECHO_CONNS; c++) {
		fds[c] = iom_rpc_connect(addr, &err);
		assert_true(fds[c] >= 0);
	}
	for (int i = 0; i < ECHO_FRAMES; i += 2) {
		for (int c = 0; c < ECHO_CONNS; c++) {
			char req[2][64], rep[2][64];
			uint64_t id = base_id + (uint64_t)c * 1000 + (uint64_t)i;
			size_t len = iom_rpc_fill(req[0], id, 0, ECHO_PAYLOAD, 0);

			assert_int_equal(len, 64);
			iom_rpc_fill(req[1], id + 1, 0, ECHO_PAYLOAD, 0);
			if (i % 4 == 0) {	/* two frames in one send */
				assert_int_equal(send(fds[c], req, 128, MSG_NOSIGNAL), 128);
			} else {		/* split: 10 bytes, then the rest */
				assert_int_equal(send(fds[c], req[0], 10, MSG_NOSIGNAL), 10);
				usleep(200);
				assert_int_equal(send(fds[c], req[0] + 10, 118, MSG_NOSIGNAL), 118);
			}
			assert_true(recv_all(fds[c], rep[0], 128));
			assert_true(iom_rpc_reply_ok(rep[0], id, ECHO_PAYLOAD));
			assert_true(iom_rpc_reply_ok(rep[1], id + 1, ECHO_PAYLOAD));
		}
	}
	for (int c = 0; c < ECHO_CONNS; c++)
		close(fds[c]);
}

/*
 * Every bare echo loop answers every frame across two rounds of clients that connect, talk and
 * leave: a loop that stops accepting or re-arming after the first set left fails round two.
 */
static void test_echo_loops(void **state)
{
	for (int k = 0; k < IOM_NR_ECHO; k++) {
		struct iom_echo *e;
		struct iom_err err = { "" };
		struct iom_rpc_addr addr;
		uint64_t bytes, cpu_ns;
		char hostport[32];

		if (iom_echo_start((enum iom_echo_kind)k, -1, &e, &err))
			fail_msg("%s: %s", iom_echo_name((enum iom_echo_kind)k), err.msg);
		snprintf(hostport, sizeof(hostport), "127.0.0.1:%u", iom_echo_port(e));
		assert_int_equal(iom_rpc_addr_parse(&addr, hostport, &err), 0);
		echo_round(&addr, 1);
		echo_round(&addr, 1000000);
		iom_echo_stop(e, &bytes, &cpu_ns);
		print_message("%s: %llu bytes, %llu ns CPU\n", iom_echo_name((enum iom_echo_kind)k),
			      (unsigned long long)bytes, (unsigned long long)cpu_ns);
		assert_int_equal(bytes, 2ull * ECHO_CONNS * ECHO_FRAMES * 64);
		assert_true(cpu_ns > 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_loops),
		cmocka_unit_test(test_calibrate_ordered),
		cmocka_unit_test(test_probe_cost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
