// SPDX-License-Identifier: MIT
/*
 * The async API's status store (docs/async-api.md), one per server, shared by every model:
 * SUBMIT -> task id at once, the service runs here, STATUS reads the state, WAIT is a model's
 * timed wait until the store says done. One mutex guards it all: every operation is a few
 * pointer moves, and the models only ever call in with a whole frame.
 *
 * A timed service (the header's service_us, --service sleep:D) needs no thread: the task sits
 * in a min-heap by due time and is finished by whichever call comes after it falls due, so a
 * task is COMPLETED from its due time on (as the timer heap of epoll's loop does for the sync
 * API). --service cpu:D and file:BS are work: they go to the store's own workers.
 *
 * Bounded whatever clients do: pending tasks past --max-pending (server) or --max-pending-conn
 * answer BUSY; a finished task is forgotten when read COMPLETED once, after --status-ttl-ms
 * unread, or when its slot is needed (the oldest finished first); a closing connection's
 * pending tasks are abandoned and freed. Conservation: submitted = completed + abandoned +
 * pending, and every completed task is read, evicted, or still held.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/model.h"
#include "server/server.h"

#define AS_SLOT_BITS	24	/* a task id is (tag << AS_SLOT_BITS) | slot (as_tag) */
#define AS_WORKERS	4u	/* for cpu/file services */
#define AS_FILE_WAIT_US	1000u	/* a WAIT on file work not done: answer after this at most */

enum as_phase { AS_FREE, AS_QUEUED, AS_RUNNING, AS_DONE };

struct iom_async_task {
	uint64_t id;			/* 0 = free */
	uint64_t due_ns;		/* timed: when its wait ends */
	uint64_t done_ns;		/* when it finished */
	struct iom_sconn *owner;	/* while pending: the connection that submitted it */
	struct iom_async_task *prev, *next;	/* owner's pending list, or the finished list */
	struct iom_rpc_hdr h;		/* the request, for a worker's service */
	uint32_t heap_pos;		/* timed and pending: its place in the heap */
	uint8_t phase;			/* enum as_phase */
	bool worker;			/* work for the workers, not a timed wait */
	bool abandoned;			/* its connection closed while a worker held it */
};

struct iom_async {
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct iom_server *srv;
	struct iom_async_task *tasks;
	uint32_t nr_slots, nr_free, *free;	/* free slots, a stack */
	uint32_t *heap, nr_heap;		/* timed pending tasks by due time */
	uint32_t *queue, q_head, q_len;		/* worker tasks, a ring of nr_slots */
	struct iom_async_task *done_head, *done_tail;	/* finished, unread: oldest first */
	uint64_t seq, key, lag_ns, ttl_ns;	/* key: scrambles task ids (as_tag) */
	uint32_t nr_pending;
	uint32_t pending_max;		/* the most tasks pending at once */
	uint64_t bytes_at_max;		/* as_held_bytes() when pending_max was reached */
	pthread_t workers[AS_WORKERS];
	unsigned int nr_workers;
	bool stop;
	uint64_t nr_submitted, nr_completed, nr_abandoned, nr_read, nr_evicted, nr_busy,
		 nr_unknown, nr_polls;
};

static uint32_t as_slot(const struct iom_async *a, const struct iom_async_task *t)
{
	return (uint32_t)(t - a->tasks);
}

/* -- the heap of timed tasks, by due time, each knowing its place (removal on abandon) -- */

static void heap_set(struct iom_async *a, uint32_t i, uint32_t slot)
{
	a->heap[i] = slot;
	a->tasks[slot].heap_pos = i;
}

static bool heap_less(const struct iom_async *a, uint32_t i, uint32_t j)
{
	return a->tasks[a->heap[i]].due_ns < a->tasks[a->heap[j]].due_ns;
}

static void heap_swap(struct iom_async *a, uint32_t i, uint32_t j)
{
	uint32_t s = a->heap[i];

	heap_set(a, i, a->heap[j]);
	heap_set(a, j, s);
}

static void heap_fix(struct iom_async *a, uint32_t i)
{
	while (i && heap_less(a, i, (i - 1) / 2)) {
		heap_swap(a, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < a->nr_heap && heap_less(a, l, m))
			m = l;
		if (r < a->nr_heap && heap_less(a, r, m))
			m = r;
		if (m == i)
			return;
		heap_swap(a, i, m);
		i = m;
	}
}

static void heap_remove(struct iom_async *a, uint32_t pos)
{
	heap_set(a, pos, a->heap[--a->nr_heap]);
	if (pos < a->nr_heap)
		heap_fix(a, pos);
}

/* -- lists: a connection's pending tasks, and the finished ones -- */

static void list_add(struct iom_async_task **head, struct iom_async_task *t)
{
	t->prev = NULL;
	t->next = *head;
	if (*head)
		(*head)->prev = t;
	*head = t;
}

static void owner_unlink(struct iom_async_task *t)
{
	struct iom_sconn *c = t->owner;

	if (t->prev)
		t->prev->next = t->next;
	else
		c->async_tasks = t->next;
	if (t->next)
		t->next->prev = t->prev;
	c->async_pending--;
	t->owner = NULL;
}

static void done_append(struct iom_async *a, struct iom_async_task *t)
{
	t->next = NULL;
	t->prev = a->done_tail;
	if (a->done_tail)
		a->done_tail->next = t;
	else
		a->done_head = t;
	a->done_tail = t;
}

static void done_unlink(struct iom_async *a, struct iom_async_task *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		a->done_head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		a->done_tail = t->prev;
}

static void task_free(struct iom_async *a, struct iom_async_task *t)
{
	t->id = 0;
	t->phase = AS_FREE;
	a->free[a->nr_free++] = as_slot(a, t);
}

/* A pending task's service ended: it leaves its connection and joins the finished. */
static void task_finish(struct iom_async *a, struct iom_async_task *t, uint64_t now)
{
	owner_unlink(t);
	a->nr_pending--;
	a->nr_completed++;
	t->phase = AS_DONE;
	t->done_ns = now;
	done_append(a, t);
}

static void evict_oldest(struct iom_async *a)
{
	struct iom_async_task *t = a->done_head;

	done_unlink(a, t);
	a->nr_evicted++;
	task_free(a, t);
}

/* Before every answer: timed tasks now due are done; finished ones past the TTL go. */
static void as_advance(struct iom_async *a, uint64_t now)
{
	while (a->nr_heap && a->tasks[a->heap[0]].due_ns <= now) {
		struct iom_async_task *t = &a->tasks[a->heap[0]];

		heap_remove(a, 0);
		task_finish(a, t, t->due_ns);
	}
	while (a->done_head && now - a->done_head->done_ns > a->ttl_ns)
		evict_oldest(a);
}

/*
 * The clock, read under the lock and the store brought up to it: a time read before the lock
 * could be older than a worker's done time stamped meanwhile, and now - done_ns would wrap.
 */
static uint64_t as_now(struct iom_async *a)
{
	uint64_t now = iom_now_ns();

	as_advance(a, now);
	return now;
}

static struct iom_async_task *as_find(struct iom_async *a, uint64_t id)
{
	struct iom_async_task *t = &a->tasks[id & ((1u << AS_SLOT_BITS) - 1)];

	return id && (id & ((1u << AS_SLOT_BITS) - 1)) < a->nr_slots && t->id == id ? t : NULL;
}

/* -- the workers: --service cpu/file work -- */

static void *as_worker_main(void *arg)
{
	struct iom_async *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		struct iom_async_task *t;
		struct iom_rpc_hdr h;

		while (!a->q_len && !a->stop)
			pthread_cond_wait(&a->work, &a->lock);
		if (a->stop)
			break;
		t = &a->tasks[a->queue[a->q_head]];
		a->q_head = (a->q_head + 1) % a->nr_slots;
		a->q_len--;
		if (t->abandoned) {
			task_free(a, t);	/* its connection went while it queued */
			continue;
		}
		t->phase = AS_RUNNING;
		h = t->h;
		pthread_mutex_unlock(&a->lock);
		iom_server_service_run(a->srv, &h);
		pthread_mutex_lock(&a->lock);
		if (t->abandoned)
			task_free(a, t);
		else
			task_finish(a, t, iom_now_ns());
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/*
 * Started with the first work submitted (the store's lock held), so a server whose clients
 * never submit cpu/file work has no extra threads (the bench counts threads per connection).
 * If none can start, SUBMIT answers BUSY.
 */
static void as_start_workers(struct iom_async *a)
{
	while (a->nr_workers < AS_WORKERS &&
	       !pthread_create(&a->workers[a->nr_workers], NULL, as_worker_main, a))
		a->nr_workers++;
}

/*
 * A task id's upper 40 bits: the sequence number scrambled with the store's key, never 0. Any
 * client may ask about any id, so ids must not be guessable: a sequential one would let a
 * stranger read (and so consume) another client's result.
 */
static uint64_t as_tag(const struct iom_async *a, uint64_t seq)
{
	uint64_t tag = iom_mix64(seq ^ a->key) >> AS_SLOT_BITS;

	return tag ? tag : 1;
}

/*
 * The bytes the store holds now: a record per slot in use (a pending task, or a finished one
 * not yet read or evicted) and an index entry per task in the heap or the work queue. The free
 * stack's entries are free slots, held by nobody. Exact, where the server's RSS growth also
 * counts its connections and threads: the client's column divides it by the pending tasks.
 */
static uint64_t as_held_bytes(const struct iom_async *a)
{
	uint64_t used = a->nr_slots - a->nr_free;

	return used * sizeof(struct iom_async_task) +
	       (uint64_t)(a->nr_heap + a->q_len) * sizeof(uint32_t);
}

/* After a SUBMIT took a slot: a new peak of pending tasks records what the store holds. */
static void as_note_peak(struct iom_async *a)
{
	if (a->nr_pending <= a->pending_max)
		return;
	a->pending_max = a->nr_pending;
	a->bytes_at_max = as_held_bytes(a);
}

/* -- the answers -- */

static uint16_t as_submit(struct iom_async *a, struct iom_sconn *c, const struct iom_rpc_hdr *h,
			  struct iom_rpc_async *rep, uint64_t now)
{
	const struct iom_server_opts *o = &a->srv->opts;
	enum iom_service_kind kind = iom_server_service_kind(a->srv, h);
	struct iom_async_task *t;

	if (a->nr_pending >= o->max_pending || c->async_pending >= o->max_pending_conn)
		goto busy;
	if (kind == IOM_SERVICE_CPU || kind == IOM_SERVICE_FILE) {
		as_start_workers(a);	/* the first work: a server never given any has none */
		if (!a->nr_workers)
			goto busy;
	}
	if (!a->nr_free && a->done_head)
		evict_oldest(a);	/* the store is full of unread results: the oldest goes */
	if (!a->nr_free)
		goto busy;
	t = &a->tasks[a->free[--a->nr_free]];
	memset(t, 0, sizeof(*t));
	t->id = as_tag(a, ++a->seq) << AS_SLOT_BITS | as_slot(a, t);
	t->h = *h;
	t->owner = c;
	t->worker = kind == IOM_SERVICE_CPU || kind == IOM_SERVICE_FILE;
	list_add(&c->async_tasks, t);
	c->async_pending++;
	c->async = a;
	a->nr_pending++;
	a->nr_submitted++;
	rep->task = t->id;
	if (t->worker) {
		t->phase = AS_QUEUED;
		a->queue[(a->q_head + a->q_len++) % a->nr_slots] = as_slot(a, t);
		pthread_cond_signal(&a->work);
	} else {
		t->phase = AS_RUNNING;
		t->due_ns = now + iom_server_service_ns(a->srv, h);
		heap_set(a, a->nr_heap++, as_slot(a, t));
		heap_fix(a, a->nr_heap - 1);
	}
	as_note_peak(a);
	return IOM_RPC_ST_SCHEDULED << IOM_RPC_STATE_SHIFT;
busy:
	a->nr_busy++;
	return IOM_RPC_F_BUSY;
}

/* The state as the store shows it (--status-lag-us behind); COMPLETED is its one read. */
static uint16_t as_status(struct iom_async *a, uint64_t id, struct iom_rpc_async *rep,
			  uint64_t now)
{
	struct iom_async_task *t = as_find(a, id);
	unsigned int st;

	a->nr_polls++;
	rep->task = id;
	if (!t) {
		a->nr_unknown++;
		return IOM_RPC_ST_UNKNOWN << IOM_RPC_STATE_SHIFT;
	}
	if (t->phase == AS_DONE && now - t->done_ns >= a->lag_ns) {
		rep->aux = (now - t->done_ns) / 1000;
		done_unlink(a, t);
		a->nr_read++;
		task_free(a, t);
		return IOM_RPC_ST_COMPLETED << IOM_RPC_STATE_SHIFT;
	}
	st = t->phase == AS_QUEUED ? IOM_RPC_ST_SCHEDULED : IOM_RPC_ST_RUNNING;
	return (uint16_t)(st << IOM_RPC_STATE_SHIFT);
}

uint16_t iom_async_answer(struct iom_server *srv, struct iom_sconn *c, const struct iom_rpc_hdr *h,
			  const struct iom_rpc_async *req, struct iom_rpc_async *rep)
{
	struct iom_async *a = srv->async;
	uint16_t flags;
	uint64_t now;

	memset(rep, 0, sizeof(*rep));
	if (!a)
		return IOM_RPC_F_BUSY;
	pthread_mutex_lock(&a->lock);
	now = as_now(a);
	if (iom_rpc_type(h->flags) == IOM_RPC_SUBMIT)
		flags = as_submit(a, c, h, rep, now);
	else
		flags = as_status(a, req->task, rep, now);
	pthread_mutex_unlock(&a->lock);
	return flags;
}

/* Until it is visibly done: a timed task's due time; work's expected time, at most. */
static uint64_t as_wait_ns(struct iom_async *a, const struct iom_async_task *t, uint64_t now)
{
	uint64_t done;

	if (t->phase == AS_DONE)
		done = t->done_ns + a->lag_ns;
	else if (!t->worker)
		done = t->due_ns + a->lag_ns;
	else if (a->srv->opts.service == IOM_SERVICE_CPU)
		return (uint64_t)a->srv->opts.service_us * 1000 + a->lag_ns;
	else
		return AS_FILE_WAIT_US * 1000ull + a->lag_ns;
	return done > now ? done - now : 0;
}

uint32_t iom_async_wait_us(struct iom_server *srv, uint64_t id)
{
	struct iom_async *a = srv->async;
	const uint64_t max_ns = 60000000000ull;	/* the longest service a header may ask */
	struct iom_async_task *t;
	uint64_t now, ns = 0;

	if (!a)
		return 0;
	pthread_mutex_lock(&a->lock);
	now = as_now(a);
	t = as_find(a, id);
	if (t)
		ns = as_wait_ns(a, t, now);
	pthread_mutex_unlock(&a->lock);
	ns = ns < max_ns ? ns : max_ns;
	return (uint32_t)((ns + 999) / 1000);	/* rounded up: never answered before due */
}

void iom_async_abandon(struct iom_async *a, struct iom_sconn *c)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	while (c->async_tasks) {
		struct iom_async_task *t = c->async_tasks;

		owner_unlink(t);
		a->nr_pending--;
		a->nr_abandoned++;
		if (!t->worker) {
			heap_remove(a, t->heap_pos);
			task_free(a, t);
		} else {
			t->abandoned = true;	/* its worker (or queue entry) frees it */
		}
	}
	pthread_mutex_unlock(&a->lock);
}

void iom_async_write_counts(const struct iom_server *srv, FILE *f)
{
	struct iom_async *a = srv->async;

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	fprintf(f, "async_submitted=%llu\nasync_completed=%llu\nasync_abandoned=%llu\n"
		"async_pending=%u\nasync_read=%llu\nasync_evicted=%llu\nasync_busy=%llu\n"
		"async_unknown=%llu\nasync_polls=%llu\nasync_pending_max=%u\n"
		"async_bytes_at_max=%llu\n",
		(unsigned long long)a->nr_submitted, (unsigned long long)a->nr_completed,
		(unsigned long long)a->nr_abandoned, a->nr_pending,
		(unsigned long long)a->nr_read, (unsigned long long)a->nr_evicted,
		(unsigned long long)a->nr_busy, (unsigned long long)a->nr_unknown,
		(unsigned long long)a->nr_polls, a->pending_max,
		(unsigned long long)a->bytes_at_max);
	pthread_mutex_unlock(&a->lock);
}

int iom_async_init(struct iom_server *srv, struct iom_err *err)
{
	const struct iom_server_opts *o = &srv->opts;
	struct iom_async *a = calloc(1, sizeof(*a));

	if (!a)
		return iom_err_set(err, -ENOMEM, "serve: async store");
	srv->async = a;
	a->srv = srv;
	/* As many unread results as pending tasks: a poller's answers have room. */
	a->nr_slots = 2 * (o->max_pending ? o->max_pending : 1);
	a->lag_ns = (uint64_t)o->status_lag_us * 1000;
	a->ttl_ns = (uint64_t)o->status_ttl_ms * 1000000;
	if (getrandom(&a->key, sizeof(a->key), GRND_NONBLOCK) != sizeof(a->key))
		a->key = iom_now_ns();	/* no entropy yet: the clock, still not a sequence */
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->work, NULL);
	a->tasks = calloc(a->nr_slots, sizeof(*a->tasks));
	a->free = calloc(a->nr_slots, sizeof(*a->free));
	a->heap = calloc(a->nr_slots, sizeof(*a->heap));
	a->queue = calloc(a->nr_slots, sizeof(*a->queue));
	if (!a->tasks || !a->free || !a->heap || !a->queue)
		return iom_err_set(err, -ENOMEM, "serve: async store of %u tasks", a->nr_slots);
	for (uint32_t i = 0; i < a->nr_slots; i++)
		a->free[a->nr_free++] = a->nr_slots - 1 - i;
	return 0;
}

void iom_async_free(struct iom_server *srv)
{
	struct iom_async *a = srv->async;

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_broadcast(&a->work);
	pthread_mutex_unlock(&a->lock);
	for (unsigned int i = 0; i < a->nr_workers; i++)
		pthread_join(a->workers[i], NULL);
	pthread_cond_destroy(&a->work);
	pthread_mutex_destroy(&a->lock);
	free(a->tasks);
	free(a->free);
	free(a->heap);
	free(a->queue);
	free(a);
	srv->async = NULL;
}
