// SPDX-License-Identifier: MIT
/*
 * kernel_free's second failure domain: the workers. W threads per submitter, made in setup,
 * each taking a task id from the submit queue, marking it RUNNING in the status store, making
 * the task's blocking call and recording the outcome there, then handing the slot to the
 * submitter. An idle worker sleeps in the kernel, parked on its own futex; none ever spins.
 *
 * A worker never moves the task's own state: the submitter does that in ->reap, from what the
 * status store says. So a deadline or a cancel that ends a task early never races a worker on
 * the task; the worker's answer simply arrives late and is counted as such.
 */
#include <errno.h>
#include <sys/socket.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel_free/futex.h"
#include "kernel_free/kf.h"

/* Small stacks, as the driver gives its threads: memory per worker is part of the story. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KF_STACK_BYTES	(1u << 20)
#else
#define KF_STACK_BYTES	(128u << 10)
#endif

/* seq_cst: pairs with kf_workers_stop(), which sets stop and then looks for RUNNING entries. */
static bool kf_stopping(struct kf_ctx *kf)
{
	return atomic_load_explicit(&kf->stop, memory_order_seq_cst);
}

/*
 * The timer task: wait until end_ns, unless the submitter cancels the call (or the pool
 * stops). A futex wait on the entry's kick word with an absolute CLOCK_MONOTONIC end is
 * clock_nanosleep(TIMER_ABSTIME) with a door: the same hrtimer and 1 ns slack, but a cancel
 * can end it without the lost-signal window a pthread_kill() would have between our look at
 * the status and the sleep. Returns 0 when the time came, -ECANCELED when cut short.
 */
static int64_t kf_sleep_until(struct kf_ctx *kf, struct kf_status *e, uint64_t end_ns)
{
	for (;;) {
		/* Key first, then the status: a kick after the key read fails the futex wait. */
		uint32_t key = atomic_load_explicit(&e->kick, memory_order_acquire);

		if (kf_word_st(kf_status_read(e)) == KF_ST_CANCEL || kf_stopping(kf))
			return -ECANCELED;
		if (kf_futex_wait(&e->kick, key, end_ns) == ETIMEDOUT || iom_now_ns() >= end_ns)
			return 0;
	}
}

/* pread/pwrite from where the task stands (a NOWAIT read may have done a part inline). */
static int64_t kf_rw(struct kf_ctx *kf, const struct iom_task *t)
{
	uint32_t done = t->done_bytes;

	while (done < t->len) {
		char *buf = (char *)t->buf + done;
		size_t n = t->len - done;
		off_t off = (off_t)(t->offset + done);
		ssize_t ret = t->op == IOM_OP_READ ? pread(t->fd, buf, n, off) :
						     pwrite(t->fd, buf, n, off);

		if (ret < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (uint32_t)ret;
		if (ret == 0 || !kf->resubmit)
			break;
		if (done < t->len)
			atomic_fetch_add_explicit(&kf->nr_resubmit, 1, memory_order_relaxed);
	}
	return done;
}

/* rpc, --fault kill-worker: the request goes out, then the worker dies before the answer. */
static void kf_rpc_send_only(const struct iom_task *t)
{
	size_t sent = 0;

	while (sent < t->len) {
		ssize_t n = send(t->fd, (const char *)t->buf + sent, t->len - sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;
		sent += (size_t)n;
	}
}

/*
 * --fault kill-worker: the worker dies in the middle of its task, holding it. pthread_exit and
 * not a crash, which would take the process with it, but the pool learns of it the same way:
 * only from the kernel (the thread is gone), never from the worker, which records nothing.
 */
static void kf_die(void) __attribute__((noreturn));
static void kf_die(void)
{
	pthread_exit(NULL);
}

/*
 * rpc: the worker makes the blocking call a sync client would: send the request, wait for the
 * whole echo. If the task's deadline passes meanwhile the submitter has already called it
 * EXPIRED; the worker still reads the late answer, so the connection never carries a stale
 * reply into the slot's next task, and the answer is counted late. A connection that failed or
 * that the backend closed is replaced here, by the worker that owns the slot's call.
 */
static int64_t kf_rpc_call(const struct iom_task *t)
{
	size_t sent = 0, got = 0;

	while (sent < t->len) {
		ssize_t n = send(t->fd, (const char *)t->buf + sent, t->len - sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		sent += (size_t)n;
	}
	while (got < t->len) {
		ssize_t n = recv(t->fd, (char *)t->buf + got, t->len - got, MSG_WAITALL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)	/* the backend closed: a short answer, or none at all */
			return got ? (int64_t)got : -ECONNRESET;
		got += (size_t)n;
	}
	return (int64_t)got;
}

static int64_t kf_rpc(struct kf_ctx *kf, struct iom_task *t)
{
	int64_t res = kf_rpc_call(t);

	if (iom_rpc_conn_broken(res, t->len) && !iom_rpc_reconnect(kf->addr, &t->fd))
		atomic_fetch_add_explicit(&kf->nr_reconnects, 1, memory_order_relaxed);
	return res;
}

static void kf_run(struct kf_ctx *kf, struct kf_worker *w, uint64_t id)
{
	uint32_t slot = iom_id_slot(id);
	uint64_t seq = iom_id_seq(id);
	enum kf_st st = KF_ST_DONE;
	struct iom_live *live = kf->cfg->live;
	struct kf_status *e;
	struct iom_task *t;
	int64_t res = 0;

	if (slot >= kf->depth || kf_stopping(kf))
		return;
	e = &kf->store.entries[slot];
	/* Dropped by a deadline or a cancel while queued, or an id from the slot's past. */
	if (!kf_status_take(e, seq)) {
		/* Out of the queue, never at a worker: the view's stages still add up. */
		iom_live_count(live, IOM_LIVE_TAKEN, 1);
		iom_live_count(live, IOM_LIVE_STORED, 1);
		return;
	}
	iom_live_count(live, IOM_LIVE_TAKEN, 1);
	t = &kf->tasks[slot];
	w->holding_seq = seq;
	w->holding = slot;
	if (kf_word_st(kf_status_read(e)) == KF_ST_CANCEL) {
		st = KF_ST_CUT;		/* cancelled between our take and the call */
	} else if (t->fault_kind & IOM_FAULT_KILL) {
		/* Half of the task, then death: what was done is done, its answer is lost. */
		switch (t->op) {
		case IOM_OP_NOP:
			syscall(SYS_getppid);
			break;
		case IOM_OP_TIMER:
			kf_sleep_until(kf, e, iom_now_ns() + t->latency_ns / 2);
			break;
		case IOM_OP_READ:
		case IOM_OP_WRITE:
			kf_rw(kf, t);
			break;
		case IOM_OP_RPC:
			kf_rpc_send_only(t);
			break;
		}
		kf_die();
	} else {
		switch (t->op) {
		case IOM_OP_NOP:
			/* The cheapest real system call, as the threads model makes. */
			syscall(SYS_getppid);
			break;
		case IOM_OP_TIMER:
			/*
			 * The remote call starts when a worker makes it, not when it was
			 * queued: with W < C a task waits its turn, then takes its full D.
			 */
			res = kf_sleep_until(kf, e, iom_now_ns() + t->latency_ns);
			if (res == -ECANCELED)
				st = KF_ST_CUT;
			break;
		case IOM_OP_READ:
		case IOM_OP_WRITE:
			res = kf_rw(kf, t);
			break;
		case IOM_OP_RPC:
			res = iom_rpc_result(t->buf, kf_rpc(kf, t), t->len);
			break;
		}
	}
	w->holding = KF_NIL;
	/* Before the status is published: the submitter may report it at once. */
	iom_live_count(live, IOM_LIVE_STORED, 1);
	kf_status_done(e, seq, st, res, iom_now_ns());
	/* From here the slot may be reported and reused: touch neither e nor t again. */
	if (!kf->poll)
		kf_done_push(&kf->store.done, slot);
}

static void *kf_worker_main(void *arg)
{
	struct kf_worker *w = arg;
	struct kf_ctx *kf = w->kf;
	const struct iom_cfg *cfg = kf->cfg;
	char name[16];
	uint64_t id;
	int err = 0;

	/* Both are inherited from the submitter already; set again, so no worker can differ. */
	prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
	if (cfg->cpus_set && sched_setaffinity(0, sizeof(cfg->cpus), &cfg->cpus))
		err = errno;
	/* A name the probes and top can tell apart from submitters and io-wq workers. */
	snprintf(name, sizeof(name), "kf-wrk-%u", w->index);
	pthread_setname_np(pthread_self(), name);
	iom_live_thread(cfg->live, gettid(), IOM_LIVE_WORKER, w->index);

	pthread_mutex_lock(&kf->start_lock);
	if (err && !kf->start_err)
		kf->start_err = err;
	kf->nr_started++;
	pthread_cond_signal(&kf->start_cond);
	pthread_mutex_unlock(&kf->start_lock);

	while (kf_queue_pop_wait(&kf->q, &w->parker, &id, &kf->stop))
		kf_run(kf, w, id);
	return NULL;
}

static void kf_worker_init(struct kf_worker *w)
{
	w->parker.idle_pos = -1;
	atomic_init(&w->parker.parked, 0);
	w->holding = KF_NIL;
	w->gone = false;
}

int kf_worker_restart(struct kf_worker *w)
{
	pthread_attr_t attr;
	int ret;

	/* The dead one held no place in the parking lot: it died running a task. */
	kf_worker_init(w);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, KF_STACK_BYTES);
	ret = pthread_create(&w->thread, &attr, kf_worker_main, w);
	pthread_attr_destroy(&attr);
	if (ret)
		w->gone = true;
	return ret;
}

int kf_workers_start(struct kf_ctx *kf, struct iom_err *err)
{
	unsigned int made = 0;
	pthread_attr_t attr;
	int ret = 0;

	kf->workers = calloc(kf->nr_workers, sizeof(*kf->workers));
	if (!kf->workers)
		return iom_err_set(err, -ENOMEM, "kernel_free: %u workers", kf->nr_workers);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, KF_STACK_BYTES);
	for (; made < kf->nr_workers; made++) {
		struct kf_worker *w = &kf->workers[made];

		w->kf = kf;
		w->index = made;
		kf_worker_init(w);
		ret = pthread_create(&w->thread, &attr, kf_worker_main, w);
		if (ret) {
			ret = iom_err_set(err, -ret, "kernel_free: pthread_create worker %u of %u",
					  made + 1, kf->nr_workers);
			break;
		}
	}
	pthread_attr_destroy(&attr);
	/* Wait for every worker made: none is half-started when the window opens. */
	pthread_mutex_lock(&kf->start_lock);
	while (kf->nr_started < made)
		pthread_cond_wait(&kf->start_cond, &kf->start_lock);
	if (!ret && kf->start_err)
		ret = iom_err_set(err, -kf->start_err, "kernel_free: worker sched_setaffinity %s",
				  kf->cfg->cpus_str);
	pthread_mutex_unlock(&kf->start_lock);
	if (ret) {
		kf->nr_workers = made;
		kf_workers_stop(kf);
	}
	return ret;
}

void kf_workers_stop(struct kf_ctx *kf)
{
	if (!kf->workers)
		return;
	atomic_store_explicit(&kf->stop, true, memory_order_seq_cst);
	kf_queue_wake_all(&kf->q);
	/* A worker still inside a timer (a drain that gave up) is cut short too. */
	for (unsigned int i = 0; i < kf->store.nr; i++) {
		enum kf_st st = kf_word_st(atomic_load(&kf->store.entries[i].word));

		if (st == KF_ST_RUNNING || st == KF_ST_CANCEL)
			kf_status_kick(&kf->store.entries[i]);
	}
	for (unsigned int i = 0; i < kf->nr_workers; i++)
		if (!kf->workers[i].gone)
			pthread_join(kf->workers[i].thread, NULL);
	free(kf->workers);
	kf->workers = NULL;
}
