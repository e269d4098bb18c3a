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
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
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
#include "server_models.h"

static const char *model;	/* the server model under test (server_models.h) */

struct srv {
	pid_t pid;
	struct iom_rpc_addr addr;
	FILE *report;			/* its port, then its counts at exit */
	unsigned long long accept_failures;	/* from its counts, after stop() */
	unsigned long long read_bytes;		/* --service file: bytes its reads returned */
	unsigned long long inflight_max;	/* the most requests one connection had in service */
	unsigned long long paused;	/* times a connection's reading stopped at its caps */
	char variant[128];		/* what the model was granted, if it says */
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
	so->quiet = !getenv("IOM_SERVER_LOG");
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
	s->report = f;
	assert_true(port > 0);
	snprintf(hostport, sizeof(hostport), "127.0.0.1:%u", port);
	assert_int_equal(iom_rpc_addr_parse(&s->addr, hostport, &err), 0);
}

static void stop(struct srv *s)
{
	int status;

	char key[32], line[192];
	unsigned long long v;

	kill(s->pid, SIGTERM);
	assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	s->variant[0] = 0;
	while (s->report && fgets(line, sizeof(line), s->report))
		if (sscanf(line, "variant=%127s", s->variant) == 1 ||
		    sscanf(line, "%31[^=]=%llu", key, &v) != 2)
			continue;
		else if (!strcmp(key, "accept_failures"))
			s->accept_failures = v;
		else if (!strcmp(key, "read_bytes"))
			s->read_bytes = v;
		else if (!strcmp(key, "inflight_max"))
			s->inflight_max = v;
		else if (!strcmp(key, "paused"))
			s->paused = v;
	if (s->report)
		fclose(s->report);
	s->report = NULL;
}

/*
 * The rpc workload's own server dies with the run, even by kill -9, and leaves nothing on
 * disk (it lingered 1.2-2 s and left its temp directory behind). The run gets a /tmp of its
 * own (a tmpfs in its own mount namespace), so other processes' files cannot confuse the
 * count; an fd on that /tmp outlives the run to look at it after.
 */
static int count_entries(int dirfd)
{
	DIR *d = fdopendir(dup(dirfd));
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	rewinddir(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void test_killed_run_leaves_nothing(void **state)
{
	struct iom_wl_params p = { .kind = IOM_WL_RPC, .payload = 64 };
	int pfd[2], status, tmp;
	pid_t run, backend = 0;
	char path[64];
	uint64_t end;

	snprintf(p.server_model, sizeof(p.server_model), "%s", model);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(pipe(pfd), 0);
	run = fork();
	if (run == 0) {
		struct iom_workload wl;
		struct iom_err err = { "" };

		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("tmpfs", "/tmp", "tmpfs", 0, "size=16m"))
			_exit(2);
		if (iom_workload_open(&wl, &p, &err))
			_exit(1);
		if (write(pfd[1], &wl.backend_pid, sizeof(wl.backend_pid)) < 0)
			_exit(1);
		pause();
		_exit(0);
	}
	if (read(pfd[0], &backend, sizeof(backend)) != (ssize_t)sizeof(backend)) {
		waitpid(run, &status, 0);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
			iom_skip("no mount namespace here (needs root)");
		fail_msg("the run could not start its server");
	}
	assert_true(backend > 0);
	snprintf(path, sizeof(path), "/proc/%d/root/tmp", (int)run);
	tmp = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(tmp >= 0);
	kill(run, SIGKILL);
	assert_int_equal(waitpid(run, &status, 0), run);
	/* Ours now (subreaper): it must exit on its own; 10 s is generous, not a timing check. */
	for (end = iom_now_ns() + 10000000000ull; iom_now_ns() < end;) {
		if (waitpid(backend, &status, WNOHANG) == backend)
			break;
		usleep(10000);
	}
	assert_int_equal(kill(backend, 0), -1);
	assert_int_equal(count_entries(tmp), 0);
	close(tmp);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	close(pfd[0]);
	close(pfd[1]);
}

/* TCP sockets listening on port, from /proc/net/tcp (state 0A). */
static int listeners_on(unsigned int port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[256];
	int n = 0;

	while (f && fgets(line, sizeof(line), f)) {
		unsigned int lport, state;

		if (sscanf(line, " %*d: %*x:%x %*x:%*x %x", &lport, &state) == 2 &&
		    lport == port && state == 0x0A)
			n++;
	}
	if (f)
		fclose(f);
	return n;
}

/*
 * The port is told once every thread's SO_REUSEPORT listener is bound: told earlier, the
 * first connections all went to one thread (whose share of the fd limit then held them all).
 */
static void test_port_after_every_listener(void **state)
{
	struct iom_server_opts so;
	struct srv s;
	unsigned int port;

	iom_server_opts_init(&so);
	so.threads = 3;
	spawn(&s, &so, 0);
	port = ntohs(((const struct sockaddr_in *)&s.addr.ss)->sin_port);
	/* threads (a thread per connection) and kernel_free (one front loop, a worker pool)
	 * accept on one listener; epoll and uring on one a thread. */
	assert_int_equal(listeners_on(port), !strcmp(model, "threads") ||
			 !strcmp(model, "kernel_free") ? 1 : 3);
	stop(&s);
}

/* serve --listen 127.0.0.1:0 says which port it got (it logged port 0). */
static void test_serve_logs_bound_port(void **state)
{
	const char *bin = getenv("IOM_BIN");
	char line[256] = "";
	unsigned int port = 0;
	int pfd[2], status;
	pid_t pid;
	FILE *f;

	if (!bin)
		iom_skip("IOM_BIN not set");
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], STDERR_FILENO);
		close(pfd[0]);
		alarm(60);	/* never outlives a broken test */
		execl(bin, bin, "serve", "--model", model, "--listen", "127.0.0.1:0", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "listening on 127.0.0.1:") &&
		    sscanf(strstr(line, "127.0.0.1:") + 10, "%u", &port) == 1)
			break;
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	if (f)
		fclose(f);
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

/*
 * 1000 idle connections held; a new client is still served; they are reaped when idle. (200
 * under TSan: its shadow state per thread makes 1000 threads of the threads model too heavy.)
 */
#ifdef __SANITIZE_THREAD__
#define IDLE_CONNS	200
#else
#define IDLE_CONNS	1000
#endif

static void test_many_idle(void **state)
{
	enum { N = IDLE_CONNS };
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
	 * Until the server has read them all (or 5 s: a loaded machine, or a server reading
	 * in small buffers, takes more than 300 ms).
	 */
	for (int i = 0; i < 50 && (held = rss_kb(main_srv.pid)) - before < CONNS * 900; i++)
		usleep(100000);
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

/*
 * The dedup table's memory is there from the start: RSS does not grow with the requests seen.
 * It grew 32 MiB over a server's first ~30k requests (each id touched a random 4 KiB page of
 * the table), and the bench section counted that as memory per connection (32 MiB at C=1).
 */
static void test_rss_flat_over_requests(void **state)
{
	enum { N = 20000 };
	struct iom_server_opts so;
	struct srv s;
	long before, after;
	int fd;

	iom_server_opts_init(&so);
	spawn(&s, &so, 0);
	fd = connect_to(&s);
	request_ok(fd, 30000, 0);
	before = rss_kb(s.pid);
	for (uint64_t i = 1; i <= N; i++)
		request_ok(fd, 30000 + (i << 20), 0);	/* ids as the driver makes them */
	after = rss_kb(s.pid);
	print_message("%d requests: server RSS %ld -> %ld kB\n", N, before, after);
	if (RSS_MEANINGFUL)
		assert_true(after - before < 4096);
	close(fd);
	stop(&s);
}

/* The slots of an io_uring's direct descriptor table in use ("  N: socket:[...]" lines). */
static int ring_files(const char *fdinfo)
{
	char line[256];
	int n = 0;
	FILE *f = fopen(fdinfo, "r");
	bool in_table = false;

	while (f && fgets(line, sizeof(line), f)) {
		unsigned int slot;

		if (!strncmp(line, "UserFiles:", 10))
			in_table = true;
		else if (in_table && sscanf(line, " %u:", &slot) == 1)
			n++;
		else if (in_table)
			break;
	}
	if (f)
		fclose(f);
	return n;
}

/* The fds the server holds: its fd table and its rings' direct descriptors (uring). */
static int open_fds(pid_t pid)
{
	char path[64], target[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		ssize_t len;

		if (e->d_name[0] == '.')
			continue;
		n++;
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid, e->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = 0;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", (int)pid, e->d_name);
		if (strstr(target, "io_uring"))
			n += ring_files(path);
	}
	if (d)
		closedir(d);
	return n;
}

/* At its fd limit the server pauses accepting (no spin on EMFILE) and resumes after. */
static void test_accept_at_fd_limit(void **state)
{
	enum { CONNS = 120 };
	struct iom_server_opts so;
	struct srv s;
	int fds[CONNS], held = 0, dropped = 0;
	double cpu0, cpu1;

	iom_server_opts_init(&so);
	spawn(&s, &so, 64);
	for (int i = 0; i < CONNS; i++)
		fds[i] = connect_to(&s);	/* the kernel's backlog takes them */
	/* Until the server is at its limit (a slow sanitizer build takes a while to get there). */
	for (int i = 0; i < 100 && (held = open_fds(s.pid)) < 60; i++)
		usleep(100000);
	if (held < 60)
		fail_msg("the server holds %d fds after 10 s of 120 connections (limit 64)", held);
	usleep(200000);
	cpu0 = cpu_s(s.pid);
	usleep(1000000);
	cpu1 = cpu_s(s.pid);
	/* Every connection is held or waits in the backlog: none closed or reset for want of
	 * an fd (io_uring's accept into a full direct table closes the one it took). */
	for (int i = 0; i < CONNS; i++) {
		char byte;

		if (recv(fds[i], &byte, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN)
			dropped++;
	}
	for (int i = 0; i < CONNS; i++)
		close(fds[i]);
	round_trip_to(&s, 16, 0);
	stop(&s);
	print_message("at the fd limit: %.2f CPU-s in 1 s, %llu failed accepts\n", cpu1 - cpu0,
		      s.accept_failures);
	/*
	 * Paused 50 ms a time: some tens a second. Spinning on accept(EMFILE) made millions
	 * (and burnt 0.3 to 1.3 CPU-s a second here): counted, not timed, so a slow sanitizer
	 * build or a loaded machine cannot make it pass or fail.
	 */
	assert_int_equal(dropped, 0);
	assert_true(s.accept_failures > 0);
	assert_true(s.accept_failures < 1000);
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

/* Up to len bytes of replies: fewer only when the 5 s receive timeout ends a stall. */
static size_t recv_replies(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, MSG_WAITALL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* Each of n replies is the echo of one of the n requests from id0 on, each once. */
static void assert_echoes(const char *rep, int n, size_t frame, uint64_t id0)
{
	static bool seen[4096];

	assert_true(n <= (int)(sizeof(seen) / sizeof(seen[0])));
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < n; i++) {
		struct iom_rpc_hdr h;

		memcpy(&h, rep + (size_t)i * frame, sizeof(h));
		assert_true(h.id >= id0 && h.id < id0 + (uint64_t)n && !seen[h.id - id0]);
		assert_true(iom_rpc_reply_ok(rep + (size_t)i * frame, h.id, frame - 24));
		seen[h.id - id0] = true;
	}
}

/*
 * Ten times --max-inflight requests pipelined in one write: every one answered, and never
 * more than the cap in service on the connection (the server's own high-water mark; the
 * threads model serves one at a time). The uring server stalled here for good: once its
 * replies went out it read again but never cut the frames it already held. half_close: FIN
 * after the requests, which must not pass for a frame cut short.
 */
static void pipeline_past_max_inflight(bool half_close)
{
	enum { CAP = 4, N = 10 * CAP, FRAME = 124 };
	static char req[N * FRAME], rep[N * FRAME];
	struct iom_server_opts so;
	size_t len = 0, got;
	struct srv s;
	int fd;

	iom_server_opts_init(&so);
	so.max_inflight = CAP;
	so.service = IOM_SERVICE_SLEEP;
	so.service_us = 20000;
	spawn(&s, &so, 0);
	fd = connect_to(&s);
	for (int i = 0; i < N; i++)
		len += iom_rpc_fill(req + len, 60000 + (uint64_t)i, 0, FRAME - 24, 0);
	assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	if (half_close)
		assert_int_equal(shutdown(fd, SHUT_WR), 0);
	got = recv_replies(fd, rep, len);
	if (got != len)
		fail_msg("%zu of %d replies (max-inflight %d)", got / FRAME, N, CAP);
	assert_echoes(rep, N, FRAME, 60000);
	if (half_close)
		expect_closed(fd);
	else
		close(fd);
	stop(&s);
	assert_int_equal(s.inflight_max, strcmp(model, "threads") ? CAP : 1);
}

static void test_max_inflight(void **state)
{
	pipeline_past_max_inflight(false);
}

static void test_max_inflight_half_close(void **state)
{
	pipeline_past_max_inflight(true);
}

/* The out-cap test's stream: fixed-size frames, each id new (the server counts a retry). */
enum { OC_FRAME = 1024, OC_MAX_FRAMES = 65536, OC_CHUNK = 64 };

struct oc_stream {
	char chunk[OC_CHUNK * OC_FRAME];
	size_t off, len;		/* the chunk's part not yet sent */
	unsigned int nr_made;		/* frames made (sent, in part, or waiting in the chunk) */
};

/* Send what the socket takes now; false when the chunk (or the whole stream) is out. */
static bool oc_send(struct oc_stream *st, int fd)
{
	ssize_t n;

	if (st->off == st->len) {
		if (st->nr_made == OC_MAX_FRAMES)
			return false;
		st->off = st->len = 0;
		for (int i = 0; i < OC_CHUNK; i++, st->nr_made++)
			st->len += iom_rpc_fill(st->chunk + st->len, 80000 + (uint64_t)st->nr_made, 0,
						OC_FRAME - 24, 0);
	}
	n = send(fd, st->chunk + st->off, st->len - st->off, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n > 0)
		st->off += (size_t)n;
	return n > 0 || errno == EAGAIN || errno == EINTR;
}

/*
 * Replies arrive (in whole frames of OC_FRAME bytes) until every whole request sent has its
 * echo; the rest of a frame the client was in the middle of goes out meanwhile.
 */
static unsigned int oc_receive_all(struct oc_stream *st, int fd)
{
	static bool seen[OC_MAX_FRAMES];
	static char rep[OC_CHUNK * OC_FRAME];
	unsigned int nr_got = 0;
	size_t have = 0;

	memset(seen, 0, sizeof(seen));
	while (nr_got < st->nr_made - (unsigned int)((st->len - st->off) / OC_FRAME)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		size_t done = 0;
		ssize_t n;

		/* The partial frame's rest only: no new request is started. */
		if ((st->len - st->off) % OC_FRAME)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, 5000) <= 0)
			break;	/* 5 s without a byte: a stall */
		if (pfd.revents & POLLOUT) {
			n = send(fd, st->chunk + st->off, (st->len - st->off) % OC_FRAME,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				st->off += (size_t)n;
		}
		if (!(pfd.revents & POLLIN))
			continue;
		n = recv(fd, rep + have, sizeof(rep) - have, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break;
		have += n > 0 ? (size_t)n : 0;
		for (; have - done >= OC_FRAME; done += OC_FRAME, nr_got++) {
			struct iom_rpc_hdr h;

			memcpy(&h, rep + done, sizeof(h));
			assert_true(h.id >= 80000 && h.id < 80000 + (uint64_t)st->nr_made &&
				    !seen[h.id - 80000]);
			assert_true(iom_rpc_reply_ok(rep + done, h.id, OC_FRAME - 24));
			seen[h.id - 80000] = true;
		}
		memmove(rep, rep + done, have - done);
		have -= done;
	}
	return nr_got;
}

/*
 * A client that pipelines without reading until the server stops reading it (its replies
 * past --out-cap), then reads: every request is answered. Small frames, so whole ones wait in
 * the server's input buffer for the cap to ease: the uring server never cut those (a stall).
 * The event-driven models count the pause; the threads model blocks in send instead.
 */
static void test_out_cap(void **state)
{
	static struct oc_stream st;
	struct iom_server_opts so;
	struct srv s;
	unsigned int nr_got, want;
	int fd;

	iom_server_opts_init(&so);
	so.out_cap = 4096;
	spawn(&s, &so, 0);
	fd = connect_to(&s);
	memset(&st, 0, sizeof(st));
	/* Until the socket takes nothing for 2 s (the server stopped reading), or 64 MiB. */
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };

		if (!oc_send(&st, fd) || poll(&pfd, 1, 2000) <= 0)
			break;
	}
	want = st.nr_made - (unsigned int)((st.len - st.off) / OC_FRAME);
	nr_got = oc_receive_all(&st, fd);
	print_message("out-cap: %u requests sent before the server stopped reading, %u answered\n",
		      want, nr_got);
	if (nr_got != want)
		fail_msg("%u of %u replies (out-cap 4096)", nr_got, want);
	close(fd);
	stop(&s);
	if (strcmp(model, "threads"))
		assert_true(s.paused > 0);
}

/* Bytes the process has read (any fd), from /proc/PID/io. */
static long long rchar(pid_t pid)
{
	char path[64], line[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "rchar: %lld", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

/*
 * --service is read by the shared number parser: D in whole us or with its unit, BS a size;
 * nothing else (a sign, a space, a fraction of a us, a unitless decimal) is taken.
 */
static void test_service_parse(void **state)
{
	static const struct {
		const char *s;
		enum iom_service_kind kind;
		uint32_t us, bs;
	} good[] = {
		{ "sleep:0", IOM_SERVICE_SLEEP, 0, 0 },
		{ "sleep:250", IOM_SERVICE_SLEEP, 250, 0 },
		{ "cpu:10", IOM_SERVICE_CPU, 10, 0 },
		{ "cpu:2ms", IOM_SERVICE_CPU, 2000, 0 },
		{ "sleep:1.5ms", IOM_SERVICE_SLEEP, 1500, 0 },
		{ "file:4096", IOM_SERVICE_FILE, 0, 4096 },
		{ "file:4K", IOM_SERVICE_FILE, 0, 4096 },
		{ "file:64KiB", IOM_SERVICE_FILE, 0, 65536 },
		{ "file:1M", IOM_SERVICE_FILE, 0, 1u << 20 },
	};
	static const char *const bad[] = {
		"sleep: 5", "sleep:+5", "sleep:-0", "sleep:5x", "sleep:1.5", "sleep:", "cpu:500ns",
		"cpu:61s", "sleep:60000001", "file:0", "file:2M", "file:-4096", "file: 4K", "file:4Q",
		"nap:5", "sleep", "",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct iom_server_opts so;
		struct iom_err err = { "" };

		iom_server_opts_init(&so);
		if (iom_service_parse(good[i].s, &so, &err))
			fail_msg("'%s' refused: %s", good[i].s, err.msg);
		assert_int_equal(so.service, good[i].kind);
		assert_int_equal(so.service_us, good[i].us);
		assert_int_equal(so.service_bs, good[i].bs);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct iom_server_opts so;
		struct iom_err err = { "" };

		iom_server_opts_init(&so);
		if (!iom_service_parse(bad[i], &so, &err))
			fail_msg("'%s' taken as %d us, %u bytes", bad[i], (int)so.service_us,
				 so.service_bs);
		assert_non_null(strstr(err.msg, "--service"));
	}
}

/*
 * An rpc cell's server: the CPUs it can use at once are its real threads (then its CPU set).
 * The threads model runs an acceptor plus one thread per connection, epoll its loops, kernel_free
 * an I/O thread and its workers; the harness assumed 2 for every server. (TSan adds a thread.)
 */
static void sample_threads_until(struct iom_workload *wl, unsigned int want)
{
	/* The port is reported before the model's threads start: give them 2 s. */
	for (int i = 0; i < 200 && wl->backend_threads < want; i++) {
		iom_workload_backend_sample(wl);
		if (wl->backend_threads < want)
			usleep(10000);
	}
}

/*
 * The most threads seen is exact in a plain build; under TSan its background thread comes and a
 * short-lived one of its own may be caught too, so one more than want is allowed there.
 */
static void assert_threads(const struct iom_workload *wl, unsigned int want, unsigned int tsan)
{
	if (wl->backend_threads < want || wl->backend_threads > want + tsan)
		fail_msg("%u server threads seen, want %u%s", wl->backend_threads, want,
			 tsan ? " (or one more under TSan)" : "");
}

/* A connection asked for a frame before any byte came (found by the buffering fuzzer: UBSan). */
static void test_next_before_any_byte(void **state)
{
	static struct iom_server srv;
	struct iom_sconn c = { 0 };
	const unsigned char *frame = NULL;
	size_t len = 0;

	iom_server_opts_init(&srv.opts);
	srv.opts.quiet = true;
	assert_int_equal(iom_sconn_next(&srv, &c, &frame, &len), 0);
	assert_null(frame);
}

/* Cut and answer frames until none is whole or the caps stop it. */
static void answer_until_held(struct iom_server *srv, struct iom_sconn *c)
{
	const unsigned char *f;
	size_t len;

	while (iom_sconn_next(srv, c, &f, &len) == 1)
		assert_int_equal(iom_server_reply(srv, c, f, len, 0), 0);
}

/*
 * Half a frame read when the caps stop the reading: the rest waits in the socket on the
 * server, so the frame timeout does not run until reading resumes (a pipelining client was
 * closed as "frame not complete in time" while it waited for the server: uring's test_out_cap
 * failed 1 run in 8). Once reading resumes, the timeout runs again.
 */
static void test_frame_clock_stops_while_held_back(void **state)
{
	enum { FRAMES = 34, PAYLOAD = 100 };	/* the 34th reply passes the cap */
	static struct iom_server srv;
	struct iom_sconn c = { 0 };
	uint64_t t = 1000000000ull, s = 1000000000ull;
	size_t flen = sizeof(struct iom_rpc_hdr) + PAYLOAD, off = 0;
	unsigned char *room;

	iom_server_opts_init(&srv.opts);
	srv.opts.quiet = true;
	srv.opts.out_cap = 4096;
	assert_true(iom_sconn_room(&srv, &c, &room) >= (ssize_t)(FRAMES * flen + flen / 2));
	for (int i = 0; i < FRAMES; i++)
		off += iom_rpc_fill(room + off, 100 + (uint64_t)i, 0, PAYLOAD, 0);
	off += iom_rpc_fill(room + off, 999, 0, PAYLOAD, 0) / 2;
	iom_sconn_received(&c, off, t);
	answer_until_held(&srv, &c);	/* every whole frame: only the half one is left */
	assert_int_equal(c.in_len - c.in_off, flen / 2);
	assert_int_equal(iom_sconn_room(&srv, &c, &room), 0);	/* over the caps */
	assert_null(iom_sconn_expired(&srv, &c, t + 3 * s));
	/* The replies leave at t + 3 s: reading resumes. */
	iom_sconn_sent(&c, iom_sconn_unsent(&c), t + 3 * s);
	assert_true(iom_sconn_room(&srv, &c, &room) > 0);
	assert_null(iom_sconn_expired(&srv, &c, t + 4 * s));
	assert_string_equal(iom_sconn_expired(&srv, &c, t + 6 * s), "frame not complete in time");
	iom_sconn_free(&c);
}

/*
 * The same, when the caps are reached without iom_sconn_room() being asked again (uring's
 * resume reads its spilled bytes in, then finds the replies still over the cap and stops):
 * the frame clock stops too. That run's connection was closed after 121 replies.
 */
static void test_frame_clock_stops_over_caps(void **state)
{
	enum { PAYLOAD = 4100 };	/* one reply passes the 4096-byte cap */
	static struct iom_server srv;
	struct iom_sconn c = { 0 };
	uint64_t t = 1000000000ull, s = 1000000000ull;
	size_t flen = sizeof(struct iom_rpc_hdr) + PAYLOAD, off;
	const unsigned char *f;
	unsigned char *room;
	size_t len;

	iom_server_opts_init(&srv.opts);
	srv.opts.quiet = true;
	srv.opts.out_cap = 4096;
	assert_true(iom_sconn_room(&srv, &c, &room) >= (ssize_t)(flen + flen / 2));
	off = iom_rpc_fill(room, 1, 0, PAYLOAD, 0);
	off += iom_rpc_fill(room + off, 2, 0, PAYLOAD, 0) / 2;
	iom_sconn_received(&c, off, t);
	assert_int_equal(iom_sconn_next(&srv, &c, &f, &len), 1);
	assert_int_equal(iom_server_reply(&srv, &c, f, len, 0), 0);	/* now over the cap */
	assert_null(iom_sconn_expired(&srv, &c, t + 3 * s));
	iom_sconn_sent(&c, iom_sconn_unsent(&c), t + 3 * s);
	assert_true(iom_sconn_room(&srv, &c, &room) > 0);
	assert_null(iom_sconn_expired(&srv, &c, t + 4 * s));
	assert_string_equal(iom_sconn_expired(&srv, &c, t + 6 * s), "frame not complete in time");
	iom_sconn_free(&c);
}

static void test_backend_threads(void **state)
{
	static const struct { const char *model; unsigned int idle, conns3; } want[] = {
		/* serve's own thread, then: the acceptor is it; a loop per CPU; an I/O thread + 16. */
		{ "threads", 1, 4 }, { "epoll", 1, 1 }, { "kernel_free", 18, 18 },
	};
	unsigned int extra = getenv("IOM_TSAN") ? 1 : 0;
	double ncpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
	/* The server may use every online CPU here: epoll runs one loop on each. */
	unsigned int loops = (unsigned int)ncpu;

	iom_workload_set_server(iom_server_serve_wl);
	for (size_t m = 0; m < sizeof(want) / sizeof(want[0]); m++) {
		struct iom_wl_params p = { .kind = IOM_WL_RPC, .payload = 64 };
		struct iom_err err = { "" };
		struct iom_workload wl;
		unsigned int idle = want[m].idle, conns3 = want[m].conns3;
		int fds[3];

		if (!strcmp(want[m].model, "epoll")) {
			idle += loops;
			conns3 += loops;
		}
		snprintf(p.server_model, sizeof(p.server_model), "%s", want[m].model);
		assert_int_equal(iom_workload_open(&wl, &p, &err), 0);
		sample_threads_until(&wl, idle + extra);
		assert_threads(&wl, idle + extra, extra);
		for (int i = 0; i < 3; i++) {
			fds[i] = iom_rpc_connect(&wl.addr, &err);
			assert_true(fds[i] >= 0);
			request_ok(fds[i], 70000 + (uint64_t)i, 0);
		}
		sample_threads_until(&wl, conns3 + extra);
		assert_threads(&wl, conns3 + extra, extra);
		assert_true(iom_workload_backend_cpus(&wl) ==
			    (wl.backend_threads < ncpu ? wl.backend_threads : ncpu));
		for (int i = 0; i < 3; i++)
			close(fds[i]);
		iom_workload_close(&wl);
	}
	/* One thread on a 2-CPU set is one CPU; the harness said 2. */
	if (ncpu >= 2) {
		struct iom_workload wl = { .backend_threads = 1 + extra };

		snprintf(wl.p.backend_cpus, sizeof(wl.p.backend_cpus), "0-1");
		assert_true(iom_workload_backend_cpus(&wl) == 1 + extra);
	}
}

/*
 * A server pinned to one CPU runs one loop there, not two: two loops on one CPU cost 1.3x the
 * CPU per request (docs/servers.md, "Cost per request against the bare loops").
 */
static void test_one_loop_per_cpu(void **state)
{
	static const char *const models[] = { "epoll", "uring" };
	unsigned int extra = getenv("IOM_TSAN") ? 1 : 0;

	iom_workload_set_server(iom_server_serve_wl);
	for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++) {
		struct iom_wl_params p = { .kind = IOM_WL_RPC, .payload = 64 };
		struct iom_err err = { "" };
		struct iom_workload wl;

		snprintf(p.server_model, sizeof(p.server_model), "%s", models[m]);
		snprintf(p.backend_cpus, sizeof(p.backend_cpus), "0");
		if (iom_workload_open(&wl, &p, &err)) {
			print_message("%s: %s (skipped)\n", models[m], err.msg);
			continue;	/* uring not on this kernel */
		}
		sample_threads_until(&wl, 2 + extra);
		usleep(100000);	/* a second loop, if any, has started by now */
		iom_workload_backend_sample(&wl);
		assert_threads(&wl, 2 + extra, extra);	/* serve's own thread + one loop */
		iom_workload_close(&wl);
	}
}

/* --service sleep:D, cpu:D and file:BS: each answers, and file really reads BS a request. */
static void test_service_kinds(void **state)
{
	static const char *const kinds[] = { "sleep:200", "cpu:100", "file:4096" };
	char path[] = "/tmp/iom-test-service-XXXXXX";
	static char block[1 << 20];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
	close(fd);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		struct iom_server_opts so;
		struct iom_err err = { "" };
		struct srv s;
		long long r0;
		int c;

		iom_server_opts_init(&so);
		assert_int_equal(iom_service_parse(kinds[k], &so, &err), 0);
		so.service_path = path;
		spawn(&s, &so, 0);
		c = connect_to(&s);
		r0 = rchar(s.pid);
		for (int i = 0; i < 50; i++)
			request_ok(c, 50000 + (uint64_t)i, 0);
		/* The others pread (in rchar); uring reads by IORING_OP_READ, which rchar misses. */
		if (so.service == IOM_SERVICE_FILE && strcmp(model, "uring"))
			assert_true(rchar(s.pid) - r0 >= 50 * 4096);
		else if (so.service == IOM_SERVICE_FILE)
			assert_true(rchar(s.pid) - r0 < 50 * 4096);
		close(c);
		stop(&s);
		if (so.service == IOM_SERVICE_FILE)
			assert_true(s.read_bytes >= 50 * 4096);
	}
	unlink(path);
}

/*
 * On a rung (IOM_MASK, tests/server_models.h) the model says what it was granted, and no
 * feature the mask hides is in it: the rung's tests ran the fallback, not the best path.
 */
static void test_variant_names_rung(void **state)
{
	const char *mask = getenv("IOM_MASK");
	char features[128], *save = NULL;
	struct iom_server_opts so;
	struct srv s;
	int fd;

	iom_server_opts_init(&so);
	spawn(&s, &so, 0);
	fd = connect_to(&s);
	request_ok(fd, 70000, 0);
	close(fd);
	stop(&s);
	print_message("%s: %s\n", mask, s.variant);
	assert_true(s.variant[0]);
	snprintf(features, sizeof(features), "%s", mask ? mask : "");
	for (char *f = strtok_r(features, ",", &save); f; f = strtok_r(NULL, ",", &save))
		if (strstr(s.variant, f))
			fail_msg("IOM_MASK=%s, yet the variant has %s: %s", mask, f, s.variant);
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
		cmocka_unit_test(test_rss_flat_over_requests),
		cmocka_unit_test(test_accept_at_fd_limit),
		cmocka_unit_test(test_max_conns),
		cmocka_unit_test(test_max_inflight),
		cmocka_unit_test(test_max_inflight_half_close),
		cmocka_unit_test(test_out_cap),
		cmocka_unit_test(test_service_parse),
		cmocka_unit_test(test_next_before_any_byte),
		cmocka_unit_test(test_frame_clock_stops_while_held_back),
		cmocka_unit_test(test_frame_clock_stops_over_caps),
		cmocka_unit_test(test_backend_threads),
		cmocka_unit_test(test_one_loop_per_cpu),
		cmocka_unit_test(test_service_kinds),
		cmocka_unit_test(test_killed_run_leaves_nothing),
		cmocka_unit_test(test_serve_logs_bound_port),
		cmocka_unit_test(test_port_after_every_listener),
	};
	struct rlimit rl;

	signal(SIGPIPE, SIG_IGN);
	/* Room for the many-idle test's client and server ends. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* The cases a fallback rung changes the path of: reading, accepting, the caps. */
	const struct CMUnitTest rung_tests[] = {
		cmocka_unit_test(test_variant_names_rung),
		cmocka_unit_test(test_good_requests),
		cmocka_unit_test(test_slow_and_vanishing_clients),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_half_close),
		cmocka_unit_test(test_never_reading_client),
		cmocka_unit_test(test_accept_at_fd_limit),
		cmocka_unit_test(test_max_inflight),
		cmocka_unit_test(test_out_cap),
	};
	int failed;

	/* IOM_SERVER_LOG=1 shows the servers' log (by hand). */
	failed = iomt_each_server_model("server model", &model, tests,
					sizeof(tests) / sizeof(tests[0]), start_main, stop_main);
	return failed + iomt_each_server_rung("server model", &model, rung_tests,
					      sizeof(rung_tests) / sizeof(rung_tests[0]),
					      start_main, stop_main);
}
