/* Binding graph inputs to data arrays by name (src/train/feeds.c), on small models written in
 * the test: what binds where (renamed image input, a 1-channel input given the image's luma,
 * checked against 0.299 R + 0.587 G + 0.114 B in double; targets and masks; pad values), what
 * is refused and how the message reads (layer, task, file and line, both sides), and a task
 * whose target the data knows but lacks (a CityScapes tree without disparity). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_util.h"
#include "clmtl/feeds.h"

static const char *HEAD =
    "[%s]\ntype = input\nchannels = %d\n\n"
    "[body]\ntype = conv\nfrom = %s\nfilters = 4\nsize = 3\nact = relu\n\n";

/* A graph of an input layer `in` with `channels`, a conv, and the text `rest`; compiled at
 * 1 x 8 x 8. Returns NULL (recorded as a failure) when it does not compile. */
static clm_graph *build(clm_context *ctx, const char *in, int channels, const char *rest) {
  char text[4096];
  int n = snprintf(text, sizeof text, HEAD, in, channels, in);
  snprintf(text + n, sizeof text - (size_t)n, "%s", rest);
  clm_graph *g = NULL;
  clm_graph_options o = {1, 8, 8, 0, -1, 0};
  clm_status st = clm_graph_create(ctx, &g);
  if (st == CLM_OK) st = clm_graph_parse(g, text, "user.cfg");
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  if (st != CLM_OK) {
    test_status("compile the test model", st);
    clm_graph_free(g);
    return NULL;
  }
  return g;
}

static const char *SEG = "[head]\ntype = conv\nfrom = body\nfilters = %d\nsize = 1\n\n"
                         "[task.seg]\ntype = softmax_xent\nfrom = head\ntarget = semantic\n";
static const char *DEPTH = "[dhead]\ntype = conv\nfrom = body\nfilters = %d\nsize = 1\n\n"
                           "[task.dep]\ntype = l1\nfrom = dhead\ntarget = depth\nmask = depth_mask\n";

/* Binds a model of input (in, channels) and heads `rest` (a format with one %d) to targets. */
static clm_status bind(clm_context *ctx, const char *in, int channels, const char *rest, int width,
                       clm_label_mode mode, int has_depth, clm_feeds *f) {
  char heads[1024];
  snprintf(heads, sizeof heads, rest, width);
  clm_graph *g = build(ctx, in, channels, heads);
  if (!g) return CLM_ERR_PARSE;
  const clm_target_info *known;
  int n = clm_data_targets_known(mode, &known);
  static clm_target_info t[8]; /* the feeds point into it */
  memcpy(t, known, (size_t)n * sizeof *t);
  for (int i = 0; i < n && !has_depth; i++)
    if (!strncmp(t[i].name, "depth", 5)) t[i].available = 0;
  clm_status st = clm_feeds_bind(g, t, n, 0, f);
  clm_graph_free(g);
  return st;
}

static const clm_feed *feed(const clm_feeds *f, const char *layer) {
  for (int i = 0; i < f->count; i++)
    if (!strcmp(f->feed[i].layer, layer)) return &f->feed[i];
  return NULL;
}

int main(void) {
  clm_context *ctx = test_context();
  clm_feeds f;
  /* binds: a renamed RGB input, a label target padded with the ignore label */
  test_status("'pixels' (3 channels) and a 7-class head on categories",
              bind(ctx, "pixels", 3, SEG, 7, CLM_LABELS_CATEGORIES, 1, &f));
  const clm_feed *px = feed(&f, "pixels"), *sem = feed(&f, "semantic");
  test_true("'pixels' takes the image, 'semantic' the labels, padded with 255",
            f.count == 2 && px && !strcmp(px->source->name, "image") && !px->luma && px->channels == 3 &&
                sem && sem->source->kind == CLM_TARGET_LABELS && sem->pad == 255.0f &&
                f.labels && !strcmp(f.labels->name, "categories"), NULL);
  test_status("a 19-class head on train ids", bind(ctx, "input", 3, SEG, 19, CLM_LABELS_TRAIN_IDS, 1, &f));
  test_status("a 9-class head (wider) on categories", bind(ctx, "input", 3, SEG, 9, CLM_LABELS_CATEGORIES, 1, &f));

  /* refused, with both sides named */
  test_expect("a 7-class head on train ids", bind(ctx, "input", 3, SEG, 7, CLM_LABELS_TRAIN_IDS, 1, &f),
              CLM_ERR_SHAPE, "task 'seg' (layer 'task.seg', from 'head'): the head 'head' has 7 classes, "
              "the data's 'semantic' labels (label set 'trainids') have 19 classes");
  test_expect("a 4-channel input", bind(ctx, "rgbx", 4, SEG, 7, CLM_LABELS_CATEGORIES, 1, &f), CLM_ERR_SHAPE,
              "user.cfg:1: input layer 'rgbx' takes 4 channels, but the data's 'image' (image) has 3");
  test_expect("a 2-channel depth head", bind(ctx, "input", 3, DEPTH, 2, CLM_LABELS_CATEGORIES, 1, &f),
              CLM_ERR_SHAPE, "its target 'depth' needs 2 channels (the prediction 'dhead' has 2), the data's 'depth' has 1");
  test_expect("regression on labels",
              bind(ctx, "input", 3, "[h]\ntype = conv\nfrom = body\nfilters = %d\nsize = 1\n\n"
                   "[task.r]\ntype = l2\nfrom = h\ntarget = semantic\n", 1, CLM_LABELS_CATEGORIES, 1, &f),
              CLM_ERR_INVALID_ARG, "wants values as target 'semantic', but the data's 'semantic' is labels");
  test_expect("softmax on values",
              bind(ctx, "input", 3, "[h]\ntype = conv\nfrom = body\nfilters = %d\nsize = 1\n\n"
                   "[task.c]\ntype = softmax_xent\nfrom = h\ntarget = depth\n", 4, CLM_LABELS_CATEGORIES, 1, &f),
              CLM_ERR_INVALID_ARG, "softmax_xent wants class labels as target 'depth', but the data's 'depth' is values");
  test_expect("another ignore label",
              bind(ctx, "input", 3, "[h]\ntype = conv\nfrom = body\nfilters = %d\nsize = 1\n\n"
                   "[task.c]\ntype = softmax_xent\nfrom = h\ntarget = semantic\nignore = 0\n", 7, CLM_LABELS_CATEGORIES, 1, &f),
              CLM_ERR_INVALID_ARG, "ignores label 0, the data's 'semantic' marks unlabelled pixels with 255");
  test_expect("a target the data does not offer",
              bind(ctx, "input", 3, "[h]\ntype = conv\nfrom = body\nfilters = %d\nsize = 1\n\n"
                   "[task.n]\ntype = l1\nfrom = h\ntarget = normals\n", 3, CLM_LABELS_CATEGORIES, 1, &f),
              CLM_ERR_NOT_FOUND, "task 'n' (layer 'task.n', from 'h'): its target 'normals' (3 channels of values) is not offered");

  /* a target the data lacks: noted, no valid target; without a mask it cannot be left out */
  test_status("depth on a tree without disparity", bind(ctx, "input", 3, DEPTH, 1, CLM_LABELS_CATEGORIES, 0, &f));
  test_true("the task is noted and marked unavailable",
            f.nnotes == 1 && !f.available[0] && strstr(f.notes[0], "lacks 'depth'") &&
                strstr(f.notes[0], "left out of the validation loss"), f.nnotes ? f.notes[0] : "no note");
  test_expect("unmasked depth on a tree without disparity",
              bind(ctx, "input", 3, "[h]\ntype = conv\nfrom = body\nfilters = %d\nsize = 1\n\n"
                   "[task.d]\ntype = l1\nfrom = h\ntarget = depth\n", 1, CLM_LABELS_CATEGORIES, 0, &f),
              CLM_ERR_NOT_FOUND, "this dataset lacks its target 'depth', and the task has no mask");

  /* a 1-channel input gets the luma, and a missing array is zeros */
  test_status("a 1-channel input", bind(ctx, "grey", 1, DEPTH, 1, CLM_LABELS_CATEGORIES, 0, &f));
  const clm_feed *grey = feed(&f, "grey"), *dep = feed(&f, "depth");
  test_true("it is fed the luma", grey && grey->luma && grey->channels == 1, NULL);
  clm_sample s;
  clm_sample_alloc(&s, 8, 8);
  test_rng r = test_rng_make(9);
  test_fill(&r, s.image, 3 * 64, 0, 1);
  test_fill(&r, s.depth, 64, 0.5f, 2);
  float out[64], rgb[3 * 64];
  double err = 0;
  if (grey) {
    test_status("fill the luma", clm_feed_fill(grey, &s, out, rgb));
    for (int i = 0; i < 64; i++)
      err = fmax(err, fabs(out[i] - (0.299 * s.image[i] + 0.587 * s.image[64 + i] + 0.114 * s.image[128 + i])));
  }
  test_check("luma = 0.299 R + 0.587 G + 0.114 B", err, 1e-6);
  int zeros = 1;
  if (dep) {
    clm_feed_fill(dep, &s, out, rgb);
    for (int i = 0; i < 64; i++) zeros &= out[i] == 0.0f;
  }
  test_true("a target the dataset lacks is filled with zeros", dep && zeros, NULL);
  clm_sample_free(&s);
  clm_context_free(ctx);
  return test_finish();
}
