/* Float64 reference of the heteroscedastic losses (ref_hetero.h). */
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
