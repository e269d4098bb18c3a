// SPDX-License-Identifier: MIT
/*
 * One of calibrate/echo.c's bare echo loops as a process, taking `iomodels serve`'s flags
 * (--model threads|epoll|uring for blocking|epoll|uring, --cpus N, --port-file, --stats-file;
 * the rest ignored), so scripts/server_cost.py loads it exactly as it loads a server model and
 * measures each server against its floor with one harness. The stats file says
 * requests=(bytes echoed / one 64-byte request's frame).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calibrate/echo.h"
#include "core/err.h"
#include "core/rpc.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	stopping = 1;
}

struct es_args {
	const char *port_file, *stats_file;
	enum iom_echo_kind kind;
	int cpu;
};

static int es_parse(int argc, char **argv, struct es_args *a)
{
	const char *model = "epoll";

	for (int i = 1; i + 1 < argc; i++) {
		if (!strcmp(argv[i], "--port-file"))
			a->port_file = argv[++i];
		else if (!strcmp(argv[i], "--stats-file"))
			a->stats_file = argv[++i];
		else if (!strcmp(argv[i], "--model"))
			model = argv[++i];
		else if (!strcmp(argv[i], "--cpus"))
			a->cpu = atoi(argv[++i]);
	}
	if (!strcmp(model, "threads"))
		a->kind = IOM_ECHO_BLOCKING;
	else if (!strcmp(model, "epoll"))
		a->kind = IOM_ECHO_EPOLL;
	else if (!strcmp(model, "uring"))
		a->kind = IOM_ECHO_URING;
	else
		return -1;
	return a->port_file && a->stats_file ? 0 : -1;
}

/* "N" (the port, as serve's --port-file) or "key=N" (serve's --stats-file). */
static int es_write(const char *path, const char *key, unsigned long long v)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	if (key)
		fprintf(f, "%s=%llu\n", key, v);
	else
		fprintf(f, "%llu\n", v);
	return fclose(f);
}

int main(int argc, char **argv)
{
	struct es_args a = { .cpu = 1 };
	struct iom_err err = { "" };
	struct iom_echo *e;
	uint64_t bytes = 0, cpu_ns = 0;

	if (es_parse(argc, argv, &a)) {
		fprintf(stderr, "usage: iom-echo --model threads|epoll|uring --port-file F "
				"--stats-file F [--cpus N]\n");
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (iom_echo_start(a.kind, a.cpu, &e, &err)) {
		fprintf(stderr, "iom-echo: %s\n", err.msg);
		return 1;
	}
	if (es_write(a.port_file, NULL, iom_echo_port(e)))
		perror("iom-echo: port file");
	/* The loops' threads may take the signal: poll the flag rather than pause(). */
	while (!stopping)
		usleep(20000);
	iom_echo_stop(e, &bytes, &cpu_ns);
	return es_write(a.stats_file, "requests",
			bytes / (sizeof(struct iom_rpc_hdr) + 64)) ? 1 : 0;
}
