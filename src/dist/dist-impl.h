/* The communicator's fields, shared by its MPI implementation (comm_mpi.c), the single-rank
 * stub built without MPI (comm_stub.c) and the parts common to both (dist.c). */
#ifndef CLMTL_DIST_IMPL_H
#define CLMTL_DIST_IMPL_H

#include "clmtl/dist.h"

struct clm_dist {
  int rank, size, local_rank;
  int initialised_mpi; /* clm_dist_init called MPI_Init: clm_dist_free finalises */
  char host[256];
};

#endif
