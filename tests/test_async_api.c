// SPDX-License-Identifier: MIT
/*
 * The seed's async API on the wire (docs/async-api.md), against every server model: SUBMIT is
 * answered at once with a task id, STATUS polls it to COMPLETED (read once, then UNKNOWN), WAIT
 * answers when done; unknown ids; the pending caps answer BUSY; a closed connection's tasks are
 * abandoned and their room given back; garbled async frames close the connection; the stale
 * store (--status-lag-us); and, at every server's exit, its counts conserve the tasks.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/rpc.h"
#include "server/server.h"
#include "testutil.h"
#include "server_models.h"

static const char *model;	/* the server model under test (server_models.h) */

#define POLL_BOUND	20000	/* polls before a test gives up: a bound, not a timing */

struct asrv {
	pid_t pid;
	struct iom_rpc_addr addr;
	FILE *report;
	unsigned long long submitted, completed, abandoned, pending, read, evicted, busy, unknown;
};

struct answer {
	unsigned int state;
	bool busy;
	uint64_t task, aux;
	uint16_t type;
};

static void spawn(struct asrv *s, struct iom_server_opts *so)
{
	const struct iom_server_model *m = iom_server_model_find(model);
	struct iom_err err = { "" };
	char line[64] = "", hostport[64];
	unsigned int port = 0;
	int pfd[2];

	memset(s, 0, sizeof(*s));
	assert_non_null(m);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	so->quiet = true;
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		so->report_fd = pfd[1];
		_exit(iom_server_serve(m, so, &err) ? 1 : 0);
	}
	close(pfd[1]);
	s->report = fdopen(pfd[0], "r");
	if (s->report && fgets(line, sizeof(line), s->report))
		sscanf(line, "port=%u", &port);
	assert_true(port > 0);
	snprintf(hostport, sizeof(hostport), "127.0.0.1:%u", port);
	assert_int_equal(iom_rpc_addr_parse(&s->addr, hostport, &err), 0);
}

/* Stop the server, read its counts: every task submitted is completed or abandoned. */
static void stop(struct asrv *s)
{
	struct { const char *key; unsigned long long *v; } keys[] = {
		{ "async_submitted", &s->submitted }, { "async_completed", &s->completed },
		{ "async_abandoned", &s->abandoned }, { "async_pending", &s->pending },
		{ "async_read", &s->read }, { "async_evicted", &s->evicted },
		{ "async_busy", &s->busy }, { "async_unknown", &s->unknown },
	};
	unsigned long long v;
	char key[32];
	int status;

	kill(s->pid, SIGTERM);
	assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	while (fscanf(s->report, "%31[^=]=%llu\n", key, &v) == 2)
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(key, keys[i].key))
				*keys[i].v = v;
	fclose(s->report);
	assert_int_equal(s->pending, 0);
	assert_int_equal(s->submitted, s->completed + s->abandoned);
	/* A completed task's status is read once, evicted, or still held: never more. */
	assert_true(s->read + s->evicted <= s->completed);
}

static int conn(const struct asrv *s)
{
	struct iom_err err = { "" };
	struct timeval tv = { .tv_sec = 10 };
	int fd = iom_rpc_connect(&s->addr, &err);

	if (fd < 0)
		fail_msg("%s", err.msg);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* One async request and its reply: the same length, the same request id and type. */
static struct answer ask(int fd, unsigned int type, uint64_t task, uint32_t service_us)
{
	static uint64_t next_id = 1;
	unsigned char req[64], rep[64];
	size_t len = iom_rpc_fill_async(req, next_id, type, task);
	struct iom_rpc_hdr h;
	struct iom_rpc_async body;
	struct answer a;

	memcpy(&h, req, sizeof(h));
	h.service_us = service_us;
	memcpy(req, &h, sizeof(h));
	assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	assert_int_equal(recv(fd, rep, len, MSG_WAITALL), (ssize_t)len);
	memcpy(&h, rep, sizeof(h));
	memcpy(&body, rep + sizeof(h), sizeof(body));
	assert_int_equal(h.magic, IOM_RPC_MAGIC);
	assert_int_equal(h.id, next_id);
	assert_int_equal(iom_rpc_type(h.flags), type);
	next_id++;
	a.state = iom_rpc_state(h.flags);
	a.busy = h.flags & IOM_RPC_F_BUSY;
	a.task = body.task;
	a.aux = body.aux;
	a.type = (uint16_t)type;
	return a;
}

static uint64_t submit_ok(int fd, uint32_t service_us)
{
	struct answer a = ask(fd, IOM_RPC_SUBMIT, 0, service_us);

	assert_false(a.busy);
	assert_int_equal(a.state, IOM_RPC_ST_SCHEDULED);
	assert_true(a.task != 0);
	return a.task;
}

/* STATUS every 1 ms until COMPLETED: how many polls it took. */
static unsigned int poll_done(int fd, uint64_t task)
{
	for (unsigned int n = 1; n <= POLL_BOUND; n++) {
		struct answer a = ask(fd, IOM_RPC_STATUS, task, 0);

		assert_int_equal(a.task, task);
		if (a.state == IOM_RPC_ST_COMPLETED)
			return n;
		assert_true(a.state == IOM_RPC_ST_SCHEDULED || a.state == IOM_RPC_ST_RUNNING);
		usleep(1000);
	}
	fail_msg("task %llu not COMPLETED after %d polls", (unsigned long long)task, POLL_BOUND);
	return 0;
}

static void serve_default(struct asrv *s)
{
	struct iom_server_opts so;

	iom_server_opts_init(&so);
	spawn(s, &so);
}

/* SUBMIT -> id at once -> STATUS until COMPLETED; then the id is forgotten (read once). */
static void test_submit_poll(void **state)
{
	struct asrv s;
	int fd;
	uint64_t t1, t2;

	serve_default(&s);
	fd = conn(&s);
	t1 = submit_ok(fd, 5000);
	t2 = submit_ok(fd, 0);
	assert_true(t1 != t2);
	assert_true(poll_done(fd, t1) >= 1);
	assert_true(poll_done(fd, t2) >= 1);
	assert_int_equal(ask(fd, IOM_RPC_STATUS, t1, 0).state, IOM_RPC_ST_UNKNOWN);
	/* The sync echo still works on the same connection. */
	{
		char req[128], rep[128];
		size_t len = iom_rpc_fill(req, 777, 0, 40, 0);

		assert_int_equal(send(fd, req, len, 0), (ssize_t)len);
		assert_int_equal(recv(fd, rep, len, MSG_WAITALL), (ssize_t)len);
		assert_true(iom_rpc_reply_ok(rep, 777, 40));
	}
	close(fd);
	stop(&s);
	assert_int_equal(s.submitted, 2);
	assert_int_equal(s.completed, 2);
	assert_int_equal(s.read, 2);
}

/* WAIT answers once the task is done: COMPLETED in one request; unknown ids at once. */
static void test_wait(void **state)
{
	struct asrv s;
	struct answer a;
	uint64_t t;
	int fd;

	serve_default(&s);
	fd = conn(&s);
	t = submit_ok(fd, 20000);
	a = ask(fd, IOM_RPC_WAIT, t, 0);
	assert_int_equal(a.state, IOM_RPC_ST_COMPLETED);
	assert_int_equal(a.task, t);
	/* Done and read: WAIT again knows it no more. */
	assert_int_equal(ask(fd, IOM_RPC_WAIT, t, 0).state, IOM_RPC_ST_UNKNOWN);
	close(fd);
	stop(&s);
	assert_int_equal(s.completed, 1);
	assert_int_equal(s.read, 1);
}

static void test_unknown_ids(void **state)
{
	const uint64_t ids[] = { 0, 1, 12345, ~0ull, 1ull << 24 };
	struct asrv s;
	uint64_t t;
	int fd;

	serve_default(&s);
	fd = conn(&s);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		assert_int_equal(ask(fd, IOM_RPC_STATUS, ids[i], 0).state, IOM_RPC_ST_UNKNOWN);
		assert_int_equal(ask(fd, IOM_RPC_WAIT, ids[i], 0).state, IOM_RPC_ST_UNKNOWN);
	}
	/* A real id's slot with another sequence number is not that task. */
	t = submit_ok(fd, 60000000);
	assert_int_equal(ask(fd, IOM_RPC_STATUS, t + (1ull << 24), 0).state, IOM_RPC_ST_UNKNOWN);
	assert_int_equal(ask(fd, IOM_RPC_STATUS, t, 0).state, IOM_RPC_ST_RUNNING);
	close(fd);
	stop(&s);
	assert_int_equal(s.unknown, 11);
	assert_int_equal(s.abandoned, 1);
}

/*
 * Ids are not a sequence: any client may ask about any id, and a guessed one would read (and
 * so consume) another client's result. The slot (low 24 bits) is reused; the tag above is not
 * the last one plus one.
 */
static void test_ids_not_sequential(void **state)
{
	const uint64_t slot_mask = (1ull << 24) - 1;
	struct asrv s;
	uint64_t t1, t2;
	int fd;

	serve_default(&s);
	fd = conn(&s);
	t1 = submit_ok(fd, 0);
	poll_done(fd, t1);
	t2 = submit_ok(fd, 0);
	assert_int_equal(t2 & slot_mask, t1 & slot_mask);
	assert_true((t2 >> 24) != (t1 >> 24) + 1);
	assert_int_equal(ask(fd, IOM_RPC_STATUS, t2 + (1ull << 24), 0).state, IOM_RPC_ST_UNKNOWN);
	close(fd);
	stop(&s);
}

/* Past --max-pending-conn, then past --max-pending: BUSY, and no task made. */
static void test_caps_busy(void **state)
{
	struct iom_server_opts so;
	struct asrv s;
	int a, b;

	iom_server_opts_init(&so);
	so.max_pending = 6;
	so.max_pending_conn = 4;
	spawn(&s, &so);
	a = conn(&s);
	b = conn(&s);
	for (int i = 0; i < 4; i++)
		submit_ok(a, 60000000);
	assert_true(ask(a, IOM_RPC_SUBMIT, 0, 60000000).busy);
	submit_ok(b, 60000000);
	submit_ok(b, 60000000);
	assert_true(ask(b, IOM_RPC_SUBMIT, 0, 60000000).busy);
	close(a);
	close(b);
	stop(&s);
	assert_int_equal(s.submitted, 6);
	assert_int_equal(s.busy, 2);
	assert_int_equal(s.abandoned, 6);
}

/*
 * A connection's pending tasks go when it closes: a fresh connection gets the whole
 * --max-pending again (the first submits may come before the server saw the close).
 */
static void test_closed_conn_frees(void **state)
{
	const unsigned int cap = 200;
	struct iom_server_opts so;
	unsigned int made = 0, tries = 0;
	struct asrv s;
	int fd;

	iom_server_opts_init(&so);
	so.max_pending = cap;
	spawn(&s, &so);
	fd = conn(&s);
	for (unsigned int i = 0; i < cap; i++)
		submit_ok(fd, 60000000);
	assert_true(ask(fd, IOM_RPC_SUBMIT, 0, 1).busy);
	close(fd);
	fd = conn(&s);
	while (made < cap && tries++ < POLL_BOUND) {
		struct answer a = ask(fd, IOM_RPC_SUBMIT, 0, 60000000);

		if (a.busy)
			usleep(1000);	/* the close not seen yet */
		else
			made++;
	}
	assert_int_equal(made, cap);
	close(fd);
	stop(&s);
	assert_int_equal(s.submitted, 2 * cap);
	assert_int_equal(s.abandoned, 2 * cap);
}

static void expect_closed(int fd)
{
	char buf[64];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);

	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
	close(fd);
}

/* An async frame of the wrong length, or an unknown type: the connection is closed. */
static void test_garbled_closes(void **state)
{
	struct asrv s;
	unsigned char req[64];
	struct iom_rpc_hdr h;
	int fd;

	serve_default(&s);
	fd = conn(&s);
	iom_rpc_fill(req, 1, 0, 8, IOM_RPC_STATUS << IOM_RPC_TYPE_SHIFT);
	assert_int_equal(send(fd, req, sizeof(h) + 8, 0), (ssize_t)(sizeof(h) + 8));
	expect_closed(fd);
	fd = conn(&s);
	iom_rpc_fill_async(req, 2, IOM_RPC_STATUS, 1);
	memcpy(&h, req, sizeof(h));
	h.flags = 9 << IOM_RPC_TYPE_SHIFT;
	memcpy(req, &h, sizeof(h));
	assert_int_equal(send(fd, req, sizeof(h) + 16, 0), (ssize_t)(sizeof(h) + 16));
	expect_closed(fd);
	/* A task submitted, then a short frame: the task goes with the connection. */
	fd = conn(&s);
	submit_ok(fd, 60000000);
	assert_int_equal(send(fd, req, 10, 0), 10);
	shutdown(fd, SHUT_WR);
	expect_closed(fd);
	stop(&s);
	assert_int_equal(s.abandoned, 1);
}

/* --service cpu:D runs on the store's workers: SCHEDULED or RUNNING, then COMPLETED. */
static void test_cpu_service(void **state)
{
	struct iom_server_opts so;
	long threads;
	struct answer a;
	struct asrv s;
	uint64_t t[8];
	int fd;

	iom_server_opts_init(&so);
	so.service = IOM_SERVICE_CPU;
	so.service_us = 2000;
	spawn(&s, &so);
	fd = conn(&s);
	/* A round trip: the connection (threads: its thread) is in place before counting. */
	assert_int_equal(ask(fd, IOM_RPC_STATUS, 1, 0).state, IOM_RPC_ST_UNKNOWN);
	threads = iomt_proc_status(s.pid, "Threads");
	for (int i = 0; i < 8; i++)
		t[i] = submit_ok(fd, 0);
	/* The store's workers start with the first work, not with the server. */
	assert_int_equal(iomt_proc_status(s.pid, "Threads"), threads + 4);
	poll_done(fd, t[0]);
	for (int i = 1; i < 8; i++) {
		unsigned int n = 0;

		do
			a = ask(fd, IOM_RPC_WAIT, t[i], 0);
		while (a.state != IOM_RPC_ST_COMPLETED && ++n < POLL_BOUND);
		assert_int_equal(a.state, IOM_RPC_ST_COMPLETED);
	}
	close(fd);
	stop(&s);
	assert_int_equal(s.completed, 8);
}

/*
 * --status-lag-us: the store says done only that long after the task was; a WAIT learns it
 * then, its aux (us from done to this answer) at least the lag.
 */
static void test_status_lag(void **state)
{
	const uint32_t lag_us = 1500000;
	struct iom_server_opts so;
	struct answer a;
	struct asrv s;
	uint64_t t;
	int fd;

	iom_server_opts_init(&so);
	so.status_lag_us = lag_us;
	spawn(&s, &so);
	fd = conn(&s);
	t = submit_ok(fd, 0);
	assert_int_equal(ask(fd, IOM_RPC_STATUS, t, 0).state, IOM_RPC_ST_RUNNING);
	a = ask(fd, IOM_RPC_WAIT, t, 0);
	assert_int_equal(a.state, IOM_RPC_ST_COMPLETED);
	assert_true(a.aux >= lag_us);
	close(fd);
	stop(&s);
}

/* Unread results go when the store needs their slots: evicted, oldest first, counted. */
static void test_unread_evicted(void **state)
{
	struct iom_server_opts so;
	struct asrv s;
	uint64_t first, last = 0;
	int fd;

	iom_server_opts_init(&so);
	so.max_pending = 4;	/* 8 slots */
	spawn(&s, &so);
	fd = conn(&s);
	first = submit_ok(fd, 0);
	for (int i = 0; i < 20; i++)
		last = submit_ok(fd, 0);
	assert_int_equal(ask(fd, IOM_RPC_STATUS, first, 0).state, IOM_RPC_ST_UNKNOWN);
	assert_int_equal(ask(fd, IOM_RPC_WAIT, last, 0).state, IOM_RPC_ST_COMPLETED);
	close(fd);
	stop(&s);
	assert_int_equal(s.submitted, 21);
	assert_true(s.evicted >= 21 - 8);
}

/* --status-ttl-ms: a result unread that long is gone (a sleep guarantees at least that long). */
static void test_unread_ttl(void **state)
{
	struct iom_server_opts so;
	struct asrv s;
	uint64_t t;
	int fd;

	iom_server_opts_init(&so);
	so.status_ttl_ms = 1;
	spawn(&s, &so);
	fd = conn(&s);
	t = submit_ok(fd, 0);
	usleep(50000);
	assert_int_equal(ask(fd, IOM_RPC_STATUS, t, 0).state, IOM_RPC_ST_UNKNOWN);
	close(fd);
	stop(&s);
	assert_int_equal(s.evicted, 1);
	assert_int_equal(s.read, 0);
}

/*
 * scripts/async_poll.py (the figures of docs/async-api.md) against this model: its report's
 * lines; bad input is one line on stderr, exit 2, nothing on stdout.
 */
static void test_poll_script(void **state)
{
	const char *py = iomt_python();
	char *const good[] = { (char *)py, "scripts/async_poll.py", "--bin", (char *)iomt_bin(),
			       "--model", (char *)model, "--tasks", "3", "--service-us", "2000",
			       "--pending", "16", "--cpu-requests", "100", NULL };
	char *const bad[] = { (char *)py, "scripts/async_poll.py", "--tasks", "0", NULL };
	struct iomt_proc r = { 0 };

	iomt_run(&r, NULL, good, 120000);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "polled: STATUS requests per task min "));
	assert_non_null(strstr(r.out, "WAIT: 2 requests per task"));
	assert_non_null(strstr(r.out, "server RSS per pending task"));
	iomt_run(&r, NULL, bad, 30000);
	assert_int_equal(r.status, 2);
	assert_int_equal(r.out_len, 0);
	assert_int_equal(iomt_count_lines(r.err, ""), 1);
	iomt_proc_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_submit_poll),
		cmocka_unit_test(test_wait),
		cmocka_unit_test(test_unknown_ids),
		cmocka_unit_test(test_ids_not_sequential),
		cmocka_unit_test(test_caps_busy),
		cmocka_unit_test(test_closed_conn_frees),
		cmocka_unit_test(test_garbled_closes),
		cmocka_unit_test(test_cpu_service),
		cmocka_unit_test(test_status_lag),
		cmocka_unit_test(test_unread_evicted),
		cmocka_unit_test(test_unread_ttl),
		cmocka_unit_test(test_poll_script),
	};

	signal(SIGPIPE, SIG_IGN);
	return iomt_each_server_model("async api, server model", &model, tests,
				      sizeof(tests) / sizeof(tests[0]), NULL, NULL) ? 1 : 0;
}
