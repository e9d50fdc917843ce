/* The flat API for bindings (clmtl/bindings.h, src/api/): clm_train_kv trains the tiny model
 * and reports each epoch as JSON; clm_predictor opens the best checkpoint and its outputs are
 * compared with a graph built, compiled and loaded here through the C API proper
 * (clm_graph_load of the same model file, clm_checkpoint_load); rows of a batch are
 * independent of each other; its evaluation equals the trainer's validation of the epoch that
 * wrote the checkpoint (the same split and samples); bad options and arguments fail with
 * messages naming them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "test_util.h"

#define H 32
#define W 64

typedef struct epochs_seen {
  int count, best_epoch, malformed;
  double best_val[3];
} epochs_seen;

static void on_epoch(void *user, const char *json) {
  epochs_seen *e = user;
  cJSON *doc = cJSON_Parse(json), *tasks = cJSON_GetObjectItem(doc, "tasks");
  const char *names[3] = {"semantic", "instance", "depth"};
  if (!cJSON_IsNumber(cJSON_GetObjectItem(doc, "epoch")) || cJSON_GetArraySize(tasks) != 3) e->malformed++;
  if (cJSON_IsTrue(cJSON_GetObjectItem(doc, "best"))) {
    e->best_epoch = cJSON_GetObjectItem(doc, "epoch")->valueint;
    for (int i = 0; i < 3; i++) {
      cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(tasks, names[i]), "val_loss");
      e->best_val[i] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    }
  }
  e->count++;
  cJSON_Delete(doc);
}

int main(void) {
  const clm_context_options *co = test_context_options();
  const char *device = co->device && *co->device ? co->device : "";
  char dir[] = "/tmp/clmtl_bindings_XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char model[512], best[600], size[16];
  snprintf(model, sizeof model, "%s/tiny.cfg", CLMTL_MODELS);
  snprintf(best, sizeof best, "%s/best.safetensors", dir);
  snprintf(size, sizeof size, "%dx%d", H, W);
  const char *keys[] = {"model", "out", "size", "epochs", "batch", "train_count", "val_count", "device",
                        "weighting", "seed", "cache_dir"};
  const char *vals[] = {model, dir, size, "2", "4", "8", "6", device, "uncertainty", "3",
                        co->cache_dir ? co->cache_dir : ""};
  epochs_seen seen = {0, -1, 0, {0}};
  test_status("clm_train_kv: tiny, 2 epochs", clm_train_kv(keys, vals, 11, on_epoch, &seen));
  test_true("on_epoch: once per epoch, well-formed JSON", seen.count == 2 && !seen.malformed, "");

  clm_predictor *p = NULL;
  test_status("clm_predictor_open(best, batch 2)", clm_predictor_open(best, device, 2, 0, 0, &p));
  if (!p) return test_finish();
  char *info = NULL;
  test_status("clm_predictor_info", clm_predictor_info(p, &info));
  cJSON *doc = cJSON_Parse(info ? info : "");
  cJSON *tasks = cJSON_GetObjectItem(doc, "tasks");
  int ch[3] = {0};
  for (int i = 0; i < 3 && cJSON_GetArraySize(tasks) == 3; i++)
    ch[i] = cJSON_GetObjectItem(cJSON_GetArrayItem(tasks, i), "channels")->valueint;
  test_true("info: 32 x 64, tasks semantic 7, instance 2, depth 1",
            cJSON_GetObjectItem(doc, "height") && cJSON_GetObjectItem(doc, "height")->valueint == H &&
                cJSON_GetObjectItem(doc, "width")->valueint == W && ch[0] == 7 && ch[1] == 2 && ch[2] == 1, info);
  cJSON_Delete(doc);
  clm_free(info);

  /* two images through the predictor; the first again alone, and through a graph made here */
  test_rng rng = test_rng_make(9);
  size_t img = 3 * (size_t)H * W;
  float *images = test_random(&rng, 2 * img, 0, 1);
  float *out[3], *alone[3];
  for (int i = 0; i < 3; i++) {
    out[i] = test_alloc(2 * (size_t)ch[i] * H * W);
    alone[i] = test_alloc((size_t)ch[i] * H * W);
  }
  test_status("clm_predictor_run: 2 images", clm_predictor_run(p, images, 2, out));
  test_status("clm_predictor_run: the first alone", clm_predictor_run(p, images, 1, alone));
  double err = 0;
  for (int i = 0; i < 3; i++) {
    double e = test_rel_error(alone[i], out[i], (size_t)ch[i] * H * W, 1e-3);
    err = e > err ? e : err;
  }
  test_check("a batch row does not depend on the other rows", err, 1e-5);

  clm_context *ctx = test_context();
  clm_graph *g = NULL;
  clm_graph_options go = {1, H, W, 0, -1, -1}; /* unfused: batch norm as its own node */
  test_status("graph from tiny.cfg", clm_graph_create(ctx, &g));
  test_status("load", clm_graph_load(g, model));
  test_status("compile", clm_graph_compile(g, &go));
  test_status("checkpoint load", clm_checkpoint_load(best, g, NULL, NULL, NULL));
  clm_graph_set_training(g, 0);
  test_status("set input", clm_graph_set_input(g, "input", images));
  test_status("forward", clm_graph_forward(g));
  const char *heads[3] = {"seg_head", "instance_head", "depth_head"};
  for (int i = 0; i < 3; i++) {
    clm_tensor t;
    test_status(heads[i], clm_graph_tensor(g, heads[i], &t));
    float *ref = test_download(ctx, &t);
    char name[96];
    snprintf(name, sizeof name, "predictor == unfused C graph: %s", heads[i]);
    test_check(name, test_rel_error(out[i], ref, (size_t)ch[i] * H * W, 1e-3), 1e-4);
    free(ref);
  }
  clm_graph_free(g);
  clm_context_free(ctx);

  char *ev = NULL;
  test_status("clm_predictor_evaluate: synthetic val, 6 samples", clm_predictor_evaluate(p, NULL, "val", 6, 0, &ev));
  doc = cJSON_Parse(ev ? ev : "");
  tasks = cJSON_GetObjectItem(doc, "tasks");
  const char *names[3] = {"semantic", "instance", "depth"};
  double worst = 0;
  for (int i = 0; i < 3; i++) {
    cJSON *l = cJSON_GetObjectItem(cJSON_GetObjectItem(tasks, names[i]), "loss");
    double d = cJSON_IsNumber(l) ? fabs(l->valuedouble - seen.best_val[i]) / fabs(seen.best_val[i]) : INFINITY;
    worst = d > worst ? d : worst;
  }
  test_check("evaluate's losses == the trainer's validation of the best epoch", worst, 1e-5);
  cJSON_Delete(doc);
  clm_free(ev);

  test_expect("run: 3 images into a batch of 2", clm_predictor_run(p, images, 3, out), CLM_ERR_INVALID_ARG, "batch");
  test_expect("evaluate: split 'nope'", clm_predictor_evaluate(p, NULL, "nope", 4, 0, &ev), CLM_ERR_INVALID_ARG, "nope");
  clm_predictor_free(p);
  clm_predictor_free(NULL);
  clm_free(NULL);
  p = NULL;
  char missing[640];
  snprintf(missing, sizeof missing, "%s/missing.safetensors", dir);
  clm_status st = clm_predictor_open(missing, device, 1, 0, 0, &p);
  test_true("open: a missing file fails naming it", st != CLM_OK && !p && strstr(clm_last_error(), "missing.safetensors"),
            clm_last_error());
  test_expect("open: batch 0", clm_predictor_open(best, device, 0, 0, 0, &p), CLM_ERR_INVALID_ARG, "batch 0");
  const char *bk[] = {"model", "bogus"}, *bv[] = {model, "1"};
  test_expect("train_kv: unknown key", clm_train_kv(bk, bv, 2, NULL, NULL), CLM_ERR_INVALID_ARG, "bogus");
  const char *sk[] = {"size"}, *sv[] = {"32by64"};
  test_expect("train_kv: size 32by64", clm_train_kv(sk, sv, 1, NULL, NULL), CLM_ERR_INVALID_ARG, "32by64");
  const char *ek[] = {"epochs"}, *ev2[] = {"0"};
  test_expect("train_kv: epochs 0", clm_train_kv(ek, ev2, 1, NULL, NULL), CLM_ERR_INVALID_ARG, "epochs");
  for (int i = 0; i < 3; i++) {
    free(out[i]);
    free(alone[i]);
  }
  free(images);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return test_finish();
}
