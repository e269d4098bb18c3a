// SPDX-License-Identifier: MIT
/* The hooks of a run spread over several processes (cluster.h); none in a plain run. */
#include <stdlib.h>

#include "cluster.h"

static const struct iom_cluster_ops *cluster;

void iom_cluster_set(const struct iom_cluster_ops *ops)
{
	cluster = ops;
}

bool iom_cluster_active(void)
{
	return cluster != NULL;
}

unsigned int iom_cluster_launched_size(void)
{
	/* Open MPI's, then the PMI one MPICH's and Slurm's launchers set. */
	static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE" };

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);
		long n = v ? strtol(v, NULL, 10) : 0;

		if (n > 0)
			return (unsigned int)n;
	}
	return 1;
}

int iom_cluster_window_barrier(bool ok)
{
	return cluster ? cluster->window_barrier(ok) : 0;
}

int iom_cluster_reduce(struct iom_row *row, struct iom_hist *hist, int ret)
{
	return cluster ? cluster->reduce(row, hist, ret) : ret;
}

void iom_cluster_meta(struct iom_report *rep)
{
	if (cluster && cluster->meta)
		cluster->meta(rep);
}

void iom_cluster_place(unsigned int *index, unsigned int *count)
{
	*index = 0;
	*count = 1;
	if (cluster && cluster->place)
		cluster->place(index, count);
}
