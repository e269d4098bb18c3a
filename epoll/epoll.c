// SPDX-License-Identifier: MIT
/*
 * epoll: the seed's Async API by readiness. Each submitter owns one epoll instance and the
 * non-blocking fds it needs, made and registered once in setup (edge-triggered, data.u64 =
 * kind | slot), so no task ever costs an epoll_ctl. nop = an eventfd round trip per task (write
 * in submit, read in reap). timer and deadline = one min-heap of task times in user space, and
 * the wait's own timeout (epoll_pwait2, in ns; before 5.11 epoll_pwait, ms rounded up) ends at
 * its first key, the way event loops built on epoll (libuv, nginx) keep their timers. A regular file cannot be watched (epoll_ctl gives
 * EPERM): the file workload is n/a here.
 *
 * rpc: each slot's connection (made by the driver) is set non-blocking and registered once,
 * EPOLLIN|EPOLLET. A task is a send of the whole request, then nothing until EPOLLIN (a recv
 * tried at once would only cost an EAGAIN per task), then recv to EAGAIN into t->buf. EPOLLOUT
 * is armed only while a short send waits for room. A deadline is the task's heap entry; an
 * abandoned task (deadline, cancel) leaves its connection in mid-stream, and the slot keeps
 * it whole: the rest of a half-sent request still goes out, and the rest of a half-read reply
 * is skipped by the next task, so every task reads whole frames and keeps only its own echo.
 *
 * Only the submitter waits on its epoll set and cancels its tasks (the driver cancels from the
 * submitter's thread), so a task ends by iom_task_finish_owned: no compare-and-swap.
 *
 * Why a heap and not one timerfd per task: both were built and measured (timer D=1ms, --cpus 0,
 * 3 s closed loop, two runs each, kernel 6.18 2-vCPU VM shared with other jobs; ops/s, p99,
 * CPU per task):
 *
 *   C      one timerfd per slot                      heap + one timerfd per submitter
 *   16     14.2k-14.6k  1.2-1.6 ms  5.0-5.7 us       14.6k        1.2-1.3 ms  2.2-2.3 us
 *   256    108k-194k    5.2-9.7 ms  4.5-4.7 us       229k-231k    1.3 ms      0.19-0.23 us
 *   1024   41k-45k      31-47 ms    22 us (p50 22 ms: saturated)
 *                                                    930k-933k    1.2-1.4 ms  0.07-0.08 us
 *
 * Per slot, every task pays a timerfd_settime, a read and its own hrtimer expiry, and past a few
 * hundred timers the submitter's CPU is gone; the heap pays one expiry, one read and one settime
 * per wake-up, however many tasks are due, and nothing per task beyond O(log C) in user space
 * (a deadline is the same heap entry: its key is the earlier of end and deadline). The heap
 * is kept. A task leaves the heap only when the batch's clock reading is at or past its key,
 * so no event, stale or not, can end a task before its time. The heap's first key was later
 * kept by one timerfd per submitter; the wait's own timeout does the same with no syscall of
 * its own (no timerfd_settime per new first key, no read per expiry): docs/fairness.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/epwait.h"
#include "core/model.h"
#include "core/slot_heap.h"

/* What a registered fd is, in the high half of its data.u64 (a slot is the low half). */
enum ep_kind {
	EP_KIND_EVENT = 1,	/* nop: the slot's eventfd */
	EP_KIND_SOCK,		/* rpc: the slot's connection */
};

enum ep_slot_state {
	EP_IDLE,		/* no task, or its task was reported */
	EP_RUNNING,		/* a task is in flight */
	EP_CANCELLED,		/* finished by ->cancel(), waiting for ->reap() to report it */
};

struct ep_slot {
	int efd;		/* nop: eventfd, -1 otherwise */
	enum ep_slot_state state;
	/* rpc: where the slot's connection stands; it outlives the tasks that use it. */
	uint32_t sent;		/* request bytes of the task in flight that are out */
	uint32_t got;		/* reply bytes in t->buf (of our reply, or of a late one) */
	uint32_t skip;		/* bytes of an abandoned task's reply still to discard */
	bool want_out;		/* EPOLLOUT armed: a short send waits for room */
	char *stale;		/* the unsent rest of an abandoned task's request, or NULL */
	uint32_t stale_len, stale_off;
};

struct ep_ctx {
	int epfd;
	bool pwait2;			/* ns waits; else epoll_pwait, ms rounded up */
	struct ep_slot *slots;
	unsigned int nr_slots;		/* slots set up so far (all, once setup is done) */
	struct iom_slot_heap heap;	/* slots by when they are due: end, or deadline if earlier */
	struct epoll_event *events;
	unsigned int nr_events;
	uint32_t *cancelled;		/* ended by ->cancel(), for the next ->reap() */
	unsigned int nr_cancelled;
	char *scratch;			/* rpc: where skipped reply bytes go */
	uint32_t scratch_len;
};

/* The rung of the wait that ran, in the variant: nothing for epoll_pwait2's ns. */
#define EP_WAIT_RUNG(ep)	((ep)->pwait2 ? "" : "+epoll_pwait-ms")

#define EP_FILE_NA	"epoll cannot watch regular files (epoll_ctl: EPERM)"

static int ep_probe(enum iom_wl_kind wl, struct iom_err *err)
{
	struct epoll_event ev;
	int epfd, fd, ret = 0;

	if (wl == IOM_WL_FILE) {
		/* A regular file is always "ready": epoll refuses to watch it at all. */
		iom_err_msg(err, EP_FILE_NA);
		return IOM_PROBE_NA;
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return iom_err_set(err, -errno, "epoll_create1");
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0) {
		ret = iom_err_set(err, -errno, "eventfd");
		goto out;
	}
	close(fd);
	/* epoll_pwait2 (5.11) for ns timeouts, or epoll_pwait's ms before it: either will do. */
	if (!iom_epoll_pwait2_ok(epfd) && epoll_pwait(epfd, &ev, 1, 0, NULL) < 0)
		ret = iom_err_set(err, -errno, "epoll_pwait");
out:
	close(epfd);
	return ret;
}

/* --- fds --- */

static uint64_t ep_data(enum ep_kind kind, uint32_t slot)
{
	return (uint64_t)kind << 32 | slot;
}

/*
 * One read empties an eventfd (it returns the whole count and zeroes it), so it is the full
 * drain edge-triggered mode asks for; a second read would only cost an EAGAIN.
 * Returns true if the fd had been written since it was last drained.
 */
static bool ep_drain(int fd)
{
	uint64_t v;

	return read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v) && v;
}

static void ep_free(struct ep_ctx *ep)
{
	for (unsigned int i = 0; i < ep->nr_slots; i++) {
		if (ep->slots[i].efd >= 0)
			close(ep->slots[i].efd);
		free(ep->slots[i].stale);
	}
	if (ep->epfd >= 0)
		close(ep->epfd);
	free(ep->slots);
	iom_slot_heap_free(&ep->heap);
	free(ep->events);
	free(ep->cancelled);
	free(ep->scratch);
	free(ep);
}

/* An fd registered once for good: its data says what it is and whose. */
static int ep_add_fd(struct iom_ctx *ctx, struct ep_ctx *ep, int *fdp, enum ep_kind kind,
		     uint32_t slot, unsigned int nr_fds)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u64 = ep_data(kind, slot) };
	const char *what = "eventfd";
	struct rlimit rl = { 0 };
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	if (fd < 0) {
		int ret = -errno;

		getrlimit(RLIMIT_NOFILE, &rl);
		return iom_err_set(&ctx->err, ret, "epoll: %s for slot %u of %u (%u fds needed, "
				   "RLIMIT_NOFILE %llu)", what, slot, ctx->depth, nr_fds,
				   (unsigned long long)rl.rlim_cur);
	}
	*fdp = fd;
	if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, fd, &ev))
		return iom_err_set(&ctx->err, -errno, "epoll: epoll_ctl ADD %s of slot %u", what,
				   slot);
	return 0;
}

/*
 * rpc: the slot's connection, made (blocking) by the driver, goes non-blocking and into the
 * epoll set once for the cell. EPOLLOUT is left out: a socket with room would report it on
 * every edge, and it is wanted only while a short send waits.
 */
static int ep_add_sock(struct iom_ctx *ctx, struct ep_ctx *ep, uint32_t slot)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET,
				  .data.u64 = ep_data(EP_KIND_SOCK, slot) };
	int fd = ctx->tasks[slot].fd, fl;

	if (fd < 0)
		return iom_err_set(&ctx->err, -EBADF, "epoll: rpc slot %u has no connection",
				   slot);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return iom_err_set(&ctx->err, -errno, "epoll: O_NONBLOCK on slot %u's socket",
				   slot);
	if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, fd, &ev))
		return iom_err_set(&ctx->err, -errno, "epoll: epoll_ctl ADD socket of slot %u",
				   slot);
	return 0;
}

static int ep_setup(struct iom_ctx *ctx)
{
	const struct iom_cfg *cfg = ctx->cfg;
	enum iom_wl_kind wl = cfg->wl.kind;
	bool nop = wl == IOM_WL_NOP, rpc = wl == IOM_WL_RPC;
	bool timer = wl == IOM_WL_TIMER || cfg->deadline_ns;
	/* fds this setup makes (the epoll, eventfds): rpc sockets are the driver's */
	unsigned int nr_fds = 1 + (nop ? ctx->depth : 0);
	struct ep_ctx *ep;
	int ret = 0;

	if (wl != IOM_WL_NOP && wl != IOM_WL_TIMER && !rpc)
		return iom_err_msg(&ctx->err, "epoll: the %s workload is not supported",
				   iom_wl_name(wl));
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return iom_err_set(&ctx->err, -ENOMEM, "epoll: setup");
	ep->epfd = -1;
	ep->slots = calloc(ctx->depth, sizeof(*ep->slots));
	/* Room for every fd's event, so one epoll_pwait2 can see everything that is ready. */
	ep->nr_events = nop || rpc ? ctx->depth : 1;
	ep->events = calloc(ep->nr_events, sizeof(*ep->events));
	ep->cancelled = calloc(ctx->depth, sizeof(*ep->cancelled));
	if (rpc) {
		/* Skipped bytes are thrown away: a bounded scratch will do for any frame size. */
		ep->scratch_len = iom_rpc_frame_len(&cfg->wl);
		if (ep->scratch_len > 65536)
			ep->scratch_len = 65536;
		ep->scratch = malloc(ep->scratch_len);
	}
	if (!ep->slots || iom_slot_heap_init(&ep->heap, ctx->depth) || !ep->events ||
	    !ep->cancelled || (rpc && !ep->scratch)) {
		ep_free(ep);
		return iom_err_set(&ctx->err, -ENOMEM, "epoll: setup");
	}
	ep->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ep->epfd < 0) {
		ret = iom_err_set(&ctx->err, -errno, "epoll: epoll_create1");
		ep_free(ep);
		return ret;
	}
	ep->pwait2 = iom_epoll_pwait2_ok(ep->epfd);
	for (unsigned int i = 0; i < ctx->depth && !ret; i++) {
		struct ep_slot *s = &ep->slots[i];

		s->efd = -1;
		ep->nr_slots = i + 1;
		if (nop)
			ret = ep_add_fd(ctx, ep, &s->efd, EP_KIND_EVENT, i, nr_fds);
		else if (rpc)
			ret = ep_add_sock(ctx, ep, i);
	}
	if (ret) {
		ep_free(ep);
		return ret;
	}
	ctx->priv = ep;
	if (rpc)
		snprintf(ctx->variant, sizeof(ctx->variant), "nonblock+et+socket-per-slot%s%s",
			 timer ? "+deadline-heap+wait-timeout" : "", EP_WAIT_RUNG(ep));
	else
		snprintf(ctx->variant, sizeof(ctx->variant), "%s%s",
			 !nop ? "timer-heap+wait-timeout" :
			 timer ? "eventfd-per-slot+deadline-heap+wait-timeout" : "eventfd-per-slot",
			 EP_WAIT_RUNG(ep));
	return 0;
}

/* --- rpc: one request/reply at a time on the slot's connection --- */

/* Send buf from *off on; 0 when all of it is out, -EAGAIN when the socket is full. */
static int ep_send_rest(int fd, const char *buf, uint32_t len, uint32_t *off)
{
	while (*off < len) {
		/* MSG_NOSIGNAL: a backend that went away is -EPIPE for the task, not SIGPIPE. */
		ssize_t n = send(fd, buf + *off, len - *off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		*off += (uint32_t)n;
	}
	return 0;
}

/* Arm or disarm EPOLLOUT on the slot's socket, with a syscall only when it changes. */
static int ep_want_out(struct ep_ctx *ep, struct ep_slot *s, int fd, uint32_t slot, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET | (on ? EPOLLOUT : 0),
				  .data.u64 = ep_data(EP_KIND_SOCK, slot) };

	if (s->want_out == on)
		return 0;
	if (epoll_ctl(ep->epfd, EPOLL_CTL_MOD, fd, &ev))
		return -errno;
	s->want_out = on;
	return 0;
}

/*
 * Push what the slot owes the connection: first the rest of an abandoned task's request (the
 * backend reads whole frames, so it must go out before anything else), then t's request (t is
 * NULL when no task of the slot is in flight). A short send arms EPOLLOUT, which this disarms
 * once all is out. Returns 0 (all out, or waiting for room) or -errno: the connection broke.
 */
static int ep_rpc_flush(struct iom_ctx *ctx, struct ep_ctx *ep, uint32_t slot, struct iom_task *t)
{
	struct ep_slot *s = &ep->slots[slot];
	int fd = ctx->tasks[slot].fd, ret = 0;

	if (s->stale) {
		ret = ep_send_rest(fd, s->stale, s->stale_len, &s->stale_off);
		if (!ret) {
			free(s->stale);
			s->stale = NULL;
		}
	}
	if (!ret && t)
		ret = ep_send_rest(fd, t->buf, t->len, &s->sent);
	if (ret == -EAGAIN) {
		ctx->stats.nr_resubmit++;	/* a short send: the rest goes on EPOLLOUT */
		return ep_want_out(ep, s, fd, slot, true);
	}
	/* A failed disarm costs a spurious EPOLLOUT edge at worst; the next flush retries. */
	if (!ret)
		ep_want_out(ep, s, fd, slot, false);
	return ret;
}

/*
 * t ends before its reply is in (deadline or cancel), but its connection carries on. A request
 * that is partly out must be completed, or the backend would read the next request's bytes as
 * its rest: its rest is kept for the slot to send first. (A task's send starts only after the
 * previous rest is out, so there is at most one; a request none of which went out is dropped,
 * and no reply to it will come.) Bytes of a reply already in t->buf leave the rest of that
 * frame in the stream: the next task skips them before it reads anything of its own.
 */
static void ep_rpc_abandon(struct ep_slot *s, struct iom_task *t)
{
	if (s->sent && s->sent < t->len) {
		s->stale_len = t->len - s->sent;
		s->stale_off = 0;
		s->stale = malloc(s->stale_len);
		if (s->stale)
			memcpy(s->stale, (const char *)t->buf + s->sent, s->stale_len);
		else
			/* The stream cannot be kept whole: end it, so the slot's next tasks fail
			 * (-EPIPE) rather than send a torn frame. */
			shutdown(t->fd, SHUT_RDWR);
	}
	if (s->got)
		s->skip = t->len - s->got;
	s->sent = s->got = 0;
}

/*
 * The slot's connection failed or the backend closed it: as a client's pool would, replace it
 * (connect, then non-blocking into the epoll set; the connect blocks, but on the loopback or
 * Unix socket the backend is on it is done within the call). Whatever the old stream owed is
 * gone with it. If the backend cannot be reached the old socket stays and the next task fails.
 */
static void ep_rpc_reconnect(struct iom_ctx *ctx, struct ep_ctx *ep, uint32_t slot)
{
	struct ep_slot *s = &ep->slots[slot];

	/* Closing the old socket also takes it out of the epoll set. */
	if (iom_rpc_reconnect(&ctx->wl->addr, &ctx->tasks[slot].fd))
		return;
	s->want_out = false;
	free(s->stale);
	s->stale = NULL;
	s->sent = s->got = s->skip = 0;
	if (ep_add_sock(ctx, ep, slot)) {
		/* Not watched, it would hang the slot: end it, so the next send fails (-EPIPE). */
		shutdown(ctx->tasks[slot].fd, SHUT_RDWR);
		ctx->err.msg[0] = '\0';
		return;
	}
	ctx->stats.nr_reconnects++;
}

/* t's reply is complete, or its connection failed: decide, and report. */
static void ep_rpc_done(struct iom_ctx *ctx, struct ep_ctx *ep, struct iom_task *t, int64_t res)
{
	struct ep_slot *s = &ep->slots[t->slot];

	if (iom_rpc_conn_broken(res, t->len))
		ep_rpc_reconnect(ctx, ep, t->slot);
	iom_slot_heap_del(&ep->heap, t->slot);
	/* The batch's clock was read when epoll_pwait2 returned, with the reply already in. */
	iom_task_finish_result(t, res, ctx->now_ns);
	s->state = EP_IDLE;
	iom_complete(ctx, t);
}

/*
 * EPOLLIN for t, whose request is all out: read to EAGAIN (edge-triggered), first the rest of
 * an abandoned task's reply, then whole frames into t->buf. A frame with another id is the late
 * answer of an earlier task of this slot that expired: counted, and we read on for ours.
 * A recv never reads past the frame, so bytes that follow ours (a late answer) stay in the
 * socket, without the EAGAIN that would end the edge: the slot's next task reads them first,
 * woken by the edge its own reply brings. Returns 1 if t ended.
 */
static int ep_rpc_recv(struct iom_ctx *ctx, struct ep_ctx *ep, struct iom_task *t)
{
	struct ep_slot *s = &ep->slots[t->slot];
	uint64_t id;
	ssize_t n;

	for (;;) {
		if (s->skip)
			n = recv(t->fd, ep->scratch, s->skip < ep->scratch_len ? s->skip :
				 ep->scratch_len, 0);
		else
			n = recv(t->fd, (char *)t->buf + s->got, t->len - s->got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;	/* drained: the rest comes with the next edge */
		if (n <= 0)
			break;
		if (s->skip) {
			s->skip -= (uint32_t)n;
			if (!s->skip)
				ctx->stats.nr_late_replies++;
			continue;
		}
		s->got += (uint32_t)n;
		if (s->got < t->len)
			continue;
		memcpy(&id, (const char *)t->buf + offsetof(struct iom_rpc_hdr, id), sizeof(id));
		if (id == t->id) {
			ep_rpc_done(ctx, ep, t, iom_rpc_result(t->buf, t->len, t->len));
			return 1;
		}
		ctx->stats.nr_late_replies++;
		s->got = 0;
	}
	/* The backend closed (a short answer, or none) or the connection failed. */
	ep_rpc_done(ctx, ep, t, n < 0 ? -errno : s->got ? (int64_t)s->got : -ECONNRESET);
	return 1;
}

/* An event on slot's socket; returns 1 if it ended a task. */
static int ep_sock_event(struct iom_ctx *ctx, struct ep_ctx *ep, uint32_t slot, uint32_t events)
{
	struct ep_slot *s = &ep->slots[slot];
	struct iom_task *t = &ctx->tasks[slot];
	bool running = s->state == EP_RUNNING;
	int ret;

	if (s->want_out && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		ret = ep_rpc_flush(ctx, ep, slot, running ? t : NULL);
		if (ret && running) {
			ep_rpc_done(ctx, ep, t, ret);
			return 1;
		}
		if (ret) {
			/* Nobody waits for the rest: the next task's send meets the error. */
			free(s->stale);
			s->stale = NULL;
		}
	}
	/*
	 * Until the whole request is out no reply to it can come: what is readable now is a late
	 * answer, read when our own reply's arrival brings the next edge. (An idle slot leaves
	 * late answers in the socket the same way, for its next task.)
	 */
	if (!running || s->stale || s->sent < t->len ||
	    !(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return 0;
	return ep_rpc_recv(ctx, ep, t);
}

static int ep_submit(struct iom_ctx *ctx, struct iom_task *t)
{
	struct ep_ctx *ep = ctx->priv;
	struct ep_slot *s = &ep->slots[t->slot];
	static const uint64_t one = 1;
	uint64_t key = 0;

	switch (t->op) {
	case IOM_OP_NOP:
		if (s->efd < 0)
			return iom_err_set(&ctx->err, -EINVAL, "epoll: a nop in a cell without "
					   "eventfds");
		if (write(s->efd, &one, sizeof(one)) != (ssize_t)sizeof(one))
			return iom_err_set(&ctx->err, -errno, "epoll: eventfd write");
		break;
	case IOM_OP_TIMER:
		key = t->t_submit_ns + t->latency_ns;
		break;
	case IOM_OP_RPC: {
		int ret;

		/* Only the send: the reply is waited for with EPOLLIN, never tried for now. */
		s->sent = s->got = 0;
		ret = ep_rpc_flush(ctx, ep, t->slot, t);
		if (ret) {
			/* A broken connection fails this task; the cell goes on, on a new one. */
			if (iom_rpc_conn_broken(ret, t->len))
				ep_rpc_reconnect(ctx, ep, t->slot);
			ctx->now_ns = iom_ctx_now(ctx);
			iom_task_finish_owned(t, ret, IOM_CAUSE_OP, ctx->now_ns);
			return IOM_Q_DONE;
		}
		break;
	}
	default:
		return iom_err_set(&ctx->err, -EOPNOTSUPP, "epoll: op %d", t->op);
	}
	/* Whichever comes first ends the task: one heap entry, at the earlier time. */
	if (t->deadline_ns && (!key || t->deadline_ns < key))
		key = t->deadline_ns;
	/* No syscall: the next reap's wait ends at the heap's first key. */
	if (key)
		iom_slot_heap_push(&ep->heap, t->slot, key);
	s->state = EP_RUNNING;
	return IOM_Q_QUEUED;
}

/*
 * Whether t's operation had finished by time at_ns. A nop is done when submit's write returns;
 * a timer when its end has come. An rpc still in flight is not done: its reply would have
 * ended it (ep_rpc_recv) and taken it out of the heap.
 */
static bool ep_op_done_by(const struct iom_task *t, uint64_t at_ns)
{
	return t->op == IOM_OP_NOP ||
	       (t->op == IOM_OP_TIMER && t->t_submit_ns + t->latency_ns <= at_ns);
}

/*
 * t's op fd fired, or its heap key is due: decide, and report. Whichever of op and deadline
 * came first wins; for a timer both times are known, and comparing them (rather than
 * trusting the order of wake-ups) keeps the rule "an op that finished before its deadline is
 * COMPLETED even if reaped after it".
 */
static void ep_finish(struct iom_ctx *ctx, struct ep_ctx *ep, struct iom_task *t,
		      bool by_event)
{
	struct ep_slot *s = &ep->slots[t->slot];

	iom_slot_heap_del(&ep->heap, t->slot);
	if (t->deadline_ns && !ep_op_done_by(t, t->deadline_ns)) {
		/*
		 * rpc: the batch's events are read before the heap is popped, so a reply that was
		 * in when epoll_pwait2 returned has ended its task already (ep_rpc_done: in time,
		 * or EXPIRED with a late answer).
		 */
		if (t->op == IOM_OP_RPC)
			ep_rpc_abandon(s, t);
		iom_task_finish_owned(t, -ETIME, IOM_CAUSE_DEADLINE, ctx->now_ns);
	} else {
		/* A nop ended by its deadline's heap entry: its eventfd still holds the write. */
		if (!by_event && s->efd >= 0)
			ep_drain(s->efd);
		iom_task_finish_owned(t, 0, IOM_CAUSE_OP, ctx->now_ns);
	}
	s->state = EP_IDLE;
	iom_complete(ctx, t);
}

/* One event; returns 1 if it ended a task. */
static int ep_event(struct iom_ctx *ctx, struct ep_ctx *ep, const struct epoll_event *ev)
{
	uint32_t slot = (uint32_t)ev->data.u64;
	struct ep_slot *s;

	if (slot >= ep->nr_slots)
		return 0;
	if ((enum ep_kind)(ev->data.u64 >> 32) == EP_KIND_SOCK)
		return ep_sock_event(ctx, ep, slot, ev->events);
	s = &ep->slots[slot];
	/*
	 * A slot that is idle or cancelled had its eventfd drained when its task ended, and a
	 * read that finds nothing (EAGAIN) is no completion: only a write made for the task in
	 * flight can end it.
	 */
	if (s->state != EP_RUNNING || !ep_drain(s->efd))
		return 0;
	ep_finish(ctx, ep, &ctx->tasks[slot], true);
	return 1;
}

/*
 * Every task whose key (its end, or its deadline if earlier) is at or before the batch's clock
 * reading ends now, at most room of them: no task can end before its time, whatever woke us.
 */
static unsigned int ep_pop_due(struct iom_ctx *ctx, struct ep_ctx *ep, unsigned int room)
{
	unsigned int done = 0;

	while (done < room && ep->heap.nr && iom_slot_heap_key_at(&ep->heap, 0) <= ctx->now_ns) {
		ep_finish(ctx, ep, &ctx->tasks[ep->heap.heap[0]], false);
		done++;
	}
	return done;
}

static int ep_reap(struct iom_ctx *ctx, unsigned int min, unsigned int max, uint64_t timeout_ns)
{
	struct ep_ctx *ep = ctx->priv;
	/* The driver computed timeout_ns from its last reading: ending by it never overshoots. */
	uint64_t start_ns = ctx->now_ns ? ctx->now_ns : iom_now_ns();
	uint64_t end_ns = timeout_ns > UINT64_MAX - start_ns ? UINT64_MAX : start_ns + timeout_ns;
	unsigned int done = 0;

	/* Cancelled tasks first: ->cancel() finished them, only ->reap() may report them. */
	while (ep->nr_cancelled && done < max) {
		struct iom_task *t = &ctx->tasks[ep->cancelled[--ep->nr_cancelled]];

		ep->slots[t->slot].state = EP_IDLE;
		iom_complete(ctx, t);
		done++;
	}
	ctx->now_ns = iom_ctx_now(ctx);
	while (done < max) {
		unsigned int room = max - done < ep->nr_events ? max - done : ep->nr_events;
		struct timespec ts = { 0 }, *tsp = &ts;
		bool wait = done < min && timeout_ns;
		/* The wait ends at the driver's timeout or the first task due, whichever is first. */
		uint64_t until = ep->heap.nr && iom_slot_heap_key_at(&ep->heap, 0) < end_ns ?
					 iom_slot_heap_key_at(&ep->heap, 0) : end_ns;
		int n;

		/*
		 * Nanoseconds (epoll_wait's milliseconds would round every wait up; before 5.11 they
		 * must), relative to a reading taken before the call: it ends at or after `until`.
		 */
		if (wait && until == UINT64_MAX)
			tsp = NULL;
		else if (wait)
			ts = iom_ts(until > ctx->now_ns ? until - ctx->now_ns : 0);
		n = iom_epoll_wait_ns(ep->epfd, ep->events, (int)room, tsp, ep->pwait2);
		ctx->stats.nr_enter++;
		if (n < 0 && errno != EINTR)
			return iom_err_set(&ctx->err, -errno, "epoll: %s",
					   ep->pwait2 ? "epoll_pwait2" : "epoll_pwait");
		ctx->now_ns = iom_ctx_now(ctx);	/* one timestamp per reaped batch */
		for (int i = 0; i < n; i++)
			done += ep_event(ctx, ep, &ep->events[i]);
		done += ep_pop_due(ctx, ep, max - done);
		if (n < 0 || done >= min || !wait || ctx->now_ns >= end_ns)
			break;	/* (n < 0: a signal, which the driver looks at) */
	}
	return (int)done;
}

/*
 * From the submitter, like every call here. The task leaves the heap and ends now; ->reap() reports it, since the driver takes reports
 * from there only. An op that had already finished won the race and stays COMPLETED, as a
 * uring op whose CQE is in before the cancel; a deadline already past makes it EXPIRED.
 */
static int ep_cancel(struct iom_ctx *ctx, struct iom_task *t)
{
	struct ep_ctx *ep = ctx->priv;
	struct ep_slot *s = &ep->slots[t->slot];
	uint64_t now = iom_now_ns();

	if (s->state != EP_RUNNING)
		return 0;
	iom_slot_heap_del(&ep->heap, t->slot);
	if (s->efd >= 0)
		ep_drain(s->efd);
	if (t->deadline_ns && t->deadline_ns <= now && !ep_op_done_by(t, t->deadline_ns))
		iom_task_finish_owned(t, -ETIME, IOM_CAUSE_DEADLINE, now);
	else if (ep_op_done_by(t, now))
		iom_task_finish_owned(t, 0, IOM_CAUSE_OP, now);
	else
		iom_task_finish_owned(t, -ECANCELED, IOM_CAUSE_CANCEL, now);
	if (t->op == IOM_OP_RPC)
		ep_rpc_abandon(s, t);
	s->state = EP_CANCELLED;
	ep->cancelled[ep->nr_cancelled++] = t->slot;
	return 0;
}

static void ep_teardown(struct iom_ctx *ctx)
{
	ep_free(ctx->priv);
	ctx->priv = NULL;
}

const struct iom_model iom_model_epoll = {
	.name = "epoll",
	.desc = "non-blocking fds, one epoll loop per submitter (async by readiness)",
	.caps = IOM_CAP_ASYNC | IOM_CAP_CANCEL | IOM_CAP_DEADLINE |
		IOM_CAP_CTX_CLOCK,
	.probe = ep_probe,
	.setup = ep_setup,
	.submit = ep_submit,
	.reap = ep_reap,
	.cancel = ep_cancel,
	.teardown = ep_teardown,
	.waits = "one loop, readiness then a call",
	.domains = "2: the loop, the fd",
	.task_id = "the fd / slot the submitter registered (an rpc connection, a timer heap entry)",
	.completion = "readiness: epoll_wait says an fd is ready, then a non-blocking call completes it",
	.timer_waits_in = "the kernel (a timerfd)",
	.shape = IOM_SHAPE_LOOP,
};
