/* Plain-C reference convolution and transposed convolution (double accumulation): the ground
 * truth tests/test_conv.c compares the device ops with. Layouts as in src/ops/ops.h; every
 * function WRITES (=) its outputs, tests add any accumulation themselves. Written as direct
 * loops over the definition, independent of how cl/conv.cl organises the work. */
#ifndef CLMTL_REF_CONV_H
#define CLMTL_REF_CONV_H

typedef struct ref_conv_shape {
  int n, c, h, w;        /* x (n, c, h, w) */
  int k, r, s;           /* conv: w (k, c, r, s); deconv: w (c, k, r, s) */
  int ho, wo;            /* y (n, k, ho, wo) */
  int stride, pad, dil;
} ref_conv_shape;

/* y = conv(x, w) + b; b may be NULL. */
void ref_conv2d_forward(const ref_conv_shape *g, const float *x, const float *w, const float *b,
                        float *y);
/* dx = ∂(Σ dy·y)/∂x. */
void ref_conv2d_backward_data(const ref_conv_shape *g, const float *dy, const float *w, float *dx);
/* dw = ∂(Σ dy·y)/∂w, db = Σ dy over n, ho, wo (db may be NULL). */
void ref_conv2d_backward_weight(const ref_conv_shape *g, const float *x, const float *dy,
                                float *dw, float *db);

/* PyTorch ConvTranspose2d: y[n, k, h·stride − pad + r·dil, w·stride − pad + s·dil]
 * += x[n, c, h, w] w[c, k, r, s] (taps outside y dropped), plus b[k]; b may be NULL. */
void ref_deconv2d_forward(const ref_conv_shape *g, const float *x, const float *w, const float *b,
                          float *y);
void ref_deconv2d_backward_data(const ref_conv_shape *g, const float *dy, const float *w,
                                float *dx);
void ref_deconv2d_backward_weight(const ref_conv_shape *g, const float *x, const float *dy,
                                  float *dw, float *db);

#endif
