/* A trained checkpoint opened for `clmtl eval` and `clmtl infer` (cli.h cli_model_load): the
 * graph rebuilt from the model text in its metadata, compiled at its resolution (or another),
 * weights loaded and batch norm folded, and what the metadata says about its classes. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "cli.h"
#include "clmtl/checkpoint.h"

int cli_model_load(clm_context *ctx, const char *path, int batch, int height, int width, cli_model *m) {
  memset(m, 0, sizeof *m);
  clm_checkpoint_meta *meta = NULL;
  int n = 0;
  if (clm_checkpoint_read_meta(path, &meta, &n) != CLM_OK) {
    fprintf(stderr, "%s\n", clm_last_error());
    return 1;
  }
  const char *cfg = clm_checkpoint_meta_get(meta, n, "model_cfg");
  const char *ls = clm_checkpoint_meta_get(meta, n, "label_set");
  const char *names = clm_checkpoint_meta_get(meta, n, "class_names");
  snprintf(m->label_set, sizeof m->label_set, "%s", ls ? ls : "");
  if (!cfg || !*cfg) {
    fprintf(stderr, "%s: no model text in its metadata (not written by clmtl train)\n", path);
    clm_checkpoint_meta_free(meta);
    return 1;
  }
  /* the model text against its hash, and numbers with their ranges: messages name file and key */
  long long hh = 0, ww = 0, ss = 1;
  clm_status st = clm_checkpoint_check_model(path, meta, n, NULL, NULL);
  if (st == CLM_OK) st = clm_checkpoint_meta_int(path, meta, n, "height", 1, 65536, &hh);
  if (st == CLM_OK) st = clm_checkpoint_meta_int(path, meta, n, "width", 1, 65536, &ww);
  if (st == CLM_OK && clm_checkpoint_meta_get(meta, n, "data_seed"))
    st = clm_checkpoint_meta_int(path, meta, n, "data_seed", 0, LLONG_MAX, &ss);
  char *name = st == CLM_OK ? malloc(strlen(path) + sizeof ":model_cfg") : NULL;
  if (st != CLM_OK || !name) {
    fprintf(stderr, "%s\n", st != CLM_OK ? clm_last_error() : "out of host memory");
    clm_checkpoint_meta_free(meta);
    return 1;
  }
  sprintf(name, "%s:model_cfg", path);
  m->train_height = (int)hh;
  m->train_width = (int)ww;
  m->height = height > 0 ? height : m->train_height;
  m->width = width > 0 ? width : m->train_width;
  m->seed = (uint64_t)ss;
  cJSON *arr = names && *names ? cJSON_Parse(names) : NULL;
  int count = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
  m->class_names = count ? calloc((size_t)count, sizeof *m->class_names) : NULL;
  for (int i = 0; i < count && m->class_names; i++) {
    const char *v = cJSON_GetStringValue(cJSON_GetArrayItem(arr, i));
    m->class_names[i] = strdup(v ? v : "?");
    m->nclass_names = i + 1;
  }
  cJSON_Delete(arr);
  clm_graph_options o = {batch, m->height, m->width, 0, -1, 0};
  st = clm_graph_create(ctx, &m->g);
  if (st == CLM_OK) st = clm_graph_parse(m->g, cfg, name);
  if (st == CLM_OK) st = clm_graph_compile(m->g, &o);
  if (st == CLM_OK) st = clm_checkpoint_load(path, m->g, NULL, NULL, NULL);
  /* batch norm folded into the convolutions once, for every forward that follows */
  if (st == CLM_OK) st = clm_graph_prepare_inference(m->g);
  free(name);
  clm_checkpoint_meta_free(meta);
  if (st != CLM_OK) {
    fprintf(stderr, "%s: %s\n", path, clm_last_error());
    cli_model_free(m);
    return 1;
  }
  return 0;
}

const char *cli_class_name(const cli_model *m, int c, char *buf, size_t size) {
  if (c >= 0 && c < m->nclass_names) return m->class_names[c];
  const clm_label_set *ls = clm_label_set_find(m->label_set);
  if (ls && c >= 0 && c < ls->classes) return ls->class_names[c];
  snprintf(buf, size, "class%d", c);
  return buf;
}

void cli_model_free(cli_model *m) {
  for (int i = 0; i < m->nclass_names; i++) free(m->class_names[i]);
  free(m->class_names);
  clm_graph_free(m->g);
  memset(m, 0, sizeof *m);
}
