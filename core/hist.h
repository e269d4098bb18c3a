/* SPDX-License-Identifier: MIT */
/*
 * A log-linear latency histogram in the manner of HdrHistogram: values below 2^SUB_BITS ns are
 * exact; above, each power of two is cut into 2^(SUB_BITS-1) equal buckets, so a bucket is at most
 * 1/2^(SUB_BITS-1) of its value wide and its midpoint is within 1/2^SUB_BITS (0.4%) of any value
 * in it. One histogram per submitter thread: recording is a shift, a count-leading-zeros and an
 * increment, with no lock and no allocation; the driver merges them after the run.
 */
#ifndef IOM_HIST_H
#define IOM_HIST_H

#include <stdint.h>
#include <stdio.h>

#define IOM_HIST_SUB_BITS	8
#define IOM_HIST_SUB		(1u << IOM_HIST_SUB_BITS)		/* 256 exact values */
#define IOM_HIST_HALF		(IOM_HIST_SUB / 2)			/* buckets per octave */
#define IOM_HIST_MAX_BITS	44					/* ~4.9 hours in ns */
#define IOM_HIST_NR_BUCKETS	(IOM_HIST_SUB + (IOM_HIST_MAX_BITS - IOM_HIST_SUB_BITS) * IOM_HIST_HALF)

struct iom_hist {
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t buckets[IOM_HIST_NR_BUCKETS];
};

static inline unsigned int iom_hist_index(uint64_t v)
{
	unsigned int msb, shift;

	if (v < IOM_HIST_SUB)
		return (unsigned int)v;
	msb = 63u - (unsigned int)__builtin_clzll(v);
	if (msb >= IOM_HIST_MAX_BITS)
		return IOM_HIST_NR_BUCKETS - 1;
	/* v >> shift is in [HALF, SUB): the top SUB_BITS bits of v. */
	shift = msb - (IOM_HIST_SUB_BITS - 1);
	return IOM_HIST_SUB + (shift - 1) * IOM_HIST_HALF + (unsigned int)((v >> shift) - IOM_HIST_HALF);
}

static inline void iom_hist_record(struct iom_hist *h, uint64_t v)
{
	h->buckets[iom_hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

/* n values v at once: the same histogram as n calls of iom_hist_record(h, v). */
static inline void iom_hist_record_n(struct iom_hist *h, uint64_t v, uint64_t n)
{
	h->buckets[iom_hist_index(v)] += n;
	h->count += n;
	h->sum += v * n;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void iom_hist_init(struct iom_hist *h);
/*
 * A recorder's histogram, empty, whose pages are backed only once a bucket on them is written
 * (a sync model has one per thread); NULL when out of memory. Free with iom_hist_free.
 */
struct iom_hist *iom_hist_new(void);
void iom_hist_free(struct iom_hist *h);
/* Bytes of h resident now (mincore), 0 if that cannot be told: what h costs the process. */
size_t iom_hist_resident_bytes(const struct iom_hist *h);
void iom_hist_merge(struct iom_hist *dst, const struct iom_hist *src);
/* Lowest value and width of bucket idx. */
uint64_t iom_hist_bucket_lo(unsigned int idx);
uint64_t iom_hist_bucket_width(unsigned int idx);
/* The value at quantile q in [0, 1] (bucket midpoint clamped to [min, max]); 0 if empty. */
uint64_t iom_hist_quantile(const struct iom_hist *h, double q);
/* Enough samples behind quantile q to show it: at least 10 / (1 - q) (DESIGN §6). */
int iom_hist_quantile_backed(const struct iom_hist *h, double q);
double iom_hist_mean(const struct iom_hist *h);
/* Raw buckets as CSV rows "label,lo_ns,width_ns,count" (non-empty buckets only). */
void iom_hist_write_csv(const struct iom_hist *h, const char *label, FILE *f);

#endif
