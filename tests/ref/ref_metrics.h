/* Plain-C references for the evaluation metrics (src/mtl/metrics.c): the confusion matrix
 * with its ignored / invalid counts, and the regression sums, in 64-bit integers and double.
 * Logits (N, K, H, W), labels and masks (N, 1, H, W), regression tensors (N, C, H, W). */
#ifndef CLMTL_REF_METRICS_H
#define CLMTL_REF_METRICS_H

#include <stdint.h>

/* counts (K*K + 2), ADDED to: [label*K + pred], then invalid labels, then ignored labels.
 * pred = first index of the largest logit. */
void ref_confusion(const float *logits, const float *labels, int N, int K, int HW, float ignore,
                   uint64_t *counts);

/* Regression sums over valid elements (mask NULL = all valid), ADDED to. */
typedef struct ref_regress_sums {
  double abs, sq, rel;
  uint64_t elements, zeros, pixels;
} ref_regress_sums;

void ref_regress(const float *pred, const float *target, const float *mask, int N, int C,
                 int HW, ref_regress_sums *s);

#endif
