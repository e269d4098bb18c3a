// SPDX-License-Identifier: MIT
/*
 * The epoll server model: server/loop.c on --threads threads (2 by default), each with its own
 * epoll and SO_REUSEPORT listener; a request's wait is a timerfd-armed heap entry, CPU work runs
 * in the loop's thread. (kernel_free runs the same loop on one I/O thread, with its pool.)
 */
#include "server/server.h"

static int ep_run(struct iom_server *srv, struct iom_err *err)
{
	return iom_loop_run(srv, srv->opts.threads ? srv->opts.threads : 2, NULL, err);
}

static int ep_probe(struct iom_err *err)
{
	return 0;
}

const struct iom_server_model iom_server_epoll = {
	.name = "epoll",
	.desc = "per-thread epoll, edge-triggered, SO_REUSEPORT listeners, timerfd service",
	.probe = ep_probe,
	.run = ep_run,
};
