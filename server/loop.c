// SPDX-License-Identifier: MIT
/*
 * The event loop of the epoll server model, and the I/O thread of kernel_free's: N threads,
 * each with its own epoll, its own SO_REUSEPORT listener (TCP) and a min-heap of replies due
 * after their service time, armed on one timerfd; sockets edge-triggered, read until EAGAIN.
 * With a pool (kernel_free), requests go to the pool's workers instead, and come back on its
 * eventfd. Buffering and caps are server/conn.c's: a connection over its caps is not read
 * until its replies drain, and its requests in service are freed the moment it closes.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/epwait.h"
#include "core/model.h"
#include "server/server.h"

#define EP_MAX_EVENTS	256
#define EP_TICK_NS	100000000ull	/* how often stalled and idle connections are looked for */

struct ep_conn {
	int fd;
	bool closed;
	bool paused;			/* reading stopped at the caps */
	bool want_out;			/* EPOLLOUT armed */
	struct ep_req *reqs;		/* its requests in service */
	struct iom_sconn io;
	struct ep_conn *next_all;	/* the thread's list of connections */
};

/* A request in service: in the heap until due, or with the pool's workers. */
struct ep_req {
	uint64_t due_ns;
	struct ep_conn *conn;		/* NULL once its connection closed (pooled ones) */
	struct ep_req *prev, *next;	/* in conn->reqs */
	unsigned char *frame;		/* the request: its echo is the reply */
	size_t len;
	bool pooled;
};

struct ep_thread {
	struct iom_server *srv;
	struct iom_loop_pool *pool;	/* or NULL: the timer heap serves */
	pthread_t thread;
	int epfd, listen_fd, timer_fd, tick_fd;
	bool pwait2;			/* epoll_pwait2, or epoll_pwait (before 5.11) */
	bool accept_paused;		/* listener out of the epoll set (out of fds) */
	bool pool_kick;			/* submitted to the pool since the last kick */
	uint64_t accept_resume_ns;
	struct ep_req **heap;
	size_t nr_heap, heap_cap;
	uint64_t armed_ns;
	/*
	 * When this batch of events came: the idle and frame-timeout clocks (seconds) read it,
	 * so a request costs no clock read. Two a request were ~1% of the loop's CPU (perf).
	 */
	uint64_t now_ns;
	struct ep_conn *conns;
	unsigned int nr_closed;		/* closed connections not yet freed */
};

static bool due_before(const struct ep_req *a, const struct ep_req *b)
{
	return a->due_ns < b->due_ns;
}

static void heap_down(struct ep_thread *th, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct ep_req *t;

		if (l < th->nr_heap && due_before(th->heap[l], th->heap[m]))
			m = l;
		if (r < th->nr_heap && due_before(th->heap[r], th->heap[m]))
			m = r;
		if (m == i)
			return;
		t = th->heap[i];
		th->heap[i] = th->heap[m];
		th->heap[m] = t;
		i = m;
	}
}

static int heap_push(struct ep_thread *th, struct ep_req *d)
{
	size_t i;

	if (th->nr_heap == th->heap_cap) {
		size_t cap = th->heap_cap ? 2 * th->heap_cap : 256;
		struct ep_req **h = realloc(th->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		th->heap = h;
		th->heap_cap = cap;
	}
	i = th->nr_heap++;
	th->heap[i] = d;
	while (i && due_before(th->heap[i], th->heap[(i - 1) / 2])) {
		struct ep_req *t = th->heap[i];

		th->heap[i] = th->heap[(i - 1) / 2];
		th->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
	return 0;
}

static struct ep_req *heap_pop(struct ep_thread *th)
{
	struct ep_req *top = th->heap[0];

	th->heap[0] = th->heap[--th->nr_heap];
	heap_down(th, 0);
	return top;
}

static void ep_arm(struct ep_thread *th)
{
	struct itimerspec its = { 0 };

	if (!th->nr_heap || th->heap[0]->due_ns == th->armed_ns)
		return;
	th->armed_ns = th->heap[0]->due_ns;
	its.it_value = iom_ts(th->armed_ns);
	timerfd_settime(th->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void ep_req_link(struct iom_server *srv, struct ep_conn *c, struct ep_req *r)
{
	r->conn = c;
	r->prev = NULL;
	r->next = c->reqs;
	if (c->reqs)
		c->reqs->prev = r;
	c->reqs = r;
	iom_sconn_hold(srv, &c->io, r->len);
}

static void ep_req_unlink(struct ep_req *r)
{
	struct ep_conn *c = r->conn;

	if (r->prev)
		r->prev->next = r->next;
	else
		c->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	iom_sconn_release(&c->io, r->len);
}

static void ep_req_free(struct ep_req *r)
{
	free(r->frame);
	free(r);
}

void iom_loop_req_free(void *req)
{
	ep_req_free(req);
}

/*
 * A closed connection's requests in service: freed now, not when they fall due (up to 60 s).
 * The pool's workers still hold theirs: those lose their frame now, the rest when they return.
 */
static void ep_drop_reqs(struct ep_thread *th, struct ep_conn *c)
{
	size_t kept = 0;
	bool in_heap = false;

	for (struct ep_req *r = c->reqs, *next; r; r = next) {
		next = r->next;
		iom_server_served(th->srv);
		r->conn = NULL;
		if (r->pooled) {
			free(r->frame);
			r->frame = NULL;
		}
		in_heap |= !r->pooled;
	}
	c->reqs = NULL;
	if (!in_heap)
		return;
	for (size_t i = 0; i < th->nr_heap; i++) {
		if (th->heap[i]->conn)
			th->heap[kept++] = th->heap[i];
		else
			ep_req_free(th->heap[i]);
	}
	th->nr_heap = kept;
	for (size_t i = kept / 2; i-- > 0;)
		heap_down(th, i);
	th->armed_ns = 0;
	ep_arm(th);
}

static void ep_listen_resume(struct ep_thread *th)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &th->listen_fd };

	if (!th->accept_paused)
		return;
	th->accept_paused = false;
	/* Level-triggered: a connection left in the backlog reports at once. */
	if (th->srv->addr.ss.ss_family == AF_UNIX)
		ev.events |= EPOLLEXCLUSIVE;
	epoll_ctl(th->epfd, EPOLL_CTL_ADD, th->listen_fd, &ev);
}

/*
 * Closing never frees: the epoll batch being handled may still hold an event for this
 * connection. ep_sweep() frees closed connections between batches.
 */
static void ep_close(struct ep_thread *th, struct ep_conn *c)
{
	if (c->closed)
		return;
	epoll_ctl(th->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->closed = true;
	th->nr_closed++;
	if (c->reqs)
		ep_drop_reqs(th, c);
	iom_sconn_free(&c->io);
	iom_server_conn_closed(th->srv);
	ep_listen_resume(th);	/* an fd came free */
}

static void ep_sweep(struct ep_thread *th)
{
	struct ep_conn **pp = &th->conns;

	while (*pp && th->nr_closed) {
		struct ep_conn *c = *pp;

		if (c->closed) {
			*pp = c->next_all;
			free(c);
			th->nr_closed--;
		} else {
			pp = &c->next_all;
		}
	}
}

/* Write what is queued; arm EPOLLOUT only after a short write. */
static int ep_flush(struct ep_thread *th, struct ep_conn *c)
{
	while (iom_sconn_unsent(&c->io)) {
		ssize_t n = write(c->fd, c->io.out + c->io.out_off, iom_sconn_unsent(&c->io));

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
		iom_sconn_sent(&c->io, (size_t)n, th->now_ns);
	}
	return 0;
}

static int ep_reply(struct ep_thread *th, struct ep_conn *c, const unsigned char *frame,
		    size_t len, uint16_t flags)
{
	if (iom_server_reply(th->srv, &c->io, frame, len, flags))
		return -1;
	return ep_flush(th, c);
}

/* A whole frame: answer now, hand it to the pool, or schedule the answer after its service. */
static int ep_request(struct ep_thread *th, struct ep_conn *c, const unsigned char *frame,
		      size_t len)
{
	struct iom_server *srv = th->srv;
	enum iom_service_kind kind;
	struct iom_rpc_hdr h;
	struct ep_req *r;
	uint16_t flags;

	if (iom_server_admit(srv, frame, &h, &flags) == IOM_ADMIT_REPLY)
		return ep_reply(th, c, frame, len, flags);
	kind = iom_server_service_kind(srv, &h);
	if (!th->pool && kind == IOM_SERVICE_CPU) {
		/* CPU work runs in the loop's thread: the loop's own cost, as in a plain server. */
		iom_server_service_run(srv, &h);
		iom_server_served(srv);
		return ep_reply(th, c, frame, len, 0);
	}
	r = calloc(1, sizeof(*r));
	if (r)
		r->frame = malloc(len);
	if (!r || !r->frame) {
		free(r);
		iom_server_served(srv);
		return -1;
	}
	memcpy(r->frame, frame, len);
	r->len = len;
	/* An async WAIT is a wait, never work: the timer heap, even with a pool. */
	r->pooled = th->pool && kind != IOM_SERVICE_WAIT;
	if (r->pooled) {
		if (th->pool->submit(th->pool, r, &h)) {
			/* The pool is full: this protocol's 429, as --capacity answers. */
			ep_req_free(r);
			iom_server_served(srv);
			atomic_fetch_add_explicit(&srv->nr_busy, 1, memory_order_relaxed);
			return ep_reply(th, c, frame, len, IOM_RPC_F_BUSY);
		}
		th->pool_kick = true;
	} else {
		r->due_ns = iom_now_ns() + iom_server_service_ns(srv, &h);
		if (heap_push(th, r)) {
			ep_req_free(r);
			iom_server_served(srv);
			return -1;
		}
		ep_arm(th);
	}
	ep_req_link(srv, c, r);
	return 0;
}

/* The peer sent FIN: a partial frame is an error; otherwise answer what is due, then close. */
static void ep_peer_eof(struct ep_thread *th, struct ep_conn *c, int e)
{
	if (e || c->io.in_len > c->io.in_off) {
		atomic_fetch_add(&th->srv->nr_bad, 1);
		iom_server_log(th->srv, "closing a connection: %s",
			       e ? strerror(e) : "peer closed mid-frame");
		ep_close(th, c);
		return;
	}
	c->io.eof = true;
	if (iom_sconn_finished(&c->io))
		ep_close(th, c);
}

/*
 * Answer every whole frame, then read greedily until EAGAIN or the caps. Edge-triggered, so
 * read until EAGAIN: a read that fills less than the room it was given has NOT always drained
 * the socket. Trusting that (the nginx idiom) left connections with data queued (SIOCINQ up
 * to 2 MB) and no further EPOLLIN for seconds, on loopback TCP with a busy CPU, until the
 * frame timeout closed them mid-frame. The extra read costs one EAGAIN.
 */
static void ep_read(struct ep_thread *th, struct ep_conn *c)
{
	for (;;) {
		const unsigned char *frame;
		unsigned char *room;
		size_t len;
		ssize_t n;
		int r;

		while ((r = iom_sconn_next(th->srv, &c->io, &frame, &len)) == 1) {
			if (ep_request(th, c, frame, len)) {
				ep_close(th, c);
				return;
			}
		}
		if (r < 0) {
			ep_close(th, c);
			return;
		}
		n = iom_sconn_room(th->srv, &c->io, &room);
		if (n <= 0) {
			if (n < 0)
				ep_close(th, c);
			else if (!c->io.eof && !c->paused) {
				c->paused = true;
				atomic_fetch_add(&th->srv->nr_paused, 1);
			}
			return;
		}
		c->paused = false;
		n = read(c->fd, room, (size_t)n);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			ep_peer_eof(th, c, n < 0 ? errno : 0);
			return;
		}
		iom_sconn_received(&c->io, (size_t)n, th->now_ns);
	}
}

/* Replies went out: a paused connection reads again; a half-closed one may be finished. */
static void ep_after_write(struct ep_thread *th, struct ep_conn *c)
{
	if (c->closed)
		return;
	if (iom_sconn_finished(&c->io))
		ep_close(th, c);
	else if (c->paused)
		ep_read(th, c);
}

static void ep_accept(struct ep_thread *th)
{
	struct iom_server *srv = th->srv;

	while (!th->accept_paused) {
		int fd = accept4(th->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
		struct ep_conn *c;
		uint64_t pause;

		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			pause = iom_server_accept_failed(srv, errno);
			if (pause) {
				epoll_ctl(th->epfd, EPOLL_CTL_DEL, th->listen_fd, NULL);
				th->accept_paused = true;
				th->accept_resume_ns = iom_now_ns() + pause;
			}
			continue;
		}
		if (!iom_server_conn_open(srv)) {
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			iom_server_conn_closed(srv);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		c->io.last_ns = th->now_ns;
		c->next_all = th->conns;
		th->conns = c;
		ev.data.ptr = c;
		epoll_ctl(th->epfd, EPOLL_CTL_ADD, fd, &ev);
		ep_read(th, c);
	}
}

/* A request's service is over: its reply goes out (if its connection is still there). */
static void ep_served(struct ep_thread *th, struct ep_req *r)
{
	struct ep_conn *c = r->conn;

	if (c) {
		iom_server_served(th->srv);
		ep_req_unlink(r);
		if (ep_reply(th, c, r->frame, r->len, 0))
			ep_close(th, c);
		else
			ep_after_write(th, c);
	}
	ep_req_free(r);
}

static void ep_due_replies(struct ep_thread *th)
{
	uint64_t now = iom_now_ns(), ticks;

	(void)!read(th->timer_fd, &ticks, sizeof(ticks));
	th->armed_ns = 0;
	while (th->nr_heap && th->heap[0]->due_ns <= now)
		ep_served(th, heap_pop(th));
	ep_arm(th);
}

static void ep_pool_replies(struct ep_thread *th)
{
	unsigned int n;
	void **done = th->pool->reap(th->pool, &n);

	for (unsigned int i = 0; i < n; i++)
		ep_served(th, done[i]);
}

/* Stalled frames (a byte a second) and idle connections are closed; paused accepts resume. */
static void ep_tick(struct ep_thread *th)
{
	uint64_t now = iom_now_ns(), ticks;

	(void)!read(th->tick_fd, &ticks, sizeof(ticks));
	for (struct ep_conn *c = th->conns; c; c = c->next_all) {
		const char *why = c->closed ? NULL : iom_sconn_expired(th->srv, &c->io, now);

		if (!why)
			continue;
		if (!strcmp(why, "idle"))
			atomic_fetch_add(&th->srv->nr_reaped, 1);
		else
			atomic_fetch_add(&th->srv->nr_bad, 1);
		iom_server_log(th->srv, "closing a connection: %s", why);
		ep_close(th, c);
	}
	if (th->accept_paused && now >= th->accept_resume_ns)
		ep_listen_resume(th);
}

static void ep_conn_event(struct ep_thread *th, struct ep_conn *c, uint32_t events)
{
	if (c->closed)
		return;	/* closed earlier in this batch */
	/*
	 * Reset, or shut both ways: nobody will read a reply. Close now, even when reading is
	 * paused at the caps, so its requests in service are freed at once. A FIN alone (no
	 * HUP) is a half-close: that client still gets its replies.
	 */
	if (events & (EPOLLHUP | EPOLLERR)) {
		ep_close(th, c);
		return;
	}
	if (events & EPOLLOUT) {
		if (ep_flush(th, c)) {
			ep_close(th, c);
			return;
		}
		ep_after_write(th, c);
	}
	if (!c->closed && events & EPOLLIN)
		ep_read(th, c);
}

static void *ep_thread_main(void *arg)
{
	struct ep_thread *th = arg;
	struct epoll_event evs[EP_MAX_EVENTS];

	prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
	while (!iom_server_stopping()) {
		struct timespec tmo = { 0, 100000000 };
		int n = epoll_pwait2(th->epfd, evs, EP_MAX_EVENTS, &tmo, NULL);

		th->now_ns = iom_now_ns();

		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &th->listen_fd)
				ep_accept(th);
			else if (p == &th->timer_fd)
				ep_due_replies(th);
			else if (p == &th->tick_fd)
				ep_tick(th);
			else if (p == th->pool)
				ep_pool_replies(th);
			else
				ep_conn_event(th, p, evs[i].events);
		}
		if (th->pool_kick) {
			th->pool_kick = false;
			th->pool->kick(th->pool);	/* one wake-up per batch of requests */
		}
		if (th->nr_closed)
			ep_sweep(th);
	}
	return NULL;
}

static int ep_thread_setup(struct iom_server *srv, struct ep_thread *th, unsigned int i,
			   struct iom_err *err)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct itimerspec tick = { .it_interval = iom_ts(EP_TICK_NS), .it_value = iom_ts(EP_TICK_NS) };

	th->srv = srv;
	th->listen_fd = th->timer_fd = th->tick_fd = -1;
	th->epfd = epoll_create1(EPOLL_CLOEXEC);
	th->pwait2 = th->epfd >= 0 && iom_epoll_pwait2_ok(th->epfd);
	th->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	th->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (th->epfd < 0 || th->timer_fd < 0 || th->tick_fd < 0)
		return iom_err_set(err, -errno, "serve: epoll/timerfd");
	th->listen_fd = iom_server_listener(srv, i, err);
	if (th->listen_fd < 0)
		return th->listen_fd;
	timerfd_settime(th->tick_fd, 0, &tick, NULL);
	th->accept_paused = true;
	ep_listen_resume(th);
	ev.data.ptr = &th->timer_fd;
	epoll_ctl(th->epfd, EPOLL_CTL_ADD, th->timer_fd, &ev);
	ev.data.ptr = &th->tick_fd;
	epoll_ctl(th->epfd, EPOLL_CTL_ADD, th->tick_fd, &ev);
	if (th->pool) {
		ev.data.ptr = th->pool;
		epoll_ctl(th->epfd, EPOLL_CTL_ADD, th->pool->done_fd, &ev);
	}
	return 0;
}

static void ep_thread_free(struct ep_thread *th)
{
	while (th->conns) {
		struct ep_conn *c = th->conns;

		th->conns = c->next_all;
		if (!c->closed) {
			close(c->fd);
			iom_sconn_free(&c->io);
			for (struct ep_req *r = c->reqs, *next; r; r = next) {
				next = r->next;
				if (!r->pooled)
					continue;	/* freed with the heap */
				free(r->frame);
				r->frame = NULL;
				r->conn = NULL;	/* the pool frees it */
			}
		}
		free(c);
	}
	for (size_t k = 0; k < th->nr_heap; k++)
		ep_req_free(th->heap[k]);
	free(th->heap);
	if (!th->srv)
		return;	/* never set up */
	for (size_t k = 0; k < 4; k++) {
		int fd = (int[]){ th->epfd, th->listen_fd, th->timer_fd, th->tick_fd }[k];

		if (fd >= 0)
			close(fd);
	}
}

int iom_loop_run(struct iom_server *srv, unsigned int nr, struct iom_loop_pool **pools,
		 struct iom_err *err)
{
	struct ep_thread *threads = calloc(nr, sizeof(*threads));
	unsigned int started = 0;
	int ret = threads ? 0 : iom_err_set(err, -ENOMEM, "serve");

	for (unsigned int i = 0; !ret && i < nr; i++) {
		threads[i].pool = pools ? pools[i] : NULL;
		ret = ep_thread_setup(srv, &threads[i], i, err);
	}
	if (!ret)
		ret = iom_server_listening(srv, err);
	for (; !ret && started < nr; started++) {
		ret = -pthread_create(&threads[started].thread, NULL, ep_thread_main,
				      &threads[started]);
		if (ret)
			iom_err_set(err, ret, "serve: pthread_create");
	}
	if (ret)
		iom_server_stop();	/* the started threads see it */
	for (unsigned int i = 0; i < started; i++)
		pthread_join(threads[i].thread, NULL);
	for (unsigned int i = 0; threads && i < nr; i++)
		ep_thread_free(&threads[i]);
	free(threads);
	return ret;
}
