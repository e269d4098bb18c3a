// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/mask.h"
#include "core/rpc.h"
#include "core/slot_heap.h"
#include "uring/bufring.h"
#include "uring/rpcms.h"

#define MS_BGID		0
/* The buffer ring: one buffer holds a small frame whole; the ring never takes over 16 MiB. */
#define MS_BUF_MIN	256u
#define MS_BUF_MAX	16384u
#define MS_RING_BYTES	(16u << 20)

struct ms_slot {
	uint8_t hdr[sizeof(struct iom_rpc_hdr)];	/* the current frame's header, as it comes */
	uint32_t hdr_got;	/* bytes of it in */
	uint32_t body_left;	/* the frame's payload bytes still to come */
	uint32_t got;		/* bytes of our reply copied into the task's buffer */
	uint16_t gen;		/* the connection's generation: CQEs of a replaced one are old */
	bool own;		/* the current frame is the running task's reply */
	bool recv_armed;
	bool running;		/* a task of this slot is not yet reported */
	bool decided;		/* its terminal state is set; it waits to be reported */
	bool send_open;		/* its send may still read its buffer (a success is untold) */
	bool held;		/* decided; the report waits for the send's cancel to settle */
	bool torn;		/* the stream is out of step: a new connection before the next task */
};

struct ur_ms {
	struct io_uring *ring;
	struct ur_bufring br;
	struct ms_slot *slots;
	struct iom_slot_heap heap;	/* deadlines; a decided task waits here at key 0 */
	bool cqe_skip;
};

static unsigned int ms_pow2(unsigned int v)
{
	unsigned int p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* An SQE; a full SQ is submitted first (an enter, counted). NULL only if that failed. */
static struct io_uring_sqe *ms_sqe(struct ur_ms *ms, struct iom_ctx *ctx)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ms->ring);

	if (!sqe && io_uring_submit(ms->ring) >= 0) {
		ctx->stats.nr_enter++;
		sqe = io_uring_get_sqe(ms->ring);
	}
	return sqe;
}

static bool ms_arm(struct ur_ms *ms, struct iom_ctx *ctx, uint32_t slot)
{
	struct ms_slot *s = &ms->slots[slot];
	struct io_uring_sqe *sqe = ms_sqe(ms, ctx);

	if (!sqe)
		return false;
	io_uring_prep_recv_multishot(sqe, (int)slot, NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = MS_BGID;
	io_uring_sqe_set_data64(sqe, UR_MS_TAG_RECV | (uint64_t)s->gen << 32 | slot);
	s->recv_armed = true;
	return true;
}

static bool ms_cancel_send(struct ur_ms *ms, struct iom_ctx *ctx, const struct iom_task *t)
{
	struct io_uring_sqe *sqe = ms_sqe(ms, ctx);

	if (!sqe)
		return false;
	io_uring_prep_cancel64(sqe, t->id | UR_MS_TAG_SEND, 0);
	io_uring_sqe_set_data64(sqe, t->id | UR_MS_TAG_SEND | UR_MS_TAG_CANCEL);
	return true;
}

/*
 * The slot's stream is out of step (a send or reply cut short) or ended: as a client's pool
 * does, a new connection in the registered file's place. Shutting the old socket ends its
 * multishot recv (which holds the file); its last CQEs carry the old generation. If the backend
 * cannot be reached the old socket stays, torn, and the slot's next task fails on it.
 *
 * SQEs still in the SQ are submitted first: a fixed file is looked up when its SQE is issued,
 * so a recv re-armed for the old generation and issued after the update would read the new
 * connection under the old tag, and its bytes would be dropped as old news (the next frame
 * then starts mid-payload: FAILED -EBADMSG, 1 cell in ~40 of test_rpc_deadline_cuts_big_frames).
 */
static void ms_reconnect(struct ur_ms *ms, struct iom_ctx *ctx, uint32_t slot)
{
	struct ms_slot *s = &ms->slots[slot];
	struct iom_task *t = &ctx->tasks[slot];
	struct iom_err err = { "" };
	int fd;

	if (io_uring_sq_ready(ms->ring)) {
		if (io_uring_submit(ms->ring) < 0)
			return;
		ctx->stats.nr_enter++;
	}
	fd = iom_rpc_connect(&ctx->wl->addr, &err);
	if (fd < 0)
		return;
	if (io_uring_register_files_update(ms->ring, slot, &fd, 1) != 1) {
		close(fd);
		return;
	}
	shutdown(t->fd, SHUT_RDWR);
	close(t->fd);
	t->fd = fd;
	s->gen++;
	s->recv_armed = s->own = s->torn = false;
	s->hdr_got = s->body_left = 0;
	ctx->stats.nr_reconnects++;
}

/* The driver gets the task back; nothing of it is left in the kernel. */
static int ms_report(struct ur_ms *ms, struct iom_ctx *ctx, uint32_t slot)
{
	struct ms_slot *s = &ms->slots[slot];

	iom_slot_heap_del(&ms->heap, slot);
	s->running = s->decided = s->held = s->own = false;
	s->got = 0;
	if (s->torn)
		ms_reconnect(ms, ctx, slot);
	iom_complete(ctx, &ctx->tasks[slot]);
	return 1;
}

/* A held task whose send is settled is reported. */
static int ms_settle(struct ur_ms *ms, struct iom_ctx *ctx, uint32_t slot)
{
	struct ms_slot *s = &ms->slots[slot];

	return s->held && !s->send_open ? ms_report(ms, ctx, slot) : 0;
}

/*
 * Hold a decided task until its send is settled: cancel it (or, with no SQE now, try again
 * from the heap a millisecond on).
 */
static void ms_hold(struct ur_ms *ms, struct iom_ctx *ctx, uint32_t slot)
{
	ms->slots[slot].held = true;
	iom_slot_heap_del(&ms->heap, slot);
	if (!ms_cancel_send(ms, ctx, &ctx->tasks[slot]))
		iom_slot_heap_push(&ms->heap, slot, ctx->now_ns + 1000000);
}

/* The running task ends before its reply; reported now unless its send must be settled. */
static int ms_end(struct ur_ms *ms, struct iom_ctx *ctx, uint32_t slot, int64_t res,
		  enum iom_cause cause)
{
	struct ms_slot *s = &ms->slots[slot];

	iom_task_finish_owned(&ctx->tasks[slot], res, cause, ctx->now_ns);
	s->decided = true;
	s->own = false;	/* the rest of a reply begun is skipped, never copied */
	if (!s->send_open)
		return ms_report(ms, ctx, slot);
	ms_hold(ms, ctx, slot);
	return 0;
}

/* Our whole reply is in t->buf: decide, as epoll's model, by the batch's clock. */
static int ms_reply(struct ur_ms *ms, struct iom_ctx *ctx, struct iom_task *t)
{
	iom_task_finish_result(t, iom_rpc_result(t->buf, ms->slots[t->slot].got, t->len),
			       ctx->now_ns);
	return ms_report(ms, ctx, t->slot);
}

/*
 * A frame's header is in: whose is it? The running task's reply is copied into its buffer (its
 * request is all out: the backend answers whole frames only); any other frame is skipped: the
 * late answer of a task that ended before it came, counted once here and nowhere else.
 * Returns tasks reported, or -EBADMSG: not a frame, the stream is out of step.
 */
static int ms_frame_start(struct ur_ms *ms, struct iom_ctx *ctx, uint32_t slot)
{
	struct ms_slot *s = &ms->slots[slot];
	struct iom_task *t = &ctx->tasks[slot];
	struct iom_rpc_hdr h;
	size_t need;
	char why[96];

	if (iom_rpc_frame_need(s->hdr, sizeof(s->hdr), &need, why, sizeof(why)) < 0)
		return -EBADMSG;
	memcpy(&h, s->hdr, sizeof(h));
	s->body_left = h.len;
	if (!s->running || h.id != t->id) {
		ctx->stats.nr_late_replies++;
		return 0;
	}
	s->send_open = false;	/* an answer to it: its send is done */
	if (s->decided) {
		ctx->stats.nr_late_replies++;
		return ms_settle(ms, ctx, slot);
	}
	if (need != t->len)	/* ours, of another length: skipped, and the task fails */
		return ms_end(ms, ctx, slot, -EBADMSG, IOM_CAUSE_OP);
	memcpy(t->buf, s->hdr, sizeof(h));
	s->got = sizeof(h);
	s->own = true;
	return 0;
}

/* n bytes of slot's stream: cut into frames. Returns tasks reported. */
static int ms_feed(struct ur_ms *ms, struct iom_ctx *ctx, uint32_t slot, const char *p,
		   uint32_t n)
{
	struct ms_slot *s = &ms->slots[slot];
	struct iom_task *t = &ctx->tasks[slot];
	uint16_t gen = s->gen;
	int done = 0, ret;

	/* A report may replace the connection (a torn slot): the rest of p is the old one's. */
	while (n && s->gen == gen) {
		uint32_t k;

		if (s->hdr_got < sizeof(s->hdr)) {
			k = (uint32_t)sizeof(s->hdr) - s->hdr_got;
			k = k < n ? k : n;
			memcpy(s->hdr + s->hdr_got, p, k);
			s->hdr_got += k;
			p += k;
			n -= k;
			if (s->hdr_got < sizeof(s->hdr))
				break;
			ret = ms_frame_start(ms, ctx, slot);
			if (ret < 0) {
				s->torn = true;
				if (s->running && !s->decided)
					return done + ms_end(ms, ctx, slot, ret, IOM_CAUSE_OP);
				if (!s->running)
					ms_reconnect(ms, ctx, slot);
				return done;
			}
			done += ret;
		}
		k = s->body_left < n ? s->body_left : n;
		if (s->own) {
			memcpy((char *)t->buf + s->got, p, k);
			s->got += k;
		}
		s->body_left -= k;
		p += k;
		n -= k;
		if (s->body_left)
			continue;
		s->hdr_got = 0;
		if (s->own) {
			s->own = false;
			done += ms_reply(ms, ctx, t);
		}
	}
	return done;
}

/*
 * A recv CQE. The multishot goes on while F_MORE is set; one that ended with the connection
 * still up (-ENOBUFS: the ring ran dry; or the kernel stopped it) is armed again. End of stream
 * or an error ends the slot's task, if it waits, and the connection is replaced.
 */
static int ms_recv_cqe(struct ur_ms *ms, struct iom_ctx *ctx, uint64_t ud,
		       const struct io_uring_cqe *cqe)
{
	uint32_t slot = iom_id_slot(ud);
	uint16_t gen = (uint16_t)(ud >> 32);
	struct ms_slot *s;
	int done = 0;

	if (slot >= ctx->depth)
		return 0;
	s = &ms->slots[slot];
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		if (gen == s->gen && cqe->res > 0)
			done = ms_feed(ms, ctx, slot, ur_bufring_buf(&ms->br, bid),
				       (uint32_t)cqe->res);
		ur_bufring_return(&ms->br, bid);
	}
	if (gen != s->gen || (cqe->flags & IORING_CQE_F_MORE))
		return done;
	s->recv_armed = false;
	if (cqe->res > 0 || cqe->res == -ENOBUFS) {
		ms_arm(ms, ctx, slot);
		return done;
	}
	s->torn = true;
	if (s->running && !s->decided)
		return done + ms_end(ms, ctx, slot, s->got ? (int64_t)s->got :
				     cqe->res ? cqe->res : -ECONNRESET, IOM_CAUSE_OP);
	if (!s->running)
		ms_reconnect(ms, ctx, slot);
	return done;
}

/* The slot whose running task has id, or NULL (it was reported: the CQE is old news). */
static struct ms_slot *ms_running(struct ur_ms *ms, struct iom_ctx *ctx, uint64_t id)
{
	uint32_t slot = iom_id_slot(id);

	if (slot >= ctx->depth || !ms->slots[slot].running || ctx->tasks[slot].id != id)
		return NULL;
	return &ms->slots[slot];
}

/*
 * A send's CQE: a failure (or, where successes are not skipped, its success). A failed send may
 * have put part of the frame on the wire: the connection is replaced.
 */
static int ms_send_cqe(struct ur_ms *ms, struct iom_ctx *ctx, uint64_t ud,
		       const struct io_uring_cqe *cqe)
{
	struct ms_slot *s = ms_running(ms, ctx, ud & ~UR_MS_TAG_SEND);
	uint32_t slot = iom_id_slot(ud);
	struct iom_task *t = &ctx->tasks[slot];

	if (!s)
		return 0;
	s->send_open = false;
	if (cqe->res == (int)t->len)
		return ms_settle(ms, ctx, slot);
	s->torn = true;
	if (!s->decided)
		return ms_end(ms, ctx, slot, cqe->res < 0 ? cqe->res : -EPIPE, IOM_CAUSE_OP);
	return ms_settle(ms, ctx, slot);
}

/*
 * The cancel of a held task's send: -ENOENT, it was done (a success, skipped); 0, it was cut
 * and its failure CQE comes; -EALREADY, it is running in io-wq: the socket is shut down (the
 * send ends) and the cancel asked again. A cut send may have sent part of its frame.
 */
static int ms_cancel_cqe(struct ur_ms *ms, struct iom_ctx *ctx, uint64_t ud,
			 const struct io_uring_cqe *cqe)
{
	struct ms_slot *s = ms_running(ms, ctx, ud & ~(UR_MS_TAG_SEND | UR_MS_TAG_CANCEL));
	uint32_t slot = iom_id_slot(ud);
	struct iom_task *t = &ctx->tasks[slot];

	if (!s || !s->held)
		return 0;
	if (cqe->res == 0)
		s->torn = true;
	if (cqe->res == -EALREADY) {
		s->torn = true;
		shutdown(t->fd, SHUT_RDWR);
		if (!ms_cancel_send(ms, ctx, t))
			iom_slot_heap_push(&ms->heap, slot, ctx->now_ns + 1000000);
		return 0;
	}
	if (cqe->res != 0)
		s->send_open = false;
	return ms_settle(ms, ctx, slot);
}

int ur_ms_cqe(struct ur_ms *ms, struct iom_ctx *ctx, const struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);

	if (ud & UR_MS_TAG_RECV)
		return ms_recv_cqe(ms, ctx, ud, cqe);
	if (ud & UR_MS_TAG_CANCEL)
		return ms_cancel_cqe(ms, ctx, ud, cqe);
	if (ud & UR_MS_TAG_SEND)
		return ms_send_cqe(ms, ctx, ud, cqe);
	return 0;
}

int ur_ms_submit(struct ur_ms *ms, struct iom_ctx *ctx, struct iom_task *t)
{
	struct ms_slot *s = &ms->slots[t->slot];
	struct io_uring_sqe *sqe;

	if (s->torn)
		ms_reconnect(ms, ctx, t->slot);
	if (!s->recv_armed && !ms_arm(ms, ctx, t->slot))
		return IOM_Q_BUSY;
	sqe = ms_sqe(ms, ctx);
	if (!sqe)
		return IOM_Q_BUSY;
	/*
	 * MSG_WAITALL: a send cut short is a failure, so it posts its CQE even where a success's
	 * is skipped (the connection is then out of step).
	 */
	io_uring_prep_send(sqe, (int)t->slot, t->buf, t->len, MSG_NOSIGNAL | MSG_WAITALL);
	sqe->flags |= IOSQE_FIXED_FILE;
	if (ms->cqe_skip)
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(sqe, t->id | UR_MS_TAG_SEND);
	s->running = s->send_open = true;
	s->decided = s->held = false;
	s->got = 0;
	if (t->deadline_ns)
		iom_slot_heap_push(&ms->heap, t->slot, t->deadline_ns);
	return IOM_Q_QUEUED;
}

/*
 * Due by the batch's clock: a task past its deadline (its reply, had it come, was read before
 * this), a cancelled one to report, a held one whose cancel found no SQE.
 */
int ur_ms_batch_end(struct ur_ms *ms, struct iom_ctx *ctx)
{
	int done = 0;

	while (ms->heap.nr && iom_slot_heap_key_at(&ms->heap, 0) <= ctx->now_ns) {
		uint32_t slot = ms->heap.heap[0];
		struct ms_slot *s = &ms->slots[slot];

		iom_slot_heap_del(&ms->heap, slot);
		if (s->held)
			ms_hold(ms, ctx, slot);
		else if (s->decided)
			done += ms_report(ms, ctx, slot);
		else
			done += ms_end(ms, ctx, slot, -ETIME, IOM_CAUSE_DEADLINE);
	}
	ur_bufring_publish(&ms->br);
	return done;
}

uint64_t ur_ms_next_due(const struct ur_ms *ms)
{
	return ms->heap.nr ? iom_slot_heap_key_at(&ms->heap, 0) : UINT64_MAX;
}

/* As epoll's cancel: EXPIRED if the deadline has passed, else ABORTED; reported by ->reap(). */
int ur_ms_cancel(struct ur_ms *ms, struct iom_ctx *ctx, struct iom_task *t)
{
	struct ms_slot *s = &ms->slots[t->slot];
	uint64_t now = iom_now_ns();

	if (!s->running || s->decided)
		return 0;
	if (t->deadline_ns && t->deadline_ns <= now)
		iom_task_finish_owned(t, -ETIME, IOM_CAUSE_DEADLINE, now);
	else
		iom_task_finish_owned(t, -ECANCELED, IOM_CAUSE_CANCEL, now);
	s->decided = true;
	s->own = false;
	if (s->send_open) {
		ms_hold(ms, ctx, t->slot);
	} else {
		iom_slot_heap_del(&ms->heap, t->slot);
		iom_slot_heap_push(&ms->heap, t->slot, 0);
	}
	return 0;
}

/*
 * Probe on the ring itself: a multishot recv from the buffer ring on a socket pair must bring
 * one byte and stay armed (F_MORE). -EINVAL: the kernel has buffer rings but no multishot recv.
 */
static int ms_probe(struct ur_ms *ms)
{
	struct __kernel_timespec ts = { .tv_sec = 1 };
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int sv[2], ret, res;
	unsigned int flags;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	sqe = io_uring_get_sqe(ms->ring);
	io_uring_prep_recv_multishot(sqe, sv[0], NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = MS_BGID;
	io_uring_sqe_set_data64(sqe, 0);
	ret = write(sv[1], "x", 1) == 1 ? 0 : -EIO;
	if (!ret)
		ret = io_uring_submit_and_wait_timeout(ms->ring, &cqe, 1, &ts, NULL);
	if (ret < 0) {
		close(sv[0]);
		close(sv[1]);
		return ret;
	}
	res = cqe->res;
	flags = cqe->flags;
	io_uring_cqe_seen(ms->ring, cqe);
	if (flags & IORING_CQE_F_BUFFER) {
		ur_bufring_return(&ms->br, flags >> IORING_CQE_BUFFER_SHIFT);
		ur_bufring_publish(&ms->br);
	}
	/* End it: the peer's FIN is its last CQE (no F_MORE). */
	shutdown(sv[1], SHUT_WR);
	while ((flags & IORING_CQE_F_MORE) &&
	       io_uring_submit_and_wait_timeout(ms->ring, &cqe, 1, &ts, NULL) == 0) {
		flags = cqe->flags;
		io_uring_cqe_seen(ms->ring, cqe);
	}
	close(sv[0]);
	close(sv[1]);
	return res == 1 ? 0 : res < 0 ? res : -EINVAL;
}

void ur_ms_free(struct ur_ms *ms)
{
	if (!ms)
		return;
	ur_bufring_free(ms->ring, &ms->br);
	iom_slot_heap_free(&ms->heap);
	free(ms->slots);
	free(ms);
}

/* One buffer of the ring: a frame rounded up to a power of two, within MS_BUF_MIN..MAX. */
static unsigned int ms_buf_size(const struct iom_ctx *ctx)
{
	unsigned int size = ms_pow2(iom_rpc_frame_len(&ctx->cfg->wl));

	return size < MS_BUF_MIN ? MS_BUF_MIN : size > MS_BUF_MAX ? MS_BUF_MAX : size;
}

unsigned int ur_ms_buffers(const struct iom_ctx *ctx)
{
	unsigned int nr = ms_pow2(2 * ctx->depth), most = MS_RING_BYTES / ms_buf_size(ctx);

	if (nr > most)
		nr = most;
	return nr < 64 ? 64 : nr > 32768 ? 32768 : nr;
}

int ur_ms_setup(struct iom_ctx *ctx, struct io_uring *ring, bool cqe_skip, struct ur_ms **out)
{
	unsigned int size = ms_buf_size(ctx), nr = ur_ms_buffers(ctx);
	struct ur_ms *ms;
	int ret;

	*out = NULL;
	/* IOM_MASK: as a kernel without buffer rings (< 5.19) or multishot recv (< 6.0; the name
	 * the uring server takes for its multishot accept and recv). */
	if (iom_masked("bufring") || iom_masked("multishot"))
		return -EOPNOTSUPP;
	ms = calloc(1, sizeof(*ms));
	if (!ms)
		return -ENOMEM;
	ms->ring = ring;
	ms->cqe_skip = cqe_skip;
	ms->slots = calloc(ctx->depth, sizeof(*ms->slots));
	if (!ms->slots || iom_slot_heap_init(&ms->heap, ctx->depth)) {
		ur_ms_free(ms);
		return -ENOMEM;
	}
	ret = ur_bufring_setup(ring, &ms->br, MS_BGID, nr, size);
	if (!ret)
		ret = ms_probe(ms);
	if (ret) {
		ur_ms_free(ms);
		return ret;
	}
	*out = ms;
	return 0;
}
