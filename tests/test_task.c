// SPDX-License-Identifier: MIT
/* Tests for core/task.c: every transition of the task state machine, and finish() races. */
#include "tests/testutil.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "core/task.h"

#define LEN		4096u
#define T_START		100u
#define T_SUBMIT	200u
#define T_END		300u
#define NR_RACES	20000

static const enum iom_cause causes[] = { IOM_CAUSE_OP, IOM_CAUSE_DEADLINE, IOM_CAUSE_CANCEL };
static const int64_t any_res[] = {
	-ECANCELED, -EINTR, -ETIME, -EAGAIN, -EIO, -1, 0, 1, LEN - 1, LEN, LEN + 1, INT64_MAX,
	INT64_MIN,
};
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static enum iom_state state_of(struct iom_task *t)
{
	return (enum iom_state)atomic_load(&t->state);
}

/* A SCHEDULED task, every field the state machine does not own set to something visible. */
static void fresh(struct iom_task *t, uint32_t len)
{
	memset(t, 0xa5, sizeof(*t));
	t->len = len;
	iom_task_init(t, 42, T_START, 0);
}

static void running(struct iom_task *t, uint32_t len)
{
	fresh(t, len);
	assert_true(iom_task_start(t, T_SUBMIT));
	assert_int_equal(state_of(t), IOM_RUNNING);
}

/* Drive a task to terminal state s by the call a model would make. */
static void terminal(struct iom_task *t, enum iom_state s)
{
	running(t, LEN);
	switch (s) {
	case IOM_COMPLETED:
		assert_int_equal(iom_task_finish(t, LEN, IOM_CAUSE_OP, T_END), IOM_FINISH_FIRST);
		break;
	case IOM_FAILED:
		assert_int_equal(iom_task_finish(t, -EIO, IOM_CAUSE_OP, T_END), IOM_FINISH_FIRST);
		break;
	case IOM_PARTIAL:
		assert_int_equal(iom_task_finish(t, LEN / 2, IOM_CAUSE_OP, T_END),
				 IOM_FINISH_FIRST);
		break;
	case IOM_EXPIRED:
		assert_int_equal(iom_task_finish(t, -ETIME, IOM_CAUSE_DEADLINE, T_END),
				 IOM_FINISH_FIRST);
		break;
	case IOM_ABORTED:
		assert_int_equal(iom_task_finish(t, -ECANCELED, IOM_CAUSE_CANCEL, T_END),
				 IOM_FINISH_FIRST);
		break;
	default:
		fail_msg("not a terminal state: %d", s);
	}
	assert_int_equal(state_of(t), s);
}

static void test_init(void **state)
{
	struct iom_task t;

	memset(&t, 0xa5, sizeof(t));
	iom_task_init(&t, 7, 11, 13);
	assert_int_equal(state_of(&t), IOM_SCHEDULED);
	assert_int_equal(t.id, 7);
	assert_int_equal(t.t_start_ns, 11);
	assert_int_equal(t.deadline_ns, 13);
	assert_int_equal(t.t_submit_ns, 0);
	assert_int_equal(t.t_end_ns, 0);
	assert_int_equal(t.res, 0);
	assert_int_equal(t.done_bytes, 0);
	assert_int_equal(t.nr_late, 0);

	/* Re-initialising a finished task (a reused slot) makes it SCHEDULED again. */
	terminal(&t, IOM_EXPIRED);
	assert_int_equal(iom_task_finish(&t, 0, IOM_CAUSE_OP, T_END), IOM_FINISH_LATE);
	iom_task_init(&t, 8, 1, 0);
	assert_int_equal(state_of(&t), IOM_SCHEDULED);
	assert_int_equal(t.nr_late, 0);
	assert_int_equal(t.t_end_ns, 0);
	assert_int_equal(t.res, 0);
}

static void test_start(void **state)
{
	struct iom_task t;

	fresh(&t, LEN);
	assert_true(iom_task_start(&t, T_SUBMIT));
	assert_int_equal(state_of(&t), IOM_RUNNING);
	assert_int_equal(t.t_submit_ns, T_SUBMIT);
	/* Twice is a caller bug: refused, still RUNNING. */
	assert_false(iom_task_start(&t, T_SUBMIT + 1));
	assert_int_equal(state_of(&t), IOM_RUNNING);

	/* Never from a terminal state. */
	for (enum iom_state s = IOM_COMPLETED; s < IOM_NR_STATES; s++) {
		terminal(&t, s);
		assert_false(iom_task_start(&t, T_SUBMIT + 1));
		assert_int_equal(state_of(&t), s);
	}
}

/* A refused start must not touch the task: its submit stamp belongs to the first start. */
static void test_start_refused_keeps_submit_stamp(void **state)
{
	struct iom_task t;

	running(&t, LEN);
	assert_false(iom_task_start(&t, 999));
	if (t.t_submit_ns != T_SUBMIT)
		fail_msg("refused start on RUNNING changed t_submit_ns %u -> %llu", T_SUBMIT,
			 (unsigned long long)t.t_submit_ns);
	terminal(&t, IOM_COMPLETED);
	assert_false(iom_task_start(&t, 999));
	if (t.t_submit_ns != T_SUBMIT)
		fail_msg("refused start on COMPLETED changed t_submit_ns %u -> %llu", T_SUBMIT,
			 (unsigned long long)t.t_submit_ns);
}

static void test_requeue(void **state)
{
	struct iom_task t;

	fresh(&t, LEN);
	/* Only RUNNING goes back. */
	assert_false(iom_task_requeue(&t));
	assert_int_equal(state_of(&t), IOM_SCHEDULED);
	assert_true(iom_task_start(&t, T_SUBMIT));
	assert_true(iom_task_requeue(&t));
	assert_int_equal(state_of(&t), IOM_SCHEDULED);
	assert_false(iom_task_requeue(&t));
	/* A requeued task starts again and finishes normally. */
	assert_true(iom_task_start(&t, T_SUBMIT + 5));
	assert_int_equal(t.t_submit_ns, T_SUBMIT + 5);
	assert_int_equal(iom_task_finish(&t, LEN, IOM_CAUSE_OP, T_END), IOM_FINISH_FIRST);
	assert_int_equal(state_of(&t), IOM_COMPLETED);

	for (enum iom_state s = IOM_COMPLETED; s < IOM_NR_STATES; s++) {
		terminal(&t, s);
		assert_false(iom_task_requeue(&t));
		assert_int_equal(state_of(&t), s);
	}
}

static void test_finish_from_scheduled(void **state)
{
	struct iom_task t;

	for (size_t c = 0; c < ARRAY_SIZE(causes); c++) {
		for (size_t r = 0; r < ARRAY_SIZE(any_res); r++) {
			fresh(&t, LEN);
			assert_int_equal(iom_task_finish(&t, any_res[r], causes[c], T_END),
					 IOM_FINISH_BUG);
			assert_int_equal(state_of(&t), IOM_SCHEDULED);
			assert_int_equal(t.res, 0);
			assert_int_equal(t.t_end_ns, 0);
			assert_int_equal(t.nr_late, 0);
			/* And the task is still good for its start. */
			assert_true(iom_task_start(&t, T_SUBMIT));
		}
	}
}

static const struct {
	uint32_t len;
	int64_t res;
	enum iom_state want;
} op_cases[] = {
	{ LEN, -EIO, IOM_FAILED },
	{ LEN, -ECANCELED, IOM_FAILED },
	{ LEN, -EINTR, IOM_FAILED },
	{ LEN, -ETIME, IOM_FAILED },
	{ LEN, -EAGAIN, IOM_FAILED },
	{ LEN, -1, IOM_FAILED },
	{ LEN, INT64_MIN, IOM_FAILED },
	{ LEN, 0, IOM_PARTIAL },
	{ LEN, 1, IOM_PARTIAL },
	{ LEN, LEN - 1, IOM_PARTIAL },
	{ LEN, LEN, IOM_COMPLETED },
	{ LEN, LEN + 1, IOM_COMPLETED },
	{ LEN, INT64_MAX, IOM_COMPLETED },
	{ UINT32_MAX, UINT32_MAX - 1, IOM_PARTIAL },
	{ UINT32_MAX, UINT32_MAX, IOM_COMPLETED },
	{ UINT32_MAX, (int64_t)UINT32_MAX + 1, IOM_COMPLETED },
	/* A nop or timer (len 0): 0 is success, an error still fails. */
	{ 0, 0, IOM_COMPLETED },
	{ 0, 5, IOM_COMPLETED },
	{ 0, -ETIME, IOM_FAILED },
	{ 0, -ECANCELED, IOM_FAILED },
};

static void test_finish_op(void **state)
{
	struct iom_task t;

	for (size_t i = 0; i < ARRAY_SIZE(op_cases); i++) {
		running(&t, op_cases[i].len);
		assert_int_equal(iom_state_for(op_cases[i].res, op_cases[i].len, IOM_CAUSE_OP),
				 op_cases[i].want);
		assert_int_equal(iom_task_finish(&t, op_cases[i].res, IOM_CAUSE_OP, T_END),
				 IOM_FINISH_FIRST);
		if (state_of(&t) != op_cases[i].want)
			fail_msg("len %u res %lld: %s, want %s", op_cases[i].len,
				 (long long)op_cases[i].res, iom_state_name(state_of(&t)),
				 iom_state_name(op_cases[i].want));
		assert_int_equal(t.res, op_cases[i].res);
		assert_int_equal(t.t_end_ns, T_END);
		assert_int_equal(t.t_submit_ns, T_SUBMIT);
		assert_int_equal(t.nr_late, 0);
	}
}

/* DEADLINE is EXPIRED and CANCEL is ABORTED whatever res says. */
static void test_finish_deadline_cancel(void **state)
{
	static const uint32_t lens[] = { 0, LEN };
	struct iom_task t;

	for (size_t l = 0; l < ARRAY_SIZE(lens); l++) {
		for (size_t r = 0; r < ARRAY_SIZE(any_res); r++) {
			int64_t res = any_res[r];

			assert_int_equal(iom_state_for(res, lens[l], IOM_CAUSE_DEADLINE),
					 IOM_EXPIRED);
			assert_int_equal(iom_state_for(res, lens[l], IOM_CAUSE_CANCEL),
					 IOM_ABORTED);

			running(&t, lens[l]);
			assert_int_equal(iom_task_finish(&t, res, IOM_CAUSE_DEADLINE, T_END),
					 IOM_FINISH_FIRST);
			assert_int_equal(state_of(&t), IOM_EXPIRED);
			assert_int_equal(t.res, res);
			assert_int_equal(t.t_end_ns, T_END);

			running(&t, lens[l]);
			assert_int_equal(iom_task_finish(&t, res, IOM_CAUSE_CANCEL, T_END),
					 IOM_FINISH_FIRST);
			assert_int_equal(state_of(&t), IOM_ABORTED);
			assert_int_equal(t.res, res);
			assert_int_equal(t.t_end_ns, T_END);
		}
	}
}

/*
 * --fault: a successful op (full or short) becomes FAILED with -fault_errno; a real error keeps its
 * own errno; a deadline or a cancel is not an op result and stays EXPIRED / ABORTED.
 */
static void test_finish_fault(void **state)
{
	static const struct {
		int64_t res;
		enum iom_cause cause;
		enum iom_state want;
		int64_t want_res;
		bool applied;
	} cases[] = {
		{ LEN, IOM_CAUSE_OP, IOM_FAILED, -EIO, true },
		{ LEN / 2, IOM_CAUSE_OP, IOM_FAILED, -EIO, true },
		{ 0, IOM_CAUSE_OP, IOM_FAILED, -EIO, true },
		{ -ENOSPC, IOM_CAUSE_OP, IOM_FAILED, -ENOSPC, false },
		{ LEN, IOM_CAUSE_DEADLINE, IOM_EXPIRED, LEN, false },
		{ -ECANCELED, IOM_CAUSE_CANCEL, IOM_ABORTED, -ECANCELED, false },
	};
	struct iom_task t;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		running(&t, LEN);
		t.fault_errno = EIO;
		assert_int_equal(iom_task_finish(&t, cases[i].res, cases[i].cause, T_END),
				 IOM_FINISH_FIRST);
		assert_int_equal(state_of(&t), cases[i].want);
		assert_int_equal(t.res, cases[i].want_res);
		assert_int_equal(t.fault_applied, cases[i].applied);
	}
	/* A fresh attempt in the slot forgets the fault. */
	iom_task_init(&t, 1, T_START, 0);
	assert_int_equal(t.fault_errno, 0);
	assert_false(t.fault_applied);
}

/*
 * iom_task_finish_owned (one finisher, no compare-and-swap) decides exactly as iom_task_finish:
 * from every state, every cause and result, with and without an injected fault, the same return,
 * state, res, t_end, fault_applied and late count.
 */
static void test_finish_owned_same_rules(void **state)
{
	static const enum iom_state from[] = { IOM_SCHEDULED, IOM_RUNNING, IOM_COMPLETED,
					       IOM_FAILED, IOM_ABORTED, IOM_PARTIAL, IOM_EXPIRED };
	unsigned int nr = 0;

	for (size_t f = 0; f < ARRAY_SIZE(from); f++)
		for (int fault = 0; fault < 2; fault++)
			for (size_t c = 0; c < ARRAY_SIZE(causes); c++)
				for (size_t r = 0; r < ARRAY_SIZE(any_res); r++) {
					struct iom_task a, b;
					enum iom_finish ra, rb;

					if (from[f] == IOM_SCHEDULED)
						fresh(&a, LEN);
					else if (from[f] == IOM_RUNNING)
						running(&a, LEN);
					else
						terminal(&a, from[f]);
					a.fault_errno = fault ? EIO : 0;
					b = a;
					ra = iom_task_finish(&a, any_res[r], causes[c], T_END + 5);
					rb = iom_task_finish_owned(&b, any_res[r], causes[c],
								   T_END + 5);
					if (ra != rb || state_of(&a) != state_of(&b) ||
					    a.res != b.res || a.t_end_ns != b.t_end_ns ||
					    a.fault_applied != b.fault_applied ||
					    a.nr_late != b.nr_late)
						fail_msg("from %s fault %d cause %d res %lld: owned "
							 "%d %s, shared %d %s",
							 iom_state_name(from[f]), fault, causes[c],
							 (long long)any_res[r], rb,
							 iom_state_name(state_of(&b)), ra,
							 iom_state_name(state_of(&a)));
					nr++;
				}
	assert_int_equal(nr, ARRAY_SIZE(from) * 2 * ARRAY_SIZE(causes) * ARRAY_SIZE(any_res));
}

/* After EXPIRED or ABORTED, any further finish is a late answer: counted, nothing changes. */
static void test_late_after_expired_aborted(void **state)
{
	static const enum iom_state soft[] = { IOM_EXPIRED, IOM_ABORTED };
	struct iom_task t;

	for (size_t s = 0; s < ARRAY_SIZE(soft); s++) {
		uint32_t late = 0;
		int64_t res0;

		terminal(&t, soft[s]);
		res0 = t.res;
		for (size_t c = 0; c < ARRAY_SIZE(causes); c++) {
			for (size_t r = 0; r < ARRAY_SIZE(any_res); r++) {
				assert_int_equal(iom_task_finish(&t, any_res[r], causes[c],
								 T_END + 1000 + r),
						 IOM_FINISH_LATE);
				late++;
				assert_int_equal(t.nr_late, late);
				assert_int_equal(state_of(&t), soft[s]);
				assert_int_equal(t.res, res0);
				assert_int_equal(t.t_end_ns, T_END);
				assert_int_equal(t.t_submit_ns, T_SUBMIT);
			}
		}
		assert_false(iom_task_start(&t, T_SUBMIT));
		assert_false(iom_task_requeue(&t));
		assert_int_equal(state_of(&t), soft[s]);
	}
}

/* A second finish on COMPLETED, FAILED or PARTIAL is a model bug, and changes nothing. */
static void test_bug_after_final(void **state)
{
	static const enum iom_state hard[] = { IOM_COMPLETED, IOM_FAILED, IOM_PARTIAL };
	struct iom_task t;

	for (size_t s = 0; s < ARRAY_SIZE(hard); s++) {
		int64_t res0;

		terminal(&t, hard[s]);
		res0 = t.res;
		for (size_t c = 0; c < ARRAY_SIZE(causes); c++) {
			for (size_t r = 0; r < ARRAY_SIZE(any_res); r++) {
				if (iom_task_finish(&t, any_res[r], causes[c], T_END + 7) !=
				    IOM_FINISH_BUG)
					fail_msg("second finish (cause %d, res %lld) on %s not BUG",
						 causes[c], (long long)any_res[r],
						 iom_state_name(hard[s]));
				assert_int_equal(state_of(&t), hard[s]);
				assert_int_equal(t.res, res0);
				assert_int_equal(t.t_end_ns, T_END);
				assert_int_equal(t.nr_late, 0);
			}
		}
	}
}

static void test_state_names(void **state)
{
	static const char *const want[IOM_NR_STATES] = {
		[IOM_SCHEDULED] = "SCHEDULED", [IOM_RUNNING] = "RUNNING",
		[IOM_COMPLETED] = "COMPLETED", [IOM_FAILED] = "FAILED",
		[IOM_ABORTED] = "ABORTED",     [IOM_PARTIAL] = "PARTIAL_SUCCESS",
		[IOM_EXPIRED] = "EXPIRED",
	};

	for (enum iom_state s = 0; s < IOM_NR_STATES; s++) {
		assert_non_null(want[s]);
		assert_string_equal(iom_state_name(s), want[s]);
		assert_int_equal(iom_state_terminal(s), s != IOM_SCHEDULED && s != IOM_RUNNING);
	}
	assert_string_equal(iom_state_name(IOM_NR_STATES), "INVALID");
	assert_string_equal(iom_state_name((enum iom_state)-1), "INVALID");
	assert_string_equal(iom_state_name((enum iom_state)1000), "INVALID");
	assert_false(iom_state_terminal(IOM_NR_STATES));
	assert_false(iom_state_terminal((enum iom_state)-1));
}

static void test_task_id(void **state)
{
	uint64_t id = iom_task_id(123456789, IOM_MAX_DEPTH - 1);

	assert_int_equal(iom_id_slot(id), IOM_MAX_DEPTH - 1);
	assert_int_equal(iom_id_seq(id), 123456789);
	assert_int_equal(iom_id_slot(id | IOM_ID_TAG), IOM_MAX_DEPTH - 1);
	assert_int_equal(iom_id_seq(id | IOM_ID_TAG), 123456789);
	assert_int_equal(iom_id_slot(iom_task_id(5, 0)), 0);
	assert_int_equal(iom_id_seq(iom_task_id(5, 0)), 5);
}

/*
 * Two threads call finish on the same task at the same moment, NR_RACES times: a spin barrier
 * (monotonic arrival counter) lines them up before each task.
 */
struct race {
	struct iom_task *tasks;
	enum iom_finish *ret[2];
	enum iom_cause cause[2];
	int64_t res[2];
	_Atomic unsigned long arrived;
};

struct racer {
	struct race *race;
	int side;
};

static void *racer_main(void *p)
{
	struct racer *me = p;
	struct race *r = me->race;

	for (unsigned long i = 0; i < NR_RACES; i++) {
		unsigned long spins = 0;

		atomic_fetch_add(&r->arrived, 1);
		while (atomic_load(&r->arrived) < 2 * (i + 1))
			if (++spins > 200)
				sched_yield();	/* the other racer may be off CPU */
		r->ret[me->side][i] = iom_task_finish(&r->tasks[i], r->res[me->side],
						      r->cause[me->side], 1000 + me->side);
	}
	return NULL;
}

static struct race *race_run(enum iom_cause c0, int64_t r0, enum iom_cause c1, int64_t r1,
			     enum iom_state pre)
{
	struct race *r = calloc(1, sizeof(*r));
	struct racer racers[2];
	pthread_t tids[2];

	assert_non_null(r);
	r->tasks = calloc(NR_RACES, sizeof(*r->tasks));
	r->ret[0] = calloc(NR_RACES, sizeof(*r->ret[0]));
	r->ret[1] = calloc(NR_RACES, sizeof(*r->ret[1]));
	assert_non_null(r->tasks);
	assert_non_null(r->ret[0]);
	assert_non_null(r->ret[1]);
	r->cause[0] = c0;
	r->cause[1] = c1;
	r->res[0] = r0;
	r->res[1] = r1;
	for (int i = 0; i < NR_RACES; i++) {
		if (pre == IOM_RUNNING)
			running(&r->tasks[i], LEN);
		else
			terminal(&r->tasks[i], pre);
	}
	for (int s = 0; s < 2; s++) {
		racers[s] = (struct racer){ r, s };
		assert_int_equal(pthread_create(&tids[s], NULL, racer_main, &racers[s]), 0);
	}
	for (int s = 0; s < 2; s++)
		assert_int_equal(pthread_join(tids[s], NULL), 0);
	return r;
}

static void race_free(struct race *r)
{
	free(r->ret[0]);
	free(r->ret[1]);
	free(r->tasks);
	free(r);
}

/*
 * A deadline racing the op's own completion: exactly one FIRST. If the deadline won, the op's
 * answer is LATE (the Two Generals'); if the op won, task.h makes the deadline's finish on
 * COMPLETED a BUG. Either way the state, res and t_end are the winner's, never a mix.
 */
static void check_deadline_vs_op(struct race *r, unsigned int *deadline_won, unsigned int *op_won)
{
	for (int i = 0; i < NR_RACES; i++) {
		struct iom_task *t = &r->tasks[i];
		enum iom_finish d = r->ret[0][i], o = r->ret[1][i];

		if ((d == IOM_FINISH_FIRST) == (o == IOM_FINISH_FIRST))
			fail_msg("race %d: deadline %d, op %d: not exactly one FIRST", i, d, o);
		if (d == IOM_FINISH_FIRST) {
			(*deadline_won)++;
			if (o != IOM_FINISH_LATE)
				fail_msg("race %d: op after EXPIRED got %d, want LATE", i, o);
			assert_int_equal(state_of(t), IOM_EXPIRED);
			assert_int_equal(t->res, -ETIME);
			assert_int_equal(t->t_end_ns, 1000);
			assert_int_equal(t->nr_late, 1);
		} else {
			(*op_won)++;
			if (d != IOM_FINISH_BUG)
				fail_msg("race %d: deadline after COMPLETED got %d, want BUG", i,
					 d);
			assert_int_equal(state_of(t), IOM_COMPLETED);
			assert_int_equal(t->res, LEN);
			assert_int_equal(t->t_end_ns, 1001);
			assert_int_equal(t->nr_late, 0);
		}
	}
}

/*
 * The race must happen both ways, or the test proved nothing: rounds of NR_RACES until each
 * side has won at least once, bounded (on one CPU the barrier still interleaves them).
 */
static void test_race_deadline_vs_op(void **state)
{
	unsigned int deadline_won = 0, op_won = 0, round;

	for (round = 0; round < 10 && !(deadline_won && op_won); round++) {
		struct race *r = race_run(IOM_CAUSE_DEADLINE, -ETIME, IOM_CAUSE_OP, LEN,
					  IOM_RUNNING);

		check_deadline_vs_op(r, &deadline_won, &op_won);
		race_free(r);
	}
	print_message("deadline won %u, op won %u of %u races\n", deadline_won, op_won,
		      round * NR_RACES);
	if (!deadline_won || !op_won)
		fail_msg("in %u races one side always won: the race never happened", round * NR_RACES);
}

/* A deadline racing a cancel: both end the task softly, so exactly one FIRST and one LATE. */
static void test_race_deadline_vs_cancel(void **state)
{
	struct race *r = race_run(IOM_CAUSE_DEADLINE, -ETIME, IOM_CAUSE_CANCEL, -ECANCELED,
				  IOM_RUNNING);

	for (int i = 0; i < NR_RACES; i++) {
		struct iom_task *t = &r->tasks[i];
		enum iom_finish d = r->ret[0][i], c = r->ret[1][i];
		bool d_won = d == IOM_FINISH_FIRST;

		if (!((d_won && c == IOM_FINISH_LATE) || (c == IOM_FINISH_FIRST &&
							  d == IOM_FINISH_LATE)))
			fail_msg("race %d: deadline %d, cancel %d: want one FIRST, one LATE", i, d,
				 c);
		assert_int_equal(state_of(t), d_won ? IOM_EXPIRED : IOM_ABORTED);
		assert_int_equal(t->res, d_won ? -ETIME : -ECANCELED);
		assert_int_equal(t->t_end_ns, d_won ? 1000 : 1001);
		assert_int_equal(t->nr_late, 1);
	}
	race_free(r);
}

/* Two late answers at once on an EXPIRED task: both LATE, and both counted. */
static void test_race_two_late(void **state)
{
	struct race *r = race_run(IOM_CAUSE_OP, LEN, IOM_CAUSE_OP, -ECANCELED, IOM_EXPIRED);
	unsigned int lost = 0;

	for (int i = 0; i < NR_RACES; i++) {
		struct iom_task *t = &r->tasks[i];

		assert_int_equal(r->ret[0][i], IOM_FINISH_LATE);
		assert_int_equal(r->ret[1][i], IOM_FINISH_LATE);
		assert_int_equal(state_of(t), IOM_EXPIRED);
		assert_int_equal(t->res, -ETIME);
		assert_int_equal(t->t_end_ns, T_END);
		lost += t->nr_late != 2;
	}
	if (lost)
		fail_msg("nr_late lost an increment in %u of %d races", lost, NR_RACES);
	race_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_start),
		cmocka_unit_test(test_start_refused_keeps_submit_stamp),
		cmocka_unit_test(test_requeue),
		cmocka_unit_test(test_finish_from_scheduled),
		cmocka_unit_test(test_finish_op),
		cmocka_unit_test(test_finish_deadline_cancel),
		cmocka_unit_test(test_finish_fault),
		cmocka_unit_test(test_finish_owned_same_rules),
		cmocka_unit_test(test_late_after_expired_aborted),
		cmocka_unit_test(test_bug_after_final),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_task_id),
		cmocka_unit_test(test_race_deadline_vs_op),
		cmocka_unit_test(test_race_deadline_vs_cancel),
		cmocka_unit_test(test_race_two_late),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
