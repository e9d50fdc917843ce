/* The communicator over MPI (CLMTL_MPI on): MPI_COMM_WORLD with MPI_ERRORS_RETURN, so that a
 * failing collective is a clm_status carrying MPI's error string, not a silent abort. Large
 * buffers go in chunks of at most INT_MAX elements (MPI counts are int). The single-rank
 * stub is comm_stub.c; what both share, dist.c. */
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dist-impl.h"
#include "runtime/runtime-impl.h"

int clm_dist_available(void) { return 1; }

/* Environment variables that launchers set in the processes they start. */
static int launched_by_mpi(void) {
  static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                     "MPI_LOCALNRANKS", "SLURM_PROCID"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    if (getenv(vars[i])) return 1;
  return 0;
}

static clm_status mpi_fail(int rc, const char *call, const char *file, int line) {
  char msg[MPI_MAX_ERROR_STRING + 1];
  int len = 0;
  if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) len = 0;
  msg[len] = '\0';
  return clm_error_set(CLM_ERR_IO, file, line, "%s failed: %s (MPI error %d)", call, len ? msg : "unknown", rc);
}

#define MPI_TRY(call)                                                           \
  do {                                                                          \
    int rc_ = (call);                                                           \
    if (rc_ != MPI_SUCCESS) return mpi_fail(rc_, #call, __FILE__, __LINE__);    \
  } while (0)

clm_status clm_dist_init(clm_dist **out) {
  *out = NULL;
  clm_dist *d = calloc(1, sizeof *d);
  if (!d) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  d->size = 1;
  if (gethostname(d->host, sizeof d->host - 1) != 0) d->host[0] = '\0';
  int ready = 0;
  MPI_Initialized(&ready);
  if (!ready && launched_by_mpi()) {
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
      free(d);
      CLM_FAIL(CLM_ERR_IO, "MPI_Init failed: the MPI launcher's environment is present but MPI "
               "could not start");
    }
    d->initialised_mpi = ready = 1;
  }
  if (ready) {
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
      MPI_Comm_rank(node, &d->local_rank);
      MPI_Comm_free(&node);
    }
  }
  *out = d;
  return CLM_OK;
}

void clm_dist_free(clm_dist *d) {
  if (!d) return;
  if (d->initialised_mpi) MPI_Finalize();
  free(d);
}

static clm_status allreduce(clm_dist *d, void *buf, size_t n, MPI_Datatype type, size_t width, MPI_Op op) {
  if (!d || d->size == 1) return CLM_OK;
  for (size_t done = 0; done < n;) {
    size_t part = n - done < (size_t)INT_MAX ? n - done : (size_t)INT_MAX;
    MPI_TRY(MPI_Allreduce(MPI_IN_PLACE, (char *)buf + done * width, (int)part, type, op, MPI_COMM_WORLD));
    done += part;
  }
  return CLM_OK;
}

clm_status clm_dist_allreduce_float(clm_dist *d, float *buf, size_t n) {
  return allreduce(d, buf, n, MPI_FLOAT, sizeof(float), MPI_SUM);
}

clm_status clm_dist_allreduce_double(clm_dist *d, double *buf, size_t n) {
  return allreduce(d, buf, n, MPI_DOUBLE, sizeof(double), MPI_SUM);
}

clm_status clm_dist_allreduce_int64(clm_dist *d, int64_t *buf, size_t n) {
  return allreduce(d, buf, n, MPI_INT64_T, sizeof(int64_t), MPI_SUM);
}

clm_status clm_dist_allreduce_max_int64(clm_dist *d, int64_t *buf, size_t n) {
  return allreduce(d, buf, n, MPI_INT64_T, sizeof(int64_t), MPI_MAX);
}

clm_status clm_dist_broadcast(clm_dist *d, void *buf, size_t bytes, int root) {
  if (!d || d->size == 1) {
    if (root != 0) CLM_FAIL(CLM_ERR_INVALID_ARG, "broadcast from rank %d of a single rank", root);
    return CLM_OK;
  }
  if (root < 0 || root >= d->size) CLM_FAIL(CLM_ERR_INVALID_ARG, "broadcast from rank %d of %d", root, d->size);
  for (size_t done = 0; done < bytes;) {
    size_t part = bytes - done < (size_t)INT_MAX ? bytes - done : (size_t)INT_MAX;
    MPI_TRY(MPI_Bcast((char *)buf + done, (int)part, MPI_BYTE, root, MPI_COMM_WORLD));
    done += part;
  }
  return CLM_OK;
}

clm_status clm_dist_barrier(clm_dist *d) {
  if (!d || d->size == 1) return CLM_OK;
  MPI_TRY(MPI_Barrier(MPI_COMM_WORLD));
  return CLM_OK;
}

void clm_dist_abort(clm_dist *d, int code) {
  if (!d || d->size == 1) return;
  MPI_Abort(MPI_COMM_WORLD, code);
}
