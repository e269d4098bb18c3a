/* SPDX-License-Identifier: MIT */
/*
 * Bare echo loops, one per mechanism: the least code that answers an rpc frame (core/rpc.h: the
 * reply is the request's bytes). calibrate loads each with one fixed client; what they reach is
 * the floor a server model is held to.
 */
#ifndef IOM_CALIBRATE_ECHO_H
#define IOM_CALIBRATE_ECHO_H

#include <stdint.h>

enum iom_echo_kind {
	IOM_ECHO_BLOCKING,	/* a thread per connection, blocking recv/send */
	IOM_ECHO_EPOLL,		/* one edge-triggered epoll loop */
	IOM_ECHO_URING,		/* one ring: multishot accept + recv, a buffer ring, batched sends */
	IOM_NR_ECHO,
};

struct iom_echo;
struct iom_err;

const char *iom_echo_name(enum iom_echo_kind k);
/* Listen on 127.0.0.1 (an ephemeral port) and serve; cpu >= 0 pins its threads there. */
int iom_echo_start(enum iom_echo_kind k, int cpu, struct iom_echo **out, struct iom_err *err);
uint16_t iom_echo_port(const struct iom_echo *e);
/* What the loop was granted (uring: the features it got), or "". */
const char *iom_echo_variant(const struct iom_echo *e);
/* Stop, join, close every connection: bytes echoed and the loop's CPU ns over its whole life. */
void iom_echo_stop(struct iom_echo *e, uint64_t *bytes, uint64_t *cpu_ns);

#endif
