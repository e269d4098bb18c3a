// SPDX-License-Identifier: MIT
/*
 * iomodels serve: the bundled backend of the rpc workload. It must never be the bottleneck, so it
 * is async inside: N threads, each with its own epoll, its own SO_REUSEPORT listener (TCP) and a
 * min-heap of replies due after their requested service time, armed on one timerfd. A reply
 * echoes the request's header and payload. It counts requests and remembers request ids, so a
 * retried request (same id) is counted as a duplicate. Malformed, oversize, truncated or
 * stalled frames get one log line and the connection closed; everyone else is still served.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/serve.h"
#include "core/model.h"
#include "core/rpc.h"

#define SV_MAX_EVENTS	256
#define SV_TICK_NS	200000000ull	/* how often stalled frames are looked for */
#define SV_SEEN_BITS	22		/* remembered request ids: 4M slots */

struct sv_conn {
	int fd;
	bool closed;
	unsigned int refs;		/* replies still in the heap for this connection */
	unsigned char *in;		/* the frame being read */
	size_t in_len, in_cap;
	uint64_t frame_start_ns;	/* when its first byte came (0 = no partial frame) */
	unsigned char *out;		/* replies not yet written */
	size_t out_len, out_off, out_cap;
	bool want_out;
	struct sv_conn *next_all;	/* the thread's list of connections */
};

struct sv_due {
	uint64_t due_ns;
	struct sv_conn *conn;
	unsigned char *frame;		/* the request: its echo is the reply */
	size_t len;
};

struct sv_thread {
	struct sv_server *srv;
	pthread_t thread;
	int epfd, listen_fd, timer_fd, tick_fd;
	struct sv_due *heap;
	size_t nr_heap, heap_cap;
	uint64_t armed_ns;
	struct sv_conn *conns;
	unsigned int nr_closed;		/* closed connections not yet freed */
};

struct sv_server {
	struct iom_serve_opts opts;
	struct iom_rpc_addr addr;
	int shared_listen_fd;		/* Unix sockets: one listener, EPOLLEXCLUSIVE */
	unsigned int nr_threads;
	struct sv_thread *threads;
	_Atomic uint64_t *seen;		/* request ids seen (open addressing, 0 = empty) */
	_Atomic uint64_t nr_requests, nr_duplicates, nr_deduplicated, nr_bad, nr_conns, nr_busy;
	_Atomic uint64_t nr_dropped;	/* connections dropped by request (--fault drop-conn) */
	_Atomic int in_service;		/* requests accepted and not yet answered */
};

static _Atomic int sv_stop;

static void sv_on_signal(int sig)
{
	(void)sig;
	atomic_store(&sv_stop, 1);
}

static void sv_log(const struct sv_server *srv, const char *fmt, const char *why)
{
	if (!srv->opts.quiet) {
		fprintf(stderr, "serve: ");
		fprintf(stderr, fmt, why);
		fputc('\n', stderr);
	}
}

/* Remember id; true if it was already there (a duplicate). Lock-free, never grows. */
static bool sv_seen(struct sv_server *srv, uint64_t id)
{
	uint64_t key = id + 1, mask = (1ull << SV_SEEN_BITS) - 1;
	uint64_t i = iom_mix64(id) & mask;

	for (unsigned int probe = 0; probe < 64; probe++, i = (i + 1) & mask) {
		uint64_t cur = atomic_load_explicit(&srv->seen[i], memory_order_relaxed);

		if (cur == key)
			return true;
		if (cur == 0 && atomic_compare_exchange_strong(&srv->seen[i], &cur, key))
			return false;
		if (cur == key)
			return true;
	}
	return false;	/* table full around here: stop remembering rather than block */
}

static void heap_swap(struct sv_due *a, struct sv_due *b)
{
	struct sv_due t = *a;

	*a = *b;
	*b = t;
}

static int heap_push(struct sv_thread *th, struct sv_due d)
{
	size_t i;

	if (th->nr_heap == th->heap_cap) {
		size_t cap = th->heap_cap ? 2 * th->heap_cap : 256;
		struct sv_due *h = realloc(th->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		th->heap = h;
		th->heap_cap = cap;
	}
	i = th->nr_heap++;
	th->heap[i] = d;
	while (i && th->heap[(i - 1) / 2].due_ns > th->heap[i].due_ns) {
		heap_swap(&th->heap[(i - 1) / 2], &th->heap[i]);
		i = (i - 1) / 2;
	}
	return 0;
}

static struct sv_due heap_pop(struct sv_thread *th)
{
	struct sv_due top = th->heap[0];
	size_t i = 0;

	th->heap[0] = th->heap[--th->nr_heap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < th->nr_heap && th->heap[l].due_ns < th->heap[m].due_ns)
			m = l;
		if (r < th->nr_heap && th->heap[r].due_ns < th->heap[m].due_ns)
			m = r;
		if (m == i)
			break;
		heap_swap(&th->heap[i], &th->heap[m]);
		i = m;
	}
	return top;
}

static void sv_arm(struct sv_thread *th)
{
	struct itimerspec its = { 0 };

	if (!th->nr_heap || th->heap[0].due_ns == th->armed_ns)
		return;
	th->armed_ns = th->heap[0].due_ns;
	its.it_value = iom_ts(th->armed_ns);
	timerfd_settime(th->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void sv_conn_free(struct sv_thread *th, struct sv_conn *c)
{
	struct sv_conn **pp = &th->conns;

	while (*pp && *pp != c)
		pp = &(*pp)->next_all;
	if (*pp)
		*pp = c->next_all;
	free(c->in);
	free(c->out);
	free(c);
}

/*
 * Closing never frees: the epoll batch being handled may still hold an event for this
 * connection, and replies still due hold it too. sv_sweep() frees closed connections with no
 * reply due, between batches.
 */
static void sv_close(struct sv_thread *th, struct sv_conn *c)
{
	if (c->closed)
		return;
	epoll_ctl(th->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->closed = true;
	th->nr_closed++;
}

static void sv_sweep(struct sv_thread *th)
{
	struct sv_conn *c = th->conns, *next;

	for (; c && th->nr_closed; c = next) {
		next = c->next_all;
		if (c->closed && !c->refs) {
			sv_conn_free(th, c);
			th->nr_closed--;
		}
	}
}

/* Write what is queued; arm EPOLLOUT only after a short write. */
static int sv_flush(struct sv_thread *th, struct sv_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!c->want_out) {
				struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET,
							  .data.ptr = c };

				epoll_ctl(th->epfd, EPOLL_CTL_MOD, c->fd, &ev);
				c->want_out = true;
			}
			return 0;
		}
		if (n <= 0)
			return -1;
		c->out_off += (size_t)n;
	}
	c->out_len = c->out_off = 0;
	return 0;
}

static int sv_queue_reply(struct sv_thread *th, struct sv_conn *c, const unsigned char *frame,
			  size_t len, uint16_t extra_flags)
{
	struct iom_rpc_hdr h;

	/*
	 * --fault drop-conn: the request asked for its connection to be dropped where the answer
	 * would go (its work done, as a server that dies before replying): the caller closes it.
	 */
	memcpy(&h, frame, sizeof(h));
	if (h.flags & IOM_RPC_F_DROP) {
		atomic_fetch_add_explicit(&th->srv->nr_dropped, 1, memory_order_relaxed);
		return -1;
	}
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		unsigned char *p;

		while (cap < c->out_len + len)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p)
			return -1;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, frame, len);
	memcpy(&h, c->out + c->out_len, sizeof(h));
	h.flags |= extra_flags;
	memcpy(c->out + c->out_len, &h, sizeof(h));
	c->out_len += len;
	return sv_flush(th, c);
}

/* A whole frame: answer now (service time 0) or schedule the answer. */
static int sv_request(struct sv_thread *th, struct sv_conn *c, const unsigned char *frame,
		      size_t len)
{
	struct sv_server *srv = th->srv;
	struct iom_rpc_hdr h;
	struct sv_due d;

	memcpy(&h, frame, sizeof(h));
	atomic_fetch_add_explicit(&srv->nr_requests, 1, memory_order_relaxed);
	if (sv_seen(srv, h.id)) {
		/*
		 * A request id seen before. With an idempotency key the work is not done again:
		 * the stored result (here the echo, which is deterministic) goes back at once.
		 * Without one the backend cannot tell a retry from new work: it executes it
		 * again, and that is the duplicate the seed warns about.
		 */
		if (h.flags & IOM_RPC_F_IDEMPOTENT) {
			atomic_fetch_add_explicit(&srv->nr_deduplicated, 1, memory_order_relaxed);
			return sv_queue_reply(th, c, frame, len, 0);
		}
		atomic_fetch_add_explicit(&srv->nr_duplicates, 1, memory_order_relaxed);
	}
	/* Over capacity: answer BUSY at once, this protocol's 429. */
	if (srv->opts.capacity &&
	    atomic_load_explicit(&srv->in_service, memory_order_relaxed) >= (int)srv->opts.capacity) {
		atomic_fetch_add_explicit(&srv->nr_busy, 1, memory_order_relaxed);
		return sv_queue_reply(th, c, frame, len, IOM_RPC_F_BUSY);
	}
	if (!h.service_us)
		return sv_queue_reply(th, c, frame, len, 0);
	d.due_ns = iom_now_ns() + (uint64_t)h.service_us * 1000;
	d.conn = c;
	d.len = len;
	d.frame = malloc(len);
	if (!d.frame)
		return -1;
	memcpy(d.frame, frame, len);
	if (heap_push(th, d)) {
		free(d.frame);
		return -1;
	}
	c->refs++;
	atomic_fetch_add_explicit(&srv->in_service, 1, memory_order_relaxed);
	sv_arm(th);
	return 0;
}

/*
 * Read greedily and answer every whole frame in the buffer. Edge-triggered, so read until
 * EAGAIN: a read that fills less than the room it was given has NOT always drained the socket.
 * Trusting that (the nginx idiom) left connections with data queued (SIOCINQ up to 2 MB) and no
 * further EPOLLIN for seconds, on loopback TCP with a busy CPU, until the frame timeout closed
 * them mid-frame; slower sanitizer builds hit it most. The extra read costs one EAGAIN.
 */
#define SV_READ_ROOM	16384

static void sv_read(struct sv_thread *th, struct sv_conn *c)
{
	struct sv_server *srv = th->srv;

	for (;;) {
		size_t off = 0, need = sizeof(struct iom_rpc_hdr), room;
		char why[96];
		ssize_t n;

		for (;;) {
			if (iom_rpc_frame_need(c->in + off, c->in_len - off, &need, why,
					       sizeof(why))) {
				atomic_fetch_add(&srv->nr_bad, 1);
				sv_log(srv, "closing a connection: %s", why);
				sv_close(th, c);
				return;
			}
			/* need counts the payload once the header is in. */
			if (c->in_len - off < sizeof(struct iom_rpc_hdr) || c->in_len - off < need)
				break;
			if (sv_request(th, c, c->in + off, need)) {
				sv_close(th, c);
				return;
			}
			off += need;
		}
		if (off) {
			memmove(c->in, c->in + off, c->in_len - off);
			c->in_len -= off;
			c->frame_start_ns = c->in_len ? iom_now_ns() : 0;
		}
		if (c->in_cap < need + SV_READ_ROOM) {
			unsigned char *p = realloc(c->in, need + SV_READ_ROOM);

			if (!p) {
				sv_close(th, c);
				return;
			}
			c->in = p;
			c->in_cap = need + SV_READ_ROOM;
		}
		room = c->in_cap - c->in_len;
		n = read(c->fd, c->in + c->in_len, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (c->in_len) {
				atomic_fetch_add(&srv->nr_bad, 1);
				sv_log(srv, "closing a connection: %s",
				       n == 0 ? "peer closed mid-frame" : strerror(errno));
			}
			sv_close(th, c);
			return;
		}
		if (!c->in_len)
			c->frame_start_ns = iom_now_ns();
		c->in_len += (size_t)n;
	}
}

static void sv_accept(struct sv_thread *th, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
		struct sv_conn *c;

		if (fd < 0)
			return;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->next_all = th->conns;
		th->conns = c;
		ev.data.ptr = c;
		epoll_ctl(th->epfd, EPOLL_CTL_ADD, fd, &ev);
		atomic_fetch_add(&th->srv->nr_conns, 1);
		sv_read(th, c);
	}
}

static void sv_due_replies(struct sv_thread *th)
{
	uint64_t now = iom_now_ns(), ticks;

	(void)!read(th->timer_fd, &ticks, sizeof(ticks));
	th->armed_ns = 0;
	while (th->nr_heap && th->heap[0].due_ns <= now) {
		struct sv_due d = heap_pop(th);
		struct sv_conn *c = d.conn;

		atomic_fetch_sub_explicit(&th->srv->in_service, 1, memory_order_relaxed);
		c->refs--;
		if (!c->closed && sv_queue_reply(th, c, d.frame, d.len, 0))
			sv_close(th, c);
		free(d.frame);
	}
	sv_arm(th);
}

/* A frame that stalls (one byte a second) is closed after frame_timeout_ms. */
static void sv_tick(struct sv_thread *th)
{
	uint64_t now = iom_now_ns(), ticks, limit = th->srv->opts.frame_timeout_ms * 1000000ull;
	struct sv_conn *c = th->conns, *next;

	(void)!read(th->tick_fd, &ticks, sizeof(ticks));
	for (; c; c = next) {
		next = c->next_all;
		if (!c->closed && c->frame_start_ns && now - c->frame_start_ns > limit) {
			atomic_fetch_add(&th->srv->nr_bad, 1);
			sv_log(th->srv, "closing a connection: %s", "frame not complete in time");
			sv_close(th, c);
		}
	}
}

static void *sv_thread_main(void *arg)
{
	struct sv_thread *th = arg;
	struct epoll_event evs[SV_MAX_EVENTS];

	prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
	while (!atomic_load(&sv_stop)) {
		struct timespec tmo = { 0, 100000000 };
		int n = epoll_pwait2(th->epfd, evs, SV_MAX_EVENTS, &tmo, NULL);

		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &th->listen_fd)
				sv_accept(th, th->listen_fd);
			else if (p == &th->timer_fd)
				sv_due_replies(th);
			else if (p == &th->tick_fd)
				sv_tick(th);
			else {
				struct sv_conn *c = p;

				if (c->closed)
					continue;	/* closed earlier in this batch */
				if (evs[i].events & EPOLLOUT && sv_flush(th, c)) {
					sv_close(th, c);
					continue;
				}
				if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
					sv_read(th, c);
			}
		}
		if (th->nr_closed)
			sv_sweep(th);
	}
	return NULL;
}

static int sv_listen(struct sv_server *srv, bool reuseport, struct iom_err *err)
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

static int sv_thread_setup(struct sv_server *srv, struct sv_thread *th, struct iom_err *err)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct itimerspec tick = { .it_interval = iom_ts(SV_TICK_NS), .it_value = iom_ts(SV_TICK_NS) };
	bool is_unix = srv->addr.ss.ss_family == AF_UNIX;

	th->srv = srv;
	th->epfd = epoll_create1(EPOLL_CLOEXEC);
	th->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	th->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (th->epfd < 0 || th->timer_fd < 0 || th->tick_fd < 0)
		return iom_err_set(err, -errno, "serve: epoll/timerfd");
	th->listen_fd = is_unix ? srv->shared_listen_fd : sv_listen(srv, true, err);
	if (th->listen_fd < 0)
		return th->listen_fd;
	timerfd_settime(th->tick_fd, 0, &tick, NULL);
	/* A shared listener wakes one thread per connection, not all of them. */
	ev.events = EPOLLIN | (is_unix ? EPOLLEXCLUSIVE : 0);
	ev.data.ptr = &th->listen_fd;
	epoll_ctl(th->epfd, EPOLL_CTL_ADD, th->listen_fd, &ev);
	ev.events = EPOLLIN;
	ev.data.ptr = &th->timer_fd;
	epoll_ctl(th->epfd, EPOLL_CTL_ADD, th->timer_fd, &ev);
	ev.data.ptr = &th->tick_fd;
	epoll_ctl(th->epfd, EPOLL_CTL_ADD, th->tick_fd, &ev);
	return 0;
}

int iom_serve(const struct iom_serve_opts *opts, struct iom_err *err)
{
	struct sv_server *srv = calloc(1, sizeof(*srv));
	struct sigaction sa = { .sa_handler = sv_on_signal };
	int ret = 0;

	if (!srv)
		return iom_err_set(err, -ENOMEM, "serve");
	srv->opts = *opts;
	if (!srv->opts.frame_timeout_ms)
		srv->opts.frame_timeout_ms = 2000;
	srv->nr_threads = opts->threads ? opts->threads : 2;
	srv->threads = calloc(srv->nr_threads, sizeof(*srv->threads));
	srv->seen = calloc(1ull << SV_SEEN_BITS, sizeof(*srv->seen));
	if (!srv->threads || !srv->seen) {
		ret = iom_err_set(err, -ENOMEM, "serve");
		goto out;
	}
	ret = opts->unix_path ? iom_rpc_addr_unix(&srv->addr, opts->unix_path, err) :
				iom_rpc_addr_parse(&srv->addr, opts->listen ? opts->listen :
							       "127.0.0.1:0", err);
	if (ret)
		goto out;
	if (opts->unix_path) {
		unlink(opts->unix_path);
		srv->shared_listen_fd = sv_listen(srv, false, err);
		if (srv->shared_listen_fd < 0) {
			ret = srv->shared_listen_fd;
			goto out;
		}
	}
	if (opts->cpus_set && sched_setaffinity(0, sizeof(opts->cpus), &opts->cpus)) {
		ret = iom_err_set(err, -errno, "serve: sched_setaffinity");
		goto out;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (unsigned int i = 0; i < srv->nr_threads; i++) {
		ret = sv_thread_setup(srv, &srv->threads[i], err);
		if (ret)
			goto out;
	}
	/* Tell whoever started us where we listen (the port 0 case). */
	if (opts->port_file) {
		char tmp[PATH_MAX];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", opts->port_file);
		f = fopen(tmp, "w");
		if (!f || fprintf(f, "%u\n", srv->addr.ss.ss_family == AF_INET6 ?
				  ntohs(((struct sockaddr_in6 *)&srv->addr.ss)->sin6_port) :
				  srv->addr.ss.ss_family == AF_INET ?
				  ntohs(((struct sockaddr_in *)&srv->addr.ss)->sin_port) : 0) < 0 ||
		    fclose(f) || rename(tmp, opts->port_file)) {
			ret = iom_err_set(err, -errno, "serve: write %s", opts->port_file);
			goto out;
		}
	}
	for (unsigned int i = 0; i < srv->nr_threads; i++)
		pthread_create(&srv->threads[i].thread, NULL, sv_thread_main, &srv->threads[i]);
	for (unsigned int i = 0; i < srv->nr_threads; i++)
		pthread_join(srv->threads[i].thread, NULL);
	if (opts->stats_file) {
		FILE *f = fopen(opts->stats_file, "w");

		if (f) {
			fprintf(f, "requests=%llu\nduplicates=%llu\ndeduplicated=%llu\n"
				"bad_frames=%llu\nconnections=%llu\nbusy=%llu\ndropped=%llu\n",
				(unsigned long long)srv->nr_requests,
				(unsigned long long)srv->nr_duplicates,
				(unsigned long long)srv->nr_deduplicated,
				(unsigned long long)srv->nr_bad, (unsigned long long)srv->nr_conns,
				(unsigned long long)srv->nr_busy, (unsigned long long)srv->nr_dropped);
			fclose(f);
		}
	}
	if (!opts->quiet)
		fprintf(stderr, "serve: %llu requests, %llu duplicates, %llu bad frames, %llu "
			"connections\n", (unsigned long long)srv->nr_requests,
			(unsigned long long)srv->nr_duplicates, (unsigned long long)srv->nr_bad,
			(unsigned long long)srv->nr_conns);
out:
	if (srv->threads) {
		for (unsigned int i = 0; i < srv->nr_threads; i++) {
			struct sv_thread *th = &srv->threads[i];

			while (th->conns)
				sv_conn_free(th, th->conns);
			for (size_t k = 0; k < th->nr_heap; k++)
				free(th->heap[k].frame);
			free(th->heap);
		}
	}
	if (opts->unix_path)
		unlink(opts->unix_path);
	free(srv->threads);
	free(srv->seen);
	free(srv);
	return ret;
}
