// SPDX-License-Identifier: MIT
/*
 * Loader of syscalls.bpf.c: open -> set rodata (tgid) -> load -> attach; the window flag in
 * .bss; at the end the per-CPU counts summed, and a per-cell CSV of the calls by number.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "probe_int.h"
#include "syscalls.h"
#include "syscalls.skel.h"

/* Generated at build time from <asm/unistd.h>: [nr] = "name". */
static const char *const sc_names[IOM_NR_SYSCALLS] = {
#include "syscall_names.h"
};

struct iom_syscalls {
	struct syscalls_bpf *skel;
	uint64_t misses_on, misses_off;
};

const char *iom_syscall_name(unsigned int nr)
{
	return nr < IOM_NR_SYSCALLS - 1 ? sc_names[nr] : NULL;
}

struct iom_syscalls *iom_syscalls_open(pid_t tgid, struct iom_err *err)
{
	struct iom_syscalls *sc;
	int ret;

	sc = calloc(1, sizeof(*sc));
	if (!sc) {
		iom_err_set(err, -ENOMEM, "syscalls: open");
		return NULL;
	}
	sc->skel = syscalls_bpf__open();
	if (!sc->skel) {
		iom_err_set(err, -errno, "syscalls: open");
		goto cleanup;
	}
	sc->skel->rodata->targ_tgid = tgid;
	ret = syscalls_bpf__load(sc->skel);
	if (ret) {
		iom_err_set(err, ret, "syscalls: load");
		goto cleanup;
	}
	ret = syscalls_bpf__attach(sc->skel);
	if (ret) {
		iom_err_set(err, ret, "syscalls: attach");
		goto cleanup;
	}
	return sc;
cleanup:
	syscalls_bpf__destroy(sc->skel);
	free(sc);
	return NULL;
}

void iom_syscalls_window(struct iom_syscalls *sc, bool on)
{
	if (on) {
		sc->misses_on = iom_bpf_misses(sc->skel->obj);
		__atomic_store_n(&sc->skel->bss->window, 1, __ATOMIC_RELEASE);
	} else {
		__atomic_store_n(&sc->skel->bss->window, 2, __ATOMIC_RELEASE);
		sc->misses_off = iom_bpf_misses(sc->skel->obj);
	}
}

uint64_t iom_syscalls_collect(struct iom_syscalls *sc, uint64_t *counts, struct iom_lost *lost)
{
	int nr_cpus = libbpf_num_possible_cpus(), fd = bpf_map__fd(sc->skel->maps.counts);
	uint64_t total = 0, *per;

	memset(counts, 0, IOM_NR_SYSCALLS * sizeof(*counts));
	iom_lost_add(lost, "syscalls_recursion_misses", sc->misses_off - sc->misses_on);
	if (nr_cpus <= 0)
		return 0;
	per = calloc((size_t)nr_cpus, sizeof(*per));
	if (!per)
		return 0;
	for (uint32_t nr = 0; nr < IOM_NR_SYSCALLS; nr++) {
		if (bpf_map_lookup_elem(fd, &nr, per))
			continue;
		for (int c = 0; c < nr_cpus; c++)
			counts[nr] += per[c];
		total += counts[nr];
	}
	free(per);
	return total;
}

void iom_syscalls_write_csv(FILE *f, const uint64_t *counts)
{
	unsigned int order[IOM_NR_SYSCALLS], n = 0;
	uint64_t total = 0;

	for (unsigned int nr = 0; nr < IOM_NR_SYSCALLS; nr++)
		if (counts[nr])
			order[n++] = nr, total += counts[nr];
	/* Most frequent first (insertion sort: a few dozen entries). */
	for (unsigned int i = 1; i < n; i++)
		for (unsigned int j = i; j > 0 && counts[order[j]] > counts[order[j - 1]]; j--) {
			unsigned int tmp = order[j];

			order[j] = order[j - 1];
			order[j - 1] = tmp;
		}
	fprintf(f, "nr,name,count\n");
	for (unsigned int i = 0; i < n; i++) {
		const char *name = iom_syscall_name(order[i]);

		if (order[i] == IOM_NR_SYSCALLS - 1)
			fprintf(f, ">=%u,other,%llu\n", order[i], (unsigned long long)counts[order[i]]);
		else
			fprintf(f, "%u,%s,%llu\n", order[i], name ? name : "?",
				(unsigned long long)counts[order[i]]);
	}
	fprintf(f, ",total,%llu\n", (unsigned long long)total);
}

void iom_syscalls_close(struct iom_syscalls *sc)
{
	if (!sc)
		return;
	syscalls_bpf__destroy(sc->skel);
	free(sc);
}

struct bpf_object *iom_syscalls_object(struct iom_syscalls *sc)
{
	return sc->skel->obj;
}
