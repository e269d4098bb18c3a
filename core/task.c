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

/*
 * The task already ended (its state was from). After EXPIRED or ABORTED the operation may still
 * complete in the kernel or in a worker: that is the late answer of the Two Generals, counted
 * but never a second state. Anything else finishing twice is a bug in a model.
 */
enum iom_finish iom_task_finish_again(struct iom_task *t, int from)
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
	enum iom_state to = iom_finish_state(t, &res, cause, &inject);
	int expected = IOM_RUNNING;

	if (atomic_compare_exchange_strong_explicit(&t->state, &expected, to,
						    memory_order_acq_rel, memory_order_acquire)) {
		t->res = res;
		t->t_end_ns = now_ns;
		t->fault_applied = inject;
		return IOM_FINISH_FIRST;
	}
	return iom_task_finish_again(t, expected);
}
