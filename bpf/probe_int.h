/* SPDX-License-Identifier: MIT */
/* Helpers the probe loaders (sched.c, uring.c, syscalls.c) share; implemented in progs.c. */
#ifndef IOM_BPF_PROBE_INT_H
#define IOM_BPF_PROBE_INT_H

#include <stdint.h>

#include "core/err.h"

struct bpf_object;

/* What went missing or did not add up, by kind: summed into probe_lost, listed in a file. */
#define IOM_LOST_MAX	24
struct iom_lost {
	int nr;
	struct {
		const char *what;
		uint64_t count;
	} e[IOM_LOST_MAX];
};

static inline void iom_lost_add(struct iom_lost *l, const char *what, uint64_t count)
{
	if (l->nr < IOM_LOST_MAX) {
		l->e[l->nr].what = what;
		l->e[l->nr++].count = count;
	}
}

/* Events the kernel dropped before they reached a program of obj (recursion misses). */
uint64_t iom_bpf_misses(struct bpf_object *obj);
/*
 * Add the kernel's run-time statistics of obj's programs (BPF_ENABLE_STATS: time inside the
 * programs and how many times they ran, every event of the machine, ours or not) to *ns, *cnt.
 */
void iom_bpf_run_time(struct bpf_object *obj, uint64_t *ns, uint64_t *cnt);
/* Route libbpf's messages: silent unless IOM_BPF_VERBOSE=1 (then to stderr). */
void iom_bpf_quiet(void);
/* CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns(). */
uint64_t iom_bpf_now_ns(void);

#endif
