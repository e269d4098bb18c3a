/* SPDX-License-Identifier: MIT */
/*
 * Samples of what the kernel accounts, taken at the window's edges: this process' CPU and
 * context switches (getrusage: every thread, io-wq workers included), the CPU set's busy and
 * steal time (/proc/stat), kernel memory (/proc/meminfo), RSS and thread count.
 */
#ifndef IOM_SYSSTAT_H
#define IOM_SYSSTAT_H

#include <sched.h>
#include <stdint.h>

#include "report.h"

struct iom_sample {
	uint64_t t_ns;
	uint64_t user_ns, sys_ns;	/* this process (the split is tick-proportional) */
	int64_t cpu_ns;			/* this process' scheduler run time (ns), or -1 */
	int nr_cpus;			/* CPUs the sample's threads may run on */
	uint64_t nvcsw, nivcsw;
	uint64_t busy_ns, steal_ns;	/* the CPU set (or every CPU), all processes */
	uint64_t irq_ns;		/* of busy: hard and soft interrupts (nobody's process time) */
	int64_t kmem_kb;		/* KernelStack + Slab + PageTables */
	int64_t rss_bytes;
	int64_t anon_bytes;		/* RssAnon: of rss_bytes, anonymous (not file) pages */
	int64_t threads;
	int64_t backend_ns;		/* rpc: the backend process' CPU (ns run time), or -1 */
	int64_t tcp_retrans;		/* RetransSegs of this network namespace, or -1 */
};

void iom_sample_take(struct iom_sample *s, const cpu_set_t *cpus);
/* Before a cell makes anything: the allocator trimmed, then a sample (rss_cell's baseline). */
void iom_sample_take_baseline(struct iom_sample *s, const cpu_set_t *cpus);
/*
 * CPU, switch, memory and thread columns from the window [s0, s1]; kmem relative to s_setup.
 * cpu_ns_per_task comes from the scheduler's ns run time when it can be read, and the row says
 * where it came from (cpu_source) and how far off it can be per task (cpu_res_ns_per_task).
 */
void iom_sample_fill_row(struct iom_row *row, const struct iom_sample *s_setup,
			 const struct iom_sample *s0, const struct iom_sample *s1, uint64_t tasks);

#endif
