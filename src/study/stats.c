/* The statistics of a study's table (study.h): mean and sample standard deviation over seeds,
 * Δm% against single-task baselines, and the non-dominated points of a Pareto plot. Plain
 * double-precision arithmetic; the study file's reader is study.c. */
#include <math.h>
#include "clmtl/study.h"

void clm_study_mean_std(const double *x, int n, double *mean, double *std, int *count) {
  double sum = 0;
  int k = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(x[i])) sum += x[i], k++;
  *count = k;
  if (!k) {
    *mean = NAN;
    *std = NAN;
    return;
  }
  double m = sum / k, ss = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(x[i])) ss += (x[i] - m) * (x[i] - m);
  *mean = m;
  *std = k > 1 ? sqrt(ss / (k - 1)) : 0.0;
}

double clm_study_delta_m(const double *m, const double *base, const int *higher_better, int k) {
  if (k < 1) return NAN;
  double sum = 0;
  for (int t = 0; t < k; t++) {
    if (!isfinite(m[t]) || !isfinite(base[t]) || base[t] == 0) return NAN;
    double rel = (m[t] - base[t]) / base[t];
    sum += higher_better[t] ? rel : -rel;
  }
  return 100.0 * sum / k;
}

/* a at least as good as b in every metric and better in one */
static int dominates(const double *a, const double *b, int k, const int *hb) {
  int better = 0;
  for (int t = 0; t < k; t++) {
    double da = hb[t] ? a[t] : -a[t], db = hb[t] ? b[t] : -b[t];
    if (da < db) return 0;
    if (da > db) better = 1;
  }
  return better;
}

static int finite_point(const double *a, int k) {
  for (int t = 0; t < k; t++)
    if (!isfinite(a[t])) return 0;
  return 1;
}

void clm_study_nondominated(const double *x, int n, int k, const int *higher_better, int *nondom) {
  for (int i = 0; i < n; i++) {
    nondom[i] = finite_point(x + (size_t)i * k, k);
    for (int j = 0; j < n && nondom[i]; j++)
      if (j != i && finite_point(x + (size_t)j * k, k) && dominates(x + (size_t)j * k, x + (size_t)i * k, k, higher_better))
        nondom[i] = 0;
  }
}
