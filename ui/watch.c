// SPDX-License-Identifier: MIT
/*
 * iomodels watch: the seed's interactive page, driven by a benchmark running in this process.
 *
 * Every lane is one cell of the driver (iom_run_cell) in a thread of its own, with a live
 * control block (live.h): the view turns its knobs and reads its counters. The main thread is
 * the view: at most every FRAME_NS it samples each lane (tasks per state, in flight), once a
 * second it reads the second that just ended (completions and their latency histogram) and
 * takes a census of the lane's threads from /proc/self/task (schedstat: time on a CPU and time
 * runnable; stat and syscall: what a sleeping thread sleeps in), then draws. On a terminal it
 * draws with ncurses; otherwise it prints one plain line per lane per second, and still takes
 * keys from stdin. Whatever ends the view (q, Ctrl-C, the runtime, an error) stops the lanes,
 * waits for their cells (every task reaches one terminal state, the driver checks the
 * invariant), restores the terminal, and writes the rows when --output was given.
 */
#include <curses.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/meta.h"
#include "core/model.h"
#include "core/probe.h"
#include "core/report.h"
#include "ui/live.h"
#include "ui/watch.h"

#define FRAME_NS	100000000ull	/* at most 10 redraws a second */
#define GRACE_NS	50000000ull	/* a second is read this long after it ends */
#define CENSUS_NS	1000000000ull	/* thread census interval */
#define HISTORY		128		/* seconds of history a lane keeps */
#define MAX_ALL_LANES	32		/* lanes made in one session, model switches included */
#define MAX_GLYPHS	64		/* sync threads drawn one by one */
#define NEED_COLS	80
#define NEED_LINES	24
#define LANE_LINES	5
#define LANE_TOP	3
/* The model's stages (enum iom_live_event, QUEUED..REPORTED): kernel_free's. */
#define NR_STAGES	(IOM_LIVE_NR_EVENTS - IOM_LIVE_QUEUED)

/* Fault rate steps for f/F, in parts per million. */
static const uint32_t fault_steps[] = { 0, 1000, 10000, 100000, 500000 };
#define NR_FAULT_STEPS	(sizeof(fault_steps) / sizeof(fault_steps[0]))

enum role { R_SUB, R_WORKER, R_IOWQ, NR_ROLES };

struct sec_stat {
	uint64_t id;		/* the second this entry holds (entries are a ring) */
	bool done;		/* read: ops and latency are filled */
	uint64_t ops;		/* tasks COMPLETED per second: throughput */
	uint64_t expired, failed;	/* EXPIRED and FAILED per second: not throughput */
	double p99_ns;		/* NAN when fewer than 1000 completions back it */
	double max_ns;
	double inflight_sum;	/* the view's samples of tasks in flight during the second */
	unsigned int inflight_n;
	char mark;		/* a knob changed during the second: its letter */
};

/* Threads of one role in one lane, from the last census. */
struct role_stat {
	unsigned int n;		/* threads */
	unsigned int n_probe;	/* of them, read from the sched probe (the rest from /proc) */
	unsigned int parked;	/* sync submitters parked by the view (asleep on the live gate) */
	double run, rq, blk;	/* mean threads on a CPU / runnable, waiting / blocked */
	long top_call;		/* the call most of its sleeping threads sleep in */
	unsigned int top_call_n;
};

struct lane {
	const struct iom_model *model;
	struct iom_cfg cfg;
	struct iom_live_view *live;
	pthread_t thread;
	bool thread_made;
	_Atomic bool done;	/* the cell returned */
	bool joined;
	bool stopped_by_view;	/* switched away: no longer drawn */
	int ret;
	struct iom_row *row;
	struct iom_hist *hist;
	char label[96];
	uint64_t t0;		/* the window's start, once the cell has started */
	uint64_t secs;		/* seconds read so far */
	struct sec_stat sec[HISTORY];
	/* Latest sample. */
	uint64_t n_state[IOM_NR_STATES];
	uint64_t running, scheduled;
	uint64_t stage[NR_STAGES];
	/* Latest census. */
	struct role_stat role[NR_ROLES];
	char glyph[MAX_GLYPHS];
	unsigned int nr_glyphs;
	double cpu_ns_per_task;	/* over the last census interval */
	uint64_t census_done, census_cpu_ns;
	bool census_primed;
	uint64_t cpu_sum_ns, cpu_sum_tasks;	/* every census interval: the summary's CPU/task */
	/* Terminal states at the last second read, and when: per-second rates are differences. */
	uint64_t rate_state[IOM_NR_STATES], rate_ns;
	uint64_t sum_state[IOM_NR_STATES], sum_ns;	/* since the window began: the summary's */
	bool shared;		/* ran while another lane ran: process-wide columns are shared */
};

struct knobs {
	unsigned int c, cmax;
	uint64_t latency_ns;
	bool latency_applies;	/* timer and rpc tasks have a latency to turn */
	bool deadline_on;
	uint64_t deadline_ns;
	uint32_t fault_ppm;
	bool paused;
};

/* One thread's totals at the last census, to take differences (from the probe or schedstat). */
struct thr_prev {
	pid_t tid;
	bool from_probe;
	uint64_t oncpu_ns, runwait_ns, blocked_ns;
};

struct watch {
	const struct iom_watch_opts *o;
	struct knobs k;
	struct lane *lanes[MAX_ALL_LANES];
	unsigned int nr_lanes;
	bool curses, utf8, too_small;
	uint64_t t_start, t_end;
	struct iom_report *rep;
	char outdir[PATH_MAX];
	FILE *events;
	char msg[256];
	struct thr_prev *prev;
	size_t nr_prev;
	struct iom_probe_live *plive;	/* the sched probe for the census, or NULL: /proc */
	char states_from[200];		/* where the census comes from, said on screen */
	uint64_t prev_ns, next_census_ns;
	int saved_stderr;	/* curses: stderr goes to a file, shown after the screen is restored */
	FILE *err_file;
	bool quit;
};

static _Atomic int watch_signal;

static void watch_on_signal(int sig)
{
	watch_signal = sig;
	iom_driver_interrupt();
}

/* ----------------------------------------------------------------------------------------- */
/* Formatting                                                                                */

/* At most 5 characters: 1234, 12.3k, 1.23M. */
static void fmt_count(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (v < 9999.5)
		snprintf(buf, len, "%.0f", v);
	else if (v < 99950)
		snprintf(buf, len, "%.1fk", v / 1e3);
	else if (v < 999500)
		snprintf(buf, len, "%.0fk", v / 1e3);
	else if (v < 9995000)
		snprintf(buf, len, "%.2fM", v / 1e6);
	else
		snprintf(buf, len, "%.0fM", v / 1e6);
}

static void fmt_ppm(char *buf, size_t len, uint32_t ppm, int err)
{
	const char *name = strerrorname_np(err ? err : EIO);

	if (!ppm)
		snprintf(buf, len, "off");
	else
		snprintf(buf, len, "%g%% %s", (double)ppm / 1e4, name ? name : "?");
}

/* ----------------------------------------------------------------------------------------- */
/* Lanes                                                                                     */

static struct sec_stat *sec_get(struct lane *ln, uint64_t s)
{
	struct sec_stat *e = &ln->sec[s % HISTORY];

	if (e->id != s + 1) {
		memset(e, 0, sizeof(*e));
		e->id = s + 1;		/* + 1: an entry never touched (id 0) is no second */
		e->p99_ns = e->max_ns = NAN;
	}
	return e;
}

static const struct sec_stat *sec_peek(const struct lane *ln, uint64_t s)
{
	const struct sec_stat *e = &ln->sec[s % HISTORY];

	return e->id == s + 1 ? e : NULL;
}

static void *lane_main(void *arg)
{
	struct lane *ln = arg;

	ln->ret = iom_run_cell(&ln->cfg, ln->row, ln->hist);
	atomic_store_explicit(&ln->done, true, memory_order_release);
	return NULL;
}

static bool lane_running(const struct lane *ln)
{
	return !atomic_load_explicit(&ln->done, memory_order_acquire) && !ln->stopped_by_view;
}

static unsigned int nr_visible(const struct watch *w)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < w->nr_lanes; i++)
		n += !w->lanes[i]->stopped_by_view;
	return n;
}

static bool model_visible(const struct watch *w, const struct iom_model *m)
{
	for (unsigned int i = 0; i < w->nr_lanes; i++)
		if (!w->lanes[i]->stopped_by_view && w->lanes[i]->model == m)
			return true;
	return false;
}

static void set_msg(struct watch *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_msg(struct watch *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
	va_end(ap);
	if (!w->curses)
		printf("watch t=%.1f %s\n", (double)(iom_now_ns() - w->t_start) / 1e9, w->msg);
}

static int lane_start(struct watch *w, const struct iom_model *m)
{
	const struct iom_watch_opts *o = w->o;
	uint64_t now = iom_now_ns();
	struct lane *ln;
	int ret;

	if (w->nr_lanes == MAX_ALL_LANES) {
		set_msg(w, "no more lanes in this session (%d made)", MAX_ALL_LANES);
		return -ENOSPC;
	}
	if (now + 1000000000ull > w->t_end) {
		set_msg(w, "less than 1 s of the runtime left: no new lane");
		return -ETIME;
	}
	ln = calloc(1, sizeof(*ln));
	if (!ln)
		return -ENOMEM;
	ln->row = malloc(sizeof(*ln->row));
	ln->hist = malloc(sizeof(*ln->hist));
	ln->live = iom_live_view_new(w->k.c, w->k.latency_ns, w->k.deadline_on ? w->k.deadline_ns : 0);
	if (!ln->row || !ln->hist || !ln->live) {
		free(ln->row);
		free(ln->hist);
		free(ln->live);
		free(ln);
		return -ENOMEM;
	}
	atomic_store(&ln->live->hook.paused, w->k.paused);
	ln->model = m;
	ln->cfg = o->cfg;
	ln->cfg.model = m;
	ln->cfg.concurrency = w->k.cmax;
	ln->cfg.tasks = 0;
	ln->cfg.ramp_ns = 0;
	ln->cfg.rate = 0;
	ln->cfg.progress = false;
	/* Every lane ends with the session: what is left of the runtime. */
	ln->cfg.runtime_ns = w->t_end - now;
	/* A model sizes for deadlines by this (uring's CQ, epoll's timerfd); the knob applies it. */
	ln->cfg.deadline_ns = w->k.deadline_ns;
	ln->cfg.live = &ln->live->hook;
	/* Only the rate turns (f/F); the errno is fixed before any thread reads it. */
	if (!ln->cfg.fault_errno)
		ln->cfg.fault_errno = EIO;
	ln->cfg.fault_ppm = w->k.fault_ppm;
	ln->cfg.out_dir = w->rep ? w->outdir : NULL;
	ln->cfg.row_index = w->nr_lanes;
	snprintf(ln->label, sizeof(ln->label), "%s %s", m->name, iom_wl_name(o->cfg.wl.kind));
	ln->cfg.label = ln->label;
	w->lanes[w->nr_lanes++] = ln;
	ret = pthread_create(&ln->thread, NULL, lane_main, ln);
	if (ret) {
		/* Never ran: it still gets a row, saying why. */
		iom_row_init(ln->row);
		snprintf(ln->row->str[IOM_COL_model], sizeof(ln->row->str[0]), "%s", m->name);
		snprintf(ln->row->str[IOM_COL_status], sizeof(ln->row->str[0]), "error");
		snprintf(ln->row->str[IOM_COL_reason], sizeof(ln->row->str[0]),
			 "pthread_create: %s", strerror(ret));
		iom_hist_init(ln->hist);
		ln->ret = 1;
		atomic_store(&ln->done, true);
		ln->joined = true;
		return -ret;
	}
	ln->thread_made = true;
	return 0;
}

/* ----------------------------------------------------------------------------------------- */
/* Knobs                                                                                     */

static void event(struct watch *w, char mark, const char *knob, const char *from, const char *to)
{
	uint64_t now = iom_now_ns();

	for (unsigned int i = 0; i < w->nr_lanes; i++) {
		struct lane *ln = w->lanes[i];

		if (lane_running(ln) && ln->t0 && now >= ln->t0) {
			struct sec_stat *e = sec_get(ln, (now - ln->t0) / 1000000000ull);

			if (!e->mark)
				e->mark = mark;
		}
	}
	if (w->events) {
		fprintf(w->events, "%" PRIu64 ",%s,%s,%s\n", (now - w->t_start) / 1000000, knob,
			from, to);
		fflush(w->events);
	}
	set_msg(w, "%s %s -> %s (from the next tasks)", knob, from, to);
}

static void knob_concurrency(struct watch *w, bool up)
{
	unsigned int c = w->k.c, n = up ? c * 2 : c / 2;
	char from[16], to[16];

	if (n > w->k.cmax)
		n = w->k.cmax;
	if (n < 1)
		n = 1;
	if (n == c) {
		set_msg(w, "concurrency stays %u (1..%u; --concurrency-max raises the top)", c,
			w->k.cmax);
		return;
	}
	w->k.c = n;
	for (unsigned int i = 0; i < w->nr_lanes; i++)
		if (lane_running(w->lanes[i]))
			iom_live_set32(&w->lanes[i]->live->hook, &w->lanes[i]->live->hook.concurrency, n);
	snprintf(from, sizeof(from), "%u", c);
	snprintf(to, sizeof(to), "%u", n);
	event(w, 'C', "concurrency", from, to);
}

static void knob_latency(struct watch *w, bool up)
{
	uint64_t l = w->k.latency_ns, n;
	char from[16], to[16];

	if (!w->k.latency_applies) {
		set_msg(w, "latency: %s tasks have none to turn", iom_wl_name(w->o->cfg.wl.kind));
		return;
	}
	n = up ? (l ? l * 2 : 1000) : l / 2;
	if (n > 10000000000ull)
		n = 10000000000ull;
	if (n < 1000)
		n = up ? 1000 : 0;
	if (n == l) {
		set_msg(w, "latency stays (0..10 s)");
		return;
	}
	w->k.latency_ns = n;
	for (unsigned int i = 0; i < w->nr_lanes; i++)
		if (lane_running(w->lanes[i]))
			iom_live_set(&w->lanes[i]->live->hook, &w->lanes[i]->live->hook.latency_ns, n);
	iom_fmt_ns(from, sizeof(from), (double)l);
	iom_fmt_ns(to, sizeof(to), (double)n);
	event(w, 'L', "latency", from, to);
}

static void knob_deadline(struct watch *w)
{
	char val[16], from[24], to[24];

	w->k.deadline_on = !w->k.deadline_on;
	for (unsigned int i = 0; i < w->nr_lanes; i++)
		if (lane_running(w->lanes[i]))
			iom_live_set(&w->lanes[i]->live->hook, &w->lanes[i]->live->hook.deadline_ns,
				     w->k.deadline_on ? w->k.deadline_ns : 0);
	iom_fmt_ns(val, sizeof(val), (double)w->k.deadline_ns);
	snprintf(from, sizeof(from), "%s", w->k.deadline_on ? "off" : val);
	snprintf(to, sizeof(to), "%s", w->k.deadline_on ? val : "off");
	event(w, 'D', "deadline", from, to);
}

static void knob_fault(struct watch *w, bool up)
{
	uint32_t f = w->k.fault_ppm, n = f;
	char from[24], to[24];

	/* The next step above or below the rate now (--fault may have started between two). */
	for (size_t i = 0; i < NR_FAULT_STEPS; i++) {
		size_t j = up ? i : NR_FAULT_STEPS - 1 - i;

		if (up ? fault_steps[j] > f : fault_steps[j] < f) {
			n = fault_steps[j];
			break;
		}
	}
	if (n == f) {
		set_msg(w, "fault rate stays (0..50%%)");
		return;
	}
	w->k.fault_ppm = n;
	/* The driver reads the rate at each task's start (relaxed): a new rate, next task. */
	for (unsigned int i = 0; i < w->nr_lanes; i++)
		if (lane_running(w->lanes[i]))
			__atomic_store_n(&w->lanes[i]->cfg.fault_ppm, n, __ATOMIC_RELAXED);
	fmt_ppm(from, sizeof(from), f, w->o->cfg.fault_errno);
	fmt_ppm(to, sizeof(to), n, w->o->cfg.fault_errno);
	event(w, 'F', "fault", from, to);
}

static void knob_pause(struct watch *w)
{
	w->k.paused = !w->k.paused;
	for (unsigned int i = 0; i < w->nr_lanes; i++)
		if (lane_running(w->lanes[i]))
			iom_live_set32(&w->lanes[i]->live->hook, &w->lanes[i]->live->hook.paused, w->k.paused);
	event(w, 'P', "pause", w->k.paused ? "off" : "on", w->k.paused ? "on" : "off");
}

/* The next model after m (in the table's order) that no visible lane runs, or NULL. */
static const struct iom_model *next_model(const struct watch *w, const struct iom_model *m)
{
	size_t n = 0, at = 0;

	while (iom_models[n])
		n++;
	for (size_t i = 0; i < n; i++)
		if (iom_models[i] == m)
			at = i;
	for (size_t i = 1; i <= n; i++) {
		const struct iom_model *c = iom_models[(at + i) % n];

		if (!model_visible(w, c))
			return c;
	}
	return NULL;
}

static struct lane *last_visible(struct watch *w)
{
	for (unsigned int i = w->nr_lanes; i-- > 0;)
		if (!w->lanes[i]->stopped_by_view)
			return w->lanes[i];
	return NULL;
}

static void knob_model(struct watch *w, bool add)
{
	struct lane *last = last_visible(w);
	const struct iom_model *m = next_model(w, last ? last->model : iom_models[0]);

	if (!m) {
		set_msg(w, "every model is running already");
		return;
	}
	if (add && nr_visible(w) >= IOM_WATCH_MAX_LANES) {
		set_msg(w, "at most %d lanes", IOM_WATCH_MAX_LANES);
		return;
	}
	if (!add && last) {
		/* Switch: the last lane stops (its tasks drain, its row is kept), m takes its place. */
		last->stopped_by_view = true;
		iom_live_stop(&last->live->hook);
	}
	if (lane_start(w, m))
		return;
	if (add)
		event(w, 'M', "model", "+", m->name);
	else
		event(w, 'M', "model", last ? last->model->name : "-", m->name);
}

static void handle_key(struct watch *w, int ch)
{
	switch (ch) {
	case '+': case '=': case 'C': knob_concurrency(w, true); break;
	case '-': case '_': case 'c': knob_concurrency(w, false); break;
	case 'L': knob_latency(w, true); break;
	case 'l': knob_latency(w, false); break;
	case 'd': case 'D': knob_deadline(w); break;
	case 'F': knob_fault(w, true); break;
	case 'f': knob_fault(w, false); break;
	case 'm': knob_model(w, false); break;
	case 'a': knob_model(w, true); break;
	case 'p': case ' ': knob_pause(w); break;
	case 'q': case 'Q': w->quit = true; break;
	default: break;
	}
}

/* ----------------------------------------------------------------------------------------- */
/* Measuring                                                                                 */

/* Tasks per state now, in flight, and this second's in-flight sample. */
static void lane_sample(struct lane *ln, uint64_t now)
{
	struct iom_live_view *l = ln->live;
	uint64_t terminal = 0, submitted, retry;

	/* Later stages first: a task counted into one is already counted into the one before. */
	for (int s = NR_STAGES - 1; s >= 0; s--)
		ln->stage[s] = iom_live_view_get(l, IOM_LIVE_QUEUED + s);
	for (int s = IOM_COMPLETED; s < IOM_NR_STATES; s++) {
		ln->n_state[s] = atomic_load_explicit(&l->nr_state[s], memory_order_relaxed);
		terminal += ln->n_state[s];
	}
	retry = iom_live_view_get(l, IOM_LIVE_RETRY_WAIT);
	submitted = iom_live_view_get(l, IOM_LIVE_SUBMITTED);
	ln->scheduled = retry;
	ln->running = submitted > terminal + retry ? submitted - terminal - retry : 0;
	if (!ln->t0)
		ln->t0 = atomic_load_explicit(&l->t0_ns, memory_order_relaxed);
	if (ln->t0 && now >= ln->t0 && lane_running(ln)) {
		struct sec_stat *e = sec_get(ln, (now - ln->t0) / 1000000000ull);

		e->inflight_sum += (double)ln->running;
		e->inflight_n++;
	}
}

/*
 * Tasks per second by terminal state since the last read, from the driver's totals: only
 * COMPLETED is throughput (an EXPIRED task ends fast and would inflate it), so each of the
 * seconds read gets the interval's rates. The first call (rate_ns 0) only takes the base.
 */
static void lane_read_rates(struct lane *ln, uint64_t now, double rate[IOM_NR_STATES])
{
	uint64_t cur[IOM_NR_STATES];
	double dt = (double)(now - ln->rate_ns);

	for (int s = IOM_COMPLETED; s < IOM_NR_STATES; s++)
		cur[s] = atomic_load_explicit(&ln->live->nr_state[s], memory_order_relaxed);
	if (ln->rate_ns) {
		for (int s = IOM_COMPLETED; s < IOM_NR_STATES; s++) {
			rate[s] = dt > 0 ? (double)(cur[s] - ln->rate_state[s]) * 1e9 / dt : 0;
			ln->sum_state[s] += cur[s] - ln->rate_state[s];
		}
		ln->sum_ns += now - ln->rate_ns;
	}
	memcpy(ln->rate_state, cur, sizeof(cur));
	ln->rate_ns = now;
}

/* The seconds that ended (plus a grace for late counts): completions and latency. */
static unsigned int lane_read_seconds(struct lane *ln, uint64_t now, struct iom_hist *h)
{
	double rate[IOM_NR_STATES] = { 0 };
	unsigned int n = 0;

	if (ln->t0 && now >= ln->t0 && lane_running(ln) &&
	    (!ln->rate_ns || now >= ln->t0 + (ln->secs + 1) * 1000000000ull + GRACE_NS))
		lane_read_rates(ln, now, rate);
	while (ln->t0 && lane_running(ln) &&
	       now >= ln->t0 + (ln->secs + 1) * 1000000000ull + GRACE_NS) {
		struct sec_stat *e = sec_get(ln, ln->secs);

		/* The latency histogram is of every terminal state the driver recorded. */
		iom_live_take_second(ln->live, ln->secs + 1, h);
		e->ops = (uint64_t)llround(rate[IOM_COMPLETED]);
		e->expired = (uint64_t)llround(rate[IOM_EXPIRED]);
		e->failed = (uint64_t)llround(rate[IOM_FAILED]);
		e->p99_ns = iom_hist_quantile_backed(h, 0.99) ? (double)iom_hist_quantile(h, 0.99) :
								 NAN;
		e->max_ns = h->count ? (double)iom_hist_quantile(h, 1.0) : NAN;
		e->done = true;
		ln->secs++;
		n++;
	}
	return n;
}

static int by_tid(const void *a, const void *b)
{
	const struct thr_prev *x = a, *y = b;

	return (x->tid > y->tid) - (x->tid < y->tid);
}

/* Which lane and role a thread is: registered by the cell, or an io-wq / SQPOLL thread of it. */
static struct lane *thread_owner(struct watch *w, const struct iom_thread_sample *s,
				 enum role *role, unsigned int *index)
{
	pid_t want = s->tid;
	bool iowq = false;

	if (!strncmp(s->comm, "iou-wrk-", 8) || !strncmp(s->comm, "iou-sqp-", 8)) {
		/* io_uring names its threads after the task that made the ring: a submitter. */
		want = (pid_t)atoi(s->comm + 8);
		iowq = true;
	}
	for (unsigned int i = 0; i < w->nr_lanes; i++) {
		struct lane *ln = w->lanes[i];
		uint32_t n;

		if (!lane_running(ln))
			continue;
		n = atomic_load_explicit(&ln->live->nr_tids, memory_order_relaxed);
		if (n > IOM_LIVE_MAX_TIDS)
			n = IOM_LIVE_MAX_TIDS;
		for (uint32_t k = 0; k < n; k++) {
			uint32_t info;

			if (atomic_load_explicit(&ln->live->tid[k], memory_order_acquire) != want)
				continue;
			info = atomic_load_explicit(&ln->live->tid_info[k], memory_order_relaxed);
			*index = info & 0xffffff;
			*role = iowq ? R_IOWQ : (info >> 24) == IOM_LIVE_WORKER ? R_WORKER : R_SUB;
			return ln;
		}
	}
	return NULL;
}

/*
 * Every thread of the process, once a second: differences of its totals give each thread's
 * share of the interval on a CPU, runnable-waiting and blocked; summed per lane and role they
 * are the mean number of threads in each state. The totals come from the sched probe when it
 * runs (w->plive: its per-thread record, from its array slot or task storage) and otherwise
 * from the kernel's schedstat (on a CPU and runnable; the rest of the interval counts as
 * blocked).
 * /proc still says who the thread is (comm) and which call a sleeping thread sleeps in.
 */
static void census(struct watch *w, uint64_t now)
{
	/* Per lane and role: the calls its sleeping threads sleep in, a few kinds counted. */
	static unsigned int calls_n[MAX_ALL_LANES][NR_ROLES][8];
	static long calls_nr[MAX_ALL_LANES][NR_ROLES][8];
	uint64_t lane_cpu[MAX_ALL_LANES] = { 0 };
	double dt = w->prev_ns ? (double)(now - w->prev_ns) : 0;
	struct thr_prev *cur = NULL;
	size_t nr_cur = 0, cap = 0;
	struct dirent *de;
	DIR *dir;

	for (unsigned int i = 0; i < w->nr_lanes; i++) {
		struct lane *ln = w->lanes[i];

		memset(ln->role, 0, sizeof(ln->role));
		memset(ln->glyph, 0, sizeof(ln->glyph));
		ln->nr_glyphs = 0;
		ln->cpu_ns_per_task = NAN;
		for (int r = 0; r < NR_ROLES; r++)
			ln->role[r].top_call = -1;
	}
	memset(calls_n, 0, sizeof(calls_n));
	dir = opendir("/proc/self/task");
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		pid_t tid = (pid_t)atoi(de->d_name);
		struct iom_thread_sample s;
		struct iom_probe_thread pt;
		struct thr_prev key, *p;
		bool from_probe;
		double blk;
		unsigned int index = 0, li;
		enum role role = R_SUB;
		struct role_stat *r;
		struct lane *ln;
		double run, rq;

		if (tid <= 0 || iom_thread_read(tid, &s, true))
			continue;
		if (nr_cur == cap) {
			struct thr_prev *n = realloc(cur, (cap ? cap * 2 : 256) * sizeof(*cur));

			if (!n)
				break;
			cur = n;
			cap = cap ? cap * 2 : 256;
		}
		from_probe = w->plive && !iom_probe_live_read(w->plive, tid, &pt);
		if (from_probe) {
			s.oncpu_ns = pt.oncpu_ns;
			s.runwait_ns = pt.runq_ns;
		}
		cur[nr_cur++] = (struct thr_prev){ tid, from_probe, s.oncpu_ns, s.runwait_ns,
						   from_probe ? pt.blocked_ns : 0 };
		ln = thread_owner(w, &s, &role, &index);
		if (!ln)
			continue;
		for (li = 0; w->lanes[li] != ln; li++)
			;
		r = &ln->role[role];
		r->n++;
		r->n_probe += from_probe;
		/* A sync submitter asleep on a futex is parked by the view, not on a task. */
		if (role == R_SUB && !(ln->model->caps & IOM_CAP_ASYNC) && s.syscall_nr == SYS_futex) {
			r->parked++;
			continue;
		}
		key.tid = tid;
		p = w->prev ? bsearch(&key, w->prev, w->nr_prev, sizeof(*p), by_tid) : NULL;
		if (!p || dt <= 0 || p->from_probe != from_probe) {
			/* First sight: its state now stands in for the interval. */
			char now_in = from_probe ? pt.state : s.state;

			run = now_in == 'R' ? 1 : 0;
			rq = now_in == 'r' ? 1 : 0;
			blk = 1 - run - rq;
		} else {
			run = (double)(s.oncpu_ns - p->oncpu_ns) / dt;
			rq = (double)(s.runwait_ns - p->runwait_ns) / dt;
			blk = from_probe ? (double)(pt.blocked_ns - p->blocked_ns) / dt : 1 - run - rq;
			lane_cpu[li] += s.oncpu_ns - p->oncpu_ns;
		}
		if (run > 1)
			run = 1;
		if (rq > 1 - run)
			rq = 1 - run;
		if (blk > 1 - run - rq)
			blk = 1 - run - rq;
		if (blk < 0)
			blk = 0;
		r->run += run;
		r->rq += rq;
		r->blk += blk;
		if (role == R_SUB && index < MAX_GLYPHS) {
			ln->glyph[index] = run >= rq && run >= blk ? 'R' : rq >= blk ? 'r' : 'B';
			if (index + 1 > ln->nr_glyphs)
				ln->nr_glyphs = index + 1;
		}
		if (s.syscall_nr >= 0 && s.state != 'R') {
			for (int k = 0; k < 8; k++) {
				if (calls_n[li][role][k] && calls_nr[li][role][k] != s.syscall_nr)
					continue;
				calls_nr[li][role][k] = s.syscall_nr;
				calls_n[li][role][k]++;
				break;
			}
		}
	}
	closedir(dir);
	for (unsigned int i = 0; i < w->nr_lanes; i++) {
		struct lane *ln = w->lanes[i];
		uint64_t done = 0;

		for (int r = 0; r < NR_ROLES; r++)
			for (int k = 0; k < 8; k++)
				if (calls_n[i][r][k] > ln->role[r].top_call_n) {
					ln->role[r].top_call_n = calls_n[i][r][k];
					ln->role[r].top_call = calls_nr[i][r][k];
				}
		/* CPU per task: the lane's threads' CPU over the interval, per task it ended. */
		for (int s = IOM_COMPLETED; s < IOM_NR_STATES; s++)
			done += ln->n_state[s];
		if (ln->census_primed && done > ln->census_done && dt > 0) {
			ln->cpu_ns_per_task = (double)lane_cpu[i] / (double)(done - ln->census_done);
			ln->cpu_sum_ns += lane_cpu[i];
			ln->cpu_sum_tasks += done - ln->census_done;
		}
		ln->census_done = done;
		ln->census_primed = dt > 0;
	}
	if (cur)
		qsort(cur, nr_cur, sizeof(*cur), by_tid);
	free(w->prev);
	w->prev = cur;
	w->nr_prev = nr_cur;
	w->prev_ns = now;
}

/* ----------------------------------------------------------------------------------------- */
/* Drawing                                                                                   */

static const char *const spark_utf8[] = { " ", "\u2581", "\u2582", "\u2583", "\u2584",
					  "\u2585", "\u2586", "\u2587", "\u2588" };
static const char spark_ascii[] = " ._-=+*#@";

static void put_line(int y, const char *s)
{
	mvaddnstr(y, 0, s, COLS);
}

/* The last width seconds of one figure, scaled to their maximum; knob changes in reverse. */
static void draw_spark(struct watch *w, const struct lane *ln, int y, const char *label,
		       bool latency)
{
	int x0 = 7, width = COLS - x0;
	uint64_t last = ln->secs, first = last > (uint64_t)width ? last - (uint64_t)width : 0;
	double top = 0;
	char lab[64], v[16];

	for (uint64_t s = first; s < last; s++) {
		const struct sec_stat *e = sec_peek(ln, s);
		double x = !e ? NAN : latency ? e->p99_ns : (double)e->ops;

		if (e && !isnan(x) && x > top)
			top = x;
	}
	if (latency)
		iom_fmt_ns(v, sizeof(v), top > 0 ? top : NAN);
	else
		fmt_count(v, sizeof(v), top);
	snprintf(lab, sizeof(lab), "%s", label);
	mvaddnstr(y, 0, lab, x0);
	for (uint64_t s = first; s < last; s++) {
		const struct sec_stat *e = sec_peek(ln, s);
		double x = !e ? NAN : latency ? e->p99_ns : (double)e->ops;
		int level = isnan(x) || top <= 0 ? 0 : 1 + (int)(x / top * 7.999);

		move(y, x0 + (int)(s - first));
		if (e && e->mark) {
			attron(A_REVERSE);
			addch((chtype)(unsigned char)e->mark);
			attroff(A_REVERSE);
		} else if (w->utf8) {
			addstr(spark_utf8[level]);
		} else {
			addch((chtype)(unsigned char)spark_ascii[level]);
		}
	}
	/* The scale, after the bars when they leave room. */
	if ((int)(last - first) + x0 + (int)strlen(v) + 6 < COLS)
		mvprintw(y, x0 + (int)(last - first) + 1, "max %s", v);
}

/* What the model's lanes look like in the seed, with the measured numbers on them. */
static void lane_diagram(const struct lane *ln, char *buf, size_t len, int width)
{
	const struct role_stat *sub = &ln->role[R_SUB], *wk = &ln->role[R_WORKER],
			       *wq = &ln->role[R_IOWQ];
	enum iom_shape shape = ln->model->shape;
	/* A pool's tasks wait in its workers' calls; every other shape's in the submitters'. */
	const char *call = iom_live_syscall_name(
		shape == IOM_SHAPE_POOL ? wk->top_call : sub->top_call);

	switch (shape) {
	case IOM_SHAPE_THREAD_PER_TASK: {
		char g[MAX_GLYPHS + 1];
		unsigned int n = 0;

		/* One letter per client thread: B blocked, R on a CPU, r runnable (waiting). */
		for (unsigned int i = 0; i < ln->nr_glyphs && n < 16; i++)
			if (ln->glyph[i])
				g[n++] = ln->glyph[i];
		g[n] = '\0';
		snprintf(buf, len, " Client<->Server x%u [%s%s] blk %.1f run %.1f rq %.1f, %u idle",
			 sub->n - sub->parked, g, sub->n - sub->parked > n ? "+" : "", sub->blk,
			 sub->run, sub->rq, sub->parked);
		break;
	}
	case IOM_SHAPE_RING:
		/* The tasks in flight are on the line above: timer tasks wait in the ring's heap
		 * under one armed TIMEOUT (--uring-timer heap), not one each in the kernel. */
		snprintf(buf, len, " submitter -> SQ -> kernel/io-wq -> CQ, io-wq %u thr | blk %.1f "
			 "run %.1f rq %.1f", wq->n, sub->blk, sub->run, sub->rq);
		break;
	case IOM_SHAPE_POOL: {
		uint64_t q = ln->stage[0] > ln->stage[1] ? ln->stage[0] - ln->stage[1] : 0;
		uint64_t at = ln->stage[1] > ln->stage[2] ? ln->stage[1] - ln->stage[2] : 0;
		uint64_t st = ln->stage[2] > ln->stage[3] ? ln->stage[2] - ln->stage[3] : 0;

		snprintf(buf, len, " submit -> Queue %" PRIu64 " -> Workers %" PRIu64 "/%u -> "
			 "Status %" PRIu64 " | wrk blk %.1f run %.1f rq %.1f", q, at, wk->n, st,
			 wk->blk, wk->run, wk->rq);
		break;
	}
	case IOM_SHAPE_LOOP:
		snprintf(buf, len, " loop <-> ready list: %" PRIu64 " waiting | loop blk %.1f run "
			 "%.1f rq %.1f", ln->running, sub->blk, sub->run, sub->rq);
		break;
	case IOM_SHAPE_PLAIN:
	default:
		snprintf(buf, len, " %u threads: blk %.1f run %.1f rq %.1f", sub->n, sub->blk,
			 sub->run, sub->rq);
		break;
	}
	/* Where the blocked threads sleep, when the line has room for it. */
	if (call && (int)(strlen(buf) + strlen(call) + 4) <= width)
		snprintf(buf + strlen(buf), len - strlen(buf), " in %s", call);
}

/* The last full second's figures: in flight, ops/s, p99 (or max when p99 is not backed). */
static void lane_figures(const struct lane *ln, char *buf, size_t len)
{
	const struct sec_stat *e = ln->secs ? sec_peek(ln, ln->secs - 1) : NULL;
	char ops[16], lat[16], cpu[16], lost[64] = "", exp[16], fail[16];
	double infl = e && e->inflight_n ? e->inflight_sum / e->inflight_n : NAN;

	fmt_count(ops, sizeof(ops), e ? (double)e->ops : NAN);
	iom_fmt_ns(lat, sizeof(lat), !e ? NAN : !isnan(e->p99_ns) ? e->p99_ns : e->max_ns);
	iom_fmt_ns(cpu, sizeof(cpu), ln->cpu_ns_per_task);
	/* Tasks that ended without completing, beside the throughput, only when there are any. */
	if (e && (e->expired || e->failed)) {
		fmt_count(exp, sizeof(exp), (double)e->expired);
		fmt_count(fail, sizeof(fail), (double)e->failed);
		snprintf(lost, sizeof(lost), " (exp %s fail %s)", exp, fail);
	}
	snprintf(buf, len, "in flight %.1f  %s ops/s%s  %s %s  cpu %s/task", infl, ops, lost,
		 e && isnan(e->p99_ns) ? "max" : "p99", lat, cpu);
}

static void draw_lane(struct watch *w, struct lane *ln, int y)
{
	char line[512], fig[160], c[IOM_NR_STATES][16];
	bool done = atomic_load_explicit(&ln->done, memory_order_acquire);

	if (done && ln->joined && strcmp(ln->row->str[IOM_COL_status], "ok")) {
		attron(A_BOLD);
		snprintf(line, sizeof(line), "%-12s %s: %s", ln->model->name,
			 ln->row->str[IOM_COL_status], ln->row->str[IOM_COL_reason]);
		put_line(y, line);
		attroff(A_BOLD);
		return;
	}
	lane_figures(ln, fig, sizeof(fig));
	attron(A_BOLD);
	snprintf(line, sizeof(line), "%-12s", ln->model->name);
	put_line(y, line);
	attroff(A_BOLD);
	snprintf(line, sizeof(line), "%s%s", fig, done ? "  (ended)" : "");
	mvaddnstr(y, 13, line, COLS - 13);
	lane_diagram(ln, line, sizeof(line), COLS);
	put_line(y + 1, line);
	fmt_count(c[IOM_SCHEDULED], 16, (double)ln->scheduled);
	fmt_count(c[IOM_RUNNING], 16, (double)ln->running);
	for (int s = IOM_COMPLETED; s < IOM_NR_STATES; s++)
		fmt_count(c[s], 16, (double)ln->n_state[s]);
	snprintf(line, sizeof(line), "%-14s %9s %7s %9s %7s %7s %7s %7s", " tasks", c[IOM_SCHEDULED],
		 c[IOM_RUNNING], c[IOM_COMPLETED], c[IOM_FAILED], c[IOM_ABORTED], c[IOM_PARTIAL],
		 c[IOM_EXPIRED]);
	put_line(y + 2, line);
	draw_spark(w, ln, y + 3, " ops/s", false);
	draw_spark(w, ln, y + 4, " p99", true);
}

static void draw(struct watch *w, uint64_t now)
{
	char line[256], lat[16], dl[16], fault[24];
	int y = LANE_TOP;

	erase();
	if (LINES < NEED_LINES || COLS < NEED_COLS) {
		/* Never a garbled screen: say what is needed, keep running, q still quits. */
		w->too_small = true;
		snprintf(line, sizeof(line), "terminal too small (need %dx%d, have %dx%d)",
			 NEED_COLS, NEED_LINES, COLS, LINES);
		mvaddnstr(0, 0, line, COLS);
		mvaddnstr(1, 0, "enlarge it, or press q to quit", COLS);
		refresh();
		return;
	}
	w->too_small = false;
	iom_fmt_ns(lat, sizeof(lat), (double)w->k.latency_ns);
	iom_fmt_ns(dl, sizeof(dl), (double)w->k.deadline_ns);
	fmt_ppm(fault, sizeof(fault), w->k.fault_ppm, w->o->cfg.fault_errno);
	snprintf(line, sizeof(line), "iomodels watch  %s  C %u/%u  latency %s  deadline %s%s  "
		 "fault %s  %.0f/%.0fs", iom_wl_name(w->o->cfg.wl.kind), w->k.c, w->k.cmax,
		 w->k.latency_applies ? lat : "-", w->k.deadline_on ? "" : "off ",
		 w->k.deadline_on ? dl : "", fault, (double)(now - w->t_start) / 1e9,
		 (double)(w->t_end - w->t_start) / 1e9);
	attron(A_BOLD);
	put_line(0, line);
	attroff(A_BOLD);
	if (w->k.paused) {
		attron(A_REVERSE);
		put_line(1, "PAUSED: no new task starts (p resumes)");
		attroff(A_REVERSE);
	} else {
		put_line(1, w->msg);
	}
	snprintf(line, sizeof(line), "%-14s %9s %7s %9s %7s %7s %7s %7s", "last 1 s; tasks:",
		 "SCHEDULED", "RUNNING", "COMPLETED", "FAILED", "ABORTED", "PARTIAL", "EXPIRED");
	put_line(2, line);
	for (unsigned int i = 0; i < w->nr_lanes && y + LANE_LINES <= LINES - 1; i++) {
		if (w->lanes[i]->stopped_by_view)
			continue;
		draw_lane(w, w->lanes[i], y);
		y += LANE_LINES;
	}
	attron(A_REVERSE);
	put_line(LINES - 1, "+/- conc  l/L latency  d deadline  f/F fault  m switch  a add  "
		 "p pause  q quit");
	attroff(A_REVERSE);
	refresh();
}

/* Not a terminal: one line per lane per second read, then the knob events as they come. */
static void plain_second(const struct lane *ln, uint64_t s)
{
	const struct sec_stat *e = sec_peek(ln, s);
	const struct role_stat *sub = &ln->role[R_SUB];
	char p99[16], mx[16], cpu[16];

	if (!e)
		return;
	iom_fmt_ns(p99, sizeof(p99), e->p99_ns);
	iom_fmt_ns(mx, sizeof(mx), e->max_ns);
	iom_fmt_ns(cpu, sizeof(cpu), ln->cpu_ns_per_task);
	printf("watch t=%" PRIu64 " %s in_flight=%.1f ops/s=%" PRIu64 " expired/s=%" PRIu64
	       " failed/s=%" PRIu64 " p99=%s max=%s cpu/task=%s "
	       "threads=%u running=%.1f runnable=%.1f blocked=%.1f parked=%u workers=%u io-wq=%u "
	       "probed=%u "
	       "SCHEDULED=%" PRIu64 " RUNNING=%" PRIu64 " COMPLETED=%" PRIu64 " FAILED=%" PRIu64
	       " ABORTED=%" PRIu64 " PARTIAL=%" PRIu64 " EXPIRED=%" PRIu64 "%s\n", s + 1,
	       ln->model->name, e->inflight_n ? e->inflight_sum / e->inflight_n : 0.0, e->ops,
	       e->expired, e->failed, p99,
	       mx, cpu, sub->n, sub->run + ln->role[R_WORKER].run + ln->role[R_IOWQ].run,
	       sub->rq + ln->role[R_WORKER].rq + ln->role[R_IOWQ].rq,
	       sub->blk + ln->role[R_WORKER].blk + ln->role[R_IOWQ].blk, sub->parked,
	       ln->role[R_WORKER].n, ln->role[R_IOWQ].n,
	       sub->n_probe + ln->role[R_WORKER].n_probe + ln->role[R_IOWQ].n_probe, ln->scheduled, ln->running,
	       ln->n_state[IOM_COMPLETED], ln->n_state[IOM_FAILED], ln->n_state[IOM_ABORTED],
	       ln->n_state[IOM_PARTIAL], ln->n_state[IOM_EXPIRED], e->mark ? " (knob changed)" : "");
}

/* ----------------------------------------------------------------------------------------- */
/* The terminal                                                                              */

static struct watch *screen_owner;

/* Whatever path the process leaves by, the terminal is given back. */
static void screen_restore(void)
{
	if (screen_owner && screen_owner->curses && !isendwin())
		endwin();
}

static bool screen_open(struct watch *w)
{
	const char *cs;
	SCREEN *scr;

	setlocale(LC_ALL, "");
	cs = nl_langinfo(CODESET);
	w->utf8 = cs && !strcmp(cs, "UTF-8");
	scr = newterm(NULL, stdout, stdin);
	if (!scr)
		return false;
	set_term(scr);
	/* cbreak, not raw: Ctrl-C still raises SIGINT, which stops the run cleanly. */
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	w->curses = true;
	screen_owner = w;
	atexit(screen_restore);
	/* Nothing may write over the screen: stderr goes to a file, shown after. */
	fflush(stderr);
	w->err_file = tmpfile();
	if (w->err_file) {
		w->saved_stderr = dup(STDERR_FILENO);
		dup2(fileno(w->err_file), STDERR_FILENO);
	}
	return true;
}

static void screen_close(struct watch *w)
{
	char buf[512];
	size_t n;

	if (!w->curses)
		return;
	endwin();
	w->curses = false;
	if (w->err_file) {
		fflush(stderr);
		dup2(w->saved_stderr, STDERR_FILENO);
		close(w->saved_stderr);
		rewind(w->err_file);
		while ((n = fread(buf, 1, sizeof(buf), w->err_file)) > 0)
			fwrite(buf, 1, n, stderr);
		fclose(w->err_file);
		w->err_file = NULL;
	}
}

/* Keys until the next frame is due: a terminal's, or stdin's bytes when not drawing. */
static void read_keys(struct watch *w, uint64_t until)
{
	uint64_t now = iom_now_ns();
	int ms = until > now ? (int)((until - now + 999999) / 1000000) : 0;

	if (w->curses) {
		int ch;

		timeout(ms);
		ch = getch();
		while (ch != ERR) {
			if (ch != KEY_RESIZE)
				handle_key(w, ch);
			timeout(0);
			ch = getch();
		}
		return;
	}
	{
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		static bool stdin_done;
		char buf[64];
		ssize_t n;

		if (stdin_done) {
			struct timespec ts = iom_ts(until);

			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			return;
		}
		if (poll(&pfd, 1, ms) <= 0)
			return;
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n <= 0) {
			stdin_done = true;	/* end of input: the run goes on to its end */
			return;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != '\n' && buf[i] != '\r')
				handle_key(w, (unsigned char)buf[i]);
	}
}

/* ----------------------------------------------------------------------------------------- */

/*
 * A lane's summary: its rates and CPU per task come from the live view's own reads (COMPLETED
 * per second; its threads' CPU per task ended), so lanes that ran side by side are each their
 * own, not the whole process'. A lane too short for a census falls back to the row's.
 */
static void print_lane_summary(const struct lane *ln)
{
	const struct iom_row *row = ln->row;
	const double *n = row->num;
	double secs = (double)ln->sum_ns / 1e9, cpu_task = n[IOM_COL_cpu_ns_per_task];
	bool own_cpu = ln->cpu_sum_tasks > 0;
	char p50[16], p99[16], cpu[16];

	printf("%-12s %-6s %-8s", row->str[IOM_COL_model], row->str[IOM_COL_workload],
	       row->str[IOM_COL_status]);
	if (strcmp(row->str[IOM_COL_status], "ok")) {
		printf(" %s\n", row->str[IOM_COL_reason]);
		return;
	}
	if (own_cpu)
		cpu_task = (double)ln->cpu_sum_ns / (double)ln->cpu_sum_tasks;
	iom_fmt_ns(p50, sizeof(p50), n[IOM_COL_lat_p50_ns]);
	iom_fmt_ns(p99, sizeof(p99), n[IOM_COL_lat_p99_ns]);
	iom_fmt_ns(cpu, sizeof(cpu), cpu_task);
	printf(" %.1fs %.0f ops/s (completed) expired %.0f/s failed %.0f/s p50 %s p99 %s "
	       "cpu/task %s%s\n    submitted %.0f = completed "
	       "%.0f + failed %.0f + aborted %.0f + partial %.0f + expired %.0f%s%s\n",
	       n[IOM_COL_runtime_ns] / 1e9,
	       secs > 0 ? (double)ln->sum_state[IOM_COMPLETED] / secs : NAN,
	       secs > 0 ? (double)ln->sum_state[IOM_EXPIRED] / secs : NAN,
	       secs > 0 ? (double)ln->sum_state[IOM_FAILED] / secs : NAN, p50, p99, cpu,
	       own_cpu ? " (its threads)" : strstr(row->str[IOM_COL_flags], "shared_process") ?
	       " (whole process)" : "",
	       n[IOM_COL_submitted], n[IOM_COL_n_completed], n[IOM_COL_n_failed],
	       n[IOM_COL_n_aborted], n[IOM_COL_n_partial], n[IOM_COL_n_expired],
	       row->str[IOM_COL_flags][0] ? "  flags " : "", row->str[IOM_COL_flags]);
}

/* 0, 1 (cannot write) or 2 (--output holds a run: refused as run refuses it, nothing written). */
static int watch_open_output(struct watch *w)
{
	const struct iom_watch_opts *o = w->o;
	char errbuf[PATH_MAX + 128], path[PATH_MAX + 16];
	int why;

	if (!o->output)
		return 0;
	snprintf(w->outdir, sizeof(w->outdir), "%s", o->output);
	w->rep = iom_report_open_mode(w->outdir, sizeof(w->outdir), IOM_REPORT_NEW, o->argc,
				      o->argv, errbuf, sizeof(errbuf), &why);
	if (!w->rep) {
		/* A configuration error (exit 2), as in run: nothing ran, nothing was written. */
		fprintf(stderr, "iomodels: %s\n", errbuf);
		return 2;
	}
	if (iom_report_models(w->rep, iom_models)) {
		fprintf(stderr, "iomodels: %s\n", iom_report_errmsg(w->rep));
		return 1;
	}
	iom_meta_collect(w->rep, o->cfg.wl.directory[0] ? o->cfg.wl.directory : ".",
			 iom_models);
	iom_report_meta_num(w->rep, "timer_slack_ns", (double)iom_timer_slack_ns());
	iom_report_meta_str(w->rep, "cpus", o->cfg.cpus_set ? o->cfg.cpus_str : "all");
	iom_report_meta_num(w->rep, "seed", (double)o->cfg.wl.seed);
	iom_report_meta_str(w->rep, "latency_note",
			    "watch: closed loop from submit; the knobs moved during the window "
			    "(events.csv); concurrency is the most in flight (slots made)");
	snprintf(path, sizeof(path), "%s/events.csv", w->outdir);
	w->events = fopen(path, "we");
	if (!w->events) {
		fprintf(stderr, "iomodels: cannot write %s: %s (%s)\n", path, iom_errno_name(errno),
			strerror(errno));
		return 1;
	}
	fprintf(w->events, "t_ms,knob,from,to\n");
	return 0;
}

/* Set-up failed before any lane started: close what watch_open_output opened. */
static void watch_close_output(struct watch *w)
{
	if (w->events)
		fclose(w->events);
	if (w->rep)
		iom_report_close(w->rep);
}

/*
 * The census's source: the sched probe, opened before the lanes' threads exist so that it sees
 * each one from its first wake-up, or /proc. Auto falls back to /proc and says why on screen.
 */
static int watch_open_states(struct watch *w)
{
	struct iom_err err = { "" };

	if (w->o->thread_states != IOM_STATES_FROM_PROC) {
		w->plive = iom_probe_live_open(getpid(), &err);
		if (w->plive) {
			snprintf(w->states_from, sizeof(w->states_from),
				 "threads from the sched probe, last 1 s");
			return 0;
		}
		if (w->o->thread_states == IOM_STATES_FROM_PROBES) {
			fprintf(stderr, "iomodels: watch: --thread-states probes: unavailable: %s\n",
				err.msg);
			return 1;
		}
		snprintf(w->states_from, sizeof(w->states_from), "threads from /proc schedstat, "
			 "last 1 s (probes: unavailable: %s)", err.msg);
		return 0;
	}
	snprintf(w->states_from, sizeof(w->states_from), "threads from /proc schedstat, last 1 s");
	return 0;
}

/* The knobs' starting values, from the options. */
static void watch_init_knobs(struct watch *w, const struct iom_watch_opts *o)
{
	w->o = o;
	w->k.c = o->concurrency;
	w->k.cmax = o->concurrency_max;
	w->k.latency_ns = o->cfg.wl.latency_ns;
	w->k.latency_applies = o->cfg.wl.kind == IOM_WL_TIMER || o->cfg.wl.kind == IOM_WL_RPC;
	w->k.deadline_on = o->deadline_on;
	w->k.fault_ppm = o->cfg.fault_ppm;
	/* No --deadline-us: half the task's latency, so that turning it on shows EXPIRED at once
	 * and l/L move the latency across it; 100 us for tasks that have no latency. */
	w->k.deadline_ns = o->deadline_on ? o->cfg.deadline_ns :
			   w->k.latency_applies && o->cfg.wl.latency_ns >= 2000 ?
			   o->cfg.wl.latency_ns / 2 : 100000;
}

/* The output, the file workload's file and the thread-state source; 0, 1 or 2 (said why). */
static int watch_prepare(struct watch *w)
{
	const struct iom_watch_opts *o = w->o;
	int ret = watch_open_output(w);

	if (ret) {
		watch_close_output(w);
		return ret;
	}
	/* The file workload's file is made (or checked) once, here: lanes opening it at the same
	 * moment would each find it half written by another. */
	if (o->cfg.wl.kind == IOM_WL_FILE) {
		struct iom_workload wl;
		struct iom_err err = { "" };

		if (iom_workload_open(&wl, &o->cfg.wl, &err)) {
			fprintf(stderr, "iomodels: %s\n", err.msg);
			watch_close_output(w);
			return 1;
		}
		iom_workload_close(&wl);
	}
	if (watch_open_states(w)) {
		watch_close_output(w);
		return 1;
	}
	return 0;
}

/* Each lane's counters now; whether it shares the process with another running lane. */
static void watch_sample(struct watch *w, uint64_t now)
{
	unsigned int nr_running = 0;

	for (unsigned int i = 0; i < w->nr_lanes; i++)
		if (!atomic_load_explicit(&w->lanes[i]->done, memory_order_acquire))
			nr_running++;
	for (unsigned int i = 0; i < w->nr_lanes; i++) {
		if (!atomic_load_explicit(&w->lanes[i]->done, memory_order_acquire))
			w->lanes[i]->shared |= nr_running > 1;
		if (lane_running(w->lanes[i]))
			lane_sample(w->lanes[i], now);
	}
}

/* Join the cells that ended by themselves (runtime, error), saying so once; any still running? */
static bool watch_join_ended(struct watch *w, uint64_t now)
{
	bool any = false;

	for (unsigned int i = 0; i < w->nr_lanes; i++) {
		struct lane *ln = w->lanes[i];

		if (!ln->joined && atomic_load_explicit(&ln->done, memory_order_acquire)) {
			pthread_join(ln->thread, NULL);
			ln->joined = true;
			lane_sample(ln, now);
			if (!ln->stopped_by_view)
				set_msg(w, "%s ended: %s%s%s", ln->model->name,
					ln->row->str[IOM_COL_status],
					ln->row->str[IOM_COL_reason][0] ? ": " : "",
					ln->row->str[IOM_COL_reason]);
		}
		any |= !atomic_load_explicit(&ln->done, memory_order_acquire);
	}
	return any;
}

/* One frame: sample, census, the seconds that ended, joins, drawing. False: the session ends. */
static bool watch_frame(struct watch *w, uint64_t now, struct iom_hist *h)
{
	bool any, all_failed = true;

	watch_sample(w, now);
	if (now >= w->next_census_ns) {
		census(w, now);
		w->next_census_ns = now + CENSUS_NS;
	}
	for (unsigned int i = 0; i < w->nr_lanes; i++) {
		struct lane *ln = w->lanes[i];
		uint64_t s0 = ln->secs;
		unsigned int n = lane_read_seconds(ln, now, h);

		for (uint64_t s = s0; !w->curses && s < s0 + n; s++)
			plain_second(ln, s);
	}
	any = watch_join_ended(w, now);
	if (w->curses)
		draw(w, now);
	else
		fflush(stdout);
	/* The runtime is over (every cell ended), or nothing is left running. */
	if (!any && (now >= w->t_end || !w->nr_lanes))
		return false;
	if (any || now < w->t_start + 1000000000ull)
		return true;
	for (unsigned int i = 0; i < w->nr_lanes; i++)
		if (!strcmp(w->lanes[i]->row->str[IOM_COL_status], "ok"))
			all_failed = false;
	return !all_failed;
}

/* Stop every lane; the cells drain (every task to one terminal state) and return. */
static void watch_stop_lanes(struct watch *w)
{
	if (w->curses && !w->too_small) {
		mvaddnstr(1, 0, "stopping: the lanes drain what is in flight ...", COLS);
		clrtoeol();
		refresh();
	}
	for (unsigned int i = 0; i < w->nr_lanes; i++)
		iom_live_stop(&w->lanes[i]->live->hook);
	for (unsigned int i = 0; i < w->nr_lanes; i++) {
		struct lane *ln = w->lanes[i];

		if (!ln->joined && ln->thread_made)
			pthread_join(ln->thread, NULL);
		ln->joined = true;
	}
}

/* Each lane's row to the report and the terminal; the run's exit code. */
static int watch_report(struct watch *w)
{
	int exit_code = 0;

	for (unsigned int i = 0; i < w->nr_lanes; i++) {
		struct lane *ln = w->lanes[i];

		/*
		 * Lanes share one process: its CPU, memory, switches and thread count (getrusage,
		 * /proc/self) in a row include every lane that ran beside it. Said in the row.
		 */
		if (ln->shared) {
			char *f = ln->row->str[IOM_COL_flags];
			size_t n = strlen(f);

			snprintf(f + n, sizeof(ln->row->str[0]) - n, "%sshared_process", n ? ";" : "");
		}
		if (w->rep)
			iom_report_row(w->rep, ln->row, ln->hist);
		print_lane_summary(ln);
		if (ln->ret == IOM_EXIT_BUG) {
			fprintf(stderr, "iomodels: %s\n", ln->row->str[IOM_COL_reason]);
			exit_code = IOM_EXIT_BUG;
		} else if (ln->ret == 130 && !exit_code) {
			exit_code = 130;
		} else if (!strcmp(ln->row->str[IOM_COL_status], "error") && !exit_code) {
			exit_code = 1;
		}
	}
	if (watch_signal && !exit_code)
		exit_code = 130;
	if (w->events)
		fclose(w->events);
	if (w->rep) {
		if (iom_report_close(w->rep)) {
			fprintf(stderr, "iomodels: cannot write %s/run.json\n", w->outdir);
			exit_code = exit_code ? exit_code : 1;
		}
		printf("results: %s/runs.csv (knob changes: %s/events.csv)\n", w->outdir, w->outdir);
	}
	return exit_code;
}

static void watch_free(struct watch *w)
{
	for (unsigned int i = 0; i < w->nr_lanes; i++) {
		free(w->lanes[i]->row);
		free(w->lanes[i]->hist);
		free(w->lanes[i]->live);
		free(w->lanes[i]);
	}
	free(w->prev);
	iom_probe_live_close(w->plive);
	screen_owner = NULL;
}

int iom_watch(const struct iom_watch_opts *o)
{
	static struct watch wst;
	struct watch *w = &wst;
	struct sigaction sa = { .sa_handler = watch_on_signal }, old_int, old_term;
	struct iom_hist *h = malloc(sizeof(*h));
	uint64_t next_frame, now;
	int exit_code;

	if (!h)
		return 1;
	memset(w, 0, sizeof(*w));
	watch_init_knobs(w, o);
	exit_code = watch_prepare(w);
	if (exit_code) {
		free(h);
		return exit_code;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	if (isatty(STDOUT_FILENO) && !screen_open(w))
		fprintf(stderr, "iomodels: watch: cannot draw on this terminal (TERM=%s): plain "
			"lines instead\n", getenv("TERM") ? getenv("TERM") : "");
	w->t_start = iom_now_ns();
	w->t_end = w->t_start + o->cfg.runtime_ns;
	if (!w->curses)
		printf("watch: %s, C %u (max %u), latency %.0fus, deadline %s, %.0fs; one line per "
		       "model per second; %s\n", iom_wl_name(o->cfg.wl.kind), w->k.c, w->k.cmax,
		       (double)w->k.latency_ns / 1e3, w->k.deadline_on ? "on" : "off",
		       (double)o->cfg.runtime_ns / 1e9, w->states_from);
	for (unsigned int i = 0; i < o->nr_models; i++)
		lane_start(w, o->models[i]);
	snprintf(w->msg, sizeof(w->msg), "tasks: the driver's counts; %s", w->states_from);

	next_frame = iom_now_ns();
	for (;;) {
		read_keys(w, next_frame);
		now = iom_now_ns();
		if (watch_signal || w->quit)
			break;
		if (now < next_frame)
			continue;
		if (!watch_frame(w, now, h))
			break;
		next_frame += FRAME_NS;
		if (next_frame < now)
			next_frame = now + FRAME_NS;
	}

	watch_stop_lanes(w);
	screen_close(w);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	exit_code = watch_report(w);
	watch_free(w);
	free(h);
	return exit_code;
}
