/* SPDX-License-Identifier: MIT */
/*
 * The driver: one submit/reap loop for every model, closed or open loop, with a ramp, a
 * measured window, a drain, and the end-of-run invariant (submitted == sum of terminal states).
 */
#ifndef IOM_DRIVER_H
#define IOM_DRIVER_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "opt.h"
#include "report.h"
#include "workload.h"

struct iom_model;
struct iom_live;

enum iom_on_partial { IOM_PARTIAL_RESUBMIT, IOM_PARTIAL_ACCEPT };
enum iom_backoff { IOM_BACKOFF_NONE, IOM_BACKOFF_EXP, IOM_BACKOFF_EXP_JITTER };
enum iom_rate_process { IOM_RATE_UNIFORM, IOM_RATE_POISSON };

/* Exit code of a run whose counts do not add up. */
#define IOM_EXIT_BUG 3

/* One cell's parameters. */
struct iom_cfg {
	const struct iom_model *model;
	struct iom_wl_params wl;
	unsigned int concurrency;	/* C: tasks in flight */
	unsigned int jobs;		/* J: submitter threads of an async model (0 = 1) */
	cpu_set_t cpus;
	bool cpus_set;
	char cpus_str[128];
	uint64_t tasks;			/* measured tasks; 0 = measure for runtime_ns */
	uint64_t runtime_ns;
	uint64_t ramp_ns;
	double rate;			/* open loop: tasks/s; 0 = closed loop */
	enum iom_rate_process rate_process;
	uint64_t deadline_ns;		/* relative; 0 = none */
	uint64_t cpu_work_ns;		/* CPU work per completed task, done by the submitter */
	unsigned int batch_complete;	/* reap waits for this many (0: auto, see below) */
	enum iom_on_partial on_partial;
	/* Per terminal state: retry (a new attempt of the same task, same id) or not. */
	bool retry_expired, retry_failed;
	unsigned int retry_max;		/* attempts after the first */
	enum iom_backoff backoff;
	uint64_t backoff_base_ns, backoff_cap_ns;
	/*
	 * --fault errno:E@P: that fraction (parts per million) of operations ends FAILED with -E.
	 * Read with __atomic_load_n at each attempt's start, so a live view may change it.
	 */
	int fault_errno;
	uint32_t fault_ppm;
	/* --fault kill-worker@P, drop-conn@P: fractions (ppm) of attempts armed with each. */
	uint32_t fault_kill_ppm, fault_drop_ppm;
	/* --fault cq-overflow:E: uring's CQ (and SQ) get E entries, so completions overflow. */
	unsigned int fault_cq_entries;
	bool verify;			/* check every read's bytes against the file's pattern */
	/*
	 * The models' own options (core/opt.h), one struct per model; a model reads its own with
	 * iom_cfg_model_opts(), which gives its defaults when cfg names none for it.
	 */
	const struct iom_model_opts *model_opts;
	unsigned int nr_model_opts;
	unsigned int repeat;
	bool progress;			/* a status line each second on stderr */
	const char *label;		/* for the status line */
	const char *probes;		/* --probes LIST, NULL or "off" = none */
	const char *timeline;		/* --timeline FILE */
	const char *out_dir;		/* the run's results directory (may be NULL) */
	unsigned int row_index;		/* this cell's row in runs.csv (for file names) */
	/*
	 * A live view's hook (live.h: knobs read once per task, events reported through the
	 * view's ops; ui/ fills it for watch and demo); NULL for every other run. With it,
	 * concurrency is the most tasks in flight (the slots and threads made) and the knob how
	 * many of them are used; deadline_ns only sizes what a model allocates for deadlines (the
	 * knob's is applied).
	 */
	struct iom_live *live;
	/* Filled by iom_run_cell from the model's caps. */
	unsigned int depth_per_job;
};

/*
 * The defaults of `iomodels run` given no option, for every caller that builds a cell: a 1 ms
 * timer workload (seed 1; a 1 GiB file of 4 KiB blocks, a 64-byte rpc payload when asked),
 * 3 s measured, batch_complete auto, 3 retries with jittered exponential backoff 1..100 ms
 * when retries are on. Model, concurrency and everything else: zero. A model's own options
 * default to its table's (iom_cfg_model_opts() with no model_opts).
 */
void iom_cfg_init(struct iom_cfg *cfg);

/*
 * Run one cell and fill row (and hist, the merged latency histogram of the window). Returns 0
 * when the row is valid (whatever its status), IOM_EXIT_BUG when the invariant broke (row's
 * reason holds the "bug:" line), or 130 when interrupted.
 */
int iom_run_cell(const struct iom_cfg *cfg, struct iom_row *row, struct iom_hist *hist);

/* The latency columns (p50 ... max, mean, n_samples) from a cell's merged histogram. */
void iom_row_set_quantiles(struct iom_row *row, const struct iom_hist *h);

/* --fault: is any set; the set as "errno:EIO@0.05,kill-worker@0.01,..."; one this cell cannot
 * have (nonzero, the reason in err: the cell is "na"). */
bool iom_fault_active(const struct iom_cfg *cfg);
void iom_fault_format(const struct iom_cfg *cfg, char *buf, size_t len);
struct iom_err;
int iom_fault_na(const struct iom_cfg *cfg, struct iom_err *err);

/* batch_complete 0 (auto) makes each reap wait for half of what is in flight: O_DIRECT, CQ. */
bool iom_batch_auto_half(const struct iom_cfg *cfg);

/* SIGINT: the current cell stops submitting, drains, and the run ends. */
void iom_driver_interrupt(void);
bool iom_driver_interrupted(void);

/* Busy CPU work of about ns nanoseconds on this thread (the submitter's "other work"). */
void iom_cpu_work(uint64_t ns);

/* Timer slack of the calling thread (set to 1 ns before any thread is made). */
long iom_timer_slack_ns(void);

#endif
