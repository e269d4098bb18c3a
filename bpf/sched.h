/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * sched probe: per-thread scheduler accounting of the benchmark process (on-CPU, run-queue wait,
 * blocked split by kind, switches, wake-ups, migrations) from sched_switch / sched_wakeup, plus
 * an optional timeline of state intervals. Shared by sched.bpf.c and its loader sched.c; the
 * loader's API is at the end, outside BPF.
 */
#ifndef IOM_BPF_SCHED_H
#define IOM_BPF_SCHED_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define IOM_COMM_LEN		16
/* Timeline bounds: at most this long after the window opens, at most this many intervals. */
#define IOM_TL_WINDOW_NS	100000000ull
#define IOM_TL_MAX_EVENTS	200000u
#define IOM_TL_RINGBUF_BYTES	(8u << 20)	/* >= IOM_TL_MAX_EVENTS * (record + 8-byte header) */

/*
 * Per-thread records live in an array slot indexed by tid & (slots - 1) (a power of two), the
 * slot's owner in iom_thread.tid; a thread whose slot another live thread holds falls back to
 * task-local storage. An array lookup is inlined by the verifier: a program run costs 11-15%
 * less than with task storage alone (uring / epoll timer tasks, bpf-stats; bpf/README.md).
 */
#define IOM_SCHED_SLOTS		16384u

/* Where a thread is, from the scheduler's point of view. */
enum iom_tstate {
	IOM_TS_UNKNOWN = 0,	/* not seen yet */
	IOM_TS_ONCPU,
	IOM_TS_RUNQ,		/* runnable, waiting for a CPU (woken or preempted) */
	IOM_TS_SLEEP,		/* blocked, interruptible (S) */
	IOM_TS_DISK,		/* blocked, uninterruptible (D) */
	IOM_TS_DEAD,		/* switched out for the last time */
};

/* Flags of a blocked interval. */
#define IOM_TF_IOWAIT	1u	/* task->in_iowait was set when it blocked */
#define IOM_TF_IDLE	2u	/* an io-wq worker blocked on its free list: idle, not on a task */
#define IOM_TF_EXITING	4u	/* (dead map only) copied at exit, its last switch not seen (yet) */

/*
 * Per thread, in task-local storage while it lives (and copied to the `dead` hash when it
 * exits). Times are clipped to the measured window; counts only count inside it.
 */
struct iom_thread {
	__u64 since_ns;		/* start of the current state */
	__u32 state;		/* enum iom_tstate */
	__u32 flags;		/* IOM_TF_* of the current state */
	__u32 cpu1;		/* the CPU it last ran on, plus one (0: never seen running) */
	__u32 tid;
	__u64 oncpu_ns;
	__u64 runq_ns;
	__u64 sleep_ns;		/* blocked, S */
	__u64 disk_ns;		/* blocked, D */
	__u64 iowait_ns;	/* the part of sleep_ns + disk_ns with in_iowait set */
	__u64 idle_ns;		/* the part of sleep_ns + disk_ns an io-wq worker spent idle */
	__u64 nvcsw;		/* switched out blocking */
	__u64 nivcsw;		/* switched out still runnable (preempt, or prev_state RUNNING) */
	__u64 wakeups;		/* sched_wakeup events received */
	__u64 migrations;	/* switched in on another CPU than last time */
	__u64 lost;		/* inconsistent transitions seen on this thread */
	/*
	 * Repairs after a lost event, from the kernel's own accounting: its figures at the last
	 * switch-out, and a pending split of a blocked interval whose wake-up never came (the
	 * run-queue part is known at the next switch-out).
	 */
	__u64 k_exec_ns;	/* se.sum_exec_runtime at the last switch-out */
	__u64 k_delay_ns;	/* sched_info.run_delay at the last switch-out */
	__u64 fix_in_ns;	/* the switch-in that found it blocked (0: nothing pending) */
	__u64 fix_since_ns;	/* when that blocked interval began */
	__u64 fix_delay_ns;	/* run_delay then, before the kernel added this wait */
	__u32 fix_state;
	__u32 fix_flags;
};

struct iom_dead_thread {
	struct iom_thread t;
	char comm[IOM_COMM_LEN];
	/* The kernel's own accounting at exit (what /proc/<pid>/task/<tid>/schedstat showed). */
	__u64 k_exec_ns;	/* se.sum_exec_runtime */
	__u64 k_delay_ns;	/* sched_info.run_delay */
	__u64 exit_ns;		/* when it passed sched_process_exit */
};

/* A timeline interval (ring buffer record). */
struct iom_tl_event {
	__u32 tid;
	__u16 state;		/* enum iom_tstate */
	__u16 flags;		/* IOM_TF_* */
	__u64 start_ns;		/* CLOCK_MONOTONIC */
	__u64 end_ns;
};

#ifndef __bpf__
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/err.h"

struct iom_sched;
struct iom_lost;

/* One thread's figures for the window, open intervals closed at the window's end. */
struct iom_sched_thread {
	struct iom_thread t;
	char comm[IOM_COMM_LEN];
	bool alive;
	bool exited_k;		/* exited: k_* hold the kernel's schedstat figures at exit */
	uint64_t k_exec_ns, k_delay_ns;
	uint64_t exit_ns;	/* exited: when it passed sched_process_exit */
};

/*
 * open -> set rodata -> load -> attach. NULL with err set ("load: EPERM (...)"). full: follow
 * every wake-up and switch-in as it happens (forced on by the timeline); else each thread is
 * accounted at its switch-outs from the kernel's own figures (see follow_events).
 */
struct iom_sched *iom_sched_open(pid_t tgid, bool timeline, bool full, struct iom_err *err);
/* The same with nr_slots array slots (a power of two, >= 1; 0: IOM_SCHED_SLOTS). */
struct iom_sched *iom_sched_open_slots(pid_t tgid, bool timeline, bool full, unsigned int nr_slots,
				       struct iom_err *err);
/* Threads that took an array slot, and threads that found theirs held and used task storage. */
void iom_sched_slot_counts(struct iom_sched *s, uint64_t *nr_claimed, uint64_t *nr_fallback);
/* The window's edges, CLOCK_MONOTONIC ns (bpf_ktime_get_ns is the same clock). */
void iom_sched_window(struct iom_sched *s, bool on, uint64_t now_ns);
/*
 * Every thread seen (live ones found through /proc/<tgid>/task and a pidfd, exited ones from the
 * dead map), open intervals clipped at the window's end. Adds to lost what went missing or did
 * not fit (inconsistent transitions, storage refusals, recursion misses in the window, exits
 * whose last switch never came, timeline records dropped). Returns the count; free() the array.
 */
/*
 * kernel_at_off(ctx, tid, &exec_ns, &delay_ns), when given, returns 0 with a live thread's
 * schedstat at the window's end: without sched-full, a thread's record stops at its last
 * switch-out, and what it did since (ran, waited) is settled from those figures.
 */
typedef int (*iom_sched_kernel_fn)(void *ctx, pid_t tid, uint64_t *exec_ns, uint64_t *delay_ns);
int iom_sched_collect(struct iom_sched *s, struct iom_sched_thread **out, struct iom_lost *lost,
		      iom_sched_kernel_fn kernel_at_off, void *ctx);
/*
 * One live thread's record now, read while the probe runs (iomodels watch): its task storage
 * through a pidfd of the thread, the current state's interval counted up to now_ns. 0, or
 * -errno (-ENOENT: the probe has not seen the thread yet; -ESRCH: it is gone).
 */
int iom_sched_read(struct iom_sched *s, pid_t tid, uint64_t now_ns, struct iom_thread *out);
/*
 * Write the timeline (tid,comm,state,start_ns,end_ns,cell; ns after the window's start), each
 * thread's intervals disjoint: *nr_cut says how many overlapped and were cut (core/timeline.h).
 */
int iom_sched_write_timeline(struct iom_sched *s, FILE *f, const struct iom_sched_thread *th,
			     int nr, const char *cell, uint64_t *nr_written, uint64_t *nr_cut);
void iom_sched_close(struct iom_sched *s);
/* Its loaded programs (for their kernel run-time statistics). */
struct bpf_object *iom_sched_object(struct iom_sched *s);
#endif

#ifndef __always_inline
#define __always_inline inline __attribute__((__always_inline__))
#endif

/*
 * Add d ns to the bucket of t's current state. The programs close a state this way at every
 * switch; the loader closes a thread still in a state at the window's end the same way.
 */
static __always_inline void iom_thread_account(struct iom_thread *t, __u64 d)
{
	switch (t->state) {
	case IOM_TS_ONCPU:
		t->oncpu_ns += d;
		break;
	case IOM_TS_RUNQ:
		t->runq_ns += d;
		break;
	case IOM_TS_SLEEP:
	case IOM_TS_DISK:
		if (t->state == IOM_TS_SLEEP)
			t->sleep_ns += d;
		else
			t->disk_ns += d;
		if (t->flags & IOM_TF_IOWAIT)
			t->iowait_ns += d;
		if (t->flags & IOM_TF_IDLE)
			t->idle_ns += d;
		break;
	default:
		break;
	}
}

#endif
