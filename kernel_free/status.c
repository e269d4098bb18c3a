// SPDX-License-Identifier: MIT
/*
 * kernel_free's status store and completion hand-off.
 *
 * Every status change is one atomic on the entry's word. The submitter and a worker race on
 * an entry in exactly two places, both settled by compare-and-swap: QUEUED -> RUNNING (a
 * worker takes the task) against QUEUED -> DROPPED (its deadline passed or it was cancelled
 * while queued), and RUNNING -> CANCEL against the worker's RUNNING -> DONE.
 *
 * Wake-ups are coalesced as libuv's uv_async_send does: a worker makes the futex system call
 * only when the submitter has said it is asleep, and only one worker per sleep does.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "kernel_free/futex.h"
#include "kernel_free/status.h"

int kf_store_init(struct kf_store *s, unsigned int nr)
{
	s->entries = aligned_alloc(64, (size_t)nr * sizeof(*s->entries));
	s->done.next = calloc(nr, sizeof(*s->done.next));
	if (!s->entries || !s->done.next) {
		kf_store_free(s);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < nr; i++) {
		atomic_init(&s->entries[i].word, kf_word(0, KF_ST_FREE));
		atomic_init(&s->entries[i].kick, 0);
		atomic_init(&s->entries[i].call, 0);
		s->entries[i].conn_shut = false;
		s->entries[i].res = 0;
		s->entries[i].done_ns = 0;
	}
	s->nr = nr;
	atomic_init(&s->done.head, KF_NIL);
	atomic_init(&s->done.sleeping, 0);
	atomic_init(&s->done.nr_wakes, 0);
	return 0;
}

void kf_store_free(struct kf_store *s)
{
	free(s->entries);
	free(s->done.next);
	s->entries = NULL;
	s->done.next = NULL;
}

void kf_status_queued(struct kf_status *e, uint64_t seq)
{
	/* Release: the task's fields, written by the driver, are visible to the taker. */
	atomic_store_explicit(&e->word, kf_word(seq, KF_ST_QUEUED), memory_order_release);
}

bool kf_status_move(struct kf_status *e, uint64_t seq, enum kf_st from, enum kf_st to)
{
	uint64_t w = kf_word(seq, from);

	/* seq_cst (a locked cmpxchg on x86 either way): see kf_workers_stop(). */
	return atomic_compare_exchange_strong_explicit(&e->word, &w, kf_word(seq, to),
						       memory_order_seq_cst, memory_order_seq_cst);
}

bool kf_status_take(struct kf_status *e, uint64_t seq)
{
	/* Acquire on success: pairs with kf_status_queued(), the task is ours to read. */
	return kf_status_move(e, seq, KF_ST_QUEUED, KF_ST_RUNNING);
}

void kf_status_done(struct kf_status *e, uint64_t seq, enum kf_st st, int64_t res,
		    uint64_t done_ns)
{
	e->res = res;
	e->done_ns = done_ns;
	/*
	 * A plain store, not a CAS: from RUNNING or CANCEL only this worker moves the entry.
	 * If the submitter's RUNNING -> CANCEL got in first, DONE overwrites CANCEL: the call
	 * completed anyway, and the submitter, which already set ABORTED, counts it as late.
	 */
	atomic_store_explicit(&e->word, kf_word(seq, st), memory_order_release);
}

void kf_status_kick(struct kf_status *e)
{
	atomic_fetch_add_explicit(&e->kick, 1, memory_order_seq_cst);
	kf_futex_wake(&e->kick, 1);
}

/* seq_cst: pairs with the status move to CANCEL (or the pool's stop) before kf_call_cut(). */
void kf_call_enter(struct kf_status *e, int fd)
{
	atomic_store_explicit(&e->call, (uint32_t)fd + 1, memory_order_seq_cst);
}

void kf_call_leave(struct kf_status *e, int fd)
{
	uint32_t mine = (uint32_t)fd + 1;

	/* Claimed: the fd is being shut down; it must stay open until that is done. */
	if (!atomic_compare_exchange_strong(&e->call, &mine, 0))
		while (atomic_load(&e->call))
			sched_yield();
}

void kf_call_cut(struct kf_status *e)
{
	uint32_t call = atomic_load(&e->call);

	if (!call || (call & KF_CALL_CLAIMED) ||
	    !atomic_compare_exchange_strong(&e->call, &call, call | KF_CALL_CLAIMED))
		return;
	shutdown((int)call - 1, SHUT_RDWR);
	atomic_store(&e->call, 0);
}

void kf_done_push(struct kf_done *d, uint32_t slot)
{
	uint32_t head = atomic_load_explicit(&d->head, memory_order_relaxed);

	/* Only the submitter pops, and it takes the whole stack at once: no ABA. */
	do
		d->next[slot] = head;
	while (!atomic_compare_exchange_weak_explicit(&d->head, &head, slot, memory_order_seq_cst,
						      memory_order_relaxed));
	/*
	 * Publish, then check: the push and this load are seq_cst, as are the submitter's
	 * "sleeping = 1" and its look at the stack after it, so either we see it asleep or it
	 * sees our slot. The exchange lets one worker per sleep make the system call.
	 */
	if (atomic_load_explicit(&d->sleeping, memory_order_seq_cst) &&
	    atomic_exchange_explicit(&d->sleeping, 0, memory_order_seq_cst)) {
		atomic_fetch_add_explicit(&d->nr_wakes, 1, memory_order_relaxed);
		kf_futex_wake(&d->sleeping, 1);
	}
}

unsigned int kf_done_take(struct kf_done *d, uint32_t *out)
{
	uint32_t slot = atomic_exchange_explicit(&d->head, KF_NIL, memory_order_acquire);
	unsigned int n = 0;

	for (; slot != KF_NIL; slot = d->next[slot])
		out[n++] = slot;
	/* The stack gives newest first; report in the order the tasks finished. */
	for (unsigned int i = 0; i < n / 2; i++) {
		uint32_t tmp = out[i];

		out[i] = out[n - 1 - i];
		out[n - 1 - i] = tmp;
	}
	return n;
}

void kf_done_wait(struct kf_done *d, uint64_t abs_ns)
{
	atomic_store_explicit(&d->sleeping, 1, memory_order_seq_cst);
	/* Re-check after saying so: a slot pushed before the flag was seen is here now. */
	if (atomic_load_explicit(&d->head, memory_order_seq_cst) == KF_NIL)
		/* Sleeps only while sleeping is still 1: a worker's exchange to 0 ends it. */
		kf_futex_wait(&d->sleeping, 1, abs_ns);
	atomic_store_explicit(&d->sleeping, 0, memory_order_relaxed);
}
