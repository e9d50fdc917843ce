/* Internal interface between src/ops/conv.c and the implicit-GEMM convolution
 * (src/ops/conv_implicit.c, cl/conv_implicit.cl). Not part of the op layer's API. */
#ifndef CLMTL_CONV_IMPLICIT_H
#define CLMTL_CONV_IMPLICIT_H

#include "ops/ops.h"

/* A convolution's geometry in conv terms: x (N, C, H, W), w (K, C, R, S), y (N, K, Ho, Wo). */
typedef struct conv_geom {
  int n, c, h, w, k, r, s, ho, wo, stride, pad, dil;
} conv_geom;

/* The implicit variant runs these for stride 1 only (the caller checks; other strides use
 * the direct kernels). Tensors are checked by the caller; no workspace. */

/* y (=, or += with accumulate) = conv(x, w), then + b (optional) in the same store. */
clm_status clm_conv_implicit_forward(clm_context *ctx, const conv_geom *g, const clm_tensor *x,
                                     const clm_tensor *w, const clm_tensor *b,
                                     const clm_tensor *y, int accumulate);
/* dx (=, or += with accumulate) = the adjoint of the convolution applied to dy. */
clm_status clm_conv_implicit_backward_data(clm_context *ctx, const conv_geom *g,
                                           const clm_tensor *dy, const clm_tensor *w,
                                           const clm_tensor *dx, int accumulate);
/* dw += x ⋆ dy. */
clm_status clm_conv_implicit_backward_weight(clm_context *ctx, const conv_geom *g,
                                             const clm_tensor *x, const clm_tensor *dy,
                                             const clm_tensor *dw);

/* Tests only: run backward weight with this tile (clamped to each shape) instead of the
 * automatic choice, to reach ragged tiles along every axis; all zero restores the choice. */
void clm_conv_implicit_force_bw_tile(int kb, int cb, int tr, int ts);

#endif
