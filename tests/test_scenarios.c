// SPDX-License-Identifier: MIT
/*
 * Tests for the failure-mode scenarios (the files in scenario/), run as a user
 * would: "$IOM_BIN" scenario NAME ... with small, bounded configurations, checking the CSV each
 * writes. Only outcomes the kernel's rules guarantee are asserted:
 *
 * - thundering-herd: the scenario waits until every waiter is asleep before each connection, so
 *   a connection meets N sleepers: the listener's wait queue wakes every naive epoll (N), an
 *   EPOLLEXCLUSIVE epoll or a blocking accept wakes one. Without that gate the counts drift
 *   (measured here, 4 waiters x 30: naive 2.7-4.0, accept 0.5-1.0, because a winner still awake
 *   takes the next connection without sleeping), so the gate is what makes 4 vs 1 exact.
 * - durability: a buffered pwrite returns with its page dirty (the flusher waits 30 s by
 *   default: dirty_expire_centisecs); after fdatasync or a linked FSYNC(DATASYNC) CQE the page is
 *   clean. No timing is asserted.
 * - stale-status: with replicas lagging by less than L, N reads in a row at least P apart
 *   cannot all be stale once (N - 1) x P >= L: zero wrong EXPIRED is a consequence, not a
 *   measurement.
 */
#include "tests/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS	16
#define RUN_TIMEOUT_MS	30000	/* far above a healthy run (< 2 s), even under TSan */
#define BAD_TIMEOUT_MS	5000
#define OUT		"@OUT@"	/* replaced by <tmpdir>/out */
#define TMPDIR		"@DIR@"	/* replaced by <tmpdir> */

struct run {
	int status;		/* exit status, or 128 + signal */
	bool timed_out;
	char out[16384];
	char err[4096];
	size_t out_len, err_len;
};

struct ctx {
	char tmp[64];
	struct run r;
	char *csv;
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	struct ctx *x = calloc(1, sizeof(*x));

	if (!x)
		return -1;
	/* /tmp is a disk filesystem on our machines; the durability test writes its file here. */
	snprintf(x->tmp, sizeof(x->tmp), "/tmp/iom_test_scenarios.XXXXXX");
	if (!mkdtemp(x->tmp)) {
		free(x);
		return -1;
	}
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *x = *state;

	nftw(x->tmp, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(x->csv);
	free(x);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void keep(char *buf, size_t cap, size_t *len, const char *data, size_t n)
{
	if (n > cap - 1 - *len)
		n = cap - 1 - *len;
	memcpy(buf + *len, data, n);
	*len += n;
	buf[*len] = '\0';
}

/* Run "$IOM_BIN" args... (OUT and TMPDIR substituted), capturing stdout and stderr, bounded. */
static void run_bin(struct ctx *x, const char *const *args, int timeout_ms)
{
	const char *bin = getenv("IOM_BIN");
	char out[PATH_MAX], *argv[MAX_ARGS + 2];
	struct run *r = &x->r;
	struct pollfd pfd[2];
	int po[2], pe[2], n = 0, wstatus;
	int64_t deadline;
	pid_t pid;

	if (!bin || !*bin)
		fail_msg("IOM_BIN is not set: run these tests with `make test`");
	snprintf(out, sizeof(out), "%s/out", x->tmp);
	argv[n++] = (char *)bin;
	for (int i = 0; args[i] && n < MAX_ARGS + 1; i++)
		argv[n++] = (char *)(!strcmp(args[i], OUT) ? out :
				     !strcmp(args[i], TMPDIR) ? x->tmp : args[i]);
	argv[n] = NULL;
	memset(r, 0, sizeof(*r));
	assert_int_equal(pipe2(po, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0 ||
		    chdir(x->tmp))
			_exit(126);
		execv(bin, argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	pfd[0] = (struct pollfd){ .fd = po[0], .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = pe[0], .events = POLLIN };
	deadline = now_ms() + timeout_ms;
	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		int64_t left = deadline - now_ms();
		char buf[4096];

		if (left <= 0) {
			r->timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		if (poll(pfd, 2, (int)left) < 0)
			continue;
		for (int i = 0; i < 2; i++) {
			ssize_t got;

			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			got = read(pfd[i].fd, buf, sizeof(buf));
			if (got > 0 && i == 0)
				keep(r->out, sizeof(r->out), &r->out_len, buf, (size_t)got);
			else if (got > 0)
				keep(r->err, sizeof(r->err), &r->err_len, buf, (size_t)got);
			else if (got == 0 || errno != EINTR) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	assert_int_equal(waitpid(pid, &wstatus, 0), pid);
	r->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
	if (r->status == 126 || r->status == 127)
		fail_msg("could not run %s (exit %d)", bin, r->status);
	if (r->timed_out)
		fail_msg("%s %s timed out after %d ms; stdout:\n%s", bin, args[1], timeout_ms,
			 r->out);
}

static void load_csv(struct ctx *x, const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/out/%s", x->tmp, name);
	f = fopen(path, "r");
	if (!f)
		fail_msg("%s not written: %s; stdout:\n%s", path, strerror(errno), x->r.out);
	assert_int_equal(fstat(fileno(f), &st), 0);
	free(x->csv);
	x->csv = calloc(1, (size_t)st.st_size + 1);
	assert_non_null(x->csv);
	assert_int_equal(fread(x->csv, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
}

/* Field number col of one CSV line (quotes honoured) into buf. */
static void csv_field(const char *line, int col, char *buf, size_t len)
{
	size_t used = 0;
	bool quoted = false;

	for (int c = 0; *line && *line != '\n'; line++) {
		if (*line == '"') {
			quoted = !quoted;
			continue;
		}
		if (*line == ',' && !quoted) {
			if (c++ == col)
				break;
			continue;
		}
		if (c == col && used + 1 < len)
			buf[used++] = *line;
	}
	buf[used] = '\0';
}

/* The column named name in the row whose first field is key, as a string. */
static void csv_get(const char *csv, const char *key, const char *name, char *buf, size_t len)
{
	char field[256];
	const char *line;
	int col = -1;

	for (int c = 0; c < 64; c++) {
		csv_field(csv, c, field, sizeof(field));
		if (!strcmp(field, name)) {
			col = c;
			break;
		}
	}
	if (col < 0)
		fail_msg("no column %s in:\n%s", name, csv);
	for (line = strchr(csv, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
		csv_field(line + 1, 0, field, sizeof(field));
		if (!strcmp(field, key)) {
			csv_field(line + 1, col, buf, len);
			return;
		}
	}
	fail_msg("no row %s in:\n%s", key, csv);
}

static double csv_num(const char *csv, const char *key, const char *name)
{
	char buf[256], *end;
	double v;

	csv_get(csv, key, name, buf, sizeof(buf));
	v = strtod(buf, &end);
	if (!buf[0] || *end)
		fail_msg("%s.%s is '%s', not a number:\n%s", key, name, buf, csv);
	return v;
}

static void test_list(void **state)
{
	struct ctx *x = *state;
	const char *args[] = { "scenario", "list", NULL };

	run_bin(x, args, BAD_TIMEOUT_MS);
	assert_int_equal(x->r.status, 0);
	assert_non_null(strstr(x->r.out, "thundering-herd "));
	assert_non_null(strstr(x->r.out, "durability "));
	assert_non_null(strstr(x->r.out, "stale-status "));
}

/* Each bad option: exit 2, one line on stderr, nothing on stdout, no output directory. */
static void test_bad_options(void **state)
{
	static const char *const cases[][8] = {
		{ "thundering-herd", "--waiters", "0", "--output", OUT },
		{ "thundering-herd", "--waiters", "abc", "--output", OUT },
		{ "thundering-herd", "--waiters", "4x", "--output", OUT },
		{ "thundering-herd", "--waiters", "-1", "--output", OUT },
		{ "thundering-herd", "--waiters", "257", "--output", OUT },
		{ "thundering-herd", "--output", OUT, "--waiters" },
		{ "thundering-herd", "--connections", "0", "--output", OUT },
		{ "thundering-herd", "--connections", "", "--output", OUT },
		{ "thundering-herd", "--frobnicate", "--output", OUT },
		{ "thundering-herd", "--output" },
		{ "durability", "--tasks", "0", "--output", OUT },
		{ "durability", "--tasks", "1.5", "--output", OUT },
		{ "durability", "--bs", "1000", "--output", OUT },
		{ "durability", "--bs", "6K", "--output", OUT },
		{ "durability", "--bs", "2M", "--output", OUT },
		{ "durability", "--size", "4K", "--bs", "8K", "--output", OUT },
		{ "durability", "--size", "1X", "--output", OUT },
		{ "durability", "--directory", "/nonexistent/iom", "--output", OUT },
		{ "durability", "--output", OUT, "--directory" },
		{ "durability", "--frobnicate", "--output", OUT },
		{ "stale-status", "--part", "c", "--output", OUT },
		{ "stale-status", "--confirm", "1", "--output", OUT },
		{ "stale-status", "--confirm", "2,3,4,5,6", "--output", OUT },
		{ "stale-status", "--confirm", "3,", "--output", OUT },
		{ "stale-status", "--status-lag-us", "-1", "--output", OUT },
		{ "stale-status", "--tasks", "0", "--output", OUT },
		{ "stale-status", "--bs", "1000", "--output", OUT },
		{ "stale-status", "--directory", "/nonexistent/iom", "--output", OUT },
		{ "stale-status", "--frobnicate", "--output", OUT },
		{ "stale-status", "--output", OUT, "--confirm" },
		{ "faults", "--tasks", "5", "--output", OUT },
		{ "faults", "--tasks", "x", "--output", OUT },
		{ "faults", "--frobnicate", "--output", OUT },
		{ "retry-storm", "--rate", "0", "--output", OUT },
		{ "retry-storm", "--capacity", "-1", "--output", OUT },
	};
	struct ctx *x = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[MAX_ARGS] = { "scenario" };
		char out[PATH_MAX], *nl;
		int n = 1;

		for (int j = 0; j < 8 && cases[i][j]; j++)
			args[n++] = cases[i][j];
		args[n] = NULL;
		run_bin(x, args, BAD_TIMEOUT_MS);
		if (x->r.status != 2)
			fail_msg("case %zu (%s %s): exit %d, want 2; stderr: %s", i, cases[i][0],
				 cases[i][1], x->r.status, x->r.err);
		nl = strchr(x->r.err, '\n');
		if (!nl || nl[1] || x->r.out_len)
			fail_msg("case %zu (%s %s): want one line on stderr and no stdout; got "
				 "stderr '%s' stdout '%s'", i, cases[i][0], cases[i][1], x->r.err,
				 x->r.out);
		snprintf(out, sizeof(out), "%s/out", x->tmp);
		if (!access(out, F_OK))
			fail_msg("case %zu (%s %s): wrote %s", i, cases[i][0], cases[i][1], out);
	}
}

/*
 * 4 waiters, 30 connections: naive epoll wakes every waiter (4.0), EPOLLEXCLUSIVE and a
 * blocking accept one (1.0), SO_REUSEPORT one. The bounds leave room for a stray wake-up.
 */
static void test_herd(void **state)
{
	const char *args[] = { "scenario", "thundering-herd", "--waiters", "4", "--connections",
			       "30", "--output", OUT, NULL };
	struct ctx *x = *state;
	double naive, excl, acc, rp;
	char st[64];

	run_bin(x, args, RUN_TIMEOUT_MS);
	if (x->r.status)
		fail_msg("exit %d; stdout:\n%s\nstderr:\n%s", x->r.status, x->r.out, x->r.err);
	assert_non_null(strstr(x->r.out, "verdict: naive epoll wakes"));
	load_csv(x, "herd.csv");
	for (size_t i = 0; i < 4; i++) {
		static const char *const v[] = { "accept", "epoll-naive", "epoll-exclusive",
						 "reuseport" };

		csv_get(x->csv, v[i], "status", st, sizeof(st));
		if (strcmp(st, "ok"))
			fail_msg("%s: status %s:\n%s", v[i], st, x->csv);
		assert_int_equal((int)csv_num(x->csv, v[i], "connections_done"), 30);
		assert_int_equal((int)csv_num(x->csv, v[i], "accepted"), 30);
	}
	naive = csv_num(x->csv, "epoll-naive", "wakeups_per_conn");
	excl = csv_num(x->csv, "epoll-exclusive", "wakeups_per_conn");
	acc = csv_num(x->csv, "accept", "wakeups_per_conn");
	rp = csv_num(x->csv, "reuseport", "wakeups_per_conn");
	if (!(naive > excl) || naive < 1.5 || excl > 1.5 || acc > 1.5 || rp > 1.5)
		fail_msg("wake-ups per connection: naive %.2f exclusive %.2f accept %.2f "
			 "reuseport %.2f; want naive >= 1.5 > exclusive, accept, reuseport:\n%s",
			 naive, excl, acc, rp, x->csv);
	/* Each accepted connection needed its waiter to wake at least once. */
	assert_true(excl >= 1.0 && acc >= 1.0 && rp >= 1.0);
	assert_true(csv_num(x->csv, "epoll-naive", "useless_per_conn") >= 0.5);
}

/* Does dir still hold a file the durability scenario made? */
static bool has_leftover(const char *dir)
{
	static const char pfx[] = "iomodels-durability.";
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, pfx, sizeof(pfx) - 1))
			found = true;
	closedir(d);
	return found;
}

static void test_durability(void **state)
{
	const char *args[] = { "scenario", "durability", "--tasks", "50", "--size", "4M",
			       "--directory", TMPDIR, "--output", OUT, NULL };
	struct ctx *x = *state;
	char st[64];

	run_bin(x, args, RUN_TIMEOUT_MS);
	if (x->r.status)
		fail_msg("exit %d; stdout:\n%s\nstderr:\n%s", x->r.status, x->r.out, x->r.err);
	/* The scenario's file is gone. */
	assert_false(has_leftover(x->tmp));
	if (strstr(x->r.out, "cachestat: unavailable"))
		iom_skip("cachestat(2) unavailable: %s", x->r.out);
	load_csv(x, "durability.csv");
	csv_get(x->csv, "buffered", "status", st, sizeof(st));
	assert_string_equal(st, "ok");
	csv_get(x->csv, "fdatasync", "status", st, sizeof(st));
	assert_string_equal(st, "ok");
	assert_int_equal((int)csv_num(x->csv, "buffered", "completed"), 50);
	assert_int_equal((int)csv_num(x->csv, "fdatasync", "completed"), 50);
	if (csv_num(x->csv, "buffered", "not_durable") <= 0)
		fail_msg("buffered: no task completed while dirty:\n%s", x->csv);
	assert_int_equal((int)csv_num(x->csv, "fdatasync", "not_durable"), 0);
	csv_get(x->csv, "uring-linked-fsync", "status", st, sizeof(st));
	if (!strcmp(st, "unavailable")) {
		csv_get(x->csv, "uring-linked-fsync", "reason", st, sizeof(st));
		iom_skip("uring-linked-fsync: %s", st);
	}
	assert_string_equal(st, "ok");
	assert_int_equal((int)csv_num(x->csv, "uring-linked-fsync", "completed"), 50);
	assert_int_equal((int)csv_num(x->csv, "uring-linked-fsync", "not_durable"), 0);
}

/*
 * stale-status (a): replicas up to 1 ms behind, a poll every 100 us. Without lag no read is
 * stale and no EXPIRED is wrong. Trusting one read, some task that finished in time is called
 * EXPIRED (each such task's reads before its deadline all hit a lagging replica: about one in
 * five here, so among 200 tasks none is practically impossible). Confirming 11 reads in a row
 * spans at least 10 x 100 us = the most a replica lags, so no stale read survives: exactly 0.
 */
static void test_stale_status(void **state)
{
	static const char *const rows[] = { "no-lag", "trust-one", "confirm-11" };
	const char *args[] = { "scenario", "stale-status", "--part", "a", "--tasks", "200",
			       "--confirm", "11", "--output", OUT, NULL };
	struct ctx *x = *state;
	char st[64];

	run_bin(x, args, RUN_TIMEOUT_MS);
	if (x->r.status)
		fail_msg("exit %d; stdout:\n%s\nstderr:\n%s", x->r.status, x->r.out, x->r.err);
	assert_non_null(strstr(x->r.out, "verdict: "));
	load_csv(x, "stale-status.csv");
	for (size_t i = 0; i < 3; i++) {
		csv_get(x->csv, rows[i], "status", st, sizeof(st));
		if (strcmp(st, "ok"))
			fail_msg("%s: status %s:\n%s", rows[i], st, x->csv);
		/* The invariant: every task once, COMPLETED or EXPIRED (nothing else can end it). */
		assert_int_equal((int)(csv_num(x->csv, rows[i], "completed") +
				       csv_num(x->csv, rows[i], "expired")), 200);
	}
	assert_int_equal((int)csv_num(x->csv, "no-lag", "stale_reads"), 0);
	assert_int_equal((int)csv_num(x->csv, "no-lag", "wrong_expired"), 0);
	if (csv_num(x->csv, "trust-one", "stale_reads") <= 0 ||
	    csv_num(x->csv, "trust-one", "wrong_expired") <= 0)
		fail_msg("trust-one: want stale reads and wrong EXPIRED > 0:\n%s", x->csv);
	assert_true(csv_num(x->csv, "confirm-11", "stale_reads") > 0);
	assert_int_equal((int)csv_num(x->csv, "confirm-11", "wrong_expired"), 0);
	/* The rows in runs.csv too, each with the model's own counts. */
	load_csv(x, "runs.csv");
	assert_non_null(strstr(x->csv, "lag<=1000us,confirm=11"));
}

/*
 * retry-storm, small: 1500 tasks/s for 1 s against room for 1 request of 1 ms: arrivals come
 * every 0.67 ms and each request is held at least 1 ms, so BUSY answers must happen. Every task
 * ends once (completed or gave up), and the drain is measured.
 */
static void test_retry_storm(void **state)
{
	static const char *const rows[] = { "none", "exp", "exp-jitter" };
	const char *args[] = { "scenario", "retry-storm", "--rate", "1500", "--capacity", "1",
			       "--output", OUT, NULL };
	struct ctx *x = *state;
	char st[64];

	run_bin(x, args, RUN_TIMEOUT_MS);
	if (x->r.status)
		fail_msg("exit %d; stdout:\n%s\nstderr:\n%s", x->r.status, x->r.out, x->r.err);
	assert_non_null(strstr(x->r.out, "verdict: offered 1500/s"));
	load_csv(x, "retry-storm.csv");
	for (size_t i = 0; i < 3; i++) {
		csv_get(x->csv, rows[i], "status", st, sizeof(st));
		if (strcmp(st, "ok"))
			fail_msg("%s: status %s:\n%s", rows[i], st, x->csv);
		assert_int_equal((int)csv_num(x->csv, rows[i], "offered"), 1500);
		assert_int_equal((int)(csv_num(x->csv, rows[i], "completed") +
				       csv_num(x->csv, rows[i], "gave_up")), 1500);
		assert_true(csv_num(x->csv, rows[i], "drain_ns") >= 0);
	}
	assert_true(csv_num(x->csv, "none", "busy") > 0);
}

/*
 * faults, small: every cell ran and kept the invariant; the tiny CQ overflowed (a NOP completes
 * inside the enter that submits it, so 64 of them meet a CQ of 8) and its control did not.
 * The counts of each fault are test_faults' business.
 */
static void test_faults(void **state)
{
	const char *args[] = { "scenario", "faults", "--tasks", "100", "--output", OUT, NULL };
	struct ctx *x = *state;
	int col_conserved = -1, col_status = -1, nr_rows = 0;
	char field[64];
	const char *line;

	run_bin(x, args, RUN_TIMEOUT_MS);
	if (x->r.status)
		fail_msg("exit %d; stdout:\n%s\nstderr:\n%s", x->r.status, x->r.out, x->r.err);
	assert_non_null(strstr(x->r.out, "verdict: under every fault"));
	load_csv(x, "faults.csv");
	for (int c = 0; c < 64; c++) {
		csv_field(x->csv, c, field, sizeof(field));
		if (!strcmp(field, "conserved"))
			col_conserved = c;
		if (!strcmp(field, "status"))
			col_status = c;
	}
	assert_true(col_conserved >= 0 && col_status >= 0);
	for (line = strchr(x->csv, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
		csv_field(line + 1, col_status, field, sizeof(field));
		if (strcmp(field, "ok"))
			fail_msg("a cell did not run:\n%s", x->csv);
		csv_field(line + 1, col_conserved, field, sizeof(field));
		if (strcmp(field, "1"))
			fail_msg("a cell broke the invariant:\n%s", x->csv);
		nr_rows++;
	}
	/* errno x 4, kill x 2, drop x 3 x 4, cq x 2 (fewer only if a model is unavailable). */
	assert_true(nr_rows >= 10);
	assert_true(csv_num(x->csv, "cq-overflow:8", "cq_overflow") > 0);
	assert_true(csv_num(x->csv, "none (control)", "cq_overflow") == 0);
	assert_true(csv_num(x->csv, "cq-overflow:8", "n_completed") ==
		    csv_num(x->csv, "cq-overflow:8", "submitted"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_herd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_durability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_storm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
