// SPDX-License-Identifier: MIT
/*
 * The uring server model: a ring per thread (SINGLE_ISSUER|DEFER_TASKRUN where granted), its
 * own SO_REUSEPORT listener under a multishot accept, a multishot recv per connection from the
 * thread's provided buffer ring, every reply of a loop's batch sent with one SEND per
 * connection in the same enter, and the ring fd registered. Each feature is probed, with a
 * ladder down to single-shot ops, and what was granted is logged once as the variant.
 *
 * Buffering and caps are server/conn.c's. A provided buffer is copied into the connection's
 * reader and handed back in the same loop; when the caps say stop, the recv is cancelled (and
 * what it still brings is copied aside, the buffers handed back: holding them would starve the
 * thread's other connections), and it is re-armed once the replies drain: a client that never
 * reads holds at most its caps plus what came before the cancel, at most the buffer ring. A send reads a
 * buffer of its own (swapped with the reply queue), since appending may move the queue.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/mask.h"
#include "core/model.h"
#include "server/server.h"
#include "uring/bufring.h"
#include "uring/ladder.h"

#define US_NR_BUFS	256		/* per thread: 2 MiB of 8 KiB buffers, all resident */
#define US_BUF_SIZE	8192		/* once big frames went through: bounded, per thread.
					 * More connections than buffers reading at once: a
					 * recv ends with -ENOBUFS and is re-armed. */
#define US_BGID		0
#define US_SPILL_MAX	(US_NR_BUFS * US_BUF_SIZE)	/* received past the caps before the
					 * cancel: the ring cannot hand over more */
#define US_MAX_DIRECT	32768		/* direct descriptors per thread at most */
#define US_TICK_NS	100000000ull	/* stalled frames, idle connections, the stop flag */
#define US_BACKLOG	4096		/* the listen backlog (server.c): the most connections
					 * one pass of a multishot accept may take */

/* user_data: a pointer (16-byte aligned) with the op in its low bits, or an op alone. */
enum us_op { US_RECV = 1, US_SEND, US_DUE, US_IGNORE, US_ACCEPT, US_TICK, US_HUP, US_CLOSED };

struct us_conn {
	int fd;
	bool recv_armed, send_busy, closing, paused, dirty;
	bool hup_armed;			/* paused: a poll for a reset (no recv sees it) */
	unsigned int nr_dues;		/* service timeouts in the kernel for it */
	struct iom_sconn io;
	unsigned char *sending;		/* the send in flight reads this, not io.out */
	size_t send_off, send_len, send_cap;
	unsigned char *spill;		/* received past the caps (paused), not yet read in */
	size_t spill_off, spill_len;
	struct us_conn *next_dirty, *next_all;
};

struct us_due {			/* a request in service: its echo after a timeout or read */
	struct __kernel_timespec ts;
	bool read;			/* --service file: an IORING_OP_READ, not a TIMEOUT */
	struct us_conn *conn;
	struct us_due *next, **pprev;	/* the connection's list, to remove on close */
	size_t len;
	unsigned char frame[];
};

struct us_thread {
	struct iom_server *srv;
	pthread_t thread;
	struct io_uring ring;
	bool ring_ok;
	struct ur_bufring bufs;
	int listen_fd;
	bool multishot_accept, multishot_recv, accept_armed;
	bool direct;			/* connections are direct descriptors (no process fd) */
	bool table_full;		/* no accept armed until a direct slot comes free */
	unsigned int nr_files;		/* direct: the table's slots */
	unsigned int nr_direct;		/* direct: slots holding a connection (until closed) */
	uint64_t accept_resume_ns, next_tick_ns;
	/*
	 * When this turn's CQEs came: the idle and frame-timeout clocks (seconds) read it, so a
	 * request costs no clock read (two a request were 1.4% of the samples, perf).
	 */
	uint64_t now_ns;
	struct __kernel_timespec tick_ts;
	struct us_conn *conns, *dirty;
	struct us_due *dues;		/* every due of the thread (their connections' lists) */
	bool first;			/* thread 0 logs the variant */
	unsigned int nr_threads;	/* they share the fd limit */
	unsigned long fds_used;		/* process fds open before the rings */
	unsigned char *read_buf;	/* --service file: every read's target (never looked at) */
	int ret;			/* its setup's result */
	sem_t *ready;			/* posted once its ring is set up (or failed) */
	struct iom_err err;
	char variant[96];
};

static struct io_uring_sqe *us_sqe(struct us_thread *th)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&th->ring);

	if (!sqe && io_uring_submit(&th->ring) >= 0)
		sqe = io_uring_get_sqe(&th->ring);
	return sqe;
}

static void us_set_ud(struct io_uring_sqe *sqe, void *p, enum us_op op)
{
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)p | (uint64_t)op);
}

/* An op on a connection: by its table index when it is a direct descriptor. */
static void us_fixed(const struct us_thread *th, struct io_uring_sqe *sqe)
{
	if (th->direct)
		sqe->flags |= IOSQE_FIXED_FILE;
}

static void us_close_fd(struct us_thread *th, int fd)
{
	struct io_uring_sqe *sqe;

	if (!th->direct) {
		close(fd);
		return;
	}
	sqe = us_sqe(th);
	if (sqe) {
		io_uring_prep_close_direct(sqe, (unsigned int)fd);
		us_set_ud(sqe, NULL, US_CLOSED);
	}
}

/*
 * An accept into a full direct table loses the connection: the kernel accepts it, finds no
 * slot and closes it (-ENFILE). So none is armed while the table is full, and a multishot one
 * only while more slots are free than a pass of it may take (the backlog); past that,
 * single-shot, each taking one slot at most.
 */
static bool us_accept_room(struct us_thread *th, bool *multishot)
{
	unsigned int nr_free = th->nr_files - th->nr_direct;

	*multishot = th->multishot_accept;
	if (!th->direct)
		return true;
	if (!nr_free) {
		if (!th->table_full)
			iom_server_accept_failed(th->srv, ENFILE);	/* counted, logged once */
		th->table_full = true;
		return false;
	}
	th->table_full = false;
	*multishot = *multishot && nr_free > US_BACKLOG;
	return true;
}

/*
 * A single-shot accept into a slot the kernel picks. Not io_uring_prep_accept_direct(...,
 * IORING_FILE_INDEX_ALLOC): liburing 2.3 adds one to the index, which wraps to 0 (no direct
 * descriptor) and the accept gives a process fd that the ring then takes for a slot.
 */
static void us_prep_accept_alloc(struct io_uring_sqe *sqe, int listen_fd)
{
	io_uring_prep_accept(sqe, listen_fd, NULL, NULL, 0);
	sqe->file_index = IORING_FILE_INDEX_ALLOC;
}

static void us_arm_accept(struct us_thread *th)
{
	struct io_uring_sqe *sqe;
	bool multishot;

	if (!us_accept_room(th, &multishot) || !(sqe = us_sqe(th)))
		return;
	if (multishot && th->direct)
		io_uring_prep_multishot_accept_direct(sqe, th->listen_fd, NULL, NULL, 0);
	else if (multishot)
		io_uring_prep_multishot_accept(sqe, th->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	else if (th->direct)
		us_prep_accept_alloc(sqe, th->listen_fd);
	else
		io_uring_prep_accept(sqe, th->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	us_set_ud(sqe, NULL, US_ACCEPT);
	th->accept_armed = true;
}

static bool us_arm_recv(struct us_thread *th, struct us_conn *c)
{
	struct io_uring_sqe *sqe = us_sqe(th);

	if (!sqe)
		return false;
	if (th->multishot_recv)
		io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	else
		io_uring_prep_recv(sqe, c->fd, NULL, US_BUF_SIZE, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = US_BGID;
	us_fixed(th, sqe);
	us_set_ud(sqe, c, US_RECV);
	c->recv_armed = true;
	return true;
}

static void us_mark_dirty(struct us_thread *th, struct us_conn *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->next_dirty = th->dirty;
	th->dirty = c;
}

static void us_spill_free(struct us_conn *c)
{
	free(c->spill);
	c->spill = NULL;
	c->spill_off = c->spill_len = 0;
}

/* The memory goes once nothing in the kernel or on the dirty list points at it. */
static bool us_conn_idle(const struct us_conn *c)
{
	return !c->recv_armed && !c->send_busy && !c->nr_dues && !c->dirty && !c->hup_armed;
}

/*
 * Close: shutdown ends the recv (and fails a send) so their CQEs come at once; the replies
 * still due are removed now, their memory freed as their CQEs come. The fd and the struct go
 * when the last op is back (us_sweep).
 */
static void us_close(struct us_thread *th, struct us_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->closing)
		return;
	c->closing = true;
	/*
	 * A direct descriptor: cancel every op on it, at once (a SHUTDOWN would go to io-wq and
	 * look the index up only when it runs: by then us_sweep's close may have freed it and
	 * an accept given it to a new connection, which it would shut).
	 */
	if (!th->direct) {
		shutdown(c->fd, SHUT_RDWR);
	} else if ((sqe = us_sqe(th))) {
		io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL |
					IORING_ASYNC_CANCEL_FD_FIXED);
		us_set_ud(sqe, NULL, US_IGNORE);
	}
	if (!th->direct && c->recv_armed && th->multishot_recv && (sqe = us_sqe(th))) {
		io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)c | US_RECV, 0);
		us_set_ud(sqe, NULL, US_IGNORE);
	}
	/* A read ends by itself soon; a service wait is removed now. */
	for (struct us_due *d = th->dues; d; d = d->next) {
		if (d->conn == c && !d->read && (sqe = us_sqe(th))) {
			io_uring_prep_timeout_remove(sqe, (uint64_t)(uintptr_t)d | US_DUE, 0);
			us_set_ud(sqe, NULL, US_IGNORE);
		}
	}
	us_spill_free(c);
	iom_sconn_free(&c->io);
	iom_server_conn_closed(th->srv);
	/* An fd came free: accepts paused at the fd limit may go on. */
	if (!th->accept_armed && th->accept_resume_ns)
		th->accept_resume_ns = 1;
}

static void us_sweep(struct us_thread *th)
{
	for (struct us_conn **pp = &th->conns; *pp;) {
		struct us_conn *c = *pp;

		if (c->closing && us_conn_idle(c)) {
			*pp = c->next_all;
			us_close_fd(th, c->fd);
			free(c->sending);
			free(c);
		} else {
			pp = &c->next_all;
		}
	}
}

static void us_pause(struct us_thread *th, struct us_conn *c)
{
	if (c->paused)
		return;
	c->paused = true;
	atomic_fetch_add(&th->srv->nr_paused, 1);
	/*
	 * Its replies in a send are out of c->io.out, so the caps can read eased while it stays
	 * paused: a frame half read waits on us, and its clock must not run (it closed a client
	 * pipelining at --out-cap as "frame not complete in time").
	 */
	iom_sconn_hold_back(&c->io);
	/*
	 * A reset must still close it at once (its replies due freed): with no recv armed
	 * only a poll for HUP/ERR sees one. Left armed after a resume: the close's shutdown
	 * fires it.
	 */
	if (!c->hup_armed) {
		struct io_uring_sqe *sqe = us_sqe(th);

		if (sqe) {
			io_uring_prep_poll_add(sqe, c->fd, POLLERR | POLLHUP);
			us_fixed(th, sqe);
			us_set_ud(sqe, c, US_HUP);
			c->hup_armed = true;
		}
	}
	/* Stop the multishot: what it brings meanwhile is spilled. */
	if (c->recv_armed && th->multishot_recv) {
		struct io_uring_sqe *sqe = us_sqe(th);

		if (sqe) {
			io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)c | US_RECV, 0);
			us_set_ud(sqe, NULL, US_IGNORE);
		}
	}
}

/* A whole request: its echo queued now, or after its service time (a TIMEOUT). */
static int us_request(struct us_thread *th, struct us_conn *c, const unsigned char *frame,
		      size_t len)
{
	struct iom_server *srv = th->srv;
	enum iom_service_kind kind;
	struct io_uring_sqe *sqe;
	struct iom_rpc_hdr h;
	struct us_due *d;
	uint16_t flags;
	uint64_t ns;

	if (iom_server_admit(srv, frame, &h, &flags) == IOM_ADMIT_REPLY)
		goto reply;
	flags = 0;
	kind = iom_server_service_kind(srv, &h);
	if (kind == IOM_SERVICE_CPU) {
		/* CPU work runs in the loop's thread, as in epoll's. */
		iom_server_service_run(srv, &h);
		iom_server_served(srv);
		goto reply;
	}
	ns = iom_server_service_ns(srv, &h);
	d = malloc(sizeof(*d) + len);
	sqe = d ? us_sqe(th) : NULL;
	if (!sqe) {
		free(d);
		iom_server_served(srv);
		return -1;
	}
	memcpy(d->frame, frame, len);
	d->len = len;
	d->conn = c;
	d->read = kind == IOM_SERVICE_FILE;
	if (d->read) {
		/* The block the others pread, read by the ring (io-wq when not cached). */
		io_uring_prep_read(sqe, srv->service_fd, th->read_buf, srv->opts.service_bs,
				   iom_server_service_off(srv, &h));
	} else {
		d->ts.tv_sec = (long long)(ns / 1000000000ull);
		d->ts.tv_nsec = (long long)(ns % 1000000000ull);
		io_uring_prep_timeout(sqe, &d->ts, 0, 0);
	}
	us_set_ud(sqe, d, US_DUE);
	d->next = th->dues;
	d->pprev = &th->dues;
	if (th->dues)
		th->dues->pprev = &d->next;
	th->dues = d;
	c->nr_dues++;
	iom_sconn_hold(srv, &c->io, len);
	return 0;
reply:
	if (iom_server_reply(srv, &c->io, frame, len, flags))
		return -1;	/* -ECONNABORTED (--fault drop-conn) or -ENOMEM: close */
	us_mark_dirty(th, c);
	return 0;
}

/* Cut and answer every whole frame; -1: close the connection. */
static int us_frames(struct us_thread *th, struct us_conn *c)
{
	const unsigned char *frame;
	size_t len;
	int r;

	while ((r = iom_sconn_next(th->srv, &c->io, &frame, &len)) == 1)
		if (us_request(th, c, frame, len))
			return -1;
	return r < 0 ? -1 : 0;
}

/* Feed n received bytes to the reader as far as the caps allow: *took of them. -1: close. */
static int us_take(struct us_thread *th, struct us_conn *c, const unsigned char *data, size_t n,
		   size_t *took)
{
	uint64_t now = th->now_ns;

	*took = 0;
	while (*took < n) {
		unsigned char *room;
		ssize_t r;

		if (us_frames(th, c))
			return -1;
		r = iom_sconn_room(th->srv, &c->io, &room);
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		if ((size_t)r > n - *took)
			r = (ssize_t)(n - *took);
		memcpy(room, data + *took, (size_t)r);
		iom_sconn_received(&c->io, (size_t)r, now);
		*took += (size_t)r;
	}
	return us_frames(th, c);
}

static void us_close_bad(struct us_thread *th, struct us_conn *c, const char *why)
{
	atomic_fetch_add(&th->srv->nr_bad, 1);
	iom_server_log(th->srv, "closing a connection: %s", why);
	us_close(th, c);
}

/*
 * The peer sent FIN: a partial frame is an error; otherwise answer what is due (whole frames
 * may still wait for the caps), then close. With bytes spilled, us_resume judges once they are in.
 */
static void us_peer_eof(struct us_thread *th, struct us_conn *c, int res)
{
	if (res < 0) {
		us_close_bad(th, c, strerror(-res));
		return;
	}
	if (!c->spill_len && iom_sconn_mid_frame(&c->io)) {
		us_close_bad(th, c, "peer closed mid-frame");
		return;
	}
	c->io.eof = true;
	us_mark_dirty(th, c);	/* us_flush closes it once nothing is owed */
}

/* Bytes that came past the caps: kept aside (bounded) until us_resume reads them in. */
static int us_spill(struct us_thread *th, struct us_conn *c, const unsigned char *data, size_t n)
{
	unsigned char *p;

	if (c->spill_len + n > US_SPILL_MAX) {
		us_close_bad(th, c, "more received past the caps than the buffer ring holds");
		return -1;
	}
	p = realloc(c->spill, c->spill_len + n);
	if (!p) {
		us_close(th, c);
		return -1;
	}
	memcpy(p + c->spill_len, data, n);
	c->spill = p;
	c->spill_len += n;
	us_pause(th, c);
	return 0;
}

static void us_received(struct us_thread *th, struct us_conn *c, const struct io_uring_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		const unsigned char *data = (const unsigned char *)ur_bufring_buf(&th->bufs, bid);
		size_t took = 0;

		/* Read in as far as the caps allow, the rest spilled: the buffer goes back now. */
		if (c->closing || cqe->res <= 0)
			;
		else if (!c->spill_len && us_take(th, c, data, (size_t)cqe->res, &took))
			us_close(th, c);
		else if (took < (size_t)cqe->res)
			us_spill(th, c, data + took, (size_t)cqe->res - took);
		ur_bufring_return(&th->bufs, bid);
	}
	if (more)
		return;
	c->recv_armed = false;
	if (c->closing)
		return;
	/*
	 * Cancelled at a pause. If the caps eased before this CQE came (us_resume saw the recv
	 * still armed and left it), nothing else re-arms it: the connection would stall.
	 */
	if (cqe->res == -ECANCELED) {
		if (!c->paused && !c->io.eof && !us_arm_recv(th, c))
			us_close(th, c);
		return;
	}
	if (cqe->res == -EINVAL && th->multishot_recv) {
		th->multishot_recv = false;	/* the ladder: single-shot recvs from now on */
		iom_server_log(th->srv, "uring: multishot recv refused: single-shot recvs");
	} else if (cqe->res == 0 || (cqe->res < 0 && cqe->res != -ENOBUFS)) {
		us_peer_eof(th, c, cqe->res);
		return;
	}
	if (!c->paused && !us_arm_recv(th, c))
		us_close(th, c);
}

/*
 * Replies went out (or caps eased): cut the frames already read (a pipelining client may
 * have sent them all in one write, and no more bytes will come to cut them), read in what was
 * spilled, then read again.
 */
static void us_resume(struct us_thread *th, struct us_conn *c)
{
	if (us_frames(th, c)) {
		us_close(th, c);
		return;
	}
	if (c->spill_len) {
		size_t took;

		if (us_take(th, c, c->spill + c->spill_off, c->spill_len - c->spill_off, &took)) {
			us_close(th, c);
			return;
		}
		c->spill_off += took;
		if (c->spill_off < c->spill_len)
			return;	/* still over the caps */
		us_spill_free(c);
		if (c->io.eof && iom_sconn_mid_frame(&c->io)) {
			us_close_bad(th, c, "peer closed mid-frame");
			return;
		}
	}
	if (iom_sconn_unsent(&c->io) + c->io.held >= th->srv->opts.out_cap ||
	    c->io.in_service >= th->srv->opts.max_inflight) {
		iom_sconn_hold_back(&c->io);	/* still paused: the frame clock stays stopped */
		return;
	}
	c->paused = false;
	if (!c->recv_armed && !c->io.eof && !us_arm_recv(th, c))
		us_close(th, c);
}

/* Send the reply queue: the send reads a buffer of its own, swapped with the queue's. */
static void us_send(struct us_thread *th, struct us_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->send_off == c->send_len) {
		unsigned char *b = c->sending;
		size_t cap = c->send_cap;

		c->sending = c->io.out;
		c->send_cap = c->io.out_cap;
		c->send_off = c->io.out_off;
		c->send_len = c->io.out_len;
		c->io.out = b;
		c->io.out_cap = cap;
		c->io.out_len = c->io.out_off = 0;
	}
	sqe = us_sqe(th);
	if (!sqe) {
		us_close(th, c);
		return;
	}
	/* MSG_WAITALL: the kernel sends a short send's rest itself. */
	io_uring_prep_send(sqe, c->fd, c->sending + c->send_off, c->send_len - c->send_off,
			   MSG_NOSIGNAL | MSG_WAITALL);
	us_fixed(th, sqe);
	us_set_ud(sqe, c, US_SEND);
	c->send_busy = true;
}

static void us_sent(struct us_thread *th, struct us_conn *c, int res)
{
	c->send_busy = false;
	if (c->closing)
		return;
	if (res < 0) {
		us_close(th, c);
		return;
	}
	c->send_off += (size_t)res;
	c->io.last_ns = th->now_ns;
	us_mark_dirty(th, c);
}

/* Once per loop, before the enter: one send per connection with replies, resumes, closes. */
static void us_flush(struct us_thread *th)
{
	for (int pass = 0; pass < 2 && th->dirty; pass++) {
		struct us_conn *list = th->dirty;

		th->dirty = NULL;
		while (list) {
			struct us_conn *c = list;

			list = c->next_dirty;
			c->dirty = false;
			if (c->closing)
				continue;
			/* Paused, or whole frames read that waited for the caps. */
			if ((c->paused || c->io.in_len > c->io.in_off) && !c->send_busy)
				us_resume(th, c);
			if (c->closing || c->send_busy)
				continue;
			if (c->send_off < c->send_len || iom_sconn_unsent(&c->io))
				us_send(th, c);
			else if (iom_sconn_finished(&c->io) && !c->spill_len)
				us_close(th, c);
		}
	}
}

/* A slot taken: a multishot accept stops once the free slots are no more than a pass takes. */
static void us_direct_taken(struct us_thread *th, bool multishot_armed)
{
	struct io_uring_sqe *sqe;

	th->nr_direct++;
	if (multishot_armed && th->nr_files - th->nr_direct <= US_BACKLOG && (sqe = us_sqe(th))) {
		io_uring_prep_cancel64(sqe, US_ACCEPT, 0);
		us_set_ud(sqe, NULL, US_IGNORE);
	}
}

/* A direct slot is free again (its close is done): a stopped accept may go on. */
static void us_direct_freed(struct us_thread *th)
{
	th->nr_direct--;
	if (th->table_full && !th->accept_armed)
		us_arm_accept(th);
}

static void us_accepted(struct us_thread *th, const struct io_uring_cqe *cqe)
{
	struct iom_server *srv = th->srv;
	struct us_conn *c;
	int one = 1;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		th->accept_armed = false;
	if (cqe->res >= 0 && th->direct)
		us_direct_taken(th, !!(cqe->flags & IORING_CQE_F_MORE));
	if (cqe->res == -EINVAL && th->multishot_accept) {
		th->multishot_accept = false;	/* the ladder: single-shot accepts */
		iom_server_log(th->srv, "uring: multishot accept refused: single-shot accepts");
	} else if (cqe->res == -ECANCELED) {
		;	/* a multishot accept stopped near a full table: re-armed below */
	} else if (cqe->res < 0) {
		uint64_t pause = iom_server_accept_failed(srv, -cqe->res);

		/* Out of fds: no re-arm (it would fail at once, a spin) until the pause ends. */
		if (pause) {
			th->accept_resume_ns = iom_now_ns() + pause;
			return;
		}
	} else if (!iom_server_conn_open(srv)) {
		us_close_fd(th, cqe->res);	/* past --max-conns: refused, logged once */
	} else if (!(c = calloc(1, sizeof(*c)))) {
		iom_server_conn_closed(srv);
		us_close_fd(th, cqe->res);
	} else {
		/* A direct descriptor took TCP_NODELAY from the listener (us_run). */
		if (!th->direct)
			setsockopt(cqe->res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = cqe->res;
		c->io.last_ns = iom_now_ns();
		c->next_all = th->conns;
		th->conns = c;
		if (!us_arm_recv(th, c))
			us_close(th, c);
	}
	if (!th->accept_armed)
		us_arm_accept(th);
}

/* A request's service time is up (or its connection closed and removed it). */
static void us_due(struct us_thread *th, struct us_due *d, int res)
{
	struct us_conn *c = d->conn;

	*d->pprev = d->next;
	if (d->next)
		d->next->pprev = d->pprev;
	c->nr_dues--;
	iom_sconn_release(&c->io, d->len);
	iom_server_served(th->srv);
	if (d->read)
		iom_server_read_done(th->srv, res);
	/* A failed read is answered all the same, as the others answer after a failed pread. */
	if (!c->closing && (d->read || res == -ETIME)) {
		if (iom_server_reply(th->srv, &c->io, d->frame, d->len, 0))
			us_close(th, c);
		else
			us_mark_dirty(th, c);
	}
	free(d);
}

/* Every 100 ms: stalled frames and idle connections closed; a paused accept resumed. */
static void us_tick(struct us_thread *th)
{
	uint64_t now = iom_now_ns();
	struct io_uring_sqe *sqe = us_sqe(th);

	if (sqe) {
		io_uring_prep_timeout(sqe, &th->tick_ts, 0, 0);
		us_set_ud(sqe, NULL, US_TICK);
	}
	for (struct us_conn *c = th->conns; c; c = c->next_all) {
		const char *why;

		/* Paused is held back, whatever the caps read now (us_pause says why). */
		if (c->paused)
			iom_sconn_hold_back(&c->io);
		why = c->closing ? NULL : iom_sconn_expired(th->srv, &c->io, now);

		if (!why)
			continue;
		atomic_fetch_add(strcmp(why, "idle") ? &th->srv->nr_bad : &th->srv->nr_reaped, 1);
		iom_server_log(th->srv, "closing a connection: %s", why);
		us_close(th, c);
	}
	if (!th->accept_armed && th->accept_resume_ns && now >= th->accept_resume_ns) {
		th->accept_resume_ns = 0;
		us_arm_accept(th);
	}
}

static void us_cqe(struct us_thread *th, const struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	void *p = (void *)(uintptr_t)(ud & ~15ull);

	switch ((enum us_op)(ud & 15)) {
	case US_RECV:
		us_received(th, p, cqe);
		break;
	case US_SEND:
		us_sent(th, p, cqe->res);
		break;
	case US_DUE:
		us_due(th, p, cqe->res);
		break;
	case US_ACCEPT:
		us_accepted(th, cqe);
		break;
	case US_TICK:
		us_tick(th);
		break;
	case US_HUP:
		((struct us_conn *)p)->hup_armed = false;
		if (cqe->res > 0 && !((struct us_conn *)p)->closing)
			us_close(th, p);
		break;
	case US_CLOSED:
		us_direct_freed(th);
		break;
	case US_IGNORE:
		break;
	}
}

/* Reap one batch (waiting for a CQE), after sending what the last one queued. */
static int us_turn(struct us_thread *th)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;
	int ret;

	us_flush(th);
	ur_bufring_publish(&th->bufs);
	ret = io_uring_submit_and_wait(&th->ring, 1);
	if (ret < 0 && ret != -EINTR && ret != -ETIME && ret != -EBUSY)
		return ret;
	th->now_ns = iom_now_ns();
	io_uring_for_each_cqe(&th->ring, head, cqe) {
		us_cqe(th, cqe);
		n++;
	}
	io_uring_cq_advance(&th->ring, n);
	us_sweep(th);
	return 0;
}

/* Flag ladder: the best the kernel grants (DEFER_TASKRUN needs SINGLE_ISSUER). */
/* In the serving thread: SINGLE_ISSUER binds the ring to the thread that makes it. */
static int us_ring_setup(struct us_thread *th, struct iom_err *err)
{
	struct io_uring_params p;
	unsigned int nr_files = 1024;
	int ret = -EINVAL;
	struct rlimit rl;
	bool reg;

	for (size_t i = 0; i < sizeof(ur_ladder) / sizeof(ur_ladder[0]) && ret == -EINVAL; i++) {
		if (ur_rung_masked(ur_ladder[i]))
			continue;
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | ur_ladder[i];
		p.cq_entries = 16384;
		ret = io_uring_queue_init_params(2048, &th->ring, &p);
	}
	if (ret < 0)
		return iom_err_set(err, ret, "serve: io_uring_queue_init_params");
	th->ring_ok = true;
	if (th->srv->opts.service == IOM_SERVICE_FILE &&
	    !(th->read_buf = malloc(th->srv->opts.service_bs)))
		return iom_err_set(err, -ENOMEM, "serve: read buffer");
	ret = ur_bufring_setup(&th->ring, &th->bufs, US_BGID, US_NR_BUFS, US_BUF_SIZE);
	if (ret < 0)
		return iom_err_set(err, ret, "serve: provided buffer ring");
	reg = !iom_masked("regring") && io_uring_register_ring_fd(&th->ring) == 1;
	/*
	 * Direct descriptors (5.19): accepted into the ring's own table, no process fd and no
	 * fd lookup per op. The threads' tables share the fd limit left (the kernel checks each
	 * table alone): the server holds no more connections than ulimit -n says, as the other
	 * models. Without them, plain fds.
	 */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > th->fds_used)
		nr_files = (rl.rlim_cur - th->fds_used) / th->nr_threads;
	nr_files = nr_files < 1 ? 1 : nr_files > US_MAX_DIRECT ? US_MAX_DIRECT : nr_files;
	th->direct = th->srv->addr.ss.ss_family != AF_UNIX && !iom_masked("direct") &&
		     io_uring_register_files_sparse(&th->ring, nr_files) == 0;
	th->nr_files = nr_files;
	/* IOM_MASK=multishot starts where a kernel's -EINVAL would put it: single-shot ops. */
	th->multishot_accept = th->multishot_recv = !iom_masked("multishot");
	snprintf(th->variant, sizeof(th->variant), "%s%s%s%sbufring+%s",
		 p.flags & IORING_SETUP_SINGLE_ISSUER ? "single_issuer+" : "",
		 p.flags & IORING_SETUP_DEFER_TASKRUN ? "defer_taskrun+" :
		 p.flags & IORING_SETUP_COOP_TASKRUN ? "coop_taskrun+" : "",
		 reg ? "regring+" : "", th->direct ? "direct+" : "",
		 th->multishot_accept ? "multishot_accept+multishot_recv" : "single_shot");
	th->tick_ts.tv_nsec = (long long)US_TICK_NS;
	us_arm_accept(th);
	us_tick(th);
	return 0;
}

/* Shut every connection and reap until no op holds one (bounded): then the buffers may go. */
static void us_drain(struct us_thread *th)
{
	for (struct us_conn *c = th->conns; c; c = c->next_all)
		us_close(th, c);
	for (int i = 0; i < 50 && th->conns; i++)
		if (us_turn(th))
			break;
}

static void us_thread_free(struct us_thread *th)
{
	if (th->ring_ok) {
		us_drain(th);
		ur_bufring_free(&th->ring, &th->bufs);
		io_uring_queue_exit(&th->ring);
	}
	/* A read still in the kernel (the drain gave up) may yet write into it: kept. */
	if (!th->conns)
		free(th->read_buf);
	while (th->dues) {
		struct us_due *d = th->dues;

		th->dues = d->next;
		free(d);
	}
	while (th->conns) {
		struct us_conn *c = th->conns;

		th->conns = c->next_all;
		if (!th->direct)
			close(c->fd);	/* a direct descriptor went with the ring */
		free(c->sending);
		iom_sconn_free(&c->io);
		us_spill_free(c);
		free(c);
	}
	if (th->listen_fd >= 0)
		close(th->listen_fd);
}

static void *us_thread_main(void *arg)
{
	struct us_thread *th = arg;
	int ret;

	prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
	ret = th->ret = us_ring_setup(th, &th->err);
	if (!ret && th->first)
		iom_server_set_variant(th->srv, th->variant);
	sem_post(th->ready);
	if (ret)
		iom_server_stop();	/* the others see it; ->run() returns th->err */
	/* An enter that fails now and then (-EAGAIN, -ENOMEM) is retried; a ring that keeps
	 * failing ends the server with the reason. */
	for (int nr_fail = 0; !ret && !iom_server_stopping();) {
		int r = us_turn(th);

		nr_fail = r ? nr_fail + 1 : 0;
		if (r && nr_fail == 1)
			iom_server_log(th->srv, "uring: io_uring_enter: %s", strerror(-r));
		if (nr_fail == 1000)
			ret = th->ret = iom_err_set(&th->err, r, "serve: io_uring_enter");
	}
	us_thread_free(th);
	return NULL;
}

static unsigned long us_fds_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned long n = 0;
	struct dirent *e;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n ? n - 1 : 0;	/* not the directory's own */
}

static int us_run(struct iom_server *srv, struct iom_err *err)
{
	unsigned int nr = iom_server_loops(srv), started = 0;
	struct us_thread *threads = calloc(nr, sizeof(*threads));
	int ret = threads ? 0 : iom_err_set(err, -ENOMEM, "serve");
	bool setup_failed = false;
	sem_t ready;

	sem_init(&ready, 0, 0);

	for (unsigned int i = 0; !ret && i < nr; i++) {
		struct us_thread *th = &threads[i];
		int fl, one = 1;

		th->srv = srv;
		th->first = i == 0;
		th->listen_fd = iom_server_listener(srv, i, err);
		if (th->listen_fd < 0) {
			ret = th->listen_fd;
			break;
		}
		/* io_uring waits for the connection itself: the listener need not be non-blocking. */
		fl = fcntl(th->listen_fd, F_GETFL);
		if (fl >= 0)
			fcntl(th->listen_fd, F_SETFL, fl & ~O_NONBLOCK);
		/* Accepted sockets inherit it: a direct descriptor cannot take a setsockopt. */
		if (srv->addr.ss.ss_family != AF_UNIX)
			setsockopt(th->listen_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	for (unsigned int i = 0; !ret && i < nr; i++) {
		threads[i].nr_threads = nr;
		threads[i].fds_used = us_fds_open() + nr;	/* and a ring fd each */
		threads[i].ready = &ready;
	}
	for (; !ret && started < nr; started++) {
		ret = -pthread_create(&threads[started].thread, NULL, us_thread_main,
				      &threads[started]);
		if (ret)
			iom_err_set(err, ret, "serve: pthread_create");
	}
	/*
	 * The port is told once every ring is up: a client told it may be served at once, and a
	 * stop that comes right after it finds no thread still setting its ring up.
	 */
	for (unsigned int i = 0; i < started; i++)
		while (sem_wait(&ready) && errno == EINTR)
			;
	for (unsigned int i = 0; i < started; i++)
		setup_failed |= threads[i].ret != 0;	/* its error is taken at the join */
	if (!ret && !setup_failed)
		ret = iom_server_listening(srv, err);
	if (ret || setup_failed)
		iom_server_stop();
	for (unsigned int i = 0; i < started; i++) {
		pthread_join(threads[i].thread, NULL);
		if (!ret && threads[i].ret) {
			ret = threads[i].ret;
			*err = threads[i].err;
		}
	}
	for (unsigned int i = started; threads && i < nr; i++)
		if (threads[i].srv && threads[i].listen_fd >= 0)
			close(threads[i].listen_fd);
	free(threads);
	sem_destroy(&ready);
	return ret;
}

/* Provided buffer rings (5.19) are the floor; multishot falls back to single-shot by itself. */
static int us_probe(struct iom_err *err)
{
	struct io_uring ring;
	struct ur_bufring b;
	int ret = io_uring_queue_init(8, &ring, 0);

	if (ret < 0)
		return iom_err_set(err, ret, "unavailable: io_uring_queue_init");
	ret = ur_bufring_setup(&ring, &b, 0, 8, 64);
	if (!ret)
		ur_bufring_free(&ring, &b);
	io_uring_queue_exit(&ring);
	return ret ? iom_err_set(err, ret, "unavailable: no provided buffer rings") : 0;
}

/* Single-shot ops (before 5.19/6.0); plain fds (before 5.19); both on the plainest ring. */
static const char *const us_rungs[] = {
	"multishot", "direct", "multishot,direct,defer_taskrun,coop_taskrun,single_issuer,regring",
	NULL,
};

const struct iom_server_model iom_server_uring = {
	.name = "uring",
	.desc = "a ring per thread: multishot accept and recv, a buffer ring, batched sends",
	.probe = us_probe,
	.run = us_run,
	.rungs = us_rungs,
};
