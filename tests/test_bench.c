// SPDX-License-Identifier: MIT
/*
 * make bench interrupted: Ctrl-C (SIGINT) stops the matrix after the cell that is running, and
 * every row already in runs.csv is whole and valid (plot.py reads it without complaint).
 */
#include <limits.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void test_bench_sigint_leaves_valid_rows(void **state)
{
	char dir[] = "/tmp/iom-test-bench-XXXXXX", csv[PATH_MAX], cmd[PATH_MAX + 64];
	const char *py = getenv("PYTHON") ? getenv("PYTHON") : "/usr/bin/python3";
	int status, lines = 0;
	pid_t pid;

	assert_non_null(mkdtemp(dir));
	snprintf(csv, sizeof(csv), "%s/run/runs.csv", dir);
	pid = fork();
	if (pid == 0) {
		char out[PATH_MAX];

		snprintf(out, sizeof(out), "%s/run", dir);
		setpgid(0, 0);
		execl(py, py, "scripts/bench", "--quick", "--models", "threads,uring", "--workloads",
		      "nop,timer", "--concurrency", "1,4,16", "--sections", "matrix", "--probes", "off",
		      "--no-calibrate", "--output", out, (char *)NULL);
		_exit(127);
	}
	/* Wait (at most 60 s) for two finished rows, then Ctrl-C the whole process group. */
	for (int i = 0; i < 600 && lines < 3; i++) {
		usleep(100000);
		lines = count_lines(csv);
	}
	assert_true(lines >= 3);
	kill(-pid, SIGINT);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 130);
	/* Fewer rows than the 24 cells, all whole: plot.py validates every row and field. */
	lines = count_lines(csv);
	assert_true(lines >= 3 && lines < 25);
	snprintf(cmd, sizeof(cmd), "%s scripts/plot.py %s/run >/dev/null 2>&1", py, dir);
	if (system("/usr/bin/python3 -c 'import matplotlib' 2>/dev/null") == 0)
		assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * Each model at its own best practice: kernel_free's matrix cell on cached reads passes
 * --nowait-first (the model says it took it in variant), the row says so in model_flags, a
 * pairs cell runs it without, and the report shows both; threads has no flag to pass.
 */
static void test_bench_model_flags(void **state)
{
	char dir[] = "/tmp/iom-test-bench-XXXXXX", cmd[4 * PATH_MAX];
	const char *py = getenv("PYTHON") ? getenv("PYTHON") : "/usr/bin/python3";
	static const char check[] =
		"import csv, sys\n"
		"rows = list(csv.DictReader(open(sys.argv[1] + '/runs.csv')))\n"
		"kf = lambda s: [r for r in rows if r['model'] == 'kernel_free' and r['section'] == s]\n"
		"th = [r for r in rows if r['model'] == 'threads']\n"
		"ok = (len(kf('matrix')) == 1 and kf('matrix')[0]['model_flags'] == '--nowait-first'\n"
		"      and 'nowait-first' in kf('matrix')[0]['variant']\n"
		"      and len(kf('pairs')) == 1 and kf('pairs')[0]['model_flags'] == ''\n"
		"      and 'nowait-first' not in kf('pairs')[0]['variant']\n"
		"      and len(th) == 1 and th[0]['model_flags'] == ''\n"
		"      and all(r['status'] == 'ok' for r in rows))\n"
		"rep = open(sys.argv[1] + '/report.md').read() if len(sys.argv) > 2 else ''\n"
		"ok = ok and (len(sys.argv) < 3 or ('| kernel_free | file | `--nowait-first` |' in rep\n"
		"      and 'tasks/s without' in rep))\n"
		"sys.exit(0 if ok else print(rows) or 1)\n";
	FILE *f;
	char script[PATH_MAX];
	bool plots = system("/usr/bin/python3 -c 'import matplotlib' 2>/dev/null") == 0;

	assert_non_null(mkdtemp(dir));
	snprintf(script, sizeof(script), "%s/check.py", dir);
	f = fopen(script, "w");
	assert_non_null(f);
	fputs(check, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "%s scripts/bench --quick --models threads,kernel_free --workloads file "
		 "--concurrency 4 --placements core --sections matrix,pairs --probes off --noise-cap 1 "
		 "--no-calibrate --size 8M --directory %s --output %s/run >/dev/null 2>&1",
		 py, dir, dir);
	assert_int_equal(system(cmd), 0);
	if (plots) {
		snprintf(cmd, sizeof(cmd), "%s scripts/plot.py %s/run >/dev/null 2>&1", py, dir);
		assert_int_equal(system(cmd), 0);
	}
	snprintf(cmd, sizeof(cmd), "%s %s %s/run%s", py, script, dir, plots ? " report" : "");
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bench_sigint_leaves_valid_rows),
		cmocka_unit_test(test_bench_model_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
