/* Per-task early stopping (early_stop.h): the per-task bookkeeping, the blanking of a stopped
 * task's targets, the log record and the state file for --resume. The training loop
 * (trainer.c) calls it after each validation and before each upload. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/rundir.h"
#include "runtime/runtime-impl.h"
#include "train/early_stop.h"

static int feed_of(const clm_feeds *f, const char *layer) {
  for (int i = 0; i < f->count; i++)
    if (!strcmp(f->feed[i].layer, layer)) return i;
  return -1;
}

static clm_status read_state(clm_early_stop *e, const char *out_dir) {
  char *path = clm_path_join(out_dir, "early_stop.json");
  if (!path) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  FILE *f = fopen(path, "rb");
  if (!f) { /* a run that had not finished an epoch */
    free(path);
    return CLM_OK;
  }
  char buf[8192];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  cJSON *j = cJSON_Parse(buf);
  const char *keys[4] = {"best", "best_epoch", "since", "stopped"};
  clm_status st = CLM_OK;
  for (int k = 0; k < 4 && st == CLM_OK; k++) {
    cJSON *a = cJSON_GetObjectItemCaseSensitive(j, keys[k]);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != e->ntasks) {
      st = CLM_ERROR(CLM_ERR_PARSE, "%s: '%s' is not a list of %d numbers", path, keys[k], e->ntasks);
      break;
    }
    for (int i = 0; i < e->ntasks; i++) {
      cJSON *x = cJSON_GetArrayItem(a, i);
      double v = cJSON_IsNumber(x) ? x->valuedouble : NAN; /* null: no best yet */
      if (k == 0) e->best[i] = v;
      else if (!isfinite(v) || v < 0 || v > 1e9)
        st = CLM_ERROR(CLM_ERR_PARSE, "%s: '%s'[%d] is not a count", path, keys[k], i);
      else if (k == 1) e->best_epoch[i] = (int)v;
      else if (k == 2) e->since[i] = (int)v;
      else e->stopped[i] = (int)v;
    }
  }
  cJSON_Delete(j);
  free(path);
  return st;
}

clm_status clm_early_stop_init(clm_early_stop *e, int patience, clm_graph *g, const clm_feeds *feeds,
                               const char *out_dir, int resume) {
  memset(e, 0, sizeof *e);
  e->patience = patience;
  if (patience <= 0) return CLM_OK;
  e->ntasks = clm_graph_loss_count(g);
  for (int i = 0; i < e->ntasks; i++) {
    const clm_layer *l = clm_graph_loss_layer(g, i);
    e->higher[i] = l->kind == CLM_TASK_CLASSIFICATION;
    e->best[i] = NAN;
    e->target_feed[i] = feed_of(feeds, l->target);
    e->mask_feed[i] = l->mask[0] ? feed_of(feeds, l->mask) : -1;
    if (e->target_feed[i] < 0)
      CLM_FAIL(CLM_ERR_INVALID_ARG, "--early-stop-patience: task %s: its target '%s' is not fed by the data", l->name,
               l->target);
    if (!e->higher[i] && e->mask_feed[i] < 0)
      CLM_FAIL(CLM_ERR_UNSUPPORTED, "--early-stop-patience: task %s is a regression without a mask: a stopped task is "
               "excluded by masking its targets, and it has none", l->name);
  }
  for (int i = 0; i < e->ntasks; i++)
    for (int j = 0; j < e->ntasks; j++) {
      int fi = e->higher[i] ? e->target_feed[i] : e->mask_feed[i];
      if (j != i && (fi == e->target_feed[j] || fi == e->mask_feed[j]))
        CLM_FAIL(CLM_ERR_UNSUPPORTED, "--early-stop-patience: tasks %s and %s share the input '%s': one cannot be "
                 "excluded without the other", clm_graph_loss_layer(g, i)->name, clm_graph_loss_layer(g, j)->name,
                 feeds->feed[fi].layer);
    }
  return resume ? read_state(e, out_dir) : CLM_OK;
}

void clm_early_stop_mask(const clm_early_stop *e, clm_batch *b) {
  size_t px = (size_t)b->size * b->height * b->width;
  for (int i = 0; i < e->ntasks; i++) {
    if (!e->stopped[i]) continue;
    /* classification: every label the ignore label; regression: its mask 0 */
    int f = e->higher[i] ? e->target_feed[i] : e->mask_feed[i];
    const clm_feed *fd = &b->feeds->feed[f];
    float v = e->higher[i] ? fd->pad : 0.0f;
    for (size_t p = 0; p < (size_t)fd->channels * px; p++) b->data[f][p] = v;
  }
}

int clm_early_stop_epoch(clm_early_stop *e, clm_epoch_report *r, FILE *log, int *improved) {
  int active = 0;
  for (int i = 0; i < e->ntasks; i++) improved[i] = 0;
  if (e->patience <= 0) return 0;
  for (int i = 0; i < e->ntasks; i++) {
    if (e->stopped[i]) continue;
    const clm_metrics_report *m = &r->metrics[i];
    double v = e->higher[i] ? m->miou : m->mae;
    int better = isfinite(v) && (!isfinite(e->best[i]) || (e->higher[i] ? v > e->best[i] : v < e->best[i]));
    if (better) {
      e->best[i] = v;
      e->best_epoch[i] = r->epoch;
      e->since[i] = 0;
      improved[i] = 1;
    } else {
      e->since[i]++;
    }
    if (e->since[i] >= e->patience) {
      e->stopped[i] = r->epoch;
      if (log) {
        fprintf(log, "{\"event\":\"task_stop\",\"epoch\":%d,\"task\":\"%s\",\"metric\":\"%s\",\"best\":", r->epoch,
                r->task_names[i], e->higher[i] ? "miou" : "mae");
        if (isfinite(e->best[i])) fprintf(log, "%.9g", e->best[i]);
        else fprintf(log, "null");
        fprintf(log, ",\"best_epoch\":%d,\"patience\":%d}\n", e->best_epoch[i], e->patience);
        fflush(log);
      }
    }
    active += !e->stopped[i];
  }
  for (int i = 0; i < e->ntasks; i++) {
    r->task_stopped[i] = e->stopped[i];
    r->task_best_epoch[i] = e->best_epoch[i];
  }
  return active == 0;
}

clm_status clm_early_stop_save(const clm_early_stop *e, const char *out_dir) {
  if (e->patience <= 0) return CLM_OK;
  char *path = clm_path_join(out_dir, "early_stop.json"), *tmp = clm_path_join(out_dir, "early_stop.json.tmp");
  FILE *f = path && tmp ? fopen(tmp, "wb") : NULL;
  clm_status st = CLM_OK;
  if (!f) st = CLM_ERROR(CLM_ERR_IO, "cannot write %s: %s", tmp ? tmp : out_dir, strerror(errno));
  const char *keys[4] = {"best", "best_epoch", "since", "stopped"};
  for (int k = 0; k < 4 && f; k++) {
    fprintf(f, "%s\"%s\":[", k ? "," : "{", keys[k]);
    for (int i = 0; i < e->ntasks; i++) {
      double v = k == 0 ? e->best[i] : k == 1 ? e->best_epoch[i] : k == 2 ? e->since[i] : e->stopped[i];
      if (isfinite(v)) fprintf(f, "%s%.17g", i ? "," : "", v);
      else fprintf(f, "%snull", i ? "," : "");
    }
    fprintf(f, "]");
  }
  if (f) {
    fprintf(f, "}\n");
    if (fclose(f) != 0 || rename(tmp, path) != 0)
      st = CLM_ERROR(CLM_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  }
  free(path);
  free(tmp);
  return st;
}
