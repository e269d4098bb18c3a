/* SPDX-License-Identifier: MIT */
/* The MPI layer of iomodels-mpi: every rank one client, one row per cell on rank 0. */
#ifndef IOM_MPI_H
#define IOM_MPI_H

/* After MPI_Init: learn the job (ranks, hosts) and hand core/ its cluster hooks. */
int iom_mpi_attach(void);
int iom_mpi_rank(void);
int iom_mpi_size(void);

#endif
