// SPDX-License-Identifier: MIT
/* Tests for core/hist.c: quantile error against exact percentiles, merge, bucket layout. */
#include "tests/helpers.h"

#include <math.h>
#include <pthread.h>
#include <unistd.h>

#include "core/hist.h"

#define NR_VALUES	200000
#define NR_THREADS	4
#define HIST_LIMIT	(1ull << IOM_HIST_MAX_BITS)

/* splitmix64: a seeded generator independent of anything in core/. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in (0, 1): never 0, so log() is safe. */
static double rng_unit(uint64_t *s)
{
	return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(uint64_t *s)
{
	double u1 = rng_unit(s), u2 = rng_unit(s);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static uint64_t gen_uniform(uint64_t *s)
{
	return rng_next(s) % 1001;				/* 0..1e3 */
}

static uint64_t gen_exp(uint64_t *s)
{
	return (uint64_t)(-log(rng_unit(s)) * 1e6);		/* mean 1 ms */
}

static uint64_t gen_lognormal(uint64_t *s)
{
	/* Median 10 us, sigma 4: from under a nanosecond to tens of seconds. */
	double v = exp(log(1e4) + 4.0 * rng_normal(s));

	return v > 1e15 ? (uint64_t)1e15 : (uint64_t)v;
}

/* Past the last octave: these all land in the last bucket. Small enough that sum fits. */
static uint64_t gen_saturating(uint64_t *s)
{
	return HIST_LIMIT + rng_next(s) % (1ull << 50);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static struct iom_hist *hist_new(void)
{
	struct iom_hist *h = malloc(sizeof(*h));

	assert_non_null(h);
	iom_hist_init(h);
	return h;
}

/* The exact value at quantile q: the smallest with at least ceil(q * n) values at or below. */
static uint64_t exact_quantile(const uint64_t *sorted, size_t n, double q)
{
	double want = ceil(q * (double)n);
	size_t rank = want < 1 ? 1 : (size_t)want;

	if (q <= 0)
		return sorted[0];
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

static void check_one_quantile(const struct iom_hist *h, const uint64_t *sorted, size_t n,
			       double q)
{
	uint64_t exact = exact_quantile(sorted, n, q), got = iom_hist_quantile(h, q);
	double rel;

	/* The last bucket is open-ended: no error bound there (checked elsewhere). */
	if (exact >= HIST_LIMIT)
		return;
	if (exact < IOM_HIST_SUB) {
		if (got != exact)
			fail_msg("q=%g n=%zu: got %llu, exact %llu (must be exact below %u)", q, n,
				 (unsigned long long)got, (unsigned long long)exact, IOM_HIST_SUB);
		return;
	}
	/* hist.h's promise: a bucket's midpoint is within 1/2^SUB_BITS (0.4%) of any value in it. */
	rel = fabs((double)got - (double)exact) / (double)exact;
	if (rel > 1.0 / IOM_HIST_SUB)
		fail_msg("q=%g n=%zu: got %llu, exact %llu: relative error %.5f > 1/%u", q, n,
			 (unsigned long long)got, (unsigned long long)exact, rel, IOM_HIST_SUB);
}

/* Record v[0..n), then compare the histogram with the sorted values. */
static void check_against_exact(const uint64_t *v, size_t n)
{
	static const double qs[] = { 0.5, 0.9, 0.99, 0.999 };
	struct iom_hist *h = hist_new();
	uint64_t *sorted = malloc(n * sizeof(*sorted));
	uint64_t sum = 0;

	assert_non_null(sorted);
	for (size_t i = 0; i < n; i++) {
		iom_hist_record(h, v[i]);
		sum += v[i];
	}
	memcpy(sorted, v, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_u64);

	assert_int_equal(h->count, n);
	assert_int_equal(h->sum, sum);
	assert_int_equal(h->min, sorted[0]);
	assert_int_equal(h->max, sorted[n - 1]);
	assert_true(fabs(iom_hist_mean(h) - (double)sum / (double)n) <
		    1e-6 * iom_hist_mean(h) + 1e-9);
	assert_int_equal(iom_hist_quantile(h, 0), sorted[0]);
	assert_int_equal(iom_hist_quantile(h, 1), sorted[n - 1]);

	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		check_one_quantile(h, sorted, n, qs[i]);
	/* And a sweep, so no part of the bucket layout goes unchecked. */
	for (int k = 1; k < 1000; k++)
		check_one_quantile(h, sorted, n, k / 1000.0);
	free(sorted);
	free(h);
}

static uint64_t *gen_values(uint64_t seed, size_t n_uni, size_t n_exp, size_t n_logn,
			    size_t n_sat)
{
	size_t n = n_uni + n_exp + n_logn + n_sat, i = 0;
	uint64_t *v = malloc(n * sizeof(*v)), s = seed;

	assert_non_null(v);
	while (i < n) {
		/* Interleave, so a slice of the array is a mix (the merge test relies on it). */
		if (n_uni && (rng_next(&s) & 3) == 0) {
			v[i++] = gen_uniform(&s);
			n_uni--;
		} else if (n_exp && (rng_next(&s) & 3) == 1) {
			v[i++] = gen_exp(&s);
			n_exp--;
		} else if (n_logn && (rng_next(&s) & 3) == 2) {
			v[i++] = gen_lognormal(&s);
			n_logn--;
		} else if (n_sat && (rng_next(&s) & 1023) == 3) {
			v[i++] = gen_saturating(&s);
			n_sat--;
		} else if (!n_uni && !n_exp && !n_logn) {
			v[i++] = gen_saturating(&s);
			n_sat--;
		}
	}
	return v;
}

static void test_quantile_mixed(void **state)
{
	uint64_t *v = gen_values(1, 50000, 50000, NR_VALUES - 100000 - 20, 20);
	size_t sat = 0;

	for (size_t i = 0; i < NR_VALUES; i++)
		sat += v[i] >= HIST_LIMIT;
	assert_int_equal(sat, 20);
	check_against_exact(v, NR_VALUES);
	free(v);
}

static void test_quantile_each_distribution(void **state)
{
	static const uint64_t seeds[] = { 2, 3, 4 };

	for (size_t k = 0; k < sizeof(seeds) / sizeof(seeds[0]); k++) {
		uint64_t *u = gen_values(seeds[k], 20000, 0, 0, 0);
		uint64_t *e = gen_values(seeds[k], 0, 20000, 0, 0);
		uint64_t *l = gen_values(seeds[k], 0, 0, 20000, 0);

		check_against_exact(u, 20000);
		check_against_exact(e, 20000);
		check_against_exact(l, 20000);
		free(u);
		free(e);
		free(l);
	}
}

/* Tiny histograms: the rank rule on 1, 2, 3 values and on one repeated value. */
static void test_quantile_small(void **state)
{
	struct iom_hist *h = hist_new();

	iom_hist_record(h, 1000000);
	assert_int_equal(iom_hist_quantile(h, 0.5), 1000000);	/* clamped to min = max */
	assert_int_equal(iom_hist_quantile(h, 0.999), 1000000);

	iom_hist_init(h);
	iom_hist_record(h, 10);
	iom_hist_record(h, 20);
	assert_int_equal(iom_hist_quantile(h, 0.5), 10);	/* ceil(1.0) = 1st */
	assert_int_equal(iom_hist_quantile(h, 0.51), 20);
	assert_int_equal(iom_hist_quantile(h, 1e-9), 10);

	iom_hist_init(h);
	for (int i = 0; i < 3; i++)
		iom_hist_record(h, 100 + (uint64_t)i);
	assert_int_equal(iom_hist_quantile(h, 0.3), 100);
	assert_int_equal(iom_hist_quantile(h, 0.34), 101);
	assert_int_equal(iom_hist_quantile(h, 0.67), 102);
	free(h);
}

/* A run of n equal values at once is the same histogram as n records of it (the driver's way). */
static void test_record_n(void **state)
{
	static const uint64_t v[] = { 0, 7, 255, 256, 1000, 123456789, HIST_LIMIT + 5 };
	static const uint64_t n[] = { 1, 3, 128, 2, 1, 64, 5 };
	struct iom_hist *one = hist_new(), *runs = hist_new();

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		for (uint64_t k = 0; k < n[i]; k++)
			iom_hist_record(one, v[i]);
		iom_hist_record_n(runs, v[i], n[i]);
	}
	assert_memory_equal(one, runs, sizeof(*one));
	free(one);
	free(runs);
}

/* Values past 2^44 share the last bucket; the quantile stays inside [min, max]. */
static void test_saturation(void **state)
{
	struct iom_hist *h = hist_new();
	uint64_t lo = HIST_LIMIT + 12345, hi = UINT64_MAX / 4;
	uint64_t q;

	iom_hist_record(h, lo);
	iom_hist_record(h, hi);
	assert_int_equal(h->buckets[IOM_HIST_NR_BUCKETS - 1], 2);
	assert_int_equal(h->min, lo);
	assert_int_equal(h->max, hi);
	q = iom_hist_quantile(h, 0.5);
	assert_true(q >= lo && q <= hi);
	assert_int_equal(iom_hist_quantile(h, 1), hi);
	free(h);
}

struct merge_arg {
	const uint64_t *v;
	size_t n;
	struct iom_hist *h;
};

static void *merge_worker(void *p)
{
	struct merge_arg *a = p;

	for (size_t i = 0; i < a->n; i++)
		iom_hist_record(a->h, a->v[i]);
	return NULL;
}

static void assert_hist_equal(const struct iom_hist *a, const struct iom_hist *b)
{
	assert_int_equal(a->count, b->count);
	assert_int_equal(a->sum, b->sum);
	assert_int_equal(a->min, b->min);
	assert_int_equal(a->max, b->max);
	for (unsigned int i = 0; i < IOM_HIST_NR_BUCKETS; i++)
		if (a->buckets[i] != b->buckets[i])
			fail_msg("bucket %u: %llu != %llu", i, (unsigned long long)a->buckets[i],
				 (unsigned long long)b->buckets[i]);
}

static void test_merge(void **state)
{
	uint64_t *v = gen_values(5, 50000, 50000, NR_VALUES - 100000 - 20, 20);
	struct merge_arg args[NR_THREADS];
	pthread_t tids[NR_THREADS];
	struct iom_hist *all = hist_new(), *merged = hist_new(), *rev = hist_new();
	struct iom_hist *empty = hist_new(), *copy = hist_new();
	size_t per = NR_VALUES / NR_THREADS;

	for (size_t i = 0; i < NR_VALUES; i++)
		iom_hist_record(all, v[i]);
	/* Unequal slices, as submitters' counts differ in a run. */
	for (int t = 0; t < NR_THREADS; t++) {
		size_t from = t * per - (t ? per / 3 : 0);
		size_t to = t == NR_THREADS - 1 ? NR_VALUES : (t + 1) * per - per / 3;

		args[t] = (struct merge_arg){ v + from, to - from, hist_new() };
		assert_int_equal(pthread_create(&tids[t], NULL, merge_worker, &args[t]), 0);
	}
	for (int t = 0; t < NR_THREADS; t++)
		assert_int_equal(pthread_join(tids[t], NULL), 0);
	for (int t = 0; t < NR_THREADS; t++)
		iom_hist_merge(merged, args[t].h);
	for (int t = NR_THREADS - 1; t >= 0; t--)
		iom_hist_merge(rev, args[t].h);
	assert_hist_equal(merged, all);
	assert_hist_equal(rev, all);
	assert_int_equal(iom_hist_quantile(merged, 0.99), iom_hist_quantile(all, 0.99));

	/* An empty histogram (min = UINT64_MAX, max = 0) is the identity of merge. */
	memcpy(copy, all, sizeof(*copy));
	iom_hist_merge(copy, empty);
	assert_hist_equal(copy, all);
	iom_hist_merge(empty, all);
	assert_hist_equal(empty, all);

	for (int t = 0; t < NR_THREADS; t++)
		free(args[t].h);
	free(copy);
	free(empty);
	free(rev);
	free(merged);
	free(all);
	free(v);
}

static void test_bucket_roundtrip(void **state)
{
	uint64_t expect_lo = 0;

	assert_int_equal(iom_hist_bucket_lo(0), 0);
	for (unsigned int idx = 0; idx < IOM_HIST_NR_BUCKETS; idx++) {
		uint64_t lo = iom_hist_bucket_lo(idx), w = iom_hist_bucket_width(idx);

		if (lo != expect_lo)
			fail_msg("bucket %u: lo %llu, previous bucket ended at %llu", idx,
				 (unsigned long long)lo, (unsigned long long)expect_lo);
		assert_true(w >= 1);
		if (idx < IOM_HIST_SUB)
			assert_int_equal(w, 1);
		else if (w * (IOM_HIST_SUB / 2) > lo)
			/* The header's bound: midpoint within 1/2^SUB_BITS of any value. */
			fail_msg("bucket %u: width %llu too wide for lo %llu", idx,
				 (unsigned long long)w, (unsigned long long)lo);
		if (iom_hist_index(lo) != idx)
			fail_msg("index(lo of %u = %llu) = %u", idx, (unsigned long long)lo,
				 iom_hist_index(lo));
		if (iom_hist_index(lo + w - 1) != idx)
			fail_msg("index(hi of %u = %llu) = %u", idx,
				 (unsigned long long)(lo + w - 1), iom_hist_index(lo + w - 1));
		if (idx + 1 < IOM_HIST_NR_BUCKETS && iom_hist_index(lo + w) != idx + 1)
			fail_msg("index(lo + width of %u = %llu) = %u, want %u", idx,
				 (unsigned long long)(lo + w), iom_hist_index(lo + w), idx + 1);
		expect_lo = lo + w;
	}
	/* The buckets tile [0, 2^44) exactly; everything above saturates into the last. */
	assert_int_equal(expect_lo, HIST_LIMIT);
	assert_int_equal(iom_hist_index(HIST_LIMIT - 1), IOM_HIST_NR_BUCKETS - 1);
	assert_int_equal(iom_hist_index(HIST_LIMIT), IOM_HIST_NR_BUCKETS - 1);
	assert_int_equal(iom_hist_index(UINT64_MAX), IOM_HIST_NR_BUCKETS - 1);
	/* Powers of two start a bucket. */
	for (unsigned int b = 0; b < IOM_HIST_MAX_BITS; b++) {
		unsigned int idx = iom_hist_index(1ull << b);

		assert_int_equal(iom_hist_bucket_lo(idx), 1ull << b);
	}
}

static void test_quantile_backed(void **state)
{
	static const struct {
		double q;
		uint64_t need;
	} cases[] = {
		{ 0.5, 20 }, { 0.9, 100 }, { 0.99, 1000 }, { 0.999, 10000 },
	};
	struct iom_hist *h = hist_new();

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		iom_hist_init(h);
		for (uint64_t i = 0; i < cases[k].need - 1; i++)
			iom_hist_record(h, 1000 + i);
		if (iom_hist_quantile_backed(h, cases[k].q))
			fail_msg("q=%g backed by %llu samples, needs %llu", cases[k].q,
				 (unsigned long long)h->count, (unsigned long long)cases[k].need);
		iom_hist_record(h, 7);
		if (!iom_hist_quantile_backed(h, cases[k].q))
			fail_msg("q=%g not backed by %llu samples", cases[k].q,
				 (unsigned long long)h->count);
	}
	/* p999 with p99's sample count is not backed; the maximum never is by this rule. */
	iom_hist_init(h);
	for (int i = 0; i < 1000; i++)
		iom_hist_record(h, 5);
	assert_true(iom_hist_quantile_backed(h, 0.99));
	assert_false(iom_hist_quantile_backed(h, 0.999));
	assert_false(iom_hist_quantile_backed(h, 1.0));
	iom_hist_init(h);
	assert_false(iom_hist_quantile_backed(h, 0.5));
	free(h);
}

static void test_empty(void **state)
{
	static const double qs[] = { 0, 0.5, 0.9, 0.99, 0.999, 1 };
	struct iom_hist *h = hist_new();
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	assert_int_equal(h->count, 0);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		assert_int_equal(iom_hist_quantile(h, qs[i]), 0);
	assert_true(iom_hist_mean(h) == 0);

	/* An empty histogram writes no CSV rows; a filled one one row per non-empty bucket. */
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	iom_hist_write_csv(h, "x", f);
	fflush(f);
	assert_int_equal(len, 0);
	iom_hist_record(h, 3);
	iom_hist_record(h, 3);
	iom_hist_record(h, 1000);
	iom_hist_write_csv(h, "x", f);
	fclose(f);
	assert_string_equal(buf, "x,3,1,2\nx,1000,4,1\n");
	free(buf);
	free(h);
}

/*
 * A recorder's histogram costs the pages it wrote: one value fills the header's page and its
 * bucket's, not all ~10; it records and merges like one made by iom_hist_init.
 */
static void test_new_is_sparse(void **state)
{
	struct iom_hist *h = iom_hist_new(), *ref = hist_new();
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	assert_non_null(h);
	assert_int_equal(h->count, 0);
	assert_true(h->min == UINT64_MAX);
	iom_hist_record(h, 1050000);
	iom_hist_record(ref, 1050000);
	assert_true(iom_hist_resident_bytes(h) > 0);
	if (iom_hist_resident_bytes(h) > 2 * page)
		fail_msg("%zu bytes resident after one value (a page is %zu, the histogram %zu)",
			 iom_hist_resident_bytes(h), page, sizeof(*h));
	for (uint64_t v = 1; v < HIST_LIMIT; v *= 3) {
		iom_hist_record(h, v);
		iom_hist_record(ref, v);
	}
	assert_hist_equal(h, ref);
	iom_hist_free(h);
	iom_hist_free(NULL);
	free(ref);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quantile_mixed),
		cmocka_unit_test(test_quantile_each_distribution),
		cmocka_unit_test(test_quantile_small),
		cmocka_unit_test(test_saturation),
		cmocka_unit_test(test_record_n),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_bucket_roundtrip),
		cmocka_unit_test(test_quantile_backed),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_new_is_sparse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
