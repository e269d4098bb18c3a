// SPDX-License-Identifier: MIT
/*
 * The bundled scripts: plot.py draws every figure from a small real run and refuses a truncated
 * or malformed runs.csv with one line naming the file and the line.
 */
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char dir[] = "/tmp/iom-test-scripts-XXXXXX";

/* Run a shell command; its exit status, stderr captured into err. */
static int sh(const char *cmd, char *err, size_t errlen)
{
	char full[4096], path[PATH_MAX];
	FILE *f;
	int status;
	size_t n;

	snprintf(path, sizeof(path), "%s/stderr", dir);
	snprintf(full, sizeof(full), "%s 2>%s >/dev/null", cmd, path);
	status = system(full);
	f = fopen(path, "r");
	n = f ? fread(err, 1, errlen - 1, f) : 0;
	err[n] = '\0';
	if (f)
		fclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *python(void)
{
	return getenv("PYTHON") ? getenv("PYTHON") : "/usr/bin/python3";
}

static int make_fixture(void **state)
{
	char cmd[2048], err[4096];
	const char *bin = getenv("IOM_BIN");

	if (!mkdtemp(dir) || !bin)
		return -1;
	/* A real, small run: two models, two workloads, two concurrencies. */
	snprintf(cmd, sizeof(cmd), "%s run --model threads,uring --workload nop,timer "
		 "--concurrency 1,4 --tasks 400 --latency-us 100 --quiet --output %s/run", bin, dir);
	return sh(cmd, err, sizeof(err));
}

static int remove_fixture(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void test_plot_makes_every_file(void **state)
{
	static const char *const files[] = {
		"throughput", "cpu_per_task", "ops_per_cpu_s", "latency_p50", "latency_p99",
		"threads", "rss", "kmem",
	};
	char cmd[2048], err[4096], path[PATH_MAX];
	struct stat st;

	if (system("/usr/bin/python3 -c 'import matplotlib' 2>/dev/null"))
		iom_skip("python3-matplotlib is not installed");
	snprintf(cmd, sizeof(cmd), "%s scripts/plot.py %s/run", python(), dir);
	assert_int_equal(sh(cmd, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		for (int ext = 0; ext < 2; ext++) {
			snprintf(path, sizeof(path), "%s/run/%s.%s", dir, files[i],
				 ext ? "svg" : "png");
			if (stat(path, &st) || st.st_size < 1000)
				fail_msg("%s missing or empty", path);
		}
	snprintf(path, sizeof(path), "%s/run/report.md", dir);
	assert_int_equal(stat(path, &st), 0);
}

/* One line on stderr naming the file and the line, exit 1. */
static void expect_one_line_error(const char *csv_text, const char *want)
{
	char cmd[2048], err[4096], path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/bad", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/bad/runs.csv", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(csv_text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s scripts/plot.py %s/bad", python(), dir);
	assert_int_equal(sh(cmd, err, sizeof(err)), 1);
	assert_non_null(strstr(err, want));
	assert_non_null(strchr(err, '\n'));
	assert_true(strchr(err, '\n')[1] == '\0');
}

static void test_plot_rejects_bad_csv(void **state)
{
	char good[8192] = "", path[PATH_MAX];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/run/runs.csv", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(good, 1, sizeof(good) - 1, f);
	fclose(f);
	good[n] = '\0';
	/* Truncated: cut the last row in half. */
	good[n - 40] = '\0';
	expect_one_line_error(good, "runs.csv:");
	expect_one_line_error("", "runs.csv:1: empty");
	expect_one_line_error("model,workload\nx,y\n", "runs.csv:1: header lacks");
	expect_one_line_error("model,workload,concurrency,status,ops_per_s\nuring,nop,lots,ok,1\n",
			      "runs.csv:2:");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plot_makes_every_file),
		cmocka_unit_test(test_plot_rejects_bad_csv),
	};

	return cmocka_run_group_tests(tests, make_fixture, remove_fixture);
}
