// SPDX-License-Identifier: MIT
/*
 * Machine metadata for run.json, read from uname, /proc and /sys at collection time. Every source
 * may be missing (containers, other architectures, no cpufreq): then the value says so.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "meta.h"
#include "model.h"
#include "probe.h"

/* First line of path, whitespace trimmed at both ends; false if unreadable or empty. */
static bool read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	char *s, *e;

	if (!f)
		return false;
	s = fgets(buf, (int)len, f);
	fclose(f);
	if (!s)
		return false;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
		;
	*e = '\0';
	while (isspace((unsigned char)*s))
		s++;
	memmove(buf, s, strlen(s) + 1);
	return *buf != '\0';
}

/*
 * Value of the first line "key<sep>value" in a /proc-style file (sep is ':' possibly padded,
 * or '='). A whole line is read with getline, since a cpuinfo "flags" line is long.
 */
static bool read_field(const char *path, const char *key, char sep, char *buf, size_t len)
{
	size_t klen = strlen(key), cap = 0;
	FILE *f = fopen(path, "r");
	bool found = false;
	char *line = NULL, *v, *e;

	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, key, klen))
			continue;
		v = line + klen;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v != sep)
			continue;
		for (v++; *v == ' ' || *v == '\t'; v++)
			;
		for (e = v + strlen(v); e > v && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		snprintf(buf, len, "%s", v);
		found = true;
		break;
	}
	free(line);
	fclose(f);
	return found;
}

/* sysfs multiple-choice files mark the active choice in brackets: "always [madvise] never". */
static void active_choice(char *buf)
{
	char *l = strchr(buf, '['), *r = l ? strchr(l, ']') : NULL;

	if (!r)
		return;
	*r = '\0';
	memmove(buf, l + 1, strlen(l + 1) + 1);
}

/* A string file recorded as is, or as `missing` when it cannot be read. */
static void meta_file(struct iom_report *r, const char *key, const char *path, const char *missing)
{
	char buf[256];

	iom_report_meta_str(r, key, read_line(path, buf, sizeof(buf)) ? buf : missing);
}

/* A numeric file recorded as a number, or as `missing` when absent or not a number. */
static void meta_file_num(struct iom_report *r, const char *key, const char *path,
			  const char *missing)
{
	char buf[64], *end;
	double v;

	if (read_line(path, buf, sizeof(buf))) {
		v = strtod(buf, &end);
		if (end != buf && !*end) {
			iom_report_meta_num(r, key, v);
			return;
		}
	}
	iom_report_meta_str(r, key, missing);
}

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

/*
 * The preemption model changes wakeup latency, so it matters here. The debugfs file gives the
 * live mode of a PREEMPT_DYNAMIC kernel; without debugfs, uname -v names the build's model and
 * a preempt= boot parameter, if any, the mode chosen.
 */
static void meta_preempt(struct iom_report *r, const struct utsname *u)
{
	char buf[256], cmd[64] = "", *p;
	FILE *f;

	if (read_line("/sys/kernel/debug/sched/preempt", buf, sizeof(buf))) {
		/* "none voluntary (full) lazy": the live mode is in parentheses. */
		p = strchr(buf, '(');
		if (p && strchr(p, ')')) {
			*strchr(p, ')') = '\0';
			memmove(buf, p + 1, strlen(p + 1) + 1);
		}
		iom_report_meta_str(r, "preempt", buf);
		return;
	}
	f = fopen("/proc/cmdline", "r");
	if (f) {
		while (fscanf(f, "%63s", cmd) == 1 && strncmp(cmd, "preempt=", 8))
			;
		if (strncmp(cmd, "preempt=", 8))
			cmd[0] = '\0';
		fclose(f);
	}
	p = strstr(u->version, "PREEMPT");
	if (p)
		snprintf(buf, sizeof(buf), "%.*s (from uname -v)%s%s", (int)strcspn(p, " "), p,
			 cmd[0] ? ", boot " : "", cmd);
	else
		snprintf(buf, sizeof(buf), "none or voluntary (no PREEMPT in uname -v)%s%s",
			 cmd[0] ? ", boot " : "", cmd);
	iom_report_meta_str(r, "preempt", buf);
}

static void meta_hypervisor(struct iom_report *r)
{
	char flags[4096], type[64], product[128], buf[320];
	bool flag;

	/* The flags line is longer than 256 on modern x86; it is read whole by read_field. */
	flag = read_field("/proc/cpuinfo", "flags", ':', flags, sizeof(flags)) &&
	       has_word(flags, "hypervisor");
	if (!read_line("/sys/hypervisor/type", type, sizeof(type)))
		snprintf(type, sizeof(type), "absent");
	if (!read_line("/sys/class/dmi/id/product_name", product, sizeof(product)))
		snprintf(product, sizeof(product), "unreadable");
	snprintf(buf, sizeof(buf), "cpuinfo_flag=%s; sys_hypervisor_type=%s; dmi_product=%s",
		 flag ? "yes" : "no", type, product);
	iom_report_meta_str(r, "hypervisor", buf);
}

/*
 * "name=value" per vulnerabilities file, sorted by name, joined by ';' with no space: values
 * contain "; " themselves, so an entry starts where ';' is followed by a lowercase name and '='.
 */
static void meta_mitigations(struct iom_report *r)
{
	const char *dir = "/sys/devices/system/cpu/vulnerabilities";
	char path[PATH_MAX], val[512], *s = NULL;
	struct dirent **ents;
	size_t slen = 0;
	FILE *m;
	int n;

	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		iom_report_meta_str(r, "mitigations", "absent (no vulnerabilities directory)");
		return;
	}
	m = open_memstream(&s, &slen);
	for (int i = 0; i < n; i++) {
		if (m && ents[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
			if (!read_line(path, val, sizeof(val)))
				snprintf(val, sizeof(val), "unreadable");
			fprintf(m, "%s%s=%s", ftell(m) ? ";" : "", ents[i]->d_name, val);
		}
		free(ents[i]);
	}
	free(ents);
	if (m && !fclose(m))
		iom_report_meta_str(r, "mitigations", slen ? s : "none listed");
	free(s);
}

/* Each model's library ("liburing_version") and libbpf's (the probes'), as each reports it. */
static void meta_libs(struct iom_report *r, const struct iom_model *const *models)
{
	char key[64], buf[96];

	for (size_t i = 0; models && models[i]; i++) {
		if (!models[i]->lib || !models[i]->lib_version)
			continue;
		snprintf(key, sizeof(key), "%s_version", models[i]->lib);
		models[i]->lib_version(buf, sizeof(buf));
		iom_report_meta_str(r, key, buf);
	}
	iom_report_meta_str(r, "libbpf_version", iom_probe_lib_version());
}

static void meta_rlimit(struct iom_report *r)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		iom_report_meta_str(r, "rlimit_nofile_soft", "unknown");
		iom_report_meta_str(r, "rlimit_nofile_hard", "unknown");
		return;
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		iom_report_meta_str(r, "rlimit_nofile_soft", "unlimited");
	else
		iom_report_meta_num(r, "rlimit_nofile_soft", (double)rl.rlim_cur);
	if (rl.rlim_max == RLIM_INFINITY)
		iom_report_meta_str(r, "rlimit_nofile_hard", "unlimited");
	else
		iom_report_meta_num(r, "rlimit_nofile_hard", (double)rl.rlim_max);
}

static const char *fs_name(unsigned long magic, char *buf, size_t len)
{
	switch (magic) {
	case EXT4_SUPER_MAGIC:
		return "ext2/3/4";	/* the three share one magic number */
	case XFS_SUPER_MAGIC:
		return "xfs";
	case BTRFS_SUPER_MAGIC:
		return "btrfs";
	case TMPFS_MAGIC:
		return "tmpfs";
	case OVERLAYFS_SUPER_MAGIC:
		return "overlayfs";
	}
	snprintf(buf, len, "0x%lx", magic);
	return buf;
}

/*
 * The filesystem and disk under file_dir: st_dev names the block device through
 * /sys/dev/block/MAJ:MIN; a partition has no queue of its own, so its parent disk's is read.
 */
static void meta_fs(struct iom_report *r, const char *file_dir)
{
	char sys[64], disk[PATH_MAX], path[PATH_MAX + 32], buf[256], hex[32], drv[PATH_MAX];
	const char *name;
	struct statfs sfs;
	struct stat st;
	ssize_t n;

	if (statfs(file_dir, &sfs) == 0)
		iom_report_meta_str(r, "fs_type", fs_name((unsigned long)sfs.f_type, hex,
							  sizeof(hex)));
	else
		iom_report_meta_str(r, "fs_type", "unknown (statfs failed)");

	if (stat(file_dir, &st)) {
		snprintf(buf, sizeof(buf), "unknown (stat: %s)", strerror(errno));
		disk[0] = '\0';
	} else {
		snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", major(st.st_dev),
			 minor(st.st_dev));
		/* btrfs, overlayfs, tmpfs: an anonymous device with no block device behind it. */
		if (!realpath(sys, disk)) {
			snprintf(buf, sizeof(buf), "none (no %s)", sys);
			disk[0] = '\0';
		}
	}
	if (!disk[0]) {
		iom_report_meta_str(r, "fs_device", buf);
		iom_report_meta_str(r, "fs_model", "none");
		iom_report_meta_str(r, "fs_scheduler", "none");
		iom_report_meta_str(r, "fs_rotational", "unknown");
		return;
	}
	snprintf(path, sizeof(path), "%s/partition", disk);
	if (access(path, F_OK) == 0)
		*strrchr(disk, '/') = '\0';
	name = strrchr(disk, '/') + 1;
	iom_report_meta_str(r, "fs_device", name);

	snprintf(path, sizeof(path), "%s/device/model", disk);
	if (read_line(path, buf, sizeof(buf))) {
		iom_report_meta_str(r, "fs_model", buf);
	} else {
		snprintf(path, sizeof(path), "%s/device/driver", disk);
		n = readlink(path, drv, sizeof(drv) - 1);
		drv[n > 0 ? n : 0] = '\0';
		/* virtio-blk exposes no model file; its driver link or vdX name says what it is. */
		if (strstr(drv, "virtio") || !strncmp(name, "vd", 2))
			iom_report_meta_str(r, "fs_model", "virtio block");
		else
			iom_report_meta_str(r, "fs_model", "unknown");
	}

	snprintf(path, sizeof(path), "%s/queue/scheduler", disk);
	if (read_line(path, buf, sizeof(buf)))
		active_choice(buf);
	else
		snprintf(buf, sizeof(buf), "unknown");
	iom_report_meta_str(r, "fs_scheduler", buf);
	snprintf(path, sizeof(path), "%s/queue/rotational", disk);
	meta_file_num(r, "fs_rotational", path, "unknown");
}

const char *iom_meta_git_commit(void)
{
#ifdef IOM_GIT_COMMIT
	return IOM_GIT_COMMIT;
#else
	return "unknown";
#endif
}

void iom_meta_collect(struct iom_report *r, const char *file_dir,
		      const struct iom_model *const *models)
{
	char buf[512], path[PATH_MAX];
	struct utsname u;
	struct tm tm;
	time_t now;
	long v;

	if (uname(&u) == 0) {
		snprintf(buf, sizeof(buf), "%s %s", u.release, u.version);
		iom_report_meta_str(r, "kernel", buf);
		iom_report_meta_str(r, "arch", u.machine);
		iom_report_meta_str(r, "hostname", u.nodename);
	} else {
		memset(&u, 0, sizeof(u));
		iom_report_meta_str(r, "kernel", "unknown (uname failed)");
		iom_report_meta_str(r, "arch", "unknown");
		iom_report_meta_str(r, "hostname", "unknown");
	}

	if (!read_field("/proc/cpuinfo", "model name", ':', buf, sizeof(buf)))
		snprintf(buf, sizeof(buf), "unknown (no model name in /proc/cpuinfo)");
	iom_report_meta_str(r, "cpu_model", buf);
	v = sysconf(_SC_NPROCESSORS_ONLN);
	if (v > 0)
		iom_report_meta_num(r, "cpus_online", (double)v);
	else
		iom_report_meta_str(r, "cpus_online", "unknown");
	if (read_field("/proc/meminfo", "MemTotal", ':', buf, sizeof(buf)))
		iom_report_meta_num(r, "mem_total_bytes", strtod(buf, NULL) * 1024);	/* "N kB" */
	else
		iom_report_meta_str(r, "mem_total_bytes", "unknown");

	meta_file(r, "clocksource", "/sys/devices/system/clocksource/clocksource0/"
		  "current_clocksource", "unknown");
	snprintf(path, sizeof(path), "/boot/config-%s", u.release);
	if (read_field(path, "CONFIG_HZ", '=', buf, sizeof(buf)))
		iom_report_meta_num(r, "hz", strtod(buf, NULL));
	else
		iom_report_meta_str(r, "hz", "unknown");
	meta_preempt(r, &u);

	meta_file(r, "cpuidle_driver", "/sys/devices/system/cpu/cpuidle/current_driver",
		  "none (no cpuidle)");
	if (!read_line("/sys/devices/system/cpu/cpuidle/current_governor_ro", buf, sizeof(buf)) &&
	    !read_line("/sys/devices/system/cpu/cpuidle/current_governor", buf, sizeof(buf)))
		snprintf(buf, sizeof(buf), "none (no cpuidle)");
	iom_report_meta_str(r, "cpuidle_governor", buf);
	meta_file_num(r, "guest_halt_poll_ns", "/sys/module/haltpoll/parameters/guest_halt_poll_ns",
		      "absent");
	meta_hypervisor(r);
	meta_mitigations(r);
	meta_file(r, "governor", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor",
		  "none (no cpufreq)");
	if (read_line("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf)))
		active_choice(buf);
	else
		snprintf(buf, sizeof(buf), "absent");
	iom_report_meta_str(r, "thp", buf);
	meta_file_num(r, "io_uring_disabled", "/proc/sys/kernel/io_uring_disabled", "absent");
	meta_rlimit(r);

	meta_libs(r, models);
	iom_report_meta_str(r, "json_c_version", json_c_version());
#if defined(__GNUC__) && !defined(__clang__)
	iom_report_meta_str(r, "compiler", "gcc " __VERSION__);
#else
	iom_report_meta_str(r, "compiler", __VERSION__);
#endif
#ifdef IOM_CFLAGS
	iom_report_meta_str(r, "cflags", IOM_CFLAGS);
#else
	iom_report_meta_str(r, "cflags", "unknown");
#endif
	iom_report_meta_str(r, "git_commit", iom_meta_git_commit());

	now = time(NULL);
	if (gmtime_r(&now, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		iom_report_meta_str(r, "utc_time", buf);
	else
		iom_report_meta_str(r, "utc_time", "unknown");

	if (file_dir)
		meta_fs(r, file_dir);
	iom_cluster_meta(r);
}
