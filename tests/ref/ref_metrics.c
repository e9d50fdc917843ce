/* Plain-C references for the evaluation metrics; see ref_metrics.h. */
#include "ref_metrics.h"

#include <math.h>

void ref_confusion(const float *logits, const float *labels, int N, int K, int HW, float ignore,
                   uint64_t *counts) {
  for (int n = 0; n < N; n++)
    for (int s = 0; s < HW; s++) {
      const float lab = labels[(long)n * HW + s];
      if (lab == ignore) {
        counts[K * K + 1]++;
        continue;
      }
      if (!(lab >= 0.0f && lab < (float)K && lab == floorf(lab))) {
        counts[K * K]++;
        continue;
      }
      const float *x = logits + (long)n * K * HW + s;
      int arg = 0;
      for (int k = 1; k < K; k++)
        if (x[(long)k * HW] > x[(long)arg * HW]) arg = k;
      counts[(int)lab * K + arg]++;
    }
}

void ref_regress(const float *pred, const float *target, const float *mask, int N, int C,
                 int HW, ref_regress_sums *s) {
  for (int n = 0; n < N; n++)
    for (int p = 0; p < HW; p++) {
      if (mask && mask[(long)n * HW + p] == 0.0f) continue;
      for (int c = 0; c < C; c++) {
        const long i = ((long)n * C + c) * HW + p;
        const double t = target[i], d = (double)pred[i] - t;
        s->abs += fabs(d);
        s->sq += d * d;
        if (t != 0.0)
          s->rel += fabs(d) / fabs(t);
        else
          s->zeros++;
      }
      s->elements += (uint64_t)C;
      s->pixels++;
    }
}
