// SPDX-License-Identifier: MIT
/* Kernel-accounted CPU, switches and memory at the window's edges (see sysstat.h). */
#include <ctype.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "sysstat.h"

static uint64_t tv_ns(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000ull;
}

/* Busy (user+nice+system+irq+softirq) and steal of the CPUs in the set, from /proc/stat. */
static void read_proc_stat(struct iom_sample *s, const cpu_set_t *cpus)
{
	unsigned long long v[8];
	double tick_ns = 1e9 / (double)sysconf(_SC_CLK_TCK);
	char line[512];
	FILE *f = fopen("/proc/stat", "re");

	s->busy_ns = s->steal_ns = s->irq_ns = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		int cpu;

		if (strncmp(line, "cpu", 3))
			break;
		if (cpus) {
			if (!isdigit((unsigned char)line[3]))
				continue;
			cpu = atoi(line + 3);
			if (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, cpus))
				continue;
		} else if (line[3] != ' ') {
			continue;
		}
		if (sscanf(strchr(line, ' '), "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
			   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
			continue;
		/* user nice system idle iowait irq softirq steal */
		s->busy_ns += (uint64_t)((double)(v[0] + v[1] + v[2] + v[5] + v[6]) * tick_ns);
		s->steal_ns += (uint64_t)((double)v[7] * tick_ns);
		s->irq_ns += (uint64_t)((double)(v[5] + v[6]) * tick_ns);
	}
	fclose(f);
}

/* The scheduler tick in ns (a coarse clock's resolution is one tick); 0 when unknown. */
static double kernel_tick_ns(void)
{
	struct timespec res;

	if (clock_getres(CLOCK_MONOTONIC_COARSE, &res))
		return 0;
	return (double)res.tv_sec * 1e9 + (double)res.tv_nsec;
}

static int64_t meminfo_kb(void)
{
	static const char *const keys[] = { "KernelStack:", "Slab:", "PageTables:" };
	char line[256];
	int64_t total = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strncmp(line, keys[i], strlen(keys[i])))
				total += strtoll(line + strlen(keys[i]), NULL, 10);
	fclose(f);
	return total;
}

static void read_self_status(struct iom_sample *s)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	s->rss_bytes = s->threads = s->anon_bytes = -1;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmRSS:", 6))
			s->rss_bytes = strtoll(line + 6, NULL, 10) * 1024;
		else if (!strncmp(line, "RssAnon:", 8))
			s->anon_bytes = strtoll(line + 8, NULL, 10) * 1024;
		else if (!strncmp(line, "Threads:", 8))
			s->threads = strtoll(line + 8, NULL, 10);
	}
	fclose(f);
}

/* TCP segments retransmitted in this network namespace (/proc/net/snmp, "Tcp:" lines). */
static int64_t tcp_retrans_segs(void)
{
	char head[1024], vals[1024], *hs, *vs, *h, *v;
	int64_t ret = -1;
	FILE *f = fopen("/proc/net/snmp", "re");

	if (!f)
		return -1;
	while (fgets(head, sizeof(head), f)) {
		if (strncmp(head, "Tcp:", 4) || !fgets(vals, sizeof(vals), f))
			continue;
		h = strtok_r(head, " \n", &hs);
		v = strtok_r(vals, " \n", &vs);
		while (h && v) {
			if (!strcmp(h, "RetransSegs"))
				ret = strtoll(v, NULL, 10);
			h = strtok_r(NULL, " \n", &hs);
			v = strtok_r(NULL, " \n", &vs);
		}
		break;
	}
	fclose(f);
	return ret;
}

void iom_sample_take(struct iom_sample *s, const cpu_set_t *cpus)
{
	struct rusage ru;

	s->t_ns = iom_now_ns();
	s->backend_ns = -1;
	s->tcp_retrans = tcp_retrans_segs();
	getrusage(RUSAGE_SELF, &ru);
	s->user_ns = tv_ns(ru.ru_utime);
	s->sys_ns = tv_ns(ru.ru_stime);
	s->nvcsw = (uint64_t)ru.ru_nvcsw;
	s->nivcsw = (uint64_t)ru.ru_nivcsw;
	{
		struct timespec ts;

		s->cpu_ns = clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) ? -1 :
			    (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
	}
	s->nr_cpus = cpus ? CPU_COUNT(cpus) : (int)sysconf(_SC_NPROCESSORS_ONLN);
	read_proc_stat(s, cpus);
	s->kmem_kb = meminfo_kb();
	read_self_status(s);
}

void iom_sample_take_baseline(struct iom_sample *s, const cpu_set_t *cpus)
{
	/*
	 * Heap the cells before freed goes back to the kernel, so this cell's allocations fault
	 * in pages of their own instead of reusing resident ones counted in the baseline.
	 */
	malloc_trim(0);
	iom_sample_take(s, cpus);
}

static double max_or_nan(int64_t a, int64_t b)
{
	int64_t m = a > b ? a : b;

	return m >= 0 ? (double)m : NAN;
}

void iom_sample_fill_row(struct iom_row *row, const struct iom_sample *s_setup,
			 const struct iom_sample *s0, const struct iom_sample *s1, uint64_t tasks)
{
	double n = tasks ? (double)tasks : NAN;
	double user = (double)(s1->user_ns - s0->user_ns), sys = (double)(s1->sys_ns - s0->sys_ns);
	double busy = (double)s1->busy_ns - (double)s0->busy_ns;

	double ours = s0->cpu_ns >= 0 && s1->cpu_ns >= 0 ? (double)(s1->cpu_ns - s0->cpu_ns) :
							    user + sys;
	/*
	 * The process' CPU clock is the scheduler's ns run time (getrusage's user+sys sums to it
	 * too; only their split is by ticks), read at 1 ns. What it misses at an edge: a thread of
	 * ours running on another CPU then, whose time since its last tick is not summed yet (at
	 * most one tick per such CPU, none on a one-CPU set: the sampler runs there).
	 */
	double tick = kernel_tick_ns();
	struct timespec clk_res = { 0, 1 };
	double res;

	clock_getres(CLOCK_PROCESS_CPUTIME_ID, &clk_res);
	res = s0->cpu_ns >= 0 ? 2.0 * ((double)clk_res.tv_nsec + (s1->nr_cpus - 1) * tick) :
				2.0 * 1000;

	row->num[IOM_COL_cpu_user_ns] = user;
	row->num[IOM_COL_cpu_sys_ns] = sys;
	row->num[IOM_COL_cpu_ns_per_task] = ours / n;
	row->num[IOM_COL_cpu_system_ns] = busy;
	row->num[IOM_COL_cpu_steal_ns] = (double)(s1->steal_ns - s0->steal_ns);
	double backend = s0->backend_ns >= 0 && s1->backend_ns >= 0 ?
				 (double)(s1->backend_ns - s0->backend_ns) : NAN;

	/*
	 * On loopback the kernel charges each side's TCP receive to the sender, so an rpc task's
	 * CPU is ours + the backend's (+ softirq, inside the system figure). The backend's CPU
	 * clock misses what its threads ran since their last tick on any CPU they run on then.
	 * The /proc/stat figures (system, steal, foreign) are tick-based: 4 ms at HZ 250.
	 */
	row->num[IOM_COL_cpu_backend_ns] = backend;
	snprintf(row->str[IOM_COL_cpu_source], sizeof(row->str[0]), "%s%s",
		 s0->cpu_ns >= 0 ? "sched_ns" : "rusage",
		 isnan(backend) ? "" : "+backend_sched_ns");
	if (!isnan(backend)) {
		row->num[IOM_COL_cpu_ns_per_task] = (ours + backend) / n;
		res += 2.0 * (double)sysconf(_SC_NPROCESSORS_ONLN) * tick;
	}
	/* Unknown tick (no kernel config to read): no bound to give. */
	row->num[IOM_COL_cpu_res_ns_per_task] = tick > 0 || (s0->cpu_ns < 0 && isnan(backend)) ?
						       res / n : NAN;
	busy -= isnan(backend) ? 0 : backend;
	/*
	 * Interrupt time (our own I/O completions among it) is in no process' rusage: leave it
	 * out of "foreign", which is meant for other processes on our CPUs.
	 */
	busy -= (double)(s1->irq_ns - s0->irq_ns);
	row->num[IOM_COL_cpu_foreign_ns] = busy - user - sys > 0 ? busy - user - sys : 0;
	row->num[IOM_COL_vctx_per_task] = (double)(s1->nvcsw - s0->nvcsw) / n;
	row->num[IOM_COL_ivctx_per_task] = (double)(s1->nivcsw - s0->nivcsw) / n;
	/*
	 * Threads and memory at whichever edge saw more: at the window's start io-wq workers may
	 * not exist yet, at its end submitters may already have left.
	 */
	row->num[IOM_COL_threads] = max_or_nan(s0->threads, s1->threads);
	row->num[IOM_COL_rss_bytes] = max_or_nan(s0->rss_bytes, s1->rss_bytes);
	/*
	 * The cell's own: anonymous memory (heap, stacks, buffers, rings) at the window's edges
	 * over what the process held before the cell made anything. File pages are left out: a
	 * forked cell faults in code its parent had mapped. See docs/results.md.
	 */
	if (s_setup->anon_bytes >= 0 && (s0->anon_bytes >= 0 || s1->anon_bytes >= 0)) {
		row->num[IOM_COL_rss_cell_bytes] = max_or_nan(s0->anon_bytes, s1->anon_bytes) -
						   (double)s_setup->anon_bytes;
		snprintf(row->str[IOM_COL_mem_isolation], sizeof(row->str[0]), "in-process");
	}
	row->num[IOM_COL_kmem_bytes] = s_setup->kmem_kb >= 0 ?
		(max_or_nan(s0->kmem_kb, s1->kmem_kb) - (double)s_setup->kmem_kb) * 1024 : NAN;
}
