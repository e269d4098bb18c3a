// SPDX-License-Identifier: MIT
/* Log-linear latency histogram: see hist.h for the bucket layout and its error bound. */
#include <string.h>

#include "hist.h"

void iom_hist_init(struct iom_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void iom_hist_merge(struct iom_hist *dst, const struct iom_hist *src)
{
	for (unsigned int i = 0; i < IOM_HIST_NR_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t iom_hist_bucket_lo(unsigned int idx)
{
	unsigned int shift;

	if (idx < IOM_HIST_SUB)
		return idx;
	shift = (idx - IOM_HIST_SUB) / IOM_HIST_HALF + 1;
	return ((uint64_t)IOM_HIST_HALF + (idx - IOM_HIST_SUB) % IOM_HIST_HALF) << shift;
}

uint64_t iom_hist_bucket_width(unsigned int idx)
{
	if (idx < IOM_HIST_SUB)
		return 1;
	return (uint64_t)1 << ((idx - IOM_HIST_SUB) / IOM_HIST_HALF + 1);
}

uint64_t iom_hist_quantile(const struct iom_hist *h, double q)
{
	uint64_t rank, seen = 0, mid;

	if (!h->count)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	/* The smallest value with at least ceil(q * count) values at or below it. */
	rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count)
		rank++;
	if (rank == 0)
		rank = 1;
	for (unsigned int i = 0; i < IOM_HIST_NR_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen < rank)
			continue;
		mid = iom_hist_bucket_lo(i) + (iom_hist_bucket_width(i) - 1) / 2;
		if (mid < h->min)
			mid = h->min;
		if (mid > h->max)
			mid = h->max;
		return mid;
	}
	return h->max;
}

int iom_hist_quantile_backed(const struct iom_hist *h, double q)
{
	if (q >= 1)
		return 0;
	return (double)h->count >= 10.0 / (1.0 - q) - 1e-9;
}

double iom_hist_mean(const struct iom_hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0;
}

void iom_hist_write_csv(const struct iom_hist *h, const char *label, FILE *f)
{
	for (unsigned int i = 0; i < IOM_HIST_NR_BUCKETS; i++)
		if (h->buckets[i])
			fprintf(f, "%s,%llu,%llu,%llu\n", label,
				(unsigned long long)iom_hist_bucket_lo(i),
				(unsigned long long)iom_hist_bucket_width(i),
				(unsigned long long)h->buckets[i]);
}
