// SPDX-License-Identifier: MIT
/*
 * The eBPF probes against what the kernel and the clock say: blocked time of timer tasks against
 * the time measured inside the calls, on-CPU time of a busy loop, on-CPU + run-queue time against
 * /proc/<pid>/task/<tid>/schedstat, exact syscall counts, io_uring submitted == completed with
 * punts for IOSQE_ASYNC, ramp and drain left out, the timeline's intervals, and a run as nobody
 * that goes on without probes. Loading BPF needs root: elsewhere these tests skip (and fail
 * under IOM_TEST_STRICT=1).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/driver.h"
#include "core/model.h"
#include "core/probe.h"
#include "tests/helpers.h"

static char tmpdir[] = "/tmp/iom-test-probes-XXXXXX";
static struct iom_row row;
static struct iom_hist hist;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void need_root(void)
{
	if (geteuid() != 0)
		iom_skip("BPF probes need root (euid %u)", (unsigned int)geteuid());
}

/* Open the probes on this process, or skip saying why they are unavailable. */
static struct iom_probe *probe_open(const char *list, const char *cell)
{
	struct iom_probe_opts opts = { .list = list, .tgid = getpid(), .out_dir = tmpdir,
				       .cell = cell };
	struct iom_err err = { "" };
	struct iom_probe *p;

	need_root();
	p = iom_probe_open(&opts, &err);
	if (!p)
		iom_skip("probes unavailable: %s", err.msg);
	return p;
}

/* The row of a per-thread file for tid, or -1. */
static int csv_tid_row(const struct iomt_csv *c, pid_t tid)
{
	for (int r = 1; r < c->nr; r++)
		if (atoi(c->f[r][0]) == tid)
			return r;
	return -1;
}

/* metric,value files (uring): the value of metric, NAN when absent. */
static double csv_metric(const struct iomt_csv *c, const char *metric)
{
	for (int r = 1; r < c->nr; r++)
		if (c->nf[r] >= 2 && !strcmp(c->f[r][0], metric))
			return strtod(c->f[r][1], NULL);
	return NAN;
}

static void cell_path(char *path, size_t len, const char *cell, const char *suffix)
{
	snprintf(path, len, "%s/probes-%s%s.csv", tmpdir, cell, suffix);
}

static struct iom_cfg threads_cfg(unsigned int c, uint64_t latency_ns)
{
	struct iom_cfg cfg;

	iom_cfg_init(&cfg);
	cfg.model = iom_model_find("threads");
	cfg.wl.latency_ns = latency_ns;
	cfg.wl.seed = 7;
	cfg.concurrency = c;
	cfg.batch_complete = 1;
	cfg.probes = "sched";
	cfg.out_dir = tmpdir;
	return cfg;
}

/* Run a cell with probes; skip when they are unavailable. */
static void run_probed(struct iom_cfg *cfg)
{
	int ret;

	need_root();
	assert_non_null(cfg->model);
	ret = iom_run_cell(cfg, &row, &hist);
	assert_int_equal(ret, 0);
	if (strcmp(row.str[IOM_COL_status], "ok"))
		fail_msg("status %s: %s", row.str[IOM_COL_status], row.str[IOM_COL_reason]);
	if (!strncmp(row.str[IOM_COL_probes], "unavailable", 11))
		iom_skip("probes %s", row.str[IOM_COL_probes]);
	assert_string_equal(row.str[IOM_COL_probes], cfg->probes);
	assert_false(isnan(row.num[IOM_COL_probe_lost]));
}

/*
 * 200 x 5 ms timer tasks on one thread: the time spent inside the calls is blocked time, plus the
 * wait for a CPU after each wake-up and a little on-CPU time. On a busy shared machine the
 * run-queue part grows (a CI run once lost >10% there), so the sum is what must agree; blocked
 * time alone must still be most of it.
 */
static void test_timer_blocked_time(void **state)
{
	struct iom_cfg cfg = threads_cfg(1, 5000000);
	double tasks, measured, blocked, oncpu, runq;

	cfg.tasks = 200;
	cfg.row_index = 100;
	run_probed(&cfg);
	tasks = row.num[IOM_COL_tasks];
	assert_true(tasks == 200);
	measured = row.num[IOM_COL_n_samples] * row.num[IOM_COL_lat_mean_ns];
	blocked = row.num[IOM_COL_blocked_ns_per_task] * tasks;
	oncpu = row.num[IOM_COL_oncpu_ns_per_task] * tasks;
	runq = row.num[IOM_COL_runq_ns_per_task] * tasks;
	print_message("blocked %.0f + run queue %.0f + on-CPU %.0f ns vs %.0f ns inside the calls "
		      "(%+.2f%%), lost %.0f\n", blocked, runq, oncpu, measured,
		      100 * (blocked + runq + oncpu - measured) / measured,
		      row.num[IOM_COL_probe_lost]);
	assert_true(fabs(blocked + runq + oncpu - measured) <= 0.10 * measured);
	assert_true(blocked >= 0.5 * measured);
	assert_true(oncpu < 0.1e9);
	assert_true(row.num[IOM_COL_wakeups_per_task] >= 0.9);
	/* Not asked for: the probes' own run time stays empty. */
	assert_true(isnan(row.num[IOM_COL_probe_run_ns_per_task]));
	assert_true(isnan(row.num[IOM_COL_probe_runs_per_task]));
}

/*
 * bpf-stats: the kernel's BPF statistics count the probes' own runs. One thread sleeping 100 x
 * 1 ms runs the sched programs at least twice a task (its wake-up, its switch in; its switch out
 * too, unless the CPU goes straight to another of ours), whatever else the machine does; each
 * run takes some time, and all of them together far less than the tasks themselves.
 */
static void test_bpf_stats_runs(void **state)
{
	struct iom_cfg cfg = threads_cfg(1, 1000000);
	double runs, ns;

	cfg.probes = "sched,bpf-stats";
	cfg.tasks = 100;
	cfg.row_index = 101;
	run_probed(&cfg);
	runs = row.num[IOM_COL_probe_runs_per_task];
	ns = row.num[IOM_COL_probe_run_ns_per_task];
	print_message("probe runs per task %.2f, %.0f ns per task (%.0f ns per run)\n", runs, ns,
		      ns / runs);
	assert_true(runs >= 2.0);
	assert_true(ns > 0 && ns < 0.5 * row.num[IOM_COL_lat_mean_ns]);
}

/*
 * The sched probe keeps a thread's record in an array slot by tid, and a thread whose slot
 * another live thread holds in task storage. With two slots, one per tid parity: this thread
 * holds its parity's slot while it waits, so a sleeper of the same parity falls back to task
 * storage; two sleepers of the other parity, one after the other, take the same slot, freed at
 * the first one's last switch. Each one's record must be its own: blocked for its 100 x 1 ms
 * sleeps (no more than the time measured around them), 100 switches out blocking, not the sum
 * of two threads (a slot not cleared when freed) and not missing (a slot never freed).
 */
struct slot_sleeper {
	int parity;		/* sleep only with a tid of this parity, else exit at once */
	pid_t tid;
	bool slept;
	uint64_t inside_ns;	/* measured around the sleeps */
};

static void *slot_sleeper_main(void *arg)
{
	struct slot_sleeper *sl = arg;
	struct timespec ts = { 0, 1000000 };
	uint64_t t0;

	sl->tid = (pid_t)syscall(SYS_gettid);
	if ((sl->tid & 1) != sl->parity)
		return NULL;
	t0 = now_ns();
	for (int i = 0; i < 100; i++)
		nanosleep(&ts, NULL);
	sl->inside_ns = now_ns() - t0;
	sl->slept = true;
	return NULL;
}

/* A thread that slept with a tid of this parity (threads of the other exit at once). */
static void slot_sleeper_run(struct slot_sleeper *sl, int parity)
{
	/* Long enough for a joined thread's last switch, which comes after the join returns. */
	struct timespec settle = { 0, 20000000 };

	for (int tries = 0; tries < 64; tries++) {
		pthread_t t;

		memset(sl, 0, sizeof(*sl));
		sl->parity = parity;
		assert_int_equal(pthread_create(&t, NULL, slot_sleeper_main, sl), 0);
		pthread_join(t, NULL);
		nanosleep(&settle, NULL);
		if (sl->slept)
			return;
	}
	fail_msg("no thread with a tid of parity %d in 64 tries", parity);
}

static void test_sched_slots_shared(void **state)
{
	struct iom_probe_opts opts = { .list = "sched", .tgid = getpid(), .out_dir = tmpdir,
				       .cell = "slots", .sched_slots = 2 };
	struct iom_err err = { "" };
	int other = !(syscall(SYS_gettid) & 1);
	struct slot_sleeper sl[3];
	uint64_t claimed, fallback;
	struct iom_probe *p;
	char path[256];
	struct iomt_csv c;

	need_root();
	p = iom_probe_open(&opts, &err);
	if (!p)
		iom_skip("probes unavailable: %s", err.msg);
	iom_row_init(&row);
	iom_probe_window(p, true);
	slot_sleeper_run(&sl[0], other);
	slot_sleeper_run(&sl[1], other);
	slot_sleeper_run(&sl[2], !other);
	iom_probe_window(p, false);
	iom_probe_fill_row(p, &row, 1);
	assert_int_equal(iom_probe_sched_slots(p, &claimed, &fallback), 0);
	iom_probe_close(p);

	print_message("slots taken %" PRIu64 ", task storage %" PRIu64 "\n", claimed, fallback);
	/* This thread and the two sleepers of the other parity; the third sleeper at least. */
	assert_true(claimed >= 3);
	assert_true(fallback >= 1);
	cell_path(path, sizeof(path), "slots", "");
	iomt_csv_load(&c, path);
	for (int i = 0; i < 3; i++) {
		int r = csv_tid_row(&c, sl[i].tid);
		double blocked, nvcsw;

		assert_true(r > 0);
		blocked = iomt_csv_num(&c, r, "blocked_ns");
		nvcsw = iomt_csv_num(&c, r, "nvcsw");
		print_message("tid %d: blocked %.0f ns of %" PRIu64 " ns inside, %.0f switches out\n",
			      sl[i].tid, blocked, sl[i].inside_ns, nvcsw);
		/*
		 * At least the 100 sleeps of 1 ms (a record missing or cleared is 0), at most the
		 * time measured around them (two threads' sum is twice that). Not "within 10% of
		 * it": on a loaded machine the time inside is also spent waiting for a CPU (CI saw
		 * 107 ms blocked of 126 ms inside).
		 */
		assert_true(blocked >= 0.95 * 100 * 1e6);
		assert_true(blocked <= 1.02 * (double)sl[i].inside_ns);
		assert_true(nvcsw >= 100 && nvcsw < 150);
	}
	iomt_csv_free(&c);
}

/*
 * kernel_free, 256 timer tasks of 1 ms in flight on one CPU: its 256 workers spend much of the
 * time parked, waiting for work (the one CPU is shared with the submitter that feeds them).
 * They park with the idle futex bitset (core/idle.h), so that sleep is blocked_idle_ns, not
 * time blocked on a task. A worker sleeps at most a task's 1 ms on it (less when the task
 * waited in the queue: on a loaded machine often not at all), so the workers' time blocked on
 * tasks is about tasks x 1 ms, plus the timers' overshoot and waits for the pool's locks: 1.03–
 * 1.06 ms per task here, 1.44–1.78 ms under TSan, whose slower lock holders keep waiters asleep
 * longer (a bound of 1.3 ms failed CI's TSan stage). Counting the parked workers as time on tasks
 * made it 2.4 ms per task (48 s for 20000 tasks) with 0 idle, so what tells the two apart is
 * idle's share of the workers' sleep: 35-58% here, 80-88% under TSan, 0 before. The bound on
 * time blocked on tasks is only a sanity check: a few times the tasks' 1 ms, never more.
 */
static void test_idle_workers_apart(void **state)
{
	struct iom_cfg cfg = threads_cfg(256, 1000000);
	double tasks, idle = 0, on_task = 0;
	char path[256];
	struct iomt_csv c;

	cfg.model = iom_model_find("kernel_free");
	cfg.tasks = 20000;
	cfg.row_index = 102;
	CPU_ZERO(&cfg.cpus);
	CPU_SET(0, &cfg.cpus);
	cfg.cpus_set = true;
	snprintf(cfg.cpus_str, sizeof(cfg.cpus_str), "0");
	run_probed(&cfg);
	tasks = row.num[IOM_COL_tasks];
	cell_path(path, sizeof(path), "row102", "-roles");
	iomt_csv_load(&c, path);
	for (int r = 1; r < c.nr; r++)
		if (!strcmp(c.f[r][0], "worker")) {
			idle = iomt_csv_num(&c, r, "blocked_idle_ns");
			on_task = iomt_csv_num(&c, r, "blocked_task_ns");
		}
	iomt_csv_free(&c);
	print_message("%.0f tasks of 1 ms; workers: %.3f s idle, %.3f s blocked on tasks; blocked "
		      "%.0f ns per task\n", tasks, idle / 1e9, on_task / 1e9,
		      row.num[IOM_COL_blocked_ns_per_task]);
	assert_true(tasks > 0);
	assert_true(idle > 0.1 * (idle + on_task));
	assert_true(on_task <= 4.0 * tasks * 1e6);
}

/*
 * A kernel_free worker's sleep in a timer task is time blocked on that task, not idle: 4 timer
 * tasks of 1 ms in flight, so each is picked up at once and its worker sleeps most of its 1 ms.
 * The timed futex wait once carried the idle bitset, and the probe booked these sleeps as idle:
 * 0.000 s blocked on tasks for 400 tasks.
 */
static void test_worker_task_sleep_not_idle(void **state)
{
	struct iom_cfg cfg = threads_cfg(4, 1000000);
	double tasks, on_task = NAN;
	char path[256];
	struct iomt_csv c;

	cfg.model = iom_model_find("kernel_free");
	cfg.tasks = 400;
	cfg.row_index = 103;
	run_probed(&cfg);
	tasks = row.num[IOM_COL_tasks];
	cell_path(path, sizeof(path), "row103", "-roles");
	iomt_csv_load(&c, path);
	for (int r = 1; r < c.nr; r++)
		if (!strcmp(c.f[r][0], "worker"))
			on_task = iomt_csv_num(&c, r, "blocked_task_ns");
	iomt_csv_free(&c);
	print_message("%.0f tasks of 1 ms: workers blocked %.3f s on tasks\n", tasks, on_task / 1e9);
	assert_true(tasks == 400);
	assert_true(on_task >= 0.5 * tasks * 1e6);
	assert_true(on_task <= 1.3 * tasks * 1e6);
}

struct busy_arg {
	uint64_t busy_ns;
	bool thread_cpu;	/* busy_ns of this thread's CPU time, not of wall-clock time */
	int cpu;		/* pin here first (-1: no) */
	pid_t tid;
	sem_t done, release;
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Spin, say so, then stay alive (blocked) until released, so its schedstat is still there. */
static void *busy_main(void *p)
{
	struct busy_arg *a = p;
	uint64_t end;

	a->tid = (pid_t)syscall(SYS_gettid);
	if (a->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(a->cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	end = (a->thread_cpu ? thread_cpu_ns() : now_ns()) + a->busy_ns;
	while ((a->thread_cpu ? thread_cpu_ns() : now_ns()) < end)
		__asm__ __volatile__("" ::: "memory");
	sem_post(&a->done);
	while (sem_wait(&a->release) && errno == EINTR)
		;
	return NULL;
}

static void busy_start(struct busy_arg *a, pthread_t *t, uint64_t ns, bool thread_cpu, int cpu)
{
	a->busy_ns = ns;
	a->thread_cpu = thread_cpu;
	a->cpu = cpu;
	sem_init(&a->done, 0, 0);
	sem_init(&a->release, 0, 0);
	assert_int_equal(pthread_create(t, NULL, busy_main, a), 0);
}

static void busy_wait_done(struct busy_arg *a)
{
	while (sem_wait(&a->done) && errno == EINTR)
		;
}

static void busy_finish(struct busy_arg *a, pthread_t t)
{
	sem_post(&a->release);
	pthread_join(t, NULL);
	sem_destroy(&a->done);
	sem_destroy(&a->release);
}

/*
 * A 300 ms busy loop inside the window is >= 0.28 s on-CPU. The loop counts its thread's CPU
 * time, not wall-clock time: on a shared machine a wall-clock loop may be preempted for longer
 * than the 20 ms margin.
 */
static void test_busy_loop_oncpu(void **state)
{
	struct iom_probe *p = probe_open("sched", "busy");
	struct busy_arg a;
	char path[256];
	struct iomt_csv c;
	pthread_t t;
	int r;

	iom_row_init(&row);
	iom_probe_window(p, true);
	busy_start(&a, &t, 300000000, true, -1);
	busy_wait_done(&a);
	iom_probe_window(p, false);
	busy_finish(&a, t);
	iom_probe_fill_row(p, &row, 1);
	iom_probe_close(p);
	print_message("on-CPU %.0f ns for a 300 ms busy loop\n", row.num[IOM_COL_oncpu_ns_per_task]);
	assert_true(row.num[IOM_COL_oncpu_ns_per_task] >= 0.28e9);

	cell_path(path, sizeof(path), "busy", "");
	iomt_csv_load(&c, path);
	r = csv_tid_row(&c, a.tid);
	assert_true(r > 0);
	assert_true(iomt_csv_num(&c, r, "oncpu_ns") >= 0.28e9);
	assert_true(iomt_csv_num(&c, r, "blocked_ns") < 0.02e9);
	iomt_csv_free(&c);
}

static void *spin_main(void *p)
{
	struct busy_arg *a = p;

	a->tid = (pid_t)syscall(SYS_gettid);
	sem_post(&a->done);
	while (!__atomic_load_n(&a->busy_ns, __ATOMIC_RELAXED))
		__asm__ __volatile__("" ::: "memory");
	return NULL;
}

/*
 * A thread that spins through the whole window and is still spinning when the probes collect:
 * its record stops at its last switch-out (with plain sched, maybe before the window), and the
 * window's on-CPU time must come from the kernel's figures at the window's end, not be counted
 * in the state it was last switched out in (the first cut said 0 ns on-CPU, all run queue).
 */
static void test_spin_across_window(void **state)
{
	struct iom_probe *p = probe_open("sched", "spin");
	struct busy_arg a = { 0 };
	struct timespec ts = { 0, 200000000 };
	double oncpu, runq;
	char path[256];
	struct iomt_csv c;
	pthread_t t;
	int r;

	iom_row_init(&row);
	sem_init(&a.done, 0, 0);
	assert_int_equal(pthread_create(&t, NULL, spin_main, &a), 0);
	busy_wait_done(&a);
	iom_probe_window(p, true);
	nanosleep(&ts, NULL);
	iom_probe_window(p, false);
	iom_probe_fill_row(p, &row, 1);
	__atomic_store_n(&a.busy_ns, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	sem_destroy(&a.done);
	iom_probe_close(p);

	cell_path(path, sizeof(path), "spin", "");
	iomt_csv_load(&c, path);
	r = csv_tid_row(&c, a.tid);
	assert_true(r > 0);
	oncpu = iomt_csv_num(&c, r, "oncpu_ns");
	runq = iomt_csv_num(&c, r, "runq_ns");
	print_message("spinning through a 200 ms window: on-CPU %.0f ns, run queue %.0f ns\n",
		      oncpu, runq);
	/* On a loaded machine it shares a CPU, but it is never blocked. */
	assert_true(oncpu + runq >= 0.18e9);
	assert_true(oncpu >= 0.06e9);
	assert_true(iomt_csv_num(&c, r, "blocked_ns") < 0.02e9);
	iomt_csv_free(&c);
}

/*
 * Two threads pinned to one CPU take turns (so both wait on the run queue), a third sleeps in
 * 1 ms steps: each one's on-CPU + run-queue time agrees with the kernel's schedstat within 10%
 * (plus a few microseconds per wake-up, see below).
 * (The split between the two differs: the kernel charges a wake-up's last stretch, up to the
 * switch, to on-CPU time; the tracepoints see the switch itself.)
 */
static void *sleeper_main(void *p)
{
	struct busy_arg *a = p;
	struct timespec ts = { 0, 1000000 };

	a->tid = (pid_t)syscall(SYS_gettid);
	for (int i = 0; i < 200; i++)
		nanosleep(&ts, NULL);
	sem_post(&a->done);
	while (sem_wait(&a->release) && errno == EINTR)
		;
	return NULL;
}

static void schedstat_agrees(const char *list, double frac, double per_wakeup_ns)
{
	struct iom_probe *p = probe_open(list, "schedstat");
	struct busy_arg a[3];
	pthread_t t[3];
	char path[256];
	struct iomt_csv c;
	int checked = 0;

	iom_row_init(&row);
	iom_probe_window(p, true);
	busy_start(&a[0], &t[0], 150000000, true, 0);
	busy_start(&a[1], &t[1], 150000000, true, 0);
	sem_init(&a[2].done, 0, 0);
	sem_init(&a[2].release, 0, 0);
	assert_int_equal(pthread_create(&t[2], NULL, sleeper_main, &a[2]), 0);
	for (int i = 0; i < 3; i++)
		busy_wait_done(&a[i]);
	iom_probe_window(p, false);
	for (int i = 0; i < 3; i++)
		busy_finish(&a[i], t[i]);
	iom_probe_fill_row(p, &row, 1);
	iom_probe_close(p);

	cell_path(path, sizeof(path), "schedstat", "");
	iomt_csv_load(&c, path);
	for (int i = 0; i < 3; i++) {
		int r = csv_tid_row(&c, a[i].tid);
		double ours, kernel;

		assert_true(r > 0);
		ours = iomt_csv_num(&c, r, "oncpu_ns") + iomt_csv_num(&c, r, "runq_ns");
		kernel = iomt_csv_num(&c, r, "schedstat_oncpu_ns") + iomt_csv_num(&c, r, "schedstat_runq_ns");
		print_message("tid %d: on-CPU + run-queue %.0f ns, schedstat %.0f ns (%+.2f%%), "
			      "run queue %.0f ns, %.0f wake-ups\n", a[i].tid, ours, kernel,
			      100 * (ours - kernel) / kernel, iomt_csv_num(&c, r, "runq_ns"),
			      iomt_csv_num(&c, r, "wakeups"));
		assert_false(isnan(kernel));
		assert_true(fabs(ours - kernel) <= frac * kernel +
						       per_wakeup_ns * iomt_csv_num(&c, r, "wakeups"));
		checked++;
	}
	/* The pinned pair waited for each other. */
	assert_true(iomt_csv_num(&c, csv_tid_row(&c, a[0].tid), "runq_ns") > 20e6);
	assert_true(checked == 3);
	iomt_csv_free(&c);
}

/*
 * sched (accounted at switch-outs from the kernel's own sum_exec_runtime and run_delay): the
 * sum agrees by construction, 3% and 1 us per wake-up. (A first cut that followed switch-ins
 * and took a woken thread's wait from run_delay alone left the sleeper 4.7 us per wake-up
 * short here, -39%, inside the old bound.)
 */
static void test_schedstat_agrees(void **state)
{
	schedstat_agrees("sched", 0.03, 1000.0);
}

/*
 * sched-full: the tracepoints' timestamps and the kernel's rq clock read the time at
 * different points of each transition, which on a busy shared CI machine once left the
 * 200-wake-up sleeper 1.6 us per wake-up apart (+14.7% of its 2.2 ms): 10% and 5 us per wake-up.
 */
static void test_schedstat_agrees_full(void **state)
{
	schedstat_agrees("sched-full", 0.10, 5000.0);
}

static void *getppid_main(void *p)
{
	pid_t *tid = p;

	*tid = (pid_t)syscall(SYS_gettid);
	for (int i = 0; i < 10000; i++)
		syscall(SYS_getppid);
	return NULL;
}

/* 10000 getppid calls in a thread are counted exactly. */
static void test_syscalls_exact(void **state)
{
	struct iom_probe *p = probe_open("syscalls", "syscalls");
	char path[256];
	pid_t tid = 0;
	struct iomt_csv c;
	pthread_t t;
	double n = NAN, total = NAN;

	iom_row_init(&row);
	iom_probe_window(p, true);
	assert_int_equal(pthread_create(&t, NULL, getppid_main, &tid), 0);
	pthread_join(t, NULL);
	iom_probe_window(p, false);
	iom_probe_fill_row(p, &row, 10000);
	iom_probe_close(p);

	cell_path(path, sizeof(path), "syscalls", "-syscalls");
	iomt_csv_load(&c, path);
	for (int r = 1; r < c.nr; r++) {
		if (c.nf[r] >= 3 && !strcmp(c.f[r][1], "getppid"))
			n = strtod(c.f[r][2], NULL);
		if (c.nf[r] >= 3 && !strcmp(c.f[r][1], "total"))
			total = strtod(c.f[r][2], NULL);
	}
	iomt_csv_free(&c);
	print_message("getppid %.0f, all %.0f, syscalls per task %.4f\n", n, total,
		      row.num[IOM_COL_syscalls_per_task]);
	assert_true(n == 10000);
	assert_true(total >= 10000);
	assert_true(fabs(row.num[IOM_COL_syscalls_per_task] * 10000 - total) < 0.5);
}

/*
 * N NOPs with IOSQE_ASYNC, all punted to io-wq. With uring-lat: submitted == completed == N and
 * the sampled latency matched every completion. With the lean uring probe: the punts are counted,
 * and no per-request figure is claimed (the inline column stays empty).
 */
static void uring_punts(const char *list)
{
	enum { N = 256, BATCH = 32 };
	struct iom_probe *p = probe_open(list, list);
	bool lifecycle = strcmp(list, "uring-lat") == 0;
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	char path[256];
	struct iomt_csv c;
	int ret, seen = 0;

	ret = io_uring_queue_init(64, &ring, 0);
	if (ret < 0) {
		iom_probe_close(p);
		iom_skip("io_uring_queue_init: %s", strerror(-ret));
	}
	iom_row_init(&row);
	iom_probe_window(p, true);
	for (int b = 0; b < N / BATCH; b++) {
		for (int i = 0; i < BATCH; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			io_uring_prep_nop(sqe);
			sqe->flags |= IOSQE_ASYNC;
			io_uring_sqe_set_data64(sqe, (uint64_t)(b * BATCH + i) + 1);
		}
		assert_int_equal(io_uring_submit_and_wait(&ring, BATCH), BATCH);
		for (int i = 0; i < BATCH; i++) {
			assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
			assert_int_equal(cqe->res, 0);
			io_uring_cqe_seen(&ring, cqe);
			seen++;
		}
	}
	iom_probe_window(p, false);
	iom_probe_fill_row(p, &row, N);
	iom_probe_close(p);
	io_uring_queue_exit(&ring);
	assert_int_equal(seen, N);

	cell_path(path, sizeof(path), list, "-uring");
	iomt_csv_load(&c, path);
	print_message("%s: submitted %.0f completed %.0f punted %.0f lat_punted_n %.0f\n", list,
		      csv_metric(&c, "submitted"), csv_metric(&c, "completed"),
		      csv_metric(&c, "punted"), csv_metric(&c, "lat_punted_n"));
	assert_true(csv_metric(&c, "lifecycle") == lifecycle);
	assert_true(csv_metric(&c, "punted") == N);
	assert_true(row.num[IOM_COL_uring_punted] == N);
	if (lifecycle) {
		assert_true(csv_metric(&c, "submitted") == N);
		assert_true(csv_metric(&c, "completed") == N);
		assert_true(csv_metric(&c, "lat_unmatched") == 0);
		assert_true(row.num[IOM_COL_uring_inline] == 0);
	} else {
		assert_true(isnan(csv_metric(&c, "submitted")));
		assert_true(isnan(row.num[IOM_COL_uring_inline]));
	}
	iomt_csv_free(&c);
}

static void test_uring_punts(void **state)
{
	uring_punts("uring-lat");
	uring_punts("uring");
}

/* Every thread's accounted time fits in the window: nothing of the ramp or the drain. */
static void check_fits_window(const char *cell, double window_ns)
{
	char path[256];
	struct iomt_csv c;

	cell_path(path, sizeof(path), cell, "");
	iomt_csv_load(&c, path);
	assert_true(c.nr > 1);
	for (int r = 1; r < c.nr; r++) {
		double sum = iomt_csv_num(&c, r, "oncpu_ns") + iomt_csv_num(&c, r, "blocked_ns") +
			     iomt_csv_num(&c, r, "runq_ns");

		if (sum > window_ns * 1.02 + 2e6)
			fail_msg("%s: tid %s accounts %.0f ns in a %.0f ns window", cell,
				 c.f[r][0], sum, window_ns);
	}
	iomt_csv_free(&c);
}

/* A long ramp changes nothing per task; the drain is outside too. */
static void test_ramp_drain_excluded(void **state)
{
	struct iom_cfg cfg = threads_cfg(2, 2000000);
	double blocked[2], oncpu[2], runq[2], lat[2];

	cfg.runtime_ns = 400000000;
	for (int i = 0; i < 2; i++) {
		cfg.ramp_ns = i ? 600000000 : 0;
		cfg.row_index = 200 + (unsigned int)i;
		run_probed(&cfg);
		blocked[i] = row.num[IOM_COL_blocked_ns_per_task];
		oncpu[i] = row.num[IOM_COL_oncpu_ns_per_task];
		runq[i] = row.num[IOM_COL_runq_ns_per_task];
		lat[i] = row.num[IOM_COL_lat_mean_ns];
		print_message("ramp %.0f ms: blocked %.0f + on-CPU %.0f + run queue %.0f ns/task, "
			      "latency %.0f ns\n", (double)cfg.ramp_ns / 1e6, blocked[i], oncpu[i],
			      runq[i], lat[i]);
		/* Each thread runs one task after another: its time per task is the latency. */
		assert_true(fabs(blocked[i] + oncpu[i] + runq[i] - lat[i]) <= 0.10 * lat[i]);
	}
	/*
	 * The same figures per task, as fractions of the task's latency: counting the 600 ms
	 * ramp (1.2 thread-seconds over ~400 tasks) would add ~1.5 latencies to the second run.
	 * (Not blocked[1] vs blocked[0] in ns: a loaded CI machine stretched one run's 2 ms
	 * timers to 2.3 ms blocked and 3.6 ms latency, the other's not.)
	 */
	assert_true(fabs((blocked[1] + oncpu[1] + runq[1]) / lat[1] -
			 (blocked[0] + oncpu[0] + runq[0]) / lat[0]) <= 0.10);
	/* On-CPU per task is small and load-sensitive (36 vs 114 us once): a loose check. */
	assert_true(oncpu[1] < 3 * oncpu[0] + 200000 && oncpu[0] < 3 * oncpu[1] + 200000);
	check_fits_window("row200", 400e6);
	check_fits_window("row201", 400e6);
}

/*
 * The timeline: intervals inside its first 100 ms, never overlapping within a thread (CI's TSan
 * stage once saw an overlap: the writer now cuts them and counts the cuts).
 */
static void test_timeline(void **state)
{
	struct iom_cfg cfg = threads_cfg(2, 1000000);
	bool cut_seen = false;
	char tl[256];
	struct iomt_csv c;
	int rows = 0;

	snprintf(tl, sizeof(tl), "%s/timeline.csv", tmpdir);
	cfg.tasks = 300;
	cfg.timeline = tl;
	cfg.row_index = 300;
	run_probed(&cfg);
	iomt_csv_load(&c, tl);
	assert_true(c.nr > 100);
	assert_string_equal(c.f[0][0], "tid");
	assert_string_equal(c.f[0][2], "state");
	for (int r = 1; r < c.nr; r++) {
		double start = iomt_csv_num(&c, r, "start_ns"), end = iomt_csv_num(&c, r, "end_ns");

		assert_true(start >= 0 && end > start && end <= 100e6);
		/* Rows are sorted by start: a thread's next interval starts after this one. */
		for (int q = r + 1; q < c.nr; q++)
			if (!strcmp(c.f[q][0], c.f[r][0])) {
				assert_true(iomt_csv_num(&c, q, "start_ns") >= end);
				break;
			}
		rows++;
	}
	iomt_csv_free(&c);
	assert_true(rows > 100);
	/* Overlaps the writer had to cut are counted, zero or not (core/timeline.h). */
	cell_path(tl, sizeof(tl), "row300", "-lost");
	iomt_csv_load(&c, tl);
	for (int r = 1; r < c.nr; r++)
		if (!strcmp(c.f[r][0], "timeline_overlaps_cut")) {
			print_message("%d timeline rows, %s overlaps cut\n", rows, c.f[r][1]);
			cut_seen = true;
		}
	iomt_csv_free(&c);
	assert_true(cut_seen);
}

/* As nobody: "probes: unavailable: ..." once on stderr, and the run still makes its row. */
static void test_unavailable_as_nobody(void **state)
{
	const char *bin = getenv("IOM_BIN");
	char dir[256], copy[300], out[300], err_path[300], line[512];
	bool said = false;
	int status, lines = 0;
	pid_t pid;
	FILE *f;

	need_root();
	if (!bin || access(bin, X_OK))
		iom_skip("IOM_BIN (the iomodels binary) not set or not executable");
	snprintf(dir, sizeof(dir), "%s/nobody", tmpdir);
	assert_int_equal(mkdir(dir, 0777), 0);
	assert_int_equal(chmod(tmpdir, 0755), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	/* A copy nobody can run wherever the tree lives. */
	snprintf(copy, sizeof(copy), "%s/iomodels", dir);
	snprintf(line, sizeof(line), "cp '%s' '%s' && chmod 755 '%s'", bin, copy, copy);
	assert_int_equal(system(line), 0);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(err_path, sizeof(err_path), "%s/stderr", dir);

	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0666);

		if (fd < 0 || dup2(fd, 2) < 0 || chdir(dir))
			_exit(126);
		execl("/usr/bin/setpriv", "setpriv", "--reuid=65534", "--regid=65534",
		      "--clear-groups", copy, "run", "--model", "threads", "--workload", "timer",
		      "--concurrency", "1", "--tasks", "20", "--latency-us", "100", "--probes", "on",
		      "--output", out, "--quiet", (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	f = fopen(err_path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		print_message("nobody: %s", line);
		if (!strncmp(line, "probes: unavailable: ", 21))
			said = true;
	}
	fclose(f);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(said);
	snprintf(line, sizeof(line), "%s/runs.csv", out);
	f = fopen(line, "re");
	assert_non_null(f);
	for (int ch; (ch = fgetc(f)) != EOF;)
		lines += ch == '\n';
	fclose(f);
	assert_int_equal(lines, 2);	/* the header and the row */
}

static void *noop_main(void *arg)
{
	return arg;
}

static int setup_dir(void **state)
{
	pthread_t t;

	/*
	 * TSan starts its background thread at the first pthread_create: make it exist before any
	 * probe opens, so it is a thread from before ("other"), not one of the cell's.
	 */
	if (pthread_create(&t, NULL, noop_main, NULL) || pthread_join(t, NULL))
		return -1;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer_blocked_time),
		cmocka_unit_test(test_bpf_stats_runs),
		cmocka_unit_test(test_sched_slots_shared),
		cmocka_unit_test(test_idle_workers_apart),
		cmocka_unit_test(test_worker_task_sleep_not_idle),
		cmocka_unit_test(test_busy_loop_oncpu),
		cmocka_unit_test(test_spin_across_window),
		cmocka_unit_test(test_schedstat_agrees),
		cmocka_unit_test(test_schedstat_agrees_full),
		cmocka_unit_test(test_syscalls_exact),
		cmocka_unit_test(test_uring_punts),
		cmocka_unit_test(test_ramp_drain_excluded),
		cmocka_unit_test(test_timeline),
		cmocka_unit_test(test_unavailable_as_nobody),
	};

	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
