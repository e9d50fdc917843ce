/* The training step's collectives over device buffers (reduce.h): download, one MPI call
 * through the communicator (comm_mpi.c), upload; the time they take (after the device's queued
 * work is done, so waiting for the slower rank counts, the device's own work does not). Host staging keeps this independent of the
 * OpenCL platform; the gradient buffer is one allreduce per step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/mtl.h"
#include "clmtl/util.h"
#include "dist-impl.h"
#include "dist/reduce.h"
#include "runtime/runtime-impl.h"

static double comm_seconds; /* one communicator per process */

double clm_dist_comm_seconds(const clm_dist *d) {
  (void)d;
  return comm_seconds;
}

static int single(const clm_dist *d) { return clm_dist_size(d) <= 1; }

/* The device's queued work done first, so that the reductions' time excludes it. */
static clm_status start_timer(clm_context *ctx, double *t0) {
  CLM_TRY(clm_context_finish(ctx));
  *t0 = clm_time_seconds();
  return CLM_OK;
}

clm_status clm_dist_reduce_losses(clm_dist *d, clm_graph *g) {
  if (single(d)) return CLM_OK;
  double t0;
  CLM_TRY(start_timer(clm_graph_context(g), &t0));
  int k = clm_graph_loss_count(g);
  float scal[3 * CLM_MTL_MAX_TASKS];
  double sums[2 * CLM_MTL_MAX_TASKS];
  if (k > CLM_MTL_MAX_TASKS) CLM_FAIL(CLM_ERR_INVALID_ARG, "%d losses: at most %d", k, CLM_MTL_MAX_TASKS);
  clm_tensor sv = clm_graph_loss_scalars(g);
  CLM_TRY(clm_tensor_download(clm_graph_context(g), &sv, scal));
  for (int i = 0; i < k; i++) {
    double count = scal[3 * i + 1];
    sums[i] = count > 0 ? (double)scal[3 * i] * count : 0.0; /* loss = sum / max(count, 1) */
    if (!isfinite(scal[3 * i])) sums[i] = scal[3 * i];       /* NaN stays NaN everywhere */
    sums[k + i] = count;
  }
  CLM_TRY(clm_dist_allreduce_double(d, sums, 2 * (size_t)k));
  for (int i = 0; i < k; i++) {
    scal[3 * i] = (float)(sums[k + i] > 0 ? sums[i] / sums[k + i] : isfinite(sums[i]) ? 0.0 : sums[i]);
    scal[3 * i + 1] = (float)sums[k + i];
  }
  CLM_TRY(clm_tensor_upload(clm_graph_context(g), &sv, scal));
  comm_seconds += clm_time_seconds() - t0;
  return CLM_OK;
}

/* t's floats summed over the ranks; from `keep` (count `nkeep`) rank 0's values only. */
static clm_status reduce_buffer(clm_dist *d, clm_context *ctx, const clm_tensor *t, size_t keep, size_t nkeep) {
  size_t n = clm_tensor_numel(t);
  if (n == 0) return CLM_OK;
  float *h = malloc(n * sizeof *h);
  if (!h) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory for %zu gradients", n);
  clm_status st = clm_tensor_download(ctx, t, h);
  if (st == CLM_OK && clm_dist_rank(d) != 0 && nkeep) memset(h + keep, 0, nkeep * sizeof *h);
  if (st == CLM_OK) st = clm_dist_allreduce_float(d, h, n);
  if (st == CLM_OK) st = clm_tensor_upload(ctx, t, h);
  free(h);
  return st;
}

clm_status clm_dist_reduce_gradients(clm_dist *d, clm_graph *g) {
  if (single(d)) return CLM_OK;
  double t0;
  CLM_TRY(start_timer(clm_graph_context(g), &t0));
  clm_tensor grads = clm_graph_grads(g), task = clm_graph_task_grads(g);
  CLM_TRY(reduce_buffer(d, clm_graph_context(g), &grads, task.off - grads.off, clm_tensor_numel(&task)));
  comm_seconds += clm_time_seconds() - t0;
  return CLM_OK;
}

clm_status clm_dist_allreduce_tensor(clm_dist *d, clm_context *ctx, const clm_tensor *t) {
  if (single(d)) return CLM_OK;
  double t0;
  CLM_TRY(start_timer(ctx, &t0));
  CLM_TRY(reduce_buffer(d, ctx, t, 0, 0));
  comm_seconds += clm_time_seconds() - t0;
  return CLM_OK;
}

/* t from rank 0 (bcast) or averaged (average = 1). */
static clm_status share(clm_dist *d, clm_context *ctx, const clm_tensor *t, int average) {
  size_t n = clm_tensor_numel(t);
  if (n == 0) return CLM_OK;
  float *h = malloc(n * sizeof *h);
  if (!h) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory for %zu floats", n);
  clm_status st = clm_tensor_download(ctx, t, h);
  if (st == CLM_OK && average) st = clm_dist_allreduce_float(d, h, n);
  if (st == CLM_OK && !average) st = clm_dist_broadcast(d, h, n * sizeof *h, 0);
  if (st == CLM_OK && average)
    for (size_t i = 0; i < n; i++) h[i] /= (float)clm_dist_size(d);
  if (st == CLM_OK) st = clm_tensor_upload(ctx, t, h);
  free(h);
  return st;
}

clm_status clm_dist_broadcast_params(clm_dist *d, clm_graph *g) {
  if (single(d)) return CLM_OK;
  clm_tensor p = clm_graph_params(g), s = clm_graph_state(g);
  CLM_TRY(share(d, clm_graph_context(g), &p, 0));
  CLM_TRY(share(d, clm_graph_context(g), &s, 0)); /* nothing without batch norm */
  clm_graph_params_changed(g);
  return CLM_OK;
}

clm_status clm_dist_average_state(clm_dist *d, clm_graph *g) {
  if (single(d)) return CLM_OK;
  clm_tensor s = clm_graph_state(g);
  CLM_TRY(share(d, clm_graph_context(g), &s, 1)); /* nothing without batch norm */
  clm_graph_params_changed(g);
  return CLM_OK;
}

clm_status clm_dist_check_replicas(clm_dist *d, clm_graph *g, long step, uint64_t *hash) {
  clm_tensor p = clm_graph_params(g);
  size_t n = clm_tensor_numel(&p);
  float *h = malloc(n * sizeof *h + 1);
  if (!h) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory for %zu parameters", n);
  clm_status st = clm_tensor_download(clm_graph_context(g), &p, h);
  uint64_t mine = clm_fnv1a64(CLM_FNV1A64_INIT, h, n * sizeof *h), root = mine;
  free(h);
  CLM_TRY(st);
  if (hash) *hash = mine;
  if (single(d)) return CLM_OK;
  CLM_TRY(clm_dist_broadcast(d, &root, sizeof root, 0));
  int64_t differ = root != mine;
  CLM_TRY(clm_dist_allreduce_int64(d, &differ, 1));
  if (differ) {
    char who[320];
    clm_dist_describe(d, who, sizeof who);
    CLM_FAIL(CLM_ERR_NUMERIC, "after step %ld the parameters of %ld rank(s) differ from rank 0's "
             "(this %s: hash %016llx, rank 0: %016llx)", step, (long)differ, who,
             (unsigned long long)mine, (unsigned long long)root);
  }
  return CLM_OK;
}

static clm_status bn_allreduce(void *user, double *buf, size_t n) {
  return clm_dist_allreduce_double(user, buf, n);
}

void clm_dist_sync_batchnorm(clm_dist *d, clm_context *ctx) {
  ctx->bn_allreduce = single(d) ? NULL : bn_allreduce;
  ctx->bn_allreduce_user = single(d) ? NULL : d;
}
