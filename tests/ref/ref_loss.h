/* Plain-C references for the reduction and task losses (src/ops/loss.c), in double.
 * Labels are floats holding integers; logits (N, K, H, W), labels and masks (N, 1, H, W),
 * regression tensors (N, C, H, W); HW = H*W. */
#ifndef CLMTL_REF_LOSS_H
#define CLMTL_REF_LOSS_H

#include <stddef.h>

double ref_sum(const float *x, size_t n);

/* Mean over valid pixels of -log softmax(logits)[label]; *count = valid pixels. Returns 0
 * when there are none and NaN for a label neither `ignore` nor in [0, K). */
double ref_softmax_xent_forward(const float *logits, const float *labels, int N, int K, int HW,
                                int ignore, double *count);
/* dlogits = seed / max(count, 1) (softmax - onehot), 0 on ignored or invalid labels (=). */
void ref_softmax_xent_backward(const float *logits, const float *labels, int N, int K, int HW,
                               int ignore, double seed, float *dlogits);

/* kind 1 = L1, 2 = L2; mask may be NULL. Mean over valid elements, *count = valid pixels * C. */
double ref_regression_forward(int kind, const float *pred, const float *target, const float *mask,
                              int N, int C, int HW, double *count);
/* dpred = seed / max(count, 1) * (sign(d) | 2d), 0 where masked (=). */
void ref_regression_backward(int kind, const float *pred, const float *target, const float *mask,
                             int N, int C, int HW, double seed, float *dpred);

#endif
