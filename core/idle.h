/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * How a thread says "idle: waiting for work, not blocked on a task" to the sched probe: it parks
 * with FUTEX_WAIT_BITSET and this bitset (the waker's plain FUTEX_WAKE matches any bitset). The
 * probe reads the blocked thread's syscall and arguments at its switch-out and books the sleep
 * as idle (blocked_idle_ns), apart from time blocked on a task. kernel_free's workers park this
 * way between tasks, and so do sync submitters parked by iomodels watch. No includes: the BPF
 * programs include it too.
 */
#ifndef IOM_IDLE_H
#define IOM_IDLE_H

#define IOM_IDLE_FUTEX_BITSET	0x49444c45u	/* "IDLE" */

#endif
