// SPDX-License-Identifier: MIT
/* The rpc wire format and the client's side of the connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "rpc.h"

int iom_rpc_check(const struct iom_rpc_hdr *h, char *why, size_t whylen)
{
	if (h->magic != IOM_RPC_MAGIC)
		snprintf(why, whylen, "bad magic 0x%08x", h->magic);
	else if (h->version != IOM_RPC_VERSION)
		snprintf(why, whylen, "unknown version %u", h->version);
	else if (h->len > IOM_RPC_MAX_PAYLOAD)
		snprintf(why, whylen, "payload of %u bytes over the %u cap", h->len,
			 IOM_RPC_MAX_PAYLOAD);
	else if (h->service_us > 60u * 1000000u)
		snprintf(why, whylen, "service time %u us over a minute", h->service_us);
	else if (iom_rpc_type(h->flags) >= IOM_RPC_NR_TYPES)
		snprintf(why, whylen, "unknown request type %u", iom_rpc_type(h->flags));
	else if (iom_rpc_type(h->flags) != IOM_RPC_ECHO && h->len != sizeof(struct iom_rpc_async))
		snprintf(why, whylen, "an async request of %u bytes, not %zu", h->len,
			 sizeof(struct iom_rpc_async));
	else
		return 0;
	return -EBADMSG;
}

int iom_rpc_frame_need(const void *buf, size_t have, size_t *need, char *why, size_t whylen)
{
	struct iom_rpc_hdr h;

	*need = sizeof(h);
	if (have < sizeof(h))
		return 0;
	memcpy(&h, buf, sizeof(h));
	if (iom_rpc_check(&h, why, whylen))
		return -EBADMSG;
	*need = sizeof(h) + h.len;
	return 0;
}

size_t iom_rpc_fill(void *buf, uint64_t id, uint32_t service_us, uint32_t payload, uint16_t flags)
{
	struct iom_rpc_hdr h = {
		.magic = IOM_RPC_MAGIC, .version = IOM_RPC_VERSION, .flags = flags, .id = id,
		.service_us = service_us, .len = payload,
	};
	unsigned char *p = (unsigned char *)buf + sizeof(h);

	memcpy(buf, &h, sizeof(h));
	for (uint32_t i = 0; i < payload; i++)
		p[i] = (unsigned char)(id + i);
	return sizeof(h) + payload;
}

size_t iom_rpc_fill_async(void *buf, uint64_t id, unsigned int type, uint64_t task)
{
	struct iom_rpc_async body = { .task = task };
	size_t len = iom_rpc_fill(buf, id, 0, sizeof(body),
				  (uint16_t)(type << IOM_RPC_TYPE_SHIFT));

	memcpy((unsigned char *)buf + sizeof(struct iom_rpc_hdr), &body, sizeof(body));
	return len;
}

bool iom_rpc_reply_ok(const void *buf, uint64_t id, uint32_t payload)
{
	struct iom_rpc_hdr h;
	const unsigned char *p = (const unsigned char *)buf + sizeof(h);

	memcpy(&h, buf, sizeof(h));
	if (h.magic != IOM_RPC_MAGIC || h.id != id || h.len != payload)
		return false;
	for (uint32_t i = 0; i < payload; i++)
		if (p[i] != (unsigned char)(id + i))
			return false;
	return true;
}

int iom_rpc_addr_parse(struct iom_rpc_addr *a, const char *hostport, struct iom_err *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char host[128];
	const char *colon = strrchr(hostport, ':');
	int ret;

	memset(a, 0, sizeof(*a));
	if (!colon || colon == hostport || !colon[1] || (size_t)(colon - hostport) >= sizeof(host))
		return iom_err_msg(err, "want HOST:PORT (got '%s')", hostport);
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	/* [::1]:port */
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	ret = getaddrinfo(host, colon + 1, &hints, &res);
	if (ret)
		return iom_err_msg(err, "%s: %s", hostport, gai_strerror(ret));
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	freeaddrinfo(res);
	snprintf(a->text, sizeof(a->text), "%s", hostport);
	return 0;
}

int iom_rpc_addr_unix(struct iom_rpc_addr *a, const char *path, struct iom_err *err)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;

	memset(a, 0, sizeof(*a));
	if (!*path || strlen(path) >= sizeof(un->sun_path))
		return iom_err_msg(err, "unix socket path empty or too long: '%s'", path);
	un->sun_family = AF_UNIX;
	strcpy(un->sun_path, path);
	a->len = sizeof(*un);
	snprintf(a->text, sizeof(a->text), "unix:%s", path);
	return 0;
}

int iom_rpc_reconnect(const struct iom_rpc_addr *a, int *fd)
{
	struct iom_err err = { "" };
	int nfd = iom_rpc_connect(a, &err);

	if (nfd < 0)
		return nfd;
	close(*fd);
	*fd = nfd;
	return 0;
}

int iom_rpc_connect(const struct iom_rpc_addr *a, struct iom_err *err)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return iom_err_set(err, -errno, "rpc: socket");
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len)) {
		int e = -errno;

		close(fd);
		return iom_err_set(err, e, "rpc: connect %s", a->text);
	}
	/* Every model sends each request at once: no Nagle delay for any of them. */
	if (a->ss.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}
