/* Reference element-wise ops (see ref_eltwise.h), computed in double. */
#include "ref/ref_eltwise.h"
#include <math.h>

void ref_activation_forward(int act, float slope, const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) {
    double v = x[i];
    if (act == 1) v = v > 0 ? v : 0;
    else if (act == 2) v = v > 0 ? v : slope * v;
    else if (act == 3) v = 1.0 / (1.0 + exp(-v));
    y[i] = (float)v;
  }
}

void ref_activation_backward(int act, float slope, const float *y, const float *dy, float *dx,
                             size_t n, int accumulate) {
  for (size_t i = 0; i < n; i++) {
    double g = dy[i], o = y[i];
    if (act == 1) g = o > 0 ? g : 0;
    else if (act == 2) g = o > 0 ? g : slope * g;
    else if (act == 3) g = g * o * (1 - o);
    dx[i] = (float)(accumulate ? dx[i] + g : g);
  }
}

void ref_add(const float *a, const float *b, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = (float)((double)a[i] + b[i]);
}

void ref_channel_copy(const float *src, int SC, int sc0, float *dst, int DC, int dc0, int N,
                      int HW, int channels, int accumulate) {
  for (int n = 0; n < N; n++)
    for (int c = 0; c < channels; c++)
      for (int i = 0; i < HW; i++) {
        float v = src[((long)n * SC + sc0 + c) * HW + i];
        float *d = &dst[((long)n * DC + dc0 + c) * HW + i];
        *d = accumulate ? *d + v : v;
      }
}
