// SPDX-License-Identifier: MIT
/*
 * The probes behind core/probe.h: parse the list, open the requested BPF probes before the
 * cell's threads exist, flip their windows at the measured window's edges, and at the end fill
 * the row's probe columns and write the per-cell files:
 *   probes-<cell>.csv           one line per thread: the tracepoint split beside the kernel's own
 *                               accounting (schedstat_* from /proc/<pid>/task/<tid>/schedstat)
 *   probes-<cell>-roles.csv     the same summed by role (main, submitter, worker, io-wq, ...)
 *   probes-<cell>-uring.csv     io_uring lifecycle counts and sampled latency, inline vs punted
 *   probes-<cell>-syscalls.csv  system calls by number, most frequent first
 *   probes-<cell>-lost.csv      every kind of missed or inconsistent event checked, and its count
 * and the timeline (--timeline FILE). Per-task columns sum the cell's threads, those made after
 * the probes opened (not "main", the driver's watcher, which only waits for the window to end,
 * nor "other", a thread that was there before), and leave idle time (io-wq workers on their
 * free list, threads parked idle per core/idle.h) out of blocked time: it is shown apart, in
 * blocked_idle_ns.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "core/mask.h"
#include "core/probe.h"
#include "probe_int.h"
#include "sched.h"
#include "syscalls.h"
#include "uring.h"

#define BTF_PATH	"/sys/kernel/btf/vmlinux"

/* One thread's kernel-accounted CPU and run-queue wait at a window edge. */
struct iom_schedstat {
	pid_t tid;
	uint64_t exec_ns, delay_ns;
};

struct iom_probe {
	pid_t tgid;
	char *out_dir, *cell, *timeline;
	struct iom_sched *sched;
	struct iom_uring *uring;
	struct iom_syscalls *syscalls;
	struct iom_schedstat *ss_on, *ss_off;
	int nr_ss_on, nr_ss_off;
	struct iom_schedstat *before;	/* threads that existed when the probes opened */
	int nr_before;
	bool window_on, window_done;
	int stats_fd;			/* bpf-stats: BPF_ENABLE_STATS held while open, or -1 */
	uint64_t run_ns_on, run_cnt_on, run_ns_off, run_cnt_off;
};

/* The run time and run count of every program of p's probes, now. */
static void probe_run_time(const struct iom_probe *p, uint64_t *ns, uint64_t *cnt)
{
	*ns = *cnt = 0;
	if (p->sched)
		iom_bpf_run_time(iom_sched_object(p->sched), ns, cnt);
	if (p->uring)
		iom_bpf_run_time(iom_uring_object(p->uring), ns, cnt);
	if (p->syscalls)
		iom_bpf_run_time(iom_syscalls_object(p->syscalls), ns, cnt);
}

static const struct iom_schedstat *schedstat_find(const struct iom_schedstat *v, int n, pid_t tid);

/* A live thread's schedstat just after the window's end (for iom_sched_collect). */
static int kernel_at_off(void *ctx, pid_t tid, uint64_t *exec_ns, uint64_t *delay_ns)
{
	const struct iom_probe *p = ctx;
	const struct iom_schedstat *ss = schedstat_find(p->ss_off, p->nr_ss_off, tid);

	if (!ss)
		return -ENOENT;
	*exec_ns = ss->exec_ns;
	*delay_ns = ss->delay_ns;
	return 0;
}

static int by_ss_tid(const void *a, const void *b)
{
	const struct iom_schedstat *x = a, *y = b;

	return (x->tid > y->tid) - (x->tid < y->tid);
}

/* Every thread's schedstat now, sorted by tid. */
static int schedstat_snapshot(pid_t tgid, struct iom_schedstat **out)
{
	struct iom_schedstat *v = NULL, *nv;
	int n = 0, cap = 0;
	struct dirent *de;
	char path[96], buf[128];
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", tgid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		unsigned long long exec_ns, delay_ns;
		pid_t tid = (pid_t)atoi(de->d_name);
		ssize_t len;
		int fd;

		if (tid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", tgid, tid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = 0;
		if (sscanf(buf, "%llu %llu", &exec_ns, &delay_ns) != 2)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, (size_t)cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(dir);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = (struct iom_schedstat){ tid, exec_ns, delay_ns };
	}
	closedir(dir);
	if (n)
		qsort(v, (size_t)n, sizeof(*v), by_ss_tid);
	*out = v;
	return n;
}

static const struct iom_schedstat *schedstat_find(const struct iom_schedstat *v, int n, pid_t tid)
{
	struct iom_schedstat key = { .tid = tid };

	return n > 0 ? bsearch(&key, v, (size_t)n, sizeof(*v), by_ss_tid) : NULL;
}

/*
 * Parse "on" / "sched,uring,uring-lat,syscalls"; -EINVAL with the offending name in err. uring
 * alone is the lean probe (punts, overflows); uring-lat adds the per-request lifecycle.
 */
static int parse_list(const char *list, bool *sched, bool *full, bool *uring, bool *uring_lat,
		      bool *syscalls, bool *stats, struct iom_err *err)
{
	char buf[128], *save = NULL, *item;

	*sched = *full = *uring = *uring_lat = *syscalls = *stats = false;
	if (!list || strlen(list) >= sizeof(buf))
		return iom_err_set(err, -EINVAL, "list");
	snprintf(buf, sizeof(buf), "%s", list);
	for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (!strcmp(item, "on"))
			*sched = *uring = true;
		else if (!strcmp(item, "sched"))
			*sched = true;
		else if (!strcmp(item, "sched-full"))
			*sched = *full = true;
		else if (!strcmp(item, "uring"))
			*uring = true;
		else if (!strcmp(item, "uring-lat"))
			*uring = *uring_lat = true;
		else if (!strcmp(item, "syscalls"))
			*syscalls = true;
		else if (!strcmp(item, "bpf-stats"))
			*stats = true;
		else if (strcmp(item, "off"))
			return iom_err_set(err, -EINVAL, "list: unknown probe '%s'", item);
	}
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void iom_probe_close(struct iom_probe *p)
{
	if (!p)
		return;
	if (p->stats_fd >= 0)
		close(p->stats_fd);
	iom_syscalls_close(p->syscalls);
	iom_uring_close(p->uring);
	iom_sched_close(p->sched);
	free(p->ss_on);
	free(p->ss_off);
	free(p->before);
	free(p->out_dir);
	free(p->cell);
	free(p->timeline);
	free(p);
}

int iom_probe_sched_slots(struct iom_probe *p, uint64_t *nr_claimed, uint64_t *nr_fallback)
{
	if (!p->sched)
		return -ENOSYS;
	iom_sched_slot_counts(p->sched, nr_claimed, nr_fallback);
	return 0;
}

struct iom_probe *iom_probe_open(const struct iom_probe_opts *opts, struct iom_err *err)
{
	bool want_sched, want_full, want_uring, want_uring_lat, want_syscalls, want_stats;
	struct iom_probe *p;

	if (parse_list(opts->list, &want_sched, &want_full, &want_uring, &want_uring_lat,
		       &want_syscalls, &want_stats, err))
		return NULL;
	/* IOM_MASK=bpf: as on a kernel or user without BPF; the run goes on without probes. */
	if (iom_masked("bpf")) {
		iom_err_set(err, -ENOSYS, "BPF masked (IOM_MASK)");
		return NULL;
	}
	/* The timeline is the sched probe's: it comes with it. */
	if (opts->timeline)
		want_sched = true;
	if (!want_sched && !want_uring && !want_syscalls) {
		iom_err_set(err, -EINVAL, "list: no probe in '%s'", opts->list);
		return NULL;
	}
	if (access(BTF_PATH, R_OK)) {
		iom_err_set(err, -errno, "btf: %s", BTF_PATH);
		return NULL;
	}
	iom_bpf_quiet();
	p = calloc(1, sizeof(*p));
	if (!p) {
		iom_err_set(err, -ENOMEM, "open");
		return NULL;
	}
	p->stats_fd = -1;
	p->tgid = opts->tgid;
	p->out_dir = dup_or_null(opts->out_dir);
	p->cell = strdup(opts->cell ? opts->cell : "cell");
	p->timeline = dup_or_null(opts->timeline);
	if ((opts->out_dir && !p->out_dir) || !p->cell || (opts->timeline && !p->timeline)) {
		iom_err_set(err, -ENOMEM, "open");
		goto cleanup;
	}
	if (want_sched && !(p->sched = iom_sched_open_slots(p->tgid, p->timeline != NULL,
							     want_full, opts->sched_slots, err)))
		goto cleanup;
	if (want_uring && !(p->uring = iom_uring_open(p->tgid, want_uring_lat, err)))
		goto cleanup;
	if (want_syscalls && !(p->syscalls = iom_syscalls_open(p->tgid, err)))
		goto cleanup;
	/*
	 * bpf-stats: the kernel times every run of every BPF program while this fd is held (two
	 * clock reads a run, machine-wide), so it is asked for, never on by default.
	 */
	if (want_stats) {
		p->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (p->stats_fd < 0) {
			iom_err_set(err, -errno, "bpf-stats: BPF_ENABLE_STATS");
			goto cleanup;
		}
	}
	/* The cell's threads are made after this: whatever exists now is not the cell's. */
	p->nr_before = schedstat_snapshot(p->tgid, &p->before);
	return p;
cleanup:
	iom_probe_close(p);
	return NULL;
}

void iom_probe_window(struct iom_probe *p, bool on)
{
	uint64_t now;

	if (!p || (on && (p->window_on || p->window_done)) || (!on && p->window_done))
		return;
	if (on) {
		/* The kernel's figures just before the edge, ours from the edge on. */
		if (p->sched)
			p->nr_ss_on = schedstat_snapshot(p->tgid, &p->ss_on);
		now = iom_bpf_now_ns();
		if (p->sched)
			iom_sched_window(p->sched, true, now);
		if (p->uring)
			iom_uring_window(p->uring, true);
		if (p->syscalls)
			iom_syscalls_window(p->syscalls, true);
		if (p->stats_fd >= 0)
			probe_run_time(p, &p->run_ns_on, &p->run_cnt_on);
		p->window_on = true;
		return;
	}
	if (!p->window_on)
		iom_probe_window(p, true);
	if (p->stats_fd >= 0)
		probe_run_time(p, &p->run_ns_off, &p->run_cnt_off);
	now = iom_bpf_now_ns();
	if (p->sched)
		iom_sched_window(p->sched, false, now);
	if (p->uring)
		iom_uring_window(p->uring, false);
	if (p->syscalls)
		iom_syscalls_window(p->syscalls, false);
	if (p->sched)
		p->nr_ss_off = schedstat_snapshot(p->tgid, &p->ss_off);
	p->window_done = true;
}

enum role { ROLE_MAIN, ROLE_SUBMITTER, ROLE_WORKER, ROLE_IOWQ, ROLE_SQPOLL, ROLE_THREAD,
	    ROLE_OTHER, NR_ROLES };
static const char *const role_names[NR_ROLES] = { "main", "submitter", "worker", "io-wq",
						  "sqpoll", "thread", "other" };

/*
 * io_uring names its threads iou-wrk-<tid> (io-wq) and iou-sqp-<tid> (SQPOLL). BPF cannot tell
 * a submitter from a worker of ours: threads named iom-sub* / iom-wrk* / kf-wrk* (kernel_free's
 * pool) say which they are, the
 * rest are "thread". A thread that existed before the probes opened (and so before the cell's
 * threads were made) is "other": a sanitizer's background thread, say.
 */
static enum role role_of(const struct iom_probe *p, const struct iom_sched_thread *th)
{
	if ((pid_t)th->t.tid == p->tgid)
		return ROLE_MAIN;
	if (schedstat_find(p->before, p->nr_before, (pid_t)th->t.tid))
		return ROLE_OTHER;
	if (!strncmp(th->comm, "iou-wrk-", 8))
		return ROLE_IOWQ;
	if (!strncmp(th->comm, "iou-sqp-", 8))
		return ROLE_SQPOLL;
	if (!strncmp(th->comm, "iom-sub", 7))
		return ROLE_SUBMITTER;
	if (!strncmp(th->comm, "iom-wrk", 7) || !strncmp(th->comm, "iom-worker", 10) ||
	    !strncmp(th->comm, "kf-wrk", 6))
		return ROLE_WORKER;
	return ROLE_THREAD;
}

static FILE *open_cell_file(const struct iom_probe *p, const char *suffix)
{
	char path[PATH_MAX];
	FILE *f;

	if (!p->out_dir)
		return NULL;
	snprintf(path, sizeof(path), "%s/probes-%s%s.csv", p->out_dir, p->cell, suffix);
	f = fopen(path, "we");
	if (!f)
		fprintf(stderr, "probes: %s: %s\n", path, strerror(errno));
	return f;
}

static void close_cell_file(FILE *f)
{
	if (f && fclose(f))
		fprintf(stderr, "probes: writing a per-cell file: %s\n", strerror(errno));
}

static void csv_opt(FILE *f, bool have, uint64_t v)
{
	if (have)
		fprintf(f, ",%llu", (unsigned long long)v);
	else
		fputs(",", f);
}

struct role_sum {
	unsigned int threads;
	uint64_t oncpu, blocked, blocked_idle, blocked_d, iowait, runq, nvcsw, nivcsw, wakeups,
		migrations;
};

static void write_threads(const struct iom_probe *p, const struct iom_sched_thread *th, int n)
{
	struct role_sum roles[NR_ROLES];
	FILE *f = open_cell_file(p, "");

	memset(roles, 0, sizeof(roles));
	if (f)
		fprintf(f, "tid,comm,role,oncpu_ns,blocked_ns,blocked_d_ns,iowait_ns,runq_ns,nvcsw,"
			"nivcsw,wakeups,migrations,blocked_idle_ns,lost,alive,schedstat_oncpu_ns,"
			"schedstat_runq_ns\n");
	for (int i = 0; i < n; i++) {
		const struct iom_thread *t = &th[i].t;
		enum role r = role_of(p, &th[i]);
		const struct iom_schedstat *on = schedstat_find(p->ss_on, p->nr_ss_on, (pid_t)t->tid);
		const struct iom_schedstat *off =
			schedstat_find(p->ss_off, p->nr_ss_off, (pid_t)t->tid);
		struct role_sum *rs = &roles[r];
		uint64_t k_exec, k_delay;
		bool have_k;

		rs->threads++;
		rs->oncpu += t->oncpu_ns;
		rs->blocked += t->sleep_ns + t->disk_ns;
		rs->blocked_idle += t->idle_ns;
		rs->blocked_d += t->disk_ns;
		rs->iowait += t->iowait_ns;
		rs->runq += t->runq_ns;
		rs->nvcsw += t->nvcsw;
		rs->nivcsw += t->nivcsw;
		rs->wakeups += t->wakeups;
		rs->migrations += t->migrations;
		if (!f)
			continue;
		fprintf(f, "%u,%s,%s,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%d", t->tid,
			th[i].comm, role_names[r], (unsigned long long)t->oncpu_ns,
			(unsigned long long)(t->sleep_ns + t->disk_ns),
			(unsigned long long)t->disk_ns, (unsigned long long)t->iowait_ns,
			(unsigned long long)t->runq_ns, (unsigned long long)t->nvcsw,
			(unsigned long long)t->nivcsw, (unsigned long long)t->wakeups,
			(unsigned long long)t->migrations, (unsigned long long)t->idle_ns,
			(unsigned long long)t->lost, th[i].alive);
		/*
		 * A thread born inside the window started from zero; one gone before its end closes
		 * with the figures the kernel had at its exit.
		 */
		if (off) {
			k_exec = off->exec_ns;
			k_delay = off->delay_ns;
		} else {
			k_exec = th[i].k_exec_ns;
			k_delay = th[i].k_delay_ns;
		}
		have_k = off || th[i].exited_k;
		csv_opt(f, have_k, k_exec - (on ? on->exec_ns : 0));
		csv_opt(f, have_k, k_delay - (on ? on->delay_ns : 0));
		fputc('\n', f);
	}
	close_cell_file(f);

	f = open_cell_file(p, "-roles");
	if (!f)
		return;
	fprintf(f, "role,threads,oncpu_ns,blocked_ns,blocked_task_ns,blocked_idle_ns,blocked_d_ns,"
		"iowait_ns,runq_ns,nvcsw,nivcsw,wakeups,migrations\n");
	for (int r = 0; r < NR_ROLES; r++) {
		const struct role_sum *rs = &roles[r];

		if (!rs->threads)
			continue;
		fprintf(f, "%s,%u,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu\n",
			role_names[r], rs->threads, (unsigned long long)rs->oncpu,
			(unsigned long long)rs->blocked,
			(unsigned long long)(rs->blocked - rs->blocked_idle),
			(unsigned long long)rs->blocked_idle, (unsigned long long)rs->blocked_d,
			(unsigned long long)rs->iowait, (unsigned long long)rs->runq,
			(unsigned long long)rs->nvcsw, (unsigned long long)rs->nivcsw,
			(unsigned long long)rs->wakeups, (unsigned long long)rs->migrations);
	}
	close_cell_file(f);
}

/* The timeline file gets a header the first time this process writes it, then rows per cell. */
static void write_timeline(struct iom_probe *p, const struct iom_sched_thread *th, int n,
			   struct iom_lost *lost)
{
	static char last_path[PATH_MAX];
	bool fresh = strcmp(last_path, p->timeline) != 0;
	uint64_t written = 0, cut = 0;
	FILE *f = fopen(p->timeline, fresh ? "we" : "ae");
	int ret;

	if (!f) {
		fprintf(stderr, "probes: timeline %s: %s\n", p->timeline, strerror(errno));
		return;
	}
	if (fresh)
		fprintf(f, "tid,comm,state,start_ns,end_ns,cell\n");
	snprintf(last_path, sizeof(last_path), "%s", p->timeline);
	ret = iom_sched_write_timeline(p->sched, f, th, n, p->cell, &written, &cut);
	if (ret < 0) {
		fprintf(stderr, "probes: timeline %s: %s\n", p->timeline, strerror(-ret));
		iom_lost_add(lost, "timeline_not_written", 1);
	}
	iom_lost_add(lost, "timeline_overlaps_cut", cut);
	if (fclose(f))
		fprintf(stderr, "probes: timeline %s: %s\n", p->timeline, strerror(errno));
}

/* Every kind of loss checked, zero or not: what probe_lost sums. */
static void write_lost(const struct iom_probe *p, const struct iom_lost *lost)
{
	FILE *f = open_cell_file(p, "-lost");

	if (!f)
		return;
	fprintf(f, "what,count\n");
	for (int i = 0; i < lost->nr; i++)
		fprintf(f, "%s,%llu\n", lost->e[i].what, (unsigned long long)lost->e[i].count);
	close_cell_file(f);
}

void iom_probe_fill_row(struct iom_probe *p, struct iom_row *row, uint64_t tasks)
{
	double n = tasks ? (double)tasks : NAN;
	struct iom_lost lost = { 0 };
	uint64_t lost_all = 0;

	if (!p)
		return;
	if (!p->window_done)
		iom_probe_window(p, false);
	if (p->sched) {
		struct iom_sched_thread *th = NULL;
		uint64_t oncpu = 0, blocked = 0, runq = 0, wakeups = 0, migrations = 0;
		int nr = iom_sched_collect(p->sched, &th, &lost, kernel_at_off, p);

		if (nr >= 0) {
			for (int i = 0; i < nr; i++) {
				const struct iom_thread *t = &th[i].t;
				enum role r;

				/* CSV-safe names. */
				for (char *c = th[i].comm; *c; c++)
					if (*c == ',' || *c == '"' || *c == '\n')
						*c = '_';
				r = role_of(p, &th[i]);
				if (r == ROLE_MAIN || r == ROLE_OTHER)
					continue;
				oncpu += t->oncpu_ns;
				blocked += t->sleep_ns + t->disk_ns - t->idle_ns;
				runq += t->runq_ns;
				wakeups += t->wakeups;
				migrations += t->migrations;
			}
			row->num[IOM_COL_oncpu_ns_per_task] = (double)oncpu / n;
			row->num[IOM_COL_blocked_ns_per_task] = (double)blocked / n;
			row->num[IOM_COL_runq_ns_per_task] = (double)runq / n;
			row->num[IOM_COL_wakeups_per_task] = (double)wakeups / n;
			row->num[IOM_COL_migrations_per_task] = (double)migrations / n;
			write_threads(p, th, nr);
			if (p->timeline)
				write_timeline(p, th, nr, &lost);
			free(th);
		} else {
			fprintf(stderr, "probes: sched: %s\n", strerror(-nr));
			iom_lost_add(&lost, "sched_not_collected", 1);
		}
	}
	if (p->uring) {
		struct iom_uring_stats *st = malloc(sizeof(*st));

		if (st && !iom_uring_collect(p->uring, st, &lost)) {
			FILE *f = open_cell_file(p, "-uring");

			row->num[IOM_COL_uring_punted] = (double)st->punted;
			if (iom_uring_lifecycle(p->uring))
				row->num[IOM_COL_uring_inline] = st->submitted > st->punted ?
					(double)(st->submitted - st->punted) : 0;
			if (f)
				iom_uring_write_csv(p->uring, f, st);
			close_cell_file(f);
		} else {
			iom_lost_add(&lost, "uring_not_collected", 1);
		}
		free(st);
	}
	if (p->syscalls) {
		uint64_t counts[IOM_NR_SYSCALLS], total;
		FILE *f;

		total = iom_syscalls_collect(p->syscalls, counts, &lost);
		row->num[IOM_COL_syscalls_per_task] = (double)total / n;
		f = open_cell_file(p, "-syscalls");
		if (f)
			iom_syscalls_write_csv(f, counts);
		close_cell_file(f);
	}
	if (p->stats_fd >= 0) {
		/* Every run in the window, the machine's events that returned early included. */
		row->num[IOM_COL_probe_run_ns_per_task] = (double)(p->run_ns_off - p->run_ns_on) / n;
		row->num[IOM_COL_probe_runs_per_task] = (double)(p->run_cnt_off - p->run_cnt_on) / n;
	}
	write_lost(p, &lost);
	for (int i = 0; i < lost.nr; i++)
		lost_all += lost.e[i].count;
	row->num[IOM_COL_probe_lost] = (double)lost_all;
}

/* ----------------------------------------------------------------------------------------- */
/* Live thread states (iomodels watch): the sched probe, its window open from the start.      */

struct iom_probe_live {
	struct iom_sched *sched;
};

struct iom_probe_live *iom_probe_live_open(pid_t tgid, struct iom_err *err)
{
	struct iom_probe_live *pl;

	if (access(BTF_PATH, R_OK)) {
		iom_err_set(err, -errno, "btf: %s", BTF_PATH);
		return NULL;
	}
	iom_bpf_quiet();
	pl = calloc(1, sizeof(*pl));
	if (!pl) {
		iom_err_set(err, -ENOMEM, "open");
		return NULL;
	}
	/* Wake-ups followed: a thread woken but not yet on a CPU shows as runnable at once. */
	pl->sched = iom_sched_open(tgid, false, true, err);
	if (!pl->sched) {
		free(pl);
		return NULL;
	}
	/* A window that never closes: every interval from now on counts. */
	iom_sched_window(pl->sched, true, iom_bpf_now_ns());
	return pl;
}

int iom_probe_live_read(struct iom_probe_live *pl, pid_t tid, struct iom_probe_thread *out)
{
	static const char letter[] = { [IOM_TS_UNKNOWN] = '?', [IOM_TS_ONCPU] = 'R',
				       [IOM_TS_RUNQ] = 'r', [IOM_TS_SLEEP] = 'S',
				       [IOM_TS_DISK] = 'D', [IOM_TS_DEAD] = 'X' };
	struct iom_thread t;
	int ret = iom_sched_read(pl->sched, tid, iom_bpf_now_ns(), &t);

	if (ret)
		return ret;
	out->oncpu_ns = t.oncpu_ns;
	out->runq_ns = t.runq_ns;
	out->blocked_ns = t.sleep_ns + t.disk_ns;
	out->idle_ns = t.idle_ns;
	out->state = t.state < sizeof(letter) ? letter[t.state] : '?';
	return 0;
}

void iom_probe_live_close(struct iom_probe_live *pl)
{
	if (!pl)
		return;
	iom_sched_close(pl->sched);
	free(pl);
}

const char *iom_probe_lib_version(void)
{
	return libbpf_version_string();
}
