// SPDX-License-Identifier: MIT
/*
 * make soak, short: every server model of `serve --help` under load, faults and abusive clients
 * for a few seconds passes (flat RSS, fds, threads after warm-up; errors only those injected;
 * conservation). The flatness rule itself fails a growing series and passes a wandering one.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* The sanitizers' allocators keep freed memory in quarantine: RSS says nothing there. */
#define RSS_SLACK	"1073741824"
#else
#define RSS_SLACK	"8388608"
#endif

static void test_soak_short_passes(void **state)
{
	char dir[] = "/tmp/iom-test-soak-XXXXXX", cmd[2 * PATH_MAX];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "%s scripts/soak --duration 5s --rss-slack " RSS_SLACK
		 " --output %s/s >%s/log 2>&1 || { cat %s/log; exit 1; }", iomt_python(), dir, dir, dir);
	assert_int_equal(system(cmd), 0);
	/* A verdict for every model of the table, and every model that ran was sampled. */
	snprintf(cmd, sizeof(cmd),
		 "%s - '%s' '%s/s/soak.json' <<'EOF'\n"
		 "import json, re, subprocess, sys\n"
		 "text = subprocess.run([sys.argv[1], 'serve', '--help'], capture_output=True, "
		 "text=True).stdout\n"
		 "models = set(re.findall(r'threads|epoll|uring|kernel_free', text.split('M is')[1]))\n"
		 "v = {m['model']: m for m in json.load(open(sys.argv[2]))['models']}\n"
		 "assert set(v) == models, v.keys()\n"
		 "ran = [m for m in v.values() if m['status'] != 'unavailable']\n"
		 "assert len(ran) >= 3 and all(m['passed'] and m['samples'] >= 4 for m in ran), ran\n"
		 "assert all(m['abuse']['malformed_sent'] > 0 and m['abuse']['churn_answered'] > 0 "
		 "and m['abuse']['async_accepted'] > 0 and "
		 "m['server_stats']['async_abandoned'] > 0 for m in ran), ran\n"
		 "EOF", iomt_python(), getenv("IOM_BIN"), dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_soak_flat_rule(void **state)
{
	char cmd[2048];

	(void)state;
	snprintf(cmd, sizeof(cmd),
		 "%s - <<'EOF'\n"
		 "import importlib.machinery, importlib.util\n"
		 "loader = importlib.machinery.SourceFileLoader('soak', 'scripts/soak')\n"
		 "spec = importlib.util.spec_from_loader('soak', loader)\n"
		 "soak = importlib.util.module_from_spec(spec)\n"
		 "loader.exec_module(soak)\n"
		 "def series(step):\n"
		 "    return [dict(t=i * 0.5, rss_bytes=(20 << 20) + i * step, fds=40, threads=3)\n"
		 "            for i in range(40)]\n"
		 "grow = soak.flat(series(1 << 20), 5.0)\n"
		 "assert not grow['rss_bytes']['ok'] and grow['fds']['ok'], grow\n"
		 "even = soak.flat([dict(s, rss_bytes=s['rss_bytes'] + (i %% 3) * 4096)\n"
		 "                  for i, s in enumerate(series(0))], 5.0)\n"
		 "assert all(f['ok'] for f in even.values()), even\n"
		 "few = soak.flat(series(0)[:12], 5.0)\n"
		 "assert not few['rss_bytes']['ok'], few\n"
		 "EOF", iomt_python());
	assert_int_equal(system(cmd), 0);
}

static void test_soak_bad_usage(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s scripts/soak --duration 1s --output /nonexistent/x "
		 "2>/dev/null; test $? -eq 2", iomt_python());
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_soak_flat_rule),
		cmocka_unit_test(test_soak_bad_usage),
		cmocka_unit_test(test_soak_short_passes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
