/* clm_predictor (bindings.h): a checkpoint written by clmtl train opened for inference the way
 * the CLI's eval and infer open it (clm_model_load: the graph from the model text in the
 * metadata, checked against its hash, compiled for inference, weights loaded, batch norm
 * folded), run on flat image arrays, and scored on a dataset with clm_evaluate. Reports as
 * JSON: metrics_json.c. The training side of the flat API: train_kv.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "clmtl/bindings.h"
#include "clmtl/checkpoint.h"
#include "clmtl/feeds.h"
#include "clmtl/model.h"
#include "clmtl/train.h"
#include "api/api-impl.h"
#include "runtime/runtime-impl.h"

struct clm_predictor {
  clm_context *ctx;
  clm_graph *g;
  char *path;
  clm_checkpoint_meta *meta;
  int nmeta;
  int batch, height, width;
  clm_model_info info;        /* resolution, data seed, label set, class names */
  clm_feeds image_feeds;      /* the inputs that take the image */
  int ntasks;
  clm_tensor pred[CLM_METRICS_MAX_TASKS];
  float *scratch;             /* (batch, 3, H, W) then the converted input */
  float *conv;
};

void clm_free(void *p) { free(p); }

void clm_predictor_free(clm_predictor *p) {
  if (!p) return;
  clm_graph_free(p->g);
  clm_model_info_free(&p->info);
  clm_context_free(p->ctx);
  clm_checkpoint_meta_free(p->meta);
  free(p->path);
  free(p->scratch);
  free(p->conv);
  free(p);
}

/* The graph as clmtl eval and infer open it (clm_model_load), and every metadata pair for
 * clm_predictor_info. */
static clm_status open_graph(clm_predictor *p, const char *path) {
  clm_model_load_options o = {p->batch, p->height, p->width};
  CLM_TRY(clm_model_load(p->ctx, path, &o, &p->g, &p->info));
  p->height = p->info.height;
  p->width = p->info.width;
  return clm_checkpoint_read_meta(path, &p->meta, &p->nmeta);
}

clm_status clm_predictor_open(const char *checkpoint, const char *device, int batch, int height, int width,
                              clm_predictor **out) {
  if (!out) CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_predictor_open: out is NULL");
  *out = NULL;
  if (!checkpoint) CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_predictor_open: no checkpoint path");
  if (batch < 1 || batch > 4096 || height < 0 || width < 0 || height > 65536 || width > 65536 ||
      (height == 0) != (width == 0))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: batch %d in [1, 4096] and height x width %d x %d (both 0 for the "
             "checkpoint's, else in [1, 65536]) wanted", checkpoint, batch, height, width);
  clm_predictor *p = calloc(1, sizeof *p);
  if (!p || !(p->path = strdup(checkpoint))) {
    free(p);
    CLM_FAIL(CLM_ERR_HOST_MEMORY, "%s: out of host memory", checkpoint);
  }
  p->batch = batch;
  p->height = height;
  p->width = width;
  clm_status st = clm_context_create(device, &p->ctx);
  if (st == CLM_OK) st = open_graph(p, checkpoint);
  const clm_target_info *known;
  int nknown = clm_data_targets_known(CLM_LABELS_CATEGORIES, &known);
  if (st == CLM_OK) st = clm_feeds_bind(p->g, known, nknown, 1, &p->image_feeds);
  p->ntasks = st == CLM_OK ? clm_graph_loss_count(p->g) : 0;
  for (int i = 0; i < p->ntasks && st == CLM_OK; i++)
    st = clm_graph_tensor(p->g, clm_graph_loss_layer(p->g, i)->from[0], &p->pred[i]);
  size_t hw = (size_t)p->height * (size_t)p->width;
  if (st == CLM_OK) {
    p->scratch = calloc((size_t)batch * 3 * hw, sizeof *p->scratch);
    p->conv = calloc((size_t)batch * 3 * hw, sizeof *p->conv);
    if (!p->scratch || !p->conv) st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "%s: out of host memory", checkpoint);
  }
  if (st != CLM_OK) {
    clm_predictor_free(p);
    return st;
  }
  *out = p;
  return CLM_OK;
}

clm_status clm_predictor_run(clm_predictor *p, const float *images, int count, float *const *out) {
  if (!p || !images || !out) CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_predictor_run: NULL argument");
  if (count < 1 || count > p->batch)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: %d images given, 1 to %d (the batch) wanted", p->path, count, p->batch);
  size_t hw = (size_t)p->height * (size_t)p->width, img = 3 * hw;
  memcpy(p->scratch, images, (size_t)count * img * sizeof *images);
  memset(p->scratch + (size_t)count * img, 0, (size_t)(p->batch - count) * img * sizeof *images);
  for (int f = 0; f < p->image_feeds.count; f++) {
    int ch = p->image_feeds.feed[f].luma ? 1 : 3;
    for (int b = 0; b < p->batch; b++) clm_image_convert(p->scratch + b * img, hw, ch, p->conv + (size_t)b * ch * hw);
    CLM_TRY(clm_graph_set_input(p->g, p->image_feeds.feed[f].layer, p->conv));
  }
  CLM_TRY(clm_graph_forward(p->g));
  for (int i = 0; i < p->ntasks; i++) {
    clm_tensor t = p->pred[i];
    if (!out[i]) CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: no output array for task %d", p->path, i);
    t.n = count; /* the first count rows of the batch */
    CLM_TRY(clm_tensor_download(p->ctx, &t, out[i]));
  }
  return CLM_OK;
}

clm_status clm_predictor_info(const clm_predictor *p, char **json) {
  if (!p || !json) CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_predictor_info: NULL argument");
  cJSON *doc = cJSON_CreateObject(), *tasks = cJSON_AddArrayToObject(doc, "tasks");
  cJSON_AddNumberToObject(doc, "batch", p->batch);
  cJSON_AddNumberToObject(doc, "height", p->height);
  cJSON_AddNumberToObject(doc, "width", p->width);
  cJSON_AddStringToObject(doc, "device", clm_context_device(p->ctx)->name);
  cJSON_AddStringToObject(doc, "checkpoint", p->path);
  cJSON_AddStringToObject(doc, "label_set", p->info.label_set);
  if (p->info.nclass_names) {
    cJSON *arr = cJSON_AddArrayToObject(doc, "class_names");
    for (int i = 0; i < p->info.nclass_names; i++) cJSON_AddItemToArray(arr, cJSON_CreateString(p->info.class_names[i]));
  } else {
    cJSON_AddNullToObject(doc, "class_names");
  }
  for (int i = 0; i < p->ntasks; i++) {
    const clm_layer *l = clm_graph_loss_layer(p->g, i);
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "name", clm_feeds_task_name(l));
    cJSON_AddStringToObject(t, "kind", clm_layer_type_takes_labels(l->type) ? "classification" : "regression");
    cJSON_AddStringToObject(t, "target", l->target);
    cJSON_AddStringToObject(t, "prediction", l->from[0]);
    cJSON_AddNumberToObject(t, "channels", p->pred[i].c);
    cJSON_AddItemToArray(tasks, t);
  }
  cJSON *meta = cJSON_AddObjectToObject(doc, "metadata");
  for (int i = 0; i < p->nmeta; i++)
    if (strcmp(p->meta[i].key, "model_cfg")) cJSON_AddStringToObject(meta, p->meta[i].key, p->meta[i].value);
  return clm_api_json_out(doc, json);
}

static clm_status parse_split(const char *s, clm_split *out) {
  for (int i = CLM_SPLIT_TRAIN; i <= CLM_SPLIT_TEST; i++)
    if (s && !strcmp(s, clm_split_name((clm_split)i))) {
      *out = (clm_split)i;
      return CLM_OK;
    }
  CLM_FAIL(CLM_ERR_INVALID_ARG, "split '%s': train, val or test wanted", s ? s : "(null)");
}

clm_status clm_predictor_evaluate(clm_predictor *p, const char *data_dir, const char *split, int count,
                                  long long seed, char **json) {
  if (!p || !json) CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_predictor_evaluate: NULL argument");
  *json = NULL;
  clm_split sp = CLM_SPLIT_VAL;
  CLM_TRY(parse_split(split ? split : "val", &sp));
  if (count < 0 || seed < 0) CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: count %d and seed %lld must not be negative", p->path, count, seed);
  const char *trained = p->info.label_set;
  const clm_label_set *ls = clm_label_set_find(trained);
  clm_label_mode mode = ls && !strcmp(ls->name, "trainids") ? CLM_LABELS_TRAIN_IDS : CLM_LABELS_CATEGORIES;
  clm_dataset *d = NULL;
  clm_metrics *m = NULL;
  clm_feeds *feeds = calloc(1, sizeof *feeds);
  if (!feeds) CLM_FAIL(CLM_ERR_HOST_MEMORY, "%s: out of host memory", p->path);
  clm_status st;
  if (data_dir && *data_dir) {
    clm_cityscapes_options c = {data_dir, sp, p->height, p->width, mode, 0};
    st = clm_cityscapes_open(&c, &d);
  } else {
    clm_synth_options s = {seed ? (uint64_t)seed : p->info.seed, count ? count : 64, p->height, p->width, 0, 0, 0, 0};
    st = clm_synth_open(&s, sp, &d);
  }
  const clm_target_info *targets;
  int nt = st == CLM_OK ? clm_dataset_targets(d, &targets) : 0;
  if (st == CLM_OK) st = clm_feeds_bind(p->g, targets, nt, 0, feeds);
  if (st == CLM_OK && trained && *trained && feeds->labels && strcmp(feeds->labels->name, trained))
    st = CLM_ERROR(CLM_ERR_INVALID_ARG, "%s was trained on label set '%s', the data has '%s'", p->path, trained,
                   feeds->labels->name);
  double loss[CLM_METRICS_MAX_TASKS];
  if (st == CLM_OK) st = clm_metrics_for_graph(p->g, &m);
  if (st == CLM_OK) st = clm_evaluate(p->g, feeds, d, m, loss);
  if (st == CLM_OK) {
    cJSON *doc = cJSON_CreateObject(), *tasks = cJSON_AddObjectToObject(doc, "tasks");
    cJSON_AddStringToObject(doc, "split", clm_split_name(sp));
    cJSON_AddNumberToObject(doc, "samples", clm_dataset_count(d));
    cJSON_AddNumberToObject(doc, "height", p->height);
    cJSON_AddNumberToObject(doc, "width", p->width);
    for (int i = 0; i < clm_graph_loss_count(p->g) && st == CLM_OK; i++) {
      clm_metrics_report r;
      st = clm_metrics_result(m, i, &r);
      if (st != CLM_OK) break;
      cJSON *t = clm_api_metrics_json(&r);
      clm_api_json_number(t, "loss", loss[i]);
      cJSON_AddItemToObject(tasks, clm_metrics_task_name(m, i), t);
    }
    if (st == CLM_OK) st = clm_api_json_out(doc, json);
    else cJSON_Delete(doc);
  }
  clm_metrics_free(m);
  clm_dataset_free(d);
  free(feeds);
  return st;
}
