/* SPDX-License-Identifier: MIT */
/*
 * The two futex calls kernel_free blocks and wakes with. A futex sleeps only while the word
 * still holds the value the sleeper last saw, which is what makes "check, then sleep" free of
 * lost wake-ups. Waits take an absolute CLOCK_MONOTONIC time (FUTEX_WAIT_BITSET without
 * FUTEX_CLOCK_REALTIME): a retry after EINTR does not stretch the wait, and the hrtimer behind
 * it honours the thread's 1 ns timer slack exactly as clock_nanosleep(TIMER_ABSTIME) does.
 */
#ifndef KF_FUTEX_H
#define KF_FUTEX_H

#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/idle.h"

/* Sleep while *word == val, until abs_ns (UINT64_MAX: no limit). 0, or ETIMEDOUT/EAGAIN/EINTR. */
static inline int kf_futex_wait(_Atomic uint32_t *word, uint32_t val, uint64_t abs_ns)
{
	struct timespec ts, *tsp = NULL;

	if (abs_ns != UINT64_MAX) {
		ts.tv_sec = (time_t)(abs_ns / 1000000000ull);
		ts.tv_nsec = (long)(abs_ns % 1000000000ull);
		tsp = &ts;
	}
	/*
	 * Any bitset but the idle one: this wait is on a task (a timer task's sleep, a submitter
	 * waiting for its completions), and the probe books only IOM_IDLE_FUTEX_BITSET as idle.
	 */
	if (syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET_PRIVATE, val, tsp, NULL,
		    FUTEX_BITSET_MATCH_ANY) < 0)
		return errno;
	return 0;
}

/* Park idle until *word != val or a wake (core/idle.h: the probe books the sleep as idle). */
static inline int kf_futex_park(_Atomic uint32_t *word, uint32_t val)
{
	if (syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET_PRIVATE, val, NULL, NULL,
		    IOM_IDLE_FUTEX_BITSET) < 0)
		return errno;
	return 0;
}

static inline void kf_futex_wake(_Atomic uint32_t *word, int n)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

#endif
