/* SPDX-License-Identifier: MIT */
/*
 * The one interface every server model implements (iomodels serve --model M), in the spirit of
 * core/model.h: a model only turns connections into its own system calls; what every server
 * shares lives here (server.c, conn.c) so the models differ only in how they wait.
 *
 * A model's ->run() serves until iom_server_stopping(). For every connection it:
 *   - takes a listener from iom_server_listener(srv, i) (per thread i: TCP gets its own
 *     SO_REUSEPORT socket, a Unix socket a dup of the one listener), calls
 *     iom_server_listening() once all are bound and, when accept fails, asks
 *     iom_server_accept_failed() how long to pause accepting (EMFILE: no spin);
 *   - refuses a connection past --max-conns with iom_server_conn_open() (one log line);
 *   - buffers with struct iom_sconn: reads into iom_sconn_room() (which says when to stop
 *     reading: the unsent replies and requests in service past their caps), cuts frames with
 *     iom_sconn_next() and queues each answer with iom_server_reply();
 *   - passes each request to iom_server_admit() (counts, dedup, capacity) and, once served,
 *     calls iom_server_served();
 *   - a half-closed peer (read gives 0 between frames) still gets every reply due.
 * server.c writes the port, the stats, and handles signals. servers.c is the table.
 */
#ifndef IOM_SERVER_H
#define IOM_SERVER_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "core/rpc.h"

/* Per-connection caps: memory and fds stay bounded whatever a client does. */
#define IOM_SERVER_OUT_CAP	(256u << 10)	/* unsent replies + requests held, per conn */
#define IOM_SERVER_INFLIGHT	256u		/* requests in service per connection */
#define IOM_SERVER_IDLE_MS	300000u		/* a connection silent this long is reaped */
#define IOM_SERVER_FRAME_MS	2000u		/* a frame not whole in this time: closed */
/* The async API's status store (async.c): pending tasks, whole server and per connection. */
#define IOM_ASYNC_MAX_PENDING	4096u
#define IOM_ASYNC_MAX_PENDING_CONN	256u
#define IOM_ASYNC_TTL_MS	60000u		/* a finished task's status, unread, is kept this long */

/* What a request's service is: its header's service_us as a wait (the default), or --service. */
enum iom_service_kind {
	IOM_SERVICE_HEADER,	/* wait the request's service_us (the rpc workload's latency) */
	IOM_SERVICE_SLEEP,	/* wait D us */
	IOM_SERVICE_CPU,	/* burn D us of CPU */
	IOM_SERVICE_FILE,	/* read BS bytes at a seeded offset of a file (--file) */
	IOM_SERVICE_WAIT,	/* an async WAIT's long poll: a timed wait, never work */
};

struct iom_server_opts {
	const char *listen;		/* HOST:PORT (default 127.0.0.1:0) */
	const char *unix_path;		/* or a Unix socket */
	const char *port_file;		/* write the bound port here once listening */
	const char *stats_file;		/* write the counts here on exit */
	int report_fd;			/* or >= 0: "port=N\n" once listening, the counts at exit */
	unsigned int threads;		/* event-driven models' loops (0: iom_server_loops()) */
	unsigned int capacity;		/* requests in service at once before BUSY (0 = no cap) */
	unsigned int frame_timeout_ms;	/* a frame not complete in this time is closed */
	unsigned int idle_timeout_ms;	/* a connection silent this long is closed (0 = never) */
	unsigned int max_conns;		/* connections open at once; past it refused (0 = no cap) */
	unsigned int max_inflight;	/* requests in service per connection */
	size_t out_cap;			/* unsent reply bytes per connection before reading stops */
	enum iom_service_kind service;
	uint32_t service_us;		/* D of --service sleep:D | cpu:D */
	uint32_t service_bs;		/* BS of --service file:BS */
	const char *service_path;	/* the file it reads (the file workload's, by default) */
	unsigned int max_pending;	/* async tasks not finished, whole server, before BUSY */
	unsigned int max_pending_conn;	/* the same, per connection */
	unsigned int status_ttl_ms;	/* a finished task's status, unread, is kept this long */
	unsigned int status_lag_us;	/* the store answers as of this long ago (stale replicas) */
	cpu_set_t cpus;
	bool cpus_set;
	bool quiet;
};

/* The state every model shares: the address, the counts, the dedup table. */
struct iom_server {
	struct iom_server_opts opts;
	int service_fd;			/* --service file: the file, opened once */
	uint64_t service_blocks;	/* its size in BS blocks */
	struct iom_rpc_addr addr;
	int listen_fd;			/* the first listener (Unix: the only one) */
	const char *model_name;		/* for the log */
	struct iom_async *async;	/* the async API's status store (async.c) */
	_Atomic uint64_t *seen;		/* request ids seen, by task number (0 = empty) */
	_Atomic uint64_t nr_requests, nr_duplicates, nr_deduplicated, nr_bad, nr_conns, nr_busy;
	_Atomic uint64_t nr_dropped;	/* connections dropped by request (--fault drop-conn) */
	_Atomic uint64_t nr_refused;	/* connections refused past --max-conns */
	_Atomic uint64_t nr_reaped;	/* idle connections closed */
	_Atomic uint64_t nr_paused;	/* times a connection's reading stopped at its caps */
	_Atomic uint64_t nr_accept_fail;	/* accept() failures (EMFILE ...) */
	_Atomic uint64_t nr_read_bytes;	/* --service file: bytes the reads returned */
	_Atomic uint64_t nr_inflight_max;	/* the most requests one connection had in service */
	_Atomic int in_service;		/* requests accepted and not yet answered */
	_Atomic int nr_open;		/* connections open now */
	_Atomic bool logged_refused, logged_accept;
	/* What the model was granted (uring: ring flags, multishot or single-shot): the log and
	 * the counts' last line, so a test or a bench can tell which rung of a ladder ran. */
	char variant[128];
};

struct iom_server_model {
	const char *name;
	const char *desc;
	/* Can this kernel run the model? 0, or -errno with the reason in err ("unavailable"). */
	int (*probe)(struct iom_err *err);
	/* Serve until iom_server_stopping(). 0, or -errno with err set. */
	int (*run)(struct iom_server *srv, struct iom_err *err);
	/*
	 * Optional, NULL-ended: IOM_MASK values (core/mask.h) that put the model on each lower
	 * rung of its fallback ladders, as an older kernel would; the server tests run on each.
	 */
	const char *const *rungs;
};

/* Said once by the model, before iom_server_listening(): logged, and in the counts. */
void iom_server_set_variant(struct iom_server *srv, const char *variant);

/* servers.c: the table, the only place that names every server model. */
extern const struct iom_server_model *const iom_server_models[];
const struct iom_server_model *iom_server_model_find(const char *name);

/* The rpc workload's server starter, registered with iom_workload_set_server(). */
struct iom_wl_params;
int iom_server_serve_wl(const struct iom_wl_params *p, const cpu_set_t *cpus, int report_fd);
/* Listen, run model m until SIGTERM/SIGINT, write the counts. 0, or -errno with err set. */
int iom_server_serve(const struct iom_server_model *m, const struct iom_server_opts *opts,
		     struct iom_err *err);
/* The opts' defaults (caps above, a loop per CPU, report_fd -1). */
void iom_server_opts_init(struct iom_server_opts *o);
/*
 * "sleep:D", "cpu:D" (D whole us, or a duration with its unit: 2ms), "file:BS" (a size: 4K):
 * 0, or -EINVAL with a message.
 */
int iom_service_parse(const char *s, struct iom_server_opts *o, struct iom_err *err);

bool iom_server_stopping(void);
void iom_server_stop(void);	/* as SIGTERM does: every model's loop ends */
/* Serving thread i's listener (non-blocking, CLOEXEC; the caller closes it). */
int iom_server_listener(struct iom_server *srv, unsigned int i, struct iom_err *err);
/*
 * Every listener is bound: write the port (--port-file, the report fd) and log it. A model
 * calls it once, after its last iom_server_listener() and before it serves.
 */
int iom_server_listening(struct iom_server *srv, struct iom_err *err);
/* accept() failed with err: how long to stop accepting (0 = retry now), logged once. */
uint64_t iom_server_accept_failed(struct iom_server *srv, int err);
/* A connection accepted: false (and one log line, once) if past --max-conns: close it. */
bool iom_server_conn_open(struct iom_server *srv);
void iom_server_conn_closed(struct iom_server *srv);
void iom_server_log(struct iom_server *srv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

enum iom_admit {
	IOM_ADMIT_SERVE,	/* run the service, then reply */
	IOM_ADMIT_REPLY,	/* reply at once (dedup hit or no service), reply_flags set */
};
/*
 * A whole request frame, its header copied into *h: counted, deduplicated, held to --capacity
 * (BUSY). An async WAIT whose task is not done is served as a wait of h->service_us, set here
 * to the time until the store says done; every other async request is answered at once.
 */
enum iom_admit iom_server_admit(struct iom_server *srv, const unsigned char *frame,
				struct iom_rpc_hdr *h, uint16_t *reply_flags);
/* What request h's service is: --service's kind, or IOM_SERVICE_WAIT for an async WAIT. */
enum iom_service_kind iom_server_service_kind(const struct iom_server *srv,
					      const struct iom_rpc_hdr *h);
/* How long the service of request h takes, in ns (0 = none). */
uint64_t iom_server_service_ns(const struct iom_server *srv, const struct iom_rpc_hdr *h);
/* --service file:BS: where request h reads its block (seeded by its id). */
uint64_t iom_server_service_off(const struct iom_server *srv, const struct iom_rpc_hdr *h);
/* Run the service in this thread (blocking models, the pools' workers). */
void iom_server_service_run(struct iom_server *srv, const struct iom_rpc_hdr *h);
/* --service file: a read of the block returned res (counted when > 0). */
void iom_server_read_done(struct iom_server *srv, ssize_t res);
/* The event loops a model runs: --threads, or one per CPU the server may run on. */
unsigned int iom_server_loops(const struct iom_server *srv);
/* A request admitted with IOM_ADMIT_SERVE was answered (or its connection is gone). */
void iom_server_served(struct iom_server *srv);

/*
 * async.c: the async API's status store, one per server, shared by every model and thread.
 * SUBMIT starts the request's service there (a timed wait on the store's clock, or --service
 * cpu/file work on its workers) and is answered at once with the task id; STATUS reads the
 * state; a task read COMPLETED once is forgotten; unread ones go after --status-ttl-ms or when
 * the store is full. A connection's pending tasks are abandoned when it closes.
 */
struct iom_sconn;
int iom_async_init(struct iom_server *srv, struct iom_err *err);
void iom_async_free(struct iom_server *srv);
/* Answer async request (h, req) for connection c: the reply's body and its state flags. */
uint16_t iom_async_answer(struct iom_server *srv, struct iom_sconn *c, const struct iom_rpc_hdr *h,
			  const struct iom_rpc_async *req, struct iom_rpc_async *rep);
/* How long until task's state reads done, in us (0: now, or no such task). */
uint32_t iom_async_wait_us(struct iom_server *srv, uint64_t task);
/* Connection c is closing: its pending tasks are abandoned and freed. */
void iom_async_abandon(struct iom_async *a, struct iom_sconn *c);
void iom_async_write_counts(const struct iom_server *srv, FILE *f);

/*
 * loop.c: the event loop (per-thread epoll, edge-triggered, SO_REUSEPORT listeners) that the
 * epoll model runs on nr threads, with services timed by a timerfd heap; and that kernel_free
 * runs on one I/O thread with a pool: each request goes to the pool's workers and its reply
 * leaves when the pool hands it back.
 */
struct iom_loop_pool {
	int done_fd;	/* readable (an eventfd) when reap() has requests to give back */
	/* Take req (header h) for service: 0, or -EBUSY when full (the client gets BUSY). */
	int (*submit)(struct iom_loop_pool *p, void *req, const struct iom_rpc_hdr *h);
	/* After a batch of submits: wake the workers (once per loop turn). */
	void (*kick)(struct iom_loop_pool *p);
	/* The requests served since the last call: *n of them (the array is the pool's). */
	void **(*reap)(struct iom_loop_pool *p, unsigned int *n);
};
/* Serve on nr threads until iom_server_stopping(); pools: NULL or one per thread. */
int iom_loop_run(struct iom_server *srv, unsigned int nr, struct iom_loop_pool **pools,
		 struct iom_err *err);
/* A request the pool still holds when the loop is gone (its teardown frees it). */
void iom_loop_req_free(void *req);

/*
 * pool.c: a plain worker pool (a mutex-and-condvar queue, as libuv's and nginx's thread pools)
 * for an event loop's blocking services (epoll's --service file). NULL with err set on failure.
 */
struct iom_loop_pool *iom_pool_start(struct iom_server *srv, unsigned int nr_workers,
				     struct iom_err *err);
void iom_pool_stop(struct iom_loop_pool *p);

/*
 * One connection's buffers: the frame being read and the replies not yet written. Socket-free,
 * so a fuzzer drives it as a server does (tests/fuzz/fuzz_server_conn.c).
 */
struct iom_sconn {
	unsigned char *in;		/* bytes read, from the frame not yet cut */
	size_t in_len, in_cap, in_off;	/* in_off: frames cut but not yet dropped */
	unsigned char *out;		/* replies not yet written */
	size_t out_len, out_off, out_cap;
	size_t held;			/* bytes of this connection's requests in service */
	unsigned int in_service;	/* its requests in service */
	uint64_t frame_start_ns;	/* when the partial frame's first byte came (0 = none) */
	uint64_t last_ns;		/* last byte in or out: for idle reaping */
	bool eof;			/* the peer half-closed: answer, then close */
	bool held_back;			/* iom_sconn_room() said stop: the frame clock stops */
	struct iom_async *async;	/* the store its async tasks are in (or NULL) */
	struct iom_async_task *async_tasks;	/* its pending ones (the store's lock) */
	unsigned int async_pending;
};

/* Where to read into and how much; 0 = stop reading (caps reached), -ENOMEM. */
ssize_t iom_sconn_room(const struct iom_server *srv, struct iom_sconn *c, unsigned char **p);
/* n bytes arrived at the room: counted in. */
void iom_sconn_received(struct iom_sconn *c, size_t n, uint64_t now_ns);
/*
 * The next whole frame: 1 with the frame and its length (valid until the next call), 0 when none is whole
 * or the caps say wait, -EBADMSG (logged, counted) when the stream is bad.
 */
int iom_sconn_next(struct iom_server *srv, struct iom_sconn *c, const unsigned char **frame,
		   size_t *len);
/* The bytes read end inside a frame (or a bad one): a peer that stops here cut it short. */
bool iom_sconn_mid_frame(const struct iom_sconn *c);
/* Holding and releasing a request in service (counts it against the connection's caps). */
void iom_sconn_hold(struct iom_server *srv, struct iom_sconn *c, size_t len);
void iom_sconn_release(struct iom_sconn *c, size_t len);
/*
 * Queue the echo of frame (flags added) for writing. -ECONNABORTED when the request asked
 * for its connection to be dropped (--fault drop-conn), -ENOMEM.
 */
int iom_server_reply(struct iom_server *srv, struct iom_sconn *c, const unsigned char *frame,
		     size_t len, uint16_t flags);
static inline size_t iom_sconn_unsent(const struct iom_sconn *c)
{
	return c->out_len - c->out_off;
}
void iom_sconn_sent(struct iom_sconn *c, size_t n, uint64_t now_ns);
/* Nothing more will come and nothing is owed: the connection can close. */
static inline bool iom_sconn_finished(const struct iom_sconn *c)
{
	return c->eof && !c->in_service && !iom_sconn_unsent(c);
}
/*
 * The model stopped reading c for its own reasons (uring: its replies in a send it counts apart
 * from out): a frame begun is not timed out until iom_sconn_room() gives room again.
 */
void iom_sconn_hold_back(struct iom_sconn *c);
/*
 * Why the connection should close now (stalled frame, idle), or NULL. A frame is not timed out
 * while the server holds its reading back (the caps): the rest of it waits on the server.
 */
const char *iom_sconn_expired(const struct iom_server *srv, struct iom_sconn *c,
			      uint64_t now_ns);
void iom_sconn_free(struct iom_sconn *c);

#endif
