/* SPDX-License-Identifier: MIT */
/* iomodels serve: the rpc workload's backend (see serve.c). */
#ifndef IOM_SERVE_H
#define IOM_SERVE_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

struct iom_serve_opts {
	const char *listen;		/* HOST:PORT (default 127.0.0.1:0) */
	const char *unix_path;		/* or a Unix socket */
	const char *port_file;		/* write the bound port here once listening */
	const char *stats_file;		/* write the counts here on exit */
	unsigned int threads;		/* default 2 */
	unsigned int capacity;		/* requests in service at once before BUSY (0 = no cap) */
	unsigned int frame_timeout_ms;	/* a frame not complete in this time is closed */
	cpu_set_t cpus;
	bool cpus_set;
	bool quiet;
};

/* Serve until SIGTERM/SIGINT. 0, or -errno with err set. */
int iom_serve(const struct iom_serve_opts *opts, struct iom_err *err);

/*
 * Forward TCP from listen_at to `to`, holding every chunk delay_ns in each direction (a stand-in
 * for netem delay). Runs until SIGTERM/SIGINT.
 */
int iom_relay(const char *listen_at, const char *to, uint64_t delay_ns, bool quiet,
	      struct iom_err *err);

#endif
