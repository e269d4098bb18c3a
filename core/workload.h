/* SPDX-License-Identifier: MIT */
/*
 * Workloads: what a task does, identical for every model. Every random choice (offsets, service
 * times) is a pure function of (seed, task sequence number), so all models see the same tasks.
 */
#ifndef IOM_WORKLOAD_H
#define IOM_WORKLOAD_H

#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "rpc.h"
#include "task.h"

enum iom_wl_kind {
	IOM_WL_NOP,	/* no work: the model's own cost floor */
	IOM_WL_TIMER,	/* wait D: a slow remote call that moves no data */
	IOM_WL_FILE,	/* read or write bs bytes at a seeded random offset of our own file */
	IOM_WL_RPC,	/* request/reply to the bundled backend (a later issue) */
	IOM_NR_WL,
};

enum iom_dist {
	IOM_DIST_FIXED,
	IOM_DIST_EXP,		/* exponential, mean D */
	IOM_DIST_LOGNORMAL,	/* lognormal, mean D, sigma 1 */
	IOM_DIST_BIMODAL,	/* a deterministic fraction P of tasks take X, the rest D */
};

/* rpc: how a task asks (docs/async-api.md): one echo, or SUBMIT then STATUS/WAIT. */
enum iom_api { IOM_API_SYNC, IOM_API_ASYNC };

struct iom_wl_params {
	enum iom_wl_kind kind;
	enum iom_dist dist;
	uint64_t latency_ns;	/* D */
	double bimodal_p;	/* P */
	uint64_t bimodal_ns;	/* X */
	uint64_t seed;
	/* file */
	char path[PATH_MAX];	/* --filename, or empty: a file made in directory */
	char directory[PATH_MAX];
	uint64_t size;
	uint32_t bs;
	bool write, direct, cold, allow_overwrite, allow_device;
	/* rpc */
	uint32_t payload;	/* request and reply payload bytes */
	char connect[128];	/* --connect HOST:PORT: a running backend; empty = start one */
	char unix_path[108];	/* --unix PATH: over a Unix socket */
	char backend_cpus[64];	/* --backend-cpus LIST for the backend we start */
	bool idempotency_key;	/* requests carry their id as an idempotency key */
	unsigned int backend_capacity;	/* requests in service at once before BUSY (0 = none) */
	char server_model[16];	/* --server-model: the server this cell starts (empty = epoll) */
	char service[32];	/* --service: that server's service (empty = each request's own) */
	enum iom_api api;	/* --api */
	bool async_wait;	/* --wait: one long-poll WAIT in place of STATUS polls */
	uint64_t async_poll_ns;	/* --poll-interval-us under --api async: between STATUS polls */
};

struct iom_workload {
	struct iom_wl_params p;
	int fd;			/* file: opened once, shared by every submitter */
	uint64_t nr_blocks;
	char path[PATH_MAX];	/* the file actually used */
	bool created;		/* we made (or verified as ours) this file */
	struct iom_rpc_addr addr;	/* rpc: where the backend listens */
	pid_t backend_pid;	/* rpc: the backend we started (0 = none) */
	int backend_fd;		/* its report pipe: the port, then its counts at exit */
	unsigned int backend_threads;	/* the most threads it was seen to run (0 = not seen) */
	int64_t backend_rss0;		/* its RSS in bytes once listening, before any client (-1) */
	int64_t backend_rss_max;	/* the most RSS it was seen to hold (-1 = not seen) */
};

/* rpc: what the backend we started said as it exited (-1 where it did not say). */
struct iom_backend_counts {
	int64_t duplicates;		/* requests executed twice */
	int64_t async_pending_max;	/* the most async tasks it held pending at once */
	int64_t async_bytes_at_max;	/* its status store's bytes at that peak */
};

/*
 * rpc: how a cell starts its own server. core/ names no server: the CLI (and each test
 * binary) registers one with iom_workload_set_server(). It runs in a forked child: serve per
 * p (p->server_model, p->unix_path, p->backend_capacity) on cpus, write "port=N\n" to
 * report_fd once listening and "key=value" counts at exit; 0, or nonzero with a line on stderr.
 */
typedef int (*iom_wl_serve_fn)(const struct iom_wl_params *p, const cpu_set_t *cpus,
			       int report_fd);
void iom_workload_set_server(iom_wl_serve_fn serve);

/* rpc: bytes of one request (= one reply). */
static inline uint32_t iom_rpc_frame_len(const struct iom_wl_params *p)
{
	return (uint32_t)sizeof(struct iom_rpc_hdr) + p->payload;
}

/*
 * rpc --api async: t's frame came back whole (the model ended it COMPLETED). Read the reply
 * and say what the task does next: 1 = its result is learned (*learned_us: the server's time
 * from done to that answer); 0 = t's next frame (STATUS or WAIT of the server's task) is built
 * in t->buf, to be sent *delay_ns from now; -errno = the task fails (-ENOENT: the server does
 * not know the task, -EBADMSG: a reply that is not the answer to t's frame).
 */
int iom_workload_async_next(const struct iom_wl_params *p, struct iom_task *t,
			    uint64_t *delay_ns, uint64_t *learned_us);

/* The file workload's file: --filename, or iomodels.<size>.dat in --directory. */
void iom_workload_file_path(const struct iom_wl_params *p, char *path, size_t len);
/* rpc: stop the backend we started and read its counts; false (all -1) when none is ours. */
bool iom_workload_backend_stop(struct iom_workload *wl, struct iom_backend_counts *c);
/* rpc: the threads and RSS of the backend we started, now (kept: the most seen of each). */
void iom_workload_backend_sample(struct iom_workload *wl);
/* rpc: how many CPUs the backend we started can use at once (its threads seen, its CPU set). */
double iom_workload_backend_cpus(const struct iom_workload *wl);
/* rpc: CPU ns the backend we started has used so far, or -1. */
int64_t iom_workload_backend_cpu_ns(const struct iom_workload *wl);

const char *iom_wl_name(enum iom_wl_kind k);
int iom_wl_parse(const char *s);			/* -1 if unknown */
const char *iom_dist_name(enum iom_dist d);

/* Parse "fixed|exp|lognormal|bimodal:P,X" (X in microseconds); 0 or -EINVAL with a message. */
int iom_dist_parse(const char *s, struct iom_wl_params *p, struct iom_err *err);

/*
 * Before any cell: can the file workload use its file? 0 (also when it does not exist yet: the
 * first cell makes it), or -errno with err saying why. A no-op for the other workloads.
 */
int iom_workload_check(const struct iom_wl_params *p, struct iom_err *err);
/* Make / verify / open the file (file workload); a no-op for the others. */
int iom_workload_open(struct iom_workload *wl, const struct iom_wl_params *p,
		      struct iom_err *err);
void iom_workload_close(struct iom_workload *wl);

/* iom_workload_next for every workload but a NOP's (workload.c). */
void iom_workload_fill(const struct iom_workload *wl, uint64_t seq, struct iom_task *t);

/*
 * Fill t's op, fd, len, offset and latency for task number seq (global across submitters).
 * Inline for a NOP: the submit loop makes one per task, and a call cost more than the fill.
 */
static inline void iom_workload_next(const struct iom_workload *wl, uint64_t seq,
				     struct iom_task *t)
{
	if (wl->p.kind != IOM_WL_NOP) {
		iom_workload_fill(wl, seq, t);
		return;
	}
	t->op = IOM_OP_NOP;
	t->len = 0;
	t->fd = -1;
	t->latency_ns = 0;
}

/* Give t (already filled by iom_workload_next) another service time / timer duration. */
void iom_workload_set_latency(const struct iom_workload *wl, struct iom_task *t,
			      uint64_t latency_ns);

/* The task's service time / timer duration for task number seq (exposed for tests). */
uint64_t iom_workload_latency(const struct iom_wl_params *p, uint64_t seq);

/*
 * The file's content: the 8-byte word at file offset o (o a multiple of 8) holds
 * iom_pattern_word(o), so a reader can verify any block it reads.
 */
static inline uint64_t iom_pattern_word(uint64_t off)
{
	return off ^ 0x696f6d6f64656c73ull; /* "iomodels" */
}
void iom_pattern_fill(void *buf, uint64_t off, size_t len);
/* Offset of the first bad byte from buf's start, or -1 if every word matches. */
long iom_pattern_check(const void *buf, uint64_t off, size_t len);

/* Page-cache state of fd's file: the fraction of its pages cached, or -1 if cachestat fails. */
double iom_cache_fraction(int fd, uint64_t size);

/* splitmix64: the suite's one seeded hash. */
static inline uint64_t iom_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* A uniform double in (0, 1) from a 64-bit hash. */
static inline double iom_unit(uint64_t h)
{
	return ((double)(h >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

#endif
