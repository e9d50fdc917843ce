/* The communicator without MPI (CLMTL_MPI off): always one rank, every collective the
 * identity. Common parts: dist.c. */
#include <stdlib.h>
#include <unistd.h>
#include "dist-impl.h"
#include "runtime/runtime-impl.h"

int clm_dist_available(void) { return 0; }

clm_status clm_dist_init(clm_dist **out) {
  *out = NULL;
  /* started by a launcher as one of several ranks: each would train alone, into one directory */
  static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i]);
    if (v && atoi(v) > 1)
      CLM_FAIL(CLM_ERR_INVALID_ARG, "started as one of %s ranks (%s), but this clmtl was built without "
               "MPI (CLMTL_MPI=OFF): rebuild with MPI (Debian: libopenmpi-dev) to train over several ranks",
               v, vars[i]);
  }
  clm_dist *d = calloc(1, sizeof *d);
  if (!d) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  d->size = 1;
  if (gethostname(d->host, sizeof d->host - 1) != 0) d->host[0] = '\0';
  *out = d;
  return CLM_OK;
}

void clm_dist_free(clm_dist *d) { free(d); }

clm_status clm_dist_allreduce_float(clm_dist *d, float *buf, size_t n) {
  (void)d, (void)buf, (void)n;
  return CLM_OK;
}

clm_status clm_dist_allreduce_double(clm_dist *d, double *buf, size_t n) {
  (void)d, (void)buf, (void)n;
  return CLM_OK;
}

clm_status clm_dist_allreduce_int64(clm_dist *d, int64_t *buf, size_t n) {
  (void)d, (void)buf, (void)n;
  return CLM_OK;
}

clm_status clm_dist_allreduce_max_int64(clm_dist *d, int64_t *buf, size_t n) {
  (void)d, (void)buf, (void)n;
  return CLM_OK;
}

clm_status clm_dist_broadcast(clm_dist *d, void *buf, size_t bytes, int root) {
  (void)d, (void)buf, (void)bytes;
  if (root != 0) CLM_FAIL(CLM_ERR_INVALID_ARG, "broadcast from rank %d of a single rank", root);
  return CLM_OK;
}

clm_status clm_dist_barrier(clm_dist *d) {
  (void)d;
  return CLM_OK;
}

void clm_dist_abort(clm_dist *d, int code) { (void)d, (void)code; }
