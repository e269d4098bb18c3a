// SPDX-License-Identifier: MIT
/*
 * The kernel_free server model: the seed's three failure domains as a server. One I/O thread
 * (server/loop.c) reads requests and hands each through kernel_free's submit queue (queue.c)
 * to a pool of workers, which serve it (a blocking wait or CPU burn) and record the outcome
 * in the status store (status.c); the reply leaves when the store says done. A full queue or
 * store answers BUSY, the seed's 429.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/model.h"
#include "kernel_free/queue.h"
#include "kernel_free/status.h"
#include "server/server.h"

#define KS_SLOTS	4096u	/* requests in the pool at once: the store's entries */
#define KS_SLOT_BITS	12
#define KS_WORKERS	16u	/* workers: a blocking service needs many to overlap */

_Static_assert(1u << KS_SLOT_BITS == KS_SLOTS, "a queue id packs (seq, slot)");

struct ks_worker {
	struct kf_parker parker;	/* first: its futex word on the worker's own line */
	struct ks_pool *ks;
	pthread_t thread;
};

struct ks_slot {
	void *req;			/* the loop's request, handed back when done */
	struct iom_rpc_hdr h;		/* what the worker needs: the service */
};

struct ks_pool {
	struct iom_loop_pool pool;	/* first: the loop's view */
	struct iom_server *srv;
	struct kf_queue q;
	struct kf_store store;
	struct ks_slot slots[KS_SLOTS];
	uint32_t free[KS_SLOTS];	/* free slots (the I/O thread's alone) */
	unsigned int nr_free;
	uint64_t next_seq;
	uint32_t taken[KS_SLOTS];	/* scratch for kf_done_take() */
	void *done[KS_SLOTS];		/* what reap() gives back */
	struct ks_worker workers[KS_WORKERS];
	unsigned int nr_workers;
	_Atomic bool stop;
};

static void *ks_worker_main(void *arg)
{
	struct ks_worker *w = arg;
	struct ks_pool *ks = w->ks;
	uint64_t id, one = 1;

	while (kf_queue_pop_wait(&ks->q, &w->parker, &id, &ks->stop)) {
		uint32_t slot = (uint32_t)(id & (KS_SLOTS - 1));
		uint64_t seq = id >> KS_SLOT_BITS;
		struct kf_status *e = &ks->store.entries[slot];

		if (!kf_status_take(e, seq))
			continue;
		iom_server_service_run(ks->srv, &ks->slots[slot].h);
		kf_status_done(e, seq, KF_ST_DONE, 0, iom_now_ns());
		kf_done_push(&ks->store.done, slot);
		/* The I/O thread waits in epoll, not on the store's futex: tell it there. */
		(void)!write(ks->pool.done_fd, &one, sizeof(one));
	}
	return NULL;
}

static int ks_submit(struct iom_loop_pool *p, void *req, const struct iom_rpc_hdr *h)
{
	struct ks_pool *ks = (struct ks_pool *)p;
	uint32_t slot;
	uint64_t seq;

	if (!ks->nr_free)
		return -EBUSY;
	slot = ks->free[--ks->nr_free];
	seq = ++ks->next_seq;
	ks->slots[slot].req = req;
	ks->slots[slot].h = *h;
	kf_status_queued(&ks->store.entries[slot], seq);
	if (!kf_queue_push(&ks->q, seq << KS_SLOT_BITS | slot)) {
		kf_status_move(&ks->store.entries[slot], seq, KF_ST_QUEUED, KF_ST_DROPPED);
		ks->free[ks->nr_free++] = slot;
		return -EBUSY;
	}
	return 0;
}

static void ks_kick(struct iom_loop_pool *p)
{
	struct ks_pool *ks = (struct ks_pool *)p;

	kf_queue_wake(&ks->q, ks->nr_workers);
}

/* The store says done: those requests go back to the loop, their slots are free again. */
static void **ks_reap(struct iom_loop_pool *p, unsigned int *n)
{
	struct ks_pool *ks = (struct ks_pool *)p;
	unsigned int nr = 0, k;
	uint64_t count;

	(void)!read(ks->pool.done_fd, &count, sizeof(count));
	k = kf_done_take(&ks->store.done, ks->taken);
	for (unsigned int i = 0; i < k; i++) {
		uint32_t slot = ks->taken[i];

		if (kf_word_st(kf_status_read(&ks->store.entries[slot])) != KF_ST_DONE)
			continue;
		ks->done[nr++] = ks->slots[slot].req;
		ks->slots[slot].req = NULL;
		ks->free[ks->nr_free++] = slot;
	}
	*n = nr;
	return ks->done;
}

static void ks_stop(struct ks_pool *ks)
{
	atomic_store(&ks->stop, true);
	kf_queue_wake_all(&ks->q);
	for (unsigned int i = 0; i < ks->nr_workers; i++)
		pthread_join(ks->workers[i].thread, NULL);
	/* Requests still in the pool (the loop has gone): free them. */
	for (unsigned int i = 0; i < KS_SLOTS; i++)
		if (ks->slots[i].req)
			iom_loop_req_free(ks->slots[i].req);
	kf_queue_free(&ks->q);
	kf_store_free(&ks->store);
	if (ks->pool.done_fd >= 0)
		close(ks->pool.done_fd);
}

static int ks_start(struct ks_pool *ks, struct iom_err *err)
{
	ks->pool.submit = ks_submit;
	ks->pool.kick = ks_kick;
	ks->pool.reap = ks_reap;
	ks->pool.done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ks->pool.done_fd < 0)
		return iom_err_set(err, -errno, "serve: eventfd");
	if (kf_queue_init(&ks->q, 2 * KS_SLOTS, KS_WORKERS) || kf_store_init(&ks->store, KS_SLOTS))
		return iom_err_set(err, -ENOMEM, "serve: kernel_free queue/store");
	for (unsigned int i = 0; i < KS_SLOTS; i++)
		ks->free[ks->nr_free++] = KS_SLOTS - 1 - i;
	for (; ks->nr_workers < KS_WORKERS; ks->nr_workers++) {
		struct ks_worker *w = &ks->workers[ks->nr_workers];
		int e;

		w->ks = ks;
		w->parker.idle_pos = -1;
		e = pthread_create(&w->thread, NULL, ks_worker_main, w);
		if (e)
			return iom_err_set(err, -e, "serve: pthread_create worker %u of %u",
					   ks->nr_workers + 1, KS_WORKERS);
	}
	return 0;
}

static int ks_run(struct iom_server *srv, struct iom_err *err)
{
	struct ks_pool *ks = calloc(1, sizeof(*ks));
	struct iom_loop_pool *pool;
	int ret;

	if (!ks)
		return iom_err_set(err, -ENOMEM, "serve");
	ks->srv = srv;
	ks->pool.done_fd = -1;
	pool = &ks->pool;
	ret = ks_start(ks, err);
	if (!ret)
		ret = iom_loop_run(srv, 1, &pool, err);
	ks_stop(ks);
	free(ks);
	return ret;
}

static int ks_probe(struct iom_err *err)
{
	return 0;
}

const struct iom_server_model iom_server_kernel_free = {
	.name = "kernel_free",
	.desc = "one I/O thread; each request through the submit queue, a worker pool and the "
		"status store; the reply leaves when the store says done",
	.probe = ks_probe,
	.run = ks_run,
};
