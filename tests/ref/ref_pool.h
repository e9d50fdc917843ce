/* Plain-C references for pooling and resizing (src/ops/pool.c), written the obvious way:
 * max-pool by scanning each window, its backward and max-unpool by SCATTERING through the
 * indices, bilinear x2 upsampling as PyTorch computes it (align_corners = false) and its
 * backward as the scatter-adjoint, accumulated in double. Shapes are NCHW with P = N*C
 * planes; indices are flat h*W + w within a plane, stored as float. */
#ifndef CLMTL_REF_POOL_H
#define CLMTL_REF_POOL_H

/* x (P, H, W) -> y, idx (P, H/2, W/2). */
void ref_maxpool2x2_forward(const float *x, int P, int H, int W, float *y, float *idx);
/* dx (P, H, W) = scatter of dy (P, H/2, W/2) to idx, zeros elsewhere (=). Also max-unpool's
 * forward with dy = x, dx = y. */
void ref_maxpool2x2_backward(const float *dy, const float *idx, int P, int H, int W, float *dx);
/* dx (P, H/2, W/2) = dy (P, H, W) at idx (=). */
void ref_maxunpool2x2_backward(const float *dy, const float *idx, int P, int H, int W, float *dx);
/* x (P, H, W) -> y (P, 2H, 2W). */
void ref_upsample2x_forward(const float *x, int P, int H, int W, float *y);
/* dx (P, H, W) from dy (P, 2H, 2W) (=). */
void ref_upsample2x_backward(const float *dy, int P, int H, int W, float *dx);

#endif
