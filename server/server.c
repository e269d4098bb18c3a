// SPDX-License-Identifier: MIT
/*
 * What every server model shares: the listeners, the request accounting (counts, the dedup of
 * retried request ids, the --capacity BUSY answer), the service, the connection cap, the
 * port and stats reports, and the stop signal. The models (epoll/server.c, threads/server.c,
 * ...) only wait for and move bytes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/model.h"
#include "core/parse.h"
#include "server/server.h"

#define SV_SEEN_BITS	22		/* remembered request ids: 4M entries */
#define SV_ACCEPT_PAUSE_NS	50000000ull	/* out of fds: stop accepting this long */

static _Atomic int sv_stop;

static void sv_on_signal(int sig)
{
	(void)sig;
	atomic_store(&sv_stop, 1);
}

bool iom_server_stopping(void)
{
	return atomic_load_explicit(&sv_stop, memory_order_relaxed);
}

void iom_server_stop(void)
{
	atomic_store(&sv_stop, 1);
}

void iom_server_opts_init(struct iom_server_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->report_fd = -1;
	o->threads = 0;	/* one loop per CPU the server may run on: iom_server_loops() */
	o->frame_timeout_ms = IOM_SERVER_FRAME_MS;
	o->idle_timeout_ms = IOM_SERVER_IDLE_MS;
	o->max_inflight = IOM_SERVER_INFLIGHT;
	o->out_cap = IOM_SERVER_OUT_CAP;
	o->max_pending = IOM_ASYNC_MAX_PENDING;
	o->max_pending_conn = IOM_ASYNC_MAX_PENDING_CONN;
	o->status_ttl_ms = IOM_ASYNC_TTL_MS;
}

/* D of sleep:D or cpu:D: whole microseconds, or a duration with its unit (250us, 2ms). */
static int sv_service_us(const char *s, uint32_t *us)
{
	uint64_t v;
	int ret = iom_parse_us(s, 0, 60000000, &v);	/* up to a minute */

	if (ret)
		return ret;
	*us = (uint32_t)v;
	return 0;
}

int iom_service_parse(const char *s, struct iom_server_opts *o, struct iom_err *err)
{
	const char *arg = strchr(s, ':');
	uint64_t bs;

	if (!strncmp(s, "sleep:", 6))
		o->service = IOM_SERVICE_SLEEP;
	else if (!strncmp(s, "cpu:", 4))
		o->service = IOM_SERVICE_CPU;
	else if (!strncmp(s, "file:", 5))
		o->service = IOM_SERVICE_FILE;
	else
		return iom_err_msg(err, "--service: want sleep:D, cpu:D (D in us, or 2ms) or file:BS "
				   "(got '%s')", s);
	arg++;
	if (o->service == IOM_SERVICE_FILE) {
		if (iom_parse_size(arg, 1, 1u << 20, &bs))
			return iom_err_msg(err, "--service file:BS: BS must be 1 to 1M bytes (got "
					   "'%s')", s);
		o->service_bs = (uint32_t)bs;
		return 0;
	}
	if (sv_service_us(arg, &o->service_us))
		return iom_err_msg(err, "--service: D must be whole microseconds up to 60000000, or "
				   "a duration with its unit (got '%s')", s);
	return 0;
}

/* --service file: the file, opened once; its size in blocks. */
static int sv_service_open(struct iom_server *srv, struct iom_err *err)
{
	const struct iom_server_opts *o = &srv->opts;
	const char *path = o->service_path ? o->service_path : "iomodels.1073741824.dat";
	struct stat st;

	srv->service_fd = -1;
	if (o->service != IOM_SERVICE_FILE)
		return 0;
	srv->service_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (srv->service_fd < 0)
		return iom_err_set(err, -errno, "serve --service file: open %s (make it with run "
				   "--workload file, or give --file)", path);
	if (fstat(srv->service_fd, &st) || (uint64_t)st.st_size < o->service_bs)
		return iom_err_msg(err, "serve --service file: %s is smaller than one block", path);
	srv->service_blocks = (uint64_t)st.st_size / o->service_bs;
	return 0;
}

void iom_server_log(struct iom_server *srv, const char *fmt, ...)
{
	va_list ap;

	if (srv->opts.quiet)
		return;
	va_start(ap, fmt);
	fputs("serve: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int sv_bind(struct iom_server *srv, bool reuseport, struct iom_err *err)
{
	int fd = socket(srv->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return iom_err_set(err, -errno, "serve: socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&srv->addr.ss, srv->addr.len) || listen(fd, 4096)) {
		int e = -errno;

		close(fd);
		return iom_err_set(err, e, "serve: bind/listen %s", srv->addr.text);
	}
	/* Port 0: every later listener joins the port the first one got. */
	if (srv->addr.ss.ss_family != AF_UNIX) {
		socklen_t len = sizeof(srv->addr.ss);

		getsockname(fd, (struct sockaddr *)&srv->addr.ss, &len);
	}
	return fd;
}

/*
 * TCP: one SO_REUSEPORT listener per thread (the kernel spreads connections, no thundering
 * herd); thread 0 takes the one bound at start. Unix sockets have no reuseport: every thread
 * shares the one listener.
 */
int iom_server_listener(struct iom_server *srv, unsigned int thread, struct iom_err *err)
{
	int fd;

	if (srv->addr.ss.ss_family != AF_UNIX && thread)
		return sv_bind(srv, true, err);
	fd = dup(srv->listen_fd);
	return fd >= 0 ? fd : iom_err_set(err, -errno, "serve: dup the listener");
}

static unsigned int sv_port(const struct iom_server *srv)
{
	if (srv->addr.ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&srv->addr.ss)->sin6_port);
	if (srv->addr.ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&srv->addr.ss)->sin_port);
	return 0;
}

/* HOST:PORT as bound: the port a :0 listen got, for the log. */
static const char *sv_name(const struct iom_server *srv, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	const void *a = srv->addr.ss.ss_family == AF_INET6 ?
		(const void *)&((const struct sockaddr_in6 *)&srv->addr.ss)->sin6_addr :
		(const void *)&((const struct sockaddr_in *)&srv->addr.ss)->sin_addr;

	inet_ntop(srv->addr.ss.ss_family, a, host, sizeof(host));
	snprintf(buf, len, srv->addr.ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
		 sv_port(srv));
	return buf;
}

uint64_t iom_server_accept_failed(struct iom_server *srv, int e)
{
	atomic_fetch_add(&srv->nr_accept_fail, 1);
	if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM)
		return 0;	/* the peer's trouble (ECONNABORTED ...): take the next one */
	/*
	 * Out of fds: the pending connection stays in the backlog, so a level-triggered retry
	 * would spin on it. Pause accepting until a connection closes or the pause ends.
	 */
	if (!atomic_exchange(&srv->logged_accept, true))
		iom_server_log(srv, "accept: %s: pausing accepts (logged once)", strerror(e));
	return SV_ACCEPT_PAUSE_NS;
}

bool iom_server_conn_open(struct iom_server *srv)
{
	int open = atomic_fetch_add(&srv->nr_open, 1) + 1;

	if (srv->opts.max_conns && open > (int)srv->opts.max_conns) {
		atomic_fetch_sub(&srv->nr_open, 1);
		atomic_fetch_add(&srv->nr_refused, 1);
		if (!atomic_exchange(&srv->logged_refused, true))
			iom_server_log(srv, "refusing connections past --max-conns %u (logged once)",
				       srv->opts.max_conns);
		return false;
	}
	atomic_fetch_add(&srv->nr_conns, 1);
	return true;
}

void iom_server_conn_closed(struct iom_server *srv)
{
	atomic_fetch_sub(&srv->nr_open, 1);
}

#define SV_SEEN_BYTES	((1ull << SV_SEEN_BITS) * sizeof(uint64_t))

/*
 * The seen table, touched now and on huge pages where the kernel grants them: touched lazily,
 * RSS grew by 32 MiB over the first ~30k requests, which the bench counted as memory per
 * connection (32 MiB at C=1).
 */
static _Atomic uint64_t *sv_seen_alloc(void)
{
	void *p = mmap(NULL, SV_SEEN_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, SV_SEEN_BYTES, MADV_HUGEPAGE);	/* refused: 4 KiB pages, as correct */
	memset(p, 0, SV_SEEN_BYTES);
	return p;
}

/*
 * Remember id; true if it was already there (a duplicate). Lock-free, never grows.
 * Direct-mapped by the id's task number (ids are number << 20 | slot, the numbers of a run
 * consecutive): the requests in flight touch a few KiB of the table together, where a hashed
 * slot cost each request a cache miss into 32 MiB (3.8% of the epoll server's CPU samples at
 * C=256). An entry keeps the last id of its number mod 4M: a retry is known until 4M newer
 * numbers came (seconds at any rate served here). Clients whose numbers coincide (MPI ranks)
 * take turns in an entry: a retry of one may then run again, counted as a duplicate.
 */
static bool sv_seen(struct iom_server *srv, uint64_t id)
{
	_Atomic uint64_t *e = &srv->seen[iom_id_seq(id) & ((1ull << SV_SEEN_BITS) - 1)];
	uint64_t key = id + 1;

	if (atomic_load_explicit(e, memory_order_relaxed) == key)
		return true;
	atomic_store_explicit(e, key, memory_order_relaxed);
	return false;
}

/*
 * SUBMIT and STATUS are answered at once (iom_server_reply asks the store); a WAIT is served
 * as a timed wait until its task reads done, in whichever way the model waits. Not deduplicated:
 * a retried SUBMIT is a second task, the seed's duplicate, counted by the client.
 */
static enum iom_admit sv_admit_async(struct iom_server *srv, const unsigned char *frame,
				     struct iom_rpc_hdr *h)
{
	struct iom_rpc_async req;

	if (iom_rpc_type(h->flags) != IOM_RPC_WAIT)
		return IOM_ADMIT_REPLY;
	memcpy(&req, frame + sizeof(*h), sizeof(req));
	h->service_us = iom_async_wait_us(srv, req.task);
	if (!h->service_us)
		return IOM_ADMIT_REPLY;
	atomic_fetch_add_explicit(&srv->in_service, 1, memory_order_relaxed);
	return IOM_ADMIT_SERVE;
}

enum iom_admit iom_server_admit(struct iom_server *srv, const unsigned char *frame,
				struct iom_rpc_hdr *h, uint16_t *reply_flags)
{
	memcpy(h, frame, sizeof(*h));
	*reply_flags = 0;
	atomic_fetch_add_explicit(&srv->nr_requests, 1, memory_order_relaxed);
	if (iom_rpc_type(h->flags) != IOM_RPC_ECHO)
		return sv_admit_async(srv, frame, h);
	if (sv_seen(srv, h->id)) {
		/*
		 * A request id seen before. With an idempotency key the work is not done again:
		 * the stored result (here the echo, which is deterministic) goes back at once.
		 * Without one the server cannot tell a retry from new work: it executes it
		 * again, and that is the duplicate the seed warns about.
		 */
		if (h->flags & IOM_RPC_F_IDEMPOTENT) {
			atomic_fetch_add_explicit(&srv->nr_deduplicated, 1, memory_order_relaxed);
			return IOM_ADMIT_REPLY;
		}
		atomic_fetch_add_explicit(&srv->nr_duplicates, 1, memory_order_relaxed);
	}
	/* Over capacity: answer BUSY at once, this protocol's 429. */
	if (srv->opts.capacity &&
	    atomic_load_explicit(&srv->in_service, memory_order_relaxed) >= (int)srv->opts.capacity) {
		atomic_fetch_add_explicit(&srv->nr_busy, 1, memory_order_relaxed);
		*reply_flags = IOM_RPC_F_BUSY;
		return IOM_ADMIT_REPLY;
	}
	if (!iom_server_service_ns(srv, h))
		return IOM_ADMIT_REPLY;
	atomic_fetch_add_explicit(&srv->in_service, 1, memory_order_relaxed);
	return IOM_ADMIT_SERVE;
}

/*
 * One event loop per CPU: two loops pinned to one CPU answered 0.75x the requests/s of one, at
 * 1.3x the CPU per request (each epoll_wait or ring wait returns half the events, and the
 * loops preempt each other): docs/servers.md, "Cost per request against the bare loops".
 * Called from a model's run(), after sv_open() set the server's CPUs.
 */
unsigned int iom_server_loops(const struct iom_server *srv)
{
	cpu_set_t set;
	int n;

	if (srv->opts.threads)
		return srv->opts.threads;
	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	n = CPU_COUNT(&set);
	return n > 0 ? (unsigned int)n : 1;
}

void iom_server_served(struct iom_server *srv)
{
	atomic_fetch_sub_explicit(&srv->in_service, 1, memory_order_relaxed);
}

enum iom_service_kind iom_server_service_kind(const struct iom_server *srv,
					      const struct iom_rpc_hdr *h)
{
	return iom_rpc_type(h->flags) == IOM_RPC_WAIT ? IOM_SERVICE_WAIT : srv->opts.service;
}

uint64_t iom_server_service_ns(const struct iom_server *srv, const struct iom_rpc_hdr *h)
{
	enum iom_service_kind kind = iom_server_service_kind(srv, h);

	if (kind == IOM_SERVICE_HEADER || kind == IOM_SERVICE_WAIT)
		return (uint64_t)h->service_us * 1000;
	if (kind == IOM_SERVICE_FILE)
		return 1;	/* not a time: there is work, in a thread that may block */
	return (uint64_t)srv->opts.service_us * 1000;
}

/* Read BS bytes at an offset seeded by the request id: every model reads the same blocks. */
uint64_t iom_server_service_off(const struct iom_server *srv, const struct iom_rpc_hdr *h)
{
	return iom_mix64(h->id) % srv->service_blocks * srv->opts.service_bs;
}

void iom_server_read_done(struct iom_server *srv, ssize_t res)
{
	if (res > 0)
		atomic_fetch_add_explicit(&srv->nr_read_bytes, (uint64_t)res, memory_order_relaxed);
}

static void sv_service_read(struct iom_server *srv, const struct iom_rpc_hdr *h)
{
	uint32_t bs = srv->opts.service_bs;
	uint64_t off = iom_server_service_off(srv, h);
	/* Per call, not per thread: the threads model's threads come and go with connections. */
	unsigned char *buf = malloc(bs);

	if (buf)
		iom_server_read_done(srv, pread(srv->service_fd, buf, bs, (off_t)off));
	free(buf);
}

void iom_server_service_run(struct iom_server *srv, const struct iom_rpc_hdr *h)
{
	enum iom_service_kind kind = iom_server_service_kind(srv, h);
	uint64_t ns = iom_server_service_ns(srv, h), end;

	if (kind == IOM_SERVICE_FILE) {
		sv_service_read(srv, h);
		return;
	}
	if (kind != IOM_SERVICE_CPU) {
		struct timespec ts = iom_ts(ns);

		while (nanosleep(&ts, &ts) && errno == EINTR && !iom_server_stopping())
			;
		return;
	}
	/* Burn CPU: the thread's own clock, so time it is preempted does not count. */
	end = 0;
	for (;;) {
		struct timespec ts;
		uint64_t t;

		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		if (!end)
			end = t + ns;
		if (t >= end)
			break;
	}
}

static void sv_write_counts(const struct iom_server *srv, FILE *f)
{
	fprintf(f, "requests=%llu\nduplicates=%llu\ndeduplicated=%llu\nbad_frames=%llu\n"
		"connections=%llu\nbusy=%llu\ndropped=%llu\nrefused=%llu\nreaped=%llu\n"
		"paused=%llu\naccept_failures=%llu\nread_bytes=%llu\ninflight_max=%llu\n",
		(unsigned long long)srv->nr_requests, (unsigned long long)srv->nr_duplicates,
		(unsigned long long)srv->nr_deduplicated, (unsigned long long)srv->nr_bad,
		(unsigned long long)srv->nr_conns, (unsigned long long)srv->nr_busy,
		(unsigned long long)srv->nr_dropped, (unsigned long long)srv->nr_refused,
		(unsigned long long)srv->nr_reaped, (unsigned long long)srv->nr_paused,
		(unsigned long long)srv->nr_accept_fail,
		(unsigned long long)srv->nr_read_bytes, (unsigned long long)srv->nr_inflight_max);
	iom_async_write_counts(srv, f);
	/* Last: a reader of numbers only stops here. */
	if (srv->variant[0])
		fprintf(f, "variant=%s\n", srv->variant);
}

void iom_server_set_variant(struct iom_server *srv, const char *variant)
{
	snprintf(srv->variant, sizeof(srv->variant), "%s", variant);
	iom_server_log(srv, "%s: %s", srv->model_name, variant);
}

/* Tell whoever started us where we listen (the port 0 case). */
static int sv_report_port(struct iom_server *srv, struct iom_err *err)
{
	const struct iom_server_opts *o = &srv->opts;
	char tmp[PATH_MAX];
	FILE *f;

	if (o->report_fd >= 0)
		dprintf(o->report_fd, "port=%u\n", sv_port(srv));
	if (!o->port_file)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", o->port_file);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%u\n", sv_port(srv)) < 0 || fclose(f) || rename(tmp, o->port_file))
		return iom_err_set(err, -errno, "serve: write %s", o->port_file);
	return 0;
}

/*
 * Said only once every thread's listener is bound: a client that connects on the port earlier
 * would find one SO_REUSEPORT listener, and every early connection would go to one thread.
 */
int iom_server_listening(struct iom_server *srv, struct iom_err *err)
{
	char name[INET6_ADDRSTRLEN + 16];
	int ret = sv_report_port(srv, err);

	if (ret)
		return ret;
	if (srv->opts.unix_path)
		iom_server_log(srv, "%s listening on %s", srv->model_name, srv->opts.unix_path);
	else
		iom_server_log(srv, "%s listening on %s", srv->model_name,
			       sv_name(srv, name, sizeof(name)));
	return 0;
}

static void sv_report_counts(struct iom_server *srv)
{
	const struct iom_server_opts *o = &srv->opts;
	FILE *f;

	if (o->stats_file && (f = fopen(o->stats_file, "w"))) {
		sv_write_counts(srv, f);
		fclose(f);
	}
	if (o->report_fd >= 0 && (f = fdopen(dup(o->report_fd), "w"))) {
		sv_write_counts(srv, f);
		fclose(f);
	}
	iom_server_log(srv, "%llu requests, %llu duplicates, %llu bad frames, %llu connections",
		       (unsigned long long)srv->nr_requests, (unsigned long long)srv->nr_duplicates,
		       (unsigned long long)srv->nr_bad, (unsigned long long)srv->nr_conns);
}

static int sv_open(struct iom_server *srv, struct iom_err *err)
{
	const struct iom_server_opts *o = &srv->opts;
	int ret;

	ret = o->unix_path ? iom_rpc_addr_unix(&srv->addr, o->unix_path, err) :
			     iom_rpc_addr_parse(&srv->addr, o->listen ? o->listen : "127.0.0.1:0",
						err);
	if (ret)
		return ret;
	if (o->unix_path)
		unlink(o->unix_path);
	/* Bound now, so the port is known before any model thread runs. */
	srv->listen_fd = sv_bind(srv, !o->unix_path, err);
	if (srv->listen_fd < 0)
		return srv->listen_fd;
	if (o->cpus_set && sched_setaffinity(0, sizeof(o->cpus), &o->cpus))
		return iom_err_set(err, -errno, "serve: sched_setaffinity");
	return 0;
}

int iom_server_serve(const struct iom_server_model *m, const struct iom_server_opts *opts,
		     struct iom_err *err)
{
	struct iom_server *srv = calloc(1, sizeof(*srv));
	struct sigaction sa = { .sa_handler = sv_on_signal };
	int ret;

	if (!srv)
		return iom_err_set(err, -ENOMEM, "serve");
	/*
	 * A fixed mmap threshold: frames over 128 KiB are mapped and go back to the kernel when
	 * freed. glibc's sliding threshold otherwise rises after the first such free and keeps
	 * a closed connection's 1 MiB frames in the heap (48 of them held 100 MB after close).
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	srv->opts = *opts;
	srv->listen_fd = -1;
	srv->service_fd = -1;
	srv->seen = sv_seen_alloc();
	ret = srv->seen ? m->probe(err) : iom_err_set(err, -ENOMEM, "serve");
	if (!ret)
		ret = sv_service_open(srv, err);
	if (!ret)
		ret = iom_async_init(srv, err);
	if (!ret)
		ret = sv_open(srv, err);
	if (ret)
		goto out;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	srv->model_name = m->name;
	ret = m->run(srv, err);
	sv_report_counts(srv);
out:
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->service_fd >= 0)
		close(srv->service_fd);
	if (opts->unix_path)
		unlink(opts->unix_path);
	iom_async_free(srv);
	if (srv->seen)
		munmap((void *)srv->seen, SV_SEEN_BYTES);
	free(srv);
	return ret;
}
