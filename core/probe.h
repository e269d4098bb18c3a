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
};

/* NULL with err set ("load: EPERM (Operation not permitted)") when probes cannot run. */
struct iom_probe *iom_probe_open(const struct iom_probe_opts *opts, struct iom_err *err);
/* Window edges: accounting counts only between on and off; intervals crossing are clipped. */
void iom_probe_window(struct iom_probe *p, bool on);
/* Fill the probe columns (per task = divided by tasks) and write per-thread files. */
void iom_probe_fill_row(struct iom_probe *p, struct iom_row *row, uint64_t tasks);
void iom_probe_close(struct iom_probe *p);

#endif
