// SPDX-License-Identifier: MIT
/*
 * uring: the seed's Async API in the kernel. Each submitter owns one ring; a task is an SQE whose
 * user_data is the task id; the submitter keeps going and reaps CQEs later. Best practice as in
 * DESIGN §5: SINGLE_ISSUER|DEFER_TASKRUN with a fallback ladder, submit and wait in one
 * io_uring_enter, drain every ready CQE, registered ring fd and files (and buffers for O_DIRECT),
 * a deadline as a linked timeout at the task's absolute deadline.
 *
 * Timer tasks (--uring-timer). heap, the default: no SQE per task; the submitter keeps a min-heap
 * of due times (a task's end, or its deadline if earlier) and one IORING_OP_TIMEOUT per ring,
 * absolute, armed at the first key, the way epoll's model keeps its one timerfd: one hrtimer
 * expiry and one CQE end every task due, and the clock, read after every reap, decides which.
 * op: one TIMEOUT per task (and a LINK_TIMEOUT per deadline), each its own hrtimer; at small D,
 * where the batch's timers cannot share an expiry, each its own interrupt. Measured (kernel 6.18,
 * 2-vCPU VM shared with other jobs, --cpus 0, 2-3 runs each; tasks/s, CPU per task, and for
 * 50k tasks the local-timer interrupts):
 *
 *   timer            op                       heap                     (epoll)
 *   D=10us C=16      49k-59k 15.6-17.1us      295k-339k 2.2-2.8us      248k-308k 2.8-3.3us
 *                    46.5k-47.5k interrupts   3.2k-3.4k interrupts     3.2k-3.4k interrupts
 *   D=100us C=16     93k-100k 2.0-2.3us       93k-98k 1.75-1.92us      92k-98k 1.9-2.1us
 *   D=1ms C=1024     631k-662k 0.59-0.88us    893k-927k 0.09-0.10us    905k-911k 0.10us
 *
 * heap is kept as the default. When the first key moves earlier while the TIMEOUT is armed (a
 * shorter task came in: open loop, varied D), a TIMEOUT_UPDATE moves it. Arming a second one
 * and letting the stale one fire was measured against it (open loop 20k/s, exp and bimodal D,
 * 0.5k-3k re-arms per 22k-44k tasks: 20-27 vs 19-27 us CPU per task, within noise; the stale
 * expiry is its own task's due time, so it seldom wakes anyone for nothing); the update keeps one
 * TIMEOUT in flight, and so a CQ bound.
 */
#include <errno.h>
#include <liburing.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mask.h"
#include "core/model.h"
#include "core/slot_heap.h"
#include "uring/ladder.h"
#include "uring/rpcms.h"
#include "uring/uring.h"

/* Tags in user_data beside the task id (ids use bits 0..61). */
#define UR_TAG_LINK	(1ull << 63)	/* the CQE of a task's linked deadline timeout */
#define UR_TAG_CANCEL	(1ull << 62)	/* the CQE of an ASYNC_CANCEL we sent */
#define UR_TAG_SEND	(1ull << 61)	/* rpc: the CQE of the request's send */
/* --uring-timer heap: the one armed TIMEOUT, and its updates (two tags: no task CQE has both). */
#define UR_UD_ARM	(UR_TAG_LINK | UR_TAG_CANCEL)
#define UR_UD_REARM	(UR_TAG_LINK | UR_TAG_CANCEL | 1)


struct ur_slot {
	struct __kernel_timespec timer_ts;	/* IORING_OP_TIMEOUT reads it at submit */
	struct __kernel_timespec deadline_ts;	/* LINK_TIMEOUT, absolute */
	int64_t op_res;
	int32_t send_res;			/* rpc: the send's result */
	uint8_t cqes_due;			/* 1, or 2 with a linked deadline */
	uint8_t cancel_tries;			/* cancels that found nothing yet (ur_cancel_ops) */
	bool deadline_fired, cancel_asked;
};

struct ur_ctx {
	struct io_uring ring;
	struct ur_slot *slots;
	unsigned int nr_unsubmitted;	/* SQEs prepared since the last enter */
	uint64_t nr_submit_enters;	/* enters made to free SQ room (beside the reaps') */
	bool fixed_file, fixed_bufs, reg_ring;
	bool fixed_sockets;			/* rpc: slot i's connection is fixed file i */
	/*
	 * --uring-timer heap, timer workload (heap is NULL otherwise): the timer tasks' slots by
	 * key (end, or deadline if earlier), a binary min-heap, and one TIMEOUT armed at or
	 * before the first key. Only the submitter touches them, as it alone touches the ring.
	 */
	struct iom_slot_heap heap;
	bool armed;				/* the TIMEOUT's CQE is still to come */
	uint64_t armed_ns;			/* when it fires */
	struct __kernel_timespec arm_ts;	/* the kernel copies it when it takes the SQE */
	bool sqpoll, cqe_skip;
	/* A NOP task's SQE but its user_data, prepared once: ur_submit copies it. */
	struct io_uring_sqe nop_sqe;
	/*
	 * Every SQE of the ring holds nop_sqe but for its user_data (a NOP cell, filled at setup;
	 * the kernel only reads SQEs): a NOP task writes its id alone. Any other SQE made clears
	 * it (ur_get_sqe, ur_submit's general path), for good.
	 */
	bool sqes_nop;
	/* A NOP cell: its waits need no timeout, its batches go by ur_submit_nops. */
	bool nop_cell;
	unsigned int iowq_max;			/* io-wq workers capped at this (0: not capped) */
	int arm_err;				/* an update that failed other than by a race */
	struct ur_ms *ms;			/* rpc: the multishot path (NULL: linked) */
};

static int ur_probe(enum iom_wl_kind wl, struct iom_err *err)
{
	static const int ops[] = { IORING_OP_NOP, IORING_OP_TIMEOUT, IORING_OP_LINK_TIMEOUT,
				   IORING_OP_READ, IORING_OP_WRITE, IORING_OP_ASYNC_CANCEL,
				   IORING_OP_SEND, IORING_OP_RECV };
	struct io_uring_probe *probe;
	struct io_uring ring;
	int ret;

	ret = io_uring_queue_init(8, &ring, 0);
	if (ret < 0)
		return iom_err_set(err, ret, "io_uring_queue_init");
	probe = io_uring_get_probe_ring(&ring);
	if (!probe) {
		io_uring_queue_exit(&ring);
		return iom_err_set(err, -ENOSYS, "io_uring_get_probe_ring");
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (!io_uring_opcode_supported(probe, ops[i])) {
			ret = iom_err_set(err, -EOPNOTSUPP, "io_uring opcode %d", ops[i]);
			break;
		}
	}
	io_uring_free_probe(probe);
	io_uring_queue_exit(&ring);
	return ret < 0 ? ret : 0;
}

static unsigned int roundup_pow2(unsigned int v)
{
	unsigned int p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static void ur_variant(struct iom_ctx *ctx, unsigned int flags)
{
	struct ur_ctx *ur = ctx->priv;

	snprintf(ctx->variant, sizeof(ctx->variant), "%s%s%s%s%s%s%s",
		 flags & IORING_SETUP_SQPOLL ? "sqpoll+" : "",
		 flags & IORING_SETUP_SINGLE_ISSUER ? "single_issuer+" : "",
		 flags & IORING_SETUP_DEFER_TASKRUN ? "defer_taskrun+" : "",
		 flags & IORING_SETUP_COOP_TASKRUN ? "coop_taskrun+" : "",
		 ur->reg_ring ? "regring+" : "",
		 ur->fixed_file || ur->fixed_sockets ? "regfiles+" : "",
		 ur->fixed_bufs ? "fixedbufs" : "");
	/* Drop a trailing '+'. */
	if (ctx->variant[0] && ctx->variant[strlen(ctx->variant) - 1] == '+')
		ctx->variant[strlen(ctx->variant) - 1] = '\0';
	if (ur->iowq_max)
		snprintf(ctx->variant + strlen(ctx->variant), sizeof(ctx->variant) -
			 strlen(ctx->variant), "+iowq=%u", ur->iowq_max);
	if (ctx->cfg->wl.kind == IOM_WL_TIMER)
		snprintf(ctx->variant + strlen(ctx->variant), sizeof(ctx->variant) -
			 strlen(ctx->variant), "+%s", ur->heap.heap ? "timer-heap+timeout" :
			 "timeout-per-task");
	/*
	 * rpc: how replies are read (a multishot recv per connection on a buffer ring, or a
	 * linked recv per task), and what a send costs in CQEs (0 where the kernel skips a
	 * success's).
	 */
	if (ctx->cfg->wl.kind == IOM_WL_RPC)
		snprintf(ctx->variant + strlen(ctx->variant), sizeof(ctx->variant) -
			 strlen(ctx->variant), "+%s%s", ur->ms ? "multishot+bufring" : "linked",
			 ur->cqe_skip ? "+send_skip_cqe" : "");
}

/*
 * The rpc multishot path where the kernel has it (probed in ur_ms_setup) and the cell did not
 * ask for the linked one; SQPOLL keeps the linked path (its SQ room waits are there).
 */
static bool ur_rpc_multishot(const struct iom_ctx *ctx, const struct iom_uring_opts *uo)
{
	return ctx->cfg->wl.kind == IOM_WL_RPC && uo->rpc == IOM_URING_RPC_MULTISHOT && !uo->sqpoll;
}

/*
 * Room for every task's CQEs (op + deadline) and a cancel each, and on the rpc multishot path
 * one per buffer of its ring: a multishot recv whose CQE finds the CQ full is ended by the
 * kernel and must be armed again (a 256 KiB reply is 16 CQEs).
 */
static unsigned int ur_cq_entries(const struct iom_ctx *ctx, const struct iom_uring_opts *uo,
				  unsigned int per_task)
{
	unsigned int n = (per_task + 1) * ctx->depth;

	if (ur_rpc_multishot(ctx, uo))
		n += ur_ms_buffers(ctx);
	n = roundup_pow2(n);
	return n > 65536 ? 65536 : n;	/* the kernel's IORING_MAX_CQ_ENTRIES */
}

/* The ring: the first rung of the ladder this kernel takes (EINVAL: try the next one). */
static int ur_ring_init(const struct iom_ctx *ctx, struct ur_ctx *ur,
			const struct iom_uring_opts *uo, unsigned int per_task,
			unsigned int sq_entries, struct io_uring_params *p)
{
	const struct iom_cfg *cfg = ctx->cfg;
	int ret = -EINVAL;

	for (size_t i = 0; i < sizeof(ur_ladder) / sizeof(ur_ladder[0]); i++) {
		if (ur_rung_masked(ur_ladder[i]))
			continue;
		memset(p, 0, sizeof(*p));
		/*
		 * No overflow (ur_cq_entries), unless --fault cq-overflow:E asks for a CQ too
		 * small, to measure what the kernel's overflow list (FEAT_NODROP: nothing lost)
		 * costs.
		 */
		p->flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
		p->cq_entries = cfg->fault_cq_entries ? cfg->fault_cq_entries :
				 ur_cq_entries(ctx, uo, per_task);
		if (uo->sqpoll) {
			if (ur_ladder[i] & IORING_SETUP_DEFER_TASKRUN)
				continue;
			p->flags |= IORING_SETUP_SQPOLL;
			p->sq_thread_idle = 1000;
			if (cfg->cpus_set) {
				for (int c = 0; c < CPU_SETSIZE; c++)
					if (CPU_ISSET(c, &cfg->cpus)) {
						p->flags |= IORING_SETUP_SQ_AFF;
						p->sq_thread_cpu = (unsigned int)c;
						break;
					}
			}
		}
		p->flags |= ur_ladder[i];
		ret = io_uring_queue_init_params(sq_entries, &ur->ring, p);
		if (ret != -EINVAL)
			break;
	}
	return ret;
}

/* Register what the cell's tasks use: ring fd, io-wq CPUs and bound, files, buffers. */
static int ur_register(struct iom_ctx *ctx, struct ur_ctx *ur, const struct iom_uring_opts *uo)
{
	const struct iom_cfg *cfg = ctx->cfg;
	int ret;

	/* Every enter skips the fd lookup (liburing uses the registered index from now on). */
	ur->reg_ring = !iom_masked("regring") && io_uring_register_ring_fd(&ur->ring) == 1;
	if (cfg->cpus_set) {
		ret = io_uring_register_iowq_aff(&ur->ring, sizeof(cfg->cpus), &cfg->cpus);
		if (ret < 0)
			return ret;
	}
	/*
	 * io-wq capped at one worker per task in flight (bounded and unbounded alike), as the
	 * threads model has a thread per task: a punt storm (cold reads) cannot grow past what
	 * the cell asked for. The kernel's default bound is min(SQ entries, 4 x CPUs), so a
	 * cell that never hits it runs as before. Recorded in variant; a kernel without the
	 * call (< 5.15) runs uncapped.
	 */
	{
		unsigned int max_workers[2] = { ctx->depth, ctx->depth };

		ur->iowq_max = io_uring_register_iowq_max_workers(&ur->ring, max_workers) == 0 ?
				       ctx->depth : 0;
	}
	if (ctx->wl->fd >= 0) {
		ret = io_uring_register_files(&ur->ring, &ctx->wl->fd, 1);
		if (ret < 0)
			return ret;
		ur->fixed_file = true;
	}
	if (cfg->wl.kind == IOM_WL_RPC) {
		int *fds = calloc(ctx->depth, sizeof(*fds));

		if (!fds)
			return -ENOMEM;
		for (unsigned int i = 0; i < ctx->depth; i++)
			fds[i] = ctx->tasks[i].fd;
		ret = io_uring_register_files(&ur->ring, fds, ctx->depth);
		free(fds);
		if (ret < 0)
			return ret;
		ur->fixed_sockets = true;
		if (ur_rpc_multishot(ctx, uo)) {
			ret = ur_ms_setup(ctx, &ur->ring, ur->cqe_skip, &ur->ms);
			if (ret == -ENOMEM)
				return ret;
		}
	}
	if (ctx->wl->fd >= 0 && (cfg->wl.direct || uo->fixed_buffers)) {
		struct iovec *iov = calloc(ctx->depth, sizeof(*iov));

		if (!iov)
			return -ENOMEM;
		for (unsigned int i = 0; i < ctx->depth; i++) {
			iov[i].iov_base = ctx->tasks[i].buf;
			iov[i].iov_len = cfg->wl.bs;
		}
		ret = io_uring_register_buffers(&ur->ring, iov, ctx->depth);
		free(iov);
		if (ret < 0)
			return ret;
		ur->fixed_bufs = true;
	}
	return 0;
}

static int ur_setup(struct iom_ctx *ctx)
{
	const struct iom_cfg *cfg = ctx->cfg;
	const struct iom_uring_opts *uo = iom_cfg_model_opts(cfg);
	unsigned int per_task = (cfg->deadline_ns ? 2 : 1) + (cfg->wl.kind == IOM_WL_RPC);
	unsigned int sq_entries = roundup_pow2(per_task * ctx->depth);
	struct io_uring_params p;
	struct ur_ctx *ur;
	int ret;

	if (sq_entries > 32768)
		return iom_err_msg(&ctx->err, "uring: depth %u needs more than 32768 SQEs",
				   ctx->depth);
	/*
	 * --sq-entries N caps the SQ (submission then takes one enter per N SQEs); so does
	 * --fault cq-overflow:E, as the kernel wants at least as many CQ as SQ entries. The first
	 * alone is the control for the second: the same submission, a CQ with room.
	 */
	if (uo->sq_entries && sq_entries > uo->sq_entries)
		sq_entries = uo->sq_entries;
	if (cfg->fault_cq_entries && sq_entries > cfg->fault_cq_entries)
		sq_entries = cfg->fault_cq_entries;
	ur = calloc(1, sizeof(*ur));
	if (ur)
		ur->slots = calloc(ctx->depth, sizeof(*ur->slots));
	if (ur && ur->slots && cfg->wl.kind == IOM_WL_TIMER &&
	    uo->timer == IOM_URING_TIMER_HEAP) {
		if (iom_slot_heap_init(&ur->heap, ctx->depth)) {
			free(ur->slots);
			ur->slots = NULL;
		}
	}
	if (!ur || !ur->slots) {
		free(ur);
		return iom_err_set(&ctx->err, -ENOMEM, "uring: setup");
	}
	ret = ur_ring_init(ctx, ur, uo, per_task, sq_entries, &p);
	if (ret < 0) {
		iom_slot_heap_free(&ur->heap);
		free(ur->slots);
		free(ur);
		return iom_err_set(&ctx->err, ret, "uring: io_uring_queue_init_params");
	}
	ctx->priv = ur;
	ur->sqpoll = p.flags & IORING_SETUP_SQPOLL;
	/* IOM_MASK=cqe_skip: the path of a kernel before 5.17, a send's success posts its CQE. */
	ur->cqe_skip = (p.features & IORING_FEAT_CQE_SKIP) && !iom_masked("cqe_skip");
	io_uring_prep_nop(&ur->nop_sqe);
	ret = ur_register(ctx, ur, uo);
	if (ret < 0)
		goto fail_step;
	if (cfg->wl.kind == IOM_WL_NOP) {
		for (unsigned int i = 0; i < ur->ring.sq.ring_entries; i++)
			ur->ring.sq.sqes[i] = ur->nop_sqe;
		ur->sqes_nop = true;
		ur->nop_cell = true;
	}
	ur_variant(ctx, p.flags);
	if (cfg->fault_cq_entries || uo->sq_entries)
		snprintf(ctx->variant + strlen(ctx->variant),
			 sizeof(ctx->variant) - strlen(ctx->variant), "+sq=%u,cq=%u%s", p.sq_entries,
			 p.cq_entries, p.features & IORING_FEAT_NODROP ? "+nodrop" : "");
	return 0;

fail_step:
	io_uring_queue_exit(&ur->ring);
	iom_slot_heap_free(&ur->heap);
	free(ur->slots);
	free(ur);
	ctx->priv = NULL;
	return iom_err_set(&ctx->err, ret, "uring: register");
}

/* Bounds the wait for the SQPOLL thread; a caller refused room returns busy and reaps first. */
#define UR_SQ_ROOM_TRIES	64

/*
 * Room for n SQEs, or false. Without SQPOLL a submit empties the SQ before it returns. With it,
 * the submit only hands the entries over: the kernel thread takes them when it runs, so room is
 * waited for (SQ_WAIT sleeps until the SQ is not full; the thread commits its head once per
 * batch, so a partial room is a batch in progress: yield). Not while the CQ has overflowed: an
 * older kernel's SQ thread stops taking entries until the CQ is reaped, which only we can do.
 */
static __attribute__((noinline)) bool ur_sq_room_slow(struct ur_ctx *ur, unsigned int n)
{
	ur->nr_submit_enters += !ur->sqpoll;
	if (io_uring_submit(&ur->ring) >= 0)
		ur->nr_unsubmitted = 0;
	for (unsigned int tries = 0; ur->sqpoll && tries < UR_SQ_ROOM_TRIES; tries++) {
		unsigned int left = io_uring_sq_space_left(&ur->ring);

		if (left >= n)
			return true;
		if (IO_URING_READ_ONCE(*ur->ring.sq.kflags) & IORING_SQ_CQ_OVERFLOW)
			return false;
		if (left) {
			sched_yield();
		} else {
			ur->nr_submit_enters++;
			io_uring_sqring_wait(&ur->ring);
		}
	}
	return io_uring_sq_space_left(&ur->ring) >= n;
}

/* The common case, room already there, inline: one test per task, no call. */
static inline bool ur_sq_room(struct ur_ctx *ur, unsigned int n)
{
	return io_uring_sq_space_left(&ur->ring) >= n || ur_sq_room_slow(ur, n);
}

/*
 * io_uring_get_sqe without its tests of the ring's flags at every call: the ring is never set
 * up with SQE128 (nor CQE32: ur_reap indexes CQEs the same way), and the head is read with
 * acquire whether or not an SQ thread moves it (a plain load on x86 either way).
 */
static inline struct io_uring_sqe *ur_sqe_next(struct io_uring *ring)
{
	struct io_uring_sq *sq = &ring->sq;
	unsigned int tail = sq->sqe_tail;

	if (tail + 1 - io_uring_smp_load_acquire(sq->khead) > sq->ring_entries)
		return NULL;
	sq->sqe_tail = tail + 1;
	return &sq->sqes[tail & sq->ring_mask];
}

/* An SQE, or NULL when no room could be made (the caller says busy or gives up the step). */
static struct io_uring_sqe *ur_get_sqe(struct ur_ctx *ur)
{
	ur->sqes_nop = false;	/* a cancel's, an arm's or a resubmit's SQE */
	return ur_sq_room(ur, 1) ? io_uring_get_sqe(&ur->ring) : NULL;
}

static void ur_prep_rw(struct ur_ctx *ur, struct io_uring_sqe *sqe, struct iom_task *t)
{
	void *buf = (char *)t->buf + t->done_bytes;
	unsigned int n = t->len - t->done_bytes;
	uint64_t off = t->offset + t->done_bytes;
	int fd = ur->fixed_file ? 0 : t->fd;

	if (ur->fixed_bufs) {
		if (t->op == IOM_OP_READ)
			io_uring_prep_read_fixed(sqe, fd, buf, n, off, (int)t->slot);
		else
			io_uring_prep_write_fixed(sqe, fd, buf, n, off, (int)t->slot);
	} else if (t->op == IOM_OP_READ) {
		io_uring_prep_read(sqe, fd, buf, n, off);
	} else {
		io_uring_prep_write(sqe, fd, buf, n, off);
	}
	if (ur->fixed_file)
		sqe->flags |= IOSQE_FIXED_FILE;
}

/*
 * MSG_WAITALL: the kernel sends the rest of a short send itself, and a send cut short anyway is
 * a failure, so it posts its CQE even when a success's is skipped (the bytes it got out decide
 * whether the connection is still in step).
 */
static void ur_prep_send(struct ur_ctx *ur, struct io_uring_sqe *sqe, struct iom_task *t)
{
	io_uring_prep_send(sqe, ur->fixed_sockets ? (int)t->slot : t->fd, t->buf, t->len,
			   MSG_NOSIGNAL | MSG_WAITALL);
	if (ur->fixed_sockets)
		sqe->flags |= IOSQE_FIXED_FILE;
}

/* MSG_WAITALL: one CQE for the whole echo, however the bytes arrive. */
static void ur_prep_recv(struct ur_ctx *ur, struct io_uring_sqe *sqe, struct iom_task *t)
{
	io_uring_prep_recv(sqe, ur->fixed_sockets ? (int)t->slot : t->fd, t->buf, t->len,
			   MSG_WAITALL);
	if (ur->fixed_sockets)
		sqe->flags |= IOSQE_FIXED_FILE;
}

/* Any task: ur_submit's general path. */
static __attribute__((noinline)) int ur_submit_any(struct iom_ctx *ctx, struct iom_task *t)
{
	struct ur_ctx *ur = ctx->priv;
	struct ur_slot *s = &ur->slots[t->slot];
	struct io_uring_sqe *sqe, *link;
	unsigned int nr_sqes;

	if (ur->ms && t->op == IOM_OP_RPC)
		return ur_ms_submit(ur->ms, ctx, t);
	if (ur->heap.heap && t->op == IOM_OP_TIMER) {
		/*
		 * No SQE: the task waits in the heap, and ur_reap keeps the one TIMEOUT armed at the
		 * first key. The key is the earlier of its end (submit stamp + D, as the op variant's
		 * absolute TIMEOUT) and its deadline: whichever comes first ends the task.
		 */
		uint64_t end = t->t_submit_ns + t->latency_ns;

		memset(s, 0, sizeof(*s));
		iom_slot_heap_push(&ur->heap, t->slot, t->deadline_ns && t->deadline_ns < end ?
					  t->deadline_ns : end);
		return IOM_Q_QUEUED;
	}
	/*
	 * A task, its send (rpc) and its deadline go in together or not at all. Only this thread
	 * adds SQEs and the kernel only frees them, so after the room check io_uring_get_sqe
	 * cannot return NULL for these. A task of one SQE asks io_uring_get_sqe first, which
	 * checks the room itself: no second look at the ring per task.
	 */
	nr_sqes = (t->deadline_ns ? 2u : 1u) + (t->op == IOM_OP_RPC);
	sqe = nr_sqes == 1 ? ur_sqe_next(&ur->ring) : NULL;
	if (!sqe) {
		if (!ur_sq_room(ur, nr_sqes))
			return IOM_Q_BUSY;
		sqe = ur_sqe_next(&ur->ring);
	}
	memset(s, 0, sizeof(*s));
	switch (t->op) {
	case IOM_OP_NOP:
		io_uring_prep_nop(sqe);
		break;
	case IOM_OP_TIMER: {
		/*
		 * Absolute, at submit stamp + D, as the threads model's clock_nanosleep: a relative
		 * timeout would start only when the batch reaches the kernel, so the tasks late in a
		 * big batch would wait D plus the time spent preparing the ones before them.
		 * count 0: a pure timer, it fires after the time whatever else completes.
		 */
		uint64_t end = t->t_submit_ns + t->latency_ns;

		s->timer_ts.tv_sec = (long long)(end / 1000000000ull);
		s->timer_ts.tv_nsec = (long long)(end % 1000000000ull);
		io_uring_prep_timeout(sqe, &s->timer_ts, 0, IORING_TIMEOUT_ABS);
		break;
	}
	case IOM_OP_READ:
	case IOM_OP_WRITE:
		ur_prep_rw(ur, sqe, t);
		break;
	case IOM_OP_RPC:
		/*
		 * send -> recv, linked: the recv starts once the request is out. A send that
		 * succeeds posts no CQE where the kernel can skip it (else its CQE alone would
		 * satisfy a wait: an enter per task spent on nothing); a failed or short one
		 * still posts, and ur_handle_cqe counts it then.
		 */
		ur_prep_send(ur, sqe, t);
		io_uring_sqe_set_data64(sqe, t->id | UR_TAG_SEND);
		sqe->flags |= IOSQE_IO_LINK;
		ur->nr_unsubmitted++;
		if (ur->cqe_skip) {
			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
			s->send_res = (int32_t)t->len;
		} else {
			s->cqes_due++;
		}
		sqe = io_uring_get_sqe(&ur->ring);	/* space checked above */
		ur_prep_recv(ur, sqe, t);
		break;
	}
	io_uring_sqe_set_data64(sqe, t->id);
	s->cqes_due++;
	ur->nr_unsubmitted++;
	if (t->deadline_ns) {
		sqe->flags |= IOSQE_IO_LINK;
		link = io_uring_get_sqe(&ur->ring);	/* space checked above */
		s->deadline_ts.tv_sec = (long long)(t->deadline_ns / 1000000000ull);
		s->deadline_ts.tv_nsec = (long long)(t->deadline_ns % 1000000000ull);
		io_uring_prep_link_timeout(link, &s->deadline_ts, IORING_TIMEOUT_ABS);
		io_uring_sqe_set_data64(link, t->id | UR_TAG_LINK);
		s->cqes_due++;
		ur->nr_unsubmitted++;
	}
	return IOM_Q_QUEUED;
}

/* A NOP task's slot, as a NOP reads it (its timespecs are a timer's and a deadline's only). */
static inline void ur_slot_nop(struct ur_slot *s)
{
	s->op_res = 0;
	s->send_res = 0;
	s->cqes_due = 1;
	s->cancel_tries = 0;
	s->deadline_fired = false;
	s->cancel_asked = false;
}

/*
 * A NOP task without a deadline, the one SQE of a NOP cell: the template with the task's id
 * (liburing's prep stores the SQE field by field, and the general path tests for what a NOP
 * cannot have); in a NOP cell's ring the template is in every SQE already. No room: the
 * general path makes it, or says busy.
 */
static int ur_submit(struct iom_ctx *ctx, struct iom_task *t)
{
	struct ur_ctx *ur = ctx->priv;
	struct io_uring_sqe *sqe;

	sqe = t->op == IOM_OP_NOP && !t->deadline_ns ? ur_sqe_next(&ur->ring) : NULL;
	if (!sqe) {
		ur->sqes_nop = false;
		return ur_submit_any(ctx, t);
	}
	ur_slot_nop(&ur->slots[t->slot]);
	if (!ur->sqes_nop)
		*sqe = ur->nop_sqe;
	sqe->user_data = t->id;
	ur->nr_unsubmitted++;
	return IOM_Q_QUEUED;
}

/*
 * tasks[0..n) while they are NOPs without a deadline and the SQ has room, as ur_submit takes
 * them, with the ring's tail, head and SQEs and the slots read once for the batch (a store to
 * an SQE or a slot could alias them: one task at a time reloads each). Returns how many.
 */
static unsigned int ur_submit_nops(struct ur_ctx *ur, struct iom_task *const *tasks,
				   unsigned int n)
{
	struct io_uring_sq *sq = &ur->ring.sq;
	unsigned int tail = sq->sqe_tail, mask = sq->ring_mask;
	unsigned int room = sq->ring_entries - (tail - io_uring_smp_load_acquire(sq->khead));
	struct io_uring_sqe *sqes = sq->sqes;
	struct ur_slot *slots = ur->slots;
	const bool filled = ur->sqes_nop;
	unsigned int i;

	if (n > room)
		n = room;
	for (i = 0; i < n; i++) {
		const struct iom_task *t = tasks[i];
		struct io_uring_sqe *sqe = &sqes[(tail + i) & mask];

		if (t->op != IOM_OP_NOP || t->deadline_ns)
			break;
		ur_slot_nop(&slots[t->slot]);
		if (!filled)
			*sqe = ur->nop_sqe;
		sqe->user_data = t->id;
	}
	sq->sqe_tail = tail + i;
	ur->nr_unsubmitted += i;
	return i;
}

/*
 * A batch (the driver's submit_n): a NOP cell's tasks by ur_submit_nops, what it leaves (no
 * room, or not a plain NOP) by ur_submit, which makes room or says busy. Another cell's tasks
 * go one by one.
 */
static int ur_submit_n(struct iom_ctx *ctx, struct iom_task *const *tasks, unsigned int n,
		       int *why)
{
	struct ur_ctx *ur = ctx->priv;
	unsigned int i = 0;

	for (;;) {
		int ret;

		if (ur->nop_cell)
			i += ur_submit_nops(ur, tasks + i, n - i);
		if (i == n)
			return (int)n;
		ret = ur_submit(ctx, tasks[i]);
		if (ret != IOM_Q_QUEUED) {
			*why = ret;
			return (int)i;
		}
		i++;
	}
}

/*
 * rpc: a deadline or cancel cut a request or a reply in the middle (the rest of that frame
 * would be read as the start of the next one), or the connection failed or was closed by the
 * backend. As a real client does, drop the connection and give the slot a fresh one (the
 * registered file at index slot is replaced too).
 */
static void ur_rpc_reconnect(struct iom_ctx *ctx, struct ur_ctx *ur, struct iom_task *t)
{
	struct iom_err err = { "" };
	int fd = iom_rpc_connect(&ctx->wl->addr, &err);

	if (fd < 0)
		return;	/* the backend is gone: the next task fails and says why */
	if (ur->fixed_sockets && io_uring_register_files_update(&ur->ring, t->slot, &fd, 1) != 1) {
		close(fd);
		return;
	}
	close(t->fd);
	t->fd = fd;
	ctx->stats.nr_reconnects++;
}

/* rpc: the connection's fate and the task's result, from its send's and recv's CQEs. */
static int64_t ur_rpc_res(struct iom_ctx *ctx, struct iom_task *t, struct ur_slot *s)
{
	int64_t res = s->op_res;
	bool cut = s->deadline_fired || s->cancel_asked;

	if (cut && ((s->send_res > 0 && s->send_res < (int)t->len) ||
		    (s->op_res > 0 && s->op_res < (int)t->len)))
		ur_rpc_reconnect(ctx, ctx->priv, t);
	/* The connection failed, or the backend closed it: the slot's next task needs a new one. */
	if (!cut && (iom_rpc_conn_broken(s->send_res < 0 ? s->send_res : s->op_res, t->len)))
		ur_rpc_reconnect(ctx, ctx->priv, t);
	if (res == 0)
		res = -ECONNRESET;	/* end of stream before any reply byte: the backend closed */
	res = iom_rpc_result(t->buf, res, t->len);
	if (s->send_res < 0 && !s->deadline_fired)
		res = s->send_res;	/* the request never left: the recv was only cancelled */
	return res;
}

/*
 * The result of a task that is not a NOP, from its op's CQE(s): a timer's -ETIME is its
 * success unless its deadline came first; a transfer's is its bytes; an rpc's is its reply's.
 */
static __attribute__((noinline)) int64_t ur_op_res(struct iom_ctx *ctx, struct iom_task *t,
						   struct ur_slot *s)
{
	int64_t res = s->op_res;

	switch (t->op) {
	case IOM_OP_NOP:
		break;
	case IOM_OP_TIMER:
		/*
		 * A pure timeout that fires is the timer doing its job, unless its deadline came
		 * before its end: then the deadline won, whatever order the CQEs came in (when the
		 * SQEs reach the kernel after both times, the TIMEOUT may complete before its link
		 * timeout fires). Both times are known: compare them, as epoll and the heap do.
		 */
		if (res != -ETIME)
			break;
		if (t->deadline_ns && t->deadline_ns < t->t_submit_ns + t->latency_ns)
			s->deadline_fired = true;
		else
			res = 0;
		break;
	case IOM_OP_READ:
	case IOM_OP_WRITE:
		res = res < 0 ? res : (int64_t)t->done_bytes;
		break;
	case IOM_OP_RPC:
		res = ur_rpc_res(ctx, t, s);
		/*
		 * A reply taken after the deadline did not make it, whatever the link timeout did.
		 * Under DEFER_TASKRUN both the timeout's cancel and the recv's completion wait as
		 * task work for our next enter, and the recv can win it. The CQE was in at now_ns,
		 * so one taken by then was in time.
		 */
		if (t->deadline_ns && ctx->now_ns > t->deadline_ns)
			s->deadline_fired = true;
		break;
	}
	return res;
}

/*
 * The task's last CQE is in: decide why it ended and hand it back. Only the submitter reaps the
 * ring (and alone cancels), so the task ends by iom_task_finish_owned. Inline: a reaped NOP
 * spends more on a call than on its finish; its result is its CQE's.
 */
static inline __attribute__((always_inline)) void ur_finish_res(struct iom_ctx *ctx,
								struct iom_task *t,
								struct ur_slot *s, int64_t res)
{
	/* Neither a deadline nor a cancel: one test for the common case. */
	if (!(s->deadline_fired | s->cancel_asked)) {
		iom_task_finish_owned(t, res, IOM_CAUSE_OP, ctx->now_ns);
	} else if (s->deadline_fired) {
		/* The deadline won. If the op still got through (it was past cancelling), that
		 * is the Two Generals' late answer: EXPIRED, then a late completion. */
		iom_task_finish_owned(t, -ETIME, IOM_CAUSE_DEADLINE, ctx->now_ns);
		if (res >= 0)
			iom_task_finish_owned(t, res, IOM_CAUSE_OP, ctx->now_ns);
	} else if (s->cancel_asked && (res == -ECANCELED || res == -EINTR)) {
		iom_task_finish_owned(t, res, IOM_CAUSE_CANCEL, ctx->now_ns);
	} else {
		iom_task_finish_owned(t, res, IOM_CAUSE_OP, ctx->now_ns);
	}
	iom_complete(ctx, t);
}

/* The task's op result: a NOP's is its CQE's. */
static inline __attribute__((always_inline)) void ur_finish(struct iom_ctx *ctx,
							    struct iom_task *t,
							    struct ur_slot *s)
{
	ur_finish_res(ctx, t, s, t->op == IOM_OP_NOP ? s->op_res : ur_op_res(ctx, t, s));
}

/*
 * Cancel what task t has in the kernel, by user_data. rpc: the send too, while it waits for
 * room (cancelling a link's head cancels the recv after it). A send that completed at submit
 * has its linked recv issued only once that batch is done, so a cancel in the same enter finds
 * neither (-ENOENT): ur_cancel_again asks once more after that enter, when the recv is armed.
 */
static int ur_cancel_ops(struct ur_ctx *ur, struct iom_task *t)
{
	struct io_uring_sqe *sqe;

	if (t->op == IOM_OP_RPC) {
		sqe = ur_get_sqe(ur);
		if (!sqe)
			return -EBUSY;
		io_uring_prep_cancel64(sqe, t->id | UR_TAG_SEND, 0);
		io_uring_sqe_set_data64(sqe, t->id | UR_TAG_CANCEL | UR_TAG_SEND);
		ur->nr_unsubmitted++;
	}
	sqe = ur_get_sqe(ur);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_cancel64(sqe, t->id, 0);
	io_uring_sqe_set_data64(sqe, t->id | UR_TAG_CANCEL);
	ur->nr_unsubmitted++;
	return 0;
}

/* A cancel found nothing: again, while the task still waits for its ops (a few times). */
static void ur_cancel_again(struct iom_ctx *ctx, struct ur_ctx *ur, uint64_t id)
{
	uint32_t slot = iom_id_slot(id);
	struct ur_slot *s = &ur->slots[slot];

	if (slot >= ctx->depth || ctx->tasks[slot].id != id || !s->cqes_due || !s->cancel_asked ||
	    s->cancel_tries >= 8)
		return;	/* it ended (its CQE came first), or it is past cancelling */
	s->cancel_tries++;
	ur_cancel_ops(ur, &ctx->tasks[slot]);
}

/* A CQE that counts toward its task's end: the last one ends it (1), else 0. */
static inline int ur_cqe_counted(struct iom_ctx *ctx, struct iom_task *t, struct ur_slot *s)
{
	if (--s->cqes_due)
		return 0;
	ur_finish(ctx, t, s);
	return 1;
}

/* A tagged CQE: a cancel's, the heap TIMEOUT's, a send's or a deadline link's. */
static __attribute__((noinline)) int ur_handle_tagged(struct iom_ctx *ctx, struct ur_ctx *ur,
						      const struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	uint32_t slot = iom_id_slot(ud);
	struct iom_task *t;
	struct ur_slot *s;

	/* Both kinds of CQE that end no task carry UR_TAG_CANCEL. */
	if (ud & UR_TAG_CANCEL) {
		if ((ud & UR_UD_ARM) == UR_UD_ARM) {
			/* The heap's TIMEOUT: the clock, after the batch, decides which are due. */
			if (ud == UR_UD_ARM)
				ur->armed = false;
			/* An update that lost the race to the firing (-ENOENT, -EALREADY) changes
			 * nothing: the TIMEOUT's own CQE disarms it. */
			else if (cqe->res < 0 && cqe->res != -ENOENT && cqe->res != -EALREADY)
				ur->arm_err = cqe->res;
		} else if (cqe->res == -ENOENT && !(ud & UR_TAG_SEND)) {
			ur_cancel_again(ctx, ur, ud & ~UR_TAG_CANCEL);
		}
		return 0;	/* a cancel's 0 or -EALREADY: the op's own CQE tells the outcome */
	}
	if (slot >= ctx->depth)
		return 0;
	t = &ctx->tasks[slot];
	s = &ur->slots[slot];
	if (ud & UR_TAG_SEND) {
		s->send_res = cqe->res;
		/*
		 * A skipped success posts nothing, so this is a failed (or short) send, and the
		 * kernel skips the CQEs of what was linked to it as well (SKIP_LINK_CQES): the
		 * recv, cancelled, and its deadline. This CQE alone ends the task.
		 */
		if (ur->cqe_skip) {
			s->op_res = -ECANCELED;
			s->cqes_due = 1;
		}
	} else {
		/* -ETIME: the deadline fired (the op gets -ECANCELED unless it was past that). */
		if (cqe->res == -ETIME)
			s->deadline_fired = true;
	}
	return ur_cqe_counted(ctx, t, s);
}

/*
 * The op's own CQE of an rpc, read or write task: true when the task goes on (a late reply
 * received again, a short transfer resubmitted) rather than counting it.
 */
static __attribute__((noinline)) bool ur_op_goes_on(struct iom_ctx *ctx, struct ur_ctx *ur,
						    struct iom_task *t, struct ur_slot *s,
						    const struct io_uring_cqe *cqe)
{
	/*
	 * rpc: an echo with another id is the late answer of an expired task that used
	 * this connection before: count it and receive again for ours.
	 */
	if (t->op == IOM_OP_RPC && cqe->res == (int)t->len &&
	    ((const struct iom_rpc_hdr *)t->buf)->id != t->id) {
		struct io_uring_sqe *sqe = NULL;

		ctx->stats.nr_late_replies++;
		/* The recv and its deadline's link: room for both, or neither is taken. */
		if (ur_sq_room(ur, t->deadline_ns ? 2 : 1))
			sqe = io_uring_get_sqe(&ur->ring);
		if (sqe) {
			ur_prep_recv(ur, sqe, t);
			io_uring_sqe_set_data64(sqe, t->id);
			ur->nr_unsubmitted++;
			/* The deadline's link was spent on the first recv: link it again. */
			if (t->deadline_ns) {
				struct io_uring_sqe *link = io_uring_get_sqe(&ur->ring);

				sqe->flags |= IOSQE_IO_LINK;
				io_uring_prep_link_timeout(link, &s->deadline_ts,
							   IORING_TIMEOUT_ABS);
				io_uring_sqe_set_data64(link, t->id | UR_TAG_LINK);
				ur->nr_unsubmitted++;
				s->cqes_due++;
			}
			return true;
		}
		s->op_res = -EBADMSG;
	}
	if ((t->op == IOM_OP_READ || t->op == IOM_OP_WRITE) && cqe->res > 0) {
		t->done_bytes += (uint32_t)cqe->res;
		/* A short transfer: resubmit the rest (its deadline link is spent). */
		if (t->done_bytes < t->len && !s->deadline_fired &&
		    ctx->cfg->on_partial == IOM_PARTIAL_RESUBMIT) {
			struct io_uring_sqe *sqe = ur_get_sqe(ur);

			if (sqe) {
				ur_prep_rw(ur, sqe, t);
				io_uring_sqe_set_data64(sqe, t->id);
				ur->nr_unsubmitted++;
				ctx->stats.nr_resubmit++;
				return true;
			}
		}
	}
	return false;
}

/*
 * One CQE; returns 1 if it ended a task. A task's own CQE is told from the tagged ones by one
 * test, and a NOP's (the CQE is its result) by one more.
 */
static inline __attribute__((always_inline)) int ur_handle_cqe(struct iom_ctx *ctx,
							       struct ur_ctx *ur,
							       const struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	uint32_t slot = iom_id_slot(ud);
	struct iom_task *t;
	struct ur_slot *s;

	if (ud & (UR_TAG_CANCEL | UR_TAG_SEND | UR_TAG_LINK))
		return ur_handle_tagged(ctx, ur, cqe);
	if (slot >= ctx->depth)
		return 0;
	t = &ctx->tasks[slot];
	s = &ur->slots[slot];
	s->op_res = cqe->res;
	if (t->op != IOM_OP_NOP)
		return ur_op_goes_on(ctx, ur, t, s, cqe) ? 0 : ur_cqe_counted(ctx, t, s);
	/*
	 * A NOP: its result is this CQE's, at hand (op_res keeps it for a deadline's link CQE
	 * that comes after it and ends the task).
	 */
	if (--s->cqes_due)
		return 0;
	ur_finish_res(ctx, t, s, cqe->res);
	return 1;
}

/*
 * Keep the heap's one TIMEOUT armed at or before its first key. Armed earlier (its task was
 * cancelled) it wakes us once for nothing and is armed again; armed later (a shorter task came
 * in) a TIMEOUT_UPDATE moves it. The SQE goes in with the next enter. Returns false when nothing
 * will wake us by the first key (no SQE, or SQPOLL has not yet taken the last arm's timespec):
 * the wait is then bounded by the key instead.
 */
static bool ur_heap_arm(struct ur_ctx *ur)
{
	struct io_uring_sqe *sqe;
	uint64_t first;

	/* An empty heap leaves the TIMEOUT armed: a wake-up for nothing beats a remove each time. */
	if (!ur->heap.nr)
		return true;
	first = iom_slot_heap_key_at(&ur->heap, 0);
	if (ur->armed && ur->armed_ns <= first)
		return true;
	if (ur->sqpoll && io_uring_sq_ready(&ur->ring))
		return false;
	sqe = ur_get_sqe(ur);
	if (!sqe)
		return false;
	ur->arm_ts.tv_sec = (long long)(first / 1000000000ull);
	ur->arm_ts.tv_nsec = (long long)(first % 1000000000ull);
	if (ur->armed) {
		io_uring_prep_timeout_update(sqe, &ur->arm_ts, UR_UD_ARM, IORING_TIMEOUT_ABS);
		io_uring_sqe_set_data64(sqe, UR_UD_REARM);
		if (ur->cqe_skip)
			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;	/* only a failure needs a word */
	} else {
		/* count 0: a pure timer, as a timer task's own TIMEOUT in the op variant. */
		io_uring_prep_timeout(sqe, &ur->arm_ts, 0, IORING_TIMEOUT_ABS);
		io_uring_sqe_set_data64(sqe, UR_UD_ARM);
		ur->armed = true;
	}
	ur->armed_ns = first;
	ur->nr_unsubmitted++;
	return true;
}

/*
 * Every timer task whose key is at or before the batch's clock reading ends now, whatever woke
 * us, so none ends before its time. Both its times are known: COMPLETED if its end came no later
 * than its deadline, else EXPIRED (the rule epoll's heap applies). A cancelled task was decided
 * by ur_cancel and is only reported here.
 */
static int ur_heap_pop(struct iom_ctx *ctx, struct ur_ctx *ur)
{
	int done = 0;

	while (ur->heap.nr && iom_slot_heap_key_at(&ur->heap, 0) <= ctx->now_ns) {
		struct iom_task *t = &ctx->tasks[ur->heap.heap[0]];
		bool expired = t->deadline_ns && t->deadline_ns < t->t_submit_ns + t->latency_ns;

		iom_slot_heap_del(&ur->heap, t->slot);
		if (!ur->slots[t->slot].cancel_asked)
			iom_task_finish_owned(t, expired ? -ETIME : 0,
					      expired ? IOM_CAUSE_DEADLINE : IOM_CAUSE_OP,
					      ctx->now_ns);
		iom_complete(ctx, t);
		done++;
	}
	return done;
}

/* One io_uring_enter: submit what is prepared, wait up to timeout_ns for wait_nr CQEs. */
static inline __attribute__((always_inline)) int ur_enter(struct ur_ctx *ur,
							  unsigned int wait_nr,
							  uint64_t timeout_ns)
{
	struct __kernel_timespec ts = {
		.tv_sec = (long long)(timeout_ns / 1000000000ull),
		.tv_nsec = (long long)(timeout_ns % 1000000000ull),
	};
	struct io_uring_cqe *cqe;

	if (wait_nr == 0 || timeout_ns == 0)
		return io_uring_submit_and_get_events(&ur->ring);
	if (timeout_ns == UINT64_MAX)
		return io_uring_submit_and_wait(&ur->ring, wait_nr);
	return io_uring_submit_and_wait_timeout(&ur->ring, &cqe, wait_nr, &ts, NULL);
}

/*
 * After an enter: count it (and the ones made for SQ room), keep its error, take the batch's
 * one clock reading. Returns 0 or the error to give back.
 */
static inline __attribute__((always_inline)) int ur_entered(struct iom_ctx *ctx,
							    struct ur_ctx *ur, int ret)
{
	ctx->stats.nr_enter += 1 + ur->nr_submit_enters;
	ur->nr_submit_enters = 0;
	/* -ETIME, -EINTR, -EAGAIN, -EBUSY: a wait cut short, not a failure. */
	if (__builtin_expect(ret < 0, 0) && ret != -ETIME && ret != -EINTR && ret != -EAGAIN &&
	    ret != -EBUSY)
		return iom_err_set(&ctx->err, ret, "uring: io_uring_enter");
	ur->nr_unsubmitted = 0;
	ctx->now_ns = iom_ctx_now(ctx);	/* one timestamp per reaped batch */
	/* With FEAT_NODROP nothing is lost, but completions took the slow overflow path. */
	if (IO_URING_READ_ONCE(*ur->ring.sq.kflags) & IORING_SQ_CQ_OVERFLOW)
		ctx->stats.nr_cq_overflow++;
	return 0;
}

/*
 * Every ready CQE, handled; returns how many tasks they ended. The tail is read once
 * (io_uring_for_each_cqe reads it again at every CQE, with a barrier): a CQE that lands
 * meanwhile is taken by the next reap. ms is a constant at each call.
 */
static inline __attribute__((always_inline)) int ur_drain_cq(struct iom_ctx *ctx,
							     struct ur_ctx *ur, bool ms)
{
	struct io_uring_cqe *cqes = ur->ring.cq.cqes;
	unsigned int cq_mask = ur->ring.cq.ring_mask;
	unsigned int head = *ur->ring.cq.khead;
	unsigned int tail = io_uring_smp_load_acquire(ur->ring.cq.ktail);
	unsigned int nr_cqes = tail - head;
	int done = 0;

	for (; head != tail; head++) {
		const struct io_uring_cqe *cqe = &cqes[head & cq_mask];	/* no CQE32 */

		done += ms ? ur_ms_cqe(ur->ms, ctx, cqe) : ur_handle_cqe(ctx, ur, cqe);
	}
	io_uring_cq_advance(&ur->ring, nr_cqes);
	return done;
}

/*
 * A ring with neither the timer heap nor the rpc multishot path: one enter, then its CQEs.
 * Every CQE ends its task or is one of its steps, so the wait for min is the kernel's; this
 * path has no deadline of its own to compute (the driver's timeout is the enter's).
 */
static int ur_reap_once(struct iom_ctx *ctx, struct ur_ctx *ur, unsigned int min,
			uint64_t timeout_ns)
{
	int ret;

	/*
	 * A NOP completes inside the enter that submits it (or the SQ thread's pass): a wait
	 * for NOPs never outlasts that, and needs no timespec for the kernel to copy in.
	 */
	if (ur->nop_cell && min && timeout_ns)
		timeout_ns = UINT64_MAX;
	/*
	 * Always enter: under DEFER_TASKRUN nothing, not even an io-wq completion, reaches
	 * the CQ until the submitter asks with GETEVENTS. Submission rides on the same call.
	 */
	ret = ur_entered(ctx, ur, ur_enter(ur, min, timeout_ns));
	if (ret < 0)
		return ret;
	return ur_drain_cq(ctx, ur, false);
}

/*
 * The timer heap or the multishot path: their tasks end by the clock as well as by CQEs, so
 * enters go on until min tasks ended, the timeout passed or a signal came.
 */
static __attribute__((noinline)) int ur_reap_loop(struct iom_ctx *ctx, struct ur_ctx *ur,
						  unsigned int min, uint64_t timeout_ns)
{
	/* heap: the driver computed timeout_ns from its last reading; ending by it never overshoots */
	uint64_t start_ns = ctx->now_ns ? ctx->now_ns : iom_now_ns();
	uint64_t end_ns = timeout_ns > UINT64_MAX - start_ns ? UINT64_MAX : start_ns + timeout_ns;
	int ret, err, done = 0;

	for (;;) {
		unsigned int wait_nr;
		uint64_t wait_ns;

		if (ur->heap.heap) {
			/*
			 * One TIMEOUT CQE ends every task due and a timer task posts none of its
			 * own: wait for one CQE, then ask the clock (the loop goes on until min).
			 * Tasks already due: look, do not sleep.
			 */
			bool armed = ur_heap_arm(ur);
			uint64_t now = iom_now_ns();
			uint64_t first = ur->heap.nr ? iom_slot_heap_key_at(&ur->heap, 0) : 0;

			wait_nr = done < (int)min ? 1 : 0;
			wait_ns = end_ns == UINT64_MAX ? UINT64_MAX : end_ns > now ? end_ns - now : 0;
			if (ur->heap.nr && first <= now)
				wait_nr = 0;
			else if (ur->heap.nr && !armed && first - now < wait_ns)
				wait_ns = first - now;
		} else {
			/*
			 * A reply takes at least one CQE (of its connection's recv); the wait ends by
			 * the first deadline, which no CQE marks.
			 */
			uint64_t now = iom_now_ns(), first = ur_ms_next_due(ur->ms);

			wait_nr = done < (int)min ? min - (unsigned int)done : 0;
			wait_ns = end_ns == UINT64_MAX ? UINT64_MAX : end_ns > now ? end_ns - now : 0;
			if (first <= now)
				wait_nr = 0;
			else if (first - now < wait_ns)
				wait_ns = first - now;
		}
		ret = ur_enter(ur, wait_nr, wait_ns);
		err = ur_entered(ctx, ur, ret);
		if (err < 0)
			return err;
		if (ur->ms) {
			done += ur_drain_cq(ctx, ur, true);
			done += ur_ms_batch_end(ur->ms, ctx);
			if (done >= (int)min || ret == -EINTR || ctx->now_ns >= end_ns)
				break;
			continue;
		}
		done += ur_drain_cq(ctx, ur, false);
		if (ur->arm_err)
			return iom_err_set(&ctx->err, ur->arm_err, "uring: TIMEOUT_UPDATE");
		done += ur_heap_pop(ctx, ur);
		if (done >= (int)min || !ur->heap.nr || ret == -EINTR || ctx->now_ns >= end_ns)
			break;	/* (-EINTR: a signal, which the driver looks at) */
	}
	return done;
}

/*
 * Every ready CQE is drained: the CQ is sized so they all fit. (With --fault cq-overflow the
 * rest wait in the kernel's overflow list; the next enter moves them in.) The plain ring's
 * path is its own function: a call's fixed cost is paid once a task at depth 1.
 */
static int ur_reap(struct iom_ctx *ctx, unsigned int min, unsigned int max, uint64_t timeout_ns)
{
	struct ur_ctx *ur = ctx->priv;

	(void)max;
	if (ur->heap.heap || ur->ms)
		return ur_reap_loop(ctx, ur, min, timeout_ns);
	return ur_reap_once(ctx, ur, min, timeout_ns);
}

/* From the submitter only: a SINGLE_ISSUER ring refuses other threads (-EEXIST). */
static int ur_cancel(struct iom_ctx *ctx, struct iom_task *t)
{
	struct ur_ctx *ur = ctx->priv;
	struct ur_slot *s = &ur->slots[t->slot];

	if (ur->ms && t->op == IOM_OP_RPC)
		return ur_ms_cancel(ur->ms, ctx, t);
	if (ur->heap.heap && t->op == IOM_OP_TIMER) {
		/*
		 * Nothing of the task is in the kernel: it ends now, as epoll decides (a deadline
		 * already past: EXPIRED; its end already past: it won the race, COMPLETED; else
		 * ABORTED), and key 0 makes it due at once for ->reap(), the only one that reports.
		 */
		uint64_t now = iom_now_ns(), end = t->t_submit_ns + t->latency_ns;

		if (!iom_slot_heap_queued(&ur->heap, t->slot) || s->cancel_asked)
			return 0;
		if (t->deadline_ns && t->deadline_ns <= now && t->deadline_ns < end)
			iom_task_finish(t, -ETIME, IOM_CAUSE_DEADLINE, now);
		else if (end <= now)
			iom_task_finish(t, 0, IOM_CAUSE_OP, now);
		else
			iom_task_finish(t, -ECANCELED, IOM_CAUSE_CANCEL, now);
		s->cancel_asked = true;
		iom_slot_heap_del(&ur->heap, t->slot);
		iom_slot_heap_push(&ur->heap, t->slot, 0);
		return 0;
	}
	if (ur_cancel_ops(ur, t))
		return -EBUSY;
	s->cancel_asked = true;
	return 0;
}

static void ur_teardown(struct iom_ctx *ctx)
{
	struct ur_ctx *ur = ctx->priv;

	ur_ms_free(ur->ms);
	io_uring_queue_exit(&ur->ring);
	iom_slot_heap_free(&ur->heap);
	free(ur->slots);
	free(ur);
	ctx->priv = NULL;
}

const struct iom_model iom_model_uring = {
	.name = "uring",
	.desc = "io_uring SQ/CQ, user_data = task id (async by completion)",
	.caps = IOM_CAP_ASYNC | IOM_CAP_BATCH | IOM_CAP_CANCEL | IOM_CAP_DEADLINE | IOM_CAP_CQ |
		IOM_CAP_CTX_CLOCK,
	.lib = "liburing",
	.lib_version = iom_uring_lib_version,
	.opts = iom_uring_opt_table,
	.opts_size = sizeof(struct iom_uring_opts),
	.opts_defaults = &iom_uring_opts_defaults,
	.probe = ur_probe,
	.setup = ur_setup,
	.submit = ur_submit,
	.submit_n = ur_submit_n,
	.reap = ur_reap,
	.cancel = ur_cancel,
	.teardown = ur_teardown,
	.waits = "submit SQE, reap CQE",
	.domains = "3: SQ, kernel/io-wq, CQ",
	.task_id = "user_data = task id on the SQE, echoed by its CQE",
	.completion = "completion queue: the CQE, reaped by io_uring_enter(GETEVENTS)",
	.timer_waits_in = "the kernel (an io_uring TIMEOUT)",
	.shape = IOM_SHAPE_RING,
};
