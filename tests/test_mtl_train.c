/* The multi-task weighting inside training. Noise recovery (Kendall et al. 2018): two
 * regression tasks whose targets carry Gaussian noise of known, different σ, and a model
 * (one 1x1 conv per task) that can fit the clean signal; trained with `uncertainty`, the
 * learned σ² = e^s settles where ∂/∂s (½e^{−s}L + ½s) = 0, i.e. e^s = L: the mean square
 * residual (σ_noise²) for L2, the mean absolute residual (σ_noise·√(2/π)) for L1. Then a
 * non-finite loss skips the whole update and is counted, and GradNorm and DWA run through the
 * same training step. The optimizer's parameter groups for a graph (clm_mtl_optim_setup): one
 * AdamW step on zero gradients must scale exactly the decayed tensors by 1 − lr·wd (conv
 * weights always, biases and batch-norm γ, β unless asked not to, task parameters never). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_util.h"

#define PI 3.14159265358979323846

static const char *model_fmt =
    "[input]\ntype = input\nchannels = 1\n"
    "[a]\ntype = conv\nfrom = input\nfilters = 1\nsize = 1\n"
    "[b]\ntype = conv\nfrom = input\nfilters = 1\nsize = 1\n"
    "[task.a]\ntype = %s\nfrom = a\ntarget = ta\nkind = regression\n"
    "[task.b]\ntype = %s\nfrom = b\ntarget = tb\nkind = regression\n";

static float gaussian(test_rng *r) { /* Box-Muller */
  double u1 = test_uniform(r, 1e-7f, 1.0f), u2 = test_uniform(r, 0.0f, 1.0f);
  return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * PI * u2));
}

typedef struct {
  clm_context *ctx;
  clm_graph *g;
  clm_mtl *m;
  clm_optim_state opt;
} rig;

static int rig_make(rig *r, clm_context *ctx, const char *loss, clm_mtl_strategy strategy,
                    int side, const float sigma[2], uint64_t seed) {
  memset(r, 0, sizeof *r);
  r->ctx = ctx;
  char text[1024];
  snprintf(text, sizeof text, model_fmt, loss, loss);
  clm_graph_create(ctx, &r->g);
  clm_graph_options o = {4, side, side, 1, -1, 0};
  clm_status st = clm_graph_parse(r->g, text, "noise.cfg");
  if (st == CLM_OK) st = clm_graph_compile(r->g, &o);
  clm_mtl_config cfg;
  if (st == CLM_OK) st = clm_mtl_config_for_graph(r->g, strategy, &cfg);
  if (st == CLM_OK) st = clm_mtl_create(r->g, &cfg, &r->m);
  if (st == CLM_OK) st = clm_optim_state_init(ctx, clm_graph_params(r->g).w, &r->opt);
  test_status("set up the noise-recovery model", st);
  if (st != CLM_OK) return 0;
  /* clean targets a = 2x + 0.5 and b = 1 - x, plus noise of the given σ */
  size_t n = (size_t)4 * side * side;
  float *x = test_alloc(n), *ta = test_alloc(n), *tb = test_alloc(n);
  test_rng rng = test_rng_make(seed);
  for (size_t i = 0; i < n; i++) {
    x[i] = test_uniform(&rng, -1, 1);
    ta[i] = 2.0f * x[i] + 0.5f + sigma[0] * gaussian(&rng);
    tb[i] = 1.0f - x[i] + sigma[1] * gaussian(&rng);
  }
  clm_graph_set_input(r->g, "input", x);
  clm_graph_set_input(r->g, "ta", ta);
  clm_graph_set_input(r->g, "tb", tb);
  free(x); free(ta); free(tb);
  return 1;
}

static void rig_free(rig *r) {
  clm_optim_state_free(&r->opt);
  clm_mtl_free(r->m);
  clm_graph_free(r->g);
}

static clm_status train(rig *r, int steps, float lr) {
  clm_optim_config oc = clm_optim_defaults(CLM_OPTIM_ADAM);
  oc.lr = lr;
  for (int s = 0; s < steps; s++) { clm_status st = clm_step_run(r->m, &oc, &r->opt, NULL); if (st != CLM_OK) return st; }
  return CLM_OK;
}

static void test_noise_recovery(clm_context *ctx, const char *loss) {
  const float sigma[2] = {0.1f, 1.0f};
  rig r;
  int side = test_small() ? 16 : 64;
  if (!rig_make(&r, ctx, loss, CLM_MTL_UNCERTAINTY, side, sigma, 3)) return;
  clm_status st = train(&r, test_small() ? 60 : 1500, 0.02f);
  if (st == CLM_OK) st = train(&r, test_small() ? 10 : 500, 0.002f);
  test_status("train", st);
  clm_mtl_snapshot snap;
  test_status("read", clm_mtl_read(r.m, &snap));
  int l1 = !strcmp(loss, "l1");
  for (int t = 0; t < 2; t++) {
    /* fixed point of e^s: σ² for L2; E|N(0,σ²)| = σ√(2/π) for L1 */
    double want = l1 ? sigma[t] * sqrt(2.0 / PI) : (double)sigma[t] * sigma[t];
    double got = exp((double)snap.param[t]);
    char name[160], detail[160];
    snprintf(name, sizeof name, "%s: task %c learns e^s = %s (injected σ = %.1f)", loss, 'a' + t,
             l1 ? "σ√(2/π)" : "σ²", sigma[t]);
    snprintf(detail, sizeof detail, "e^s %.5f, expected %.5f, loss %.5f, σ reported %.4f", got,
             want, snap.loss[t], snap.sigma[t]);
    if (test_small()) test_true(name, isfinite(got), detail); /* too few steps to converge */
    else {
      /* σ within 10% of the injected one means e^s within (1 ± 0.1)² for L2 */
      double ratio = l1 ? got / want : sqrt(got / want);
      test_check(name, fabs(ratio - 1.0), 0.10);
      printf("    %s\n", detail);
    }
  }
  rig_free(&r);
}

static void test_nan_skips_update(clm_context *ctx) {
  const float sigma[2] = {0.1f, 0.5f};
  rig r;
  if (!rig_make(&r, ctx, "l2", CLM_MTL_UNCERTAINTY, 8, sigma, 5)) return;
  test_status("warm-up", train(&r, 3, 0.01f));
  clm_tensor p = clm_graph_params(r.g);
  float *before = test_download(ctx, &p), *m_before = test_download(ctx, &r.opt.m);
  /* one target value NaN: task b's loss and the total become NaN */
  clm_tensor tb;
  clm_graph_tensor(r.g, "tb", &tb);
  float *t = test_download(ctx, &tb);
  t[7] = NAN;
  test_upload(ctx, &tb, t);
  test_status("NaN step", train(&r, 1, 0.01f));
  float *after = test_download(ctx, &p), *m_after = test_download(ctx, &r.opt.m);
  clm_mtl_snapshot snap;
  test_status("read", clm_mtl_read(r.m, &snap));
  test_true("NaN total leaves every parameter bit-identical",
            !memcmp(before, after, (size_t)p.w * sizeof *before), NULL);
  test_true("and the optimizer state", !memcmp(m_before, m_after, (size_t)p.w * sizeof *before), NULL);
  test_true("the skipped step is counted", snap.skipped_steps == 1 && isnan(snap.total), NULL);
  free(before); free(after); free(m_before); free(m_after); free(t);
  rig_free(&r);
}

/* GradNorm wired into the step: the shared convolution is found, its per-task gradient norms
 * drive the weights, which stay positive and sum to K, and training still converges. */
static void test_gradnorm_step(clm_context *ctx) {
  static const char *text =
      "[input]\ntype = input\nchannels = 2\n"
      "[shared]\ntype = conv\nfrom = input\nfilters = 6\nsize = 3\nact = leaky\n"
      "[a]\ntype = conv\nfrom = shared\nfilters = 1\nsize = 1\n"
      "[b]\ntype = conv\nfrom = shared\nfilters = 1\nsize = 1\n"
      "[task.a]\ntype = l2\nfrom = a\ntarget = ta\nkind = regression\n"
      "[task.b]\ntype = l2\nfrom = b\ntarget = tb\nkind = regression\n";
  clm_graph *g;
  clm_mtl *m = NULL;
  clm_optim_state os = {0};
  clm_graph_create(ctx, &g);
  clm_graph_options o = {2, 8, 8, 1, -1, 0};
  clm_mtl_config cfg;
  clm_status st = clm_graph_parse(g, text, "gradnorm.cfg");
  if (st == CLM_OK) st = clm_graph_set_multi_backward(g, 1);
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  if (st == CLM_OK) st = clm_mtl_config_for_graph(g, CLM_MTL_GRADNORM, &cfg);
  if (st == CLM_OK) st = clm_mtl_create(g, &cfg, &m);
  if (st == CLM_OK) st = clm_optim_state_init(ctx, clm_graph_params(g).w, &os);
  test_status("gradnorm set-up", st);
  if (st != CLM_OK) { clm_graph_free(g); return; }
  const char *shared = clm_mtl_shared_layer(m);
  test_true("gradnorm finds the last shared convolution", shared && !strcmp(shared, "shared"), shared);
  /* task b's targets are 10x larger: its loss and gradients dominate at the start */
  size_t n = 2 * 8 * 8;
  float *x = test_alloc(2 * n), *ta = test_alloc(n), *tb = test_alloc(n);
  test_rng r = test_rng_make(8);
  test_fill(&r, x, 2 * n, -1, 1);
  for (size_t i = 0; i < n; i++) { ta[i] = 0.5f * x[i]; tb[i] = 10.0f * x[n + i] * x[i]; }
  clm_graph_set_input(g, "input", x);
  clm_graph_set_input(g, "ta", ta);
  clm_graph_set_input(g, "tb", tb);
  clm_optim_config oc = clm_optim_defaults(CLM_OPTIM_ADAM);
  oc.lr = 0.01f;
  clm_mtl_snapshot first, last;
  int steps = test_small() ? 4 : 60;
  for (int s = 0; s < steps && st == CLM_OK; s++) {
    st = clm_step_run(m, &oc, &os, NULL);
    if (s == 0 && st == CLM_OK) st = clm_mtl_read(m, &first);
  }
  test_status("gradnorm steps", st);
  test_status("read", clm_mtl_read(m, &last));
  char detail[200];
  snprintf(detail, sizeof detail, "weights %.4f %.4f, losses %.4f %.4f -> %.4f %.4f", last.param[0],
           last.param[1], first.loss[0], first.loss[1], last.loss[0], last.loss[1]);
  test_check("gradnorm weights sum to K", fabs(last.param[0] + last.param[1] - 2.0), 1e-5);
  test_true("gradnorm weights moved and stay positive",
            last.param[0] > 0 && last.param[1] > 0 && fabs(last.param[0] - 1.0f) > 1e-3, detail);
  if (!test_small()) test_true("training converges under gradnorm", last.total < first.total, detail);
  clm_mtl_free(m);
  clm_optim_state_free(&os);
  clm_graph_free(g);
  free(x); free(ta); free(tb);
}

static void test_dwa_epochs(clm_context *ctx) {
  const float sigma[2] = {0.1f, 1.0f};
  rig r;
  if (!rig_make(&r, ctx, "l2", CLM_MTL_DWA, 8, sigma, 9)) return;
  const float means[3][2] = {{1.0f, 2.0f}, {0.5f, 1.8f}, {0.4f, 1.7f}};
  clm_mtl_snapshot snap;
  for (int e = 0; e < 3; e++) {
    test_status("end of epoch", clm_mtl_end_epoch(r.m, means[e]));
    test_status("read", clm_mtl_read(r.m, &snap));
    double want0 = 1, want1 = 1;
    if (e >= 1) { /* w_k = K softmax(r_k / 2), r_k = L_k(t-1) / L_k(t-2) */
      double r0 = (double)means[e][0] / means[e - 1][0], r1 = (double)means[e][1] / means[e - 1][1];
      double z = exp(r0 / 2) + exp(r1 / 2);
      want0 = 2 * exp(r0 / 2) / z;
      want1 = 2 * exp(r1 / 2) / z;
    }
    char name[96];
    snprintf(name, sizeof name, "dwa weights after epoch %d", e);
    test_check(name, fmax(fabs(snap.param[0] - want0), fabs(snap.param[1] - want1)), 1e-6);
  }
  test_status("a step with dwa weights", train(&r, 1, 0.01f));
  test_status("read", clm_mtl_read(r.m, &snap));
  test_check("dwa: effective weights are the epoch weights",
             fmax(fabs(snap.weight[0] - snap.param[0]), fabs(snap.weight[1] - snap.param[1])), 1e-6);
  rig_free(&r);
}

/* Parameter groups: with zero gradients AdamW moves only by its decoupled decay. */
static void test_decay_groups(clm_context *ctx, int decay_bias_norm) {
  static const char *text =
      "[input]\ntype = input\nchannels = 2\n"
      "[shared]\ntype = conv\nfrom = input\nfilters = 4\nsize = 3\nbn = 1\nact = relu\n"
      "[a]\ntype = conv\nfrom = shared\nfilters = 1\nsize = 1\n"
      "[b]\ntype = conv\nfrom = shared\nfilters = 1\nsize = 1\n"
      "[task.a]\ntype = l2\nfrom = a\ntarget = ta\nkind = regression\n"
      "[task.b]\ntype = l1\nfrom = b\ntarget = tb\nkind = regression\n";
  clm_graph *g;
  clm_mtl *m = NULL;
  clm_optim_state os = {0};
  clm_graph_create(ctx, &g);
  clm_graph_options o = {2, 6, 6, 1, -1, 0};
  clm_mtl_config cfg;
  clm_status st = clm_graph_parse(g, text, "groups.cfg");
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  if (st == CLM_OK) st = clm_graph_init_params(g, 3);
  if (st == CLM_OK) st = clm_mtl_config_for_graph(g, CLM_MTL_UNCERTAINTY, &cfg);
  if (st == CLM_OK) st = clm_mtl_create(g, &cfg, &m);
  if (st == CLM_OK) st = clm_optim_state_init(ctx, clm_graph_params(g).w, &os);
  if (st == CLM_OK) st = clm_mtl_optim_setup(m, &os, decay_bias_norm);
  test_status("decay groups: set-up", st);
  if (st != CLM_OK) { clm_mtl_free(m); clm_graph_free(g); return; }
  clm_tensor params = clm_graph_params(g), grads = clm_graph_grads(g);
  size_t n = clm_tensor_numel(&params);
  float *before = test_alloc(n);
  test_rng r = test_rng_make(17);
  for (size_t j = 0; j < n; j++) before[j] = test_nonzero(&r, -1, 1, 0.1f); /* β, s too */
  test_status("decay groups: random parameters", clm_tensor_upload(ctx, &params, before));
  clm_optim_config oc = clm_optim_defaults(CLM_OPTIM_ADAMW);
  oc.lr = 0.1f;
  oc.weight_decay = 0.5f;
  test_status("decay groups: zero gradients", clm_graph_zero_grad(g));
  test_status("decay groups: AdamW step", clm_optim_step(ctx, &oc, &params, &grads, &os, NULL));
  float *after = test_download(ctx, &params);
  for (int i = 0; i < clm_graph_named_count(g); i++) {
    const char *name;
    clm_tensor v;
    int is_param;
    if (clm_graph_named(g, i, &name, &v, &is_param) != CLM_OK || !is_param) continue;
    int bias_norm = strstr(name, ".bias") || strstr(name, ".bn.");
    int decays = strstr(name, "task_param") ? 0 : bias_norm ? decay_bias_norm : 1;
    double want = decays ? 1.0 - 0.1 * 0.5 : 1.0, err = 0;
    for (size_t j = 0; j < clm_tensor_numel(&v); j++)
      err = fmax(err, fabs(after[v.off + j] - want * before[v.off + j]) /
                          fmax(fabs(before[v.off + j]), 1e-6));
    char label[160];
    snprintf(label, sizeof label, "decay groups (bias/norm decay %s): %s %s", decay_bias_norm ?
             "on" : "off", name, decays ? "scaled by 1 - lr wd" : "unchanged");
    test_check(label, err, 1e-6);
  }
  free(before);
  free(after);
  clm_optim_state_free(&os);
  clm_mtl_free(m);
  clm_graph_free(g);
}

int main(void) {
  clm_context *ctx = test_context();
  test_decay_groups(ctx, 1);
  test_decay_groups(ctx, 0);
  test_noise_recovery(ctx, "l2");
  test_noise_recovery(ctx, "l1");
  test_nan_skips_update(ctx);
  test_gradnorm_step(ctx);
  test_dwa_epochs(ctx);
  clm_context_free(ctx);
  return test_finish();
}
