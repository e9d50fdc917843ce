/* Kendall et al.'s exact classification likelihood (--weighting uncertainty-exact) against
 * float64 references written from the paper's formula, -log softmax(f / σ²)[y] with
 * s = log σ²: (1) the device op, softmax cross-entropy with the temperature inside, its loss,
 * dlogits and dL/ds (added into a parameter gradient) against the reference and against finite
 * differences of seed·loss in the logits and in s, ignored pixels, s beyond the clamp; (2) the
 * weighting in a training graph (a classification and an L1 regression head): after forward,
 * weigh and backward, the total (CE(f e^{-s0}) + ½e^{-s1}L1 + ½s1, Eq. 7 for the regression
 * task), both task-parameter gradients and the classification head's bias gradient against
 * float64 computed from the graph's own head outputs, and the task-parameter gradients against
 * finite differences of the device total; evaluation mode falls back to the plain loss. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/mtl.h"
#include "ops/ops.h"
#include "test_util.h"

#define S_MIN (-15.0)
#define S_MAX 15.0

static int labels_valid(float y, int K, int ignore) {
  return y != (float)ignore && y >= 0 && y < K && floor(y) == y;
}

/* Mean over valid pixels of -log softmax(f e^{-s})[y] (s clamped), *count valid pixels; with
 * dlogits (seed·d/df, may be NULL) and *ds (seed·d/ds, 0 outside the clamp). */
static double ref_exact(const float *f, double s, const float *lab, int N, int K, int HW,
                        int ignore, double seed, float *dlogits, double *ds, double *count) {
  double sc = fmin(fmax(s, S_MIN), S_MAX), t = exp(-sc), sum = 0, cnt = 0, gs = 0;
  for (int i = 0; i < N * HW; i++) cnt += labels_valid(lab[i], K, ignore);
  for (int n = 0; n < N; n++)
    for (int j = 0; j < HW; j++) {
      float y = lab[n * HW + j];
      const float *z = f + (size_t)n * K * HW + j;
      int ok = labels_valid(y, K, ignore);
      double m = -INFINITY, se = 0, pf = 0;
      for (int k = 0; k < K; k++) m = fmax(m, t * z[k * HW]);
      for (int k = 0; k < K; k++) se += exp(t * z[k * HW] - m);
      if (ok) sum += log(se) + m - t * z[(int)y * HW];
      for (int k = 0; k < K; k++) {
        double p = exp(t * z[k * HW] - m) / se;
        pf += p * z[k * HW];
        if (dlogits) dlogits[((size_t)n * K + k) * HW + j] = ok ? (float)(seed / fmax(cnt, 1) * t * (p - (k == (int)y))) : 0.0f;
      }
      /* d/ds of log Σ e^{t f_k} - t f_y with dt/ds = -t */
      if (ok) gs += -t * (pf - z[(int)y * HW]);
    }
  *count = cnt;
  *ds = s >= S_MIN && s <= S_MAX ? seed * gs / fmax(cnt, 1) : 0.0;
  return sum / fmax(cnt, 1);
}

static float scalar(clm_context *ctx, const clm_tensor *t) {
  float v = 0;
  test_status("download scalar", clm_tensor_download(ctx, t, &v));
  return v;
}

/* ---- (1) the op ---------------------------------------------------------------------------- */

typedef struct ocase {
  clm_context *ctx;
  float seed;
  clm_tensor z, s, lab, loss, count, ws, seedt, dz, ds, bws;
  int which; /* finite differences: 0 logits, 1 s */
} ocase;

static clm_status oforward(ocase *c) {
  return clm_xent_temperature_forward(c->ctx, &c->z, &c->s, &c->lab, 255, &c->loss, &c->count, &c->ws);
}

static double oobjective(void *user, const float *x) {
  ocase *c = user;
  test_upload(c->ctx, c->which ? &c->s : &c->z, x);
  test_status("fd forward", oforward(c));
  return (double)c->seed * scalar(c->ctx, &c->loss);
}

static void check_op(clm_context *ctx, int N, int K, int H, int W, float s0, int fd_samples) {
  char tag[96], name[220];
  snprintf(tag, sizeof tag, "xent temperature s=%g (%d,%d,%d,%d)", s0, N, K, H, W);
  printf("-- %s\n", tag);
  int HW = H * W;
  size_t n = (size_t)N * K * HW, P = (size_t)N * HW;
  test_rng r = test_rng_make(2100 + (uint64_t)K + (uint64_t)H);
  float *z = test_random(&r, n, -3, 3), *lab = test_alloc(P);
  for (size_t i = 0; i < P; i++)
    lab[i] = test_uniform(&r, 0, 1) < 0.2f ? 255.0f : (float)((int)test_uniform(&r, 0, (float)K) % K);
  lab[0] = 1.0f;
  ocase c;
  memset(&c, 0, sizeof c);
  c.ctx = ctx;
  c.seed = 1.3f;
  float ds0 = 0.37f; /* a parameter gradient accumulates: the op adds to what is there */
  c.z = test_tensor(ctx, N, K, H, W, z);
  c.s = test_tensor(ctx, 1, 1, 1, 1, &s0);
  c.lab = test_tensor(ctx, N, 1, H, W, lab);
  c.loss = test_tensor(ctx, 1, 1, 1, 1, NULL);
  c.count = test_tensor(ctx, 1, 1, 1, 1, NULL);
  c.seedt = test_tensor(ctx, 1, 1, 1, 1, &c.seed);
  c.dz = test_tensor(ctx, N, K, H, W, NULL);
  c.ds = test_tensor(ctx, 1, 1, 1, 1, &ds0);
  c.ws = test_tensor(ctx, 1, 1, 1, (int)clm_loss_workspace(ctx, P), NULL);
  c.bws = test_tensor(ctx, 1, 1, 1, (int)clm_xent_temperature_workspace(ctx, P), NULL);
  float *gz_ref = test_alloc(n);
  double cnt, ds_ref, want = ref_exact(z, s0, lab, N, K, HW, 255, c.seed, gz_ref, &ds_ref, &cnt);
  test_status("forward", oforward(&c));
  float loss = scalar(ctx, &c.loss), count = scalar(ctx, &c.count);
  snprintf(name, sizeof name, "%s loss %.7g vs float64 -log softmax(f/sigma^2)[y] %.7g", tag, loss, want);
  test_check(name, fabs(loss - want) / fmax(fabs(want), 1e-6), 2e-5);
  test_check("count vs reference", fabs(count - cnt), 0);
  float *old = test_random(&r, n, -1, 1);
  for (int acc = 0; acc < 2; acc++) {
    test_upload(ctx, &c.dz, old);
    test_upload(ctx, &c.ds, &ds0);
    test_status("backward", clm_xent_temperature_backward(ctx, &c.z, &c.s, &c.lab, 255, &c.count, &c.seedt,
                                                         &c.dz, acc, &c.ds, &c.bws));
    float *gz = test_download(ctx, &c.dz), *want_z = test_alloc(n);
    for (size_t i = 0; i < n; i++) want_z[i] = gz_ref[i] + (acc ? old[i] : 0.0f);
    snprintf(name, sizeof name, "%s dlogits (accumulate=%d) vs reference", tag, acc);
    test_check(name, test_rel_error(gz, want_z, n, 1e-12), 2e-5);
    free(gz);
    free(want_z);
    float ds = scalar(ctx, &c.ds);
    snprintf(name, sizeof name, "%s dL/ds %.7g added onto %.2f vs reference %.7g", tag, ds - ds0, ds0, ds_ref);
    test_check(name, fabs((ds - ds0) - ds_ref) / fmax(fabs(ds_ref), 1e-3), 1e-4);
  }
  if (s0 > S_MIN && s0 < S_MAX) {
    test_upload(ctx, &c.ds, &ds0);
    test_status("backward", clm_xent_temperature_backward(ctx, &c.z, &c.s, &c.lab, 255, &c.count, &c.seedt,
                                                         &c.dz, 0, &c.ds, &c.bws));
    float *an[2] = {test_download(ctx, &c.dz), test_alloc(1)};
    an[1][0] = scalar(ctx, &c.ds) - ds0;
    float *x[2] = {z, &s0};
    size_t len[2] = {n, 1};
    for (int which = 0; which < 2; which++) {
      double gmax = 0;
      for (size_t i = 0; i < len[which]; i++) gmax = fmax(gmax, fabs(an[which][i]));
      c.which = which;
      double e = test_fd_error(oobjective, &c, x[which], len[which], an[which], which ? 1e-2 : 5e-2,
                               which ? 1 : fd_samples, fmax(0.1 * gmax, 1e-6), 31 + (uint64_t)which);
      test_upload(ctx, which ? &c.s : &c.z, x[which]);
      snprintf(name, sizeof name, "%s d/d%s by finite differences of seed*loss", tag, which ? "s" : "logits");
      test_check(name, e, 2e-2);
      free(an[which]);
    }
  }
  clm_tensor *all[] = {&c.z, &c.s, &c.lab, &c.loss, &c.count, &c.seedt, &c.dz, &c.ds, &c.ws, &c.bws};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) test_tensor_free(ctx, all[i]);
  free(z); free(lab); free(gz_ref); free(old);
}

/* ---- (2) the weighting in a graph ---------------------------------------------------------- */

static const char *model =
    "[input]\ntype = input\nchannels = 3\n"
    "[c1]\ntype = conv\nfrom = input\nfilters = 4\nsize = 3\nact = relu\n"
    "[sa]\ntype = conv\nfrom = c1\nfilters = 3\nsize = 1\n"
    "[da]\ntype = conv\nfrom = c1\nfilters = 1\nsize = 1\n"
    "[task.seg]\ntype = softmax_xent\nfrom = sa\ntarget = labels\nkind = classification\n"
    "[task.depth]\ntype = l1\nfrom = da\ntarget = depth\nkind = regression\n";

enum { GN = 2, GH = 5, GW = 7, GK = 3 };

/* forward, zero_grad, weigh (the train step's order) and the total */
static float graph_total(clm_graph *g, clm_mtl *m, int backward) {
  test_status("forward", clm_graph_forward(g));
  test_status("zero grad", clm_graph_zero_grad(g));
  test_status("weigh", clm_mtl_weigh(m));
  if (backward) test_status("backward", clm_graph_backward(g));
  clm_tensor t = clm_mtl_total(m);
  return scalar(clm_graph_context(g), &t);
}

static void test_graph(clm_context *ctx) {
  printf("-- uncertainty-exact in a training graph\n");
  clm_graph *g = NULL;
  clm_mtl *m = NULL;
  clm_mtl_config cfg;
  clm_graph_options o = {GN, GH, GW, 1, -1, 0};
  clm_status st = clm_graph_create(ctx, &g);
  if (st == CLM_OK) st = clm_graph_parse(g, model, "exact.cfg");
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  if (st == CLM_OK) st = clm_graph_init_params(g, 3);
  if (st == CLM_OK) st = clm_mtl_strategy_parse("uncertainty-exact", &cfg.strategy);
  if (st == CLM_OK) st = clm_mtl_config_for_graph(g, CLM_MTL_UNCERTAINTY_EXACT, &cfg);
  if (st == CLM_OK) st = clm_mtl_create(g, &cfg, &m);
  test_status("graph and weighting", st);
  if (st != CLM_OK) { clm_graph_free(g); return; }
  int HW = GH * GW;
  test_rng r = test_rng_make(515);
  float *img = test_random(&r, (size_t)GN * 3 * HW, -1, 1), *lab = test_alloc((size_t)GN * HW);
  float *dep = test_random(&r, (size_t)GN * HW, -1, 1);
  for (int i = 0; i < GN * HW; i++) lab[i] = i % 6 == 5 ? 255.0f : (float)((i * 7) % GK);
  test_status("input", clm_graph_set_input(g, "input", img));
  test_status("labels", clm_graph_set_input(g, "labels", lab));
  test_status("depth", clm_graph_set_input(g, "depth", dep));
  float sp[2] = {0.6f, -0.4f};
  clm_tensor tp = clm_graph_task_params(g), tg = clm_graph_task_grads(g);
  test_upload(ctx, &tp, sp);
  float total = graph_total(g, m, 1);
  float *pg = test_download(ctx, &tg);
  clm_tensor tsa, tda;
  test_status("sa", clm_graph_tensor(g, "sa", &tsa));
  test_status("da", clm_graph_tensor(g, "da", &tda));
  float *f = test_download(ctx, &tsa), *d = test_download(ctx, &tda);
  size_t nf = (size_t)GN * GK * HW;
  float *gf = test_alloc(nf);
  double cnt, ds0, ce = ref_exact(f, sp[0], lab, GN, GK, HW, 255, 1.0, gf, &ds0, &cnt), l1 = 0;
  for (int i = 0; i < GN * HW; i++) l1 += fabs((double)d[i] - dep[i]);
  l1 /= GN * HW;
  double want = ce + 0.5 * exp(-sp[1]) * l1 + 0.5 * sp[1];
  double pg_ref[2] = {ds0, 0.5 - 0.5 * exp(-sp[1]) * l1};
  char name[220];
  snprintf(name, sizeof name, "total %.7g vs float64 CE(f e^-s0) + 0.5 e^-s1 L1 + 0.5 s1 = %.7g", total, want);
  test_check(name, fabs(total - want) / fabs(want), 2e-5);
  for (int i = 0; i < 2; i++) {
    snprintf(name, sizeof name, "dTotal/ds%d %.7g vs float64 %.7g", i, pg[i], pg_ref[i]);
    test_check(name, fabs(pg[i] - pg_ref[i]) / fmax(fabs(pg_ref[i]), 1e-3), 1e-4);
  }
  /* the classification head's bias gradient: Σ over pixels of dTotal/dlogits */
  double db_ref[GK] = {0};
  for (int n = 0; n < GN; n++)
    for (int k = 0; k < GK; k++)
      for (int j = 0; j < HW; j++) db_ref[k] += gf[((size_t)n * GK + k) * HW + j];
  float db[GK] = {0};
  for (int i = 0; i < clm_graph_named_count(g); i++) {
    const char *nm;
    clm_tensor v;
    int is_param;
    if (clm_graph_named(g, i, &nm, &v, &is_param) != CLM_OK || strcmp(nm, "sa.bias")) continue;
    clm_tensor gv = clm_tensor_view(clm_graph_grads(g).buf, v.off, v.n, v.c, v.h, v.w);
    test_status("sa.bias grad", clm_tensor_download(ctx, &gv, db));
  }
  double e = 0, top = 1e-6;
  for (int k = 0; k < GK; k++) {
    e = fmax(e, fabs(db[k] - db_ref[k]));
    top = fmax(top, fabs(db_ref[k]));
  }
  test_check("sa.bias gradient (temperature-scaled softmax) vs float64", e / top, 1e-4);
  /* finite differences of the device total in each s */
  for (int i = 0; i < 2; i++) {
    const float h = 1e-2f;
    float sv[2] = {sp[0], sp[1]};
    sv[i] = sp[i] + h;
    test_upload(ctx, &tp, sv);
    double tplus = graph_total(g, m, 0);
    sv[i] = sp[i] - h;
    test_upload(ctx, &tp, sv);
    double tminus = graph_total(g, m, 0);
    double fd = (tplus - tminus) / (2 * h);
    snprintf(name, sizeof name, "dTotal/ds%d %.6g vs finite differences of the device total %.6g", i, pg[i], fd);
    test_check(name, fabs(pg[i] - fd) / fmax(fabs(fd), 1e-2), 1e-2);
  }
  /* evaluation mode: the plain cross-entropy, whatever s */
  test_upload(ctx, &tp, sp);
  clm_graph_set_training(g, 0);
  test_status("eval forward", clm_graph_forward(g));
  clm_tensor lv = clm_graph_loss_value(g, 0);
  double plain = ref_exact(f, 0.0, lab, GN, GK, HW, 255, 1.0, NULL, &ds0, &cnt);
  float got = scalar(ctx, &lv);
  snprintf(name, sizeof name, "evaluation mode: plain cross-entropy %.7g vs float64 %.7g", got, plain);
  test_check(name, fabs(got - plain) / plain, 2e-5);
  free(img); free(lab); free(dep); free(pg); free(f); free(d); free(gf);
  clm_mtl_free(m);
  clm_graph_free(g);
}

int main(void) {
  clm_context *ctx = test_context();
  if (!ctx) return 1;
  check_op(ctx, 2, 3, 5, 7, 0.7f, test_small() ? 6 : 40);
  check_op(ctx, 2, 3, 5, 7, -1.2f, test_small() ? 6 : 40);
  check_op(ctx, 1, 3, 5, 7, 16.0f, 0); /* beyond the clamp: no s-gradient */
  if (!test_small()) check_op(ctx, 3, 7, 9, 21, 0.3f, 40);
  if (!test_small()) test_graph(ctx);
  clm_context_free(ctx);
  return test_finish();
}
