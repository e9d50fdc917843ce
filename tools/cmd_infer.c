/* `clmtl infer`: a trained checkpoint run on images (PNG, JPEG; files, folders, @lists), every
 * output written at the input image's resolution, one set of files per task of the model, named
 * after the task, in formats other tools read (CityScapes label/instance/disparity PNGs, NumPy
 * .npy, a JSON per image), plus a captioned panel. The network runs at the checkpoint's
 * resolution (or --size), the image fitted by letterbox or stretch, or tiled with overlapping
 * windows whose predictions are blended; predictions are resized back (nearest for labels and
 * instance ids, bilinear for values). Picture composition: infer_panel.c; resizing, tiling,
 * encodings and image reading: src/infer/. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>
#include "cli.h"
#include "clmtl/infer.h"
#include "clmtl/rundir.h"
#include "infer_panel.h"
#include "clmtl/feeds.h"

static const char usage_text[] =
    "usage: clmtl infer --model CKPT.safetensors [options] INPUT...\n"
    "\n"
    "INPUT is an image (PNG or JPEG), a folder (its *.png, *.jpg, *.jpeg files, sorted by name,\n"
    "not recursive) or @LIST (a text file of paths, one a line, relative ones taken from the\n"
    "current directory; blank lines and lines starting with # are skipped). Every output is at\n"
    "the input image's resolution.\n"
    "\n"
    "options:\n"
    "  --out DIR            where to write (created if missing; default .)\n"
    "  --size HxW           run the network at this resolution (default: the checkpoint's)\n"
    "  --fit letterbox|stretch|tile\n"
    "                       letterbox (default): scale to fit, aspect ratio kept, padded with\n"
    "                       black; stretch: scale each direction to the network's resolution;\n"
    "                       tile: scale uniformly by max(net H / H, net W / W), so one side\n"
    "                       equals the network's and the other covers it (aspect ratio kept,\n"
    "                       no padding), cover that canvas with network-sized windows that\n"
    "                       overlap by at least a quarter of a window (the last one at the\n"
    "                       border), run the network on each (batch 1), and blend per pixel:\n"
    "                       the class logits (softmax taken after) and the regression values\n"
    "                       averaged over the windows covering the pixel, weighted by a tent\n"
    "                       min(i+1, n-i) along each side of a window (falls toward its edges);\n"
    "                       instances are clustered on the blended offsets\n"
    "  --raw                also write the raw predictions as NumPy float32 .npy arrays\n"
    "  --depth-range MIN,MAX  fixed colour scale for disparity pictures (default: 0 to the\n"
    "                       image's 99th percentile, stated on the panel's colour bar)\n"
    "  --device D           OpenCL device (see 'clmtl devices')\n"
    "  --help               this text\n"
    "\n"
    "files per image (STEM: the image's name without its extension; a STEM seen before gets\n"
    "-1, -2, ... appended in input order, so no two inputs share files), one set per task of\n"
    "the model, TASK being the task's name in the model file:\n"
    "  classification task (any softmax task):\n"
    "    STEM_TASK.png            colour-coded classes (the checkpoint's label-set colours)\n"
    "    STEM_TASK_labelIds.png   8-bit class ids of the checkpoint's label set\n"
    "    STEM_TASK_probs.npy      --raw: softmax probabilities (K, H, W), resized like the ids\n"
    "                             (nearest), so their argmax is the label image\n"
    "  instance task (target 'instance': offsets to the instance centre):\n"
    "    STEM_TASK.png            instances in distinct colours\n"
    "    STEM_instanceIds.png     16-bit CityScapes instance ids: class*1000 + k on the pixels\n"
    "                             of the k-th instance (from 0) of a thing class, the class id\n"
    "                             elsewhere (needs a classification task; TASK_ is added to the\n"
    "                             name for a second instance task)\n"
    "    STEM_TASK_offsets.npy    --raw: (dy, dx) to the instance centre (2, H, W), pixels of\n"
    "                             the input image\n"
    "  depth task (target 'depth', disparity in pixels):\n"
    "    STEM_TASK.png            colour-mapped disparity (near is bright)\n"
    "    STEM_TASK_disparity.png  16-bit CityScapes disparity: round(d*256) + 1, 0 where d <= 0\n"
    "    STEM_TASK.npy            --raw: disparity (1, H, W) float32\n"
    "  a heteroscedastic task (laplace_nll, gaussian_nll, logit_noise_xent) also gets its predicted\n"
    "  σ per pixel, in the units of its values (Laplace: √2·e^s, Gaussian and logit noise: e^(s/2),\n"
    "  s = the log-variance head):\n"
    "    STEM_TASK_sigma.png      colour-mapped σ, 0 to the image's 99th percentile (in the JSON)\n"
    "    STEM_TASK_sigma.npy      --raw: σ (C, H, W) float32\n"
    "    disparities and offsets are in pixels of the input image: the network's values scaled\n"
    "    by input width / network width (height for dy), as a disparity scales with the image\n"
    "    (tile: by input width / canvas width, height for dy)\n"
    "  other regression tasks:\n"
    "    STEM_TASK.png, STEM_TASK.npy  one colour-mapped tile per channel, and the values\n"
    "  STEM_panel.png             input, class overlay, instances, disparity, captioned, with a\n"
    "                             class legend and a colour bar (range and units)\n"
    "  STEM.json                  the image, the network's resolution and fit (tile: the\n"
    "                             canvas, the scale, the window starts, the blend), each\n"
    "                             task's files, and the instances (id, class id and name,\n"
    "                             pixels, bounding box, centroid)\n";

/* FORM_SIGMA: not a task but the log-variance head of a heteroscedastic task (laplace_nll,
 * gaussian_nll), written as that task's per-pixel σ map. */
enum { FORM_CLASSES = 0, FORM_INSTANCES = 1, FORM_DEPTH = 2, FORM_VALUES = 3, FORM_SIGMA = 4 };

/* One task's output, or the σ map of one (FORM_SIGMA). */
typedef struct infer_task {
  const char *name;
  clm_tensor pred; /* FORM_SIGMA: the log-variance s */
  int form;
  int likelihood;  /* FORM_SIGMA: 1 Laplace (σ = √2·e^s), 2 Gaussian (σ = e^{s/2}), 3 the
                      logit noise of logit_noise_xent (σ = e^{s/2}) */
  int owner;       /* FORM_SIGMA: the task it belongs to */
  float *net;      /* (C, h, w) as the network wrote it */
} infer_task;

/* The standard deviation a heteroscedastic head predicts from its log-variance s, with s
 * clamped as the loss clamps it (cl/loss.cl HETERO_S_MIN/MAX). */
static float sigma_of(float s, int likelihood) {
  s = s < -15.0f ? -15.0f : s > 15.0f ? 15.0f : s;
  return likelihood == 1 ? 1.41421356f * expf(s) : expf(0.5f * s);
}

/* ---- the list of inputs ------------------------------------------------------------------ */

typedef struct input_list {
  char **path, **stem;
  int count, cap;
} input_list;

static int list_add(input_list *l, const char *path) {
  if (l->count == l->cap) {
    int cap = l->cap ? 2 * l->cap : 16;
    char **p = realloc(l->path, (size_t)cap * sizeof *p);
    if (!p) return 1;
    l->path = p;
    char **s = realloc(l->stem, (size_t)cap * sizeof *s);
    if (!s) return 1;
    l->stem = s;
    l->cap = cap;
  }
  l->stem[l->count] = NULL;
  return !(l->path[l->count++] = strdup(path));
}

static int is_image_name(const char *name) {
  const char *dot = strrchr(name, '.');
  if (!dot || name[0] == '.') return 0;
  char ext[8] = "";
  for (int i = 0; i < 7 && dot[1 + i]; i++) ext[i] = (char)tolower((unsigned char)dot[1 + i]);
  return !strcmp(ext, "png") || !strcmp(ext, "jpg") || !strcmp(ext, "jpeg");
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A folder's images, sorted by name. */
static int add_folder(input_list *l, const char *dir) {
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "clmtl infer: cannot read folder %s: %s\n", dir, strerror(errno));
    return 1;
  }
  int first = l->count, rc = 0;
  struct dirent *e;
  while ((e = readdir(d)) && !rc) {
    if (!is_image_name(e->d_name)) continue;
    char *p = clm_path_join(dir, e->d_name);
    struct stat st;
    if (!p) rc = 1;
    else if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) rc = list_add(l, p);
    free(p);
  }
  closedir(d);
  qsort(l->path + first, (size_t)(l->count - first), sizeof *l->path, cmp_str);
  if (l->count == first) fprintf(stderr, "clmtl infer: note: folder %s holds no .png, .jpg or .jpeg file\n", dir);
  return rc;
}

static int add_list_file(input_list *l, const char *file) {
  FILE *f = fopen(file, "r");
  if (!f) {
    fprintf(stderr, "clmtl infer: cannot read list %s: %s\n", file, strerror(errno));
    return 1;
  }
  char *line = NULL;
  size_t cap = 0;
  int rc = 0;
  while (!rc && getline(&line, &cap, f) >= 0) {
    size_t n = strlen(line);
    while (n && isspace((unsigned char)line[n - 1])) line[--n] = '\0';
    char *p = line;
    while (isspace((unsigned char)*p)) p++;
    if (*p && *p != '#') rc = list_add(l, p);
  }
  free(line);
  fclose(f);
  return rc;
}

static int add_input(input_list *l, const char *arg) {
  if (arg[0] == '@') return add_list_file(l, arg + 1);
  struct stat st;
  if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) return add_folder(l, arg);
  return list_add(l, arg);
}

/* Stems: the base name without its extension; a stem already taken gets -1, -2, ... */
static int make_stems(input_list *l) {
  for (int i = 0; i < l->count; i++) {
    const char *base = strrchr(l->path[i], '/');
    base = base ? base + 1 : l->path[i];
    char stem[1024], cand[1100];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = '\0';
    snprintf(cand, sizeof cand, "%s", stem);
    for (int k = 1;; k++) {
      int taken = 0;
      for (int j = 0; j < i && !taken; j++) taken = !strcmp(l->stem[j], cand);
      if (!taken) break;
      snprintf(cand, sizeof cand, "%s-%d", stem, k);
    }
    if (!(l->stem[i] = strdup(cand))) return 1;
  }
  return 0;
}

static void list_free(input_list *l) {
  for (int i = 0; i < l->count; i++) { free(l->path[i]); free(l->stem[i]); }
  free(l->path);
  free(l->stem);
}

/* ---- per image ---------------------------------------------------------------------------- */

typedef struct infer_run {
  clm_context *ctx;
  clm_graph *g;
  clm_model_info model;
  clm_feeds feeds;
  infer_task task[CLM_METRICS_MAX_TASKS]; /* the tasks, then the σ maps of heteroscedastic ones */
  int k, cls_task;
  clm_fit fit;
  int raw;
  float depth_lo, depth_hi; /* hi <= lo: per image */
  const char *outdir;
  uint8_t palette[3 * CLM_METRICS_MAX_CLASSES];
  const char *names[CLM_METRICS_MAX_CLASSES];
  char name_buf[CLM_METRICS_MAX_CLASSES][16];
} infer_run;

static int lib_check(clm_status st) {
  if (st == CLM_OK) return 0;
  fprintf(stderr, "clmtl infer: %s\n", clm_last_error());
  return 1;
}

static int write_png8(const char *path, int h, int w, int comp, const uint8_t *px) {
  return lib_check(clm_png_write8(path, h, w, comp, px));
}

/* *path becomes outdir/<stem><suffix> (heap, never truncated; the previous one freed), and
 * "<stem><suffix>" is added to the JSON array of files. Nonzero when out of memory. */
static int out_path(const infer_run *r, const char *stem, const char *suffix, char **path, cJSON *files) {
  free(*path);
  *path = NULL;
  size_t n = strlen(stem) + strlen(suffix) + 1;
  char *file = malloc(n);
  if (file) {
    snprintf(file, n, "%s%s", stem, suffix);
    *path = clm_path_join(r->outdir, file);
    cJSON_AddItemToArray(files, cJSON_CreateString(file));
  }
  free(file);
  if (!*path) fprintf(stderr, "clmtl infer: out of host memory\n");
  return !*path;
}

/* Per-pixel softmax over K planes, in place. */
static void softmax_planes(float *v, int k, size_t hw) {
  for (size_t i = 0; i < hw; i++) {
    float m = v[i];
    for (int c = 1; c < k; c++) m = v[c * hw + i] > m ? v[c * hw + i] : m;
    double sum = 0;
    for (int c = 0; c < k; c++) sum += exp((double)(v[c * hw + i] - m));
    for (int c = 0; c < k; c++) v[c * hw + i] = (float)(exp((double)(v[c * hw + i] - m)) / sum);
  }
}

/* Sets the network's image inputs from img (3, H, W) in [0, 1] (conv: scratch of 3 H W) and runs
 * it; the tasks' predictions stay on the device. */
static clm_status forward_image(infer_run *r, const float *img, float *conv) {
  size_t hw = (size_t)r->model.height * r->model.width;
  clm_status st = CLM_OK;
  for (int f = 0; f < r->feeds.count && st == CLM_OK; f++) {
    clm_image_convert(img, hw, r->feeds.feed[f].luma ? 1 : 3, conv);
    st = clm_graph_set_input(r->g, r->feeds.feed[f].layer, conv);
  }
  return st == CLM_OK ? clm_graph_forward(r->g) : st;
}

/* --fit tile: planar (3, sh, sw) resampled onto the canvas (ch, cw) of clm_tile_canvas, the
 * network run on each window of clm_tile_layout, each task's predictions blended into
 * r->task[t].net (C, ch, cw) (src/infer/tile.c); starts along y and x added to jwin. img, conv:
 * scratch of the network's input size. Nonzero (printed) on failure. */
static int run_tiles(infer_run *r, const char *input, const float *planar, int sh, int sw, int ch, int cw,
                     float *img, float *conv, cJSON *jwin) {
  int nh = r->model.height, nw = r->model.width, ny = 0, nx = 0, cmax = 0, rc = 1;
  size_t chw = (size_t)ch * cw, nhw = (size_t)nh * nw;
  clm_status st = clm_tile_layout(ch, nh, NULL, 0, &ny);
  if (st == CLM_OK) st = clm_tile_layout(cw, nw, NULL, 0, &nx);
  if (st != CLM_OK) return lib_check(st);
  for (int t = 0; t < r->k; t++) cmax = r->task[t].pred.c > cmax ? r->task[t].pred.c : cmax;
  int *ys = malloc((size_t)ny * sizeof *ys), *xs = malloc((size_t)nx * sizeof *xs);
  float *canvas = malloc(3 * chw * sizeof *canvas), *win = malloc((size_t)cmax * nhw * sizeof *win);
  double *acc[CLM_METRICS_MAX_TASKS] = {0}, *wsum[CLM_METRICS_MAX_TASKS] = {0};
  int ok = ys && xs && canvas && win;
  for (int t = 0; t < r->k && ok; t++) {
    float *grown = realloc(r->task[t].net, (size_t)r->task[t].pred.c * chw * sizeof *grown);
    if (grown) r->task[t].net = grown;
    acc[t] = calloc((size_t)r->task[t].pred.c * chw, sizeof *acc[t]);
    wsum[t] = calloc(chw, sizeof *wsum[t]);
    ok = grown && acc[t] && wsum[t];
  }
  if (!ok) {
    fprintf(stderr, "clmtl infer: %s: out of host memory for tiles on a %d x %d canvas\n", input, cw, ch);
    goto done;
  }
  clm_tile_layout(ch, nh, ys, ny, &ny);
  clm_tile_layout(cw, nw, xs, nx, &nx);
  cJSON *jy = cJSON_AddArrayToObject(jwin, "y"), *jx = cJSON_AddArrayToObject(jwin, "x");
  for (int i = 0; i < ny; i++) cJSON_AddItemToArray(jy, cJSON_CreateNumber(ys[i]));
  for (int i = 0; i < nx; i++) cJSON_AddItemToArray(jx, cJSON_CreateNumber(xs[i]));
  clm_resize_bilinear(planar, 3, sh, sw, NULL, canvas, ch, cw, NULL);
  for (int iy = 0; iy < ny; iy++)
    for (int ix = 0; ix < nx; ix++) {
      for (int c = 0; c < 3; c++)
        for (int y = 0; y < nh; y++)
          memcpy(img + c * nhw + (size_t)y * nw, canvas + c * chw + (size_t)(ys[iy] + y) * cw + xs[ix],
                 (size_t)nw * sizeof *img);
      clm_status st = forward_image(r, img, conv);
      for (int t = 0; t < r->k && st == CLM_OK; t++) {
        st = clm_tensor_download(r->ctx, &r->task[t].pred, win);
        if (st == CLM_OK) clm_tile_accumulate(win, r->task[t].pred.c, nh, nw, ys[iy], xs[ix], acc[t], wsum[t], ch, cw);
      }
      if (st != CLM_OK) {
        fprintf(stderr, "clmtl infer: %s: window at y %d, x %d: %s\n", input, ys[iy], xs[ix], clm_last_error());
        goto done;
      }
    }
  for (int t = 0; t < r->k; t++) clm_tile_finish(acc[t], wsum[t], r->task[t].pred.c, ch, cw, r->task[t].net);
  rc = 0;
done:
  for (int t = 0; t < r->k; t++) { free(acc[t]); free(wsum[t]); }
  free(ys); free(xs); free(canvas); free(win);
  return rc;
}

/* What the per-task writers of one image share: the image (src, sh x sw), the predictions' grid
 * (h x w) and the box the image fills in it, scratch buffers, and what they fill in for the panel,
 * the JSON and the instance list. */
typedef struct image_job {
  infer_run *r;
  const char *stem;
  const uint8_t *src;
  int sh, sw, h, w;
  size_t shw, hw;
  clm_box box;
  double sy, sx; /* input pixels per prediction pixel */
  float *vals;
  uint8_t *cls_net, *cls_in, *lab;
  int32_t *ids_net, *ids_in;
  uint16_t *u16;
  int have_classes;
  char *path;
  panel_tile ptiles[CLM_METRICS_MAX_TASKS + 1];
  panel_legend legend;
  panel_bar bar;
  clm_instance_info *inst;
  int ninst, inst_task;
} image_job;

/* j->path becomes outdir/<stem>_<task name><tail>, added to the task's files. Nonzero when out
 * of memory (printed). */
static int task_file(image_job *j, const infer_task *tk, const char *tail, cJSON *files) {
  char suffix[256];
  snprintf(suffix, sizeof suffix, "_%s%s", tk->name, tail);
  return out_path(j->r, j->stem, suffix, &j->path, files);
}

/* A classification task: the colour image, the labelIds image, the probabilities with --raw,
 * the overlay tile and the legend. 0, or 1 after a failure (printed). */
static int write_classes(image_job *j, int t, uint8_t *tile, cJSON *files) {
  infer_run *r = j->r;
  infer_task *tk = &j->r->task[t];
  int c = tk->pred.c;
  int rc = 0;
  clm_argmax_classes(tk->net, c, j->h, j->w, j->cls_net);
  clm_resize_nearest(j->cls_net, 1, 1, j->h, j->w, &j->box, j->lab, j->sh, j->sw, NULL);
  clm_class_palette(r->model.label_set, c, r->palette);
  clm_colorize_classes(j->lab, j->sh, j->sw, r->palette, c, tile);
  if (task_file(j, tk, ".png", files)) return 1;
  rc |= write_png8(j->path, j->sh, j->sw, 3, tile);
  if (task_file(j, tk, "_labelIds.png", files)) return 1;
  rc |= write_png8(j->path, j->sh, j->sw, 1, j->lab);
  if (r->raw) {
    float *probs = malloc((size_t)c * j->hw * sizeof *probs);
    if (!probs) return 1;
    memcpy(probs, tk->net, (size_t)c * j->hw * sizeof *probs);
    softmax_planes(probs, c, j->hw);
    clm_resize_nearest(probs, sizeof *probs, c, j->h, j->w, &j->box, j->vals, j->sh, j->sw, NULL);
    free(probs);
    if (task_file(j, tk, "_probs.npy", files)) return 1;
    rc |= lib_check(clm_npy_write(j->path, c, j->sh, j->sw, j->vals));
  }
  /* the overlay: half the class colour, half the image; unknown classes show the image */
  for (size_t i = 0; i < j->shw; i++)
    for (int ch = 0; ch < 3; ch++)
      tile[3 * i + ch] = j->lab[i] < c ? (uint8_t)((tile[3 * i + ch] + j->src[3 * i + ch] + 1) / 2) : j->src[3 * i + ch];
  snprintf(j->ptiles[t + 1].caption, sizeof j->ptiles[t + 1].caption, "%s: classes", tk->name);
  if (!j->legend.classes) {
    for (int k = 0; k < c; k++) r->names[k] = clm_model_class_name(&r->model, k, r->name_buf[k], sizeof r->name_buf[k]);
    j->legend = (panel_legend){c, r->palette, r->names, tk->name};
  }
  return rc;
}

/* An instance task: the clustered instances coloured, CityScapes instanceIds (the first such
 * task also fills the instance list), offsets with --raw, the tile. */
static int write_instances(image_job *j, int t, uint8_t *tile, cJSON *files) {
  infer_run *r = j->r;
  infer_task *tk = &j->r->task[t];
  int rc = 0;
  clm_cluster_options co = clm_cluster_defaults();
  uint32_t things = clm_thing_classes(r->model.label_set);
  /* CityScapes instance ids (class·1000 + k) need each instance's class, and a label set
   * that says which classes are things; without one every pixel votes and no id image is made */
  int classed = j->have_classes && things;
  if (!classed) {
    memset(j->cls_net, 0, j->hw);
    things = 1;
  } else {
    clm_argmax_classes(r->task[r->cls_task].net, r->task[r->cls_task].pred.c, j->h, j->w, j->cls_net);
  }
  co.thing_classes = things;
  int n = 0;
  clm_status st = clm_cluster_instances(j->cls_net, tk->net, j->h, j->w, &co, j->ids_net, &n);
  if (st != CLM_OK) return lib_check(st);
  clm_resize_nearest(j->ids_net, sizeof *j->ids_net, 1, j->h, j->w, &j->box, j->ids_in, j->sh, j->sw, NULL);
  clm_colorize_instances(j->ids_in, j->sh, j->sw, tile);
  if (task_file(j, tk, ".png", files)) return 1;
  rc |= write_png8(j->path, j->sh, j->sw, 3, tile);
  if (classed && j->inst_task < 0) { /* CityScapes instance ids, and the instance list */
    free(j->inst);
    j->inst = calloc((size_t)n + 1, sizeof *j->inst);
    int found = 0;
    st = j->inst ? clm_instance_ids(j->cls_in, j->ids_in, j->sh, j->sw, j->u16, j->inst, n + 1, &found) : CLM_ERR_HOST_MEMORY;
    if (st != CLM_OK) return lib_check(st);
    j->ninst = found;
    j->inst_task = t;
    if (out_path(r, j->stem, "_instanceIds.png", &j->path, files)) return 1;
    rc |= lib_check(clm_png_write_gray16(j->path, j->sh, j->sw, j->u16));
  } else if (classed) {
    int m = 0;
    st = clm_instance_ids(j->cls_in, j->ids_in, j->sh, j->sw, j->u16, NULL, 0, &m);
    if (st != CLM_OK) return lib_check(st);
    if (task_file(j, tk, "_instanceIds.png", files)) return 1;
    rc |= lib_check(clm_png_write_gray16(j->path, j->sh, j->sw, j->u16));
  }
  if (r->raw) { /* offsets in pixels of the input image */
    clm_resize_bilinear(tk->net, 2, j->h, j->w, &j->box, j->vals, j->sh, j->sw, NULL);
    for (size_t i = 0; i < j->shw; i++) { j->vals[i] *= (float)j->sy; j->vals[j->shw + i] *= (float)j->sx; }
    if (task_file(j, tk, "_offsets.npy", files)) return 1;
    rc |= lib_check(clm_npy_write(j->path, 2, j->sh, j->sw, j->vals));
  }
  /* instances over the dimmed image */
  for (size_t i = 0; i < j->shw; i++)
    for (int ch = 0; ch < 3; ch++)
      tile[3 * i + ch] = j->ids_in[i] ? (uint8_t)((3 * tile[3 * i + ch] + 2 * j->src[3 * i + ch]) / 5)
                                  : (uint8_t)(j->src[3 * i + ch] * 2 / 5);
  snprintf(j->ptiles[t + 1].caption, sizeof j->ptiles[t + 1].caption, "%s: %d instances", tk->name, n);
  return rc;
}

/* A depth task: disparity coloured, as a 16-bit CityScapes disparity image and with --raw as
 * values; the tile and the colour bar. */
static int write_depth(image_job *j, int t, uint8_t *tile, cJSON *files) {
  infer_run *r = j->r;
  infer_task *tk = &j->r->task[t];
  int c = tk->pred.c;
  int rc = 0;
  clm_resize_bilinear(tk->net, c, j->h, j->w, &j->box, j->vals, j->sh, j->sw, NULL);
  for (size_t i = 0; i < j->shw; i++) j->vals[i] *= (float)j->sx; /* disparity in input pixels */
  float lo = r->depth_lo, hi = r->depth_hi;
  int fixed = hi > lo;
  if (!fixed) { lo = 0; hi = clm_depth_auto_max(j->vals, j->shw); }
  clm_colorize_values(j->vals, j->shw, lo, hi, tile);
  if (task_file(j, tk, ".png", files)) return 1;
  rc |= write_png8(j->path, j->sh, j->sw, 3, tile);
  clm_disparity_encode(j->vals, j->shw, j->u16);
  if (task_file(j, tk, "_disparity.png", files)) return 1;
  rc |= lib_check(clm_png_write_gray16(j->path, j->sh, j->sw, j->u16));
  if (r->raw) {
    if (task_file(j, tk, ".npy", files)) return 1;
    rc |= lib_check(clm_npy_write(j->path, 1, j->sh, j->sw, j->vals));
  }
  snprintf(j->ptiles[t + 1].caption, sizeof j->ptiles[t + 1].caption, "%s: disparity", tk->name);
  if (!j->bar.on) {
    j->bar = (panel_bar){1, lo, hi, ""};
    snprintf(j->bar.caption, sizeof j->bar.caption, "%s: disparity px, %s %.3g to %.3g", tk->name,
             fixed ? "fixed scale (--depth-range)" : "per-image scale, 0 to 99th percentile", lo, hi);
  }
  return rc;
}

/* A heteroscedastic task's σ map (FORM_SIGMA): σ per pixel and channel in the units of the
 * task's values (disparity: input pixels), coloured from 0 to the 99th percentile (named in the
 * JSON), and with --raw as values. */
static int write_sigma(image_job *j, int t, uint8_t *tile, cJSON *files, cJSON *jt) {
  infer_run *r = j->r;
  infer_task *tk = &r->task[t];
  int c = tk->pred.c, rc = 0;
  clm_resize_bilinear(tk->net, c, j->h, j->w, &j->box, j->vals, j->sh, j->sw, NULL);
  float unit = r->task[tk->owner].form == FORM_DEPTH ? (float)j->sx : 1.0f;
  for (size_t i = 0; i < (size_t)c * j->shw; i++) j->vals[i] = unit * sigma_of(j->vals[i], tk->likelihood);
  float hi = clm_depth_auto_max(j->vals, j->shw);
  clm_colorize_values(j->vals, j->shw, 0, hi, tile);
  static const char *const likelihoods[] = {"", "laplace", "gaussian", "logit_noise"};
  cJSON_AddStringToObject(jt, "likelihood", likelihoods[tk->likelihood]);
  cJSON *jr = cJSON_AddArrayToObject(jt, "png_range");
  cJSON_AddItemToArray(jr, cJSON_CreateNumber(0));
  cJSON_AddItemToArray(jr, cJSON_CreateNumber(hi));
  if (task_file(j, tk, "_sigma.png", files)) return 1;
  rc |= write_png8(j->path, j->sh, j->sw, 3, tile);
  if (r->raw) {
    if (task_file(j, tk, "_sigma.npy", files)) return 1;
    rc |= lib_check(clm_npy_write(j->path, c, j->sh, j->sw, j->vals));
  }
  snprintf(j->ptiles[t + 1].caption, sizeof j->ptiles[t + 1].caption, "%s: sigma, 0 to %.3g", tk->name, hi);
  return rc;
}

/* Any other regression: one colour-mapped tile per channel side by side, and the raw values. */
static int write_values(image_job *j, int t, uint8_t *tile, cJSON *files) {
  infer_task *tk = &j->r->task[t];
  int c = tk->pred.c;
  int rc = 0;
  clm_resize_bilinear(tk->net, c, j->h, j->w, &j->box, j->vals, j->sh, j->sw, NULL);
  uint8_t *strip = malloc((size_t)c * 3 * j->shw), *one = malloc(3 * j->shw);
  if (!strip || !one) { free(strip); free(one); return 1; }
  for (int k = 0; k < c; k++) {
    clm_colorize_depth(j->vals + (size_t)k * j->shw, j->sh, j->sw, 0, one);
    if (!k) memcpy(tile, one, 3 * j->shw);
    for (int y = 0; y < j->sh; y++)
      memcpy(strip + 3 * ((size_t)y * c * j->sw + (size_t)k * j->sw), one + 3 * (size_t)y * j->sw, 3 * (size_t)j->sw);
  }
  int bad = task_file(j, tk, ".png", files);
  if (!bad) bad = write_png8(j->path, j->sh, c * j->sw, 3, strip);
  free(strip);
  free(one);
  if (bad) return 1;
  if (task_file(j, tk, ".npy", files)) return 1;
  rc |= lib_check(clm_npy_write(j->path, c, j->sh, j->sw, j->vals));
  snprintf(j->ptiles[t + 1].caption, sizeof j->ptiles[t + 1].caption, "%s: channel 0 of %d", tk->name, c);
  return rc;
}

/* The instance list of the JSON: each instance's id, class, pixels, box and centroid. */
static void add_instances(const infer_run *r, const clm_instance_info *inst, int n, cJSON *jinst) {
  for (int i = 0; i < n; i++) {
    char nb[16];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", inst[i].id);
    cJSON_AddNumberToObject(o, "class", inst[i].cls);
    cJSON_AddStringToObject(o, "class_name", clm_model_class_name(&r->model, inst[i].cls, nb, sizeof nb));
    cJSON_AddNumberToObject(o, "pixels", (double)inst[i].pixels);
    cJSON *b = cJSON_AddObjectToObject(o, "bbox");
    cJSON_AddNumberToObject(b, "x0", inst[i].x0);
    cJSON_AddNumberToObject(b, "y0", inst[i].y0);
    cJSON_AddNumberToObject(b, "x1", inst[i].x1);
    cJSON_AddNumberToObject(b, "y1", inst[i].y1);
    cJSON *cen = cJSON_AddObjectToObject(o, "centroid");
    cJSON_AddNumberToObject(cen, "x", inst[i].cx);
    cJSON_AddNumberToObject(cen, "y", inst[i].cy);
    cJSON_AddItemToArray(jinst, o);
  }
}

/* The panel (input and every task's tile, legend, colour bar) and the JSON document of one
 * image, both named after its stem; the line that reports it. 0, or 1 after a failure
 * (printed). */
static int write_panel_and_json(image_job *j, const char *input, cJSON *doc) {
  uint8_t *panel = NULL;
  int ph, pw;
  if (panel_compose(j->ptiles, j->r->k + 1, j->sh, j->sw, &j->legend, &j->bar, &panel, &ph, &pw)) {
    fprintf(stderr, "clmtl infer: %s: out of host memory for the panel\n", input);
    return 1;
  }
  cJSON *other = cJSON_AddArrayToObject(doc, "files");
  int rc = out_path(j->r, j->stem, "_panel.png", &j->path, other);
  if (!rc) rc = write_png8(j->path, ph, pw, 3, panel);
  free(panel);
  if (rc || out_path(j->r, j->stem, ".json", &j->path, other)) return 1;
  char *text = cJSON_Print(doc);
  FILE *f = text ? fopen(j->path, "w") : NULL;
  if (!f || fputs(text, f) < 0 || fputc('\n', f) == EOF) rc = 1;
  if (f && fclose(f) != 0) rc = 1;
  if (!f || rc) fprintf(stderr, "clmtl infer: cannot write %s\n", j->path);
  free(text);
  if (!rc)
    printf("%s -> %s/%s.json (%dx%d%s%d instances)\n", input, j->r->outdir, j->stem, j->sw, j->sh,
           j->ninst >= 0 ? ", " : ", no instance ids, ", j->ninst > 0 ? j->ninst : 0);
  return rc;
}

static int infer_image(infer_run *r, const char *input, const char *stem) {
  /* the predictions lie on an h x w grid: the network's input, or the tile canvas */
  int sh, sw, nh = r->model.height, nw = r->model.width, h = nh, w = nw, rc = 0;
  double tile_scale = 0;
  uint8_t *src = NULL;
  if (lib_check(clm_image_read(input, &src, &sh, &sw))) return 1;
  if (r->fit == CLM_FIT_TILE && lib_check(clm_tile_canvas(sh, sw, nh, nw, &h, &w, &tile_scale))) {
    free(src);
    return 1;
  }
  size_t shw = (size_t)sh * sw, hw = (size_t)h * w, nhw = (size_t)nh * nw;
  clm_box box = r->fit == CLM_FIT_TILE ? (clm_box){0, 0, h, w} : clm_fit_box(sh, sw, nh, nw, r->fit);
  /* per-image buffers, at the input's resolution unless named net (the predictions' grid) */
  float *planar = malloc(3 * shw * sizeof *planar), *img = calloc(3 * nhw, sizeof *img),
        *conv = malloc(3 * nhw * sizeof *conv), *vals = NULL;
  uint8_t *cls_net = malloc(hw), *cls_in = malloc(shw), *lab = malloc(shw);
  int32_t *ids_net = malloc(hw * sizeof *ids_net), *ids_in = calloc(shw, sizeof *ids_in);
  uint16_t *u16 = malloc(shw * sizeof *u16);
  uint8_t *tiles[CLM_METRICS_MAX_TASKS + 1] = {0};
  int have_classes = 0;
  image_job job = {0}; /* filled in once the predictions are there; freed at done */
  job.ninst = job.inst_task = -1;
  cJSON *doc = cJSON_CreateObject(), *jtasks = cJSON_CreateArray(), *jinst = cJSON_CreateArray();
  size_t vcap = 3 * shw;
  for (int t = 0; t < r->k; t++) vcap = (size_t)r->task[t].pred.c * shw > vcap ? (size_t)r->task[t].pred.c * shw : vcap;
  vals = malloc(vcap * sizeof *vals);
  for (int t = 0; t <= r->k; t++) tiles[t] = malloc(3 * shw);
  int ok = planar && img && conv && vals && cls_net && cls_in && lab && ids_net && ids_in && u16 && doc && jtasks && jinst;
  for (int t = 0; t <= r->k; t++) ok = ok && tiles[t];
  if (!ok) {
    fprintf(stderr, "clmtl infer: %s: out of host memory (%d x %d)\n", input, sw, sh);
    rc = 1;
    goto done;
  }
  for (size_t i = 0; i < shw; i++)
    for (int c = 0; c < 3; c++) planar[c * shw + i] = (float)src[3 * i + c] / 255.0f;
  memcpy(tiles[0], src, 3 * shw);
  cJSON_AddStringToObject(doc, "image", input);
  cJSON_AddNumberToObject(doc, "height", sh);
  cJSON_AddNumberToObject(doc, "width", sw);
  cJSON *net = cJSON_AddObjectToObject(doc, "network");
  cJSON_AddNumberToObject(net, "height", nh);
  cJSON_AddNumberToObject(net, "width", nw);
  static const char *const fits[] = {"letterbox", "stretch", "tile"};
  cJSON_AddStringToObject(net, "fit", fits[r->fit]);
  if (r->fit == CLM_FIT_TILE) { /* the predictions' grid is the canvas; image_box: all of it */
    cJSON *jt = cJSON_AddObjectToObject(net, "tiles");
    cJSON_AddNumberToObject(jt, "scale", tile_scale);
    cJSON_AddNumberToObject(jt, "canvas_height", h);
    cJSON_AddNumberToObject(jt, "canvas_width", w);
    cJSON_AddNumberToObject(jt, "min_overlap_y", clm_tile_overlap(nh));
    cJSON_AddNumberToObject(jt, "min_overlap_x", clm_tile_overlap(nw));
    cJSON_AddStringToObject(jt, "blend", "per pixel, the mean of the windows' class logits and values weighted by "
                                         "the tent min(i+1, n-i) along each window side");
    if (run_tiles(r, input, planar, sh, sw, h, w, img, conv, cJSON_AddObjectToObject(jt, "starts"))) {
      rc = 1;
      goto done;
    }
  } else {
    /* the network's input: the image in its box, black around it */
    clm_resize_bilinear(planar, 3, sh, sw, NULL, img, nh, nw, &box);
    clm_status st = forward_image(r, img, conv);
    for (int t = 0; t < r->k && st == CLM_OK; t++) st = clm_tensor_download(r->ctx, &r->task[t].pred, r->task[t].net);
    if (st != CLM_OK) {
      fprintf(stderr, "clmtl infer: %s: %s\n", input, clm_last_error());
      rc = 1;
      goto done;
    }
  }
  cJSON *jbox = cJSON_AddObjectToObject(net, "image_box");
  cJSON_AddNumberToObject(jbox, "y", box.y);
  cJSON_AddNumberToObject(jbox, "x", box.x);
  cJSON_AddNumberToObject(jbox, "height", box.height);
  cJSON_AddNumberToObject(jbox, "width", box.width);
  cJSON_AddStringToObject(doc, "label_set", r->model.label_set);
  cJSON_AddItemToObject(doc, "tasks", jtasks);
  /* the classes every instance task clusters by */
  if (r->cls_task >= 0) {
    clm_argmax_classes(r->task[r->cls_task].net, r->task[r->cls_task].pred.c, h, w, cls_net);
    clm_resize_nearest(cls_net, 1, 1, h, w, &box, cls_in, sh, sw, NULL);
    have_classes = 1;
  }
  double sy = (double)sh / box.height, sx = (double)sw / box.width;
  job = (image_job){r, stem, src, sh, sw, h, w, shw, hw, box, sy, sx, vals, cls_net, cls_in, lab,
                    ids_net, ids_in, u16, have_classes, NULL, {{0}}, {0, NULL, NULL, NULL},
                    {0, 0, 0, ""}, NULL, -1, -1};
  job.ptiles[0].rgb = tiles[0];
  snprintf(job.ptiles[0].caption, sizeof job.ptiles[0].caption, "input %dx%d", sw, sh);
  for (int t = 0; t < r->k && !rc; t++) {
    infer_task *tk = &r->task[t];
    cJSON *jt = cJSON_CreateObject();
    cJSON_AddItemToArray(jtasks, jt);
    cJSON_AddStringToObject(jt, "name", tk->name);
    static const char *const kinds[] = {"classes", "instances", "depth", "values", "sigma"};
    cJSON_AddStringToObject(jt, "kind", kinds[tk->form]);
    cJSON *files = cJSON_AddArrayToObject(jt, "files");
    uint8_t *tile = tiles[t + 1];
    job.ptiles[t + 1].rgb = tile;
    rc = tk->form == FORM_CLASSES     ? write_classes(&job, t, tile, files)
         : tk->form == FORM_INSTANCES ? write_instances(&job, t, tile, files)
         : tk->form == FORM_DEPTH     ? write_depth(&job, t, tile, files)
         : tk->form == FORM_SIGMA     ? write_sigma(&job, t, tile, files, jt)
                                      : write_values(&job, t, tile, files);
  }
  if (rc) goto done;
  add_instances(r, job.inst, job.ninst > 0 ? job.ninst : 0, jinst);
  cJSON_AddItemToObject(doc, "instances", jinst);
  jinst = NULL;
  rc = write_panel_and_json(&job, input, doc);
done:
  cJSON_Delete(doc);
  cJSON_Delete(jinst);
  free(src); free(planar); free(img); free(conv); free(vals); free(cls_net); free(cls_in); free(lab);
  free(ids_net); free(ids_in); free(u16); free(job.inst); free(job.path);
  for (int t = 0; t <= r->k; t++) free(tiles[t]);
  return rc;
}

/* The options into r (outdir, fit, raw, depth range), *ckpt, *device, the network size and the
 * list of inputs. 0 to go on; otherwise the command's exit status (printed), -1 after --help. */
static int parse_infer_args(int argc, char **argv, infer_run *r, const char **ckpt,
                            const char **device, int *nh, int *nw, input_list *in) {
  const char *depth_range = NULL, **pos = calloc((size_t)argc + 1, sizeof *pos);
  int fit = 0, npos = 0;
  static const char *const fits[] = {"letterbox", "stretch", "tile", NULL};
  const cli_opt opts[] = {CLI_OPT_STRING("--model", ckpt),
                          CLI_OPT_STRING("--out", &r->outdir),
                          CLI_OPT_STRING("--device", device),
                          CLI_OPT_FLAG("--raw", &r->raw),
                          CLI_OPT_SIZE("--size", nh, nw),
                          CLI_OPT_CHOICE("--fit", &fit, fits),
                          CLI_OPT_STRING("--depth-range", &depth_range),
                          CLI_OPT_END};
  if (!pos) {
    fprintf(stderr, "clmtl infer: out of host memory\n");
    return 1;
  }
  int rc = cli_args_parse("infer", usage_text, opts, argc, argv, pos, argc, &npos);
  r->fit = fit == 2 ? CLM_FIT_TILE : fit == 1 ? CLM_FIT_STRETCH : CLM_FIT_LETTERBOX;
  if (!rc && depth_range &&
      (sscanf(depth_range, "%f,%f", &r->depth_lo, &r->depth_hi) != 2 || !(r->depth_hi > r->depth_lo)))
    rc = cli_usage_error("--depth-range wants MIN,MAX with MIN < MAX (disparity in pixels)");
  for (int k = 0; k < npos && !rc; k++)
    if (add_input(in, pos[k])) rc = 1;
  free(pos);
  return rc;
}

/* Each task of the loaded graph: its name, prediction tensor, output form and host buffer;
 * the first classification task is the one instances cluster by. Nonzero (printed) on
 * failure. */
static int setup_tasks(infer_run *r) {
  const clm_target_info *known;
  clm_label_mode mode = !strcmp(r->model.label_set, "trainids") ? CLM_LABELS_TRAIN_IDS : CLM_LABELS_CATEGORIES;
  int nknown = clm_data_targets_known(mode, &known);
  /* the image inputs, found from the graph; outputs sized from each task's prediction */
  if (lib_check(clm_feeds_bind(r->g, known, nknown, 1, &r->feeds))) return 1;
  r->k = clm_graph_loss_count(r->g);
  r->cls_task = -1;
  size_t hw = (size_t)r->model.height * r->model.width;
  for (int i = 0; i < r->k; i++) {
    infer_task *t = &r->task[i];
    const clm_layer *loss = clm_graph_loss_layer(r->g, i);
    t->name = clm_feeds_task_name(loss);
    if (lib_check(clm_graph_tensor(r->g, loss->from[0], &t->pred))) return 1;
    const clm_target_info *src = NULL;
    for (int j = 0; j < nknown; j++)
      if (!strcmp(known[j].name, loss->target)) src = &known[j];
    t->form = clm_layer_type_takes_labels(loss->type)                        ? FORM_CLASSES
              : src && src->kind == CLM_TARGET_OFFSETS && t->pred.c == 2      ? FORM_INSTANCES
              : src && !strcmp(src->name, "depth") && t->pred.c == 1          ? FORM_DEPTH
                                                                               : FORM_VALUES;
    if (t->form == FORM_CLASSES && t->pred.c > CLM_METRICS_MAX_CLASSES) {
      fprintf(stderr, "clmtl infer: task '%s' has %d classes, more than the %d an 8-bit label image holds\n",
              t->name, t->pred.c, CLM_METRICS_MAX_CLASSES);
      return 1;
    }
    if (t->form == FORM_CLASSES && r->cls_task < 0) r->cls_task = i;
    if (!(t->net = malloc((size_t)t->pred.c * hw * sizeof *t->net))) {
      fprintf(stderr, "clmtl infer: out of host memory\n");
      return 1;
    }
  }
  /* a heteroscedastic task's log-variance head (its second input) becomes one more output */
  for (int i = 0, ntasks = r->k; i < ntasks; i++) {
    const clm_layer *loss = clm_graph_loss_layer(r->g, i);
    if (loss->type != CLM_LAYER_LAPLACE_NLL && loss->type != CLM_LAYER_GAUSSIAN_NLL &&
        loss->type != CLM_LAYER_LOGIT_NOISE_XENT)
      continue;
    if (r->k == CLM_METRICS_MAX_TASKS) {
      fprintf(stderr, "clmtl infer: more than %d tasks and sigma maps\n", CLM_METRICS_MAX_TASKS);
      return 1;
    }
    infer_task *t = &r->task[r->k++];
    t->name = r->task[i].name;
    t->form = FORM_SIGMA;
    t->owner = i;
    t->likelihood = loss->type == CLM_LAYER_LAPLACE_NLL ? 1 : loss->type == CLM_LAYER_GAUSSIAN_NLL ? 2 : 3;
    if (lib_check(clm_graph_tensor(r->g, loss->from[1], &t->pred))) return 1;
    if (!(t->net = malloc((size_t)t->pred.c * hw * sizeof *t->net))) {
      fprintf(stderr, "clmtl infer: out of host memory\n");
      return 1;
    }
  }
  return 0;
}

int cmd_infer(int argc, char **argv) {
  const char *ckpt = NULL, *device = NULL;
  infer_run r;
  memset(&r, 0, sizeof r);
  r.outdir = ".";
  int nh = 0, nw = 0;
  input_list in = {0};
  int rc = parse_infer_args(argc, argv, &r, &ckpt, &device, &nh, &nw, &in);
  if (rc) {
    list_free(&in);
    return rc < 0 ? 0 : rc;
  }
  if (!ckpt || !in.count) {
    list_free(&in);
    return cli_usage_error("'infer' needs --model CKPT.safetensors and images (clmtl infer --help)");
  }
  rc = 1;
  if (make_stems(&in) || lib_check(clm_mkdir_p(r.outdir, 0777))) goto done;
  if (cli_context_create(device, &r.ctx) != CLM_OK) {
    fprintf(stderr, "clmtl infer: %s\n", clm_last_error());
    goto done;
  }
  printf("device: %s (%s)\n", clm_context_device(r.ctx)->name, clm_context_device(r.ctx)->platform);
  if (cli_model_load(r.ctx, ckpt, 1, nh, nw, &r.g, &r.model)) goto done;
  if (setup_tasks(&r)) goto done;
  clm_graph_set_training(r.g, 0);
  rc = 0;
  for (int i = 0; i < in.count; i++) rc |= infer_image(&r, in.path[i], in.stem[i]);
done:
  for (int t = 0; t < r.k; t++) free(r.task[t].net);
  clm_model_info_free(&r.model);
  clm_graph_free(r.g);
  clm_context_free(r.ctx);
  list_free(&in);
  return rc;
}
