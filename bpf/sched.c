// SPDX-License-Identifier: MIT
/*
 * Loader of sched.bpf.c: open -> set rodata (tgid, timeline, slots) -> load -> attach; window
 * edges into .bss; at the end, every thread's record (live ones from their array slot, or by
 * pidfd from task storage; exited ones from the dead map) with its open interval closed at the
 * window's end, and the timeline.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "core/timeline.h"
#include "probe_int.h"
#include "sched.h"
#include "sched.skel.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD	O_EXCL	/* 6.9: a pidfd for a thread, not only a process */
#endif

struct iom_sched {
	struct sched_bpf *skel;
	pid_t tgid;
	bool timeline;
	bool full;		/* every wake-up and switch-in followed */
	unsigned int nr_slots;
	uint64_t t_on_ns, t_off_ns;
	uint64_t misses_on, misses_off;
};

struct iom_sched *iom_sched_open(pid_t tgid, bool timeline, bool full, struct iom_err *err)
{
	return iom_sched_open_slots(tgid, timeline, full, 0, err);
}

struct iom_sched *iom_sched_open_slots(pid_t tgid, bool timeline, bool full, unsigned int nr_slots,
				       struct iom_err *err)
{
	struct iom_sched *s;
	int ret;

	if (!nr_slots)
		nr_slots = IOM_SCHED_SLOTS;
	if (nr_slots > IOM_SCHED_SLOTS || (nr_slots & (nr_slots - 1))) {
		iom_err_set(err, -EINVAL, "sched: %u slots: not a power of two up to %u", nr_slots,
			    IOM_SCHED_SLOTS);
		return NULL;
	}

	s = calloc(1, sizeof(*s));
	if (!s) {
		iom_err_set(err, -ENOMEM, "sched: open");
		return NULL;
	}
	s->tgid = tgid;
	s->timeline = timeline;
	s->skel = sched_bpf__open();
	if (!s->skel) {
		iom_err_set(err, -errno, "sched: open");
		goto cleanup;
	}
	s->skel->rodata->targ_tgid = tgid;
	s->skel->rodata->slot_mask = nr_slots - 1;
	s->nr_slots = nr_slots;
	s->skel->rodata->timeline = timeline;
	/* The timeline draws each transition's moment: it follows them all. */
	full |= timeline;
	s->full = full;
	s->skel->rodata->follow_events = full;
	if (!full)
		bpf_program__set_autoload(s->skel->progs.iom_sched_wakeup, false);
	if (timeline) {
		ret = bpf_map__set_max_entries(s->skel->maps.timeline_rb, IOM_TL_RINGBUF_BYTES);
		if (ret) {
			iom_err_set(err, ret, "sched: timeline ring buffer");
			goto cleanup;
		}
	}
	ret = sched_bpf__load(s->skel);
	if (ret) {
		iom_err_set(err, ret, "sched: load");
		goto cleanup;
	}
	ret = sched_bpf__attach(s->skel);
	if (ret) {
		iom_err_set(err, ret, "sched: attach");
		goto cleanup;
	}
	return s;
cleanup:
	sched_bpf__destroy(s->skel);
	free(s);
	return NULL;
}

void iom_sched_window(struct iom_sched *s, bool on, uint64_t now_ns)
{
	struct sched_bpf__bss *bss = s->skel->bss;

	/* The programs read the edge's time after the flag: store the time first. */
	if (on) {
		s->misses_on = iom_bpf_misses(s->skel->obj);
		s->t_on_ns = now_ns;
		__atomic_store_n(&bss->t_on_ns, now_ns, __ATOMIC_RELEASE);
		__atomic_store_n(&bss->tl_end_ns, now_ns + IOM_TL_WINDOW_NS, __ATOMIC_RELEASE);
		__atomic_store_n(&bss->window, 1, __ATOMIC_RELEASE);
	} else {
		s->t_off_ns = now_ns;
		__atomic_store_n(&bss->t_off_ns, now_ns, __ATOMIC_RELEASE);
		__atomic_store_n(&bss->window, 2, __ATOMIC_RELEASE);
		s->misses_off = iom_bpf_misses(s->skel->obj);
	}
}

static uint64_t clip(const struct iom_sched *s, uint64_t since, uint64_t end)
{
	uint64_t lo = since > s->t_on_ns ? since : s->t_on_ns;

	if (end > s->t_off_ns)
		end = s->t_off_ns;
	return end > lo ? end - lo : 0;
}

/* Close a thread's current state at end (clipped to the window), as the programs would have. */
static void close_open_state(const struct iom_sched *s, struct iom_thread *t, uint64_t end)
{
	uint64_t d = clip(s, t->since_ns, end);

	iom_thread_account(t, d);
}

/*
 * A live thread's record: its array slot when it holds it, else its task storage, read through
 * a pidfd of the thread. 0, or -errno (-ENOENT: not seen yet; -ESRCH: gone).
 */
static int read_live(struct iom_sched *s, pid_t tid, struct iom_thread *out)
{
	uint32_t idx = (uint32_t)tid & (s->nr_slots - 1);
	int pidfd, ret;

	if (!bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.slots), &idx, out) &&
	    out->tid == (uint32_t)tid)
		return 0;
	pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	if (pidfd < 0)
		return -errno;
	ret = bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.threads), &pidfd, out);
	ret = ret ? -errno : 0;
	close(pidfd);
	return ret;
}

int iom_sched_read(struct iom_sched *s, pid_t tid, uint64_t now_ns, struct iom_thread *out)
{
	uint64_t lo, hi;
	int ret;

	ret = read_live(s, tid, out);
	if (ret)
		return ret;
	/* The open state counts up to now (or to the window's end, when it has one). */
	lo = out->since_ns > s->t_on_ns ? out->since_ns : s->t_on_ns;
	hi = s->t_off_ns && s->t_off_ns < now_ns ? s->t_off_ns : now_ns;
	if (s->t_on_ns && hi > lo)
		iom_thread_account(out, hi - lo);
	return 0;
}

/*
 * Without sched-full, a live thread's record stops at its last switch-out: since then the kernel
 * saw it run exec - k_exec_ns and wait delay - k_delay_ns; it ran last, waited before that, and
 * was in the state it left in before that (the programs' own repair, done at end).
 */
static void settle(const struct iom_sched *s, struct iom_thread *t, uint64_t end, uint64_t exec,
		   uint64_t delay)
{
	uint64_t span, run, wait;

	if (t->state == IOM_TS_UNKNOWN || t->state == IOM_TS_ONCPU || t->state == IOM_TS_DEAD ||
	    end <= t->since_ns)
		return;
	span = end - t->since_ns;
	run = exec > t->k_exec_ns ? exec - t->k_exec_ns : 0;
	run = run < span ? run : span;
	wait = delay > t->k_delay_ns ? delay - t->k_delay_ns : 0;
	wait = wait < span - run ? wait : span - run;
	if (t->state != IOM_TS_RUNQ) {
		close_open_state(s, t, end - run - wait);
		t->state = IOM_TS_RUNQ;
		t->flags = 0;
		t->since_ns = end - run - wait;
	}
	close_open_state(s, t, end - run);
	t->state = IOM_TS_ONCPU;
	t->since_ns = end - run;
}

static bool thread_counted(const struct iom_thread *t)
{
	return t->oncpu_ns || t->runq_ns || t->sleep_ns || t->disk_ns || t->nvcsw || t->nivcsw ||
	       t->wakeups || t->migrations || t->lost;
}

static int grow(struct iom_sched_thread **v, int *cap, int n)
{
	struct iom_sched_thread *nv;

	if (n < *cap)
		return 0;
	*cap = *cap ? *cap * 2 : 64;
	nv = realloc(*v, (size_t)*cap * sizeof(**v));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	return 0;
}

static int by_tid(const void *a, const void *b)
{
	const struct iom_sched_thread *x = a, *y = b;

	return (x->t.tid > y->t.tid) - (x->t.tid < y->t.tid);
}

static void read_comm(pid_t tgid, pid_t tid, char *comm)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", tgid, tid);
	strcpy(comm, "?");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, comm, IOM_COMM_LEN - 1);
	close(fd);
	if (n <= 0) {
		strcpy(comm, "?");
		return;
	}
	comm[n] = 0;
	comm[strcspn(comm, "\n")] = 0;
}

int iom_sched_collect(struct iom_sched *s, struct iom_sched_thread **out, struct iom_lost *lost,
		      iom_sched_kernel_fn kernel_at_off, void *ctx)
{
	int map_dead = bpf_map__fd(s->skel->maps.dead);
	struct sched_bpf__bss *bss = s->skel->bss;
	struct iom_sched_thread *v = NULL;
	struct iom_dead_thread d;
	struct dirent *de;
	uint32_t key, next;
	int n = 0, cap = 0, nr_dead, ret = 0;
	char path[64];
	void *prev = NULL;
	DIR *dir;

	/* Exited threads first; a thread still listed in /proc replaces its exit copy below. */
	while (!bpf_map_get_next_key(map_dead, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(map_dead, &key, &d))
			continue;
		if (grow(&v, &cap, n)) {
			ret = -ENOMEM;
			goto out;
		}
		memset(&v[n], 0, sizeof(v[n]));
		v[n].t = d.t;
		v[n].exited_k = true;
		v[n].k_exec_ns = d.k_exec_ns;
		v[n].k_delay_ns = d.k_delay_ns;
		v[n].exit_ns = d.exit_ns;
		memcpy(v[n].comm, d.comm, sizeof(d.comm));
		v[n].comm[IOM_COMM_LEN - 1] = 0;
		n++;
	}
	nr_dead = n;
	if (n)
		qsort(v, (size_t)n, sizeof(*v), by_tid);

	snprintf(path, sizeof(path), "/proc/%d/task", s->tgid);
	dir = opendir(path);
	while (dir && (de = readdir(dir))) {
		struct iom_sched_thread *slot = NULL, probe = { .t.tid = 0 };
		struct iom_thread t;
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid <= 0 || read_live(s, tid, &t))
			continue;
		probe.t.tid = (uint32_t)tid;
		if (nr_dead)
			slot = bsearch(&probe, v, (size_t)nr_dead, sizeof(*v), by_tid);
		if (!slot) {
			if (grow(&v, &cap, n)) {
				ret = -ENOMEM;
				break;
			}
			slot = &v[n++];
		}
		memset(slot, 0, sizeof(*slot));
		slot->t = t;
		slot->t.tid = (uint32_t)tid;
		slot->alive = true;
		read_comm(s->tgid, tid, slot->comm);
	}
	if (dir)
		closedir(dir);
	if (ret)
		goto out;

	/* Close what is still open at the window's end, then keep the threads that counted. */
	{
		int m = 0;

		for (int i = 0; i < n; i++) {
			struct iom_thread *t = &v[i].t;

			/*
			 * Past its exit but its last switch not seen (not yet, or lost): it ran
			 * on from its last switch-in; count that up to its exit, and lose at most
			 * the few microseconds of do_exit after the tracepoint.
			 */
			uint64_t exec, delay;

			if (!v[i].alive && (t->flags & IOM_TF_EXITING)) {
				close_open_state(s, t, v[i].exit_ns);
			} else {
				if (v[i].alive && !s->full && kernel_at_off &&
				    !kernel_at_off(ctx, (pid_t)t->tid, &exec, &delay))
					settle(s, t, s->t_off_ns, exec, delay);
				close_open_state(s, t, s->t_off_ns);
			}
			if (thread_counted(t))
				v[m++] = v[i];
		}
		n = m;
	}
	if (n)
		qsort(v, (size_t)n, sizeof(*v), by_tid);
out:
	if (ret) {
		free(v);
		return ret;
	}
	*out = v;
	iom_lost_add(lost, "sched_nostorage", bss->nr_nostorage);
	iom_lost_add(lost, "sched_switch_out_not_on_cpu", bss->nr_bad_out);
	iom_lost_add(lost, "sched_switch_in_no_wakeup", bss->nr_bad_in_blocked);
	iom_lost_add(lost, "sched_switch_in_on_cpu", bss->nr_bad_in);
	iom_lost_add(lost, "sched_dead_map_full", bss->nr_dead_full);
	iom_lost_add(lost, "sched_recursion_misses", s->misses_off - s->misses_on);
	if (s->timeline)
		iom_lost_add(lost, "timeline_dropped", bss->nr_tl_dropped);
	return n;
}

struct tl_buf {
	struct iom_tl_span *ev;
	size_t n, cap;
	bool oom;
};

/* Append one interval; -ENOMEM (and b->oom) when it cannot grow. */
static int tl_push(struct tl_buf *b, struct iom_tl_span span)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		struct iom_tl_span *ev = realloc(b->ev, cap * sizeof(*ev));

		if (!ev) {
			b->oom = true;
			return -ENOMEM;
		}
		b->ev = ev;
		b->cap = cap;
	}
	b->ev[b->n++] = span;
	return 0;
}

/* A ring-buffer record: an interval the programs closed. */
static int tl_sample(void *ctx, void *data, size_t size)
{
	struct iom_tl_event e;

	if (size < sizeof(e))
		return 0;
	memcpy(&e, data, sizeof(e));
	return tl_push(ctx, (struct iom_tl_span){ .tid = e.tid, .state = e.state,
						  .flags = e.flags, .start_ns = e.start_ns,
						  .end_ns = e.end_ns });
}

static const char *tl_state(const struct iom_tl_span *e)
{
	switch (e->state) {
	case IOM_TS_ONCPU:
		return "oncpu";
	case IOM_TS_RUNQ:
		return "runnable";
	case IOM_TS_SLEEP:
		return e->flags & IOM_TF_IDLE ? "blocked+idle" :
		       e->flags & IOM_TF_IOWAIT ? "blocked+iowait" : "blocked";
	case IOM_TS_DISK:
		return e->flags & IOM_TF_IDLE ? "blocked_d+idle" :
		       e->flags & IOM_TF_IOWAIT ? "blocked_d+iowait" : "blocked_d";
	default:
		return "?";
	}
}

int iom_sched_write_timeline(struct iom_sched *s, FILE *f, const struct iom_sched_thread *th,
			     int nr, const char *cell, uint64_t *nr_written, uint64_t *nr_cut)
{
	struct tl_buf b = { 0 };
	struct ring_buffer *rb;
	uint64_t end = s->t_on_ns + IOM_TL_WINDOW_NS;
	int ret;

	if (!s->timeline)
		return 0;
	rb = ring_buffer__new(bpf_map__fd(s->skel->maps.timeline_rb), tl_sample, &b, NULL);
	if (!rb)
		return -errno;
	ret = ring_buffer__consume(rb);
	ring_buffer__free(rb);
	if (ret < 0 || b.oom) {
		free(b.ev);
		return b.oom ? -ENOMEM : ret;
	}
	if (end > s->t_off_ns)
		end = s->t_off_ns;
	/* Intervals still open at the timeline's end: the programs only write closed ones. */
	for (int i = 0; i < nr; i++) {
		const struct iom_thread *t = &th[i].t;
		uint64_t lo = t->since_ns > s->t_on_ns ? t->since_ns : s->t_on_ns;

		if (t->state == IOM_TS_UNKNOWN || t->state == IOM_TS_DEAD ||
		    (t->flags & IOM_TF_EXITING) || lo >= end)
			continue;
		if (tl_push(&b, (struct iom_tl_span){ .tid = t->tid, .state = (uint16_t)t->state,
						      .flags = (uint16_t)t->flags, .start_ns = lo,
						      .end_ns = end, .open = true })) {
			free(b.ev);
			return -ENOMEM;
		}
	}
	b.n = iom_tl_untangle(b.ev, b.n, nr_cut);
	for (size_t i = 0; i < b.n; i++) {
		const struct iom_tl_span *e = &b.ev[i];
		struct iom_sched_thread key = { .t.tid = e->tid };
		const struct iom_sched_thread *who =
			bsearch(&key, th, (size_t)nr, sizeof(*th), by_tid);

		fprintf(f, "%u,%s,%s,%llu,%llu,%s\n", e->tid, who ? who->comm : "?", tl_state(e),
			(unsigned long long)(e->start_ns - s->t_on_ns),
			(unsigned long long)(e->end_ns - s->t_on_ns), cell);
	}
	*nr_written = b.n;
	free(b.ev);
	return 0;
}

void iom_sched_close(struct iom_sched *s)
{
	if (!s)
		return;
	sched_bpf__destroy(s->skel);
	free(s);
}

void iom_sched_slot_counts(struct iom_sched *s, uint64_t *nr_claimed, uint64_t *nr_fallback)
{
	*nr_claimed = __atomic_load_n(&s->skel->bss->nr_slot_claimed, __ATOMIC_RELAXED);
	*nr_fallback = __atomic_load_n(&s->skel->bss->nr_slot_fallback, __ATOMIC_RELAXED);
}

struct bpf_object *iom_sched_object(struct iom_sched *s)
{
	return s->skel->obj;
}
