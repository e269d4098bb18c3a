// SPDX-License-Identifier: MIT
/*
 * The rpc backend under abuse: wrong magic, wrong version, an oversize length, a client that
 * sends one byte at a time too slowly, one that hangs up mid-frame. Each such connection is
 * closed; a well-behaved client is served before, during and after.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/server.h"
#include "core/model.h"
#include "core/rpc.h"
#include "testutil.h"

static char dir[] = "/tmp/iom-test-backend-XXXXXX";
static pid_t server;
static struct iom_rpc_addr addr;

static int start_server(void **state)
{
	const struct iom_server_model *m = iom_server_model_find("epoll");
	struct iom_server_opts so;
	struct iom_err err = { "" };
	char port_file[PATH_MAX], hostport[64];
	unsigned int port = 0;

	iom_server_opts_init(&so);
	so.quiet = true;
	so.frame_timeout_ms = 300;
	if (!mkdtemp(dir))
		return -1;
	snprintf(port_file, sizeof(port_file), "%s/port", dir);
	so.port_file = port_file;
	server = fork();
	if (server == 0)
		_exit(iom_server_serve(m, &so, &err) ? 1 : 0);
	for (int i = 0; i < 2500 && !port; i++) {
		FILE *f = fopen(port_file, "r");

		if (f) {
			if (fscanf(f, "%u", &port) != 1)
				port = 0;
			fclose(f);
		}
		usleep(2000);
	}
	snprintf(hostport, sizeof(hostport), "127.0.0.1:%u", port);
	return port && !iom_rpc_addr_parse(&addr, hostport, &err) ? 0 : -1;
}

static int stop_server(void **state)
{
	char cmd[PATH_MAX + 16];

	kill(server, SIGTERM);
	waitpid(server, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static int connect_or_fail(void)
{
	struct iom_err err = { "" };
	struct timeval tv = { .tv_sec = 5 };
	int fd = iom_rpc_connect(&addr, &err);

	if (fd < 0)
		fail_msg("%s", err.msg);
	/* No test may hang: every read gives up after 5 s. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* A good request gets its echo back. */
static void round_trip_ok(uint64_t id, uint32_t service_us)
{
	char req[256], rep[256];
	int fd = connect_or_fail();
	size_t len = iom_rpc_fill(req, id, service_us, 100, 0);

	assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	assert_int_equal(recv(fd, rep, len, MSG_WAITALL), (ssize_t)len);
	assert_true(iom_rpc_reply_ok(rep, id, 100));
	close(fd);
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
	int slow = connect_or_fail(), gone = connect_or_fail();

	/* Half a frame, then hang up: the server logs, closes, and serves everyone else. */
	assert_int_equal(send(gone, req, len / 2, MSG_NOSIGNAL), (ssize_t)(len / 2));
	close(gone);
	/* One byte every 100 ms: the 300 ms frame timeout closes it. */
	for (int i = 0; i < 8; i++) {
		if (send(slow, req + i, 1, MSG_NOSIGNAL) != 1)
			break;
		round_trip_ok(100 + (uint64_t)i, 0);	/* others are served meanwhile */
		usleep(100000);
	}
	expect_closed(slow);
	round_trip_ok(4, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_requests),
		cmocka_unit_test(test_bad_magic_version_length),
		cmocka_unit_test(test_slow_and_vanishing_clients),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, start_server, stop_server);
}
