// SPDX-License-Identifier: MIT
/*
 * iomodels scenario retry-storm: the thundering herd's second half. The backend has a capacity
 * (requests in service at once) and answers BUSY, this protocol's 429, past it; an open-loop
 * load above that capacity, with every BUSY retried: immediately, with exponential backoff, and
 * with exponential backoff and full jitter. What each costs in BUSY answers and what gets done.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/driver.h"
#include "core/model.h"
#include "scenario/sc_util.h"
#include "scenario/scenario.h"

static int rs_usage(const char *what)
{
	fprintf(stderr, "iomodels: scenario retry-storm: %s (options: --model NAME --rate R "
		"--capacity N --output DIR)\n", what);
	return 2;
}

static int rs_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "rate", required_argument, NULL, 'r' },
		{ "capacity", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct { enum iom_backoff b; const char *name; } ways[] = {
		{ IOM_BACKOFF_NONE, "none" }, { IOM_BACKOFF_EXP, "exp" },
		{ IOM_BACKOFF_EXP_JITTER, "exp-jitter" },
	};
	static struct iom_row row;
	struct iom_hist *hist = malloc(sizeof(*hist));
	const struct iom_model *model = iom_model_find("uring");
	unsigned long rate = 25000, capacity = 16;
	const char *out = NULL;
	char outdir[256], errbuf[256];
	struct iom_report *rep;
	int c, worst = 0;

	if (!hist)
		return 1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'm':
			model = iom_model_find(optarg);
			if (!model)
				return free(hist), rs_usage("--model: unknown model");
			break;
		case 'r':
			rate = strtoul(optarg, &end, 10);
			if (*end || !rate || rate > 1000000)
				return free(hist), rs_usage("--rate: want 1..1000000");
			break;
		case 'k':
			capacity = strtoul(optarg, &end, 10);
			if (*end || !capacity || capacity > 100000)
				return free(hist), rs_usage("--capacity: want 1..100000");
			break;
		case 'o': out = optarg; break;
		default: return free(hist), rs_usage("unknown option or missing value");
		}
	}
	if (optind < argc)
		return free(hist), rs_usage("unexpected argument");
	if (out)
		snprintf(outdir, sizeof(outdir), "%s", out);
	else
		sc_default_output(outdir, sizeof(outdir), "retry-storm");
	rep = iom_report_open(outdir, argc, argv, errbuf, sizeof(errbuf));
	if (!rep) {
		fprintf(stderr, "iomodels: %s\n", errbuf);
		free(hist);
		return 1;
	}
	printf("retry-storm: %s, open loop %lu tasks/s for 1 s; backend capacity %lu in service "
	       "x 1 ms = %lu/s; BUSY retried (5 at most, backoff from 500 us, cap 100 ms)\n\n",
	       model->name, rate, capacity, capacity * 1000);
	printf("%-11s %9s %9s %9s %9s %12s %10s\n", "backoff", "offered", "completed", "gave up",
	       "BUSY", "p99 ms", "backlog");
	for (size_t w = 0; w < sizeof(ways) / sizeof(ways[0]); w++) {
		struct iom_cfg cfg = { 0 };

		cfg.model = model;
		cfg.wl.kind = IOM_WL_RPC;
		cfg.wl.payload = 64;
		cfg.wl.seed = 1;
		cfg.wl.latency_ns = 1000000;
		cfg.wl.backend_capacity = (unsigned int)capacity;
		cfg.rate = (double)rate;
		cfg.concurrency = 1024;
		cfg.runtime_ns = 1000000000;
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
		if (strcmp(row.str[IOM_COL_status], "ok")) {
			printf("%-11s %s: %s\n", ways[w].name, row.str[IOM_COL_status],
			       row.str[IOM_COL_reason]);
			continue;
		}
		/* Every BUSY answer is a retry, or the last attempt of a task that gave up. */
		printf("%-11s %9.0f %9.0f %9.0f %9.0f %12.1f %10.0f\n", ways[w].name,
		       row.num[IOM_COL_submitted], row.num[IOM_COL_n_completed],
		       row.num[IOM_COL_n_failed], row.num[IOM_COL_retries] + row.num[IOM_COL_n_failed],
		       row.num[IOM_COL_lat_p99_ns] / 1e6, row.num[IOM_COL_backlog_max]);
	}
	printf("\nverdict: above capacity every retry is more load; backoff trades BUSY answers for "
	       "latency, jitter spreads the retries. Compare the BUSY column.\n");
	iom_report_close(rep);
	printf("results: %s/runs.csv\n", outdir);
	free(hist);
	return worst;
}

const struct iom_scenario iom_scenario_retry_storm = {
	.name = "retry-storm",
	.what = "BUSY past the backend's capacity: retries without backoff, exp, exp + jitter",
	.main = rs_main,
};
