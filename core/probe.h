/* SPDX-License-Identifier: MIT */
/*
 * The driver's view of the eBPF probes (bpf/ implements it; a machine without BTF or bpftool
 * builds core/probe_stub.c instead, which reports "probes: unavailable: ..."). The driver opens
 * the probes before a cell's threads exist, turns accounting on and off at the measured
 * window's edges, and asks them to fill the probe columns of the row.
 */
#ifndef IOM_PROBE_H
#define IOM_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "report.h"

struct iom_probe;

struct iom_probe_opts {
	const char *list;	/* "sched,uring,syscalls" (a comma list) or "on" (= sched,uring) */
	pid_t tgid;		/* the benchmark process */
	const char *out_dir;	/* where per-thread CSVs go (may be NULL) */
	const char *cell;	/* a label for this cell's files, e.g. "row3" */
	const char *timeline;	/* --timeline FILE: record state intervals (NULL = off) */
	unsigned int sched_slots; /* the sched probe's array slots (0: all; tests make them collide) */
};

/* NULL with err set ("load: EPERM (Operation not permitted)") when probes cannot run. */
struct iom_probe *iom_probe_open(const struct iom_probe_opts *opts, struct iom_err *err);
/* Window edges: accounting counts only between on and off; intervals crossing are clipped. */
void iom_probe_window(struct iom_probe *p, bool on);
/* Fill the probe columns (per task = divided by tasks) and write per-thread files. */
void iom_probe_fill_row(struct iom_probe *p, struct iom_row *row, uint64_t tasks);
void iom_probe_close(struct iom_probe *p);
/* The probes' library, "1.1.2" (libbpf's own), or why there is none. */
const char *iom_probe_lib_version(void);
/*
 * The sched probe's per-thread records: threads that took an array slot, and threads that found
 * theirs held by another and used task storage. 0, or -ENOSYS without the sched probe.
 */
int iom_probe_sched_slots(struct iom_probe *p, uint64_t *nr_claimed, uint64_t *nr_fallback);

/*
 * Thread states live, for a view (iomodels watch): the sched probe alone, counting from the
 * open on, read while it runs. Each figure is the thread's total since the open (or since the
 * probe first saw it), its current state counted up to the read.
 */
struct iom_probe_live;

struct iom_probe_thread {
	uint64_t oncpu_ns;
	uint64_t runq_ns;	/* runnable, waiting for a CPU */
	uint64_t blocked_ns;	/* asleep, S or D */
	uint64_t idle_ns;	/* the part of blocked_ns an io-wq worker spent idle */
	char state;		/* now: 'R' on a CPU, 'r' runnable, 'S' or 'D' blocked, '?' */
};

/* NULL with err set ("sched: load: EPERM (...)") when the probe cannot run. */
struct iom_probe_live *iom_probe_live_open(pid_t tgid, struct iom_err *err);
/* 0, or -errno: -ENOENT when the probe has not seen the thread (yet), -ESRCH when it is gone. */
int iom_probe_live_read(struct iom_probe_live *pl, pid_t tid, struct iom_probe_thread *out);
void iom_probe_live_close(struct iom_probe_live *pl);

#endif
