/* SPDX-License-Identifier: MIT */
/* iomodels calibrate: this machine's limits (see calibrate.c). A value < 0 is -errno. */
#ifndef IOM_CALIBRATE_H
#define IOM_CALIBRATE_H

#include <stdbool.h>
#include <stdio.h>

struct iom_calibration {
	double syscall_ns, clock_gettime_ns, memcpy_4k_ns;
	double ctx_switch_ns, wakeup_same_cpu_ns, wakeup_cross_cpu_ns;
	double uring_nop_d1_ns, uring_nop_d128_ns;
	double timer_overshoot_ns, timer_slack_ns;
	double tcp_rtt_ns;
	double backend_ns_per_request;	/* rpc backend CPU per request (service time 0) */
	double backend_capacity_per_s;	/* requests/s its CPUs could serve: cpus / cost */
	/* Bare echo loops (calibrate/echo.h) under one fixed client: the servers' floor. */
	double echo_blocking_per_s, echo_blocking_cpu_us;
	double echo_epoll_per_s, echo_epoll_cpu_us;
	double echo_uring_per_s, echo_uring_cpu_us;
};

int iom_calibrate(struct iom_calibration *cal);

/*
 * A set of calibrate.csv's figures: bit iom_calibration_field(name) for each. Only the probes
 * behind the set run (iomodels calibrate --only); the other figures are left 0.
 */
#define IOM_CAL_ALL	(~0ull)
int iom_calibration_field(const char *name);	/* its bit, or -1 for no such figure */
int iom_calibrate_some(struct iom_calibration *cal, unsigned long long fields);

/*
 * What a probe list costs per context switch (iomodels calibrate --probes LIST): a pipe
 * ping-pong between two threads on one CPU, without the probes and with them loaded and their
 * window open, in pairs (ABBA order). `ours`: the probes follow the ping-pong's process, so
 * every switch runs their full work; `other`: they follow another process, so every switch
 * costs only the tracepoint's dispatch and the check that it is not ours (what the probes add
 * to the rest of the machine). Each: the median of the pairs' differences in ns per switch
 * and a distribution-free 95% interval.
 */
#define IOM_PROBE_COST_PAIRS 9
struct iom_probe_cost {
	double off_ns;			/* a switch without probes: median of every unprobed round */
	double ours_ns, ours_lo_ns, ours_hi_ns;
	double other_ns, other_lo_ns, other_hi_ns;
	unsigned long long ours_slots;	/* threads the probe took a record for (ours: >= 2) */
};
struct iom_err;
int iom_calibrate_probe_cost(const char *list, struct iom_probe_cost *pc, struct iom_err *err);
void iom_probe_cost_print(const struct iom_probe_cost *pc, const char *list, FILE *f, bool csv);
/* A table for people, or CSV "name,value_ns,what". */
void iom_calibration_print(const struct iom_calibration *cal, FILE *f, bool csv);
void iom_calibration_print_some(const struct iom_calibration *cal, unsigned long long fields,
				FILE *f, bool csv);

#endif
