/* SPDX-License-Identifier: MIT */
/*
 * The durability experiment (scenario/durability.c), callable on its own (`scenario
 * durability`) or as part (b) of `scenario stale-status`, which parses its options first so
 * that bad input stops the run before anything is written.
 */
#ifndef IOM_SC_DURABILITY_H
#define IOM_SC_DURABILITY_H

#include <limits.h>
#include <stdint.h>

struct iom_du_cfg {
	uint64_t nr_tasks, bs, size;
	char dir[PATH_MAX];
	char out[PATH_MAX];
};

/* The defaults: 200 tasks of 4 KiB in a 64 MiB file in ".". */
void iom_durability_defaults(struct iom_du_cfg *cfg);
/* Options from argv[1] on (argv[0] names the caller); 0, or 2 after one line on stderr. */
int iom_durability_parse(int argc, char **argv, struct iom_du_cfg *cfg);
/* Make cfg->out, run the four ways, print the table and verdict, write durability.csv. */
int iom_durability_run(const struct iom_du_cfg *cfg);

#endif
