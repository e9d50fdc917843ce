/* Element-wise ops (host side of cl/eltwise.cl and the `copy` kernel of cl/tensor.cl):
 * activations forward and backward, add, copy and the channel-slice copy that concat forward
 * and backward are made of. Shape checks and 1-D launches only; backward rules live with the
 * graph code. */
#include <limits.h>
#include <math.h>
#include "ops/ops.h"

#define SHAPE_FMT "(%d, %d, %d, %d)"
#define SHAPE_ARGS(t) (t)->n, (t)->c, (t)->h, (t)->w

static clm_status need(const char *op, const char *what, const clm_tensor *t) {
  if (!clm_tensor_present(t)) CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: %s is missing", op, what);
  if (clm_tensor_numel(t) > INT_MAX)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %s has %zu elements, more than the kernels' int indexing allows",
             op, what, clm_tensor_numel(t));
  return CLM_OK;
}

static clm_status same_shape(const char *op, const char *what, const clm_tensor *t,
                             const char *ref_name, const clm_tensor *ref) {
  CLM_TRY(need(op, what, t));
  if (t->n != ref->n || t->c != ref->c || t->h != ref->h || t->w != ref->w)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %s is " SHAPE_FMT ", %s is " SHAPE_FMT, op, what, SHAPE_ARGS(t),
             ref_name, SHAPE_ARGS(ref));
  return CLM_OK;
}

/* Element-wise kernels handle an output that is exactly its input (same buffer and offset),
 * not one that overlaps it shifted. */
static clm_status no_partial_overlap(const char *op, const clm_tensor *out, const clm_tensor *in) {
  if (out->buf != in->buf || out->off == in->off) return CLM_OK;
  size_t n = clm_tensor_numel(out), m = clm_tensor_numel(in);
  if (out->off < in->off + m && in->off < out->off + n)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: output at offset %zu partially overlaps an input at "
             "offset %zu of the same buffer", op, out->off, in->off);
  return CLM_OK;
}

/* Elements per work-item of the activation kernels: ELT_VEC in cl/eltwise.cl. */
#define ELT_VEC 16

clm_status clm_activation_check(const char *op, clm_activation act, float slope) {
  if (act != CLM_ACTIVATION_NONE && act != CLM_ACTIVATION_RELU && act != CLM_ACTIVATION_LEAKY_RELU &&
      act != CLM_ACTIVATION_SIGMOID)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: unknown activation %d", op, (int)act);
  if (act == CLM_ACTIVATION_LEAKY_RELU && !(slope > 0.0f && isfinite(slope)))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: leaky relu slope %g must be finite and > 0", op, slope);
  return CLM_OK;
}

clm_status clm_activation_forward(clm_context *ctx, clm_activation act, float slope,
                                  const clm_tensor *x, const clm_tensor *y) {
  static const char op[] = "activation forward";
  CLM_TRY(clm_activation_check(op, act, slope));
  CLM_TRY(need(op, "x", x));
  CLM_TRY(same_shape(op, "y", y, "x", x));
  CLM_TRY(no_partial_overlap(op, y, x));
  if (act == CLM_ACTIVATION_NONE && x->buf == y->buf && x->off == y->off) return CLM_OK;
  size_t n = clm_tensor_numel(x);
  return clm_launch_1d(ctx, "eltwise", "act_forward", (n + ELT_VEC - 1) / ELT_VEC, "ttiif", x, y,
                       (int)n, (int)act, (double)slope);
}

clm_status clm_activation_backward(clm_context *ctx, clm_activation act, float slope,
                                   const clm_tensor *y, const clm_tensor *dy, const clm_tensor *dx,
                                   int accumulate) {
  static const char op[] = "activation backward";
  CLM_TRY(clm_activation_check(op, act, slope));
  CLM_TRY(need(op, "y", y));
  CLM_TRY(same_shape(op, "dy", dy, "y", y));
  CLM_TRY(same_shape(op, "dx", dx, "y", y));
  CLM_TRY(no_partial_overlap(op, dx, dy));
  CLM_TRY(no_partial_overlap(op, dx, y));
  size_t n = clm_tensor_numel(y);
  return clm_launch_1d(ctx, "eltwise", "act_backward", (n + ELT_VEC - 1) / ELT_VEC, "tttiifi", y,
                       dy, dx, (int)n, (int)act, (double)slope, accumulate ? 1 : 0);
}

clm_status clm_add_forward(clm_context *ctx, const clm_tensor *a, const clm_tensor *b,
                           const clm_tensor *y) {
  static const char op[] = "add";
  CLM_TRY(need(op, "a", a));
  CLM_TRY(same_shape(op, "b", b, "a", a));
  CLM_TRY(same_shape(op, "y", y, "a", a));
  CLM_TRY(no_partial_overlap(op, y, a));
  CLM_TRY(no_partial_overlap(op, y, b));
  size_t n = clm_tensor_numel(a);
  return clm_launch_1d(ctx, "eltwise", "add", n, "ttti", a, b, y, (int)n);
}

clm_status clm_copy(clm_context *ctx, const clm_tensor *src, const clm_tensor *dst,
                    int accumulate) {
  static const char op[] = "copy";
  CLM_TRY(need(op, "src", src));
  CLM_TRY(need(op, "dst", dst));
  size_t n = clm_tensor_numel(src);
  if (clm_tensor_numel(dst) != n)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: src " SHAPE_FMT " has %zu elements, dst " SHAPE_FMT " %zu", op,
             SHAPE_ARGS(src), n, SHAPE_ARGS(dst), clm_tensor_numel(dst));
  CLM_TRY(no_partial_overlap(op, dst, src));
  if (src->buf == dst->buf && src->off == dst->off && !accumulate) return CLM_OK;
  return clm_launch_1d(ctx, "tensor", "copy", n, "ttii", src, dst, (int)n, accumulate ? 1 : 0);
}

clm_status clm_channel_copy(clm_context *ctx, const clm_tensor *src, int src_c0,
                            const clm_tensor *dst, int dst_c0, int channels, int accumulate) {
  static const char op[] = "channel copy";
  CLM_TRY(need(op, "src", src));
  CLM_TRY(need(op, "dst", dst));
  if (src->n != dst->n || src->h != dst->h || src->w != dst->w)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: src " SHAPE_FMT " and dst " SHAPE_FMT " differ in N, H or W", op,
             SHAPE_ARGS(src), SHAPE_ARGS(dst));
  if (channels < 0 || src_c0 < 0 || dst_c0 < 0 || src_c0 > src->c - channels ||
      dst_c0 > dst->c - channels)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: channels [%d, %d) of src (C=%d) to [%d, %d) of dst (C=%d) are "
             "out of range", op, src_c0, src_c0 + channels, src->c, dst_c0, dst_c0 + channels,
             dst->c);
  if (src->buf == dst->buf && src->off < dst->off + clm_tensor_numel(dst) &&
      dst->off < src->off + clm_tensor_numel(src))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: src and dst overlap in one buffer", op);
  if (channels == 0 || src->n == 0 || src->h == 0 || src->w == 0) return CLM_OK;
  cl_kernel k;
  size_t max_wg;
  CLM_TRY(clm_kernel_get(ctx, "eltwise", NULL, "channel_copy", &k, &max_wg));
  CLM_TRY(clm_kernel_args(k, "ttiiiiiiii", src, dst, src->n, src->c, dst->c, src->h * src->w,
                          src_c0, dst_c0, channels, accumulate ? 1 : 0));
  size_t hw = (size_t)src->h * src->w, wg = max_wg < ctx->launch_wg ? max_wg : ctx->launch_wg;
  while (wg > 1 && wg / 2 >= hw) wg /= 2; /* small planes: do not launch mostly idle groups */
  size_t global[2] = {hw, (size_t)src->n * (size_t)channels}, local[2] = {wg, 1};
  return clm_kernel_launch(ctx, k, 2, global, local);
}
