// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * System calls of one process (targ_tgid) inside the measured window, counted by number in a
 * per-CPU array: no locks, no hash, the cheapest counter there is on a path every system call of
 * the machine takes.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "syscalls.h"

const volatile pid_t targ_tgid = 0;

/* 1 inside the window; written by user space. */
__u32 window = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IOM_NR_SYSCALLS);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("tp_btf/sys_enter")
int BPF_PROG(iom_sys_enter, struct pt_regs *regs, long id)
{
	__u32 nr;
	__u64 *c;

	if (window != 1 || (bpf_get_current_pid_tgid() >> 32) != (__u64)targ_tgid)
		return 0;
	nr = id >= 0 && id < IOM_NR_SYSCALLS - 1 ? (__u32)id : IOM_NR_SYSCALLS - 1;
	c = bpf_map_lookup_elem(&counts, &nr);
	if (c)
		(*c)++;
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
