// SPDX-License-Identifier: MIT
#include <errno.h>
#include <limits.h>
#include <stdint.h>

#include "core/epwait.h"
#include "core/mask.h"

bool iom_epoll_pwait2_ok(int epfd)
{
	struct epoll_event ev;
	struct timespec zero = { 0 };

	if (iom_masked("pwait2"))
		return false;
	return epoll_pwait2(epfd, &ev, 1, &zero, NULL) >= 0 || errno != ENOSYS;
}

int iom_epoll_wait_ns(int epfd, struct epoll_event *evs, int n, const struct timespec *ts,
		      bool pwait2)
{
	uint64_t ms;

	if (pwait2)
		return epoll_pwait2(epfd, evs, n, ts, NULL);
	if (!ts)
		return epoll_pwait(epfd, evs, n, -1, NULL);
	/* Up, never down: a timeout of 0.3 ms that waited 0 ms would wake the loop for nothing. */
	ms = (uint64_t)ts->tv_sec * 1000 + ((uint64_t)ts->tv_nsec + 999999) / 1000000;
	return epoll_pwait(epfd, evs, n, ms > INT_MAX ? INT_MAX : (int)ms, NULL);
}
