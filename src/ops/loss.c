/* Host side of reductions and task losses (cl/reduce.cl, cl/loss.cl): the deterministic
 * two-stage sum, softmax cross-entropy with an ignore label, and L1/L2 regression with an
 * optional mask, and the heteroscedastic (Laplace / Gaussian negative log-likelihood) forms of
 * L1/L2 with a predicted log-variance, and the logit-noise cross-entropy. A loss forward is two launches: per-group partial sums of the loss and of the
 * valid count computed straight from predictions and targets, then one group folding them
 * into loss = sum / max(count, 1) and count, all on the device with no host read-back; the
 * backward reads seed and count from device scalars. The multi-task weighting lives in
 * src/mtl. */
#include <limits.h>
#include <stdio.h>
#include "ops/ops.h"

/* Upper bound on stage-1 work-groups: enough to occupy a GPU, and stage 2 stays one group. */
#define REDUCE_MAX_GROUPS 256

static int same_shape(const clm_tensor *a, const clm_tensor *b) {
  return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w;
}

static int is_scalar(const clm_tensor *t) {
  return clm_tensor_present(t) && clm_tensor_numel(t) == 1;
}

/* ---- reduction ---------------------------------------------------------------------------- */

static size_t reduce_groups(size_t n, size_t wg) {
  size_t g = (n + wg - 1) / wg;
  if (g > REDUCE_MAX_GROUPS) g = REDUCE_MAX_GROUPS;
  return g ? g : 1;
}

/* The stage-1 group count never exceeds min(n, REDUCE_MAX_GROUPS) whatever the work-group
 * size, so the workspace does not depend on the kernel limit found at build time. */
size_t clm_reduce_workspace(const clm_context *ctx, size_t n) {
  (void)ctx;
  return n < 1 ? 1 : n < REDUCE_MAX_GROUPS ? n : REDUCE_MAX_GROUPS;
}

/* Both reduction kernels, built for one tree size (clm_tree_kernels). */
static clm_status reduce_kernels(clm_context *ctx, cl_kernel *partial, cl_kernel *final,
                                 size_t *wg_out) {
  static const char *const names[] = {"reduce_partial", "reduce_final"};
  cl_kernel k[2];
  CLM_TRY(clm_tree_kernels(ctx, "reduce", "REDUCE_WG", 2, names, k, wg_out));
  *partial = k[0];
  *final = k[1];
  return CLM_OK;
}

clm_status clm_reduce(clm_context *ctx, const clm_tensor *x, size_t n, clm_reduce_mode mode,
                      const clm_tensor *out, const clm_tensor *ws) {
  if (!clm_tensor_present(x) || !is_scalar(out) || !clm_tensor_present(ws))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "reduce: x, out (one element) and ws are required");
  if (n > clm_tensor_numel(x))
    CLM_FAIL(CLM_ERR_SHAPE, "reduce: %zu elements asked of a tensor of %zu", n,
             clm_tensor_numel(x));
  if (n > (size_t)INT_MAX)
    CLM_FAIL(CLM_ERR_SHAPE, "reduce: %zu elements exceed the int range kernels index with", n);
  cl_kernel kp, kf;
  size_t wg;
  CLM_TRY(reduce_kernels(ctx, &kp, &kf, &wg));
  size_t groups = reduce_groups(n, wg);
  if (clm_tensor_numel(ws) < groups)
    CLM_FAIL(CLM_ERR_SHAPE, "reduce: workspace of %zu floats, %zu needed", clm_tensor_numel(ws),
             groups);
  size_t global = groups * wg;
  int norm = mode == CLM_REDUCE_NORM2;
  CLM_TRY(clm_kernel_args(kp, "tiit", x, (int)n, norm, ws));
  CLM_TRY(clm_kernel_launch(ctx, kp, 1, &global, &wg));
  CLM_TRY(clm_kernel_args(kf, "tiit", ws, (int)groups, norm, out));
  return clm_kernel_launch(ctx, kf, 1, &wg, &wg);
}

clm_status clm_reduce_sum(clm_context *ctx, const clm_tensor *x, size_t n, const clm_tensor *out,
                          const clm_tensor *ws) {
  return clm_reduce(ctx, x, n, CLM_REDUCE_SUM, out, ws);
}

/* ---- fused loss reductions ---------------------------------------------------------------- */

size_t clm_loss_workspace(const clm_context *ctx, size_t n) {
  (void)ctx;
  return 2 * clm_reduce_workspace(ctx, (n + 15) / 16);
}

/* Launches `kernel` of cl/loss.cl (its arguments from index 0 already set except the last
 * three: per_item and the partials workspace) over `chunks` 16-element chunks, then
 * loss_final into loss, count. */
static clm_status loss_reduce_run(clm_context *ctx, const char *op, int which, size_t chunks,
                                  int nargs, const clm_tensor *ws, const clm_tensor *loss,
                                  const clm_tensor *count, cl_kernel *kernels, size_t wg) {
  size_t groups = reduce_groups(chunks, wg);
  /* CPUs: a few work-groups per core, each work-item summing one contiguous run of chunks
   * (see first_chunk in cl/loss.cl). Against 256 groups taking chunks a grid apart, this
   * lifted the default model's loss reduction from 30% to about 50% of the probe's bandwidth
   * on PoCL (fewer barrier trees, streams the prefetcher follows). */
  int per_item = 0;
  if (ctx->info.kind == CLM_DEVICE_CPU) {
    size_t cap = 4 * (size_t)(ctx->info.compute_units ? ctx->info.compute_units : 1);
    if (groups > cap) groups = cap;
    per_item = (int)((chunks + groups * wg - 1) / (groups * wg));
  }
  CLM_CL_TRY(clSetKernelArg(kernels[which], (cl_uint)nargs, sizeof(int), &per_item));
  nargs++;
  if (!clm_tensor_present(ws) || clm_tensor_numel(ws) < 2 * groups)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: workspace of %zu floats, %zu needed", op,
             clm_tensor_present(ws) ? clm_tensor_numel(ws) : (size_t)0, 2 * groups);
  CLM_CL_TRY(clSetKernelArg(kernels[which], (cl_uint)nargs, sizeof(cl_mem), &ws->buf));
  int woff = (int)ws->off;
  CLM_CL_TRY(clSetKernelArg(kernels[which], (cl_uint)nargs + 1, sizeof(int), &woff));
  size_t global = groups * wg;
  CLM_TRY(clm_kernel_launch(ctx, kernels[which], 1, &global, &wg));
  CLM_TRY(clm_kernel_args(kernels[2], "titt", ws, (int)groups, loss, count));
  return clm_kernel_launch(ctx, kernels[2], 1, &wg, &wg);
}

static clm_status loss_kernels(clm_context *ctx, cl_kernel *k, size_t *wg) {
  static const char *const names[] = {"xent_reduce", "regression_reduce", "loss_final",
                                      "hetero_reduce", "logit_noise_reduce"};
  return clm_tree_kernels(ctx, "loss", "LOSS_WG", 5, names, k, wg);
}


/* ---- softmax cross-entropy ---------------------------------------------------------------- */

static clm_status check_xent(const char *op, const clm_tensor *logits, const clm_tensor *labels) {
  if (!clm_tensor_present(logits) || !clm_tensor_present(labels))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: logits and labels are required", op);
  if (labels->n != logits->n || labels->c != 1 || labels->h != logits->h ||
      labels->w != logits->w)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: labels (%d, %d, %d, %d) do not fit logits (%d, %d, %d, %d)", op,
             labels->n, labels->c, labels->h, labels->w, logits->n, logits->c, logits->h,
             logits->w);
  if (clm_tensor_numel(logits) > (size_t)INT_MAX)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %zu logits exceed the int range kernels index with", op,
             clm_tensor_numel(logits));
  return CLM_OK;
}

clm_status clm_softmax_xent_forward(clm_context *ctx, const clm_tensor *logits,
                                    const clm_tensor *labels, int ignore, const clm_tensor *loss,
                                    const clm_tensor *count, const clm_tensor *ws) {
  CLM_TRY(check_xent("softmax_xent_forward", logits, labels));
  if (!is_scalar(loss) || !is_scalar(count))
    CLM_FAIL(CLM_ERR_SHAPE, "softmax_xent_forward: loss and count must be one-element tensors");
  int HW = logits->h * logits->w;
  size_t chunks = (size_t)logits->n * (size_t)((HW + 15) / 16);
  cl_kernel k[5];
  size_t wg;
  CLM_TRY(loss_kernels(ctx, k, &wg));
  CLM_TRY(clm_kernel_args(k[0], "ttiiii", logits, labels, logits->n, logits->c, HW, ignore));
  return loss_reduce_run(ctx, "softmax_xent_forward", 0, chunks, 8, ws, loss, count, k, wg);
}

clm_status clm_softmax_xent_backward(clm_context *ctx, const clm_tensor *logits,
                                     const clm_tensor *labels, int ignore, const clm_tensor *count,
                                     const clm_tensor *seed, const clm_tensor *dlogits,
                                     int accumulate) {
  CLM_TRY(check_xent("softmax_xent_backward", logits, labels));
  if (!clm_tensor_present(dlogits) || !same_shape(dlogits, logits))
    CLM_FAIL(CLM_ERR_SHAPE, "softmax_xent_backward: dlogits must be shaped like logits");
  if (!is_scalar(count) || !is_scalar(seed))
    CLM_FAIL(CLM_ERR_SHAPE, "softmax_xent_backward: count and seed must be one-element tensors");
  int HW = logits->h * logits->w;
  size_t chunks = (size_t)logits->n * (size_t)((HW + 15) / 16); /* see xent_backward */
  return clm_launch_1d(ctx, "loss", "xent_backward", chunks, "tttttiiiii", logits, labels, count,
                       seed, dlogits, logits->n, logits->c, HW, ignore, accumulate ? 1 : 0);
}

/* ---- L1 / L2 regression ------------------------------------------------------------------- */

static clm_status check_regression(const char *op, clm_regression_loss kind,
                                   const clm_tensor *pred, const clm_tensor *target,
                                   const clm_tensor *mask) {
  if (kind != CLM_LOSS_L1 && kind != CLM_LOSS_L2)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: unknown regression loss kind %d", op, (int)kind);
  if (!clm_tensor_present(pred) || !clm_tensor_present(target))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: pred and target are required", op);
  if (!same_shape(pred, target))
    CLM_FAIL(CLM_ERR_SHAPE, "%s: target (%d, %d, %d, %d) differs from pred (%d, %d, %d, %d)", op,
             target->n, target->c, target->h, target->w, pred->n, pred->c, pred->h, pred->w);
  if (clm_tensor_present(mask) &&
      (mask->n != pred->n || mask->c != 1 || mask->h != pred->h || mask->w != pred->w))
    CLM_FAIL(CLM_ERR_SHAPE, "%s: mask (%d, %d, %d, %d) is not (%d, 1, %d, %d)", op, mask->n,
             mask->c, mask->h, mask->w, pred->n, pred->h, pred->w);
  if (clm_tensor_numel(pred) > (size_t)INT_MAX)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %zu elements exceed the int range kernels index with", op,
             clm_tensor_numel(pred));
  return CLM_OK;
}

clm_status clm_regression_loss_forward(clm_context *ctx, clm_regression_loss kind,
                                       const clm_tensor *pred, const clm_tensor *target,
                                       const clm_tensor *mask, const clm_tensor *loss,
                                       const clm_tensor *count, const clm_tensor *ws) {
  CLM_TRY(check_regression("regression_loss_forward", kind, pred, target, mask));
  if (!is_scalar(loss) || !is_scalar(count))
    CLM_FAIL(CLM_ERR_SHAPE, "regression_loss_forward: loss and count must be one-element tensors");
  int has_mask = clm_tensor_present(mask);
  const clm_tensor *m = has_mask ? mask : pred; /* a valid buffer the kernel never reads */
  int HW = pred->h * pred->w;
  size_t chunks = (size_t)pred->n * (size_t)pred->c * (size_t)((HW + 15) / 16);
  cl_kernel k[5];
  size_t wg;
  CLM_TRY(loss_kernels(ctx, k, &wg));
  CLM_TRY(clm_kernel_args(k[1], "tttiiiii", pred, target, m, has_mask, pred->n, pred->c, HW,
                          (int)kind));
  return loss_reduce_run(ctx, "regression_loss_forward", 1, chunks, 11, ws, loss, count, k, wg);
}

clm_status clm_regression_loss_backward(clm_context *ctx, clm_regression_loss kind,
                                        const clm_tensor *pred, const clm_tensor *target,
                                        const clm_tensor *mask, const clm_tensor *count,
                                        const clm_tensor *seed, const clm_tensor *dpred,
                                        int accumulate) {
  CLM_TRY(check_regression("regression_loss_backward", kind, pred, target, mask));
  if (!clm_tensor_present(dpred) || !same_shape(dpred, pred))
    CLM_FAIL(CLM_ERR_SHAPE, "regression_loss_backward: dpred must be shaped like pred");
  if (!is_scalar(count) || !is_scalar(seed))
    CLM_FAIL(CLM_ERR_SHAPE, "regression_loss_backward: count and seed must be one-element tensors");
  int has_mask = clm_tensor_present(mask);
  const clm_tensor *m = has_mask ? mask : pred; /* a valid buffer the kernel never reads */
  return clm_launch_1d(ctx, "loss", "regression_backward", clm_tensor_numel(pred),
                       "tttitttiiiii", pred, target, m, has_mask, count, seed, dpred, pred->n,
                       pred->c, pred->h * pred->w, (int)kind, accumulate ? 1 : 0);
}

/* ---- heteroscedastic L1 / L2: Laplace and Gaussian negative log-likelihood ----------------- */

static clm_status check_hetero(const char *op, clm_regression_loss kind, const clm_tensor *pred,
                               const clm_tensor *logvar, const clm_tensor *target,
                               const clm_tensor *mask) {
  CLM_TRY(check_regression(op, kind, pred, target, mask));
  if (!clm_tensor_present(logvar) || !same_shape(logvar, pred))
    CLM_FAIL(CLM_ERR_SHAPE, "%s: logvar (%d, %d, %d, %d) must be shaped like pred (%d, %d, %d, %d)",
             op, clm_tensor_present(logvar) ? logvar->n : 0, clm_tensor_present(logvar) ? logvar->c : 0,
             clm_tensor_present(logvar) ? logvar->h : 0, clm_tensor_present(logvar) ? logvar->w : 0,
             pred->n, pred->c, pred->h, pred->w);
  return CLM_OK;
}

clm_status clm_hetero_loss_forward(clm_context *ctx, clm_regression_loss kind,
                                   const clm_tensor *pred, const clm_tensor *logvar,
                                   const clm_tensor *target, const clm_tensor *mask,
                                   const clm_tensor *loss, const clm_tensor *count,
                                   const clm_tensor *ws) {
  CLM_TRY(check_hetero("hetero_loss_forward", kind, pred, logvar, target, mask));
  if (!is_scalar(loss) || !is_scalar(count))
    CLM_FAIL(CLM_ERR_SHAPE, "hetero_loss_forward: loss and count must be one-element tensors");
  int has_mask = clm_tensor_present(mask);
  const clm_tensor *m = has_mask ? mask : pred; /* a valid buffer the kernel never reads */
  int HW = pred->h * pred->w;
  size_t chunks = (size_t)pred->n * (size_t)pred->c * (size_t)((HW + 15) / 16);
  cl_kernel k[5];
  size_t wg;
  CLM_TRY(loss_kernels(ctx, k, &wg));
  CLM_TRY(clm_kernel_args(k[3], "ttttiiiii", pred, logvar, target, m, has_mask, pred->n, pred->c,
                          HW, (int)kind));
  return loss_reduce_run(ctx, "hetero_loss_forward", 3, chunks, 13, ws, loss, count, k, wg);
}

clm_status clm_hetero_loss_backward(clm_context *ctx, clm_regression_loss kind,
                                    const clm_tensor *pred, const clm_tensor *logvar,
                                    const clm_tensor *target, const clm_tensor *mask,
                                    const clm_tensor *count, const clm_tensor *seed,
                                    const clm_tensor *dpred, int acc_pred,
                                    const clm_tensor *dlogvar, int acc_logvar) {
  CLM_TRY(check_hetero("hetero_loss_backward", kind, pred, logvar, target, mask));
  if (!clm_tensor_present(dpred) || !same_shape(dpred, pred) || !clm_tensor_present(dlogvar) ||
      !same_shape(dlogvar, pred))
    CLM_FAIL(CLM_ERR_SHAPE, "hetero_loss_backward: dpred and dlogvar must be shaped like pred");
  if (!is_scalar(count) || !is_scalar(seed))
    CLM_FAIL(CLM_ERR_SHAPE, "hetero_loss_backward: count and seed must be one-element tensors");
  int has_mask = clm_tensor_present(mask);
  const clm_tensor *m = has_mask ? mask : pred; /* a valid buffer the kernel never reads */
  return clm_launch_1d(ctx, "loss", "hetero_backward", clm_tensor_numel(pred),
                       "ttttittttiiiiii", pred, logvar, target, m, has_mask, count, seed, dpred,
                       dlogvar, pred->n, pred->c, pred->h * pred->w, (int)kind,
                       acc_pred ? 1 : 0, acc_logvar ? 1 : 0);
}

/* ---- logit-noise cross-entropy (Kendall & Gal 2017, analytic form) -------------------------- */

static clm_status check_logit_noise(const char *op, const clm_tensor *logits,
                                    const clm_tensor *logvar, const clm_tensor *labels) {
  CLM_TRY(check_xent(op, logits, labels));
  if (!clm_tensor_present(logvar) || logvar->n != logits->n || logvar->c != 1 ||
      logvar->h != logits->h || logvar->w != logits->w)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: logvar must be (%d, 1, %d, %d), one log-variance per pixel", op,
             logits->n, logits->h, logits->w);
  return CLM_OK;
}

clm_status clm_logit_noise_xent_forward(clm_context *ctx, const clm_tensor *logits,
                                        const clm_tensor *logvar, const clm_tensor *labels,
                                        int ignore, const clm_tensor *loss,
                                        const clm_tensor *count, const clm_tensor *ws) {
  CLM_TRY(check_logit_noise("logit_noise_xent_forward", logits, logvar, labels));
  if (!is_scalar(loss) || !is_scalar(count))
    CLM_FAIL(CLM_ERR_SHAPE, "logit_noise_xent_forward: loss and count must be one-element tensors");
  int HW = logits->h * logits->w;
  size_t pixels = (size_t)logits->n * (size_t)HW;
  cl_kernel k[5];
  size_t wg;
  CLM_TRY(loss_kernels(ctx, k, &wg));
  CLM_TRY(clm_kernel_args(k[4], "tttiiiii", logits, logvar, labels, logits->n, logits->c, HW,
                          ignore, 0));
  return loss_reduce_run(ctx, "logit_noise_xent_forward", 4, pixels, 11, ws, loss, count, k, wg);
}

clm_status clm_logit_noise_xent_backward(clm_context *ctx, const clm_tensor *logits,
                                         const clm_tensor *logvar, const clm_tensor *labels,
                                         int ignore, const clm_tensor *count,
                                         const clm_tensor *seed, const clm_tensor *dlogits,
                                         int acc_logits, const clm_tensor *dlogvar,
                                         int acc_logvar) {
  CLM_TRY(check_logit_noise("logit_noise_xent_backward", logits, logvar, labels));
  if (!clm_tensor_present(dlogits) || !same_shape(dlogits, logits) ||
      !clm_tensor_present(dlogvar) || !same_shape(dlogvar, logvar))
    CLM_FAIL(CLM_ERR_SHAPE, "logit_noise_xent_backward: dlogits and dlogvar must be shaped like "
             "logits and logvar");
  if (!is_scalar(count) || !is_scalar(seed))
    CLM_FAIL(CLM_ERR_SHAPE, "logit_noise_xent_backward: count and seed must be one-element tensors");
  int HW = logits->h * logits->w;
  return clm_launch_1d(ctx, "loss", "logit_noise_backward", (size_t)logits->n * (size_t)HW,
                       "tttttttiiiiiii", logits, logvar, labels, count, seed, dlogits, dlogvar,
                       logits->n, logits->c, HW, ignore, 0, acc_logits ? 1 : 0,
                       acc_logvar ? 1 : 0);
}

/* ---- softmax cross-entropy with a learned temperature (Kendall et al. 2018, exact) ----------- */

static clm_status check_temperature(const char *op, const clm_tensor *logits,
                                    const clm_tensor *s, const clm_tensor *labels) {
  CLM_TRY(check_xent(op, logits, labels));
  if (!is_scalar(s)) CLM_FAIL(CLM_ERR_SHAPE, "%s: s (log σ²) must be one element", op);
  return CLM_OK;
}

clm_status clm_xent_temperature_forward(clm_context *ctx, const clm_tensor *logits,
                                        const clm_tensor *s, const clm_tensor *labels, int ignore,
                                        const clm_tensor *loss, const clm_tensor *count,
                                        const clm_tensor *ws) {
  CLM_TRY(check_temperature("xent_temperature_forward", logits, s, labels));
  if (!is_scalar(loss) || !is_scalar(count))
    CLM_FAIL(CLM_ERR_SHAPE, "xent_temperature_forward: loss and count must be one-element tensors");
  int HW = logits->h * logits->w;
  cl_kernel k[5];
  size_t wg;
  CLM_TRY(loss_kernels(ctx, k, &wg));
  CLM_TRY(clm_kernel_args(k[4], "tttiiiii", logits, s, labels, logits->n, logits->c, HW, ignore, 1));
  return loss_reduce_run(ctx, "xent_temperature_forward", 4, (size_t)logits->n * (size_t)HW, 11,
                         ws, loss, count, k, wg);
}

size_t clm_xent_temperature_workspace(const clm_context *ctx, size_t pixels) {
  return pixels + clm_reduce_workspace(ctx, pixels) + 1;
}

clm_status clm_xent_temperature_backward(clm_context *ctx, const clm_tensor *logits,
                                         const clm_tensor *s, const clm_tensor *labels,
                                         int ignore, const clm_tensor *count,
                                         const clm_tensor *seed, const clm_tensor *dlogits,
                                         int acc_logits, const clm_tensor *ds,
                                         const clm_tensor *ws) {
  CLM_TRY(check_temperature("xent_temperature_backward", logits, s, labels));
  if (!clm_tensor_present(dlogits) || !same_shape(dlogits, logits) || !is_scalar(ds))
    CLM_FAIL(CLM_ERR_SHAPE, "xent_temperature_backward: dlogits must be shaped like logits and "
             "ds one element");
  if (!is_scalar(count) || !is_scalar(seed))
    CLM_FAIL(CLM_ERR_SHAPE, "xent_temperature_backward: count and seed must be one-element tensors");
  int HW = logits->h * logits->w;
  size_t pixels = (size_t)logits->n * (size_t)HW, rws = clm_reduce_workspace(ctx, pixels);
  if (!clm_tensor_present(ws) || clm_tensor_numel(ws) < pixels + rws + 1)
    CLM_FAIL(CLM_ERR_SHAPE, "xent_temperature_backward: workspace of %zu floats, %zu needed",
             clm_tensor_present(ws) ? clm_tensor_numel(ws) : (size_t)0, pixels + rws + 1);
  /* per-pixel shares of dL/ds, their sum, then added into ds */
  clm_tensor per = clm_tensor_view(ws->buf, ws->off, logits->n, 1, logits->h, logits->w);
  clm_tensor rw = clm_tensor_view(ws->buf, ws->off + pixels, 1, 1, 1, (int)rws);
  clm_tensor sum = clm_tensor_view(ws->buf, ws->off + pixels + rws, 1, 1, 1, 1);
  CLM_TRY(clm_launch_1d(ctx, "loss", "logit_noise_backward", pixels, "tttttttiiiiiii", logits, s,
                        labels, count, seed, dlogits, &per, logits->n, logits->c, HW, ignore, 1,
                        acc_logits ? 1 : 0, 0));
  CLM_TRY(clm_reduce_sum(ctx, &per, pixels, &sum, &rw));
  return clm_copy(ctx, &sum, ds, 1);
}
