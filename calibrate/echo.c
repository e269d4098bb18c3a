// SPDX-License-Identifier: MIT
/*
 * Bare echo loops (calibrate/echo.h). Each echoes whatever bytes arrive: with service time 0 an
 * rpc reply is its request, so no framing is needed. Each counts the bytes it echoed and, when
 * it stops, adds its threads' CPU time (CLOCK_THREAD_CPUTIME_ID: under DEFER_TASKRUN the
 * ring's task work runs in the loop's thread and is counted too).
 */
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <poll.h>
#include <sched.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "calibrate/echo.h"
#include "core/err.h"
#include "uring/bufring.h"

#define ECHO_BUF	16384		/* one recv's bytes (blocking, epoll) */
#define ECHO_OUT_CAP	65536		/* unsent bytes a connection may hold */
#define ECHO_MAX_CONNS	4096
#define ECHO_STACK	(128 * 1024)

struct blk_conn {
	int fd;
	pthread_t th;
	struct iom_echo *e;
	struct blk_conn *next;
};

/* Open connections of the epoll and uring loops, freed at stop whatever the client did. */
struct echo_link {
	struct echo_link *prev, *next;
};

static void link_add(struct echo_link *head, struct echo_link *l)
{
	l->next = head->next;
	l->prev = head;
	head->next->prev = l;
	head->next = l;
}

static void link_del(struct echo_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
}

struct iom_echo {
	struct echo_link open;		/* epoll, uring: every open connection */
	enum iom_echo_kind kind;
	int lfd, stop_fd, cpu;
	uint16_t port;
	pthread_t th;
	_Atomic uint64_t bytes, cpu_ns;
	atomic_bool stop;
	char variant[96];
	sem_t ready;			/* uring: the loop's thread made its ring */
	int start_ret;
	pthread_mutex_t lock;		/* blocking: the connection list */
	struct blk_conn *conns;
	unsigned int nr_conns;
};

const char *iom_echo_name(enum iom_echo_kind k)
{
	static const char *const names[IOM_NR_ECHO] = { "blocking", "epoll", "uring" };

	return k < IOM_NR_ECHO ? names[k] : "?";
}

static void echo_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* The calling thread's CPU time goes on the loop's account. */
static void echo_account(struct iom_echo *e, uint64_t bytes)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	atomic_fetch_add(&e->cpu_ns, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
	atomic_fetch_add(&e->bytes, bytes);
}

static int echo_nodelay(int fd)
{
	int one = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---- blocking: a thread per connection ---- */

static bool send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static void *blk_conn_main(void *arg)
{
	struct blk_conn *c = arg;
	char buf[ECHO_BUF];
	uint64_t bytes = 0;
	ssize_t n;

	echo_pin(c->e->cpu);
	while ((n = recv(c->fd, buf, sizeof(buf), 0)) > 0 || (n < 0 && errno == EINTR)) {
		if (n > 0 && !send_all(c->fd, buf, (size_t)n))
			break;
		bytes += n > 0 ? (uint64_t)n : 0;
	}
	/* The peer left: say so at once (the fd itself is closed by the stop, after the join). */
	shutdown(c->fd, SHUT_RDWR);
	echo_account(c->e, bytes);
	return NULL;
}

static void *blk_accept_main(void *arg)
{
	struct iom_echo *e = arg;
	pthread_attr_t attr;

	echo_pin(e->cpu);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, ECHO_STACK);
	for (;;) {
		int fd = accept4(e->lfd, NULL, NULL, SOCK_CLOEXEC);
		struct blk_conn *c;

		if (atomic_load(&e->stop)) {
			if (fd >= 0)
				close(fd);
			break;
		}
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
				usleep(1000);	/* at the fd limit: back off, no spin */
			continue;
		}
		c = e->nr_conns < ECHO_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
		echo_nodelay(fd);
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->e = e;
		if (pthread_create(&c->th, &attr, blk_conn_main, c)) {
			close(fd);
			free(c);
			continue;
		}
		pthread_mutex_lock(&e->lock);
		c->next = e->conns;
		e->conns = c;
		e->nr_conns++;
		pthread_mutex_unlock(&e->lock);
	}
	pthread_attr_destroy(&attr);
	echo_account(e, 0);
	return NULL;
}

static void blk_stop(struct iom_echo *e)
{
	/* shutdown wakes the accept (Linux) and every recv. */
	shutdown(e->lfd, SHUT_RDWR);
	pthread_join(e->th, NULL);
	while (e->conns) {
		struct blk_conn *c = e->conns;

		e->conns = c->next;
		shutdown(c->fd, SHUT_RDWR);
		pthread_join(c->th, NULL);
		close(c->fd);
		free(c);
	}
}

/* ---- epoll: one edge-triggered loop ---- */

struct ep_conn {
	struct echo_link link;		/* first: the list walks links as conns */
	int fd;
	uint32_t out_off, out_len;	/* unsent echo bytes */
	bool read_paused;		/* out is full: read again once it drains */
	char out[ECHO_OUT_CAP];
};

/* Send what is pending; false when the connection failed. */
static bool ep_flush(struct ep_conn *c)
{
	while (c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len, MSG_NOSIGNAL);

		if (w < 0)
			return errno == EAGAIN || errno == EINTR;
		c->out_off += (uint32_t)w;
		c->out_len -= (uint32_t)w;
	}
	c->out_off = 0;
	return true;
}

/* Read until EAGAIN (edge-triggered), echoing as it goes; false: close the connection. */
static bool ep_readable(struct ep_conn *c, uint64_t *bytes)
{
	char buf[ECHO_BUF];

	for (;;) {
		size_t room = ECHO_OUT_CAP - c->out_off - c->out_len;
		ssize_t n;

		if (!room) {
			c->read_paused = true;	/* bounded: the rest waits in the socket */
			return true;
		}
		n = recv(c->fd, buf, room < sizeof(buf) ? room : sizeof(buf), 0);
		if (n == 0)
			return false;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		*bytes += (uint64_t)n;
		memcpy(c->out + c->out_off + c->out_len, buf, (size_t)n);
		c->out_len += (uint32_t)n;
		if (!ep_flush(c))
			return false;
	}
}

static void ep_close(struct ep_conn *c)
{
	link_del(&c->link);
	close(c->fd);	/* also leaves the epoll set */
	free(c);
}

static void ep_accept(struct iom_echo *e, int epfd)
{
	for (;;) {
		int fd = accept4(e->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET };
		struct ep_conn *c;

		if (fd < 0)
			return;	/* EAGAIN, or at the fd limit: the next connection's edge retries */
		c = malloc(sizeof(*c));
		echo_nodelay(fd);
		if (c) {
			c->fd = fd;
			c->out_off = c->out_len = 0;
			c->read_paused = false;
			ev.data.ptr = c;
		}
		if (!c || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
			continue;
		}
		link_add(&e->open, &c->link);
	}
}

static void ep_event(struct ep_conn *c, uint32_t events, uint64_t *bytes)
{
	bool ok = !(events & EPOLLERR);

	if (ok && (events & EPOLLOUT))
		ok = ep_flush(c);
	if (ok && (events & (EPOLLIN | EPOLLRDHUP) || (c->read_paused && !c->out_len))) {
		c->read_paused = false;
		ok = ep_readable(c, bytes);
	}
	if (!ok)
		ep_close(c);
}

static void *ep_main(void *arg)
{
	struct iom_echo *e = arg;
	struct epoll_event evs[64], ev = { .events = EPOLLIN | EPOLLET };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	uint64_t bytes = 0;
	bool stop = false;

	echo_pin(e->cpu);
	ev.data.ptr = &e->lfd;
	epoll_ctl(epfd, EPOLL_CTL_ADD, e->lfd, &ev);
	ev.data.ptr = &e->stop_fd;
	epoll_ctl(epfd, EPOLL_CTL_ADD, e->stop_fd, &ev);
	while (!stop) {
		int n = epoll_wait(epfd, evs, 64, -1);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &e->lfd)
				ep_accept(e, epfd);
			else if (evs[i].data.ptr == &e->stop_fd)
				stop = true;
			else
				ep_event(evs[i].data.ptr, evs[i].events, &bytes);
		}
	}
	while (e->open.next != &e->open)
		ep_close((struct ep_conn *)e->open.next);
	close(epfd);
	echo_account(e, bytes);
	return NULL;
}

/* ---- io_uring: one ring, multishot accept and recv, a buffer ring, sends batched per loop ---- */

#define UL_BGID		1
#define UL_NR_BUFS	1024		/* more than the connections calibrate loads it with */
#define UL_BUF_SIZE	2048
#define UL_UD_ACCEPT	1ull		/* user_data: the multishot accept */
#define UL_UD_STOP	2ull		/* the poll on the stop eventfd */
#define UL_OP_RECV	1ull		/* or'ed into a connection's address */
#define UL_OP_SEND	2ull

struct ul_conn {
	struct echo_link link;		/* first: the list walks links as conns */
	int fd;
	bool recv_armed, send_busy;	/* an op in the kernel holds the connection */
	bool dirty, dead;
	uint32_t out_len;		/* echo bytes received and not yet sent */
	struct ul_conn *next_dirty;
	char out[ECHO_OUT_CAP];		/* a send in flight reads out[0..), recvs append */
};

struct ul_loop {
	struct io_uring ring;
	struct ur_bufring bufs;
	struct iom_echo *e;
	struct ul_conn *dirty;		/* connections with bytes to send this loop */
	uint64_t bytes;
	bool stop;
};

/* An SQE, submitting what is queued when the SQ is full. */
static struct io_uring_sqe *ul_sqe(struct ul_loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (!sqe && io_uring_submit(&l->ring) >= 0)
		sqe = io_uring_get_sqe(&l->ring);
	return sqe;
}

static void ul_arm_accept(struct ul_loop *l)
{
	struct io_uring_sqe *sqe = ul_sqe(l);

	if (!sqe)
		return;
	io_uring_prep_multishot_accept(sqe, l->e->lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, UL_UD_ACCEPT);
}

static bool ul_arm_recv(struct ul_loop *l, struct ul_conn *c)
{
	struct io_uring_sqe *sqe = ul_sqe(l);

	if (!sqe)
		return false;
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = UL_BGID;
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | UL_OP_RECV);
	c->recv_armed = true;
	return true;
}

static void ul_mark_dirty(struct ul_loop *l, struct ul_conn *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->next_dirty = l->dirty;
	l->dirty = c;
}

/*
 * Done with a connection: shutdown ends its multishot recv (a last CQE, F_MORE clear); the
 * memory goes once no op in the kernel and no dirty-list entry points at it.
 */
static void ul_kill(struct ul_loop *l, struct ul_conn *c)
{
	if (!c->dead)
		shutdown(c->fd, SHUT_RDWR);
	c->dead = true;
	if (c->recv_armed || c->send_busy || c->dirty)
		return;
	link_del(&c->link);
	close(c->fd);
	free(c);
}

static void ul_accepted(struct ul_loop *l, const struct io_uring_cqe *cqe)
{
	struct ul_conn *c;

	if (!(cqe->flags & IORING_CQE_F_MORE) && !l->stop)
		ul_arm_accept(l);	/* the multishot ended (an error): take the next one */
	if (cqe->res >= 0 && l->stop)
		close(cqe->res);	/* stopping: take no one new */
	if (cqe->res < 0 || l->stop)
		return;
	c = malloc(sizeof(*c));
	if (!c) {
		close(cqe->res);
		return;
	}
	memset(c, 0, offsetof(struct ul_conn, out));
	c->fd = cqe->res;
	echo_nodelay(c->fd);
	link_add(&l->e->open, &c->link);
	if (!ul_arm_recv(l, c))
		ul_kill(l, c);
}

static void ul_received(struct ul_loop *l, struct ul_conn *c, const struct io_uring_cqe *cqe)
{
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		/* Copied out and handed back at once: the ring never starves on a slow send. */
		if (cqe->res > 0 && c->out_len + (uint32_t)cqe->res <= ECHO_OUT_CAP) {
			memcpy(c->out + c->out_len, ur_bufring_buf(&l->bufs, bid), (size_t)cqe->res);
			c->out_len += (uint32_t)cqe->res;
			l->bytes += (uint64_t)cqe->res;
			ul_mark_dirty(l, c);
		} else if (cqe->res > 0) {
			ul_kill(l, c);	/* past the cap: this bare loop drops a client that floods */
		}
		ur_bufring_return(&l->bufs, bid);
	}
	if (cqe->flags & IORING_CQE_F_MORE)
		return;
	/* The multishot ended: re-arm unless the peer closed or the connection failed. */
	c->recv_armed = false;
	if (c->dead || (cqe->res <= 0 && cqe->res != -ENOBUFS) || !ul_arm_recv(l, c))
		ul_kill(l, c);
}

static void ul_sent(struct ul_loop *l, struct ul_conn *c, int res)
{
	c->send_busy = false;
	if (res < 0) {
		ul_kill(l, c);
		return;
	}
	c->out_len -= (uint32_t)res;
	memmove(c->out, c->out + res, c->out_len);
	if (c->out_len)
		ul_mark_dirty(l, c);
	else if (c->dead)
		ul_kill(l, c);
}

/* One send per connection with bytes waiting: every reply of the loop's batch in one enter. */
static void ul_flush(struct ul_loop *l)
{
	struct ul_conn *c;

	while ((c = l->dirty)) {
		struct io_uring_sqe *sqe;

		l->dirty = c->next_dirty;
		c->dirty = false;
		if (c->dead) {
			ul_kill(l, c);
			continue;
		}
		if (c->send_busy || !c->out_len)
			continue;	/* its send's CQE marks it again */
		sqe = ul_sqe(l);
		if (!sqe) {
			ul_kill(l, c);
			continue;
		}
		io_uring_prep_send(sqe, c->fd, c->out, c->out_len, MSG_NOSIGNAL);
		io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | UL_OP_SEND);
		c->send_busy = true;
	}
}

static void ul_cqe(struct ul_loop *l, const struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	struct ul_conn *c = (struct ul_conn *)(uintptr_t)(ud & ~3ull);

	if (ud == UL_UD_ACCEPT)
		ul_accepted(l, cqe);
	else if (ud == UL_UD_STOP)
		l->stop = true;
	else if (ud & UL_OP_RECV)
		ul_received(l, c, cqe);
	else
		ul_sent(l, c, cqe->res);
}

/* The ring is made in the loop's thread: SINGLE_ISSUER binds it to its creator. */
static int ul_setup(struct ul_loop *l, struct iom_echo *e)
{
	struct io_uring_params p = { 0 };
	struct io_uring_sqe *sqe;
	bool defer = true;
	int ret;

	l->e = e;
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
		  IORING_SETUP_DEFER_TASKRUN;
	p.cq_entries = 8192;
	ret = io_uring_queue_init_params(1024, &l->ring, &p);
	if (ret == -EINVAL) {
		defer = false;
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = 8192;
		ret = io_uring_queue_init_params(1024, &l->ring, &p);
	}
	if (ret < 0)
		return ret;
	ret = ur_bufring_setup(&l->ring, &l->bufs, UL_BGID, UL_NR_BUFS, UL_BUF_SIZE);
	if (ret < 0) {
		io_uring_queue_exit(&l->ring);
		return ret;
	}
	snprintf(e->variant, sizeof(e->variant), "%s%smultishot_accept+multishot_recv+bufring",
		 defer ? "single_issuer+defer_taskrun+" : "",
		 io_uring_register_ring_fd(&l->ring) == 1 ? "regring+" : "");
	ul_arm_accept(l);
	sqe = ul_sqe(l);
	io_uring_prep_poll_add(sqe, e->stop_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, UL_UD_STOP);
	return 0;
}

/* Reap what is ready (waiting up to wait_ns for one CQE), after sending what is batched. */
static int ul_turn(struct ul_loop *l, uint64_t wait_ns)
{
	struct __kernel_timespec ts = { .tv_nsec = (long long)wait_ns };
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;
	int ret;

	ul_flush(l);
	ur_bufring_publish(&l->bufs);
	ret = wait_ns ? io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL) :
			io_uring_submit_and_wait(&l->ring, 1);
	if (ret < 0 && ret != -EINTR && ret != -ETIME)
		return ret;
	io_uring_for_each_cqe(&l->ring, head, cqe) {
		ul_cqe(l, cqe);
		n++;
	}
	io_uring_cq_advance(&l->ring, n);
	return 0;
}

/*
 * Shut every connection and reap until no op holds one (bounded): only then may the provided
 * buffers go, as a recv still in the kernel would write into them.
 */
static void ul_drain(struct ul_loop *l)
{
	struct echo_link *head = &l->e->open;

	for (struct echo_link *p = head->next, *next; p != head; p = next) {
		next = p->next;
		ul_kill(l, (struct ul_conn *)p);
	}
	for (int i = 0; i < 100 && head->next != head; i++)
		if (ul_turn(l, 10000000))
			break;
}

static void *ul_main(void *arg)
{
	struct iom_echo *e = arg;
	struct ul_loop l = { 0 };

	echo_pin(e->cpu);
	e->start_ret = ul_setup(&l, e);
	sem_post(&e->ready);
	if (e->start_ret)
		return NULL;
	while (!l.stop)
		if (ul_turn(&l, 0))
			break;
	l.stop = true;
	ul_drain(&l);
	ur_bufring_free(&l.ring, &l.bufs);
	io_uring_queue_exit(&l.ring);
	while (e->open.next != &e->open) {
		struct ul_conn *c = (struct ul_conn *)e->open.next;

		link_del(&c->link);
		close(c->fd);
		free(c);
	}
	echo_account(e, l.bytes);
	return NULL;
}

/* ---- start and stop ---- */

static int echo_listen(struct iom_echo *e, struct iom_err *err)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	int one = 1, type = SOCK_STREAM | SOCK_CLOEXEC;

	if (e->kind == IOM_ECHO_EPOLL)
		type |= SOCK_NONBLOCK;
	e->lfd = socket(AF_INET, type, 0);
	if (e->lfd < 0)
		return iom_err_set(err, -errno, "echo: socket");
	setsockopt(e->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(e->lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(e->lfd, 4096) ||
	    getsockname(e->lfd, (struct sockaddr *)&addr, &alen))
		return iom_err_set(err, -errno, "echo: listen on 127.0.0.1");
	e->port = ntohs(addr.sin_port);
	return 0;
}

int iom_echo_start(enum iom_echo_kind k, int cpu, struct iom_echo **out, struct iom_err *err)
{
	static void *(*const mains[IOM_NR_ECHO])(void *) = { blk_accept_main, ep_main, ul_main };
	struct iom_echo *e = calloc(1, sizeof(*e));
	int ret;

	*out = NULL;
	if (!e || k >= IOM_NR_ECHO) {
		free(e);
		return iom_err_set(err, -EINVAL, "echo: kind %d", (int)k);
	}
	e->kind = k;
	e->cpu = cpu;
	e->lfd = e->stop_fd = -1;
	e->open.next = e->open.prev = &e->open;
	pthread_mutex_init(&e->lock, NULL);
	sem_init(&e->ready, 0, 0);
	ret = echo_listen(e, err);
	if (!ret) {
		e->stop_fd = eventfd(0, EFD_CLOEXEC);
		if (e->stop_fd < 0)
			ret = iom_err_set(err, -errno, "echo: eventfd");
	}
	if (!ret && (ret = -pthread_create(&e->th, NULL, mains[k], e)))
		iom_err_set(err, ret, "echo: pthread_create");
	else if (!ret && k == IOM_ECHO_URING) {
		sem_wait(&e->ready);
		ret = e->start_ret;
		if (ret) {
			pthread_join(e->th, NULL);
			iom_err_set(err, ret, "echo: io_uring ring with a buffer ring");
		}
	}
	if (ret) {
		if (e->lfd >= 0)
			close(e->lfd);
		if (e->stop_fd >= 0)
			close(e->stop_fd);
		sem_destroy(&e->ready);
		pthread_mutex_destroy(&e->lock);
		free(e);
		return ret;
	}
	*out = e;
	return 0;
}

uint16_t iom_echo_port(const struct iom_echo *e)
{
	return e->port;
}

const char *iom_echo_variant(const struct iom_echo *e)
{
	return e->variant;
}

void iom_echo_stop(struct iom_echo *e, uint64_t *bytes, uint64_t *cpu_ns)
{
	uint64_t one = 1;

	atomic_store(&e->stop, true);
	if (e->kind == IOM_ECHO_BLOCKING) {
		blk_stop(e);
	} else {
		(void)!write(e->stop_fd, &one, sizeof(one));
		pthread_join(e->th, NULL);
	}
	*bytes = atomic_load(&e->bytes);
	*cpu_ns = atomic_load(&e->cpu_ns);
	close(e->lfd);
	close(e->stop_fd);
	sem_destroy(&e->ready);
	pthread_mutex_destroy(&e->lock);
	free(e);
}
