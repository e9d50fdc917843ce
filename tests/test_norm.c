/* Batch normalisation: training forward (output, saved statistics, running-stat updates),
 * eval forward, backward (dx written and accumulated, dgamma/dbeta accumulated) against the
 * double reference in tests/ref/ref_norm.c; backward by finite differences on x, gamma and
 * beta; run-to-run bit-identity; reduction sizes other than the default; shape errors.
 * Batch norm fused with each activation (none, relu, leaky relu, sigmoid) against the
 * references of both ops composed, with finite differences; folding into conv and
 * transposed-conv weights against ref_batchnorm_fold. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "ref/ref_eltwise.h"
#include "ref/ref_norm.h"
#include "test_util.h"

#define TOL_FWD 2e-5  /* float statistics vs double, relative to the largest output */
#define TOL_BWD 1e-4  /* backward has a cancellation (dy - mean dy - xhat mean(dy xhat)) */
#define TOL_FD 1e-2   /* central differences on a float objective, eps 1e-2 */
#define TOL_FOLD 1e-5 /* folded weights and biases, float vs double (b - mean may cancel) */
#define SLOPE 0.1f    /* leaky relu */

typedef struct shape { int n, c, h, w; } shape;

/* Device tensors of one test case; the objective for finite differences uses them. */
typedef struct bn_case {
  clm_context *ctx;
  shape s;
  size_t numel;
  float momentum, eps;
  clm_tensor x, gamma, beta, y, saved, rmean, rvar;
  float *hx, *hgamma, *hbeta, *r;
  int wrt; /* 0: x, 1: gamma, 2: beta */
  clm_activation act; /* fused after the normalisation (NONE: plain batch norm) */
} bn_case;

static float *alloc_floats(size_t n) {
  float *p = malloc((n ? n : 1) * sizeof *p);
  if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
  return p;
}

/* Σ r·y with y from the device's training forward, the `wrt` input replaced by v. */
static double objective(void *user, const float *v) {
  bn_case *b = user;
  const clm_tensor *t = b->wrt == 0 ? &b->x : b->wrt == 1 ? &b->gamma : &b->beta;
  test_upload(b->ctx, t, v);
  test_status("fd forward", clm_batchnorm_act_forward_train(b->ctx, b->act, SLOPE, &b->x, &b->gamma,
                                                            &b->beta, &b->y, &b->saved, &b->rmean,
                                                            &b->rvar, b->momentum, b->eps));
  float *y = test_download(b->ctx, &b->y);
  double sum = 0;
  for (size_t i = 0; i < b->numel; i++) sum += (double)b->r[i] * y[i];
  free(y);
  test_upload(b->ctx, t, b->wrt == 0 ? b->hx : b->wrt == 1 ? b->hgamma : b->hbeta);
  return sum;
}

static void check(const char *what, const shape *s, const float *got, const float *want,
                  size_t n, double tol) {
  char name[200];
  snprintf(name, sizeof name, "%s (%d,%d,%d,%d)", what, s->n, s->c, s->h, s->w);
  test_check(name, test_rel_error(got, want, n, 1e-6), tol);
}

static void check_tensor(clm_context *ctx, const char *what, const shape *s, const clm_tensor *t,
                         const float *want, double tol) {
  float *got = test_download(ctx, t);
  check(what, s, got, want, clm_tensor_numel(t), tol);
  free(got);
}

/* offset: added to channel c's values as c * offset (a large offset tests the variance). */
static void run_case(clm_context *ctx, shape s, float offset, int fd, uint64_t seed) {
  test_rng rng = test_rng_make(seed);
  int C = s.c;
  size_t numel = (size_t)s.n * s.c * s.h * s.w;
  bn_case b = {.ctx = ctx, .s = s, .numel = numel, .momentum = 0.1f, .eps = 1e-5f};
  b.hx = alloc_floats(numel);
  b.hgamma = alloc_floats(C);
  b.hbeta = alloc_floats(C);
  b.r = alloc_floats(numel);
  float *rm = alloc_floats(C), *rv = alloc_floats(C), *want = alloc_floats(numel);
  float *saved = alloc_floats(2 * C), *dy = alloc_floats(numel), *dx0 = alloc_floats(numel);
  float *dg0 = alloc_floats(C), *db0 = alloc_floats(C);
  test_fill(&rng, b.hx, numel, -2, 2);
  for (size_t i = 0; i < numel; i++) b.hx[i] += offset * (float)((i / ((size_t)s.h * s.w)) % C);
  test_fill(&rng, b.hgamma, C, -1.5f, 1.5f);
  test_fill(&rng, b.hbeta, C, -1, 1);
  test_fill(&rng, rm, C, -1, 1);
  for (int c = 0; c < C; c++) rv[c] = test_uniform(&rng, 0.5f, 2);
  test_fill(&rng, b.r, numel, -1, 1);
  test_fill(&rng, dy, numel, -1, 1);
  test_fill(&rng, dx0, numel, -1, 1);
  test_fill(&rng, dg0, C, -1, 1);
  test_fill(&rng, db0, C, -1, 1);

  b.x = test_tensor(ctx, s.n, s.c, s.h, s.w, b.hx);
  b.gamma = test_tensor(ctx, 1, C, 1, 1, b.hgamma);
  b.beta = test_tensor(ctx, 1, C, 1, 1, b.hbeta);
  b.y = test_tensor(ctx, s.n, s.c, s.h, s.w, NULL);
  b.saved = test_tensor(ctx, 1, 2 * C, 1, 1, NULL);
  b.rmean = test_tensor(ctx, 1, C, 1, 1, rm);
  b.rvar = test_tensor(ctx, 1, C, 1, 1, rv);

  /* training forward, twice: running stats move twice, y and saved are bit-identical */
  test_status("forward train", clm_batchnorm_forward_train(ctx, &b.x, &b.gamma, &b.beta, &b.y,
                                                           &b.saved, &b.rmean, &b.rvar,
                                                           b.momentum, b.eps));
  float *y1 = test_download(ctx, &b.y), *saved1 = test_download(ctx, &b.saved);
  ref_batchnorm_forward_train(b.hx, s.n, C, s.h, s.w, b.hgamma, b.hbeta, b.momentum, b.eps, want,
                              saved, rm, rv);
  check("train forward y", &s, y1, want, numel, TOL_FWD);
  check("saved mean", &s, saved1, saved, C, TOL_FWD);
  check("saved invstd", &s, saved1 + C, saved + C, C, TOL_FWD);
  check_tensor(ctx, "running mean, 1 update", &s, &b.rmean, rm, TOL_FWD);
  check_tensor(ctx, "running var (unbiased), 1 update", &s, &b.rvar, rv, TOL_FWD);
  test_status("forward train again", clm_batchnorm_forward_train(ctx, &b.x, &b.gamma, &b.beta,
                                                                 &b.y, &b.saved, &b.rmean,
                                                                 &b.rvar, b.momentum, b.eps));
  float *y2 = test_download(ctx, &b.y), *saved2 = test_download(ctx, &b.saved);
  test_true("train forward is bit-identical run to run",
            !memcmp(y1, y2, numel * sizeof *y1) && !memcmp(saved1, saved2, 2 * C * sizeof *y1),
            NULL);
  ref_batchnorm_forward_train(b.hx, s.n, C, s.h, s.w, b.hgamma, b.hbeta, b.momentum, b.eps, want,
                              saved, rm, rv);
  check_tensor(ctx, "running mean, 2 updates", &s, &b.rmean, rm, TOL_FWD);
  check_tensor(ctx, "running var, 2 updates", &s, &b.rvar, rv, TOL_FWD);

  /* eval forward with the running statistics */
  test_status("forward eval", clm_batchnorm_forward_eval(ctx, &b.x, &b.gamma, &b.beta, &b.rmean,
                                                         &b.rvar, b.eps, &b.y));
  ref_batchnorm_forward_eval(b.hx, s.n, C, s.h, s.w, b.hgamma, b.hbeta, rm, rv, b.eps, want);
  check_tensor(ctx, "eval forward y", &s, &b.y, want, TOL_FWD);

  /* backward, written then accumulated; dgamma, dbeta accumulate onto random contents */
  clm_tensor tdy = test_tensor(ctx, s.n, s.c, s.h, s.w, dy);
  clm_tensor tdx = test_tensor(ctx, s.n, s.c, s.h, s.w, dx0);
  clm_tensor tdg = test_tensor(ctx, 1, C, 1, 1, dg0), tdb = test_tensor(ctx, 1, C, 1, 1, db0);
  for (int acc = 0; acc <= 1; acc++) {
    float *wdx = alloc_floats(numel), *wdg = alloc_floats(C), *wdb = alloc_floats(C);
    memcpy(wdx, dx0, numel * sizeof *wdx);
    memcpy(wdg, dg0, C * sizeof *wdg);
    memcpy(wdb, db0, C * sizeof *wdb);
    test_upload(ctx, &tdx, dx0);
    test_upload(ctx, &tdg, dg0);
    test_upload(ctx, &tdb, db0);
    test_status("backward", clm_batchnorm_backward(ctx, &b.x, &tdy, &b.gamma, &b.saved, &tdx, &tdg,
                                                   &tdb, acc));
    ref_batchnorm_backward(b.hx, dy, s.n, C, s.h, s.w, b.hgamma, b.eps, wdx, wdg, wdb, acc);
    check_tensor(ctx, acc ? "backward dx += (accumulate)" : "backward dx =", &s, &tdx, wdx,
                 TOL_BWD);
    check_tensor(ctx, "backward dgamma +=", &s, &tdg, wdg, TOL_BWD);
    check_tensor(ctx, "backward dbeta +=", &s, &tdb, wdb, TOL_BWD);
    free(wdx);
    free(wdg);
    free(wdb);
  }

  if (fd) {
    /* analytic gradients of Σ r·y: dy = r, dx written, dgamma/dbeta from zero */
    float *zeros = calloc(C, sizeof *zeros);
    test_upload(ctx, &tdy, b.r);
    test_upload(ctx, &tdg, zeros);
    test_upload(ctx, &tdb, zeros);
    free(zeros);
    test_status("fd backward", clm_batchnorm_backward(ctx, &b.x, &tdy, &b.gamma, &b.saved, &tdx,
                                                      &tdg, &tdb, 0));
    float *gx = test_download(ctx, &tdx), *gg = test_download(ctx, &tdg),
          *gb = test_download(ctx, &tdb);
    char name[160];
    b.wrt = 0;
    double e = test_fd_error(objective, &b, b.hx, numel, gx, 1e-2, 16, 1e-2, seed + 1);
    snprintf(name, sizeof name, "finite differences dx (%d,%d,%d,%d)", s.n, s.c, s.h, s.w);
    test_check(name, e, TOL_FD);
    b.wrt = 1;
    e = test_fd_error(objective, &b, b.hgamma, C, gg, 1e-2, 8, 1e-2, seed + 2);
    snprintf(name, sizeof name, "finite differences dgamma (%d,%d,%d,%d)", s.n, s.c, s.h, s.w);
    test_check(name, e, TOL_FD);
    b.wrt = 2;
    e = test_fd_error(objective, &b, b.hbeta, C, gb, 1e-2, 8, 1e-2, seed + 3);
    snprintf(name, sizeof name, "finite differences dbeta (%d,%d,%d,%d)", s.n, s.c, s.h, s.w);
    test_check(name, e, TOL_FD);
    free(gx);
    free(gg);
    free(gb);
  }

  clm_tensor *ts[] = {&b.x, &b.gamma, &b.beta, &b.y, &b.saved, &b.rmean, &b.rvar,
                      &tdy, &tdx, &tdg, &tdb};
  for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) test_tensor_free(ctx, ts[i]);
  float *hs[] = {b.hx, b.hgamma, b.hbeta, b.r, rm, rv, want, saved, dy, dx0, dg0, db0,
                 y1, y2, saved1, saved2};
  for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) free(hs[i]);
}

/* ---- batch norm fused with an activation ------------------------------------------------- */

static const char *act_names[] = {"none", "relu", "leaky relu", "sigmoid"};

/* Moves inputs whose batch-norm output lies within KINK_MARGIN of 0 (relu's kink) further
 * away, until none does, so that finite differences with steps that move an output by less
 * than the margin never cross the kink. */
#define KINK_MARGIN 0.05f
static void keep_off_kink(bn_case *b, const float *rm, const float *rv) {
  int C = b->s.c, HW = b->s.h * b->s.w;
  float *y = alloc_floats(b->numel), *saved = alloc_floats(2 * C);
  float *m = alloc_floats(C), *v = alloc_floats(C);
  for (int round = 0, moved = 1; moved && round < 50; round++) {
    memcpy(m, rm, C * sizeof *m);
    memcpy(v, rv, C * sizeof *v);
    ref_batchnorm_forward_train(b->hx, b->s.n, C, b->s.h, b->s.w, b->hgamma, b->hbeta,
                                b->momentum, b->eps, y, saved, m, v);
    moved = 0;
    for (size_t i = 0; i < b->numel; i++) {
      if (fabsf(y[i]) >= KINK_MARGIN) continue;
      int c = (int)(i / (size_t)HW % (size_t)C);
      float dir = (y[i] >= 0 ? 1.0f : -1.0f) * (b->hgamma[c] >= 0 ? 1.0f : -1.0f);
      b->hx[i] += dir * 3 * KINK_MARGIN / (fabsf(b->hgamma[c]) * saved[C + c] + 1e-3f);
      moved = 1;
    }
  }
  free(y); free(saved); free(m); free(v);
}

/* y = act(bn(x)) in training and eval mode, and the fused backward (dy is the gradient of the
 * activation's output), against ref_batchnorm_* composed with ref_activation_*; then finite
 * differences of Σ r·y. The reference backward takes the activation's mask from the device's
 * own y, as the op does (an output within rounding of 0 could otherwise flip relu's mask). */
static void run_act_case(clm_context *ctx, shape s, clm_activation act, int fd, uint64_t seed) {
  test_rng rng = test_rng_make(seed);
  int C = s.c;
  size_t numel = (size_t)s.n * s.c * s.h * s.w;
  bn_case b = {.ctx = ctx, .s = s, .numel = numel, .momentum = 0.1f, .eps = 1e-5f, .act = act};
  b.hx = test_random(&rng, numel, -2, 2);
  b.hgamma = test_random(&rng, C, -1.5f, 1.5f);
  b.hbeta = test_random(&rng, C, -1, 1);
  b.r = test_random(&rng, numel, -1, 1);
  float *rm = test_random(&rng, C, -1, 1), *rv = test_random(&rng, C, 0.5f, 2);
  float *dy = test_random(&rng, numel, -1, 1), *dx0 = test_random(&rng, numel, -1, 1);
  float *dg0 = test_random(&rng, C, -1, 1), *db0 = test_random(&rng, C, -1, 1);
  float *bn = alloc_floats(numel), *want = alloc_floats(numel), *saved = alloc_floats(2 * C);
  float *g = alloc_floats(numel);
  if (act == CLM_ACTIVATION_RELU || act == CLM_ACTIVATION_LEAKY_RELU) keep_off_kink(&b, rm, rv);
  b.x = test_tensor_at(ctx, 7, s.n, s.c, s.h, s.w, b.hx);
  b.gamma = test_tensor(ctx, 1, C, 1, 1, b.hgamma);
  b.beta = test_tensor(ctx, 1, C, 1, 1, b.hbeta);
  b.y = test_tensor_at(ctx, 5, s.n, s.c, s.h, s.w, NULL);
  b.saved = test_tensor(ctx, 1, 2 * C, 1, 1, NULL);
  b.rmean = test_tensor(ctx, 1, C, 1, 1, rm);
  b.rvar = test_tensor(ctx, 1, C, 1, 1, rv);
  char what[160];

  test_status("fused forward train",
              clm_batchnorm_act_forward_train(ctx, act, SLOPE, &b.x, &b.gamma, &b.beta, &b.y,
                                              &b.saved, &b.rmean, &b.rvar, b.momentum, b.eps));
  ref_batchnorm_forward_train(b.hx, s.n, C, s.h, s.w, b.hgamma, b.hbeta, b.momentum, b.eps, bn,
                              saved, rm, rv);
  ref_activation_forward((int)act, SLOPE, bn, want, numel);
  snprintf(what, sizeof what, "bn+%s train forward y", act_names[act]);
  check_tensor(ctx, what, &s, &b.y, want, TOL_FWD);
  snprintf(what, sizeof what, "bn+%s saved statistics", act_names[act]);
  check_tensor(ctx, what, &s, &b.saved, saved, TOL_FWD);
  snprintf(what, sizeof what, "bn+%s running var", act_names[act]);
  check_tensor(ctx, what, &s, &b.rvar, rv, TOL_FWD);
  float *y = test_download(ctx, &b.y);

  clm_tensor ye = test_tensor(ctx, s.n, s.c, s.h, s.w, NULL);
  test_status("fused forward eval", clm_batchnorm_act_forward_eval(ctx, act, SLOPE, &b.x, &b.gamma,
                                                                   &b.beta, &b.rmean, &b.rvar,
                                                                   b.eps, &ye));
  ref_batchnorm_forward_eval(b.hx, s.n, C, s.h, s.w, b.hgamma, b.hbeta, rm, rv, b.eps, bn);
  ref_activation_forward((int)act, SLOPE, bn, want, numel);
  snprintf(what, sizeof what, "bn+%s eval forward y", act_names[act]);
  check_tensor(ctx, what, &s, &ye, want, TOL_FWD);

  clm_tensor tdy = test_tensor(ctx, s.n, s.c, s.h, s.w, dy);
  clm_tensor tdx = test_tensor_at(ctx, 3, s.n, s.c, s.h, s.w, dx0);
  clm_tensor tdg = test_tensor(ctx, 1, C, 1, 1, dg0), tdb = test_tensor(ctx, 1, C, 1, 1, db0);
  for (int acc = 0; acc <= 1; acc++) {
    float *wdx = alloc_floats(numel), *wdg = alloc_floats(C), *wdb = alloc_floats(C);
    memcpy(wdx, dx0, numel * sizeof *wdx);
    memcpy(wdg, dg0, C * sizeof *wdg);
    memcpy(wdb, db0, C * sizeof *wdb);
    test_upload(ctx, &tdx, dx0);
    test_upload(ctx, &tdg, dg0);
    test_upload(ctx, &tdb, db0);
    test_status("fused backward", clm_batchnorm_act_backward(ctx, act, SLOPE, &b.x, &b.y, &tdy,
                                                             &b.gamma, &b.saved, &tdx, &tdg, &tdb,
                                                             acc));
    ref_activation_backward((int)act, SLOPE, y, dy, g, numel, 0);
    ref_batchnorm_backward(b.hx, g, s.n, C, s.h, s.w, b.hgamma, b.eps, wdx, wdg, wdb, acc);
    snprintf(what, sizeof what, "bn+%s backward dx %s", act_names[act], acc ? "+=" : "=");
    check_tensor(ctx, what, &s, &tdx, wdx, TOL_BWD);
    snprintf(what, sizeof what, "bn+%s backward dgamma +=", act_names[act]);
    check_tensor(ctx, what, &s, &tdg, wdg, TOL_BWD);
    snprintf(what, sizeof what, "bn+%s backward dbeta +=", act_names[act]);
    check_tensor(ctx, what, &s, &tdb, wdb, TOL_BWD);
    free(wdx);
    free(wdg);
    free(wdb);
  }

  if (fd) {
    /* a step of 1e-2 moves any output by less than KINK_MARGIN (|gamma| invstd <= 3, |xhat| <
     * 4 here): relu's kink is never crossed */
    double step = 1e-2;
    float *zeros = calloc(C, sizeof *zeros);
    test_upload(ctx, &tdy, b.r);
    test_upload(ctx, &tdg, zeros);
    test_upload(ctx, &tdb, zeros);
    free(zeros);
    test_status("fused fd backward", clm_batchnorm_act_backward(ctx, act, SLOPE, &b.x, &b.y, &tdy,
                                                                &b.gamma, &b.saved, &tdx, &tdg,
                                                                &tdb, 0));
    float *gx = test_download(ctx, &tdx), *gg = test_download(ctx, &tdg),
          *gb = test_download(ctx, &tdb);
    char name[160];
    const char *wrt[] = {"dx", "dgamma", "dbeta"};
    float *host[] = {b.hx, b.hgamma, b.hbeta}, *ana[] = {gx, gg, gb};
    for (int k = 0; k < 3; k++) {
      b.wrt = k;
      double e = test_fd_error(objective, &b, host[k], k ? (size_t)C : numel, ana[k], step,
                               k ? 8 : 16, 1e-2, seed + 1 + k);
      snprintf(name, sizeof name, "bn+%s finite differences %s (%d,%d,%d,%d)", act_names[act],
               wrt[k], s.n, s.c, s.h, s.w);
      test_check(name, e, TOL_FD);
    }
    free(gx);
    free(gg);
    free(gb);
  }

  clm_tensor *ts[] = {&b.x, &b.gamma, &b.beta, &b.y, &b.saved, &b.rmean, &b.rvar,
                      &ye, &tdy, &tdx, &tdg, &tdb};
  for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) test_tensor_free(ctx, ts[i]);
  float *hs[] = {b.hx, b.hgamma, b.hbeta, b.r, rm, rv, dy, dx0, dg0, db0, bn, want, saved, g, y};
  for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) free(hs[i]);
}

/* Folding into a conv weight (K, C, R, S) or a transposed-conv weight (Cin, K, R, S), with and
 * without a bias, views at non-zero offsets. */
static void run_fold_case(clm_context *ctx, int transposed, int n0, int n1, int R, int S,
                          int with_bias, uint64_t seed) {
  test_rng rng = test_rng_make(seed);
  int K = transposed ? n1 : n0;
  size_t nw = (size_t)n0 * n1 * R * S;
  float *w = test_random(&rng, nw, -1, 1), *b = test_random(&rng, K, -1, 1);
  float *gm = test_random(&rng, K, -1.5f, 1.5f), *bt = test_random(&rng, K, -1, 1);
  float *rm = test_random(&rng, K, -3, 3), *rv = test_random(&rng, K, 0.05f, 4);
  float *ww = alloc_floats(nw), *wb = alloc_floats(K);
  clm_tensor tw = test_tensor_at(ctx, 3, n0, n1, R, S, w), tb = test_tensor_at(ctx, 1, 1, K, 1, 1, b);
  clm_tensor tg = test_tensor(ctx, 1, K, 1, 1, gm), tbt = test_tensor(ctx, 1, K, 1, 1, bt);
  clm_tensor trm = test_tensor(ctx, 1, K, 1, 1, rm), trv = test_tensor(ctx, 1, K, 1, 1, rv);
  clm_tensor tow = test_tensor_at(ctx, 9, n0, n1, R, S, NULL), tob = test_tensor_at(ctx, 2, 1, K, 1, 1, NULL);
  test_status("fold", clm_batchnorm_fold(ctx, transposed, &tw, with_bias ? &tb : NULL, &tg, &tbt,
                                         &trm, &trv, 1e-5f, &tow, &tob));
  ref_batchnorm_fold(transposed, w, n0, n1, R, S, with_bias ? b : NULL, gm, bt, rm, rv, 1e-5f, ww, wb);
  char what[160];
  shape sh = {n0, n1, R, S};
  snprintf(what, sizeof what, "fold %s%s: weights", transposed ? "deconv" : "conv",
           with_bias ? " with bias" : "");
  check_tensor(ctx, what, &sh, &tow, ww, TOL_FOLD);
  snprintf(what, sizeof what, "fold %s%s: biases", transposed ? "deconv" : "conv",
           with_bias ? " with bias" : "");
  check_tensor(ctx, what, &sh, &tob, wb, TOL_FOLD);
  clm_status st = clm_batchnorm_fold(ctx, transposed, &tw, NULL, &tg, &tbt, &trm, &trv, 1e-5f,
                                     &tw, &tob);
  test_true("fold into its own input is INVALID_ARG", st == CLM_ERR_INVALID_ARG, clm_last_error());
  st = clm_batchnorm_fold(ctx, !transposed, &tw, NULL, &tg, &tbt, &trm, &trv, 1e-5f, &tow, &tob);
  test_true("fold along the wrong axis is a SHAPE error", n0 == n1 || st == CLM_ERR_SHAPE,
            clm_last_error());
  clm_tensor *ts[] = {&tw, &tb, &tg, &tbt, &trm, &trv, &tow, &tob};
  for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) test_tensor_free(ctx, ts[i]);
  float *hs[] = {w, b, gm, bt, rm, rv, ww, wb};
  for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) free(hs[i]);
}

static void test_fused(clm_context *ctx) {
  shape big = test_small() ? (shape){2, 3, 5, 7} : (shape){4, 6, 13, 11};
  for (int act = CLM_ACTIVATION_NONE; act <= CLM_ACTIVATION_SIGMOID; act++) {
    run_act_case(ctx, (shape){3, 5, 7, 9}, (clm_activation)act, 1, 60 + act);
    run_act_case(ctx, big, (clm_activation)act, 0, 70 + act);
  }
  run_fold_case(ctx, 0, 5, 3, 3, 3, 1, 80);
  run_fold_case(ctx, 0, 7, 4, 1, 1, 0, 81);
  run_fold_case(ctx, 1, 4, 3, 2, 2, 1, 82);
  run_fold_case(ctx, 1, 6, 5, 3, 3, 0, 83);
}

/* Reduction work-group sizes other than the device default give the same results: one larger
 * than the kernels allow (halved on the host) and a tiny one (long per-item loops). */
static void test_reduce_sizes(clm_context *ctx) {
  size_t keep = ctx->reduce_wg;
  size_t sizes[] = {ctx->info.max_work_group * 2, 4};
  for (int i = 0; i < 2; i++) {
    ctx->reduce_wg = sizes[i];
    printf("reduce_wg = %zu\n", sizes[i]);
    run_case(ctx, (shape){2, 3, 5, 7}, 0, 0, 40 + i);
  }
  ctx->reduce_wg = keep;
}

static void test_errors(clm_context *ctx) {
  clm_tensor x = test_tensor(ctx, 2, 3, 4, 4, NULL), y = test_tensor(ctx, 2, 3, 4, 5, NULL);
  clm_tensor g = test_tensor(ctx, 1, 3, 1, 1, NULL), g4 = test_tensor(ctx, 1, 4, 1, 1, NULL);
  clm_tensor saved = test_tensor(ctx, 1, 6, 1, 1, NULL);
  clm_tensor one = test_tensor(ctx, 1, 3, 1, 1, NULL);
  clm_status st = clm_batchnorm_forward_train(ctx, &x, &g, &g, &y, &saved, &g, &g, 0.1f, 1e-5f);
  test_true("y shape mismatch is a SHAPE error", st == CLM_ERR_SHAPE, clm_last_error());
  st = clm_batchnorm_forward_eval(ctx, &x, &g4, &g, &g, &g, 1e-5f, &x);
  test_true("gamma of the wrong size is a SHAPE error", st == CLM_ERR_SHAPE, clm_last_error());
  st = clm_batchnorm_backward(ctx, &x, &x, &g, &g, &x, &g, &g, 0);
  test_true("saved of the wrong size is a SHAPE error", st == CLM_ERR_SHAPE, clm_last_error());
  st = clm_batchnorm_forward_train(ctx, &one, &g, &g, &one, &saved, &g, &g, 0.1f, 1e-5f);
  test_true("one value per channel in training is a SHAPE error", st == CLM_ERR_SHAPE,
            clm_last_error());
  st = clm_batchnorm_forward_train(ctx, &x, NULL, &g, &x, &saved, &g, &g, 0.1f, 1e-5f);
  test_true("missing gamma is INVALID_ARG", st == CLM_ERR_INVALID_ARG, clm_last_error());
  clm_tensor *ts[] = {&x, &y, &g, &g4, &saved, &one};
  for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) test_tensor_free(ctx, ts[i]);
}

int main(void) {
  clm_context *ctx = test_context();
  printf("reduce_wg %zu; tolerances: forward %g, backward %g, finite differences %g\n",
         ctx->reduce_wg, TOL_FWD, TOL_BWD, TOL_FD);
  if (test_small()) {
    run_case(ctx, (shape){3, 5, 7, 9}, 0.5f, 1, 1);
    run_case(ctx, (shape){1, 1, 3, 4}, 0, 1, 2);
  } else {
    run_case(ctx, (shape){3, 5, 7, 9}, 0.5f, 1, 1);
    run_case(ctx, (shape){1, 4, 6, 5}, 0, 1, 2);
    run_case(ctx, (shape){2, 1, 8, 8}, 0, 1, 3);
    run_case(ctx, (shape){5, 3, 1, 1}, 0, 1, 4);
    run_case(ctx, (shape){8, 6, 17, 19}, 0, 1, 5);
    run_case(ctx, (shape){4, 3, 9, 11}, 100.0f, 0, 6); /* mean >> spread: two-pass variance */
  }
  test_fused(ctx);
  test_reduce_sizes(ctx);
  test_errors(ctx);
  clm_context_free(ctx);
  return test_finish();
}
