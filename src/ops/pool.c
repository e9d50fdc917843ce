/* Host side of pooling and resizing (cl/pool.cl): shape checks and launches for 2x2 max-pool
 * with indices, max-unpool and bilinear x2 upsampling, forward and backward. All backward
 * passes are gathers (one work-item per written element), so they are deterministic and
 * need no atomics. Activation gradients are written (=), or added (+=) with accumulate. */
#include <limits.h>
#include "ops/ops.h"

/* Largest plane for which a flat index h*W + w is exact in a float. */
#define MAX_INDEXED_PLANE (1 << 24)

static int same_shape(const clm_tensor *a, const clm_tensor *b) {
  return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w;
}

static int fits_int(const clm_tensor *t) { return clm_tensor_numel(t) <= (size_t)INT_MAX; }

/* Checks full (N, C, H, W) against its 2x2-pooled half (N, C, H/2, W/2) and the index tensor. */
static clm_status check_pool_shapes(const char *op, const clm_tensor *full, const clm_tensor *half,
                                    const clm_tensor *idx) {
  if (!clm_tensor_present(full) || !clm_tensor_present(half) || !clm_tensor_present(idx))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: a required tensor is missing", op);
  if (full->h < 2 || full->w < 2)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: 2x2 pooling needs H, W >= 2, got (%d, %d, %d, %d)", op, full->n,
             full->c, full->h, full->w);
  if (half->n != full->n || half->c != full->c || half->h != full->h / 2 ||
      half->w != full->w / 2)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: pooled (%d, %d, %d, %d) is not 2x2-pooled (%d, %d, %d, %d)", op,
             half->n, half->c, half->h, half->w, full->n, full->c, full->h, full->w);
  if (!same_shape(idx, half))
    CLM_FAIL(CLM_ERR_SHAPE, "%s: indices (%d, %d, %d, %d) differ from pooled (%d, %d, %d, %d)",
             op, idx->n, idx->c, idx->h, idx->w, half->n, half->c, half->h, half->w);
  if ((size_t)full->h * (size_t)full->w > MAX_INDEXED_PLANE)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: a %dx%d plane is too large for float indices (max 2^24)", op,
             full->h, full->w);
  if (!fits_int(full))
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %zu elements exceed the int range kernels index with", op,
             clm_tensor_numel(full));
  return CLM_OK;
}

clm_status clm_maxpool2x2_forward(clm_context *ctx, const clm_tensor *x, const clm_tensor *y,
                                  const clm_tensor *idx) {
  CLM_TRY(check_pool_shapes("maxpool2x2_forward", x, y, idx));
  return clm_launch_1d(ctx, "pool", "maxpool2x2_forward", clm_tensor_numel(y), "tttiii", x, y,
                       idx, x->n * x->c, x->h, x->w);
}

/* Work-items of unpool2x2_gather writing y: one per 2x2 block. */
static size_t gather_items(const clm_tensor *y) {
  return (size_t)y->n * y->c * (size_t)((y->h + 1) / 2) * (size_t)((y->w + 1) / 2);
}

clm_status clm_maxpool2x2_backward(clm_context *ctx, const clm_tensor *dy, const clm_tensor *idx,
                                   const clm_tensor *dx, int accumulate) {
  CLM_TRY(check_pool_shapes("maxpool2x2_backward", dx, dy, idx));
  return clm_launch_1d(ctx, "pool", "unpool2x2_gather", gather_items(dx), "tttiiii", dy, idx, dx,
                       dx->n * dx->c, dx->h, dx->w, accumulate ? 1 : 0);
}

clm_status clm_maxunpool2x2_forward(clm_context *ctx, const clm_tensor *x, const clm_tensor *idx,
                                    const clm_tensor *y) {
  CLM_TRY(check_pool_shapes("maxunpool2x2_forward", y, x, idx));
  return clm_launch_1d(ctx, "pool", "unpool2x2_gather", gather_items(y), "tttiiii", x, idx, y,
                       y->n * y->c, y->h, y->w, 0);
}

clm_status clm_maxunpool2x2_backward(clm_context *ctx, const clm_tensor *dy, const clm_tensor *idx,
                                     const clm_tensor *dx, int accumulate) {
  CLM_TRY(check_pool_shapes("maxunpool2x2_backward", dy, dx, idx));
  return clm_launch_1d(ctx, "pool", "unpool2x2_backward", clm_tensor_numel(dx), "tttiiii", dy,
                       idx, dx, dy->n * dy->c, dy->h, dy->w, accumulate ? 1 : 0);
}

/* Checks small (N, C, H, W) against large (N, C, 2H, 2W). */
static clm_status check_up_shapes(const char *op, const clm_tensor *small,
                                  const clm_tensor *large) {
  if (!clm_tensor_present(small) || !clm_tensor_present(large))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: a required tensor is missing", op);
  if (large->n != small->n || large->c != small->c || large->h != 2 * small->h ||
      large->w != 2 * small->w)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: (%d, %d, %d, %d) is not x2 of (%d, %d, %d, %d)", op, large->n,
             large->c, large->h, large->w, small->n, small->c, small->h, small->w);
  if (!fits_int(large))
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %zu elements exceed the int range kernels index with", op,
             clm_tensor_numel(large));
  return CLM_OK;
}

clm_status clm_upsample2x_forward(clm_context *ctx, const clm_tensor *x, const clm_tensor *y) {
  CLM_TRY(check_up_shapes("upsample2x_forward", x, y));
  return clm_launch_1d(ctx, "pool", "upsample2x_forward", clm_tensor_numel(y) / 2 /* output pairs */, "ttiii", x, y,
                       x->n * x->c, x->h, x->w);
}

clm_status clm_upsample2x_backward(clm_context *ctx, const clm_tensor *dy, const clm_tensor *dx,
                                   int accumulate) {
  CLM_TRY(check_up_shapes("upsample2x_backward", dx, dy));
  return clm_launch_1d(ctx, "pool", "upsample2x_backward", clm_tensor_numel(dx), "ttiiii", dy, dx,
                       dx->n * dx->c, dx->h, dx->w, accumulate ? 1 : 0);
}
