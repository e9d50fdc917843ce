/* Internal interface between src/ops/conv.c and the Winograd convolution
 * (src/ops/conv_winograd.c, cl/conv_winograd.cl). Not part of the op layer's API. */
#ifndef CLMTL_CONV_WINOGRAD_H
#define CLMTL_CONV_WINOGRAD_H

#include "ops/conv_implicit.h"

/* 3×3 kernel, stride 1, dilation 1 (any padding): the shapes the Winograd variant runs;
 * conv.c sends the others, and every backward weight pass, to the implicit variant's paths. */
int clm_conv_winograd_fits(const conv_geom *g);

/* Floats of workspace for x (n, c, h, w), 3×3 w (k, c, 3, 3), y (n, k, ho, wo): enough for
 * either pass (forward, backward data) and either tile size. */
size_t clm_conv_winograd_workspace(int n, int c, int h, int w, int k, int ho, int wo);

/* y (=, or += with accumulate) = conv(x, w) + b (b optional) by F(m×m, 3×3), m = 2 or 4;
 * ws as sized above. */
clm_status clm_conv_winograd_forward(clm_context *ctx, int m, const conv_geom *g, const clm_tensor *x,
                                     const clm_tensor *w, const clm_tensor *b,
                                     const clm_tensor *y, const clm_tensor *ws, int accumulate);
/* dx (=, or += with accumulate) = the adjoint of the convolution applied to dy. */
clm_status clm_conv_winograd_backward_data(clm_context *ctx, int m, const conv_geom *g,
                                           const clm_tensor *dy, const clm_tensor *w,
                                           const clm_tensor *dx, const clm_tensor *ws,
                                           int accumulate);

#endif
