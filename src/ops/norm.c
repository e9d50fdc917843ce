/* Batch normalisation (host side of cl/norm.cl): shape checks and launches for the training
 * and eval forward passes and the backward pass. Per-channel statistics come from one
 * work-group per channel (deterministic tree reductions); the normalisation itself is a 1-D
 * element-wise launch. The autograd rule that calls these lives with the graph code. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include "ops/ops.h"

#define SHAPE_FMT "(%d, %d, %d, %d)"
#define SHAPE_ARGS(t) (t)->n, (t)->c, (t)->h, (t)->w

static clm_status need(const char *op, const char *what, const clm_tensor *t) {
  if (!clm_tensor_present(t)) CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: %s is missing", op, what);
  return CLM_OK;
}

static clm_status same_shape(const char *op, const char *what, const clm_tensor *t,
                             const clm_tensor *x) {
  CLM_TRY(need(op, what, t));
  if (t->n != x->n || t->c != x->c || t->h != x->h || t->w != x->w)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %s is " SHAPE_FMT ", x is " SHAPE_FMT, op, what, SHAPE_ARGS(t),
             SHAPE_ARGS(x));
  return CLM_OK;
}

/* A per-channel vector: `count` values, e.g. (1, C, 1, 1). */
static clm_status per_channel(const char *op, const char *what, const clm_tensor *t, int count) {
  CLM_TRY(need(op, what, t));
  if (clm_tensor_numel(t) != (size_t)count)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %s is " SHAPE_FMT ", expected %d values", op, what,
             SHAPE_ARGS(t), count);
  return CLM_OK;
}

static clm_status check_x(const char *op, const clm_tensor *x) {
  CLM_TRY(need(op, "x", x));
  if (x->n <= 0 || x->c <= 0 || x->h <= 0 || x->w <= 0)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: x is " SHAPE_FMT ", every dimension must be positive", op,
             SHAPE_ARGS(x));
  if (clm_tensor_numel(x) > INT_MAX)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: x has %zu elements, more than the kernels' int indexing allows",
             op, clm_tensor_numel(x));
  return CLM_OK;
}

/* One batch-norm kernel built for its per-channel tree size (clm_tree_kernels). */
static clm_status norm_kernel(clm_context *ctx, const char *name, cl_kernel *k, size_t *wg) {
  return clm_tree_kernels(ctx, "norm", "NORM_WG", 1, &name, k, wg);
}

/* One work-group per channel. */
static clm_status launch_per_channel(clm_context *ctx, cl_kernel k, size_t wg, int channels) {
  size_t global = (size_t)channels * wg;
  return clm_kernel_launch(ctx, k, 1, &global, &wg);
}

static clm_status normalize(clm_context *ctx, const clm_tensor *x, const clm_tensor *a,
                            const clm_tensor *b, const clm_tensor *gamma, const clm_tensor *beta,
                            const clm_tensor *y, int mode, float eps) {
  cl_kernel k;
  size_t wg;
  CLM_TRY(norm_kernel(ctx, "bn_normalize", &k, &wg));
  int n = (int)clm_tensor_numel(x);
  CLM_TRY(clm_kernel_args(k, "ttttttiiiif", x, a, b, gamma, beta, y, n, x->c, x->h * x->w, mode,
                          (double)eps));
  size_t global = (size_t)n;
  return clm_kernel_launch(ctx, k, 1, &global, NULL);
}

clm_status clm_batchnorm_forward_train(clm_context *ctx, const clm_tensor *x,
                                       const clm_tensor *gamma, const clm_tensor *beta,
                                       const clm_tensor *y, const clm_tensor *saved,
                                       const clm_tensor *running_mean,
                                       const clm_tensor *running_var, float momentum, float eps) {
  static const char op[] = "batchnorm forward (training)";
  CLM_TRY(check_x(op, x));
  int C = x->c, HW = x->h * x->w;
  CLM_TRY(same_shape(op, "y", y, x));
  CLM_TRY(per_channel(op, "gamma", gamma, C));
  CLM_TRY(per_channel(op, "beta", beta, C));
  CLM_TRY(per_channel(op, "saved statistics", saved, 2 * C));
  CLM_TRY(per_channel(op, "running_mean", running_mean, C));
  CLM_TRY(per_channel(op, "running_var", running_var, C));
  if (x->n * HW < 2)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: x is " SHAPE_FMT ": training needs more than one value per "
             "channel (as in PyTorch)", op, SHAPE_ARGS(x));
  if (!(eps >= 0.0f) || !isfinite(eps) || !(momentum >= 0.0f && momentum <= 1.0f))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: eps %g must be finite and >= 0, momentum %g in [0, 1]", op,
             eps, momentum);
  cl_kernel k;
  size_t wg;
  CLM_TRY(norm_kernel(ctx, "bn_stats", &k, &wg));
  CLM_TRY(clm_kernel_args(k, "ttttiiiff", x, saved, running_mean, running_var, x->n, C, HW,
                          (double)momentum, (double)eps));
  CLM_TRY(launch_per_channel(ctx, k, wg, C));
  clm_tensor mean = clm_tensor_view(saved->buf, saved->off, 1, C, 1, 1);
  clm_tensor invstd = clm_tensor_view(saved->buf, saved->off + (size_t)C, 1, C, 1, 1);
  return normalize(ctx, x, &mean, &invstd, gamma, beta, y, 0, eps);
}

clm_status clm_batchnorm_forward_eval(clm_context *ctx, const clm_tensor *x,
                                      const clm_tensor *gamma, const clm_tensor *beta,
                                      const clm_tensor *running_mean,
                                      const clm_tensor *running_var, float eps,
                                      const clm_tensor *y) {
  static const char op[] = "batchnorm forward (eval)";
  CLM_TRY(check_x(op, x));
  int C = x->c;
  CLM_TRY(same_shape(op, "y", y, x));
  CLM_TRY(per_channel(op, "gamma", gamma, C));
  CLM_TRY(per_channel(op, "beta", beta, C));
  CLM_TRY(per_channel(op, "running_mean", running_mean, C));
  CLM_TRY(per_channel(op, "running_var", running_var, C));
  if (!(eps >= 0.0f) || !isfinite(eps))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: eps %g must be finite and >= 0", op, eps);
  return normalize(ctx, x, running_mean, running_var, gamma, beta, y, 1, eps);
}

clm_status clm_batchnorm_backward(clm_context *ctx, const clm_tensor *x, const clm_tensor *dy,
                                  const clm_tensor *gamma, const clm_tensor *saved,
                                  const clm_tensor *dx, const clm_tensor *dgamma,
                                  const clm_tensor *dbeta, int accumulate) {
  static const char op[] = "batchnorm backward";
  CLM_TRY(check_x(op, x));
  int C = x->c;
  CLM_TRY(same_shape(op, "dy", dy, x));
  CLM_TRY(same_shape(op, "dx", dx, x));
  CLM_TRY(per_channel(op, "gamma", gamma, C));
  CLM_TRY(per_channel(op, "saved statistics", saved, 2 * C));
  CLM_TRY(per_channel(op, "dgamma", dgamma, C));
  CLM_TRY(per_channel(op, "dbeta", dbeta, C));
  cl_kernel k;
  size_t wg;
  CLM_TRY(norm_kernel(ctx, "bn_backward", &k, &wg));
  CLM_TRY(clm_kernel_args(k, "tttttttiiii", x, dy, gamma, saved, dx, dgamma, dbeta, x->n, C,
                          x->h * x->w, accumulate ? 1 : 0));
  return launch_per_channel(ctx, k, wg, C);
}
