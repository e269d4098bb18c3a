// SPDX-License-Identifier: MIT
/*
 * iomodels scenario stale-status: the seed's failure mode 3, eventual consistency, in two parts.
 *
 * (a) The task is COMPLETED, the status store has not caught up, a poll still says RUNNING.
 *     kernel_free's status store gets replicas that lag its primary (--status-lag-us L: each
 *     read is served by a replica behind by up to L), and a poller (--notify poll, every P)
 *     with a deadline: a task the poller still sees as not done past its deadline is EXPIRED.
 *     Timer tasks of 1 ms (10% take 4 ms, and really do miss the 1.5 ms deadline) run three
 *     ways: no lag (the control), lag with a poller that trusts one read, and lag with a
 *     poller that confirms N reads in a row. A wrong EXPIRED is one whose worker had finished
 *     before the deadline: the store knew, the replica the poller asked did not. N reads in a
 *     row span at least (N - 1) x P, so once that reaches L no stale read can survive them.
 *
 * (b) COMPLETED is not durable: the durability experiment (scenario/durability.c), into the
 *     same run directory.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/driver.h"
#include "core/model.h"
#include "kernel_free/kernel_free.h"
#include "scenario/durability.h"
#include "scenario/sc_util.h"
#include "scenario/scenario.h"

#define SS_MAX_CONFIRM	4		/* confirming pollers per run */
#define SS_POLL_NS	100000ull	/* the poller's interval P */
#define SS_D_NS		1000000ull	/* most tasks: 1 ms */
#define SS_SLOW_NS	4000000ull	/* 10% of them: 4 ms, past the deadline */
#define SS_DEADLINE_NS	1500000ull

struct ss_cfg {
	uint64_t nr_tasks;		/* part (a); also part (b)'s when given */
	bool tasks_given;
	uint64_t lag_ns;
	unsigned int confirm[SS_MAX_CONFIRM];
	unsigned int nr_confirm;
	bool part_a, part_b;
	char out[PATH_MAX];
};

/* One poller's row of the verdict table. */
struct ss_result {
	char poller[32];
	uint64_t lag_ns;
	unsigned int confirm;
	double completed, expired, wrong, stale, reads, reads_per_task, late, p50, p99;
	double expire_delay;	/* mean ns from a deadline to the EXPIRED call */
	char status[16];
	char reason[256];
};

static void ss_usage(FILE *f)
{
	fprintf(f, "usage: iomodels scenario stale-status [--part a|b|both (both)] "
		   "[--tasks N (a: 1000, b: 200)] [--status-lag-us L (1000)] [--confirm N[,N...] "
		   "(4,11)] [--directory D] [--bs B] [--size S] [--output DIR]\n"
		   "  (a) a status store whose replicas lag: trust one read vs confirm N; "
		   "(b) the durability experiment (--directory, --bs, --size are its options)\n");
}

static int ss_bad(const char *what, const char *val)
{
	fprintf(stderr, "iomodels: stale-status: %s (got '%s')\n", what, val ? val : "nothing");
	return 2;
}

static int ss_parse_confirm(struct ss_cfg *cfg, const char *val)
{
	char buf[64], *rest = buf, *item;

	if (!val || !*val || strlen(val) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", val);
	cfg->nr_confirm = 0;
	while ((item = strsep(&rest, ","))) {
		uint64_t n;

		if (cfg->nr_confirm == SS_MAX_CONFIRM || sc_parse_u64(item, 2, 1000, false, &n))
			return -EINVAL;
		cfg->confirm[cfg->nr_confirm++] = (unsigned int)n;
	}
	return 0;
}

/*
 * Our options, and part (b)'s handed to durability's own parser (before anything runs, so
 * bad input writes nothing): --tasks goes to both parts.
 */
static int ss_parse(int argc, char **argv, struct ss_cfg *cfg, struct iom_du_cfg *du)
{
	char *du_argv[16] = { "stale-status" };
	int du_argc = 1, ret;

	for (int i = 1; i < argc; i++) {
		const char *val = NULL;
		uint64_t v;

		if (sc_opt(argc, argv, &i, "--part", &val)) {
			if (!val || (strcmp(val, "a") && strcmp(val, "b") && strcmp(val, "both")))
				return ss_bad("--part wants a, b or both", val);
			cfg->part_a = strcmp(val, "b");
			cfg->part_b = strcmp(val, "a");
		} else if (sc_opt(argc, argv, &i, "--tasks", &val)) {
			if (sc_parse_u64(val, 1, 1000000, false, &cfg->nr_tasks))
				return ss_bad("--tasks wants 1..1000000", val);
			cfg->tasks_given = true;
			du_argv[du_argc++] = "--tasks";
			du_argv[du_argc++] = (char *)val;
		} else if (sc_opt(argc, argv, &i, "--status-lag-us", &val)) {
			if (iom_parse_us(val, 0, 10000000, &v))
				return ss_bad("--status-lag-us wants 0..10000000 us, or a unit (2ms)",
					      val);
			cfg->lag_ns = v * 1000;
		} else if (sc_opt(argc, argv, &i, "--confirm", &val)) {
			if (ss_parse_confirm(cfg, val))
				return ss_bad("--confirm wants 1 to 4 counts of 2..1000, comma-separated",
					      val);
		} else if (sc_opt(argc, argv, &i, "--output", &val)) {
			if (!val || !*val || strlen(val) >= sizeof(cfg->out) - 32)
				return ss_bad("--output wants a path", val);
			snprintf(cfg->out, sizeof(cfg->out), "%s", val);
		} else if (!strncmp(argv[i], "--directory", 11) || !strncmp(argv[i], "--bs", 4) ||
			   !strncmp(argv[i], "--size", 6)) {
			/* Part (b)'s: as given, value and all, for its parser to judge. */
			if (du_argc + 2 >= (int)(sizeof(du_argv) / sizeof(du_argv[0])))
				return ss_bad("too many options", argv[i]);
			du_argv[du_argc++] = argv[i];
			if (!strchr(argv[i], '=') && i + 1 < argc)
				du_argv[du_argc++] = argv[++i];
		} else {
			return ss_bad("unknown option (--help)", argv[i]);
		}
	}
	du_argv[du_argc] = NULL;
	iom_durability_defaults(du);
	ret = iom_durability_parse(du_argc, du_argv, du);
	if (ret)
		return ret;
	snprintf(du->out, sizeof(du->out), "%s", cfg->out);
	return 0;
}

static void ss_run_one(const struct ss_cfg *cfg, struct iom_report *rep, uint64_t lag_ns,
		       unsigned int confirm, struct ss_result *r, int *worst)
{
	static struct iom_row row;
	static struct iom_hist hist;
	struct iom_cfg c;
	struct iom_kf_opts kfo = iom_kf_opts_defaults;
	/* kernel_free's status store, through its own options: its struct, not its name. */
	struct iom_model_opts mo = { &iom_model_kernel_free, &kfo };
	const double *n = row.num;
	int ret;

	iom_cfg_init(&c);
	c.model = &iom_model_kernel_free;
	c.wl.latency_ns = SS_D_NS;
	c.wl.dist = IOM_DIST_BIMODAL;
	c.wl.bimodal_p = 0.1;
	c.wl.bimodal_ns = SS_SLOW_NS;
	c.deadline_ns = SS_DEADLINE_NS;
	c.concurrency = 16;
	c.tasks = cfg->nr_tasks;
	c.batch_complete = 1;
	kfo.notify = IOM_NOTIFY_POLL;
	kfo.poll_interval_ns = SS_POLL_NS;
	kfo.status_lag_ns = lag_ns;
	kfo.confirm = confirm;
	c.model_opts = &mo;
	c.nr_model_opts = 1;
	c.out_dir = cfg->out;
	ret = iom_run_cell(&c, &row, &hist);
	if (ret == IOM_EXIT_BUG)
		*worst = IOM_EXIT_BUG;
	else if (strcmp(row.str[IOM_COL_status], "ok") && !*worst)
		*worst = 1;
	iom_report_row(rep, &row, &hist);
	r->lag_ns = lag_ns;
	r->confirm = confirm;
	snprintf(r->status, sizeof(r->status), "%s", row.str[IOM_COL_status]);
	snprintf(r->reason, sizeof(r->reason), "%s", row.str[IOM_COL_reason]);
	r->completed = n[IOM_COL_n_completed];
	r->expired = n[IOM_COL_n_expired];
	r->wrong = n[IOM_COL_wrong_expired];
	r->stale = n[IOM_COL_stale_reads];
	r->reads_per_task = n[IOM_COL_status_reads_per_task];
	r->reads = r->reads_per_task * n[IOM_COL_submitted];
	r->late = n[IOM_COL_n_late];
	r->p50 = n[IOM_COL_lat_p50_ns];
	r->p99 = n[IOM_COL_lat_p99_ns];
	r->expire_delay = n[IOM_COL_expire_delay_ns];
}

static void ss_num(FILE *f, double v, const char *fmt)
{
	fputc(',', f);
	if (!isnan(v))
		fprintf(f, fmt, v);
}

static int ss_write_csv(const struct ss_cfg *cfg, const struct ss_result *res, unsigned int nr)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/stale-status.csv", cfg->out);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "poller,status_lag_us,confirm,poll_us,deadline_us,tasks,completed,expired,"
		   "in_time,wrong_expired,wrong_fraction,stale_reads,status_reads,reads_per_task,"
		   "expire_delay_ns,lat_p50_ns,lat_p99_ns,late,status,reason\n");
	for (unsigned int i = 0; i < nr; i++) {
		const struct ss_result *r = &res[i];
		double in_time = r->completed + r->wrong;

		fprintf(f, "%s,%.0f,%u,%.0f,%.0f,%llu", r->poller, (double)r->lag_ns / 1e3,
			r->confirm, SS_POLL_NS / 1e3, SS_DEADLINE_NS / 1e3,
			(unsigned long long)cfg->nr_tasks);
		ss_num(f, r->completed, "%.0f");
		ss_num(f, r->expired, "%.0f");
		ss_num(f, in_time, "%.0f");
		ss_num(f, r->wrong, "%.0f");
		ss_num(f, in_time > 0 ? r->wrong / in_time : NAN, "%.4f");
		ss_num(f, r->stale, "%.0f");
		ss_num(f, r->reads, "%.0f");
		ss_num(f, r->reads_per_task, "%.3f");
		ss_num(f, r->expire_delay, "%.0f");
		ss_num(f, r->p50, "%.0f");
		ss_num(f, r->p99, "%.0f");
		ss_num(f, r->late, "%.0f");
		fprintf(f, ",%s,\"%s\"\n", r->status, r->reason);
	}
	if (fclose(f))
		return -errno;
	return 0;
}

/* A number, or "-" where the run could not give one (too few samples for a p99). */
static void ss_cell(double v, const char *fmt, const char *dash_fmt)
{
	if (isnan(v))
		printf(dash_fmt, "-");
	else
		printf(fmt, v);
}

static void ss_print(const struct ss_result *res, unsigned int nr)
{
	printf("%-11s %7s %7s %9s %7s %13s %11s %10s %13s %7s %7s\n", "poller", "lag_us",
	       "confirm", "completed", "expired", "wrong_expired", "stale_reads", "reads/task",
	       "expired_after", "p50_ms", "p99_ms");
	for (unsigned int i = 0; i < nr; i++) {
		const struct ss_result *r = &res[i];
		char wrong[32];

		if (strcmp(r->status, "ok")) {
			printf("%-11s %s: %s\n", r->poller, r->status, r->reason);
			continue;
		}
		snprintf(wrong, sizeof(wrong), "%.0f (%.0f%%)", r->wrong,
			 r->completed + r->wrong > 0 ? 100 * r->wrong / (r->completed + r->wrong) :
						       0.0);
		printf("%-11s %7.0f %7u %9.0f %7.0f %13s %11.0f %10.2f", r->poller,
		       (double)r->lag_ns / 1e3, r->confirm, r->completed, r->expired, wrong,
		       r->stale, r->reads_per_task);
		ss_cell(r->expire_delay / 1e3, " %10.0f us", " %13s");
		ss_cell(r->p50 / 1e6, " %7.2f", " %7s");
		ss_cell(r->p99 / 1e6, " %7.2f", " %7s");
		putchar('\n');
	}
	printf("wrong_expired = EXPIRED by the poller though its worker had finished before the "
	       "deadline (%% of the tasks that finished in time); stale_reads = reads that said "
	       "\"not done\" of a task already DONE; reads/task = status reads per task; "
	       "expired_after = mean time from a deadline to the EXPIRED call\n");
}

static void ss_verdict(const struct ss_cfg *cfg, const struct ss_result *res, unsigned int nr)
{
	const struct ss_result *one = &res[1], *best = &res[nr - 1];

	for (unsigned int i = 0; i < nr; i++)
		if (strcmp(res[i].status, "ok")) {
			printf("verdict: not measured (%s did not run)\n", res[i].poller);
			return;
		}
	printf("verdict: with replicas up to %.0f us behind, a poller that trusts one read called "
	       "%.0f of %.0f tasks that had finished in time EXPIRED; confirming %u reads in a row "
	       "(they span >= %.0f us) called %.0f, for %.2f instead of %.2f status reads per task, "
	       "EXPIRED called %.0f us instead of %.0f us after the deadline. Without lag: %.0f.\n",
	       (double)cfg->lag_ns / 1e3, one->wrong, one->completed + one->wrong, best->confirm,
	       (double)(best->confirm - 1) * SS_POLL_NS / 1e3, best->wrong, best->reads_per_task,
	       one->reads_per_task, best->expire_delay / 1e3, one->expire_delay / 1e3,
	       res[0].wrong);
}

static int ss_part_a(const struct ss_cfg *cfg, int argc, char **argv)
{
	struct ss_result res[2 + SS_MAX_CONFIRM] = { 0 };
	char errbuf[256];
	struct iom_report *rep;
	unsigned int nr = 0;
	int worst = 0, ret;

	rep = iom_report_open(cfg->out, argc, argv, errbuf, sizeof(errbuf));
	if (!rep) {
		fprintf(stderr, "iomodels: %s\n", errbuf);
		return 2;
	}
	printf("stale-status (a): %s, %llu timer tasks (1 ms; 10%% take 4 ms), C=16, "
	       "deadline 1.5 ms, a poll every 100 us; a read is served by a replica behind the "
	       "store by up to L (uniform)\n\n", iom_model_kernel_free.name,
	       (unsigned long long)cfg->nr_tasks);
	snprintf(res[nr].poller, sizeof(res[0].poller), "no-lag");
	ss_run_one(cfg, rep, 0, 1, &res[nr++], &worst);
	snprintf(res[nr].poller, sizeof(res[0].poller), "trust-one");
	ss_run_one(cfg, rep, cfg->lag_ns, 1, &res[nr++], &worst);
	for (unsigned int i = 0; i < cfg->nr_confirm; i++) {
		snprintf(res[nr].poller, sizeof(res[0].poller), "confirm-%u", cfg->confirm[i]);
		ss_run_one(cfg, rep, cfg->lag_ns, cfg->confirm[i], &res[nr++], &worst);
	}
	ss_print(res, nr);
	ss_verdict(cfg, res, nr);
	ret = ss_write_csv(cfg, res, nr);
	if (ret) {
		fprintf(stderr, "iomodels: stale-status: %s/stale-status.csv: %s\n", cfg->out,
			strerror(-ret));
		worst = worst ? worst : 1;
	} else {
		printf("wrote %s/stale-status.csv and runs.csv\n", cfg->out);
	}
	if (iom_report_close(rep) && !worst)
		worst = 1;
	return worst;
}

static int ss_main(int argc, char **argv)
{
	struct ss_cfg cfg = { .nr_tasks = 1000, .lag_ns = 1000000, .confirm = { 4, 11 },
			      .nr_confirm = 2, .part_a = true, .part_b = true };
	struct iom_du_cfg du;
	int ret, worst = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			ss_usage(stdout);
			return 0;
		}
	}
	ret = ss_parse(argc, argv, &cfg, &du);
	if (ret)
		return ret;
	if (!cfg.out[0]) {
		sc_default_output(cfg.out, sizeof(cfg.out), "stale-status");
		snprintf(du.out, sizeof(du.out), "%s", cfg.out);
	}
	if (cfg.part_a)
		worst = ss_part_a(&cfg, argc, argv);
	/* Its output cannot be made (exit 2): part b's could not either. */
	if (worst == 2)
		return 2;
	if (cfg.part_b) {
		if (cfg.part_a)
			printf("\nstale-status (b): COMPLETED is not durable\n");
		ret = iom_durability_run(&du);
		if (ret && (!worst || ret == IOM_EXIT_BUG))
			worst = ret;
	}
	return worst;
}

const struct iom_scenario iom_scenario_stale_status = {
	.name = "stale-status",
	.what = "a lagging status store: trust one read vs confirm N; then COMPLETED vs durable",
	.main = ss_main,
};
