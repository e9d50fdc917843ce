/* `clmtl eval`: a trained checkpoint (it carries its model text and resolution) evaluated on a
 * split: per-task tables, per-class IoU with the checkpoint's class names, Δm% against
 * single-task baselines, the same numbers as JSON; and `clmtl synth`, which writes synthetic
 * scenes to disk in the CityScapes layout. `clmtl infer` lives in cmd_infer.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "cli.h"
#include "clmtl/train.h"
#include "clmtl/feeds.h"

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

static const char eval_usage[] =
    "usage: clmtl eval --model CKPT.safetensors [options]\n"
    "\n"
    "Evaluates a checkpoint on a split of its data: the built-in synthetic scenes (the seed it was\n"
    "trained with) or a CityScapes-layout folder, at the checkpoint's resolution.\n"
    "\n"
    "options:\n"
    "  --data DIR           CityScapes layout (leftImg8bit/, gtFine/, disparity/); default synthetic\n"
    "  --split val|test|train  (default val)\n"
    "  --labels categories|trainids  must match the checkpoint's label set (default: it)\n"
    "  --count N            synthetic samples in the split (default 64)\n"
    "  --batch N            (default 4; the numbers do not depend on it)\n"
    "  --baseline           also print what constant predictors score on the split\n"
    "  --baseline-runs TASK=DIR,...  single-task baselines: DIR/best.safetensors of each run is\n"
    "                       evaluated on the same split and resolution, and Δm% is printed\n"
    "  --json FILE          write every number printed (and the per-class IoU) as JSON\n"
    "  --device D           OpenCL device\n"
    "  --help               this text\n"
    "\n"
    "columns of the classification table (one row per softmax task):\n"
    "  mIoU%     mean over classes with a non-empty union (in labels or predictions) of\n"
    "            TP / (TP + FP + FN), counted over the whole split\n"
    "  acc%      pixel accuracy: correct / counted pixels\n"
    "  mF1%      mean over classes of 2TP / (2TP + FP + FN)\n"
    "  classes   classes in mIoU / classes of the head\n"
    "  pixels    counted pixels (labels in [0, K)); ignored: the ignore label (255);\n"
    "            invalid: labels that are neither (never counted)\n"
    "  loss      the task's loss, mean over every valid target of the split\n"
    "  then per class: id, name (the checkpoint's class names), IoU% ('-' when the class is\n"
    "  in neither labels nor predictions), and its pixels in the labels\n"
    "columns of the regression table (one row per l1/l2 task; over valid pixels only):\n"
    "  MAE       mean |prediction - target| per element (disparity: pixels; offsets: pixels)\n"
    "  RMSE      sqrt of the mean squared error\n"
    "  rel       mean |p - t| / |t| over elements with t != 0\n"
    "  L1/pixel  sum over channels of |p - t|, mean per pixel (instance: centroid vector error)\n"
    "  elements, pixels  valid elements and pixels; t==0: elements left out of rel\n"
    "delta_m% (with --baseline-runs): 100/T * sum over the T tasks with a baseline of\n"
    "  (-1)^l (M - B) / B, M the model's and B the baseline's measure, mIoU for classification\n"
    "  tasks (l = 0, higher is better) and MAE for regression tasks (l = 1); positive: better\n"
    "  than the single-task baselines (Maninis et al. 2019, Vandenhende et al. 2021).\n";

/* One checkpoint evaluated. */
typedef struct eval_result {
  clm_graph *g;
  clm_model_info model;
  clm_dataset *d;
  clm_feeds feeds;
  int ntasks;
  const char *names[CLM_METRICS_MAX_TASKS];
  clm_metrics_report rep[CLM_METRICS_MAX_TASKS];
  uint64_t class_pixels[CLM_METRICS_MAX_TASKS][CLM_METRICS_MAX_CLASSES]; /* label pixels per class */
  double loss[CLM_MTL_MAX_TASKS];
  clm_metrics *m;
} eval_result;

typedef struct eval_options {
  const char *data, *labels, *device;
  clm_split split;
  int count, batch;
} eval_options;

static void eval_result_free(eval_result *r) {
  clm_metrics_free(r->m);
  clm_dataset_free(r->d);
  clm_model_info_free(&r->model);
  clm_graph_free(r->g);
  memset(r, 0, sizeof *r);
}

/* Loads ckpt (at height × width when nonzero, else its own) and evaluates it on the split; a
 * synthetic split is drawn with `seed` when nonzero, else the checkpoint's. Returns 0, 1 on
 * failure (printed; data of another label set included), or 2 when --labels contradicts the
 * checkpoint. */
static int eval_checkpoint(clm_context *ctx, const char *ckpt, const eval_options *o, int height, int width,
                           uint64_t seed, eval_result *r) {
  memset(r, 0, sizeof *r);
  if (cli_model_load(ctx, ckpt, o->batch, height, width, &r->g, &r->model)) return 1;
  const char *trained = r->model.label_set;
  /* the label set: the checkpoint's, which --labels may repeat but not contradict */
  if (o->labels && trained[0] && strcmp(o->labels, trained)) {
    fprintf(stderr, "clmtl eval: %s was trained on label set '%s'; --labels %s disagrees\n", ckpt, trained, o->labels);
    return 2;
  }
  const clm_label_set *ls = clm_label_set_find(o->labels ? o->labels : trained);
  clm_label_mode mode = ls && !strcmp(ls->name, "trainids") ? CLM_LABELS_TRAIN_IDS : CLM_LABELS_CATEGORIES;
  int h = r->model.height, w = r->model.width;
  if (o->data) {
    clm_cityscapes_options c = {o->data, o->split, h, w, mode, 0};
    if (clm_cityscapes_open(&c, &r->d) != CLM_OK) goto fail;
  } else {
    clm_synth_options s = {seed ? seed : r->model.seed, o->count, h, w, 0, 0, 0, 0};
    if (clm_synth_open(&s, o->split, &r->d) != CLM_OK) goto fail;
  }
  const clm_target_info *targets;
  int nt = clm_dataset_targets(r->d, &targets);
  if (clm_feeds_bind(r->g, targets, nt, 0, &r->feeds) != CLM_OK) goto fail;
  if (trained[0] && r->feeds.labels && strcmp(r->feeds.labels->name, trained)) {
    fprintf(stderr, "clmtl eval: %s was trained on label set '%s', the %s data has '%s'\n", ckpt, trained,
            o->data ? o->data : "synthetic", r->feeds.labels->name);
    return 1;
  }
  for (int i = 0; i < r->feeds.nnotes; i++) fprintf(stderr, "clmtl eval: %s: %s\n", ckpt, r->feeds.notes[i]);
  if (clm_metrics_for_graph(r->g, &r->m) != CLM_OK || clm_evaluate(r->g, &r->feeds, r->d, r->m, r->loss) != CLM_OK)
    goto fail;
  r->ntasks = clm_graph_loss_count(r->g);
  uint64_t *conf = malloc(sizeof(uint64_t) * CLM_METRICS_MAX_CLASSES * CLM_METRICS_MAX_CLASSES);
  if (!conf) goto fail;
  for (int i = 0; i < r->ntasks; i++) {
    r->names[i] = clm_metrics_task_name(r->m, i);
    if (clm_metrics_result(r->m, i, &r->rep[i]) != CLM_OK) { free(conf); goto fail; }
    int k = r->rep[i].classes;
    if (r->rep[i].kind == CLM_METRICS_REGRESSION || k < 1) continue;
    if (clm_metrics_confusion(r->m, i, conf) != CLM_OK) { free(conf); goto fail; }
    for (int a = 0; a < k; a++)
      for (int b = 0; b < k; b++) r->class_pixels[i][a] += conf[(size_t)a * k + b];
  }
  free(conf);
  return 0;
fail:
  fprintf(stderr, "clmtl eval: %s: %s\n", ckpt, clm_last_error());
  return 1;
}

static int find_task(const eval_result *r, const char *name) {
  for (int i = 0; i < r->ntasks; i++)
    if (!strcmp(r->names[i], name)) return i;
  return -1;
}

/* The measure Δm compares: mIoU for classification tasks, MAE for regression tasks. */
static double delta_measure(const clm_metrics_report *r, int *lower_better) {
  *lower_better = r->kind == CLM_METRICS_REGRESSION;
  return r->kind == CLM_METRICS_REGRESSION ? r->mae : r->miou;
}

static cJSON *json_report(const eval_result *r, int i) {
  const clm_metrics_report *p = &r->rep[i];
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", r->names[i]);
  cJSON_AddNumberToObject(o, "loss", r->loss[i]);
  if (p->kind == CLM_METRICS_REGRESSION) {
    cJSON_AddStringToObject(o, "kind", "regression");
    cJSON_AddNumberToObject(o, "mae", p->mae);
    cJSON_AddNumberToObject(o, "rmse", p->rmse);
    cJSON_AddNumberToObject(o, "rel", p->rel_error);
    cJSON_AddNumberToObject(o, "l1_per_pixel", p->l1_per_pixel);
    cJSON_AddNumberToObject(o, "elements", (double)p->elements);
    cJSON_AddNumberToObject(o, "pixels", (double)p->pixels);
    cJSON_AddNumberToObject(o, "zero_targets", (double)p->zero_targets);
    return o;
  }
  cJSON_AddStringToObject(o, "kind", "classification");
  cJSON_AddNumberToObject(o, "miou_percent", 100 * p->miou);
  cJSON_AddNumberToObject(o, "pixel_accuracy_percent", 100 * p->pixel_accuracy);
  cJSON_AddNumberToObject(o, "macro_f1_percent", 100 * p->macro_f1);
  cJSON_AddNumberToObject(o, "classes", p->classes);
  cJSON_AddNumberToObject(o, "classes_present", p->classes_present);
  cJSON_AddNumberToObject(o, "pixels", (double)p->counted);
  cJSON_AddNumberToObject(o, "ignored", (double)p->ignored);
  cJSON_AddNumberToObject(o, "invalid", (double)p->invalid);
  cJSON *pc = cJSON_AddArrayToObject(o, "per_class");
  for (int c = 0; c < p->classes; c++) {
    char nb[16];
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "id", c);
    cJSON_AddStringToObject(e, "name", clm_model_class_name(&r->model, c, nb, sizeof nb));
    if (isnan(p->iou[c])) cJSON_AddNullToObject(e, "iou_percent");
    else cJSON_AddNumberToObject(e, "iou_percent", 100 * p->iou[c]);
    cJSON_AddNumberToObject(e, "label_pixels", (double)r->class_pixels[i][c]);
    cJSON_AddItemToArray(pc, e);
  }
  return o;
}

static void print_tables(const eval_result *r) {
  char line[512];
  clm_metrics_kind last = (clm_metrics_kind)-1;
  for (int i = 0; i < r->ntasks; i++) {
    const clm_metrics_report *p = &r->rep[i];
    if (p->kind != last) {
      clm_metrics_format_header(p->kind, line, sizeof line);
      printf("%s  %10s\n", line, "loss");
      last = p->kind;
    }
    clm_metrics_format_row(r->names[i], p, line, sizeof line);
    printf("%s  %10.4f\n", line, r->loss[i]);
  }
  for (int i = 0; i < r->ntasks; i++) {
    const clm_metrics_report *p = &r->rep[i];
    if (p->kind == CLM_METRICS_REGRESSION) continue;
    printf("per-class IoU, task %s:\n  %3s %-16s %7s %12s\n", r->names[i], "id", "class", "IoU%", "label px");
    for (int c = 0; c < p->classes; c++) {
      char nb[16], iou[16];
      if (isnan(p->iou[c])) snprintf(iou, sizeof iou, "-");
      else snprintf(iou, sizeof iou, "%.2f", 100 * p->iou[c]);
      printf("  %3d %-16.16s %7s %12llu\n", c, clm_model_class_name(&r->model, c, nb, sizeof nb), iou,
             (unsigned long long)r->class_pixels[i][c]);
    }
  }
}

int cmd_eval(int argc, char **argv) {
  const char *ckpt = NULL, *json = NULL, *baselines = NULL;
  eval_options o = {NULL, NULL, NULL, CLM_SPLIT_VAL, 64, 4};
  int baseline = 0, split = 1, npos;
  static const char *const splits[] = {"train", "val", "test", NULL};
  const cli_opt opts[] = {CLI_OPT_STRING("--model", &ckpt),
                          CLI_OPT_STRING("--data", &o.data),
                          CLI_OPT_STRING("--device", &o.device),
                          CLI_OPT_INT("--count", &o.count, 1, 1000000000),
                          CLI_OPT_BATCH("--batch", &o.batch),
                          CLI_OPT_STRING("--labels", &o.labels),
                          CLI_OPT_STRING("--json", &json),
                          CLI_OPT_STRING("--baseline-runs", &baselines),
                          CLI_OPT_FLAG("--baseline", &baseline),
                          CLI_OPT_CHOICE("--split", &split, splits),
                          CLI_OPT_END};
  int rc = cli_args_parse("eval", eval_usage, opts, argc, argv, NULL, 0, &npos);
  if (rc) return rc < 0 ? 0 : rc;
  o.split = split == 0 ? CLM_SPLIT_TRAIN : split == 1 ? CLM_SPLIT_VAL : CLM_SPLIT_TEST;
  if (!ckpt) return cli_usage_error("'eval' needs --model CKPT.safetensors (clmtl eval --help)");
  if (o.labels && !clm_label_set_find(o.labels)) return cli_usage_error("--labels is categories or trainids");
  /* --baseline-runs TASK=DIR,...: parsed and checked before any work */
  char spec[4096], *bt[CLM_METRICS_MAX_TASKS], *bd[CLM_METRICS_MAX_TASKS];
  int nb = 0;
  if (baselines) {
    snprintf(spec, sizeof spec, "%s", baselines);
    for (char *save = NULL, *item = strtok_r(spec, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
      char *eq = strchr(item, '=');
      if (!eq || eq == item || !eq[1] || nb == CLM_METRICS_MAX_TASKS)
        return cli_usage_error("--baseline-runs wants TASK=RUN_DIR[,TASK=RUN_DIR...]");
      *eq = '\0';
      bt[nb] = item;
      bd[nb++] = eq + 1;
    }
  }
  clm_context *ctx = NULL;
  eval_result *res = calloc(2, sizeof *res);
  cJSON *doc = cJSON_CreateObject();
  rc = 1;
  if (!res || !doc) { fprintf(stderr, "clmtl eval: out of host memory\n"); goto done; }
  if (cli_context_create(o.device, &ctx) != CLM_OK) {
    fprintf(stderr, "clmtl eval: %s\n", clm_last_error());
    goto done;
  }
  eval_result *r = &res[0];
  if ((rc = eval_checkpoint(ctx, ckpt, &o, 0, 0, 0, r))) goto done;
  for (int b = 0; b < nb; b++)
    if (find_task(r, bt[b]) < 0) {
      fprintf(stderr, "clmtl eval: --baseline-runs names task '%s'; %s has tasks", bt[b], ckpt);
      for (int i = 0; i < r->ntasks; i++) fprintf(stderr, "%s %s", i ? "," : "", r->names[i]);
      fprintf(stderr, "\n");
      rc = 2;
      goto done;
    }
  int n = clm_dataset_count(r->d);
  printf("%s on %s %s: %d samples evaluated at %dx%d, %s%s%s\n", ckpt, o.data ? o.data : "synthetic",
         clm_split_name(o.split), n, r->model.height, r->model.width, clm_context_device(ctx)->name,
         r->feeds.labels ? ", labels " : "", r->feeds.labels ? r->feeds.labels->name : "");
  print_tables(r);
  cJSON_AddStringToObject(doc, "checkpoint", ckpt);
  cJSON_AddStringToObject(doc, "data", o.data ? o.data : "synthetic");
  cJSON_AddStringToObject(doc, "split", clm_split_name(o.split));
  cJSON_AddNumberToObject(doc, "samples", n);
  cJSON_AddNumberToObject(doc, "height", r->model.height);
  cJSON_AddNumberToObject(doc, "width", r->model.width);
  cJSON_AddStringToObject(doc, "device", clm_context_device(ctx)->name);
  cJSON_AddStringToObject(doc, "label_set", r->feeds.labels ? r->feeds.labels->name : "");
  cJSON *jt = cJSON_AddArrayToObject(doc, "tasks");
  for (int i = 0; i < r->ntasks; i++) cJSON_AddItemToArray(jt, json_report(r, i));
  if (nb) {
    double value[CLM_METRICS_MAX_TASKS], base[CLM_METRICS_MAX_TASKS];
    int lower[CLM_METRICS_MAX_TASKS];
    cJSON *jb = cJSON_AddArrayToObject(doc, "baselines");
    printf("single-task baselines (same split, %dx%d; measure: mIoU%% for classification, MAE for regression):\n"
           "  %-16s %-32s %12s %12s %9s\n", r->model.height, r->model.width, "task", "baseline run", "model", "baseline", "delta%");
    for (int b = 0; b < nb; b++) {
      char path[4200];
      snprintf(path, sizeof path, "%s/best.safetensors", bd[b]);
      eval_result *br = &res[1];
      /* the same split: the main checkpoint's synthetic seed and resolution */
      if ((rc = eval_checkpoint(ctx, path, &o, r->model.height, r->model.width, r->model.seed, br))) goto done;
      int ti = find_task(r, bt[b]), bi = find_task(br, bt[b]);
      if (bi < 0 && br->ntasks == 1) bi = 0;
      if (bi < 0) {
        fprintf(stderr, "clmtl eval: baseline %s has no task '%s' (and more than one task)\n", path, bt[b]);
        rc = 2;
        goto done;
      }
      if (br->rep[bi].kind != r->rep[ti].kind || br->rep[bi].classes != r->rep[ti].classes) {
        fprintf(stderr, "clmtl eval: baseline %s task '%s' is not the same kind of task as %s's '%s'\n", path,
                br->names[bi], ckpt, bt[b]);
        rc = 2;
        goto done;
      }
      int lb;
      value[b] = delta_measure(&r->rep[ti], &lower[b]);
      base[b] = delta_measure(&br->rep[bi], &lb);
      double scale = lower[b] ? 1 : 100, one;
      int one_lower = lower[b];
      int ok1 = clm_metrics_delta_m(&value[b], &base[b], &one_lower, 1, &one) == CLM_OK;
      char d[32];
      if (ok1) snprintf(d, sizeof d, "%+.2f", one);
      else snprintf(d, sizeof d, "n/a");
      printf("  %-16s %-32.32s %12.5g %12.5g %9s\n", bt[b], bd[b], scale * value[b], scale * base[b], d);
      cJSON *e = json_report(br, bi);
      cJSON_AddStringToObject(e, "task", bt[b]);
      cJSON_AddStringToObject(e, "run", bd[b]);
      cJSON_AddStringToObject(e, "measure", lower[b] ? "mae" : "miou");
      cJSON_AddNumberToObject(e, "model_value", value[b]);
      cJSON_AddNumberToObject(e, "baseline_value", base[b]);
      if (ok1) cJSON_AddNumberToObject(e, "delta_percent", one);
      cJSON_AddItemToArray(jb, e);
      eval_result_free(br);
    }
    double dm;
    if (clm_metrics_delta_m(value, base, lower, nb, &dm) != CLM_OK) {
      fprintf(stderr, "clmtl eval: delta_m: %s\n", clm_last_error());
      rc = 1;
      goto done;
    }
    printf("delta_m%% over %d task%s: %+.2f (positive: better than the single-task baselines)\n", nb,
           nb == 1 ? "" : "s", dm);
    cJSON_AddNumberToObject(doc, "delta_m_percent", dm);
  }
  rc = baseline ? print_baseline(r->d) : 0;
  if (!rc && json) {
    char *text = cJSON_Print(doc);
    FILE *f = text ? fopen(json, "w") : NULL;
    if (!f || fputs(text, f) < 0 || fputc('\n', f) == EOF) rc = 1;
    if (f && fclose(f) != 0) rc = 1;
    if (rc) fprintf(stderr, "clmtl eval: cannot write %s\n", json);
    free(text);
  }
done:
  cJSON_Delete(doc);
  if (res) { eval_result_free(&res[0]); eval_result_free(&res[1]); }
  free(res);
  clm_context_free(ctx);
  return rc;
}

int cmd_synth(int argc, char **argv) {
  const char *out = NULL, *seed = NULL;
  clm_synth_options s = {1, 16, 128, 256, 0, 0, 0, 0};
  static const char usage[] =
      "usage: clmtl synth --out DIR [--count N per split] [--size HxW] [--seed N]\n"
      "                   [--noise-depth S] [--noise-depth-far S]   disparity noise (pixels): everywhere,\n"
      "                   or on the far half of each image's valid disparities only\n";
  const cli_opt opts[] = {CLI_OPT_STRING("--out", &out), CLI_OPT_INT("--count", &s.count, 1, 1000000),
                          CLI_OPT_SIZE("--size", &s.height, &s.width), CLI_OPT_STRING("--seed", &seed),
                          CLI_OPT_FLOAT("--noise-depth", &s.noise_depth),
                          CLI_OPT_FLOAT("--noise-depth-far", &s.noise_depth_far), CLI_OPT_END};
  int npos = 0, rc = cli_args_parse("synth", usage, opts, argc, argv, NULL, 0, &npos);
  if (rc) return rc < 0 ? 0 : rc;
  if (seed) {
    char *end = NULL;
    errno = 0;
    s.seed = strtoull(seed, &end, 10);
    if (!*seed || *end || errno || seed[0] == '-') return cli_usage_error("--seed wants a non-negative integer");
  }
  if (!out) return cli_usage_error("'synth' needs --out DIR");
  if (s.count < 1 || s.height < 8 || s.width < 8) return cli_usage_error("--count and --size must be positive");
  if (!(s.noise_depth >= 0 && s.noise_depth <= 1e4) || !(s.noise_depth_far >= 0 && s.noise_depth_far <= 1e4))
    return cli_usage_error("--noise-depth and --noise-depth-far want a number in [0, 10000]");
  if (clm_synth_write(out, &s) != CLM_OK) {
    fprintf(stderr, "clmtl synth: %s\n", clm_last_error());
    return 1;
  }
  printf("wrote %d scenes per split (train, val, test) at %dx%d under %s in the CityScapes layout\n",
         s.count, s.height, s.width, out);
  return 0;
}
