// SPDX-License-Identifier: MIT
/*
 * Tests that no result is ever lost: concurrent runs in one results/ directory, --output over
 * an existing run (refused, --append, --force), a run killed with SIGKILL, and a full disk.
 * Each runs "$IOM_BIN" as a user would, in a fresh directory.
 */
#include "tests/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS	32
#define FAST		"run", "--model", "threads", "--workload", "nop", "--tasks", "100", "--quiet"

static int setup_tmp(void **state)
{
	char *dir = strdup("/tmp/iom_test_results.XXXXXX");

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int teardown_tmp(void **state)
{
	char *dir = *state, mnt[PATH_MAX];

	snprintf(mnt, sizeof(mnt), "%s/small", dir);
	umount2(mnt, MNT_DETACH);
	iomt_rm_tree(dir);
	free(dir);
	return 0;
}

/* Start "$IOM_BIN" args... in cwd, stdout to /dev/null, stderr to cwd/../stderr-<tag>. */
static pid_t start(const char *cwd, const char *tag, const char *const *args)
{
	char *argv[MAX_ARGS + 2], errpath[PATH_MAX];
	int n = 0;
	pid_t pid;

	argv[n++] = (char *)iomt_bin();
	for (int i = 0; args[i] && n < MAX_ARGS; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	snprintf(errpath, sizeof(errpath), "%s/../stderr-%s", cwd, tag);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		int err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (null < 0 || err < 0 || chdir(cwd) || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
		    dup2(err, 2) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static int finish(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run(const char *cwd, const char *tag, const char *const *args)
{
	return finish(start(cwd, tag, args));
}

/* Fields per record of a CSV text; -1 if two records differ, or the text ends mid-record. */
static int csv_shape(const char *s, int *records)
{
	int fields = 1, want = -1;
	bool quoted = false;

	*records = 0;
	for (; *s; s++) {
		if (*s == '"')
			quoted = !quoted;
		else if (*s == ',' && !quoted)
			fields++;
		else if (*s == '\n' && !quoted) {
			if (want >= 0 && fields != want)
				return -1;
			want = fields;
			fields = 1;
			(*records)++;
		}
	}
	return fields == 1 && !quoted ? want : -1;
}

/* The rows of dir/runs.csv (every record whole and as wide as the header), run.json agreeing. */
static int whole_rows(const char *dir)
{
	struct json_object *root, *rows;
	char path[PATH_MAX], *csv = iomt_slurp_in(dir, "runs.csv");
	int records, width;

	if (!csv)
		fail_msg("%s/runs.csv missing", dir);
	width = csv_shape(csv, &records);
	if (width < 10 || csv[0] == '\0' || csv[strlen(csv) - 1] != '\n')
		fail_msg("%s/runs.csv is not whole rows:\n%s", dir, csv);
	free(csv);
	snprintf(path, sizeof(path), "%s/run.json", dir);
	root = json_object_from_file(path);
	if (!root || !json_object_object_get_ex(root, "rows", &rows))
		fail_msg("%s: not a run.json", path);
	/* A kill between the CSV's write and run.json's rename leaves the JSON one row short. */
	if ((int)json_object_array_length(rows) != records - 1 &&
	    (int)json_object_array_length(rows) != records - 2)
		fail_msg("%s: %zu rows, runs.csv %d", path, json_object_array_length(rows),
			 records - 1);
	json_object_put(root);
	return records - 1;
}

/* Names in dir, sorted-insensitive: space-separated, each followed by a space. */
static void names(const char *dir, char *buf, size_t len)
{
	struct dirent **list;
	size_t used = 0;
	int n = scandir(dir, &list, NULL, alphasort);

	assert_true(n >= 0);
	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, ".."))
			used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s ",
						 list[i]->d_name);
		free(list[i]);
	}
	free(list);
}

static void cwd_of(const char *tmp, char *cwd, size_t len)
{
	snprintf(cwd, len, "%s/cwd", tmp);
	if (mkdir(cwd, 0755) && errno != EEXIST)
		fail_msg("mkdir %s: %s", cwd, strerror(errno));
}

/* N runs at once with the default output: N run directories, each with its own one row. */
static void concurrent(const char *tmp, unsigned int n)
{
	char cwd[PATH_MAX], res[PATH_MAX], dir[PATH_MAX], list[8192], tag[16], cs[8][8];
	unsigned int seen = 0, nr_dirs = 0;
	struct dirent *e;
	pid_t pids[8];
	DIR *d;

	cwd_of(tmp, cwd, sizeof(cwd));
	for (unsigned int i = 0; i < n; i++) {
		const char *args[] = { FAST, "--concurrency", cs[i], NULL };

		snprintf(cs[i], sizeof(cs[i]), "%u", i + 1);
		snprintf(tag, sizeof(tag), "c%u", i);
		pids[i] = start(cwd, tag, args);
	}
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(finish(pids[i]), 0);

	snprintf(res, sizeof(res), "%s/results", cwd);
	d = opendir(res);
	assert_non_null(d);
	while ((e = readdir(d))) {
		char *csv, *p;

		if (e->d_name[0] == '.' || !strcmp(e->d_name, "latest"))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", res, e->d_name);
		assert_int_equal(whole_rows(dir), 1);
		csv = iomt_slurp_in(dir, "runs.csv");
		p = strchr(csv, '\n');
		assert_non_null(p);
		/* model,workload,concurrency: the third field says which run this was. */
		p = strchr(strchr(p + 1, ',') + 1, ',') + 1;
		seen |= 1u << (atoi(p) - 1);
		free(csv);
		nr_dirs++;
	}
	closedir(d);
	names(res, list, sizeof(list));
	if (nr_dirs != n || seen != (1u << n) - 1)
		fail_msg("%u runs at once kept %u directories (rows of C mask %#x): %s", n, nr_dirs,
			 seen, list);
	/* latest is a symlink to one of them, and no temporary name is left beside it. */
	snprintf(dir, sizeof(dir), "%s/latest/runs.csv", res);
	assert_int_equal(access(dir, R_OK), 0);
	if (strstr(list, ".latest"))
		fail_msg("a temporary latest is left: %s", list);
	iomt_rm_tree(res);
}

static void test_concurrent_runs(void **state)
{
	concurrent(*state, 2);
	concurrent(*state, 8);
}

/* --output over a run: refused whole (exit 2, one line, not a byte changed). */
static void test_output_refused(void **state)
{
	const char *tmp = *state;
	const char *args[] = { FAST, "--output", "out", NULL };
	char cwd[PATH_MAX], out[PATH_MAX], before[4096], after[4096], *csv0, *csv1, *err, *nl;

	cwd_of(tmp, cwd, sizeof(cwd));
	snprintf(out, sizeof(out), "%s/out", cwd);
	assert_int_equal(run(cwd, "a", args), 0);
	csv0 = iomt_slurp_in(out, "runs.csv");
	names(out, before, sizeof(before));
	assert_int_equal(run(cwd, "b", args), 2);
	csv1 = iomt_slurp_in(out, "runs.csv");
	names(out, after, sizeof(after));
	assert_string_equal(csv0, csv1);
	assert_string_equal(before, after);
	err = iomt_slurp_in(tmp, "stderr-b");
	nl = strchr(err, '\n');
	if (!nl || nl[1] || !strstr(err, "--append") || !strstr(err, "--force"))
		fail_msg("want one line naming --append and --force, got: %s", err);
	free(csv0);
	free(csv1);
	free(err);
}

/* --append: rows added under the next indices; a run of other columns is refused. */
static void test_append(void **state)
{
	const char *tmp = *state;
	const char *first[] = { FAST, "--output", "out", NULL };
	const char *more[] = { FAST, "--concurrency", "2,3", "--output", "out", "--append", NULL };
	const char *bad[] = { FAST, "--output", "other", "--append", NULL };
	char cwd[PATH_MAX], out[PATH_MAX], path[PATH_MAX], *text;

	cwd_of(tmp, cwd, sizeof(cwd));
	snprintf(out, sizeof(out), "%s/out", cwd);
	assert_int_equal(run(cwd, "a", first), 0);
	assert_int_equal(run(cwd, "b", more), 0);
	assert_int_equal(whole_rows(out), 3);
	/* The appended cells' files and histograms carry rows 1 and 2, not 0 again. */
	snprintf(path, sizeof(path), "%s/series-row2.csv", out);
	assert_int_equal(access(path, R_OK), 0);
	text = iomt_slurp_in(out, "hist.csv");
	assert_non_null(strstr(text, "\n2,"));
	free(text);
	text = iomt_slurp_in(out, "cmdline.txt");
	assert_non_null(strstr(text, "--append"));
	assert_non_null(strchr(text, '\n') + 1);
	free(text);

	/* Another build's columns: refused, the file as it was. */
	snprintf(path, sizeof(path), "%s/other", cwd);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/other/runs.csv", cwd);
	iomt_write_file(path, "model,workload,ops_per_s\nthreads,nop,5\n");
	assert_int_equal(run(cwd, "c", bad), 2);
	text = iomt_slurp(path);
	assert_string_equal(text, "model,workload,ops_per_s\nthreads,nop,5\n");
	free(text);
	text = iomt_slurp_in(tmp, "stderr-c");
	assert_non_null(strstr(text, "header"));
	assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);
	free(text);

	/* A run.json alone: refused, and left as it was. */
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/other/run.json", cwd);
	iomt_write_file(path, "{}\n");
	assert_int_equal(run(cwd, "d", bad), 2);
	text = iomt_slurp(path);
	assert_string_equal(text, "{}\n");
	free(text);
}

static void touch(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	iomt_write_file(path, "old\n");
}

/* --force: every file of the old run goes (series, figures, report), a stranger's stays. */
static void test_force(void **state)
{
	const char *tmp = *state;
	const char *first[] = { FAST, "--concurrency", "1,2,3", "--output", "out", NULL };
	const char *again[] = { FAST, "--output", "out", "--force", NULL };
	char cwd[PATH_MAX], out[PATH_MAX], list[4096];

	cwd_of(tmp, cwd, sizeof(cwd));
	snprintf(out, sizeof(out), "%s/out", cwd);
	assert_int_equal(run(cwd, "a", first), 0);
	touch(out, "report.md");
	touch(out, "throughput.png");
	touch(out, "notes.txt");
	assert_int_equal(run(cwd, "b", again), 0);
	assert_int_equal(whole_rows(out), 1);
	names(out, list, sizeof(list));
	assert_string_equal(list, "cmdline.txt hist.csv models.csv notes.txt run.json runs.csv "
				  "series-row0.csv ");
}

/* SIGKILL mid-run: every row in runs.csv is whole, run.json agrees. */
static void test_kill9(void **state)
{
	const char *tmp = *state;
	const char *args[] = { FAST, "--concurrency", "1,2,3,4", "--repeat", "1000", "--output",
			       "out", NULL };
	char cwd[PATH_MAX], out[PATH_MAX];
	int rows = 0;
	pid_t pid;

	cwd_of(tmp, cwd, sizeof(cwd));
	snprintf(out, sizeof(out), "%s/out", cwd);
	pid = start(cwd, "a", args);
	for (int i = 0; i < 3000 && rows < 8; i++) {
		char path[PATH_MAX + 16], *csv;

		usleep(10000);
		/* Not there yet while the run starts (a sanitizer build starts slowly). */
		snprintf(path, sizeof(path), "%s/runs.csv", out);
		csv = iomt_slurp_or_null(path);
		if (csv)
			csv_shape(csv, &rows);
		free(csv);
	}
	kill(pid, SIGKILL);
	assert_int_equal(finish(pid), 128 + SIGKILL);
	assert_true(whole_rows(out) >= 7);
}

/* A full disk: one line naming ENOSPC, then only whole rows, and no temporary file. */
static void test_enospc(void **state)
{
	const char *tmp = *state;
	const char *args[] = { FAST, "--concurrency", "1,2,3,4,5,6,7,8", "--repeat", "8",
			       "--output", "../small/out", NULL };
	char cwd[PATH_MAX], mnt[PATH_MAX], out[PATH_MAX], list[8192], want[64], *err, *nl;
	int rows;

	cwd_of(tmp, cwd, sizeof(cwd));
	snprintf(mnt, sizeof(mnt), "%s/small", tmp);
	assert_int_equal(mkdir(mnt, 0755), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=48k"))
		iom_skip("mount tmpfs: %s (needs root)", strerror(errno));
	snprintf(out, sizeof(out), "%s/out", mnt);
	assert_int_equal(run(cwd, "a", args), 1);
	err = iomt_slurp_in(tmp, "stderr-a");
	nl = strchr(err, '\n');
	if (!strstr(err, "ENOSPC") || !nl || nl[1])
		fail_msg("want one line naming ENOSPC, got: %s", err);
	free(err);
	rows = whole_rows(out);
	assert_true(rows < 64);
	names(out, list, sizeof(list));
	if (strstr(list, ".tmp"))
		fail_msg("a temporary file is left: %s", list);
	/* No series file of a row that is not in runs.csv. */
	snprintf(want, sizeof(want), "series-row%d.csv", rows);
	if (strstr(list, want))
		fail_msg("%s is left for a row runs.csv does not have: %s", want, list);
}

/* A plain run says what each model is (plot.py's "execution model", "sync or async"). */
static void test_models_csv(void **state)
{
	const char *tmp = *state;
	const char *args[] = { FAST, "--output", "out", NULL };
	char cwd[PATH_MAX], out[PATH_MAX], *text;

	cwd_of(tmp, cwd, sizeof(cwd));
	snprintf(out, sizeof(out), "%s/out", cwd);
	assert_int_equal(run(cwd, "a", args), 0);
	text = iomt_slurp_in(out, "models.csv");
	if (!text)
		fail_msg("a plain run wrote no models.csv");
	/* What each model says of itself (its struct), for the report's checklist. */
	if (strncmp(text, "model,caps,desc,task_id,completion,domains\n", 43) ||
	    !strstr(text, "\nthreads,\"sync,") || !strstr(text, "\nuring,\"async,") ||
	    !strstr(text, "(async by completion)") || !strstr(text, ",\"user_data = task id on the SQE") ||
	    !strstr(text, ",\"3: SQ, kernel/io-wq, CQ\"\n"))
		fail_msg("models.csv:\n%s", text);
	free(text);
}

/* Column index of name in runs.csv's header (no quoted names there), or fail. */
static int col_of(const char *csv, const char *name)
{
	const char *p = csv;
	size_t n = strlen(name);

	for (int i = 0; *p && *p != '\n'; i++) {
		if (!strncmp(p, name, n) && (p[n] == ',' || p[n] == '\n'))
			return i;
		p += strcspn(p, ",\n");
		if (*p == ',')
			p++;
	}
	fail_msg("runs.csv has no column %s", name);
	return -1;
}

/* Field col of the record starting at line (RFC 4180 quotes), unquoted into buf. */
static void field(const char *line, int col, char *buf, size_t len)
{
	bool quoted = false;
	size_t n = 0;

	for (int i = 0; *line && i <= col; line++) {
		if (*line == '"' && !(quoted && line[1] == '"')) {
			quoted = !quoted;
			continue;
		}
		if (*line == '"')
			line++;
		else if (!quoted && (*line == ',' || *line == '\n')) {
			i++;
			continue;
		}
		if (i == col && n + 1 < len)
			buf[n++] = *line;
	}
	buf[n] = '\0';
}

/* The start of the record after the one at line (a quoted field may hold a line break). */
static char *next_record(char *line)
{
	bool quoted = false;

	for (; *line; line++) {
		if (*line == '"')
			quoted = !quoted;
		else if (*line == '\n' && !quoted)
			return line + 1;
	}
	return line;
}

/*
 * kernel_free at C=64 after threads at C=64: its 64 workers each fault in at least a page of
 * stack of their own. In one process glibc hands it the threads cell's cached stacks and the
 * cell looks as small as C=1; with --fork-cells each cell is its own.
 */
static void test_memory_per_cell(void **state)
{
	const char *tmp = *state;
	const char *args[] = { "run", "--model", "threads,kernel_free", "--workload", "timer",
			       "--concurrency", "64", "--runtime", "200ms", "--quiet", "--fork-cells",
			       "--output", "out", NULL };
	char cwd[PATH_MAX], out[PATH_MAX], model[32], iso[32], rss[32], *csv, *line;
	int c_model, c_rss, c_iso, rows = 0;

	cwd_of(tmp, cwd, sizeof(cwd));
	snprintf(out, sizeof(out), "%s/out", cwd);
	assert_int_equal(run(cwd, "a", args), 0);
	csv = iomt_slurp_in(out, "runs.csv");
	c_model = col_of(csv, "model");
	c_rss = col_of(csv, "rss_cell_bytes");
	c_iso = col_of(csv, "mem_isolation");
	for (line = next_record(csv); *line; line = next_record(line), rows++) {
		field(line, c_model, model, sizeof(model));
		field(line, c_rss, rss, sizeof(rss));
		field(line, c_iso, iso, sizeof(iso));
		print_message("%s: rss_cell_bytes %s (%s)\n", model, rss, iso);
		assert_string_equal(iso, "fork");
		if (atof(rss) < 64 * 4096)
			fail_msg("%s C=64: rss_cell_bytes %s, less than a page per thread", model,
				 rss);
	}
	assert_int_equal(rows, 2);
	free(csv);
}

/*
 * The async API's server memory columns reach both files: a number in an async row (the cell's
 * own server, 16 tasks of 100 ms pending), empty in runs.csv and null in run.json for a sync
 * row appended after it (no task was pending: nothing to divide).
 */
static void test_server_memory_columns(void **state)
{
	const char *tmp = *state;
	const char *async[] = { "run", "--model", "epoll", "--workload", "rpc", "--api", "async",
				"--wait", "--concurrency", "16", "--latency-us", "100000",
				"--runtime", "300ms", "--quiet", "--output", "out", NULL };
	const char *sync[] = { "run", "--model", "epoll", "--workload", "rpc", "--tasks", "50",
			       "--quiet", "--append", "--output", "out", NULL };
	const char *cols[] = { "srv_bytes_per_pending", "srv_rss_per_pending" };
	char cwd[PATH_MAX], out[PATH_MAX], val[64], key[64], *csv, *json, *line;

	cwd_of(tmp, cwd, sizeof(cwd));
	snprintf(out, sizeof(out), "%s/out", cwd);
	assert_int_equal(run(cwd, "a", async), 0);
	assert_int_equal(run(cwd, "b", sync), 0);
	csv = iomt_slurp_in(out, "runs.csv");
	json = iomt_slurp_in(out, "run.json");
	assert_non_null(csv);
	assert_non_null(json);
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		line = next_record(csv);
		field(line, col_of(csv, cols[i]), val, sizeof(val));
		if (!(atof(val) > 0))
			fail_msg("async row: %s '%s'", cols[i], val);
		field(next_record(line), col_of(csv, cols[i]), val, sizeof(val));
		if (val[0])
			fail_msg("sync row: %s '%s', not empty", cols[i], val);
		snprintf(key, sizeof(key), "\"%s\":null", cols[i]);
		assert_non_null(strstr(json, key));
		snprintf(key, sizeof(key), "\"%s\":", cols[i]);
		line = strstr(json, key);
		if (!line || !(atof(line + strlen(key)) > 0))
			fail_msg("run.json: the async row's %s is not a number > 0", cols[i]);
	}
	free(csv);
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_concurrent_runs, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_output_refused, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_append, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_force, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_kill9, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_enospc, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_models_csv, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_memory_per_cell, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_server_memory_columns, setup_tmp, teardown_tmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
