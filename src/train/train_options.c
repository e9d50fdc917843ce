/* A run's options as JSON (train.h): the object stored in checkpoint metadata "train_options"
 * and in the log's start record, keyed by the command line's option names without "--"; read
 * back for `--resume DIR`, and compared with a resumed run's options. The training loop is
 * trainer.c's. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/checkpoint.h"
#include "clmtl/rundir.h"
#include "clmtl/train.h"
#include "runtime/runtime-impl.h"
#include "train/train-options-impl.h"

/* A float as the shortest decimal that reads back as the same float. */
static void add_float(cJSON *o, const char *key, float v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.9g", (double)v);
  for (int prec = 1; prec < 10; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
    if ((float)strtod(buf, NULL) == v) break;
  }
  cJSON_AddItemToObject(o, key, cJSON_CreateRaw(buf));
}

static void add_int(cJSON *o, const char *key, long long v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", v);
  cJSON_AddItemToObject(o, key, cJSON_CreateRaw(buf));
}

static const char *optimizer_name(clm_optim_kind k) {
  return k == CLM_OPTIM_SGD ? "sgd" : k == CLM_OPTIM_ADAMW ? "adamw" : "adam";
}

static const char *schedule_name(clm_lr_schedule s) {
  return s == CLM_LR_STEP ? "step" : s == CLM_LR_POLY ? "poly" : "constant";
}

static const char *gating_name(clm_mtl_gating g) {
  return g == CLM_MTL_GATE_HARD ? "hard" : g == CLM_MTL_GATE_SOFT ? "soft" : "none";
}

char *clm__train_options_json(const clm_train_options *o, const char *model_name) {
  cJSON *j = cJSON_CreateObject();
  if (!j) return NULL;
  /* "optimizer" comes before its settings: the command line resets them when it is given */
  cJSON_AddStringToObject(j, "model", model_name ? model_name : "");
  if (o->data_dir) cJSON_AddStringToObject(j, "data", o->data_dir);
  else cJSON_AddNullToObject(j, "data");
  cJSON_AddBoolToObject(j, "skip-bad", o->skip_bad != 0);
  cJSON_AddStringToObject(j, "labels", o->labels == CLM_LABELS_TRAIN_IDS ? "trainids" : "categories");
  char size[48];
  snprintf(size, sizeof size, "%dx%d", o->height, o->width);
  cJSON_AddStringToObject(j, "size", size);
  add_int(j, "batch", o->batch);
  add_int(j, "epochs", o->epochs);
  add_int(j, "train-count", o->train_count);
  add_int(j, "val-count", o->val_count);
  cJSON_AddStringToObject(j, "optimizer", optimizer_name(o->optim.kind));
  add_float(j, "lr", o->optim.lr);
  add_float(j, "momentum", o->optim.momentum);
  add_float(j, "weight-decay", o->optim.weight_decay);
  add_float(j, "task-lr", o->optim.task_lr);
  cJSON_AddBoolToObject(j, "no-decay-bias-norm", o->no_decay_bias_norm != 0);
  cJSON_AddStringToObject(j, "schedule", schedule_name(o->schedule));
  add_int(j, "step-epochs", o->step_epochs);
  add_float(j, "gamma", o->gamma);
  add_float(j, "power", o->poly_power);
  cJSON_AddStringToObject(j, "weighting", clm_mtl_strategy_name(o->weighting.strategy));
  cJSON_AddStringToObject(j, "gating", gating_name(o->weighting.gating));
  add_float(j, "gate-threshold", o->weighting.gate_threshold);
  add_float(j, "clamp-min", o->weighting.clamp_min);
  add_float(j, "clamp-max", o->weighting.clamp_max);
  add_float(j, "alpha", o->weighting.gradnorm_alpha);
  add_float(j, "temperature", o->weighting.dwa_temperature);
  if (o->weighting.ntasks > 0) {
    char w[CLM_MTL_MAX_TASKS * 24] = "";
    for (int i = 0, n = 0; i < o->weighting.ntasks && i < CLM_MTL_MAX_TASKS; i++) {
      char one[24];
      snprintf(one, sizeof one, "%.9g", (double)o->weighting.weight[i]);
      for (int prec = 1; prec < 10; prec++) {
        snprintf(one, sizeof one, "%.*g", prec, (double)o->weighting.weight[i]);
        if ((float)strtod(one, NULL) == o->weighting.weight[i]) break;
      }
      n += snprintf(w + n, sizeof w - (size_t)n, "%s%s", i ? "," : "", one);
    }
    cJSON_AddStringToObject(j, "task-weights", w);
  } else {
    cJSON_AddNullToObject(j, "task-weights");
  }
  add_float(j, "noise-semantic", o->synth.noise_semantic);
  add_float(j, "noise-instance", o->synth.noise_instance);
  add_float(j, "noise-depth", o->synth.noise_depth);
  add_float(j, "noise-depth-far", o->synth.noise_depth_far);
  add_int(j, "patience", o->patience);
  add_int(j, "early-stop-patience", o->early_stop_patience);
  add_int(j, "seed", (long long)o->seed);
  if (o->device && *o->device) cJSON_AddStringToObject(j, "device", o->device);
  else cJSON_AddNullToObject(j, "device");
  add_int(j, "log-every", o->log_every);
  add_int(j, "max-bad-steps", o->max_bad_steps);
  add_int(j, "inject-nan-from", o->inject_nan_from);
  cJSON_AddBoolToObject(j, "sync-bn", o->sync_bn != 0);
  char *s = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  return s;
}

/* Options a resumed run may change; "model" is compared by content (the model text), not by
 * its path. */
static int may_change(const char *key) {
  static const char *const keys[] = {"epochs", "patience", "log-every", "device", "model",
                                     "max-bad-steps", "inject-nan-from", "sync-bn"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (!strcmp(key, keys[i])) return 1;
  return 0;
}

clm_status clm__train_options_compare(const char *path, const char *stored, const char *now,
                                      char **changes) {
  *changes = NULL;
  cJSON *a = cJSON_Parse(stored), *b = cJSON_Parse(now);
  if (!a || !cJSON_IsObject(a)) {
    cJSON_Delete(a);
    cJSON_Delete(b);
    CLM_FAIL(CLM_ERR_PARSE, "%s: metadata 'train_options' is not a JSON object", path);
  }
  if (!b) {
    cJSON_Delete(a);
    CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  }
  clm_status st = CLM_OK;
  cJSON *changed = cJSON_CreateObject();
  for (cJSON *x = b->child; x && st == CLM_OK; x = x->next) {
    cJSON *y = cJSON_GetObjectItemCaseSensitive(a, x->string);
    if (!y) continue; /* an option this checkpoint's version did not record */
    char *va = cJSON_PrintUnformatted(y), *vb = cJSON_PrintUnformatted(x);
    if (va && vb && strcmp(va, vb)) {
      if (may_change(x->string)) {
        cJSON *pair = cJSON_CreateObject();
        cJSON_AddItemToObject(pair, "from", cJSON_Duplicate(y, 1));
        cJSON_AddItemToObject(pair, "to", cJSON_Duplicate(x, 1));
        if (strcmp(x->string, "model")) cJSON_AddItemToObject(changed, x->string, pair);
        else cJSON_Delete(pair);
      } else {
        st = CLM_ERROR(CLM_ERR_INVALID_ARG,
                       "%s: the run was trained with --%s %s, and --%s %s was given; only "
                       "--epochs, --patience, --log-every and --device may change on --resume",
                       path, x->string, va, x->string, vb);
      }
    }
    free(va);
    free(vb);
  }
  if (st == CLM_OK && changed && changed->child) *changes = cJSON_PrintUnformatted(changed);
  cJSON_Delete(changed);
  cJSON_Delete(a);
  cJSON_Delete(b);
  return st;
}

int clm__train_options_string(const char *json, const char *key, char *out, size_t size) {
  cJSON *j = json ? cJSON_Parse(json) : NULL;
  cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  int ok = cJSON_IsString(v) && v->valuestring[0];
  if (ok) snprintf(out, size, "%s", v->valuestring);
  cJSON_Delete(j);
  return ok;
}

clm_status clm_train_stored_options(const char *dir, clm_checkpoint_meta **out, int *n) {
  *out = NULL;
  *n = 0;
  char *path = clm_path_join(dir, "last.safetensors");
  if (!path) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  clm_checkpoint_meta *meta = NULL;
  int nmeta = 0;
  clm_status st = clm_checkpoint_read_meta(path, &meta, &nmeta);
  const char *text = st == CLM_OK ? clm_checkpoint_meta_get(meta, nmeta, "train_options") : NULL;
  cJSON *j = text ? cJSON_Parse(text) : NULL;
  if (st == CLM_OK && text && !cJSON_IsObject(j))
    st = CLM_ERROR(CLM_ERR_PARSE, "%s: metadata 'train_options' is not a JSON object", path);
  if (st == CLM_OK && j) {
    /* one block: the pairs, then their strings */
    size_t count = 0, bytes = 0;
    for (cJSON *x = j->child; x; x = x->next, count++) {
      char *v = cJSON_IsString(x) ? NULL : cJSON_PrintUnformatted(x);
      bytes += strlen(x->string) + 1 + strlen(v ? v : cJSON_IsString(x) ? x->valuestring : "") + 1;
      free(v);
    }
    clm_checkpoint_meta *m = malloc(count * sizeof *m + bytes + 1);
    char *pool = (char *)(m + count);
    if (!m) st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "out of host memory");
    int k = 0;
    for (cJSON *x = j->child; x && m; x = x->next) {
      char *v = cJSON_IsString(x) ? NULL : cJSON_PrintUnformatted(x);
      const char *vs = v ? v : cJSON_IsString(x) ? x->valuestring : "";
      m[k].key = strcpy(pool, x->string);
      pool += strlen(pool) + 1;
      m[k].value = strcpy(pool, vs);
      pool += strlen(pool) + 1;
      k++;
      free(v);
    }
    *out = m;
    *n = k;
  }
  cJSON_Delete(j);
  clm_checkpoint_meta_free(meta);
  free(path);
  return st;
}
