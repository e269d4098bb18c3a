// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the command line's option parser (`iomodels run`'s parse_run_opts, its
 * option tables and core/parse's numbers): the input is an argv, its arguments separated by NUL
 * bytes. Whatever it is, the parser accepts it or refuses it the way a user sees it
 * (usage_error: one line, exit 2); it never crashes, reads out of bounds, overflows a list or
 * trips UBSan. Each argument also goes through core/parse's four parsers directly: a number
 * taken is within the bounds asked for, a refusal is -EINVAL or -ERANGE. The parser is static in cli/main.c, so this
 * file includes it; exit() is wrapped (-Wl,--wrap=exit) and a refusal comes back here by
 * longjmp. Seeds: tests/fuzz/cli/.
 */
#include <setjmp.h>

#define main iom_cli_main
#include "cli/main.c"
#undef main

#define FUZZ_MAX_ARGS	64

static jmp_buf refused;
static bool parsing;

void __real_exit(int code) __attribute__((noreturn));
void __wrap_exit(int code) __attribute__((noreturn));

void __wrap_exit(int code)
{
	if (!parsing)
		__real_exit(code);
	/* Only usage_error exits from inside the parser, and only with 2. */
	if (code != 2)
		abort();
	longjmp(refused, 1);
}

/* core/parse on one argument, with bounds that cut the range (the options' own are wide). */
static void check_numbers(const char *arg)
{
	uint64_t u = 0, ns = 0;
	double d = 0;
	int ret;

	ret = iom_parse_u64(arg, 3, 1000, &u);
	if (ret ? ret != -EINVAL && ret != -ERANGE : u < 3 || u > 1000)
		abort();
	ret = iom_parse_size(arg, 512, 1ull << 40, &u);
	if (ret ? ret != -EINVAL && ret != -ERANGE : u < 512 || u > 1ull << 40)
		abort();
	ret = iom_parse_double(arg, 0.5, 1e6, &d);
	if (ret ? ret != -EINVAL && ret != -ERANGE : !(d >= 0.5 && d <= 1e6))
		abort();
	ret = iom_parse_duration(arg, 1000, 7 * 86400000000000ull, &ns);
	if (ret ? ret != -EINVAL && ret != -ERANGE : ns < 1000 || ns > 7 * 86400000000000ull)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[1 << 16];
	char *argv[FUZZ_MAX_ARGS + 2] = { "run" };
	int argc = 1;
	static struct opts o;

	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (size_t i = 0; i <= size && argc <= FUZZ_MAX_ARGS; argc++) {
		argv[argc] = buf + i;
		i += strlen(buf + i) + 1;
	}
	argv[argc] = NULL;
	for (int i = 1; i < argc; i++)
		check_numbers(argv[i]);
	memset(&o, 0, sizeof(o));
	optind = 0;	/* glibc: start getopt afresh */
	parsing = true;
	if (!setjmp(refused)) {
		parse_run_opts(&o, argc, argv);
		/* Accepted: what the run would use is within its bounds. */
		if (!o.nr_models || o.nr_models > MAX_LIST || !o.nr_workloads ||
		    o.nr_workloads > MAX_LIST || !o.nr_concurrency || o.nr_concurrency > MAX_LIST)
			abort();
		for (unsigned int i = 0; i < o.nr_concurrency; i++)
			if (!o.concurrency[i])
				abort();
	}
	parsing = false;
	return 0;
}
