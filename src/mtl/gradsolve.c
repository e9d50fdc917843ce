/* The K×K solves of the gradient methods (include/clmtl/mtl.h, "Gradient methods"), on the
 * host in double precision from the Gram matrix the device computed: PCGrad's projections in
 * the Gram basis, the min-norm point of MGDA-UB, CAGrad's inner problem, IMTL-G's linear
 * system and Aligned-MTL's eigendecomposition, each giving the coefficients α of
 * g = Σ α_i g_i; and the counter-based draws of RLW and PCGrad. K <= 16: these run in
 * microseconds, so the device would gain nothing and lose double precision (one work-item).
 * Not here: the per-task passes and device buffers (gradmethods.c). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "clmtl/util.h"
#include "gradmethods-impl.h"

#define KMAX CLM_MTL_MAX_TASKS

/* ---- draws ------------------------------------------------------------------------------- */

/* One splitmix64 step from state x (clmtl/util.h): x + gamma, mixed. */
static uint64_t splitmix64(uint64_t x) { return clm_splitmix64(&x); }

/* A uniform in (0, 1) from (seed, step, stream, i). */
static double draw_uniform(uint64_t seed, long step, uint64_t stream, uint64_t i) {
  uint64_t x = splitmix64(seed ^ splitmix64((uint64_t)step ^ splitmix64(stream * 64 + i)));
  return ((double)(x >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

clm_status clm_mtl_rlw_draw(unsigned long long seed, long step, int ntasks, double *z) {
  if (!z || ntasks < 1 || ntasks > KMAX)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "rlw draw: %d tasks (1 to %d) and an output required", ntasks,
             KMAX);
  for (int i = 0; i < ntasks; i++) {
    double u1 = draw_uniform(seed, step, 1, 2 * (uint64_t)i);
    double u2 = draw_uniform(seed, step, 1, 2 * (uint64_t)i + 1);
    z[i] = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
  }
  return CLM_OK;
}

clm_status clm_mtl_pcgrad_order(unsigned long long seed, long step, int task, int ntasks,
                                int *order) {
  if (!order || ntasks < 1 || ntasks > KMAX || task < 0 || task >= ntasks)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "pcgrad order: task %d of %d (1 to %d tasks) and an output "
             "required", task, ntasks, KMAX);
  int n = 0;
  for (int j = 0; j < ntasks; j++)
    if (j != task) order[n++] = j;
  for (int a = n - 1; a > 0; a--) { /* Fisher–Yates */
    int b = (int)(draw_uniform(seed, step, 2 + (uint64_t)task, (uint64_t)a) * (a + 1));
    if (b > a) b = a;
    int t = order[a];
    order[a] = order[b];
    order[b] = t;
  }
  return CLM_OK;
}

/* ---- small linear algebra ---------------------------------------------------------------- */

/* Euclidean projection of v (n) onto the probability simplex (sort-based). */
static void simplex_project(double *v, int n) {
  double u[KMAX], css = 0, theta = 0;
  memcpy(u, v, sizeof(double) * (size_t)n);
  for (int i = 1; i < n; i++) /* descending insertion sort */
    for (int j = i; j > 0 && u[j] > u[j - 1]; j--) {
      double t = u[j];
      u[j] = u[j - 1];
      u[j - 1] = t;
    }
  for (int i = 0; i < n; i++) {
    css += u[i];
    double t = (css - 1.0) / (i + 1);
    if (u[i] - t > 0) theta = t;
  }
  for (int i = 0; i < n; i++) v[i] = fmax(v[i] - theta, 0.0);
}

/* Solves a (n×n, row-major, destroyed) x = b (destroyed into x) by Gaussian elimination with
 * partial pivoting; 0 when singular. */
static int solve_linear(double *a, double *b, int n) {
  for (int c = 0; c < n; c++) {
    int p = c;
    for (int r = c + 1; r < n; r++)
      if (fabs(a[r * n + c]) > fabs(a[p * n + c])) p = r;
    if (!(fabs(a[p * n + c]) > 1e-300)) return 0;
    if (p != c) {
      for (int k = 0; k < n; k++) {
        double t = a[c * n + k];
        a[c * n + k] = a[p * n + k];
        a[p * n + k] = t;
      }
      double t = b[c];
      b[c] = b[p];
      b[p] = t;
    }
    for (int r = c + 1; r < n; r++) {
      double f = a[r * n + c] / a[c * n + c];
      for (int k = c; k < n; k++) a[r * n + k] -= f * a[c * n + k];
      b[r] -= f * b[c];
    }
  }
  for (int c = n - 1; c >= 0; c--) {
    double s = b[c];
    for (int k = c + 1; k < n; k++) s -= a[c * n + k] * b[k];
    b[c] = s / a[c * n + c];
  }
  return 1;
}

/* Eigen-decomposition of the symmetric a (n×n, destroyed) by cyclic Jacobi rotations:
 * eigenvalues in lam, eigenvectors in the columns of v. */
static void jacobi_eigen(double *a, int n, double *lam, double *v) {
  for (int i = 0; i < n * n; i++) v[i] = (i / n == i % n);
  for (int sweep = 0; sweep < 100; sweep++) {
    double off = 0, diag = 0;
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) {
        if (i == j) diag += a[i * n + j] * a[i * n + j];
        else off += a[i * n + j] * a[i * n + j];
      }
    if (off <= 1e-30 * diag || off == 0) break;
    for (int p = 0; p < n; p++)
      for (int q = p + 1; q < n; q++) {
        double apq = a[p * n + q];
        if (apq == 0) continue;
        double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
        double c = 1 / sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; k++) { /* columns p, q */
          double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; k++) { /* rows p, q */
          double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (int k = 0; k < n; k++) {
          double vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  for (int i = 0; i < n; i++) lam[i] = a[i * n + i];
}

/* ---- minimisation over the simplex ------------------------------------------------------- */

typedef struct {
  const double *a; /* m×m Gram of the active tasks */
  int m;
  double c;        /* cagrad: c‖g0‖ (0 for mgda) */
  int cagrad;
} objective;

/* f(w) and its gradient: mgda ‖g_w‖² = wᵀAw; cagrad wᵀA·1/m + c·sqrt(wᵀAw). */
static double objective_eval(const objective *o, const double *w, double *grad) {
  int m = o->m;
  double aw[KMAX], q = 0, lin = 0, ab[KMAX];
  for (int i = 0; i < m; i++) {
    aw[i] = 0;
    ab[i] = 0;
    for (int j = 0; j < m; j++) {
      aw[i] += o->a[i * m + j] * w[j];
      ab[i] += o->a[i * m + j] / m;
    }
    q += w[i] * aw[i];
    lin += w[i] * ab[i];
  }
  if (!o->cagrad) {
    if (grad)
      for (int i = 0; i < m; i++) grad[i] = 2 * aw[i];
    return q;
  }
  double nrm = sqrt(fmax(q, 0));
  if (grad)
    for (int i = 0; i < m; i++) grad[i] = ab[i] + (nrm > 0 ? o->c * aw[i] / nrm : 0);
  return lin + o->c * nrm;
}

/* Projected gradient descent with backtracking from the centre of the simplex. */
static void simplex_minimize(const objective *o, double *w) {
  int m = o->m;
  double scale = 0;
  for (int i = 0; i < m; i++) scale = fmax(scale, o->a[i * m + i]);
  double step = scale > 0 ? 1.0 / scale : 1.0;
  for (int i = 0; i < m; i++) w[i] = 1.0 / m;
  double g[KMAX], f = objective_eval(o, w, g);
  for (int it = 0; it < 20000; it++) {
    double nw[KMAX], nf = 0, moved = 0;
    for (int tries = 0; tries < 60; tries++) {
      for (int i = 0; i < m; i++) nw[i] = w[i] - step * g[i];
      simplex_project(nw, m);
      double dec = 0;
      moved = 0;
      for (int i = 0; i < m; i++) {
        dec += g[i] * (w[i] - nw[i]);
        moved += (w[i] - nw[i]) * (w[i] - nw[i]);
      }
      nf = objective_eval(o, nw, NULL);
      if (nf <= f - 0.5 * dec + 1e-18 * fabs(f) || moved == 0) break;
      step *= 0.5;
    }
    if (nf > f) break;
    memcpy(w, nw, sizeof(double) * (size_t)m);
    f = objective_eval(o, w, g);
    if (moved < 1e-30) break;
    step *= 2;
  }
}

/* MGDA's min-norm point: projected gradient, then the exact minimiser on its support
 * (A_SS w = μ1, Σ w = 1) where that is non-negative and no better. */
static void min_norm(const double *a, int m, double *w) {
  objective o = {a, m, 0, 0};
  simplex_minimize(&o, w);
  int sup[KMAX], s = 0;
  for (int i = 0; i < m; i++)
    if (w[i] > 1e-7) sup[s++] = i;
  double sys[(KMAX + 1) * (KMAX + 1)], rhs[KMAX + 1];
  int n = s + 1;
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < n; j++)
      sys[i * n + j] = i < s && j < s ? a[sup[i] * m + sup[j]] : (i == j ? 0 : (i < s ? -1 : 1));
    rhs[i] = i < s ? 0 : 1;
  }
  if (!solve_linear(sys, rhs, n)) return;
  double e[KMAX] = {0};
  for (int i = 0; i < s; i++) {
    if (!(rhs[i] >= 0)) return;
    e[sup[i]] = rhs[i];
  }
  if (objective_eval(&o, e, NULL) <= objective_eval(&o, w, NULL) * (1 + 1e-9) + 1e-300)
    memcpy(w, e, sizeof(double) * (size_t)m);
}

/* ---- the methods ------------------------------------------------------------------------- */

clm_status clm_gm_solve(const clm_mtl_config *cfg, long step, const double *gram,
                        const int *active, double *alpha) {
  const int K = cfg->ntasks;
  int idx[KMAX], m = 0;
  for (int i = 0; i < K; i++) {
    alpha[i] = 0;
    if (active[i]) idx[m++] = i;
  }
  if (m == 0) return CLM_OK;
  double a[KMAX * KMAX];
  for (int i = 0; i < m; i++)
    for (int j = 0; j < m; j++) a[i * m + j] = gram[idx[i] * K + idx[j]];
  for (int i = 0; i < m * m; i++)
    if (!isfinite(a[i])) {
      for (int k = 0; k < m; k++) alpha[idx[k]] = NAN; /* the guard skips the step */
      return CLM_OK;
    }
  double w[KMAX] = {0};
  switch (cfg->strategy) {
  case CLM_MTL_PCGRAD:
    for (int t = 0; t < K; t++) {
      if (!active[t]) continue;
      int order[KMAX];
      CLM_TRY(clm_mtl_pcgrad_order(cfg->seed, step, t, K, order));
      double c[KMAX] = {0}; /* g_t' = Σ c_l g_l */
      c[t] = 1;
      for (int r = 0; r < K - 1; r++) {
        int j = order[r];
        if (!active[j] || !(gram[j * K + j] > 0)) continue;
        double dot = 0;
        for (int l = 0; l < K; l++) dot += c[l] * gram[l * K + j];
        if (dot < 0) c[j] -= dot / gram[j * K + j];
      }
      for (int l = 0; l < K; l++) alpha[l] += c[l];
    }
    return CLM_OK;
  case CLM_MTL_MGDA_UB:
    min_norm(a, m, w);
    for (int i = 0; i < m; i++) alpha[idx[i]] = w[i];
    return CLM_OK;
  case CLM_MTL_CAGRAD: {
    double g0sq = 0, cc = cfg->cagrad_c;
    for (int i = 0; i < m * m; i++) g0sq += a[i] / ((double)m * m);
    objective o = {a, m, cc * sqrt(fmax(g0sq, 0)), 1};
    simplex_minimize(&o, w);
    double q = 0;
    for (int i = 0; i < m; i++)
      for (int j = 0; j < m; j++) q += w[i] * a[i * m + j] * w[j];
    double lambda = q > 0 ? o.c / sqrt(q) : 0;
    for (int i = 0; i < m; i++) alpha[idx[i]] = (1.0 / m + lambda * w[i]) / (1 + cc * cc);
    return CLM_OK;
  }
  case CLM_MTL_IMTL_G: {
    int live[KMAX], n = 0; /* tasks with a non-zero gradient */
    for (int i = 0; i < m; i++)
      if (a[i * m + i] > 0) live[n++] = i;
    if (n == 0) return CLM_OK;
    double nrm[KMAX], x[KMAX * KMAX], r[KMAX];
    for (int i = 0; i < n; i++) nrm[i] = sqrt(a[live[i] * m + live[i]]);
#define GU(p, q) (a[live[p] * m + live[q]] / nrm[q]) /* g_p · u_q */
    int d = n - 1;
    for (int q = 1; q < n; q++) {
      r[q - 1] = GU(0, 0) - GU(0, q); /* g_1 · U_q */
      for (int p = 1; p < n; p++)     /* (D Uᵀ)_{pq} = (g_1 − g_p)·(u_1 − u_q) */
        x[(p - 1) * d + (q - 1)] = GU(0, 0) - GU(0, q) - GU(p, 0) + GU(p, q);
    }
#undef GU
    /* α_{2..} (row) = r (D Uᵀ)⁻¹, i.e. (D Uᵀ)ᵀ α = r */
    double xt[KMAX * KMAX];
    for (int i = 0; i < d; i++)
      for (int j = 0; j < d; j++) xt[i * d + j] = x[j * d + i];
    if (d > 0 && !solve_linear(xt, r, d))
      CLM_FAIL(CLM_ERR_NUMERIC, "imtl-g: the task gradients are linearly dependent (D Uᵀ is "
               "singular); use another method for this model");
    double rest = 0;
    for (int i = 1; i < n; i++) {
      alpha[idx[live[i]]] = r[i - 1];
      rest += r[i - 1];
    }
    alpha[idx[live[0]]] = 1 - rest;
    return CLM_OK;
  }
  case CLM_MTL_ALIGNED_MTL: {
    double tmp[KMAX * KMAX], lam[KMAX], v[KMAX * KMAX], top = 0;
    memcpy(tmp, a, sizeof(double) * (size_t)(m * m));
    jacobi_eigen(tmp, m, lam, v);
    for (int i = 0; i < m; i++) top = fmax(top, lam[i]);
    double tol = top * m * FLT_EPSILON, low = INFINITY;
    for (int i = 0; i < m; i++)
      if (lam[i] > tol) low = fmin(low, lam[i]);
    if (!(top > 0)) return CLM_OK;
    for (int i = 0; i < m; i++) {
      double s = 0;
      for (int j = 0; j < m; j++)
        for (int r2 = 0; r2 < m; r2++)
          if (lam[r2] > tol) s += v[i * m + r2] * v[j * m + r2] / sqrt(lam[r2]);
      alpha[idx[i]] = sqrt(low) * s;
    }
    return CLM_OK;
  }
  default:
    CLM_FAIL(CLM_ERR_INVALID_ARG, "strategy '%s' is not a gradient method",
             clm_mtl_strategy_name(cfg->strategy));
  }
}
