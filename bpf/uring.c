// SPDX-License-Identifier: MIT
/*
 * Loader of uring.bpf.c: open -> set rodata (tgid) -> load -> attach; the window flag in .bss;
 * at the end the per-CPU counters summed, and a per-cell CSV with the lifecycle counts and the
 * sampled submit -> complete latency, inline vs punted.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "probe_int.h"
#include "uring.h"
#include "uring.skel.h"

struct iom_uring {
	struct uring_bpf *skel;
	unsigned int lat_shift;
	bool lifecycle;
	uint64_t misses_on, misses_off;
};

bool iom_uring_lifecycle(const struct iom_uring *u)
{
	return u->lifecycle;
}

struct iom_uring *iom_uring_open(pid_t tgid, bool lifecycle, struct iom_err *err)
{
	struct iom_uring *u;
	int ret;

	u = calloc(1, sizeof(*u));
	if (!u) {
		iom_err_set(err, -ENOMEM, "uring: open");
		return NULL;
	}
	u->skel = uring_bpf__open();
	if (!u->skel) {
		iom_err_set(err, -errno, "uring: open");
		goto cleanup;
	}
	u->skel->rodata->targ_tgid = tgid;
	u->lat_shift = IOM_LAT_SAMPLE_SHIFT;
	if (getenv("IOM_URING_LAT_SHIFT"))
		u->lat_shift = (unsigned int)strtoul(getenv("IOM_URING_LAT_SHIFT"), NULL, 10);
	u->lifecycle = lifecycle;
	if (!lifecycle) {
		u->lat_shift = 64;
		bpf_program__set_autoload(u->skel->progs.iom_uring_submit, false);
		bpf_program__set_autoload(u->skel->progs.iom_uring_complete, false);
	}
	u->skel->rodata->lat_shift = u->lat_shift;
	ret = uring_bpf__load(u->skel);
	if (ret) {
		iom_err_set(err, ret, "uring: load");
		goto cleanup;
	}
	ret = uring_bpf__attach(u->skel);
	if (ret) {
		iom_err_set(err, ret, "uring: attach");
		goto cleanup;
	}
	return u;
cleanup:
	uring_bpf__destroy(u->skel);
	free(u);
	return NULL;
}

void iom_uring_window(struct iom_uring *u, bool on)
{
	if (on) {
		u->misses_on = iom_bpf_misses(u->skel->obj);
		__atomic_store_n(&u->skel->bss->window, 1, __ATOMIC_RELEASE);
	} else {
		__atomic_store_n(&u->skel->bss->window, 2, __ATOMIC_RELEASE);
		u->misses_off = iom_bpf_misses(u->skel->obj);
	}
}

int iom_uring_collect(struct iom_uring *u, struct iom_uring_stats *st, struct iom_lost *lost)
{
	int nr_cpus = libbpf_num_possible_cpus();
	struct iom_uring_stats *per;
	uint32_t zero = 0;
	int ret;

	if (nr_cpus <= 0)
		return nr_cpus ? nr_cpus : -EINVAL;
	per = calloc((size_t)nr_cpus, sizeof(*per));
	if (!per)
		return -ENOMEM;
	ret = bpf_map_lookup_elem(bpf_map__fd(u->skel->maps.stats), &zero, per);
	if (ret) {
		ret = -errno;
		free(per);
		return ret;
	}
	memset(st, 0, sizeof(*st));
	for (int c = 0; c < nr_cpus; c++) {
		const struct iom_uring_stats *p = &per[c];

		st->submitted += p->submitted;
		st->punted += p->punted;
		st->completed += p->completed;
		st->cq_overflow += p->cq_overflow;
		st->lat_unmatched += p->lat_unmatched;
		st->lat_dup += p->lat_dup;
		st->lat_map_full += p->lat_map_full;
		for (int k = 0; k < 2; k++) {
			st->lat_n[k] += p->lat_n[k];
			st->lat_sum_ns[k] += p->lat_sum_ns[k];
			if (p->lat_max_ns[k] > st->lat_max_ns[k])
				st->lat_max_ns[k] = p->lat_max_ns[k];
			for (int b = 0; b < IOM_LAT_BUCKETS; b++)
				st->lat_hist[k][b] += p->lat_hist[k][b];
		}
	}
	free(per);
	iom_lost_add(lost, "uring_lat_unmatched", st->lat_unmatched);
	iom_lost_add(lost, "uring_lat_dup", st->lat_dup);
	iom_lost_add(lost, "uring_lat_map_full", st->lat_map_full);
	iom_lost_add(lost, "uring_recursion_misses", u->misses_off - u->misses_on);
	return 0;
}

/* The middle of a latency bucket (4 per power of two). */
static double bucket_mid(unsigned int b)
{
	unsigned int l = b / 4, sub = b % 4;
	double lo, width;

	if (b < 4)
		return b;
	lo = (double)(4 + sub) * (double)(1ull << (l - 2));
	width = (double)(1ull << (l - 2));
	return lo + width / 2;
}

static double quantile(const __u64 *hist, uint64_t n, double q)
{
	uint64_t want = (uint64_t)(q * (double)n), seen = 0;

	if (!n)
		return 0;
	for (unsigned int b = 0; b < IOM_LAT_BUCKETS; b++) {
		seen += hist[b];
		if (seen > want)
			return bucket_mid(b);
	}
	return bucket_mid(IOM_LAT_BUCKETS - 1);
}

void iom_uring_write_csv(struct iom_uring *u, FILE *f, const struct iom_uring_stats *st)
{
	static const char *const kind[2] = { "inline", "punted" };
	uint64_t inl = st->submitted > st->punted ? st->submitted - st->punted : 0;

	fprintf(f, "metric,value\n");
	fprintf(f, "lifecycle,%d\n", u->lifecycle);
	if (!u->lifecycle) {
		/* Only the rare events were traced: no per-request counts or latency. */
		fprintf(f, "punted,%llu\ncq_overflow,%llu\n", (unsigned long long)st->punted,
			(unsigned long long)st->cq_overflow);
		return;
	}
	fprintf(f, "submitted,%llu\npunted,%llu\ninline,%llu\ncompleted,%llu\ncq_overflow,%llu\n",
		(unsigned long long)st->submitted, (unsigned long long)st->punted,
		(unsigned long long)inl, (unsigned long long)st->completed,
		(unsigned long long)st->cq_overflow);
	fprintf(f, "lat_sample_1_in,%.0f\nlat_unmatched,%llu\nlat_dup,%llu\nlat_map_full,%llu\n",
		u->lat_shift < 64 ? ldexp(1, (int)u->lat_shift) : 0.0,
		(unsigned long long)st->lat_unmatched,
		(unsigned long long)st->lat_dup, (unsigned long long)st->lat_map_full);
	for (int k = 0; k < 2; k++) {
		uint64_t n = st->lat_n[k];

		fprintf(f, "lat_%s_n,%llu\n", kind[k], (unsigned long long)n);
		if (!n)
			continue;
		fprintf(f, "lat_%s_mean_ns,%.0f\n", kind[k], (double)st->lat_sum_ns[k] / (double)n);
		fprintf(f, "lat_%s_p50_ns,%.0f\n", kind[k], quantile(st->lat_hist[k], n, 0.5));
		fprintf(f, "lat_%s_p90_ns,%.0f\n", kind[k], quantile(st->lat_hist[k], n, 0.9));
		fprintf(f, "lat_%s_p99_ns,%.0f\n", kind[k], quantile(st->lat_hist[k], n, 0.99));
		fprintf(f, "lat_%s_max_ns,%llu\n", kind[k], (unsigned long long)st->lat_max_ns[k]);
	}
}

void iom_uring_close(struct iom_uring *u)
{
	if (!u)
		return;
	uring_bpf__destroy(u->skel);
	free(u);
}

struct bpf_object *iom_uring_object(struct iom_uring *u)
{
	return u->skel->obj;
}
