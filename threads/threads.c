// SPDX-License-Identifier: MIT
/*
 * threads: the seed's Sync API. One pthread per in-flight task, each making one blocking system
 * call and sleeping until it returns: nop = the cheapest syscall, timer = clock_nanosleep to an
 * absolute time, file = pread/pwrite at the task's offset. Concurrency C is C threads (fio's
 * numjobs with psync), all made before the measured window.
 *
 * A cancel (main, past the drain's grace) only flags the task and interrupts the call; the
 * submitter's own thread ends it, so by iom_task_finish_owned (main reads the state, atomically,
 * to know when to stop signalling).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/model.h"

struct th_ctx {
	pthread_t self;
	_Atomic uint64_t cancel_id;	/* the task a cancel was asked for, 0 = none */
};

/* A cancel interrupts the blocked call with a signal whose handler does nothing. */
static void th_on_signal(int sig)
{
	(void)sig;
}

static void th_install_handler(void)
{
	struct sigaction sa = { .sa_handler = th_on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGRTMIN, &sa, NULL);
}

static int th_probe(enum iom_wl_kind wl, struct iom_err *err)
{
	return 0;
}

static int th_setup(struct iom_ctx *ctx)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct th_ctx *th = calloc(1, sizeof(*th));

	if (!th)
		return iom_err_set(&ctx->err, -ENOMEM, "threads: setup");
	th->self = pthread_self();
	/* No SA_RESTART: the blocked call must return EINTR to see the cancel. */
	pthread_once(&once, th_install_handler);
	ctx->priv = th;
	snprintf(ctx->variant, sizeof(ctx->variant), "blocking");
	return 0;
}

static bool th_cancelled(struct th_ctx *th, const struct iom_task *t)
{
	return atomic_load_explicit(&th->cancel_id, memory_order_acquire) == t->id + 1;
}

/* Sleep to an absolute time; returns the cause that ended the wait. */
static enum iom_cause th_sleep_until(struct th_ctx *th, const struct iom_task *t, uint64_t end_ns,
				     enum iom_cause at_end)
{
	struct timespec ts = iom_ts(end_ns);

	for (;;) {
		if (th_cancelled(th, t))
			return IOM_CAUSE_CANCEL;
		if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != EINTR)
			return at_end;
	}
}

/* pread/pwrite; a short transfer goes again for the rest when the policy says resubmit. */
static int64_t th_rw(struct iom_ctx *ctx, struct th_ctx *th, struct iom_task *t,
		     enum iom_cause *cause)
{
	bool resubmit = ctx->cfg->on_partial == IOM_PARTIAL_RESUBMIT;

	while (t->done_bytes < t->len) {
		char *buf = (char *)t->buf + t->done_bytes;
		size_t n = t->len - t->done_bytes;
		off_t off = (off_t)(t->offset + t->done_bytes);
		ssize_t ret = t->op == IOM_OP_READ ? pread(t->fd, buf, n, off) :
						     pwrite(t->fd, buf, n, off);

		if (ret < 0) {
			if (errno == EINTR && !th_cancelled(th, t))
				continue;
			if (errno == EINTR)
				*cause = IOM_CAUSE_CANCEL;
			return -errno;
		}
		t->done_bytes += (uint32_t)ret;
		if (ret == 0 || !resubmit)
			break;
		if (t->done_bytes < t->len)
			ctx->stats.nr_resubmit++;
	}
	return t->done_bytes;
}

/*
 * rpc: send the request, block in recv until the whole echo is back. A sync client's deadline
 * is a bounded wait: ppoll() with what is left of it, then a non-blocking recv. (SO_RCVTIMEO
 * would be one syscall less, but the kernel rounds it up to whole jiffies: 4 ms at HZ 250.)
 * An expired task's reply still arrives on this connection later: the next task reads it
 * first, sees an id that is not its own, counts a late completion and reads on.
 */
static int64_t th_rpc_recv(struct th_ctx *th, struct iom_task *t, enum iom_cause *cause,
			   size_t *got_out)
{
	size_t got = 0;

	while (got < t->len) {
		int flags = MSG_WAITALL;
		ssize_t n;

		if (t->deadline_ns) {
			uint64_t now = iom_now_ns();
			struct pollfd pfd = { .fd = t->fd, .events = POLLIN };
			struct timespec left = iom_ts(t->deadline_ns > now ? t->deadline_ns - now : 0);
			int ret = ppoll(&pfd, 1, &left, NULL);

			if (ret == 0) {
				*cause = IOM_CAUSE_DEADLINE;
				*got_out = got;
				return -ETIME;
			}
			if (ret < 0 && errno == EINTR && !th_cancelled(th, t))
				continue;
			if (ret < 0) {
				if (errno == EINTR)
					*cause = IOM_CAUSE_CANCEL;
				*got_out = got;
				return -errno;
			}
			flags = MSG_DONTWAIT;
		}
		n = recv(t->fd, (char *)t->buf + got, t->len - got, flags);
		if (n < 0 && (errno == EAGAIN || (errno == EINTR && !th_cancelled(th, t))))
			continue;
		if (n < 0) {
			if (errno == EINTR)
				*cause = IOM_CAUSE_CANCEL;
			*got_out = got;
			return -errno;
		}
		*got_out = got;
		/* The backend closed: a short answer, or none at all (as epoll reports it). */
		if (n == 0)
			return got ? (int64_t)got : -ECONNRESET;
		got += (size_t)n;
		*got_out = got;
	}
	return (int64_t)got;
}

static void th_reconnect(struct iom_ctx *ctx, struct iom_task *t)
{
	/* If the backend is gone, keep the old socket: the next task fails and says why. */
	if (!iom_rpc_reconnect(&ctx->wl->addr, &t->fd))
		ctx->stats.nr_reconnects++;
}

static int64_t th_rpc(struct iom_ctx *ctx, struct th_ctx *th, struct iom_task *t,
		      enum iom_cause *cause)
{
	struct iom_rpc_hdr h;
	size_t sent = 0;
	int64_t got;

	while (sent < t->len) {
		ssize_t n = send(t->fd, (char *)t->buf + sent, t->len - sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR && !th_cancelled(th, t))
			continue;
		if (n < 0) {
			int e = errno;

			if (e == EINTR)
				*cause = IOM_CAUSE_CANCEL;
			/* A torn request, or a connection that failed: the slot needs a new one. */
			if (sent > 0 || e != EINTR)
				th_reconnect(ctx, t);
			return -e;
		}
		sent += (size_t)n;
	}
	for (;;) {
		size_t part = 0;

		got = th_rpc_recv(th, t, cause, &part);
		/*
		 * Given up in the middle of a reply: the rest of it is still coming and would be
		 * read as the start of the next one. A real client closes such a connection;
		 * so do we, and the slot gets a fresh one.
		 */
		if ((got < 0 && part > 0) ||
		    (*cause == IOM_CAUSE_OP && iom_rpc_conn_broken(got, t->len)))
			th_reconnect(ctx, t);
		if (got < (int64_t)t->len)
			return got;
		memcpy(&h, t->buf, sizeof(h));
		if (h.id == t->id)
			return iom_rpc_result(t->buf, got, t->len);
		ctx->stats.nr_late_replies++;	/* an earlier, expired task's answer */
	}
}

static int th_submit(struct iom_ctx *ctx, struct iom_task *t)
{
	struct th_ctx *th = ctx->priv;
	enum iom_cause cause = IOM_CAUSE_OP;
	int64_t res = 0;
	uint64_t end;

	switch (t->op) {
	case IOM_OP_NOP:
		/* The cheapest real system call: the sync model's cost floor. */
		syscall(SYS_getppid);
		break;
	case IOM_OP_TIMER:
		end = t->t_submit_ns + t->latency_ns;
		/* A sync caller with a timeout stops waiting at its deadline: EXPIRED. */
		if (t->deadline_ns && t->deadline_ns < end)
			cause = th_sleep_until(th, t, t->deadline_ns, IOM_CAUSE_DEADLINE);
		else
			cause = th_sleep_until(th, t, end, IOM_CAUSE_OP);
		res = cause == IOM_CAUSE_OP ? 0 : -ETIME;
		break;
	case IOM_OP_READ:
	case IOM_OP_WRITE:
		res = th_rw(ctx, th, t, &cause);
		break;
	case IOM_OP_RPC:
		res = th_rpc(ctx, th, t, &cause);
		break;
	}
	ctx->now_ns = iom_ctx_now(ctx);
	ctx->stats.nr_enter++;
	/*
	 * A blocking pread cannot be abandoned: past its deadline it ends EXPIRED, late. Nor can
	 * a reply ppoll saw in time but the thread read after the deadline (it was off CPU).
	 */
	if (cause == IOM_CAUSE_OP && t->deadline_ns && ctx->now_ns > t->deadline_ns &&
	    (t->op == IOM_OP_READ || t->op == IOM_OP_WRITE || t->op == IOM_OP_RPC)) {
		iom_task_finish_owned(t, -ETIME, IOM_CAUSE_DEADLINE, ctx->now_ns);
		iom_task_finish_owned(t, res, IOM_CAUSE_OP, ctx->now_ns);
		return IOM_Q_DONE;
	}
	iom_task_finish_owned(t, res, cause, ctx->now_ns);
	return IOM_Q_DONE;
}

/* From another thread: the submitter is blocked inside t's call. */
static int th_cancel(struct iom_ctx *ctx, struct iom_task *t)
{
	struct th_ctx *th = ctx->priv;

	atomic_store_explicit(&th->cancel_id, t->id + 1, memory_order_release);
	/*
	 * The signal can land between the submitter's flag check and its syscall; send it again
	 * until the task has ended (bounded: 1000 x 1 ms).
	 */
	for (int i = 0; i < 1000; i++) {
		if (iom_state_terminal(atomic_load(&t->state)) || pthread_kill(th->self, SIGRTMIN))
			return 0;
		usleep(1000);
	}
	return -ETIMEDOUT;
}

static void th_teardown(struct iom_ctx *ctx)
{
	free(ctx->priv);
	ctx->priv = NULL;
}

const struct iom_model iom_model_threads = {
	.name = "threads",
	.desc = "blocking syscalls, one pthread per in-flight task (sync)",
	.caps = IOM_CAP_CANCEL | IOM_CAP_DEADLINE |
		IOM_CAP_CTX_CLOCK,
	.probe = th_probe,
	.setup = th_setup,
	.submit = th_submit,
	.cancel = th_cancel,
	.teardown = th_teardown,
	.waits = "a blocked thread per task",
	.domains = "1: the connection (thread)",
	.task_id = "none: the blocked call returns the result to its thread",
	.completion = "block: the thread sleeps in the syscall until it returns",
	.timer_waits_in = "its client's thread (clock_nanosleep to an absolute time)",
	.shape = IOM_SHAPE_THREAD_PER_TASK,
};
