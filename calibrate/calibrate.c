// SPDX-License-Identifier: MIT
/*
 * iomodels calibrate: this machine's limits, measured the same way every time, so a results table
 * can be read against them (a model cannot beat the cost of the syscall it makes). Each figure is
 * the median of several rounds of a tight loop.
 */
#include <errno.h>
#include <liburing.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "calibrate/calibrate.h"
#include "calibrate/echo.h"
#include "core/driver.h"
#include "core/model.h"
#include "core/probe.h"

#define ROUNDS 5

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static double cal_syscall(void)
{
	double r[ROUNDS];

	for (int k = 0; k < ROUNDS; k++) {
		uint64_t t0 = iom_now_ns();

		for (int i = 0; i < 100000; i++)
			syscall(SYS_getppid);
		r[k] = (double)(iom_now_ns() - t0) / 100000;
	}
	return median(r, ROUNDS);
}

static double cal_clock(void)
{
	double r[ROUNDS];
	volatile uint64_t sink = 0;

	for (int k = 0; k < ROUNDS; k++) {
		uint64_t t0 = iom_now_ns();

		for (int i = 0; i < 1000000; i++)
			sink += iom_now_ns();
		r[k] = (double)(iom_now_ns() - t0) / 1000000;
	}
	(void)sink;
	return median(r, ROUNDS);
}

static double cal_memcpy(void)
{
	static char src[4096], dst[4096];
	double r[ROUNDS];

	memset(src, 1, sizeof(src));
	for (int k = 0; k < ROUNDS; k++) {
		uint64_t t0 = iom_now_ns();

		for (int i = 0; i < 200000; i++) {
			src[i & 4095] = (char)i;
			memcpy(dst, src, sizeof(dst));
			__asm__ __volatile__("" : : "r"(dst) : "memory");
		}
		r[k] = (double)(iom_now_ns() - t0) / 200000;
	}
	return median(r, ROUNDS);
}

/* Ping-pong between two threads: over pipes (a context switch) or eventfds (a wake-up). */
struct pingpong {
	int fd_ping[2], fd_pong[2];
	bool eventfd;
	int cpu_peer;
	int iters;
};

static void pp_send(int fd, bool efd)
{
	uint64_t one = 1;
	char c = 1;

	if (efd)
		(void)!write(fd, &one, sizeof(one));
	else
		(void)!write(fd, &c, 1);
}

static void pp_recv(int fd, bool efd)
{
	uint64_t v;
	char c;

	if (efd)
		(void)!read(fd, &v, sizeof(v));
	else
		(void)!read(fd, &c, 1);
}

static void *pp_peer(void *arg)
{
	struct pingpong *pp = arg;

	pin(pp->cpu_peer);
	for (int i = 0; i < pp->iters; i++) {
		pp_recv(pp->fd_ping[0], pp->eventfd);
		pp_send(pp->fd_pong[1], pp->eventfd);
	}
	return NULL;
}

/* One-way cost (half a round trip) in ns, or -errno. */
static double cal_pingpong(bool efd, int cpu_self, int cpu_peer, int iters)
{
	struct pingpong pp = { .eventfd = efd, .cpu_peer = cpu_peer, .iters = iters };
	cpu_set_t saved;
	pthread_t th;
	uint64_t t0, t1;

	if (efd) {
		pp.fd_ping[0] = pp.fd_ping[1] = eventfd(0, EFD_CLOEXEC);
		pp.fd_pong[0] = pp.fd_pong[1] = eventfd(0, EFD_CLOEXEC);
	} else if (pipe(pp.fd_ping) || pipe(pp.fd_pong)) {
		return -errno;
	}
	sched_getaffinity(0, sizeof(saved), &saved);
	pin(cpu_self);
	pthread_create(&th, NULL, pp_peer, &pp);
	t0 = iom_now_ns();
	for (int i = 0; i < iters; i++) {
		pp_send(pp.fd_ping[1], efd);
		pp_recv(pp.fd_pong[0], efd);
	}
	t1 = iom_now_ns();
	pthread_join(th, NULL);
	sched_setaffinity(0, sizeof(saved), &saved);
	close(pp.fd_ping[0]);
	close(pp.fd_pong[0]);
	if (!efd) {
		close(pp.fd_ping[1]);
		close(pp.fd_pong[1]);
	}
	return (double)(t1 - t0) / iters / 2;
}

/* io_uring NOPs at a depth: ns per NOP, or -errno. */
static double cal_uring_nop(unsigned int depth)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	double r[ROUNDS];
	int ret = io_uring_queue_init(depth, &ring, IORING_SETUP_SINGLE_ISSUER |
				      IORING_SETUP_DEFER_TASKRUN);

	if (ret == -EINVAL)
		ret = io_uring_queue_init(depth, &ring, 0);
	if (ret < 0)
		return ret;
	for (int k = 0; k < ROUNDS; k++) {
		const int n = 200000;
		uint64_t t0 = iom_now_ns();

		for (int done = 0; done < n;) {
			unsigned int head, seen = 0;

			for (unsigned int i = 0; i < depth; i++)
				io_uring_prep_nop(io_uring_get_sqe(&ring));
			io_uring_submit_and_wait(&ring, depth);
			io_uring_for_each_cqe(&ring, head, cqe)
				seen++;
			io_uring_cq_advance(&ring, seen);
			done += (int)seen;
		}
		r[k] = (double)(iom_now_ns() - t0) / n;
	}
	io_uring_queue_exit(&ring);
	return median(r, ROUNDS);
}

/* How late a 1 ms absolute sleep wakes, at this thread's timer slack. */
static double cal_timer_overshoot(void)
{
	double r[200];

	for (int i = 0; i < 200; i++) {
		uint64_t want = iom_now_ns() + 1000000;
		struct timespec ts = iom_ts(want);

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		r[i] = (double)(iom_now_ns() - want);
	}
	return median(r, 200);
}

/* Loopback TCP round trip of 64 bytes with TCP_NODELAY: one-way-and-back, in ns. */
static void *tcp_echo(void *arg)
{
	int lfd = *(int *)arg, fd = accept(lfd, NULL, NULL);
	char buf[64];
	ssize_t n;

	if (fd < 0)
		return NULL;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n)
			break;
	close(fd);
	return NULL;
}

static double cal_tcp_rtt(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), fd, one = 1;
	char buf[64] = { 0 };
	pthread_t th;
	double r[ROUNDS];

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen))
		return -errno;
	pthread_create(&th, NULL, tcp_echo, &lfd);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		int e = -errno;

		close(lfd);
		return e;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (int k = 0; k < ROUNDS; k++) {
		uint64_t t0 = iom_now_ns();

		for (int i = 0; i < 5000; i++) {
			size_t got = 0;

			if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
				break;
			while (got < sizeof(buf)) {
				ssize_t n = read(fd, buf + got, sizeof(buf) - got);

				if (n <= 0)
					break;
				got += (size_t)n;
			}
		}
		r[k] = (double)(iom_now_ns() - t0) / 5000;
	}
	close(fd);
	pthread_join(th, NULL);
	close(lfd);
	return median(r, ROUNDS);
}

/*
 * The backend's standalone capacity: load it with the cheapest client there is (io_uring, 64
 * connections, service time 0) for a second and divide the CPUs it may use by the CPU it spent
 * per request. A cell whose backend runs above 70% of that is flagged backend_bound.
 */
static void cal_backend(struct iom_calibration *cal)
{
	const struct iom_model *m = iom_model_find("uring");
	struct iom_err err = { "" };
	struct iom_cfg cfg;
	struct iom_hist *hist = malloc(sizeof(*hist));
	struct iom_row *row = malloc(sizeof(*row));

	iom_cfg_init(&cfg);
	cal->backend_ns_per_request = cal->backend_capacity_per_s = -1;
	if (!m || !hist || !row || m->probe(IOM_WL_RPC, &err))
		goto out;
	cfg.model = m;
	cfg.wl.kind = IOM_WL_RPC;
	cfg.wl.latency_ns = 0;	/* no service time: the backend's own cost per request */
	cfg.concurrency = 64;
	cfg.runtime_ns = 1000000000;
	cfg.ramp_ns = 100000000;
	cfg.batch_complete = 1;
	if (iom_run_cell(&cfg, row, hist) || strcmp(row->str[IOM_COL_status], "ok") ||
	    !(row->num[IOM_COL_cpu_backend_ns] > 0) || !(row->num[IOM_COL_tasks] > 0))
		goto out;
	cal->backend_ns_per_request = row->num[IOM_COL_cpu_backend_ns] / row->num[IOM_COL_tasks];
	cal->backend_capacity_per_s = (double)sysconf(_SC_NPROCESSORS_ONLN) < 2 ?
		1e9 / cal->backend_ns_per_request : 2e9 / cal->backend_ns_per_request;
out:
	free(hist);
	free(row);
}

/*
 * The fixed client load every bare echo loop is measured under: the epoll rpc client (today the
 * fastest of ours against a lean server), this many connections, a closed loop.
 */
#define ECHO_CLIENT		"epoll"
#define ECHO_CONCURRENCY	256

/*
 * A bare echo loop on cpu_server under the fixed client on cpu_client for a second: the client's
 * requests/s, and the loop's CPU per request it answered (its whole life: accepts, ramp and all).
 */
static void cal_echo(enum iom_echo_kind k, int cpu_client, int cpu_server, double *per_s,
		     double *cpu_us)
{
	const struct iom_model *m = iom_model_find(ECHO_CLIENT);
	struct iom_err err = { "" };
	struct iom_cfg cfg;
	struct iom_hist *hist = malloc(sizeof(*hist));
	struct iom_row *row = malloc(sizeof(*row));
	struct iom_echo *e = NULL;
	uint64_t bytes = 0, loop_ns = 0;
	int ret;

	iom_cfg_init(&cfg);
	*per_s = *cpu_us = -EINVAL;
	if (!m || !hist || !row)
		goto out;
	ret = iom_echo_start(k, cpu_server, &e, &err);
	if (ret) {
		*per_s = *cpu_us = ret;
		goto out;
	}
	cfg.model = m;
	cfg.wl.kind = IOM_WL_RPC;	/* the run's default payload: 88 bytes a frame on the wire */
	cfg.wl.latency_ns = 0;
	snprintf(cfg.wl.connect, sizeof(cfg.wl.connect), "127.0.0.1:%u", iom_echo_port(e));
	cfg.concurrency = ECHO_CONCURRENCY;
	cfg.runtime_ns = 1000000000;
	cfg.ramp_ns = 100000000;
	cfg.batch_complete = 1;
	CPU_ZERO(&cfg.cpus);
	CPU_SET(cpu_client, &cfg.cpus);
	cfg.cpus_set = true;
	ret = iom_run_cell(&cfg, row, hist);
	iom_echo_stop(e, &bytes, &loop_ns);
	if (ret || strcmp(row->str[IOM_COL_status], "ok") || !bytes)
		goto out;
	*per_s = row->num[IOM_COL_ops_per_s];
	*cpu_us = (double)loop_ns / 1e3 / ((double)bytes / (sizeof(struct iom_rpc_hdr) + 64));
out:
	free(hist);
	free(row);
}

/* name, value, what: the single table both the text and the CSV are made from. */
#define CAL_FIELDS(X)                                                                          \
	X(syscall_ns, "getppid(): the cheapest system call")                                   \
	X(clock_gettime_ns, "clock_gettime(CLOCK_MONOTONIC), vDSO")                            \
	X(memcpy_4k_ns, "memcpy of 4 KiB, cache-hot")                                          \
	X(ctx_switch_ns, "pipe ping-pong on one CPU: one switch (half a round trip)")         \
	X(wakeup_same_cpu_ns, "eventfd ping-pong on one CPU (half a round trip)")             \
	X(wakeup_cross_cpu_ns, "eventfd ping-pong across two CPUs (half a round trip)")       \
	X(uring_nop_d1_ns, "io_uring NOP, depth 1, per NOP")                                   \
	X(uring_nop_d128_ns, "io_uring NOP, depth 128, per NOP")                               \
	X(timer_overshoot_ns, "1 ms absolute clock_nanosleep: median lateness")               \
	X(timer_slack_ns, "timer slack in use")                                                \
	X(tcp_rtt_ns, "loopback TCP 64-byte round trip, TCP_NODELAY")                          \
	X(backend_ns_per_request, "rpc backend CPU per request, 64 B, service time 0")           \
	X(backend_capacity_per_s, "rpc backend capacity, requests/s (its CPUs / its CPU per request)") \
	X(echo_blocking_per_s, "bare echo, thread per connection: requests/s (epoll client, C=256)") \
	X(echo_blocking_cpu_us, "bare echo, thread per connection: server CPU per request")        \
	X(echo_epoll_per_s, "bare echo, one edge-triggered epoll loop: requests/s")             \
	X(echo_epoll_cpu_us, "bare echo, one edge-triggered epoll loop: server CPU per request")    \
	X(echo_uring_per_s, "bare echo, io_uring multishot + buffer ring: requests/s")          \
	X(echo_uring_cpu_us, "bare echo, io_uring multishot + buffer ring: server CPU per request")


/* Bit CAL_name of a figure set: that figure of calibrate.csv (iomodels calibrate --only). */
enum cal_field {
#define X(name, what) CAL_##name,
	CAL_FIELDS(X)
#undef X
	NR_CAL_FIELDS
};
#define WANT(fields, name)	((fields) >> CAL_##name & 1)

_Static_assert(NR_CAL_FIELDS <= 64, "a figure set is one 64-bit mask");

int iom_calibration_field(const char *name)
{
	static const char *const names[] = {
#define X(name, what) #name,
		CAL_FIELDS(X)
#undef X
	};

	for (int i = 0; i < NR_CAL_FIELDS; i++)
		if (!strcmp(name, names[i]))
			return i;
	return -1;
}

int iom_calibrate(struct iom_calibration *cal)
{
	return iom_calibrate_some(cal, IOM_CAL_ALL);
}

/* Each probe runs when any figure it yields is wanted: one probe can take seconds. */
int iom_calibrate_some(struct iom_calibration *cal, unsigned long long fields)
{
	int ncpu = 0, cpu0 = -1, cpu1 = -1, cpu_loop;
	cpu_set_t set;

	memset(cal, 0, sizeof(*cal));
	sched_getaffinity(0, sizeof(set), &set);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set)) {
			if (cpu0 < 0)
				cpu0 = c;
			else if (cpu1 < 0)
				cpu1 = c;
			ncpu++;
		}
	if (WANT(fields, syscall_ns))
		cal->syscall_ns = cal_syscall();
	if (WANT(fields, clock_gettime_ns))
		cal->clock_gettime_ns = cal_clock();
	if (WANT(fields, memcpy_4k_ns))
		cal->memcpy_4k_ns = cal_memcpy();
	if (WANT(fields, ctx_switch_ns))
		cal->ctx_switch_ns = cal_pingpong(false, cpu0, cpu0, 20000);
	if (WANT(fields, wakeup_same_cpu_ns))
		cal->wakeup_same_cpu_ns = cal_pingpong(true, cpu0, cpu0, 20000);
	if (WANT(fields, wakeup_cross_cpu_ns))
		cal->wakeup_cross_cpu_ns = ncpu > 1 ? cal_pingpong(true, cpu0, cpu1, 20000) : -1;
	if (WANT(fields, uring_nop_d1_ns))
		cal->uring_nop_d1_ns = cal_uring_nop(1);
	if (WANT(fields, uring_nop_d128_ns))
		cal->uring_nop_d128_ns = cal_uring_nop(128);
	if (WANT(fields, timer_overshoot_ns))
		cal->timer_overshoot_ns = cal_timer_overshoot();
	if (WANT(fields, timer_slack_ns))
		cal->timer_slack_ns = (double)iom_timer_slack_ns();
	if (WANT(fields, tcp_rtt_ns))
		cal->tcp_rtt_ns = cal_tcp_rtt();
	sched_setaffinity(0, sizeof(set), &set);
	if (WANT(fields, backend_ns_per_request) || WANT(fields, backend_capacity_per_s))
		cal_backend(cal);
	/* Client and loop on different CPUs when there are two. */
	cpu_loop = ncpu > 1 ? cpu1 : cpu0;
	if (WANT(fields, echo_blocking_per_s) || WANT(fields, echo_blocking_cpu_us))
		cal_echo(IOM_ECHO_BLOCKING, cpu0, cpu_loop, &cal->echo_blocking_per_s,
			 &cal->echo_blocking_cpu_us);
	if (WANT(fields, echo_epoll_per_s) || WANT(fields, echo_epoll_cpu_us))
		cal_echo(IOM_ECHO_EPOLL, cpu0, cpu_loop, &cal->echo_epoll_per_s,
			 &cal->echo_epoll_cpu_us);
	if (WANT(fields, echo_uring_per_s) || WANT(fields, echo_uring_cpu_us))
		cal_echo(IOM_ECHO_URING, cpu0, cpu_loop, &cal->echo_uring_per_s,
			 &cal->echo_uring_cpu_us);
	sched_setaffinity(0, sizeof(set), &set);
	return 0;
}

void iom_calibration_print(const struct iom_calibration *cal, FILE *f, bool csv)
{
	iom_calibration_print_some(cal, IOM_CAL_ALL, f, csv);
}

void iom_calibration_print_some(const struct iom_calibration *cal, unsigned long long fields,
				FILE *f, bool csv)
{
	if (csv)
		fprintf(f, "name,value,what\n");
#define X(name, what)                                                                          \
	if (!WANT(fields, name))                                                               \
		;                                                                              \
	else if (csv)                                                                          \
		fprintf(f, "%s,%.1f,\"%s\"\n", #name, cal->name, what);                        \
	else                                                                                   \
		fprintf(f, "%-22s %12.1f %-3s %s\n", #name, cal->name,                     \
			strstr(#name, "_ns") ? "ns" : strstr(#name, "_us") ? "us" : "/s", what);
	CAL_FIELDS(X)
#undef X
}

/*
 * The median of v[0..n) (n odd) and the k-th smallest and largest values around it, k the
 * largest rank with P(Binomial(n, 1/2) < k) <= 2.5% (scripts/probe-overhead's median_ci): ranks
 * 2 and 8 of 9.
 */
static void median_ci(double *v, int n, double *med, double *lo, double *hi)
{
	double tail = 0, comb = 1;	/* C(n, k) */
	int k = 0;

	*med = median(v, n);	/* sorts v */
	for (;;) {
		double p = tail + comb / (double)(1ull << n);

		if (p > 0.025)
			break;
		tail = p;
		comb = comb * (n - k) / (k + 1);
		k++;
	}
	*lo = k ? v[k - 1] : NAN;
	*hi = k ? v[n - k] : NAN;
}

#define PROBE_COST_ITERS 20000

/*
 * One ping-pong with list's probes following tgid: ns per switch; *slots: the thread records
 * the sched probe took, or -1 when the list has no sched probe.
 */
static int probed_pingpong(const char *list, pid_t tgid, int cpu, double *ns, long long *slots,
			   struct iom_err *err)
{
	struct iom_probe_opts opts = { .list = list, .tgid = tgid };
	struct iom_probe *p = iom_probe_open(&opts, err);
	uint64_t claimed = 0, fallback = 0;

	if (!p)
		return -EINVAL;	/* err says what */
	iom_probe_window(p, true);
	*ns = cal_pingpong(false, cpu, cpu, PROBE_COST_ITERS);
	iom_probe_window(p, false);
	*slots = iom_probe_sched_slots(p, &claimed, &fallback) ? -1 :
								  (long long)(claimed + fallback);
	iom_probe_close(p);
	return *ns < 0 ? (int)*ns : 0;
}

int iom_calibrate_probe_cost(const char *list, struct iom_probe_cost *pc, struct iom_err *err)
{
	double off[2 * 2 * IOM_PROBE_COST_PAIRS], d_ours[IOM_PROBE_COST_PAIRS],
		d_other[IOM_PROBE_COST_PAIRS];
	pid_t target[2] = { getpid(), getppid() };
	int nr_off = 0, cpu = sched_getcpu(), ret = 0;
	bool has_sched = false;
	cpu_set_t saved;

	memset(pc, 0, sizeof(*pc));
	if (cpu < 0)
		cpu = 0;
	sched_getaffinity(0, sizeof(saved), &saved);
	for (int side = 0; side < 2; side++) {
		double *d = side ? d_other : d_ours;

		for (int i = 0; i < IOM_PROBE_COST_PAIRS; i++) {
			double base = -EINVAL, probed = 0;
			long long slots;

			/* ABBA: off then on, then on then off, so a drift cancels. */
			if (i % 2 == 0)
				base = cal_pingpong(false, cpu, cpu, PROBE_COST_ITERS);
			ret = probed_pingpong(list, target[side], cpu, &probed, &slots, err);
			if (ret)
				goto out;
			if (i % 2 == 1)
				base = cal_pingpong(false, cpu, cpu, PROBE_COST_ITERS);
			if (base < 0) {
				ret = iom_err_set(err, (int)base, "calibrate: ping-pong");
				goto out;
			}
			off[nr_off++] = base;
			d[i] = probed - base;
			has_sched = slots >= 0;
			if (!side && slots > (long long)pc->ours_slots)
				pc->ours_slots = (unsigned long long)slots;
		}
	}
	/* The sched probe must have followed the ping-pong's two threads, or `ours` is empty. */
	if (has_sched && pc->ours_slots < 2) {
		ret = iom_err_set(err, -ENODATA, "calibrate: the sched probe saw %llu of the "
				  "ping-pong's threads", pc->ours_slots);
		goto out;
	}
	pc->off_ns = median(off, nr_off);
	median_ci(d_ours, IOM_PROBE_COST_PAIRS, &pc->ours_ns, &pc->ours_lo_ns, &pc->ours_hi_ns);
	median_ci(d_other, IOM_PROBE_COST_PAIRS, &pc->other_ns, &pc->other_lo_ns, &pc->other_hi_ns);
out:
	sched_setaffinity(0, sizeof(saved), &saved);
	return ret;
}

void iom_probe_cost_print(const struct iom_probe_cost *pc, const char *list, FILE *f, bool csv)
{
	const struct {
		const char *name, *what;
		double ns, lo, hi;	/* lo, hi: NAN for no interval */
	} rows[] = {
		{ "probe_switch_off_ns", "pipe ping-pong on one CPU, no probes: one switch",
		  pc->off_ns, NAN, NAN },
		{ "probe_switch_ours_ns", "following the switching threads", pc->ours_ns,
		  pc->ours_lo_ns, pc->ours_hi_ns },
		{ "probe_switch_other_ns", "following another process", pc->other_ns,
		  pc->other_lo_ns, pc->other_hi_ns },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char what[160];

		if (isnan(rows[i].lo))
			snprintf(what, sizeof(what), "%s", rows[i].what);
		else
			snprintf(what, sizeof(what), "added per switch by --probes %s %s "
				 "[95%%: %.1f to %.1f]", list, rows[i].what, rows[i].lo, rows[i].hi);
		if (csv)
			fprintf(f, "%s,%.1f,\"%s\"\n", rows[i].name, rows[i].ns, what);
		else
			fprintf(f, "%-22s %12.1f ns  %s\n", rows[i].name, rows[i].ns, what);
	}
}
