// SPDX-License-Identifier: MIT
/*
 * The cluster hooks (core/cluster.h) over MPI, as IOR and mdtest do it: an MPI_Allreduce of
 * "my submitters are ready" is the barrier before every window, and after the cell rank 0
 * gathers each rank's row and MPI_Reduces the histograms' buckets (exact sums), then folds the
 * rows (merge.c). MPI is called only from the thread that runs the cell (FUNNELED).
 */
#include <inttypes.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cluster.h"
#include "core/report.h"
#include "merge.h"
#include "mpi.h"

static int rank, size;
static char (*hosts)[64];		/* every rank's, in rank order */
static struct iom_rank_result *gathered; /* rank 0: one per rank */

int iom_mpi_rank(void)
{
	return rank;
}

int iom_mpi_size(void)
{
	return size;
}

static int window_barrier(bool ok)
{
	int mine = ok, all = 0;

	MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
	return all ? 0 : -1;
}

/* IOM_MPI_DEBUG=1: each rank's own counts on stderr, before the merge (the tests sum them). */
static void debug_line(const struct iom_row *row, const struct iom_hist *hist)
{
	const double *n = row->num;

	fprintf(stderr, "iomodels-mpi: rank=%d host=%s status=%s tasks=%.0f submitted=%.0f "
		"completed=%.0f failed=%.0f aborted=%.0f partial=%.0f expired=%.0f "
		"ops_per_s=%.3f hist_count=%" PRIu64 " hist_sum=%" PRIu64 "\n", rank, hosts[rank],
		row->str[IOM_COL_status], n[IOM_COL_tasks], n[IOM_COL_submitted],
		n[IOM_COL_n_completed], n[IOM_COL_n_failed], n[IOM_COL_n_aborted],
		n[IOM_COL_n_partial], n[IOM_COL_n_expired], n[IOM_COL_ops_per_s], hist->count,
		hist->sum);
}

/* The histograms' exact sum on rank 0: buckets, count and sum added, min and max kept. */
static void reduce_hist(struct iom_hist *hist)
{
	void *in_place = rank ? NULL : MPI_IN_PLACE;

	MPI_Reduce(rank ? hist->buckets : in_place, hist->buckets, IOM_HIST_NR_BUCKETS,
		   MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
	MPI_Reduce(rank ? &hist->count : in_place, &hist->count, 2, MPI_UINT64_T, MPI_SUM, 0,
		   MPI_COMM_WORLD);	/* count, sum */
	MPI_Reduce(rank ? &hist->min : in_place, &hist->min, 1, MPI_UINT64_T, MPI_MIN, 0,
		   MPI_COMM_WORLD);
	MPI_Reduce(rank ? &hist->max : in_place, &hist->max, 1, MPI_UINT64_T, MPI_MAX, 0,
		   MPI_COMM_WORLD);
}

static int reduce(struct iom_row *row, struct iom_hist *hist, int ret)
{
	struct iom_rank_result mine;

	memset(&mine, 0, sizeof(mine));
	memcpy(mine.num, row->num, sizeof(mine.num));
	snprintf(mine.status, sizeof(mine.status), "%s", row->str[IOM_COL_status]);
	snprintf(mine.reason, sizeof(mine.reason), "%s", row->str[IOM_COL_reason]);
	snprintf(mine.flags, sizeof(mine.flags), "%s", row->str[IOM_COL_flags]);
	snprintf(mine.host, sizeof(mine.host), "%s", hosts[rank]);
	snprintf(mine.cell, sizeof(mine.cell), "%.40s %.20s C=%.0f J=%.0f repeat=%.0f",
		 row->str[IOM_COL_model], row->str[IOM_COL_workload], row->num[IOM_COL_concurrency],
		 row->num[IOM_COL_jobs], row->num[IOM_COL_repeat]);
	mine.ret = ret;
	if (getenv("IOM_MPI_DEBUG") && !strcmp(getenv("IOM_MPI_DEBUG"), "1"))
		debug_line(row, hist);
	/* The same binary on every rank: the struct goes as bytes. */
	MPI_Gather(&mine, sizeof(mine), MPI_BYTE, gathered, sizeof(mine), MPI_BYTE, 0,
		   MPI_COMM_WORLD);
	reduce_hist(hist);
	if (rank)
		return ret;
	return iom_mpi_merge(row, hist, gathered, (unsigned int)size);
}

static void meta(struct iom_report *rep)
{
	char lib[MPI_MAX_LIBRARY_VERSION_STRING] = "", *list;
	size_t len = (size_t)size * sizeof(hosts[0]) + 1, used = 0;
	int lib_len = 0;

	iom_report_meta_num(rep, "mpi_ranks", size);
	list = calloc(1, len);
	if (list) {
		for (int i = 0; i < size; i++)
			used += (size_t)snprintf(list + used, len - used, "%s%s", i ? "," : "",
						 hosts[i]);
		iom_report_meta_str(rep, "mpi_hosts", list);
		free(list);
	}
	MPI_Get_library_version(lib, &lib_len);
	lib[strcspn(lib, ",\n")] = '\0';
	iom_report_meta_str(rep, "mpi_library", lib);
}

static void place(unsigned int *index, unsigned int *count)
{
	*index = (unsigned int)rank;
	*count = (unsigned int)size;
}

static const struct iom_cluster_ops mpi_ops = {
	.window_barrier = window_barrier,
	.reduce = reduce,
	.meta = meta,
	.place = place,
};

int iom_mpi_attach(void)
{
	char host[64] = "";

	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	hosts = calloc((size_t)size, sizeof(hosts[0]));
	gathered = calloc(rank ? 1 : (size_t)size, sizeof(*gathered));
	if (!hosts || !gathered)
		return -1;
	if (gethostname(host, sizeof(host) - 1))
		snprintf(host, sizeof(host), "unknown");
	MPI_Allgather(host, sizeof(host), MPI_CHAR, hosts, sizeof(hosts[0]), MPI_CHAR,
		      MPI_COMM_WORLD);
	iom_cluster_set(&mpi_ops);
	return 0;
}
