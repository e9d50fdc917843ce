/* clm_model_load (model.h): a trained checkpoint opened for evaluation and inference. The
 * graph is rebuilt from the model text in the checkpoint's metadata (written by checkpoint.c),
 * compiled at its resolution (or another), the weights loaded and batch norm folded; the
 * metadata's label set and class names are returned with it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "clmtl/checkpoint.h"
#include "clmtl/data.h"
#include "clmtl/model.h"
#include "runtime/runtime-impl.h"

/* The class names of the metadata's "class_names" JSON array into info (none when it is
 * missing, not an array, or memory runs out: names then fall back to the label set). */
static void read_class_names(const char *names, clm_model_info *info) {
  cJSON *arr = names && *names ? cJSON_Parse(names) : NULL;
  int count = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
  info->class_names = count ? calloc((size_t)count, sizeof *info->class_names) : NULL;
  for (int i = 0; i < count && info->class_names; i++) {
    const char *v = cJSON_GetStringValue(cJSON_GetArrayItem(arr, i));
    info->class_names[i] = strdup(v ? v : "?");
    info->nclass_names = i + 1;
  }
  cJSON_Delete(arr);
}

/* The graph of model text cfg (named `name` in messages), compiled, loaded from path and
 * prepared for inference. */
static clm_status build(clm_context *ctx, const char *path, const char *cfg, const char *name,
                        const clm_graph_options *o, clm_graph **out) {
  clm_status st = clm_graph_create(ctx, out);
  if (st == CLM_OK) st = clm_graph_parse(*out, cfg, name);
  if (st == CLM_OK) st = clm_graph_compile(*out, o);
  if (st == CLM_OK) st = clm_checkpoint_load(path, *out, NULL, NULL, NULL);
  /* batch norm folded into the convolutions once, for every forward that follows */
  if (st == CLM_OK) st = clm_graph_prepare_inference(*out);
  if (st != CLM_OK) {
    char why[1024];
    snprintf(why, sizeof why, "%s", clm_last_error());
    clm_graph_free(*out);
    *out = NULL;
    CLM_FAIL(st, "%s: %s", path, why);
  }
  return CLM_OK;
}

clm_status clm_model_load(clm_context *ctx, const char *path, const clm_model_load_options *opts,
                          clm_graph **graph, clm_model_info *info) {
  *graph = NULL;
  memset(info, 0, sizeof *info);
  clm_checkpoint_meta *meta = NULL;
  int n = 0;
  CLM_TRY(clm_checkpoint_read_meta(path, &meta, &n));
  const char *cfg = clm_checkpoint_meta_get(meta, n, "model_cfg");
  const char *ls = clm_checkpoint_meta_get(meta, n, "label_set");
  snprintf(info->label_set, sizeof info->label_set, "%s", ls ? ls : "");
  if (!cfg || !*cfg) {
    clm_checkpoint_meta_free(meta);
    CLM_FAIL(CLM_ERR_NOT_FOUND, "%s: no model text in its metadata (not written by clmtl train)",
             path);
  }
  /* the model text against its hash, and numbers with their ranges: messages name file and key */
  long long hh = 0, ww = 0, ss = 1;
  clm_status st = clm_checkpoint_check_model(path, meta, n, NULL, NULL);
  if (st == CLM_OK) st = clm_checkpoint_meta_int(path, meta, n, "height", 1, 65536, &hh);
  if (st == CLM_OK) st = clm_checkpoint_meta_int(path, meta, n, "width", 1, 65536, &ww);
  if (st == CLM_OK && clm_checkpoint_meta_get(meta, n, "data_seed"))
    st = clm_checkpoint_meta_int(path, meta, n, "data_seed", 0, LLONG_MAX, &ss);
  char *name = st == CLM_OK ? malloc(strlen(path) + sizeof ":model_cfg") : NULL;
  if (st == CLM_OK && !name) st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "out of host memory");
  if (st != CLM_OK) {
    clm_checkpoint_meta_free(meta);
    return st;
  }
  sprintf(name, "%s:model_cfg", path);
  info->train_height = (int)hh;
  info->train_width = (int)ww;
  info->height = opts && opts->height > 0 ? opts->height : info->train_height;
  info->width = opts && opts->width > 0 ? opts->width : info->train_width;
  info->seed = (uint64_t)ss;
  read_class_names(clm_checkpoint_meta_get(meta, n, "class_names"), info);
  clm_graph_options o = {opts && opts->batch > 0 ? opts->batch : 1, info->height, info->width, 0, -1, 0};
  st = build(ctx, path, cfg, name, &o, graph);
  free(name);
  clm_checkpoint_meta_free(meta);
  if (st != CLM_OK) clm_model_info_free(info);
  return st;
}

const char *clm_model_class_name(const clm_model_info *info, int c, char *buf, size_t size) {
  if (c >= 0 && c < info->nclass_names) return info->class_names[c];
  const clm_label_set *ls = clm_label_set_find(info->label_set);
  if (ls && c >= 0 && c < ls->classes) return ls->class_names[c];
  snprintf(buf, size, "class%d", c);
  return buf;
}

void clm_model_info_free(clm_model_info *info) {
  if (!info) return;
  for (int i = 0; i < info->nclass_names; i++) free(info->class_names[i]);
  free(info->class_names);
  memset(info, 0, sizeof *info);
}
