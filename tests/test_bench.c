// SPDX-License-Identifier: MIT
/*
 * make bench interrupted: Ctrl-C (SIGINT) stops the matrix after the cell that is running, and
 * every row already in runs.csv is whole and valid (plot.py reads it without complaint).
 */
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/helpers.h"

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
	int status, lines = 0, plot_status;
	bool have_plot;
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
	snprintf(cmd, sizeof(cmd), "'%s' -c 'import matplotlib' 2>/dev/null", py);
	have_plot = system(cmd) == 0;
	snprintf(cmd, sizeof(cmd), "'%s' scripts/plot.py %s/run >/dev/null 2>&1", py, dir);
	plot_status = have_plot ? system(cmd) : -1;
	iomt_rm_tree(dir);
	/* plot.py is what validates the rows: without matplotlib that check is skipped, loudly. */
	if (!have_plot)
		iom_skip("%s has no matplotlib: the rows were not validated by plot.py", py);
	assert_int_equal(plot_status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bench_sigint_leaves_valid_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
