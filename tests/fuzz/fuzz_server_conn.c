// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the servers' buffering (server/conn.c): the input is a script of what
 * a connection's peer and the server do, in any order — bytes arrive (read into the room the
 * reader offers), frames are cut and either answered at once or held in service, held ones
 * finish, the socket takes some of the replies, the peer half-closes. After every step the
 * caps must hold: the input buffer never past one frame plus the read room, the replies and
 * requests in service never past out_cap plus one frame, and every cut frame well formed.
 * Async frames (SUBMIT, STATUS, WAIT) reach the status store (server/async.c) through the
 * replies, so its caps and its abandoning at close are driven too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

#define FZ_OUT_CAP	4096u	/* small, so short inputs reach it */
#define FZ_MAX_FRAME	(sizeof(struct iom_rpc_hdr) + IOM_RPC_MAX_PAYLOAD)
#define FZ_MAX_HELD	64

struct fz_held {
	unsigned char *frame;
	size_t len;
};

/* The caps: one frame over them at most (a frame is cut while under them). */
static void fz_check(const struct iom_server *srv, const struct iom_sconn *c, size_t max_frame)
{
	if (c->in_cap > FZ_MAX_FRAME + 16384 || c->in_off > c->in_len || c->in_len > c->in_cap)
		abort();
	if (c->held + iom_sconn_unsent(c) > srv->opts.out_cap + max_frame)
		abort();
	if (c->in_service > srv->opts.max_inflight)
		abort();
	if (c->async_pending > srv->opts.max_pending_conn)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct iom_server srv;
	struct iom_sconn c = { 0 };
	struct fz_held held[FZ_MAX_HELD];
	unsigned int nr_held = 0;
	size_t pos = 0, max_frame = 0;

	iom_server_opts_init(&srv.opts);
	srv.opts.quiet = true;
	srv.opts.out_cap = FZ_OUT_CAP;
	srv.opts.max_inflight = 8;
	srv.opts.max_pending = 16;	/* small, so async frames reach the store's caps */
	srv.opts.max_pending_conn = 8;
	if (!srv.async && iom_async_init(&srv, &(struct iom_err){ "" }))
		abort();
	while (pos < size) {
		uint8_t op = data[pos++];
		size_t arg = pos < size ? data[pos++] : 0;
		const unsigned char *frame;
		unsigned char *room;
		size_t len;
		ssize_t n;
		int r;

		switch (op % 5) {
		case 0:	/* bytes arrive: up to arg * 16 of the input, into the room */
			n = iom_sconn_room(&srv, &c, &room);
			if (n <= 0)
				break;
			len = arg * 16 < (size_t)n ? arg * 16 : (size_t)n;
			len = len < size - pos ? len : size - pos;
			memcpy(room, data + pos, len);
			pos += len;
			iom_sconn_received(&c, len, pos);
			break;
		case 1:	/* cut a frame: answer now (even arg) or hold it in service */
			r = iom_sconn_next(&srv, &c, &frame, &len);
			if (r < 0)
				goto out;	/* bad stream: the connection is closed */
			if (!r)
				break;
			if (len < sizeof(struct iom_rpc_hdr) || len > FZ_MAX_FRAME)
				abort();
			max_frame = len > max_frame ? len : max_frame;
			if (arg % 2 == 0 || nr_held == FZ_MAX_HELD) {
				iom_server_reply(&srv, &c, frame, len, 0);
				break;
			}
			held[nr_held].frame = malloc(len);
			if (!held[nr_held].frame)
				goto out;
			memcpy(held[nr_held].frame, frame, len);
			held[nr_held].len = len;
			iom_sconn_hold(&srv, &c, len);
			nr_held++;
			break;
		case 2:	/* the oldest held request is served: its reply queued */
			if (!nr_held)
				break;
			iom_sconn_release(&c, held[0].len);
			iom_server_reply(&srv, &c, held[0].frame, held[0].len, 0);
			free(held[0].frame);
			memmove(held, held + 1, --nr_held * sizeof(held[0]));
			break;
		case 3:	/* the socket takes arg * 64 bytes of replies */
			len = arg * 64 < iom_sconn_unsent(&c) ? arg * 64 : iom_sconn_unsent(&c);
			iom_sconn_sent(&c, len, pos);
			break;
		case 4:	/* the peer half-closes (cut short or not); a timeout check */
			if (arg == 0)
				c.eof = true;
			(void)iom_sconn_mid_frame(&c);
			(void)iom_sconn_expired(&srv, &c, pos + arg);
			break;
		}
		fz_check(&srv, &c, max_frame);
	}
out:
	for (unsigned int i = 0; i < nr_held; i++)
		free(held[i].frame);
	iom_sconn_free(&c);
	if (c.async_pending || c.async_tasks)
		abort();	/* a closed connection left tasks in the store */
	return 0;
}
