// SPDX-License-Identifier: MIT
/*
 * The threads server model: one acceptor, a thread per connection, blocking recv/send (the
 * classic pre-fork/thread-per-client server). Each connection thread reads a frame, serves it
 * in place (a blocking wait or CPU burn), writes the reply and reads the next: a client that
 * never reads blocks its thread in send, so nothing more is read from it and its memory stays
 * one frame. Stacks are bounded (TH_STACK); --max-conns bounds the threads.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/model.h"
#include "server/server.h"

#define TH_STACK	(128u << 10)	/* a connection's thread needs little: its buffers are on the heap */

struct th_conn {
	struct th_server *ts;
	int fd;
	struct iom_sconn io;
	struct th_conn *prev, *next;
};

struct th_server {
	struct iom_server *srv;
	pthread_mutex_t lock;
	pthread_cond_t gone;		/* a connection thread ended */
	struct th_conn *conns;		/* open connections, for the stop */
	unsigned int nr_threads;
	bool logged_spawn;
};

static void th_conn_end(struct th_conn *c)
{
	struct th_server *ts = c->ts;

	close(c->fd);
	iom_sconn_free(&c->io);
	iom_server_conn_closed(ts->srv);
	pthread_mutex_lock(&ts->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		ts->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ts->nr_threads--;
	pthread_cond_broadcast(&ts->gone);
	pthread_mutex_unlock(&ts->lock);
	free(c);
}

/*
 * The service, blocking. A wait watches the socket too: a client that resets mid-service
 * frees its thread and frame at once, not when the service would have ended.
 */
static int th_service(struct th_conn *c, const struct iom_rpc_hdr *h)
{
	struct iom_server *srv = c->ts->srv;
	enum iom_service_kind kind = iom_server_service_kind(srv, h);
	struct pollfd pfd = { .fd = c->fd, .events = 0 };
	struct timespec ts;

	if (kind == IOM_SERVICE_CPU || kind == IOM_SERVICE_FILE) {
		iom_server_service_run(srv, h);
		return 0;
	}
	ts = iom_ts(iom_server_service_ns(srv, h));
	for (;;) {
		uint64_t t0 = iom_now_ns(), spent;
		int n = ppoll(&pfd, 1, &ts, NULL);

		if (n > 0)
			return -1;	/* HUP or ERR: nobody to answer */
		if (n == 0 || errno != EINTR)
			return 0;
		spent = iom_now_ns() - t0;
		ts = iom_ts((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec > spent ?
			    (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - spent : 0);
	}
}

static int th_send_all(struct th_conn *c)
{
	while (iom_sconn_unsent(&c->io)) {
		ssize_t n = send(c->fd, c->io.out + c->io.out_off, iom_sconn_unsent(&c->io),
				 MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;	/* EAGAIN: the send timeout (a client that never reads) */
		iom_sconn_sent(&c->io, (size_t)n, iom_now_ns());
	}
	return 0;
}

/* Answer every whole frame in the buffer, one after another. 0, or -1: close. */
static int th_serve_frames(struct th_conn *c)
{
	struct iom_server *srv = c->ts->srv;
	const unsigned char *frame;
	size_t len;
	int r;

	while ((r = iom_sconn_next(srv, &c->io, &frame, &len)) == 1) {
		struct iom_rpc_hdr h;
		uint16_t flags;

		if (iom_server_admit(srv, frame, &h, &flags) == IOM_ADMIT_SERVE) {
			/* Counted in service as the other models do: one at a time here. */
			iom_sconn_hold(srv, &c->io, len);
			r = th_service(c, &h);
			iom_sconn_release(&c->io, len);
			iom_server_served(srv);
			if (r)
				return -1;
		}
		if (iom_server_reply(srv, &c->io, frame, len, flags) || th_send_all(c))
			return -1;
	}
	return r;
}

/* The receive timeout: what is left of the frame's time mid-frame, else the idle timeout. */
static void th_set_timeout(struct th_conn *c, uint64_t now)
{
	const struct iom_server_opts *o = &c->ts->srv->opts;
	uint64_t ns = (uint64_t)o->idle_timeout_ms * 1000000ull, frame_ns;
	struct timeval tv;

	if (c->io.in_len > c->io.in_off && c->io.frame_start_ns) {
		frame_ns = (uint64_t)o->frame_timeout_ms * 1000000ull;
		ns = now - c->io.frame_start_ns < frame_ns ? frame_ns - (now - c->io.frame_start_ns) :
							     1000;
	}
	tv.tv_sec = (time_t)(ns / 1000000000ull);
	tv.tv_usec = (suseconds_t)(ns % 1000000000ull / 1000);
	if (!tv.tv_sec && !tv.tv_usec && ns)
		tv.tv_usec = 1;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static void th_close_why(struct th_conn *c, const char *why, bool bad)
{
	atomic_fetch_add(bad ? &c->ts->srv->nr_bad : &c->ts->srv->nr_reaped, 1);
	iom_server_log(c->ts->srv, "closing a connection: %s", why);
}

static void *th_conn_main(void *arg)
{
	struct th_conn *c = arg;
	bool timed = false;	/* the receive timeout is the frame's (not the idle one) */

	th_set_timeout(c, iom_now_ns());
	while (!iom_server_stopping()) {
		unsigned char *room;
		bool partial;
		ssize_t n;

		if (th_serve_frames(c))
			break;
		n = iom_sconn_room(c->ts->srv, &c->io, &room);
		if (n <= 0)
			break;
		partial = c->io.in_len > c->io.in_off;
		if (partial || timed) {
			th_set_timeout(c, iom_now_ns());
			timed = partial;
		}
		n = recv(c->fd, room, (size_t)n, 0);
		if (n > 0) {
			iom_sconn_received(&c->io, (size_t)n, iom_now_ns());
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			th_close_why(c, partial ? "frame not complete in time" : "idle", partial);
		else if (partial || n < 0)
			th_close_why(c, n ? strerror(errno) : "peer closed mid-frame", true);
		break;	/* n == 0 between frames: every reply is out (half-close served) */
	}
	th_conn_end(c);
	return NULL;
}

static void th_spawn(struct th_server *ts, int fd)
{
	struct iom_server *srv = ts->srv;
	struct th_conn *c = calloc(1, sizeof(*c));
	struct timeval snd = { .tv_sec = srv->opts.idle_timeout_ms / 1000,
			       .tv_usec = srv->opts.idle_timeout_ms % 1000 * 1000 };
	pthread_attr_t attr;
	pthread_t tid;
	int one = 1, e;

	if (!c) {
		iom_server_conn_closed(srv);
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* A client that never reads: the blocked send gives up after the idle timeout. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd));
	c->ts = ts;
	c->fd = fd;
	c->io.last_ns = iom_now_ns();
	pthread_mutex_lock(&ts->lock);
	c->next = ts->conns;
	if (c->next)
		c->next->prev = c;
	ts->conns = c;
	ts->nr_threads++;
	pthread_mutex_unlock(&ts->lock);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, TH_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&tid, &attr, th_conn_main, c);
	pthread_attr_destroy(&attr);
	if (e) {
		/* Out of threads (RLIMIT_NPROC, memory): refuse this one, say so once. */
		atomic_fetch_add(&srv->nr_refused, 1);
		if (!ts->logged_spawn) {
			ts->logged_spawn = true;
			iom_server_log(srv, "pthread_create: %s: refusing connections (logged once)",
				       strerror(e));
		}
		th_conn_end(c);
	}
}

static void th_accept_loop(struct th_server *ts, int lfd)
{
	struct iom_server *srv = ts->srv;

	while (!iom_server_stopping()) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		uint64_t pause;
		int fd;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			pause = iom_server_accept_failed(srv, errno);
			if (pause) {
				struct timespec t = iom_ts(pause);

				nanosleep(&t, NULL);
			}
			continue;
		}
		if (!iom_server_conn_open(srv)) {
			close(fd);
			continue;
		}
		th_spawn(ts, fd);
	}
}

static int th_run(struct iom_server *srv, struct iom_err *err)
{
	struct th_server ts = { .srv = srv };
	int lfd = iom_server_listener(srv, 0, err), ret;

	if (lfd < 0)
		return lfd;
	ret = iom_server_listening(srv, err);
	if (ret) {
		close(lfd);
		return ret;
	}
	pthread_mutex_init(&ts.lock, NULL);
	pthread_cond_init(&ts.gone, NULL);
	th_accept_loop(&ts, lfd);
	close(lfd);
	/* Stop: wake every connection thread (recv, send and the service wait all return). */
	pthread_mutex_lock(&ts.lock);
	for (struct th_conn *c = ts.conns; c; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
	while (ts.nr_threads)
		pthread_cond_wait(&ts.gone, &ts.lock);
	pthread_mutex_unlock(&ts.lock);
	pthread_cond_destroy(&ts.gone);
	pthread_mutex_destroy(&ts.lock);
	return 0;
}

static int th_probe(struct iom_err *err)
{
	return 0;
}

const struct iom_server_model iom_server_threads = {
	.name = "threads",
	.desc = "a thread per connection, blocking recv/send, service in the thread",
	.probe = th_probe,
	.run = th_run,
};
