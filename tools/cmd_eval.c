/* `clmtl eval` and `clmtl infer`: a trained checkpoint (it carries its model text and
 * resolution) evaluated on a split, or run on image files to write pictures; and `clmtl
 * synth`, which writes synthetic scenes to disk in the CityScapes layout. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stb_image.h>
#include <stb_image_write.h>
#include "cli.h"
#include "clmtl/checkpoint.h"
#include "clmtl/infer.h"
#include "clmtl/rundir.h"
#include "clmtl/train.h"
#include "data/png_check.h"

/* A graph rebuilt from a checkpoint's model text at its resolution, weights loaded. */
static clm_status load_model(clm_context *ctx, const char *path, int batch, clm_graph **out,
                             int *height, int *width, uint64_t *seed) {
  clm_checkpoint_meta *meta = NULL;
  int n = 0;
  CLI_TRY(clm_checkpoint_read_meta(path, &meta, &n));
  const char *cfg = clm_checkpoint_meta_get(meta, n, "model_cfg");
  clm_status st = CLM_OK;
  if (!cfg || !*cfg) {
    fprintf(stderr, "%s: no model text in its metadata (not written by clmtl train)\n", path);
    st = CLM_ERR_PARSE;
  }
  /* the model text against its hash, and numbers with their ranges: messages name file and key */
  long long hh = 0, ww = 0, ss = 1;
  if (st == CLM_OK) st = clm_checkpoint_check_model(path, meta, n, NULL, NULL);
  if (st == CLM_OK) st = clm_checkpoint_meta_int(path, meta, n, "height", 1, 65536, &hh);
  if (st == CLM_OK) st = clm_checkpoint_meta_int(path, meta, n, "width", 1, 65536, &ww);
  if (st == CLM_OK && clm_checkpoint_meta_get(meta, n, "data_seed"))
    st = clm_checkpoint_meta_int(path, meta, n, "data_seed", 0, LLONG_MAX, &ss);
  char *name = st == CLM_OK ? malloc(strlen(path) + sizeof ":model_cfg") : NULL;
  if (st == CLM_OK && !name) st = CLM_ERR_HOST_MEMORY;
  if (st == CLM_OK) {
    *height = (int)hh;
    *width = (int)ww;
    *seed = (uint64_t)ss;
    sprintf(name, "%s:model_cfg", path);
    clm_graph_options o = {batch, *height, *width, 0, -1, 0};
    st = clm_graph_create(ctx, out);
    if (st == CLM_OK) st = clm_graph_parse(*out, cfg, name);
    if (st == CLM_OK) st = clm_graph_compile(*out, &o);
    if (st == CLM_OK) st = clm_checkpoint_load(path, *out, NULL, NULL, NULL);
    /* batch norm folded into the convolutions once, for every forward that follows */
    if (st == CLM_OK) st = clm_graph_prepare_inference(*out);
  }
  free(name);
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
  const char *ckpt = NULL, *data = NULL, *device = NULL;
  clm_split split = CLM_SPLIT_VAL;
  int count = 64, batch = 4, baseline = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--model") && v) ckpt = argv[++i];
    else if (!strcmp(a, "--data") && v) data = argv[++i];
    else if (!strcmp(a, "--device") && v) device = argv[++i];
    else if (!strcmp(a, "--count") && v) count = atoi(argv[++i]);
    else if (!strcmp(a, "--batch") && v) batch = atoi(argv[++i]);
    else if (!strcmp(a, "--baseline")) baseline = 1;
    else if (!strcmp(a, "--split") && v) {
      i++;
      if (!strcmp(v, "train")) split = CLM_SPLIT_TRAIN;
      else if (!strcmp(v, "val")) split = CLM_SPLIT_VAL;
      else if (!strcmp(v, "test")) split = CLM_SPLIT_TEST;
      else return cli_usage_error("--split is train, val or test");
    } else {
      fprintf(stderr, "usage: clmtl eval --model CKPT.safetensors [--data DIR] [--split val|test|train]\n"
                      "                  [--count N (synthetic)] [--batch N] [--device D] [--baseline]\n");
      return 2;
    }
  }
  if (!ckpt) return cli_usage_error("'eval' needs --model CKPT.safetensors");
  if (count < 1 || batch < 1) return cli_usage_error("--count and --batch must be positive");
  clm_context *ctx = NULL;
  clm_graph *g = NULL;
  clm_dataset *d = NULL;
  clm_metrics *m = NULL;
  int h, w, rc = 1;
  uint64_t seed;
  if (clm_context_create(device, &ctx) != CLM_OK || load_model(ctx, ckpt, batch, &g, &h, &w, &seed) != CLM_OK)
    goto done;
  if (data) {
    clm_cityscapes_options c = {data, split, h, w, CLM_LABELS_CATEGORIES, 0};
    if (clm_cityscapes_open(&c, &d) != CLM_OK) goto done;
  } else {
    clm_synth_options s = {seed, count, h, w, 0, 0, 0};
    if (clm_synth_open(&s, split, &d) != CLM_OK) goto done;
  }
  double losses[CLM_MTL_MAX_TASKS];
  if (clm_metrics_for_graph(g, &m) != CLM_OK || clm_evaluate(g, d, m, losses) != CLM_OK) goto done;
  printf("%s on %s %s (%d samples, %dx%d), %s\n", ckpt, data ? data : "synthetic", clm_split_name(split),
         clm_dataset_count(d), h, w, clm_context_device(ctx)->name);
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
  clm_metrics_free(m);
  clm_dataset_free(d);
  clm_graph_free(g);
  clm_context_free(ctx);
  return rc;
}

/* Bilinear resize of interleaved 8-bit RGB to planar float [0, 1] (half-pixel centres). */
static void resize_rgb(const unsigned char *src, int sh, int sw, float *dst, int h, int w) {
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      float fy = ((float)y + 0.5f) * (float)sh / (float)h - 0.5f, fx = ((float)x + 0.5f) * (float)sw / (float)w - 0.5f;
      fy = fy < 0 ? 0 : fy;
      fx = fx < 0 ? 0 : fx;
      int y0 = (int)fy, x0 = (int)fx, y1 = y0 + 1 < sh ? y0 + 1 : y0, x1 = x0 + 1 < sw ? x0 + 1 : x0;
      float ay = fy - (float)y0, ax = fx - (float)x0;
      for (int c = 0; c < 3; c++) {
        float v = (1 - ay) * ((1 - ax) * src[(y0 * sw + x0) * 3 + c] + ax * src[(y0 * sw + x1) * 3 + c]) +
                  ay * ((1 - ax) * src[(y1 * sw + x0) * 3 + c] + ax * src[(y1 * sw + x1) * 3 + c]);
        dst[((size_t)c * h + y) * w + x] = v / 255.0f;
      }
    }
}

static int write_png(const char *path, int h, int w, const unsigned char *rgb) {
  if (!stbi_write_png(path, w, h, 3, rgb, w * 3)) {
    fprintf(stderr, "clmtl infer: cannot write %s\n", path);
    return 1;
  }
  return 0;
}

int cmd_infer(int argc, char **argv) {
  const char *ckpt = NULL, *outdir = ".", *device = NULL;
  int first = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--model") && i + 1 < argc) ckpt = argv[++i];
    else if (!strcmp(argv[i], "--out") && i + 1 < argc) outdir = argv[++i];
    else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
    else if (argv[i][0] == '-') {
      fprintf(stderr, "usage: clmtl infer --model CKPT.safetensors [--out DIR] [--device D] IMAGE...\n");
      return 2;
    } else if (!first) first = i;
  }
  if (!ckpt || !first) return cli_usage_error("'infer' needs --model CKPT.safetensors and images");
  clm_context *ctx = NULL;
  clm_graph *g = NULL;
  int h, w, rc = 1;
  uint64_t seed;
  float *img = NULL, *logits = NULL, *offs = NULL, *disp = NULL;
  unsigned char *pics = NULL;
  uint8_t *cls = NULL;
  int32_t *ids = NULL;
  if (clm_context_create(device, &ctx) != CLM_OK || load_model(ctx, ckpt, 1, &g, &h, &w, &seed) != CLM_OK) {
    fprintf(stderr, "clmtl infer: %s\n", clm_last_error());
    goto done;
  }
  size_t hw = (size_t)h * w;
  img = malloc(3 * hw * sizeof *img);
  logits = malloc(CLM_METRICS_MAX_CLASSES * hw * sizeof *logits);
  offs = malloc(2 * hw * sizeof *offs);
  disp = malloc(hw * sizeof *disp);
  pics = malloc(4 * 3 * hw);
  cls = malloc(hw);
  ids = malloc(hw * sizeof *ids);
  if (!img || !logits || !offs || !disp || !pics || !cls || !ids) goto done;
  clm_graph_set_training(g, 0);
  rc = 0;
  for (int i = first; i < argc; i++) {
    if (argv[i][0] == '-') { i++; continue; }
    int sw, sh, ch;
    char why[512];
    if (clm_png_check(argv[i], why, sizeof why) != CLM_OK) {
      fprintf(stderr, "clmtl infer: %s\n", why);
      rc = 1;
      continue;
    }
    unsigned char *src = stbi_load(argv[i], &sw, &sh, &ch, 3);
    if (!src) {
      fprintf(stderr, "clmtl infer: %s: cannot decode (%s)\n", argv[i], stbi_failure_reason());
      rc = 1;
      continue;
    }
    resize_rgb(src, sh, sw, img, h, w);
    stbi_image_free(src);
    clm_tensor seg, inst, dep;
    if (clm_graph_set_input(g, "input", img) != CLM_OK || clm_graph_forward(g) != CLM_OK ||
        clm_graph_tensor(g, "seg_head", &seg) != CLM_OK || clm_graph_tensor(g, "instance_head", &inst) != CLM_OK ||
        clm_graph_tensor(g, "depth_head", &dep) != CLM_OK || clm_tensor_download(ctx, &seg, logits) != CLM_OK ||
        clm_tensor_download(ctx, &inst, offs) != CLM_OK || clm_tensor_download(ctx, &dep, disp) != CLM_OK) {
      fprintf(stderr, "clmtl infer: %s: %s\n", argv[i], clm_last_error());
      rc = 1;
      break;
    }
    unsigned char *rgb = pics, *segp = pics + 3 * hw, *instp = pics + 6 * hw, *depp = pics + 9 * hw;
    clm_image_to_rgb(img, h, w, rgb);
    clm_argmax_classes(logits, seg.c, h, w, cls);
    clm_colorize_semantic(cls, h, w, segp);
    int n = clm_cluster_instances(cls, offs, h, w, NULL, ids);
    clm_colorize_instances(ids, h, w, instp);
    clm_colorize_depth(disp, h, w, 0, depp);
    const uint8_t *panel_parts[4] = {rgb, segp, instp, depp};
    unsigned char *panel = malloc(4 * 3 * hw);
    if (!panel) { rc = 1; break; }
    clm_panel(panel_parts, 4, h, w, panel);
    const char *base = strrchr(argv[i], '/');
    base = base ? base + 1 : argv[i];
    char stem[512], file[600];
    snprintf(stem, sizeof stem, "%s", base); /* a file name: at most NAME_MAX (255) bytes */
    char *dot = strrchr(stem, '.');
    if (dot) *dot = '\0';
    const char *names[4] = {"segmentation", "instances", "depth", "panel"};
    const unsigned char *data[4] = {segp, instp, depp, panel};
    for (int k = 0; k < 4; k++) {
      snprintf(file, sizeof file, "%s_%s.png", stem, names[k]);
      char *path = clm_path_join(outdir, file);
      rc |= path ? write_png(path, h, k == 3 ? w * 4 : w, data[k]) : 1;
      free(path);
    }
    free(panel);
    printf("%s: %d instances -> %s/%s_{segmentation,instances,depth,panel}.png\n", argv[i], n, outdir, stem);
  }
done:
  free(img); free(logits); free(offs); free(disp); free(pics); free(cls); free(ids);
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
