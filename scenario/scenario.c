// SPDX-License-Identifier: MIT
/* iomodels scenario: the table of scenarios and the dispatch. */
#include <stdio.h>
#include <string.h>

#include "scenario/scenario.h"

/* Each scenario file defines one of these; this table is the only place that names them all. */
extern const struct iom_scenario iom_scenario_two_generals;
extern const struct iom_scenario iom_scenario_herd;
extern const struct iom_scenario iom_scenario_durability;
extern const struct iom_scenario iom_scenario_retry_storm;
extern const struct iom_scenario iom_scenario_stale_status;
extern const struct iom_scenario iom_scenario_faults;

static const struct iom_scenario *const scenarios[] = {
	&iom_scenario_two_generals,
	&iom_scenario_herd,
	&iom_scenario_durability,
	&iom_scenario_retry_storm,
	&iom_scenario_stale_status,
	&iom_scenario_faults,
	NULL,
};

static void list(void)
{
	for (size_t i = 0; scenarios[i]; i++)
		printf("%-16s %s\n", scenarios[i]->name, scenarios[i]->what);
}

int iom_scenario_main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "iomodels: scenario: want a NAME (iomodels scenario list)\n");
		return 2;
	}
	if (!strcmp(argv[1], "list")) {
		list();
		return 0;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		printf("usage: iomodels scenario NAME [options]   (iomodels scenario NAME --help: "
		       "its options)\n       iomodels scenario list\n\n");
		list();
		return 0;
	}
	for (size_t i = 0; scenarios[i]; i++)
		if (!strcmp(argv[1], scenarios[i]->name))
			return scenarios[i]->main(argc - 1, argv + 1);
	fprintf(stderr, "iomodels: unknown scenario '%s' (iomodels scenario list)\n", argv[1]);
	return 2;
}
