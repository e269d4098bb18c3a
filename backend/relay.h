/* SPDX-License-Identifier: MIT */
/* iomodels relay: a delaying TCP relay (see relay.c). The servers are in server/. */
#ifndef IOM_RELAY_H
#define IOM_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

/*
 * Forward TCP from listen_at to `to`, holding every chunk delay_ns in each direction (a stand-in
 * for netem delay). Runs until SIGTERM/SIGINT.
 */
int iom_relay(const char *listen_at, const char *to, uint64_t delay_ns, bool quiet,
	      struct iom_err *err);

#endif
