/* SPDX-License-Identifier: MIT */
/*
 * kernel_free's first failure domain: the submit queue between the submitter and the workers.
 * A bounded multi-producer multi-consumer ring of task ids (Dmitry Vyukov's, one sequence
 * number per cell), and a parking lot where idle workers sleep in the kernel, each on its own
 * futex, instead of spinning. Full means full: the submitter gets IOM_Q_BUSY, the seed's "429".
 */
#ifndef KF_QUEUE_H
#define KF_QUEUE_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct kf_cell {
	_Atomic uint64_t seq;	/* pos: free for the push at pos; pos + 1: holds that push */
	uint64_t val;		/* published by seq's store, read after seq's load */
};

/* A consumer's place in the parking lot. */
struct kf_parker {
	_Atomic uint32_t parked;	/* futex: 1 while parked and not yet claimed by a waker */
	int idle_pos;			/* in the idle stack, or -1 (under the lot lock) */
};

struct kf_queue {
	struct kf_cell *cells;
	uint64_t mask;				/* capacity - 1, capacity a power of two */
	/* Producers and consumers each on their own cache line: no false sharing. */
	alignas(64) _Atomic uint64_t tail;	/* next push position */
	alignas(64) _Atomic uint64_t head;	/* next pop position */
	alignas(64) pthread_mutex_t lot_lock;	/* the idle stack; only on the way to sleep */
	struct kf_parker **idle;		/* parked consumers, most recent on top */
	unsigned int nr_idle, max_idle;
	_Atomic uint32_t nr_idle_pub;		/* nr_idle, readable without the lock */
	_Atomic uint32_t nr_waking;		/* claimed by a waker, not yet running again */
};

/*
 * The most cells a queue may have. A queue holds 2 x depth ids rounded up to a power of two
 * (an id dropped by a deadline or a cancel keeps its cell until a worker pops it), capped
 * here; tests lower the cap to make the queue fill.
 */
extern unsigned int kf_queue_cap_max;

/* capacity is rounded up to a power of two (at least 2); up to max_consumers may park. */
int kf_queue_init(struct kf_queue *q, unsigned int capacity, unsigned int max_consumers);
void kf_queue_free(struct kf_queue *q);
static inline unsigned int kf_queue_capacity(const struct kf_queue *q)
{
	return (unsigned int)q->mask + 1;
}

/* Lock-free; false when full. Waking a consumer is a separate step: kf_queue_wake(). */
bool kf_queue_push(struct kf_queue *q, uint64_t val);
/* Lock-free; false when empty. */
bool kf_queue_pop(struct kf_queue *q, uint64_t *val);
/*
 * Pop, parking while the queue is empty; false once *stop is set (and kf_queue_wake_all()
 * called). A consumer that takes an item and leaves more behind wakes one more consumer,
 * unless one is already on its way.
 */
bool kf_queue_pop_wait(struct kf_queue *q, struct kf_parker *me, uint64_t *val,
		       _Atomic bool *stop);
/* After pushes: wake up to n parked consumers; no system call when none is parked. */
void kf_queue_wake(struct kf_queue *q, unsigned int n);
void kf_queue_wake_all(struct kf_queue *q);

#endif
