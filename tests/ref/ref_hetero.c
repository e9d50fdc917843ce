/* Float64 reference of the heteroscedastic losses (ref_hetero.h). */
#define REF_PI 3.14159265358979323846
#include "ref/ref_hetero.h"
#include <math.h>
#include <stddef.h>

static int valid(const float *mask, int n, int HW, int j) { return !mask || mask[n * HW + j] != 0.0f; }

double ref_hetero_forward(int kind, const float *pred, const float *logvar, const float *target,
                          const float *mask, int N, int C, int HW, double s_min, double s_max,
                          double *count) {
  double sum = 0, cnt = 0;
  for (int n = 0; n < N; n++)
    for (int c = 0; c < C; c++)
      for (int j = 0; j < HW; j++) {
        if (!valid(mask, n, HW, j)) continue;
        size_t i = ((size_t)n * C + c) * HW + j;
        double d = (double)pred[i] - target[i], s = fmin(fmax(logvar[i], s_min), s_max);
        sum += kind == 1 ? exp(-s) * fabs(d) + s : 0.5 * exp(-s) * d * d + 0.5 * s;
        cnt += 1;
      }
  *count = cnt;
  return sum / fmax(cnt, 1);
}

void ref_hetero_backward(int kind, const float *pred, const float *logvar, const float *target,
                         const float *mask, int N, int C, int HW, double s_min, double s_max,
                         double seed, float *dpred, float *dlogvar) {
  double cnt;
  ref_hetero_forward(kind, pred, logvar, target, mask, N, C, HW, s_min, s_max, &cnt);
  double scale = seed / fmax(cnt, 1);
  for (int n = 0; n < N; n++)
    for (int c = 0; c < C; c++)
      for (int j = 0; j < HW; j++) {
        size_t i = ((size_t)n * C + c) * HW + j;
        dpred[i] = dlogvar[i] = 0.0f;
        if (!valid(mask, n, HW, j)) continue;
        double d = (double)pred[i] - target[i], s = logvar[i];
        int inside = s >= s_min && s <= s_max;
        double w = exp(-fmin(fmax(s, s_min), s_max));
        if (kind == 1) {
          dpred[i] = (float)(scale * w * (d > 0 ? 1 : d < 0 ? -1 : 0));
          dlogvar[i] = inside ? (float)(scale * (1 - w * fabs(d))) : 0.0f;
        } else {
          dpred[i] = (float)(scale * w * d);
          dlogvar[i] = inside ? (float)(scale * 0.5 * (1 - w * d * d)) : 0.0f;
        }
      }
}

static double kappa_of(double s, double s_min, double s_max) {
  return 1.0 / sqrt(1.0 + REF_PI / 8.0 * exp(fmin(fmax(s, s_min), s_max)));
}

static int label_ok(float lab, int K, int ignore) {
  return lab != (float)ignore && lab >= 0 && lab < K && floor(lab) == lab;
}

double ref_logit_noise_forward(const float *logits, const float *logvar, const float *labels,
                               int N, int K, int HW, int ignore, double s_min, double s_max,
                               double *count) {
  double sum = 0, cnt = 0;
  for (int n = 0; n < N; n++)
    for (int j = 0; j < HW; j++) {
      float lab = labels[n * HW + j];
      if (lab == (float)ignore) continue;
      cnt += 1;
      if (!label_ok(lab, K, ignore)) { sum = NAN; continue; }
      double kap = kappa_of(logvar[n * HW + j], s_min, s_max), m = -INFINITY, se = 0;
      for (int k = 0; k < K; k++) m = fmax(m, kap * logits[((size_t)n * K + k) * HW + j]);
      for (int k = 0; k < K; k++) se += exp(kap * logits[((size_t)n * K + k) * HW + j] - m);
      sum += log(se) + m - kap * logits[((size_t)n * K + (int)lab) * HW + j];
    }
  *count = cnt;
  return sum / fmax(cnt, 1);
}

void ref_logit_noise_backward(const float *logits, const float *logvar, const float *labels,
                              int N, int K, int HW, int ignore, double s_min, double s_max,
                              double seed, float *dlogits, float *dlogvar) {
  double cnt;
  ref_logit_noise_forward(logits, logvar, labels, N, K, HW, ignore, s_min, s_max, &cnt);
  double scale = seed / fmax(cnt, 1);
  for (int n = 0; n < N; n++)
    for (int j = 0; j < HW; j++) {
      float lab = labels[n * HW + j];
      int ok = label_ok(lab, K, ignore);
      double s = logvar[n * HW + j], e = exp(fmin(fmax(s, s_min), s_max));
      double kap = kappa_of(s, s_min, s_max), m = -INFINITY, se = 0, pf = 0;
      const float *f = logits + (size_t)n * K * HW + j;
      for (int k = 0; k < K; k++) m = fmax(m, kap * f[(size_t)k * HW]);
      for (int k = 0; k < K; k++) se += exp(kap * f[(size_t)k * HW] - m);
      for (int k = 0; k < K; k++) {
        double p = exp(kap * f[(size_t)k * HW] - m) / se;
        pf += p * f[(size_t)k * HW];
        dlogits[((size_t)n * K + k) * HW + j] = ok ? (float)(scale * kap * (p - (k == (int)lab))) : 0.0f;
      }
      /* dκ/ds = -½ (1 + π e^s / 8)^{-3/2} · π e^s / 8 */
      double dkds = -0.5 * pow(1.0 + REF_PI / 8.0 * e, -1.5) * REF_PI / 8.0 * e;
      int inside = s >= s_min && s <= s_max;
      dlogvar[n * HW + j] = ok && inside ? (float)(scale * (pf - f[(size_t)(int)lab * HW]) * dkds) : 0.0f;
    }
}

static double uniform01(unsigned long long *x) {
  *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
  return ((*x >> 11) + 0.5) / 9007199254740992.0;
}

double ref_logit_noise_mc(const float *logits, const float *logvar, const float *labels, int N,
                          int K, int HW, int ignore, int T, unsigned long long seed) {
  double sum = 0, cnt = 0, z[64];
  unsigned long long st = seed;
  for (int n = 0; n < N; n++)
    for (int j = 0; j < HW; j++) {
      float lab = labels[n * HW + j];
      if (!label_ok(lab, K, ignore) || K > 64) continue;
      double sd = exp(0.5 * logvar[n * HW + j]), mean_p = 0;
      for (int t = 0; t < T; t++) {
        double m = -INFINITY, se = 0;
        for (int k = 0; k < K; k++) {
          double u1 = uniform01(&st), u2 = uniform01(&st);
          z[k] = logits[((size_t)n * K + k) * HW + j] + sd * sqrt(-2 * log(u1)) * cos(2 * REF_PI * u2);
          m = fmax(m, z[k]);
        }
        for (int k = 0; k < K; k++) se += exp(z[k] - m);
        mean_p += exp(z[(int)lab] - m) / se;
      }
      sum += -log(mean_p / T);
      cnt += 1;
    }
  return sum / fmax(cnt, 1);
}
