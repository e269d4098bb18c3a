// SPDX-License-Identifier: MIT
/*
 * iomodels scenario thundering-herd: the seed's failure mode 2 at the OS level. N threads wait
 * for connections on one listening TCP socket (127.0.0.1, an ephemeral port) in four ways, and
 * a client makes K connections one at a time; we count how many threads each connection wakes.
 *
 *   accept           every thread blocks in accept() on the shared listener (an exclusive wait:
 *                    the kernel wakes one) - the reference row
 *   epoll-naive      every thread has its own epoll with the shared listener, level-triggered,
 *                    no EPOLLEXCLUSIVE: the listener's wait queue wakes every epoll
 *   epoll-exclusive  the same with EPOLLEXCLUSIVE: the kernel wakes one (or a few) of them
 *   reuseport        every thread its own listener on the same port (SO_REUSEPORT) and epoll:
 *                    the kernel picks the listener by hash, so only its owner is woken
 *
 * Wake-ups are counted, as DESIGN §7 asks, from each waiter's voluntary_ctxt_switches in
 * /proc/self/task/TID/status (a waiter sleeps once per wake-up and never sleeps for anything
 * else), not from EAGAIN. The backend retry storm, the other half of the seed's herd, needs the
 * backend's capacity and lives elsewhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/model.h"
#include "scenario/scenario.h"
#include "scenario/sc_util.h"

#define HD_MAX_WAITERS		256
#define HD_MAX_CONNECTIONS	100000
#define HD_VARIANT_TIMEOUT_NS	(10ull * 1000000000ull)	/* a variant past this is "timeout" */
#define HD_JOIN_TIMEOUT_NS	(2ull * 1000000000ull)
#define HD_GATE_POLL_NS		20000ull		/* between /proc scans while waiting */
#define HD_STOP_TAG		UINT64_MAX		/* epoll data of the stop eventfd */

enum hd_variant {
	HD_ACCEPT,
	HD_NAIVE,
	HD_EXCLUSIVE,
	HD_REUSEPORT,
	HD_NR_VARIANTS,
};

static const char *const hd_names[HD_NR_VARIANTS] = {
	[HD_ACCEPT] = "accept",
	[HD_NAIVE] = "epoll-naive",
	[HD_EXCLUSIVE] = "epoll-exclusive",
	[HD_REUSEPORT] = "reuseport",
};

struct hd_run;

struct hd_waiter {
	struct hd_run *run;
	pthread_t thread;
	bool started;
	pid_t tid;		/* set before the waiter counts itself ready */
	int lfd;		/* the listener it accepts from (the shared one, or its own) */
	int epfd;		/* its epoll instance, -1 for accept */
	int stat_fd;		/* /proc/self/task/TID/{stat,status,schedstat}, kept open */
	int status_fd;
	int sched_fd;
	uint64_t nvcsw0, cpu0_ns;	/* read by the main thread before the first connection */
	/* Written by the waiter, read by the main thread only after joining it. */
	uint64_t nr_accepted, nr_eagain;
	int err;		/* first unexpected -errno */
};

struct hd_run {
	enum hd_variant v;
	unsigned int nr_waiters;
	atomic_bool stop;
	atomic_uint nr_ready;
	int lfd;		/* the shared listener; -1 for reuseport */
	int efd;		/* stop eventfd, in every epoll; -1 for accept */
	struct sockaddr_in addr;
	struct hd_waiter *w;
};

struct hd_result {
	enum hd_variant v;
	unsigned int nr_waiters;
	uint64_t nr_conns;	/* asked for */
	uint64_t nr_done;	/* made and answered */
	uint64_t nr_accepted, nr_eagain, nr_wakeups, cpu_ns, runtime_ns;
	char status[16];	/* ok, timeout, error */
	char reason[192];
};

/* ---- reading a waiter's counters from /proc, done by the main thread ---- */

static int hd_open_proc(pid_t tid, const char *file)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/%s", (int)tid, file);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* /proc files are seq_files: pread at offset 0 renders them afresh. */
static ssize_t hd_read_proc(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

/* The state letter of /proc/.../stat (after the last ')', the comm may hold anything). */
static char hd_state(const struct hd_waiter *w)
{
	char buf[512];
	const char *p;

	if (hd_read_proc(w->stat_fd, buf, sizeof(buf)) <= 0)
		return '?';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

static int hd_nvcsw(const struct hd_waiter *w, uint64_t *out)
{
	char buf[2048];
	const char *p;

	if (hd_read_proc(w->status_fd, buf, sizeof(buf)) <= 0)
		return -EIO;
	p = strstr(buf, "\nvoluntary_ctxt_switches:");
	if (!p)
		return -EIO;
	*out = strtoull(p + strlen("\nvoluntary_ctxt_switches:"), NULL, 10);
	return 0;
}

/* On-CPU time in ns (sum_exec_runtime): exact, unlike the tick-sampled rusage split. */
static int hd_cpu_ns(const struct hd_waiter *w, uint64_t *out)
{
	char buf[128];

	if (hd_read_proc(w->sched_fd, buf, sizeof(buf)) <= 0)
		return -EIO;
	*out = strtoull(buf, NULL, 10);
	return 0;
}

/*
 * Wait until every waiter is asleep ('S') in its accept or epoll_wait, on two scans in a row:
 * a thread shows 'S' from set_current_state() until schedule(), so one scan could catch it just
 * before it really sleeps, and a wake-up landing there would not be a context switch. With every
 * waiter asleep before each connection, each connection sees the same N sleepers and the counts
 * do not depend on how the scheduler happened to interleave the previous one.
 */
static int hd_gate(struct hd_run *run, uint64_t deadline_ns)
{
	struct timespec ts = iom_ts(HD_GATE_POLL_NS);
	unsigned int streak = 0;

	for (;;) {
		unsigned int i;

		for (i = 0; i < run->nr_waiters; i++) {
			char st = hd_state(&run->w[i]);

			if (st == '?')
				return -ESRCH;	/* the waiter is gone: it met an error */
			if (st != 'S')
				break;
		}
		streak = i == run->nr_waiters ? streak + 1 : 0;
		if (streak == 2)
			return 0;
		if (iom_now_ns() > deadline_ns)
			return -ETIMEDOUT;
		nanosleep(&ts, NULL);
	}
}

/* ---- the waiters ---- */

/*
 * Answer a connection: 1 byte back without blocking, then close. Neither sleeps, so every
 * voluntary switch a waiter makes is a wait for a connection.
 */
static void hd_answer(struct hd_waiter *w, int fd)
{
	if (send(fd, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1 && !w->err)
		w->err = -errno;
	close(fd);
	w->nr_accepted++;
}

static void hd_accept_loop(struct hd_waiter *w)
{
	struct hd_run *run = w->run;

	while (!atomic_load(&run->stop)) {
		int fd = accept4(w->lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0) {
			hd_answer(w, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		/* shutdown() of the listener ends a blocked accept with EINVAL: our stop. */
		if (!atomic_load(&run->stop) && !w->err)
			w->err = -errno;
		break;
	}
}

static void hd_epoll_loop(struct hd_waiter *w)
{
	struct epoll_event ev[4];

	for (;;) {
		int n = epoll_wait(w->epfd, ev, 4, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (!w->err)
				w->err = -errno;
			return;
		}
		for (int i = 0; i < n; i++) {
			int fd;

			if (ev[i].data.u64 == HD_STOP_TAG)
				return;
			/*
			 * One accept per wake-up: level-triggered epoll reports the listener again
			 * while its queue is non-empty, and draining to EAGAIN would charge the
			 * winner an EAGAIN per connection that says nothing about the herd.
			 */
			fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd >= 0)
				hd_answer(w, fd);
			else if (errno == EAGAIN)
				w->nr_eagain++;
			else if (errno != EINTR && errno != ECONNABORTED && !w->err)
				w->err = -errno;
		}
	}
}

static void *hd_waiter_main(void *arg)
{
	struct hd_waiter *w = arg;

	w->tid = gettid();
	atomic_fetch_add_explicit(&w->run->nr_ready, 1, memory_order_release);
	if (w->run->v == HD_ACCEPT)
		hd_accept_loop(w);
	else
		hd_epoll_loop(w);
	return NULL;
}

/* ---- one variant ---- */

static int hd_listener(struct hd_run *run, bool reuseport, bool nonblock, struct iom_err *err)
{
	int one = 1, ret;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0)
		return iom_err_set(err, -errno, "socket");
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		goto fail_set;
	if (bind(fd, (struct sockaddr *)&run->addr, sizeof(run->addr)))
		goto fail_set;
	/* A backlog far above one in flight: a SYN is never dropped and retried a second later. */
	if (listen(fd, 1024))
		goto fail_set;
	if (!run->addr.sin_port) {
		socklen_t len = sizeof(run->addr);

		if (getsockname(fd, (struct sockaddr *)&run->addr, &len))
			goto fail_set;
	}
	return fd;
fail_set:
	ret = iom_err_set(err, -errno, "listener on 127.0.0.1");
	close(fd);
	return ret;
}

/* Listeners and epolls for every waiter; 0 or -errno with err set. */
static int hd_setup(struct hd_run *run, struct iom_err *err)
{
	enum hd_variant v = run->v;

	run->addr.sin_family = AF_INET;
	run->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	run->addr.sin_port = 0;
	if (v != HD_REUSEPORT) {
		run->lfd = hd_listener(run, false, v != HD_ACCEPT, err);
		if (run->lfd < 0)
			return run->lfd;
	}
	if (v != HD_ACCEPT) {
		run->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (run->efd < 0)
			return iom_err_set(err, -errno, "eventfd");
	}
	for (unsigned int i = 0; i < run->nr_waiters; i++) {
		struct hd_waiter *w = &run->w[i];
		struct epoll_event ev = { .events = EPOLLIN };

		w->lfd = v == HD_REUSEPORT ? hd_listener(run, true, true, err) : run->lfd;
		if (w->lfd < 0)
			return w->lfd;
		if (v == HD_ACCEPT)
			continue;
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (w->epfd < 0)
			return iom_err_set(err, -errno, "epoll_create1");
		if (v == HD_EXCLUSIVE)
			ev.events |= EPOLLEXCLUSIVE;
		ev.data.u64 = (uint64_t)i;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->lfd, &ev))
			return iom_err_set(err, -errno, "epoll_ctl(listener)");
		ev.events = EPOLLIN;
		ev.data.u64 = HD_STOP_TAG;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, run->efd, &ev))
			return iom_err_set(err, -errno, "epoll_ctl(eventfd)");
	}
	return 0;
}

/* Stop and join every waiter; false if one could not be joined (its memory is then kept). */
static bool hd_stop(struct hd_run *run)
{
	uint64_t one = 1;
	bool all = true;
	struct timespec until;

	atomic_store(&run->stop, true);
	if (run->efd >= 0 && write(run->efd, &one, sizeof(one)) != sizeof(one))
		all = false;
	/* A blocked accept() returns EINVAL once its listener is shut down. */
	if (run->v == HD_ACCEPT && run->lfd >= 0)
		shutdown(run->lfd, SHUT_RDWR);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(HD_JOIN_TIMEOUT_NS / 1000000000ull);
	for (unsigned int i = 0; i < run->nr_waiters; i++) {
		struct hd_waiter *w = &run->w[i];

		if (!w->started)
			continue;
		if (pthread_timedjoin_np(w->thread, NULL, &until)) {
			all = false;
			continue;
		}
		w->started = false;
	}
	return all;
}

static void hd_close_fds(struct hd_run *run)
{
	for (unsigned int i = 0; i < run->nr_waiters; i++) {
		struct hd_waiter *w = &run->w[i];

		if (w->lfd >= 0 && w->lfd != run->lfd)
			close(w->lfd);
		if (w->epfd >= 0)
			close(w->epfd);
		if (w->stat_fd >= 0)
			close(w->stat_fd);
		if (w->status_fd >= 0)
			close(w->status_fd);
		if (w->sched_fd >= 0)
			close(w->sched_fd);
	}
	if (run->lfd >= 0)
		close(run->lfd);
	if (run->efd >= 0)
		close(run->efd);
}

/*
 * One connection: non-blocking connect, then wait (bounded) for the acceptor's byte, so the
 * connection is exactly one event and the next one is made only after it was handled.
 */
static int hd_connect_once(const struct sockaddr_in *addr, uint64_t deadline_ns)
{
	struct pollfd pfd = { .events = POLLIN };
	char c;
	int ret;

	pfd.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (pfd.fd < 0)
		return -errno;
	if (connect(pfd.fd, (const struct sockaddr *)addr, sizeof(*addr)) && errno != EINPROGRESS) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		uint64_t now = iom_now_ns();
		int ms;

		if (now >= deadline_ns) {
			ret = -ETIMEDOUT;
			goto out;
		}
		ms = (int)((deadline_ns - now + 999999) / 1000000);
		ret = poll(&pfd, 1, ms);
		if (ret < 0 && errno != EINTR) {
			ret = -errno;
			goto out;
		}
		if (ret > 0)
			break;
	}
	ret = (int)recv(pfd.fd, &c, 1, 0);
	ret = ret == 1 ? 0 : ret < 0 ? -errno : -ECONNRESET;
out:
	close(pfd.fd);
	return ret;
}

static void hd_fail(struct hd_result *res, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void hd_fail(struct hd_result *res, const char *status, const char *fmt, ...)
{
	va_list ap;

	if (strcmp(res->status, "ok"))
		return;		/* the first failure is the one reported */
	snprintf(res->status, sizeof(res->status), "%s", status);
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
}

/* Baseline or final counters of every waiter; sums the deltas into res when final. */
static int hd_sample(struct hd_run *run, struct hd_result *res, bool final)
{
	for (unsigned int i = 0; i < run->nr_waiters; i++) {
		struct hd_waiter *w = &run->w[i];
		uint64_t nv, cpu;

		if (hd_nvcsw(w, &nv) || hd_cpu_ns(w, &cpu))
			return -EIO;
		if (!final) {
			w->nvcsw0 = nv;
			w->cpu0_ns = cpu;
			continue;
		}
		res->nr_wakeups += nv - w->nvcsw0;
		res->cpu_ns += cpu - w->cpu0_ns;
	}
	return 0;
}

static void hd_run_variant(enum hd_variant v, unsigned int nr_waiters, uint64_t nr_conns,
			   struct hd_result *res)
{
	struct hd_run *run;
	uint64_t t0 = iom_now_ns(), deadline = t0 + HD_VARIANT_TIMEOUT_NS;
	struct iom_err err = { "" };
	bool measured = false;
	unsigned int i;
	int ret;

	memset(res, 0, sizeof(*res));
	res->v = v;
	res->nr_waiters = nr_waiters;
	res->nr_conns = nr_conns;
	strcpy(res->status, "ok");
	/* On the heap: a waiter that cannot be stopped keeps using it, and it is then leaked. */
	run = calloc(1, sizeof(*run));
	if (run)
		run->w = calloc(nr_waiters, sizeof(*run->w));
	if (!run || !run->w) {
		free(run);
		hd_fail(res, "error", "out of memory");
		return;
	}
	run->v = v;
	run->nr_waiters = nr_waiters;
	run->lfd = run->efd = -1;
	for (i = 0; i < nr_waiters; i++) {
		run->w[i] = (struct hd_waiter){ .run = run, .lfd = -1, .epfd = -1, .stat_fd = -1,
						.status_fd = -1, .sched_fd = -1 };
	}
	ret = hd_setup(run, &err);
	if (ret) {
		hd_fail(res, "error", "%s", err.msg);
		goto out;
	}
	for (i = 0; i < nr_waiters; i++) {
		ret = pthread_create(&run->w[i].thread, NULL, hd_waiter_main, &run->w[i]);
		if (ret) {
			hd_fail(res, "error", "pthread_create: %s", strerror(ret));
			goto out;
		}
		run->w[i].started = true;
	}
	while (atomic_load_explicit(&run->nr_ready, memory_order_acquire) < nr_waiters) {
		if (iom_now_ns() > deadline) {
			hd_fail(res, "timeout", "waiters did not start in 10 s");
			goto out;
		}
		sched_yield();
	}
	for (i = 0; i < nr_waiters; i++) {
		struct hd_waiter *w = &run->w[i];

		w->stat_fd = hd_open_proc(w->tid, "stat");
		w->status_fd = hd_open_proc(w->tid, "status");
		w->sched_fd = hd_open_proc(w->tid, "schedstat");
		if (w->stat_fd < 0 || w->status_fd < 0 || w->sched_fd < 0) {
			hd_fail(res, "error", "/proc/self/task/%d: %s", (int)w->tid,
				strerror(errno));
			goto out;
		}
	}
	ret = hd_gate(run, deadline);
	if (ret) {
		hd_fail(res, ret == -ESRCH ? "error" : "timeout", ret == -ESRCH ?
			"a waiter exited" : "waiters not all asleep after 10 s");
		goto out;
	}
	if (hd_sample(run, res, false)) {
		hd_fail(res, "error", "reading /proc/self/task counters");
		goto out;
	}
	for (uint64_t k = 0; k < nr_conns; k++) {
		ret = hd_connect_once(&run->addr, deadline);
		if (ret == -ETIMEDOUT) {
			hd_fail(res, "timeout", "connection %llu not answered within 10 s",
				(unsigned long long)k + 1);
			break;
		}
		if (ret) {
			hd_fail(res, "error", "connection %llu: %s", (unsigned long long)k + 1,
				strerror(-ret));
			break;
		}
		res->nr_done++;
		/* Every woken waiter back asleep: its wake-up is counted, the next starts equal. */
		ret = hd_gate(run, deadline);
		if (ret) {
			hd_fail(res, ret == -ESRCH ? "error" : "timeout", ret == -ESRCH ?
				"a waiter exited" : "waiters still awake 10 s into the variant");
			break;
		}
	}
	res->runtime_ns = iom_now_ns() - t0;
	/* Read before stopping: the stop itself wakes every waiter once more. */
	if (hd_sample(run, res, true))
		hd_fail(res, "error", "reading /proc/self/task counters");
	else
		measured = true;
out:
	if (!hd_stop(run)) {
		hd_fail(res, "error", "a waiter could not be stopped in 2 s");
		/* Threads still use run and its fds: keep both; this process ends soon. */
		if (!measured)
			res->nr_wakeups = 0;
		return;
	}
	for (i = 0; i < nr_waiters; i++) {
		res->nr_accepted += run->w[i].nr_accepted;
		res->nr_eagain += run->w[i].nr_eagain;
		if (!run->w[i].err)
			continue;
		/* Its own errno says more than the gate's "a waiter exited". */
		if (!strcmp(res->reason, "a waiter exited"))
			strcpy(res->status, "ok");
		hd_fail(res, "error", "waiter %u: %s", i, strerror(-run->w[i].err));
	}
	if (!measured)
		res->nr_wakeups = res->cpu_ns = 0;
	hd_close_fds(run);
	free(run->w);
	free(run);
}

/* ---- the scenario ---- */

static double hd_div(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

static double hd_useless(const struct hd_result *r)
{
	return r->nr_wakeups > r->nr_accepted ? hd_div(r->nr_wakeups - r->nr_accepted, r->nr_done)
					      : 0.0;
}

static int hd_write_csv(const char *dir, const struct hd_result *res, unsigned int n)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/herd.csv", dir);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "variant,waiters,connections,connections_done,accepted,wakeups,"
		   "wakeups_per_conn,useless_per_conn,eagain,cpu_ns,cpu_us_per_conn,runtime_ns,"
		   "status,reason\n");
	for (unsigned int i = 0; i < n; i++) {
		const struct hd_result *r = &res[i];

		fprintf(f, "%s,%u,%llu,%llu,%llu,%llu,%.3f,%.3f,%llu,%llu,%.3f,%llu,%s,\"%s\"\n",
			hd_names[r->v], r->nr_waiters, (unsigned long long)r->nr_conns,
			(unsigned long long)r->nr_done, (unsigned long long)r->nr_accepted,
			(unsigned long long)r->nr_wakeups, hd_div(r->nr_wakeups, r->nr_done),
			hd_useless(r), (unsigned long long)r->nr_eagain,
			(unsigned long long)r->cpu_ns,
			hd_div(r->cpu_ns, r->nr_accepted) / 1000.0,
			(unsigned long long)r->runtime_ns, r->status, r->reason);
	}
	if (fclose(f))
		return -errno;
	return 0;
}

static void hd_usage(FILE *f)
{
	fprintf(f, "usage: iomodels scenario thundering-herd [--waiters N (8)] "
		   "[--connections K (200)] [--output DIR]\n");
}

static int hd_main(int argc, char **argv)
{
	struct hd_result res[HD_NR_VARIANTS];
	uint64_t nr_waiters = 8, nr_conns = 200;
	char out[PATH_MAX] = "";
	bool all_ok = true;
	int ret;

	for (int i = 1; i < argc; i++) {
		const char *val = NULL;

		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			hd_usage(stdout);
			return 0;
		} else if (sc_opt(argc, argv, &i, "--waiters", &val)) {
			if (sc_parse_u64(val, 1, HD_MAX_WAITERS, false, &nr_waiters)) {
				fprintf(stderr,
					"iomodels: thundering-herd: --waiters wants 1..%d\n",
					HD_MAX_WAITERS);
				return 2;
			}
		} else if (sc_opt(argc, argv, &i, "--connections", &val)) {
			if (sc_parse_u64(val, 1, HD_MAX_CONNECTIONS, false, &nr_conns)) {
				fprintf(stderr,
					"iomodels: thundering-herd: --connections wants 1..%d\n",
					HD_MAX_CONNECTIONS);
				return 2;
			}
		} else if (sc_opt(argc, argv, &i, "--output", &val)) {
			if (!val || !*val || strlen(val) >= sizeof(out) - 16) {
				fprintf(stderr,
					"iomodels: thundering-herd: --output wants a path\n");
				return 2;
			}
			snprintf(out, sizeof(out), "%s", val);
		} else {
			fprintf(stderr, "iomodels: thundering-herd: unknown option '%s' (--help)\n",
				argv[i]);
			return 2;
		}
	}
	if (!out[0])
		sc_default_output(out, sizeof(out), "herd");
	ret = sc_mkdir_p(out);
	if (ret) {
		fprintf(stderr, "iomodels: thundering-herd: mkdir %s: %s\n", out, strerror(-ret));
		return 2;
	}

	for (int v = 0; v < HD_NR_VARIANTS; v++)
		hd_run_variant((enum hd_variant)v, (unsigned int)nr_waiters, nr_conns, &res[v]);

	printf("thundering-herd: %llu waiters on one 127.0.0.1 listener, %llu connections made "
	       "one at a time, every waiter asleep before each\n",
	       (unsigned long long)nr_waiters, (unsigned long long)nr_conns);
	printf("%-16s %7s %11s %12s %12s %7s %12s  %s\n", "variant", "waiters", "connections",
	       "wakeups/conn", "useless/conn", "eagain*", "cpu_us/conn", "status");
	for (int v = 0; v < HD_NR_VARIANTS; v++) {
		const struct hd_result *r = &res[v];

		printf("%-16s %7u %11llu %12.2f %12.2f %7llu %12.1f  %s%s%s\n", hd_names[v],
		       r->nr_waiters, (unsigned long long)r->nr_done,
		       hd_div(r->nr_wakeups, r->nr_done), hd_useless(r),
		       (unsigned long long)r->nr_eagain, hd_div(r->cpu_ns, r->nr_accepted) / 1000.0,
		       r->status, r->reason[0] ? ": " : "", r->reason);
		if (strcmp(r->status, "ok"))
			all_ok = false;
	}
	/*
	 * EAGAIN is only a lower bound on useless wake-ups: a woken epoll waiter re-checks the
	 * listener inside epoll_wait (ep_send_events polls the item again) and, finding the queue
	 * already emptied by the winner, goes back to sleep without returning to user space, so it
	 * never calls accept. Only the rare waiter that returns between the winner's poll and its
	 * accept sees EAGAIN.
	 */
	printf("wake-ups = rise of the waiters' voluntary_ctxt_switches; useless = wake-ups that "
	       "accepted nothing; cpu = the waiters' on-CPU time (schedstat) per accepted "
	       "connection\n* eagain is only a lower bound on useless wake-ups: a woken epoll "
	       "re-polls the listener and, finding it already empty, sleeps again without "
	       "returning, so it never calls accept\n");
	printf("verdict: naive epoll wakes %.1f threads per connection, EPOLLEXCLUSIVE %.1f, "
	       "blocking accept %.1f, SO_REUSEPORT %.1f\n",
	       hd_div(res[HD_NAIVE].nr_wakeups, res[HD_NAIVE].nr_done),
	       hd_div(res[HD_EXCLUSIVE].nr_wakeups, res[HD_EXCLUSIVE].nr_done),
	       hd_div(res[HD_ACCEPT].nr_wakeups, res[HD_ACCEPT].nr_done),
	       hd_div(res[HD_REUSEPORT].nr_wakeups, res[HD_REUSEPORT].nr_done));
	ret = hd_write_csv(out, res, HD_NR_VARIANTS);
	if (ret) {
		fprintf(stderr, "iomodels: thundering-herd: %s/herd.csv: %s\n", out,
			strerror(-ret));
		return 1;
	}
	printf("wrote %s/herd.csv\n", out);
	return all_ok ? 0 : 1;
}

const struct iom_scenario iom_scenario_herd = {
	.name = "thundering-herd",
	.what = "N threads on one listener: accept / epoll / EPOLLEXCLUSIVE / SO_REUSEPORT "
		"wake-ups per connection",
	.main = hd_main,
};
