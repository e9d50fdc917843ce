/* The gradient methods (pcgrad, mgda-ub, cagrad, imtl-g, aligned-mtl) and the loss-based rlw
 * and gls against independent float64 references written here from the papers, on the small
 * network of test_gradnorm_ref.c (two conv+bn+relu layers shared, three 1x1 heads: softmax
 * cross-entropy with ignored pixels, L1, L2), same initial weights and batches, SGD with
 * momentum, STEPS steps per method. Per step the reference takes every task's full float64
 * gradient (and its gradient at the shared representation h2) and combines them as the paper
 * says, on explicit vectors, with solvers of its own: PCGrad's projections (Yu et al. 2020,
 * Alg. 1), MGDA-UB's min-norm point by enumerating the faces of the simplex (Sener & Koltun
 * 2018), CAGrad's inner problem by compass search (Liu et al. 2021, and the authors' rescale
 * 1/(1+c²)), IMTL-G's defining conditions g·u_1 = g·u_i, Σα = 1 as a K×K system (Liu et al.
 * ICLR 2021), Aligned-MTL's σ_min·M^{-1/2} by Denman–Beavers and power iteration (Senushkin et
 * al. 2023), RLW's softmax of the standard normal draws (Lin et al. 2021) and GLS's geometric
 * mean (Chennupati et al. 2019). Shared parameters (c1, c2) take the combination, each head its
 * own task's gradient. The random draws (rlw's z, pcgrad's orders) are inputs taken from
 * clmtl's public draw functions; their distribution is checked on its own. Every parameter,
 * every task loss and the logged weights must match after every step; and a second reference
 * with one planted error per method (a sign flip or a swapped term) must NOT match, so each
 * comparison is shown able to fail. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "test_util.h"

#define STEPS 4
#include "ref/ref_mtlnet.h"

/* Gradients of Σ seed_i L_i into every parameter's g (+=). */

/* ∇_{h2} (the shared representation) of the last ref_backward. */
static double dh2[N * F * HW];

static void ref_backward(const batch *b, const fwd *f, const double seed[K]) {
  static double ds[N * NCLS * HW], dd[N * HW], dz[N * ZC * HW],
      tmp[N * F * HW], da2[N * F * HW], dh1[N * F * HW], da1[N * F * HW];
  double cnt = 0;
  for (int i = 0; i < N * HW; i++) cnt += b->labels[i] != 255;
  for (int n = 0; n < N; n++)
    for (int i = 0; i < HW; i++) {
      int lab = (int)b->labels[n * HW + i];
      double top = -INFINITY, sum = 0;
      for (int c = 0; c < NCLS; c++) top = fmax(top, f->s[(n * NCLS + c) * HW + i]);
      for (int c = 0; c < NCLS; c++) sum += exp(f->s[(n * NCLS + c) * HW + i] - top);
      for (int c = 0; c < NCLS; c++) {
        int at = (n * NCLS + c) * HW + i;
        ds[at] = lab == 255 ? 0 : seed[0] / cnt * (exp(f->s[at] - top) / sum - (c == lab));
      }
    }
  for (int i = 0; i < N * HW; i++) {
    double d = f->d[i] - b->depth[i];
    dd[i] = seed[1] / (N * HW) * (d > 0 ? 1 : d < 0 ? -1 : 0);
  }
  for (int i = 0; i < N * ZC * HW; i++) dz[i] = seed[2] / (N * ZC * HW) * 2 * (f->z[i] - b->zt[i]);
  memset(dh2, 0, sizeof dh2);
  const double *heads[3] = {ds, dd, dz};
  const int hw[3] = {P_WS, P_WD, P_WZ}, hc[3] = {NCLS, 1, ZC};
  for (int t = 0; t < 3; t++) {
    conv_bwd(f->h2, F, P[hw[t]].v, hc[t], 1, heads[t], tmp, P[hw[t]].g, P[hw[t] + 1].g);
    for (int i = 0; i < N * F * HW; i++) dh2[i] += tmp[i];
  }
  bn_relu_bwd(f->h2, f->xh2, f->is2, P[P_G2].v, dh2, da2, P[P_G2].g, P[P_B2].g);
  conv_bwd(f->h1, F, P[P_W2].v, F, 3, da2, dh1, P[P_W2].g, NULL);
  bn_relu_bwd(f->h1, f->xh1, f->is1, P[P_G1].v, dh1, da1, P[P_G1].g, P[P_B1].g);
  conv_bwd(b->x, C0, P[P_W1].v, F, 3, da1, NULL, P[P_W1].g, NULL);
}

static void zero_grads(void) {
  for (int p = 0; p < P_COUNT; p++) memset(P[p].g, 0, sizeof(double) * P[p].n);
}


static void make_batch(test_rng *r, batch *b, float *hx, float *hl, float *hd, float *hz) {
  for (int i = 0; i < N * C0 * HW; i++) b->x[i] = hx[i] = test_uniform(r, -1, 1);
  for (int i = 0; i < N * HW; i++) {
    float u = test_uniform(r, 0, 1);
    hl[i] = u < 0.1f ? 255.0f : (float)((int)(u * 10) % NCLS); /* ~10% ignored */
    b->labels[i] = hl[i];
    b->depth[i] = hd[i] = test_nonzero(r, -2, 2, 0.05f);
  }
  for (int i = 0; i < N * ZC * HW; i++) b->zt[i] = hz[i] = test_uniform(r, -1.5f, 1.5f);
}

/* Max |got - want| / max(max |want|, floor) over one named tensor of the graph. */
static double compare_param(clm_graph *g, clm_context *ctx, const rparam *p, double floor) {
  for (int i = 0; i < clm_graph_named_count(g); i++) {
    const char *name;
    clm_tensor v;
    int is_param;
    if (clm_graph_named(g, i, &name, &v, &is_param) != CLM_OK || strcmp(name, p->name)) continue;
    float *got = test_download(ctx, &v);
    double err = 0, top = floor;
    for (int j = 0; j < p->n; j++) {
      err = fmax(err, fabs(got[j] - p->v[j]));
      top = fmax(top, fabs(p->v[j]));
    }
    free(got);
    return err / top;
  }
  return INFINITY;
}

/* ---- the methods, float64, on explicit vectors ------------------------------------------- */

#define NZ (N * F * HW) /* the shared representation h2 */
#define CAGRAD_C 0.5

/* The shared parameters, in this order, form the vectors the methods combine. */
static const int shared_p[] = {P_W1, P_G1, P_B1, P_W2, P_G2, P_B2};
#define NSHARED 6
#define S (F * C0 * 9 + F + F + F * F * 9 + F + F)
/* each head's two parameters belong to its task */
static const int head_p[K][2] = {{P_WS, P_BS}, {P_WD, P_BD}, {P_WZ, P_BZ}};

typedef struct {
  double g[K][S];      /* ∇_shared L_i */
  double z[K][NZ];     /* ∇_{h2} L_i */
  double *all[K][P_COUNT]; /* every parameter's ∇L_i */
} task_grads;

static double dot(const double *a, const double *b, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* Solves a x = b (n×n, destroyed; b becomes x) by Gauss–Jordan with full-row pivoting;
 * returns 0 when singular. */
static int gauss(double *a, double *b, int n) {
  for (int c = 0; c < n; c++) {
    int p = c;
    for (int r = c; r < n; r++)
      if (fabs(a[r * n + c]) > fabs(a[p * n + c])) p = r;
    if (fabs(a[p * n + c]) < 1e-300) return 0;
    for (int k = 0; k < n; k++) {
      double t = a[c * n + k];
      a[c * n + k] = a[p * n + k];
      a[p * n + k] = t;
    }
    double t = b[c];
    b[c] = b[p];
    b[p] = t;
    for (int r = 0; r < n; r++) {
      if (r == c) continue;
      double f = a[r * n + c] / a[c * n + c];
      for (int k = 0; k < n; k++) a[r * n + k] -= f * a[c * n + k];
      b[r] -= f * b[c];
    }
  }
  for (int c = 0; c < n; c++) b[c] /= a[c * n + c];
  return 1;
}

static void inverse3(const double *m, double *inv) {
  for (int j = 0; j < K; j++) {
    double a[K * K], e[K] = {0};
    memcpy(a, m, sizeof a);
    e[j] = 1;
    gauss(a, e, K);
    for (int i = 0; i < K; i++) inv[i * K + j] = e[i];
  }
}

/* MGDA: the min-norm point of the convex hull of the rows of z: the best, over every face
 * of the simplex, of the affine minimiser on that face when it lies in the face. */
static void ref_min_norm(double gram[K][K], double *alpha) {
  double best = INFINITY;
  for (int mask = 1; mask < 1 << K; mask++) {
    int idx[K], s = 0;
    for (int i = 0; i < K; i++)
      if (mask >> i & 1) idx[s++] = i;
    double a[(K + 1) * (K + 1)], b[K + 1];
    int n = s + 1;
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++)
        a[i * n + j] = i < s && j < s ? gram[idx[i]][idx[j]] : i == j ? 0 : 1;
      b[i] = i < s ? 0 : 1;
    }
    if (!gauss(a, b, n)) continue;
    double w[K] = {0}, v = 0;
    int ok = 1;
    for (int i = 0; i < s; i++) {
      ok &= b[i] >= -1e-12;
      w[idx[i]] = fmax(b[i], 0);
    }
    if (!ok) continue;
    for (int i = 0; i < K; i++)
      for (int j = 0; j < K; j++) v += w[i] * gram[i][j] * w[j];
    if (v < best) {
      best = v;
      memcpy(alpha, w, sizeof w);
    }
  }
}

/* CAGrad's dual objective g_w·g0 + c‖g0‖‖g_w‖ at w. */
static double cagrad_obj(double gram[K][K], const double *w, double cg0) {
  double lin = 0, q = 0;
  for (int i = 0; i < K; i++)
    for (int j = 0; j < K; j++) {
      lin += w[i] * gram[i][j] / K;
      q += w[i] * gram[i][j] * w[j];
    }
  return lin + cg0 * sqrt(fmax(q, 0));
}

/* Compass search over the simplex along the edges e_i − e_j. */
static void compass(double gram[K][K], double cg0, double *w) {
  for (int i = 0; i < K; i++) w[i] = 1.0 / K;
  double f = cagrad_obj(gram, w, cg0);
  for (double h = 0.25; h > 1e-14;) {
    int improved = 0;
    for (int i = 0; i < K; i++)
      for (int j = 0; j < K; j++) {
        if (i == j || w[j] <= 0) continue;
        double step = fmin(h, w[j]), t[K];
        memcpy(t, w, sizeof t);
        t[i] += step;
        t[j] -= step;
        double ft = cagrad_obj(gram, t, cg0);
        if (ft < f) {
          memcpy(w, t, sizeof t);
          f = ft;
          improved = 1;
        }
      }
    if (!improved) h /= 2;
  }
}

/* Spectral radius of a symmetric positive definite K×K by power iteration. */
static double spectral_radius(const double *m) {
  double v[K] = {1, 0.7, 0.3}, lam = 0;
  for (int it = 0; it < 20000; it++) {
    double u[K] = {0}, n = 0;
    for (int i = 0; i < K; i++)
      for (int j = 0; j < K; j++) u[i] += m[i * K + j] * v[j];
    for (int i = 0; i < K; i++) n += u[i] * u[i];
    n = sqrt(n);
    lam = dot(u, v, K);
    for (int i = 0; i < K; i++) v[i] = u[i] / n;
  }
  return lam;
}

enum { M_PCGRAD, M_MGDA, M_CAGRAD, M_IMTL, M_ALIGNED, M_RLW, M_GLS, M_COUNT };
static const char *const method_name[M_COUNT] = {"pcgrad", "mgda-ub", "cagrad", "imtl-g",
                                                 "aligned-mtl", "rlw", "gls"};
static const clm_mtl_strategy method_strategy[M_COUNT] = {
    CLM_MTL_PCGRAD, CLM_MTL_MGDA_UB, CLM_MTL_CAGRAD, CLM_MTL_IMTL_G, CLM_MTL_ALIGNED_MTL,
    CLM_MTL_RLW, CLM_MTL_GLS};

/* The shared gradient `out` (S) and weights `wout` (K, NaN when the method has none to log)
 * of method `meth` at step t; `plant` introduces that method's planted error. seeds: for
 * rlw and gls the loss seeds (the whole network takes Σ seed_i ∇L_i). */
static void ref_method(int meth, int plant, int t, const task_grads *tg, const double *loss,
                       double *out, double *wout, double *seeds) {
  double gram[K][K];
  for (int i = 0; i < K; i++) {
    wout[i] = NAN;
    seeds[i] = NAN;
    for (int j = 0; j < K; j++) gram[i][j] = dot(tg->g[i], tg->g[j], S);
  }
  memset(out, 0, sizeof(double) * S);
  double alpha[K] = {0};
  switch (meth) {
  case M_PCGRAD: /* Alg. 1: each g_i projected onto the normal plane of each conflicting g_j */
    for (int i = 0; i < K; i++) {
      double gp[S];
      int order[K];
      memcpy(gp, tg->g[i], sizeof gp);
      clm_mtl_pcgrad_order(0, t, i, K, order);
      for (int r = 0; r < K - 1; r++) {
        int j = order[r];
        double d = dot(gp, tg->g[j], S), nn = dot(tg->g[j], tg->g[j], S);
        if (d < 0)
          for (int q = 0; q < S; q++) gp[q] += (plant ? 1 : -1) * d / nn * tg->g[j][q];
      }
      for (int q = 0; q < S; q++) out[q] += gp[q];
    }
    return;
  case M_MGDA: { /* min-norm point of the gradients at the representation */
    double zg[K][K];
    for (int i = 0; i < K; i++)
      for (int j = 0; j < K; j++)
        zg[i][j] = (plant && i != j ? -1 : 1) * dot(tg->z[i], tg->z[j], NZ);
    ref_min_norm(zg, alpha);
    break;
  }
  case M_CAGRAD: {
    double g0[S] = {0}, w[K], gw[S] = {0};
    for (int i = 0; i < K; i++)
      for (int q = 0; q < S; q++) g0[q] += tg->g[i][q] / K;
    double cg0 = CAGRAD_C * sqrt(dot(g0, g0, S));
    compass(gram, cg0, w);
    for (int i = 0; i < K; i++)
      for (int q = 0; q < S; q++) gw[q] += w[i] * tg->g[i][q];
    double lambda = cg0 / sqrt(dot(gw, gw, S));
    for (int q = 0; q < S; q++)
      out[q] = (g0[q] + (plant ? -1 : 1) * lambda * gw[q]) / (1 + CAGRAD_C * CAGRAD_C);
    for (int i = 0; i < K; i++) wout[i] = (1.0 / K + lambda * w[i]) / (1 + CAGRAD_C * CAGRAD_C);
    return;
  }
  case M_IMTL: { /* Σα = 1 and g·u_1 = g·u_i (i ≥ 2) for g = Σ α_j g_j */
    double u[K][S], a[K * K], b[K] = {1, 0, 0};
    for (int i = 0; i < K; i++) {
      double n = sqrt(gram[i][i]);
      for (int q = 0; q < S; q++) u[i][q] = tg->g[i][q] / n;
    }
    for (int j = 0; j < K; j++) {
      a[j] = 1;
      for (int i = 1; i < K; i++)
        a[i * K + j] = dot(tg->g[j], u[0], S) + (plant ? 1 : -1) * dot(tg->g[j], u[i], S);
    }
    gauss(a, b, K);
    memcpy(alpha, b, sizeof alpha);
    break;
  }
  case M_ALIGNED: { /* B = σ_min M^{-1/2}, α = B·1 */
    double m[K * K], y[K * K], z[K * K], yi[K * K], zi[K * K], tr = 0;
    for (int i = 0; i < K; i++) {
      tr += gram[i][i];
      for (int j = 0; j < K; j++) m[i * K + j] = gram[i][j];
    }
    for (int i = 0; i < K * K; i++) {
      y[i] = m[i] / tr;
      z[i] = i / K == i % K;
    }
    for (int it = 0; it < 100; it++) { /* Denman–Beavers: z → (M/tr)^{-1/2} */
      inverse3(y, yi);
      inverse3(z, zi);
      for (int i = 0; i < K * K; i++) {
        y[i] = 0.5 * (y[i] + zi[i]);
        z[i] = 0.5 * (z[i] + yi[i]);
      }
    }
    double minv[K * K];
    inverse3(m, minv);
    double sigma = plant ? sqrt(spectral_radius(m)) : 1 / sqrt(spectral_radius(minv));
    for (int i = 0; i < K; i++) {
      alpha[i] = 0;
      for (int j = 0; j < K; j++) alpha[i] += sigma * z[i * K + j] / sqrt(tr);
    }
    break;
  }
  case M_RLW: { /* w = softmax(z), z ~ N(0, I) */
    double z[K], sum = 0;
    clm_mtl_rlw_draw(0, t, K, z);
    for (int i = 0; i < K; i++) sum += exp((plant ? -1 : 1) * z[i]);
    for (int i = 0; i < K; i++) seeds[i] = wout[i] = exp((plant ? -1 : 1) * z[i]) / sum;
    return;
  }
  case M_GLS: { /* (Π L_i)^{1/K}: d/dL_i = total / (K L_i) */
    double prod = 1;
    for (int i = 0; i < K; i++) prod *= loss[i];
    double total = pow(prod, 1.0 / K);
    for (int i = 0; i < K; i++)
      seeds[i] = wout[i] = plant ? loss[i] / (K * total) : total / (K * loss[i]);
    return;
  }
  }
  for (int i = 0; i < K; i++) {
    wout[i] = alpha[i];
    for (int q = 0; q < S; q++) out[q] += alpha[i] * tg->g[i][q];
  }
}

/* One reference network's parameters and momentum buffers. */
typedef struct {
  double *v[P_COUNT], *buf[P_COUNT];
} rnet;

static void use_net(rnet *r) {
  for (int p = 0; p < P_COUNT; p++) {
    P[p].v = r->v[p];
    P[p].buf = r->buf[p];
  }
}

/* One step of the reference network `r` with method meth (planted or not). */
static void ref_step(rnet *r, int meth, int plant, int t, const batch *b, double *loss,
                     double *wout) {
  static fwd f;
  static task_grads tg;
  use_net(r);
  ref_forward(b, &f);
  for (int i = 0; i < K; i++) {
    double seed[K] = {0};
    seed[i] = 1;
    loss[i] = f.loss[i];
    zero_grads();
    ref_backward(b, &f, seed);
    memcpy(tg.z[i], dh2, sizeof dh2);
    int at = 0;
    for (int s = 0; s < NSHARED; s++)
      for (int j = 0; j < P[shared_p[s]].n; j++) tg.g[i][at++] = P[shared_p[s]].g[j];
    for (int p = 0; p < P_COUNT; p++) {
      if (!tg.all[i][p]) tg.all[i][p] = calloc((size_t)P[p].n, sizeof(double));
      memcpy(tg.all[i][p], P[p].g, sizeof(double) * (size_t)P[p].n);
    }
  }
  double shared[S], seeds[K];
  ref_method(meth, plant, t, &tg, loss, shared, wout, seeds);
  zero_grads();
  if (meth == M_RLW || meth == M_GLS) { /* the whole network on Σ seed_i ∇L_i */
    for (int i = 0; i < K; i++)
      for (int p = 0; p < P_COUNT; p++)
        for (int j = 0; j < P[p].n; j++) P[p].g[j] += seeds[i] * tg.all[i][p][j];
  } else {
    int at = 0;
    for (int s = 0; s < NSHARED; s++)
      for (int j = 0; j < P[shared_p[s]].n; j++) P[shared_p[s]].g[j] = shared[at++];
    for (int i = 0; i < K; i++)
      for (int h = 0; h < 2; h++)
        memcpy(P[head_p[i][h]].g, tg.all[i][head_p[i][h]], sizeof(double) * P[head_p[i][h]].n);
  }
  for (int p = 0; p < P_COUNT; p++) {
    if (P[p].state) continue;
    for (int j = 0; j < P[p].n; j++) {
      P[p].buf[j] = t == 0 ? P[p].g[j] : MOMENTUM * P[p].buf[j] + P[p].g[j];
      P[p].v[j] -= LR * P[p].buf[j];
    }
  }
}

/* ---- the comparison -------------------------------------------------------------------- */

static void run_method(clm_context *ctx, int meth) {
  const char *nm = method_name[meth];
  char name[300];
  clm_graph *g = NULL;
  clm_mtl *m = NULL;
  clm_optim_state os = {0};
  clm_graph_options o = {N, H, W, 1, -1, 0};
  clm_mtl_config cfg;
  clm_status st = clm_graph_create(ctx, &g);
  if (st == CLM_OK) st = clm_graph_parse(g, model, "gradmethods_ref.cfg");
  if (st == CLM_OK) st = clm_graph_set_multi_backward(g, 1);
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  if (st == CLM_OK) st = clm_graph_init_params(g, 7);
  if (st == CLM_OK) st = clm_mtl_config_for_graph(g, method_strategy[meth], &cfg);
  if (st == CLM_OK) st = clm_mtl_create(g, &cfg, &m);
  if (st == CLM_OK) st = clm_optim_state_init(ctx, clm_graph_params(g).w, &os);
  snprintf(name, sizeof name, "%s: set-up", nm);
  test_status(name, st);
  if (st != CLM_OK) {
    clm_mtl_free(m);
    clm_graph_free(g);
    return;
  }
  if (meth == M_MGDA) {
    const char *rep = clm_mtl_shared_layer(m);
    test_true("mgda-ub: the shared representation is c2's batch norm (h2)",
              rep && !strncmp(rep, "c2", 2), rep ? rep : "(none)");
  }
  /* both references start from the graph's initial values */
  rnet net[2];
  for (int p = 0; p < P_COUNT; p++) {
    P[p].g = calloc((size_t)P[p].n, sizeof(double));
    for (int r = 0; r < 2; r++) {
      net[r].v[p] = calloc((size_t)P[p].n, sizeof(double));
      net[r].buf[p] = calloc((size_t)P[p].n, sizeof(double));
    }
    for (int i = 0; i < clm_graph_named_count(g); i++) {
      const char *pn;
      clm_tensor v;
      int is_param;
      if (clm_graph_named(g, i, &pn, &v, &is_param) != CLM_OK || strcmp(pn, P[p].name)) continue;
      float *h = test_download(ctx, &v);
      for (int j = 0; j < P[p].n; j++) net[0].v[p][j] = net[1].v[p][j] = h[j];
      free(h);
    }
  }
  clm_optim_config oc = clm_optim_defaults(CLM_OPTIM_SGD);
  oc.lr = (float)LR;
  oc.momentum = (float)MOMENTUM;
  test_rng rng = test_rng_make(4321);
  static batch b;
  float hx[N * C0 * HW], hl[N * HW], hd[N * HW], hz[N * ZC * HW];
  double planted_err = 0;
  for (int t = 0; t < STEPS && st == CLM_OK; t++) {
    make_batch(&rng, &b, hx, hl, hd, hz);
    st = clm_graph_set_input(g, "input", hx);
    if (st == CLM_OK) st = clm_graph_set_input(g, "labels", hl);
    if (st == CLM_OK) st = clm_graph_set_input(g, "depth", hd);
    if (st == CLM_OK) st = clm_graph_set_input(g, "zt", hz);
    if (st == CLM_OK) st = clm_step_run(m, &oc, &os, NULL);
    clm_mtl_snapshot snap;
    if (st == CLM_OK) st = clm_mtl_read(m, &snap);
    snprintf(name, sizeof name, "%s step %d", nm, t + 1);
    test_status(name, st);
    if (st != CLM_OK) break;
    double loss[K], w[K], ploss[K], pw[K];
    ref_step(&net[1], meth, 1, t, &b, ploss, pw);
    ref_step(&net[0], meth, 0, t, &b, loss, w);
    double el = 0, ew = 0;
    for (int i = 0; i < K; i++) {
      el = fmax(el, fabs(snap.loss[i] - loss[i]) / fmax(fabs(loss[i]), 1e-3));
      if (!isnan(w[i])) ew = fmax(ew, fabs(snap.weight[i] - w[i]) / fmax(fabs(w[i]), 1e-2));
    }
    snprintf(name, sizeof name, "%s step %d: task losses %.5f %.5f %.5f (reference %.5f %.5f "
             "%.5f)", nm, t + 1, snap.loss[0], snap.loss[1], snap.loss[2], loss[0], loss[1], loss[2]);
    test_check(name, el, 2e-5);
    if (!isnan(w[0])) {
      snprintf(name, sizeof name, "%s step %d: weights %.5f %.5f %.5f (reference %.5f %.5f %.5f)",
               nm, t + 1, snap.weight[0], snap.weight[1], snap.weight[2], w[0], w[1], w[2]);
      test_check(name, ew, 1e-4);
    }
    double ep = 0, pe = 0;
    const char *worst = "";
    for (int r = 1; r >= 0; r--) {
      use_net(&net[r]);
      for (int p = 0; p < P_COUNT; p++) {
        double e = compare_param(g, ctx, &P[p], 1e-2);
        if (r == 1) pe = fmax(pe, e);
        else if (e > ep) {
          ep = e;
          worst = P[p].name;
        }
      }
    }
    planted_err = fmax(planted_err, pe);
    snprintf(name, sizeof name, "%s step %d: parameters and running statistics (worst %s)", nm,
             t + 1, worst);
    test_check(name, ep, 1e-4);
  }
  printf("  %s: the reference with a planted error differs by %.3g\n", nm, planted_err);
  snprintf(name, sizeof name, "%s: a planted error in the reference is caught (%.3g > 1e-3)",
           nm, planted_err);
  test_true(name, planted_err > 1e-3, "the comparison cannot tell the planted error apart");
  for (int p = 0; p < P_COUNT; p++) {
    free(P[p].g);
    for (int r = 0; r < 2; r++) {
      free(net[r].v[p]);
      free(net[r].buf[p]);
    }
  }
  clm_optim_state_free(&os);
  clm_mtl_free(m);
  clm_graph_free(g);
}

/* The draws: rlw's z are standard normal (mean 0, variance 1 over 4000 steps, distinct per
 * step and per seed); pcgrad's orders are permutations of the other tasks, every order of
 * K = 3 appearing. */
static void test_draws(void) {
  double s1 = 0, s2 = 0, z[4], z2[4];
  int n = 0;
  for (long t = 0; t < 4000; t++) {
    clm_mtl_rlw_draw(0, t, 4, z);
    for (int i = 0; i < 4; i++) {
      s1 += z[i];
      s2 += z[i] * z[i];
      n++;
    }
  }
  double mean = s1 / n, var = s2 / n - mean * mean;
  char name[200];
  snprintf(name, sizeof name, "rlw draws: mean %.4f, variance %.4f over %d", mean, var, n);
  test_true(name, fabs(mean) < 0.05 && fabs(var - 1) < 0.05, "not standard normal");
  clm_mtl_rlw_draw(0, 5, 4, z);
  clm_mtl_rlw_draw(1, 5, 4, z2);
  test_true("rlw draws differ between seeds", memcmp(z, z2, sizeof z) != 0, "same draws");
  int seen[2] = {0, 0}, ok = 1;
  for (long t = 0; t < 200; t++) {
    int ord[K];
    clm_mtl_pcgrad_order(0, t, 1, K, ord);
    ok &= (ord[0] == 0 && ord[1] == 2) || (ord[0] == 2 && ord[1] == 0);
    seen[ord[0] == 2]++;
  }
  test_true("pcgrad orders are permutations of the other tasks", ok, "not a permutation");
  test_true("pcgrad orders: both orders of two tasks appear", seen[0] > 50 && seen[1] > 50,
            "one order dominates");
}

/* The host K×K solve (src/mtl/gradmethods-impl.h), compared with the references directly. */
clm_status clm_gm_solve(const clm_mtl_config *cfg, long step, const double *gram,
                        const int *active, double *alpha);

/* 200 random sets of task gradients (a common part plus larger task parts at different
 * scales, so that some pairs conflict and the solutions fall inside the simplex as well as
 * on its faces): clmtl's coefficients α against the references' (for pcgrad the combined vectors),
 * and cagrad at c = 0.5 and 2; one more set with a task left out. */
static void test_solves(void) {
  static task_grads tg;
  test_rng r = test_rng_make(99);
  double worst[M_COUNT] = {0}, worst_c2 = 0;
  int conflicts = 0;
  for (int cs = 0; cs < 200; cs++) {
    double base[S], zb[NZ], share = test_uniform(&r, 0, 0.6f);
    for (int q = 0; q < S; q++) base[q] = test_uniform(&r, -1, 1);
    for (int q = 0; q < NZ; q++) zb[q] = test_uniform(&r, -1, 1);
    for (int i = 0; i < K; i++) {
      double sc = test_uniform(&r, 0.2f, 3.0f);
      for (int q = 0; q < S; q++) tg.g[i][q] = sc * (share * base[q] + test_uniform(&r, -1, 1));
      for (int q = 0; q < NZ; q++) tg.z[i][q] = sc * (share * zb[q] + test_uniform(&r, -1, 1));
    }
    double gram[K * K], zgram[K * K], loss[K] = {1, 1, 1};
    for (int i = 0; i < K; i++)
      for (int j = 0; j < K; j++) {
        gram[i * K + j] = dot(tg.g[i], tg.g[j], S);
        zgram[i * K + j] = dot(tg.z[i], tg.z[j], NZ);
      }
    conflicts += gram[1] < 0 || gram[2] < 0 || gram[5] < 0;
    int active[K] = {1, 1, 1};
    for (int meth = M_PCGRAD; meth <= M_ALIGNED; meth++) {
      clm_mtl_config cfg = clm_mtl_defaults(method_strategy[meth], K);
      double a[K], out[S], w[K], seeds[K];
      clm_gm_solve(&cfg, cs, meth == M_MGDA ? zgram : gram, active, a);
      ref_method(meth, 0, cs, &tg, loss, out, w, seeds);
      double e = 0;
      if (meth == M_PCGRAD) {
        double top = 0;
        for (int q = 0; q < S; q++) {
          double v = 0;
          for (int i = 0; i < K; i++) v += a[i] * tg.g[i][q];
          e = fmax(e, fabs(v - out[q]));
          top = fmax(top, fabs(out[q]));
        }
        e /= top;
      } else {
        for (int i = 0; i < K; i++) e = fmax(e, fabs(a[i] - w[i]) / fmax(fabs(w[i]), 1e-2));
      }
      worst[meth] = fmax(worst[meth], e);
      if (meth == M_CAGRAD) { /* c = 2: the reference's constant set for this call */
        cfg.cagrad_c = 2.0f;
        clm_gm_solve(&cfg, cs, gram, active, a);
        double g0[S] = {0}, ww[K], gw[S] = {0};
        for (int i = 0; i < K; i++)
          for (int q = 0; q < S; q++) g0[q] += tg.g[i][q] / K;
        double cg0 = 2.0 * sqrt(dot(g0, g0, S));
        double gm[K][K];
        for (int i = 0; i < K; i++)
          for (int j = 0; j < K; j++) gm[i][j] = gram[i * K + j];
        compass(gm, cg0, ww);
        for (int i = 0; i < K; i++)
          for (int q = 0; q < S; q++) gw[q] += ww[i] * tg.g[i][q];
        double lambda = cg0 / sqrt(dot(gw, gw, S));
        for (int i = 0; i < K; i++) {
          double want = (1.0 / K + lambda * ww[i]) / 5.0;
          worst_c2 = fmax(worst_c2, fabs(a[i] - want) / fmax(fabs(want), 1e-2));
        }
      }
    }
  }
  char name[200];
  snprintf(name, sizeof name, "random gradient sets: %d of 200 have a conflicting pair", conflicts);
  test_true(name, conflicts > 40 && conflicts < 190, "too few or too many conflicts");
  for (int meth = M_PCGRAD; meth <= M_ALIGNED; meth++) {
    snprintf(name, sizeof name, "%s solve on 200 random gradient sets", method_name[meth]);
    test_check(name, worst[meth], meth == M_CAGRAD ? 1e-5 : 1e-8);
  }
  test_check("cagrad solve with c = 2 on 200 random gradient sets", worst_c2, 1e-5);
  /* a task left out: its coefficient is 0 and the others solve the two-task problem */
  double gram[K * K] = {2, -1, 5, -1, 3, 7, 5, 7, 9}, a[K];
  int active[K] = {1, 1, 0};
  clm_mtl_config cfg = clm_mtl_defaults(CLM_MTL_MGDA_UB, K);
  clm_gm_solve(&cfg, 0, gram, active, a);
  /* two tasks: α_1 = (M22 − M12) / (M11 + M22 − 2 M12) = 4/7 */
  test_check("mgda-ub with task 3 left out: (4/7, 3/7, 0)",
             fmax(fabs(a[0] - 4.0 / 7), fmax(fabs(a[1] - 3.0 / 7), fabs(a[2]))), 1e-12);
}

/* Names round-trip; a gradient method refuses a graph without multi_backward. */
static void test_guards(clm_context *ctx) {
  for (int i = 0; i < M_COUNT; i++) {
    clm_mtl_strategy s;
    char name[100];
    snprintf(name, sizeof name, "'%s' parses and names itself", method_name[i]);
    test_true(name, clm_mtl_strategy_parse(method_name[i], &s) == CLM_OK &&
                        s == method_strategy[i] && !strcmp(clm_mtl_strategy_name(s), method_name[i]),
              method_name[i]);
  }
  test_true("task gradients needed by pcgrad and gradnorm, not by rlw or gls",
            clm_mtl_strategy_needs_task_grads(CLM_MTL_PCGRAD) &&
                clm_mtl_strategy_needs_task_grads(CLM_MTL_GRADNORM) &&
                !clm_mtl_strategy_needs_task_grads(CLM_MTL_RLW) &&
                !clm_mtl_strategy_needs_task_grads(CLM_MTL_GLS),
            "wrong set");
  clm_graph *g = NULL;
  clm_graph_options o = {N, H, W, 1, -1, 0};
  clm_status st = clm_graph_create(ctx, &g);
  if (st == CLM_OK) st = clm_graph_parse(g, model, "gradmethods_ref.cfg");
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  test_status("guards: set-up", st);
  clm_mtl_config cfg;
  clm_mtl *m = NULL;
  if (st == CLM_OK) st = clm_mtl_config_for_graph(g, CLM_MTL_CAGRAD, &cfg);
  if (st == CLM_OK)
    test_expect("cagrad needs a multi-backward graph", clm_mtl_create(g, &cfg, &m),
                CLM_ERR_INVALID_ARG, "clm_graph_set_multi_backward");
  clm_mtl_free(m);
  clm_graph_free(g);
}

int main(void) {
  clm_context *ctx = test_context();
  test_draws();
  test_solves();
  test_guards(ctx);
  for (int meth = 0; meth < M_COUNT; meth++) run_method(ctx, meth);
  clm_context_free(ctx);
  return test_finish();
}
