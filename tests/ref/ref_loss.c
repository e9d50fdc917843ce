/* Plain-C references for the reduction and task losses; see ref_loss.h. */
#include "ref/ref_loss.h"
#include <math.h>

double ref_sum(const float *x, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += x[i];
  return s;
}

static int label_valid(float lab, int K) { return lab >= 0 && lab < K && floorf(lab) == lab; }

/* log Σ_k exp(z[k*HW]) in double. */
static double logsumexp(const float *z, int K, int HW) {
  double m = z[0], s = 0;
  for (int k = 1; k < K; k++) m = fmax(m, z[(size_t)k * HW]);
  for (int k = 0; k < K; k++) s += exp(z[(size_t)k * HW] - m);
  return m + log(s);
}

double ref_softmax_xent_forward(const float *logits, const float *labels, int N, int K, int HW,
                                int ignore, double *count) {
  double sum = 0, cnt = 0;
  for (int n = 0; n < N; n++)
    for (int q = 0; q < HW; q++) {
      float lab = labels[(size_t)n * HW + q];
      if (lab == (float)ignore) continue;
      cnt++;
      if (!label_valid(lab, K)) {
        sum = NAN;
        continue;
      }
      const float *z = logits + (size_t)n * K * HW + q;
      sum += logsumexp(z, K, HW) - z[(size_t)lab * HW];
    }
  *count = cnt;
  return sum / (cnt > 1 ? cnt : 1);
}

void ref_softmax_xent_backward(const float *logits, const float *labels, int N, int K, int HW,
                               int ignore, double seed, float *dlogits) {
  double cnt = 0;
  for (size_t i = 0; i < (size_t)N * HW; i++) cnt += labels[i] != (float)ignore;
  double scale = seed / (cnt > 1 ? cnt : 1);
  for (int n = 0; n < N; n++)
    for (int q = 0; q < HW; q++) {
      float lab = labels[(size_t)n * HW + q];
      int valid = lab != (float)ignore && label_valid(lab, K);
      const float *z = logits + (size_t)n * K * HW + q;
      float *dz = dlogits + (size_t)n * K * HW + q;
      double lse = valid ? logsumexp(z, K, HW) : 0;
      for (int k = 0; k < K; k++)
        dz[(size_t)k * HW] =
            valid ? (float)(scale * (exp(z[(size_t)k * HW] - lse) - (k == (int)lab))) : 0.0f;
    }
}

static int elem_valid(const float *mask, int C, int HW, size_t i) {
  return !mask || mask[(i / ((size_t)C * HW)) * HW + i % HW] != 0;
}

double ref_regression_forward(int kind, const float *pred, const float *target, const float *mask,
                              int N, int C, int HW, double *count) {
  double sum = 0, cnt = 0;
  for (size_t i = 0; i < (size_t)N * C * HW; i++) {
    if (!elem_valid(mask, C, HW, i)) continue;
    double d = (double)pred[i] - target[i];
    sum += kind == 1 ? fabs(d) : d * d;
    cnt++;
  }
  *count = cnt;
  return sum / (cnt > 1 ? cnt : 1);
}

void ref_regression_backward(int kind, const float *pred, const float *target, const float *mask,
                             int N, int C, int HW, double seed, float *dpred) {
  double cnt = 0;
  for (size_t i = 0; i < (size_t)N * C * HW; i++) cnt += elem_valid(mask, C, HW, i);
  double scale = seed / (cnt > 1 ? cnt : 1);
  for (size_t i = 0; i < (size_t)N * C * HW; i++) {
    double d = (double)pred[i] - target[i];
    double g = kind == 1 ? (d > 0) - (d < 0) : 2 * d;
    dpred[i] = elem_valid(mask, C, HW, i) ? (float)(scale * g) : 0.0f;
  }
}
