/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * uring probe: the io_uring request lifecycle of the benchmark process from io_uring's own
 * tracepoints (submit_req, queue_async_work = punted to io-wq, complete, cqe_overflow), and a
 * sampled submit -> complete latency, inline vs punted, keyed by (ring ctx, user_data). Shared by
 * uring.bpf.c and its loader uring.c; the loader's API is at the end, outside BPF.
 */
#ifndef IOM_BPF_URING_H
#define IOM_BPF_URING_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Latency buckets: 4 per power of two (bucket = 4 * log2(ns) + the next two bits). */
#define IOM_LAT_BUCKETS		256
/*
 * One request in 2^IOM_LAT_SAMPLE_SHIFT (by a hash of its user_data) is followed for latency: a
 * hash insert and delete cost about as much as an io_uring NOP. IOM_URING_LAT_SHIFT=S in the
 * environment follows one in 2^S instead (0: every one; 64: none).
 */
#define IOM_LAT_SAMPLE_SHIFT	6
#define IOM_LAT_MAX_INFLIGHT	65536

struct iom_req_key {
	__u64 ctx;
	__u64 user_data;
};

struct iom_req {
	__u64 submit_ns;
	__u32 punted;
	__u32 pad;
};

/* Per CPU; all counts are of events inside the measured window. */
struct iom_uring_stats {
	__u64 submitted;
	__u64 punted;
	__u64 completed;
	__u64 cq_overflow;
	__u64 lat_unmatched;	/* a sampled completion whose submit was never seen */
	__u64 lat_dup;		/* a sampled submit whose (ctx, user_data) was already in flight */
	__u64 lat_map_full;	/* a sampled submit that did not fit in the map */
	__u64 lat_n[2];		/* [0] inline, [1] punted */
	__u64 lat_sum_ns[2];
	__u64 lat_max_ns[2];
	__u64 lat_hist[2][IOM_LAT_BUCKETS];
};

#ifndef __bpf__
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/err.h"

struct iom_uring;
struct iom_lost;

/*
 * lifecycle: also follow every request's submit and completion (submitted, completed, inline and
 * the sampled latency). Without it only the rare events are traced (punts to io-wq, CQ overflows):
 * two tracepoints per request cost ~130 ns, half the CPU of an io_uring NOP task.
 */
struct iom_uring *iom_uring_open(pid_t tgid, bool lifecycle, struct iom_err *err);
bool iom_uring_lifecycle(const struct iom_uring *u);
void iom_uring_window(struct iom_uring *u, bool on);
/*
 * Sums the per-CPU stats; adds to lost the map-full, duplicate and unmatched counts and the
 * recursion misses inside the window.
 */
int iom_uring_collect(struct iom_uring *u, struct iom_uring_stats *st, struct iom_lost *lost);
/* metric,value rows: counts, then latency n/mean/p50/p90/p99/max for inline and punted. */
void iom_uring_write_csv(struct iom_uring *u, FILE *f, const struct iom_uring_stats *st);
void iom_uring_close(struct iom_uring *u);
/* Its loaded programs (for their kernel run-time statistics). */
struct bpf_object *iom_uring_object(struct iom_uring *u);
#endif

#endif
