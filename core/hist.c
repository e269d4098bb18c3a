// SPDX-License-Identifier: MIT
/* Log-linear latency histogram: see hist.h for the bucket layout and its error bound. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hist.h"

/*
 * Anonymous pages read as zero and are backed only once written, so a recorder's histogram
 * holds the pages of the buckets it used (one or two for a fixed service time), not all 38 KB:
 * with one histogram per sync thread, zeroing it in full made the harness most of the threads
 * model's RSS at C=1024. Recording is unchanged; a page's first write costs one minor fault.
 */
struct iom_hist *iom_hist_new(void)
{
	struct iom_hist *h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (h == MAP_FAILED)
		return NULL;
	h->min = UINT64_MAX;
	return h;
}

void iom_hist_free(struct iom_hist *h)
{
	if (h)
		munmap(h, sizeof(*h));
}

size_t iom_hist_resident_bytes(const struct iom_hist *h)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = (sizeof(*h) + page - 1) / page, bytes = 0;
	unsigned char vec[(sizeof(struct iom_hist) + 4095) / 4096];	/* pages are >= 4 KiB */

	if (!h || n > sizeof(vec) || mincore((void *)h, sizeof(*h), vec))
		return 0;
	for (size_t i = 0; i < n; i++)
		bytes += (vec[i] & 1) ? page : 0;
	return bytes;
}

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
