/* Multi-task loss weighting (include/clmtl/mtl_strategy.h, mtl_device.h) against
 * tests/ref/ref_mtl.c: for every strategy but gradnorm and dwa (tests/test_balance.c) and every
 * gating mode, random losses over classification and regression tasks (one at a 10% valid
 * share), random s / u and weights, the device total, seeds, parameter gradients and effective
 * weights vs the double reference, and the gradients vs central differences of the reference
 * total. Also: hard gating leaves the 10% task out and soft gating scales it by 0.1 (checked
 * against ungated contributions, not the reference's gating code), the clamp zeroes the
 * s-gradient outside its range, an empty task with a NaN loss does not reach the total, an Inf
 * loss gives a non-finite total, both scalar layouts, name parsing, gradnorm and dwa (fixed
 * with the weights read from the params buffer) and argument errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/mtl.h"
#include "ref/ref_mtl.h"
#include "test_util.h"

#define TOL 1e-5     /* float device vs double reference, relative to the largest value */
#define FD_TOL 1e-5  /* device gradient vs double central differences of the reference */
#define FD_H 1e-6
#define SENTINEL 7.0f /* outputs start at this, so a missing write shows */

typedef struct mtl_case {
  clm_mtl_config cfg;
  double loss[CLM_MTL_MAX_TASKS], count[CLM_MTL_MAX_TASKS], param[CLM_MTL_MAX_TASKS];
} mtl_case;

/* Device results of one step. */
typedef struct mtl_result {
  float total, seed[CLM_MTL_MAX_TASKS], pgrad[CLM_MTL_MAX_TASKS], weight[CLM_MTL_MAX_TASKS];
  int scalars_intact; /* value and count slots unchanged by the step */
  clm_status st;
} mtl_result;

static ref_mtl_config ref_config(const clm_mtl_config *c) {
  ref_mtl_config r;
  memset(&r, 0, sizeof r);
  r.strategy = (int)c->strategy;
  r.k = c->ntasks;
  for (int i = 0; i < c->ntasks; i++) {
    r.regression[i] = c->kind[i] == CLM_TASK_REGRESSION;
    r.weight[i] = c->weight[i];
    r.valid_total[i] = c->valid_total[i];
  }
  if (c->clamp == CLM_MTL_CLAMP_S) {
    r.slo = c->clamp_min;
    r.shi = c->clamp_max;
  } else {
    r.slo = log((double)c->clamp_min);
    r.shi = log((double)c->clamp_max);
  }
  r.gating = (int)c->gating;
  r.threshold = c->gate_threshold;
  return r;
}

/* Runs the device step on mc. packed: three stride-1 buffers, else the graph's layout (one
 * buffer, task i at 3i, 3i+1, 3i+2). Every buffer is written whole from offset 0 by
 * test_tensor (oclgrind 21.10 mistracks host writes at offsets). */
static mtl_result run_device(clm_context *ctx, const mtl_case *mc, int packed) {
  mtl_result r;
  memset(&r, 0, sizeof r);
  const int k = mc->cfg.ntasks;
  float par[CLM_MTL_MAX_TASKS], sent[3 * CLM_MTL_MAX_TASKS], host[3 * CLM_MTL_MAX_TASKS];
  for (int i = 0; i < 3 * CLM_MTL_MAX_TASKS; i++) sent[i] = SENTINEL;
  for (int i = 0; i < k; i++) {
    par[i] = (float)mc->param[i];
    if (packed) {
      host[i] = (float)mc->loss[i];
      host[k + i] = (float)mc->count[i];
    } else {
      host[3 * i] = (float)mc->loss[i];
      host[3 * i + 1] = (float)mc->count[i];
      host[3 * i + 2] = SENTINEL;
    }
  }
  clm_tensor bufs[3], params = test_tensor(ctx, 1, 1, 1, k, par);
  clm_tensor total = test_tensor(ctx, 1, 1, 1, 1, sent), pgrad = test_tensor(ctx, 1, 1, 1, k, sent);
  clm_tensor weight = test_tensor(ctx, 1, 1, 1, k, sent);
  clm_mtl_scalars sc;
  int nbufs;
  if (packed) {
    bufs[0] = test_tensor(ctx, 1, 1, 1, k, host);
    bufs[1] = test_tensor(ctx, 1, 1, 1, k, host + k);
    bufs[2] = test_tensor(ctx, 1, 1, 1, k, sent);
    sc = clm_mtl_scalars_packed(&bufs[0], &bufs[1], &bufs[2]);
    nbufs = 3;
  } else {
    bufs[0] = test_tensor(ctx, 1, 1, 1, 3 * k, host);
    sc.value = clm_tensor_view(bufs[0].buf, bufs[0].off, 1, 1, 1, 1);
    sc.count = clm_tensor_view(bufs[0].buf, bufs[0].off + 1, 1, 1, 1, 1);
    sc.seed = clm_tensor_view(bufs[0].buf, bufs[0].off + 2, 1, 1, 1, 1);
    sc.stride = 3;
    nbufs = 1;
  }
  r.st = clm_mtl_step(ctx, &mc->cfg, &sc, &params, &total, &pgrad, &weight);
  if (r.st == CLM_OK) {
    float *t = test_download(ctx, &total), *g = test_download(ctx, &pgrad);
    float *w = test_download(ctx, &weight);
    r.total = t[0];
    memcpy(r.pgrad, g, k * sizeof(float));
    memcpy(r.weight, w, k * sizeof(float));
    free(t); free(g); free(w);
    r.scalars_intact = 1;
    if (packed) {
      float *v = test_download(ctx, &bufs[0]), *n = test_download(ctx, &bufs[1]);
      float *s = test_download(ctx, &bufs[2]);
      memcpy(r.seed, s, k * sizeof(float));
      r.scalars_intact = !memcmp(v, host, k * sizeof(float)) &&
                         !memcmp(n, host + k, k * sizeof(float));
      free(v); free(n); free(s);
    } else {
      float *all = test_download(ctx, &bufs[0]);
      for (int i = 0; i < k; i++) {
        r.seed[i] = all[3 * i + 2];
        if (memcmp(&all[3 * i], &host[3 * i], 2 * sizeof(float))) r.scalars_intact = 0;
      }
      free(all);
    }
  }
  for (int i = 0; i < nbufs; i++) test_tensor_free(ctx, &bufs[i]);
  test_tensor_free(ctx, &params);
  test_tensor_free(ctx, &total);
  test_tensor_free(ctx, &pgrad);
  test_tensor_free(ctx, &weight);
  return r;
}

/* The reference on the float-rounded inputs the device sees. */
static double run_ref(const mtl_case *mc, double *seed, double *pgrad, double *contrib) {
  ref_mtl_config rc = ref_config(&mc->cfg);
  double L[CLM_MTL_MAX_TASKS], n[CLM_MTL_MAX_TASKS], p[CLM_MTL_MAX_TASKS];
  for (int i = 0; i < rc.k; i++) {
    L[i] = (float)mc->loss[i];
    n[i] = (float)mc->count[i];
    p[i] = (float)mc->param[i];
  }
  return ref_mtl_step(&rc, L, n, p, seed, pgrad, contrib);
}

/* Central differences of the reference total w.r.t. the losses (wrt 0) or params (wrt 1),
 * in double around the float-rounded inputs the device sees. */
static void ref_fd(const mtl_case *mc, int wrt, double *out) {
  ref_mtl_config rc = ref_config(&mc->cfg);
  double L[CLM_MTL_MAX_TASKS], n[CLM_MTL_MAX_TASKS], p[CLM_MTL_MAX_TASKS];
  for (int j = 0; j < rc.k; j++) {
    L[j] = (float)mc->loss[j];
    n[j] = (float)mc->count[j];
    p[j] = (float)mc->param[j];
  }
  double *v = wrt ? p : L;
  for (int i = 0; i < rc.k; i++) {
    double x = v[i];
    v[i] = x + FD_H;
    double fp = ref_mtl_step(&rc, L, n, p, NULL, NULL, NULL);
    v[i] = x - FD_H;
    double fm = ref_mtl_step(&rc, L, n, p, NULL, NULL, NULL);
    v[i] = x;
    out[i] = (fp - fm) / (2 * FD_H);
  }
}

static void to_float(const double *x, float *y, int n) {
  for (int i = 0; i < n; i++) y[i] = (float)x[i];
}

/* Random case: tasks alternate classification / regression with tasks 1 and 2 regression;
 * task 2 has a valid share of exactly 10%, the others 30..100%. */
static mtl_case random_case(test_rng *rng, clm_mtl_strategy strategy, clm_mtl_gating gating,
                            int k) {
  mtl_case mc;
  memset(&mc, 0, sizeof mc);
  mc.cfg = clm_mtl_defaults(strategy, k);
  mc.cfg.gating = gating;
  if (strategy == CLM_MTL_UNCERTAINTY_CLAMPED) {
    mc.cfg.clamp = CLM_MTL_CLAMP_S; /* s in [-1, 1], params drawn from [-2, 2] */
    mc.cfg.clamp_min = -1.0f;
    mc.cfg.clamp_max = 1.0f;
  }
  for (int i = 0; i < k; i++) {
    mc.cfg.kind[i] = i == 1 || i == 2 || (i > 2 && (i & 1)) ? CLM_TASK_REGRESSION
                                                           : CLM_TASK_CLASSIFICATION;
    mc.cfg.weight[i] = test_uniform(rng, 0.1f, 2.0f);
    mc.cfg.valid_total[i] = (float)(1000 * (1 + i));
    double share = i == 2 ? 0.1 : test_uniform(rng, 0.3f, 1.0f);
    mc.count[i] = floor(share * mc.cfg.valid_total[i] + (i == 2 ? 0.5 : 0.0));
    mc.loss[i] = test_uniform(rng, 0.05f, 3.0f);
    float lim = strategy == CLM_MTL_UNCERTAINTY_CLAMPED ? 2.0f
                : strategy == CLM_MTL_SOFTPLUS        ? 3.0f
                                                      : 1.5f;
    mc.param[i] = test_nonzero(rng, -lim, lim, 0.05f);
  }
  return mc;
}

static const char *gating_name(clm_mtl_gating g) {
  return g == CLM_MTL_GATE_HARD ? "hard" : g == CLM_MTL_GATE_SOFT ? "soft" : "none";
}

static void check_case(clm_context *ctx, const mtl_case *mc, int packed, const char *label) {
  const int k = mc->cfg.ntasks;
  int learned = clm_mtl_param_count(&mc->cfg) > 0;
  char name[200];
  mtl_result r = run_device(ctx, mc, packed);
  snprintf(name, sizeof name, "%s: step", label);
  test_true(name, r.st == CLM_OK, clm_last_error());
  if (r.st != CLM_OK) return;

  double seed[CLM_MTL_MAX_TASKS], pgrad[CLM_MTL_MAX_TASKS], contrib[CLM_MTL_MAX_TASKS];
  float want_total = (float)run_ref(mc, seed, pgrad, contrib);
  float fs[CLM_MTL_MAX_TASKS], fp[CLM_MTL_MAX_TASKS];
  to_float(seed, fs, k);
  to_float(pgrad, fp, k);
  snprintf(name, sizeof name, "%s: total", label);
  test_check(name, test_rel_error(&r.total, &want_total, 1, 1e-6), TOL);
  snprintf(name, sizeof name, "%s: seeds dTotal/dL", label);
  test_check(name, test_rel_error(r.seed, fs, k, 1e-6), TOL);
  snprintf(name, sizeof name, "%s: effective weights", label);
  test_check(name, test_rel_error(r.weight, fs, k, 1e-6), TOL);
  snprintf(name, sizeof name, "%s: parameter gradients (written)", label);
  test_check(name, test_rel_error(r.pgrad, fp, k, 1e-6), TOL);
  snprintf(name, sizeof name, "%s: loss values and counts untouched", label);
  test_true(name, r.scalars_intact, NULL);

  double fd[CLM_MTL_MAX_TASKS];
  float ffd[CLM_MTL_MAX_TASKS];
  ref_fd(mc, 0, fd);
  to_float(fd, ffd, k);
  snprintf(name, sizeof name, "%s: seeds vs finite differences", label);
  test_check(name, test_rel_error(r.seed, ffd, k, 1e-6), FD_TOL);
  if (learned) {
    ref_fd(mc, 1, fd);
    to_float(fd, ffd, k);
    snprintf(name, sizeof name, "%s: parameter gradients vs finite differences", label);
    test_check(name, test_rel_error(r.pgrad, ffd, k, 1e-6), FD_TOL);
  }

  /* task 2 sits at a 10% share: check the gating against the ungated contributions */
  mtl_case none = *mc;
  none.cfg.gating = CLM_MTL_GATE_NONE;
  double seed0[CLM_MTL_MAX_TASKS], pgrad0[CLM_MTL_MAX_TASKS];
  run_ref(&none, seed0, pgrad0, NULL);
  double rest = 0;
  for (int i = 0; i < k; i++)
    if (i != 2) rest += contrib[i];
  if (mc->cfg.gating == CLM_MTL_GATE_HARD) {
    float want = (float)rest;
    snprintf(name, sizeof name, "%s: 10%% task left out of the total", label);
    test_check(name, test_rel_error(&r.total, &want, 1, 1e-6), TOL);
    snprintf(name, sizeof name, "%s: 10%% task seed and parameter gradient are 0", label);
    test_true(name, r.seed[2] == 0.0f && r.pgrad[2] == 0.0f && r.weight[2] == 0.0f, NULL);
  } else if (mc->cfg.gating == CLM_MTL_GATE_SOFT) {
    float want = (float)(rest + 0.1 * contrib[2]);
    float got3[3] = {r.total, r.seed[2], r.pgrad[2]};
    float want3[3] = {want, (float)(0.1 * seed0[2]), (float)(0.1 * pgrad0[2])};
    snprintf(name, sizeof name, "%s: 10%% task's term, seed and gradient scaled by 0.1", label);
    test_check(name, test_rel_error(got3, want3, 3, 1e-6), TOL);
  }
}

/* Clamp with the default σ² range [1e-3, 10]: s = -8 and s = 3 lie outside, 0.5 inside. */
static void test_clamp(clm_context *ctx) {
  mtl_case mc;
  memset(&mc, 0, sizeof mc);
  mc.cfg = clm_mtl_defaults(CLM_MTL_UNCERTAINTY_CLAMPED, 3);
  mc.cfg.kind[1] = mc.cfg.kind[2] = CLM_TASK_REGRESSION;
  const double s[3] = {-8.0, 3.0, 0.5}, L[3] = {0.7, 1.3, 2.1};
  for (int i = 0; i < 3; i++) {
    mc.param[i] = s[i];
    mc.loss[i] = L[i];
    mc.count[i] = 100;
  }
  mtl_result r = run_device(ctx, &mc, 0);
  test_status("clamped: step", r.st);
  char detail[160];
  snprintf(detail, sizeof detail, "ds = %g, %g (want 0, 0), %g (want != 0)", r.pgrad[0],
           r.pgrad[1], r.pgrad[2]);
  test_true("clamped: s-gradient 0 below and above the sigma^2 range, not inside",
            r.pgrad[0] == 0.0f && r.pgrad[1] == 0.0f && r.pgrad[2] != 0.0f, detail);
  double seed[3];
  float want = (float)run_ref(&mc, seed, NULL, NULL);
  /* the clamped s enters the value: log(1e-3) for task 0, log(10) for task 1 */
  double direct = exp(-log(1e-3)) * 0.7f + 0.5 * log(1e-3) + 0.5 * exp(-log(10.0)) * 1.3f +
                  0.5 * log(10.0) + 0.5 * exp(-0.5) * 2.1f + 0.25;
  float wd = (float)direct;
  test_check("clamped: total vs reference", test_rel_error(&r.total, &want, 1, 1e-6), TOL);
  test_check("clamped: total vs formula with s clamped to [log 1e-3, log 10]",
             test_rel_error(&r.total, &wd, 1, 1e-6), TOL);
}

/* An empty task (count 0) with a NaN loss, under each gating mode: the total stays finite and
 * matches the reference; its seed is 0. Then an Inf loss on a real task: the total is not
 * finite but still written. */
static void test_empty_and_nonfinite(clm_context *ctx) {
  const clm_mtl_gating gates[3] = {CLM_MTL_GATE_NONE, CLM_MTL_GATE_HARD, CLM_MTL_GATE_SOFT};
  const clm_mtl_strategy strategies[2] = {CLM_MTL_FIXED, CLM_MTL_UNCERTAINTY};
  test_rng rng = test_rng_make(77);
  for (int si = 0; si < 2; si++)
    for (int gi = 0; gi < 3; gi++) {
      mtl_case mc = random_case(&rng, strategies[si], gates[gi], 3);
      mc.loss[1] = NAN;
      mc.count[1] = 0;
      mtl_result r = run_device(ctx, &mc, 0);
      double seed[3];
      float want = (float)run_ref(&mc, seed, NULL, NULL);
      char name[160];
      snprintf(name, sizeof name, "%s / %s gating: empty task with NaN loss left out",
               clm_mtl_strategy_name(strategies[si]), gating_name(gates[gi]));
      test_true(name, r.st == CLM_OK && isfinite(r.total) && r.seed[1] == 0.0f &&
                          r.pgrad[1] == 0.0f, clm_last_error());
      snprintf(name, sizeof name, "%s / %s gating: total with an empty task",
               clm_mtl_strategy_name(strategies[si]), gating_name(gates[gi]));
      test_check(name, test_rel_error(&r.total, &want, 1, 1e-6), TOL);
    }
  mtl_case mc = random_case(&rng, CLM_MTL_UNCERTAINTY_SIMPLE, CLM_MTL_GATE_NONE, 3);
  mc.loss[0] = INFINITY;
  mtl_result r = run_device(ctx, &mc, 0);
  char detail[64];
  snprintf(detail, sizeof detail, "total %g", r.total);
  test_true("Inf loss: non-finite total is written (for the optimizer's guard)",
            r.st == CLM_OK && !isfinite(r.total) && r.total != SENTINEL, detail);
}

static void test_api(clm_context *ctx) {
  const char *names[] = {"fixed", "equal", "uncertainty", "uncertainty-simple",
                         "uncertainty-clamped", "softplus", "gradnorm", "dwa"};
  for (int i = 0; i < 8; i++) {
    clm_mtl_strategy s = (clm_mtl_strategy)-1;
    test_true("parse known name",
              clm_mtl_strategy_parse(names[i], &s) == CLM_OK && (int)s == i &&
                  !strcmp(clm_mtl_strategy_name(s), names[i]), names[i]);
  }
  clm_mtl_strategy s;
  clm_status st = clm_mtl_strategy_parse("kendall", &s);
  test_true("unknown strategy is INVALID_ARG", st == CLM_ERR_INVALID_ARG, clm_last_error());
  int all = strstr(clm_last_error(), "kendall") != NULL;
  for (int i = 0; i < 8; i++) all = all && strstr(clm_last_error(), names[i]);
  test_true("and the message lists every valid name", all, clm_last_error());
  clm_mtl_gating g;
  test_true("gating names parse",
            clm_mtl_gating_parse("soft", &g) == CLM_OK && g == CLM_MTL_GATE_SOFT &&
                clm_mtl_gating_parse("hard", &g) == CLM_OK && g == CLM_MTL_GATE_HARD &&
                clm_mtl_gating_parse("off", &g) == CLM_ERR_INVALID_ARG, clm_last_error());

  clm_mtl_config d = clm_mtl_defaults(CLM_MTL_UNCERTAINTY, 4);
  test_true("defaults: threshold 0.2, sigma^2 clamp [1e-3, 10], s 0, no gating",
            d.gate_threshold == 0.2f && d.clamp == CLM_MTL_CLAMP_SIGMA2 &&
                d.clamp_min == 1e-3f && d.clamp_max == 10.0f && d.init_param[3] == 0.0f &&
                d.gating == CLM_MTL_GATE_NONE && clm_mtl_param_count(&d) == 4, NULL);
  d = clm_mtl_defaults(CLM_MTL_FIXED, 4);
  test_true("fixed has no learned parameters", clm_mtl_param_count(&d) == 0, NULL);

  /* gradnorm, dwa and argument errors, on real buffers */
  float z[6] = {1, 10, 0, 1, 10, 0};
  clm_tensor buf = test_tensor(ctx, 1, 1, 1, 6, z), tot = test_tensor(ctx, 1, 1, 1, 1, z);
  clm_tensor par = test_tensor(ctx, 1, 1, 1, 2, z);
  clm_mtl_scalars sc = {clm_tensor_view(buf.buf, buf.off, 1, 1, 1, 1),
                        clm_tensor_view(buf.buf, buf.off + 1, 1, 1, 1, 1),
                        clm_tensor_view(buf.buf, buf.off + 2, 1, 1, 1, 1), 3};
  /* gradnorm and dwa: fixed with the weights read from par = (1, 10); both losses 1 */
  for (int i = 0; i < 2; i++) {
    clm_mtl_config c = clm_mtl_defaults(i ? CLM_MTL_DWA : CLM_MTL_GRADNORM, 2);
    char name[120];
    snprintf(name, sizeof name, "%s: 2 device weights, initial weights 1", names[6 + i]);
    test_true(name, clm_mtl_param_count(&c) == 2 && c.init_param[0] == 1.0f &&
                        c.init_param[1] == 1.0f, NULL);
    clm_tensor pg = test_tensor(ctx, 1, 1, 1, 2, z + 1); /* (10, 0): must become (0, 0) */
    st = clm_mtl_step(ctx, &c, &sc, &par, &tot, &pg, NULL);
    snprintf(name, sizeof name, "%s step", names[6 + i]);
    test_status(name, st);
    float *t = test_download(ctx, &tot), *all = test_download(ctx, &buf);
    float *g = test_download(ctx, &pg);
    char detail[200];
    snprintf(detail, sizeof detail, "total %g (want 11), seeds %g %g (want 1 10), param grad "
             "%g %g (want 0 0)", t[0], all[2], all[5], g[0], g[1]);
    snprintf(name, sizeof name, "%s: total = 1*1 + 10*1, seeds = weights, zero gradient",
             names[6 + i]);
    test_true(name, st == CLM_OK && t[0] == 11.0f && all[2] == 1.0f && all[5] == 10.0f &&
                        g[0] == 0.0f && g[1] == 0.0f, detail);
    free(t); free(all); free(g);
    test_tensor_free(ctx, &pg);
    /* the seeds are outputs: put the scalars back as they were for the checks below */
    test_upload(ctx, &buf, z);
    st = clm_mtl_step(ctx, &c, &sc, NULL, &tot, NULL, NULL);
    snprintf(name, sizeof name, "%s without its weights is a SHAPE error", names[6 + i]);
    test_true(name, st == CLM_ERR_SHAPE, clm_last_error());
  }
  clm_mtl_config c = clm_mtl_defaults(CLM_MTL_EQUAL, 2);
  c.gating = CLM_MTL_GATE_HARD;
  st = clm_mtl_step(ctx, &c, &sc, NULL, &tot, NULL, NULL);
  test_true("gating without valid totals is INVALID_ARG", st == CLM_ERR_INVALID_ARG,
            clm_last_error());
  c = clm_mtl_defaults(CLM_MTL_EQUAL, 17);
  st = clm_mtl_step(ctx, &c, &sc, NULL, &tot, NULL, NULL);
  test_true("17 tasks is INVALID_ARG", st == CLM_ERR_INVALID_ARG, clm_last_error());
  c = clm_mtl_defaults(CLM_MTL_EQUAL, 5); /* buffer of 5 + 6 + 7 floats: seed 4 at 19 */
  st = clm_mtl_step(ctx, &c, &sc, NULL, &tot, NULL, NULL);
  test_true("scalars past the buffer end is a SHAPE error", st == CLM_ERR_SHAPE,
            clm_last_error());
  c = clm_mtl_defaults(CLM_MTL_SOFTPLUS, 2);
  st = clm_mtl_step(ctx, &c, &sc, NULL, &tot, NULL, NULL);
  test_true("learned strategy without parameters is a SHAPE error", st == CLM_ERR_SHAPE,
            clm_last_error());
  c = clm_mtl_defaults(CLM_MTL_UNCERTAINTY_CLAMPED, 2);
  c.clamp_min = 0;
  st = clm_mtl_step(ctx, &c, &sc, &par, &tot, NULL, NULL);
  test_true("sigma^2 clamp from 0 is INVALID_ARG", st == CLM_ERR_INVALID_ARG, clm_last_error());
  if (!test_small()) { /* writes at an offset: outside what oclgrind 21.10 tracks */
    c = clm_mtl_defaults(CLM_MTL_UNCERTAINTY, 2);
    c.init_param[0] = 0.25f;
    c.init_param[1] = -0.5f;
    test_status("params init", clm_mtl_params_init(ctx, &c, &par));
    float *p = test_download(ctx, &par);
    test_true("params init uploads init_param", p[0] == 0.25f && p[1] == -0.5f, NULL);
    free(p);
  }
  test_tensor_free(ctx, &buf);
  test_tensor_free(ctx, &tot);
  test_tensor_free(ctx, &par);
}

int main(void) {
  clm_context *ctx = test_context();
  const int k = test_small() ? 3 : 7, seeds = test_small() ? 1 : 3;
  printf("%d tasks (0 classification, 1-2 regression, task 2 at a 10%% share), %d seed(s); "
         "tolerance %g vs the double reference, %g vs central differences (h %g)\n",
         k, seeds, TOL, FD_TOL, FD_H);
  const clm_mtl_strategy strategies[] = {CLM_MTL_FIXED, CLM_MTL_EQUAL, CLM_MTL_UNCERTAINTY,
                                         CLM_MTL_UNCERTAINTY_SIMPLE,
                                         CLM_MTL_UNCERTAINTY_CLAMPED, CLM_MTL_SOFTPLUS};
  const clm_mtl_gating gates[3] = {CLM_MTL_GATE_NONE, CLM_MTL_GATE_HARD, CLM_MTL_GATE_SOFT};
  for (int si = 0; si < 6; si++)
    for (int gi = 0; gi < 3; gi++)
      for (int r = 0; r < seeds; r++) {
        test_rng rng = test_rng_make(1000 + 100 * si + 10 * gi + r);
        mtl_case mc = random_case(&rng, strategies[si], gates[gi], k);
        /* the graph's layout throughout; stride-1 buffers for one seed per strategy */
        int packed = gi == 0 && r == 0;
        char label[120];
        snprintf(label, sizeof label, "%s, %s gating, %s layout, seed %d",
                 clm_mtl_strategy_name(strategies[si]), gating_name(gates[gi]),
                 packed ? "packed" : "graph", r);
        check_case(ctx, &mc, packed, label);
      }
  test_clamp(ctx);
  test_empty_and_nonfinite(ctx);
  test_api(ctx);
  clm_context_free(ctx);
  return test_finish();
}
