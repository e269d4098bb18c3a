// SPDX-License-Identifier: MIT
/* Tests for cli/main.c, the command line: bad inputs, a small run, list and help. */
/*
 * Run as a user would: "$IOM_BIN" in a fresh empty cwd. Every bad input is exit 2, one line on
 * stderr, nothing on stdout, and no file written.
 */
#include "tests/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/model.h"

#define MAX_ARGS	24
#define BAD_TIMEOUT_MS	2000	/* a parse error exits in milliseconds, even under TSan */
#define RUN_TIMEOUT_MS	30000
#define OUT		"@/out"	/* <tmpdir>/out (iomt_run_cli) */

struct cli_case {
	const char *name;
	bool output;			/* append --output <tmpdir>/out */
	const char *argv[MAX_ARGS];	/* NULL-terminated, after the program name */
};

/* Keep a wrongly accepted input short: one cheap cell instead of the 3 s default matrix. */
#define FAST	"--model", "threads", "--workload", "nop", "--tasks", "100"
/* The same cell of a model with options of its own (their values are checked, not refused). */
#define FAST_URING	"--model", "uring", "--workload", "nop", "--tasks", "100"
#define FAST_KF		"--model", "kernel_free", "--workload", "nop", "--tasks", "100"

static const struct cli_case bad_cases[] = {
	{ "no args", false, { NULL } },
	{ "unknown command", false, { "frobnicate", NULL } },
	{ "calibrate --probes nosuch", false, { "calibrate", "--probes", "nosuch", NULL } },
	{ "calibrate --probes (no list)", false, { "calibrate", "--probes", NULL } },
	{ "calibrate --frob x", false, { "calibrate", "--frob", "x", NULL } },
	{ "calibrate --only nosuch", true, { "calibrate", "--only", "syscall_ns,nosuch", NULL } },
	{ "calibrate --only syscall_ns,", true, { "calibrate", "--only", "syscall_ns,", NULL } },
	{ "run --model nosuch", true, { "run", "--model", "nosuch", "--workload", "nop", "--tasks",
					"100", NULL } },
	{ "run --model threads,nosuch", true, { "run", "--model", "threads,nosuch", "--workload",
						"nop", "--tasks", "100", NULL } },
	{ "run --workload nosuch", true, { "run", "--workload", "nosuch", "--model", "threads",
					   "--tasks", "100", NULL } },
	{ "run --concurrency 0", true, { "run", FAST, "--concurrency", "0", NULL } },
	{ "run --fault EIO", true, { "run", FAST, "--fault", "EIO", NULL } },
	{ "run --fault errno:EFOO@0.1", true, { "run", FAST, "--fault", "errno:EFOO@0.1", NULL } },
	{ "run --fault errno:EIO@1.5", true, { "run", FAST, "--fault", "errno:EIO@1.5", NULL } },
	{ "run --fault errno:@0.1", true, { "run", FAST, "--fault", "errno:@0.1", NULL } },
	{ "run --fault kill-worker", true, { "run", FAST, "--fault", "kill-worker", NULL } },
	{ "run --fault kill-worker@2", true, { "run", FAST, "--fault", "kill-worker@2", NULL } },
	{ "run --fault drop-conn@x", true, { "run", FAST, "--fault", "drop-conn@x", NULL } },
	{ "run --fault cq-overflow:6", true, { "run", FAST, "--fault", "cq-overflow:6", NULL } },
	{ "run --fault cq-overflow:2", true, { "run", FAST, "--fault", "cq-overflow:2", NULL } },
	{ "run --fault cq-overflow@0.1", true, { "run", FAST, "--fault", "cq-overflow@0.1",
						NULL } },
	{ "run --fault frob@0.1", true, { "run", FAST, "--fault", "frob@0.1", NULL } },
	{ "run --fault errno:EIO@0.1,", true, { "run", FAST, "--fault", "errno:EIO@0.1,",
						NULL } },
	{ "run --sq-entries 6", true, { "run", FAST_URING, "--sq-entries", "6", NULL } },
	{ "run --sq-entries 2", true, { "run", FAST_URING, "--sq-entries", "2", NULL } },
	/* A model's own option in a run of other models only: refused, naming its model. */
	{ "run --model threads --sqpoll", true, { "run", FAST, "--sqpoll", NULL } },
	{ "run --sqpoll --model threads,epoll (after)", true, { "run", "--sqpoll", "--model",
								"threads,epoll", "--workload", "nop", "--tasks", "100",
								NULL } },
	{ "run --model uring --notify poll", true, { "run", FAST_URING, "--notify", "poll",
						    NULL } },
	{ "watch --workers 4 (default lanes: threads, uring)", true, { "watch", "--workers", "4",
								       "--runtime", "1", NULL } },
	{ "run --model kernel_free --nowait-first=1", true, { "run", FAST_KF, "--nowait-first=1",
							      NULL } },
	{ "run --model kernel_free --poll-interval-us 10 (--notify wait)", true,
	  { "run", FAST_KF, "--poll-interval-us", "10", NULL } },
	{ "run --model threads --poll-interval-us 10", true,
	  { "run", FAST, "--poll-interval-us", "10", NULL } },
	{ "help nosuchmodel", false, { "help", "nosuchmodel", NULL } },
	{ "run --concurrency -1", true, { "run", FAST, "--concurrency", "-1", NULL } },
	{ "run --concurrency abc", true, { "run", FAST, "--concurrency", "abc", NULL } },
	{ "run --concurrency 1.5", true, { "run", FAST, "--concurrency", "1.5", NULL } },
	{ "run --concurrency 1,,2", true, { "run", FAST, "--concurrency", "1,,2", NULL } },
	{ "run --concurrency 1,", true, { "run", FAST, "--concurrency", "1,", NULL } },
	{ "run --concurrency ,", true, { "run", FAST, "--concurrency", ",", NULL } },
	{ "run --concurrency ''", true, { "run", FAST, "--concurrency", "", NULL } },
	{ "run --model threads,,uring", true, { "run", "--model", "threads,,uring", "--workload",
						"nop", "--tasks", "100", NULL } },
	{ "run --runtime abc", true, { "run", "--model", "threads", "--workload", "nop",
				       "--runtime", "abc", NULL } },
	{ "run --runtime -1", true, { "run", "--model", "threads", "--workload", "nop",
				      "--runtime", "-1", NULL } },
	{ "run --runtime 0", true, { "run", "--model", "threads", "--workload", "nop",
				     "--runtime", "0", NULL } },
	{ "run --tasks 10 --runtime 1", true, { "run", "--model", "threads", "--workload", "nop",
						"--tasks", "10", "--runtime", "1", NULL } },
	{ "run --tasks abc", true, { "run", "--model", "threads", "--workload", "nop", "--tasks",
				     "abc", NULL } },
	{ "run --tasks 0", true, { "run", "--model", "threads", "--workload", "nop", "--tasks",
				   "0", NULL } },
	{ "run --bs 1000", true, { "run", FAST, "--bs", "1000", NULL } },
	{ "run --bs 0", true, { "run", FAST, "--bs", "0", NULL } },
	{ "run --size 1K --bs 4K", true, { "run", FAST, "--size", "1K", "--bs", "4K", NULL } },
	{ "run --size 1X", true, { "run", FAST, "--size", "1X", NULL } },
	{ "run --cpus 99", true, { "run", FAST, "--cpus", "99", NULL } },
	{ "run --cpus 1-0", true, { "run", FAST, "--cpus", "1-0", NULL } },
	{ "run --cpus x", true, { "run", FAST, "--cpus", "x", NULL } },
	{ "run --cpus 0,,1", true, { "run", FAST, "--cpus", "0,,1", NULL } },
	{ "run --latency-dist foo", true, { "run", FAST, "--latency-dist", "foo", NULL } },
	{ "run --latency-dist bimodal:2,5", true, { "run", FAST, "--latency-dist", "bimodal:2,5",
						    NULL } },
	{ "run --latency-dist bimodal:0.1", true, { "run", FAST, "--latency-dist", "bimodal:0.1",
						    NULL } },
	{ "run --latency-us -1", true, { "run", FAST, "--latency-us", "-1", NULL } },
	{ "run --rw sideways", true, { "run", FAST, "--rw", "sideways", NULL } },
	{ "run --direct=2", true, { "run", FAST, "--direct=2", NULL } },
	{ "run --rate 0", true, { "run", FAST, "--rate", "0", NULL } },
	{ "run --rate -5", true, { "run", FAST, "--rate", "-5", NULL } },
	{ "run --rate-process foo", true, { "run", FAST, "--rate", "1000", "--rate-process", "foo",
					    NULL } },
	{ "run --on-partial maybe", true, { "run", FAST, "--on-partial", "maybe", NULL } },
	{ "run --jobs 0", true, { "run", FAST, "--jobs", "0", NULL } },
	{ "run --repeat 0", true, { "run", FAST, "--repeat", "0", NULL } },
	{ "run --probe-repeats odd", true, { "run", FAST, "--probes", "on", "--probe-repeats", "odd",
					     NULL } },
	{ "run --probe-repeats abba, no probes", true, { "run", FAST, "--repeat", "2",
							 "--probe-repeats", "abba", NULL } },
	{ "run --probe-repeats abba, odd --repeat", true, { "run", FAST, "--probes", "on",
							    "--repeat", "3", "--probe-repeats",
							    "abba", NULL } },
	{ "watch --probe-repeats abba", true, { "watch", "--probe-repeats", "abba", "--runtime", "1",
						NULL } },
	{ "run --batch-complete 0", true, { "run", FAST, "--batch-complete", "0", NULL } },
	{ "run --uring-timer wheel", true, { "run", FAST_URING, "--uring-timer", "wheel", NULL } },
	{ "run --directory /nonexistent", true, { "run", FAST, "--directory",
						  "/nonexistent", NULL } },
	{ "run --frobnicate", true, { "run", FAST, "--frobnicate", NULL } },
	{ "run --quiet=1", true, { "run", FAST, "--quiet=1", NULL } },
	{ "run --model (no value)", false, { "run", "--model", NULL } },
	{ "run --output X --model (no value)", false, { "run", "--output", OUT, "--model",
							NULL } },
	{ "run --output ''", false, { "run", FAST, "--output", "", NULL } },
	{ "run --append (no --output)", false, { "run", FAST, "--append", NULL } },
	{ "run --append --force", true, { "run", FAST, "--append", "--force", NULL } },
	{ "run extra positional", true, { "run", FAST, "extra", NULL } },
	{ "run --status-lag-us without --notify poll", true, { "run", FAST_KF, "--status-lag-us",
								 "100", NULL } },
	{ "run --confirm 3 without --notify poll", true, { "run", FAST_KF, "--confirm", "3",
							   NULL } },
	{ "run --confirm 0", true, { "run", FAST_KF, "--notify", "poll", "--confirm", "0", NULL } },
	{ "run --status-lag-us -1", true, { "run", FAST_KF, "--notify", "poll", "--status-lag-us",
					    "-1", NULL } },
	{ "serve --status-lag-us 2x", false, { "serve", "--status-lag-us", "2x", NULL } },
	{ "serve --status-lag-us 1500ns", false, { "serve", "--status-lag-us", "1500ns", NULL } },
	{ "list extra", false, { "list", "extra", NULL } },
	{ "list --caps extra", false, { "list", "--caps", "extra", NULL } },
	{ "run --concurrency-max", true, { "run", FAST, "--concurrency-max", "8", NULL } },
	{ "watch --concurrency 4,8", true, { "watch", "--concurrency", "4,8", "--runtime", "1",
					     NULL } },
	{ "watch --workload nop,timer", true, { "watch", "--workload", "nop,timer", "--runtime",
						"1", NULL } },
	{ "watch --rate 100", true, { "watch", "--rate", "100", "--runtime", "1", NULL } },
	{ "watch --tasks 100", true, { "watch", "--tasks", "100", NULL } },
	{ "watch --repeat 2", true, { "watch", "--repeat", "2", "--runtime", "1", NULL } },
	{ "watch --model threads,threads", true, { "watch", "--model", "threads,threads",
						   "--runtime", "1", NULL } },
	{ "watch --concurrency 100 --concurrency-max 8", true, { "watch", "--concurrency", "100",
								 "--concurrency-max", "8",
								 "--runtime", "1", NULL } },
	{ "watch --concurrency-max 0", true, { "watch", "--concurrency-max", "0", "--runtime",
					       "1", NULL } },
	{ "watch --frobnicate", true, { "watch", "--frobnicate", NULL } },
	{ "watch --thread-states bogus", true, { "watch", "--thread-states", "bogus", "--runtime",
						 "1", NULL } },
	{ "run --thread-states proc", true, { "run", FAST, "--thread-states", "proc", NULL } },
	{ "demo --frobnicate", false, { "demo", "--frobnicate", NULL } },
	{ "demo --slow-ms 0", false, { "demo", "--slow-ms", "0", NULL } },
	{ "demo extra", false, { "demo", "--auto", "extra", NULL } },
	{ "help nosuch", false, { "help", "nosuch", NULL } },
	{ "--version extra", false, { "--version", "extra", NULL } },
	{ "run --runtime 1x", true, { "run", "--model", "threads", "--workload", "nop",
				      "--runtime", "1x", NULL } },
	/* Configuration errors: found before the first cell, exit 2, no results directory. */
	{ "run --service nap:5", true, { "run", "--model", "threads", "--workload", "rpc",
					 "--service", "nap:5", "--tasks", "10", NULL } },
	{ "run --service sleep:+5", true, { "run", "--model", "threads", "--workload", "rpc",
					    "--service", "sleep:+5", "--tasks", "10", NULL } },
	{ "run --service with --connect", true, { "run", "--model", "threads", "--workload", "rpc",
						  "--service", "cpu:5", "--connect",
						  "127.0.0.1:1", "--tasks", "10", NULL } },
	{ "run --service file:4K, no file", true, { "run", "--model", "threads", "--workload",
						    "rpc", "--service", "file:4K", "--filename",
						    "/nonexistent/iom.dat", "--tasks", "10",
						    NULL } },
	{ "run --connect refused", true, { "run", "--model", "threads", "--workload", "rpc",
					   "--connect", "127.0.0.1:1", "--tasks", "10", NULL } },
	{ "run --output unusable", false, { "run", FAST, "--output", "/dev/null/out", NULL } },
	{ "watch --output unusable", false, { "watch", "--runtime", "1", "--output", "/dev/null/out",
					      NULL } },
	{ "scenario two-generals --output unusable", false, { "scenario", "two-generals", "--output",
								"/dev/null/out", NULL } },
	{ "scenario thundering-herd --output unusable", false, { "scenario", "thundering-herd", "--output",
								"/dev/null/out", NULL } },
	{ "scenario durability --output unusable", false, { "scenario", "durability", "--output",
								"/dev/null/out", NULL } },
	{ "scenario retry-storm --output unusable", false, { "scenario", "retry-storm", "--output",
								"/dev/null/out", NULL } },
	{ "scenario stale-status --output unusable", false, { "scenario", "stale-status", "--output",
								"/dev/null/out", NULL } },
	{ "scenario faults --output unusable", false, { "scenario", "faults", "--output",
								"/dev/null/out", NULL } },
};


/* Per test: a fresh <tmpdir> with an empty <tmpdir>/cwd, and the case (bad inputs only). */
struct ctx {
	char tmp[64];
	const struct cli_case *c;
	/* Freed by teardown, so a failing assertion (a longjmp) leaks nothing. */
	struct iomt_proc r;
	char *csv;
	struct iomt_csv tab;	/* csv, by row and column */
	struct json_object *json;
};

static int setup_tmp(void **state)
{
	struct ctx *x = calloc(1, sizeof(*x));
	char cwd[PATH_MAX];

	if (!x)
		return -1;
	x->c = *state;		/* the case from cmocka's initial_state, or NULL */
	if (iomt_mkdtemp(x->tmp, sizeof(x->tmp), "cli")) {
		free(x);
		return -1;
	}
	snprintf(cwd, sizeof(cwd), "%s/cwd", x->tmp);
	if (mkdir(cwd, 0700)) {
		iomt_rm_tree(x->tmp);
		free(x);
		return -1;
	}
	*state = x;
	return 0;
}

static int teardown_tmp(void **state)
{
	struct ctx *x = *state;

	iomt_rm_tree(x->tmp);
	iomt_proc_free(&x->r);
	free(x->csv);
	iomt_csv_free(&x->tab);
	if (x->json)
		json_object_put(x->json);
	free(x);
	return 0;
}

/* Run "$IOM_BIN" argv... in <tmpdir>/cwd, with --output OUT appended when output is set. */
static void run_cli(const char *tmp, const char *const *args, bool output, int timeout_ms,
		    struct iomt_proc *r)
{
	const char *all[MAX_ARGS + 3];
	char cwd[PATH_MAX];
	int n = 0;

	snprintf(cwd, sizeof(cwd), "%s/cwd", tmp);
	for (int i = 0; args[i] && n < MAX_ARGS; i++)
		all[n++] = args[i];
	if (output) {
		all[n++] = "--output";
		all[n++] = OUT;
	}
	all[n] = NULL;
	iomt_run_cli(r, cwd, tmp, all, timeout_ms);
}

/* Names in dir other than . and ..; "" if none. */
static void dir_entries(const char *dir, char *buf, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t used = 0;

	assert_non_null(d);
	buf[0] = '\0';
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s ", e->d_name);
		if (used >= len)
			break;
	}
	closedir(d);
}

static void test_bad_input(void **state)
{
	struct ctx *x = *state;
	const struct cli_case *c = x->c;
	const char *tmp = x->tmp;
	struct iomt_proc *r = &x->r;
	char path[PATH_MAX], names[512], *nl;
	struct stat st;

	run_cli(tmp, c->argv, c->output, BAD_TIMEOUT_MS, r);
	if (r->timed_out)
		fail_msg("[%s] still running after %d ms: the bad input was accepted", c->name,
			 BAD_TIMEOUT_MS);
	nl = strchr(r->err, '\n');
	if (r->status != 2)
		fail_msg("[%s] exit %d, want 2; stderr: %s", c->name, r->status, r->err);
	if (r->out_len)
		fail_msg("[%s] stdout not empty: %s", c->name, r->out);
	if (r->err_len < 2 || !nl || nl != r->err + r->err_len - 1 || strlen(r->err) != r->err_len)
		fail_msg("[%s] stderr is not exactly one line (%zu bytes): %s", c->name, r->err_len,
			 r->err);
	snprintf(path, sizeof(path), "%s/out", tmp);
	if (!stat(path, &st))
		fail_msg("[%s] created %s", c->name, path);
	snprintf(path, sizeof(path), "%s/cwd", tmp);
	dir_entries(path, names, sizeof(names));
	if (names[0])
		fail_msg("[%s] left files in the cwd: %s", c->name, names);
	dir_entries(tmp, names, sizeof(names));
	if (strcmp(names, "cwd "))
		fail_msg("[%s] left files next to the output: %s", c->name, names);
}

/* out/runs.csv of the run in x->tmp, into x->csv and x->tab. */
static void load_runs_csv(struct ctx *x)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/out/runs.csv", x->tmp);
	x->csv = iomt_slurp(path);
	if (!iomt_csv_parse(&x->tab, x->csv))
		fail_msg("%s: malformed CSV:\n%s", path, x->csv);
}

static void test_run_ok(void **state)
{
	static const char *const args[] = {
		"run", "--model", "threads", "--workload", "nop", "--concurrency", "1", "--tasks",
		"1000", "--quiet", "--output", OUT, NULL,
	};
	struct ctx *x = *state;
	const char *tmp = x->tmp;
	struct json_object *rows, *schema;
	struct iomt_proc *r = &x->r;
	char path[PATH_MAX], names[512];
	char **hdr, **row;
	int nh;

	run_cli(tmp, args, false, RUN_TIMEOUT_MS, r);
	if (r->timed_out)
		fail_msg("run did not finish in %d ms", RUN_TIMEOUT_MS);
	if (r->status != 0)
		fail_msg("exit %d, want 0; stderr: %s", r->status, r->err);
	if (r->out_len)
		fail_msg("--quiet printed: %s", r->out);

	load_runs_csv(x);
	if (x->tab.nr != 2)
		fail_msg("runs.csv is not a header and one row:\n%s", x->csv);
	hdr = x->tab.f[0], row = x->tab.f[1], nh = x->tab.nf[0];
	assert_true(nh >= 10);
	assert_int_equal(nh, x->tab.nf[1]);
	assert_string_equal(hdr[0], "model");
	assert_string_equal(hdr[1], "workload");
	assert_string_equal(hdr[2], "concurrency");
	assert_string_equal(row[0], "threads");
	assert_string_equal(row[1], "nop");
	assert_string_equal(row[2], "1");
	for (int i = 0; i < nh; i++) {
		if (!strcmp(hdr[i], "status"))
			assert_string_equal(row[i], "ok");
		if (!strcmp(hdr[i], "tasks") || !strcmp(hdr[i], "n_samples"))
			assert_string_equal(row[i], "1000");
	}

	snprintf(path, sizeof(path), "%s/out/run.json", tmp);
	x->json = json_object_from_file(path);
	if (!x->json)
		fail_msg("%s: not JSON", path);
	assert_true(json_object_is_type(x->json, json_type_object));
	assert_true(json_object_object_get_ex(x->json, "schema", &schema));
	assert_int_equal(json_object_get_int(schema), 1);
	assert_true(json_object_object_get_ex(x->json, "rows", &rows));
	assert_true(json_object_is_type(rows, json_type_array));
	assert_int_equal(json_object_array_length(rows), 1);

	snprintf(path, sizeof(path), "%s/cwd", tmp);
	dir_entries(path, names, sizeof(names));
	if (names[0])
		fail_msg("left files in the cwd: %s", names);
}

static void test_list(void **state)
{
	static const char *const args[] = { "list", NULL };
	struct ctx *x = *state;
	const char *tmp = x->tmp;
	unsigned int nr_models = 0, nr_lines = 0, nr_status = 0;
	struct iomt_proc *r = &x->r;
	char path[PATH_MAX], names[512];
	char *line, *save = NULL;

	for (size_t m = 0; iom_models[m]; m++)
		nr_models++;
	run_cli(tmp, args, false, RUN_TIMEOUT_MS, r);
	if (r->timed_out || r->status)
		fail_msg("list: exit %d%s; stderr: %s", r->status, r->timed_out ? " (timeout)" : "",
			 r->err);
	assert_true(r->out_len > 0 && r->out[r->out_len - 1] == '\n');
	for (line = strtok_r(r->out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char model[64], wl[64], status[64];

		nr_lines++;
		if (sscanf(line, "%63s %63s %63s", model, wl, status) != 3)
			fail_msg("list: bad line '%s'", line);
		if (!strcmp(status, "ok") || !strcmp(status, "n/a:") ||
		    !strcmp(status, "unavailable:")) {
			nr_status++;
		} else {
			fail_msg("list: '%s': status not ok, n/a or unavailable", line);
		}
		if (!iom_model_find(model))
			fail_msg("list: '%s': unknown model", line);
		if (iom_wl_parse(wl) < 0)
			fail_msg("list: '%s': unknown workload", line);
	}
	print_message("list: %u lines, %u models x %d workloads\n", nr_lines, nr_models, IOM_NR_WL);
	assert_true(nr_status >= 6);
	assert_int_equal(nr_status, nr_lines);
	assert_int_equal(nr_lines, nr_models * IOM_NR_WL);

	snprintf(path, sizeof(path), "%s/cwd", tmp);
	dir_entries(path, names, sizeof(names));
	if (names[0])
		fail_msg("list left files in the cwd: %s", names);
}

/* list --caps: one line per model, sync or async as its caps say, then its description. */
static void test_list_caps(void **state)
{
	static const char *const args[] = { "list", "--caps", NULL };
	struct ctx *x = *state;
	struct iomt_proc *r = &x->r;
	unsigned int nr_lines = 0;
	char *line, *save = NULL;

	run_cli(x->tmp, args, false, RUN_TIMEOUT_MS, r);
	if (r->timed_out || r->status)
		fail_msg("list --caps: exit %d; stderr: %s", r->status, r->err);
	for (line = strtok_r(r->out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char model[64], caps[128];
		const struct iom_model *m;

		if (sscanf(line, "%63s %127s", model, caps) != 2)
			fail_msg("list --caps: bad line '%s'", line);
		m = iom_model_find(model);
		if (!m)
			fail_msg("list --caps: '%s': unknown model", line);
		assert_string_equal(strtok(caps, ","), m->caps & IOM_CAP_ASYNC ? "async" : "sync");
		assert_non_null(strstr(line, m->desc));
		nr_lines++;
	}
	for (size_t m = 0; iom_models[m]; m++)
		nr_lines--;
	assert_int_equal(nr_lines, 0);
}

/*
 * calibrate --only: just the named figures, in calibrate.csv's order, and only their probes run
 * (the cheap two here; all of them take seconds).
 */
static void test_calibrate_only(void **state)
{
	static const char *const args[] = { "calibrate", "--only", "timer_slack_ns,syscall_ns",
					    NULL };
	struct ctx *x = *state;
	struct iomt_proc *r = &x->r;
	char path[PATH_MAX], *csv, *a, *b;

	run_cli(x->tmp, args, true, RUN_TIMEOUT_MS, r);
	if (r->timed_out || r->status)
		fail_msg("calibrate --only: exit %d; stderr: %s", r->status, r->err);
	assert_non_null(strstr(r->out, "syscall_ns"));
	assert_null(strstr(r->out, "uring_nop"));
	snprintf(path, sizeof(path), "%s/out/calibrate.csv", x->tmp);
	csv = iomt_slurp_or_null(path);
	assert_non_null(csv);
	a = strstr(csv, "\nsyscall_ns,");
	b = strstr(csv, "\ntimer_slack_ns,");
	if (!a || !b || a > b || strncmp(csv, "name,value,what\n", 16))
		fail_msg("calibrate.csv: want its header, syscall_ns then timer_slack_ns: %s", csv);
	/* Header and the two figures: three lines, nothing else measured or written. */
	{
		int lines = 0;

		for (const char *c = csv; *c; c++)
			lines += *c == '\n';
		assert_int_equal(lines, 3);
	}
	free(csv);
}

static void test_help(void **state)
{
	static const char *const args[] = { "help", NULL };
	struct ctx *x = *state;
	struct iomt_proc *r = &x->r;
	const char *pct;

	run_cli(x->tmp, args, false, RUN_TIMEOUT_MS, r);
	assert_int_equal(r->status, 0);
	assert_non_null(strstr(r->out, "usage: iomodels run"));
	assert_int_equal(r->err_len, 0);
	/* The text is printed as is, not through printf: a "%%" would show doubled. */
	pct = strstr(r->out, "%%");
	if (pct)
		fail_msg("help shows a literal %%%%: ...%.60s",
			 pct - r->out > 30 ? pct - 30 : r->out);
}

/*
 * help MODEL prints the model's own options (name, type, default, help) from its table; the
 * whole help lists the models and each one's options; run --model M --help adds M's table.
 */
static void test_help_model(void **state)
{
	static const char *const uring[] = { "help", "uring", NULL };
	static const char *const all[] = { "help", NULL };
	static const char *const run_kf[] = { "run", "--model", "kernel_free", "--help", NULL };
	struct ctx *x = *state;
	struct iomt_proc *r = &x->r;
	char name[64], type[64], def[64];
	const char *line;

	run_cli(x->tmp, uring, false, RUN_TIMEOUT_MS, r);
	assert_int_equal(r->status, 0);
	assert_int_equal(r->err_len, 0);
	assert_non_null(strstr(r->out, "--sqpoll"));
	/* Its row: name, type, default. */
	line = strstr(r->out, "--uring-timer");
	assert_non_null(line);
	assert_int_equal(sscanf(line, "%63s %63s %63s", name, type, def), 3);
	assert_string_equal(type, "heap|op");
	assert_string_equal(def, "heap");
	assert_null(strstr(r->out, "--notify"));
	run_cli(x->tmp, all, false, RUN_TIMEOUT_MS, r);
	assert_int_equal(r->status, 0);
	assert_non_null(strstr(r->out, "models: threads, epoll, uring, kernel_free"));
	assert_non_null(strstr(r->out, "  --sqpoll             uring: "));
	assert_non_null(strstr(r->out, "  --confirm N          kernel_free: "));
	run_cli(x->tmp, run_kf, false, RUN_TIMEOUT_MS, r);
	assert_int_equal(r->status, 0);
	assert_non_null(strstr(r->out, "kernel_free: user-space queue"));
	assert_non_null(strstr(r->out, "--status-lag-us    us"));
}

/*
 * --fault items, comma-separated and repeated, add up: runs.csv's row records them all and
 * what they did, and the line a person reads says the same figures. Draws are seeded per task
 * (--seed's default), so each of the three faults at P = 0.2 over 40 tasks hits some task in
 * every run; without retries each hit task ends FAILED, nothing else fails, and every kill is a
 * worker replaced, every drop a reconnect.
 */
static void test_run_faults(void **state)
{
	static const char *const args[] = {
		"run", "--model", "kernel_free", "--workload", "rpc", "--concurrency", "2",
		"--tasks", "40", "--fault", "errno:EIO@0.2,kill-worker@0.2", "--fault",
		"drop-conn@0.2", "--output", OUT, NULL,
	};
	static const char *const terminal[] = { "n_completed", "n_failed", "n_expired",
						"n_aborted", "n_partial" };
	struct ctx *x = *state;
	struct iomt_proc *r = &x->r;
	struct iomt_csv csv;
	char path[PATH_MAX], want[256];
	double sum = 0;
	const char *line;

	run_cli(x->tmp, args, false, RUN_TIMEOUT_MS, r);
	if (r->status != 0)
		fail_msg("exit %d, want 0; stderr: %s", r->status, r->err);
	snprintf(path, sizeof(path), "%s/out/runs.csv", x->tmp);
	iomt_csv_load(&csv, path);
	assert_int_equal(csv.nr, 2);
	assert_string_equal(iomt_csv_str(&csv, 1, "fault"),
			    "errno:EIO@0.2,kill-worker@0.2,drop-conn@0.2");
	for (size_t i = 0; i < sizeof(terminal) / sizeof(terminal[0]); i++)
		sum += iomt_csv_num(&csv, 1, terminal[i]) > 0 ? iomt_csv_num(&csv, 1, terminal[i]) : 0;
	if (iomt_csv_num(&csv, 1, "submitted") != 40 || sum != 40)
		fail_msg("submitted %g, terminal states %g, want 40", iomt_csv_num(&csv, 1,
			 "submitted"), sum);
	if (!(iomt_csv_num(&csv, 1, "faults") > 0) ||
	    iomt_csv_num(&csv, 1, "n_failed") != iomt_csv_num(&csv, 1, "faults") ||
	    !(iomt_csv_num(&csv, 1, "workers_replaced") > 0) ||
	    !(iomt_csv_num(&csv, 1, "reconnects") > 0))
		fail_msg("faults %g, n_failed %g, workers_replaced %g, reconnects %g",
			 iomt_csv_num(&csv, 1, "faults"), iomt_csv_num(&csv, 1, "n_failed"),
			 iomt_csv_num(&csv, 1, "workers_replaced"),
			 iomt_csv_num(&csv, 1, "reconnects"));
	/* The printed line: the row's own figures. */
	snprintf(want, sizeof(want), "fault errno:EIO@0.2,kill-worker@0.2,drop-conn@0.2: %.0f tasks "
		 "hit; completed %.0f failed %.0f expired %.0f workers replaced %.0f reconnects %.0f",
		 iomt_csv_num(&csv, 1, "faults"), iomt_csv_num(&csv, 1, "n_completed"),
		 iomt_csv_num(&csv, 1, "n_failed"), iomt_csv_num(&csv, 1, "n_expired"),
		 iomt_csv_num(&csv, 1, "workers_replaced"), iomt_csv_num(&csv, 1, "reconnects"));
	line = strstr(r->out, "fault ");
	iomt_csv_free(&csv);
	if (!line || strncmp(line, want, strlen(want)))
		fail_msg("want the line\n%s\nin:\n%s", want, r->out);
}

/* Every command and every scenario: -h and --help print a usage on stdout and exit 0. */
static void expect_usage(struct ctx *x, const char *const *args, const char *want)
{
	struct iomt_proc *r = &x->r;

	run_cli(x->tmp, args, false, BAD_TIMEOUT_MS, r);
	if (r->status || r->err_len || strncmp(r->out, "usage: ", 7) || !strstr(r->out, want))
		fail_msg("%s %s %s: exit %d, stderr '%s', stdout '%.80s' (want a usage naming '%s')",
			 args[0], args[1], args[2] ? args[2] : "", r->status, r->err, r->out, want);
}

static void test_help_everywhere(void **state)
{
	static const char *const cmds[] = { "run", "list", "calibrate", "serve", "relay", "watch",
					    "demo", "scenario", "compare", "help" };
	static const char *const list[] = { "scenario", "list", NULL };
	struct ctx *x = *state;
	unsigned int nr_scenarios = 0;
	char *names, *line, *save = NULL;

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const char *dash_h[] = { cmds[i], "-h", NULL }, *help[] = { cmds[i], "--help", NULL };
		char want[64];

		snprintf(want, sizeof(want), "iomodels %s", cmds[i]);
		expect_usage(x, dash_h, want);
		expect_usage(x, help, want);
	}
	/* After other options too, and as `help COMMAND`. */
	{
		const char *late[] = { "run", "--model", "threads", "--help", NULL };
		const char *help_run[] = { "help", "run", NULL };

		expect_usage(x, late, "run options");
		expect_usage(x, help_run, "run options");
	}
	run_cli(x->tmp, list, false, BAD_TIMEOUT_MS, &x->r);
	assert_int_equal(x->r.status, 0);
	names = strdup(x->r.out);
	assert_non_null(names);
	for (line = strtok_r(names, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64], want[96];
		const char *args[] = { "scenario", name, "--help", NULL };

		if (sscanf(line, "%63s", name) != 1)
			continue;
		snprintf(want, sizeof(want), "iomodels scenario %s", name);
		expect_usage(x, args, want);
		args[2] = "-h";
		expect_usage(x, args, want);
		nr_scenarios++;
	}
	free(names);
	assert_true(nr_scenarios >= 6);
}

/* --version: the build, each model's library, libbpf and the kernel, one per line. */
static void test_version(void **state)
{
	static const char *const args[] = { "--version", NULL };
	static const char *const want[] = { "iomodels ", "\nliburing ", "\nlibbpf ", "\nkernel " };
	struct ctx *x = *state;
	struct iomt_proc *r = &x->r;

	run_cli(x->tmp, args, false, BAD_TIMEOUT_MS, r);
	if (r->status || r->err_len)
		fail_msg("--version: exit %d, stderr '%s'", r->status, r->err);
	assert_int_equal(strncmp(r->out, want[0], strlen(want[0])), 0);
	for (size_t i = 1; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(r->out, want[i]))
			fail_msg("--version: no '%s' line in:\n%s", want[i] + 1, r->out);
	assert_null(strstr(r->out, "unknown\n"));
}

/* "unknown command" and "missing command" name every command help lists. */
static void test_unknown_command_lists_all(void **state)
{
	static const char *const help[] = { "help", NULL }, *const bad[] = { "frobnicate", NULL };
	static const char *const none[] = { NULL };
	struct ctx *x = *state;
	char names[32][32], *line, *save = NULL;
	unsigned int n = 0;

	run_cli(x->tmp, help, false, BAD_TIMEOUT_MS, &x->r);
	assert_int_equal(x->r.status, 0);
	/* The commands: "usage: iomodels NAME" and "       iomodels NAME" lines. */
	for (line = strtok_r(x->r.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[32];

		if (sscanf(line, "usage: iomodels %31s", name) != 1 &&
		    sscanf(line, "       iomodels %31s", name) != 1)
			continue;
		if (name[0] == '-' || (n && !strcmp(names[n - 1], name)))
			continue;
		assert_true(n < 32);
		strcpy(names[n++], name);
	}
	assert_true(n >= 9);
	for (int k = 0; k < 2; k++) {
		run_cli(x->tmp, k ? none : bad, false, BAD_TIMEOUT_MS, &x->r);
		assert_int_equal(x->r.status, 2);
		for (unsigned int i = 0; i < n; i++) {
			const char *at = x->r.err;
			size_t len = strlen(names[i]);

			/* As a word of the list: a name must not be found inside another. */
			while ((at = strstr(at, names[i])) &&
			       (!strchr(" (", at[-1]) || !strchr(",)\n", at[len])))
				at += len;
			if (!at)
				fail_msg("'%s' does not name '%s': %s", k ? "(no command)" : bad[0],
					 names[i], x->r.err);
		}
	}
}

/* The help says what each exit code means. */
static void test_help_exit_codes(void **state)
{
	static const char *const args[] = { "help", NULL };
	static const char *const codes[] = { "\n  0 ", "\n  1 ", "\n  2 ", "\n  3 ", "\n  130 " };
	struct ctx *x = *state;

	run_cli(x->tmp, args, false, BAD_TIMEOUT_MS, &x->r);
	assert_non_null(strstr(x->r.out, "\nexit codes:\n"));
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (!strstr(strstr(x->r.out, "\nexit codes:\n"), codes[i]))
			fail_msg("help: exit code%s not explained", codes[i] + 1);
}

/* Durations take minutes: --runtime 1m parses (the run then stops at the --tasks conflict). */
static void test_duration_minutes(void **state)
{
	static const char *const args[] = { "run", "--model", "threads", "--workload", "nop",
					    "--tasks", "10", "--runtime", "1m", NULL };
	struct ctx *x = *state;

	run_cli(x->tmp, args, true, BAD_TIMEOUT_MS, &x->r);
	assert_int_equal(x->r.status, 2);
	if (!strstr(x->r.err, "--tasks and --runtime"))
		fail_msg("--runtime 1m refused: %s", x->r.err);
}

/*
 * A file that is not ours: too small for --size, or the right size for a write without
 * --allow-overwrite. Found before any cell: exit 2, one line, no results directory.
 */
static void test_file_not_ours(void **state)
{
	struct ctx *x = *state;
	char small[PATH_MAX], big[PATH_MAX], out[PATH_MAX], junk[4096];
	const char *too_small[] = { "run", "--model", "threads", "--workload", "file", "--filename",
				    small, "--size", "1M", "--tasks", "10", "--output", OUT, NULL };
	const char *overwrite[] = { "run", "--model", "threads", "--workload", "file", "--filename",
				    big, "--size", "64K", "--rw", "write", "--tasks", "10",
				    "--output", OUT, NULL };
	const char *const *cases[] = { too_small, overwrite };
	FILE *f;

	snprintf(small, sizeof(small), "%s/small", x->tmp);
	snprintf(big, sizeof(big), "%s/big", x->tmp);
	snprintf(out, sizeof(out), "%s/out", x->tmp);
	memset(junk, 'x', sizeof(junk));
	f = fopen(small, "w");
	assert_non_null(f);
	fwrite(junk, 1, 100, f);
	fclose(f);
	f = fopen(big, "w");
	assert_non_null(f);
	for (int i = 0; i < 16; i++)
		fwrite(junk, 1, sizeof(junk), f);
	fclose(f);
	for (size_t i = 0; i < 2; i++) {
		run_cli(x->tmp, cases[i], false, RUN_TIMEOUT_MS, &x->r);
		if (x->r.status != 2 || x->r.out_len || !strchr(x->r.err, '\n') ||
		    strchr(x->r.err, '\n')[1] || !strstr(x->r.err, "not made by iomodels"))
			fail_msg("case %zu: exit %d, stdout '%s', stderr '%s'", i, x->r.status,
				 x->r.out, x->r.err);
		if (!access(out, F_OK))
			fail_msg("case %zu: %s created", i, out);
	}
}

/* --quiet still says why a cell failed, on stderr. */
static void test_quiet_says_why(void **state)
{
	static const char *const args[] = { "run", "--model", "threads", "--workload", "file",
					    "--filename", "/nonexistent/iom.dat", "--size", "1M",
					    "--tasks", "10", "--quiet", "--output", OUT, NULL };
	struct ctx *x = *state;

	run_cli(x->tmp, args, false, RUN_TIMEOUT_MS, &x->r);
	assert_int_equal(x->r.status, 1);
	assert_int_equal(x->r.out_len, 0);
	if (!strstr(x->r.err, "error: create /nonexistent/iom.dat"))
		fail_msg("--quiet: the reason is not on stderr: '%s'", x->r.err);
}

/*
 * rpc --service: the server the run starts serves every request so, in place of the request's
 * own service time (--latency-us 0 here): no reply can come before its 20 ms wait, and the row
 * and run.json say which service it was.
 */
static void test_run_service(void **state)
{
	static const char *const args[] = { "run", "--model", "threads", "--workload", "rpc",
					    "--latency-us", "0", "--service", "sleep:20ms",
					    "--concurrency", "1", "--tasks", "10", "--quiet",
					    "--output", OUT, NULL };
	struct ctx *x = *state;
	struct json_object *meta, *svc;
	char path[PATH_MAX], **hdr, **row;
	int nh;

	run_cli(x->tmp, args, false, RUN_TIMEOUT_MS, &x->r);
	if (x->r.status != 0)
		fail_msg("exit %d, want 0; stderr: %s", x->r.status, x->r.err);
	load_runs_csv(x);
	assert_true(x->tab.nr >= 2);
	hdr = x->tab.f[0], row = x->tab.f[1], nh = x->tab.nf[0];
	assert_int_equal(x->tab.nf[1], nh);
	for (int i = 0; i < nh; i++) {
		if (!strcmp(hdr[i], "latency_dist"))
			assert_string_equal(row[i], "service sleep:20ms");
		if (!strcmp(hdr[i], "latency_us"))
			assert_string_equal(row[i], "");
		if (!strcmp(hdr[i], "n_completed"))
			assert_string_equal(row[i], "10");
		/* Each of the 10 took at least 20 ms (too few for percentiles: the mean). */
		if (!strcmp(hdr[i], "lat_mean_ns") && !(atof(row[i]) >= 20e6))
			fail_msg("mean %s ns: the server did not wait its 20 ms", row[i]);
	}
	snprintf(path, sizeof(path), "%s/out/run.json", x->tmp);
	x->json = json_object_from_file(path);
	assert_non_null(x->json);
	assert_true(json_object_object_get_ex(x->json, "meta", &meta));
	assert_true(json_object_object_get_ex(meta, "server_service", &svc));
	assert_string_equal(json_object_get_string(svc), "sleep:20ms");
}

/*
 * An rpc cell on one CPU is one CPU (issue #20 item 5): with --cpus 0 and another CPU allowed,
 * the server the run starts is pinned to that other CPU by default, not left to share CPU 0
 * with the client, and run.json says where it ran.
 */
static void test_run_rpc_server_own_cpu(void **state)
{
	static const char *const args[] = { "run", "--model", "threads", "--workload", "rpc",
					    "--latency-us", "0", "--cpus", "0", "--concurrency",
					    "1", "--tasks", "10", "--quiet", "--output", OUT, NULL };
	struct ctx *x = *state;
	struct json_object *meta, *cpus;
	char path[PATH_MAX], want[16];
	cpu_set_t allowed;
	int other = -1;

	assert_int_equal(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
	for (int c = 1; c < CPU_SETSIZE && other < 0; c++)
		if (CPU_ISSET(c, &allowed))
			other = c;
	if (!CPU_ISSET(0, &allowed) || other < 0)
		iom_skip("needs CPU 0 and another CPU");
	run_cli(x->tmp, args, false, RUN_TIMEOUT_MS, &x->r);
	if (x->r.status != 0)
		fail_msg("exit %d, want 0; stderr: %s", x->r.status, x->r.err);
	snprintf(path, sizeof(path), "%s/out/run.json", x->tmp);
	x->json = json_object_from_file(path);
	assert_non_null(x->json);
	assert_true(json_object_object_get_ex(x->json, "meta", &meta));
	assert_true(json_object_object_get_ex(meta, "backend_cpus", &cpus));
	snprintf(want, sizeof(want), "%d", other);
	assert_string_equal(json_object_get_string(cpus), want);
}

/*
 * iomodels compare: "$IOM_BIN" args... in <tmpdir>/cwd, where an argument "@/NAME" is
 * <tmpdir>/NAME (the runs and the output live beside the cwd, not in it).
 */
static void run_in_tmp(struct ctx *x, const char *const *args, int timeout_ms)
{
	char cwd[PATH_MAX];

	snprintf(cwd, sizeof(cwd), "%s/cwd", x->tmp);
	iomt_run_cli(&x->r, cwd, x->tmp, args, timeout_ms);
}

/*
 * Two small real runs to compare: threads and epoll, nop, two repeats (an interval needs two),
 * <tmpdir>/A at C = 1, 2 and <tmpdir>/B at C = 1, 4: C=1 is in both, C=2 in A only, C=4 in B only.
 */
static void make_compare_runs(struct ctx *x)
{
	static const char *const conc[] = { "1,2", "1,4" }, *const out[] = { "@/A", "@/B" };

	for (int i = 0; i < 2; i++) {
		const char *args[] = { "run", "--model", "threads,epoll", "--workload", "nop",
				       "--concurrency", conc[i], "--tasks", "200", "--repeat", "2",
				       "--quiet", "--output", out[i], NULL };

		run_in_tmp(x, args, RUN_TIMEOUT_MS);
		if (x->r.status || x->r.timed_out)
			fail_msg("run %s: exit %d; stderr: %s", out[i], x->r.status, x->r.err);
	}
}

/* The one-sided entries of compare.json: how many are only in run (A or B) at concurrency c. */
static int only_in_count(struct json_object *doc, const char *run, int c)
{
	struct json_object *only, *e, *v, *cell;
	int n = 0;

	assert_true(json_object_object_get_ex(doc, "only_in_one", &only));
	for (size_t i = 0; i < json_object_array_length(only); i++) {
		e = json_object_array_get_idx(only, i);
		assert_true(json_object_object_get_ex(e, "only_in", &v));
		assert_true(json_object_object_get_ex(e, "cell", &cell));
		if (strcmp(json_object_get_string(v), run))
			continue;
		assert_true(json_object_object_get_ex(cell, "concurrency", &v));
		n += json_object_get_int(v) == c;
	}
	return n;
}

/*
 * The installed tool compares runs: the shared cells side by side with a ratio each, the cells
 * of one run only listed as such (never dropped) in markdown, CSV and JSON; --format picks what
 * is written; nothing is written in the cwd when --output is given.
 */
static void test_compare(void **state)
{
	static const char *const cmp[] = { "compare", "@/A", "@/B", "--output", "@/cmp", NULL };
	static const char *const json_only[] = { "compare", "@/A", "@/B", "--output", "@/js",
						 "--format", "json", NULL };
	struct ctx *x = *state;
	struct json_object *cells, *e, *ops, *ratio;
	struct iomt_csv csv;
	char path[PATH_MAX], names[512], *md;
	int shared = 0, one_sided = 0;

	make_compare_runs(x);
	run_in_tmp(x, cmp, RUN_TIMEOUT_MS);
	if (x->r.status)
		fail_msg("compare: exit %d; stderr: %s", x->r.status, x->r.err);
	if (!strstr(x->r.out, "2 cells in both") || !strstr(x->r.out, "4 in one run only"))
		fail_msg("compare's line: %s", x->r.out);
	snprintf(path, sizeof(path), "%s/cmp/compare.json", x->tmp);
	x->json = json_object_from_file(path);
	assert_non_null(x->json);
	assert_true(json_object_object_get_ex(x->json, "cells", &cells));
	assert_int_equal(json_object_array_length(cells), 2); /* threads and epoll at C=1 */
	for (size_t i = 0; i < 2; i++) {
		e = json_object_array_get_idx(cells, i);
		assert_true(json_object_object_get_ex(e, "ops_per_s", &ops));
		assert_true(json_object_object_get_ex(ops, "ratio", &ratio));
		assert_true(json_object_get_double(ratio) > 0);
	}
	assert_int_equal(only_in_count(x->json, "A", 2), 2);
	assert_int_equal(only_in_count(x->json, "B", 4), 2);
	assert_int_equal(only_in_count(x->json, "A", 4) + only_in_count(x->json, "B", 2), 0);

	snprintf(path, sizeof(path), "%s/cmp/compare.csv", x->tmp);
	iomt_csv_load(&csv, path);
	assert_int_equal(csv.nr, 1 + 2 + 4);
	for (int r = 1; r < csv.nr; r++) {
		bool only = iomt_csv_str(&csv, r, "only_in")[0] != '\0';
		double ratio_v = iomt_csv_num(&csv, r, "ops_per_s_ratio");

		if (only) {
			one_sided++;
			assert_true(isnan(ratio_v));
		} else {
			shared++;
			assert_true(ratio_v > 0);
			assert_string_equal(iomt_csv_str(&csv, r, "concurrency"), "1");
		}
	}
	iomt_csv_free(&csv);
	assert_int_equal(shared, 2);
	assert_int_equal(one_sided, 4);

	snprintf(path, sizeof(path), "%s/cmp/compare.md", x->tmp);
	md = iomt_slurp(path);
	x->csv = md;	/* freed by teardown */
	if (!strstr(md, "| nop, all CPUs, C=1 W=0 | threads | ") ||
	    !strstr(md, "| nop, all CPUs, C=1 W=0 | epoll | ") ||
	    !strstr(md, "## In one run only (4: not compared)") ||
	    !strstr(md, "| `A` → `B` | nop, all CPUs, C=2 W=0 | threads | `A` | ") ||
	    !strstr(md, "| `A` → `B` | nop, all CPUs, C=4 W=0 | epoll | `B` | "))
		fail_msg("compare.md lacks a shared or one-sided cell:\n%s", md);

	run_in_tmp(x, json_only, RUN_TIMEOUT_MS);
	if (x->r.status)
		fail_msg("compare --format json: exit %d; stderr: %s", x->r.status, x->r.err);
	snprintf(path, sizeof(path), "%s/js", x->tmp);
	dir_entries(path, names, sizeof(names));
	assert_string_equal(names, "compare.json ");
	snprintf(path, sizeof(path), "%s/cwd", x->tmp);
	dir_entries(path, names, sizeof(names));
	assert_string_equal(names, "");
}

/* Bad input to compare: exit 2, one line on stderr, nothing written anywhere, the runs as were. */
static void test_compare_bad_input(void **state)
{
	static const char *const cases[][MAX_ARGS] = {
		{ "compare", NULL },
		{ "compare", "@/A", NULL },
		{ "compare", "@/A", "@/nosuch", "--output", "@/out", NULL },
		{ "compare", "@/A", "@/notrun", "--output", "@/out", NULL },
		{ "compare", "@/A", "@/B", "--format", "xml", "--output", "@/out", NULL },
		{ "compare", "@/A", "@/B", "--format", "md,,csv", "--output", "@/out", NULL },
		{ "compare", "@/A", "@/B", "--frobnicate", "--output", "@/out", NULL },
		{ "compare", "@/A", "@/B", "--output", "/dev/null/out", NULL },
		{ "compare", "@/A", "@/B", "--output", NULL },
		{ "compare", "@/A", "@/B", NULL },	/* B's runs.csv is made malformed below */
	};
	const size_t nr = sizeof(cases) / sizeof(cases[0]);
	struct ctx *x = *state;
	char path[PATH_MAX], names[512], before[2][512];
	const char *nl;

	make_compare_runs(x);
	snprintf(path, sizeof(path), "%s/notrun", x->tmp);
	assert_int_equal(mkdir(path, 0700), 0);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%c", x->tmp, "AB"[i]);
		dir_entries(path, before[i], sizeof(before[i]));
	}
	for (size_t k = 0; k < nr; k++) {
		if (k == nr - 1) {
			snprintf(path, sizeof(path), "%s/B/runs.csv", x->tmp);
			iomt_write_file(path, "model,workload\n\"threads,nop\n");
		}
		run_in_tmp(x, cases[k], BAD_TIMEOUT_MS * 5);
		nl = strchr(x->r.err, '\n');
		if (x->r.status != 2 || x->r.out_len || !nl || nl[1])
			fail_msg("compare case %zu: exit %d (want 2), stdout '%s', stderr '%s'", k,
				 x->r.status, x->r.out, x->r.err);
		snprintf(path, sizeof(path), "%s/cwd", x->tmp);
		dir_entries(path, names, sizeof(names));
		if (names[0])
			fail_msg("compare case %zu left files in the cwd: %s", k, names);
		dir_entries(x->tmp, names, sizeof(names));
		if (strstr(names, "out "))
			fail_msg("compare case %zu made its --output", k);
		for (int i = 0; i < 2; i++) {
			snprintf(path, sizeof(path), "%s/%c", x->tmp, "AB"[i]);
			dir_entries(path, names, sizeof(names));
			if (strcmp(names, before[i]))
				fail_msg("compare case %zu wrote in run %c: %s", k, "AB"[i], names);
		}
	}
	/* A copy of the binary with no scripts beside it says so, in one line. */
	{
		char cmd[PATH_MAX * 3], lone[PATH_MAX], *argv[] = { lone, "compare", path, path,
								    NULL };

		snprintf(lone, sizeof(lone), "%s/lone/iomodels", x->tmp);
		snprintf(cmd, sizeof(cmd), "mkdir %s/lone && cp %s %s", x->tmp, iomt_bin(), lone);
		assert_int_equal(system(cmd), 0);
		snprintf(path, sizeof(path), "%s/A", x->tmp);
		iomt_run(&x->r, NULL, argv, BAD_TIMEOUT_MS);
		nl = strchr(x->r.err, '\n');
		if (x->r.status != 2 || !strstr(x->r.err, "scripts/compare not found") || !nl ||
		    nl[1])
			fail_msg("compare with no scripts: exit %d, stderr '%s'", x->r.status,
				 x->r.err);
	}
}

/* A full disk under --output: one line naming why, exit 1, no half-written compare.csv. */
static void test_compare_disk_full(void **state)
{
	static const char *const args[] = { "compare", "@/A", "@/B", "--output", "@/full/x",
					    "--format", "csv", NULL };
	static const char page[4096];
	struct ctx *x = *state;
	char mnt[PATH_MAX], path[PATH_MAX], names[512] = "(no directory)";
	const char *nl;
	int fd;

	make_compare_runs(x);
	snprintf(mnt, sizeof(mnt), "%s/full", x->tmp);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=4k"))
		iom_skip("mount tmpfs: %s (needs root)", strerror(errno));
	snprintf(path, sizeof(path), "%s/fill", mnt);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	for (int i = 0; fd >= 0 && i < 64 && write(fd, page, sizeof(page)) > 0; i++)
		;
	if (fd >= 0)
		close(fd);
	run_in_tmp(x, args, RUN_TIMEOUT_MS);
	snprintf(path, sizeof(path), "%s/x", mnt);
	if (!access(path, F_OK))
		dir_entries(path, names, sizeof(names));
	umount2(mnt, MNT_DETACH);	/* before any verdict: a failed test leaves no mount */
	nl = strchr(x->r.err, '\n');
	if (x->r.status != 1 || !strstr(x->r.err, "No space left on device") || !nl || nl[1])
		fail_msg("compare on a full disk: exit %d, stderr '%s'", x->r.status, x->r.err);
	assert_string_equal(names, "");
}

#define NR_BAD	(sizeof(bad_cases) / sizeof(bad_cases[0]))

/* The CLI's conventions (issue #17). */
static const struct {
	const char *name;
	void (*fn)(void **state);
} more[] = {
	{ "test_help_everywhere", test_help_everywhere },
	{ "test_help_model", test_help_model },
	{ "test_version", test_version },
	{ "test_unknown_command_lists_all", test_unknown_command_lists_all },
	{ "test_help_exit_codes", test_help_exit_codes },
	{ "test_duration_minutes", test_duration_minutes },
	{ "test_file_not_ours", test_file_not_ours },
	{ "test_quiet_says_why", test_quiet_says_why },
	{ "test_run_service", test_run_service },
	{ "test_run_rpc_server_own_cpu", test_run_rpc_server_own_cpu },
	{ "test_compare", test_compare },
	{ "test_compare_bad_input", test_compare_bad_input },
	{ "test_compare_disk_full", test_compare_disk_full },
	{ "test_calibrate_only", test_calibrate_only },
};
#define NR_MORE	(sizeof(more) / sizeof(more[0]))

int main(void)
{
	static char names[NR_BAD][160];
	struct CMUnitTest tests[NR_BAD + 5 + NR_MORE];
	size_t n = 0;

	/* One test per bad input, named after it; the case reaches setup as initial_state. */
	for (size_t i = 0; i < NR_BAD; i++) {
		snprintf(names[i], sizeof(names[i]), "test_bad_input: %s", bad_cases[i].name);
		tests[n++] = (struct CMUnitTest){ names[i], test_bad_input, setup_tmp, teardown_tmp,
						  (void *)&bad_cases[i] };
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(test_run_ok, setup_tmp,
									 teardown_tmp);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(test_list, setup_tmp,
									 teardown_tmp);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(test_list_caps, setup_tmp,
									 teardown_tmp);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(test_help, setup_tmp,
									 teardown_tmp);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(test_run_faults,
									 setup_tmp, teardown_tmp);
	for (size_t i = 0; i < NR_MORE; i++)
		tests[n++] = (struct CMUnitTest){ more[i].name, more[i].fn, setup_tmp, teardown_tmp,
						  NULL };
	assert_int_equal(n, NR_BAD + 5 + NR_MORE);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
