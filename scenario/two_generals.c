// SPDX-License-Identifier: MIT
/*
 * iomodels scenario two-generals: the lost answer. rpc tasks whose service time has a tail
 * (bimodal: a fixed fraction is slow, deterministically) with a deadline below the tail, retried
 * on EXPIRED. The slow answer is not lost, only late: without an idempotency key the backend runs
 * every retry again (duplicates); with the key it returns the stored result and runs nothing twice.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/driver.h"
#include "core/model.h"
#include "scenario/sc_util.h"
#include "scenario/scenario.h"

/* Append to buf what fits. */
static void cat(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cat(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strnlen(buf, len);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

void iom_tg_verdict(const struct iom_tg_row *rows, size_t nr, char *buf, size_t len)
{
	size_t measured = 0, against = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < nr; i++) {
		const struct iom_tg_row *r = &rows[i];

		if (!r->ok)
			continue;
		measured++;
		if (r->key ? r->duplicates == 0 : r->duplicates > 0)
			continue;
		cat(buf, len, "%s%s %s: %.0f duplicates", against++ ? "; " : "", r->model,
		    r->key ? "with the key" : "without a key", r->duplicates);
	}
	if (!measured) {
		snprintf(buf, len, "verdict: not measured (no cell ran)");
	} else if (against) {
		char why[768];

		snprintf(why, sizeof(why), "%s", buf);
		snprintf(buf, len, "verdict: not shown (expected duplicates > 0 without a key and "
			 "= 0 with it): %s.", why);
	} else {
		snprintf(buf, len, "verdict: in all %zu cells, without a key every retry of a late "
			 "task was executed again by the backend (duplicates > 0); with the key it "
			 "was answered from the stored result (duplicates = 0).", measured);
	}
}

static int tg_usage(const char *what)
{
	fprintf(stderr, "iomodels: scenario two-generals: %s (options: --model LIST --tasks N "
		"--concurrency C --output DIR)\n", what);
	return 2;
}

static void tg_help(void)
{
	printf("usage: iomodels scenario two-generals [--model LIST (all)] [--tasks N (400)] "
	       "[--concurrency C (8)] [--output DIR]\n");
}

static int tg_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tasks", required_argument, NULL, 't' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "model", required_argument, NULL, 'm' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct iom_row row;
	struct iom_hist *hist = malloc(sizeof(*hist));
	struct iom_tg_row rows[16] = { { 0 } };
	size_t nr_rows = 0;
	char verdict[1024];
	const char *models = "all", *out = NULL;
	char outdir[256];
	uint64_t tasks = 400, conc = 8;
	struct iom_report *rep;
	char csv_path[300];
	FILE *csv;
	int c, worst = 0;

	if (!hist)
		return 1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': return free(hist), tg_help(), 0;
		case 't':
			if (sc_parse_u64(optarg, 1, 1000000, false, &tasks))
				return free(hist), tg_usage("--tasks: want 1..1000000");
			break;
		case 'c':
			if (sc_parse_u64(optarg, 1, 1024, false, &conc))
				return free(hist), tg_usage("--concurrency: want 1..1024");
			break;
		case 'm': models = optarg; break;
		case 'o': out = optarg; break;
		default: return free(hist), tg_usage("unknown option or missing value");
		}
	}
	if (optind < argc)
		return free(hist), tg_usage("unexpected argument");
	rep = sc_open_report(out, "two-generals", argc, argv, outdir, sizeof(outdir));
	if (!rep) {
		free(hist);
		return 2;
	}
	/* The verdict table as CSV, one row per model and key, for make plot. */
	snprintf(csv_path, sizeof(csv_path), "%s/two-generals.csv", outdir);
	csv = fopen(csv_path, "w");
	if (!csv) {
		fprintf(stderr, "iomodels: cannot write %s\n", csv_path);
		iom_report_close(rep);
		free(hist);
		return 1;
	}
	fprintf(csv, "model,key,completed,expired,retries,give_ups,duplicates,late,status,reason\n");
	printf("two-generals: %lu rpc tasks, C=%lu, 10%% take 20 ms, deadline 5 ms, retry on "
	       "EXPIRED (at most 3, exp-jitter backoff from 1 ms)\n\n", tasks, conc);
	printf("%-12s %-4s %9s %9s %8s %9s %10s %8s\n", "model", "key", "completed", "expired",
	       "retries", "give-ups", "duplicates", "late");
	for (size_t m = 0; iom_models[m]; m++) {
		struct iom_err err = { "" };

		if (strcmp(models, "all") && !strstr(models, iom_models[m]->name))
			continue;
		if (iom_models[m]->probe(IOM_WL_RPC, &err))
			continue;
		for (int key = 0; key < 2; key++) {
			struct iom_cfg cfg;

			iom_cfg_init(&cfg);
			cfg.model = iom_models[m];
			cfg.wl.kind = IOM_WL_RPC;
			cfg.wl.latency_ns = 100000;
			cfg.wl.dist = IOM_DIST_BIMODAL;
			cfg.wl.bimodal_p = 0.1;
			cfg.wl.bimodal_ns = 20000000;
			cfg.wl.idempotency_key = key;
			cfg.deadline_ns = 5000000;
			cfg.retry_expired = true;
			cfg.retry_max = 3;
			cfg.backoff = IOM_BACKOFF_EXP_JITTER;
			cfg.backoff_base_ns = 1000000;
			cfg.backoff_cap_ns = 100000000;
			cfg.concurrency = (unsigned int)conc;
			cfg.tasks = tasks;
			cfg.batch_complete = 1;
			cfg.out_dir = outdir;
			if (iom_run_cell(&cfg, &row, hist) == IOM_EXIT_BUG)
				worst = IOM_EXIT_BUG;
			snprintf(row.str[IOM_COL_variant] + strlen(row.str[IOM_COL_variant]),
				 sizeof(row.str[0]) - strlen(row.str[IOM_COL_variant]), "%s",
				 key ? ";idempotency-key" : ";no-key");
			iom_report_row(rep, &row, hist);
			if (nr_rows < sizeof(rows) / sizeof(rows[0]))
				rows[nr_rows++] = (struct iom_tg_row){
					iom_models[m]->name, key, !strcmp(row.str[IOM_COL_status], "ok"),
					row.num[IOM_COL_n_dup] };
			if (strcmp(row.str[IOM_COL_status], "ok")) {
				printf("%-12s %-4s %s: %s\n", iom_models[m]->name, key ? "on" : "off",
				       row.str[IOM_COL_status], row.str[IOM_COL_reason]);
				fprintf(csv, "%s,%s,,,,,,,%s,\"%s\"\n", iom_models[m]->name,
					key ? "on" : "off", row.str[IOM_COL_status],
					row.str[IOM_COL_reason]);
				continue;
			}
			fprintf(csv, "%s,%s,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,ok,\"\"\n",
				iom_models[m]->name, key ? "on" : "off", row.num[IOM_COL_n_completed],
				row.num[IOM_COL_n_expired], row.num[IOM_COL_retries],
				row.num[IOM_COL_give_ups], row.num[IOM_COL_n_dup],
				row.num[IOM_COL_n_late]);
			printf("%-12s %-4s %9.0f %9.0f %8.0f %9.0f %10.0f %8.0f\n",
			       iom_models[m]->name, key ? "on" : "off", row.num[IOM_COL_n_completed],
			       row.num[IOM_COL_n_expired], row.num[IOM_COL_retries],
			       row.num[IOM_COL_give_ups], row.num[IOM_COL_n_dup],
			       row.num[IOM_COL_n_late]);
		}
	}
	iom_tg_verdict(rows, nr_rows, verdict, sizeof(verdict));
	printf("\n%s Late = answers that arrived after their attempt expired.\n", verdict);
	if (fclose(csv)) {
		fprintf(stderr, "iomodels: cannot write %s\n", csv_path);
		worst = worst ? worst : 1;
	}
	iom_report_close(rep);
	printf("results: %s/two-generals.csv and runs.csv\n", outdir);
	free(hist);
	return worst;
}

const struct iom_scenario iom_scenario_two_generals = {
	.name = "two-generals",
	.what = "lost answers: retries on EXPIRED without and with an idempotency key",
	.main = tg_main,
};
