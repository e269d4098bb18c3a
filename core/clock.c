// SPDX-License-Identifier: MIT
#include "clock.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "mask.h"

static uint64_t tsc_mult;	/* the process's fitted rate; 0: the TSC is not used */
static pthread_once_t tsc_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__)
/* Only a TSC the kernel keeps as its own clocksource is known constant and in sync. */
static bool kernel_clocksource_is_tsc(void)
{
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	char name[32] = "";
	bool is_tsc;

	if (!f)
		return false;
	is_tsc = fgets(name, sizeof(name), f) && strcmp(name, "tsc\n") == 0;
	fclose(f);
	return is_tsc;
}

/*
 * One (tsc, ns) pair: the clock read between two rdtsc, the tightest bracket of eight, so a
 * preemption or an interrupt between the reads costs nothing but that try.
 */
static void tsc_pair(uint64_t *tsc, uint64_t *ns)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 8; i++) {
		uint64_t a = __rdtsc(), n = iom_now_ns(), b = __rdtsc();

		if (b - a < best) {
			best = b - a;
			*tsc = a + (b - a) / 2;
			*ns = n;
		}
	}
}

static void tsc_fit(void)
{
	struct timespec gap = { .tv_sec = 0, .tv_nsec = 20000000 };
	uint64_t tsc_a, ns_a, tsc_b, ns_b;

	if (!kernel_clocksource_is_tsc())
		return;
	tsc_pair(&tsc_a, &ns_a);
	/* 20 ms: a bracket of ~30 ns is then 1.5 ppm of error in the rate. */
	nanosleep(&gap, NULL);
	tsc_pair(&tsc_b, &ns_b);
	if (tsc_b <= tsc_a || ns_b <= ns_a)
		return;
	tsc_mult = ((ns_b - ns_a) << 32) / (tsc_b - tsc_a);
}
#else
static void tsc_fit(void)
{
}

static void tsc_pair(uint64_t *tsc, uint64_t *ns)
{
	*tsc = 0;
	*ns = iom_now_ns();
}
#endif

bool iom_tsc_fit_now(struct iom_tsc_fit *fit)
{
	*fit = (struct iom_tsc_fit){ 0 };
	if (iom_masked("tsc"))
		return false;
	pthread_once(&tsc_once, tsc_fit);
	if (!tsc_mult)
		return false;
	tsc_pair(&fit->tsc0, &fit->ns0);
	fit->mult = tsc_mult;
	return true;
}

int64_t iom_tsc_offset_ns(const struct iom_tsc_fit *fit)
{
	uint64_t before = iom_now_ns(), tsc_ns = iom_tsc_now_ns(fit), after = iom_now_ns();

	return (int64_t)(tsc_ns - (before + (after - before) / 2));
}
