// SPDX-License-Identifier: MIT
/*
 * iomodels relay: a TCP forwarder that holds every chunk it reads for a fixed delay before
 * passing it on, in both directions. It stands in for `tc netem delay` on kernels without
 * netem (this project's CI kernel has none): scripts/netns puts it in front of the backend, so
 * a round trip gains twice the delay. With one fixed delay, chunks fall due in the order they
 * were read, so one FIFO and one timerfd serve every connection; TCP order is kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "backend/relay.h"
#include "core/model.h"
#include "core/rpc.h"

struct rl_pair {
	int fd[2];		/* [0] the client, [1] the upstream */
	unsigned int refs;	/* chunks still queued for it */
	bool closed;
	struct rl_pair *next_dead;
};

struct rl_chunk {
	uint64_t due_ns;
	struct rl_pair *pair;
	int to;			/* index into pair->fd */
	size_t len;
	struct rl_chunk *next;
	unsigned char data[];
};

static volatile sig_atomic_t rl_stop;

static void rl_on_signal(int sig)
{
	(void)sig;
	rl_stop = 1;
}

/* Write all of it; a full socket buffer waits (bounded) rather than reorders. */
static int rl_write_all(int fd, const unsigned char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			if (poll(&pfd, 1, 5000) <= 0)
				return -1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Closed pairs are freed only between epoll batches, once no chunk refers to them: the batch
 * being handled may still hold an event for the other side of the pair.
 */
static struct rl_pair *rl_dead;

static void rl_close(int epfd, struct rl_pair *pr)
{
	if (pr->closed)
		return;
	for (int i = 0; i < 2; i++) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, pr->fd[i], NULL);
		close(pr->fd[i]);
	}
	pr->closed = true;
	pr->next_dead = rl_dead;
	rl_dead = pr;
}

static void rl_reap_dead(void)
{
	struct rl_pair **pp = &rl_dead;

	while (*pp) {
		struct rl_pair *pr = *pp;

		if (pr->refs) {
			pp = &pr->next_dead;
			continue;
		}
		*pp = pr->next_dead;
		free(pr);
	}
}

int iom_relay(const char *listen_at, const char *to, uint64_t delay_ns, bool quiet,
	      struct iom_err *err)
{
	struct iom_rpc_addr la, ua;
	struct rl_chunk *head = NULL, **tail = &head;
	struct epoll_event ev, evs[64];
	struct sigaction sa = { .sa_handler = rl_on_signal };
	int lfd, epfd, tfd, one = 1, ret;
	uint64_t armed = 0;

	if ((ret = iom_rpc_addr_parse(&la, listen_at, err)) ||
	    (ret = iom_rpc_addr_parse(&ua, to, err)))
		return ret;
	lfd = socket(la.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return iom_err_set(err, -errno, "relay: socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&la.ss, la.len) || listen(lfd, 1024))
		return iom_err_set(err, -errno, "relay: bind/listen %s", listen_at);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (epfd < 0 || tfd < 0)
		return iom_err_set(err, -errno, "relay: epoll/timerfd");
	prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	ev.events = EPOLLIN;
	ev.data.ptr = &lfd;
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.ptr = &tfd;
	epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev);
	if (!quiet)
		fprintf(stderr, "relay: %s -> %s, %.0f us each way\n", listen_at, to,
			(double)delay_ns / 1e3);

	while (!rl_stop) {
		int n = epoll_wait(epfd, evs, 64, 200);

		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &lfd) {
				int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				struct iom_err e = { "" };
				struct rl_pair *pr;
				int ufd;

				if (cfd < 0)
					continue;
				ufd = iom_rpc_connect(&ua, &e);
				pr = ufd >= 0 ? calloc(1, sizeof(*pr)) : NULL;
				if (!pr) {
					if (!quiet)
						fprintf(stderr, "relay: %s\n", e.msg);
					close(cfd);
					if (ufd >= 0)
						close(ufd);
					continue;
				}
				setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				fcntl(ufd, F_SETFL, fcntl(ufd, F_GETFL) | O_NONBLOCK);
				pr->fd[0] = cfd;
				pr->fd[1] = ufd;
				for (int k = 0; k < 2; k++) {
					ev.events = EPOLLIN;
					ev.data.u64 = (uint64_t)(uintptr_t)pr | (uint64_t)k;
					epoll_ctl(epfd, EPOLL_CTL_ADD, pr->fd[k], &ev);
				}
				continue;
			}
			if (p == &tfd) {
				uint64_t now = iom_now_ns(), ticks;

				(void)!read(tfd, &ticks, sizeof(ticks));
				armed = 0;
				while (head && head->due_ns <= now) {
					struct rl_chunk *c = head;

					head = c->next;
					if (!head)
						tail = &head;
					c->pair->refs--;
					if (!c->pair->closed &&
					    rl_write_all(c->pair->fd[c->to], c->data, c->len))
						rl_close(epfd, c->pair);
					free(c);
				}
			} else {
				uint64_t u = evs[i].data.u64;
				struct rl_pair *pr = (struct rl_pair *)(uintptr_t)(u & ~1ull);
				int from = (int)(u & 1);
				unsigned char buf[65536];
				struct rl_chunk *c;
				ssize_t got;

				if (pr->closed)
					continue;
				got = read(pr->fd[from], buf, sizeof(buf));
				if (got <= 0) {
					if (got < 0 && (errno == EAGAIN || errno == EINTR))
						continue;
					rl_close(epfd, pr);
					continue;
				}
				c = malloc(sizeof(*c) + (size_t)got);
				if (!c)
					continue;
				c->due_ns = iom_now_ns() + delay_ns;
				c->pair = pr;
				c->to = !from;
				c->len = (size_t)got;
				c->next = NULL;
				memcpy(c->data, buf, (size_t)got);
				pr->refs++;
				*tail = c;
				tail = &c->next;
			}
		}
		rl_reap_dead();
		if (head && head->due_ns != armed) {
			struct itimerspec its = { .it_value = iom_ts(head->due_ns) };

			armed = head->due_ns;
			timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
		}
	}
	close(lfd);
	close(epfd);
	close(tfd);
	return 0;
}
