// SPDX-License-Identifier: MIT
/* The task state machine: the only code that moves a task's state. */
#include "task.h"

static const char *const state_names[IOM_NR_STATES] = {
	[IOM_SCHEDULED] = "SCHEDULED",	 [IOM_RUNNING] = "RUNNING",
	[IOM_COMPLETED] = "COMPLETED",	 [IOM_FAILED] = "FAILED",
	[IOM_ABORTED] = "ABORTED",	 [IOM_PARTIAL] = "PARTIAL_SUCCESS",
	[IOM_EXPIRED] = "EXPIRED",
};

const char *iom_state_name(enum iom_state s)
{
	return (unsigned)s < IOM_NR_STATES ? state_names[s] : "INVALID";
}

void iom_task_init(struct iom_task *t, uint64_t id, uint64_t start_ns, uint64_t deadline_ns)
{
	t->id = id;
	t->t_start_ns = start_ns;
	t->t_submit_ns = 0;
	t->t_end_ns = 0;
	t->deadline_ns = deadline_ns;
	t->res = 0;
	t->done_bytes = 0;
	t->fault_errno = 0;
	t->fault_applied = false;
	t->fault_kind = 0;
	atomic_store_explicit(&t->nr_late, 0, memory_order_relaxed);
	atomic_store_explicit(&t->state, IOM_SCHEDULED, memory_order_relaxed);
}

enum iom_state iom_state_for(int64_t res, uint32_t len, enum iom_cause cause)
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
static enum iom_state finish_state(const struct iom_task *t, int64_t *res, enum iom_cause cause,
				   bool *inject)
{
	*inject = t->fault_errno && cause == IOM_CAUSE_OP && *res >= 0;
	if (*inject)
		*res = -t->fault_errno;
	return iom_state_for(*res, t->len, cause);
}

/*
 * The task already ended (its state was from). After EXPIRED or ABORTED the operation may still
 * complete in the kernel or in a worker: that is the late answer of the Two Generals, counted
 * but never a second state. Anything else finishing twice is a bug in a model.
 */
static enum iom_finish finish_again(struct iom_task *t, int from)
{
	if (from == IOM_EXPIRED || from == IOM_ABORTED) {
		atomic_fetch_add_explicit(&t->nr_late, 1, memory_order_relaxed);
		return IOM_FINISH_LATE;
	}
	return IOM_FINISH_BUG;
}

enum iom_finish iom_task_finish(struct iom_task *t, int64_t res, enum iom_cause cause,
				uint64_t now_ns)
{
	bool inject;
	enum iom_state to = finish_state(t, &res, cause, &inject);
	int expected = IOM_RUNNING;

	if (atomic_compare_exchange_strong_explicit(&t->state, &expected, to,
						    memory_order_acq_rel, memory_order_acquire)) {
		t->res = res;
		t->t_end_ns = now_ns;
		t->fault_applied = inject;
		return IOM_FINISH_FIRST;
	}
	return finish_again(t, expected);
}

enum iom_finish iom_task_finish_owned(struct iom_task *t, int64_t res, enum iom_cause cause,
				      uint64_t now_ns)
{
	int from = atomic_load_explicit(&t->state, memory_order_relaxed);
	bool inject;
	enum iom_state to;

	if (from != IOM_RUNNING)
		return finish_again(t, from);
	to = finish_state(t, &res, cause, &inject);
	atomic_store_explicit(&t->state, to, memory_order_relaxed);
	t->res = res;
	t->t_end_ns = now_ns;
	t->fault_applied = inject;
	return IOM_FINISH_FIRST;
}
