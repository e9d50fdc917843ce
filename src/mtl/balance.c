/* GradNorm and DWA task weight updates, host side (include/clmtl/mtl_device.h, "GradNorm and
 * DWA"; DWA's state in mtl_strategy.h; kernels in cl/balance.cl): DWA's epoch bookkeeping and softmax on the host, GradNorm's
 * gradient norm (the shared reduction clm_reduce in square mode), initial-loss record, weight gradient and renormalisation as device launches
 * with no host read. Not here: the weighted total and seeds (src/mtl/weighting.c) and the
 * optimizer step on the weights (optim.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "clmtl/mtl_device.h"
#include "mtl/mtl-impl.h"
#include "ops/ops.h"

/* ---- DWA --------------------------------------------------------------------------------- */

clm_status clm_dwa_init(clm_dwa *d, int ntasks, float temperature) {
  if (!d) CLM_FAIL(CLM_ERR_INVALID_ARG, "dwa: state missing");
  if (ntasks < 1 || ntasks > CLM_MTL_MAX_TASKS)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "dwa: %d tasks, need 1 to %d", ntasks, CLM_MTL_MAX_TASKS);
  if (!(temperature > 0) || !isfinite(temperature))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "dwa: temperature %g must be finite and > 0", temperature);
  memset(d, 0, sizeof *d);
  d->ntasks = ntasks;
  d->temperature = temperature;
  return CLM_OK;
}

clm_status clm_dwa_record(clm_dwa *d, const float *means) {
  if (!d || !means) CLM_FAIL(CLM_ERR_INVALID_ARG, "dwa: state and epoch means required");
  if (d->ntasks < 1 || d->ntasks > CLM_MTL_MAX_TASKS)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "dwa: state not initialised (%d tasks)", d->ntasks);
  for (int k = 0; k < d->ntasks; k++) {
    d->before[k] = d->last[k];
    d->last[k] = means[k];
  }
  if (d->epochs < INT_MAX) d->epochs++;
  return CLM_OK;
}

clm_status clm_dwa_weights(const clm_dwa *d, float *w) {
  if (!d || !w) CLM_FAIL(CLM_ERR_INVALID_ARG, "dwa: state and weights required");
  const int K = d->ntasks;
  if (K < 1 || K > CLM_MTL_MAX_TASKS || !(d->temperature > 0))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "dwa: state not initialised (%d tasks, T %g)", K,
             d->temperature);
  if (d->epochs < 2) {
    for (int k = 0; k < K; k++) w[k] = 1.0f;
    return CLM_OK;
  }
  /* softmax of r/T in double, shifted by its maximum */
  double x[CLM_MTL_MAX_TASKS], top = -HUGE_VAL, sum = 0;
  for (int k = 0; k < K; k++) {
    double a = d->last[k], b = d->before[k];
    double r = isfinite(a) && isfinite(b) && b > 0 ? a / b : 1.0;
    x[k] = r / d->temperature;
    if (x[k] > top) top = x[k];
  }
  for (int k = 0; k < K; k++) {
    x[k] = exp(x[k] - top);
    sum += x[k];
  }
  for (int k = 0; k < K; k++) w[k] = (float)(K * x[k] / sum);
  return CLM_OK;
}

clm_status clm_dwa_upload(clm_context *ctx, const clm_dwa *d, const clm_tensor *weights) {
  float w[CLM_MTL_MAX_TASKS];
  CLM_TRY(clm_dwa_weights(d, w));
  if (!ctx || !clm_tensor_present(weights) ||
      clm_tensor_numel(weights) != (size_t)d->ntasks)
    CLM_FAIL(CLM_ERR_SHAPE, "dwa: the weights must be %d floats on a context", d->ntasks);
  return clm_tensor_upload(ctx, weights, w);
}

/* ---- GradNorm ---------------------------------------------------------------------------- */

/* A K-float tensor (its shape holds exactly K). */
static clm_status k_floats(const clm_tensor *t, int k, const char *what) {
  if (!clm_tensor_present(t) || clm_tensor_numel(t) != (size_t)k)
    CLM_FAIL(CLM_ERR_SHAPE, "gradnorm: %s must be %d floats", what, k);
  return CLM_OK;
}

/* Checks cfg (gradnorm strategy not required: the pieces work with any config's K and
 * gating) and the value and count spans of sc. */
static clm_status check_scalars(const clm_mtl_config *cfg, const clm_mtl_scalars *sc) {
  CLM_TRY(clm_mtl_config_check(cfg));
  if (!sc) CLM_FAIL(CLM_ERR_INVALID_ARG, "gradnorm: scalars required");
  if (sc->stride < 1) CLM_FAIL(CLM_ERR_INVALID_ARG, "gradnorm: stride %d < 1", sc->stride);
  CLM_TRY(clm_mtl_check_span("gradnorm", &sc->value, cfg->ntasks, sc->stride, "loss values"));
  CLM_TRY(clm_mtl_check_span("gradnorm", &sc->count, cfg->ntasks, sc->stride, "valid counts"));
  return CLM_OK;
}

size_t clm_gradnorm_workspace(size_t n) { return clm_reduce_workspace(NULL, n); }

clm_status clm_gradnorm_norm(clm_context *ctx, const clm_tensor *grad, const clm_tensor *norms,
                             int task, const clm_tensor *ws) {
  if (!ctx || !clm_tensor_present(grad) || !clm_tensor_present(norms) ||
      !clm_tensor_present(ws))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "gradnorm norm: context, gradient, norms and workspace "
             "required");
  size_t n = clm_tensor_numel(grad), k = clm_tensor_numel(norms);
  if (n < 1 || n > (size_t)INT_MAX || grad->off > (size_t)INT_MAX - n)
    CLM_FAIL(CLM_ERR_SHAPE, "gradnorm norm: gradient of %zu floats at offset %zu is outside "
             "the int range kernels index with", n, grad->off);
  if (task < 0 || (size_t)task >= k || k > CLM_MTL_MAX_TASKS)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "gradnorm norm: task %d outside the %zu norm slots (at most "
             "%d)", task, k, CLM_MTL_MAX_TASKS);
  clm_tensor slot = clm_tensor_view(norms->buf, norms->off + (size_t)task, 1, 1, 1, 1);
  return clm_reduce(ctx, grad, n, CLM_REDUCE_NORM2, &slot, ws);
}

clm_status clm_gradnorm_record_initial(clm_context *ctx, const clm_mtl_config *cfg,
                                       const clm_mtl_scalars *sc, const clm_tensor *l0,
                                       int fill_missing) {
  if (!ctx) CLM_FAIL(CLM_ERR_INVALID_ARG, "gradnorm record: context required");
  CLM_TRY(check_scalars(cfg, sc));
  CLM_TRY(k_floats(l0, cfg->ntasks, "initial losses"));
  return clm_launch_1d(ctx, "balance", "gradnorm_record", 1, "ttiiti", &sc->value, &sc->count,
                       sc->stride, cfg->ntasks, l0, fill_missing ? 1 : 0);
}

clm_status clm_gradnorm_weight_grad(clm_context *ctx, const clm_mtl_config *cfg, float alpha,
                                    const clm_mtl_scalars *sc, const clm_tensor *weights,
                                    const clm_tensor *norms, const clm_tensor *l0,
                                    const clm_tensor *wgrad, const clm_tensor *lgrad) {
  if (!ctx) CLM_FAIL(CLM_ERR_INVALID_ARG, "gradnorm weight gradient: context required");
  CLM_TRY(check_scalars(cfg, sc));
  if (!(alpha >= 0) || !isfinite(alpha))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "gradnorm: alpha %g must be finite and >= 0", alpha);
  const int k = cfg->ntasks;
  CLM_TRY(k_floats(weights, k, "weights"));
  CLM_TRY(k_floats(norms, k, "gradient norms"));
  CLM_TRY(k_floats(l0, k, "initial losses"));
  CLM_TRY(k_floats(wgrad, k, "weight gradient"));
  if (!clm_tensor_present(lgrad) || clm_tensor_numel(lgrad) != 1)
    CLM_FAIL(CLM_ERR_SHAPE, "gradnorm: L_grad must be one float");
  cl_float16 vt;
  memset(&vt, 0, sizeof vt);
  for (int i = 0; i < k; i++) vt.s[i] = cfg->valid_total[i] > 0 ? cfg->valid_total[i] : 1.0f;
  cl_kernel kern;
  CLM_TRY(clm_kernel_get(ctx, "balance", NULL, "gradnorm_weight_grad", &kern, NULL));
  CLM_TRY(clm_kernel_args(kern, "ttiiiftttftt", &sc->value, &sc->count, sc->stride, k,
                          (int)cfg->gating, (double)cfg->gate_threshold, weights, norms, l0,
                          (double)alpha, wgrad, lgrad));
  /* the float16 follows the 19 arguments set above */
  CLM_CL_TRY(clSetKernelArg(kern, 19, sizeof vt, &vt));
  size_t one = 1;
  return clm_kernel_launch(ctx, kern, 1, &one, NULL);
}

clm_status clm_gradnorm_renormalize(clm_context *ctx, const clm_tensor *weights) {
  if (!ctx || !clm_tensor_present(weights))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "gradnorm renormalize: context and weights required");
  size_t k = clm_tensor_numel(weights);
  if (k < 1 || k > CLM_MTL_MAX_TASKS)
    CLM_FAIL(CLM_ERR_SHAPE, "gradnorm renormalize: %zu weights, need 1 to %d", k,
             CLM_MTL_MAX_TASKS);
  return clm_launch_1d(ctx, "balance", "gradnorm_renormalize", 1, "ti", weights, (int)k);
}
