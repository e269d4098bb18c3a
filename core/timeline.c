// SPDX-License-Identifier: MIT
/* Each thread's timeline intervals made disjoint; see core/timeline.h. */
#include <stdlib.h>

#include "core/timeline.h"

static int by_tid_start(const void *a, const void *b)
{
	const struct iom_tl_span *x = a, *y = b;

	if (x->tid != y->tid)
		return (x->tid > y->tid) - (x->tid < y->tid);
	/* A thread's open interval last: it yields to what the programs wrote. */
	if (x->open != y->open)
		return x->open ? 1 : -1;
	if (x->start_ns != y->start_ns)
		return (x->start_ns > y->start_ns) - (x->start_ns < y->start_ns);
	/* The longer first: of two that start together, the shorter is the one cut away. */
	return (x->end_ns < y->end_ns) - (x->end_ns > y->end_ns);
}

static int by_start_tid(const void *a, const void *b)
{
	const struct iom_tl_span *x = a, *y = b;

	if (x->start_ns != y->start_ns)
		return (x->start_ns > y->start_ns) - (x->start_ns < y->start_ns);
	return (x->tid > y->tid) - (x->tid < y->tid);
}

size_t iom_tl_untangle(struct iom_tl_span *v, size_t n, uint64_t *nr_cut)
{
	size_t kept = 0;

	*nr_cut = 0;
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), by_tid_start);
	for (size_t i = 0; i < n; i++) {
		const struct iom_tl_span *prev = kept ? &v[kept - 1] : NULL;
		struct iom_tl_span cur = v[i];

		if (prev && prev->tid == cur.tid && cur.start_ns < prev->end_ns) {
			++*nr_cut;
			if (cur.end_ns <= prev->end_ns)
				continue;
			cur.start_ns = prev->end_ns;
		}
		v[kept++] = cur;
	}
	qsort(v, kept, sizeof(*v), by_start_tid);
	return kept;
}
