// SPDX-License-Identifier: MIT
/*
 * Broken models, for a test copy of the binary only (build/tests/iomodels-stub): each breaks
 * the interface's contract once, at the third task it is given, so that the harness's
 * end-of-run invariant must catch it (exit 3, one "bug:" line on stderr). Async nop models:
 * submit queues the task, reap reports it COMPLETED.
 *   stub-lose     never reports the third task
 *   stub-running  reports the third task without a terminal state (still RUNNING)
 *   stub-twice    reports the third task twice
 *   stub-ok       breaks nothing (the control: exit 0)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/model.h"

enum stub_bug { STUB_OK, STUB_LOSE, STUB_RUNNING, STUB_TWICE };

#define STUB_VICTIM 3	/* the task (counted from 1, per submitter) that is mishandled */

struct stub {
	enum stub_bug bug;
	uint64_t nr_given;
	unsigned int nr_pending;
	struct iom_task *pending[];	/* depth entries */
};

static int stub_probe(enum iom_wl_kind wl, struct iom_err *err)
{
	return wl == IOM_WL_NOP ? 0 : IOM_PROBE_NA;
}

static int stub_setup_bug(struct iom_ctx *ctx, enum stub_bug bug)
{
	struct stub *s = calloc(1, sizeof(*s) + ctx->depth * sizeof(s->pending[0]));

	if (!s)
		return -ENOMEM;
	s->bug = bug;
	ctx->priv = s;
	return 0;
}

static int stub_setup_ok(struct iom_ctx *ctx) { return stub_setup_bug(ctx, STUB_OK); }
static int stub_setup_lose(struct iom_ctx *ctx) { return stub_setup_bug(ctx, STUB_LOSE); }
static int stub_setup_running(struct iom_ctx *ctx) { return stub_setup_bug(ctx, STUB_RUNNING); }
static int stub_setup_twice(struct iom_ctx *ctx) { return stub_setup_bug(ctx, STUB_TWICE); }

static int stub_submit(struct iom_ctx *ctx, struct iom_task *t)
{
	struct stub *s = ctx->priv;

	if (++s->nr_given == STUB_VICTIM && s->bug == STUB_LOSE)
		return IOM_Q_QUEUED;	/* taken, and forgotten */
	t->model_priv = (void *)(uintptr_t)s->nr_given;
	s->pending[s->nr_pending++] = t;
	return IOM_Q_QUEUED;
}

static int stub_reap(struct iom_ctx *ctx, unsigned int min, unsigned int max, uint64_t timeout_ns)
{
	struct stub *s = ctx->priv;
	int n = 0;

	ctx->now_ns = iom_now_ns();
	if (!s->nr_pending) {
		/* Nothing will come: wait as asked (bounded), as a real model would block. */
		struct timespec ts = iom_ts(timeout_ns < 1000000 ? timeout_ns : 1000000);

		nanosleep(&ts, NULL);
		return 0;
	}
	while (s->nr_pending && (unsigned int)n < max) {
		struct iom_task *t = s->pending[--s->nr_pending];
		bool victim = (uintptr_t)t->model_priv == STUB_VICTIM;

		if (!(victim && s->bug == STUB_RUNNING))
			iom_task_finish(t, 0, IOM_CAUSE_OP, ctx->now_ns);
		iom_complete(ctx, t);
		if (victim && s->bug == STUB_TWICE)
			iom_complete(ctx, t);
		n++;
	}
	return n;
}

static void stub_teardown(struct iom_ctx *ctx)
{
	free(ctx->priv);
}

#define STUB_MODEL(bugname, what)                                                              \
	{                                                                                      \
		.name = "stub-" #bugname, .desc = what, .caps = IOM_CAP_ASYNC,                 \
		.probe = stub_probe, .setup = stub_setup_##bugname, .submit = stub_submit,     \
		.reap = stub_reap, .teardown = stub_teardown,                                  \
	}

static const struct iom_model stub_models[] = {
	STUB_MODEL(ok, "test: reports every task once"),
	STUB_MODEL(lose, "test: never reports its third task"),
	STUB_MODEL(running, "test: reports its third task still RUNNING"),
	STUB_MODEL(twice, "test: reports its third task twice"),
};

static const struct iom_model *const stub_list[] = {
	&stub_models[0], &stub_models[1], &stub_models[2], &stub_models[3], NULL,
};

__attribute__((constructor)) static void stub_register(void)
{
	iom_models_extra = stub_list;
}
