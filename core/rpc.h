/* SPDX-License-Identifier: MIT */
/*
 * The rpc workload's wire format: a fixed 24-byte header, then the payload. The backend's reply
 * echoes header and payload, so with service time 0 any plain echo server answers correctly.
 * Fields are little-endian (this project runs on x86_64 and arm64 hosts alike).
 */
#ifndef IOM_RPC_H
#define IOM_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>

#include "err.h"

#define IOM_RPC_MAGIC		0x524d4f49u	/* "IOMR" on the wire */
#define IOM_RPC_VERSION		1
#define IOM_RPC_F_IDEMPOTENT	(1u << 0)	/* the request id is an idempotency key */
#define IOM_RPC_F_BUSY		(1u << 1)	/* reply: the backend refused (its 429) */
#define IOM_RPC_F_DROP		(1u << 2)	/* --fault drop-conn: do the work, then drop the
						 * connection in place of the answer */
#define IOM_RPC_MAX_PAYLOAD	(1u << 20)	/* the backend never allocates more per frame */

/*
 * The seed's async API (docs/async-api.md): a request's type in flags bits 8-11, a reply's task
 * state in bits 12-14. ECHO (0) is every older client's request. SUBMIT, STATUS and WAIT carry
 * a 16-byte body, struct iom_rpc_async, and their reply has the request's length, so a client
 * that reads len bytes back works unchanged.
 */
#define IOM_RPC_TYPE_SHIFT	8
#define IOM_RPC_TYPE_MASK	(0xfu << IOM_RPC_TYPE_SHIFT)
#define IOM_RPC_STATE_SHIFT	12
#define IOM_RPC_STATE_MASK	(0x7u << IOM_RPC_STATE_SHIFT)

enum iom_rpc_type {
	IOM_RPC_ECHO,		/* the echo after the service (the sync API) */
	IOM_RPC_SUBMIT,		/* start the service, answer at once with the task id */
	IOM_RPC_STATUS,		/* the task's state now */
	IOM_RPC_WAIT,		/* the task's state once it is done (a long poll) */
	IOM_RPC_NR_TYPES,
};

/* A reply's task state: the task states of core/task.h a client can see, and UNKNOWN. */
enum iom_rpc_state {
	IOM_RPC_ST_UNKNOWN,	/* no such task: never given, already read, or evicted */
	IOM_RPC_ST_SCHEDULED,	/* waiting for a worker */
	IOM_RPC_ST_RUNNING,
	IOM_RPC_ST_COMPLETED,	/* done; this answer is its one read: the id is forgotten */
	IOM_RPC_ST_FAILED,
};

struct iom_rpc_async {
	uint64_t task;		/* request: the task asked about; reply: the task (SUBMIT: new) */
	uint64_t aux;		/* reply, COMPLETED: microseconds from done to this answer */
} __attribute__((packed));

static inline unsigned int iom_rpc_type(uint16_t flags)
{
	return (flags & IOM_RPC_TYPE_MASK) >> IOM_RPC_TYPE_SHIFT;
}

static inline unsigned int iom_rpc_state(uint16_t flags)
{
	return (flags & IOM_RPC_STATE_MASK) >> IOM_RPC_STATE_SHIFT;
}

struct iom_rpc_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t flags;
	uint64_t id;
	uint32_t service_us;
	uint32_t len;		/* payload bytes after the header */
} __attribute__((packed));

_Static_assert(sizeof(struct iom_rpc_hdr) == 24, "the header is 24 bytes on the wire");

/* Check a received header: 0, or -EBADMSG with the reason in why (for a one-line log). */
int iom_rpc_check(const struct iom_rpc_hdr *h, char *why, size_t whylen);

/*
 * A stream reader's one question: with `have` bytes of a frame in buf, how many bytes does the
 * whole frame take? *need is the header size until the header is in, then header + payload.
 * 0, or -EBADMSG (reason in why) as soon as the header is known bad: the caller never
 * allocates what a bad frame claims.
 */
int iom_rpc_frame_need(const void *buf, size_t have, size_t *need, char *why, size_t whylen);

/* A request in buf (header + payload filled with a pattern of the id); returns its length. */
size_t iom_rpc_fill(void *buf, uint64_t id, uint32_t service_us, uint32_t payload, uint16_t flags);

/* An async request (type, task) in buf: header + struct iom_rpc_async; returns its length. */
size_t iom_rpc_fill_async(void *buf, uint64_t id, unsigned int type, uint64_t task);

/* A reply in buf is the echo of request id with payload bytes: true if it is. */
bool iom_rpc_reply_ok(const void *buf, uint64_t id, uint32_t payload);

/*
 * The task's result from a whole reply of got bytes: a reply flagged BUSY (the backend over its
 * capacity, this protocol's 429) is a failure, -EBUSY, for the retry policy to act on.
 */
static inline int64_t iom_rpc_result(const void *reply, int64_t got, uint32_t len)
{
	struct iom_rpc_hdr h;

	if (got != (int64_t)len || got < (int64_t)sizeof(h))
		return got;
	__builtin_memcpy(&h, reply, sizeof(h));
	return h.flags & IOM_RPC_F_BUSY ? -EBUSY : got;
}

/* Where the backend is: "HOST:PORT" (TCP) or a Unix socket path. */
struct iom_rpc_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[128];
};

int iom_rpc_addr_parse(struct iom_rpc_addr *a, const char *hostport, struct iom_err *err);
int iom_rpc_addr_unix(struct iom_rpc_addr *a, const char *path, struct iom_err *err);
/* A connected, blocking socket with TCP_NODELAY; -errno on failure. */
int iom_rpc_connect(const struct iom_rpc_addr *a, struct iom_err *err);
/*
 * Did a blocking call's result (bytes, or -errno from send/recv) leave the connection unusable?
 * An error other than an interrupt, or a reply cut short because the peer closed. A real
 * client's pool drops such a connection; without that every later request on it fails too.
 */
static inline bool iom_rpc_conn_broken(int64_t res, uint32_t len)
{
	if (res < 0)
		return res != -EINTR && res != -EAGAIN && res != -ETIME && res != -ECANCELED &&
		       res != -EBUSY;
	return res < (int64_t)len;
}
/*
 * Replace *fd by a fresh connection: 0, or -errno and *fd untouched when the backend cannot be
 * reached (the next task then fails and says why).
 */
int iom_rpc_reconnect(const struct iom_rpc_addr *a, int *fd);

#endif
