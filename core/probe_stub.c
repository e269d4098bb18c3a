// SPDX-License-Identifier: MIT
/* Probes on a build without BPF support: always unavailable, with the reason. */
#include <errno.h>

#include "probe.h"

struct iom_probe *iom_probe_open(const struct iom_probe_opts *opts, struct iom_err *err)
{
	iom_err_msg(err, "not built (no BTF at /sys/kernel/btf/vmlinux, or no bpftool/clang)");
	return NULL;
}

void iom_probe_window(struct iom_probe *p, bool on)
{
}

void iom_probe_fill_row(struct iom_probe *p, struct iom_row *row, uint64_t tasks)
{
}

void iom_probe_close(struct iom_probe *p)
{
}

int iom_probe_sched_slots(struct iom_probe *p, uint64_t *nr_claimed, uint64_t *nr_fallback)
{
	return -ENOSYS;
}

struct iom_probe_live *iom_probe_live_open(pid_t tgid, struct iom_err *err)
{
	iom_err_msg(err, "not built (no BTF at /sys/kernel/btf/vmlinux, or no bpftool/clang)");
	return NULL;
}

int iom_probe_live_read(struct iom_probe_live *pl, pid_t tid, struct iom_probe_thread *out)
{
	return -ENOSYS;
}

void iom_probe_live_close(struct iom_probe_live *pl)
{
}

const char *iom_probe_lib_version(void)
{
	return "none (probes not built)";
}
