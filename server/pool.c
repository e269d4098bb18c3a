// SPDX-License-Identifier: MIT
/*
 * A plain worker pool for an event loop's blocking services, as libuv's and nginx's thread
 * pools are: a mutex-and-condvar FIFO of requests, workers that run the service, and a done
 * list handed back to the loop through an eventfd. (kernel_free's server has its own: the
 * lock-free queue, parking lot and status store of kernel_free/.)
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "server/server.h"

#define PL_CAP		4096u	/* requests queued or done at once; past it, BUSY */
#define PL_MAX_WORKERS	64u

struct pl_item {
	void *req;
	struct iom_rpc_hdr h;
};

struct pl_pool {
	struct iom_loop_pool pool;	/* first: the loop's view */
	struct iom_server *srv;
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct pl_item todo[PL_CAP];	/* a ring */
	unsigned int todo_head, nr_todo;
	void *done[PL_CAP], *taken[PL_CAP];
	unsigned int nr_done, nr_out;	/* nr_out: queued, running or done, not yet reaped */
	pthread_t workers[PL_MAX_WORKERS];
	unsigned int nr_workers;
	bool stop;
};

static void *pl_worker(void *arg)
{
	struct pl_pool *pl = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&pl->lock);
	for (;;) {
		struct pl_item it;

		while (!pl->nr_todo && !pl->stop)
			pthread_cond_wait(&pl->work, &pl->lock);
		if (pl->stop)
			break;
		it = pl->todo[pl->todo_head];
		pl->todo_head = (pl->todo_head + 1) % PL_CAP;
		pl->nr_todo--;
		pthread_mutex_unlock(&pl->lock);
		iom_server_service_run(pl->srv, &it.h);
		pthread_mutex_lock(&pl->lock);
		pl->done[pl->nr_done++] = it.req;
		if (pl->nr_done == 1)	/* the loop is told once per batch it has not taken */
			(void)!write(pl->pool.done_fd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&pl->lock);
	return NULL;
}

static int pl_submit(struct iom_loop_pool *p, void *req, const struct iom_rpc_hdr *h)
{
	struct pl_pool *pl = (struct pl_pool *)p;
	int ret = 0;

	pthread_mutex_lock(&pl->lock);
	if (pl->nr_out == PL_CAP) {
		ret = -EBUSY;
	} else {
		pl->todo[(pl->todo_head + pl->nr_todo) % PL_CAP] = (struct pl_item){ req, *h };
		pl->nr_todo++;
		pl->nr_out++;
	}
	pthread_mutex_unlock(&pl->lock);
	return ret;
}

static void pl_kick(struct iom_loop_pool *p)
{
	struct pl_pool *pl = (struct pl_pool *)p;

	pthread_mutex_lock(&pl->lock);
	if (pl->nr_todo == 1)
		pthread_cond_signal(&pl->work);
	else if (pl->nr_todo)
		pthread_cond_broadcast(&pl->work);
	pthread_mutex_unlock(&pl->lock);
}

static void **pl_reap(struct iom_loop_pool *p, unsigned int *n)
{
	struct pl_pool *pl = (struct pl_pool *)p;
	uint64_t count;

	(void)!read(pl->pool.done_fd, &count, sizeof(count));
	pthread_mutex_lock(&pl->lock);
	*n = pl->nr_done;
	for (unsigned int i = 0; i < pl->nr_done; i++)
		pl->taken[i] = pl->done[i];
	pl->nr_out -= pl->nr_done;
	pl->nr_done = 0;
	pthread_mutex_unlock(&pl->lock);
	return pl->taken;
}

void iom_pool_stop(struct iom_loop_pool *p)
{
	struct pl_pool *pl = (struct pl_pool *)p;

	if (!pl)
		return;
	pthread_mutex_lock(&pl->lock);
	pl->stop = true;
	pthread_cond_broadcast(&pl->work);
	pthread_mutex_unlock(&pl->lock);
	for (unsigned int i = 0; i < pl->nr_workers; i++)
		pthread_join(pl->workers[i], NULL);
	/* What the loop never took back: queued and done requests. */
	for (unsigned int i = 0; i < pl->nr_todo; i++)
		iom_loop_req_free(pl->todo[(pl->todo_head + i) % PL_CAP].req);
	for (unsigned int i = 0; i < pl->nr_done; i++)
		iom_loop_req_free(pl->done[i]);
	if (pl->pool.done_fd >= 0)
		close(pl->pool.done_fd);
	pthread_cond_destroy(&pl->work);
	pthread_mutex_destroy(&pl->lock);
	free(pl);
}

struct iom_loop_pool *iom_pool_start(struct iom_server *srv, unsigned int nr_workers,
				     struct iom_err *err)
{
	struct pl_pool *pl = calloc(1, sizeof(*pl));

	if (!pl) {
		iom_err_set(err, -ENOMEM, "serve: pool");
		return NULL;
	}
	pl->srv = srv;
	pl->pool.submit = pl_submit;
	pl->pool.kick = pl_kick;
	pl->pool.reap = pl_reap;
	pthread_mutex_init(&pl->lock, NULL);
	pthread_cond_init(&pl->work, NULL);
	pl->pool.done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pl->pool.done_fd < 0) {
		iom_err_set(err, -errno, "serve: eventfd");
		iom_pool_stop(&pl->pool);
		return NULL;
	}
	nr_workers = nr_workers < PL_MAX_WORKERS ? nr_workers : PL_MAX_WORKERS;
	for (; pl->nr_workers < nr_workers; pl->nr_workers++) {
		int e = pthread_create(&pl->workers[pl->nr_workers], NULL, pl_worker, pl);

		if (e) {
			iom_err_set(err, -e, "serve: pthread_create pool worker");
			iom_pool_stop(&pl->pool);
			return NULL;
		}
	}
	return &pl->pool;
}
