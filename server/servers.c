// SPDX-License-Identifier: MIT
/* The table of server models: the only place that names every one. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "core/workload.h"
#include "server/server.h"

extern const struct iom_server_model iom_server_threads;
extern const struct iom_server_model iom_server_epoll;
extern const struct iom_server_model iom_server_kernel_free;

/* A model whose server half is not written yet: listed, probed, and says so. */
static int unavailable_probe(struct iom_err *err)
{
	return iom_err_set(err, -ENOSYS, "unavailable: this server model is not built yet");
}

static int unavailable_run(struct iom_server *srv, struct iom_err *err)
{
	return unavailable_probe(err);
}

/* uring/server.c replaces this entry with its own (extern const ... iom_server_uring). */
static const struct iom_server_model iom_server_uring_missing = {
	.name = "uring",
	.desc = "io_uring (unavailable: not built yet)",
	.probe = unavailable_probe,
	.run = unavailable_run,
};

const struct iom_server_model *const iom_server_models[] = {
	&iom_server_threads,
	&iom_server_epoll,
	&iom_server_uring_missing,
	&iom_server_kernel_free,
	NULL,
};

const struct iom_server_model *iom_server_model_find(const char *name)
{
	for (size_t i = 0; iom_server_models[i]; i++)
		if (!strcmp(iom_server_models[i]->name, name))
			return iom_server_models[i];
	return NULL;
}

/* The rpc workload's server, in its forked child (see iom_workload_set_server()). */
int iom_server_serve_wl(const struct iom_wl_params *p, const cpu_set_t *cpus, int report_fd)
{
	const char *name = p->server_model[0] ? p->server_model : "epoll";
	const struct iom_server_model *m = iom_server_model_find(name);
	struct iom_server_opts o;
	struct iom_err err = { "" };
	char path[PATH_MAX];

	iom_server_opts_init(&o);
	o.quiet = true;
	o.report_fd = report_fd;
	o.capacity = p->backend_capacity;
	o.unix_path = p->unix_path[0] ? p->unix_path : NULL;
	o.cpus = *cpus;
	o.cpus_set = true;
	if (!m) {
		fprintf(stderr, "serve: unknown server model '%s'\n", name);
		return 1;
	}
	if (p->service[0] && iom_service_parse(p->service, &o, &err)) {
		fprintf(stderr, "serve: %s\n", err.msg);
		return 1;
	}
	/* file:BS reads the file workload's file, as the "suite's own file". */
	iom_workload_file_path(p, path, sizeof(path));
	o.service_path = path;
	if (iom_server_serve(m, &o, &err)) {
		fprintf(stderr, "serve: %s: %s\n", name, err.msg);
		return 1;
	}
	return 0;
}
