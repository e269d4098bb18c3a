// SPDX-License-Identifier: MIT
/*
 * What the probe loaders (probe.c, sched.c, uring.c, syscalls.c) share of libbpf: kept apart from
 * probe.c so that the loaders it calls do not call back into it.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "probe_int.h"

static bool bpf_verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return bpf_verbose ? vfprintf(stderr, fmt, ap) : 0;
}

void iom_bpf_quiet(void)
{
	const char *v = getenv("IOM_BPF_VERBOSE");

	bpf_verbose = v && !strcmp(v, "1");
	libbpf_set_print(libbpf_print);
}

uint64_t iom_bpf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void iom_bpf_run_time(struct bpf_object *obj, uint64_t *ns, uint64_t *cnt)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info;
		uint32_t len = sizeof(info);
		int fd = bpf_program__fd(prog);

		memset(&info, 0, sizeof(info));
		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len)) {
			*ns += info.run_time_ns;
			*cnt += info.run_cnt;
		}
	}
}

uint64_t iom_bpf_misses(struct bpf_object *obj)
{
	struct bpf_program *prog;
	uint64_t sum = 0;

	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info;
		uint32_t len = sizeof(info);
		int fd = bpf_program__fd(prog);

		memset(&info, 0, sizeof(info));
		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			sum += info.recursion_misses;
	}
	return sum;
}
