/* Graph construction without running kernels: model-file parsing and its error messages,
 * shape inference, parameter layout, autograd's write/accumulate flags, batch norm + activation
 * fusion and folding (node counts, in-place aliasing) and the memory planner's invariants
 * (tensors alive at the same time never share arena space; an inference plan has no gradients
 * or backward workspaces and frees each activation after its last forward use). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "graph/graph-impl.h"
#include "test_util.h"

static clm_context *ctx;

/* Parses (and compiles) `text`; expects failure with every string of `want` in the message. */
static void expect_error(const char *name, const char *text, const char *const *want) {
  clm_graph *g;
  clm_graph_create(ctx, &g);
  clm_status st = clm_graph_parse(g, text, "bad.cfg");
  if (st == CLM_OK) {
    clm_graph_options o = {2, 16, 16, 1, -1, 0};
    st = clm_graph_compile(g, &o);
  }
  const char *msg = clm_last_error();
  int ok = st != CLM_OK;
  for (int i = 0; want[i]; i++) ok = ok && strstr(msg, want[i]) != NULL;
  char detail[1200];
  snprintf(detail, sizeof detail, "%s", st == CLM_OK ? "accepted" : msg);
  test_true(name, ok, detail);
  clm_graph_free(g);
}

#define IN "[input]\ntype = input\nchannels = 3\n" /* lines 1-3 */

static void test_bad_models(void) {
  expect_error("unknown layer type",
               IN "[b]\ntype = convolution\nfrom = input\n",
               (const char *[]){"bad.cfg:5", "'b'", "unknown type 'convolution'", "conv", 0});
  expect_error("missing from",
               IN "[b]\ntype = conv\nfilters = 4\nsize = 3\n",
               (const char *[]){"bad.cfg:4", "'b'", "no 'from'", 0});
  expect_error("unknown input name",
               IN "[b]\ntype = conv\nfrom = nothere\nfilters = 4\nsize = 3\n",
               (const char *[]){"bad.cfg:4", "'b'", "unknown input 'nothere'", 0});
  expect_error("cycle",
               IN "[b]\ntype = conv\nfrom = c\nfilters = 4\nsize = 3\n"
                  "[c]\ntype = conv\nfrom = b\nfilters = 4\nsize = 3\n",
               (const char *[]){"cycle", "bad.cfg:4: layer 'b'", "bad.cfg:9: layer 'c'", 0});
  expect_error("self loop",
               IN "[b]\ntype = activation\nfrom = b\nact = relu\n",
               (const char *[]){"bad.cfg:4", "'b'", "cycle", 0});
  expect_error("spatial mismatch in concat",
               IN "[p]\ntype = maxpool\nfrom = input\n[cat]\ntype = concat\nfrom = input, p\n",
               (const char *[]){"bad.cfg:7", "'cat'", "differ in size", "16x16", "8x8", 0});
  expect_error("channel mismatch in add",
               IN "[a]\ntype = conv\nfrom = input\nfilters = 4\nsize = 1\n"
                  "[b]\ntype = add\nfrom = a, input\n",
               (const char *[]){"bad.cfg:9", "'b'", "mismatch", "(4,16,16)", "(3,16,16)", 0});
  expect_error("target channel mismatch",
               IN "[t]\ntype = input\nchannels = 3\n[h]\ntype = conv\nfrom = input\nfilters = 2\nsize = 1\n"
                  "[task.x]\ntype = l2\nfrom = h\ntarget = t\n",
               (const char *[]){"bad.cfg:12", "task.x", "target 't'", 0});
  expect_error("duplicate name",
               IN "[input]\ntype = input\nchannels = 1\n",
               (const char *[]){"bad.cfg:4", "duplicate layer name 'input'", "bad.cfg:1", 0});
  expect_error("unknown key",
               IN "[b]\ntype = conv\nfrom = input\nfliters = 4\nsize = 3\n",
               (const char *[]){"bad.cfg:7", "'b'", "unknown key 'fliters'", 0});
  expect_error("bad number",
               IN "[b]\ntype = conv\nfrom = input\nfilters = 4x\nsize = 3\n",
               (const char *[]){"bad.cfg:7", "'filters = 4x'", 0});
  expect_error("key given twice",
               IN "[b]\ntype = conv\nfrom = input\nfilters = 4\nfilters = 5\nsize = 3\n",
               (const char *[]){"bad.cfg:8", "given twice", "line 7", 0});
  expect_error("key outside a section", "type = input\n", (const char *[]){"bad.cfg:1", "outside", 0});
  expect_error("no type", IN "[b]\nfrom = input\n", (const char *[]){"bad.cfg:4", "'b'", "no 'type'", 0});
  expect_error("loss outside a task section",
               IN "[b]\ntype = l1\nfrom = input\ntarget = input\n",
               (const char *[]){"bad.cfg:5", "task", 0});
  expect_error("kernel larger than input",
               IN "[b]\ntype = conv\nfrom = input\nfilters = 4\nsize = 19\npad = 0\n",
               (const char *[]){"bad.cfg:4", "'b'", "too small", 0});
  expect_error("unpool with a non-pool index source",
               IN "[p]\ntype = maxpool\nfrom = input\n[u]\ntype = unpool\nfrom = p\nindices = input\n",
               (const char *[]){"bad.cfg:7", "'u'", "not a maxpool", 0});
  expect_error("missing model file", "", (const char *[]){"no layers", 0});
  clm_graph *g;
  clm_graph_create(ctx, &g);
  clm_status st = clm_graph_load(g, "/nonexistent/model.cfg");
  test_true("unreadable model file names the path",
            st == CLM_ERR_IO && strstr(clm_last_error(), "/nonexistent/model.cfg"), clm_last_error());
  clm_graph_free(g);
}

static const clm_node *node(const clm_graph *g, const char *name) {
  for (int i = 0; i < g->nnodes; i++) if (!strcmp(g->nodes[i].name, name)) return &g->nodes[i];
  fprintf(stderr, "no node %s\n", name);
  exit(1);
}

static void check_plan(const clm_graph *g, const char *name) {
  size_t sum = 0;
  int overlap = 0;
  for (int i = 0; i < g->nplan; i++) {
    const clm_plan_item *a = &g->plan[i];
    sum += a->floats;
    if (a->off + a->floats > g->arena_floats) overlap = 1;
    for (int j = i + 1; j < g->nplan; j++) {
      const clm_plan_item *b = &g->plan[j];
      int live_together = a->start <= b->end && b->start <= a->end;
      int share = a->off < b->off + b->floats && b->off < a->off + a->floats;
      if (live_together && share) overlap = 1;
    }
  }
  char detail[200];
  snprintf(detail, sizeof detail, "%d tensors, %zu floats unplanned, arena %zu floats (%.0f%%)",
           g->nplan, sum, g->arena_floats, 100.0 * (double)g->arena_floats / (double)sum);
  char label[128];
  snprintf(label, sizeof label, "%s: live tensors never overlap", name);
  test_true(label, !overlap, detail);
  snprintf(label, sizeof label, "%s: planner reuses memory", name);
  test_true(label, g->arena_floats < sum, detail);
}

/* Inference plan: no backward, and every activation in the arena lives from its own step to
 * its last forward reader (through a folded batch norm that shares it), or to the end for
 * heads and inputs. */
static void check_inference_plan(const clm_graph *g, const char *name) {
  int ok = g->nbwd == 0 && !g->grads, bad = -1;
  for (int i = 0; i < g->nnodes && ok; i++) {
    const clm_node *nd = &g->nodes[i];
    if (nd->grad.buf || nd->ws_bwd.buf || nd->bwd_step >= 0) { ok = 0; bad = i; }
  }
  char label[128];
  snprintf(label, sizeof label, "%s: no gradients, no backward workspaces", name);
  test_true(label, ok, bad >= 0 ? g->nodes[bad].name : NULL);
  ok = 1;
  for (int i = 0; i < g->nnodes && ok; i++) {
    const clm_node *nd = &g->nodes[i];
    if (nd->out.buf != g->arena || nd->alias) continue;
    int last = i, keep = nd->keep;
    for (int j = i + 1; j < g->nnodes; j++) {
      const clm_node *c = &g->nodes[j];
      if (c->in[0] == i && c->alias) keep |= c->keep;
      for (int k = 0; k < c->nin; k++)
        if (c->in[k] == i || (g->nodes[c->in[k]].alias && g->nodes[c->in[k]].in[0] == i)) last = j;
    }
    int found = 0;
    for (int k = 0; k < g->nplan; k++)
      if (g->plan[k].start == i && g->plan[k].off == nd->out.off)
        found = g->plan[k].end == (keep ? g->nnodes : last);
    if (!found) { ok = 0; bad = i; }
  }
  snprintf(label, sizeof label, "%s: activations freed after their last forward use", name);
  test_true(label, ok, ok ? NULL : g->nodes[bad].name);
}

static void test_tiny_model(int training, int fuse) {
  clm_graph *g;
  clm_graph_create(ctx, &g);
  test_status("load models/tiny.cfg", clm_graph_load(g, CLMTL_MODELS "/tiny.cfg"));
  clm_graph_options o = {2, 16, 20, training, -1, fuse};
  clm_status st = clm_graph_compile(g, &o);
  test_status("compile tiny", st);
  if (st != CLM_OK) { clm_graph_free(g); return; }
  printf("tiny, %s, fusion %s\n", training ? "training" : "inference", fuse > 0 ? "on" : "off");
  if (training && fuse < 0) clm_graph_print(g, stdout);
  /* three conv layers with bn and act: 3 nodes each unfused, 2 fused */
  int nodes = fuse > 0 ? 21 : 24;
  test_true("node count (conv+bn+act expanded, implicit targets)", g->nnodes == nodes, NULL);
  int fused = 0, aliased = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const clm_node *nd = &g->nodes[i];
    fused += nd->op == CLM_LAYER_BATCHNORM && nd->act == CLM_ACTIVATION_RELU;
    if (nd->alias)
      aliased += nd->out.buf == g->nodes[nd->in[0]].out.buf && nd->out.off == g->nodes[nd->in[0]].out.off &&
                 g->nodes[nd->in[0]].fold == i && !nd->aux.buf;
  }
  test_true("fused batch-norm nodes carry the activation", fused == (fuse > 0 ? 3 : 0), NULL);
  test_true("inference: batch norm folded, in place on the conv output",
            aliased == (fuse > 0 && !training ? 3 : 0), NULL);
  /* folded: enc1 8x3x3x3 + 8, enc2 16x8x3x3 + 16, dec1 8x24x3x3 + 8 */
  test_true("folded parameter buffer", g->folded_floats == (fuse > 0 && !training ? 224u + 1168 + 1736 : 0u), NULL);
  const clm_node *seg = node(g, "seg_head"), *inst = node(g, "instance");
  test_true("head shape", seg->n == 2 && seg->c == 7 && seg->h == 16 && seg->w == 20, NULL);
  test_true("regression target takes the prediction's channels", inst->c == 2, NULL);
  /* 3250 network parameters + one task parameter per loss, contiguous at the end */
  test_true("parameter count 3250 + 3", g->param_floats == 3253, NULL);
  clm_tensor tp = clm_graph_task_params(g);
  test_true("task parameters are the last 3", tp.off == 3250 && tp.w == 3, NULL);
  test_true("state count 64 (running statistics)", g->state_floats == 64, NULL);
  test_true("three losses in model order", g->nlosses == 3 && !strcmp(clm_graph_loss_layer(g, 0)->name, "task.semantic") &&
            !strcmp(clm_graph_loss_layer(g, 2)->name, "task.depth"), NULL);
  int found = 0;
  for (int i = 0; i < clm_graph_named_count(g); i++) {
    const char *name;
    clm_tensor v;
    int is_param;
    clm_graph_named(g, i, &name, &v, &is_param);
    found += !strcmp(name, "enc1.weight") && is_param && v.n == 8 && v.c == 3 && v.h == 3;
    found += !strcmp(name, "enc2.bn.running_var") && !is_param && v.c == 16;
  }
  test_true("named tensors for checkpoints", found == 2, NULL);
  if (training) {
    /* enc1's output feeds pool1 and cat1: one contribution writes, the other accumulates */
    const clm_node *pool = node(g, "pool1"), *cat = node(g, "cat1");
    int a = pool->accumulate[0], b = cat->accumulate[1];
    test_true("fan-out: one write, one accumulate", a + b == 1 && pool->in_grad[0] && cat->in_grad[1], NULL);
    test_true("inputs get no gradient step", node(g, "input")->bwd_step < 0, NULL);
    test_true("backward covers every trainable node", g->nbwd == nodes - 6, NULL);
  }
  check_plan(g, training ? "training plan" : "inference plan");
  if (!training) check_inference_plan(g, fuse > 0 ? "fused inference plan" : "inference plan");
  printf("peak arena %.1f KiB, device total %.1f KiB\n", clm_graph_arena_bytes(g) / 1024.0,
         clm_graph_device_bytes(g) / 1024.0);
  clm_graph_free(g);
}

static void test_huge_batch(void) {
  clm_graph *g;
  clm_graph_create(ctx, &g);
  clm_graph_load(g, CLMTL_MODELS "/tiny.cfg");
  clm_graph_options o = {1 << 16, 512, 1024, 1, -1, 0};
  clm_status st = clm_graph_compile(g, &o);
  test_true("impossible batch is refused naming the input and its size",
            (st == CLM_ERR_DEVICE_MEMORY || st == CLM_ERR_SHAPE) && strstr(clm_last_error(), "tiny.cfg:") &&
            strstr(clm_last_error(), "'input'") && strstr(clm_last_error(), "65536"), clm_last_error());
  clm_graph_free(g);
}

/* Compiles `text` at batch x height x width (training or not); returns the status. */
static clm_status compile_text(const char *text, int batch, int height, int width, int training) {
  clm_graph *g;
  clm_graph_create(ctx, &g);
  clm_status st = clm_graph_parse(g, text, "ok.cfg");
  clm_graph_options o = {batch, height, width, training, -1, 0};
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  clm_graph_free(g);
  return st;
}

#define TASK(from) "[task.t]\ntype = l2\nfrom = " from "\ntarget = tgt\n"

/* Sizes that overflowed int or size_t: each is refused naming the file, line, layer and what
 * sets the size, never compiled into wrapped shapes ("input 0x0") or a 0-byte plan. */
static void test_overflow(void) {
  char text[8192];
  size_t used = (size_t)snprintf(text, sizeof text, IN "[up0]\ntype = upsample\nfrom = input\n");
  for (int i = 1; i < 30; i++) /* 16 * 2^30 overflows int */
    used += (size_t)snprintf(text + used, sizeof text - used, "[up%d]\ntype = upsample\nfrom = up%d\n", i, i - 1);
  expect_error("30 stacked upsamples", text,
               (const char *[]){"bad.cfg:", "layer 'up", "more than the 2147483647 elements", "height and width", 0});
  expect_error("deconv stride 64, stacked",
               IN "[d1]\ntype = deconv\nfrom = input\nfilters = 1\nsize = 64\nstride = 64\n"
                  "[d2]\ntype = deconv\nfrom = d1\nfilters = 1\nsize = 64\nstride = 64\n"
                  "[d3]\ntype = deconv\nfrom = d2\nfilters = 1\nsize = 64\nstride = 64\n",
               (const char *[]){"bad.cfg:", "layer 'd", "'stride'", "more than the", 0});
  expect_error("parameter count filters x channels x size^2",
               "[input]\ntype = input\nchannels = 65536\n"
               "[c]\ntype = conv\nfrom = input\nfilters = 65536\nsize = 63\npad = 31\n",
               (const char *[]){"bad.cfg:4: layer 'c'", "the weight", "(65536,65536,63,63)", "'filters'", 0});
  expect_error("padded input one short of the dilated kernel (stride 2)",
               IN "[c]\ntype = conv\nfrom = input\nfilters = 2\nsize = 17\nstride = 2\npad = 0\n",
               (const char *[]){"bad.cfg:4: layer 'c'", "too small", 0});
  /* 2^20 x 3 x 2^22 x 2^22 is 3 * 2^64: it wrapped to a plan of 0 bytes */
  clm_graph *g;
  clm_graph_create(ctx, &g);
  clm_graph_load(g, CLMTL_MODELS "/tiny.cfg");
  clm_graph_options o = {1 << 20, 1 << 22, 1 << 22, 0, -1, 0};
  clm_status st = clm_graph_compile(g, &o);
  test_true("batch 2^20 at 2^22 x 2^22 is refused, not planned in 0 bytes",
            st == CLM_ERR_SHAPE && strstr(clm_last_error(), "tiny.cfg:5: layer 'input'") &&
            strstr(clm_last_error(), "(1048576,3,4194304,4194304)"), clm_last_error());
  clm_graph_free(g);
  /* channel sums of concat and huge channel counts through the API (no parse limits) */
  clm_graph_create(ctx, &g);
  clm_graph_input(g, "a", 0x7fffffff);
  clm_graph_concat(g, "cat", "a", "a");
  clm_graph_options o1 = {1, 1, 1, 0, -1, 0};
  st = clm_graph_compile(g, &o1);
  test_true("concat of 2 x (2^31 - 1) channels is refused", st == CLM_ERR_SHAPE &&
            strstr(clm_last_error(), "layer 'cat'"), clm_last_error());
  clm_graph_free(g);
}

/* Names that collide once conv layers expand into .bn and .act nodes: refused at compile,
 * naming both layers. */
static void test_name_collisions(void) {
  expect_error("layer 'enc1.bn' beside conv 'enc1' with bn",
               IN "[enc1]\ntype = conv\nfrom = input\nfilters = 4\nsize = 3\nbn = 1\n"
                  "[enc1.bn]\ntype = conv\nfrom = enc1\nfilters = 4\nsize = 3\n",
               (const char *[]){"bad.cfg:4: layer 'enc1'", "bad.cfg:10: layer 'enc1.bn'", "'enc1.bn'", 0});
  expect_error("activation layer 'c.act' beside conv 'c' with act",
               IN "[c]\ntype = conv\nfrom = input\nfilters = 4\nsize = 3\nact = relu\n"
                  "[c.act]\ntype = activation\nfrom = input\nact = relu\n",
               (const char *[]){"bad.cfg:4: layer 'c'", "bad.cfg:10: layer 'c.act'", 0});
  expect_error("task 'task.bn' beside conv 'task' with bn",
               IN "[task]\ntype = conv\nfrom = input\nfilters = 4\nsize = 3\nbn = 1\n"
                  "[task.bn]\ntype = l1\nfrom = task\ntarget = t\n",
               (const char *[]){"bad.cfg:4: layer 'task'", "bad.cfg:10: layer 'task.bn'", 0});
}

/* Model files that are valid INI as configparser reads them (inline comments, a UTF-8 BOM)
 * are accepted; errors of empty models and models without tasks name the file. */
static void test_valid_input(void) {
  const char *readme =
      "\xef\xbb\xbf[input]\ntype = input   # the image\nchannels = 3 ; RGB\n"
      "[enc1]\ntype = conv          ; conv2d, then optional batch norm and activation\n"
      "from = input\nfilters = 4\nsize = 3;not a comment without a space before it\n";
  expect_error("';' without white space before it is part of the value", readme,
               (const char *[]){"bad.cfg:8", "'size = 3;not a comment", 0});
  const char *ok = "\xef\xbb\xbf; a model with a byte-order mark\n[input]\ntype = input   # the image\n"
                   "channels = 3 ; RGB\n[enc1]\ntype = conv          ; conv2d, then optional batch norm and activation\n"
                   "from = input\t# tab before the comment\nfilters = 4\nsize = 3\n"
                   "[tgt]\ntype = input\nchannels = 4\n" TASK("enc1");
  clm_status st = compile_text(ok, 2, 16, 16, 1);
  test_true("byte-order mark and inline '; comment' / '# comment' accepted", st == CLM_OK, clm_last_error());
  expect_error("empty model names the file", "", (const char *[]){"bad.cfg", "no layers", 0});
  expect_error("only comments names the file", "# nothing\n; here\n", (const char *[]){"bad.cfg", "no layers", 0});
  expect_error("training without a task names the file", IN,
               (const char *[]){"bad.cfg", "no [task.<name>] section", 0});
  expect_error("value continued on an indented line (configparser would join it)",
               IN "[c]\ntype = conv\nfrom = input\nfilters = 4\n  size = 3\n",
               (const char *[]){"bad.cfg:8", "indented", "'filters'", 0});
  expect_error("not UTF-8", IN "[c\xff]\ntype = conv\n", (const char *[]){"bad.cfg:4", "UTF-8", 0});
  expect_error("non-ASCII white space", IN "[c]\ntype = conv\xc2\xa0\n", (const char *[]){"bad.cfg:5", "white space", 0});
}

/* The budget: device buffers and host copies are counted before anything is allocated. On a
 * device whose buffers are host memory (PoCL) the sum must fit; $CLMTL_MEMORY_LIMIT caps it. */
static void test_budget(void) {
  const clm_device_info *d = clm_context_device(ctx);
  if (!(d->kind == CLM_DEVICE_CPU || d->unified_memory)) { printf("budget: not a shared-memory device, skipped\n"); return; }
  /* what the graph needs, from a compile without a limit */
  clm_graph *g;
  clm_graph_create(ctx, &g);
  clm_graph_load(g, CLMTL_MODELS "/tiny.cfg");
  clm_graph_options o = {4, 64, 128, 1, -1, 0};
  test_status("compile tiny 4x64x128 without a limit", clm_graph_compile(g, &o));
  size_t device = clm_graph_device_bytes(g), inputs = 0;
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i].op == CLM_LAYER_INPUT)
      inputs += (size_t)g->nodes[i].n * g->nodes[i].c * g->nodes[i].h * g->nodes[i].w * sizeof(float);
  size_t host = (g->param_floats + g->state_floats) * sizeof(float) + inputs;
  clm_graph_free(g);
  /* usable = limit - limit/8 (the headroom below 8 GiB) */
  clm_context_options limited = *test_context_options();
  limited.memory_limit = (device + host / 2) * 8 / 7 + 8;
  clm_context *lctx = test_context_with(&limited);
  clm_graph_create(lctx, &g);
  clm_graph_load(g, CLMTL_MODELS "/tiny.cfg");
  clm_status st = clm_graph_compile(g, &o);
  const char *msg = clm_last_error();
  test_true("device buffers fit, with host copies they do not: refused before allocating",
            st == CLM_ERR_DEVICE_MEMORY && strstr(msg, "tiny.cfg: the graph needs") && strstr(msg, "CLMTL_MEMORY_LIMIT") &&
            strstr(msg, "host copies") && strstr(msg, "largest layer: ") && strstr(msg, "tiny.cfg:"), msg);
  clm_graph_free(g);
  clm_context_free(lctx);
  limited.memory_limit = (device + host) * 8 / 7 + 64;
  lctx = test_context_with(&limited);
  clm_graph_create(lctx, &g);
  clm_graph_load(g, CLMTL_MODELS "/tiny.cfg");
  st = clm_graph_compile(g, &o);
  test_true("device buffers and host copies fit: compiled", st == CLM_OK, clm_last_error());
  clm_graph_free(g);
  clm_context_free(lctx);
}

int main(void) {
  ctx = test_context();
  test_bad_models();
  for (int fuse = 1; fuse >= -1; fuse -= 2) {
    test_tiny_model(1, fuse);
    test_tiny_model(0, fuse);
  }
  test_huge_batch();
  test_overflow();
  test_name_collisions();
  test_valid_input();
  test_budget();
  clm_context_free(ctx);
  return test_finish();
}
