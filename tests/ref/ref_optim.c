/* Reference optimizer steps (see ref_optim.h). */
#include "ref/ref_optim.h"
#include <math.h>

void ref_sgd_step(size_t n, float *p, const float *g, float *buf, float lr, float momentum,
                  int nesterov, float wd, int first_step) {
  for (size_t i = 0; i < n; i++) {
    double d = (double)g[i] + (double)wd * p[i];
    if (momentum != 0) {
      double b = first_step ? d : (double)momentum * buf[i] + d;
      buf[i] = (float)b;
      d = nesterov ? d + momentum * b : b;
    }
    p[i] = (float)(p[i] - (double)lr * d);
  }
}

void ref_adam_step(size_t n, float *p, const float *g, float *m, float *v, int t, float lr,
                   float beta1, float beta2, float eps, float wd, int decoupled) {
  double bc1 = 1.0 - pow(beta1, t), bc2 = 1.0 - pow(beta2, t);
  for (size_t i = 0; i < n; i++) {
    double w = p[i], d = g[i];
    if (decoupled) w *= 1.0 - (double)lr * wd;
    else d += (double)wd * w;
    double mi = beta1 * (double)m[i] + (1.0 - beta1) * d;
    double vi = beta2 * (double)v[i] + (1.0 - beta2) * d * d;
    m[i] = (float)mi;
    v[i] = (float)vi;
    p[i] = (float)(w - lr / bc1 * mi / (sqrt(vi) / sqrt(bc2) + eps));
  }
}
