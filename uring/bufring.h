/* SPDX-License-Identifier: MIT */
/*
 * A provided buffer ring (IORING_REGISTER_PBUF_RING, kernel 5.19+): nr buffers of size bytes
 * the kernel picks from for a recv with IOSQE_BUFFER_SELECT. liburing 2.3 has no
 * io_uring_setup_buf_ring: these are the few lines it wraps.
 */
#ifndef IOM_URING_BUFRING_H
#define IOM_URING_BUFRING_H

#include <liburing.h>

struct ur_bufring {
	struct io_uring_buf_ring *br;
	char *bufs;
	unsigned int nr, size, mask;	/* nr: a power of two */
	unsigned short bgid;
	unsigned int nr_returned;	/* buffers added since the last publish */
};

/* 0, or -errno (-EINVAL: the kernel has no buffer rings). */
int ur_bufring_setup(struct io_uring *ring, struct ur_bufring *b, unsigned short bgid,
		     unsigned int nr, unsigned int size);
void ur_bufring_free(struct io_uring *ring, struct ur_bufring *b);

static inline char *ur_bufring_buf(const struct ur_bufring *b, unsigned int bid)
{
	return b->bufs + (size_t)bid * b->size;
}

/* Give buffer bid back; the kernel sees it at the next ur_bufring_publish. */
static inline void ur_bufring_return(struct ur_bufring *b, unsigned int bid)
{
	io_uring_buf_ring_add(b->br, ur_bufring_buf(b, bid), b->size, (unsigned short)bid,
			      (int)b->mask, (int)b->nr_returned++);
}

static inline void ur_bufring_publish(struct ur_bufring *b)
{
	if (b->nr_returned)
		io_uring_buf_ring_advance(b->br, (int)b->nr_returned);
	b->nr_returned = 0;
}

#endif
