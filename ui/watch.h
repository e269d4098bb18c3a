/* SPDX-License-Identifier: MIT */
/*
 * iomodels watch: the seed's animated lanes, drawn from a benchmark running in the same process.
 * One lane per running model (each a cell of the driver in a thread of its own, with a live
 * control block); knobs change the running cells; a plain line per second when stdout is not a
 * terminal. iomodels demo: the seed's story in five measured scenes.
 */
#ifndef IOM_WATCH_H
#define IOM_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/driver.h"
#include "core/err.h"
#include "core/task.h"

#define IOM_WATCH_MAX_LANES	4	/* running at once: one per model */

/* Where the lanes' thread states (blocked / running / runnable) come from. */
enum iom_thread_states {
	IOM_STATES_FROM_AUTO,	/* the sched probe when it loads, else /proc (saying why) */
	IOM_STATES_FROM_PROBES,	/* the sched probe, or an error */
	IOM_STATES_FROM_PROC,	/* /proc/self/task/TID/schedstat */
};

struct iom_watch_opts {
	struct iom_cfg cfg;		/* the cell every lane runs: workload, knobs' first values */
	const struct iom_model *models[IOM_WATCH_MAX_LANES];
	unsigned int nr_models;
	unsigned int concurrency;	/* the concurrency knob's first value */
	unsigned int concurrency_max;	/* slots and threads each lane makes */
	bool deadline_on;		/* --deadline-us given: the deadline starts on */
	enum iom_thread_states thread_states;
	const char *output;		/* results directory, or NULL for none */
	int argc;			/* the command line, recorded in run.json */
	char **argv;
};

/* Runs until q, Ctrl-C or the runtime's end. Returns the exit code (0, 1, 3 or 130). */
int iom_watch(const struct iom_watch_opts *o);

struct iom_demo_opts {
	bool automatic;			/* --auto: no key between scenes */
	uint64_t slow_ns;		/* scene 1 and 2's slow task (default 2 s) */
	const char *output;		/* where the scenes' scenarios write (default: a temp dir) */
};

int iom_demo(const struct iom_demo_opts *o);

/*
 * The demo's scene 3, one task per terminal state, each driven by hand through a model as the
 * driver would: its rows, for the demo to print and the tests to check.
 */
#define IOM_DEMO_NR_STATES	5

struct iom_demo_task {
	enum iom_state want;		/* the state the row is there to show */
	enum iom_state state;		/* the state the task ended in (not terminal: never ended) */
	const char *what;		/* what the task was */
	uint64_t id;
	int64_t res;			/* bytes, or -errno */
	double took_ns;			/* submit to end; NaN if it never ended */
};

/*
 * Rows 1-4, timer tasks on m (async, with cancel and a deadline): COMPLETED, FAILED (--fault
 * EIO), EXPIRED, ABORTED. 0, or -errno with err saying why.
 */
int iom_demo_timer_states(const struct iom_model *m, struct iom_demo_task out[4],
			  struct iom_err *err);
/* Row 5, PARTIAL_SUCCESS: a read over the end of a file made in dir, on mf. */
int iom_demo_partial(const struct iom_model *mf, const char *dir, struct iom_demo_task *out,
		     struct iom_err *err);

#endif
