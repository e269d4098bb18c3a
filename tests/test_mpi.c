// SPDX-License-Identifier: MIT
/*
 * iomodels-mpi (mpi/, docs/mpi.md). The merge rules on made-up ranks (no MPI needed); then a
 * real job, `mpirun -np 4` against one `iomodels serve`, whose one row per cell must be the
 * exact sum of the ranks' own counts (IOM_MPI_DEBUG=1 prints them); and the plain binary under
 * a launcher says MPI is unavailable instead of writing N results.
 */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/driver.h"
#include "mpi/merge.h"
#include "tests/testutil.h"

#define NR_RANKS 4

/* Every numeric column says how it is reduced: a new column must choose (merge.c). */
static void test_every_column_has_a_rule(void **state)
{
	for (int c = 0; c < IOM_NR_COLS; c++)
		if (iom_col_is_num((enum iom_col)c) &&
		    iom_merge_rule_of((enum iom_col)c) == IOM_MERGE_UNSET)
			fail_msg("column %s has no merge rule in mpi/merge.c",
				 iom_col_name((enum iom_col)c));
}

static void fake_rank(struct iom_rank_result *r, const char *host, double tasks, double cpu,
		      double rate)
{
	memset(r, 0, sizeof(*r));
	for (int c = 0; c < IOM_NR_COLS; c++)
		r->num[c] = NAN;
	snprintf(r->status, sizeof(r->status), "ok");
	snprintf(r->host, sizeof(r->host), "%s", host);
	r->num[IOM_COL_tasks] = tasks;
	r->num[IOM_COL_submitted] = tasks + 2;
	r->num[IOM_COL_n_completed] = tasks + 1;
	r->num[IOM_COL_n_expired] = 1;
	r->num[IOM_COL_cpu_ns_per_task] = cpu;
	r->num[IOM_COL_ops_per_s] = rate;
	r->num[IOM_COL_runtime_ns] = 1e9;
	r->num[IOM_COL_cpu_system_ns] = 5e8;
	r->num[IOM_COL_concurrency] = 8;
}

/* Sums, the weighted mean per task, once per host, min/max rate, the worst status named. */
static void test_merge_rules(void **state)
{
	struct iom_rank_result r[3];
	static struct iom_row row;
	struct iom_hist hist;
	int ret;

	fake_rank(&r[0], "a", 100, 1000, 100);
	fake_rank(&r[1], "a", 300, 2000, 300);
	fake_rank(&r[2], "b", 100, 1000, 100);
	snprintf(r[2].flags, sizeof(r[2].flags), "queue_full");
	iom_row_init(&row);
	memcpy(row.num, r[0].num, sizeof(row.num));
	iom_hist_init(&hist);
	iom_hist_record(&hist, 1000);
	ret = iom_mpi_merge(&row, &hist, r, 3);
	assert_int_equal(ret, 0);
	assert_string_equal(row.str[IOM_COL_status], "ok");
	assert_true(row.num[IOM_COL_tasks] == 500);
	assert_true(row.num[IOM_COL_submitted] == 506);
	assert_true(row.num[IOM_COL_ranks] == 3);
	assert_true(row.num[IOM_COL_concurrency] == 8);		/* per rank, as given */
	assert_true(row.num[IOM_COL_cpu_ns_per_task] == (100 * 1000 + 300 * 2000 + 100 * 1000) / 500.0);
	assert_true(row.num[IOM_COL_cpu_system_ns] == 1e9);	/* hosts a and b, not 3 ranks */
	assert_true(row.num[IOM_COL_rank_min_ops_per_s] == 100);
	assert_true(row.num[IOM_COL_rank_max_ops_per_s] == 300);
	assert_true(row.num[IOM_COL_ops_per_s] == 500);
	assert_true(row.num[IOM_COL_n_samples] == 1);
	assert_string_equal(row.str[IOM_COL_flags], "queue_full");

	/* Rank 1's counts broke: the job's row says so, naming it, and the exit is a bug's. */
	r[1].ret = IOM_EXIT_BUG;
	snprintf(r[1].status, sizeof(r[1].status), "error");
	snprintf(r[1].reason, sizeof(r[1].reason), "bug: submitted 302 != terminal 301");
	r[1].num[IOM_COL_n_completed] = 300;
	ret = iom_mpi_merge(&row, &hist, r, 3);
	assert_int_equal(ret, IOM_EXIT_BUG);
	assert_string_equal(row.str[IOM_COL_status], "error");
	assert_non_null(strstr(row.str[IOM_COL_reason], "bug: the job's submitted 506 != terminal 505"));
}

/* Ranks that ran different cells (mpirun "a : b") make an error row, not a mixed one. */
static void test_merge_other_cell(void **state)
{
	struct iom_rank_result r[2];
	static struct iom_row row;
	struct iom_hist hist;

	fake_rank(&r[0], "a", 10, 1, 10);
	fake_rank(&r[1], "a", 10, 1, 10);
	snprintf(r[0].cell, sizeof(r[0].cell), "epoll nop C=4");
	snprintf(r[1].cell, sizeof(r[1].cell), "epoll timer C=4");
	iom_row_init(&row);
	iom_hist_init(&hist);
	iom_mpi_merge(&row, &hist, r, 2);
	assert_string_equal(row.str[IOM_COL_status], "error");
	assert_non_null(strstr(row.str[IOM_COL_reason], "rank 1 ran another cell"));
}

/* Conservation on the sum stands on its own: a rank whose ret hid its broken counts. */
static void test_merge_conservation_on_sum(void **state)
{
	struct iom_rank_result r[2];
	static struct iom_row row;
	struct iom_hist hist;

	fake_rank(&r[0], "a", 10, 1, 10);
	fake_rank(&r[1], "b", 10, 1, 10);
	r[1].num[IOM_COL_n_expired] = 0;
	iom_row_init(&row);
	iom_hist_init(&hist);
	assert_int_equal(iom_mpi_merge(&row, &hist, r, 2), IOM_EXIT_BUG);
	assert_string_equal(row.str[IOM_COL_status], "error");
}

static char dir[] = "/tmp/iom-test-mpi-XXXXXX";
static pid_t server;
static unsigned int port;

static const char *bin(void)
{
	const char *b = getenv("IOM_BIN");

	if (!b)
		fail_msg("IOM_BIN is not set: run with `make test`");
	return b;
}

/* iomodels serve on a free loopback port (written to port_file); stats at its exit, if asked. */
static pid_t spawn_server(const char *port_file, const char *stats_file, unsigned int *port_out)
{
	char *argv[] = { "iomodels", "serve", "--listen", "127.0.0.1:0", "--threads", "1",
			 "--port-file", (char *)port_file, "--quiet", "--stats-file",
			 (char *)stats_file, NULL };
	unsigned int p = 0;
	pid_t pid;

	if (!stats_file)
		argv[9] = NULL;	/* no --stats-file */
	pid = fork();
	if (pid == 0) {
		execv(bin(), argv);
		_exit(127);
	}
	for (int i = 0; i < 2500 && !p; i++) {
		FILE *f = fopen(port_file, "r");

		if (f) {
			if (fscanf(f, "%u", &p) != 1)
				p = 0;
			fclose(f);
		}
		usleep(2000);
	}
	*port_out = p;
	return pid;
}

static int start_server(void **state)
{
	char port_file[PATH_MAX];

	if (!mkdtemp(dir))
		return -1;
	snprintf(port_file, sizeof(port_file), "%s/port", dir);
	server = spawn_server(port_file, NULL, &port);
	return port ? 0 : -1;
}

static int stop_server(void **state)
{
	char cmd[PATH_MAX + 16];

	kill(server, SIGTERM);
	waitpid(server, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

struct rank_line {
	double tasks, submitted, terminal;
	unsigned long long hist_count, hist_sum;
	bool seen;
};

/* The ranks' own lines of one cell (cell-th line of each rank), from the job's stderr. */
static void read_rank_lines(const char *path, unsigned int cell, struct rank_line *ranks)
{
	unsigned int seen_of[NR_RANKS] = { 0 };
	char line[1024];
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		double t, s, c, fl, ab, pa, ex;
		unsigned long long hc, hs;
		int rank;

		if (sscanf(line, "iomodels-mpi: rank=%d host=%*s status=%*s tasks=%lf submitted=%lf "
			   "completed=%lf failed=%lf aborted=%lf partial=%lf expired=%lf "
			   "ops_per_s=%*f hist_count=%llu hist_sum=%llu", &rank, &t, &s, &c, &fl,
			   &ab, &pa, &ex, &hc, &hs) != 10 || rank < 0 || rank >= NR_RANKS)
			continue;
		if (seen_of[rank]++ != cell)
			continue;
		ranks[rank] = (struct rank_line){ t, s, c + fl + ab + pa + ex, hc, hs, true };
	}
	fclose(f);
}

static double num_of(json_object *row, const char *key)
{
	json_object *v = json_object_object_get(row, key);

	return v && !json_object_is_type(v, json_type_null) ? json_object_get_double(v) : NAN;
}

/* One merged row per cell: ranks 4, every count the sum of the ranks', conservation. */
static void check_job(const char *out, const char *err, unsigned int nr_cells)
{
	char path[PATH_MAX];
	json_object *root, *rows, *meta;

	snprintf(path, sizeof(path), "%s/run.json", out);
	root = json_object_from_file(path);
	assert_non_null(root);
	rows = json_object_object_get(root, "rows");
	meta = json_object_object_get(root, "meta");
	assert_int_equal(json_object_array_length(rows), nr_cells);
	assert_int_equal(json_object_get_int(json_object_object_get(meta, "mpi_ranks")), NR_RANKS);
	assert_non_null(json_object_object_get(meta, "mpi_hosts"));
	for (unsigned int cell = 0; cell < nr_cells; cell++) {
		json_object *row = json_object_array_get_idx(rows, cell);
		struct rank_line ranks[NR_RANKS] = { 0 };
		double tasks = 0, submitted = 0, terminal = 0, count = 0, sum = 0;

		read_rank_lines(err, cell, ranks);
		for (int r = 0; r < NR_RANKS; r++) {
			assert_true(ranks[r].seen);
			assert_true(ranks[r].submitted == ranks[r].terminal);
			tasks += ranks[r].tasks;
			submitted += ranks[r].submitted;
			terminal += ranks[r].terminal;
			count += (double)ranks[r].hist_count;
			sum += (double)ranks[r].hist_sum;
		}
		assert_string_equal(json_object_get_string(json_object_object_get(row, "status")),
				    "ok");
		assert_true(num_of(row, "ranks") == NR_RANKS);
		assert_true(tasks > 0 && num_of(row, "tasks") == tasks);
		assert_true(num_of(row, "submitted") == submitted);
		assert_true(num_of(row, "n_completed") + num_of(row, "n_failed") +
			    (isnan(num_of(row, "n_expired")) ? 0 : num_of(row, "n_expired")) ==
			    terminal);
		/* The histogram's exact sum: its count, and its mean from the summed ns. */
		assert_true(num_of(row, "n_samples") == count);
		assert_true(fabs(num_of(row, "lat_mean_ns") - sum / count) < 1e-6 * (sum / count));
		assert_true(num_of(row, "rank_min_ops_per_s") <= num_of(row, "rank_max_ops_per_s"));
	}
	json_object_put(root);
}

static bool have_mpi_bin(char *path, size_t len)
{
	snprintf(path, len, "%s", bin());
	snprintf(strrchr(path, '/') + 1, len - (size_t)(strrchr(path, '/') + 1 - path),
		 "iomodels-mpi");
	return access(path, X_OK) == 0;
}

/*
 * Under the sanitizers, what Open MPI itself does is not ours to report: under ASan the memory
 * it never frees (from MPI_Init on), under TSan the lock order of its uninstrumented TCP
 * transport. Its components stay loaded (disable_dlclose) and ASan unwinds in full (Open MPI
 * has no frame pointers), so those reports name its libraries, and only they are passed.
 */
static void write_suppressions(char *path, size_t len, const char *kind, const char *name)
{
	static const char *const libs[] = { "libmpi.so", "libopen-pal.so", "libopen-rte.so",
					    "libpmix.so", "libhwloc.so", "libevent", "mca_" };
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++)
		fprintf(f, "%s:%s\n", kind, libs[i]);
	fclose(f);
}

/*
 * Open MPI as root needs --allow-run-as-root; --oversubscribe lets 4 ranks share 2 CPUs;
 * TCP over loopback and shared memory only, so no container's missing network card matters.
 * timeout bounds the whole job.
 */
static int run_job(const char *mpi_bin, const char *args, const char *out, const char *err)
{
	char cmd[4096], supp[PATH_MAX], tsupp[PATH_MAX];
	int status;

	write_suppressions(supp, sizeof(supp), "leak", "lsan-openmpi.supp");
	write_suppressions(tsupp, sizeof(tsupp), "deadlock", "tsan-openmpi.supp");
	snprintf(cmd, sizeof(cmd),
		 "IOM_MPI_DEBUG=1 LSAN_OPTIONS=suppressions=%s "
		 "TSAN_OPTIONS=${TSAN_OPTIONS:+$TSAN_OPTIONS:}suppressions=%s "
		 "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0 "
		 "timeout -k 10 240 mpirun "
		 "--allow-run-as-root --oversubscribe -np %d --mca btl self,vader,tcp "
		 "--mca btl_tcp_if_include lo --mca oob_tcp_if_include lo "
		 "--mca mca_base_component_disable_dlclose 1 -x IOM_MPI_DEBUG -x LSAN_OPTIONS "
		 "-x ASAN_OPTIONS -x TSAN_OPTIONS "
		 "%s run %s --output %s >%s.out 2>%s", supp, tsupp, NR_RANKS, mpi_bin, args, out, err,
		 err);
	status = system(cmd);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		char show[PATH_MAX + 16];

		snprintf(show, sizeof(show), "cat %s %s.out >&2", err, err);
		if (system(show))
			print_message("cannot show %s\n", err);
		return -1;
	}
	return 0;
}

/* Lines of path+suffix matching the regex re. */
static int count_lines(const char *path, const char *suffix, const char *re)
{
	char cmd[PATH_MAX + 128];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "grep -c '%s' %s%s", re, path, suffix);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (fscanf(p, "%d", &n) != 1)
		n = -1;
	pclose(p);
	return n;
}

static void test_mpirun_rpc_and_nop(void **state)
{
	char mpi_bin[PATH_MAX], out[PATH_MAX], err[PATH_MAX], args[512];

	if (!have_mpi_bin(mpi_bin, sizeof(mpi_bin)))
		iom_skip("%s: not built (no mpicc)", mpi_bin);
	/* epoll rpc against the one server, then a nop cell: two rows, each merged. */
	snprintf(args, sizeof(args), "--model epoll --workload rpc,nop --concurrency 4 "
		 "--tasks 2000 --connect 127.0.0.1:%u", port);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(err, sizeof(err), "%s/stderr", dir);
	if (run_job(mpi_bin, args, out, err))
		fail_msg("mpirun failed (its output above)");
	check_job(out, err, 2);
	/* Rank 0 alone prints: one line per cell and its ranks line, one results line. */
	assert_int_equal(count_lines(err, ".out", "^epoll "), 2);
	assert_int_equal(count_lines(err, ".out", "^ *ranks 4: "), 2);
	assert_int_equal(count_lines(err, ".out", "^results: "), 1);
}

/*
 * Every rank numbers its tasks from the same start: their request ids must still differ at the
 * one server they share, or it counts another rank's request as a duplicate (and, with
 * --idempotency-key, answers it without its service). Before the ids interleaved over the
 * ranks, 4 ranks x 2000 tasks made ~6000 "duplicates" here.
 */
static void test_mpirun_ids_unique_at_server(void **state)
{
	char mpi_bin[PATH_MAX], out[PATH_MAX], err[PATH_MAX], args[512], port_file[PATH_MAX];
	char stats[PATH_MAX], line[128];
	unsigned long long requests = 0, duplicates = ~0ull;
	unsigned int own_port;
	pid_t own;
	FILE *f;

	if (!have_mpi_bin(mpi_bin, sizeof(mpi_bin)))
		iom_skip("%s: not built (no mpicc)", mpi_bin);
	snprintf(port_file, sizeof(port_file), "%s/port-ids", dir);
	snprintf(stats, sizeof(stats), "%s/stats-ids", dir);
	own = spawn_server(port_file, stats, &own_port);
	assert_true(own_port != 0);
	snprintf(args, sizeof(args), "--model epoll --workload rpc --concurrency 4 --tasks 2000 "
		 "--connect 127.0.0.1:%u", own_port);
	snprintf(out, sizeof(out), "%s/out-ids", dir);
	snprintf(err, sizeof(err), "%s/stderr-ids", dir);
	if (run_job(mpi_bin, args, out, err))
		fail_msg("mpirun failed (its output above)");
	kill(own, SIGTERM);
	waitpid(own, NULL, 0);
	f = fopen(stats, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "requests=%llu", &requests);
		sscanf(line, "duplicates=%llu", &duplicates);
	}
	fclose(f);
	print_message("4 ranks: %llu requests at the server, %llu duplicates\n", requests,
		      duplicates);
	assert_true(requests >= 4 * 2000);
	assert_true(duplicates == 0);
}

/* The plain binary started by a launcher: one line, exit 2, nothing written. */
static void test_plain_binary_under_launcher(void **state)
{
	char cmd[PATH_MAX * 2], out[PATH_MAX];
	struct stat st;
	int status;

	snprintf(out, sizeof(out), "%s/plain", dir);
	snprintf(cmd, sizeof(cmd), "OMPI_COMM_WORLD_SIZE=2 %s run --model epoll --workload nop "
		 "--tasks 10 --output %s 2>%s.err", bin(), out, out);
	status = system(cmd);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 2);
	assert_int_equal(stat(out, &st), -1);
	snprintf(cmd, sizeof(cmd), "grep -q 'unavailable: no MPI' %s.err", out);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_column_has_a_rule),
		cmocka_unit_test(test_merge_rules),
		cmocka_unit_test(test_merge_conservation_on_sum),
		cmocka_unit_test(test_merge_other_cell),
		cmocka_unit_test(test_plain_binary_under_launcher),
		cmocka_unit_test(test_mpirun_rpc_and_nop),
		cmocka_unit_test(test_mpirun_ids_unique_at_server),
	};

	return cmocka_run_group_tests(tests, start_server, stop_server);
}
