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
#include "train/feeds.h"

/* A graph rebuilt from a checkpoint's model text at its resolution, weights loaded; the
 * label set its classification tasks were trained on ("" when none is recorded). */
static clm_status load_model(clm_context *ctx, const char *path, int batch, clm_graph **out,
                             int *height, int *width, uint64_t *seed, char *label_set, size_t size) {
  clm_checkpoint_meta *meta = NULL;
  int n = 0;
  CLI_TRY(clm_checkpoint_read_meta(path, &meta, &n));
  const char *cfg = clm_checkpoint_meta_get(meta, n, "model_cfg");
  const char *ls = clm_checkpoint_meta_get(meta, n, "label_set");
  snprintf(label_set, size, "%s", ls ? ls : "");
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
  if (cli_context_create(device, &ctx) != CLM_OK ||
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

/* outdir/<stem>_<name><ext> in a malloc'd string, never truncated (NULL: out of memory). */
static char *out_path(const char *outdir, const char *stem, const char *name, const char *ext) {
  size_t n = strlen(stem) + strlen(name) + strlen(ext) + 2;
  char *file = malloc(n);
  if (!file) return NULL;
  snprintf(file, n, "%s_%s%s", stem, name, ext);
  char *path = clm_path_join(outdir, file);
  free(file);
  return path;
}

static int write_png(const char *path, int h, int w, int comp, const unsigned char *px) {
  if (!stbi_write_png(path, w, h, comp, px, w * comp)) {
    fprintf(stderr, "clmtl infer: cannot write %s\n", path);
    return 1;
  }
  return 0;
}

/* Raw float32 values (C, H, W) as a NumPy .npy file (format 1.0, little-endian). */
static int write_npy(const char *path, int c, int h, int w, const float *v) {
  char head[128];
  int n = snprintf(head, sizeof head, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d, %d), }", c, h, w);
  int total = ((10 + n + 1 + 63) / 64) * 64; /* magic, version, length, dict, '\n': to 64 bytes */
  FILE *f = fopen(path, "wb");
  if (!f) {
    fprintf(stderr, "clmtl infer: cannot write %s: %s\n", path, strerror(errno));
    return 1;
  }
  unsigned short hl = (unsigned short)(total - 10);
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 255), (unsigned char)(hl >> 8)};
  fwrite(pre, 1, 10, f);
  fwrite(head, 1, (size_t)n, f);
  for (int i = 10 + n; i < total - 1; i++) fputc(' ', f);
  fputc('\n', f);
  size_t count = (size_t)c * h * w;
  int bad = fwrite(v, sizeof *v, count, f) != count;
  bad |= fclose(f) != 0;
  if (bad) fprintf(stderr, "clmtl infer: cannot write %s\n", path);
  return bad;
}

/* One task's output as infer writes it. */
typedef struct infer_task {
  const clm_layer *loss;
  const char *name;
  clm_tensor pred;
  float *values;           /* (C, H, W) downloaded */
  uint8_t *rgb;            /* (H, C·W, 3): one tile per channel for values, else (H, W, 3) */
  int form;                /* 0 classes, 1 instances, 2 values */
} infer_task;

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
  int h, w, rc = 1, k = 0, cls_task = -1;
  uint64_t seed;
  char label_set[64];
  infer_task tasks[CLM_METRICS_MAX_TASKS];
  memset(tasks, 0, sizeof tasks);
  float *img = NULL, *conv = NULL;
  unsigned char *rgb = NULL, *panel = NULL;
  uint8_t *cls = NULL, *palette = NULL;
  int32_t *ids = NULL;
  clm_feeds feeds;
  if (cli_context_create(device, &ctx) != CLM_OK ||
      load_model(ctx, ckpt, 1, &g, &h, &w, &seed, label_set, sizeof label_set) != CLM_OK) {
    fprintf(stderr, "clmtl infer: %s\n", clm_last_error());
    goto done;
  }
  /* the image inputs, found from the graph; outputs sized from each task's prediction */
  const clm_target_info *known;
  clm_label_mode mode = !strcmp(label_set, "trainids") ? CLM_LABELS_TRAIN_IDS : CLM_LABELS_CATEGORIES;
  int nknown = clm_data_targets_known(mode, &known);
  if (clm_feeds_bind(g, known, nknown, 1, &feeds) != CLM_OK) {
    fprintf(stderr, "clmtl infer: %s\n", clm_last_error());
    goto done;
  }
  k = clm_graph_loss_count(g);
  size_t hw = (size_t)h * w;
  int ok = (img = malloc(3 * hw * sizeof *img)) && (conv = malloc(3 * hw * sizeof *conv)) &&
           (rgb = malloc(3 * hw)) && (panel = malloc((size_t)(k + 1) * 3 * hw)) && (cls = malloc(hw)) &&
           (ids = malloc(hw * sizeof *ids)) && (palette = malloc(3 * CLM_METRICS_MAX_CLASSES));
  for (int i = 0; i < k && ok; i++) {
    infer_task *t = &tasks[i];
    t->loss = clm_graph_loss_layer(g, i);
    t->name = clm_feeds_task_name(t->loss);
    if (clm_graph_tensor(g, t->loss->from[0], &t->pred) != CLM_OK) {
      fprintf(stderr, "clmtl infer: %s\n", clm_last_error());
      goto done;
    }
    const clm_target_info *src = NULL;
    for (int j = 0; j < nknown; j++)
      if (!strcmp(known[j].name, t->loss->target)) src = &known[j];
    t->form = t->loss->type == CLM_LAYER_SOFTMAX_XENT ? 0
              : src && src->kind == CLM_TARGET_OFFSETS && t->pred.c == 2 ? 1 : 2;
    if (t->form == 0 && t->pred.c > CLM_METRICS_MAX_CLASSES) {
      fprintf(stderr, "clmtl infer: task '%s' has %d classes, more than the %d an 8-bit label image holds\n",
              t->name, t->pred.c, CLM_METRICS_MAX_CLASSES);
      goto done;
    }
    if (t->form == 0 && cls_task < 0) cls_task = i;
    ok = (t->values = malloc((size_t)t->pred.c * hw * sizeof *t->values)) &&
         (t->rgb = malloc((size_t)(t->form == 2 ? t->pred.c : 1) * 3 * hw));
  }
  if (!ok) {
    fprintf(stderr, "clmtl infer: out of host memory\n");
    goto done;
  }
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
    /* grey, grey + alpha and RGBA are read as RGB, as the CityScapes reader does */
    unsigned char *src = stbi_load(argv[i], &sw, &sh, &ch, 3);
    if (!src) {
      fprintf(stderr, "clmtl infer: %s: cannot decode (%s)\n", argv[i], stbi_failure_reason());
      rc = 1;
      continue;
    }
    resize_rgb(src, sh, sw, img, h, w);
    stbi_image_free(src);
    clm_status st = CLM_OK;
    for (int f = 0; f < feeds.count && st == CLM_OK; f++) {
      clm_image_convert(img, hw, feeds.feed[f].luma ? 1 : 3, conv);
      st = clm_graph_set_input(g, feeds.feed[f].layer, conv);
    }
    if (st == CLM_OK) st = clm_graph_forward(g);
    for (int t = 0; t < k && st == CLM_OK; t++) st = clm_tensor_download(ctx, &tasks[t].pred, tasks[t].values);
    if (st != CLM_OK) {
      fprintf(stderr, "clmtl infer: %s: %s\n", argv[i], clm_last_error());
      rc = 1;
      break;
    }
    const char *base = strrchr(argv[i], '/');
    base = base ? base + 1 : argv[i];
    char stem[512];
    snprintf(stem, sizeof stem, "%s", base); /* a file name: at most NAME_MAX (255) bytes */
    char *dot = strrchr(stem, '.');
    if (dot) *dot = '\0';
    clm_image_to_rgb(img, h, w, rgb);
    const uint8_t *parts[CLM_METRICS_MAX_TASKS + 1] = {rgb};
    if (cls_task >= 0) clm_argmax_classes(tasks[cls_task].values, tasks[cls_task].pred.c, h, w, cls);
    printf("%s ->", argv[i]);
    for (int t = 0; t < k; t++) {
      infer_task *tk = &tasks[t];
      int c = tk->pred.c;
      char *path = out_path(outdir, stem, tk->name, ".png");
      if (!path) { rc = 1; break; }
      if (tk->form == 0) { /* colours, and the label ids as an 8-bit grey PNG */
        uint8_t *labels = (uint8_t *)ids;
        clm_argmax_classes(tk->values, c, h, w, labels);
        clm_class_palette(label_set, c, palette);
        clm_colorize_classes(labels, h, w, palette, c, tk->rgb);
        rc |= write_png(path, h, w, 3, tk->rgb);
        free(path);
        path = out_path(outdir, stem, tk->name, "_labels.png");
        rc |= path ? write_png(path, h, w, 1, labels) : 1;
        printf(" %s_%s.png %s_%s_labels.png", stem, tk->name, stem, tk->name);
      } else if (tk->form == 1) { /* instances from the centroid votes of thing pixels */
        clm_cluster_options co = clm_cluster_defaults();
        uint32_t things = clm_thing_classes(label_set);
        if (cls_task < 0 || !things) { /* no classes to tell things from stuff: every pixel votes */
          memset(cls, 0, hw);
          things = 1;
        }
        co.thing_classes = things;
        int n = clm_cluster_instances(cls, tk->values, h, w, &co, ids);
        clm_colorize_instances(ids, h, w, tk->rgb);
        rc |= write_png(path, h, w, 3, tk->rgb);
        printf(" %s_%s.png (%d instances)", stem, tk->name, n < 0 ? 0 : n);
      } else { /* one colour-mapped tile per channel, side by side, and the raw values */
        uint8_t *tiles[CLM_METRICS_MAX_CLASSES];
        int ntiles = c < CLM_METRICS_MAX_CLASSES ? c : CLM_METRICS_MAX_CLASSES;
        for (int j = 0; j < ntiles; j++) tiles[j] = tk->rgb + (size_t)j * 3 * hw;
        for (int j = 0; j < ntiles; j++) clm_colorize_depth(tk->values + (size_t)j * hw, h, w, 0, tiles[j]);
        uint8_t *strip = malloc((size_t)ntiles * 3 * hw);
        if (!strip) { free(path); rc = 1; break; }
        clm_panel((const uint8_t *const *)tiles, ntiles, h, w, strip);
        rc |= write_png(path, h, ntiles * w, 3, strip);
        free(strip);
        free(path);
        path = out_path(outdir, stem, tk->name, ".npy");
        rc |= path ? write_npy(path, c, h, w, tk->values) : 1;
        printf(" %s_%s.png %s_%s.npy", stem, tk->name, stem, tk->name);
      }
      free(path);
      parts[t + 1] = tk->rgb; /* the first channel's tile for values */
    }
    clm_panel(parts, k + 1, h, w, panel);
    char *path = out_path(outdir, stem, "panel", ".png");
    rc |= path ? write_png(path, h, (k + 1) * w, 3, panel) : 1;
    free(path);
    printf(" %s_panel.png\n", stem);
  }
done:
  for (int t = 0; t < k; t++) { free(tasks[t].values); free(tasks[t].rgb); }
  free(img); free(conv); free(rgb); free(panel); free(cls); free(ids); free(palette);
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
