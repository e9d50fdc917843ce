/* `clmtl eval` and `clmtl infer`: a trained checkpoint (it carries its model text and
 * resolution) evaluated on a split, or run on image files to write pictures; and `clmtl
 * synth`, which writes synthetic scenes to disk in the CityScapes layout. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stb_image.h>
#include <stb_image_write.h>
#include "cli.h"
#include "clmtl/checkpoint.h"
#include "clmtl/infer.h"
#include "clmtl/train.h"
#include "data/png_check.h"
#include "train/feeds.h"

/* A graph rebuilt from a checkpoint's model text at its resolution, weights loaded; the
 * label set its classification tasks were trained on ("" when none is recorded). */
static clm_status load_model(clm_context *ctx, const char *path, int batch, clm_graph **out,
                             int *height, int *width, uint64_t *seed, char *label_set, size_t size) {
  clm_checkpoint_meta *meta = NULL;
  int n = 0;
  CLI_TRY(clm_checkpoint_read_meta(path, &meta, &n));
  const char *cfg = clm_checkpoint_meta_get(meta, n, "model_cfg");
  const char *h = clm_checkpoint_meta_get(meta, n, "height"), *w = clm_checkpoint_meta_get(meta, n, "width");
  const char *s = clm_checkpoint_meta_get(meta, n, "data_seed");
  const char *ls = clm_checkpoint_meta_get(meta, n, "label_set");
  snprintf(label_set, size, "%s", ls ? ls : "");
  clm_status st = CLM_OK;
  if (!cfg || !*cfg || !h || !w) {
    fprintf(stderr, "%s: no model text or resolution in its metadata (not written by clmtl train)\n", path);
    st = CLM_ERR_PARSE;
  }
  if (st == CLM_OK) {
    *height = atoi(h);
    *width = atoi(w);
    *seed = s ? strtoull(s, NULL, 10) : 1;
    char name[1100];
    snprintf(name, sizeof name, "%s:model_cfg", path);
    clm_graph_options o = {batch, *height, *width, 0, -1, 0};
    st = clm_graph_create(ctx, out);
    if (st == CLM_OK) st = clm_graph_parse(*out, cfg, name);
    if (st == CLM_OK) st = clm_graph_compile(*out, &o);
    if (st == CLM_OK) st = clm_checkpoint_load(path, *out, NULL, NULL, NULL);
    /* batch norm folded into the convolutions once, for every forward that follows */
    if (st == CLM_OK) st = clm_graph_prepare_inference(*out);
  }
  clm_checkpoint_meta_free(meta);
  return st;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* What constant predictors score on the split, to read the model's numbers against: the most
 * frequent class everywhere (pixel accuracy, mIoU over the classes present), zero instance
 * offsets (L1 per instance pixel), and the median disparity everywhere (MAE). */
static int print_baseline(clm_dataset *d) {
  int h, w, n = clm_dataset_count(d);
  clm_dataset_size(d, &h, &w);
  size_t hw = (size_t)h * w;
  clm_sample s;
  if (clm_sample_alloc(&s, h, w) != CLM_OK) return 1;
  double hist[256] = {0}, inst_l1 = 0, inst_px = 0;
  float *disp = malloc((size_t)n * hw * sizeof *disp), *offs = malloc(2 * hw * sizeof *offs), *mask = malloc(hw * sizeof *mask);
  size_t nd = 0;
  int rc = !disp || !offs || !mask;
  for (int i = 0; i < n && !rc; i++) {
    if (clm_dataset_load(d, i, &s) != CLM_OK) { rc = 1; break; }
    clm_instance_targets(&s, offs, mask);
    for (size_t p = 0; p < hw; p++) {
      int c = (int)s.semantic[p];
      if (c >= 0 && c < 255) hist[c]++;
      if (mask[p] > 0) { inst_l1 += fabs(offs[p]) + fabs(offs[hw + p]); inst_px++; }
      if (s.depth_valid[p] > 0) disp[nd++] = s.depth[p];
    }
  }
  if (!rc) {
    int best = 0, present = 0;
    double total = 0;
    for (int c = 0; c < 255; c++) { total += hist[c]; if (hist[c] > hist[best]) best = c; present += hist[c] > 0; }
    /* predicting `best` everywhere: its IoU is hist[best]/total, every other class's IoU 0 */
    qsort(disp, nd, sizeof *disp, cmp_float);
    float med = nd ? disp[nd / 2] : 0;
    double mae = 0;
    for (size_t i = 0; i < nd; i++) mae += fabs(disp[i] - med);
    printf("constant predictors on the same split: class %d everywhere: pixel acc %.1f%%, mIoU %.1f%%; "
           "zero offsets: instance L1/px %.3f; median disparity %.3f: depth MAE %.4f\n",
           best, 100 * hist[best] / total, 100 * hist[best] / total / present, inst_px ? inst_l1 / inst_px : 0,
           med, nd ? mae / (double)nd : 0);
  }
  free(disp); free(offs); free(mask);
  clm_sample_free(&s);
  return rc;
}

int cmd_eval(int argc, char **argv) {
  const char *ckpt = NULL, *data = NULL, *device = NULL, *labels = NULL;
  clm_split split = CLM_SPLIT_VAL;
  int count = 64, batch = 4, baseline = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--model") && v) ckpt = argv[++i];
    else if (!strcmp(a, "--data") && v) data = argv[++i];
    else if (!strcmp(a, "--device") && v) device = argv[++i];
    else if (!strcmp(a, "--count") && v) count = atoi(argv[++i]);
    else if (!strcmp(a, "--batch") && v) batch = atoi(argv[++i]);
    else if (!strcmp(a, "--labels") && v) labels = argv[++i];
    else if (!strcmp(a, "--baseline")) baseline = 1;
    else if (!strcmp(a, "--split") && v) {
      i++;
      if (!strcmp(v, "train")) split = CLM_SPLIT_TRAIN;
      else if (!strcmp(v, "val")) split = CLM_SPLIT_VAL;
      else if (!strcmp(v, "test")) split = CLM_SPLIT_TEST;
      else return cli_usage_error("--split is train, val or test");
    } else {
      fprintf(stderr, "usage: clmtl eval --model CKPT.safetensors [--data DIR] [--split val|test|train]\n"
                      "                  [--labels categories|trainids (default: the checkpoint's)]\n"
                      "                  [--count N (synthetic)] [--batch N] [--device D] [--baseline]\n");
      return 2;
    }
  }
  if (!ckpt) return cli_usage_error("'eval' needs --model CKPT.safetensors");
  if (count < 1 || batch < 1) return cli_usage_error("--count and --batch must be positive");
  if (labels && !clm_label_set_find(labels)) return cli_usage_error("--labels is categories or trainids");
  clm_context *ctx = NULL;
  clm_graph *g = NULL;
  clm_dataset *d = NULL;
  clm_metrics *m = NULL;
  clm_feeds feeds;
  int h, w, rc = 1;
  uint64_t seed;
  char trained[64];
  if (clm_context_create(device, &ctx) != CLM_OK ||
      load_model(ctx, ckpt, batch, &g, &h, &w, &seed, trained, sizeof trained) != CLM_OK)
    goto done;
  /* the label set: the checkpoint's, which --labels may repeat but not contradict */
  if (labels && trained[0] && strcmp(labels, trained)) {
    fprintf(stderr, "clmtl eval: %s was trained on label set '%s'; --labels %s disagrees\n", ckpt, trained, labels);
    rc = 2;
    goto quiet;
  }
  const clm_label_set *ls = clm_label_set_find(labels ? labels : trained);
  clm_label_mode mode = ls && !strcmp(ls->name, "trainids") ? CLM_LABELS_TRAIN_IDS : CLM_LABELS_CATEGORIES;
  if (data) {
    clm_cityscapes_options c = {data, split, h, w, mode, 0};
    if (clm_cityscapes_open(&c, &d) != CLM_OK) goto done;
  } else {
    clm_synth_options s = {seed, count, h, w, 0, 0, 0};
    if (clm_synth_open(&s, split, &d) != CLM_OK) goto done;
  }
  const clm_target_info *targets;
  int nt = clm_dataset_targets(d, &targets);
  if (clm_feeds_bind(g, targets, nt, 0, &feeds) != CLM_OK) goto done;
  if (trained[0] && feeds.labels && strcmp(feeds.labels->name, trained)) {
    fprintf(stderr, "clmtl eval: %s was trained on label set '%s', the %s data has '%s'\n", ckpt, trained,
            data ? data : "synthetic", feeds.labels->name);
    goto quiet;
  }
  for (int i = 0; i < feeds.nnotes; i++) fprintf(stderr, "clmtl eval: %s\n", feeds.notes[i]);
  double losses[CLM_MTL_MAX_TASKS];
  if (clm_metrics_for_graph(g, &m) != CLM_OK || clm_evaluate(g, &feeds, d, m, losses) != CLM_OK) goto done;
  printf("%s on %s %s (%d samples, %dx%d), %s%s%s\n", ckpt, data ? data : "synthetic", clm_split_name(split),
         clm_dataset_count(d), h, w, clm_context_device(ctx)->name, feeds.labels ? ", labels " : "",
         feeds.labels ? feeds.labels->name : "");
  char line[512];
  clm_metrics_kind last = (clm_metrics_kind)-1;
  for (int i = 0; i < clm_graph_loss_count(g); i++) {
    clm_metrics_report r;
    if (clm_metrics_result(m, i, &r) != CLM_OK) goto done;
    if (r.kind != last) {
      clm_metrics_format_header(r.kind, line, sizeof line);
      printf("%s  %10s\n", line, "loss");
      last = r.kind;
    }
    clm_metrics_format_row(clm_metrics_task_name(m, i), &r, line, sizeof line);
    printf("%s  %10.4f\n", line, losses[i]);
  }
  rc = baseline ? print_baseline(d) : 0;
done:
  if (rc) fprintf(stderr, "clmtl eval: %s\n", clm_last_error());
quiet:
  clm_metrics_free(m);
  clm_dataset_free(d);
  clm_graph_free(g);
  clm_context_free(ctx);
  return rc;
}

int cmd_synth(int argc, char **argv) {
  const char *out = NULL;
  clm_synth_options s = {1, 16, 128, 256, 0, 0, 0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--out") && i + 1 < argc) out = argv[++i];
    else if (!strcmp(a, "--count") && i + 1 < argc) s.count = atoi(argv[++i]);
    else if (!strcmp(a, "--seed") && i + 1 < argc) s.seed = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(a, "--size") && i + 1 < argc) {
      if (sscanf(argv[++i], "%dx%d", &s.height, &s.width) != 2) return cli_usage_error("--size wants HxW");
    } else {
      fprintf(stderr, "usage: clmtl synth --out DIR [--count N per split] [--size HxW] [--seed N]\n");
      return 2;
    }
  }
  if (!out) return cli_usage_error("'synth' needs --out DIR");
  if (s.count < 1 || s.height < 8 || s.width < 8) return cli_usage_error("--count and --size must be positive");
  if (clm_synth_write(out, &s) != CLM_OK) {
    fprintf(stderr, "clmtl synth: %s\n", clm_last_error());
    return 1;
  }
  printf("wrote %d scenes per split (train, val, test) at %dx%d under %s in the CityScapes layout\n",
         s.count, s.height, s.width, out);
  return 0;
}
