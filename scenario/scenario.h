/* SPDX-License-Identifier: MIT */
/*
 * iomodels scenario NAME: the seed's failure modes reproduced with real system calls, each
 * printing a short verdict table and writing CSV into its run directory.
 */
#ifndef IOM_SCENARIO_H
#define IOM_SCENARIO_H

struct iom_scenario {
	const char *name;
	const char *what;	/* one line for `iomodels scenario list` */
	/* argv[0] is the scenario's name; returns an exit code (2 = bad input). */
	int (*main)(int argc, char **argv);
};

int iom_scenario_main(int argc, char **argv);

#endif
