/* SPDX-License-Identifier: MIT */
/*
 * One row from every rank's: the rules by column (sum, weighted by tasks, per host, ...), with
 * no MPI in it, so the tests check them without a job. mpi.c gathers what this folds.
 */
#ifndef IOM_MPI_MERGE_H
#define IOM_MPI_MERGE_H

#include "core/hist.h"
#include "core/report.h"

/* What rank 0 gathers of each rank's cell (the binary is the same on every rank). */
struct iom_rank_result {
	double num[IOM_NR_COLS];
	char status[32];
	char reason[256];
	char flags[256];
	char host[64];
	char cell[128];		/* model, workload, C, J, repeat: every rank's must be rank 0's */
	int ret;
};

/* How a numeric column of the ranks' rows becomes the job's. */
enum iom_merge_rule {
	IOM_MERGE_UNSET,	/* no rule: rank 0's value (a test asks each column for one) */
	IOM_MERGE_SAME,		/* a parameter, the same on every rank: rank 0's */
	IOM_MERGE_SUM,		/* a count or a cost of the job */
	IOM_MERGE_PER_TASK,	/* a mean per task: weighted by each rank's tasks */
	IOM_MERGE_PER_EXPIRED,	/* a mean per EXPIRED task: weighted by each rank's n_expired */
	IOM_MERGE_MAX,
	IOM_MERGE_MIN,
	IOM_MERGE_HOST,		/* machine-wide (/proc/stat ...): summed over hosts, not ranks */
	IOM_MERGE_DERIVED,	/* recomputed from the merged histogram or counts */
};

enum iom_merge_rule iom_merge_rule_of(enum iom_col c);

/*
 * Fold ranks[0..n) into row, which holds rank 0's row, with hist the exact sum of the ranks'
 * histograms. Adds ranks and the per-rank min/max rate, checks conservation on the sum, and
 * returns the job's exit code (the worst of the ranks').
 */
int iom_mpi_merge(struct iom_row *row, const struct iom_hist *hist,
		  const struct iom_rank_result *ranks, unsigned int n);

#endif
