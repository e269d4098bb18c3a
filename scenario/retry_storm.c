// SPDX-License-Identifier: MIT
/*
 * iomodels scenario retry-storm: the thundering herd's second half. The backend has a capacity
 * (requests in service at once) and answers BUSY, this protocol's 429, past it; an open-loop
 * load above that capacity, with every BUSY retried: immediately, with exponential backoff, and
 * with exponential backoff and full jitter. What each costs in BUSY answers, what gets done, and
 * how long the work outlives the load: one second of arrivals (rate x 1 s tasks), then every
 * task is followed to its final state, retries included; drain = from the last arrival's
 * intended start to the last final state.
 */
#include <errno.h>
#include <math.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/driver.h"
#include "core/model.h"
#include "scenario/sc_util.h"
#include "scenario/scenario.h"

struct rs_result {
	bool ok;
	double offered, completed, gave_up, busy, goodput, p99_ns, backlog, drain_ns;
	char status[16];
	char reason[256];
};

static const char *const ways_names[] = { "none", "exp", "exp-jitter" };

static void rs_num(FILE *f, double v)
{
	fputc(',', f);
	if (!isnan(v))
		fprintf(f, "%.0f", v);
}

/* retry-storm.csv: the verdict table, one row per backoff. */
static int rs_write_csv(const char *dir, const char *const *names, const struct rs_result *res,
			size_t nr)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/retry-storm.csv", dir);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "backoff,offered,completed,gave_up,busy,goodput_per_s,lat_p99_ns,backlog_max,"
		   "drain_ns,status,reason\n");
	for (size_t i = 0; i < nr; i++) {
		const struct rs_result *r = &res[i];

		fprintf(f, "%s", names[i]);
		rs_num(f, r->ok ? r->offered : NAN);
		rs_num(f, r->ok ? r->completed : NAN);
		rs_num(f, r->ok ? r->gave_up : NAN);
		rs_num(f, r->ok ? r->busy : NAN);
		rs_num(f, r->ok ? r->goodput : NAN);
		rs_num(f, r->ok ? r->p99_ns : NAN);
		rs_num(f, r->ok ? r->backlog : NAN);
		rs_num(f, r->ok ? r->drain_ns : NAN);
		fprintf(f, ",%s,\"%s\"\n", r->status, r->reason);
	}
	return fclose(f) ? -errno : 0;
}

void iom_rs_verdict(const struct iom_rs_row rows[3], unsigned long rate, double capacity,
		    char *buf, size_t len)
{
	const struct iom_rs_row *none = &rows[0], *exp = &rows[1], *jit = &rows[2];
	/* Goodput above capacity by more than this is a measurement out of line, not capacity. */
	const double slack = 1.05;
	char against[512] = "";
	size_t used = 0;

	if (!none->ok || !exp->ok || !jit->ok) {
		snprintf(buf, len, "verdict: not measured (a cell did not run)");
		return;
	}
	if (!(none->busy > 0))
		used += (size_t)snprintf(against + used, sizeof(against) - used,
					 "; no BUSY answer without backoff (%.0f)", none->busy);
	if (used < sizeof(against) &&
	    !(exp->drain_ns > none->drain_ns && jit->drain_ns > none->drain_ns))
		used += (size_t)snprintf(against + used, sizeof(against) - used,
					 "; the backoffs did not drain later than none (%.1f / %.1f vs "
					 "%.1f ms)", exp->drain_ns / 1e6, jit->drain_ns / 1e6,
					 none->drain_ns / 1e6);
	for (int i = 0; i < 3 && used < sizeof(against); i++)
		if (!(rows[i].goodput <= capacity * slack))
			used += (size_t)snprintf(against + used, sizeof(against) - used,
						 "; goodput %.0f/s above the capacity %.0f/s (%s)",
						 rows[i].goodput, capacity,
						 i == 0 ? "none" : i == 1 ? "exp" : "exp-jitter");
	snprintf(buf, len, "verdict: offered %lu/s against %.0f/s of capacity, goodput was %.0f / "
		 "%.0f / %.0f per s (none / exp / exp-jitter) with %.0f / %.0f / %.0f BUSY answers; "
		 "the backlog drained %.1f / %.1f / %.1f ms after the last arrival. %s%s%s", rate,
		 capacity, none->goodput, exp->goodput, jit->goodput, none->busy, exp->busy,
		 jit->busy, none->drain_ns / 1e6, exp->drain_ns / 1e6, jit->drain_ns / 1e6,
		 against[0] ? "Not shown that a backoff moves retries later without adding "
			      "capacity:" :
			      "Above capacity every retry is more load; a backoff moved retries "
			      "later, which the drain column shows, and added no capacity, which "
			      "goodput shows.",
		 against[0] ? against + 1 : "", against[0] ? "." : "");
}

static int rs_usage(const char *what)
{
	fprintf(stderr, "iomodels: scenario retry-storm: %s (options: --model NAME --rate R "
		"--capacity N --output DIR)\n", what);
	return 2;
}

static void rs_help(void)
{
	printf("usage: iomodels scenario retry-storm [--model NAME (the async model with the most "
	       "caps)] [--rate R (3000)] "
	       "[--capacity N (2)] [--output DIR]\n");
}

static int rs_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "rate", required_argument, NULL, 'r' },
		{ "capacity", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct { enum iom_backoff b; const char *name; } ways[] = {
		{ IOM_BACKOFF_NONE, "none" }, { IOM_BACKOFF_EXP, "exp" },
		{ IOM_BACKOFF_EXP_JITTER, "exp-jitter" },
	};
	static struct iom_row row;
	struct rs_result res[3] = { 0 };
	struct iom_hist *hist = malloc(sizeof(*hist));
	const struct iom_model *model = NULL;
	uint64_t rate = 3000, capacity = 2;
	const char *out = NULL;
	char outdir[256];
	struct iom_report *rep;
	int c, worst = 0;

	if (!hist)
		return 1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': return free(hist), rs_help(), 0;
		case 'm':
			model = iom_model_find(optarg);
			if (!model)
				return free(hist), rs_usage("--model: unknown model");
			break;
		case 'r':
			if (sc_parse_u64(optarg, 1, 1000000, false, &rate))
				return free(hist), rs_usage("--rate: want 1..1000000");
			break;
		case 'k':
			if (sc_parse_u64(optarg, 1, 100000, false, &capacity))
				return free(hist), rs_usage("--capacity: want 1..100000");
			break;
		case 'o': out = optarg; break;
		default: return free(hist), rs_usage("unknown option or missing value");
		}
	}
	if (optind < argc)
		return free(hist), rs_usage("unexpected argument");
	if (!model)
		model = iom_model_pick(IOM_CAP_ASYNC, 0, IOM_WL_RPC);
	if (!model)
		return free(hist), rs_usage("no async model can run rpc tasks here: --model NAME");
	rep = sc_open_report(out, "retry-storm", argc, argv, outdir, sizeof(outdir));
	if (!rep) {
		free(hist);
		return 2;
	}
	printf("retry-storm: %s, open loop %lu tasks/s for 1 s (%lu tasks); backend capacity %lu in "
	       "service x 1 ms = %lu/s; BUSY retried (5 at most, backoff from 500 us, cap 100 ms)\n\n",
	       model->name, rate, rate, capacity, capacity * 1000);
	printf("%-11s %9s %9s %9s %9s %10s %9s %10s %10s\n", "backoff", "offered", "completed",
	       "gave up", "BUSY", "goodput/s", "p99 ms", "backlog", "drain ms");
	for (size_t w = 0; w < sizeof(ways) / sizeof(ways[0]); w++) {
		struct iom_cfg cfg;
		const double *n = row.num;

		iom_cfg_init(&cfg);
		cfg.model = model;
		cfg.wl.kind = IOM_WL_RPC;
		cfg.wl.backend_capacity = (unsigned int)capacity;
		cfg.rate = (double)rate;
		cfg.concurrency = 1024;
		/* A count, not a runtime: the cell then waits for every retry, not just the load. */
		cfg.tasks = rate;
		cfg.ramp_ns = 0;
		cfg.retry_failed = true;
		cfg.retry_max = 5;
		cfg.backoff = ways[w].b;
		cfg.backoff_base_ns = 500000;
		cfg.backoff_cap_ns = 100000000;
		cfg.batch_complete = 1;
		cfg.out_dir = outdir;
		if (iom_run_cell(&cfg, &row, hist) == IOM_EXIT_BUG)
			worst = 3;
		snprintf(row.str[IOM_COL_variant] + strlen(row.str[IOM_COL_variant]),
			 sizeof(row.str[0]) - strlen(row.str[IOM_COL_variant]), ";backoff=%s",
			 ways[w].name);
		iom_report_row(rep, &row, hist);
		res[w].ok = !strcmp(row.str[IOM_COL_status], "ok");
		snprintf(res[w].status, sizeof(res[w].status), "%s", row.str[IOM_COL_status]);
		snprintf(res[w].reason, sizeof(res[w].reason), "%s", row.str[IOM_COL_reason]);
		if (!res[w].ok) {
			printf("%-11s %s: %s\n", ways[w].name, row.str[IOM_COL_status],
			       row.str[IOM_COL_reason]);
			continue;
		}
		res[w].offered = n[IOM_COL_submitted];
		res[w].completed = n[IOM_COL_n_completed];
		res[w].gave_up = n[IOM_COL_n_failed];
		/* Every BUSY answer is a retry, or the last attempt of a task that gave up. */
		res[w].busy = n[IOM_COL_retries] + n[IOM_COL_n_failed];
		res[w].goodput = n[IOM_COL_runtime_ns] > 0 ?
					 n[IOM_COL_n_completed] * 1e9 / n[IOM_COL_runtime_ns] : NAN;
		res[w].p99_ns = n[IOM_COL_lat_p99_ns];
		res[w].backlog = n[IOM_COL_backlog_max];
		res[w].drain_ns = n[IOM_COL_drain_ns];
		printf("%-11s %9.0f %9.0f %9.0f %9.0f %10.0f %9.1f %10.0f %10.1f\n", ways[w].name,
		       res[w].offered, res[w].completed, res[w].gave_up, res[w].busy,
		       res[w].goodput, res[w].p99_ns / 1e6, res[w].backlog, res[w].drain_ns / 1e6);
	}
	printf("goodput = completed / (first arrival to last final state); drain = last arrival's "
	       "intended start to the last final state; backlog = most arrivals due and not yet "
	       "started\n");
	{
		struct iom_rs_row rows[3];
		char verdict[1536];

		for (int w = 0; w < 3; w++)
			rows[w] = (struct iom_rs_row){ res[w].ok, res[w].busy, res[w].goodput,
						       res[w].drain_ns };
		iom_rs_verdict(rows, rate, (double)capacity * 1000, verdict, sizeof(verdict));
		printf("\n%s\n", verdict);
	}
	if (rs_write_csv(outdir, ways_names, res, sizeof(ways) / sizeof(ways[0]))) {
		fprintf(stderr, "iomodels: retry-storm: cannot write %s/retry-storm.csv\n", outdir);
		worst = worst ? worst : 1;
	}
	iom_report_close(rep);
	printf("results: %s/retry-storm.csv and runs.csv\n", outdir);
	free(hist);
	return worst;
}

const struct iom_scenario iom_scenario_retry_storm = {
	.name = "retry-storm",
	.what = "BUSY past the backend's capacity: retries without backoff, exp, exp + jitter",
	.main = rs_main,
};
