// SPDX-License-Identifier: MIT
/*
 * Every server model under abuse: wrong magic, wrong version, an oversize length, a client
 * that sends one byte at a time too slowly, one that hangs up or resets mid-frame, pipelined
 * frames, a half-closed client, many idle connections, a client that pipelines and never
 * reads (bounded memory), replies due for a closed connection (freed at once), accept at the
 * fd limit (no spin), --max-conns (refused). A well-behaved client is served throughout.
 * The same tests run for every model in the table below.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/model.h"
#include "core/rpc.h"
#include "core/workload.h"
#include "server/server.h"
#include "testutil.h"

/* The server models under test: every one the table has that this machine runs. */
static const char *const models[] = { "threads", "epoll", "uring" };
static const char *model;

struct srv {
	pid_t pid;
	struct iom_rpc_addr addr;
};

static struct srv main_srv;

/* Start model with so in a child (fd limit nofile when > 0); its port comes on a pipe. */
static void spawn(struct srv *s, struct iom_server_opts *so, rlim_t nofile)
{
	const struct iom_server_model *m = iom_server_model_find(model);
	struct iom_err err = { "" };
	char line[64] = "", hostport[64];
	unsigned int port = 0;
	int pfd[2];
	FILE *f;

	assert_non_null(m);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	so->quiet = true;
	so->report_fd = pfd[1];
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		struct rlimit rl = { nofile, nofile };

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* Only the report pipe: the fd limit counts from here. */
		if (dup2(pfd[1], 3) != 3 || close_range(4, ~0u, 0))
			_exit(3);
		so->report_fd = 3;
		if (nofile && setrlimit(RLIMIT_NOFILE, &rl))
			_exit(3);
		_exit(iom_server_serve(m, so, &err) ? 1 : 0);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	if (f && fgets(line, sizeof(line), f))
		sscanf(line, "port=%u", &port);
	if (f)
		fclose(f);
	assert_true(port > 0);
	snprintf(hostport, sizeof(hostport), "127.0.0.1:%u", port);
	assert_int_equal(iom_rpc_addr_parse(&s->addr, hostport, &err), 0);
}

static void stop(struct srv *s)
{
	int status;

	kill(s->pid, SIGTERM);
	assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * The rpc workload's own server dies with the run, even by kill -9, and leaves nothing on
 * disk (it lingered 1.2-2 s and left its temp directory behind).
 */
static int count_backend_dirs(void)
{
	DIR *d = opendir("/tmp");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += !strncmp(e->d_name, "iomodels-backend-", 17);
	if (d)
		closedir(d);
	return n;
}

static void test_killed_run_leaves_nothing(void **state)
{
	struct iom_wl_params p = { .kind = IOM_WL_RPC, .payload = 64 };
	int before = count_backend_dirs(), pfd[2], status;
	pid_t run, backend = 0;
	uint64_t end;

	snprintf(p.server_model, sizeof(p.server_model), "%s", model);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(pipe(pfd), 0);
	run = fork();
	if (run == 0) {
		struct iom_workload wl;
		struct iom_err err = { "" };

		if (iom_workload_open(&wl, &p, &err))
			_exit(1);
		if (write(pfd[1], &wl.backend_pid, sizeof(wl.backend_pid)) < 0)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(pfd[0], &backend, sizeof(backend)), (ssize_t)sizeof(backend));
	assert_true(backend > 0);
	assert_int_equal(count_backend_dirs() - before, 0);
	kill(run, SIGKILL);
	assert_int_equal(waitpid(run, &status, 0), run);
	/* Ours now (subreaper): it must exit on its own; 10 s is generous, not a timing check. */
	for (end = iom_now_ns() + 10000000000ull; iom_now_ns() < end;) {
		if (waitpid(backend, &status, WNOHANG) == backend)
			break;
		usleep(10000);
	}
	assert_int_equal(kill(backend, 0), -1);
	assert_int_equal(count_backend_dirs() - before, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	close(pfd[0]);
	close(pfd[1]);
}

/* serve --listen 127.0.0.1:0 says which port it got (it logged port 0). */
static void test_serve_logs_bound_port(void **state)
{
	const char *bin = getenv("IOM_BIN");
	char line[256] = "", cmd[PATH_MAX + 128];
	unsigned int port = 0;
	FILE *f;

	if (!bin)
		iom_skip("IOM_BIN not set");
	/* timeout stops it (SIGTERM) once the line has been read. */
	snprintf(cmd, sizeof(cmd), "timeout 3 %s serve --model %s --listen 127.0.0.1:0 2>&1", bin,
		 model);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "listening on 127.0.0.1:") &&
		    sscanf(strstr(line, "127.0.0.1:") + 10, "%u", &port) == 1)
			break;
	pclose(f);
	assert_true(port > 0);
}

static int start_main(void **state)
{
	struct iom_server_opts so;

	iom_server_opts_init(&so);
	so.frame_timeout_ms = 300;
	so.idle_timeout_ms = 2000;
	spawn(&main_srv, &so, 0);
	return 0;
}

static int stop_main(void **state)
{
	stop(&main_srv);
	return 0;
}

static int connect_to(const struct srv *s)
{
	struct iom_err err = { "" };
	struct timeval tv = { .tv_sec = 5 };
	int fd = iom_rpc_connect(&s->addr, &err);

	if (fd < 0)
		fail_msg("%s", err.msg);
	/* No test may hang: every read gives up after 5 s. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int connect_or_fail(void)
{
	return connect_to(&main_srv);
}

/* A good request on fd gets its echo back. */
static void request_ok(int fd, uint64_t id, uint32_t service_us)
{
	char req[256], rep[256];
	size_t len = iom_rpc_fill(req, id, service_us, 100, 0);

	assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	assert_int_equal(recv(fd, rep, len, MSG_WAITALL), (ssize_t)len);
	assert_true(iom_rpc_reply_ok(rep, id, 100));
}

static void round_trip_to(const struct srv *s, uint64_t id, uint32_t service_us)
{
	int fd = connect_to(s);

	request_ok(fd, id, service_us);
	close(fd);
}

static void round_trip_ok(uint64_t id, uint32_t service_us)
{
	round_trip_to(&main_srv, id, service_us);
}

/* The server closes the connection (read gives 0 or ECONNRESET), never answers. */
static void expect_closed(int fd)
{
	char buf[64];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);

	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
	close(fd);
}

static void send_hdr(int fd, uint32_t magic, uint16_t version, uint32_t len)
{
	struct iom_rpc_hdr h = { .magic = magic, .version = version, .id = 1, .len = len };

	assert_int_equal(send(fd, &h, sizeof(h), MSG_NOSIGNAL), (ssize_t)sizeof(h));
}

/*
 * The sanitizers' allocators keep freed memory in quarantine: RSS says nothing there, and the
 * memory bounds are checked in the plain build.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RSS_MEANINGFUL	false
#else
#define RSS_MEANINGFUL	true
#endif

/* The server process' resident memory (kB) and CPU time (s). */
static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static double cpu_s(pid_t pid)
{
	unsigned long long ut = 0, st = 0;
	char path[64], line[1024], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	p = f ? fgets(line, sizeof(line), f) : NULL;
	if (f)
		fclose(f);
	p = p ? strrchr(line, ')') : NULL;
	if (p)
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void test_good_requests(void **state)
{
	round_trip_ok(1, 0);
	round_trip_ok(2, 2000);
}

static void test_bad_magic_version_length(void **state)
{
	int fd = connect_or_fail();

	send_hdr(fd, 0xdeadbeef, IOM_RPC_VERSION, 0);
	expect_closed(fd);
	fd = connect_or_fail();
	send_hdr(fd, IOM_RPC_MAGIC, 99, 0);
	expect_closed(fd);
	/* A length over the cap: closed before anything that size is allocated. */
	fd = connect_or_fail();
	send_hdr(fd, IOM_RPC_MAGIC, IOM_RPC_VERSION, 0xfffffff0u);
	expect_closed(fd);
	round_trip_ok(3, 0);
}

static void test_slow_and_vanishing_clients(void **state)
{
	char req[256];
	size_t len = iom_rpc_fill(req, 7, 0, 100, 0);
	int slow = connect_or_fail(), gone = connect_or_fail(), rst = connect_or_fail();
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	/* Half a frame, then hang up: the server logs, closes, and serves everyone else. */
	assert_int_equal(send(gone, req, len / 2, MSG_NOSIGNAL), (ssize_t)(len / 2));
	close(gone);
	/* Half a frame, then a reset (RST, not FIN). */
	assert_int_equal(send(rst, req, len / 2, MSG_NOSIGNAL), (ssize_t)(len / 2));
	setsockopt(rst, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(rst);
	/* One byte every 100 ms (slowloris): the 300 ms frame timeout closes it. */
	for (int i = 0; i < 8; i++) {
		if (send(slow, req + i, 1, MSG_NOSIGNAL) != 1)
			break;
		round_trip_ok(100 + (uint64_t)i, 0);	/* others are served meanwhile */
		usleep(100000);
	}
	expect_closed(slow);
	round_trip_ok(4, 0);
}

/* Frames back to back in one write: every one answered, in order. */
static void test_pipelined(void **state)
{
	enum { N = 200 };
	static char req[N * 124], rep[N * 124];
	size_t len = 0;
	int fd = connect_or_fail();

	for (int i = 0; i < N; i++)
		len += iom_rpc_fill(req + len, 1000 + (uint64_t)i, i % 3 ? 0 : 500, 100, 0);
	assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	assert_int_equal(recv(fd, rep, len, MSG_WAITALL), (ssize_t)len);
	/* Service times differ, so replies may overtake; each must be some request's echo. */
	for (int i = 0; i < N; i++) {
		struct iom_rpc_hdr h;

		memcpy(&h, rep + (size_t)i * 124, sizeof(h));
		assert_true(h.id >= 1000 && h.id < 1000 + N);
		assert_true(iom_rpc_reply_ok(rep + (size_t)i * 124, h.id, 100));
	}
	close(fd);
}

/* A client that sends its request and shuts down its write side still gets the reply. */
static void test_half_close(void **state)
{
	char req[256], rep[256];
	size_t len = iom_rpc_fill(req, 9, 50000, 100, 0);
	int fd = connect_or_fail();

	assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(recv(fd, rep, len, MSG_WAITALL), (ssize_t)len);
	assert_true(iom_rpc_reply_ok(rep, 9, 100));
	expect_closed(fd);
}

/* 1000 idle connections held; a new client is still served; they are reaped when idle. */
static void test_many_idle(void **state)
{
	enum { N = 1000 };
	static int fds[N];

	for (int i = 0; i < N; i++)
		fds[i] = connect_or_fail();
	round_trip_ok(11, 0);
	request_ok(fds[N - 1], 12, 0);
	/* The 2 s idle timeout reaps the silent ones (the read waits at most 5 s). */
	expect_closed(fds[0]);
	for (int i = 1; i < N; i++)
		close(fds[i]);
	round_trip_ok(13, 0);
}

/*
 * Pipelining without ever reading: the server stops reading that connection once its unsent
 * replies pass the cap, so its memory stays bounded (it grew without bound: 1.55 GB in 5 s).
 */
static void test_never_reading_client(void **state)
{
	enum { CONNS = 4, FRAME = 24 + 65536 };
	static char req[FRAME];
	long before = rss_kb(main_srv.pid), after;
	uint64_t end = iom_now_ns() + 2000000000ull, sent = 0;
	size_t len = iom_rpc_fill(req, 5000, 0, FRAME - 24, 0), off[CONNS] = { 0 };
	int fds[CONNS];

	for (int i = 0; i < CONNS; i++) {
		fds[i] = connect_or_fail();
		fcntl(fds[i], F_SETFL, O_NONBLOCK);
	}
	/* Up to 128 MiB a connection, for 2 s at most: send while the kernel takes it. */
	while (iom_now_ns() < end && sent < CONNS * (128ull << 20)) {
		bool moved = false;

		for (int i = 0; i < CONNS; i++) {
			ssize_t n = send(fds[i], req + off[i], len - off[i], MSG_NOSIGNAL);

			if (n > 0) {
				sent += (uint64_t)n;
				off[i] = (off[i] + (size_t)n) % len;
				moved = true;
			}
		}
		if (!moved)
			usleep(10000);
	}
	after = rss_kb(main_srv.pid);
	print_message("never-reading: %llu MiB sent, server RSS %ld -> %ld kB\n",
		      (unsigned long long)(sent >> 20), before, after);
	/* Caps: 256 KiB of replies and a frame's worth of input per connection, plus slack. */
	if (RSS_MEANINGFUL)
		assert_true(after - before < 32 * 1024);
	for (int i = 0; i < CONNS; i++)
		close(fds[i]);
	round_trip_ok(14, 0);
}

/*
 * Requests with a long service, then the client resets: their frames are freed at once,
 * not when they fall due (300 MB of 1 MiB frames were held for the full 60 s).
 */
static void test_closed_conn_replies_freed(void **state)
{
	enum { CONNS = 48, FRAME = 24 + (1 << 20) };
	static char req[FRAME];
	long before = rss_kb(main_srv.pid), held, after;
	int fds[CONNS];

	for (int i = 0; i < CONNS; i++) {
		size_t len = iom_rpc_fill(req, 20000 + (uint64_t)i, 30000000, FRAME - 24, 0);

		fds[i] = connect_or_fail();
		assert_int_equal(send(fds[i], req, len, MSG_NOSIGNAL), (ssize_t)len);
	}
	/*
	 * Until the server has taken them in (the kernel's socket buffers hold a whole frame:
	 * a loaded machine, or a server reading in small buffers, takes more than 300 ms).
	 */
	for (int i = 0; i < 50; i++) {
		usleep(100000);
		held = rss_kb(main_srv.pid);
		if (held - before > CONNS * 512)
			break;
	}
	/* Reset (not FIN: a half-closed client would still be owed its replies). */
	for (int i = 0; i < CONNS; i++) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fds[i]);
	}
	round_trip_ok(15, 0);
	usleep(300000);
	after = rss_kb(main_srv.pid);
	print_message("closed-conn replies: server RSS %ld -> %ld (held) -> %ld kB\n", before,
		      held, after);
	if (RSS_MEANINGFUL) {
		assert_true(held - before > CONNS * 512);	/* they really were held */
		assert_true(after - before < 16 * 1024);
	}
}

/* At its fd limit the server pauses accepting (no spin on EMFILE) and resumes after. */
static void test_accept_at_fd_limit(void **state)
{
	enum { CONNS = 120 };
	struct iom_server_opts so;
	struct srv s;
	int fds[CONNS];
	double cpu0, cpu1;

	iom_server_opts_init(&so);
	spawn(&s, &so, 64);
	for (int i = 0; i < CONNS; i++)
		fds[i] = connect_to(&s);	/* the kernel's backlog takes them */
	usleep(200000);
	cpu0 = cpu_s(s.pid);
	usleep(1000000);
	cpu1 = cpu_s(s.pid);
	print_message("at the fd limit: %.2f CPU-s in 1 s\n", cpu1 - cpu0);
	/* Spinning on accept(EMFILE) burnt 0.3 to 1.3 CPU-s per second here. */
	assert_true(cpu1 - cpu0 < 0.1);
	for (int i = 0; i < CONNS; i++)
		close(fds[i]);
	round_trip_to(&s, 16, 0);
	stop(&s);
}

/* Past --max-conns a connection is refused (closed at once); the others are served. */
static void test_max_conns(void **state)
{
	struct iom_server_opts so;
	struct srv s;
	int fds[4], extra;

	iom_server_opts_init(&so);
	so.max_conns = 4;
	spawn(&s, &so, 0);
	for (int i = 0; i < 4; i++) {
		fds[i] = connect_to(&s);
		request_ok(fds[i], 30 + (uint64_t)i, 0);
	}
	extra = connect_to(&s);
	expect_closed(extra);
	request_ok(fds[0], 40, 0);
	close(fds[3]);
	usleep(100000);
	round_trip_to(&s, 41, 0);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_requests),
		cmocka_unit_test(test_bad_magic_version_length),
		cmocka_unit_test(test_slow_and_vanishing_clients),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_half_close),
		cmocka_unit_test(test_many_idle),
		cmocka_unit_test(test_never_reading_client),
		cmocka_unit_test(test_closed_conn_replies_freed),
		cmocka_unit_test(test_accept_at_fd_limit),
		cmocka_unit_test(test_max_conns),
		cmocka_unit_test(test_killed_run_leaves_nothing),
		cmocka_unit_test(test_serve_logs_bound_port),
	};
	struct rlimit rl;
	int failed = 0;

	signal(SIGPIPE, SIG_IGN);
	/* Room for the many-idle test's client and server ends. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		char name[64];

		model = models[i];
		snprintf(name, sizeof(name), "server model %s", model);
		failed += _cmocka_run_group_tests(name, tests, sizeof(tests) / sizeof(tests[0]),
						  start_main, stop_main);
	}
	return failed;
}
