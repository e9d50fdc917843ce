/* Plain-C references for pooling and resizing; see ref_pool.h. */
#include "ref/ref_pool.h"
#include <stdlib.h>
#include <string.h>

void ref_maxpool2x2_forward(const float *x, int P, int H, int W, float *y, float *idx) {
  int Ho = H / 2, Wo = W / 2;
  for (int p = 0; p < P; p++)
    for (int i = 0; i < Ho; i++)
      for (int j = 0; j < Wo; j++) {
        const float *xp = x + (size_t)p * H * W;
        int best = -1;
        for (int di = 0; di < 2; di++)
          for (int dj = 0; dj < 2; dj++) {
            int k = (2 * i + di) * W + 2 * j + dj;
            if (best < 0 || xp[k] > xp[best]) best = k;
          }
        size_t o = ((size_t)p * Ho + i) * Wo + j;
        y[o] = xp[best];
        idx[o] = (float)best;
      }
}

void ref_maxpool2x2_backward(const float *dy, const float *idx, int P, int H, int W, float *dx) {
  int Ho = H / 2, Wo = W / 2;
  memset(dx, 0, (size_t)P * H * W * sizeof *dx);
  for (int p = 0; p < P; p++)
    for (int o = 0; o < Ho * Wo; o++)
      dx[(size_t)p * H * W + (int)idx[(size_t)p * Ho * Wo + o]] += dy[(size_t)p * Ho * Wo + o];
}

void ref_maxunpool2x2_backward(const float *dy, const float *idx, int P, int H, int W, float *dx) {
  int Ho = H / 2, Wo = W / 2;
  for (int p = 0; p < P; p++)
    for (int o = 0; o < Ho * Wo; o++)
      dx[(size_t)p * Ho * Wo + o] = dy[(size_t)p * H * W + (int)idx[(size_t)p * Ho * Wo + o]];
}

/* PyTorch's upsample_bilinear2d source index for output d, input length n, scale 1/2. */
static void source(int d, int n, int *i0, int *i1, double *l1) {
  double s = 0.5 * (d + 0.5) - 0.5;
  if (s < 0) s = 0;
  *i0 = (int)s;
  *i1 = *i0 < n - 1 ? *i0 + 1 : *i0;
  *l1 = s - *i0;
}

void ref_upsample2x_forward(const float *x, int P, int H, int W, float *y) {
  for (int p = 0; p < P; p++)
    for (int oh = 0; oh < 2 * H; oh++)
      for (int ow = 0; ow < 2 * W; ow++) {
        int h0, h1, w0, w1;
        double lh, lw;
        source(oh, H, &h0, &h1, &lh);
        source(ow, W, &w0, &w1, &lw);
        const float *xp = x + (size_t)p * H * W;
        double v = (1 - lh) * ((1 - lw) * xp[h0 * W + w0] + lw * xp[h0 * W + w1]) +
                   lh * ((1 - lw) * xp[h1 * W + w0] + lw * xp[h1 * W + w1]);
        y[((size_t)p * 2 * H + oh) * 2 * W + ow] = (float)v;
      }
}

void ref_upsample2x_backward(const float *dy, int P, int H, int W, float *dx) {
  size_t n = (size_t)P * H * W;
  double *acc = calloc(n ? n : 1, sizeof *acc);
  if (!acc) abort(); /* a test helper: nothing sensible to return */
  for (int p = 0; p < P; p++)
    for (int oh = 0; oh < 2 * H; oh++)
      for (int ow = 0; ow < 2 * W; ow++) {
        int h0, h1, w0, w1;
        double lh, lw;
        source(oh, H, &h0, &h1, &lh);
        source(ow, W, &w0, &w1, &lw);
        double g = dy[((size_t)p * 2 * H + oh) * 2 * W + ow];
        double *ap = acc + (size_t)p * H * W;
        ap[h0 * W + w0] += (1 - lh) * (1 - lw) * g;
        ap[h0 * W + w1] += (1 - lh) * lw * g;
        ap[h1 * W + w0] += lh * (1 - lw) * g;
        ap[h1 * W + w1] += lh * lw * g;
      }
  for (size_t i = 0; i < n; i++) dx[i] = (float)acc[i];
  free(acc);
}
