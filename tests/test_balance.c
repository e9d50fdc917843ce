/* GradNorm and DWA task weightings (include/clmtl/mtl_device.h, "GradNorm and DWA") against
 * double-precision host computations written here from Chen et al. 2018 and Liu et al. 2019:
 * DWA weights over a scripted 5-epoch sequence of epoch means (and one epoch against literal
 * numbers); GradNorm's weight gradient, L_grad, and the weights after plain SGD and
 * renormalisation over a scripted sequence of losses and raw norms (with a task absent at the
 * start, an empty task and a hard-gated task), plus one hand-computed step; the gradient norm
 * kernel vs a host norm on random data of odd sizes; and clm_mtl_step for gradnorm and dwa
 * (total Σ w_i L_i, seeds w_i with the weights read from the device buffer). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/mtl.h"
#include "clmtl/optim.h"
#include "test_util.h"

#define TOL 1e-5      /* float device vs double host, relative to the largest value */
#define SENTINEL 7.0f /* outputs start at this, so a missing write shows */

static double sum_f(const float *x, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += x[i];
  return s;
}

/* ---- DWA --------------------------------------------------------------------------------- */

/* w_k = K·exp(r_k/T) / Σ_j exp(r_j/T), r_k = a_k / b_k, in double. */
static void dwa_expect(const float *a, const float *b, int K, double T, double *w) {
  double e[CLM_MTL_MAX_TASKS], s = 0;
  for (int k = 0; k < K; k++) {
    e[k] = exp(((double)a[k] / (double)b[k]) / T);
    s += e[k];
  }
  for (int k = 0; k < K; k++) w[k] = K * e[k] / s;
}

static void test_dwa(clm_context *ctx) {
  enum { K = 3, EPOCHS = 5 };
  /* epoch-mean losses of epochs 0..4 (the weights of epoch t use epochs t-1 and t-2) */
  const float means[EPOCHS][K] = {{2.0f, 1.0f, 0.5f},
                                  {1.6f, 0.9f, 0.5f},
                                  {1.2f, 0.9f, 0.45f},
                                  {1.0f, 0.6f, 0.45f},
                                  {0.9f, 0.3f, 0.44f}};
  clm_dwa d;
  test_status("dwa: init", clm_dwa_init(&d, K, CLM_DWA_TEMPERATURE));
  float wt[K];
  char name[120];
  for (int t = 0; t < EPOCHS; t++) {
    /* weights of epoch t, from the t epochs recorded so far */
    test_status("dwa: weights", clm_dwa_weights(&d, wt));
    double want[K];
    if (t < 2) {
      for (int k = 0; k < K; k++) want[k] = 1.0;
    } else {
      dwa_expect(means[t - 1], means[t - 2], K, 2.0, want);
    }
    float wf[K];
    for (int k = 0; k < K; k++) wf[k] = (float)want[k];
    snprintf(name, sizeof name, "dwa epoch %d: weights %.6f %.6f %.6f vs formula", t, wt[0],
             wt[1], wt[2]);
    test_check(name, test_rel_error(wt, wf, K, 1e-6), 1e-6);
    if (t < 2) {
      snprintf(name, sizeof name, "dwa epoch %d: weights exactly 1", t);
      test_true(name, wt[0] == 1.0f && wt[1] == 1.0f && wt[2] == 1.0f, NULL);
    }
    snprintf(name, sizeof name, "dwa epoch %d: sum of weights = K", t);
    test_check(name, fabs(sum_f(wt, K) - K) / K, 1e-6);
    if (t == 2) {
      /* by hand: r = 1.6/2, 0.9/1, 0.5/0.5 = 0.8, 0.9, 1.0; r/T = 0.4, 0.45, 0.5;
       * exp: 1.4918247, 1.5683122, 1.6487213, sum 4.7088582;
       * w = 3·exp/sum = 0.9504372, 0.9991672, 1.0503956 */
      const float lit[K] = {0.9504372f, 0.9991672f, 1.0503956f};
      test_check("dwa epoch 2 vs hand-computed 0.9504372, 0.9991672, 1.0503956",
                 test_rel_error(wt, lit, K, 1e-6), 2e-7);
      /* the upload helper puts the same weights on the device */
      float z[K] = {0, 0, 0};
      clm_tensor dev = test_tensor(ctx, 1, 1, 1, K, z);
      test_status("dwa: upload", clm_dwa_upload(ctx, &d, &dev));
      float *got = test_download(ctx, &dev);
      test_true("dwa: uploaded weights equal the host weights", !memcmp(got, wt, sizeof wt),
                NULL);
      free(got);
      test_tensor_free(ctx, &dev);
    }
    test_status("dwa: record epoch", clm_dwa_record(&d, means[t]));
  }
  test_true("dwa: epochs counted", d.epochs == EPOCHS, NULL);

  /* a zero or non-finite mean counts as r = 1 (T = 1 here) */
  test_status("dwa: init T 1", clm_dwa_init(&d, 2, 1.0f));
  const float a[2] = {0.0f, 2.0f}, b[2] = {NAN, 1.0f};
  clm_dwa_record(&d, a);
  clm_dwa_record(&d, b);
  clm_dwa_weights(&d, wt);
  double e1 = exp(1.0), e2 = exp(0.5);
  float want2[2] = {(float)(2 * e1 / (e1 + e2)), (float)(2 * e2 / (e1 + e2))};
  test_check("dwa: zero previous mean and NaN mean give r = 1", test_rel_error(wt, want2, 2, 1e-6),
             1e-6);
  test_true("dwa: T 0 is INVALID_ARG", clm_dwa_init(&d, 2, 0.0f) == CLM_ERR_INVALID_ARG,
            clm_last_error());
  test_true("dwa: 17 tasks is INVALID_ARG", clm_dwa_init(&d, 17, 2.0f) == CLM_ERR_INVALID_ARG,
            clm_last_error());
}

/* ---- GradNorm ---------------------------------------------------------------------------- */

/* Host GradNorm weight gradient in double over the active tasks; returns L_grad. */
static double gradnorm_expect(int K, const int *active, const double *w, const float *gn,
                              const float *L, const float *L0, double alpha, double *grad) {
  double G[CLM_MTL_MAX_TASKS], lt[CLM_MTL_MAX_TASKS], gs = 0, ls = 0;
  int na = 0;
  for (int i = 0; i < K; i++) {
    if (!active[i]) continue;
    G[i] = w[i] * gn[i];
    lt[i] = (double)L[i] / L0[i];
    gs += G[i];
    ls += lt[i];
    na++;
  }
  double lg = 0;
  for (int i = 0; i < K; i++) {
    grad[i] = 0;
    if (!active[i]) continue;
    double target = gs / na * pow(lt[i] / (ls / na), alpha);
    double d = G[i] - target;
    lg += fabs(d);
    grad[i] = d > 0 ? gn[i] : d < 0 ? -(double)gn[i] : 0.0;
  }
  return lg;
}

/* The device pieces on packed scalars (values, counts, seeds: K floats each). */
typedef struct gn_bufs {
  clm_tensor val, cnt, seed, w, gn, l0, wgrad, lgrad;
  clm_mtl_scalars sc;
} gn_bufs;

static gn_bufs gn_alloc(clm_context *ctx, int K, const float *w0) {
  float sent[CLM_MTL_MAX_TASKS];
  for (int i = 0; i < K; i++) sent[i] = SENTINEL;
  gn_bufs b;
  b.val = test_tensor(ctx, 1, 1, 1, K, sent);
  b.cnt = test_tensor(ctx, 1, 1, 1, K, sent);
  b.seed = test_tensor(ctx, 1, 1, 1, K, sent);
  b.w = test_tensor(ctx, 1, 1, 1, K, w0);
  b.gn = test_tensor(ctx, 1, 1, 1, K, sent);
  b.l0 = test_tensor(ctx, 1, 1, 1, K, sent);
  b.wgrad = test_tensor(ctx, 1, 1, 1, K, sent);
  b.lgrad = test_tensor(ctx, 1, 1, 1, 1, sent);
  b.sc = clm_mtl_scalars_packed(&b.val, &b.cnt, &b.seed);
  return b;
}

static void gn_free(clm_context *ctx, gn_bufs *b) {
  clm_tensor *all[8] = {&b->val, &b->cnt, &b->seed, &b->w, &b->gn, &b->l0, &b->wgrad, &b->lgrad};
  for (int i = 0; i < 8; i++) test_tensor_free(ctx, all[i]);
}

/* Hand-computed step, K = 2, α = 1.5: L0 = (1, 2), L = (1.96, 0.08) so L̃ = (1.96, 0.04),
 * mean 1, r = (1.96, 0.04), r^1.5 = (2.744, 0.008). w = (0.5, 1.5), G_raw = (4, 2):
 * G = (2, 3), Ḡ = 2.5, target = (6.86, 0.02), G − target = (−4.86, 2.98),
 * L_grad = 7.84, dL/dw = (−4, +2). SGD lr 0.1: w = (0.9, 1.3), sum 2.2, renormalised
 * w = 2·(0.9, 1.3)/2.2 = (9/11, 13/11) = (0.8181818, 1.1818182). */
static void test_gradnorm_literal(clm_context *ctx) {
  const float w0[2] = {0.5f, 1.5f}, L0[2] = {1.0f, 2.0f}, L[2] = {1.96f, 0.08f};
  const float cnt[2] = {10, 10}, gn[2] = {4.0f, 2.0f};
  gn_bufs b = gn_alloc(ctx, 2, w0);
  clm_mtl_config cfg = clm_mtl_defaults(CLM_MTL_GRADNORM, 2);
  test_upload(ctx, &b.val, L0);
  test_upload(ctx, &b.cnt, cnt);
  test_upload(ctx, &b.gn, gn);
  test_status("gradnorm literal: record", clm_gradnorm_record_initial(ctx, &cfg, &b.sc, &b.l0, 0));
  test_upload(ctx, &b.val, L);
  test_status("gradnorm literal: weight gradient",
              clm_gradnorm_weight_grad(ctx, &cfg, CLM_GRADNORM_ALPHA, &b.sc, &b.w, &b.gn, &b.l0,
                                       &b.wgrad, &b.lgrad));
  float *g = test_download(ctx, &b.wgrad), *lg = test_download(ctx, &b.lgrad);
  const float want_g[2] = {-4.0f, 2.0f}, want_lg = 7.84f;
  test_check("gradnorm literal: dL_grad/dw = (-4, 2)", test_rel_error(g, want_g, 2, 1e-6), 0);
  test_check("gradnorm literal: L_grad = 7.84", test_rel_error(lg, &want_lg, 1, 1e-6), 1e-6);
  free(g);
  free(lg);
  clm_optim_config oc = clm_optim_defaults(CLM_OPTIM_SGD);
  oc.lr = 0.1f;
  oc.momentum = 0.0f;
  clm_optim_state os;
  test_status("gradnorm literal: optimizer state", clm_optim_state_init(ctx, 2, &os));
  test_status("gradnorm literal: SGD", clm_optim_step(ctx, &oc, &b.w, &b.wgrad, &os, &b.lgrad));
  test_status("gradnorm literal: renormalize", clm_gradnorm_renormalize(ctx, &b.w));
  float *w = test_download(ctx, &b.w);
  const float want_w[2] = {0.8181818f, 1.1818182f};
  test_check("gradnorm literal: weights (9/11, 13/11) after SGD + renormalize",
             test_rel_error(w, want_w, 2, 1e-6), 1e-6);
  free(w);
  clm_optim_state_free(&os);
  gn_free(ctx, &b);
}

/* Scripted steps, K = 4: task 3 has no valid targets at step 0 (count 0, NaN loss) and gets
 * its L0 at step 1 by fill_missing; at step 2 task 1 is empty (NaN loss), at step 3 task 2 is
 * left out by hard gating (share 0.1 < 0.2). The host tracks the weights in double through
 * the same SGD step and renormalisation. */
static void test_gradnorm_sequence(clm_context *ctx) {
  enum { K = 4, STEPS = 5 };
  const float loss[STEPS][K] = {{2.0f, 1.5f, 0.8f, NAN},
                                {1.8f, 1.2f, 0.7f, 3.0f},
                                {1.5f, NAN, 0.75f, 2.4f},
                                {1.1f, 0.9f, 0.5f, 2.2f},
                                {0.9f, 0.8f, 0.45f, 1.5f}};
  const float count[STEPS][K] = {{100, 90, 80, 0},
                                 {100, 90, 80, 70},
                                 {100, 0, 80, 70},
                                 {100, 90, 10, 70},
                                 {100, 90, 80, 70}};
  const float norms[STEPS][K] = {{0.9f, 2.5f, 0.3f, 1.1f},
                                 {0.8f, 2.0f, 0.35f, 1.3f},
                                 {0.7f, 1.9f, 0.4f, 1.2f},
                                 {0.6f, 1.5f, 0.45f, 1.0f},
                                 {0.65f, 1.2f, 0.5f, 0.8f}};
  const double lr = 0.05;
  float w0[K] = {1, 1, 1, 1};
  gn_bufs b = gn_alloc(ctx, K, w0);
  clm_mtl_config cfg = clm_mtl_defaults(CLM_MTL_GRADNORM, K);
  cfg.gating = CLM_MTL_GATE_HARD;
  for (int i = 0; i < K; i++) cfg.valid_total[i] = 100;
  clm_optim_config oc = clm_optim_defaults(CLM_OPTIM_SGD);
  oc.lr = (float)lr;
  oc.momentum = 0.0f;
  clm_optim_state os;
  test_status("gradnorm sequence: optimizer state", clm_optim_state_init(ctx, K, &os));
  double w[K] = {1, 1, 1, 1};
  float L0[K];
  char name[160];
  for (int t = 0; t < STEPS; t++) {
    test_upload(ctx, &b.val, loss[t]);
    test_upload(ctx, &b.cnt, count[t]);
    test_upload(ctx, &b.gn, norms[t]);
    if (t < 2) {
      test_status("gradnorm sequence: record initial losses",
                  clm_gradnorm_record_initial(ctx, &cfg, &b.sc, &b.l0, t));
      for (int i = 0; i < K; i++)
        if (t == 0 || i == 3) L0[i] = count[t][i] > 0 ? loss[t][i] : 0.0f;
      float *l0 = test_download(ctx, &b.l0);
      snprintf(name, sizeof name, "gradnorm step %d: L0 = %g %g %g %g", t, l0[0], l0[1], l0[2],
               l0[3]);
      test_true(name, !memcmp(l0, L0, sizeof L0), t == 0 ? "want task 3 at 0" : NULL);
      free(l0);
    }
    test_status("gradnorm sequence: weight gradient",
                clm_gradnorm_weight_grad(ctx, &cfg, CLM_GRADNORM_ALPHA, &b.sc, &b.w, &b.gn, &b.l0,
                                         &b.wgrad, &b.lgrad));
    int active[K];
    for (int i = 0; i < K; i++)
      active[i] = count[t][i] > 0 && count[t][i] / 100.0f >= 0.2f && L0[i] > 0;
    double grad[K];
    double lg = gradnorm_expect(K, active, w, norms[t], loss[t], L0, 1.5, grad);
    float *dg = test_download(ctx, &b.wgrad), *dl = test_download(ctx, &b.lgrad);
    float fg[K], flg = (float)lg;
    for (int i = 0; i < K; i++) fg[i] = (float)grad[i];
    snprintf(name, sizeof name, "gradnorm step %d: dL_grad/dw %g %g %g %g", t, dg[0], dg[1],
             dg[2], dg[3]);
    test_check(name, test_rel_error(dg, fg, K, 1e-6), 0);
    snprintf(name, sizeof name, "gradnorm step %d: L_grad %g", t, dl[0]);
    test_check(name, test_rel_error(dl, &flg, 1, 1e-6), TOL);
    for (int i = 0; i < K; i++)
      if (!active[i]) {
        snprintf(name, sizeof name, "gradnorm step %d: inactive task %d has gradient 0", t, i);
        test_true(name, dg[i] == 0.0f, NULL);
      }
    free(dg);
    free(dl);

    test_status("gradnorm sequence: SGD",
                clm_optim_step(ctx, &oc, &b.w, &b.wgrad, &os, &b.lgrad));
    test_status("gradnorm sequence: renormalize", clm_gradnorm_renormalize(ctx, &b.w));
    double s = 0;
    for (int i = 0; i < K; i++) {
      w[i] = fmax(w[i] - (float)lr * grad[i], 1e-6);
      s += w[i];
    }
    for (int i = 0; i < K; i++) w[i] = K * w[i] / s;
    float *dw = test_download(ctx, &b.w), fw[K];
    for (int i = 0; i < K; i++) fw[i] = (float)w[i];
    snprintf(name, sizeof name, "gradnorm step %d: weights %.5f %.5f %.5f %.5f after SGD + "
             "renormalize", t, dw[0], dw[1], dw[2], dw[3]);
    test_check(name, test_rel_error(dw, fw, K, 1e-6), TOL);
    snprintf(name, sizeof name, "gradnorm step %d: sum of weights = K", t);
    test_check(name, fabs(sum_f(dw, K) - K) / K, 1e-6);
    free(dw);
  }
  clm_optim_state_free(&os);

  /* renormalisation floors tiny, negative and NaN weights at 1e-6 */
  const float bad[K] = {-1.0f, 0.0f, NAN, 3.0f};
  test_upload(ctx, &b.w, bad);
  test_status("gradnorm: renormalize bad weights", clm_gradnorm_renormalize(ctx, &b.w));
  float *dw = test_download(ctx, &b.w);
  double s = 3e-6 + 3.0;
  float want[K] = {(float)(4e-6 / s), (float)(4e-6 / s), (float)(4e-6 / s), (float)(12.0 / s)};
  test_check("gradnorm: weights -1, 0, NaN floored at 1e-6, then sum 4",
             test_rel_error(dw, want, K, 1e-6), TOL);
  free(dw);
  test_true("gradnorm: negative alpha is INVALID_ARG",
            clm_gradnorm_weight_grad(ctx, &cfg, -1.0f, &b.sc, &b.w, &b.gn, &b.l0, &b.wgrad,
                                     &b.lgrad) == CLM_ERR_INVALID_ARG, clm_last_error());
  test_true("gradnorm: L_grad of K floats is a SHAPE error",
            clm_gradnorm_weight_grad(ctx, &cfg, 1.5f, &b.sc, &b.w, &b.gn, &b.l0, &b.wgrad,
                                     &b.wgrad) == CLM_ERR_SHAPE, clm_last_error());
  gn_free(ctx, &b);
}

/* ‖x‖₂ of a view at an offset inside a larger buffer into slot `task` of a 5-float buffer;
 * the other slots keep their sentinel. */
static void test_norm(clm_context *ctx) {
  const size_t small[] = {1, 7, 300, 4099}, big[] = {1, 7, 300, 4099, 65537, 100003};
  const size_t *sizes = test_small() ? small : big;
  const int nsizes = test_small() ? 4 : 6;
  const size_t pad = 13;
  test_rng rng = test_rng_make(4242);
  for (int si = 0; si < nsizes; si++) {
    size_t n = sizes[si];
    float *host = test_random(&rng, pad + n, -2.0f, 2.0f);
    clm_tensor all = test_tensor(ctx, 1, 1, 1, (int)(pad + n), host);
    clm_tensor grad = clm_tensor_view(all.buf, all.off + pad, 1, 1, 1, (int)n);
    float sent[5] = {SENTINEL, SENTINEL, SENTINEL, SENTINEL, SENTINEL};
    clm_tensor norms = test_tensor(ctx, 1, 1, 1, 5, sent);
    clm_tensor ws = test_tensor(ctx, 1, 1, 1, (int)clm_gradnorm_workspace(n), NULL);
    int task = (int)(si % 5);
    test_status("gradnorm norm", clm_gradnorm_norm(ctx, &grad, &norms, task, &ws));
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)host[pad + i] * host[pad + i];
    float want = (float)sqrt(ss);
    float *got = test_download(ctx, &norms);
    char name[120];
    snprintf(name, sizeof name, "gradnorm norm of %zu floats at offset %zu into slot %d", n, pad,
             task);
    test_check(name, test_rel_error(&got[task], &want, 1, 1e-6), TOL);
    int others = 1;
    for (int i = 0; i < 5; i++)
      if (i != task && got[i] != SENTINEL) others = 0;
    test_true("gradnorm norm: other slots untouched", others, NULL);
    free(got);
    free(host);
    test_tensor_free(ctx, &all);
    test_tensor_free(ctx, &norms);
    test_tensor_free(ctx, &ws);
  }
  float one = 1.0f;
  clm_tensor x = test_tensor(ctx, 1, 1, 1, 1, &one), nr = test_tensor(ctx, 1, 1, 1, 2, NULL);
  test_true("gradnorm norm: slot 2 of 2 is INVALID_ARG",
            clm_gradnorm_norm(ctx, &x, &nr, 2, &x) == CLM_ERR_INVALID_ARG, clm_last_error());
  test_tensor_free(ctx, &x);
  test_tensor_free(ctx, &nr);
}

/* ---- the step with device-resident weights ----------------------------------------------- */

static void test_step(clm_context *ctx, clm_mtl_strategy strategy, clm_mtl_gating gating) {
  enum { K = 5 };
  test_rng rng = test_rng_make(99 + (int)strategy * 10 + (int)gating);
  float w[K], L[K], n[K], sent[K];
  for (int i = 0; i < K; i++) {
    w[i] = test_uniform(&rng, 0.2f, 2.0f);
    L[i] = test_uniform(&rng, 0.1f, 3.0f);
    n[i] = (float)(int)test_uniform(&rng, 30.0f, 100.0f);
    sent[i] = SENTINEL;
  }
  n[1] = 0; /* empty task: NaN loss left out */
  L[1] = NAN;
  n[3] = 10; /* share 0.1: left out by hard gating, scaled by 0.1 under soft gating */
  clm_mtl_config cfg = clm_mtl_defaults(strategy, K);
  cfg.gating = gating;
  for (int i = 0; i < K; i++) cfg.valid_total[i] = 100;
  clm_tensor val = test_tensor(ctx, 1, 1, 1, K, L), cnt = test_tensor(ctx, 1, 1, 1, K, n);
  clm_tensor seed = test_tensor(ctx, 1, 1, 1, K, sent), par = test_tensor(ctx, 1, 1, 1, K, w);
  clm_tensor tot = test_tensor(ctx, 1, 1, 1, 1, sent), pg = test_tensor(ctx, 1, 1, 1, K, sent);
  clm_tensor eff = test_tensor(ctx, 1, 1, 1, K, sent);
  clm_mtl_scalars sc = clm_mtl_scalars_packed(&val, &cnt, &seed);
  char name[64];
  snprintf(name, sizeof name, "%s step, %s gating", clm_mtl_strategy_name(strategy),
           gating == CLM_MTL_GATE_HARD ? "hard" : gating == CLM_MTL_GATE_SOFT ? "soft" : "no");
  test_true(name, clm_mtl_param_count(&cfg) == K, "param count K");
  test_status(name, clm_mtl_step(ctx, &cfg, &sc, &par, &tot, &pg, &eff));
  double total = 0;
  float want_seed[K], zeros[K] = {0};
  for (int i = 0; i < K; i++) {
    double gate = n[i] > 0 ? 1.0 : 0.0;
    if (i == 3 && gating == CLM_MTL_GATE_HARD) gate = 0;
    if (i == 3 && gating == CLM_MTL_GATE_SOFT) gate = 0.1f;
    want_seed[i] = (float)(gate * w[i]);
    if (gate != 0) total += gate * (double)w[i] * L[i];
  }
  float want_total = (float)total;
  float *t = test_download(ctx, &tot), *s = test_download(ctx, &seed);
  float *g = test_download(ctx, &pg), *e = test_download(ctx, &eff);
  char check[200];
  snprintf(check, sizeof check, "%s: total = sum w_i L_i, weights from the device buffer", name);
  test_check(check, test_rel_error(t, &want_total, 1, 1e-6), TOL);
  snprintf(check, sizeof check, "%s: seeds = w_i", name);
  test_check(check, test_rel_error(s, want_seed, K, 1e-6), TOL);
  snprintf(check, sizeof check, "%s: effective weights = w_i", name);
  test_check(check, test_rel_error(e, want_seed, K, 1e-6), TOL);
  snprintf(check, sizeof check, "%s: parameter gradient written as zeros", name);
  test_true(check, !memcmp(g, zeros, sizeof zeros), NULL);
  free(t);
  free(s);
  free(g);
  free(e);
  clm_tensor *all[7] = {&val, &cnt, &seed, &par, &tot, &pg, &eff};
  for (int i = 0; i < 7; i++) test_tensor_free(ctx, all[i]);
}

int main(void) {
  clm_context *ctx = test_context();
  printf("tolerance %g vs double host computations\n", TOL);
  clm_mtl_config d = clm_mtl_defaults(CLM_MTL_DWA, 3);
  clm_mtl_config g = clm_mtl_defaults(CLM_MTL_GRADNORM, 3);
  clm_mtl_config f = clm_mtl_defaults(CLM_MTL_SOFTPLUS, 3);
  test_true("defaults: gradnorm and dwa start their weights at 1, others at 0",
            d.init_param[2] == 1.0f && g.init_param[0] == 1.0f && f.init_param[1] == 0.0f,
            NULL);
  test_dwa(ctx);
  test_gradnorm_literal(ctx);
  test_gradnorm_sequence(ctx);
  test_norm(ctx);
  const clm_mtl_gating gates[3] = {CLM_MTL_GATE_NONE, CLM_MTL_GATE_HARD, CLM_MTL_GATE_SOFT};
  for (int gi = 0; gi < 3; gi++) {
    test_step(ctx, CLM_MTL_GRADNORM, gates[gi]);
    test_step(ctx, CLM_MTL_DWA, gates[gi]);
  }
  clm_context_free(ctx);
  return test_finish();
}
