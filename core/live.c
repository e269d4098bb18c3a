// SPDX-License-Identifier: MIT
/*
 * The live view's knobs (live.h). Idle submitters sleep on a futex over the knobs' generation
 * word, so a knob change reaches a parked thread at once and a parked thread costs nothing
 * while it waits.
 */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "idle.h"
#include "live.h"

void iom_live_init(struct iom_live *l, const struct iom_live_ops *ops, unsigned int concurrency,
		   uint64_t latency_ns, uint64_t deadline_ns)
{
	atomic_store(&l->concurrency, concurrency);
	atomic_store(&l->latency_ns, latency_ns);
	atomic_store(&l->deadline_ns, deadline_ns);
	atomic_store(&l->paused, 0);
	atomic_store(&l->stop_ns, UINT64_MAX);
	atomic_store(&l->gen, 0);
	l->ops = ops;
}

static void live_wake(struct iom_live *l)
{
	atomic_fetch_add_explicit(&l->gen, 1, memory_order_release);
	syscall(SYS_futex, (uint32_t *)&l->gen, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

void iom_live_set(struct iom_live *l, _Atomic uint64_t *knob, uint64_t v)
{
	atomic_store_explicit(knob, v, memory_order_relaxed);
	live_wake(l);
}

void iom_live_set32(struct iom_live *l, _Atomic uint32_t *knob, uint32_t v)
{
	atomic_store_explicit(knob, v, memory_order_relaxed);
	live_wake(l);
}

void iom_live_stop(struct iom_live *l)
{
	uint64_t expect = UINT64_MAX, now;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	/* Only the first stop counts: the window ends there. */
	atomic_compare_exchange_strong(&l->stop_ns, &expect, now);
	live_wake(l);
}

bool iom_live_stopped(const struct iom_live *l)
{
	return atomic_load_explicit(&l->stop_ns, memory_order_relaxed) != UINT64_MAX;
}

void iom_live_wait(struct iom_live *l, uint32_t gen, uint64_t abs_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(abs_ns / 1000000000ull),
			       .tv_nsec = (long)(abs_ns % 1000000000ull) };

	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time; a changed gen returns now. */
	syscall(SYS_futex, (uint32_t *)&l->gen, FUTEX_WAIT_BITSET_PRIVATE, gen, &ts, NULL,
		IOM_IDLE_FUTEX_BITSET);
}
