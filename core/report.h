/* SPDX-License-Identifier: MIT */
/*
 * Results: one row per cell (model x workload x parameters x repeat) in runs.csv and in
 * run.json, plus the run's metadata and the raw histograms. A numeric column that this run
 * cannot fill is NAN and is written empty (CSV) or null (JSON), never 0.
 */
#ifndef IOM_REPORT_H
#define IOM_REPORT_H

#include <stdio.h>

#include "hist.h"

/* DESIGN §6 columns in order, then this project's extra ones, then status and reason. */
#define IOM_COLUMNS(S, N)                                                                        \
	S(model) S(workload) N(concurrency) N(jobs) S(cpus) S(mode) N(rate_target) N(tasks)     \
	N(n_samples) N(runtime_ns) N(ops_per_s) N(ops_per_cpu_s) N(inflight_avg) N(lat_p50_ns)   \
	N(lat_p90_ns) N(lat_p99_ns) N(lat_p999_ns) N(lat_max_ns) N(cpu_user_ns) N(cpu_sys_ns)    \
	N(cpu_system_ns) N(cpu_steal_ns) N(cpu_backend_ns) N(cpu_foreign_ns) N(cpu_ns_per_task)  \
	N(vctx_per_task) N(ivctx_per_task) N(migrations_per_task) N(threads) N(rss_bytes)        \
	N(kmem_bytes) N(syscalls_per_task) N(oncpu_ns_per_task) N(blocked_ns_per_task)           \
	N(runq_ns_per_task) N(cache_before) N(cache_after) N(tcp_retrans) N(n_completed)         \
	N(n_failed) N(n_aborted) N(n_partial) N(n_expired) N(n_late) N(n_dup) N(retries)         \
	N(give_ups) N(faults) S(fault)                                                           \
	N(repeat) S(variant) N(latency_us) S(latency_dist) N(deadline_us) N(cpu_work_us) N(bs)   \
	S(rw) N(direct) N(size_bytes) N(batch_complete) N(seed) N(submitted) N(achieved_ops_per_s) \
	N(backlog_max) N(lat_mean_ns) N(cq_overflow) S(probes) N(wakeups_per_task)            \
	N(uring_punted) N(uring_inline) N(probe_lost) N(probe_run_ns_per_task)             \
	N(probe_runs_per_task) N(status_reads_per_task) N(stale_reads)  \
	N(wrong_expired) N(expire_delay_ns) N(drain_ns) N(enters_per_task) N(reconnects)       \
	N(workers_replaced) N(harness_rss_bytes) S(cpu_source) N(cpu_res_ns_per_task)             \
	N(rss_cell_bytes) S(mem_isolation) N(ended_per_s) N(ranks) N(rank_min_ops_per_s)        \
	N(rank_max_ops_per_s) S(api) N(requests_per_task) N(done_to_learned_ns)               \
	N(srv_bytes_per_pending) N(srv_rss_per_pending)                                         \
	S(flags) S(status) S(reason)

#define IOM_COL_ENUM(name) IOM_COL_##name,
enum iom_col { IOM_COLUMNS(IOM_COL_ENUM, IOM_COL_ENUM) IOM_NR_COLS };
#undef IOM_COL_ENUM

struct iom_row {
	/* Exactly one of str[i] / num[i] is meaningful, by the column's kind. */
	char str[IOM_NR_COLS][256];
	double num[IOM_NR_COLS];
};

/* Every numeric column NAN, every string empty. */
void iom_row_init(struct iom_row *row);
const char *iom_col_name(enum iom_col c);
/* A duration for a person: 850ns, 12.3us, 1.25ms, 2.00s; "-" for NAN. */
void iom_fmt_ns(char *buf, size_t len, double ns);
int iom_col_is_num(enum iom_col c);

struct iom_report;

enum iom_report_mode {
	IOM_REPORT_REPLACE,	/* files rewritten in place, the directory not checked */
	IOM_REPORT_NEW,		/* refused (-EEXIST) if dir holds a run */
	IOM_REPORT_UNIQUE,	/* dir, or the first free of dir-2, dir-3...: written back */
	IOM_REPORT_APPEND,	/* rows added to dir's run (same header), or a new run */
	IOM_REPORT_FORCE,	/* the run in dir (its rows, series, figures) removed first */
};

/*
 * Create dir (and parents) and open runs.csv (header written), run.json and hist.csv in it,
 * as mode says; argc/argv are recorded verbatim. Returns NULL with a one-line message in
 * errbuf and -errno in *why (may be NULL): -EEXIST, -EBUSY (another run is writing there) and
 * -EPROTO (--append to a run of other columns) are the directory refusing, nothing written.
 */
struct iom_report *iom_report_open_mode(char *dir, size_t dirlen, enum iom_report_mode mode,
					int argc, char **argv, char *errbuf, size_t errlen,
					int *why);
/* iom_report_open_mode(IOM_REPORT_REPLACE). */
struct iom_report *iom_report_open(const char *dir, int argc, char **argv, char *errbuf,
				   size_t errlen);
/* Rows the run holds (an appended run's earlier ones included): the next row's index. */
unsigned long iom_report_nrows(const struct iom_report *r);
/*
 * Append one row to runs.csv and hist.csv (hist may be NULL; labelled with the row index) and
 * to run.json, each on disk before it returns. 0, or -errno with every file as before the row
 * and the reason (the errno by name) in iom_report_errmsg().
 */
int iom_report_row(struct iom_report *r, const struct iom_row *row, const struct iom_hist *hist);
const char *iom_report_errmsg(const struct iom_report *r);

struct iom_model;
/* "async,batch,cancel,deadline,cq": a model's caps as `list --caps` and models.csv say them. */
void iom_caps_format(unsigned int caps, char *buf, size_t len);
/*
 * models.csv (model,caps,desc) from each model's own struct, NULL-terminated list, so a plain
 * run says what every model is and does; 0 or -errno (iom_report_errmsg says why).
 */
int iom_report_models(struct iom_report *r, const struct iom_model *const *models);
/* models.csv's text: name, caps, and what each model says of itself (list --caps --csv). */
void iom_models_csv(FILE *f, const struct iom_model *const *models);
/* Attach a named JSON-able string/number to the run's metadata (e.g. "timer_slack_ns"). */
void iom_report_meta_str(struct iom_report *r, const char *key, const char *val);
void iom_report_meta_num(struct iom_report *r, const char *key, double val);
/* Write run.json (metadata + rows) and close everything; errbuf (may be NULL) gets why not. */
int iom_report_finish(struct iom_report *r, char *errbuf, size_t errlen);
int iom_report_close(struct iom_report *r);

#endif
