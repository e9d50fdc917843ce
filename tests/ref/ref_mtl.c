/* Reference multi-task loss weighting (see ref_mtl.h), in double. */
#include "ref/ref_mtl.h"
#include <math.h>

/* c(L, p) and its partial derivatives for task i. */
static double contribution(const ref_mtl_config *c, int i, double L, double p, double *dl,
                           double *dp) {
  switch (c->strategy) {
  case 0:
    *dl = c->weight[i];
    *dp = 0;
    return c->weight[i] * L;
  case 1:
    *dl = 1.0 / c->k;
    *dp = 0;
    return L / c->k;
  case 3: {
    double e = exp(-p);
    *dl = e;
    *dp = 1 - e * L;
    return e * L + p;
  }
  case 5: {
    double s = p > 0 ? p + log1p(exp(-p)) : log1p(exp(p));
    double e = exp(-s), sig = 1 / (1 + exp(-p));
    *dl = e;
    *dp = (1 - e * L) * sig;
    return e * L + s;
  }
  default: { /* 2 uncertainty, 4 clamped */
    double s = p;
    int active = c->strategy == 4 && (s < c->slo || s > c->shi);
    if (c->strategy == 4) s = s < c->slo ? c->slo : s > c->shi ? c->shi : s;
    double a = c->regression[i] ? 0.5 : 1.0, e = exp(-s);
    *dl = a * e;
    *dp = active ? 0 : 0.5 - a * e * L;
    return a * e * L + 0.5 * s;
  }
  }
}

double ref_mtl_step(const ref_mtl_config *c, const double *loss, const double *count,
                    const double *param, double *seed, double *pgrad, double *contrib) {
  double total = 0;
  for (int i = 0; i < c->k; i++) {
    double gate = 1;
    if (!(count[i] > 0)) gate = 0;
    else if (c->gating != 0) {
      double share = count[i] / c->valid_total[i];
      if (share < c->threshold) gate = c->gating == 1 ? 0 : share;
    }
    double dl = 0, dp = 0, ci = 0;
    if (count[i] > 0) ci = contribution(c, i, loss[i], param ? param[i] : 0, &dl, &dp);
    if (gate != 0) total += gate * ci;
    if (seed) seed[i] = gate * dl;
    if (pgrad) pgrad[i] = gate * dp;
    if (contrib) contrib[i] = ci;
  }
  return total;
}
