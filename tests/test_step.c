/* The training step's owner and its set-up (step.h) and the graph accessors the weighting and
 * checkpoints use (graph.h): on a two-task model with one shared convolution, the accessors
 * agree with the model (the losses each node feeds, the last shared convolution, the state
 * dict entries as clm_graph_named gives them); compile's seed gives the parameters
 * clm_graph_init_params gives; a session opens (and refuses a missing model, leaving
 * nothing); the step's hooks run once each, after the forward and after the backward and
 * before the optimizer (a gradient zeroed there leaves Adam's update 0), and a hook's error
 * ends the step; the epoch's loss sums add up each step's losses as read from the device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_util.h"

static const char *model =
    "[input]\ntype = input\nchannels = 2\n"
    "[trunk]\ntype = conv\nfrom = input\nfilters = 4\nsize = 3\nbn = 1\nact = relu\n"
    "[a]\ntype = conv\nfrom = trunk\nfilters = 1\nsize = 1\n"
    "[b]\ntype = conv\nfrom = trunk\nfilters = 1\nsize = 1\n"
    "[task.a]\ntype = l1\nfrom = a\ntarget = ta\nkind = regression\n"
    "[task.b]\ntype = l2\nfrom = b\ntarget = tb\nkind = regression\n";

static clm_graph *compiled(clm_context *ctx, int seed_first, unsigned long long seed) {
  clm_graph *g = NULL;
  clm_graph_options o = {2, 8, 8, 1, -1, 0};
  clm_status st = clm_graph_create(ctx, &g);
  if (st == CLM_OK) st = clm_graph_parse(g, model, "step.cfg");
  if (st == CLM_OK && seed_first) clm_graph_set_seed(g, seed);
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  test_status("compile the two-task model", st);
  return g;
}

static float *params_of(clm_context *ctx, const clm_graph *g) {
  clm_tensor p = clm_graph_params(g);
  return test_download(ctx, &p);
}

static void test_accessors(clm_context *ctx) {
  clm_graph *g = compiled(ctx, 0, 0);
  test_true("context, compiled, training, single backward",
            clm_graph_context(g) == ctx && clm_graph_is_compiled(g) && clm_graph_training(g) &&
                !clm_graph_multi_backward(g), NULL);
  int shared = clm_graph_last_shared_conv(g);
  clm_graph_node_info nd = {0};
  test_status("the last shared convolution's node", clm_graph_node(g, shared, &nd));
  test_true("... is trunk, a convolution both losses depend on",
            nd.name && !strcmp(nd.name, "trunk") && nd.op == CLM_LAYER_CONV && nd.losses == 3u,
            nd.name);
  int heads = 0, losses = 0;
  for (int i = 0; i < clm_graph_node_count(g); i++) {
    clm_graph_node_info n;
    if (clm_graph_node(g, i, &n) != CLM_OK) continue;
    if (!strcmp(n.name, "a") || !strcmp(n.name, "b")) heads += n.losses == (n.name[0] == 'a' ? 1u : 2u);
    if (n.loss >= 0) losses += n.losses == 1u << n.loss && n.in_backward;
  }
  test_true("each head feeds its own loss only; each loss node has its own bit", heads == 2 && losses == 2, NULL);
  test_true("a node index out of range is refused", clm_graph_node(g, 999, &nd) == CLM_ERR_NOT_FOUND, NULL);
  int same = 1, task = 0;
  for (int i = 0; i < clm_graph_named_count(g); i++) {
    clm_named_tensor t;
    const char *name;
    clm_tensor v;
    int is_param;
    if (clm_graph_named_info(g, i, &t) != CLM_OK) { same = 0; continue; }
    char copy[CLM_TENSOR_NAME_MAX];
    snprintf(copy, sizeof copy, "%s", t.name);
    same &= clm_graph_named(g, i, &name, &v, &is_param) == CLM_OK && !strcmp(name, copy) &&
            v.buf == t.view.buf && v.off == t.view.off && is_param == t.is_param;
    task += t.is_task_param && strstr(copy, "task_param") != NULL;
  }
  test_true("the state dict entries agree with clm_graph_named; two task parameters", same && task == 2, NULL);
  clm_graph_free(g);
}

static void test_seed(clm_context *ctx) {
  clm_graph *a = compiled(ctx, 1, 7), *b = compiled(ctx, 0, 0), *c = compiled(ctx, 0, 0);
  test_status("init_params(7) after a compile with seed 0", clm_graph_init_params(b, 7));
  float *pa = params_of(ctx, a), *pb = params_of(ctx, b), *pc = params_of(ctx, c);
  size_t n = (size_t)clm_graph_params(a).w * sizeof(float);
  test_true("compile with seed 7 initialises as init_params(7) does", !memcmp(pa, pb, n), NULL);
  test_true("... and not as seed 0", memcmp(pa, pc, n) != 0, NULL);
  free(pa);
  free(pb);
  free(pc);
  clm_graph_free(a);
  clm_graph_free(b);
  clm_graph_free(c);
}

typedef struct { int calls[2], order_ok, zero, fail; float counts[2]; } hook_log;

static clm_status after_forward(void *user, clm_graph *g) {
  hook_log *h = user;
  h->order_ok &= h->calls[0] == h->calls[1];
  h->calls[0]++;
  float s[6];
  clm_tensor sc = clm_graph_loss_scalars(g);
  clm_status st = clm_tensor_download(clm_graph_context(g), &sc, s);
  h->counts[0] = s[1];
  h->counts[1] = s[4];
  return st != CLM_OK ? st : h->fail ? CLM_ERR_INTERRUPTED : CLM_OK;
}

static clm_status after_backward(void *user, clm_graph *g) {
  hook_log *h = user;
  h->order_ok &= h->calls[0] == h->calls[1] + 1;
  h->calls[1]++;
  clm_tensor grads = clm_graph_grads(g);
  return h->zero ? clm_tensor_fill(clm_graph_context(g), &grads, 0.0f) : CLM_OK;
}

static void fill_inputs(clm_session *s) {
  test_rng r = test_rng_make(3);
  const char *names[3] = {"input", "ta", "tb"};
  for (int i = 0; i < 3; i++) {
    clm_tensor t;
    if (clm_graph_tensor(s->g, names[i], &t) != CLM_OK) continue;
    float *x = test_random(&r, clm_tensor_numel(&t), -1, 1);
    test_upload(s->ctx, &t, x);
    free(x);
  }
}

static void test_session_and_hooks(void) {
  clm_session_options so = clm_session_defaults();
  so.context = test_context_options();
  so.model_path = "/nonexistent/step.cfg";
  so.batch = 2;
  so.height = so.width = 8;
  clm_session *s = (clm_session *)1;
  clm_status st = clm_session_open(&so, &s);
  test_true("a missing model file: an error naming it, no session",
            st != CLM_OK && !s && strstr(clm_last_error(), "/nonexistent/step.cfg"), clm_last_error());
  so.model_path = NULL;
  so.model_text = model;
  so.model_name = "step.cfg";
  so.seed = 5;
  test_status("open a training session from model text", clm_session_open(&so, &s));
  if (!s) return;
  test_true("... with graph, weighting and optimizer state",
            s->g && s->mtl && s->opt.n == (size_t)clm_graph_params(s->g).w, NULL);
  fill_inputs(s);
  clm_optim_config oc = clm_optim_defaults(CLM_OPTIM_ADAM);
  hook_log h = {{0, 0}, 1, 1, 0, {0, 0}};
  clm_step_hooks hooks = {&h, after_forward, after_backward};
  float *before = params_of(s->ctx, s->g);
  test_status("a step whose after_backward zeroes the gradient", clm_step_run(s->mtl, &oc, &s->opt, &hooks));
  float *after = params_of(s->ctx, s->g);
  size_t n = (size_t)clm_graph_params(s->g).w;
  test_true("... leaves every parameter as it was (the hook runs before the optimizer)",
            !memcmp(before, after, n * sizeof(float)), NULL);
  test_true("... after_forward saw the losses' valid counts (2·8·8 each)",
            h.counts[0] == 128 && h.counts[1] == 128, NULL);
  h.zero = 0;
  clm_tensor acc_t;
  clm_mem acc = NULL;
  test_status("a loss accumulator", clm_buffer_alloc(s->ctx, 4, &acc));
  acc_t = clm_tensor_view(acc, 0, 1, 1, 1, 4);
  double want[2] = {0, 0};
  for (int k = 0; k < 2 && acc; k++) {
    test_status("a step with the hooks", clm_step_run(s->mtl, &oc, &s->opt, &hooks));
    float sc[6];
    clm_tensor scal = clm_graph_loss_scalars(s->g);
    test_status("read the losses", clm_tensor_download(s->ctx, &scal, sc));
    want[0] += sc[0];
    want[1] += sc[3];
    test_status("accumulate them", clm_step_accumulate_losses(s->g, &acc_t));
  }
  free(after);
  after = params_of(s->ctx, s->g);
  test_true("... without zeroing, the parameters change", memcmp(before, after, n * sizeof(float)) != 0, NULL);
  test_true("each hook ran once per step, after_forward first", h.calls[0] == 3 && h.calls[1] == 3 && h.order_ok, NULL);
  float got[4] = {0};
  if (acc) test_status("read the accumulator", clm_tensor_download(s->ctx, &acc_t, got));
  char detail[128];
  snprintf(detail, sizeof detail, "%g %g (counts %g %g) vs %g %g", got[0], got[1], got[2], got[3], want[0], want[1]);
  test_true("the accumulator holds the two steps' loss sums and counts",
            fabs(got[0] - want[0]) <= 1e-6 * fabs(want[0]) && fabs(got[1] - want[1]) <= 1e-6 * fabs(want[1]) &&
                got[2] == 2 && got[3] == 2, detail);
  clm_mem bad = NULL;
  clm_tensor short_acc = {0};
  if (clm_buffer_alloc(s->ctx, 3, &bad) == CLM_OK) short_acc = clm_tensor_view(bad, 0, 1, 1, 1, 3);
  test_true("an accumulator of the wrong size is refused",
            clm_step_accumulate_losses(s->g, &short_acc) == CLM_ERR_SHAPE, clm_last_error());
  h.fail = 1;
  test_true("a hook's error ends the step with it",
            clm_step_run(s->mtl, &oc, &s->opt, &hooks) == CLM_ERR_INTERRUPTED && h.calls[1] == 3, NULL);
  clm_buffer_free(s->ctx, bad);
  clm_buffer_free(s->ctx, acc);
  free(before);
  free(after);
  clm_session_close(s);
  clm_session_close(NULL);
}

int main(void) {
  clm_context *ctx = test_context();
  test_accessors(ctx);
  test_seed(ctx);
  clm_context_free(ctx);
  test_session_and_hooks();
  return test_finish();
}
