/* The tuning file: clm_graph_tune measures and writes one entry per shape and mode; a compile
 * follows the file's choice for its exact shape and mode (train / infer); lines that do not parse
 * are skipped with a warning to the context's message callback; the context option
 * ignore_tuning (CLMTL_TUNING=0) ignores the file; a merge keeps entries it did not measure.
 * Without an entry, the CPU rule: winograd4 for 3×3 stride-1 convolutions with at least 128
 * input and output channels (forward, backward data), implicit below that. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "graph/graph-impl.h"
#include "test_util.h"

static clm_context *ctx;

static const char *model =
    "[input]\ntype = input\nchannels = 3\n"
    "[a]\ntype = conv\nfrom = input\nfilters = 8\nsize = 3\nbn = 1\nact = relu\n"
    "[b]\ntype = conv\nfrom = a\nfilters = 2\nsize = 1\n"
    "[task.depth]\ntype = l2\nfrom = b\ntarget = depth\n";

/* variant: -1 lets the scheduler (and the tuning file) choose */
static clm_graph *compile_variant(int training, int variant) {
  clm_graph *g = NULL;
  clm_status st = clm_graph_create(ctx, &g);
  if (st == CLM_OK) st = clm_graph_parse(g, model, "tune.cfg");
  clm_graph_options o = {2, 12, 20, training, variant, 0};
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  test_status("compile", st);
  return g;
}

static clm_graph *compile(int training) { return compile_variant(training, -1); }


/* One forward and backward of both graphs from the same parameters and inputs; the largest
 * difference of their parameter gradients relative to the largest reference gradient. */
static float grad_difference(clm_graph *g, clm_graph *ref) {
  test_rng rng = test_rng_make(11);
  float *image = test_random(&rng, 2 * 3 * 12 * 20, -1, 1);
  float *depth = test_random(&rng, 2 * 2 * 12 * 20, -1, 1);
  clm_graph *gs[2] = {g, ref};
  float *grads[2] = {NULL, NULL};
  for (int i = 0; i < 2; i++) {
    clm_status st = clm_graph_init_params(gs[i], 5);
    if (st == CLM_OK) st = clm_graph_set_input(gs[i], "input", image);
    if (st == CLM_OK) st = clm_graph_set_input(gs[i], "depth", depth);
    if (st == CLM_OK) st = clm_graph_forward(gs[i]);
    if (st == CLM_OK) st = clm_graph_zero_grad(gs[i]);
    if (st == CLM_OK) st = clm_graph_backward(gs[i]);
    test_status(i ? "step, direct" : "step, per-pass variants", st);
    clm_tensor t = clm_graph_grads(gs[i]);
    if (st == CLM_OK) grads[i] = test_download(ctx, &t);
  }
  float err = 1.0f;
  if (grads[0] && grads[1]) {
    clm_tensor t = clm_graph_grads(ref);
    size_t n = clm_tensor_numel(&t);
    float worst = 0.0f, scale = 0.0f;
    for (size_t i = 0; i < n; i++) {
      float d = fabsf(grads[0][i] - grads[1][i]);
      if (d > worst) worst = d;
      if (fabsf(grads[1][i]) > scale) scale = fabsf(grads[1][i]);
    }
    err = scale > 0 ? worst / scale : worst;
  }
  free(image);
  free(depth);
  free(grads[0]);
  free(grads[1]);
  return err;
}

static const clm_node *node(clm_graph *g, const char *name) {
  return &g->nodes[clm_graph_find_node(g, name)];
}

/* The untuned CPU rule (scheduler.c): Winograd F(4×4, 3×3) from 128 channels in and out. */
static void test_cpu_rule(void) {
  if (clm_context_device(ctx)->kind != CLM_DEVICE_CPU) return;
  static const char *m =
      "[input]\ntype = input\nchannels = 128\n"
      "[wide]\ntype = conv\nfrom = input\nfilters = 128\nsize = 3\n"
      "[narrow]\ntype = conv\nfrom = wide\nfilters = 127\nsize = 3\n"
      "[dil]\ntype = conv\nfrom = wide\nfilters = 128\nsize = 3\ndilation = 2\n"
      "[task.depth]\ntype = l2\nfrom = narrow\ntarget = depth\n"
      "[task.d2]\ntype = l2\nfrom = dil\ntarget = d2\n";
  clm_graph *g = NULL;
  clm_status st = clm_graph_create(ctx, &g);
  if (st == CLM_OK) st = clm_graph_parse(g, m, "rule.cfg");
  clm_graph_options o = {1, 5, 7, 1, -1, 0};
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  test_status("compile the rule's model", st);
  if (st == CLM_OK) {
    const int *w = node(g, "wide")->variant, *n = node(g, "narrow")->variant;
    const int *d = node(g, "dil")->variant;
    test_true("128 -> 128 3x3: winograd4 forward and backward data, implicit weight",
              w[0] == CLM_CONV_WINOGRAD4 && w[1] == CLM_CONV_WINOGRAD4 &&
                  w[2] == CLM_CONV_IMPLICIT, "");
    test_true("128 -> 127 3x3: implicit", n[0] == CLM_CONV_IMPLICIT && n[1] == CLM_CONV_IMPLICIT,
              "");
    test_true("dilation 2: implicit", d[0] == CLM_CONV_IMPLICIT && d[1] == CLM_CONV_IMPLICIT, "");
  }
  clm_graph_free(g);
}

/* The context's message callback: counts the warnings, keeps the first. */
typedef struct message_log {
  int count;
  char first[1024];
} message_log;

static void collect(void *user, const char *message) {
  message_log *log = user;
  if (log->count++ == 0) snprintf(log->first, sizeof log->first, "%s", message);
}

static int count_lines(const char *path, const char *needle) {
  FILE *f = fopen(path, "r");
  char line[1024];
  int n = 0;
  while (f && fgets(line, sizeof line, f)) n += line[0] != '#' && strstr(line, needle) != NULL;
  if (f) fclose(f);
  return n;
}

int main(void) {
  char dir[] = "/tmp/clmtl-test-tune-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  message_log log = {0};
  clm_context_options opts = *test_context_options();
  opts.cache_dir = dir;
  opts.ignore_tuning = 0;
  opts.conv_variant = NULL;
  opts.message = collect;
  opts.message_user = &log;
  ctx = test_context_with(&opts);
  char path[600];
  test_status("tuning file path", clm_tuning_file(ctx, path, sizeof path));
  test_true("path is in the cache dir", !strncmp(path, dir, strlen(dir)), path);

  /* measuring writes a train and an infer entry for each of the two shapes */
  clm_graph *g = compile(1);
  test_status("tune", clm_graph_tune(g, 2, NULL));
  test_true("train entries", count_lines(path, " train ") == 2, path);
  test_true("infer entries", count_lines(path, " infer ") == 2, path);
  char key_a[256], key_b[256];
  clm_conv_shape_key(g, node(g, "a"), key_a, sizeof key_a);
  clm_conv_shape_key(g, node(g, "b"), key_b, sizeof key_b);
  test_true("key names the shape", strstr(key_a, "x=2x3x12x20 w=8x3x3x3 y=2x8x12x20 stride=1 pad=1") != NULL, key_a);
  clm_graph_free(g);

  /* a hand-written file decides, per mode; a malformed line is skipped */
  FILE *f = fopen(path, "w");
  fprintf(f, "# hand-written\n%s train implicit,tiled,gemm # comment\n%s train direct\n"
          "not an entry at all\n%s infer gemm\n%s infer direct\n%s train nosuchvariant\n"
          "%s train direct,implicit\n%s train gemm,,tiled\n",
          key_a, key_b, key_a, key_b, key_a, key_a, key_a);
  fclose(f);
  g = compile(1);
  /* the malformed lines (4, 7, 8 and 9) reach the context's message callback, once per compile
   * (not once per convolution), and nothing is printed by the library */
  int per_compile = log.count;
  test_true("malformed lines: one message each, through the callback", per_compile == 4 &&
                strstr(log.first, ":4: not a tuning entry") != NULL, log.first);
  const int *va = node(g, "a")->variant, *vb = node(g, "b")->variant;
  test_true("train: a from the file, one variant per pass",
            va[0] == CLM_CONV_IMPLICIT && va[1] == CLM_CONV_TILED && va[2] == CLM_CONV_GEMM &&
                node(g, "a")->variant_tuned, "");
  test_true("train: b from the file, every pass",
            vb[0] == CLM_CONV_DIRECT && vb[1] == CLM_CONV_DIRECT && vb[2] == CLM_CONV_DIRECT &&
                node(g, "b")->variant_tuned, "");
  /* the backward step's workspace serves the larger of its two variants (a's forward,
   * implicit, needs none) */
  test_true("a: backward workspace for tiled and gemm", node(g, "a")->ws_floats == 0 &&
                node(g, "a")->ws_bwd_floats > 0, "");
  /* a step with per-pass variants gives the gradients of the direct kernels throughout */
  clm_graph *ref = compile_variant(1, CLM_CONV_DIRECT);
  float err = grad_difference(g, ref);
  char detail[64];
  snprintf(detail, sizeof detail, "rel err %.3g (tol 1e-5)", err);
  test_true("per-pass variants: gradients as with direct everywhere", err < 1e-5f, detail);
  clm_graph_free(ref);
  clm_graph_free(g);
  g = compile(0);
  test_true("infer: a from the file", node(g, "a")->variant[0] == CLM_CONV_GEMM, "");
  test_true("infer: b from the file", node(g, "b")->variant[0] == CLM_CONV_DIRECT, "");
  clm_graph_free(g);
  test_true("each compile warns again", log.count == 2 * per_compile, "");
  clm_context *tuned_ctx = ctx;
  clm_context_options no_tuning = opts;
  no_tuning.ignore_tuning = 1;
  ctx = test_context_with(&no_tuning);
  g = compile(1);
  test_true("CLMTL_TUNING=0 ignores the file", !node(g, "a")->variant_tuned && !node(g, "b")->variant_tuned, "");
  clm_graph_free(g);
  clm_context_free(ctx);
  ctx = tuned_ctx;

  /* a merge replaces the entry of the same key and mode, keeps the rest */
  clm_tuning_entry e = {0};
  snprintf(e.key, sizeof e.key, "%s", key_a);
  snprintf(e.mode, sizeof e.mode, "train");
  e.variant[0] = CLM_CONV_GEMM;
  e.variant[1] = CLM_CONV_GEMM;
  e.variant[2] = CLM_CONV_IMPLICIT;
  snprintf(e.comment, sizeof e.comment, "merged");
  test_status("merge", clm_tuning_merge(ctx, &e, 1));
  test_true("merged entry replaces", count_lines(path, " train ") == 2 && count_lines(path, "merged") == 1, path);
  test_true("per-pass entry written as three names", count_lines(path, "train gemm,gemm,implicit") == 1, path);
  test_true("other entries kept", count_lines(path, " infer ") == 2, path);
  g = compile(1);
  test_true("merged entry used", node(g, "a")->variant[0] == CLM_CONV_GEMM &&
                                     node(g, "a")->variant[2] == CLM_CONV_IMPLICIT, "");
  clm_graph_free(g);
  test_cpu_rule();

  clm_context_free(ctx);
  char rm[128];
  snprintf(rm, sizeof rm, "rm -rf '%s'", dir); /* the tuning file and the program cache */
  if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return test_finish();
}
