/* SPDX-License-Identifier: MIT */
/*
 * The task and its state machine, shared by every model.
 *
 * SCHEDULED -> RUNNING -> COMPLETED | FAILED | ABORTED | PARTIAL_SUCCESS | EXPIRED
 *
 * Only task.c and the inlines below move a task. A task another thread may finish at the same
 * time ends by compare-and-swap, iom_task_finish(), so the race is seen exactly once as the
 * terminal state and once more as a "late completion", never as a second state. A task only one
 * thread ever finishes ends by iom_task_finish_owned(): the same rules by a plain load and
 * store, without the locked instruction (two per task at depth 128 were most of the state
 * machine's cost). Every model's per-task path is of that kind: an io_uring ring or an epoll
 * set is reaped by its submitter alone; a kernel_free worker writes the status store (whose
 * compare-and-swap settles it against a deadline or cancel) and the submitter ends the task; a
 * threads cancel only flags the call, which the submitter's thread ends.
 */
#ifndef IOM_TASK_H
#define IOM_TASK_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum iom_state {
	IOM_SCHEDULED,
	IOM_RUNNING,
	IOM_COMPLETED,
	IOM_FAILED,
	IOM_ABORTED,
	IOM_PARTIAL,		/* PARTIAL_SUCCESS: a short transfer the policy accepted */
	IOM_EXPIRED,
	IOM_NR_STATES,
};

/* Why the model says a task ended. */
enum iom_cause {
	IOM_CAUSE_OP,		/* the operation itself returned res */
	IOM_CAUSE_DEADLINE,	/* the task's deadline passed: EXPIRED whatever the errno */
	IOM_CAUSE_CANCEL,	/* somebody cancelled it: ABORTED whatever the errno */
};

/* What iom_task_finish() made of a call. */
enum iom_finish {
	IOM_FINISH_FIRST,	/* the task reached its terminal state now */
	IOM_FINISH_LATE,	/* a result after EXPIRED/ABORTED: the Two Generals' late answer */
	IOM_FINISH_BUG,		/* a second finish on COMPLETED/FAILED/PARTIAL, or from SCHEDULED */
};

/* What a task does; the workload sets it, the model maps it to its own call. */
enum iom_op {
	IOM_OP_NOP,
	IOM_OP_TIMER,
	IOM_OP_READ,
	IOM_OP_WRITE,
	IOM_OP_RPC,		/* send buf (len bytes) on fd, receive the len-byte echo into buf */
};

/*
 * A task id is unique in the run: (global task number << 20) | slot, so a model that gets an id
 * back from the kernel (io_uring's user_data) finds the task slot without a lookup. Bit 63 is
 * never set by the driver: models may use it as a tag (a link timeout's CQE).
 */
#define IOM_ID_SLOT_BITS	20
#define IOM_MAX_DEPTH		(1u << IOM_ID_SLOT_BITS)
#define IOM_ID_TAG		(1ull << 63)
static inline uint64_t iom_task_id(uint64_t seq, uint32_t slot)
{
	return (seq << IOM_ID_SLOT_BITS) | slot;
}
static inline uint32_t iom_id_slot(uint64_t id)
{
	return (uint32_t)(id & (IOM_MAX_DEPTH - 1));
}
static inline uint64_t iom_id_seq(uint64_t id)
{
	return (id & ~IOM_ID_TAG) >> IOM_ID_SLOT_BITS;
}

struct iom_task {
	uint64_t id;		/* unique in the run; io_uring user_data; status-store key */
	enum iom_op op;
	int fd;
	uint32_t len;		/* bytes to transfer (0 for nop/timer) */
	uint32_t done_bytes;	/* transferred so far (a short transfer resubmits the rest) */
	uint64_t offset;
	void *buf;
	uint64_t latency_ns;	/* timer duration / service time asked of this task */
	uint64_t deadline_ns;	/* absolute CLOCK_MONOTONIC, 0 = none */
	_Atomic int state;	/* enum iom_state */
	int64_t res;		/* bytes, or -errno, of the call that ended the task */
	uint64_t t_start_ns;	/* intended start (open loop) or submit stamp (closed loop) */
	uint64_t t_submit_ns;	/* when the model was handed the task */
	uint64_t t_end_ns;	/* when its terminal state was set */
	uint32_t slot;		/* index in the submitter's task array */
	_Atomic uint32_t nr_late;	/* late completions (racing finishers may add at once) */
	/*
	 * --fault errno:E@P: this attempt's operation runs for real, and its successful result is
	 * then replaced by -fault_errno (error injection on return, like the kernel's fail_function).
	 * fault_applied says it was: the row counts injected faults apart from real errors.
	 */
	int fault_errno;
	bool fault_applied;
	/*
	 * --fault kill-worker / drop-conn: what this attempt is armed with (IOM_FAULT_*). The model
	 * (a kernel_free worker dies holding the task) or the backend (drops the connection in
	 * place of the answer) acts on it; the driver counts it as applied when the task ends
	 * the way that fault ends it.
	 */
	unsigned int fault_kind;
	void *model_priv;	/* free for the model */
};

#define IOM_FAULT_KILL		(1u << 0)	/* kernel_free: the worker dies mid-task */
#define IOM_FAULT_DROP		(1u << 1)	/* rpc: the backend drops the connection */
/* What a task armed with a fault ends with, when the fault decided its outcome. */
#define IOM_ERR_WORKER_DIED	EOWNERDEAD	/* its worker died holding it */
#define IOM_ERR_CONN_DROPPED	ECONNRESET	/* its connection was dropped mid-request */

const char *iom_state_name(enum iom_state s);
static inline bool iom_state_terminal(enum iom_state s)
{
	return s >= IOM_COMPLETED && s < IOM_NR_STATES;
}

/*
 * A fresh task in its slot, SCHEDULED and at once RUNNING (iom_task_init, then iom_task_start
 * at now_ns): for a submitter that hands it to its model next (nothing between reads its state
 * or stamps). One store of each; inline, the submitter makes one per task.
 */
/*
 * no_faults (a constant at each call): the submitter never arms a fault on this array's tasks,
 * so their fault fields still hold the zero of its calloc (iom_task_finish_owned stores
 * fault_applied false without one): three stores a task saved.
 */
static inline __attribute__((always_inline)) void
iom_task_init_running_as(struct iom_task *t, uint64_t id, uint64_t start_ns,
			 uint64_t deadline_ns, uint64_t now_ns, bool no_faults)
{
	t->id = id;
	t->t_start_ns = start_ns;
	t->t_submit_ns = now_ns;
	t->t_end_ns = 0;
	t->deadline_ns = deadline_ns;
	t->res = 0;
	t->done_bytes = 0;
	if (!no_faults) {
		t->fault_errno = 0;
		t->fault_applied = false;
		t->fault_kind = 0;
	}
	atomic_store_explicit(&t->nr_late, 0, memory_order_relaxed);
	atomic_store_explicit(&t->state, IOM_RUNNING, memory_order_relaxed);
}
static inline void iom_task_init_running(struct iom_task *t, uint64_t id, uint64_t start_ns,
					 uint64_t deadline_ns, uint64_t now_ns)
{
	iom_task_init_running_as(t, id, start_ns, deadline_ns, now_ns, false);
}
/* A fresh task in its slot: SCHEDULED, no submit stamp yet. */
static inline void iom_task_init(struct iom_task *t, uint64_t id, uint64_t start_ns,
				 uint64_t deadline_ns)
{
	iom_task_init_running(t, id, start_ns, deadline_ns, 0);
	atomic_store_explicit(&t->state, IOM_SCHEDULED, memory_order_relaxed);
}
/*
 * RUNNING -> SCHEDULED: the model answered BUSY and never took the task. No other thread has
 * it (the model never took it), so no compare-and-swap.
 */
static inline bool iom_task_requeue(struct iom_task *t)
{
	if (atomic_load_explicit(&t->state, memory_order_relaxed) != IOM_RUNNING)
		return false;
	atomic_store_explicit(&t->state, IOM_SCHEDULED, memory_order_relaxed);
	return true;
}

/*
 * SCHEDULED -> RUNNING; false if the task was not SCHEDULED (a bug in the caller). Only the
 * submitter holds a SCHEDULED task: the model gets it after this, through its own queue.
 */
static inline bool iom_task_start(struct iom_task *t, uint64_t now_ns)
{
	if (atomic_load_explicit(&t->state, memory_order_relaxed) != IOM_SCHEDULED)
		return false;
	atomic_store_explicit(&t->state, IOM_RUNNING, memory_order_relaxed);
	t->t_submit_ns = now_ns;
	return true;
}

/*
 * Map (res, cause) to the terminal state and set it once. For IOM_CAUSE_OP the model has already
 * mapped its op's own success codes (IORING_OP_TIMEOUT's -ETIME -> 0): res < 0 -> FAILED,
 * 0 <= res < len -> PARTIAL_SUCCESS, res >= len -> COMPLETED. A task whose op finished before its
 * deadline is COMPLETED even if it is reaped after it: the model passes the op's result with
 * IOM_CAUSE_OP, not DEADLINE. A task with fault_errno set turns a res >= 0 of IOM_CAUSE_OP into
 * -fault_errno (FAILED); a real error, a deadline and a cancel are left as they are.
 */
enum iom_finish iom_task_finish(struct iom_task *t, int64_t res, enum iom_cause cause,
				uint64_t now_ns);

/* Pure mapping used by iom_task_finish(), exposed for tests. Inline: every finish maps once. */
static inline enum iom_state iom_state_for(int64_t res, uint32_t len, enum iom_cause cause)
{
	switch (cause) {
	case IOM_CAUSE_DEADLINE:
		return IOM_EXPIRED;
	case IOM_CAUSE_CANCEL:
		return IOM_ABORTED;
	case IOM_CAUSE_OP:
		break;
	}
	if (res < 0)
		return IOM_FAILED;
	if ((uint64_t)res < len)
		return IOM_PARTIAL;
	return IOM_COMPLETED;
}

/* The state a finish sets, with an injected fault applied to res. */
static inline enum iom_state iom_finish_state(const struct iom_task *t, int64_t *res,
					      enum iom_cause cause, bool *inject)
{
	*inject = t->fault_errno && cause == IOM_CAUSE_OP && *res >= 0;
	if (*inject)
		*res = -t->fault_errno;
	return iom_state_for(*res, t->len, cause);
}

/* A finish of a task that had already ended (its state was from): LATE or BUG (task.c). */
enum iom_finish iom_task_finish_again(struct iom_task *t, int from);

/*
 * The same as iom_task_finish, for a task no other thread can finish meanwhile (see the top of
 * this file). Inline: the models that own their tasks end one per completion.
 */
static inline enum iom_finish iom_task_finish_owned(struct iom_task *t, int64_t res,
						    enum iom_cause cause, uint64_t now_ns)
{
	int from = atomic_load_explicit(&t->state, memory_order_relaxed);
	bool inject;
	enum iom_state to;

	if (from != IOM_RUNNING)
		return iom_task_finish_again(t, from);
	to = iom_finish_state(t, &res, cause, &inject);
	atomic_store_explicit(&t->state, to, memory_order_relaxed);
	t->res = res;
	t->t_end_ns = now_ns;
	t->fault_applied = inject;
	return IOM_FINISH_FIRST;
}

/*
 * An op's result, read at now_ns, ends owned task t. Past its deadline (the submitter was busy
 * or off CPU while it came) it did not make it: EXPIRED, and the result its late answer.
 */
static inline void iom_task_finish_result(struct iom_task *t, int64_t res, uint64_t now_ns)
{
	if (t->deadline_ns && now_ns > t->deadline_ns) {
		iom_task_finish_owned(t, -ETIME, IOM_CAUSE_DEADLINE, now_ns);
		if (res >= 0)
			iom_task_finish_owned(t, res, IOM_CAUSE_OP, now_ns);
	} else {
		iom_task_finish_owned(t, res, IOM_CAUSE_OP, now_ns);
	}
}

#endif
