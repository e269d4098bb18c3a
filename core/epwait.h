/* SPDX-License-Identifier: MIT */
/*
 * An epoll wait with a nanosecond timeout: epoll_pwait2 (5.11), or on an older kernel (ENOSYS)
 * or under IOM_MASK=pwait2, epoll_pwait with the timeout rounded UP to whole milliseconds, so
 * a wait never ends before its time (a timer loop woken early would only spin).
 */
#ifndef IOM_EPWAIT_H
#define IOM_EPWAIT_H

#include <stdbool.h>
#include <sys/epoll.h>
#include <time.h>

/*
 * Whether epfd's waits may use epoll_pwait2: asked once, on a new epfd with nothing registered
 * yet (the zero-timeout call it makes would take an edge-triggered event).
 */
bool iom_epoll_pwait2_ok(int epfd);
/* epoll_pwait2, or epoll_pwait with ts rounded up to ms (!pwait2); ts NULL waits forever. */
int iom_epoll_wait_ns(int epfd, struct epoll_event *evs, int n, const struct timespec *ts,
		      bool pwait2);

#endif
