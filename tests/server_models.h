/* SPDX-License-Identifier: MIT */
/*
 * Run one cmocka group per server model of the table (server/servers.c), *model naming the
 * one under test. By hand: IOM_SERVER_MODEL=uring runs one model, IOM_TEST_FILTER a cmocka glob
 * of its cases (scripts/mutate's test_X@MODEL:GLOB).
 */
#ifndef IOMT_SERVER_MODELS_H
#define IOMT_SERVER_MODELS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "tests/helpers.h"

static inline int iomt_each_server_model(const char *label, const char **model,
					 const struct CMUnitTest *tests, size_t nr,
					 CMFixtureFunction setup, CMFixtureFunction teardown)
{
	const char *only = getenv("IOM_SERVER_MODEL");
	int failed = 0;

	for (size_t i = 0; iom_server_models[i]; i++) {
		char name[64];

		*model = iom_server_models[i]->name;
		if (only && strcmp(only, *model))
			continue;
		snprintf(name, sizeof(name), "%s %s", label, *model);
		failed += _cmocka_run_group_tests(name, tests, nr, setup, teardown);
	}
	return failed;
}

/*
 * Then, for each model with fallback rungs (struct iom_server_model's rungs), one group of
 * tests per rung with IOM_MASK set to it: the server, a child, takes that rung's real path.
 */
static inline int iomt_each_server_rung(const char *label, const char **model,
					const struct CMUnitTest *tests, size_t nr,
					CMFixtureFunction setup, CMFixtureFunction teardown)
{
	const char *only = getenv("IOM_SERVER_MODEL");
	int failed = 0;

	for (size_t i = 0; iom_server_models[i]; i++) {
		const char *const *rung = iom_server_models[i]->rungs;

		*model = iom_server_models[i]->name;
		if (only && strcmp(only, *model))
			continue;
		for (; rung && *rung; rung++) {
			char name[160];

			snprintf(name, sizeof(name), "%s %s IOM_MASK=%s", label, *model, *rung);
			setenv("IOM_MASK", *rung, 1);
			failed += _cmocka_run_group_tests(name, tests, nr, setup, teardown);
			unsetenv("IOM_MASK");
		}
	}
	return failed;
}

#endif
