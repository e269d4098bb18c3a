// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * io_uring request lifecycle of one process (targ_tgid), counted inside the measured window:
 * submitted (io_uring_submit_req), punted to io-wq (io_uring_queue_async_work), completed
 * (io_uring_complete; under DEFER_TASKRUN that is when the submitter reaps), CQ overflows
 * (io_uring_cqe_overflow). One request in 2^lat_shift, chosen by a hash of its
 * user_data, is followed from submit to completion for latency, inline vs punted: a hash
 * insert and delete on every request would cost more than a NOP itself.
 *
 * Fields are read through the tracepoints' BTF-typed arguments (tp_btf) with CO-RE relocations,
 * not by position in the raw argument list, which changes across kernels.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "uring.h"

#define IORING_CQE_F_MORE	(1u << 1)

const volatile pid_t targ_tgid = 0;
/* Follow one request in 2^lat_shift for latency; 64 and above: none. */
const volatile __u32 lat_shift = IOM_LAT_SAMPLE_SHIFT;

/* 0 before the window, 1 inside, 2 after; written by user space. */
__u32 window = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct iom_uring_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IOM_LAT_MAX_INFLIGHT);
	__type(key, struct iom_req_key);
	__type(value, struct iom_req);
} reqs SEC(".maps");

static __always_inline bool ours(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == (__u64)targ_tgid;
}

static __always_inline struct iom_uring_stats *stats_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
}

static __always_inline bool sampled(__u64 user_data)
{
	__u64 h = user_data * 0x9e3779b97f4a7c15ull;

	if (!lat_shift)
		return true;
	if (lat_shift >= 64)
		return false;
	return (h >> (64 - lat_shift)) == 0;
}

/*
 * The ring of a request, as a number (a key, never dereferenced): read through CO-RE rather than
 * loaded as a typed pointer, which the verifier would not let us hash or store.
 */
static __always_inline __u64 ring_of(void *req)
{
	return (__u64)BPF_CORE_READ((struct io_kiocb *)req, ctx);
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) {
		v >>= 32;
		r += 32;
	}
	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	if (v >> 1)
		r += 1;
	return r;
}

static __always_inline __u32 lat_bucket(__u64 ns)
{
	__u32 l;

	if (ns < 4)
		return (__u32)ns;
	l = log2_u64(ns);
	return (4 * l + ((ns >> (l - 2)) & 3)) & (IOM_LAT_BUCKETS - 1);
}

static __always_inline void finish_req(struct iom_uring_stats *s, __u64 ctx, __u64 user_data,
				       bool more)
{
	struct iom_req_key key = { .ctx = ctx, .user_data = user_data };
	struct iom_req *r;
	__u64 lat;
	__u32 p;

	r = bpf_map_lookup_elem(&reqs, &key);
	if (!r) {
		if (window == 1)
			s->lat_unmatched++;
		return;
	}
	if (window == 1) {
		lat = bpf_ktime_get_ns() - r->submit_ns;
		p = r->punted ? 1 : 0;
		s->lat_n[p]++;
		s->lat_sum_ns[p] += lat;
		if (lat > s->lat_max_ns[p])
			s->lat_max_ns[p] = lat;
		s->lat_hist[p][lat_bucket(lat)]++;
	}
	if (!more)
		bpf_map_delete_elem(&reqs, &key);
}

SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(iom_uring_submit, struct io_kiocb *req)
{
	struct iom_req_key key;
	struct iom_req r = {};
	struct iom_uring_stats *s;
	long ret;

	if (!ours() || window == 2)
		return 0;
	s = stats_get();
	if (!s)
		return 0;
	if (window == 1)
		s->submitted++;
	key.user_data = req->cqe.user_data;
	if (!sampled(key.user_data))
		return 0;
	key.ctx = ring_of(req);
	/* Requests submitted during the ramp are followed too, so the window's first ones match. */
	r.submit_ns = bpf_ktime_get_ns();
	ret = bpf_map_update_elem(&reqs, &key, &r, BPF_NOEXIST);
	if (ret == -17 /* EEXIST */) {
		/* The earlier one's completion went missing: count it and start over. */
		if (window == 1)
			s->lat_dup++;
		bpf_map_update_elem(&reqs, &key, &r, BPF_EXIST);
	} else if (ret && window == 1) {
		s->lat_map_full++;
	}
	return 0;
}

SEC("tp_btf/io_uring_queue_async_work")
int BPF_PROG(iom_uring_punt, struct io_kiocb *req)
{
	struct iom_req_key key;
	struct iom_uring_stats *s;
	struct iom_req *r;

	if (window == 2 || !ours())
		return 0;
	s = stats_get();
	if (!s)
		return 0;
	if (window == 1)
		s->punted++;
	key.user_data = req->cqe.user_data;
	if (!sampled(key.user_data))
		return 0;
	key.ctx = ring_of(req);
	r = bpf_map_lookup_elem(&reqs, &key);
	if (r)
		r->punted = 1;
	return 0;
}

SEC("tp_btf/io_uring_complete")
int BPF_PROG(iom_uring_complete, struct io_ring_ctx *ring, void *req, struct io_uring_cqe *cqe)
{
	struct iom_uring_stats *s;
	__u64 user_data;

	/* During the ramp too: the requests followed since then must leave the map. */
	if (window == 2 || !ours())
		return 0;
	s = stats_get();
	if (!s)
		return 0;
	if (window == 1)
		s->completed++;
	/* Auxiliary CQEs (no request) were never submitted as such. */
	user_data = cqe->user_data;
	if (req && sampled(user_data))
		finish_req(s, ring_of(req), user_data, cqe->flags & IORING_CQE_F_MORE);
	return 0;
}

/* A CQE that did not fit in the CQ: no io_uring_complete for it, so it completes here. */
SEC("tp_btf/io_uring_cqe_overflow")
int BPF_PROG(iom_uring_overflow, void *ring, unsigned long long user_data, int res,
	     unsigned int cflags)
{
	struct iom_uring_stats *s;

	if (window == 2 || !ours())
		return 0;
	s = stats_get();
	if (!s)
		return 0;
	if (window == 1)
		s->cq_overflow++;
	if (sampled(user_data))
		finish_req(s, (__u64)ring, user_data, cflags & IORING_CQE_F_MORE);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
