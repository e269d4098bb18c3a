// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "uring/bufring.h"

int ur_bufring_setup(struct io_uring *ring, struct ur_bufring *b, unsigned short bgid,
		     unsigned int nr, unsigned int size)
{
	struct io_uring_buf_reg reg = { 0 };
	size_t ring_bytes = (size_t)nr * sizeof(struct io_uring_buf);
	int ret;

	memset(b, 0, sizeof(*b));
	if (!nr || (nr & (nr - 1)) || nr > 32768)
		return -EINVAL;
	/* The kernel wants the ring page-aligned. */
	b->br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->br == MAP_FAILED) {
		b->br = NULL;
		return -ENOMEM;
	}
	b->bufs = malloc((size_t)nr * size);
	if (!b->bufs) {
		munmap(b->br, ring_bytes);
		b->br = NULL;
		return -ENOMEM;
	}
	reg.ring_addr = (unsigned long)b->br;
	reg.ring_entries = nr;
	reg.bgid = bgid;
	ret = io_uring_register_buf_ring(ring, &reg, 0);
	if (ret) {
		free(b->bufs);
		munmap(b->br, ring_bytes);
		memset(b, 0, sizeof(*b));
		return ret;
	}
	b->nr = nr;
	b->size = size;
	b->mask = (unsigned int)io_uring_buf_ring_mask(nr);
	b->bgid = bgid;
	io_uring_buf_ring_init(b->br);
	for (unsigned int i = 0; i < nr; i++)
		ur_bufring_return(b, i);
	ur_bufring_publish(b);
	return 0;
}

void ur_bufring_free(struct io_uring *ring, struct ur_bufring *b)
{
	if (!b->br)
		return;
	io_uring_unregister_buf_ring(ring, b->bgid);
	munmap(b->br, (size_t)b->nr * sizeof(struct io_uring_buf));
	free(b->bufs);
	memset(b, 0, sizeof(*b));
}
