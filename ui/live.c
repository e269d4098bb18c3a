// SPDX-License-Identifier: MIT
/*
 * A live view's record of a running cell (live.h): the hook's ops count into atomics the view
 * reads once per refresh; and the per-thread reads of /proc the view makes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ui/live.h"

#define view_of(l) ((struct iom_live_view *)((char *)(l) - offsetof(struct iom_live_view, hook)))

static void view_count(struct iom_live *l, enum iom_live_event ev, int64_t n)
{
	atomic_fetch_add_explicit(&view_of(l)->ev[ev], (uint64_t)n, memory_order_relaxed);
}

/* A task ended at end_ns after lat_ns: counted by state, and into the histogram of its second. */
static void view_task_end(struct iom_live *hook, int state, uint64_t end_ns, uint64_t lat_ns)
{
	struct iom_live_view *l = view_of(hook);
	uint64_t t0 = atomic_load_explicit(&l->t0_ns, memory_order_relaxed);
	struct iom_live_sec *s;

	atomic_fetch_add_explicit(&l->nr_state[state], 1, memory_order_relaxed);
	if (!t0 || end_ns < t0)
		return;
	s = &l->sec[((end_ns - t0) / 1000000000ull) % IOM_LIVE_SECS];
	atomic_fetch_add_explicit(&s->buckets[iom_hist_index(lat_ns)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

static void view_thread(struct iom_live *hook, pid_t tid, enum iom_live_role role,
			unsigned int index)
{
	struct iom_live_view *l = view_of(hook);
	uint32_t i = atomic_fetch_add_explicit(&l->nr_tids, 1, memory_order_relaxed);

	if (i >= IOM_LIVE_MAX_TIDS)
		return;
	/* info before tid: a reader that sees the tid (acquire) sees its info. */
	atomic_store_explicit(&l->tid_info[i], (uint32_t)role << 24 | (index & 0xffffff),
			      memory_order_relaxed);
	atomic_store_explicit(&l->tid[i], tid, memory_order_release);
}

static void view_window_start(struct iom_live *hook, uint64_t t0_ns)
{
	atomic_store_explicit(&view_of(hook)->t0_ns, t0_ns, memory_order_relaxed);
}

static const struct iom_live_ops view_ops = {
	.count = view_count,
	.task_end = view_task_end,
	.thread = view_thread,
	.window_start = view_window_start,
};

struct iom_live_view *iom_live_view_new(unsigned int concurrency, uint64_t latency_ns,
					uint64_t deadline_ns)
{
	/* calloc: every atomic starts at 0, which C11 atomics on Linux read as 0. */
	struct iom_live_view *v = calloc(1, sizeof(*v));

	if (v)
		iom_live_init(&v->hook, &view_ops, concurrency, latency_ns, deadline_ns);
	return v;
}

uint64_t iom_live_take_second(struct iom_live_view *l, uint64_t k, struct iom_hist *h)
{
	struct iom_live_sec *s = &l->sec[(k - 1) % IOM_LIVE_SECS];
	struct iom_live_sec *next = &l->sec[(k + 1) % IOM_LIVE_SECS];
	unsigned int lo = IOM_HIST_NR_BUCKETS, hi = 0;

	iom_hist_init(h);
	for (unsigned int i = 0; i < IOM_HIST_NR_BUCKETS; i++) {
		uint64_t n = atomic_load_explicit(&s->buckets[i], memory_order_relaxed);

		if (!n)
			continue;
		h->buckets[i] = n;
		h->count += n;
		h->sum += n * (iom_hist_bucket_lo(i) + iom_hist_bucket_width(i) / 2);
		if (i < lo)
			lo = i;
		hi = i;
	}
	if (h->count) {
		/* Bucket edges stand in for the exact extremes, which were not kept. */
		h->min = iom_hist_bucket_lo(lo);
		h->max = iom_hist_bucket_lo(hi) + iom_hist_bucket_width(hi) - 1;
	}
	/*
	 * Second k+1's slot last held second k+1-IOM_LIVE_SECS, read long ago: clear it before
	 * anything ends in it. (A task ending in second k-1 but counted a little after this read
	 * lands in the slot already read: it is lost to the view, not to the results.)
	 */
	for (unsigned int i = 0; i < IOM_HIST_NR_BUCKETS; i++)
		atomic_store_explicit(&next->buckets[i], 0, memory_order_relaxed);
	atomic_store_explicit(&next->count, 0, memory_order_relaxed);
	return h->count;
}

static ssize_t read_proc(pid_t tid, const char *file, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/%s", (int)tid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

int iom_thread_read(pid_t tid, struct iom_thread_sample *s, bool want_syscall)
{
	unsigned long long oncpu, wait;
	char buf[512], *open_paren, *close_paren;
	ssize_t n;

	memset(s, 0, sizeof(*s));
	s->tid = tid;
	s->syscall_nr = -1;
	n = read_proc(tid, "stat", buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	/* "tid (comm) S ...": comm may hold spaces and parentheses; the last ')' ends it. */
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren || close_paren[1] != ' ')
		return -EINVAL;
	snprintf(s->comm, sizeof(s->comm), "%.*s", (int)(close_paren - open_paren - 1),
		 open_paren + 1);
	s->state = close_paren[2];
	n = read_proc(tid, "schedstat", buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (sscanf(buf, "%llu %llu", &oncpu, &wait) != 2)
		return -EINVAL;
	s->oncpu_ns = oncpu;
	s->runwait_ns = wait;
	/* "running" while on a CPU; otherwise the number of the call it sleeps in. */
	if (want_syscall && read_proc(tid, "syscall", buf, sizeof(buf)) > 0 &&
	    buf[0] >= '0' && buf[0] <= '9')
		s->syscall_nr = strtol(buf, NULL, 10);
	return 0;
}

const char *iom_live_syscall_name(long nr)
{
	static const struct { long nr; const char *name; } names[] = {
		{ SYS_clock_nanosleep, "clock_nanosleep" }, { SYS_nanosleep, "nanosleep" },
		{ SYS_futex, "futex" }, { SYS_pread64, "pread64" }, { SYS_pwrite64, "pwrite64" },
		{ SYS_read, "read" }, { SYS_write, "write" }, { SYS_recvfrom, "recvfrom" },
		{ SYS_sendto, "sendto" }, { SYS_epoll_wait, "epoll_wait" },
		{ SYS_epoll_pwait, "epoll_pwait" }, { SYS_epoll_pwait2, "epoll_pwait2" },
		{ SYS_io_uring_enter, "io_uring_enter" }, { SYS_poll, "poll" },
		{ SYS_ppoll, "ppoll" }, { SYS_accept, "accept" }, { SYS_accept4, "accept4" },
		{ SYS_getppid, "getppid" }, { SYS_preadv2, "preadv2" }, { SYS_pwritev2, "pwritev2" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].nr == nr)
			return names[i].name;
	return NULL;
}
