// SPDX-License-Identifier: MIT
/*
 * Tests for core/timeline.c: each thread's timeline intervals made disjoint. CI's TSan stage
 * once wrote a timeline in which one thread's next interval started before its last ended
 * (test_probes' test_timeline failed on it); the writer now cuts such overlaps and counts them.
 */
#include "tests/testutil.h"

#include "core/timeline.h"

static struct iom_tl_span span(uint32_t tid, uint16_t state, uint64_t start, uint64_t end)
{
	return (struct iom_tl_span){ .tid = tid, .state = state, .start_ns = start, .end_ns = end };
}

/* Disjoint intervals pass unchanged, sorted by start then tid; other threads may overlap. */
static void test_disjoint_kept(void **state)
{
	struct iom_tl_span v[] = { span(2, 1, 5, 30), span(1, 2, 10, 20), span(1, 1, 0, 10),
				   span(2, 3, 30, 40) };
	uint64_t cut = 99;
	size_t n = iom_tl_untangle(v, 4, &cut);

	assert_int_equal(n, 4);
	assert_int_equal(cut, 0);
	assert_int_equal(v[0].tid, 1);
	assert_int_equal(v[0].start_ns, 0);
	assert_int_equal(v[1].tid, 2);
	assert_int_equal(v[1].start_ns, 5);
	assert_int_equal(v[2].tid, 1);
	assert_int_equal(v[2].state, 2);
	assert_int_equal(v[3].start_ns, 30);
}

/*
 * A state the programs closed and wrote, and the same state read as still open at the
 * timeline's end (the same start, a later end): the written one stays, the open one keeps only
 * what lies past it. An open interval never displaces a written one, even a shorter one.
 */
static void test_open_yields_to_written(void **state)
{
	struct iom_tl_span v[] = { span(7, 3, 100, 250), span(7, 1, 40, 100), span(7, 3, 100, 180),
				   span(7, 1, 180, 200), span(8, 3, 50, 250) };
	uint64_t cut = 0;
	size_t n;

	v[0].open = true;
	v[4].open = true;
	n = iom_tl_untangle(v, 5, &cut);
	assert_int_equal(n, 5);
	assert_int_equal(cut, 1);
	assert_int_equal(v[0].start_ns, 40);
	assert_int_equal(v[1].tid, 8);
	assert_int_equal(v[2].start_ns, 100);
	assert_int_equal(v[2].end_ns, 180);
	assert_false(v[2].open);
	assert_int_equal(v[3].start_ns, 180);
	assert_int_equal(v[3].end_ns, 200);
	assert_true(v[4].open);
	assert_int_equal(v[4].start_ns, 200);
	assert_int_equal(v[4].end_ns, 250);

	/* Nothing left past the written ones: the open one goes. */
	v[0] = span(9, 3, 10, 50);
	v[1] = span(9, 3, 10, 50);
	v[1].open = true;
	n = iom_tl_untangle(v, 2, &cut);
	assert_int_equal(n, 1);
	assert_int_equal(cut, 1);
	assert_false(v[0].open);
}

/* An interval inside another is dropped; a straddling one is cut; counts add up. */
static void test_contained_dropped(void **state)
{
	struct iom_tl_span v[] = { span(3, 1, 0, 100), span(3, 2, 20, 50), span(3, 2, 90, 120),
				   span(3, 1, 0, 100), span(4, 1, 20, 50) };
	uint64_t cut = 0;
	size_t n = iom_tl_untangle(v, 5, &cut);

	assert_int_equal(n, 3);
	assert_int_equal(cut, 3);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (v[i].tid == v[j].tid)
				assert_true(v[j].start_ns >= v[i].end_ns);
	assert_int_equal(v[2].tid, 3);
	assert_int_equal(v[2].start_ns, 100);
	assert_int_equal(v[2].end_ns, 120);
}

static void test_empty(void **state)
{
	uint64_t cut = 5;

	assert_int_equal(iom_tl_untangle(NULL, 0, &cut), 0);
	assert_int_equal(cut, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disjoint_kept),
		cmocka_unit_test(test_open_yields_to_written),
		cmocka_unit_test(test_contained_dropped),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
