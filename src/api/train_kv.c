/* clm_train_kv (bindings.h): clm_train_run with its options given as key/value strings, each
 * checked with a message naming key and value, and each epoch's report handed on as JSON
 * (the key names of log.jsonl). For bindings that would rather not mirror clm_train_options. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "clmtl/bindings.h"
#include "clmtl/train.h"
#include "api/api-impl.h"
#include "runtime/runtime-impl.h"

static clm_status get_long(const char *k, const char *v, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (!*v || *end || errno || x < lo || x > hi)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "training option %s = '%s': an integer in [%ld, %ld] wanted", k, v, lo, hi);
  *out = x;
  return CLM_OK;
}

static clm_status get_int(const char *k, const char *v, long lo, long hi, int *out) {
  long x;
  CLM_TRY(get_long(k, v, lo, hi, &x));
  *out = (int)x;
  return CLM_OK;
}

static clm_status get_float(const char *k, const char *v, double lo, double hi, float *out) {
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (!*v || *end || errno || !isfinite(x) || x < lo || x > hi)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "training option %s = '%s': a number in [%g, %g] wanted", k, v, lo, hi);
  *out = (float)x;
  return CLM_OK;
}

/* One option into o; cache_dir goes to the context options co. */
static clm_status set_option(clm_train_options *o, clm_context_options *co, const char *k, const char *v) {
  long x;
  if (!strcmp(k, "model")) o->model_path = v;
  else if (!strcmp(k, "data")) o->data_dir = *v ? v : NULL;
  else if (!strcmp(k, "out")) o->out_dir = v;
  else if (!strcmp(k, "resume")) o->resume = *v ? v : NULL;
  else if (!strcmp(k, "device")) o->device = *v ? v : NULL;
  else if (!strcmp(k, "cache_dir")) co->cache_dir = v;
  else if (!strcmp(k, "skip_bad")) return get_int(k, v, 0, 1, &o->skip_bad);
  else if (!strcmp(k, "labels")) {
    if (!strcmp(v, "categories")) o->labels = CLM_LABELS_CATEGORIES;
    else if (!strcmp(v, "trainids")) o->labels = CLM_LABELS_TRAIN_IDS;
    else CLM_FAIL(CLM_ERR_INVALID_ARG, "training option labels = '%s': categories or trainids wanted", v);
  } else if (!strcmp(k, "size")) {
    char *end;
    long h = strtol(v, &end, 10), w = *end == 'x' ? strtol(end + 1, &end, 10) : 0;
    if (*end || h < 1 || w < 1 || h > 65536 || w > 65536)
      CLM_FAIL(CLM_ERR_INVALID_ARG, "training option size = '%s': HxW wanted (e.g. 64x128)", v);
    o->height = (int)h;
    o->width = (int)w;
  } else if (!strcmp(k, "height")) return get_int(k, v, 1, 65536, &o->height);
  else if (!strcmp(k, "width")) return get_int(k, v, 1, 65536, &o->width);
  else if (!strcmp(k, "batch")) return get_int(k, v, 1, 4096, &o->batch);
  else if (!strcmp(k, "epochs")) return get_int(k, v, 1, 100000, &o->epochs);
  else if (!strcmp(k, "train_count")) return get_int(k, v, 1, 10000000, &o->train_count);
  else if (!strcmp(k, "val_count")) return get_int(k, v, 1, 10000000, &o->val_count);
  else if (!strcmp(k, "patience")) return get_int(k, v, 0, 100000, &o->patience);
  else if (!strcmp(k, "early_stop_patience")) return get_int(k, v, 0, 100000, &o->early_stop_patience);
  else if (!strcmp(k, "log_every")) return get_int(k, v, 1, 1000000, &o->log_every);
  else if (!strcmp(k, "step_epochs")) return get_int(k, v, 1, 100000, &o->step_epochs);
  else if (!strcmp(k, "seed")) {
    CLM_TRY(get_long(k, v, 0, 0x7fffffffL, &x));
    o->seed = o->synth.seed = (uint64_t)x;
  } else if (!strcmp(k, "optimizer")) {
    clm_optim_kind kind;
    CLM_TRY(clm_optim_parse(v, &kind));
    float lr = o->optim.lr, task_lr = o->optim.task_lr;
    o->optim = clm_optim_defaults(kind);
    o->optim.lr = lr;
    o->optim.task_lr = task_lr;
  } else if (!strcmp(k, "lr")) return get_float(k, v, 0, 10, &o->optim.lr);
  else if (!strcmp(k, "task_lr")) return get_float(k, v, 0, 10, &o->optim.task_lr);
  else if (!strcmp(k, "momentum")) return get_float(k, v, 0, 0.999999, &o->optim.momentum);
  else if (!strcmp(k, "weight_decay")) return get_float(k, v, 0, 1, &o->optim.weight_decay);
  else if (!strcmp(k, "gamma")) return get_float(k, v, 0, 1, &o->gamma);
  else if (!strcmp(k, "power")) return get_float(k, v, 0, 10, &o->poly_power);
  else if (!strcmp(k, "schedule")) {
    if (!strcmp(v, "constant")) o->schedule = CLM_LR_CONSTANT;
    else if (!strcmp(v, "step")) o->schedule = CLM_LR_STEP;
    else if (!strcmp(v, "poly")) o->schedule = CLM_LR_POLY;
    else CLM_FAIL(CLM_ERR_INVALID_ARG, "training option schedule = '%s': constant, step or poly wanted", v);
  } else if (!strcmp(k, "weighting")) return clm_mtl_strategy_parse(v, &o->weighting.strategy);
  else if (!strcmp(k, "gating")) return clm_mtl_gating_parse(v, &o->weighting.gating);
  else if (!strcmp(k, "gate_threshold")) return get_float(k, v, 0, 1, &o->weighting.gate_threshold);
  else if (!strcmp(k, "alpha")) return get_float(k, v, 0, 100, &o->weighting.gradnorm_alpha);
  else if (!strcmp(k, "temperature")) return get_float(k, v, 1e-6, 1e6, &o->weighting.dwa_temperature);
  else CLM_FAIL(CLM_ERR_INVALID_ARG, "unknown training option '%s' (= '%s')", k, v);
  return CLM_OK;
}

typedef struct kv_user {
  clm_train_json_fn on_epoch;
  void *user;
} kv_user;

static void epoch_json(void *user, const clm_epoch_report *r) {
  kv_user *u = user;
  cJSON *doc = cJSON_CreateObject(), *tasks = cJSON_AddObjectToObject(doc, "tasks");
  cJSON_AddNumberToObject(doc, "epoch", r->epoch);
  clm_api_json_number(doc, "val_loss", r->val_aggregate);
  cJSON_AddBoolToObject(doc, "best", r->best);
  cJSON_AddBoolToObject(doc, "stop", r->stop);
  cJSON_AddNumberToObject(doc, "seconds", r->seconds);
  cJSON_AddNumberToObject(doc, "skipped_steps", r->skipped_steps);
  for (int i = 0; i < r->ntasks; i++) {
    cJSON *t = clm_api_metrics_json(&r->metrics[i]);
    clm_api_json_number(t, "train_loss", r->train_loss[i]);
    clm_api_json_number(t, "val_loss", r->val_loss[i]);
    cJSON_AddItemToObject(tasks, r->task_names[i] ? r->task_names[i] : "?", t);
  }
  char *text = cJSON_PrintUnformatted(doc);
  cJSON_Delete(doc);
  if (text) u->on_epoch(u->user, text);
  free(text);
}

clm_status clm_train_kv(const char *const *keys, const char *const *values, int n, clm_train_json_fn on_epoch,
                        void *user) {
  if (n < 0 || (n > 0 && (!keys || !values))) CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_train_kv: %d options without arrays", n);
  clm_train_options o = clm_train_defaults();
  clm_context_options co;
  memset(&co, 0, sizeof co);
  for (int i = 0; i < n; i++) {
    if (!keys[i] || !values[i]) CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_train_kv: option %d is NULL", i);
    CLM_TRY(set_option(&o, &co, keys[i], values[i]));
  }
  if (o.weighting.clamp_min >= o.weighting.clamp_max)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "training options: clamp_min %g must be below clamp_max %g", o.weighting.clamp_min,
             o.weighting.clamp_max);
  o.context = &co;
  kv_user u = {on_epoch, user};
  clm_train_callbacks cb;
  memset(&cb, 0, sizeof cb);
  cb.on_epoch = on_epoch ? epoch_json : NULL;
  cb.user = &u;
  return clm_train_run(&o, &cb);
}
