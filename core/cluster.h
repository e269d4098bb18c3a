/* SPDX-License-Identifier: MIT */
/*
 * A run spread over several processes (an MPI job: mpi/, the iomodels-mpi binary): every
 * process runs the same cells as one client, their windows start together, and their results
 * are folded into one row. The layer above fills the ops; with none set (every plain run) each
 * hook below does nothing.
 */
#ifndef IOM_CLUSTER_H
#define IOM_CLUSTER_H

#include <stdbool.h>

struct iom_row;
struct iom_hist;
struct iom_report;

struct iom_cluster_ops {
	/*
	 * Every submitter of this process is set up (ok) or the cell failed before its window
	 * (!ok): return once every process has said which. Nonzero: some process is not ready,
	 * and this one's window does not start. Called once per cell on the cell's main thread.
	 */
	int (*window_barrier)(bool ok);
	/*
	 * The cell is over: fold every process's row and hist into the first's (exactly) and
	 * return the cell's exit code for this process. Called once per cell, on every path.
	 */
	int (*reduce)(struct iom_row *row, struct iom_hist *hist, int ret);
	/* The job in the run's metadata (the processes' hosts). */
	void (*meta)(struct iom_report *rep);
	/* This process's place: its index of how many (the task ids each one numbers). */
	void (*place)(unsigned int *index, unsigned int *count);
};

void iom_cluster_set(const struct iom_cluster_ops *ops);
/* Processes a launcher (mpirun) says this one belongs to, from its environment; 1 if none. */
unsigned int iom_cluster_launched_size(void);
bool iom_cluster_active(void);

int iom_cluster_window_barrier(bool ok);
int iom_cluster_reduce(struct iom_row *row, struct iom_hist *hist, int ret);
void iom_cluster_meta(struct iom_report *rep);
/*
 * This process's index of how many share the run (0 of 1 in a plain run): task numbers
 * interleave across them as across a process's submitters, so every request id of the job is
 * its own at a shared server (its dedup table and duplicate count key on the id).
 */
void iom_cluster_place(unsigned int *index, unsigned int *count);

#endif
