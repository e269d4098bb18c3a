/* SPDX-License-Identifier: MIT */
/*
 * The time-stamp counter as a clock for a cell's task stamps, as fio's clocksource=cpu: one
 * rdtsc and a multiply where clock_gettime's vDSO adds a sequence-lock read around the same
 * rdtsc. Used only where the kernel itself trusts the TSC (its clocksource is "tsc": constant,
 * synchronised across CPUs) and only for stamps compared with one another (a task's latency,
 * the window's edges): never for a time handed to the kernel as an absolute CLOCK_MONOTONIC
 * deadline, since the two drift apart by the calibration's error (a few ppm).
 */
#ifndef IOM_CLOCK_H
#define IOM_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

static inline uint64_t iom_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC ns = ns0 + (tsc - tsc0) * mult / 2^32: the rate fitted once per process. */
struct iom_tsc_fit {
	uint64_t tsc0;
	uint64_t ns0;
	uint64_t mult;
};

/*
 * A fit anchored now (the process's rate, a fresh (tsc, ns) pair, so the drift from
 * CLOCK_MONOTONIC starts at zero for this cell); false, fit zeroed, if the TSC may not be
 * used: off x86-64, when the kernel's clocksource is not "tsc", or under IOM_MASK=tsc. The
 * rate is fitted on the first call (~20 ms, once per process).
 */
bool iom_tsc_fit_now(struct iom_tsc_fit *fit);

/* fit's clock minus CLOCK_MONOTONIC now, in ns (how far it has drifted: for the tests). */
int64_t iom_tsc_offset_ns(const struct iom_tsc_fit *fit);

#if defined(__x86_64__)
#include <x86intrin.h>

/* ns on the CLOCK_MONOTONIC scale from the TSC, by a fit iom_tsc_fit_now() made. */
static inline uint64_t iom_tsc_now_ns(const struct iom_tsc_fit *fit)
{
	uint64_t ticks = __rdtsc() - fit->tsc0;

	return fit->ns0 + (uint64_t)(((unsigned __int128)ticks * fit->mult) >> 32);
}
#else
static inline uint64_t iom_tsc_now_ns(const struct iom_tsc_fit *fit)
{
	(void)fit;
	return iom_now_ns();
}
#endif

#endif
