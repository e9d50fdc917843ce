/* The heteroscedastic regression losses (laplace_nll, gaussian_nll; Kendall & Gal 2017)
 * against the float64 reference tests/ref/ref_hetero.c: forward and count, both gradients
 * (written, then accumulated), finite differences of seed·loss through the device forward in
 * both the prediction and the log-variance; random non-zero inputs, odd shapes, masked pixels,
 * log-variances beyond the clamp range [-15, 15]. The same for the logit-noise cross-entropy
 * (analytic form), whose approximation is also compared with a Monte-Carlo estimate of the
 * expected softmax. Then the model-file side: a two-input loss
 * compiles, its graph loss equals the reference on the graph's own tensors, and wrong 'from'
 * counts or a log-variance of another shape are refused with the layer named; evaluation of an
 * unmasked gaussian_nll task does not depend on the batch size (padded rows left out). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/feeds.h"
#include "clmtl/train.h"
#include "ops/ops.h"
#include "ref/ref_hetero.h"
#include "test_util.h"

#define S_MIN (-15.0)
#define S_MAX 15.0

typedef struct hcase {
  clm_context *ctx;
  int kind, N, C, HW, masked;
  float seed;
  clm_tensor pred, logvar, target, mask, loss, count, ws, seedt, dpred, dlogvar;
  float *fd_other; /* the input held fixed while the other one is perturbed */
  int fd_which;    /* 0: perturb pred, 1: perturb logvar */
} hcase;

static float scalar(clm_context *ctx, const clm_tensor *t) {
  float v = 0;
  test_status("download scalar", clm_tensor_download(ctx, t, &v));
  return v;
}

static clm_status forward(hcase *c) {
  return clm_hetero_loss_forward(c->ctx, (clm_regression_loss)c->kind, &c->pred, &c->logvar,
                                 &c->target, c->masked ? &c->mask : NULL, &c->loss, &c->count,
                                 &c->ws);
}

static clm_status backward(hcase *c, int acc_p, int acc_s) {
  return clm_hetero_loss_backward(c->ctx, (clm_regression_loss)c->kind, &c->pred, &c->logvar,
                                  &c->target, c->masked ? &c->mask : NULL, &c->count, &c->seedt,
                                  &c->dpred, acc_p, &c->dlogvar, acc_s);
}

static double objective(void *user, const float *x) {
  hcase *c = user;
  test_upload(c->ctx, c->fd_which ? &c->logvar : &c->pred, x);
  test_status("fd forward", forward(c));
  return (double)c->seed * scalar(c->ctx, &c->loss);
}

static void check_case(clm_context *ctx, int kind, int N, int C, int H, int W, int masked,
                       int fd_samples) {
  char tag[96], name[220];
  snprintf(tag, sizeof tag, "%s%s (%d,%d,%d,%d)", kind == 1 ? "laplace_nll" : "gaussian_nll",
           masked ? " masked" : "", N, C, H, W);
  printf("-- %s\n", tag);
  int HW = H * W;
  size_t n = (size_t)N * C * HW, P = (size_t)N * HW;
  test_rng r = test_rng_make(900 + (uint64_t)kind * 31 + (uint64_t)H * 7 + (uint64_t)masked);
  float *pred = test_random(&r, n, -2, 2), *target = test_alloc(n), *logvar = test_alloc(n);
  float *mask = test_alloc(P);
  for (size_t i = 0; i < n; i++) {
    /* |d| >= 0.05: finite differences of step 1e-2 never cross the Laplace kink */
    target[i] = pred[i] - test_nonzero(&r, -1.5f, 1.5f, 0.05f);
    logvar[i] = test_nonzero(&r, -2.0f, 2.0f, 0.01f);
  }
  logvar[0] = 20.0f;              /* beyond the clamp: loss uses 15, no s-gradient */
  if (n > 3) logvar[3] = -18.0f;  /* below it: loss uses -15 (e^{15}|d|), no s-gradient */
  for (size_t i = 0; i < P; i++) mask[i] = !masked || test_uniform(&r, 0, 1) > 0.3f ? 1.0f : 0.0f;
  if (masked) mask[P - 1] = 0.0f;
  hcase c;
  memset(&c, 0, sizeof c);
  c.ctx = ctx; c.kind = kind; c.N = N; c.C = C; c.HW = HW; c.masked = masked; c.seed = 1.75f;
  c.pred = test_tensor(ctx, N, C, H, W, pred);
  c.logvar = test_tensor(ctx, N, C, H, W, logvar);
  c.target = test_tensor(ctx, N, C, H, W, target);
  c.mask = test_tensor(ctx, N, 1, H, W, mask);
  c.dpred = test_tensor(ctx, N, C, H, W, NULL);
  c.dlogvar = test_tensor(ctx, N, C, H, W, NULL);
  c.loss = test_tensor(ctx, 1, 1, 1, 1, NULL);
  c.count = test_tensor(ctx, 1, 1, 1, 1, NULL);
  c.seedt = test_tensor(ctx, 1, 1, 1, 1, &c.seed);
  c.ws = test_tensor(ctx, 1, 1, 1, (int)clm_loss_workspace(ctx, n), NULL);
  const float *m = masked ? mask : NULL;
  double count_ref;
  double loss_ref = ref_hetero_forward(kind, pred, logvar, target, m, N, C, HW, S_MIN, S_MAX,
                                       &count_ref);
  float *gp_ref = test_alloc(n), *gs_ref = test_alloc(n);
  ref_hetero_backward(kind, pred, logvar, target, m, N, C, HW, S_MIN, S_MAX, c.seed, gp_ref,
                      gs_ref);
  test_status("forward", forward(&c));
  float loss = scalar(ctx, &c.loss), count = scalar(ctx, &c.count);
  snprintf(name, sizeof name, "%s loss %.7g vs float64 reference %.7g", tag, loss, loss_ref);
  test_check(name, fabs(loss - loss_ref) / fmax(fabs(loss_ref), 1e-6), 2e-5);
  snprintf(name, sizeof name, "%s count %g vs reference %g", tag, count, count_ref);
  test_check(name, fabs(count - count_ref), 0);

  /* written, then accumulated onto old contents (each flag on its own) */
  float *old_p = test_random(&r, n, -1, 1), *old_s = test_random(&r, n, -1, 1);
  float *sum = test_alloc(n);
  for (int mode = 0; mode < 3; mode++) {
    int ap = mode == 1, as = mode == 2;
    test_upload(ctx, &c.dpred, old_p);
    test_upload(ctx, &c.dlogvar, old_s);
    test_status("backward", backward(&c, ap, as));
    float *gp = test_download(ctx, &c.dpred), *gs = test_download(ctx, &c.dlogvar);
    for (size_t i = 0; i < n; i++) sum[i] = gp_ref[i] + (ap ? old_p[i] : 0.0f);
    snprintf(name, sizeof name, "%s dpred (acc_pred=%d) vs reference", tag, ap);
    test_check(name, test_rel_error(gp, sum, n, 1e-12), 1e-5);
    for (size_t i = 0; i < n; i++) sum[i] = gs_ref[i] + (as ? old_s[i] : 0.0f);
    snprintf(name, sizeof name, "%s dlogvar (acc_logvar=%d) vs reference", tag, as);
    test_check(name, test_rel_error(gs, sum, n, 1e-12), 1e-5);
    free(gp);
    free(gs);
  }
  /* finite differences, pred then logvar (the other input held at its value), with s = -18
   * put back in range: its e^{15}|d| term would bury the others in float rounding; s = 20
   * stays, where the loss is flat in s */
  if (n > 3) {
    logvar[3] = 0.3f;
    test_upload(ctx, &c.logvar, logvar);
  }
  test_status("backward", backward(&c, 0, 0));
  float *gs = test_download(ctx, &c.dlogvar);
  snprintf(name, sizeof name, "%s no s-gradient beyond the clamp (s = 20): %g", tag, gs[0]);
  test_true(name, gs[0] == 0.0f, NULL);
  free(gs);
  float *an[2] = {test_download(ctx, &c.dpred), test_download(ctx, &c.dlogvar)};
  float *x[2] = {pred, logvar};
  for (int which = 0; which < 2; which++) {
    double gmax = 0;
    for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(an[which][i]));
    c.fd_which = which;
    double e = test_fd_error(objective, &c, x[which], n, an[which], 1e-2, fd_samples,
                             fmax(0.1 * gmax, 1e-6), 11 + (uint64_t)which);
    test_upload(ctx, which ? &c.logvar : &c.pred, x[which]);
    snprintf(name, sizeof name, "%s d/d%s by finite differences of seed*loss", tag,
             which ? "logvar" : "pred");
    test_check(name, e, 2e-2);
    free(an[which]);
  }
  clm_tensor *all[] = {&c.pred, &c.logvar, &c.target, &c.mask, &c.dpred, &c.dlogvar,
                       &c.loss, &c.count, &c.seedt, &c.ws};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) test_tensor_free(ctx, all[i]);
  free(pred); free(target); free(logvar); free(mask); free(gp_ref); free(gs_ref);
  free(old_p); free(old_s); free(sum);
}

/* ---- logit noise (classification) --------------------------------------------------------- */

typedef struct lcase {
  clm_context *ctx;
  float seed;
  clm_tensor logits, logvar, labels, loss, count, ws, seedt, dlogits, dlogvar;
  int fd_which;
} lcase;

static clm_status lforward(lcase *c) {
  return clm_logit_noise_xent_forward(c->ctx, &c->logits, &c->logvar, &c->labels, 255, &c->loss,
                                      &c->count, &c->ws);
}

static clm_status lbackward(lcase *c, int acc_z, int acc_s) {
  return clm_logit_noise_xent_backward(c->ctx, &c->logits, &c->logvar, &c->labels, 255, &c->count,
                                       &c->seedt, &c->dlogits, acc_z, &c->dlogvar, acc_s);
}

static double lobjective(void *user, const float *x) {
  lcase *c = user;
  test_upload(c->ctx, c->fd_which ? &c->logvar : &c->logits, x);
  test_status("fd forward", lforward(c));
  return (double)c->seed * scalar(c->ctx, &c->loss);
}

/* The analytic logit-noise loss and both gradients against the float64 reference and finite
 * differences; ignored pixels, s beyond the clamp; then the approximation itself against a
 * Monte-Carlo estimate of the expected softmax (printed, and bounded loosely: it is an
 * approximation, not the same quantity). */
static void check_logit_noise(clm_context *ctx, int N, int K, int H, int W, int fd_samples) {
  char tag[96], name[220];
  snprintf(tag, sizeof tag, "logit_noise_xent (%d,%d,%d,%d)", N, K, H, W);
  printf("-- %s\n", tag);
  int HW = H * W;
  size_t n = (size_t)N * K * HW, P = (size_t)N * HW;
  test_rng r = test_rng_make(1300 + (uint64_t)K * 5 + (uint64_t)H);
  float *z = test_random(&r, n, -3, 3), *s = test_alloc(P), *lab = test_alloc(P);
  for (size_t i = 0; i < P; i++) {
    s[i] = test_nonzero(&r, -3.0f, 3.0f, 0.01f);
    lab[i] = test_uniform(&r, 0, 1) < 0.2f ? 255.0f : (float)((int)test_uniform(&r, 0, (float)K) % K);
  }
  lab[P - 1] = 0.0f;
  s[0] = 17.0f; /* beyond the clamp */
  lcase c;
  memset(&c, 0, sizeof c);
  c.ctx = ctx;
  c.seed = 0.8f;
  c.logits = test_tensor(ctx, N, K, H, W, z);
  c.logvar = test_tensor(ctx, N, 1, H, W, s);
  c.labels = test_tensor(ctx, N, 1, H, W, lab);
  c.dlogits = test_tensor(ctx, N, K, H, W, NULL);
  c.dlogvar = test_tensor(ctx, N, 1, H, W, NULL);
  c.loss = test_tensor(ctx, 1, 1, 1, 1, NULL);
  c.count = test_tensor(ctx, 1, 1, 1, 1, NULL);
  c.seedt = test_tensor(ctx, 1, 1, 1, 1, &c.seed);
  c.ws = test_tensor(ctx, 1, 1, 1, (int)clm_loss_workspace(ctx, P), NULL);
  double cnt_ref, want = ref_logit_noise_forward(z, s, lab, N, K, HW, 255, S_MIN, S_MAX, &cnt_ref);
  float *gz_ref = test_alloc(n), *gs_ref = test_alloc(P);
  ref_logit_noise_backward(z, s, lab, N, K, HW, 255, S_MIN, S_MAX, c.seed, gz_ref, gs_ref);
  test_status("forward", lforward(&c));
  float loss = scalar(ctx, &c.loss), count = scalar(ctx, &c.count);
  snprintf(name, sizeof name, "%s loss %.7g vs float64 reference %.7g", tag, loss, want);
  test_check(name, fabs(loss - want) / fmax(fabs(want), 1e-6), 2e-5);
  snprintf(name, sizeof name, "%s count %g vs reference %g", tag, count, cnt_ref);
  test_check(name, fabs(count - cnt_ref), 0);
  float *old_z = test_random(&r, n, -1, 1), *old_s = test_random(&r, P, -1, 1), *sum = test_alloc(n);
  for (int mode = 0; mode < 3; mode++) {
    int az = mode == 1, as = mode == 2;
    test_upload(ctx, &c.dlogits, old_z);
    test_upload(ctx, &c.dlogvar, old_s);
    test_status("backward", lbackward(&c, az, as));
    float *gz = test_download(ctx, &c.dlogits), *gs = test_download(ctx, &c.dlogvar);
    for (size_t i = 0; i < n; i++) sum[i] = gz_ref[i] + (az ? old_z[i] : 0.0f);
    snprintf(name, sizeof name, "%s dlogits (acc=%d) vs reference", tag, az);
    test_check(name, test_rel_error(gz, sum, n, 1e-12), 1e-5);
    for (size_t i = 0; i < P; i++) sum[i] = gs_ref[i] + (as ? old_s[i] : 0.0f);
    snprintf(name, sizeof name, "%s dlogvar (acc=%d) vs reference", tag, as);
    test_check(name, test_rel_error(gs, sum, P, 1e-12), 1e-5);
    free(gz);
    free(gs);
  }
  test_status("backward", lbackward(&c, 0, 0));
  float *an[2] = {test_download(ctx, &c.dlogits), test_download(ctx, &c.dlogvar)};
  snprintf(name, sizeof name, "%s no s-gradient beyond the clamp (s = 17)", tag);
  test_true(name, an[1][0] == 0.0f, NULL);
  float *x[2] = {z, s};
  size_t len[2] = {n, P};
  for (int which = 0; which < 2; which++) {
    double gmax = 0;
    for (size_t i = 0; i < len[which]; i++) gmax = fmax(gmax, fabs(an[which][i]));
    c.fd_which = which;
    double e = test_fd_error(lobjective, &c, x[which], len[which], an[which], 5e-2, fd_samples,
                             fmax(0.1 * gmax, 1e-6), 21 + (uint64_t)which);
    test_upload(ctx, which ? &c.logvar : &c.logits, x[which]);
    snprintf(name, sizeof name, "%s d/d%s by finite differences of seed*loss", tag,
             which ? "logvar" : "logits");
    test_check(name, e, 2e-2);
    free(an[which]);
  }
  if (!test_small()) {
    s[0] = 1.0f; /* the Monte-Carlo estimate knows no clamp */
    double approx = ref_logit_noise_forward(z, s, lab, N, K, HW, 255, S_MIN, S_MAX, &cnt_ref);
    double mc = ref_logit_noise_mc(z, s, lab, N, K, HW, 255, 4000, 12345);
    double plain = ref_logit_noise_forward(z, s, lab, N, K, HW, 255, -1e9, -1e9, &cnt_ref);
    snprintf(name, sizeof name, "%s analytic %.4f vs Monte Carlo (4000 samples) %.4f "
             "(no noise: %.4f): within 15%%", tag, approx, mc, plain);
    test_check(name, fabs(approx - mc) / mc, 0.15);
  }
  clm_tensor *all[] = {&c.logits, &c.logvar, &c.labels, &c.dlogits, &c.dlogvar, &c.loss,
                       &c.count, &c.seedt, &c.ws};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) test_tensor_free(ctx, all[i]);
  free(z); free(s); free(lab); free(gz_ref); free(gs_ref); free(old_z); free(old_s); free(sum);
}

/* ---- model files --------------------------------------------------------------------------- */

static const char *model_fmt =
    "[input]\ntype = input\nchannels = 3\n\n"
    "[head]\ntype = conv\nfrom = input\nfilters = 2\nsize = 3\n\n"
    "[head_logvar]\ntype = conv\nfrom = input\nfilters = %d\nsize = 1\n\n"
    "[task.depth]\ntype = %s\nfrom = %s\ntarget = depth\nmask = depth_mask\n";

static clm_status compile_model(clm_context *ctx, const char *type, const char *from,
                                int logvar_c, clm_graph **out) {
  char text[1024];
  snprintf(text, sizeof text, model_fmt, logvar_c, type, from);
  clm_graph *g = NULL;
  clm_status st = clm_graph_create(ctx, &g);
  if (st == CLM_OK) st = clm_graph_parse(g, text, "hetero.cfg");
  clm_graph_options o = {2, 9, 13, 1, -1, 0};
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  if (st != CLM_OK || !out) clm_graph_free(g);
  else *out = g;
  return st;
}

static void test_model(clm_context *ctx) {
  printf("-- model files\n");
  test_expect("laplace_nll with one input in 'from' is refused",
              compile_model(ctx, "laplace_nll", "head", 2, NULL), CLM_ERR_PARSE,
              "laplace_nll takes 2 inputs");
  test_expect("a log-variance of other channels is refused, naming it",
              compile_model(ctx, "gaussian_nll", "head, head_logvar", 1, NULL), CLM_ERR_SHAPE,
              "log-variance 'head_logvar'");
  for (int kind = 1; kind <= 2; kind++) {
    clm_graph *g = NULL;
    const char *type = kind == 1 ? "laplace_nll" : "gaussian_nll";
    test_status(type, compile_model(ctx, type, "head, head_logvar", 2, &g));
    if (!g) continue;
    test_status("init", clm_graph_init_params(g, 5));
    int N = 2, C = 2, H = 9, W = 13, HW = H * W;
    size_t n = (size_t)N * C * HW;
    test_rng r = test_rng_make(77 + (uint64_t)kind);
    float *img = test_random(&r, (size_t)N * 3 * HW, 0, 1), *tgt = test_random(&r, n, -1, 1);
    float *mask = test_alloc((size_t)N * HW);
    for (int i = 0; i < N * HW; i++) mask[i] = i % 5 ? 1.0f : 0.0f;
    test_status("input", clm_graph_set_input(g, "input", img));
    test_status("target", clm_graph_set_input(g, "depth", tgt));
    test_status("mask", clm_graph_set_input(g, "depth_mask", mask));
    test_status("forward", clm_graph_forward(g));
    clm_tensor tp, ts, tl = clm_graph_loss_value(g, 0);
    test_status("head", clm_graph_tensor(g, "head", &tp));
    test_status("head_logvar", clm_graph_tensor(g, "head_logvar", &ts));
    float *p = test_download(ctx, &tp), *s = test_download(ctx, &ts);
    double cnt, want = ref_hetero_forward(kind, p, s, tgt, mask, N, C, HW, S_MIN, S_MAX, &cnt);
    float got = scalar(ctx, &tl);
    char name[160];
    snprintf(name, sizeof name, "%s in a graph: loss %.7g vs reference on its tensors %.7g", type,
             got, want);
    test_check(name, fabs(got - want) / fmax(fabs(want), 1e-6), 2e-5);
    test_status("zero grad", clm_graph_zero_grad(g));
    test_status("backward", clm_graph_backward(g));
    free(img); free(tgt); free(mask); free(p); free(s);
    clm_graph_free(g);
  }
}

/* A logit_noise_xent task in a graph: its loss equals the reference on the graph's own logits
 * and log-variance, and a backward runs. */
static void test_model_logit_noise(clm_context *ctx) {
  const char *text =
      "[input]\ntype = input\nchannels = 3\n\n"
      "[seg]\ntype = conv\nfrom = input\nfilters = 4\nsize = 3\n\n"
      "[seg_logvar]\ntype = conv\nfrom = input\nfilters = 1\nsize = 1\n\n"
      "[task.semantic]\ntype = logit_noise_xent\nfrom = seg, seg_logvar\ntarget = semantic\n";
  clm_graph *g = NULL;
  clm_status st = clm_graph_create(ctx, &g);
  if (st == CLM_OK) st = clm_graph_parse(g, text, "noise.cfg");
  clm_graph_options o = {2, 9, 13, 1, -1, 0};
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  test_status("logit_noise_xent model compiles", st);
  if (st != CLM_OK) { clm_graph_free(g); return; }
  test_status("init", clm_graph_init_params(g, 6));
  int N = 2, K = 4, HW = 9 * 13;
  test_rng r = test_rng_make(88);
  float *img = test_random(&r, (size_t)N * 3 * HW, 0, 1), *lab = test_alloc((size_t)N * HW);
  for (int i = 0; i < N * HW; i++) lab[i] = i % 7 == 0 ? 255.0f : (float)(i % K);
  test_status("input", clm_graph_set_input(g, "input", img));
  test_status("labels", clm_graph_set_input(g, "semantic", lab));
  test_status("forward", clm_graph_forward(g));
  clm_tensor tz, ts, tl = clm_graph_loss_value(g, 0);
  test_status("seg", clm_graph_tensor(g, "seg", &tz));
  test_status("seg_logvar", clm_graph_tensor(g, "seg_logvar", &ts));
  float *z = test_download(ctx, &tz), *s = test_download(ctx, &ts);
  double cnt, want = ref_logit_noise_forward(z, s, lab, N, K, HW, 255, S_MIN, S_MAX, &cnt);
  float got = scalar(ctx, &tl);
  char name[160];
  snprintf(name, sizeof name, "logit_noise_xent in a graph: loss %.7g vs reference %.7g", got, want);
  test_check(name, fabs(got - want) / fmax(fabs(want), 1e-6), 2e-5);
  test_status("zero grad", clm_graph_zero_grad(g));
  test_status("backward", clm_graph_backward(g));
  free(img); free(lab); free(z); free(s);
  clm_graph_free(g);
}

/* clm_evaluate of an unmasked gaussian_nll task on 5 synthetic samples is the same at batch 1
 * and batch 2 (whose last batch is padded: the padded rows' s terms must not count). */
static void test_eval_padding(clm_context *ctx) {
  const char *text =
      "[input]\ntype = input\nchannels = 3\n\n"
      "[d]\ntype = conv\nfrom = input\nfilters = 1\nsize = 3\n\n"
      "[s]\ntype = conv\nfrom = input\nfilters = 1\nsize = 3\n\n"
      "[task.depth]\ntype = gaussian_nll\nfrom = d, s\ntarget = depth\n";
  clm_synth_options so = {5, 5, 16, 32, 0, 0, 0, 0};
  clm_dataset *d = NULL;
  test_status("synthetic split of 5", clm_synth_open(&so, CLM_SPLIT_VAL, &d));
  double loss[2] = {NAN, NAN};
  for (int b = 0; b < 2 && d; b++) {
    clm_graph *g = NULL;
    clm_graph_options o = {b + 1, 16, 32, 0, -1, 0};
    clm_status st = clm_graph_create(ctx, &g);
    if (st == CLM_OK) st = clm_graph_parse(g, text, "pad.cfg");
    if (st == CLM_OK) st = clm_graph_compile(g, &o);
    if (st == CLM_OK) st = clm_graph_init_params(g, 4);
    const clm_target_info *targets;
    int nt = clm_dataset_targets(d, &targets);
    clm_feeds feeds;
    clm_metrics *m = NULL;
    if (st == CLM_OK) st = clm_feeds_bind(g, targets, nt, 0, &feeds);
    if (st == CLM_OK) st = clm_metrics_for_graph(g, &m);
    if (st == CLM_OK) st = clm_evaluate(g, &feeds, d, m, &loss[b]);
    test_status("evaluate", st);
    clm_metrics_free(m);
    clm_graph_free(g);
  }
  char name[160];
  snprintf(name, sizeof name, "unmasked gaussian_nll: evaluation loss at batch 2 (padded) %.7g = batch 1 %.7g",
           loss[1], loss[0]);
  test_check(name, fabs(loss[1] - loss[0]) / fabs(loss[0]), 1e-5);
  clm_dataset_free(d);
}

int main(void) {
  clm_context *ctx = test_context();
  if (!ctx) return 1;
  int small = test_small();
  for (int kind = 1; kind <= 2; kind++)
    for (int masked = 0; masked < 2; masked++) {
      check_case(ctx, kind, 2, 1, 5, 7, masked, small ? 6 : 40); /* tails only */
      if (!small) check_case(ctx, kind, 3, 2, 9, 37, masked, 40); /* full chunks and tails */
    }
  check_logit_noise(ctx, 2, 3, 5, 7, small ? 6 : 40);
  if (!small) check_logit_noise(ctx, 2, 7, 9, 21, 40);
  if (!small) test_model(ctx);
  if (!small) test_model_logit_noise(ctx);
  if (!small) test_eval_padding(ctx); /* conv kernels: too slow under oclgrind */
  clm_context_free(ctx);
  return test_finish();
}
