// SPDX-License-Identifier: MIT
/*
 * iomodels-mpi: the iomodels command line with an MPI layer. `mpirun -np N iomodels-mpi run
 * ...` runs the same cells on every rank, each rank one client; rank 0 alone writes the
 * results and prints the cells, the others run with --quiet into a private directory removed
 * at the end. The command line itself is cli/main.c's, built again with its main renamed.
 */
#include <ftw.h>
#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi.h"

int iom_cli_main(int argc, char **argv);

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

/* Only run is spread over the ranks; --version and help say what this binary is. */
static bool parallel_command(int argc, char **argv)
{
	return argc < 2 || !strcmp(argv[1], "run") || !strcmp(argv[1], "--version") ||
	       !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h");
}

int main(int argc, char **argv)
{
	char scratch[] = "/tmp/iomodels-mpi-rank-XXXXXX";
	char **args;
	int provided = 0, ret;

	if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
		fprintf(stderr, "iomodels-mpi: MPI_Init_thread failed\n");
		return 1;
	}
	if (provided < MPI_THREAD_FUNNELED || iom_mpi_attach()) {
		fprintf(stderr, "iomodels-mpi: MPI without MPI_THREAD_FUNNELED, or out of memory\n");
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	if (iom_mpi_size() > 1 && !parallel_command(argc, argv)) {
		if (!iom_mpi_rank())
			fprintf(stderr, "iomodels-mpi: only run is spread over ranks (got '%s'): "
				"use iomodels\n", argv[1]);
		MPI_Finalize();
		return 2;
	}
	args = calloc((size_t)argc + 4, sizeof(*args));
	if (!args)
		MPI_Abort(MPI_COMM_WORLD, 1);
	memcpy(args, argv, (size_t)argc * sizeof(*args));
	/* The last --output wins: ranks past 0 write where nobody reads, then remove it. */
	if (iom_mpi_rank() && argc > 1 && !strcmp(argv[1], "run")) {
		if (!mkdtemp(scratch)) {
			perror("iomodels-mpi: mkdtemp");
			MPI_Abort(MPI_COMM_WORLD, 1);
		}
		args[argc++] = "--quiet";
		args[argc++] = "--output";
		args[argc++] = scratch;
	} else {
		scratch[0] = '\0';
	}
	ret = iom_cli_main(argc, args);
	if (scratch[0])
		nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(args);
	MPI_Finalize();
	return ret;
}
