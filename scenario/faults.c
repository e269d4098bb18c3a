// SPDX-License-Identifier: MIT
/*
 * iomodels scenario faults: the seed's failure domains, broken on purpose (--fault), with the
 * run's invariant checked under each: every task submitted ends in exactly one terminal state.
 *
 *   errno:EIO@P     every model, nop: the op runs, its success is reported as -EIO; retried
 *   kill-worker@P   kernel_free (its second failure domain, the workers), timer: the worker
 *                   dies holding the task; the pool reports it FAILED and replaces the worker
 *   drop-conn@P     every model, rpc: the backend does the work, then drops the connection in
 *                   place of the answer; retried without and with an idempotency key
 *   cq-overflow:E   uring, nop with a reaper that waits for its whole depth: a CQ of E entries
 *                   against the same SQ with a CQ of room (--sq-entries E), the cost of the
 *                   kernel's overflow list (FEAT_NODROP: nothing is lost)
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/driver.h"
#include "core/model.h"
#include "scenario/sc_util.h"
#include "scenario/scenario.h"
#include "uring/uring.h"

#define FT_MAX_ROWS	32

struct ft_row {
	char fault[48];
	char model[16];
	char workload[8];
	char policy[24];	/* what the client does about it */
	double num[IOM_NR_COLS];
	bool conserved;		/* submitted == sum of terminal states == tasks */
	char variant[256];
	char status[16];
	char reason[256];
};

struct ft_run {
	const char *out;
	struct iom_report *rep;
	unsigned long tasks;
	struct ft_row rows[FT_MAX_ROWS];
	unsigned int nr;
	int worst;
};

static int ft_usage(const char *what)
{
	fprintf(stderr, "iomodels: scenario faults: %s (options: --tasks N --output DIR)\n", what);
	return 2;
}

static void ft_cell(struct ft_run *r, struct iom_cfg *cfg, const char *policy)
{
	static struct iom_row row;
	static struct iom_hist hist;
	struct ft_row *f;
	double terminal;
	int ret;

	if (r->nr == FT_MAX_ROWS)
		return;
	f = &r->rows[r->nr++];
	cfg->out_dir = r->out;
	cfg->batch_complete = cfg->batch_complete ? cfg->batch_complete : 1;
	cfg->wl.seed = 7;
	ret = iom_run_cell(cfg, &row, &hist);
	if (ret == IOM_EXIT_BUG)
		r->worst = IOM_EXIT_BUG;
	snprintf(row.str[IOM_COL_variant] + strlen(row.str[IOM_COL_variant]),
		 sizeof(row.str[0]) - strlen(row.str[IOM_COL_variant]), ";%s", policy);
	iom_report_row(r->rep, &row, &hist);
	iom_fault_format(cfg, f->fault, sizeof(f->fault));
	if (!f->fault[0])
		snprintf(f->fault, sizeof(f->fault), "none (control)");
	snprintf(f->model, sizeof(f->model), "%s", cfg->model->name);
	snprintf(f->workload, sizeof(f->workload), "%s", iom_wl_name(cfg->wl.kind));
	snprintf(f->policy, sizeof(f->policy), "%s", policy);
	memcpy(f->num, row.num, sizeof(f->num));
	snprintf(f->variant, sizeof(f->variant), "%s", row.str[IOM_COL_variant]);
	snprintf(f->status, sizeof(f->status), "%s", row.str[IOM_COL_status]);
	snprintf(f->reason, sizeof(f->reason), "%s", row.str[IOM_COL_reason]);
	terminal = row.num[IOM_COL_n_completed] + row.num[IOM_COL_n_failed] +
		   row.num[IOM_COL_n_aborted] + row.num[IOM_COL_n_partial] +
		   row.num[IOM_COL_n_expired];
	f->conserved = row.num[IOM_COL_submitted] == terminal &&
		       terminal == (double)cfg->tasks;
	if (!strcmp(f->status, "ok") && !f->conserved && !r->worst)
		r->worst = IOM_EXIT_BUG;
	if (strcmp(f->status, "ok") && strcmp(f->status, "na") && strcmp(f->status, "unavailable") &&
	    !r->worst)
		r->worst = 1;
}

static struct iom_cfg ft_base(const struct iom_model *m, enum iom_wl_kind wl, unsigned long n)
{
	struct iom_cfg cfg;

	iom_cfg_init(&cfg);
	cfg.model = m;
	cfg.wl.kind = wl;
	cfg.wl.seed = 0;	/* the seed this scenario's draws were always made with */
	cfg.wl.latency_ns = wl == IOM_WL_RPC ? 100000 : 1000000;
	cfg.concurrency = 16;
	cfg.tasks = n;
	cfg.retry_max = 10;
	cfg.backoff = IOM_BACKOFF_EXP_JITTER;
	cfg.backoff_base_ns = 100000;
	cfg.backoff_cap_ns = 10000000;
	return cfg;
}

static bool ft_runs(const struct iom_model *m, enum iom_wl_kind wl)
{
	struct iom_err err = { "" };

	return m->probe(wl, &err) == 0;
}

static void ft_num(FILE *f, double v)
{
	fputc(',', f);
	if (!isnan(v))
		fprintf(f, "%.6g", v);
}

static int ft_write_csv(const struct ft_run *r)
{
	static const enum iom_col cols[] = {
		IOM_COL_submitted, IOM_COL_n_completed, IOM_COL_n_failed, IOM_COL_n_expired,
		IOM_COL_n_aborted, IOM_COL_faults, IOM_COL_retries, IOM_COL_give_ups, IOM_COL_n_dup,
		IOM_COL_n_late, IOM_COL_reconnects, IOM_COL_workers_replaced, IOM_COL_cq_overflow,
		IOM_COL_ops_per_s, IOM_COL_cpu_ns_per_task, IOM_COL_enters_per_task,
		IOM_COL_lat_p50_ns, IOM_COL_lat_p99_ns,
	};
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/faults.csv", r->out);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "fault,model,workload,policy");
	for (size_t c = 0; c < sizeof(cols) / sizeof(cols[0]); c++)
		fprintf(f, ",%s", iom_col_name(cols[c]));
	fprintf(f, ",conserved,variant,status,reason\n");
	for (unsigned int i = 0; i < r->nr; i++) {
		const struct ft_row *x = &r->rows[i];

		fprintf(f, "%s,%s,%s,%s", x->fault, x->model, x->workload, x->policy);
		for (size_t c = 0; c < sizeof(cols) / sizeof(cols[0]); c++)
			ft_num(f, x->num[cols[c]]);
		fprintf(f, ",%d,\"%s\",%s,\"%s\"\n", x->conserved, x->variant, x->status,
			x->reason);
	}
	return fclose(f) ? -errno : 0;
}

/* An integer count, or "-" where the cell has no such column. */
static void ft_count(double v)
{
	if (isnan(v))
		printf(" %8s", "-");
	else
		printf(" %8.0f", v);
}

static void ft_print(const struct ft_run *r)
{
	printf("%-24s %-11s %-8s %-9s %8s %8s %8s %8s %8s %8s %8s %8s  %s\n", "fault", "model",
	       "workload", "policy", "complete", "failed", "expired", "hit", "retries", "dups",
	       "reconn", "replaced", "invariant");
	for (unsigned int i = 0; i < r->nr; i++) {
		const struct ft_row *x = &r->rows[i];
		const double *n = x->num;

		if (i >= 1 && strcmp(x->fault, r->rows[i - 1].fault) &&
		    !strncmp(x->fault, "cq-overflow", 11))
			break;	/* the CQ rows have a table of their own */
		if (!strncmp(x->fault, "none", 4))
			break;
		printf("%-24s %-11s %-8s %-9s", x->fault, x->model, x->workload, x->policy);
		if (strcmp(x->status, "ok")) {
			printf(" %s: %s\n", x->status, x->reason);
			continue;
		}
		ft_count(n[IOM_COL_n_completed]);
		ft_count(n[IOM_COL_n_failed]);
		ft_count(n[IOM_COL_n_expired]);
		ft_count(n[IOM_COL_faults]);
		ft_count(n[IOM_COL_retries]);
		ft_count(n[IOM_COL_n_dup]);
		ft_count(n[IOM_COL_reconnects]);
		ft_count(n[IOM_COL_workers_replaced]);
		printf("  %s\n", x->conserved ? "holds" : "BROKEN");
	}
	printf("hit = tasks whose outcome the fault decided; dups = work the backend did twice; "
	       "reconn = connections replaced; replaced = dead workers replaced\n\n");
	printf("%-24s %-6s %8s %10s %11s %12s %12s %9s  %s\n", "cq (uring nop, C=64)", "reaper",
	       "complete", "ops/s", "cpu ns/task", "enters/task", "overflowed", "p50 us",
	       "variant");
	for (unsigned int i = 0; i < r->nr; i++) {
		const struct ft_row *x = &r->rows[i];
		const double *n = x->num;

		if (strncmp(x->fault, "cq-overflow", 11) && strncmp(x->fault, "none", 4))
			continue;
		printf("%-24s %-6s", x->fault, x->policy);
		if (strcmp(x->status, "ok")) {
			printf(" %s: %s\n", x->status, x->reason);
			continue;
		}
		printf(" %8.0f %10.0f %11.0f %12.3f %12.0f %9.1f  %s%s\n", n[IOM_COL_n_completed],
		       n[IOM_COL_ops_per_s], n[IOM_COL_cpu_ns_per_task], n[IOM_COL_enters_per_task],
		       n[IOM_COL_cq_overflow], n[IOM_COL_lat_p50_ns] / 1e3, x->variant,
		       x->conserved ? "" : "  invariant BROKEN");
	}
	printf("overflowed = reaps that found the kernel's overflow list in use (IORING_SQ_CQ_OVERFLOW)"
	       "\n");
}

/* The CQ rows: control and tiny CQ, same SQ, same slow reaper. */
static const struct ft_row *ft_find(const struct ft_run *r, const char *fault_prefix)
{
	for (unsigned int i = 0; i < r->nr; i++)
		if (!strncmp(r->rows[i].fault, fault_prefix, strlen(fault_prefix)) &&
		    !strcmp(r->rows[i].status, "ok"))
			return &r->rows[i];
	return NULL;
}

static void ft_verdict(const struct ft_run *r)
{
	const struct ft_row *ctl = ft_find(r, "none"), *cq = ft_find(r, "cq-overflow");
	unsigned int broken = 0, ran = 0;

	for (unsigned int i = 0; i < r->nr; i++) {
		ran += !strcmp(r->rows[i].status, "ok");
		broken += !strcmp(r->rows[i].status, "ok") && !r->rows[i].conserved;
	}
	printf("\nverdict: under every fault, %u of %u cells kept the invariant (each task one "
	       "terminal state)", ran - broken, ran);
	if (ctl && cq)
		printf("; against the same SQ, a CQ of %s entries cost %.0f instead of %.0f ns of "
		       "CPU per NOP (enters per task %.3f vs %.3f; nothing lost: %.0f of %.0f "
		       "completed)",
		       strchr(cq->fault, ':') + 1, cq->num[IOM_COL_cpu_ns_per_task],
		       ctl->num[IOM_COL_cpu_ns_per_task], cq->num[IOM_COL_enters_per_task],
		       ctl->num[IOM_COL_enters_per_task], cq->num[IOM_COL_n_completed],
		       cq->num[IOM_COL_submitted]);
	printf(".\n");
}

static void ft_help(void)
{
	printf("usage: iomodels scenario faults [--tasks N (1000)] [--output DIR]\n");
}

static int ft_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tasks", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ft_run *r = calloc(1, sizeof(*r));
	char outdir[PATH_MAX];
	const char *out = NULL;
	int c, worst;

	if (!r)
		return 1;
	r->tasks = 1000;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		uint64_t v;

		switch (c) {
		case 'h': return free(r), ft_help(), 0;
		case 't':
			if (sc_parse_u64(optarg, 10, 1000000, false, &v))
				return free(r), ft_usage("--tasks: want 10..1000000");
			r->tasks = (unsigned long)v;
			break;
		case 'o': out = optarg; break;
		default: return free(r), ft_usage("unknown option or missing value");
		}
	}
	if (optind < argc)
		return free(r), ft_usage("unexpected argument");
	r->out = outdir;
	r->rep = sc_open_report(out, "faults", argc, argv, outdir, sizeof(outdir));
	if (!r->rep) {
		free(r);
		return 2;
	}
	printf("faults: %lu tasks a cell, C=16 (C=64 for the CQ), P = 0.05 for each fault drawn "
	       "per task and attempt; retries: 10 at most, exp-jitter from 100 us\n\n", r->tasks);

	for (size_t m = 0; iom_models[m]; m++) {
		struct iom_cfg cfg = ft_base(iom_models[m], IOM_WL_NOP, r->tasks);

		if (!ft_runs(iom_models[m], IOM_WL_NOP))
			continue;
		cfg.fault_errno = EIO;
		cfg.fault_ppm = 50000;
		cfg.retry_failed = true;
		ft_cell(r, &cfg, "retry");
	}
	/* kill-worker: every model with a worker pool (IOM_CAP_POOL). */
	for (size_t m = 0; iom_models[m]; m++) {
		for (int retry = 0; retry < 2 && (iom_models[m]->caps & IOM_CAP_POOL); retry++) {
			struct iom_cfg cfg = ft_base(iom_models[m], IOM_WL_TIMER, r->tasks);

			cfg.fault_kill_ppm = 50000;
			cfg.retry_failed = retry;
			ft_cell(r, &cfg, retry ? "retry" : "drop");
		}
	}
	for (size_t m = 0; iom_models[m]; m++) {
		if (!ft_runs(iom_models[m], IOM_WL_RPC))
			continue;
		for (int way = 0; way < 3; way++) {
			struct iom_cfg cfg = ft_base(iom_models[m], IOM_WL_RPC, r->tasks);

			cfg.concurrency = 8;
			cfg.fault_drop_ppm = 50000;
			cfg.retry_failed = way > 0;
			cfg.wl.idempotency_key = way == 2;
			ft_cell(r, &cfg, way == 0 ? "drop" : way == 1 ? "retry" : "retry+key");
		}
	}
	/* cq-overflow: uring's CQ, set through its own options (uring/uring.h). */
	if (ft_runs(&iom_model_uring, IOM_WL_NOP)) {
		for (int tiny = 0; tiny < 2; tiny++) {
			struct iom_cfg cfg = ft_base(&iom_model_uring, IOM_WL_NOP, r->tasks * 100);
			struct iom_uring_opts uo = iom_uring_opts_defaults;
			struct iom_model_opts mo = { &iom_model_uring, &uo };

			cfg.model_opts = &mo;
			cfg.nr_model_opts = 1;
			cfg.concurrency = 64;
			cfg.batch_complete = 64;	/* the slow reaper: it waits for all 64 */
			if (tiny)
				cfg.fault_cq_entries = 8;
			else
				uo.sq_entries = 8;	/* the control: the same SQ, a CQ with room */
			ft_cell(r, &cfg, "slow");
		}
	}
	ft_print(r);
	ft_verdict(r);
	if (ft_write_csv(r)) {
		fprintf(stderr, "iomodels: faults: cannot write %s/faults.csv\n", outdir);
		r->worst = r->worst ? r->worst : 1;
	}
	iom_report_close(r->rep);
	printf("results: %s/faults.csv and runs.csv\n", outdir);
	worst = r->worst;
	free(r);
	return worst;
}

const struct iom_scenario iom_scenario_faults = {
	.name = "faults",
	.what = "--fault in every domain: errno, a dead worker, a dropped connection, a tiny CQ",
	.main = ft_main,
};
