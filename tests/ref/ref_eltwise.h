/* Plain-C reference element-wise ops: activations (codes as clm_activation: 0 none, 1 relu,
 * 2 leaky relu, 3 sigmoid), add and the channel-slice copy. Used by tests/test_eltwise.c. */
#ifndef CLMTL_REF_ELTWISE_H
#define CLMTL_REF_ELTWISE_H

#include <stddef.h>

void ref_activation_forward(int act, float slope, const float *x, float *y, size_t n);
/* dx (= or +=) from the activation's output y and dy. */
void ref_activation_backward(int act, float slope, const float *y, const float *dy, float *dx,
                             size_t n, int accumulate);
void ref_add(const float *a, const float *b, float *y, size_t n);
/* dst[:, dc0 + c] (= or +=) src[:, sc0 + c], c < channels; src (N, SC, HW), dst (N, DC, HW). */
void ref_channel_copy(const float *src, int SC, int sc0, float *dst, int DC, int dc0, int N,
                      int HW, int channels, int accumulate);

#endif
