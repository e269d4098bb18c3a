/* SPDX-License-Identifier: MIT */
/*
 * iomodels scenario NAME: the seed's failure modes reproduced with real system calls, each
 * printing a short verdict table and writing CSV into its run directory.
 */
#ifndef IOM_SCENARIO_H
#define IOM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>

struct iom_scenario {
	const char *name;
	const char *what;	/* one line for `iomodels scenario list` */
	/* argv[0] is the scenario's name; returns an exit code (2 = bad input). */
	int (*main)(int argc, char **argv);
};

int iom_scenario_main(int argc, char **argv);

/*
 * The verdicts, computed from the rows a scenario just measured (exposed for tests). Each says
 * what the figures show, or "not shown" with the figures that disagree with the expectation.
 */
/* two-generals: one row per model and key; expected: duplicates > 0 without, = 0 with it. */
struct iom_tg_row {
	const char *model;
	bool key, ok;
	double duplicates;
};
void iom_tg_verdict(const struct iom_tg_row *rows, size_t nr, char *buf, size_t len);

/* retry-storm: rows for backoff none, exp, exp-jitter; capacity in tasks/s. */
struct iom_rs_row {
	bool ok;
	double busy, goodput, drain_ns;
};
void iom_rs_verdict(const struct iom_rs_row rows[3], unsigned long rate, double capacity,
		    char *buf, size_t len);

#endif
