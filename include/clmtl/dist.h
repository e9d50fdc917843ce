/* Data-parallel training over several processes (ranks): a small communicator over MPI when
 * clmtl is built with it (CMake option CLMTL_MPI), a single rank otherwise. Each rank trains on
 * its shard of the global batch; per step the loss sums and valid counts and then the flat
 * gradient buffer are summed over the ranks, so every rank takes the same optimizer step
 * (src/dist/reduce.c). Buffers are host memory; device tensors are staged through the host.
 * Every call on a NULL communicator, or one of size 1, is the single-process identity. */
#ifndef CLMTL_DIST_H
#define CLMTL_DIST_H

#include <stddef.h>
#include <stdint.h>
#include "clmtl/status.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clm_dist clm_dist;

/* 1 when clmtl was built with MPI. */
CLMTL_API int clm_dist_available(void);

/* Joins the job this process was started in: with MPI, when a launcher started it (mpirun,
 * mpiexec, srun: their environment variables are present), MPI_Init and MPI_COMM_WORLD with
 * errors returned as values; otherwise one rank of one. Failing MPI calls later become
 * CLM_ERR_IO with MPI's error string. */
CLMTL_API clm_status clm_dist_init(clm_dist **out);
/* MPI_Finalize when clm_dist_init initialised MPI. NULL does nothing. */
CLMTL_API void clm_dist_free(clm_dist *d);

CLMTL_API int clm_dist_rank(const clm_dist *d);
CLMTL_API int clm_dist_size(const clm_dist *d);
/* The rank among the ranks on this host (device choice). */
CLMTL_API int clm_dist_local_rank(const clm_dist *d);
/* This process's host name. */
CLMTL_API const char *clm_dist_host(const clm_dist *d);
/* "rank R of N on HOST" for messages. */
CLMTL_API void clm_dist_describe(const clm_dist *d, char *buf, size_t size);

/* In-place sums over all ranks. */
CLMTL_API clm_status clm_dist_allreduce_float(clm_dist *d, float *buf, size_t n);
CLMTL_API clm_status clm_dist_allreduce_double(clm_dist *d, double *buf, size_t n);
CLMTL_API clm_status clm_dist_allreduce_int64(clm_dist *d, int64_t *buf, size_t n);
/* In-place maximum over all ranks (agreeing on a flag). */
CLMTL_API clm_status clm_dist_allreduce_max_int64(clm_dist *d, int64_t *buf, size_t n);
/* root's bytes to every rank. */
CLMTL_API clm_status clm_dist_broadcast(clm_dist *d, void *buf, size_t bytes, int root);
CLMTL_API clm_status clm_dist_barrier(clm_dist *d);
/* Ends every rank of the job (MPI_Abort) with exit status `code`; the caller prints why
 * first. Returns only without MPI or on a single rank. */
CLMTL_API void clm_dist_abort(clm_dist *d, int code);

/* Seconds this process has spent so far in the training step's reductions (losses, GradNorm's
 * norms, gradients: the collectives and their host staging), for scaling reports. */
CLMTL_API double clm_dist_comm_seconds(const clm_dist *d);

/* The device spec this rank uses: an explicit list "0:0,0:1" maps local rank i to entry
 * i mod count; a spec that matches several devices ("gpu" on a machine with two GPUs) takes
 * the local rank's one among them (modulo their count), in clm_device_pick's order, as "P:D";
 * anything else is returned as is. out receives a NUL-terminated string. */
CLMTL_API clm_status clm_dist_device_spec(const clm_dist *d, const char *spec, char *out, size_t size);

#ifdef __cplusplus
}
#endif

#endif
