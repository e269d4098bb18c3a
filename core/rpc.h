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
