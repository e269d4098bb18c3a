/* SPDX-License-Identifier: MIT */
/*
 * kernel_free's third failure domain: the status store, where workers record what became of
 * each task and the submitter learns it, by polling (the seed's "RUNNING, RUNNING, COMPLETED")
 * or by a wake-up. One entry per task slot, keyed by the task id: the entry's word holds the
 * id's sequence number beside the status, so an entry left over from the slot's previous task
 * is never taken for the current one.
 */
#ifndef KF_STATUS_H
#define KF_STATUS_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* An entry's status; the word is (seq << KF_ST_BITS) | status. */
enum kf_st {
	KF_ST_FREE,
	KF_ST_QUEUED,	/* SCHEDULED in the seed: in the submit queue */
	KF_ST_RUNNING,	/* a worker has it */
	KF_ST_CANCEL,	/* a worker has it and the submitter asked it to stop */
	KF_ST_DONE,	/* the worker's call returned: res, done_ns hold its outcome */
	KF_ST_CUT,	/* the worker's call was cut short by the cancel: no result */
	KF_ST_DROPPED,	/* taken out before any worker took it (deadline or cancel) */
	KF_ST_LOST,	/* its worker died holding it (--fault kill-worker): no result */
};
#define KF_ST_BITS	4
#define KF_ST_MASK	((1u << KF_ST_BITS) - 1)

struct kf_status {
	_Atomic uint64_t word;
	_Atomic uint32_t kick;	/* futex: bumped to end a worker's cancellable wait */
	/*
	 * rpc: the socket a worker is blocked on, fd + 1 (0: none), with KF_CALL_CLAIMED while
	 * another thread shuts it down: a cancel must end a recv that no answer will end.
	 */
	_Atomic uint32_t call;
	bool conn_shut;		/* the slot's connection was shut by a cut: make a new one */
	int64_t res;		/* bytes or -errno; published by word's DONE store */
	uint64_t done_ns;	/* when the call returned, ditto */
} __attribute__((aligned(64)));
#define KF_CALL_CLAIMED	(1u << 31)	/* one cache line each: workers do not share lines */

/* The list of finished slots workers hand the submitter, and its sleep/wake-up. */
#define KF_NIL	UINT32_MAX
struct kf_done {
	alignas(64) _Atomic uint32_t head;	/* a Treiber stack of slots, KF_NIL = empty */
	alignas(64) _Atomic uint32_t sleeping;	/* futex: 1 while the submitter sleeps */
	uint32_t *next;				/* per slot, written before the push */
	_Atomic uint64_t nr_wakes;		/* wake-ups actually sent */
};

struct kf_store {
	struct kf_status *entries;
	unsigned int nr;
	struct kf_done done;
};

int kf_store_init(struct kf_store *s, unsigned int nr);
void kf_store_free(struct kf_store *s);

static inline uint64_t kf_word(uint64_t seq, enum kf_st st)
{
	return (seq << KF_ST_BITS) | st;
}
static inline enum kf_st kf_word_st(uint64_t w)
{
	return (enum kf_st)(w & KF_ST_MASK);
}
static inline uint64_t kf_word_seq(uint64_t w)
{
	return w >> KF_ST_BITS;
}

/* Submitter, before the id enters the queue: the entry now belongs to task seq. */
void kf_status_queued(struct kf_status *e, uint64_t seq);
/* Submitter: change seq's entry from -> to; false if it was not (seq, from). */
bool kf_status_move(struct kf_status *e, uint64_t seq, enum kf_st from, enum kf_st to);
/* Worker: QUEUED -> RUNNING for seq; false if dropped or stale (skip the id). */
bool kf_status_take(struct kf_status *e, uint64_t seq);
/* Worker: the call returned res (DONE), or was cut short (CUT, res unused). */
void kf_status_done(struct kf_status *e, uint64_t seq, enum kf_st st, int64_t res,
		    uint64_t done_ns);
/* Anyone: the entry's current word (acquire: a DONE word makes res and done_ns readable). */
static inline uint64_t kf_status_read(struct kf_status *e)
{
	return atomic_load_explicit(&e->word, memory_order_acquire);
}
/* Submitter: end a worker's cancellable wait on this entry. */
void kf_status_kick(struct kf_status *e);
/* Worker: about to block on socket fd for this entry's task, or done with it. */
void kf_call_enter(struct kf_status *e, int fd);
void kf_call_leave(struct kf_status *e, int fd);
/* Another thread: shut the socket of the call in progress down, so its recv returns. */
void kf_call_cut(struct kf_status *e);

/* Worker, after kf_status_done(): hand the slot over; wakes the submitter only if it sleeps. */
void kf_done_push(struct kf_done *d, uint32_t slot);
/* Submitter: take every finished slot, oldest first, into out; returns how many. */
unsigned int kf_done_take(struct kf_done *d, uint32_t *out);
/* Submitter: sleep until a slot is pushed or abs_ns passes (unless one is there already). */
void kf_done_wait(struct kf_done *d, uint64_t abs_ns);

#endif
