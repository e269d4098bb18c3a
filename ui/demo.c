// SPDX-License-Identifier: MIT
/*
 * iomodels demo: the seed's story told at human speed, in five scenes, every figure measured
 * here and now. Each scene says what it measures and how before it shows the numbers.
 *
 *   1  one slow task, sync: a driver cell (threads, C 1, one task) in a thread of its own; the
 *      demo samples its client thread in /proc (state, the call it sleeps in, schedstat), and
 *      the sched probe fills blocked / on-CPU per task when it can load
 *   2  the same task async, driven by hand through the model interface on this thread: submit,
 *      the task id at once, then other work (iom_cpu_work, the busy loop of --cpu-work-us)
 *      between non-blocking reaps (polls) until the task is COMPLETED
 *   3  the state machine: one task per terminal state, by hand on an async model
 *   4  the three failure modes in miniature: the scenarios two-generals, thundering-herd,
 *      stale-status (part a) and durability, with small arguments
 *   5  the comparison table: a short driver cell per model, timer tasks, C 16 and 128
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "scenario/scenario.h"
#include "core/model.h"
#include "ui/live.h"
#include "ui/watch.h"

#define HAND_DEPTH	4
#define HAND_BUF_BYTES	4096

struct demo {
	const struct iom_demo_opts *o;
	char dir[PATH_MAX];		/* where the scenarios write */
	int worst;			/* IOM_EXIT_BUG when an invariant broke */
	/* Carried from scene to scene for the closing comparison. */
	double sync_oncpu_ns, sync_task_ns, sync_sampled_ns;
	double async_oncpu_ns, async_task_ns;
	unsigned int async_polls;
	const char *async_model;
};

static void fmt_ns(char *buf, size_t len, double ns)
{
	if (isnan(ns))
		snprintf(buf, len, "-");
	else if (ns < 1e3)
		snprintf(buf, len, "%.0f ns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.1f us", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, len, "%.2f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.3f s", ns / 1e9);
}

static const char *errname(int64_t res)
{
	const char *n = res < 0 ? strerrorname_np((int)-res) : NULL;

	return n ? n : "?";
}

/* Between scenes: a key (no Enter needed on a terminal), or nothing with --auto. */
static bool demo_pause(struct demo *d)
{
	struct termios old, raw;
	bool tty = isatty(STDIN_FILENO);
	char c = 0;

	if (d->o->automatic)
		return true;
	printf("\n[any key: next scene, q: quit] ");
	fflush(stdout);
	if (tty && !tcgetattr(STDIN_FILENO, &old)) {
		raw = old;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
		if (read(STDIN_FILENO, &c, 1) != 1)
			c = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
	} else if (read(STDIN_FILENO, &c, 1) != 1) {
		c = 0;		/* no more input: go on as --auto would */
	}
	printf("\n");
	return c != 'q' && c != 'Q';
}

/* ----------------------------------------------------------------------------------------- */
/* A driver cell in a thread of its own, so this thread can watch it.                       */

struct bg_cell {
	struct iom_cfg cfg;
	struct iom_row row;
	struct iom_hist hist;
	pthread_t thread;
	_Atomic bool done;
	int ret;
};

static void *bg_main(void *arg)
{
	struct bg_cell *c = arg;

	c->ret = iom_run_cell(&c->cfg, &c->row, &c->hist);
	atomic_store(&c->done, true);
	return NULL;
}

static void base_cfg(struct iom_cfg *cfg, const struct iom_model *m, unsigned int c)
{
	iom_cfg_init(cfg);
	cfg->model = m;
	cfg->wl.size = 1ull << 20;
	cfg->concurrency = c;
	cfg->jobs = 1;
	cfg->batch_complete = 1;
}

/* ----------------------------------------------------------------------------------------- */
/* A model driven by hand: the calls the driver makes, made here one by one.                 */

struct hand {
	struct iom_cfg cfg;
	struct iom_workload wl;
	struct iom_ctx ctx;
	struct iom_task tasks[HAND_DEPTH];
	void *bufs;
	bool wl_open, set_up;
};

static int hand_open(struct hand *h, const struct iom_model *m, const struct iom_wl_params *wp,
		     unsigned int depth, uint64_t deadline_ns, struct iom_err *err)
{
	int ret;

	memset(h, 0, sizeof(*h));
	base_cfg(&h->cfg, m, depth);
	h->cfg.wl = *wp;
	/* Sizes what the model allocates for deadlines; each task carries its own. */
	h->cfg.deadline_ns = deadline_ns;
	/* A short read at the end of the file is PARTIAL_SUCCESS, not resubmitted. */
	h->cfg.on_partial = IOM_PARTIAL_ACCEPT;
	ret = iom_workload_open(&h->wl, &h->cfg.wl, err);
	if (ret)
		return ret;
	h->wl_open = true;
	if (posix_memalign(&h->bufs, 4096, (size_t)HAND_DEPTH * HAND_BUF_BYTES))
		return iom_err_set(err, -ENOMEM, "demo: buffers");
	h->ctx.cfg = &h->cfg;
	h->ctx.wl = &h->wl;
	h->ctx.depth = depth;
	h->ctx.tasks = h->tasks;
	for (unsigned int i = 0; i < HAND_DEPTH; i++) {
		h->tasks[i].slot = i;
		h->tasks[i].fd = -1;
		h->tasks[i].buf = (char *)h->bufs + (size_t)i * HAND_BUF_BYTES;
	}
	ret = m->setup(&h->ctx);
	if (ret) {
		snprintf(err->msg, sizeof(err->msg), "%s", h->ctx.err.msg);
		return ret;
	}
	h->set_up = true;
	return 0;
}

static void hand_close(struct hand *h)
{
	if (h->set_up && h->cfg.model->teardown)
		h->cfg.model->teardown(&h->ctx);
	if (h->wl_open)
		iom_workload_close(&h->wl);
	free(h->bufs);
}

/* A fresh task in slot: number seq of the workload, then started and handed to the model. */
static int hand_submit(struct hand *h, unsigned int slot, uint64_t seq, uint64_t latency_ns,
		       uint64_t deadline_abs_ns, int fault_errno)
{
	struct iom_task *t = &h->tasks[slot];
	uint64_t now = iom_now_ns();
	int ret;

	iom_task_init(t, iom_task_id(seq, slot), now, deadline_abs_ns);
	iom_workload_next(&h->wl, seq, t);
	if (t->op == IOM_OP_TIMER)
		t->latency_ns = latency_ns;
	t->fault_errno = fault_errno;
	iom_task_start(t, now);
	ret = h->cfg.model->submit(&h->ctx, t);
	if (ret == IOM_Q_QUEUED && h->cfg.model->flush)
		ret = h->cfg.model->flush(&h->ctx) < 0 ? -EIO : IOM_Q_QUEUED;
	return ret;
}

static bool hand_all_done(const struct hand *h, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (!iom_state_terminal(atomic_load(&h->tasks[i].state)))
			return false;
	return true;
}

/* This thread's schedstat: time on a CPU. */
static uint64_t self_oncpu_ns(void)
{
	struct iom_thread_sample s;

	return iom_thread_read(gettid(), &s, false) ? 0 : s.oncpu_ns;
}

/* ----------------------------------------------------------------------------------------- */

static void scene1(struct demo *d)
{
	struct bg_cell *c = calloc(1, sizeof(*c));
	/* A sync model: its client thread holds the task for the whole call. */
	const struct iom_model *m = iom_model_pick(0, IOM_CAP_ASYNC, IOM_WL_TIMER);
	struct iom_thread_sample s0, s;
	struct iom_live_view *live;
	char a[32], b[32], e[32];
	uint64_t t0, step, next, t_last = 0, cpu_last = 0;
	pid_t tid = 0;
	int ret;

	printf("== scene 1: one slow task, sync ==\n");
	if (!m) {
		printf("no sync model can run timer tasks here\n");
		free(c);
		return;
	}
	fmt_ns(a, sizeof(a), (double)d->o->slow_ns);
	printf("A client thread makes one blocking call that takes %s (the %s model: the task "
	       "waits in %s; the seed's slow 'Sync API' call).\n"
	       "measured: the client thread's state and the call it sleeps in, sampled from "
	       "/proc/self/task/TID/{stat,syscall}; its time on a CPU from schedstat; the sched "
	       "probe's blocked and on-CPU time per task when it can load (root, BTF).\n\n", a,
	       m->name, m->timer_waits_in ? m->timer_waits_in : m->desc);
	live = c ? iom_live_view_new(1, d->o->slow_ns, 0) : NULL;
	if (!c || !live) {
		printf("scene 1: out of memory\n");
		free(c);
		free(live);
		return;
	}
	base_cfg(&c->cfg, m, 1);
	c->cfg.wl.latency_ns = d->o->slow_ns;
	c->cfg.tasks = 1;
	c->cfg.probes = "sched";
	c->cfg.live = &live->hook;
	ret = pthread_create(&c->thread, NULL, bg_main, c);
	if (ret) {
		printf("scene 1: pthread_create: %s\n", strerror(ret));
		free(c);
		free(live);
		return;
	}
	/* The client thread registers itself; its task is under way once it is counted. */
	t0 = iom_now_ns();
	while (!atomic_load(&c->done) && iom_now_ns() - t0 < 10000000000ull &&
	       (!atomic_load(&live->nr_tids) || !iom_live_view_get(live, IOM_LIVE_SUBMITTED)))
		usleep(1000);
	if (atomic_load(&live->nr_tids))
		tid = atomic_load(&live->tid[0]);
	memset(&s0, 0, sizeof(s0));
	if (tid)
		iom_thread_read(tid, &s0, false);
	t0 = iom_now_ns();
	step = d->o->slow_ns / 5;
	next = t0 + step / 2;
	printf("  %-10s %-10s %-28s %s\n", "time", "task", "client thread (tid, state)",
	       "on a CPU since the first sample");
	while (tid && !atomic_load(&c->done) && iom_now_ns() < t0 + d->o->slow_ns + 5000000000ull) {
		struct timespec ts = iom_ts(next);

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		if (atomic_load(&c->done) || iom_thread_read(tid, &s, true))
			break;
		{
			const char *call = iom_live_syscall_name(s.syscall_nr);
			char st[48];

			snprintf(st, sizeof(st), "%d %c%s%s", (int)tid, s.state,
				 call ? " in " : s.state == 'R' ? " (on a CPU)" : "", call ? call : "");
			t_last = iom_now_ns();
			cpu_last = s.oncpu_ns - s0.oncpu_ns;
			fmt_ns(e, sizeof(e), (double)cpu_last);
			fmt_ns(b, sizeof(b), (double)(t_last - t0));
			printf("  %-10s %-10s %-28s %s\n", b,
			       atomic_load(&live->nr_state[IOM_COMPLETED]) ? "COMPLETED" : "RUNNING",
			       st, e);
			fflush(stdout);
		}
		next += step;
	}
	pthread_join(c->thread, NULL);
	if (c->ret == IOM_EXIT_BUG)
		d->worst = IOM_EXIT_BUG;
	if (strcmp(c->row.str[IOM_COL_status], "ok")) {
		printf("scene 1: %s: %s\n", c->row.str[IOM_COL_status], c->row.str[IOM_COL_reason]);
	} else {
		/* The thread is gone once the cell returns: the last sample is the figure. */
		d->sync_task_ns = c->row.num[IOM_COL_lat_max_ns];
		d->sync_oncpu_ns = t_last ? (double)cpu_last : NAN;
		d->sync_sampled_ns = t_last ? (double)(t_last - t0) : NAN;
		fmt_ns(a, sizeof(a), d->sync_task_ns);
		fmt_ns(b, sizeof(b), d->sync_oncpu_ns);
		fmt_ns(e, sizeof(e), d->sync_sampled_ns);
		printf("\nresult: the task took %s (%s); over %s of it its client thread was on a "
		       "CPU for %s (schedstat) and blocked in the kernel the rest of the time: one "
		       "thread held for the whole task, free for nothing else.\n", a,
		       c->row.num[IOM_COL_n_completed] == 1 ? "COMPLETED" : "not COMPLETED", e, b);
		if (!isnan(c->row.num[IOM_COL_blocked_ns_per_task])) {
			fmt_ns(a, sizeof(a), c->row.num[IOM_COL_blocked_ns_per_task]);
			fmt_ns(b, sizeof(b), c->row.num[IOM_COL_oncpu_ns_per_task]);
			printf("probe (sched, eBPF): blocked %s, on a CPU %s per task (every thread of "
			       "the cell, the driver's included).\n", a, b);
		} else {
			printf("probe: %s (schedstat above is the kernel's own accounting)\n",
			       c->row.str[IOM_COL_probes][0] ? c->row.str[IOM_COL_probes] :
							      "not loaded");
		}
	}
	free(live);
	free(c);
}

static void scene2(struct demo *d)
{
	const struct iom_model *m = iom_model_pick(IOM_CAP_ASYNC, 0, IOM_WL_TIMER);
	struct iom_wl_params wp = { .kind = IOM_WL_TIMER, .seed = 1, .payload = 64 };
	struct iom_err err = { "" };
	uint64_t t0, cpu0, work_ns = 0, step, next, chunk = 1000000;
	unsigned int polls = 0;
	struct iom_task *t;
	struct hand h;
	char a[32], b[32], c[32];
	int ret;

	printf("== scene 2: the same task, async ==\n");
	if (!m) {
		printf("no async model can run timer tasks here\n");
		return;
	}
	fmt_ns(a, sizeof(a), (double)d->o->slow_ns);
	printf("The same %s task, submitted through the %s model by this thread, which then does "
	       "other work (1 ms slices of iom_cpu_work, the busy loop --cpu-work-us uses) and "
	       "polls between slices: a non-blocking reap, the seed's 'GET /status'.\n"
	       "measured: the submit call's duration, the task id it gives back, every poll's "
	       "answer (the task's state), this thread's time on a CPU (schedstat).\n\n", a,
	       m->name);
	wp.latency_ns = d->o->slow_ns;
	ret = hand_open(&h, m, &wp, 1, 0, &err);
	if (ret) {
		printf("scene 2: %s: %s\n", m->name, err.msg);
		hand_close(&h);
		return;
	}
	t = &h.tasks[0];
	cpu0 = self_oncpu_ns();
	t0 = iom_now_ns();
	ret = hand_submit(&h, 0, 1, d->o->slow_ns, 0, 0);
	fmt_ns(b, sizeof(b), (double)(iom_now_ns() - t0));
	if (ret != IOM_Q_QUEUED) {
		printf("scene 2: submit returned %d\n", ret);
		hand_close(&h);
		return;
	}
	printf("  submit returned in %s: task id %" PRIu64 " (0x%" PRIx64 "), state %s - the "
	       "'202 Accepted + task_id'\n", b, t->id, t->id, iom_state_name(atomic_load(&t->state)));
	step = d->o->slow_ns / 5;
	next = t0 + step / 2;
	while (!iom_state_terminal(atomic_load(&t->state))) {
		uint64_t now;

		iom_cpu_work(chunk);
		work_ns += chunk;
		ret = m->reap(&h.ctx, 0, 1, 0);
		polls++;
		now = iom_now_ns();
		if (ret < 0 || now > t0 + d->o->slow_ns + 5000000000ull) {
			printf("scene 2: reap %d, or no completion 5 s after the task's time\n", ret);
			break;
		}
		if (now >= next || iom_state_terminal(atomic_load(&t->state))) {
			fmt_ns(a, sizeof(a), (double)(now - t0));
			fmt_ns(b, sizeof(b), (double)work_ns);
			printf("  %-10s poll #%-5u task %" PRIu64 " is %-9s other work done: %s\n", a,
			       polls, t->id, iom_state_name(atomic_load(&t->state)), b);
			fflush(stdout);
			next += step;
		}
	}
	d->async_oncpu_ns = (double)(self_oncpu_ns() - cpu0);
	d->async_task_ns = t->t_end_ns > t->t_submit_ns ? (double)(t->t_end_ns - t->t_submit_ns) :
							  NAN;
	d->async_polls = polls;
	d->async_model = m->name;
	fmt_ns(a, sizeof(a), d->async_task_ns);
	fmt_ns(b, sizeof(b), d->async_oncpu_ns);
	fmt_ns(c, sizeof(c), d->sync_oncpu_ns);
	printf("\nresult: the task took %s (%s at poll %u); meanwhile this thread was on a CPU "
	       "for %s, doing other work (scene 1's client thread: %s, blocked). The task waited "
	       "in %s, not on the caller's stack (%s: %s).\n", a,
	       iom_state_name(atomic_load(&t->state)), polls, b, c,
	       m->timer_waits_in ? m->timer_waits_in : "the model", m->name, h.ctx.variant);
	hand_close(&h);
}

/* Scene 3's tasks: what each is, and the terminal state it is there to show. */
static const struct {
	enum iom_state want;
	const char *what;
} scene3_tasks[IOM_DEMO_NR_STATES] = {
	{ IOM_COMPLETED, "a 20 ms timer, no deadline: done in time" },
	{ IOM_FAILED, "a 20 ms timer with --fault EIO: its result replaced by -EIO (injection on "
		      "return)" },
	{ IOM_EXPIRED, "a 200 ms timer with a 50 ms deadline: the deadline fired first" },
	{ IOM_ABORTED, "a 2 s timer cancelled by the submitter after 50 ms" },
	{ IOM_PARTIAL, "a 4096-byte read 1 KiB before the end of the file" },
};

static void demo_task_init(struct iom_demo_task *o, size_t i)
{
	memset(o, 0, sizeof(*o));
	o->want = scene3_tasks[i].want;
	o->what = scene3_tasks[i].what;
	o->state = IOM_SCHEDULED;
	o->took_ns = NAN;
}

static void demo_task_ended(struct iom_demo_task *o, const struct iom_task *t)
{
	o->id = t->id;
	o->res = t->res;
	o->state = (enum iom_state)atomic_load(&t->state);
	o->took_ns = t->t_end_ns > t->t_submit_ns ? (double)(t->t_end_ns - t->t_submit_ns) : NAN;
}

int iom_demo_timer_states(const struct iom_model *m, struct iom_demo_task out[4],
			  struct iom_err *err)
{
	struct iom_wl_params wp = { .kind = IOM_WL_TIMER, .seed = 1, .payload = 64,
				    .latency_ns = 20000000 };
	bool cancelled = false;
	struct hand h;
	uint64_t t0;
	int ret;

	for (size_t i = 0; i < 4; i++)
		demo_task_init(&out[i], i);
	ret = hand_open(&h, m, &wp, 4, 50000000, err);
	if (ret) {
		hand_close(&h);
		return ret;
	}
	t0 = iom_now_ns();
	ret = hand_submit(&h, 0, 1, 20000000, 0, 0);
	/* FAILED: the --fault mechanism, set on the task before it is handed over. */
	if (ret == IOM_Q_QUEUED)
		ret = hand_submit(&h, 1, 2, 20000000, 0, EIO);
	if (ret == IOM_Q_QUEUED)
		ret = hand_submit(&h, 2, 3, 200000000, iom_now_ns() + 50000000, 0);
	if (ret == IOM_Q_QUEUED)
		ret = hand_submit(&h, 3, 4, 2000000000, 0, 0);
	if (ret != IOM_Q_QUEUED) {
		hand_close(&h);
		return iom_err_set(err, ret < 0 ? ret : -EINVAL, "submit returned %d", ret);
	}
	while (!hand_all_done(&h, 4) && iom_now_ns() - t0 < 5000000000ull) {
		if (!cancelled && iom_now_ns() - t0 >= 50000000 &&
		    !iom_state_terminal(atomic_load(&h.tasks[3].state))) {
			/* Once: the submitter asks for task 4 to be aborted. */
			m->cancel(&h.ctx, &h.tasks[3]);
			if (m->flush)
				m->flush(&h.ctx);
			cancelled = true;
		}
		if (m->reap(&h.ctx, 1, 4, 10000000) < 0)
			break;
	}
	for (size_t i = 0; i < 4; i++)
		demo_task_ended(&out[i], &h.tasks[i]);
	hand_close(&h);
	return 0;
}

int iom_demo_partial(const struct iom_model *mf, const char *dir, struct iom_demo_task *out,
		     struct iom_err *err)
{
	struct iom_wl_params wp = { .kind = IOM_WL_FILE, .seed = 1, .size = 64 << 10,
				    .bs = 4096 };
	struct iom_task *t;
	struct hand hf;
	struct stat st;
	uint64_t now;
	int ret;

	demo_task_init(out, IOM_DEMO_NR_STATES - 1);
	snprintf(wp.directory, sizeof(wp.directory), "%s", dir);
	ret = hand_open(&hf, mf, &wp, 1, 0, err);
	if (!ret && fstat(hf.wl.fd, &st))
		ret = iom_err_set(err, -errno, "fstat %s", hf.wl.path);
	if (ret) {
		hand_close(&hf);
		return ret;
	}
	t = &hf.tasks[0];
	now = iom_now_ns();
	iom_task_init(t, iom_task_id(5, 0), now, 0);
	iom_workload_next(&hf.wl, 5, t);
	/*
	 * From the file's real end, not --size's: the workload keeps a block of its own past the
	 * data (its trailer), and a read that ends inside it comes back whole.
	 */
	t->offset = (uint64_t)st.st_size - 1024;
	iom_task_start(t, now);
	ret = mf->submit(&hf.ctx, t);
	if (ret == IOM_Q_QUEUED && mf->flush)
		mf->flush(&hf.ctx);
	while (ret == IOM_Q_QUEUED && !iom_state_terminal(atomic_load(&t->state)) &&
	       iom_now_ns() - now < 5000000000ull)
		if (mf->reap(&hf.ctx, 1, 1, 10000000) < 0)
			break;
	demo_task_ended(out, t);
	hand_close(&hf);
	return ret < 0 ? iom_err_set(err, ret, "submit returned %d", ret) : 0;
}

/* A row of scene 3: the task as measured, and a word when it missed the state it shows. */
static void scene3_row(unsigned int n, const struct iom_demo_task *o, const char *res)
{
	char took[32];

	fmt_ns(took, sizeof(took), o->took_ns);
	printf("  %-4u %-20" PRIu64 " %-16s %-9s %s; res %s%s%s\n", n, o->id,
	       iom_state_name(o->state), took, o->what, res,
	       o->state == o->want ? "" : " - not ", o->state == o->want ? "" :
	       iom_state_name(o->want));
}

/* One task per terminal state, by hand on an async model; each row as measured. */
static void scene3(struct demo *d)
{
	const struct iom_model *m = iom_model_pick(IOM_CAP_ASYNC | IOM_CAP_CANCEL |
						   IOM_CAP_DEADLINE, 0, IOM_WL_TIMER);
	const struct iom_model *mf = iom_model_pick(0, 0, IOM_WL_FILE);
	struct iom_demo_task tasks[IOM_DEMO_NR_STATES];
	struct iom_err err = { "" };
	char res[64];

	printf("== scene 3: the state machine ==\n");
	printf("Every task goes SCHEDULED -> RUNNING -> one terminal state, set once by "
	       "compare-and-swap (core/task.c). Five tasks, one per terminal state, driven by hand "
	       "through %s (and %s for the file read).\nmeasured: each task's terminal state as "
	       "the model left it, its result (bytes or -errno) and its time from submit to end.\n\n",
	       m ? m->name : "-", mf ? mf->name : "-");
	if (!m) {
		printf("no async model can run timer tasks here\n");
		return;
	}
	if (iom_demo_timer_states(m, tasks, &err)) {
		printf("scene 3: %s: %s\n", m->name, err.msg);
		return;
	}
	printf("  %-4s %-20s %-16s %-9s %s\n", "task", "id", "state", "took", "what it was");
	for (unsigned int i = 0; i < 4; i++)
		scene3_row(i + 1, &tasks[i], tasks[i].res < 0 ? errname(tasks[i].res) : "0");

	/* PARTIAL_SUCCESS: a 4 KiB read that starts 1 KiB before the end of the file. */
	if (!mf) {
		printf("  5    PARTIAL_SUCCESS: no model here can read files (n/a)\n");
		return;
	}
	if (iom_demo_partial(mf, d->dir, &tasks[4], &err)) {
		printf("  5    PARTIAL_SUCCESS: %s: %s\n", mf->name, err.msg);
	} else {
		snprintf(res, sizeof(res), "%" PRId64 " bytes (%s), accepted short", tasks[4].res,
			 mf->name);
		scene3_row(5, &tasks[4], res);
	}
	printf("\nEvery terminal state other than COMPLETED asks for a decision: retry (run "
	       "--on-expired retry, --on-failed retry, with backoff), resubmit the rest "
	       "(--on-partial resubmit), or count and report (the default).\n");
}

/* A scenario of the suite with small arguments, its own table and verdict printed. */
static void run_scenario(struct demo *d, const char *name, const char *const *args)
{
	char *argv[24];
	char out[PATH_MAX + 32];
	int argc = 0, ret;

	snprintf(out, sizeof(out), "%s/%s", d->dir, name);
	argv[argc++] = "scenario";
	argv[argc++] = (char *)name;
	for (int i = 0; args[i] && argc < 20; i++)
		argv[argc++] = (char *)args[i];
	argv[argc++] = "--output";
	argv[argc++] = out;
	argv[argc] = NULL;
	printf("$ iomodels scenario %s", name);
	for (int i = 2; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
	fflush(stdout);
	ret = iom_scenario_main(argc, argv);
	fflush(stdout);
	if (ret == IOM_EXIT_BUG)
		d->worst = IOM_EXIT_BUG;
	else if (ret)
		printf("(scenario %s exited %d)\n", name, ret);
	printf("\n");
}

static void scene4(struct demo *d)
{
	const struct iom_model *m = iom_model_pick(0, 0, IOM_WL_RPC);
	char dir[PATH_MAX + 16];

	printf("== scene 4: the three failure modes, in miniature ==\n");
	printf("Each is a scenario of the suite (iomodels scenario NAME) run small; each prints "
	       "what it measured and how, then its verdict.\n\n");
	printf("(1) Two Generals: a request times out - did the server get it? Retries without an "
	       "idempotency key run the work twice; the backend counts duplicates.\n");
	if (m) {
		const char *args[] = { "--model", m->name, "--tasks", "100", "--concurrency", "4",
				       NULL };

		run_scenario(d, "two-generals", args);
	} else {
		printf("no model can run rpc tasks here\n\n");
	}
	printf("(2) Thundering herd: one event, many waiters woken; wake-ups per connection "
	       "counted from each waiter's voluntary context switches.\n");
	{
		const char *args[] = { "--waiters", "8", "--connections", "50", NULL };

		run_scenario(d, "thundering-herd", args);
	}
	printf("(3) Eventual consistency: the task is COMPLETED but the status store has not caught "
	       "up - a poll still says RUNNING. kernel_free's status store is read through lagging "
	       "replicas; a poller that trusts one read is compared with one that confirms N reads.\n");
	{
		const char *args[] = { "--part", "a", "--tasks", "200", NULL };

		run_scenario(d, "stale-status", args);
	}
	printf("... and COMPLETED is not the same as durable: a buffered write completes into the "
	       "page cache; cachestat shows its page still dirty.\n");
	snprintf(dir, sizeof(dir), "%s", d->dir);
	{
		const char *args[] = { "--tasks", "20", "--size", "4M", "--directory", dir, NULL };

		run_scenario(d, "durability", args);
	}
}

static void scene5(struct demo *d)
{
	static const unsigned int cs[] = { 16, 128 };
	struct iom_row *row = malloc(sizeof(*row));
	struct iom_hist *hist = malloc(sizeof(*hist));

	printf("== scene 5: the comparison, with this machine's numbers ==\n");
	printf("measured: a driver cell per model and concurrency, timer tasks of 1 ms, closed "
	       "loop, 0.1 s ramp then 0.5 s measured, probes off; ops/s and latency from the "
	       "driver's histograms, CPU per task from getrusage over the window, threads from "
	       "/proc, kernel memory (stacks, slab, page tables) from /proc/meminfo. A short, "
	       "noisy run on a shared box: run 'make bench' for the real table.\n\n");
	if (!row || !hist) {
		free(row);
		free(hist);
		return;
	}
	/* "thr": the process' threads (a model's name quoted in ui/ fails check-layers). */
	printf("%-12s %4s %9s %10s %10s %10s %7s %12s\n", "model", "C", "ops/s", "p50", "p99",
	       "cpu/task", "thr", "kmem/in-fl.");
	for (size_t i = 0; iom_models[i]; i++) {
		const struct iom_model *m = iom_models[i];

		for (size_t k = 0; k < sizeof(cs) / sizeof(cs[0]); k++) {
			struct iom_cfg cfg;
			char p50[16], p99[16], cpu[16], km[16];
			int ret;

			base_cfg(&cfg, m, cs[k]);
			cfg.ramp_ns = 100000000;
			cfg.runtime_ns = 500000000;
			ret = iom_run_cell(&cfg, row, hist);
			if (ret == IOM_EXIT_BUG)
				d->worst = IOM_EXIT_BUG;
			if (strcmp(row->str[IOM_COL_status], "ok")) {
				printf("%-12s %4u %s: %s\n", m->name, cs[k], row->str[IOM_COL_status],
				       row->str[IOM_COL_reason]);
				break;
			}
			fmt_ns(p50, sizeof(p50), row->num[IOM_COL_lat_p50_ns]);
			fmt_ns(p99, sizeof(p99), row->num[IOM_COL_lat_p99_ns]);
			fmt_ns(cpu, sizeof(cpu), row->num[IOM_COL_cpu_ns_per_task]);
			/* System-wide counters: another process' allocations can make it < 0. */
			if (isnan(row->num[IOM_COL_kmem_bytes]))
				snprintf(km, sizeof(km), "-");
			else if (row->num[IOM_COL_kmem_bytes] < 0)
				snprintf(km, sizeof(km), "<0 (noise)");
			else
				snprintf(km, sizeof(km), "%.1f KiB",
					 row->num[IOM_COL_kmem_bytes] / 1024.0 / cs[k]);
			printf("%-12s %4u %9.0f %10s %10s %10s %7.0f %12s\n", m->name, cs[k],
			       row->num[IOM_COL_ops_per_s], p50, p99, cpu, row->num[IOM_COL_threads],
			       km);
			fflush(stdout);
		}
	}
	printf("\n%-12s %-34s %s\n", "model", "how a task waits", "failure domains");
	for (size_t i = 0; iom_models[i]; i++)
		printf("%-12s %-34s %s\n", iom_models[i]->name,
		       iom_models[i]->waits ? iom_models[i]->waits : "-",
		       iom_models[i]->domains ? iom_models[i]->domains : "-");
	if (!isnan(d->sync_oncpu_ns) && d->sync_task_ns > 0 && d->async_model) {
		char a[32], b[32], c[32];

		fmt_ns(a, sizeof(a), d->sync_task_ns);
		fmt_ns(b, sizeof(b), d->sync_oncpu_ns);
		fmt_ns(c, sizeof(c), d->async_oncpu_ns);
		printf("\nFrom scenes 1 and 2: for one %s task the sync client's thread was on a CPU "
		       "%s and blocked the rest; the async submitter (%s) was free: %s on a CPU "
		       "doing other work, %u polls.\n", a, b, d->async_model, c, d->async_polls);
	}
	free(row);
	free(hist);
}

int iom_demo(const struct iom_demo_opts *o)
{
	struct demo d = { .o = o, .sync_oncpu_ns = NAN, .async_oncpu_ns = NAN,
			  .sync_sampled_ns = NAN };
	void (*const scenes[])(struct demo *) = { scene1, scene2, scene3, scene4, scene5 };

	if (o->output) {
		snprintf(d.dir, sizeof(d.dir), "%s", o->output);
		if (mkdir(d.dir, 0755) && errno != EEXIST) {
			fprintf(stderr, "iomodels: demo: mkdir %s: %s\n", d.dir, strerror(errno));
			return 1;
		}
	} else {
		snprintf(d.dir, sizeof(d.dir), "/tmp/iomodels-demo.XXXXXX");
		if (!mkdtemp(d.dir)) {
			fprintf(stderr, "iomodels: demo: mkdtemp: %s\n", strerror(errno));
			return 1;
		}
	}
	/* Line by line, so a pipe or a pager sees each scene as it happens. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("iomodels demo: the seed's 'Sync vs Async' page, five scenes, every figure measured "
	       "now on this machine (files: %s)\n\n", d.dir);
	for (size_t i = 0; i < sizeof(scenes) / sizeof(scenes[0]); i++) {
		scenes[i](&d);
		if (i + 1 < sizeof(scenes) / sizeof(scenes[0]) && !demo_pause(&d))
			break;
		printf("\n");
	}
	return d.worst;
}
