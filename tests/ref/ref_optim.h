/* Plain-C reference optimizer steps, written from torch.optim.SGD and torch.optim.Adam /
 * AdamW (foreach=False) and computed in double per element. Used by tests/test_optim.c. */
#ifndef CLMTL_REF_OPTIM_H
#define CLMTL_REF_OPTIM_H

#include <stddef.h>

/* SGD: d = g + wd p; with momentum: buf = d on the first step, else momentum buf + d;
 * d = d + momentum buf (Nesterov) or buf; p -= lr d. */
void ref_sgd_step(size_t n, float *p, const float *g, float *buf, float lr, float momentum,
                  int nesterov, float wd, int first_step);
/* Adam (decoupled = 0: g += wd p) or AdamW (decoupled = 1: p *= 1 - lr wd), update number t
 * (1 for the first): m = b1 m + (1-b1) g, v = b2 v + (1-b2) g², p -= lr/(1-b1^t) ·
 * m / (sqrt(v)/sqrt(1-b2^t) + eps). */
void ref_adam_step(size_t n, float *p, const float *g, float *m, float *v, int t, float lr,
                   float beta1, float beta2, float eps, float wd, int decoupled);

#endif
