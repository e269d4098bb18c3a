/* SPDX-License-Identifier: MIT */
/*
 * IOM_MASK=feature,feature...: run as on a kernel without those features. Each model asks at
 * probe and setup time, and takes its real fallback path (the one an older kernel makes it
 * take), so every rung of a fallback ladder can be tested on a new kernel; `variant` says
 * which rung ran. Features: defer_taskrun, coop_taskrun, single_issuer, regring, bufring,
 * multishot, direct (uring), pwait2 (epoll_pwait2: epoll and the epoll server loop),
 * cachestat, bpf, cqe_skip (uring rpc's send posts its success's CQE, as before 5.17), tsc
 * (task stamps by clock_gettime, core/clock.h).
 */
#ifndef IOM_MASK_H
#define IOM_MASK_H

#include <stdbool.h>

/* Whether IOM_MASK names feature (read each time: a test may set it between cells). */
bool iom_masked(const char *feature);

#endif
