/* Whole graphs with batch norm + activation fusion against the same graphs unfused
 * (CLMTL_FUSE=0 / fuse = -1), on a model touching conv and deconv with batch norm, with and
 * without bias, under every activation, plus a standalone batchnorm and activation layer:
 * (1) training: every layer's output, the losses, the running statistics and every parameter
 * gradient agree, and so does the eval-mode forward of the training graph; (2) inference with
 * batch norm folded into the convolutions agrees with the unfolded eval-mode forward, after
 * parameter changes through clm_graph_prepare_inference, clm_graph_init_params and a checkpoint
 * load; (3) host-mappable (zero-copy) input and arena buffers on unified-memory devices. */
#include <CL/cl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "clmtl/checkpoint.h"
#include "graph/graph-impl.h"
#include "test_util.h"

/* Fused and unfused training graphs run the same float operations in a different number of
 * kernels (the activation's gradient is recomputed, not stored), except that the fused kernel
 * evaluates sigmoid's exp on vectors, the activation kernel on scalars: they differ by an ulp,
 * and that difference travels through the network. Folding changes the order of operations
 * (conv(x, w·s) + (b − mean)·s + β against (conv(x, w) + b − mean)·s + β). Errors are relative
 * to the largest value of each tensor; for parameter gradients at least 1% of the largest
 * gradient of the network, since some are analytically zero and hold only rounding noise (a
 * conv bias right before batch norm, the γ and β of a batch norm right before another). */
#define TOL_FUSED 1e-5
#define TOL_FOLDED 1e-5

static clm_context *ctx;

static const char *model =
    "[input]\ntype = input\nchannels = 3\n"
    "[c_relu]\ntype = conv\nfrom = input\nfilters = 6\nsize = 3\nbn = 1\nact = relu\n"
    "[c_leaky]\ntype = conv\nfrom = c_relu\nfilters = 5\nsize = 3\nbn = 1\nbias = 1\nact = leaky\nslope = 0.2\n"
    "[c_sig]\ntype = conv\nfrom = c_leaky\nfilters = 4\nsize = 3\nstride = 2\nbn = 1\nact = sigmoid\n"
    "[d_none]\ntype = deconv\nfrom = c_sig\nfilters = 4\nsize = 2\nstride = 2\nbn = 1\n"
    "[d_relu]\ntype = deconv\nfrom = c_sig\nfilters = 3\nsize = 2\nstride = 2\nbn = 1\nbias = 1\nact = relu\n"
    "[sbn]\ntype = batchnorm\nfrom = d_none\n"
    "[sact]\ntype = activation\nfrom = sbn\nact = leaky\n"
    "[cat]\ntype = concat\nfrom = sact, d_relu, c_relu\n"
    "[c_bn]\ntype = conv\nfrom = cat\nfilters = 4\nsize = 1\nbn = 1\nbias = 1\n"
    "[head]\ntype = conv\nfrom = cat\nfilters = 5\nsize = 3\n"
    "[reg]\ntype = conv\nfrom = c_bn\nfilters = 2\nsize = 1\n"
    "[task.cls]\ntype = softmax_xent\nfrom = head\ntarget = labels\n"
    "[task.reg]\ntype = l2\nfrom = reg\ntarget = values\nmask = valid\n";

static clm_graph *build(int training, int fuse) {
  clm_graph *g;
  clm_graph_create(ctx, &g);
  clm_status st = clm_graph_parse(g, model, "fuse_model");
  clm_graph_options o = {2, test_small() ? 8 : 12, test_small() ? 8 : 14, training, -1, fuse};
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  if (st != CLM_OK) {
    fprintf(stderr, "cannot build the test graph: %s\n", clm_last_error());
    exit(1);
  }
  return g;
}

/* Same random inputs in every graph. */
static void set_inputs(clm_graph *g, uint64_t seed) {
  test_rng r = test_rng_make(seed);
  const struct { const char *name; int kind; } inputs[] = {
      {"input", 0}, {"labels", 1}, {"values", 0}, {"valid", 2}};
  for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
    clm_tensor t;
    test_status("input tensor", clm_graph_tensor(g, inputs[k].name, &t));
    size_t n = clm_tensor_numel(&t);
    float *h = test_alloc(n);
    for (size_t i = 0; i < n; i++) {
      if (inputs[k].kind == 1) h[i] = test_uniform(&r, 0, 1) < 0.1f ? 255.0f : (float)(int)test_uniform(&r, 0, 4.999f);
      else if (inputs[k].kind == 2) h[i] = test_uniform(&r, 0, 1) < 0.7f ? 1.0f : 0.0f;
      else h[i] = test_nonzero(&r, -1, 1, 0.01f);
    }
    test_status("set input", clm_graph_set_input(g, inputs[k].name, h));
    free(h);
  }
}

static int ends_with(const char *s, const char *end) {
  size_t a = strlen(s), b = strlen(end);
  return a >= b && !strcmp(s + a - b, end);
}

/* Same random parameters and running statistics in every graph, written through views (which
 * clm_graph_prepare_inference must follow). Batch-norm scales have |γ| in [0.5, 1.5] and
 * shifts |β| < 0.3, so no relu channel is dead and no batch norm sees a near-constant input;
 * running variances lie in [0.3, 2]. */
static void set_params(clm_graph *g, uint64_t seed) {
  test_rng r = test_rng_make(seed);
  float *p = test_random(&r, g->param_floats, -0.8f, 0.8f), *s = test_alloc(g->state_floats);
  for (int i = 0; i < clm_graph_named_count(g); i++) {
    const char *name;
    clm_tensor v;
    int is_param;
    clm_graph_named(g, i, &name, &v, &is_param);
    int bn = strstr(name, ".bn.") || !strncmp(name, "sbn.", 4);
    float *dst = (is_param ? p : s) + v.off;
    for (size_t j = 0; j < clm_tensor_numel(&v); j++) {
      if (!is_param && ends_with(name, "running_var")) dst[j] = test_uniform(&r, 0.3f, 2.0f);
      else if (!is_param) dst[j] = test_uniform(&r, -1, 1);
      else if (bn && ends_with(name, ".weight")) dst[j] = test_nonzero(&r, -1.5f, 1.5f, 0.5f);
      else if (bn && ends_with(name, ".bias")) dst[j] = test_uniform(&r, -0.3f, 0.3f);
    }
  }
  clm_tensor tp = clm_graph_params(g), ts = clm_graph_state(g);
  test_upload(ctx, &tp, p);
  test_upload(ctx, &ts, s);
  free(p);
  free(s);
}

static void randomise(clm_graph *g, uint64_t seed) {
  set_inputs(g, seed);
  set_params(g, seed + 1000);
}

/* Relative error of a against b (max |a - b| / max(max |b|, floor)), failures reported one by
 * one, the worst kept. */
static void compare(const char *what, const clm_tensor *a, const clm_tensor *b, double floor,
                    double tol, double *worst) {
  float *x = test_download(ctx, a), *y = test_download(ctx, b);
  double e = test_rel_error(x, y, clm_tensor_numel(a), floor);
  if (!(e <= *worst)) *worst = e;
  if (!(e <= tol)) test_check(what, e, tol); /* only failures one by one */
  free(x);
  free(y);
}

/* Is layer li's output still readable after a forward (a head or an input), or, in a graph
 * compiled for training, kept for backward? */
static int readable(const clm_graph *g, int li) {
  int node = -1;
  for (int k = 0; k < g->nnodes; k++)
    if (g->nodes[k].layer == li) node = k;
  return g->opt.training || (node >= 0 && g->nodes[node].keep);
}

/* Every layer output that both graphs still hold after a forward (in inference graphs the
 * arena reuses the others), and every loss value. */
static double compare_outputs(clm_graph *f, clm_graph *u, double tol) {
  double worst = 0;
  for (int i = 0; i < clm_graph_layer_count(u); i++) {
    const clm_layer *l = clm_graph_layer(u, i);
    if (clm_layer_type_is_loss(l->type) || !readable(u, i)) continue;
    clm_tensor a, b;
    test_status("layer tensor", clm_graph_tensor(f, l->name, &a));
    test_status("layer tensor", clm_graph_tensor(u, l->name, &b));
    compare(l->name, &a, &b, 1e-6, tol, &worst);
  }
  for (int i = 0; i < clm_graph_loss_count(u); i++) {
    clm_tensor a = clm_graph_loss_value(f, i), b = clm_graph_loss_value(u, i);
    compare(clm_graph_loss_layer(u, i)->name, &a, &b, 1e-6, tol, &worst);
  }
  return worst;
}

static void test_training(void) {
  clm_graph *f = build(1, 1), *u = build(1, -1);
  test_true("fused graph has fewer nodes", f->nnodes < u->nnodes, NULL);
  test_true("same parameter and state layout",
            f->param_floats == u->param_floats && f->state_floats == u->state_floats, NULL);
  randomise(f, 3);
  randomise(u, 3);
  test_status("fused forward", clm_graph_forward(f));
  test_status("unfused forward", clm_graph_forward(u));
  test_check("training forward: layer outputs and losses, fused vs unfused",
             compare_outputs(f, u, TOL_FUSED), TOL_FUSED);
  double worst = 0;
  clm_tensor sf = clm_graph_state(f), su = clm_graph_state(u);
  compare("running statistics", &sf, &su, 1e-6, TOL_FUSED, &worst);
  test_check("running statistics after a step, fused vs unfused", worst, TOL_FUSED);
  test_status("fused zero grad", clm_graph_zero_grad(f));
  test_status("unfused zero grad", clm_graph_zero_grad(u));
  test_status("fused backward", clm_graph_backward(f));
  test_status("unfused backward", clm_graph_backward(u));
  worst = 0;
  clm_tensor all = clm_graph_grads(u);
  float *gu_all = test_download(ctx, &all);
  double gmax = 0;
  for (size_t i = 0; i < u->param_floats; i++) gmax = fmax(gmax, fabs(gu_all[i]));
  free(gu_all);
  for (int i = 0; i < clm_graph_named_count(u); i++) {
    const char *name;
    clm_tensor v;
    int is_param;
    clm_graph_named(u, i, &name, &v, &is_param);
    if (!is_param) continue;
    clm_tensor gf = clm_tensor_view(f->grads, v.off, v.n, v.c, v.h, v.w);
    clm_tensor gu = clm_tensor_view(u->grads, v.off, v.n, v.c, v.h, v.w);
    compare(name, &gf, &gu, 1e-2 * gmax, TOL_FUSED, &worst);
  }
  test_check("every parameter gradient, fused vs unfused", worst, TOL_FUSED);
  clm_graph_set_training(f, 0);
  clm_graph_set_training(u, 0);
  test_status("fused eval forward", clm_graph_forward(f));
  test_status("unfused eval forward", clm_graph_forward(u));
  test_check("eval-mode forward of the training graph, fused vs unfused",
             compare_outputs(f, u, TOL_FUSED), TOL_FUSED);
  printf("arena: fused %zu bytes, unfused %zu bytes (training)\n", clm_graph_arena_bytes(f),
         clm_graph_arena_bytes(u));
  clm_graph_free(f);
  clm_graph_free(u);
}

static void test_inference(void) {
  clm_graph *f = build(0, 1), *u = build(0, -1);
  int folded = 0;
  for (int i = 0; i < f->nnodes; i++) folded += f->nodes[i].fold >= 0;
  test_true("six convolutions folded (not the standalone batchnorm)", folded == 6, NULL);
  randomise(f, 5);
  randomise(u, 5);
  test_status("folded forward", clm_graph_forward(f));
  test_status("unfolded forward", clm_graph_forward(u));
  test_check("inference: folded vs unfolded eval-mode forward", compare_outputs(f, u, TOL_FOLDED),
             TOL_FOLDED);

  /* running statistics changed through a view: the folded copy is stale until prepared */
  set_params(f, 6);
  set_params(u, 6);
  test_status("unfolded forward", clm_graph_forward(u));
  f->folded_stale = 0; /* as after a forward: the view writes above are not seen */
  test_status("stale folded forward", clm_graph_forward(f));
  test_true("the folded graph really runs on its folded copy (stale until prepared)",
            compare_outputs(f, u, 1e30) > 10 * TOL_FOLDED, NULL);
  test_status("prepare inference", clm_graph_prepare_inference(f));
  test_status("folded forward", clm_graph_forward(f));
  test_check("after clm_graph_prepare_inference", compare_outputs(f, u, TOL_FOLDED), TOL_FOLDED);

  /* init_params and a checkpoint load refold lazily at the next forward */
  test_status("init params", clm_graph_init_params(f, 9));
  test_status("init params", clm_graph_init_params(u, 9));
  test_status("folded forward", clm_graph_forward(f));
  test_status("unfolded forward", clm_graph_forward(u));
  test_check("after clm_graph_init_params (lazy refold)", compare_outputs(f, u, TOL_FOLDED), TOL_FOLDED);
  char path[64];
  snprintf(path, sizeof path, "/tmp/clmtl_fuse_%d.safetensors", (int)getpid());
  set_params(u, 7);
  test_status("save", clm_checkpoint_save(path, u, NULL, NULL, NULL, 0));
  set_params(f, 8);
  test_status("folded forward", clm_graph_forward(f)); /* folds the other parameters */
  test_status("load into the folded graph", clm_checkpoint_load(path, f, NULL, NULL, NULL));
  remove(path);
  test_status("folded forward", clm_graph_forward(f));
  test_status("unfolded forward", clm_graph_forward(u));
  test_check("after clm_checkpoint_load (lazy refold)", compare_outputs(f, u, TOL_FOLDED), TOL_FOLDED);

  clm_graph_set_training(f, 1);
  clm_status st = clm_graph_forward(f);
  test_true("batch statistics on a folded graph are refused", st == CLM_ERR_INVALID_ARG, clm_last_error());
  printf("arena: folded %zu bytes, unfolded %zu bytes (inference)\n", clm_graph_arena_bytes(f),
         clm_graph_arena_bytes(u));
  clm_graph_free(f);
  clm_graph_free(u);
}

static int host_mapped(clm_mem m) {
  cl_mem_flags flags = 0;
  clGetMemObjectInfo((cl_mem)m, CL_MEM_FLAGS, sizeof flags, &flags, NULL);
  return (flags & CL_MEM_ALLOC_HOST_PTR) != 0;
}

static void test_zero_copy(void) {
  clm_graph *inf = build(0, 1), *tr = build(1, 1);
  int unified = clm_context_device(ctx)->unified_memory && !ctx->oclgrind;
  int in_node = clm_graph_find_node(inf, "input");
  char detail[96];
  snprintf(detail, sizeof detail, "unified memory %s", unified ? "yes" : "no (or oclgrind)");
  test_true("input buffers host-mappable exactly on unified memory",
            host_mapped(inf->nodes[in_node].own) == unified &&
            host_mapped(tr->nodes[clm_graph_find_node(tr, "input")].own) == unified, detail);
  test_true("inference arena host-mappable exactly on unified memory, training arena never",
            host_mapped(inf->arena) == unified && !host_mapped(tr->arena), detail);
  /* round trip through set_input and the mapped download, checked with a plain read */
  randomise(inf, 11);
  test_status("forward", clm_graph_forward(inf));
  clm_tensor in, head;
  test_status("input", clm_graph_tensor(inf, "input", &in));
  test_status("head", clm_graph_tensor(inf, "head", &head));
  test_rng r = test_rng_make(12);
  float *x = test_random(&r, clm_tensor_numel(&in), -1, 1);
  test_status("set input", clm_graph_set_input(inf, "input", x));
  float *got = test_download(ctx, &in), *h = test_download(ctx, &head);
  size_t n = clm_tensor_numel(&head);
  float *plain = test_alloc(n);
  clEnqueueReadBuffer(ctx->queue, (cl_mem)head.buf, CL_TRUE, head.off * sizeof(float),
                      n * sizeof(float), plain, 0, NULL, NULL);
  test_true("set_input / download round trip",
            !memcmp(got, x, clm_tensor_numel(&in) * sizeof *x) && !memcmp(h, plain, n * sizeof *h), NULL);
  free(x); free(got); free(h); free(plain);
  clm_graph_free(inf);
  clm_graph_free(tr);
}

int main(void) {
  ctx = test_context();
  printf("tolerances: fused vs unfused %g, folded vs unfolded %g (relative to each tensor's "
         "largest value; gradients: at least 1%% of the network's largest)\n", TOL_FUSED,
         TOL_FOLDED);
  test_training();
  test_inference();
  test_zero_copy();
  clm_context_free(ctx);
  return test_finish();
}
