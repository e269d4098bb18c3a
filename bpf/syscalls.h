/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * syscalls probe (opt-in): system calls made by the benchmark process inside the measured
 * window, by number, from raw sys_enter. It costs every system call on the machine a filter
 * (~150 ns per call of ours), and sync models make the most calls: keep it off for timed runs.
 * Shared by syscalls.bpf.c and its loader syscalls.c; the loader's API is at the end.
 */
#ifndef IOM_BPF_SYSCALLS_H
#define IOM_BPF_SYSCALLS_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Counts by number; the last slot takes any number at or above it. */
#define IOM_NR_SYSCALLS	512

#ifndef __bpf__
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/err.h"

struct iom_syscalls;
struct iom_lost;

struct iom_syscalls *iom_syscalls_open(pid_t tgid, struct iom_err *err);
void iom_syscalls_window(struct iom_syscalls *sc, bool on);
/* counts[IOM_NR_SYSCALLS] summed over CPUs; returns the total; adds recursion misses to lost. */
uint64_t iom_syscalls_collect(struct iom_syscalls *sc, uint64_t *counts, struct iom_lost *lost);
/* nr,name,count rows, most frequent first, then a "total" row. */
void iom_syscalls_write_csv(FILE *f, const uint64_t *counts);
/* "getppid" for 110 on x86-64; NULL when unknown. */
const char *iom_syscall_name(unsigned int nr);
void iom_syscalls_close(struct iom_syscalls *sc);
/* Its loaded programs (for their kernel run-time statistics). */
struct bpf_object *iom_syscalls_object(struct iom_syscalls *sc);
#endif

#endif
