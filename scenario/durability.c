// SPDX-License-Identifier: MIT
/*
 * iomodels scenario durability: the seed's failure mode 3, "COMPLETED is not durable". N
 * writes of bs bytes at seeded random offsets of a file we create (and remove), four ways, each
 * task timed from its start until it is reported complete:
 *
 *   buffered            pwrite returns: the data is in the page cache, dirty
 *   fdatasync           pwrite + fdatasync per task
 *   uring-linked-fsync  io_uring WRITE linked (IOSQE_IO_LINK) to FSYNC(DATASYNC): complete when
 *                       both CQEs are in
 *   o_direct            O_DIRECT pwrite: past the page cache, but possibly in the device's
 *                       volatile write cache, since nothing asks for a flush
 *
 * Right after each task is reported complete, cachestat(2) on its range says whether its pages
 * are still dirty or under writeback: such a task was "completed but not durable". cachestat
 * cannot see a device cache, so o_direct's zero is about the page cache only; the device's
 * write-cache mode is printed beside it.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/err.h"
#include "core/hist.h"
#include "core/model.h"
#include "core/workload.h"
#include "scenario/durability.h"
#include "scenario/scenario.h"
#include "scenario/sc_util.h"

#define DU_MAX_TASKS	1000000ull
#define DU_MAX_BS	(1ull << 20)
#define DU_ALIGN	4096ull		/* O_DIRECT and page alignment */
#define DU_SEED		0x6475726162696c69ull	/* "durabili": the same offsets for every way */

#ifndef __NR_cachestat
#define __NR_cachestat	451
#endif

enum du_way {
	DU_BUFFERED,
	DU_FDATASYNC,
	DU_URING,
	DU_DIRECT,
	DU_NR_WAYS,
};

static const char *const du_names[DU_NR_WAYS] = {
	[DU_BUFFERED] = "buffered",
	[DU_FDATASYNC] = "fdatasync",
	[DU_URING] = "uring-linked-fsync",
	[DU_DIRECT] = "o_direct",
};

/* cachestat(2)'s ABI (include/uapi/linux/mman.h); glibc 2.36 has neither it nor a wrapper. */
struct du_cachestat_range {
	uint64_t off, len;
};

struct du_cachestat {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

struct du_result {
	struct iom_hist lat;	/* per task, ns */
	uint64_t nr_done;	/* reported COMPLETED */
	uint64_t nr_failed;
	uint64_t nr_dirty;	/* COMPLETED with a page still dirty ... */
	uint64_t nr_writeback;	/* ... or under writeback (a task may count in both) */
	uint64_t nr_not_durable;	/* COMPLETED with either */
	uint64_t busy_ns;	/* sum of task times: ops/s leaves out our cachestat probes */
	double cache_before;	/* fraction of the file cached when the way started */
	char variant[64];	/* what the way ran with (ring flags) */
	char status[16];	/* ok, unavailable, error */
	char reason[192];
};

struct du_file {
	int fd;			/* buffered, O_RDWR */
	char path[PATH_MAX];
	uint64_t nr_blocks;
	bool cachestat_ok;
	int cachestat_errno;
};

static void du_fail(struct du_result *r, const char *status, const struct iom_err *err)
{
	if (strcmp(r->status, "ok"))
		return;
	snprintf(r->status, sizeof(r->status), "%s", status);
	snprintf(r->reason, sizeof(r->reason), "%s", err->msg);
}

static uint64_t du_offset(const struct iom_du_cfg *cfg, const struct du_file *f, uint64_t i)
{
	return (iom_mix64(DU_SEED + i) % f->nr_blocks) * cfg->bs;
}

/* The block's pattern with the task number and way in its first word: every write changes it. */
static void du_fill(void *buf, uint64_t off, uint64_t bs, uint64_t i, enum du_way way)
{
	iom_pattern_fill(buf, off, bs);
	*(uint64_t *)buf ^= (i << 8) | ((uint64_t)way + 1);
}

/* Is the range still dirty or under writeback? Counts into r; -errno if cachestat failed. */
static int du_probe(struct du_file *f, struct du_result *r, uint64_t off, uint64_t len)
{
	struct du_cachestat_range range = { off, len };
	struct du_cachestat cs;

	if (!f->cachestat_ok)
		return -f->cachestat_errno;
	if (syscall(__NR_cachestat, f->fd, &range, &cs, 0)) {
		f->cachestat_ok = false;
		f->cachestat_errno = errno;
		return -errno;
	}
	r->nr_dirty += cs.nr_dirty > 0;
	r->nr_writeback += cs.nr_writeback > 0;
	r->nr_not_durable += cs.nr_dirty > 0 || cs.nr_writeback > 0;
	return 0;
}

/*
 * Make the file: size bytes of the pattern, flushed. Overwriting allocated, written blocks keeps
 * every way free of block allocation and unwritten-extent conversion, which would otherwise put
 * journal commits into the sync ways' latency (and make O_DIRECT need a flush for metadata too).
 */
static int du_make_file(const struct iom_du_cfg *cfg, struct du_file *f, struct iom_err *err)
{
	const size_t chunk = 1 << 20;
	char *buf;
	int ret = 0;

	snprintf(f->path, sizeof(f->path), "%s/iomodels-durability.%d.tmp", cfg->dir,
		 (int)getpid());
	f->fd = open(f->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (f->fd < 0)
		return iom_err_set(err, -errno, "create %s", f->path);
	f->nr_blocks = cfg->size / cfg->bs;
	buf = malloc(chunk);
	if (!buf)
		return iom_err_set(err, -ENOMEM, "fill %s", f->path);
	for (uint64_t off = 0; off < cfg->size && !ret; off += chunk) {
		size_t n = cfg->size - off < chunk ? (size_t)(cfg->size - off) : chunk;

		iom_pattern_fill(buf, off, n);
		if (pwrite(f->fd, buf, n, (off_t)off) != (ssize_t)n)
			ret = iom_err_set(err, errno ? -errno : -EIO, "fill %s", f->path);
	}
	free(buf);
	if (!ret && fsync(f->fd))
		ret = iom_err_set(err, -errno, "fsync %s", f->path);
	f->cachestat_ok = true;
	return ret;
}

/* Every way starts alike: nothing dirty, nothing cached. */
static int du_drop(struct du_file *f, struct iom_err *err)
{
	int ret;

	if (fdatasync(f->fd))
		return iom_err_set(err, -errno, "fdatasync");
	ret = posix_fadvise(f->fd, 0, 0, POSIX_FADV_DONTNEED);
	if (ret)
		return iom_err_set(err, -ret, "posix_fadvise(DONTNEED)");
	return 0;
}

/* One task of a pwrite way (buffered, fdatasync, o_direct); 0 or -errno. */
static int du_pwrite_task(int fd, bool sync, const void *buf, uint64_t bs, uint64_t off)
{
	ssize_t n = pwrite(fd, buf, bs, (off_t)off);

	if (n < 0)
		return -errno;
	if ((uint64_t)n != bs)
		return -EIO;	/* a short write to a preallocated regular file: not expected */
	if (sync && fdatasync(fd))
		return -errno;
	return 0;
}

struct du_ring {
	struct io_uring ring;
	bool fixed;		/* the file is registered: index 0 */
	int fd;
};

/*
 * DESIGN §5: SINGLE_ISSUER|DEFER_TASKRUN first, plain flags if the kernel refuses. Depth 1:
 * a task is two SQEs, so a 4-entry ring is room enough.
 */
static int du_ring_init(struct du_ring *r, int fd, char *variant, size_t len, struct iom_err *err)
{
	struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER |
					      IORING_SETUP_DEFER_TASKRUN };
	int ret = io_uring_queue_init_params(4, &r->ring, &p);

	if (ret == -EINVAL) {
		memset(&p, 0, sizeof(p));
		ret = io_uring_queue_init_params(4, &r->ring, &p);
	}
	if (ret)
		return iom_err_set(err, ret, "io_uring_queue_init");
	r->fd = fd;
	r->fixed = !io_uring_register_files(&r->ring, &fd, 1);
	snprintf(variant, len, "%s%s", p.flags & IORING_SETUP_DEFER_TASKRUN ?
		 "single_issuer+defer_taskrun" : "flags 0", r->fixed ? "+fixed_file" : "");
	return 0;
}

/* One task: WRITE -> (linked) FSYNC(DATASYNC), complete when both CQEs are reaped. */
static int du_uring_task(struct du_ring *r, const void *buf, uint64_t bs, uint64_t off)
{
	struct io_uring_sqe *w = io_uring_get_sqe(&r->ring);
	struct io_uring_sqe *s = io_uring_get_sqe(&r->ring);
	int fd = r->fixed ? 0 : r->fd, ret = 0;

	if (!w || !s)
		return -EBUSY;
	io_uring_prep_write(w, fd, buf, (unsigned int)bs, off);
	w->flags |= IOSQE_IO_LINK | (r->fixed ? IOSQE_FIXED_FILE : 0);
	w->user_data = 1;
	io_uring_prep_fsync(s, fd, IORING_FSYNC_DATASYNC);
	s->flags |= r->fixed ? IOSQE_FIXED_FILE : 0;
	s->user_data = 2;
	/* One enter submits both and waits for both (with DEFER_TASKRUN it also runs the work). */
	ret = io_uring_submit_and_wait(&r->ring, 2);
	if (ret < 0)
		return ret;
	ret = 0;
	for (int i = 0; i < 2; i++) {
		struct io_uring_cqe *cqe;
		int e = io_uring_wait_cqe(&r->ring, &cqe);

		if (e)
			return e;
		/* A short write fails the link: the FSYNC then ends -ECANCELED. */
		if (cqe->user_data == 1 && cqe->res != (int)bs && !ret)
			ret = cqe->res < 0 ? cqe->res : -EIO;
		if (cqe->user_data == 2 && cqe->res < 0 && !ret)
			ret = cqe->res;
		io_uring_cqe_seen(&r->ring, cqe);
	}
	return ret;
}

static void du_run_way(enum du_way way, const struct iom_du_cfg *cfg, struct du_file *f,
		       void *buf, struct du_result *r)
{
	struct du_ring ring = { .fd = -1 };
	struct iom_err err = { "" };
	bool have_ring = false;
	int fd = f->fd, ret;

	iom_hist_init(&r->lat);
	strcpy(r->status, "ok");
	r->cache_before = NAN;
	ret = du_drop(f, &err);
	if (ret) {
		du_fail(r, "error", &err);
		return;
	}
	r->cache_before = iom_cache_fraction(f->fd, cfg->size);
	if (way == DU_DIRECT) {
		fd = open(f->path, O_RDWR | O_DIRECT | O_CLOEXEC);
		if (fd < 0) {
			iom_err_set(&err, -errno, "open O_DIRECT");
			du_fail(r, "unavailable", &err);
			return;
		}
		snprintf(r->variant, sizeof(r->variant), "O_DIRECT without flush");
	} else if (way == DU_URING) {
		ret = du_ring_init(&ring, f->fd, r->variant, sizeof(r->variant), &err);
		if (ret) {
			du_fail(r, ret == -EPERM || ret == -ENOSYS || ret == -EACCES ?
				"unavailable" : "error", &err);
			return;
		}
		have_ring = true;
	} else {
		snprintf(r->variant, sizeof(r->variant), way == DU_BUFFERED ? "pwrite" :
			 "pwrite+fdatasync");
	}
	for (uint64_t i = 0; i < cfg->nr_tasks; i++) {
		uint64_t off = du_offset(cfg, f, i), t0, t1;

		du_fill(buf, off, cfg->bs, i, way);
		t0 = iom_now_ns();
		if (way == DU_URING)
			ret = du_uring_task(&ring, buf, cfg->bs, off);
		else
			ret = du_pwrite_task(fd, way == DU_FDATASYNC, buf, cfg->bs, off);
		t1 = iom_now_ns();
		if (ret) {
			r->nr_failed++;
			iom_err_set(&err, ret, "task %llu", (unsigned long long)i);
			du_fail(r, "error", &err);
			continue;
		}
		r->nr_done++;
		r->busy_ns += t1 - t0;
		iom_hist_record(&r->lat, t1 - t0);
		/* The task is COMPLETED now: is what it wrote durable? */
		du_probe(f, r, off, cfg->bs);
	}
	if (have_ring)
		io_uring_queue_exit(&ring.ring);
	if (fd != f->fd)
		close(fd);
}

/* ---- reporting ---- */

/* The device's write-cache mode ("write back" / "write through"), or "unknown". */
static void du_write_cache(int fd, char *buf, size_t len)
{
	static const char *const fmt[] = { "/sys/dev/block/%u:%u/queue/write_cache",
					   "/sys/dev/block/%u:%u/../queue/write_cache" };
	struct stat st;

	snprintf(buf, len, "unknown");
	if (fstat(fd, &st))
		return;
	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		char path[128];
		FILE *f;

		snprintf(path, sizeof(path), fmt[i], major(st.st_dev), minor(st.st_dev));
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
		return;
	}
}

static const char *du_fs_name(int fd)
{
	struct statfs s;

	if (fstatfs(fd, &s))
		return "unknown";
	switch ((unsigned long)s.f_type) {
	case 0xEF53: return "ext2/3/4";
	case 0x58465342: return "xfs";
	case 0x9123683E: return "btrfs";
	case 0x01021994: return "tmpfs";
	case 0x858458F6: return "ramfs";
	case 0x794C7630: return "overlayfs";
	case 0x2FC12FC1: return "zfs";
	case 0xF2F52010: return "f2fs";
	default: return "other";
	}
}

/* A quantile in µs, or NAN when too few samples back it (DESIGN §6: 10 / (1 - q)). */
static double du_q_us(const struct iom_hist *h, double q)
{
	if (!h->count || !iom_hist_quantile_backed(h, q))
		return NAN;
	return (double)iom_hist_quantile(h, q) / 1000.0;
}

static void du_num(FILE *f, double v, const char *fmt)
{
	if (isnan(v))
		fputc(',', f);
	else {
		fputc(',', f);
		fprintf(f, fmt, v);
	}
}

static int du_write_csv(const struct iom_du_cfg *cfg, const struct du_result *res, bool cs_ok)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/durability.csv", cfg->out);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "way,tasks,bs,completed,failed,not_durable,dirty,writeback,"
		   "not_durable_fraction,ops_per_s,lat_p50_ns,lat_p90_ns,lat_p99_ns,lat_max_ns,"
		   "cache_before,variant,status,reason\n");
	for (int w = 0; w < DU_NR_WAYS; w++) {
		const struct du_result *r = &res[w];
		bool n = cs_ok && r->nr_done;

		fprintf(f, "%s,%llu,%llu,%llu,%llu", du_names[w],
			(unsigned long long)cfg->nr_tasks, (unsigned long long)cfg->bs,
			(unsigned long long)r->nr_done, (unsigned long long)r->nr_failed);
		du_num(f, n ? (double)r->nr_not_durable : NAN, "%.0f");
		du_num(f, n ? (double)r->nr_dirty : NAN, "%.0f");
		du_num(f, n ? (double)r->nr_writeback : NAN, "%.0f");
		du_num(f, n ? (double)r->nr_not_durable / (double)r->nr_done : NAN, "%.4f");
		du_num(f, r->busy_ns ? (double)r->nr_done * 1e9 / (double)r->busy_ns : NAN, "%.1f");
		du_num(f, du_q_us(&r->lat, 0.5) * 1000.0, "%.0f");
		du_num(f, du_q_us(&r->lat, 0.9) * 1000.0, "%.0f");
		du_num(f, du_q_us(&r->lat, 0.99) * 1000.0, "%.0f");
		du_num(f, r->lat.count ? (double)r->lat.max : NAN, "%.0f");
		du_num(f, r->cache_before >= 0 ? r->cache_before : NAN, "%.4f");
		fprintf(f, ",\"%s\",%s,\"%s\"\n", r->variant, r->status, r->reason);
	}
	if (fclose(f))
		return -errno;
	return 0;
}

static void du_cell_us(double v)
{
	if (isnan(v))
		printf(" %9s", "-");
	else
		printf(" %9.1f", v);
}

static void du_print(const struct iom_du_cfg *cfg, const struct du_result *res, bool cs_ok,
		     const char *fs, const char *wcache)
{
	printf("durability: %llu writes of %llu B at seeded random offsets of a %llu MiB file "
	       "(%s, device write cache: %s), depth 1, page cache dropped before each way\n",
	       (unsigned long long)cfg->nr_tasks, (unsigned long long)cfg->bs,
	       (unsigned long long)(cfg->size >> 20), fs, wcache);
	printf("%-19s %9s %12s %9s %9s %9s %9s %9s %9s  %s\n", "way", "completed",
	       "not_durable", "fraction", "ops/s", "p50_us", "p90_us", "p99_us", "max_us",
	       "status");
	for (int w = 0; w < DU_NR_WAYS; w++) {
		const struct du_result *r = &res[w];
		char nd[32] = "-", frac[16] = "-";

		if (cs_ok && r->nr_done) {
			snprintf(nd, sizeof(nd), "%llu", (unsigned long long)r->nr_not_durable);
			snprintf(frac, sizeof(frac), "%.2f",
				 (double)r->nr_not_durable / (double)r->nr_done);
		}
		printf("%-19s %4llu/%-4llu %12s %9s", du_names[w], (unsigned long long)r->nr_done,
		       (unsigned long long)cfg->nr_tasks, nd, frac);
		if (r->busy_ns)
			printf(" %9.0f", (double)r->nr_done * 1e9 / (double)r->busy_ns);
		else
			printf(" %9s", "-");
		du_cell_us(du_q_us(&r->lat, 0.5));
		du_cell_us(du_q_us(&r->lat, 0.9));
		du_cell_us(du_q_us(&r->lat, 0.99));
		du_cell_us(r->lat.count ? (double)r->lat.max / 1000.0 : NAN);
		printf("  %s%s%s\n", r->status, r->reason[0] ? ": " : "", r->reason);
	}
	printf("not_durable = reported COMPLETED while cachestat still saw its page dirty or under "
	       "writeback; ops/s = tasks / the sum of task times (the cachestat probes left out); "
	       "a percentile needs 10/(1-q) tasks to be shown (DESIGN §6): p90 100, p99 1000\n");
	printf("o_direct: the page cache is bypassed, so cachestat sees nothing dirty, but with "
	       "no flush (fdatasync, FUA) the block may still sit in the device's volatile write "
	       "cache (here: %s)\n", wcache);
}

static void du_verdict(const struct du_result *res, bool cs_ok, const char *fs,
		       const char *wcache)
{
	char uring[48];

	/* shmem pages never count as dirty to cachestat, and nothing would write them anyway. */
	if (!strcmp(fs, "tmpfs") || !strcmp(fs, "ramfs")) {
		printf("verdict: none: --directory is on %s, memory, where no way reaches a disk; "
		       "use a disk filesystem\n", fs);
		return;
	}

	if (!cs_ok) {
		printf("verdict: not measured (no cachestat); timings only\n");
		return;
	}
	if (strcmp(res[DU_URING].status, "ok"))
		snprintf(uring, sizeof(uring), "%s", res[DU_URING].status);
	else
		snprintf(uring, sizeof(uring), "%llu/%llu",
			 (unsigned long long)res[DU_URING].nr_not_durable,
			 (unsigned long long)res[DU_URING].nr_done);
	printf("verdict: buffered reports %llu/%llu tasks COMPLETED while their page is still "
	       "dirty (not durable); fdatasync %llu/%llu, uring-linked-fsync %s; o_direct "
	       "%llu/%llu dirty, but unflushed in a '%s' device cache it is not known durable\n",
	       (unsigned long long)res[DU_BUFFERED].nr_not_durable,
	       (unsigned long long)res[DU_BUFFERED].nr_done,
	       (unsigned long long)res[DU_FDATASYNC].nr_not_durable,
	       (unsigned long long)res[DU_FDATASYNC].nr_done, uring,
	       (unsigned long long)res[DU_DIRECT].nr_not_durable,
	       (unsigned long long)res[DU_DIRECT].nr_done, wcache);
}

static void du_usage(FILE *f)
{
	fprintf(f, "usage: iomodels scenario durability [--tasks N (200)] [--bs BYTES (4096)] "
		   "[--size BYTES (64M)] [--directory D (.)] [--output DIR]\n");
}

int iom_durability_parse(int argc, char **argv, struct iom_du_cfg *cfg)
{
	struct stat st;

	for (int i = 1; i < argc; i++) {
		const char *val = NULL;

		if (sc_opt(argc, argv, &i, "--tasks", &val)) {
			if (sc_parse_u64(val, 1, DU_MAX_TASKS, false, &cfg->nr_tasks)) {
				fprintf(stderr, "iomodels: durability: --tasks wants 1..%llu\n",
					DU_MAX_TASKS);
				return 2;
			}
		} else if (sc_opt(argc, argv, &i, "--bs", &val)) {
			if (sc_parse_u64(val, DU_ALIGN, DU_MAX_BS, true, &cfg->bs) ||
			    cfg->bs % DU_ALIGN) {
				fprintf(stderr, "iomodels: durability: --bs wants a multiple of "
					"4096 up to 1M (O_DIRECT alignment)\n");
				return 2;
			}
		} else if (sc_opt(argc, argv, &i, "--size", &val)) {
			if (sc_parse_u64(val, DU_ALIGN, 16ull << 30, true, &cfg->size)) {
				fprintf(stderr, "iomodels: durability: --size wants 4K..16G\n");
				return 2;
			}
		} else if (sc_opt(argc, argv, &i, "--directory", &val)) {
			if (!val || !*val || strlen(val) >= sizeof(cfg->dir) - 64) {
				fprintf(stderr, "iomodels: durability: --directory wants a path\n");
				return 2;
			}
			snprintf(cfg->dir, sizeof(cfg->dir), "%s", val);
		} else if (sc_opt(argc, argv, &i, "--output", &val)) {
			if (!val || !*val || strlen(val) >= sizeof(cfg->out) - 32) {
				fprintf(stderr, "iomodels: durability: --output wants a path\n");
				return 2;
			}
			snprintf(cfg->out, sizeof(cfg->out), "%s", val);
		} else {
			fprintf(stderr, "iomodels: durability: unknown option '%s' (--help)\n",
				argv[i]);
			return 2;
		}
	}
	if (cfg->size < cfg->bs || cfg->size % cfg->bs) {
		fprintf(stderr, "iomodels: durability: --size must be a multiple of --bs\n");
		return 2;
	}
	if (stat(cfg->dir, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "iomodels: durability: --directory %s is not a directory\n",
			cfg->dir);
		return 2;
	}
	return 0;
}

void iom_durability_defaults(struct iom_du_cfg *cfg)
{
	*cfg = (struct iom_du_cfg){ .nr_tasks = 200, .bs = 4096, .size = 64ull << 20, .dir = "." };
}

int iom_durability_run(const struct iom_du_cfg *cfg)
{
	struct du_file f = { .fd = -1 };
	struct du_result *res = NULL;
	struct iom_err err = { "" };
	char wcache[32];
	const char *fs;
	void *buf = NULL;
	bool all_ok = true;
	int ret, rc = 1;

	ret = sc_mkdir_p(cfg->out);
	if (ret) {
		fprintf(stderr, "iomodels: durability: mkdir %s: %s\n", cfg->out, strerror(-ret));
		return 2;
	}
	res = calloc(DU_NR_WAYS, sizeof(*res));
	/* Aligned for O_DIRECT; the same buffer serves every way. */
	if (!res || posix_memalign(&buf, DU_ALIGN, cfg->bs)) {
		fprintf(stderr, "iomodels: durability: out of memory\n");
		goto out;
	}
	ret = du_make_file(cfg, &f, &err);
	if (ret) {
		fprintf(stderr, "iomodels: durability: %s\n", err.msg);
		goto out;
	}
	fs = du_fs_name(f.fd);
	du_write_cache(f.fd, wcache, sizeof(wcache));
	for (int w = 0; w < DU_NR_WAYS; w++) {
		du_run_way((enum du_way)w, cfg, &f, buf, &res[w]);
		if (!strcmp(res[w].status, "error"))
			all_ok = false;
	}
	if (!f.cachestat_ok)
		printf("cachestat: unavailable (%s): completed-while-dirty not measured, timings "
		       "only\n", iom_errno_name(f.cachestat_errno));
	du_print(cfg, res, f.cachestat_ok, fs, wcache);
	du_verdict(res, f.cachestat_ok, fs, wcache);
	ret = du_write_csv(cfg, res, f.cachestat_ok);
	if (ret) {
		fprintf(stderr, "iomodels: durability: %s/durability.csv: %s\n", cfg->out,
			strerror(-ret));
		goto out;
	}
	printf("wrote %s/durability.csv\n", cfg->out);
	rc = all_ok ? 0 : 1;
out:
	if (f.fd >= 0) {
		close(f.fd);
		unlink(f.path);
	}
	free(buf);
	free(res);
	return rc;
}

static int du_main(int argc, char **argv)
{
	struct iom_du_cfg cfg;
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			du_usage(stdout);
			return 0;
		}
	}
	iom_durability_defaults(&cfg);
	ret = iom_durability_parse(argc, argv, &cfg);
	if (ret)
		return ret;
	if (!cfg.out[0])
		sc_default_output(cfg.out, sizeof(cfg.out), "durability");
	return iom_durability_run(&cfg);
}

const struct iom_scenario iom_scenario_durability = {
	.name = "durability",
	.what = "COMPLETED is not durable: buffered / fdatasync / io_uring linked fsync / O_DIRECT",
	.main = du_main,
};
