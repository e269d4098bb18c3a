// SPDX-License-Identifier: MIT
/*
 * The epoll server model: server/loop.c on --threads threads (one per CPU it may run on, by
 * default), each with its own epoll and SO_REUSEPORT listener; a request's wait is a
 * timerfd-armed heap entry, CPU work runs in the loop's thread, and a file read (--service
 * file), which would block the loop, goes to the loop's own worker pool (server/pool.c), as
 * nginx's and libuv's thread pools do.
 * (kernel_free runs the same loop on one I/O thread, with its queue, workers and status store.)
 */
#include <stdlib.h>

#include "server/server.h"

#define EP_POOL_WORKERS	4	/* per loop thread: reads in flight while the loop runs on */

static int ep_run(struct iom_server *srv, struct iom_err *err)
{
	unsigned int nr = iom_server_loops(srv), started = 0;
	struct iom_loop_pool **pools = NULL;
	int ret = 0;

	if (srv->opts.service == IOM_SERVICE_FILE) {
		pools = calloc(nr, sizeof(*pools));
		if (!pools)
			return iom_err_set(err, -ENOMEM, "serve");
		for (; started < nr && (pools[started] = iom_pool_start(srv, EP_POOL_WORKERS, err));
		     started++)
			;
		if (started < nr)
			ret = -1;
	}
	if (!ret)
		ret = iom_loop_run(srv, nr, pools, err);
	for (unsigned int i = 0; i < started; i++)
		iom_pool_stop(pools[i]);
	free(pools);
	return ret;
}

static int ep_probe(struct iom_err *err)
{
	return 0;
}

const struct iom_server_model iom_server_epoll = {
	.name = "epoll",
	.desc = "per-thread epoll, edge-triggered, SO_REUSEPORT listeners, timerfd service, "
		"a worker pool per loop for file reads",
	.probe = ep_probe,
	.run = ep_run,
};
