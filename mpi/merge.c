// SPDX-License-Identifier: MIT
/*
 * The job's row from its ranks' rows. Latency comes only from the summed histogram (a
 * percentile of percentiles means nothing); counts and costs are summed; a mean per task is
 * weighted by each rank's tasks; what /proc/stat measures for the whole machine is counted once
 * per host, since ranks sharing a host each saw all of it.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/driver.h"
#include "merge.h"

#define R(col, rule) [IOM_COL_##col] = IOM_MERGE_##rule
static const unsigned char rules[IOM_NR_COLS] = {
	R(concurrency, SAME), R(jobs, SAME), R(rate_target, SAME), R(latency_us, SAME),
	R(deadline_us, SAME), R(cpu_work_us, SAME), R(bs, SAME), R(direct, SAME),
	R(size_bytes, SAME), R(batch_complete, SAME), R(seed, SAME), R(repeat, SAME),

	R(tasks, SUM), R(submitted, SUM), R(n_completed, SUM), R(n_failed, SUM),
	R(n_aborted, SUM), R(n_partial, SUM), R(n_expired, SUM), R(n_late, SUM), R(n_dup, SUM),
	R(retries, SUM), R(give_ups, SUM), R(faults, SUM), R(cpu_user_ns, SUM),
	R(cpu_sys_ns, SUM), R(cpu_backend_ns, SUM), R(threads, SUM), R(rss_bytes, SUM),
	R(harness_rss_bytes, SUM), R(cq_overflow, SUM), R(uring_punted, SUM),
	R(uring_inline, SUM), R(probe_lost, SUM), R(stale_reads, SUM), R(wrong_expired, SUM),
	R(reconnects, SUM), R(workers_replaced, SUM), R(achieved_ops_per_s, SUM),
	R(inflight_avg, SUM), R(rss_cell_bytes, SUM),

	R(cpu_ns_per_task, PER_TASK), R(vctx_per_task, PER_TASK), R(ivctx_per_task, PER_TASK),
	R(migrations_per_task, PER_TASK), R(syscalls_per_task, PER_TASK),
	R(oncpu_ns_per_task, PER_TASK), R(blocked_ns_per_task, PER_TASK),
	R(runq_ns_per_task, PER_TASK), R(wakeups_per_task, PER_TASK),
	R(probe_run_ns_per_task, PER_TASK), R(probe_runs_per_task, PER_TASK),
	R(status_reads_per_task, PER_TASK), R(enters_per_task, PER_TASK),
	R(cpu_res_ns_per_task, PER_TASK), R(expire_delay_ns, PER_EXPIRED),
	R(requests_per_task, PER_TASK), R(done_to_learned_ns, PER_TASK),

	R(backlog_max, MAX), R(drain_ns, MAX), R(runtime_ns, MAX),
	/* Each rank's own server (a shared remote one leaves them empty): the dearest. */
	R(srv_bytes_per_pending, MAX), R(srv_rss_per_pending, MAX),
	R(cache_before, MIN), R(cache_after, MIN),
	R(cpu_system_ns, HOST), R(cpu_steal_ns, HOST), R(kmem_bytes, HOST), R(tcp_retrans, HOST),
	R(cpu_foreign_ns, DERIVED),

	R(n_samples, DERIVED), R(lat_p50_ns, DERIVED), R(lat_p90_ns, DERIVED),
	R(lat_p99_ns, DERIVED), R(lat_p999_ns, DERIVED), R(lat_max_ns, DERIVED),
	R(lat_mean_ns, DERIVED), R(ops_per_s, DERIVED), R(ended_per_s, DERIVED),
	R(ops_per_cpu_s, DERIVED),
	R(ranks, DERIVED), R(rank_min_ops_per_s, DERIVED), R(rank_max_ops_per_s, DERIVED),
};
#undef R

enum iom_merge_rule iom_merge_rule_of(enum iom_col c)
{
	return (unsigned int)c < IOM_NR_COLS ? (enum iom_merge_rule)rules[c] : IOM_MERGE_UNSET;
}

/* The first rank on the same host as rank i. */
static unsigned int host_leader(const struct iom_rank_result *ranks, unsigned int i)
{
	for (unsigned int k = 0; k < i; k++)
		if (!strcmp(ranks[k].host, ranks[i].host))
			return k;
	return i;
}

/* A column a rank could not fill is NAN: it is left out, and NAN only if every rank's is. */
static double fold(const struct iom_rank_result *ranks, unsigned int n, enum iom_col c,
		   enum iom_merge_rule rule)
{
	double acc = NAN, weight = 0;

	for (unsigned int i = 0; i < n; i++) {
		double v = ranks[i].num[c], w = 1;

		if (isnan(v))
			continue;
		if (rule == IOM_MERGE_HOST && host_leader(ranks, i) != i)
			continue;
		if (rule == IOM_MERGE_PER_TASK || rule == IOM_MERGE_PER_EXPIRED) {
			w = ranks[i].num[rule == IOM_MERGE_PER_TASK ? IOM_COL_tasks : IOM_COL_n_expired];
			if (!(w > 0))
				continue;
			v *= w;
		}
		if (isnan(acc))
			acc = v;
		else if (rule == IOM_MERGE_MAX)
			acc = fmax(acc, v);
		else if (rule == IOM_MERGE_MIN)
			acc = fmin(acc, v);
		else
			acc += v;
		weight += w;
	}
	if (rule == IOM_MERGE_PER_TASK || rule == IOM_MERGE_PER_EXPIRED)
		return weight > 0 ? acc / weight : NAN;
	return acc;
}

/*
 * Other processes' CPU on our CPUs: each rank counted its host's other ranks as foreign, so
 * per host it is the first rank's figure less the CPU of the host's other ranks.
 */
static double foreign_cpu(const struct iom_rank_result *ranks, unsigned int n)
{
	double total = NAN;

	for (unsigned int i = 0; i < n; i++) {
		double f = ranks[i].num[IOM_COL_cpu_foreign_ns];

		if (host_leader(ranks, i) != i || isnan(f))
			continue;
		for (unsigned int k = i + 1; k < n; k++)
			if (!strcmp(ranks[k].host, ranks[i].host))
				f -= ranks[k].num[IOM_COL_cpu_user_ns] + ranks[k].num[IOM_COL_cpu_sys_ns];
		total = (isnan(total) ? 0 : total) + (f > 0 ? f : 0);
	}
	return total;
}

static void merge_flags(struct iom_row *row, const struct iom_rank_result *ranks, unsigned int n)
{
	char *f = row->str[IOM_COL_flags];

	f[0] = '\0';
	for (unsigned int i = 0; i < n; i++) {
		char copy[sizeof(ranks[i].flags)], *save = NULL;

		snprintf(copy, sizeof(copy), "%s", ranks[i].flags);
		for (char *tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
			size_t len = strlen(f), tl = strlen(tok);
			const char *hit = strstr(f, tok);

			/*
			 * Each flag once: a job where one rank saw it has it; but foreign_cpu is
			 * decided again on the job's figures (a rank counts its host's others).
			 */
			if ((hit && (hit == f || hit[-1] == ';') && (hit[tl] == ';' || !hit[tl])) ||
			    !strcmp(tok, "foreign_cpu"))
				continue;
			snprintf(f + len, sizeof(row->str[0]) - len, "%s%s", len ? ";" : "", tok);
		}
	}
}

static int status_rank(const char *s)
{
	static const char *const order[] = { "ok", "na", "unavailable", "error" };

	for (int i = 3; i >= 0; i--)
		if (!strcmp(s, order[i]))
			return i;
	return 3;
}

/* The job's status: its worst rank's, with that rank named when it is not rank 0's. */
static int merge_status(struct iom_row *row, const struct iom_rank_result *ranks, unsigned int n)
{
	unsigned int worst = 0;
	int ret = 0;

	for (unsigned int i = 0; i < n; i++) {
		if (status_rank(ranks[i].status) > status_rank(ranks[worst].status))
			worst = i;
		if (ranks[i].ret == IOM_EXIT_BUG || (ranks[i].ret && !ret))
			ret = ranks[i].ret;
	}
	snprintf(row->str[IOM_COL_status], sizeof(row->str[0]), "%s", ranks[worst].status);
	snprintf(row->str[IOM_COL_reason], sizeof(row->str[0]), "%s", ranks[worst].reason);
	if (worst)
		snprintf(row->str[IOM_COL_reason], sizeof(row->str[0]), "rank %u (%.60s): %.180s",
			 worst, ranks[worst].host, ranks[worst].reason);
	return ret;
}

/*
 * The job's rates over the longest rank's window (the windows start together: a barrier):
 * ops_per_s counts the tasks COMPLETED in each rank's window (its rate times its window),
 * ended_per_s every task that ended there.
 */
static void set_rates(struct iom_row *row, const struct iom_rank_result *ranks, unsigned int n)
{
	double lo = NAN, hi = NAN, completed = 0, *num = row->num;

	for (unsigned int i = 0; i < n; i++) {
		double r = ranks[i].num[IOM_COL_ops_per_s], t = ranks[i].num[IOM_COL_runtime_ns];

		if (isnan(r))
			continue;
		lo = isnan(lo) ? r : fmin(lo, r);
		hi = isnan(hi) ? r : fmax(hi, r);
		if (t > 0)
			completed += round(r * t / 1e9);
	}
	num[IOM_COL_ranks] = n;
	num[IOM_COL_rank_min_ops_per_s] = lo;
	num[IOM_COL_rank_max_ops_per_s] = hi;
	num[IOM_COL_ops_per_s] = num[IOM_COL_runtime_ns] > 0 ?
		completed * 1e9 / num[IOM_COL_runtime_ns] : NAN;
	num[IOM_COL_ended_per_s] = num[IOM_COL_runtime_ns] > 0 ?
		num[IOM_COL_tasks] * 1e9 / num[IOM_COL_runtime_ns] : NAN;
	num[IOM_COL_ops_per_cpu_s] = num[IOM_COL_cpu_ns_per_task] > 0 ?
		1e9 / num[IOM_COL_cpu_ns_per_task] : NAN;
}

int iom_mpi_merge(struct iom_row *row, const struct iom_hist *hist,
		  const struct iom_rank_result *ranks, unsigned int n)
{
	double terminal = 0;
	int ret;

	for (int c = 0; c < IOM_NR_COLS; c++) {
		enum iom_merge_rule rule = iom_merge_rule_of((enum iom_col)c);

		if (!iom_col_is_num((enum iom_col)c) || rule == IOM_MERGE_UNSET ||
		    rule == IOM_MERGE_SAME || rule == IOM_MERGE_DERIVED)
			continue;
		row->num[c] = fold(ranks, n, (enum iom_col)c, rule);
	}
	row->num[IOM_COL_cpu_foreign_ns] = foreign_cpu(ranks, n);
	iom_row_set_quantiles(row, hist);
	set_rates(row, ranks, n);
	merge_flags(row, ranks, n);
	/* As the driver decides it for one process. */
	if (row->num[IOM_COL_cpu_foreign_ns] > 0.02 * (row->num[IOM_COL_cpu_system_ns] > 0 ?
						       row->num[IOM_COL_cpu_system_ns] : 1)) {
		char *f = row->str[IOM_COL_flags];
		size_t len = strlen(f);

		snprintf(f + len, sizeof(row->str[0]) - len, "%sforeign_cpu", len ? ";" : "");
	}
	ret = merge_status(row, ranks, n);

	/* Ranks started with other options (mpirun's "a : b" form) ran other cells. */
	for (unsigned int i = 1; i < n; i++) {
		if (!strcmp(ranks[i].cell, ranks[0].cell))
			continue;
		snprintf(row->str[IOM_COL_status], sizeof(row->str[0]), "error");
		snprintf(row->str[IOM_COL_reason], sizeof(row->str[0]),
			 "rank %u ran another cell (%.80s), not rank 0's: one row cannot hold both",
			 i, ranks[i].cell);
		break;
	}
	/* Conservation on the sum too (each rank's driver checked its own). */
	for (enum iom_col c = IOM_COL_n_completed; c <= IOM_COL_n_expired; c++)
		terminal += isnan(row->num[c]) ? 0 : row->num[c];
	if (!isnan(row->num[IOM_COL_submitted]) && row->num[IOM_COL_submitted] != terminal) {
		snprintf(row->str[IOM_COL_status], sizeof(row->str[0]), "error");
		snprintf(row->str[IOM_COL_reason], sizeof(row->str[0]),
			 "bug: the job's submitted %.0f != terminal %.0f",
			 row->num[IOM_COL_submitted], terminal);
		ret = IOM_EXIT_BUG;
	}
	return ret;
}
