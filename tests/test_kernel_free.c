// SPDX-License-Identifier: MIT
/*
 * kernel_free: its submit queue and status store on their own, then the model through the
 * driver (iom_run_cell) in every variant, then by hand where the driver cannot reach (a full
 * queue, a cancel of a queued or running task, a deadline passing in the queue). Timing
 * assertions are upper bounds on throughput the physics guarantees (W workers each busy D per
 * timer task cannot do more than W/D) or lower bounds on latency, never targets.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/driver.h"
#include "core/model.h"
#include "kernel_free/kf.h"
#include "tests/helpers.h"

static char tmpdir[] = "/tmp/iom-test-kf-XXXXXX";
static struct iom_row row;
static struct iom_hist hist;
static const struct iom_model *kf;

static struct iom_cfg base_cfg(enum iom_wl_kind wl, unsigned int c)
{
	struct iom_cfg cfg = iomt_cfg(kf, wl, c, tmpdir);

	cfg.wl.seed = 11;
	cfg.tasks = wl == IOM_WL_TIMER ? 300 : 2000;
	return cfg;
}

static void run_ok(const struct iom_cfg *cfg)
{
	iomt_run_ok(cfg, &row, &hist);
}

static void run_all_completed(const struct iom_cfg *cfg)
{
	run_ok(cfg);
	if (row.num[IOM_COL_n_completed] != (double)cfg->tasks)
		fail_msg("kernel_free %s C=%u [%s]: %g of %" PRIu64 " completed",
			 iom_wl_name(cfg->wl.kind), cfg->concurrency, row.str[IOM_COL_variant],
			 row.num[IOM_COL_n_completed], cfg->tasks);
	assert_true(row.num[IOM_COL_submitted] == (double)cfg->tasks);
	assert_true(row.num[IOM_COL_n_late] == 0);
}

static bool has(const char *s)
{
	return strstr(row.str[IOM_COL_variant], s) != NULL;
}

/* --- the submit queue --- */

static void test_queue_bounded_fifo(void **state)
{
	struct kf_queue q;
	uint64_t v;

	assert_int_equal(kf_queue_init(&q, 5, 1), 0);
	assert_int_equal(kf_queue_capacity(&q), 8);
	/* Many laps around the ring: FIFO, full at capacity, empty when drained. */
	for (uint64_t lap = 0; lap < 100; lap++) {
		for (uint64_t i = 0; i < 8; i++)
			assert_true(kf_queue_push(&q, lap * 8 + i));
		assert_false(kf_queue_push(&q, 999));
		for (uint64_t i = 0; i < 8; i++) {
			assert_true(kf_queue_pop(&q, &v));
			assert_int_equal(v, lap * 8 + i);
		}
		assert_false(kf_queue_pop(&q, &v));
	}
	kf_queue_free(&q);
}

#define MPMC_PER_PRODUCER 20000

struct mpmc {
	struct kf_queue q;
	_Atomic bool stop;
	_Atomic uint64_t sum, count;
};

static void *mpmc_consumer(void *arg)
{
	struct mpmc *m = arg;
	struct kf_parker me = { .idle_pos = -1 };
	uint64_t v;

	while (kf_queue_pop_wait(&m->q, &me, &v, &m->stop)) {
		atomic_fetch_add(&m->sum, v);
		atomic_fetch_add(&m->count, 1);
	}
	return NULL;
}

struct producer {
	struct mpmc *m;
	uint64_t base;
};

static void *mpmc_producer(void *arg)
{
	struct producer *p = arg;

	for (uint64_t i = 1; i <= MPMC_PER_PRODUCER; i++) {
		/* Full: let the consumers run (the driver backs off the same way). */
		while (!kf_queue_push(&p->m->q, p->base + i))
			kf_queue_wake(&p->m->q, 1), sched_yield();
		kf_queue_wake(&p->m->q, 1);
	}
	return NULL;
}

/* Two producers, three blocking consumers, a small ring: nothing lost, nothing twice. */
static void test_queue_mpmc(void **state)
{
	struct mpmc m = { 0 };
	struct producer p[2] = { { &m, 0 }, { &m, 1000000 } };
	pthread_t prod[2], cons[3];
	uint64_t want = 0;

	assert_int_equal(kf_queue_init(&m.q, 16, 3), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&cons[i], NULL, mpmc_consumer, &m), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&prod[i], NULL, mpmc_producer, &p[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(prod[i], NULL);
	while (atomic_load(&m.count) < 2 * MPMC_PER_PRODUCER)
		usleep(1000);
	atomic_store(&m.stop, true);
	kf_queue_wake_all(&m.q);
	for (int i = 0; i < 3; i++)
		pthread_join(cons[i], NULL);
	for (uint64_t i = 1; i <= MPMC_PER_PRODUCER; i++)
		want += i + (1000000 + i);
	assert_int_equal(atomic_load(&m.count), 2 * MPMC_PER_PRODUCER);
	assert_int_equal(atomic_load(&m.sum), want);
	kf_queue_free(&m.q);
}

struct fanout {
	struct kf_queue q;
	_Atomic bool stop;
	_Atomic unsigned int busy, busy_max, done;
};

static void *fanout_consumer(void *arg)
{
	struct fanout *f = arg;
	struct kf_parker me = { .idle_pos = -1 };
	uint64_t v;

	while (kf_queue_pop_wait(&f->q, &me, &v, &f->stop)) {
		unsigned int b = atomic_fetch_add(&f->busy, 1) + 1, max = atomic_load(&f->busy_max);

		while (b > max && !atomic_compare_exchange_weak(&f->busy_max, &max, b))
			;
		usleep(50000);	/* a blocking call: this consumer is out of the game */
		atomic_fetch_sub(&f->busy, 1);
		atomic_fetch_add(&f->done, 1);
	}
	return NULL;
}

/*
 * A batch of 4 items and a single wake-up for it: every consumer that takes one and leaves
 * more behind wakes the next before it blocks, so all 4 run at once, not one after another.
 */
static void test_queue_fans_out(void **state)
{
	struct fanout f = { 0 };
	pthread_t th[4];

	assert_int_equal(kf_queue_init(&f.q, 8, 4), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, fanout_consumer, &f), 0);
	/* All four parked (or about to be): the batch arrives to a sleeping pool. */
	while (atomic_load(&f.q.nr_idle_pub) < 4)
		usleep(1000);
	for (uint64_t i = 0; i < 4; i++)
		assert_true(kf_queue_push(&f.q, i));
	kf_queue_wake(&f.q, 1);
	while (atomic_load(&f.done) < 4)
		usleep(1000);
	atomic_store(&f.stop, true);
	kf_queue_wake_all(&f.q);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&f.busy_max), 4);
	kf_queue_free(&f.q);
}

/* --- the status store --- */

static void test_status_keyed_by_id(void **state)
{
	struct kf_store s;
	struct kf_status *e;
	uint32_t out[4];

	assert_int_equal(kf_store_init(&s, 4), 0);
	e = &s.entries[2];
	kf_status_queued(e, 7);
	/* An id from the slot's past (seq 6) or future (seq 8) is not this task. */
	assert_false(kf_status_take(e, 6));
	assert_false(kf_status_take(e, 8));
	assert_true(kf_status_take(e, 7));
	assert_false(kf_status_take(e, 7));
	assert_int_equal(kf_word_st(kf_status_read(e)), KF_ST_RUNNING);
	/* Dropped while queued: the worker that pops the id later skips it. */
	kf_status_queued(e, 9);
	assert_true(kf_status_move(e, 9, KF_ST_QUEUED, KF_ST_DROPPED));
	assert_false(kf_status_take(e, 9));
	/* A cancel loses to a call that returned first. */
	kf_status_queued(e, 10);
	assert_true(kf_status_take(e, 10));
	kf_status_done(e, 10, KF_ST_DONE, 4096, 1);
	assert_false(kf_status_move(e, 10, KF_ST_RUNNING, KF_ST_CANCEL));
	assert_int_equal(e->res, 4096);
	/* The completion list hands slots back oldest first. */
	kf_done_push(&s.done, 3);
	kf_done_push(&s.done, 0);
	kf_done_push(&s.done, 2);
	assert_int_equal(kf_done_take(&s.done, out), 3);
	assert_int_equal(out[0], 3);
	assert_int_equal(out[1], 0);
	assert_int_equal(out[2], 2);
	assert_int_equal(kf_done_take(&s.done, out), 0);
	kf_store_free(&s);
}

struct pinger {
	struct kf_store *s;
	_Atomic unsigned int taken;
};

static void *pinger_main(void *arg)
{
	struct pinger *p = arg;

	for (unsigned int i = 0; i < 2000; i++) {
		while (atomic_load(&p->taken) < i)
			;	/* the test's own ping-pong; the model never spins */
		kf_done_push(&p->s->done, i % 4);
	}
	return NULL;
}

/*
 * The submitter sleeps on the list while a worker pushes, 2000 times with every interleaving
 * the scheduler offers: a lost wake-up would leave the wait to its 2 s timeout.
 */
static void test_status_no_lost_wakeup(void **state)
{
	struct kf_store s;
	struct pinger p = { .s = &s };
	pthread_t th;
	uint32_t out[4];

	assert_int_equal(kf_store_init(&s, 4), 0);
	assert_int_equal(pthread_create(&th, NULL, pinger_main, &p), 0);
	for (unsigned int i = 0; i < 2000; i++) {
		uint64_t t0 = iom_now_ns();
		unsigned int n;

		while (!(n = kf_done_take(&s.done, out))) {
			kf_done_wait(&s.done, t0 + 2000000000ull);
			assert_true(iom_now_ns() - t0 < 2000000000ull);
		}
		assert_int_equal(n, 1);
		atomic_store(&p.taken, i + 1);
	}
	pthread_join(th, NULL);
	kf_store_free(&s);
}

/* --- the model through the driver --- */

/* Every variant conserves tasks and completes them all: pool x notify x W, nop/timer/file. */
static void test_variants_conserve(void **state)
{
	static const enum iom_wl_kind wls[] = { IOM_WL_NOP, IOM_WL_TIMER, IOM_WL_FILE };
	static const unsigned int ws[] = { 1, 4, 16 };

	for (int pool = 0; pool < 2; pool++)
		for (int notify = 0; notify < 2; notify++)
			for (size_t w = 0; w < 3; w++)
				for (size_t k = 0; k < 3; k++) {
					struct iom_cfg cfg = base_cfg(wls[k], 32);
					char want[32];

					iomt_kfo.pool = pool ? IOM_POOL_PER_FD : IOM_POOL_SHARED;
					iomt_kfo.notify = notify ? IOM_NOTIFY_POLL : IOM_NOTIFY_WAIT;
					iomt_kfo.workers = ws[w];
					cfg.verify = wls[k] == IOM_WL_FILE;
					run_all_completed(&cfg);
					/* per-fd ignores W: one fd (or none), one worker. */
					snprintf(want, sizeof(want), ",W=%u,", pool ? 1 : ws[w]);
					assert_true(has(want));
					assert_true(has(pool ? "per-fd" : "shared"));
					assert_true(has(notify ? "poll=50us,polls/task=" :
								 ",wait"));
				}
}

/*
 * Watch this process's threads while a cell runs: every kernel_free worker ("kf-wrk-N") and
 * submitter ("iom-sub-N") must be allowed only the CPUs asked for and run with 1 ns timer slack
 * (read from /proc, as top would).
 */
struct thread_watch {
	atomic_bool stop;
	const char *want_cpus;
	unsigned int nr_seen, nr_wrong_cpus, nr_wrong_slack;
	char wrong[128];
};

static bool proc_line(const char *path, const char *key, char *buf, size_t len)
{
	char line[256];
	FILE *f = fopen(path, "re");
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key))) {
			snprintf(buf, len, "%s", line + strlen(key) + strspn(line + strlen(key), " \t"));
			buf[strcspn(buf, " \t\n")] = '\0';
			found = true;
		}
	fclose(f);
	return found;
}

static void watch_once(struct thread_watch *w)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[300], comm[32] = "", cpus[64], slack[32];

		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		if (!proc_line(path, "", comm, sizeof(comm)) ||
		    (strncmp(comm, "kf-wrk-", 7) && strncmp(comm, "iom-sub-", 8)))
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", e->d_name);
		if (!proc_line(path, "Cpus_allowed_list:", cpus, sizeof(cpus)))
			continue;	/* the thread ended meanwhile */
		/* Per thread only under /proc/TID (task/TID has no timerslack_ns). */
		snprintf(path, sizeof(path), "/proc/%s/timerslack_ns", e->d_name);
		if (!proc_line(path, "", slack, sizeof(slack)))
			continue;
		w->nr_seen++;
		if (strcmp(cpus, w->want_cpus)) {
			w->nr_wrong_cpus++;
			snprintf(w->wrong, sizeof(w->wrong), "%s: cpus %s", comm, cpus);
		}
		if (strcmp(slack, "1")) {
			w->nr_wrong_slack++;
			snprintf(w->wrong, sizeof(w->wrong), "%s: timer slack %s ns", comm, slack);
		}
	}
	closedir(d);
}

static void *watch_main(void *arg)
{
	struct thread_watch *w = arg;

	while (!atomic_load(&w->stop)) {
		struct timespec ts = { 0, 2000000 };

		watch_once(w);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* Default options: W = C, and more submitters each get their own pool. */
static void test_defaults_and_jobs(void **state)
{
	struct iom_cfg cfg = base_cfg(IOM_WL_TIMER, 32);
	struct thread_watch w = { .want_cpus = "0" };
	pthread_t watcher;

	run_all_completed(&cfg);
	assert_true(has("shared,W=32,wait"));
	cfg.jobs = 3;
	cfg.wl.kind = IOM_WL_NOP;
	cfg.tasks = 3000;
	run_all_completed(&cfg);
	assert_true(row.num[IOM_COL_jobs] == 3);
	/* Pinned: submitter and workers run on CPU 0 only (and with 1 ns slack), seen in /proc. */
	cfg.jobs = 0;
	iomt_kfo.workers = 4;
	cfg.wl.kind = IOM_WL_TIMER;
	cfg.wl.latency_ns = 1000000;
	cfg.tasks = 400;
	CPU_ZERO(&cfg.cpus);
	CPU_SET(0, &cfg.cpus);
	cfg.cpus_set = true;
	snprintf(cfg.cpus_str, sizeof(cfg.cpus_str), "0");
	assert_int_equal(pthread_create(&watcher, NULL, watch_main, &w), 0);
	run_all_completed(&cfg);
	atomic_store(&w.stop, true);
	assert_int_equal(pthread_join(watcher, NULL), 0);
	assert_string_equal(row.str[IOM_COL_cpus], "0");
	print_message("pinned: %u looks at threads, %u on other CPUs, %u with other slack\n",
		      w.nr_seen, w.nr_wrong_cpus, w.nr_wrong_slack);
	if (!w.nr_seen)
		fail_msg("no kf-wrk thread seen in /proc/self/task during a 0.1 s cell");
	if (w.nr_wrong_cpus || w.nr_wrong_slack)
		fail_msg("%s", w.wrong);
}

/* The share of reads done inline, from the variant's "inline=N%". */
static double inline_pct(void)
{
	const char *p = strstr(row.str[IOM_COL_variant], "inline=");

	if (!p)
		fail_msg("no inline=N%% in the variant: %s", row.str[IOM_COL_variant]);
	return strtod(p + 7, NULL);
}

/* --nowait-first: cached reads finish inline, the rest through the pool; bytes verified. */
static void test_nowait_first(void **state)
{
	for (int notify = 0; notify < 2; notify++)
		for (int pool = 0; pool < 2; pool++) {
			struct iom_cfg cfg = base_cfg(IOM_WL_FILE, 32);

			iomt_kfo.nowait_first = true;
			cfg.verify = true;
			iomt_kfo.workers = 4;
			iomt_kfo.notify = notify ? IOM_NOTIFY_POLL : IOM_NOTIFY_WAIT;
			iomt_kfo.pool = pool ? IOM_POOL_PER_FD : IOM_POOL_SHARED;
			run_all_completed(&cfg);
			assert_true(has(",nowait-first"));
			/* The file was just written: its pages are cached, every read is inline. */
			if (inline_pct() < 90)
				fail_msg("warm file: %s", row.str[IOM_COL_variant]);
		}
	/* Its pages dropped first (--cold): the misses went to the pool. */
	{
		struct iom_cfg cfg = base_cfg(IOM_WL_FILE, 32);

		iomt_kfo.nowait_first = true;
		cfg.verify = true;
		cfg.wl.cold = true;
		run_all_completed(&cfg);
		if (!(inline_pct() < 100))
			fail_msg("cold file: %s", row.str[IOM_COL_variant]);
	}
	/* Not for O_DIRECT (the call would wait for the device anyway) nor for writes. */
	{
		struct iom_cfg cfg = base_cfg(IOM_WL_FILE, 8);

		iomt_kfo.nowait_first = true;
		cfg.wl.direct = true;
		cfg.verify = true;
		run_all_completed(&cfg);
		assert_true(has("nowait-first:n/a(O_DIRECT)"));
		cfg.wl.direct = false;
		cfg.wl.write = true;
		cfg.verify = false;
		run_all_completed(&cfg);
		assert_true(has("nowait-first:n/a(write)"));
	}
}

/*
 * W workers each busy D per timer task cannot finish more than W/D tasks a second, whatever
 * C: an upper bound the physics guarantees (1.3 x for the window's edges).
 */
static void test_workers_bound_throughput(void **state)
{
	static const unsigned int ws[] = { 1, 4, 16 };
	const double d_s = 0.005;

	for (size_t i = 0; i < 3; i++) {
		struct iom_cfg cfg = base_cfg(IOM_WL_TIMER, 32);

		iomt_kfo.workers = ws[i];
		cfg.wl.latency_ns = 5000000;
		cfg.tasks = 20 * ws[i];
		run_all_completed(&cfg);
		if (row.num[IOM_COL_ops_per_s] > 1.3 * ws[i] / d_s)
			fail_msg("W=%u C=32 D=5ms: %.0f ops/s > 1.3 x W/D = %.0f", ws[i],
				 row.num[IOM_COL_ops_per_s], 1.3 * ws[i] / d_s);
		/* Every task took its full D once a worker had it. */
		assert_true(hist.min >= 5000000);
	}
}

/*
 * per-fd: a single file is a single worker, so the pool serialises it whatever W and C say.
 * With the file workload that shows as the variant (1 fd, W=1); with the timer, where each
 * task holds the worker for D, as the same W/D bound with W = 1.
 */
static void test_per_fd_serialises(void **state)
{
	struct iom_cfg cfg = base_cfg(IOM_WL_FILE, 8);

	iomt_kfo.pool = IOM_POOL_PER_FD;
	iomt_kfo.workers = 16;
	cfg.verify = true;
	run_all_completed(&cfg);
	assert_true(has("per-fd(1 fd),W=1,"));

	cfg = base_cfg(IOM_WL_TIMER, 8);
	iomt_kfo.pool = IOM_POOL_PER_FD;
	iomt_kfo.workers = 16;
	cfg.wl.latency_ns = 5000000;
	cfg.tasks = 20;
	run_all_completed(&cfg);
	assert_true(has("per-fd(no fd: 1 stream),W=1,"));
	assert_true(row.num[IOM_COL_ops_per_s] <= 1.3 / 0.005);
}

/*
 * A deadline below the timer: every task EXPIRED at its deadline, and with a worker per task
 * every one of them was running, so every worker's answer comes back late, counted, never lost.
 */
static void test_deadline_expired_then_late(void **state)
{
	for (int notify = 0; notify < 2; notify++) {
		struct iom_cfg cfg = base_cfg(IOM_WL_TIMER, 8);

		iomt_kfo.notify = notify ? IOM_NOTIFY_POLL : IOM_NOTIFY_WAIT;
		cfg.wl.latency_ns = 100000000;
		cfg.deadline_ns = 20000000;
		cfg.tasks = 16;
		run_ok(&cfg);
		assert_true(row.num[IOM_COL_n_expired] == 16);
		assert_true(row.num[IOM_COL_n_late] == 16);
		assert_true(row.num[IOM_COL_n_completed] == 0);
		/* EXPIRED at the deadline, not when the worker came back. */
		assert_true(hist.min >= 20000000);
		assert_true(hist.max < 100000000);
	}
	/* W < C: tasks also expire in the queue; those are dropped, and never run late. */
	{
		struct iom_cfg cfg = base_cfg(IOM_WL_TIMER, 8);

		iomt_kfo.workers = 2;
		cfg.wl.latency_ns = 50000000;
		cfg.deadline_ns = 10000000;
		cfg.tasks = 16;
		run_ok(&cfg);
		assert_true(row.num[IOM_COL_n_expired] == 16);
		assert_true(row.num[IOM_COL_n_late] >= 2);
		assert_true(row.num[IOM_COL_n_late] < 16);
	}
}

/* A small queue: the model answers BUSY, the driver retries, no task is lost. */
static void test_queue_full_loses_nothing(void **state)
{
	unsigned int saved = kf_queue_cap_max;
	static const enum iom_wl_kind wls[] = { IOM_WL_NOP, IOM_WL_TIMER, IOM_WL_FILE };

	kf_queue_cap_max = 4;
	for (size_t k = 0; k < 3; k++)
		for (int notify = 0; notify < 2; notify++) {
			struct iom_cfg cfg = base_cfg(wls[k], 64);

			iomt_kfo.workers = 1;
			iomt_kfo.notify = notify ? IOM_NOTIFY_POLL : IOM_NOTIFY_WAIT;
			cfg.wl.latency_ns = 50000;
			run_all_completed(&cfg);
		}
	kf_queue_cap_max = saved;
}

/* --- by hand --- */

struct hand {
	struct iom_cfg cfg;
	struct iom_workload wl;
	struct iom_task tasks[16];
	struct iom_ctx ctx;
	uint64_t seq;
};

static void hand_init(struct hand *h, unsigned int depth, unsigned int workers)
{
	struct iom_err err = { "" };

	memset(h, 0, sizeof(*h));
	h->cfg = base_cfg(IOM_WL_TIMER, depth);
	iomt_kfo.workers = workers;
	assert_int_equal(iom_workload_open(&h->wl, &h->cfg.wl, &err), 0);
	h->ctx.cfg = &h->cfg;
	h->ctx.wl = &h->wl;
	h->ctx.depth = depth;
	h->ctx.tasks = h->tasks;
	for (unsigned int i = 0; i < depth; i++)
		h->tasks[i].slot = i;
	assert_int_equal(kf->setup(&h->ctx), 0);
}

static int hand_submit(struct hand *h, unsigned int slot, uint64_t latency_ns, uint64_t dl_ns)
{
	struct iom_task *t = &h->tasks[slot];
	uint64_t now = iom_now_ns();
	int ret;

	iom_task_init(t, iom_task_id(++h->seq, slot), now, dl_ns ? now + dl_ns : 0);
	iom_workload_next(&h->wl, h->seq, t);
	t->latency_ns = latency_ns;
	iom_task_start(t, now);
	ret = kf->submit(&h->ctx, t);
	if (ret == IOM_Q_BUSY)
		iom_task_requeue(t);
	kf->flush(&h->ctx);
	return ret;
}

/* Until the worker has taken the task in slot (RUNNING in the status store), at most 2 s. */
static void hand_wait_running(struct hand *h, unsigned int slot)
{
	struct kf_ctx *priv = h->ctx.priv;
	uint64_t t0 = iom_now_ns();

	while (kf_word_st(kf_status_read(&priv->store.entries[slot])) != KF_ST_RUNNING) {
		assert_true(iom_now_ns() - t0 < 2000000000ull);
		usleep(100);
	}
}

/* Reap until n tasks in all were reported, at most 2 s. */
static void hand_reap_until(struct hand *h, uint64_t n)
{
	uint64_t t0 = iom_now_ns();

	while (h->ctx.nr_reported < n) {
		assert_true(kf->reap(&h->ctx, 1, h->ctx.depth, 100000000) >= 0);
		assert_true(iom_now_ns() - t0 < 2000000000ull);
	}
}

static void hand_fini(struct hand *h)
{
	kf->teardown(&h->ctx);
	assert_null(h->ctx.priv);
	iom_workload_close(&h->wl);
}

/*
 * One worker held by a long timer; the next tasks wait in the queue. Cancel a queued one:
 * ABORTED, reported without waiting for anyone. Cancel the running one: ABORTED, its worker's
 * sleep is cut short, reported with no late answer (nothing came back).
 */
static void test_cancel_queued_and_running(void **state)
{
	struct hand h;

	hand_init(&h, 4, 1);
	assert_int_equal(hand_submit(&h, 0, 5000000000ull, 0), IOM_Q_QUEUED);
	hand_wait_running(&h, 0);
	assert_int_equal(hand_submit(&h, 1, 5000000000ull, 0), IOM_Q_QUEUED);
	assert_int_equal(kf->reap(&h.ctx, 0, 4, 0), 0);
	assert_int_equal(kf->cancel(&h.ctx, &h.tasks[1]), 0);
	assert_int_equal(atomic_load(&h.tasks[1].state), IOM_ABORTED);
	hand_reap_until(&h, 1);
	assert_int_equal(atomic_load(&h.tasks[0].state), IOM_RUNNING);

	assert_int_equal(kf->cancel(&h.ctx, &h.tasks[0]), 0);
	assert_int_equal(atomic_load(&h.tasks[0].state), IOM_ABORTED);
	hand_reap_until(&h, 2);
	assert_int_equal(atomic_load(&h.tasks[0].nr_late), 0);
	assert_int_equal(atomic_load(&h.tasks[1].nr_late), 0);
	hand_fini(&h);
}

/*
 * A deadline passing while the task waits in the queue: EXPIRED at the deadline and reported
 * at once, while the worker is still busy with the task ahead of it.
 */
static void test_deadline_in_queue(void **state)
{
	struct hand h;
	uint64_t t0;

	hand_init(&h, 4, 1);
	t0 = iom_now_ns();
	assert_int_equal(hand_submit(&h, 0, 300000000, 0), IOM_Q_QUEUED);
	hand_wait_running(&h, 0);
	assert_int_equal(hand_submit(&h, 1, 1000000, 10000000), IOM_Q_QUEUED);
	hand_reap_until(&h, 1);
	assert_int_equal(atomic_load(&h.tasks[1].state), IOM_EXPIRED);
	assert_true(h.tasks[1].t_end_ns >= h.tasks[1].deadline_ns);
	assert_true(iom_now_ns() - t0 < 300000000);
	assert_int_equal(atomic_load(&h.tasks[0].state), IOM_RUNNING);
	hand_reap_until(&h, 2);
	assert_int_equal(atomic_load(&h.tasks[0].state), IOM_COMPLETED);
	assert_int_equal(atomic_load(&h.tasks[1].nr_late), 0);
	hand_fini(&h);
}

/* The queue fills: BUSY, nothing taken; after cancels and reaps every slot comes back. */
static void test_busy_by_hand(void **state)
{
	unsigned int saved = kf_queue_cap_max, queued = 0;
	struct hand h;

	kf_queue_cap_max = 4;
	hand_init(&h, 16, 1);
	for (unsigned int i = 0; i < 16; i++) {
		int ret = hand_submit(&h, i, 5000000000ull, 0);

		if (ret == IOM_Q_BUSY) {
			assert_int_equal(atomic_load(&h.tasks[i].state), IOM_SCHEDULED);
			break;
		}
		assert_int_equal(ret, IOM_Q_QUEUED);
		queued++;
	}
	/* 4 cells, and at most the one id the worker popped. */
	assert_true(queued >= 4 && queued <= 5);
	for (unsigned int i = 0; i < queued; i++)
		assert_int_equal(kf->cancel(&h.ctx, &h.tasks[i]), 0);
	hand_reap_until(&h, queued);
	for (unsigned int i = 0; i < queued; i++)
		assert_int_equal(atomic_load(&h.tasks[i].state), IOM_ABORTED);
	hand_fini(&h);
	kf_queue_cap_max = saved;
}

static int setup_dir(void **state)
{
	kf = iom_model_find("kernel_free");
	return kf && mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	iomt_rm_tree(tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_bounded_fifo),
		cmocka_unit_test(test_queue_mpmc),
		cmocka_unit_test(test_queue_fans_out),
		cmocka_unit_test(test_status_keyed_by_id),
		cmocka_unit_test(test_status_no_lost_wakeup),
		cmocka_unit_test(test_variants_conserve),
		cmocka_unit_test(test_defaults_and_jobs),
		cmocka_unit_test(test_nowait_first),
		cmocka_unit_test(test_workers_bound_throughput),
		cmocka_unit_test(test_per_fd_serialises),
		cmocka_unit_test(test_deadline_expired_then_late),
		cmocka_unit_test(test_queue_full_loses_nothing),
		cmocka_unit_test(test_cancel_queued_and_running),
		cmocka_unit_test(test_deadline_in_queue),
		cmocka_unit_test(test_busy_by_hand),
	};

	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
