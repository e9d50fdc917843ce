/* A flat API for other languages (Python's ctypes, cffi, ...): opaque handles, strings, flat
 * float arrays and JSON text, no struct passed by value, so that a binding declares a few
 * function signatures and nothing of clmtl's struct layouts. Three things:
 *   clm_predictor  a checkpoint written by clmtl train, opened for inference (as clmtl eval and
 *                  clmtl infer open it): images in, every task's raw output out; and its
 *                  evaluation on synthetic or CityScapes data, as JSON;
 *   clm_train_kv   clm_train_run with its options as "key" = "value" strings and each epoch's
 *                  report as JSON;
 *   clm_free       for the strings these return.
 * The C API proper (graph.h, train.h, ...) is what C programs use. */
#ifndef CLMTL_BINDINGS_H
#define CLMTL_BINDINGS_H

#include "clmtl/status.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clm_predictor clm_predictor;

/* Opens `checkpoint` (a .safetensors file written by clmtl train): the graph rebuilt from the
 * model text in its metadata (checked against its hash), compiled for inference for `batch`
 * images of height × width (0, 0: the checkpoint's training resolution), weights loaded, batch
 * norm folded. device: a clm_device_select spec (NULL or "": the first GPU, else the first
 * device). Errors name the file. */
CLMTL_API clm_status clm_predictor_open(const char *checkpoint, const char *device, int batch, int height,
                                        int width, clm_predictor **out);
/* NULL does nothing. */
CLMTL_API void clm_predictor_free(clm_predictor *p);

/* The predictor as JSON (*json malloc'd, freed with clm_free): "batch", "height", "width",
 * "device", "checkpoint", "label_set", "class_names" (array or null), "tasks" in loss order,
 * each {"name", "kind": "classification" | "regression", "target", "prediction" (the layer),
 * "channels"}, and "metadata" (every checkpoint metadata pair but the model text). */
CLMTL_API clm_status clm_predictor_info(const clm_predictor *p, char **json);

/* Runs `count` images (1 ≤ count ≤ batch), planar RGB floats in [0, 1] of (count, 3, H, W) at
 * the predictor's resolution (a 1-channel image input takes their Rec. 601 luma, as training
 * fed it). out[i] receives task i's raw prediction (count, C_i, H, W): logits for a
 * classification task, values (offsets, disparity, ...) for a regression task. Batch rows past
 * count are run on black images and dropped. */
CLMTL_API clm_status clm_predictor_run(clm_predictor *p, const float *images, int count, float *const *out);

/* The checkpoint scored as clmtl eval scores it: data_dir a CityScapes tree (NULL or "": the
 * built-in synthetic scenes, `count` samples (0: 64) with the checkpoint's data seed, or
 * `seed` when not 0), split "train", "val" or "test". *json (freed with clm_free): "split",
 * "samples", "height", "width", "tasks": {name: {"loss", metrics...}} with mIoU, pixel
 * accuracy, per-class IoU for classification and MAE, RMSE, relative error, L1 per pixel for
 * regression. */
CLMTL_API clm_status clm_predictor_evaluate(clm_predictor *p, const char *data_dir, const char *split, int count,
                                            long long seed, char **json);

/* Called after each epoch with its report as JSON: "epoch" (from 1, as in log.jsonl),
 * "val_loss" (the fixed-weight aggregate), "best", "stop", "seconds", "skipped_steps", and
 * "tasks": {name: {"train_loss", "val_loss", metrics...}}. The text is valid during the call. */
typedef void (*clm_train_json_fn)(void *user, const char *json);

/* clm_train_run from clm_train_defaults() with n options as strings: keys "model", "data",
 * "out", "resume", "device", "labels" (categories | trainids), "size" ("HxW"), "height",
 * "width", "batch", "epochs", "train_count", "val_count", "patience", "early_stop_patience",
 * "seed", "log_every",
 * "optimizer" (sgd | adam | adamw), "lr", "task_lr", "momentum", "weight_decay", "schedule"
 * (constant | step | poly), "step_epochs", "gamma", "power", "weighting" (a strategy name),
 * "gating", "gate_threshold", "alpha", "temperature", "skip_bad" (0 | 1). An unknown key or a
 * value out of range is CLM_ERR_INVALID_ARG naming both, before anything runs. on_epoch may be
 * NULL. The context has the defaults (no binary cache) unless "cache_dir" is given. */
CLMTL_API clm_status clm_train_kv(const char *const *keys, const char *const *values, int n,
                                  clm_train_json_fn on_epoch, void *user);

/* Frees a string returned by this API; NULL does nothing. */
CLMTL_API void clm_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
