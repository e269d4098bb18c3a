// SPDX-License-Identifier: MIT
/*
 * Two-host mode: scripts/netns makes two namespaces, runs the backend in one and the benchmark
 * in the other through a 1 ms-each-way delay, and removes everything after. Needs root (CI is).
 */
#include <limits.h>
#include <unistd.h>

#include "testutil.h"

static void test_netns_delay_and_cleanup(void **state)
{
	char cmd[1024], dir[] = "/tmp/iom-test-netns-XXXXXX", line[8192], *p;
	double p50 = -1;	/* the mean, in fact: present whatever the sample count */
	FILE *f;
	int col = 0, want = -1;

	if (geteuid() != 0)
		iom_skip("scripts/netns needs root");
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "scripts/netns --delay-us 1000 -- --model threads --concurrency 1 "
		 "--latency-us 0 --tasks 20 --quiet --output %s/run 2>/dev/null", dir);
	assert_int_equal(system(cmd), 0);
	/* Every namespace the script made is gone (theirs are named iom<pid>c / iom<pid>s). */
	assert_int_not_equal(system("ip netns list | grep -q '^iom[0-9]*[cs]\\b'"), 0);

	snprintf(cmd, sizeof(cmd), "%s/run/runs.csv", dir);
	f = fopen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	for (p = strtok(line, ","); p; p = strtok(NULL, ","), col++)
		if (!strcmp(p, "lat_mean_ns"))
			want = col;
	assert_true(want >= 0);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_non_null(strstr(line, ",ok,"));
	col = 0;
	for (p = line; col < want && (p = strchr(p, ',')); p++, col++)
		;
	assert_non_null(p);
	p50 = atof(p);
	/* The relay holds each direction 1 ms: no round trip can take less than 2 ms. */
	if (!(p50 >= 2000000))
		fail_msg("mean round trip %.0f ns through a 2 x 1 ms relay; row: %s", p50, line);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netns_delay_and_cleanup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
