// SPDX-License-Identifier: MIT
/*
 * Tests for iomodels watch and demo, run as a user would run them: "$IOM_BIN" in a fresh cwd.
 * The full-screen view is driven in tmux (a private server per test, killed at the end):
 * send-keys, capture-pane, and #{alternate_on} to see the terminal given back. The plain view
 * (stdout not a terminal) is driven through pipes. Every wait is bounded; no assertion is about
 * time: a key press must change what the next full second measures, whatever it measures.
 */
#include "tests/testutil.h"
#include "core/model.h"
#include "ui/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PANE_CMD_MAX	1024
#define WAIT_LONG_MS	60000	/* a sanitizer build on a busy 2-CPU box is slow to start */

struct wctx {
	char tmp[64];
	char sock[64];		/* tmux -L name, or "" when no server was started */
	pid_t pid;		/* a plain watch still running, or 0 */
	char *buf;		/* freed by teardown, so a failed assertion leaks nothing */
	struct iomt_csv csv;	/* likewise */
};

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static int setup(void **state)
{
	struct wctx *x = calloc(1, sizeof(*x));

	if (!x)
		return -1;
	if (iomt_mkdtemp(x->tmp, sizeof(x->tmp), "watch")) {
		free(x);
		return -1;
	}
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct wctx *x = *state;
	char cmd[128];

	if (x->sock[0]) {
		snprintf(cmd, sizeof(cmd), "tmux -L %s kill-server >/dev/null 2>&1", x->sock);
		if (system(cmd)) {
			/* Already gone: the pane's command ended and took the server with it. */
		}
	}
	if (x->pid > 0) {
		kill(x->pid, SIGKILL);
		waitpid(x->pid, NULL, 0);
	}
	iomt_rm_tree(x->tmp);
	free(x->buf);
	iomt_csv_free(&x->csv);
	free(x);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* tmux                                                                                       */

static bool have_tmux(void)
{
	return system("tmux -V >/dev/null 2>&1") == 0;
}

static int tmux(struct wctx *x, const char *args)
{
	char cmd[PANE_CMD_MAX + 128];

	snprintf(cmd, sizeof(cmd), "tmux -L %s %s", x->sock, args);
	return system(cmd);
}

/* A pane of w x h running watch with args; its shell says EXIT=<status> when watch ends. */
static void tmux_start(struct wctx *x, int w, int h, const char *args)
{
	char cmd[PANE_CMD_MAX + 128];

	if (!have_tmux())
		iom_skip("tmux is not installed (make deps installs it)");
	snprintf(x->sock, sizeof(x->sock), "iomtest-%d", (int)getpid());
	/* The pane stays after watch ends (sleep), so the test can read what it left. */
	snprintf(cmd, sizeof(cmd), "new-session -d -x %d -y %d -c %s \"%s watch %s; echo "
		 "EXIT=\\$?; sleep 120\"", w, h, x->tmp, iomt_bin(), args);
	assert_int_equal(tmux(x, cmd), 0);
}

/* The pane's text now (or its #{alternate_on} with what = "alt"), in x->buf: valid until the
 * next read. */
static char *tmux_read(struct wctx *x, const char *what)
{
	char cmd[256];
	size_t len = 0;
	FILE *p;

	free(x->buf);
	x->buf = calloc(1, 64 * 1024);
	assert_non_null(x->buf);
	if (!strcmp(what, "alt"))
		snprintf(cmd, sizeof(cmd), "tmux -L %s display -p '#{alternate_on}'", x->sock);
	else
		/* -J: lines the terminal wrapped come back whole. */
		snprintf(cmd, sizeof(cmd), "tmux -L %s capture-pane -p -J", x->sock);
	p = popen(cmd, "r");
	assert_non_null(p);
	len = fread(x->buf, 1, 64 * 1024 - 1, p);
	x->buf[len] = '\0';
	pclose(p);
	return x->buf;
}

/* Wait until the pane shows text, or fail with what it showed. */
static char *tmux_wait(struct wctx *x, const char *text, int timeout_ms)
{
	int64_t end = iomt_now_ms() + timeout_ms;

	for (;;) {
		char *screen = tmux_read(x, "pane");

		if (strstr(screen, text))
			return screen;
		if (iomt_now_ms() > end)
			fail_msg("no '%s' in the pane after %d ms; it shows:\n%s", text, timeout_ms,
				 screen);
		sleep_ms(200);
	}
}

/* The number after "in flight " on the first line that starts with lane. */
static double lane_inflight(const char *screen, const char *lane)
{
	const char *p = screen;

	while (p && *p) {
		const char *eol = strchr(p, '\n'), *f;

		if (!strncmp(p, lane, strlen(lane)) && (f = strstr(p, "in flight ")) &&
		    (!eol || f < eol))
			return strtod(f + 10, NULL);
		p = eol ? eol + 1 : NULL;
	}
	return -1;
}

/* A sparkline row (" ops/s" then bars, then "max ...") with the knob's letter among its bars. */
static bool spark_marked(const char *screen, char mark)
{
	for (const char *p = screen; p && *p;) {
		const char *eol = strchr(p, '\n'), *mx;

		if (!strncmp(p, " ops/s ", 7)) {
			mx = strstr(p, " max ");
			for (const char *c = p + 7; c < (mx ? mx : eol ? eol : p + strlen(p)); c++)
				if (*c == mark)
					return true;
		}
		p = eol ? eol + 1 : NULL;
	}
	return false;
}

/*
 * Every "submitted N = completed a + failed b + aborted c + partial d + expired e" adds up; with
 * need_tasks, each lane ran some (a q before a slow build's lane started may leave it none).
 */
static int check_summary(const char *text, bool need_tasks)
{
	const char *p = text;
	int rows = 0;

	while ((p = strstr(p, "submitted "))) {
		double n, a, b, c, d, e;

		assert_int_equal(sscanf(p, "submitted %lf = completed %lf + failed %lf + aborted %lf + "
					"partial %lf + expired %lf", &n, &a, &b, &c, &d, &e), 6);
		assert_true(n > 0 || !need_tasks);
		assert_true(n == a + b + c + d + e);
		rows++;
		p++;
	}
	return rows;
}

/* The lanes and their counts appear; + doubles concurrency and the in-flight count follows;
 * q ends the run, the invariant holds, and the terminal is back (no alternate screen). */
static void test_tmux_lanes_keys_quit(void **state)
{
	struct wctx *x = *state;
	char args[512], path[PATH_MAX];
	double before, after = -1;
	char *screen;
	int64_t end;

	snprintf(args, sizeof(args), "--model threads,uring --workload timer --latency-us 20000 "
		 "--concurrency 4 --runtime 40 --output %s/out", x->tmp);
	tmux_start(x, 80, 24, args);
	tmux_wait(x, "SCHEDULED RUNNING COMPLETED", WAIT_LONG_MS);
	screen = tmux_wait(x, "ops/s", WAIT_LONG_MS);
	assert_non_null(strstr(screen, "Client<->Server"));
	assert_non_null(strstr(screen, "submitter -> SQ -> kernel/io-wq -> CQ"));
	assert_non_null(strstr(screen, "C 4/64"));
	/* A full second has been read: the threads lane keeps about 4 in flight. */
	end = iomt_now_ms() + WAIT_LONG_MS;
	do {
		sleep_ms(200);
		before = lane_inflight(tmux_read(x, "pane"), "threads");
	} while (!(before > 0) && iomt_now_ms() < end);
	assert_true(before > 0 && before <= 4.0);

	assert_int_equal(tmux(x, "send-keys +"), 0);
	tmux_wait(x, "C 8/64", 10000);
	tmux_wait(x, "concurrency 4 -> 8", 10000);
	/* The next full seconds: the in-flight count follows the knob (8 wanted, 4 before). */
	end = iomt_now_ms() + 20000;
	while (iomt_now_ms() < end) {
		after = lane_inflight(tmux_read(x, "pane"), "threads");
		if (after > 6.0)
			break;
		sleep_ms(250);
	}
	assert_true(after > 6.0 && after <= 8.0);
	/* The knob change is marked on the history: a C among the sparkline's bars. */
	assert_true(spark_marked(tmux_read(x, "pane"), 'C'));

	assert_int_equal(tmux(x, "send-keys q"), 0);
	screen = tmux_wait(x, "EXIT=", WAIT_LONG_MS);
	assert_non_null(strstr(screen, "EXIT=0"));
	assert_string_equal(tmux_read(x, "alt"), "0\n");
	assert_int_equal(check_summary(tmux_read(x, "pane"), true), 2);
	snprintf(path, sizeof(path), "%s/out/runs.csv", x->tmp);
	assert_int_equal(access(path, R_OK), 0);
	snprintf(path, sizeof(path), "%s/out/events.csv", x->tmp);
	assert_int_equal(access(path, R_OK), 0);
}

/* Too small: a clear message instead of a garbled screen; q still quits cleanly. */
static void test_tmux_too_small(void **state)
{
	struct wctx *x = *state;
	char *screen;

	tmux_start(x, 60, 20, "--model threads --runtime 30");
	tmux_wait(x, "terminal too small (need 80x24, have 60x20)", WAIT_LONG_MS);
	assert_int_equal(tmux(x, "send-keys q"), 0);
	screen = tmux_wait(x, "EXIT=", WAIT_LONG_MS);
	assert_non_null(strstr(screen, "EXIT=0"));
	/* The screen it left is the summary, not a frame. */
	if (strstr(screen, "terminal too small") || check_summary(screen, false) != 1)
		fail_msg("the pane after q:\n%s", screen);
	/* (screen is x->buf: read last, the next read replaces it) */
	assert_string_equal(tmux_read(x, "alt"), "0\n");
}

/*
 * A resize while running: down to 60x20 the view says it is too small (not a garbled screen),
 * back up to 100x30 the lanes are drawn again at the new size, and q still quits cleanly.
 */
static void test_tmux_resize(void **state)
{
	struct wctx *x = *state;
	char *screen;

	tmux_start(x, 80, 24, "--model threads --runtime 60");
	tmux_wait(x, "SCHEDULED RUNNING COMPLETED", WAIT_LONG_MS);
	assert_int_equal(tmux(x, "resize-window -x 60 -y 20"), 0);
	tmux_wait(x, "terminal too small (need 80x24, have 60x20)", WAIT_LONG_MS);
	assert_int_equal(tmux(x, "resize-window -x 100 -y 30"), 0);
	/*
	 * Drawn for 30 lines: the lanes, and the key line at the bottom (line 30). A capture may
	 * catch a frame half drawn (a sanitizer build draws slowly), so wait for a whole one.
	 */
	{
		int64_t end = iomt_now_ms() + WAIT_LONG_MS;

		for (;;) {
			const char *last = NULL;
			int lines = 0;

			screen = tmux_read(x, "pane");
			for (const char *p = screen; *p; p++)
				if (*p == '\n' && ++lines == 29)
					last = p + 1;
			if (lines >= 30 && last && !strncmp(last, "+/- conc", 8) &&
			    strstr(screen, "SCHEDULED RUNNING COMPLETED") &&
			    !strstr(screen, "too small"))
				break;
			if (iomt_now_ms() > end)
				fail_msg("no whole 100x30 frame after the resize:\n%s", screen);
			sleep_ms(200);
		}
	}
	assert_int_equal(tmux(x, "send-keys q"), 0);
	screen = tmux_wait(x, "EXIT=", WAIT_LONG_MS);
	assert_non_null(strstr(screen, "EXIT=0"));
	assert_string_equal(tmux_read(x, "alt"), "0\n");
}

/* Ctrl-C: the cells drain and stop, the terminal is given back, the exit status says so. */
static void test_tmux_ctrl_c(void **state)
{
	struct wctx *x = *state;
	char *screen;

	tmux_start(x, 80, 24, "--model uring --runtime 30");
	tmux_wait(x, "ops/s", WAIT_LONG_MS);
	assert_int_equal(tmux(x, "send-keys C-c"), 0);
	screen = tmux_wait(x, "EXIT=", WAIT_LONG_MS);
	assert_non_null(strstr(screen, "EXIT=130"));
	if (!strstr(screen, "interrupted"))
		fail_msg("the pane after Ctrl-C:\n%s", screen);
	assert_string_equal(tmux_read(x, "alt"), "0\n");
}

/* ------------------------------------------------------------------------------------------ */
/* Plain lines (stdout not a terminal); keys from stdin                                       */

struct proc {
	pid_t pid;
	int in, out;
	char acc[65536];
	size_t len;
};

static void proc_start(struct wctx *x, struct proc *p, char *const argv[])
{
	int pi[2], po[2];

	assert_int_equal(pipe2(pi, O_CLOEXEC), 0);
	assert_int_equal(pipe2(po, O_CLOEXEC), 0);
	fflush(NULL);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		if (dup2(pi[0], 0) < 0 || dup2(po[1], 1) < 0 || chdir(x->tmp))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	x->pid = p->pid;
	close(pi[0]);
	close(po[1]);
	p->in = pi[1];
	p->out = po[0];
	p->len = 0;
}

/* The next line of the child's stdout, or NULL at its end; fails after timeout_ms. */
static char *proc_line(struct proc *p, char *line, size_t size, int timeout_ms)
{
	int64_t end = iomt_now_ms() + timeout_ms;

	for (;;) {
		char *nl = memchr(p->acc, '\n', p->len);
		struct pollfd pfd = { .fd = p->out, .events = POLLIN };
		ssize_t n;

		if (nl) {
			size_t k = (size_t)(nl - p->acc);

			snprintf(line, size, "%.*s", (int)k, p->acc);
			memmove(p->acc, nl + 1, p->len - k - 1);
			p->len -= k + 1;
			return line;
		}
		if (iomt_now_ms() > end)
			fail_msg("no line from watch in %d ms", timeout_ms);
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = read(p->out, p->acc + p->len, sizeof(p->acc) - 1 - p->len);
		if (n <= 0)
			return NULL;
		p->len += (size_t)n;
	}
}

static int proc_wait(struct wctx *x, struct proc *p, int timeout_ms)
{
	int64_t end = iomt_now_ms() + timeout_ms;
	int status;

	close(p->in);
	close(p->out);
	while (waitpid(p->pid, &status, WNOHANG) == 0) {
		if (iomt_now_ms() > end)
			fail_msg("watch did not exit in %d ms", timeout_ms);
		sleep_ms(50);
	}
	x->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The invariant, from runs.csv's row r: submitted (> 0) = the sum of the terminal states. */
static void check_row(const struct iomt_csv *c, int r)
{
	static const char *const terminal[] = { "n_completed", "n_failed", "n_aborted",
						"n_partial", "n_expired" };
	double sum = 0;

	for (size_t i = 0; i < sizeof(terminal) / sizeof(terminal[0]); i++)
		sum += iomt_csv_num(c, r, terminal[i]);
	assert_true(iomt_csv_num(c, r, "submitted") > 0);
	assert_true(iomt_csv_num(c, r, "submitted") == sum);
	assert_string_equal(iomt_csv_str(c, r, "status"), "ok");
}

/* The next plain line that holds text, or fail. */
static void proc_expect(struct proc *p, const char *text)
{
	char line[4096];

	while (proc_line(p, line, sizeof(line), WAIT_LONG_MS))
		if (strstr(line, text))
			return;
	fail_msg("watch ended without a line holding '%s'", text);
}

static void test_plain_lines_and_knob(void **state)
{
	struct wctx *x = *state;
	char out[PATH_MAX], line[4096], path[PATH_MAX + 16], header[4096], row[4096];
	char *argv[] = { (char *)iomt_bin(), "watch", "--model", "threads", "--workload", "timer",
			 "--latency-us", "20000", "--concurrency", "4", "--runtime", "30",
			 "--output", out, NULL };
	int seconds = 0, k;
	double t_key = -1, infl = -1, failed;
	struct proc p;
	FILE *f;

	snprintf(out, sizeof(out), "%s/out", x->tmp);
	proc_start(x, &p, argv);
	/* Two full seconds at C 4, each a plain line with the counts. */
	while (seconds < 2 && proc_line(&p, line, sizeof(line), WAIT_LONG_MS))
		if (strstr(line, " threads in_flight=")) {
			assert_non_null(strstr(line, "COMPLETED="));
			assert_non_null(strstr(line, "blocked="));
			seconds++;
		}
	assert_int_equal(seconds, 2);
	assert_int_equal(write(p.in, "+\n", 2), 2);
	/* The knob's line says when; the first second that began after it shows about 8. */
	while (proc_line(&p, line, sizeof(line), WAIT_LONG_MS)) {
		double t;

		if (strstr(line, "concurrency 4 -> 8") && sscanf(line, "watch t=%lf", &t) == 1)
			t_key = t;
		if (t_key >= 0 && sscanf(line, "watch t=%d threads in_flight=%lf", &k, &t) == 2 &&
		    k - 1 >= t_key) {
			infl = t;
			break;
		}
	}
	assert_true(t_key >= 0);
	assert_true(infl > 6.0 && infl <= 8.0);
	/* Fault rate up three steps (0.1%, 1%, 10% EIO): FAILED tasks appear. */
	assert_int_equal(write(p.in, "FFF", 3), 3);
	failed = 0;
	while (failed <= 0 && proc_line(&p, line, sizeof(line), WAIT_LONG_MS)) {
		const char *fl = strstr(line, " FAILED=");

		if (strstr(line, " threads in_flight=") && fl)
			failed = strtod(fl + 8, NULL);
	}
	assert_true(failed > 0);
	assert_int_equal(write(p.in, "q", 1), 1);
	while (proc_line(&p, line, sizeof(line), WAIT_LONG_MS))
		;
	assert_int_equal(proc_wait(x, &p, WAIT_LONG_MS), 0);

	/* The same results files as run, plus the knob changes. */
	snprintf(path, sizeof(path), "%s/runs.csv", out);
	iomt_csv_load(&x->csv, path);
	assert_int_equal(x->csv.nr, 2);
	check_row(&x->csv, 1);
	assert_non_null(strstr(iomt_csv_str(&x->csv, 1, "flags"), "live"));
	assert_true(iomt_csv_num(&x->csv, 1, "faults") > 0);
	snprintf(path, sizeof(path), "%s/events.csv", out);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(header, sizeof(header), f));
	assert_non_null(fgets(row, sizeof(row), f));
	fclose(f);
	assert_non_null(strstr(row, ",concurrency,4,8"));
	f = fopen(path, "r");
	assert_non_null(f);
	failed = 0;
	while (fgets(line, sizeof(line), f))
		failed += strstr(line, ",fault,") != NULL;
	fclose(f);
	assert_true(failed == 3);
	snprintf(path, sizeof(path), "%s/run.json", out);
	assert_int_equal(access(path, R_OK), 0);
}

static double line_num(const char *line, const char *key);
static double fmt_ns_value(const char *s);

/*
 * Send keys to a plain watch and wait for the knob's line that holds event ("watch t=T ...");
 * return the lane's line for the second after the next one that began after T: the tasks in
 * flight at the key ran with the knob's old value and may end in the very next second.
 */
static char *key_then_second(struct proc *p, const char *keys, const char *event, char *line,
			     size_t size)
{
	double t_key = -1, t;
	int k;

	assert_int_equal(write(p->in, keys, strlen(keys)), (ssize_t)strlen(keys));
	while (proc_line(p, line, size, WAIT_LONG_MS)) {
		if (t_key < 0 && strstr(line, event) && sscanf(line, "watch t=%lf", &t) == 1)
			t_key = t;
		if (t_key >= 0 && strstr(line, " threads in_flight=") &&
		    sscanf(line, "watch t=%d", &k) == 1 && k - 2 >= t_key)
			return line;
	}
	fail_msg("keys '%s': watch ended without '%s' and two seconds after it", keys, event);
	return NULL;
}

/* The number of events.csv's rows for knob. */
static int events_of(const char *path, const char *knob)
{
	char line[512], field[64];
	int n = 0;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	snprintf(field, sizeof(field), ",%s,", knob);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, field) != NULL;
	fclose(f);
	return n;
}

/*
 * Each of watch's keys L l - c d f p, pressed in the plain view, moves its knob and the next
 * seconds measure the change: the latency (ops/s and max after L and l), the tasks in flight
 * (- and c), EXPIRED in place of COMPLETED while the deadline is on (d, then d again), no FAILED
 * once the fault rate is stepped back to off (f), nothing done while paused (p, then p again).
 */
static void test_plain_keys(void **state)
{
	struct wctx *x = *state;
	char out[PATH_MAX], line[4096], path[PATH_MAX + 16];
	char *argv[] = { (char *)iomt_bin(), "watch", "--model", "threads", "--workload", "timer",
			 "--latency-us", "10000", "--concurrency", "8", "--runtime", "60",
			 "--output", out, NULL };
	double v, ops[3];
	struct proc p;

	snprintf(out, sizeof(out), "%s/out", x->tmp);
	proc_start(x, &p, argv);
	/* The second full second: 8 clients, 10 ms each, about 800 ops/s. */
	proc_expect(&p, " threads in_flight=");
	do
		assert_non_null(proc_line(&p, line, sizeof(line), WAIT_LONG_MS));
	while (!strstr(line, " threads in_flight="));
	ops[0] = line_num(line, " ops/s=");
	/*
	 * L, l: 10 ms -> 20 ms -> 10 ms (the deadline, off, stays at half the first: 5 ms). A
	 * closed loop's throughput is C over the latency: about halved, then doubled again; and
	 * no 20 ms timer ends sooner. (p99 needs more tasks a second than these.)
	 */
	key_then_second(&p, "L", "latency 10.00ms -> 20.00ms", line, sizeof(line));
	ops[1] = line_num(line, " ops/s=");
	v = fmt_ns_value(strstr(line, " max=") + 5);
	if (!(ops[1] < 0.75 * ops[0]) || !(v >= 20e6))
		fail_msg("after L (20 ms): %.0f ops/s (%.0f before), max %.0f ns: %s", ops[1],
			 ops[0], v, line);
	key_then_second(&p, "l", "latency 20.00ms -> 10.00ms", line, sizeof(line));
	ops[2] = line_num(line, " ops/s=");
	if (!(ops[2] > 1.5 * ops[1]))
		fail_msg("after l (10 ms): %.0f ops/s (%.0f at 20 ms): %s", ops[2], ops[1], line);
	/* -, c: concurrency 8 -> 4 -> 2, and the tasks in flight follow. */
	key_then_second(&p, "-", "concurrency 8 -> 4", line, sizeof(line));
	v = line_num(line, " in_flight=");
	if (!(v > 2.0 && v <= 4.0))
		fail_msg("after - (C 4) %.1f in flight: %s", v, line);
	key_then_second(&p, "c", "concurrency 4 -> 2", line, sizeof(line));
	v = line_num(line, " in_flight=");
	if (!(v > 1.0 && v <= 2.0))
		fail_msg("after c (C 2) %.1f in flight: %s", v, line);
	/* d: a 5 ms deadline on 10 ms timers, every task EXPIRED; d again: none. */
	key_then_second(&p, "d", "deadline off -> 5.00ms", line, sizeof(line));
	if (line_num(line, " ops/s=") != 0 || !(line_num(line, " expired/s=") > 0))
		fail_msg("after d (deadline on) tasks still complete: %s", line);
	key_then_second(&p, "d", "deadline 5.00ms -> off", line, sizeof(line));
	if (!(line_num(line, " ops/s=") > 0) || line_num(line, " expired/s=") != 0)
		fail_msg("after d (deadline off) tasks still expire: %s", line);
	/* F three times (10% EIO) fails some; f three times back to off fails none. */
	key_then_second(&p, "FFF", "fault 1% EIO -> 10% EIO", line, sizeof(line));
	if (!(line_num(line, " failed/s=") > 0))
		fail_msg("after FFF (10%% EIO) no task failed: %s", line);
	key_then_second(&p, "fff", "fault 0.1% EIO -> off", line, sizeof(line));
	if (line_num(line, " failed/s=") != 0 || !(line_num(line, " ops/s=") > 0))
		fail_msg("after fff (fault off) tasks still fail: %s", line);
	/* p: no task started, none in flight, none done; p again: they run. */
	key_then_second(&p, "p", "pause off -> on", line, sizeof(line));
	if (line_num(line, " ops/s=") != 0 || line_num(line, " in_flight=") != 0)
		fail_msg("after p (paused) tasks still run: %s", line);
	key_then_second(&p, "p", "pause on -> off", line, sizeof(line));
	if (!(line_num(line, " ops/s=") > 0))
		fail_msg("after p (resumed) no task completes: %s", line);
	assert_int_equal(write(p.in, "q", 1), 1);
	while (proc_line(&p, line, sizeof(line), WAIT_LONG_MS))
		;
	assert_int_equal(proc_wait(x, &p, WAIT_LONG_MS), 0);
	snprintf(path, sizeof(path), "%s/runs.csv", out);
	iomt_csv_load(&x->csv, path);
	check_row(&x->csv, 1);
	/* Every key pressed is one row of events.csv. */
	snprintf(path, sizeof(path), "%s/events.csv", out);
	assert_int_equal(events_of(path, "latency"), 2);
	assert_int_equal(events_of(path, "concurrency"), 2);
	assert_int_equal(events_of(path, "deadline"), 2);
	assert_int_equal(events_of(path, "fault"), 6);
	assert_int_equal(events_of(path, "pause"), 2);
}

/* a adds the next model beside the first, m switches it for the one after: each lane a row. */
static void test_plain_add_switch(void **state)
{
	struct wctx *x = *state;
	char out[PATH_MAX], line[4096], path[PATH_MAX + 16];
	char *argv[] = { (char *)iomt_bin(), "watch", "--model", "threads", "--workload", "timer",
			 "--latency-us", "2000", "--concurrency", "4", "--runtime", "30",
			 "--output", out, NULL };
	struct proc p;

	snprintf(out, sizeof(out), "%s/out", x->tmp);
	proc_start(x, &p, argv);
	proc_expect(&p, " threads in_flight=");
	assert_int_equal(write(p.in, "a", 1), 1);
	proc_expect(&p, "model + -> epoll");
	proc_expect(&p, " epoll in_flight=");
	assert_int_equal(write(p.in, "m", 1), 1);
	proc_expect(&p, "model epoll -> uring");
	proc_expect(&p, " uring in_flight=");
	assert_int_equal(write(p.in, "q", 1), 1);
	while (proc_line(&p, line, sizeof(line), WAIT_LONG_MS))
		;
	assert_int_equal(proc_wait(x, &p, WAIT_LONG_MS), 0);
	snprintf(path, sizeof(path), "%s/runs.csv", out);
	iomt_csv_load(&x->csv, path);
	assert_int_equal(x->csv.nr, 1 + 3);
	for (int r = 1; r < x->csv.nr; r++) {
		check_row(&x->csv, r);
		/* Side by side: the process-wide columns are shared, and the row says so. */
		assert_non_null(strstr(iomt_csv_str(&x->csv, r, "flags"), "shared_process"));
	}
}

/* The number after key (" blocked=") in a plain line, or -1. */
static double line_num(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	return p ? strtod(p + strlen(key), NULL) : -1;
}

/*
 * Four clients asleep in 20 ms timers: the census's lane threads come from the sched probe
 * (every one of them, probed = threads) and show about 4 blocked; with --thread-states proc,
 * none comes from the probe and the header says /proc. A probe read that came back empty
 * would show 0 blocked; one that failed would fall back to /proc and show probed < threads.
 */
static void test_plain_states_from_probes(void **state)
{
	struct wctx *x = *state;
	char line[4096];
	char *argv[] = { (char *)iomt_bin(), "watch", "--model", "threads", "--workload", "timer",
			 "--latency-us", "20000", "--concurrency", "4", "--runtime", "30",
			 "--thread-states", "probes", NULL };
	const char *source[] = { "probes", "proc" };
	const char *header[] = { "threads from the sched probe", "threads from /proc schedstat" };

	for (int k = 0; k < 2; k++) {
		struct proc p;
		int seconds = 0;

		argv[13] = (char *)source[k];
		proc_start(x, &p, argv);
		assert_non_null(proc_line(&p, line, sizeof(line), WAIT_LONG_MS));
		if (!strstr(line, header[k]))
			fail_msg("--thread-states %s: header '%s'", source[k], line);
		/* The first second is a first sight; the next two are differences. */
		while (seconds < 3 && proc_line(&p, line, sizeof(line), WAIT_LONG_MS)) {
			double threads, parked, probed, blocked;

			if (!strstr(line, " threads in_flight="))
				continue;
			if (++seconds == 1)
				continue;
			threads = line_num(line, " threads=");
			parked = line_num(line, " parked=");
			probed = line_num(line, " probed=");
			blocked = line_num(line, " blocked=");
			print_message("%s: threads %.0f parked %.0f probed %.0f blocked %.1f\n",
				      source[k], threads, parked, probed, blocked);
			/*
			 * Four clients; a handoff (a thread parking as the next one wakes for its
			 * client's next task) may be caught in flight, at most one a client: CI's
			 * TSan stage once saw 6. Parked threads counted as clients would be 64.
			 */
			assert_true(threads - parked >= 4 && threads - parked <= 8);
			assert_true(probed == (k == 0 ? threads : 0));
			/* Each asleep ~99% of a 20 ms task; a loaded CI box adds run-queue waits. */
			assert_true(blocked >= 3.0 && blocked <= 4.05);
		}
		assert_int_equal(seconds, 3);
		assert_int_equal(write(p.in, "q", 1), 1);
		while (proc_line(&p, line, sizeof(line), WAIT_LONG_MS))
			;
		assert_int_equal(proc_wait(x, &p, WAIT_LONG_MS), 0);
	}
}

/* --output over an earlier run: refused as run refuses it (exit 2, the run's files untouched). */
static void test_plain_output_refused(void **state)
{
	struct wctx *x = *state;
	char out[PATH_MAX], path[PATH_MAX + 16], line[4096], buf[64] = "";
	char *argv[] = { (char *)iomt_bin(), "watch", "--model", "threads", "--workload", "timer",
			 "--runtime", "1", "--output", out, NULL };
	struct proc p;
	FILE *f;

	snprintf(out, sizeof(out), "%s/out", x->tmp);
	assert_int_equal(mkdir(out, 0755), 0);
	snprintf(path, sizeof(path), "%s/runs.csv", out);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("an earlier run\n", f);
	fclose(f);
	proc_start(x, &p, argv);
	while (proc_line(&p, line, sizeof(line), WAIT_LONG_MS))
		;
	assert_int_equal(proc_wait(x, &p, WAIT_LONG_MS), 2);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "an earlier run\n");
	snprintf(path, sizeof(path), "%s/run.json", out);
	assert_int_equal(access(path, F_OK), -1);
}

/* "850ns", "12.3us", "1.25ms", "2.00s" (iom_fmt_ns) in ns; -1 for anything else. */
static double fmt_ns_value(const char *s)
{
	static const struct { const char *unit; double ns; } units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
	};
	char *end;
	double v = strtod(s, &end);

	for (size_t i = 0; end != s && i < sizeof(units) / sizeof(units[0]); i++)
		if (!strncmp(end, units[i].unit, strlen(units[i].unit)))
			return v * units[i].ns;
	return -1;
}

/*
 * A deadline shorter than every timer: no task COMPLETES, so ops/s is 0 every second while
 * expired/s carries the tasks; the summary says the same (ops/s counted EXPIRED before).
 */
static void test_plain_expired_not_ops(void **state)
{
	struct wctx *x = *state;
	char line[4096];
	char *argv[] = { (char *)iomt_bin(), "watch", "--model", "threads", "--workload", "timer",
			 "--latency-us", "2000", "--deadline-us", "300", "--concurrency", "4",
			 "--runtime", "3", NULL };
	double expired = 0, summary_ops = -1, summary_exp = -1;
	int seconds = 0;
	struct proc p;

	proc_start(x, &p, argv);
	while (proc_line(&p, line, sizeof(line), WAIT_LONG_MS)) {
		const char *sum = strstr(line, " ops/s (completed) expired ");

		if (strstr(line, " threads in_flight=")) {
			if (!strstr(line, " expired/s=") || !strstr(line, " failed/s="))
				fail_msg("no expired/s and failed/s beside ops/s: %s", line);
			if (line_num(line, " ops/s=") != 0)
				fail_msg("ops/s counts tasks that did not complete: %s", line);
			expired += line_num(line, " expired/s=");
			seconds++;
		}
		if (sum && !strncmp(line, "threads", 7)) {
			const char *num = sum;

			while (num > line && num[-1] != ' ')
				num--;
			summary_ops = strtod(num, NULL);
			summary_exp = strtod(sum + strlen(" ops/s (completed) expired "), NULL);
		}
	}
	assert_int_equal(proc_wait(x, &p, WAIT_LONG_MS), 0);
	assert_true(seconds >= 1);
	assert_true(expired > 0);
	if (summary_ops != 0 || !(summary_exp > 0))
		fail_msg("summary: %.0f ops/s, %.0f expired/s; want 0 and > 0", summary_ops,
			 summary_exp);
}

/*
 * threads and uring side by side: the summary gives each lane its own CPU per task, within the
 * range its live lines showed, not the whole process' CPU over its tasks (a uring lane beside
 * 64 sleeping threads would show theirs).
 */
static void test_plain_summary_own_cpu(void **state)
{
	struct wctx *x = *state;
	char line[4096];
	char *argv[] = { (char *)iomt_bin(), "watch", "--model", "threads,uring", "--workload",
			 "timer", "--latency-us", "500", "--concurrency", "16", "--runtime", "4",
			 NULL };
	const char *lanes[] = { "threads", "uring" };
	double lo[2] = { 1e18, 1e18 }, hi[2] = { 0, 0 }, sum[2] = { -1, -1 };
	struct proc p;

	proc_start(x, &p, argv);
	while (proc_line(&p, line, sizeof(line), WAIT_LONG_MS)) {
		for (int k = 0; k < 2; k++) {
			char live[32];
			const char *c;

			snprintf(live, sizeof(live), " %s in_flight=", lanes[k]);
			if (strstr(line, live) && (c = strstr(line, " cpu/task=")) &&
			    fmt_ns_value(c + 10) > 0) {
				double v = fmt_ns_value(c + 10);

				lo[k] = v < lo[k] ? v : lo[k];
				hi[k] = v > hi[k] ? v : hi[k];
			}
			if (!strncmp(line, lanes[k], strlen(lanes[k])) && line[strlen(lanes[k])] == ' ' &&
			    (c = strstr(line, " cpu/task "))) {
				if (!strstr(line, "(its threads)"))
					fail_msg("summary CPU is not the lane's own: %s", line);
				sum[k] = fmt_ns_value(c + 10);
			}
		}
	}
	assert_int_equal(proc_wait(x, &p, WAIT_LONG_MS), 0);
	for (int k = 0; k < 2; k++) {
		print_message("%s: live cpu/task %.0f..%.0f ns, summary %.0f ns\n", lanes[k], lo[k],
			      hi[k], sum[k]);
		assert_true(hi[k] > 0 && sum[k] > 0);
		/* A weighted mean of the live intervals, with room for the one not printed. */
		assert_true(sum[k] >= lo[k] / 3 && sum[k] <= hi[k] * 3);
	}
}

/* As nobody (no BPF): --thread-states probes is a one-line error; auto says why and goes on. */
static void test_states_unprivileged(void **state)
{
	struct wctx *x = *state;
	char copy[PATH_MAX], cmd[3 * PATH_MAX], path[PATH_MAX + 16], line[1024];
	bool said = false;
	int status;
	FILE *f;

	if (geteuid() != 0)
		iom_skip("not root: cannot drop to nobody");
	if (access("/usr/bin/setpriv", X_OK))
		iom_skip("no /usr/bin/setpriv (util-linux)");
	/* A copy nobody can run wherever the tree lives. */
	assert_int_equal(chmod(x->tmp, 0777), 0);
	snprintf(copy, sizeof(copy), "%s/iomodels", x->tmp);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 755 '%s'", iomt_bin(), copy, copy);
	assert_int_equal(system(cmd), 0);

	snprintf(cmd, sizeof(cmd), "cd '%s' && setpriv --reuid=65534 --regid=65534 --clear-groups "
		 "'%s' watch --model threads --runtime 1 --thread-states probes </dev/null "
		 ">out1 2>err1", x->tmp, copy);
	status = system(cmd);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	snprintf(path, sizeof(path), "%s/err1", x->tmp);
	f = fopen(path, "re");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	print_message("nobody, probes: %s", line);
	assert_non_null(strstr(line, "iomodels: watch: --thread-states probes: unavailable: "));
	assert_null(fgets(line, sizeof(line), f));	/* one line */
	fclose(f);

	snprintf(cmd, sizeof(cmd), "cd '%s' && setpriv --reuid=65534 --regid=65534 --clear-groups "
		 "'%s' watch --model threads --runtime 2 </dev/null >out2 2>err2", x->tmp, copy);
	status = system(cmd);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	snprintf(path, sizeof(path), "%s/out2", x->tmp);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "threads from /proc schedstat, last 1 s (probes: unavailable: "))
			said = true;
	fclose(f);
	assert_true(said);
}

/*
 * demo --auto runs its five scenes start to end and exits 0; scene 3 shows its five tasks, in
 * order, each in the terminal state its row is there to show.
 */
static void test_demo_auto(void **state)
{
	static const char *const want[] = { "COMPLETED", "FAILED", "EXPIRED", "ABORTED",
					    "PARTIAL_SUCCESS" };
	struct wctx *x = *state;
	char out[PATH_MAX], line[4096];
	char *argv[] = { (char *)iomt_bin(), "demo", "--auto", "--slow-ms", "300", "--output", out,
			 NULL };
	int scenes = 0, rows = 0;
	struct proc p;

	snprintf(out, sizeof(out), "%s/demo", x->tmp);
	proc_start(x, &p, argv);
	while (proc_line(&p, line, sizeof(line), 4 * WAIT_LONG_MS)) {
		unsigned int task;
		char id[32], st[32];

		if (!strncmp(line, "== scene ", 9))
			scenes++;
		assert_null(strstr(line, "bug:"));
		/* Scene 3's rows: "  N    ID   STATE   took   what it was; res ..." */
		if (scenes == 3 && sscanf(line, " %u %31s %31s", &task, id, st) == 3 &&
		    task >= 1 && task <= 5 && strstr(line, "; res ")) {
			if (task != (unsigned int)rows + 1 || strcmp(st, want[rows]))
				fail_msg("scene 3, row %d: want %s, got: %s", rows + 1, want[rows],
					 line);
			rows++;
		}
	}
	assert_int_equal(proc_wait(x, &p, WAIT_LONG_MS), 0);
	assert_int_equal(scenes, 5);
	assert_int_equal(rows, 5);
}

/*
 * Scene 3 on every model that can show each row, not only the one the demo picks: the four
 * timer tasks on each async model with cancel and deadlines, the short read on each model that
 * reads files. Each must end in the state its row names.
 */
static void test_demo_states_every_model(void **state)
{
	struct wctx *x = *state;
	unsigned int timers = 0, files = 0;

	for (size_t i = 0; iom_models[i]; i++) {
		const unsigned int need = IOM_CAP_ASYNC | IOM_CAP_CANCEL | IOM_CAP_DEADLINE;
		const struct iom_model *m = iom_models[i];
		struct iom_demo_task t[IOM_DEMO_NR_STATES];
		struct iom_err err = { "" };

		if ((m->caps & need) == need && m->probe(IOM_WL_TIMER, &err) == 0) {
			if (iom_demo_timer_states(m, t, &err))
				fail_msg("%s: %s", m->name, err.msg);
			for (int k = 0; k < 4; k++) {
				print_message("%s: task %d %s (%s)\n", m->name, k + 1,
					      iom_state_name(t[k].state), t[k].what);
				if (t[k].state != t[k].want)
					fail_msg("%s, task %d (%s): %s, want %s", m->name, k + 1,
						 t[k].what, iom_state_name(t[k].state),
						 iom_state_name(t[k].want));
			}
			timers++;
		}
		err.msg[0] = '\0';
		if (m->probe(IOM_WL_FILE, &err) == 0) {
			if (iom_demo_partial(m, x->tmp, &t[4], &err))
				fail_msg("%s: %s", m->name, err.msg);
			print_message("%s: task 5 %s, %lld bytes\n", m->name,
				      iom_state_name(t[4].state), (long long)t[4].res);
			if (t[4].state != IOM_PARTIAL || t[4].res != 1024)
				fail_msg("%s, the short read: %s, %lld bytes; want PARTIAL_SUCCESS, "
					 "1024", m->name, iom_state_name(t[4].state),
					 (long long)t[4].res);
			files++;
		}
	}
	if (!timers || !files)
		iom_skip("no model here can show the timer rows (%u) or the short read (%u)", timers,
			 files);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plain_lines_and_knob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_add_switch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_expired_not_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_output_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_summary_own_cpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmux_lanes_keys_quit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmux_too_small, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmux_ctrl_c, setup, teardown),
		cmocka_unit_test_setup_teardown(test_demo_auto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_demo_states_every_model, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_states_from_probes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_states_unprivileged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmux_resize, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
