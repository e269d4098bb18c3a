// SPDX-License-Identifier: MIT
/* core/parse.c: the one parser of numbers, sizes and durations (run, scenarios, serve). */
#include <errno.h>

#include "tests/testutil.h"
#include "core/parse.h"

static void test_duration(void **state)
{
	static const struct { const char *s; uint64_t ns; } ok[] = {
		{ "5", 5000000000ull }, { "5s", 5000000000ull }, { "500ms", 500000000ull },
		{ "200us", 200000ull }, { "1m", 60000000000ull }, { "1.5m", 90000000000ull },
		{ "2h", 7200000000000ull }, { "0", 0 }, { "0.25", 250000000ull },
		{ "1e3ms", 1000000000ull }, { "10ns", 10 },
	};
	static const char *const bad[] = {
		"", "m", "-1", "+1", " 1", "1 ", "1x", "1mm", "1sec", "abc", "1e", "1.2.3s", "nan",
		"inf", "1min",
	};
	uint64_t ns;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (iom_parse_duration(ok[i].s, 0, UINT64_MAX, &ns))
			fail_msg("'%s' refused", ok[i].s);
		if (ns != ok[i].ns)
			fail_msg("'%s': %llu ns, want %llu", ok[i].s, (unsigned long long)ns,
				 (unsigned long long)ok[i].ns);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (iom_parse_duration(bad[i], 0, UINT64_MAX, &ns) != -EINVAL)
			fail_msg("'%s' taken as a duration", bad[i]);
	assert_int_equal(iom_parse_duration("8d", 0, UINT64_MAX, &ns), -EINVAL);
	assert_int_equal(iom_parse_duration("2m", 0, 60000000000ull, &ns), -ERANGE);
	assert_int_equal(iom_parse_duration("1us", 1000000, UINT64_MAX, &ns), -ERANGE);
}

static void test_size(void **state)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "4096", 4096 }, { "4K", 4096 }, { "4k", 4096 }, { "4KiB", 4096 }, { "4KB", 4096 },
		{ "1M", 1u << 20 }, { "1G", 1u << 30 }, { "0", 0 },
	};
	static const char *const bad[] = { "", "K", "-1", "+1", "1.5K", "1X", "1KK", "1 K", "1B",
					   "1i" };
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (iom_parse_size(ok[i].s, 0, UINT64_MAX, &v))
			fail_msg("'%s' refused", ok[i].s);
		assert_int_equal(v, ok[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (iom_parse_size(bad[i], 0, UINT64_MAX, &v) != -EINVAL)
			fail_msg("'%s' taken as a size", bad[i]);
	assert_int_equal(iom_parse_size("99999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(iom_parse_size("17179869184G", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(iom_parse_size("2K", 0, 1024, &v), -ERANGE);
}

static void test_u64_double(void **state)
{
	uint64_t v;
	double d;

	assert_int_equal(iom_parse_u64("42", 1, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(iom_parse_u64("0", 1, 100, &v), -ERANGE);
	assert_int_equal(iom_parse_u64("4K", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(iom_parse_u64("1.0", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(iom_parse_u64(NULL, 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(iom_parse_double("0.05", 0, 1, &d), 0);
	assert_true(d == 0.05);
	assert_int_equal(iom_parse_double(".5", 0, 1, &d), 0);
	assert_int_equal(iom_parse_double("1.5", 0, 1, &d), -ERANGE);
	assert_int_equal(iom_parse_double("-0.5", -1, 1, &d), -EINVAL);
	assert_int_equal(iom_parse_double("nan", 0, 1, &d), -EINVAL);
	assert_int_equal(iom_parse_double("1e999", 0, 1e308, &d), -ERANGE);
}

/* A microseconds option: whole us, or a duration with a unit that is whole us. */
static void test_us(void **state)
{
	static const struct { const char *s; uint64_t us; } ok[] = {
		{ "0", 0 }, { "1000", 1000 }, { "250us", 250 }, { "2ms", 2000 }, { "1s", 1000000 },
		{ "1.5ms", 1500 }, { "1000ns", 1 },
	};
	static const char *const bad[] = { "", "1.5", "1500ns", "-1", "2x", "ms", "1 ms", "2ms " };
	uint64_t us;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (iom_parse_us(ok[i].s, 0, 10000000, &us))
			fail_msg("'%s' refused", ok[i].s);
		if (us != ok[i].us)
			fail_msg("'%s': %llu us, want %llu", ok[i].s, (unsigned long long)us,
				 (unsigned long long)ok[i].us);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (iom_parse_us(bad[i], 0, 10000000, &us) != -EINVAL)
			fail_msg("'%s' taken as microseconds", bad[i]);
	assert_int_equal(iom_parse_us(NULL, 0, 10, &us), -EINVAL);
	assert_int_equal(iom_parse_us("11", 0, 10, &us), -ERANGE);
	assert_int_equal(iom_parse_us("1ms", 0, 10, &us), -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_u64_double),
		cmocka_unit_test(test_us),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
