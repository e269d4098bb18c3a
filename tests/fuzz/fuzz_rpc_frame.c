// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the backend's frame reader: the input is a byte stream cut into frames
 * exactly as serve.c's reader does it (iom_rpc_frame_need, then the bytes it asks for). The
 * reader must never ask for more than header + IOM_RPC_MAX_PAYLOAD, never read past the
 * input, and either accept a frame or refuse it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		size_t need, have = size - off;
		char why[96];

		if (iom_rpc_frame_need(data + off, have < sizeof(struct iom_rpc_hdr) ? have :
					sizeof(struct iom_rpc_hdr), &need, why, sizeof(why)))
			return 0;	/* refused: the connection would be closed */
		if (need > sizeof(struct iom_rpc_hdr) + IOM_RPC_MAX_PAYLOAD)
			abort();	/* a frame over the cap slipped through */
		if (have < need)
			return 0;	/* truncated: the reader waits, then times out */
		off += need;
	}
	return 0;
}
