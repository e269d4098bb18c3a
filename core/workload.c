// SPDX-License-Identifier: MIT
/*
 * Workloads nop / timer / file. The file workload never harms user data: it makes and fills its
 * own file with a verifiable pattern, and refuses to write to a file it did not make (without
 * --allow-overwrite) or to touch a block device (without --allow-device).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "workload.h"

static const char *const wl_names[IOM_NR_WL] = {
	[IOM_WL_NOP] = "nop", [IOM_WL_TIMER] = "timer", [IOM_WL_FILE] = "file",
	[IOM_WL_RPC] = "rpc",
};

const char *iom_wl_name(enum iom_wl_kind k)
{
	return (unsigned)k < IOM_NR_WL ? wl_names[k] : "?";
}

int iom_wl_parse(const char *s)
{
	for (int i = 0; i < IOM_NR_WL; i++)
		if (!strcmp(s, wl_names[i]))
			return i;
	return -1;
}

const char *iom_dist_name(enum iom_dist d)
{
	switch (d) {
	case IOM_DIST_FIXED: return "fixed";
	case IOM_DIST_EXP: return "exp";
	case IOM_DIST_LOGNORMAL: return "lognormal";
	case IOM_DIST_BIMODAL: return "bimodal";
	}
	return "?";
}

int iom_dist_parse(const char *s, struct iom_wl_params *p, struct iom_err *err)
{
	double prob, x_us;
	char *end;

	if (!strcmp(s, "fixed"))
		p->dist = IOM_DIST_FIXED;
	else if (!strcmp(s, "exp"))
		p->dist = IOM_DIST_EXP;
	else if (!strcmp(s, "lognormal"))
		p->dist = IOM_DIST_LOGNORMAL;
	else if (!strncmp(s, "bimodal:", 8)) {
		errno = 0;
		prob = strtod(s + 8, &end);
		if (errno || end == s + 8 || *end != ',' || !(prob >= 0 && prob <= 1))
			return iom_err_msg(err, "--latency-dist %s: want bimodal:P,X with 0 <= P <= 1", s);
		x_us = strtod(end + 1, &end);
		if (errno || *end || !(x_us >= 0 && x_us <= 3.6e9))
			return iom_err_msg(err, "--latency-dist %s: X must be microseconds >= 0", s);
		p->dist = IOM_DIST_BIMODAL;
		p->bimodal_p = prob;
		p->bimodal_ns = (uint64_t)(x_us * 1000.0);
	} else {
		return iom_err_msg(err, "--latency-dist %s: want fixed, exp, lognormal or bimodal:P,X",
				   s);
	}
	return 0;
}

uint64_t iom_workload_latency(const struct iom_wl_params *p, uint64_t seq)
{
	double u, d = (double)p->latency_ns;

	switch (p->dist) {
	case IOM_DIST_FIXED:
		return p->latency_ns;
	case IOM_DIST_EXP:
		u = iom_unit(iom_mix64(p->seed ^ 0x6c6174656e6379ull ^ iom_mix64(seq)));
		return (uint64_t)(-log(u) * d);
	case IOM_DIST_LOGNORMAL: {
		/* Box-Muller from two hashes; mu chosen so the mean is D with sigma 1. */
		double u1 = iom_unit(iom_mix64(p->seed ^ 0x6c6f676e6f726d31ull ^ iom_mix64(seq)));
		double u2 = iom_unit(iom_mix64(p->seed ^ 0x6c6f676e6f726d32ull ^ iom_mix64(seq)));
		double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);

		return d > 0 ? (uint64_t)exp(log(d) - 0.5 + z) : 0;
	}
	case IOM_DIST_BIMODAL:
		/* Deterministic: task seq is slow when floor((seq+1)P) > floor(seq P), so exactly
		 * round(nP) of any n consecutive tasks are slow, with no randomness to flake a test. */
		if (floor((double)(seq + 1) * p->bimodal_p) > floor((double)seq * p->bimodal_p))
			return p->bimodal_ns;
		return p->latency_ns;
	}
	return p->latency_ns;
}

void iom_workload_next(const struct iom_workload *wl, uint64_t seq, struct iom_task *t)
{
	switch (wl->p.kind) {
	case IOM_WL_NOP:
		t->op = IOM_OP_NOP;
		t->len = 0;
		t->fd = -1;
		t->latency_ns = 0;
		break;
	case IOM_WL_TIMER:
	case IOM_WL_RPC:
		t->op = IOM_OP_TIMER;
		t->len = 0;
		t->fd = -1;
		t->latency_ns = iom_workload_latency(&wl->p, seq);
		break;
	case IOM_WL_FILE:
		t->op = wl->p.write ? IOM_OP_WRITE : IOM_OP_READ;
		t->fd = wl->fd;
		t->len = wl->p.bs;
		t->latency_ns = 0;
		t->offset = (iom_mix64(wl->p.seed ^ iom_mix64(seq)) % wl->nr_blocks) * wl->p.bs;
		if (wl->p.write)
			iom_pattern_fill(t->buf, t->offset, t->len);
		break;
	case IOM_NR_WL:
		break;
	}
}

void iom_pattern_fill(void *buf, uint64_t off, size_t len)
{
	uint64_t *w = buf;

	for (size_t i = 0; i < len / 8; i++)
		w[i] = iom_pattern_word(off + 8 * i);
}

long iom_pattern_check(const void *buf, uint64_t off, size_t len)
{
	const uint64_t *w = buf;

	for (size_t i = 0; i < len / 8; i++)
		if (w[i] != iom_pattern_word(off + 8 * i))
			return (long)(8 * i);
	return -1;
}

/* cachestat(2), syscall 451 since Linux 6.5; glibc 2.36 has no wrapper. */
struct iom_cachestat_range {
	uint64_t off, len;
};
struct iom_cachestat {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

double iom_cache_fraction(int fd, uint64_t size)
{
	struct iom_cachestat_range range = { 0, size };
	struct iom_cachestat cs;
	long page = sysconf(_SC_PAGESIZE);

	if (fd < 0 || !size || syscall(451, fd, &range, &cs, 0) < 0)
		return -1;
	return (double)cs.nr_cache / (double)((size + (uint64_t)page - 1) / (uint64_t)page);
}

/* Our file: its size is right and its first and last blocks hold the pattern. */
static bool file_is_ours(int fd, uint64_t size)
{
	static char buf[4096] __attribute__((aligned(8)));
	uint64_t last = size >= sizeof(buf) ? size - sizeof(buf) : 0;
	struct stat st;

	if (fstat(fd, &st) || (uint64_t)st.st_size != size || size < 8)
		return false;
	if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)(size < sizeof(buf) ? size : sizeof(buf)))
		return false;
	if (iom_pattern_check(buf, 0, size < sizeof(buf) ? size : sizeof(buf)) >= 0)
		return false;
	last &= ~7ull;
	if (pread(fd, buf, sizeof(buf), (off_t)last) < 8)
		return false;
	return iom_pattern_check(buf, last, (size - last) & ~7ull) < 0;
}

static int fill_file(int fd, uint64_t size, struct iom_err *err, const char *path)
{
	const size_t chunk = 1 << 20;
	char *buf = malloc(chunk);

	if (!buf)
		return iom_err_set(err, -ENOMEM, "fill %s", path);
	for (uint64_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? (size_t)(size - off) : chunk;

		iom_pattern_fill(buf, off, n);
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) {
			int e = errno ? errno : EIO;

			free(buf);
			return iom_err_set(err, -e, "write %s", path);
		}
	}
	free(buf);
	if (fsync(fd))
		return iom_err_set(err, -errno, "fsync %s", path);
	return 0;
}

int iom_workload_open(struct iom_workload *wl, const struct iom_wl_params *p,
		      struct iom_err *err)
{
	struct stat st;
	int fd, flags, ret;
	bool exists;

	memset(wl, 0, sizeof(*wl));
	wl->p = *p;
	wl->fd = -1;
	if (p->kind != IOM_WL_FILE)
		return 0;
	if (!p->bs || p->bs % 512 || p->size < p->bs)
		return iom_err_msg(err, "file: --bs must be a multiple of 512 and <= --size");
	wl->nr_blocks = p->size / p->bs;
	if (p->path[0])
		snprintf(wl->path, sizeof(wl->path), "%s", p->path);
	else
		snprintf(wl->path, sizeof(wl->path), "%s/iomodels.%llu.dat",
			 p->directory[0] ? p->directory : ".", (unsigned long long)p->size);

	exists = stat(wl->path, &st) == 0;
	if (exists && S_ISBLK(st.st_mode) && !p->allow_device)
		return iom_err_msg(err, "file: %s is a block device: refusing without --allow-device",
				   wl->path);
	if (exists && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return iom_err_msg(err, "file: %s is not a regular file", wl->path);

	if (!exists) {
		fd = open(wl->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return iom_err_set(err, -errno, "create %s", wl->path);
		ret = fill_file(fd, p->size, err, wl->path);
		if (ret) {
			close(fd);
			unlink(wl->path);
			return ret;
		}
		close(fd);
		wl->created = true;
	} else if (S_ISREG(st.st_mode)) {
		fd = open(wl->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return iom_err_set(err, -errno, "open %s", wl->path);
		wl->created = file_is_ours(fd, p->size);
		close(fd);
		if (!wl->created && (uint64_t)st.st_size < p->size)
			return iom_err_msg(err, "file: %s is smaller than --size", wl->path);
		if (!wl->created && p->write && !p->allow_overwrite)
			return iom_err_msg(err, "file: %s was not made by iomodels: refusing to write "
					   "without --allow-overwrite", wl->path);
	}

	flags = (p->write ? O_RDWR : O_RDONLY) | O_CLOEXEC | (p->direct ? O_DIRECT : 0);
	wl->fd = open(wl->path, flags);
	if (wl->fd < 0)
		return iom_err_set(err, -errno, "open %s%s", wl->path, p->direct ? " O_DIRECT" : "");
	/* Random offsets for every model: no readahead to flatter one of them. */
	posix_fadvise(wl->fd, 0, 0, POSIX_FADV_RANDOM);
	if (p->cold && !p->direct) {
		if (fdatasync(wl->fd) == 0)
			posix_fadvise(wl->fd, 0, 0, POSIX_FADV_DONTNEED);
	}
	return 0;
}

void iom_workload_close(struct iom_workload *wl)
{
	if (wl->fd >= 0)
		close(wl->fd);
	wl->fd = -1;
}
