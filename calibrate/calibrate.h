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
};

int iom_calibrate(struct iom_calibration *cal);
/* A table for people, or CSV "name,value_ns,what". */
void iom_calibration_print(const struct iom_calibration *cal, FILE *f, bool csv);

#endif
