/* End to end through the graph: (1) autograd checked by finite differences on the whole
 * network's parameters (every op family, fan-out, several losses with different seeds);
 * (2) the tiny encoder-decoder trains on a fixed batch and its loss falls, with both
 * convolution variants; (3) two identical runs on one device give bit-identical losses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "graph/graph-impl.h"
#include "test_util.h"

static clm_context *ctx;

/* A smooth network touching every op family: conv (strided, dilated), deconv, batch norm, sigmoid,
 * max-pool + unpool, bilinear upsampling, concat, add, three losses (leaky relu and L1 are
 * kinked, and checked by finite differences in their op tests instead). The unpool
 * takes its indices from a pool over the input: indices that moved with a perturbed weight
 * would make the function jump, and finite differences meaningless there. */
static const char *fd_model =
    "[input]\ntype = input\nchannels = 3\n"
    "[c1]\ntype = conv\nfrom = input\nfilters = 4\nsize = 3\nbn = 1\nact = sigmoid\n"
    "[p1]\ntype = maxpool\nfrom = c1\n"
    "[c2]\ntype = conv\nfrom = p1\nfilters = 4\nsize = 3\nact = sigmoid\n"
    "[s2]\ntype = conv\nfrom = c1\nfilters = 4\nsize = 3\nstride = 2\ndilation = 2\nact = sigmoid\n"
    "[sum]\ntype = add\nfrom = c2, s2\n"
    "[p0]\ntype = maxpool\nfrom = input\n"
    "[c3]\ntype = conv\nfrom = sum\nfilters = 3\nsize = 1\n"
    "[u1]\ntype = unpool\nfrom = c3\nindices = p0\n"
    "[d1]\ntype = deconv\nfrom = sum\nfilters = 3\nsize = 2\nstride = 2\n"
    "[up]\ntype = upsample\nfrom = sum\n"
    "[cat]\ntype = concat\nfrom = u1, d1, up, c1\n"
    "[head]\ntype = conv\nfrom = cat\nfilters = 5\nsize = 3\n"
    "[reg]\ntype = conv\nfrom = cat\nfilters = 2\nsize = 1\n"
    "[task.cls]\ntype = softmax_xent\nfrom = head\ntarget = labels\n"
    "[task.reg]\ntype = l2\nfrom = reg\ntarget = values\nmask = valid\n"
    "[task.reg1]\ntype = l2\nfrom = d1\ntarget = small\n";

typedef struct {
  clm_graph *g;
  float seeds[3];
} fd_ctx;

static double total_loss(clm_graph *g, const float *seeds) {
  if (clm_graph_forward(g) != CLM_OK) { fprintf(stderr, "%s\n", clm_last_error()); exit(1); }
  double total = 0;
  for (int i = 0; i < clm_graph_loss_count(g); i++) {
    float v;
    clm_tensor t = clm_graph_loss_value(g, i);
    clm_tensor_download(ctx, &t, &v);
    total += (seeds ? seeds[i] : 1.0) * v;
  }
  return total;
}

static double objective(void *user, const float *params) {
  fd_ctx *f = user;
  clm_tensor p = clm_graph_params(f->g);
  clm_tensor_upload(ctx, &p, params);
  return total_loss(f->g, f->seeds);
}

static void upload_random(clm_graph *g, const char *name, test_rng *r, float lo, float hi, int kind) {
  clm_tensor t;
  if (clm_graph_tensor(g, name, &t) != CLM_OK) { fprintf(stderr, "%s\n", clm_last_error()); exit(1); }
  size_t n = clm_tensor_numel(&t);
  float *h = malloc(n * sizeof *h);
  for (size_t i = 0; i < n; i++) {
    if (kind == 1) h[i] = test_uniform(r, 0, 1) < 0.15f ? 255.0f : (float)(int)test_uniform(r, 0, 4.999f);
    else if (kind == 2) h[i] = test_uniform(r, 0, 1) < 0.7f ? 1.0f : 0.0f;
    else h[i] = test_nonzero(r, lo, hi, 0.01f);
  }
  clm_tensor_upload(ctx, &t, h);
  free(h);
}

static void test_fd(int variant) {
  clm_graph *g;
  clm_graph_create(ctx, &g);
  test_status("parse fd model", clm_graph_parse(g, fd_model, "fd_model"));
  clm_graph_options o = {2, 10, 14, 1, variant, 0};
  clm_status st = clm_graph_compile(g, &o);
  test_status("compile fd model", st);
  if (st != CLM_OK) { clm_graph_free(g); return; }
  test_rng r = test_rng_make(11);
  upload_random(g, "input", &r, -1, 1, 0);
  upload_random(g, "labels", &r, 0, 0, 1);
  upload_random(g, "values", &r, -1, 1, 0);
  upload_random(g, "valid", &r, 0, 0, 2);
  upload_random(g, "small", &r, -1, 1, 0);
  clm_graph_init_params(g, 5);
  fd_ctx f = {g, {0.7f, 1.3f, 0.4f}};
  for (int i = 0; i < 3; i++) {
    clm_tensor s = clm_graph_loss_seed(g, i);
    clm_tensor_fill(ctx, &s, f.seeds[i]);
  }
  test_status("forward", clm_graph_forward(g));
  test_status("zero grad", clm_graph_zero_grad(g));
  test_status("backward", clm_graph_backward(g));
  clm_tensor pt = clm_graph_params(g), gt = clm_graph_grads(g);
  float *params = test_download(ctx, &pt), *grads = test_download(ctx, &gt);
  /* a second forward + backward without zeroing doubles the parameter gradients (they
   * accumulate; activations are only valid until their last backward use, so backward
   * always follows a forward) */
  test_status("forward again", clm_graph_forward(g));
  test_status("backward again", clm_graph_backward(g));
  float *twice = test_download(ctx, &gt);
  for (size_t i = 0; i < g->param_floats; i++) twice[i] *= 0.5f;
  char name[96];
  snprintf(name, sizeof name, "[%s] parameter gradients accumulate across backward calls",
           clm_conv_variant_name((clm_conv_variant)variant));
  test_check(name, test_rel_error(twice, grads, g->param_floats, 1e-6), 1e-5);
  /* Directional derivatives, one random unit direction per parameter tensor: a wrong
   * gradient anywhere in a layer shows, while float32 noise and the kinks of max-pool and L1
   * average out over the tensor (single-coordinate differences are noise-bound here). */
  test_rng r2 = test_rng_make(99);
  float *probe = malloc(g->param_floats * sizeof *probe);
  double worst = 0;
  char worst_name[128] = "";
  for (int k = 0; k < clm_graph_named_count(g); k++) {
    const char *pname;
    clm_tensor view;
    int is_param;
    clm_graph_named(g, k, &pname, &view, &is_param);
    if (!is_param) continue;
    size_t n = clm_tensor_numel(&view);
    double norm = 0, ana = 0;
    float *d = malloc(n * sizeof *d);
    for (size_t j = 0; j < n; j++) { d[j] = test_uniform(&r2, -1, 1); norm += (double)d[j] * d[j]; }
    for (size_t j = 0; j < n; j++) { d[j] /= (float)sqrt(norm); ana += (double)d[j] * grads[view.off + j]; }
    const double eps = 1e-2;
    memcpy(probe, params, g->param_floats * sizeof *probe);
    for (size_t j = 0; j < n; j++) probe[view.off + j] = params[view.off + j] + (float)eps * d[j];
    double fp = objective(&f, probe);
    for (size_t j = 0; j < n; j++) probe[view.off + j] = params[view.off + j] - (float)eps * d[j];
    double fm = objective(&f, probe);
    double num = (fp - fm) / (2 * eps), e = fabs(num - ana) / fmax(fmax(fabs(num), fabs(ana)), 1e-3);
    if (getenv("CLMTL_TEST_VERBOSE")) printf("  %-16s numeric %.6g analytic %.6g\n", pname, num, ana);
    if (!(e <= worst)) { worst = e; snprintf(worst_name, sizeof worst_name, "%s", pname); }
    free(d);
  }
  free(probe);
  snprintf(name, sizeof name, "[%s] whole-graph gradients vs finite differences, per tensor (worst %s)",
           clm_conv_variant_name((clm_conv_variant)variant), worst_name);
  test_check(name, worst, 1e-2);
  free(params);
  free(grads);
  free(twice);
  clm_graph_free(g);
}

/* Learnable targets derived from a fixed random image batch. */
static void make_batch(clm_graph *g, uint64_t seed) {
  clm_tensor img;
  clm_graph_tensor(g, "input", &img);
  int n = img.n, h = img.h, w = img.w, hw = h * w;
  float *x = malloc(sizeof(float) * 3 * n * hw), *lab = malloc(sizeof(float) * n * hw),
        *inst = malloc(sizeof(float) * 2 * n * hw), *imask = malloc(sizeof(float) * n * hw),
        *dep = malloc(sizeof(float) * n * hw), *dmask = malloc(sizeof(float) * n * hw);
  test_rng r = test_rng_make(seed);
  test_fill(&r, x, (size_t)3 * n * hw, -1, 1);
  for (int b = 0; b < n; b++)
    for (int i = 0; i < hw; i++) {
      float r0 = x[(b * 3 + 0) * hw + i], r1 = x[(b * 3 + 1) * hw + i], r2 = x[(b * 3 + 2) * hw + i];
      int p = b * hw + i;
      lab[p] = test_uniform(&r, 0, 1) < 0.1f ? 255.0f : (float)((r0 > 0) + 2 * (r1 > 0));
      inst[(b * 2 + 0) * hw + i] = 0.5f * r1;
      inst[(b * 2 + 1) * hw + i] = 0.5f * r2;
      imask[p] = r2 > -0.5f;
      dep[p] = r0 * r1;
      dmask[p] = test_uniform(&r, 0, 1) < 0.8f;
    }
  clm_graph_set_input(g, "input", x);
  clm_graph_set_input(g, "semantic", lab);
  clm_graph_set_input(g, "instance", inst);
  clm_graph_set_input(g, "instance_mask", imask);
  clm_graph_set_input(g, "depth", dep);
  clm_graph_set_input(g, "depth_mask", dmask);
  free(x); free(lab); free(inst); free(imask); free(dep); free(dmask);
}

/* Trains tiny.cfg for `steps` Adam steps on one batch; losses[s] = summed loss at step s. */
static int train(int variant, int steps, double *losses) {
  clm_graph *g;
  clm_graph_create(ctx, &g);
  clm_status st = clm_graph_load(g, CLMTL_MODELS "/tiny.cfg");
  /* under oclgrind (small mode) every kernel is interpreted: a smaller image */
  clm_graph_options o = {2, test_small() ? 8 : 16, test_small() ? 6 : 20, 1, variant, 0};
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  test_status("compile tiny for training", st);
  if (st != CLM_OK) { clm_graph_free(g); return 0; }
  clm_graph_init_params(g, 42);
  make_batch(g, 7);
  clm_optim_config cfg = clm_optim_defaults(CLM_OPTIM_ADAM);
  cfg.lr = 1e-2f;
  clm_optim_state opt;
  st = clm_optim_state_init(ctx, g->param_floats, &opt);
  clm_tensor p = clm_graph_params(g), gr = clm_graph_grads(g);
  for (int s = 0; s < steps && st == CLM_OK; s++) {
    losses[s] = total_loss(g, NULL);
    st = clm_graph_zero_grad(g);
    if (st == CLM_OK) st = clm_graph_backward(g);
    if (st == CLM_OK) st = clm_optim_step(ctx, &cfg, &p, &gr, &opt, NULL);
  }
  test_status("training steps", st);
  clm_optim_state_free(&opt);
  clm_graph_free(g);
  return st == CLM_OK;
}

static void test_training(int variant) {
  int steps = test_small() ? 3 : 40;
  double *a = calloc((size_t)steps, sizeof *a), *b = calloc((size_t)steps, sizeof *b);
  const char *vn = clm_conv_variant_name((clm_conv_variant)variant);
  if (train(variant, steps, a) && train(variant, steps, b)) {
    char name[128], detail[128];
    snprintf(detail, sizeof detail, "loss %.4f -> %.4f", a[0], a[steps - 1]);
    snprintf(name, sizeof name, "[%s] loss falls on a fixed batch (to < 70%%)", vn);
    if (!test_small()) test_true(name, a[steps - 1] < 0.7 * a[0], detail);
    int same = 1;
    for (int s = 0; s < steps; s++) same &= a[s] == b[s];
    snprintf(name, sizeof name, "[%s] two runs give bit-identical losses", vn);
    test_true(name, same, NULL);
  }
  free(a);
  free(b);
}

int main(void) {
  ctx = test_context();
  /* Small mode (oclgrind) runs each part once, with one variant each, at small sizes. */
  if (test_small()) {
    test_fd(CLM_CONV_DIRECT);
    test_training(CLM_CONV_GEMM);
  } else {
    for (int v = 0; v < CLM_CONV_VARIANT_COUNT; v++) test_fd(v);
    for (int v = 0; v < CLM_CONV_VARIANT_COUNT; v++) test_training(v);
  }
  clm_context_free(ctx);
  return test_finish();
}
