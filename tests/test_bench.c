// SPDX-License-Identifier: MIT
/*
 * make bench interrupted: Ctrl-C (SIGINT) stops the matrix after the cell that is running, and
 * every row already in runs.csv is whole and valid (plot.py reads it without complaint). No
 * bench loses another's results: two into one --output, two started in the same second.
 */
#include <limits.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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
	const char *py = iomt_python();
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

/*
 * Each model at its own best practice: kernel_free's matrix cell on cached reads passes
 * --nowait-first (the model says it took it in variant), the row says so in model_flags, a
 * pairs cell runs it without, and the report shows both; threads has no flag to pass.
 */
static void test_bench_model_flags(void **state)
{
	char dir[] = "/tmp/iom-test-bench-XXXXXX", cmd[4 * PATH_MAX];
	const char *py = iomt_python();
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

/* One cell, as cheap as a bench gets. */
#define TINY	"--quick --models threads --workloads nop --concurrency 1 --placements core " \
		"--repeat 1 --runtime 50ms --sections matrix --probes off --no-calibrate --noise-cap 1"

/* The rows of runs.csv whose status is "ok", and how many rows in all (header excluded). */
static int count_ok_rows(const char *csv, int *all)
{
	char line[8192];
	FILE *f = fopen(csv, "r");
	int ok = 0;

	*all = 0;
	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		(*all)++;
		ok += strstr(line, ",ok,") != NULL;
	}
	fclose(f);
	return ok;
}

/*
 * A second bench into the same --output adds its rows: its cells get directories of their own
 * (cells/0001 after cells/0000), so iomodels run, which refuses a directory holding a run,
 * does not refuse them, and the first bench's cell files stay as its rows say.
 */
static void test_bench_output_reused(void **state)
{
	char dir[] = "/tmp/iom-test-bench-XXXXXX", path[PATH_MAX], cmd[PATH_MAX + 256];
	struct stat st;
	int all;

	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "%s scripts/bench %s --output %s/run >/dev/null 2>&1", iomt_python(),
		 TINY, dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/run/runs.csv", dir);
	assert_int_equal(count_ok_rows(path, &all), 2);
	assert_int_equal(all, 2);
	snprintf(path, sizeof(path), "%s/run/cells/0001/runs.csv", dir);
	assert_int_equal(stat(path, &st), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* dir/results/<UTC second of t>-<host><tail>: a bench's default directory, and a file in it. */
static void default_dir(char *buf, size_t len, const char *dir, time_t t, const char *tail)
{
	char host[64] = "", stamp[32];
	struct tm tm;

	gethostname(host, sizeof(host) - 1);
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(buf, len, "%s/results/%s-%s%s", dir, stamp, host, tail);
}

/*
 * The default directory is results/<UTC second>-<host>: a bench that finds it taken (another
 * started in the same second) takes the next suffix, as iomodels run does. The directories of
 * the seconds the bench may start in are made first, each as another bench would have.
 */
static void test_bench_default_dir_unique(void **state)
{
	char dir[] = "/tmp/iom-test-bench-XXXXXX", path[PATH_MAX + 128], cmd[PATH_MAX * 2];
	char root[PATH_MAX];
	time_t now = time(NULL);
	struct stat st;
	int found = 0, all;

	assert_non_null(mkdtemp(dir));
	assert_non_null(getcwd(root, sizeof(root)));
	snprintf(path, sizeof(path), "%s/results", dir);
	assert_int_equal(mkdir(path, 0777), 0);
	for (int s = 0; s < 30; s++) {
		default_dir(path, sizeof(path), dir, now + s, "");
		assert_int_equal(mkdir(path, 0777), 0);
	}
	snprintf(cmd, sizeof(cmd), "cd %s && %s %s/scripts/bench %s >/dev/null 2>&1", dir, iomt_python(),
		 root, TINY);
	assert_int_equal(system(cmd), 0);
	for (int s = 0; s < 30; s++) {
		/* The taken directory is left as it was; the bench's rows are in its "-2". */
		default_dir(path, sizeof(path), dir, now + s, "/runs.csv");
		assert_int_not_equal(stat(path, &st), 0);
		default_dir(path, sizeof(path), dir, now + s, "-2/runs.csv");
		found += count_ok_rows(path, &all);
	}
	assert_int_equal(found, 1);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * Section server on a tiny real run: a row for every model of `serve --help` (one not built is
 * "unavailable", not missing), the servers that run answer requests, the threads server shows
 * its threads per connection, the open-loop sweep follows the closed loop, and plot.py draws it
 * with the report's "Server models" section.
 */
static void test_bench_server_section(void **state)
{
	char dir[] = "/tmp/iom-test-bench-XXXXXX", cmd[4 * PATH_MAX];
	const char *root = ".";

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "%s %s/scripts/bench --quick --sections server --server-services sleep:0 "
		 "--server-concurrency 4 --runtime 100ms --probes off --no-calibrate "
		 "--output %s/run >/dev/null 2>&1", iomt_python(), root, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd),
		 "%s - '%s' '%s/run' <<'EOF'\n"
		 "import csv, os, re, subprocess, sys\n"
		 "text = subprocess.run([sys.argv[1], 'serve', '--help'], capture_output=True, "
		 "text=True).stdout\n"
		 "models = set(re.findall(r'threads|epoll|uring|kernel_free', text.split('M is')[1]))\n"
		 "rows = list(csv.DictReader(open(os.path.join(sys.argv[2], 'server.csv'))))\n"
		 "assert {r['server_model'] for r in rows} >= models, rows\n"
		 "by = {(r['server_model'], r['mode']): r for r in rows}\n"
		 "for m in ('threads', 'epoll'):\n"
		 "    r = by[(m, 'closed')]\n"
		 "    assert r['status'] == 'ok' and int(r['server_requests']) > 0, r\n"
		 "    assert (m, 'open') in by and int(by[(m, 'open')]['rate_target']) > 0, by\n"
		 "t = by[('threads', 'closed')]\n"
		 "assert int(t['server_threads_peak']) >= int(t['server_threads_idle']) + 4, t\n"
		 "assert all(r['status'] in ('ok', 'unavailable') for r in rows), rows\n"
		 "u = by[('uring', 'closed')]\n"
		 "assert u['status'] != 'ok' or 'bufring' in u['server_variant'], u\n"
		 "EOF", iomt_python(), getenv("IOM_BIN"), dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s %s/scripts/plot.py %s/run >/dev/null && test -s %s/run/server.png"
		 " && grep -q '^## Server models' %s/run/report.md", iomt_python(), root, dir, dir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bench_sigint_leaves_valid_rows),
		cmocka_unit_test(test_bench_model_flags),
		cmocka_unit_test(test_bench_output_reused),
		cmocka_unit_test(test_bench_default_dir_unique),
		cmocka_unit_test(test_bench_server_section),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
