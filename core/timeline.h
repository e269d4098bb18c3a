/* SPDX-License-Identifier: MIT */
/*
 * The timeline's intervals as user space holds them (bpf/sched.c fills them from the ring
 * buffer and from the states still open at the timeline's end), and the check that makes
 * each thread's intervals disjoint before they are written. Here, not in bpf/, so that it is
 * built and tested on a machine without BTF too.
 */
#ifndef IOM_TIMELINE_H
#define IOM_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct iom_tl_span {
	uint32_t tid;
	uint16_t state;		/* enum iom_tstate */
	uint16_t flags;		/* IOM_TF_* */
	uint64_t start_ns;
	uint64_t end_ns;
	/*
	 * Still open at the timeline's end: read by user space after the window, not written by
	 * the programs when the state ended. A thread has one at most, and it goes after all of
	 * the thread's written intervals.
	 */
	bool open;
};

/*
 * A thread is in one state at a time, so its intervals cannot overlap. When some do (a state
 * the programs closed and wrote while user space read it as still open; a lost or late event),
 * keep the earlier written one and cut the later one to start where that ends, or drop it when
 * nothing is left; an open interval yields to every written one. Sorts v by start (then tid)
 * and returns how many remain; *nr_cut gets how many were cut or dropped, for probe_lost:
 * counted, never hidden.
 */
size_t iom_tl_untangle(struct iom_tl_span *v, size_t n, uint64_t *nr_cut);

#endif
