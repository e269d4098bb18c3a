// SPDX-License-Identifier: MIT
/*
 * One connection's buffering, shared by the event-driven servers: the frame reader and the
 * reply queue, with the caps that keep a connection's memory bounded whatever its client does.
 * A client that pipelines and never reads fills its reply queue; past out_cap (or
 * max_inflight requests in service) the server stops cutting frames and stops reading, so the
 * kernel's socket buffers and TCP flow control hold the rest, not our heap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

/* Room for a frame's header, or its rest, plus this much: a few frames per read. */
#define SC_READ_ROOM	16384

static bool sc_over_caps(const struct iom_server *srv, const struct iom_sconn *c)
{
	return c->in_service >= srv->opts.max_inflight ||
	       c->held + iom_sconn_unsent(c) >= srv->opts.out_cap;
}

/*
 * The server stops reading a connection (its caps, or a frame's worth read ahead): the rest of
 * a frame begun waits in the socket on us, not on the peer, so its frame timeout must not run
 * meanwhile. A pipelining client that hit --out-cap with half a frame read was closed as "frame
 * not complete in time" once it had waited 2 s for the server (uring's test_out_cap, 1 run in 8).
 */
void iom_sconn_hold_back(struct iom_sconn *c)
{
	c->held_back = true;
}

static ssize_t sc_hold_back(struct iom_sconn *c)
{
	iom_sconn_hold_back(c);
	return 0;
}

/* Reading again: a frame begun before the pause gets its full timeout from the last byte moved. */
static void sc_read_on(struct iom_sconn *c)
{
	if (!c->held_back)
		return;
	c->held_back = false;
	if (c->frame_start_ns && c->frame_start_ns < c->last_ns)
		c->frame_start_ns = c->last_ns;
}

ssize_t iom_sconn_room(const struct iom_server *srv, struct iom_sconn *c, unsigned char **p)
{
	size_t need = sizeof(struct iom_rpc_hdr), want;
	char why[96];

	if (c->eof)
		return 0;
	if (sc_over_caps(srv, c))
		return sc_hold_back(c);
	if (c->in_off) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	/* A bad header reads no further: iom_sconn_next() refuses it. */
	if (iom_rpc_frame_need(c->in, c->in_len, &need, why, sizeof(why)))
		need = c->in_len;
	/* Never more than one frame's worth ahead: a flood stays in the socket. */
	if (c->in_len >= need + SC_READ_ROOM)
		return sc_hold_back(c);
	sc_read_on(c);
	want = need + SC_READ_ROOM;
	if (c->in_cap < want) {
		unsigned char *b = realloc(c->in, want);

		if (!b)
			return -ENOMEM;
		c->in = b;
		c->in_cap = want;
	}
	*p = c->in + c->in_len;
	return (ssize_t)(c->in_cap - c->in_len);
}

void iom_sconn_received(struct iom_sconn *c, size_t n, uint64_t now_ns)
{
	if (c->in_len == c->in_off && n)
		c->frame_start_ns = now_ns;
	c->in_len += n;
	c->last_ns = now_ns;
}

int iom_sconn_next(struct iom_server *srv, struct iom_sconn *c, const unsigned char **frame,
		   size_t *len)
{
	size_t have = c->in_len - c->in_off, need;
	char why[96];

	if (!have)
		return 0;	/* nothing read yet: c->in may be NULL, and NULL + 0 is undefined */
	if (iom_rpc_frame_need(c->in + c->in_off, have, &need, why, sizeof(why))) {
		atomic_fetch_add(&srv->nr_bad, 1);
		iom_server_log(srv, "closing a connection: %s", why);
		return -EBADMSG;
	}
	if (have < need || sc_over_caps(srv, c))
		return 0;
	*frame = c->in + c->in_off;
	*len = need;
	c->in_off += need;
	/* The next frame's clock starts when its bytes are already here: now. */
	c->frame_start_ns = c->in_len > c->in_off ? c->last_ns : 0;
	return 1;
}

bool iom_sconn_mid_frame(const struct iom_sconn *c)
{
	size_t off = c->in_off, need;
	char why[96];

	/* Whole frames may wait here for the caps: only the last one can be cut short. */
	while (off < c->in_len) {
		if (iom_rpc_frame_need(c->in + off, c->in_len - off, &need, why, sizeof(why)) ||
		    c->in_len - off < need)
			return true;
		off += need;
	}
	return false;
}

void iom_sconn_hold(struct iom_server *srv, struct iom_sconn *c, size_t len)
{
	uint64_t most = atomic_load_explicit(&srv->nr_inflight_max, memory_order_relaxed);

	c->in_service++;
	c->held += len;
	/* The high-water mark the stats report: what shows --max-inflight held. */
	while (c->in_service > most &&
	       !atomic_compare_exchange_weak_explicit(&srv->nr_inflight_max, &most, c->in_service,
						      memory_order_relaxed, memory_order_relaxed))
		;
}

void iom_sconn_release(struct iom_sconn *c, size_t len)
{
	c->in_service--;
	c->held -= len;
}

/*
 * An async request's answer is the store's (SUBMIT is submitted here, at its answer): the
 * state in the flags, {task, aux} for the body; the frame's length was checked on the way in.
 */
static void sc_async_reply(struct iom_server *srv, struct iom_sconn *c,
			   const unsigned char *frame, unsigned char *out)
{
	struct iom_rpc_async req, rep;
	struct iom_rpc_hdr h;

	memcpy(&h, out, sizeof(h));
	memcpy(&req, frame + sizeof(h), sizeof(req));
	h.flags = (uint16_t)(h.flags & ~(IOM_RPC_STATE_MASK | IOM_RPC_F_BUSY));
	h.flags |= iom_async_answer(srv, c, &h, &req, &rep);
	memcpy(out, &h, sizeof(h));
	memcpy(out + sizeof(h), &rep, sizeof(rep));
}

int iom_server_reply(struct iom_server *srv, struct iom_sconn *c, const unsigned char *frame,
		     size_t len, uint16_t flags)
{
	struct iom_rpc_hdr h;

	/*
	 * --fault drop-conn: the request asked for its connection to be dropped where the answer
	 * would go (its work done, as a server that dies before replying): the caller closes it.
	 */
	memcpy(&h, frame, sizeof(h));
	if (h.flags & IOM_RPC_F_DROP) {
		atomic_fetch_add_explicit(&srv->nr_dropped, 1, memory_order_relaxed);
		return -ECONNABORTED;
	}
	if (c->out_off && c->out_off == c->out_len)
		c->out_len = c->out_off = 0;
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		unsigned char *p;

		/* Slide the written part out before growing: the queue stays near the cap. */
		if (c->out_off) {
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		while (cap < c->out_len + len)
			cap *= 2;
		if (cap > c->out_cap) {
			p = realloc(c->out, cap);
			if (!p)
				return -ENOMEM;
			c->out = p;
			c->out_cap = cap;
		}
	}
	h.flags |= flags;
	memcpy(c->out + c->out_len, &h, sizeof(h));
	memcpy(c->out + c->out_len + sizeof(h), frame + sizeof(h), len - sizeof(h));
	if (iom_rpc_type(h.flags) != IOM_RPC_ECHO)
		sc_async_reply(srv, c, frame, c->out + c->out_len);
	c->out_len += len;
	return 0;
}

void iom_sconn_sent(struct iom_sconn *c, size_t n, uint64_t now_ns)
{
	c->out_off += n;
	c->last_ns = now_ns;
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
}

const char *iom_sconn_expired(const struct iom_server *srv, struct iom_sconn *c,
			      uint64_t now_ns)
{
	uint64_t frame_ns = srv->opts.frame_timeout_ms * 1000000ull;
	uint64_t idle_ns = srv->opts.idle_timeout_ms * 1000000ull;

	size_t have = c->in_len - c->in_off, need;
	char why[96];

	/* Over the caps, a model stops reading even before it asks iom_sconn_room() again. */
	if (sc_over_caps(srv, c))
		sc_hold_back(c);
	if (c->frame_start_ns && have && !c->held_back && now_ns - c->frame_start_ns > frame_ns &&
	    !iom_rpc_frame_need(c->in + c->in_off, have, &need, why, sizeof(why)) && have < need)
		return "frame not complete in time";
	/* Silent both ways (a client that never reads its replies too), nothing in service. */
	if (idle_ns && !c->in_service && now_ns - c->last_ns > idle_ns)
		return "idle";
	return NULL;
}

void iom_sconn_free(struct iom_sconn *c)
{
	iom_async_abandon(c->async, c);
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	c->in_len = c->in_cap = c->in_off = 0;
	c->out_len = c->out_off = c->out_cap = 0;
}
