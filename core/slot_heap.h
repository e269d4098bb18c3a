/* SPDX-License-Identifier: MIT */
/*
 * A binary min-heap of slot numbers, ordered by a key per slot (when the slot's task is due),
 * that knows where each slot stands in it, so a task that ends another way (its op, a cancel)
 * leaves in O(log n). epoll and uring keep their timer tasks in one and arm a single timer at
 * its first key, instead of one timer per task. Only the submitter that owns it touches it.
 * Inline: push, pop and delete are on the per-task path.
 */
#ifndef IOM_SLOT_HEAP_H
#define IOM_SLOT_HEAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define IOM_HEAP_NONE	UINT32_MAX

struct iom_heap_ent {
	uint64_t key;		/* when the slot's task is due */
	uint32_t pos;		/* its index in heap[], or IOM_HEAP_NONE */
};

struct iom_slot_heap {
	uint32_t *heap;			/* slot numbers; heap[0] has the smallest key */
	struct iom_heap_ent *ent;	/* per slot */
	unsigned int nr;
};

/* Room for nr_slots slots, none queued. 0, or -1 without memory. */
static inline int iom_slot_heap_init(struct iom_slot_heap *h, unsigned int nr_slots)
{
	h->nr = 0;
	h->heap = calloc(nr_slots, sizeof(*h->heap));
	h->ent = calloc(nr_slots, sizeof(*h->ent));
	if (!h->heap || !h->ent) {
		free(h->heap);
		free(h->ent);
		h->heap = NULL;
		h->ent = NULL;
		return -1;
	}
	for (unsigned int i = 0; i < nr_slots; i++)
		h->ent[i].pos = IOM_HEAP_NONE;
	return 0;
}

static inline void iom_slot_heap_free(struct iom_slot_heap *h)
{
	free(h->heap);
	free(h->ent);
	h->heap = NULL;
	h->ent = NULL;
}

static inline uint64_t iom_slot_heap_key_at(const struct iom_slot_heap *h, unsigned int i)
{
	return h->ent[h->heap[i]].key;
}

static inline bool iom_slot_heap_queued(const struct iom_slot_heap *h, uint32_t slot)
{
	return h->ent[slot].pos != IOM_HEAP_NONE;
}

static inline void iom_slot_heap_set(struct iom_slot_heap *h, unsigned int i, uint32_t slot)
{
	h->heap[i] = slot;
	h->ent[slot].pos = i;
}

/* The entry at i moves up or down to where its key belongs. */
static inline void iom_slot_heap_fix(struct iom_slot_heap *h, unsigned int i)
{
	uint32_t slot = h->heap[i];
	uint64_t key = h->ent[slot].key;

	while (i && iom_slot_heap_key_at(h, (i - 1) / 2) > key) {
		iom_slot_heap_set(h, i, h->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		unsigned int c = 2 * i + 1;

		if (c >= h->nr)
			break;
		if (c + 1 < h->nr && iom_slot_heap_key_at(h, c + 1) < iom_slot_heap_key_at(h, c))
			c++;
		if (iom_slot_heap_key_at(h, c) >= key)
			break;
		iom_slot_heap_set(h, i, h->heap[c]);
		i = c;
	}
	iom_slot_heap_set(h, i, slot);
}

static inline void iom_slot_heap_push(struct iom_slot_heap *h, uint32_t slot, uint64_t key)
{
	h->ent[slot].key = key;
	iom_slot_heap_set(h, h->nr, slot);
	iom_slot_heap_fix(h, h->nr++);
}

/* Take slot out, if it is in. */
static inline void iom_slot_heap_del(struct iom_slot_heap *h, uint32_t slot)
{
	unsigned int i = h->ent[slot].pos;

	if (i == IOM_HEAP_NONE)
		return;
	h->ent[slot].pos = IOM_HEAP_NONE;
	if (i == --h->nr)
		return;
	/* The last entry fills the hole. */
	iom_slot_heap_set(h, i, h->heap[h->nr]);
	iom_slot_heap_fix(h, i);
}

#endif
