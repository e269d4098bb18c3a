// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Per-thread scheduler accounting for one process (targ_tgid): a small state machine per thread
 * (ONCPU / RUNQ / SLEEP / DISK) in an array slot by tid (task-local storage when another live
 * thread holds the slot), driven by sched_switch, sched_wakeup and sched_wakeup_new. Each
 * interval is added when it ends, clipped to the measured window that user space sets in .bss
 * (t_on_ns / t_off_ns, gated by `window`), so setup, ramp and drain count nothing. A thread's
 * record is copied to the `dead` hash at its last switch, and its slot freed (its task storage
 * goes with it). Some events never reach a tracer (here about one switch or wake-up in a few
 * thousand): they show as a transition from a state the thread was not in, are counted
 * (probe_lost), and the interval is rebuilt from the kernel's own sum_exec_runtime and run_delay.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "core/idle.h"
#include "sched.h"

#define TASK_RUNNING		0x0000
#define TASK_UNINTERRUPTIBLE	0x0002
#define TASK_DEAD		0x0080
#define PF_IO_WORKER		0x00000010
#define NR_FUTEX		202	/* x86_64 */
#define FUTEX_WAIT_BITSET	9
#define FUTEX_CMD_MASK		127
/* io-wq's IO_WORKER_F_FREE: bit 2 (a bit number since 6.x, the mask 4 before: the same bit). */
#define IO_WORKER_FREE_MASK	4ul

const volatile pid_t targ_tgid = 0;
const volatile bool timeline = false;
/* The slots in use: a power of two, at most the array's size (set by the loader). */
const volatile __u32 slot_mask = IOM_SCHED_SLOTS - 1;
/*
 * Follow every transition as it happens: wake-ups (sched_wakeup) and switch-ins. Off (the
 * default, `sched`), a thread is accounted at its switch-outs only: since its last one the
 * kernel's own sum_exec_runtime and run_delay say how long it ran and waited for a CPU, the
 * rest of the span it was in the state it left in (blocked, S or D). One program run per sleep
 * does work instead of three (the switch-in still runs the program, which returns at once).
 * The split is then the kernel's (schedstat's) exactly. The timeline and watch's live view need
 * the moment of each transition, and so follow them.
 */
const volatile bool follow_events = true;

/* The window, written by user space: t_on_ns first, then window = 1; t_off_ns, then 2. */
__u32 window = 0;
__u64 t_on_ns = 0;
__u64 t_off_ns = 0;
__u64 tl_end_ns = 0;
/* Losses, counted inside the window only, and never hidden (they go to probe_lost). */
__u64 nr_nostorage = 0;		/* task storage refused (busy on this CPU, or no memory) */
/*
 * Transitions from a state the thread was not in: a switch-out of a thread not on a CPU, a
 * switch-in of a blocked thread (its wake-up never came), a switch-in of one already on a CPU.
 */
__u64 nr_bad_out = 0;
__u64 nr_bad_in_blocked = 0;
__u64 nr_bad_in = 0;
__u64 nr_dead_full = 0;		/* an exited thread that did not fit in `dead` */
__u64 nr_tl_events = 0;
__u64 nr_tl_dropped = 0;	/* timeline records the ring buffer refused */
__u64 nr_slot_claimed = 0;	/* threads that took a free array slot (at any time) */
__u64 nr_slot_fallback = 0;	/* threads that found their slot held and used task storage */

/*
 * Where most threads' records live: an array lookup is an inlined bounds check, where a task
 * storage lookup from a tracing program is a helper call taking a per-CPU busy count and three
 * dependent loads. A slot is free while its tid is 0.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IOM_SCHED_SLOTS);
	__type(key, __u32);
	__type(value, struct iom_thread);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct iom_thread);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct iom_dead_thread);
} dead SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);	/* resized by the loader when the timeline is on */
} timeline_rb SEC(".maps");

static __always_inline bool in_window(__u64 now)
{
	__u32 w = *(volatile __u32 *)&window;
	__u64 off;

	if (!w)
		return false;
	off = *(volatile __u64 *)&t_off_ns;
	return !off || now < off;
}

/* The part of [since, now) inside the window. */
static __always_inline __u64 clipped(__u64 since, __u64 now)
{
	__u32 w = *(volatile __u32 *)&window;
	__u64 lo, hi, off;

	if (!w)
		return 0;
	lo = *(volatile __u64 *)&t_on_ns;
	if (since > lo)
		lo = since;
	off = *(volatile __u64 *)&t_off_ns;
	hi = off && now > off ? off : now;
	return hi > lo ? hi - lo : 0;
}

static __always_inline void tl_emit(struct iom_thread *t, __u64 now)
{
	struct iom_tl_event *e;
	__u64 lo = t_on_ns, hi = tl_end_ns, off = t_off_ns;

	if (!window || t->state == IOM_TS_UNKNOWN)
		return;
	if (t->since_ns > lo)
		lo = t->since_ns;
	if (now < hi)
		hi = now;
	if (off && off < hi)
		hi = off;
	if (hi <= lo)
		return;
	if (__sync_fetch_and_add(&nr_tl_events, 1) >= IOM_TL_MAX_EVENTS)
		return;
	e = bpf_ringbuf_reserve(&timeline_rb, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&nr_tl_dropped, 1);
		return;
	}
	e->tid = t->tid;
	e->state = (__u16)t->state;
	e->flags = (__u16)t->flags;
	e->start_ns = lo;
	e->end_ns = hi;
	bpf_ringbuf_submit(e, 0);
}

/* The current state of t ends now: add its clipped length where it belongs. */
static __always_inline void close_state(struct iom_thread *t, __u64 now)
{
	__u64 d = clipped(t->since_ns, now);

	iom_thread_account(t, d);
	if (timeline)
		tl_emit(t, now);
}

/* End the current state at `at` and enter `state` there. */
static __always_inline void advance(struct iom_thread *t, __u32 state, __u64 at)
{
	close_state(t, at);
	t->state = state;
	t->flags = 0;
	t->since_ns = at;
}

/* Take back the clipped part of [lo, hi) from a blocked kind (SLEEP or DISK) and flags. */
static __always_inline void unblock(struct iom_thread *t, __u32 state, __u32 flags, __u64 lo,
				    __u64 hi)
{
	__u64 d = clipped(lo, hi);

	if (state == IOM_TS_SLEEP)
		t->sleep_ns -= d < t->sleep_ns ? d : t->sleep_ns;
	else
		t->disk_ns -= d < t->disk_ns ? d : t->disk_ns;
	if (flags & IOM_TF_IOWAIT)
		t->iowait_ns -= d < t->iowait_ns ? d : t->iowait_ns;
	if (flags & IOM_TF_IDLE)
		t->idle_ns -= d < t->idle_ns ? d : t->idle_ns;
	t->runq_ns += d;
}

static __always_inline __u64 min_u64(__u64 a, __u64 b)
{
	return a < b ? a : b;
}

static __always_inline void inconsistent(struct iom_thread *t, __u64 now, __u64 *counter)
{
	if (!in_window(now))
		return;
	t->lost++;
	__sync_fetch_and_add(counter, 1);
}

/*
 * Zero a slot's record but its owner. free_it: then free the slot, last, so that no one claims
 * it half cleared.
 */
static __always_inline void slot_clear(struct iom_thread *t, bool free_it)
{
	t->since_ns = 0;
	t->state = 0;
	t->flags = 0;
	t->cpu1 = 0;
	__builtin_memset(&t->oncpu_ns, 0,
			 sizeof(*t) - __builtin_offsetof(struct iom_thread, oncpu_ns));
	if (free_it) {
		asm volatile("" ::: "memory");
		*(volatile __u32 *)&t->tid = 0;
	}
}

/*
 * task's record, created when missing: its array slot if it holds it or can take it, else its
 * task storage. *in_slot says which. is_new (sched_wakeup_new): the task was just created, so a
 * slot already holding its tid belonged to an earlier thread whose last switch never came.
 */
static __always_inline struct iom_thread *thread_get(struct task_struct *task, __u64 now,
						     bool is_new, bool *in_slot)
{
	__u32 tid = (__u32)task->pid, idx = tid & slot_mask;
	struct iom_thread *t;

	*in_slot = false;
	t = bpf_map_lookup_elem(&slots, &idx);
	if (t) {
		__u32 owner = *(volatile __u32 *)&t->tid;

		if (owner == tid) {
			if (is_new)
				slot_clear(t, false);
			*in_slot = true;
			return t;
		}
		if (!owner && __sync_val_compare_and_swap(&t->tid, 0, tid) == 0) {
			__sync_fetch_and_add(&nr_slot_claimed, 1);
			*in_slot = true;
			return t;
		}
	}
	t = bpf_task_storage_get(&threads, task, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!t) {
		if (in_window(now))
			__sync_fetch_and_add(&nr_nostorage, 1);
		return NULL;
	}
	if (!t->tid) {
		t->tid = tid;
		__sync_fetch_and_add(&nr_slot_fallback, 1);
	}
	return t;
}

/* Copy an exiting thread's record where user space can still find it. */
static __always_inline void save_dead(struct task_struct *task, struct iom_thread *t,
				      __u32 flags)
{
	struct iom_dead_thread d = {};
	__u32 tid = t->tid;

	__builtin_memcpy(&d.t, t, sizeof(*t));
	d.t.flags |= flags;
	bpf_probe_read_kernel_str(d.comm, sizeof(d.comm), task->comm);
	d.k_exec_ns = task->se.sum_exec_runtime;
	d.exit_ns = bpf_ktime_get_ns();
	if (bpf_core_field_exists(task->sched_info.run_delay))
		d.k_delay_ns = task->sched_info.run_delay;
	if (bpf_map_update_elem(&dead, &tid, &d, BPF_ANY))
		__sync_fetch_and_add(&nr_dead_full, 1);
}

/*
 * Parked idle (core/idle.h): blocked in futex(FUTEX_WAIT_BITSET, ..., IOM_IDLE_FUTEX_BITSET).
 * The registers at its syscall entry say so: x86_64 passes op in rsi and the bitset in r9.
 */
static __always_inline bool parked_idle(struct task_struct *task)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);

	return regs && regs->orig_ax == NR_FUTEX &&
	       (regs->si & FUTEX_CMD_MASK) == FUTEX_WAIT_BITSET &&
	       (__u32)regs->r9 == IOM_IDLE_FUTEX_BITSET;
}

static __always_inline void switch_out(struct task_struct *prev, bool preempt,
				       unsigned int prev_state, __u64 now)
{
	bool counted, in_slot;
	struct iom_thread *t = thread_get(prev, now, false, &in_slot);
	__u64 k_exec, k_delay;

	if (!t)
		return;
	/* The kernel's own figures, up to date here (put_prev_task ran update_curr). */
	k_exec = prev->se.sum_exec_runtime;
	k_delay = bpf_core_field_exists(prev->sched_info.run_delay) ?
			  prev->sched_info.run_delay : 0;
	if (t->state != IOM_TS_ONCPU && t->state != IOM_TS_UNKNOWN) {
		/*
		 * Its switch-in was not followed, or never reached us (and, if it was blocked,
		 * neither did its wake-up). Since its last switch-out the kernel saw it run k_exec -
		 * t->k_exec_ns and wait k_delay - t->k_delay_ns on a run queue: it ran last, waited
		 * before that, and was blocked (if it was) before that. When events are followed,
		 * the run reports the missing one in probe_lost.
		 */
		__u64 span = now - t->since_ns;
		__u64 run = min_u64(k_exec - t->k_exec_ns, span);
		__u64 wait = min_u64(k_delay - t->k_delay_ns, span - run);

		if (follow_events) {
			inconsistent(t, now, &nr_bad_out);
		} else {
			__u32 cpu1 = bpf_get_smp_processor_id() + 1;

			/* A blocked thread that ran again was woken; where it ran says if it moved. */
			if (in_window(now)) {
				if (t->state == IOM_TS_SLEEP || t->state == IOM_TS_DISK)
					t->wakeups++;
				if (t->cpu1 && t->cpu1 != cpu1)
					t->migrations++;
			}
			t->cpu1 = cpu1;
		}
		if (t->state != IOM_TS_RUNQ)
			advance(t, IOM_TS_RUNQ, now - run - wait);
		advance(t, IOM_TS_ONCPU, now - run);
	}
	if (t->fix_in_ns) {
		/*
		 * A wake-up that never came (or was not followed): the kernel now knows how long
		 * the thread waited for a CPU before that switch-in. Move that from blocked. Its
		 * run_delay is not all of it: the kernel starts the woken thread's CPU time from
		 * the run-queue clock of the wake-up, so it books the last stretch before the
		 * switch as CPU time. What it booked as CPU beyond our [fix_in, now) on a CPU
		 * was spent runnable before fix_in too.
		 */
		__u64 k_ran = k_exec - t->k_exec_ns, ran = now - t->fix_in_ns;
		__u64 wait = k_delay - t->fix_delay_ns + (k_ran > ran ? k_ran - ran : 0);

		wait = min_u64(wait, t->fix_in_ns - t->fix_since_ns);

		unblock(t, t->fix_state, t->fix_flags, t->fix_in_ns - wait, t->fix_in_ns);
		t->fix_in_ns = 0;
	}
	close_state(t, now);
	t->k_exec_ns = k_exec;
	t->k_delay_ns = k_delay;
	counted = in_window(now);
	/*
	 * `preempt` misses most involuntary switches (a yield, a wake-up preemption taken at the
	 * next return to user space): a thread switched out while still TASK_RUNNING is runnable,
	 * so that is involuntary too.
	 */
	if (preempt || prev_state == TASK_RUNNING) {
		t->state = IOM_TS_RUNQ;
		t->flags = 0;
		if (counted)
			t->nivcsw++;
	} else {
		if (counted)
			t->nvcsw++;
		if (prev_state & TASK_DEAD) {
			t->state = IOM_TS_DEAD;
			t->since_ns = now;
			save_dead(prev, t, 0);
			if (in_slot)
				slot_clear(t, true);
			return;
		}
		t->state = prev_state & TASK_UNINTERRUPTIBLE ? IOM_TS_DISK : IOM_TS_SLEEP;
		t->flags = BPF_CORE_READ_BITFIELD(prev, in_iowait) ? IOM_TF_IOWAIT : 0;
		if ((prev->flags & PF_IO_WORKER) && bpf_core_type_exists(struct io_worker)) {
			struct io_worker *w = prev->worker_private;

			/* io-wq workers only (SQPOLL threads have no worker_private). */
			if (w && (BPF_CORE_READ(w, flags) & IO_WORKER_FREE_MASK))
				t->flags |= IOM_TF_IDLE;
		} else if (parked_idle(prev)) {
			t->flags |= IOM_TF_IDLE;
		}
	}
	t->since_ns = now;
}

static __always_inline void switch_in(struct task_struct *next, __u64 now)
{
	bool in_slot;
	struct iom_thread *t = thread_get(next, now, false, &in_slot);
	__u32 cpu1;

	if (!t)
		return;
	switch (t->state) {
	case IOM_TS_RUNQ:
		close_state(t, now);
		break;
	case IOM_TS_SLEEP:
	case IOM_TS_DISK:
		/*
		 * Its wake-up never reached us: blocked, then runnable, until now. Count it all as blocked for now; the kernel adds the run-queue part to
		 * run_delay right after this tracepoint, and the next switch-out moves it (see
		 * switch_out).
		 */
		inconsistent(t, now, &nr_bad_in_blocked);
		t->fix_in_ns = now;
		t->fix_since_ns = t->since_ns;
		t->fix_state = t->state;
		t->fix_flags = t->flags;
		t->fix_delay_ns = bpf_core_field_exists(next->sched_info.run_delay) ?
					  next->sched_info.run_delay : 0;
		close_state(t, now);
		break;
	case IOM_TS_UNKNOWN:
		break;
	default:
		inconsistent(t, now, &nr_bad_in);
		break;
	}
	cpu1 = bpf_get_smp_processor_id() + 1;
	if (t->cpu1 != cpu1) {
		if (t->cpu1 && in_window(now))
			t->migrations++;
		t->cpu1 = cpu1;
	}
	t->state = IOM_TS_ONCPU;
	t->flags = 0;
	t->since_ns = now;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(iom_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	bool out = prev->tgid == targ_tgid, in = next->tgid == targ_tgid;
	__u64 now;

	if (!out && !(in && follow_events))
		return 0;
	now = bpf_ktime_get_ns();
	if (out)
		switch_out(prev, preempt, prev_state, now);
	if (in && follow_events)
		switch_in(next, now);
	return 0;
}

static __always_inline void woken(struct task_struct *p, bool is_new)
{
	struct iom_thread *t;
	bool in_slot;
	__u64 now;

	if (p->tgid != targ_tgid)
		return;
	now = bpf_ktime_get_ns();
	t = thread_get(p, now, is_new, &in_slot);
	if (!t)
		return;
	if (!is_new && in_window(now))
		t->wakeups++;
	switch (t->state) {
	case IOM_TS_SLEEP:
	case IOM_TS_DISK:
		close_state(t, now);
		t->state = IOM_TS_RUNQ;
		t->flags = 0;
		t->since_ns = now;
		break;
	case IOM_TS_UNKNOWN:
		t->state = IOM_TS_RUNQ;
		t->since_ns = now;
		break;
	default:
		/* Woken before it went to sleep (still on its runqueue): no transition. */
		break;
	}
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(iom_sched_wakeup, struct task_struct *p)
{
	woken(p, false);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(iom_sched_wakeup_new, struct task_struct *p)
{
	woken(p, true);
	return 0;
}

/*
 * A copy at exit too, marked EXITING: pthread_join returns (the kernel clears the thread's tid)
 * before the thread's last switch, so the driver may collect before that switch comes, or it may
 * be one of the rare events that never reach a tracer. The last switch overwrites it.
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(iom_sched_exit, struct task_struct *p)
{
	__u32 tid = (__u32)p->pid, idx = tid & slot_mask;
	struct iom_thread *t;

	if (p->tgid != targ_tgid)
		return 0;
	t = bpf_map_lookup_elem(&slots, &idx);
	if (!t || t->tid != tid)
		t = bpf_task_storage_get(&threads, p, NULL, 0);
	if (t)
		save_dead(p, t, IOM_TF_EXITING);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
