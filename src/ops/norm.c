/* Batch normalisation (host side of cl/norm.cl): shape checks and launches for the training
 * and eval forward passes and the backward pass, each optionally fused with the activation
 * after the normalisation, and the folding of eval-mode batch norm into a convolution's
 * weights. Per-channel statistics come from one work-group per channel (deterministic tree
 * reductions); the normalisation itself is a 1-D element-wise launch. The autograd rule that
 * calls these lives with the graph code. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Floats per work-item of bn_normalize: NORM_VEC in cl/norm.cl. */
#define NORM_VEC 16

/* Per-channel loops: contiguous spans per work-item on CPUs, interleaved elsewhere
 * (plane_range in cl/norm.cl). */
static int contig(const clm_context *ctx) { return ctx->info.kind == CLM_DEVICE_CPU; }

/* One work-group per channel. */
static clm_status launch_per_channel(clm_context *ctx, cl_kernel k, size_t wg, int channels) {
  size_t global = (size_t)channels * wg;
  return clm_kernel_launch(ctx, k, 1, &global, &wg);
}

static clm_status normalize(clm_context *ctx, const clm_tensor *x, const clm_tensor *a,
                            const clm_tensor *b, const clm_tensor *gamma, const clm_tensor *beta,
                            const clm_tensor *y, int mode, float eps, clm_activation act,
                            float slope) {
  cl_kernel k;
  size_t wg;
  CLM_TRY(norm_kernel(ctx, "bn_normalize", &k, &wg));
  int HW = x->h * x->w;
  CLM_TRY(clm_kernel_args(k, "ttttttiiiifif", x, a, b, gamma, beta, y, x->n, x->c, HW, mode,
                          (double)eps, (int)act, (double)slope));
  size_t global = (size_t)x->n * x->c * ((HW + NORM_VEC - 1) / NORM_VEC);
  return clm_kernel_launch(ctx, k, 1, &global, NULL);
}

/* Synchronised batch norm, forward: each rank's per-channel mean and Σ(x - mean)² (bn_stats
 * raw) merged over the ranks in double (Chan et al.: M2 = Σ M2_r + M_r mean_r² - M mean²), the
 * whole batch's mean and 1/sqrt(var + eps) written back to saved, and the running statistics
 * updated from them as bn_stats would on one device with the whole batch. */
static clm_status sync_stats(clm_context *ctx, const clm_tensor *saved, const clm_tensor *rmean,
                             const clm_tensor *rvar, int C, double M, float momentum, float eps) {
  size_t n = (size_t)C;
  float *h = malloc(5 * n * sizeof *h);
  double *sum = malloc((2 * n + 1) * sizeof *sum);
  clm_status st = h && sum ? CLM_OK : CLM_ERROR(CLM_ERR_HOST_MEMORY, "batch norm: %d channels", C);
  float *sv = h, *rm = h + 2 * n, *rv = h + 3 * n;
  if (st == CLM_OK) st = clm_tensor_download(ctx, saved, sv);
  if (st == CLM_OK) st = clm_tensor_download(ctx, rmean, rm);
  if (st == CLM_OK) st = clm_tensor_download(ctx, rvar, rv);
  if (st == CLM_OK) {
    for (size_t c = 0; c < n; c++) {
      sum[c] = M * sv[c];
      sum[n + c] = (double)sv[n + c] + M * (double)sv[c] * sv[c];
    }
    sum[2 * n] = M;
    st = ctx->bn_allreduce(ctx->bn_allreduce_user, sum, 2 * n + 1);
  }
  if (st == CLM_OK) {
    double Mg = sum[2 * n];
    for (size_t c = 0; c < n; c++) {
      double mean = sum[c] / Mg, m2 = sum[n + c] - Mg * mean * mean;
      if (m2 < 0) m2 = 0;
      sv[c] = (float)mean;
      sv[n + c] = (float)(1.0 / sqrt(m2 / Mg + eps));
      rm[c] = (float)((1.0 - momentum) * rm[c] + momentum * mean);
      rv[c] = (float)((1.0 - momentum) * rv[c] + momentum * (m2 / (Mg - 1)));
    }
    st = clm_tensor_upload(ctx, saved, sv);
  }
  if (st == CLM_OK) st = clm_tensor_upload(ctx, rmean, rm);
  if (st == CLM_OK) st = clm_tensor_upload(ctx, rvar, rv);
  free(h);
  free(sum);
  return st;
}

/* Synchronised batch norm, backward: this rank's Σg and Σ g xhat per channel
 * (bn_backward_sums), summed over the ranks into `gsum` (2C floats on the device), and *Mg the
 * ranks' values per channel together. */
static clm_status sync_grad_sums(clm_context *ctx, const clm_tensor *x, const clm_tensor *y,
                                 const clm_tensor *dy, const clm_tensor *saved, clm_activation act,
                                 float slope, const clm_tensor *gsum, float *Mg) {
  int C = x->c;
  size_t n = (size_t)C;
  cl_kernel k;
  size_t wg;
  CLM_TRY(norm_kernel(ctx, "bn_backward_sums", &k, &wg));
  CLM_TRY(clm_kernel_args(k, "tttttiiiifi", x, y, dy, saved, gsum, x->n, C, x->h * x->w, (int)act,
                          (double)slope, contig(ctx)));
  CLM_TRY(launch_per_channel(ctx, k, wg, C));
  float *h = malloc(2 * n * sizeof *h);
  double *sum = malloc((2 * n + 1) * sizeof *sum);
  clm_status st = h && sum ? CLM_OK : CLM_ERROR(CLM_ERR_HOST_MEMORY, "batch norm: %d channels", C);
  if (st == CLM_OK) st = clm_tensor_download(ctx, gsum, h);
  if (st == CLM_OK) {
    for (size_t i = 0; i < 2 * n; i++) sum[i] = h[i];
    sum[2 * n] = (double)x->n * x->h * x->w;
    st = ctx->bn_allreduce(ctx->bn_allreduce_user, sum, 2 * n + 1);
  }
  if (st == CLM_OK) {
    for (size_t i = 0; i < 2 * n; i++) h[i] = (float)sum[i];
    *Mg = (float)sum[2 * n];
    st = clm_tensor_upload(ctx, gsum, h);
  }
  free(h);
  free(sum);
  return st;
}

clm_status clm_batchnorm_act_forward_train(clm_context *ctx, clm_activation act, float slope,
                                           const clm_tensor *x, const clm_tensor *gamma,
                                           const clm_tensor *beta, const clm_tensor *y,
                                           const clm_tensor *saved,
                                           const clm_tensor *running_mean,
                                           const clm_tensor *running_var, float momentum,
                                           float eps) {
  static const char op[] = "batchnorm forward (training)";
  CLM_TRY(clm_activation_check(op, act, slope));
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
  int sync = ctx->bn_allreduce != NULL;
  CLM_TRY(norm_kernel(ctx, "bn_stats", &k, &wg));
  CLM_TRY(clm_kernel_args(k, "ttttiiiffii", x, saved, running_mean, running_var, x->n, C, HW,
                          (double)momentum, (double)eps, contig(ctx), sync));
  CLM_TRY(launch_per_channel(ctx, k, wg, C));
  if (sync) CLM_TRY(sync_stats(ctx, saved, running_mean, running_var, C, (double)x->n * HW, momentum, eps));
  clm_tensor mean = clm_tensor_view(saved->buf, saved->off, 1, C, 1, 1);
  clm_tensor invstd = clm_tensor_view(saved->buf, saved->off + (size_t)C, 1, C, 1, 1);
  return normalize(ctx, x, &mean, &invstd, gamma, beta, y, 0, eps, act, slope);
}

clm_status clm_batchnorm_forward_train(clm_context *ctx, const clm_tensor *x,
                                       const clm_tensor *gamma, const clm_tensor *beta,
                                       const clm_tensor *y, const clm_tensor *saved,
                                       const clm_tensor *running_mean,
                                       const clm_tensor *running_var, float momentum, float eps) {
  return clm_batchnorm_act_forward_train(ctx, CLM_ACTIVATION_NONE, 0.0f, x, gamma, beta, y, saved,
                                         running_mean, running_var, momentum, eps);
}

clm_status clm_batchnorm_act_forward_eval(clm_context *ctx, clm_activation act, float slope,
                                          const clm_tensor *x, const clm_tensor *gamma,
                                          const clm_tensor *beta, const clm_tensor *running_mean,
                                          const clm_tensor *running_var, float eps,
                                          const clm_tensor *y) {
  static const char op[] = "batchnorm forward (eval)";
  CLM_TRY(clm_activation_check(op, act, slope));
  CLM_TRY(check_x(op, x));
  int C = x->c;
  CLM_TRY(same_shape(op, "y", y, x));
  CLM_TRY(per_channel(op, "gamma", gamma, C));
  CLM_TRY(per_channel(op, "beta", beta, C));
  CLM_TRY(per_channel(op, "running_mean", running_mean, C));
  CLM_TRY(per_channel(op, "running_var", running_var, C));
  if (!(eps >= 0.0f) || !isfinite(eps))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: eps %g must be finite and >= 0", op, eps);
  return normalize(ctx, x, running_mean, running_var, gamma, beta, y, 1, eps, act, slope);
}

clm_status clm_batchnorm_forward_eval(clm_context *ctx, const clm_tensor *x,
                                      const clm_tensor *gamma, const clm_tensor *beta,
                                      const clm_tensor *running_mean,
                                      const clm_tensor *running_var, float eps,
                                      const clm_tensor *y) {
  return clm_batchnorm_act_forward_eval(ctx, CLM_ACTIVATION_NONE, 0.0f, x, gamma, beta, running_mean,
                                        running_var, eps, y);
}

clm_status clm_batchnorm_act_backward(clm_context *ctx, clm_activation act, float slope,
                                      const clm_tensor *x, const clm_tensor *y,
                                      const clm_tensor *dy, const clm_tensor *gamma,
                                      const clm_tensor *saved, const clm_tensor *dx,
                                      const clm_tensor *dgamma, const clm_tensor *dbeta,
                                      int accumulate) {
  static const char op[] = "batchnorm backward";
  CLM_TRY(clm_activation_check(op, act, slope));
  CLM_TRY(check_x(op, x));
  int C = x->c;
  if (act != CLM_ACTIVATION_NONE) CLM_TRY(same_shape(op, "y (the activation's output)", y, x));
  else y = x; /* not read */
  CLM_TRY(same_shape(op, "dy", dy, x));
  CLM_TRY(same_shape(op, "dx", dx, x));
  CLM_TRY(per_channel(op, "gamma", gamma, C));
  CLM_TRY(per_channel(op, "saved statistics", saved, 2 * C));
  CLM_TRY(per_channel(op, "dgamma", dgamma, C));
  CLM_TRY(per_channel(op, "dbeta", dbeta, C));
  cl_kernel k;
  size_t wg;
  int sync = ctx->bn_allreduce != NULL;
  float Mg = 0.0f;
  clm_mem gbuf = NULL;
  clm_tensor gsum = *saved; /* not read without sync */
  if (sync) {
    CLM_TRY(clm_buffer_alloc(ctx, 2 * (size_t)C, &gbuf));
    gsum = clm_tensor_view(gbuf, 0, 1, 2 * C, 1, 1);
    clm_status st = sync_grad_sums(ctx, x, y, dy, saved, act, slope, &gsum, &Mg);
    if (st != CLM_OK) {
      clm_buffer_free(ctx, gbuf);
      return st;
    }
  }
  clm_status st = norm_kernel(ctx, "bn_backward", &k, &wg);
  if (st == CLM_OK)
    st = clm_kernel_args(k, "ttttttttiiiiifitfi", x, y, dy, gamma, saved, dx, dgamma, dbeta, x->n,
                         C, x->h * x->w, accumulate ? 1 : 0, (int)act, (double)slope, contig(ctx),
                         &gsum, (double)Mg, sync);
  if (st == CLM_OK) st = launch_per_channel(ctx, k, wg, C);
  if (sync) { /* the kernel reads gsum: done before the buffer goes */
    clm_status fin = clm_context_finish(ctx);
    if (st == CLM_OK) st = fin;
    clm_buffer_free(ctx, gbuf);
  }
  return st;
}

clm_status clm_batchnorm_backward(clm_context *ctx, const clm_tensor *x, const clm_tensor *dy,
                                  const clm_tensor *gamma, const clm_tensor *saved,
                                  const clm_tensor *dx, const clm_tensor *dgamma,
                                  const clm_tensor *dbeta, int accumulate) {
  return clm_batchnorm_act_backward(ctx, CLM_ACTIVATION_NONE, 0.0f, x, NULL, dy, gamma, saved, dx,
                                    dgamma, dbeta, accumulate);
}

/* Does [a, a + n) overlap [b, b + m) in the same buffer? */
static int overlaps(const clm_tensor *a, const clm_tensor *b) {
  if (!clm_tensor_present(a) || !clm_tensor_present(b) || a->buf != b->buf) return 0;
  return a->off < b->off + clm_tensor_numel(b) && b->off < a->off + clm_tensor_numel(a);
}

clm_status clm_batchnorm_fold(clm_context *ctx, int transposed, const clm_tensor *w,
                              const clm_tensor *b, const clm_tensor *gamma, const clm_tensor *beta,
                              const clm_tensor *running_mean, const clm_tensor *running_var,
                              float eps, const clm_tensor *w_out, const clm_tensor *b_out) {
  static const char op[] = "batchnorm fold";
  CLM_TRY(need(op, "w", w));
  if (clm_tensor_numel(w) == 0 || clm_tensor_numel(w) > INT_MAX - (size_t)w->n - (size_t)w->c)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: w is " SHAPE_FMT ": empty or too large for int indexing", op,
             SHAPE_ARGS(w));
  int K = transposed ? w->c : w->n;
  int inner = transposed ? w->h * w->w : w->c * w->h * w->w;
  CLM_TRY(same_shape(op, "w_out", w_out, w));
  CLM_TRY(per_channel(op, "b_out", b_out, K));
  if (clm_tensor_present(b)) CLM_TRY(per_channel(op, "b", b, K));
  CLM_TRY(per_channel(op, "gamma", gamma, K));
  CLM_TRY(per_channel(op, "beta", beta, K));
  CLM_TRY(per_channel(op, "running_mean", running_mean, K));
  CLM_TRY(per_channel(op, "running_var", running_var, K));
  if (!(eps >= 0.0f) || !isfinite(eps))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: eps %g must be finite and >= 0", op, eps);
  const clm_tensor *ins[] = {w, b, gamma, beta, running_mean, running_var};
  for (size_t i = 0; i < sizeof ins / sizeof ins[0]; i++)
    if (overlaps(w_out, ins[i]) || overlaps(b_out, ins[i]))
      CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: the folded outputs overlap an input", op);
  if (overlaps(w_out, b_out)) CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: w_out and b_out overlap", op);
  int has_bias = clm_tensor_present(b);
  cl_kernel k;
  size_t wg;
  CLM_TRY(norm_kernel(ctx, "bn_fold", &k, &wg));
  int nw = (int)clm_tensor_numel(w);
  CLM_TRY(clm_kernel_args(k, "ttittttttiiif", w, has_bias ? b : w, has_bias, gamma, beta,
                          running_mean, running_var, w_out, b_out, nw, inner, K, (double)eps));
  size_t global = (size_t)nw + (size_t)K;
  return clm_kernel_launch(ctx, k, 1, &global, NULL);
}
