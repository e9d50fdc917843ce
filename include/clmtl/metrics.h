/* Per-task evaluation metrics over a validation pass: an accumulator that sums each batch on
 * the device (a K×K confusion matrix of 32-bit counts for classification tasks; per-batch
 * sums of |e|, e², |e|/|t| and counts for regression tasks, reduced in a fixed order) and
 * reports per task when asked (mIoU, per-class IoU, pixel accuracy, macro F1; MAE, RMSE,
 * mean relative error, channel-summed L1 per pixel). Also the pure host helpers of the
 * validation protocol: the fixed-weight aggregate of per-task losses with non-finite tasks
 * skipped, Δm% against single-task baselines, and a one-row table printer.
 * Host side: src/mtl/metrics.c; kernels: cl/metrics.cl. Not here: the losses themselves
 * (graph.h), the training-time weighting (mtl.h). */
#ifndef CLMTL_METRICS_H
#define CLMTL_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "clmtl/tensor.h"
#include "clmtl/dist.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLM_METRICS_MAX_TASKS 32    /* skipped-task bitmask fits a uint32_t */
#define CLM_METRICS_MAX_CLASSES 256 /* K of a classification task */
#define CLM_METRICS_NAME_LEN 32

typedef enum clm_metrics_kind {
  CLM_METRICS_SEGMENTATION = 0,   /* per-pixel classes: mIoU, per-class IoU, pixel accuracy */
  CLM_METRICS_CLASSIFICATION = 1, /* same accumulation; reported as accuracy and macro F1 */
  CLM_METRICS_REGRESSION = 2      /* MAE, RMSE, mean relative error, channel-summed L1 */
} clm_metrics_kind;

/* One task of the accumulator. */
typedef struct clm_metrics_task {
  const char *name;      /* copied (up to CLM_METRICS_NAME_LEN - 1 chars); NULL = "task<i>" */
  clm_metrics_kind kind;
  int classes;           /* segmentation / classification: K, 1..CLM_METRICS_MAX_CLASSES */
  float ignore;          /* segmentation / classification: label skipped entirely (e.g. 255) */
  int channels;          /* regression: C of prediction and target (>= 1) */
} clm_metrics_task;

/* One task's results. Fields of the other kind are 0. Means over nothing are NaN. */
typedef struct clm_metrics_report {
  clm_metrics_kind kind;
  /* ---- segmentation / classification, from the confusion matrix C[label][pred] ---- */
  int classes;
  double miou;            /* mean IoU over classes with union > 0 (present in labels or
                             predictions) */
  double iou[CLM_METRICS_MAX_CLASSES]; /* TP / (TP + FP + FN); NaN where the union is 0 */
  int classes_present;    /* classes counted in miou */
  double pixel_accuracy;  /* trace / total over counted pixels (labels in [0, K)) */
  double accuracy;        /* the same value, under its classification name */
  double macro_f1;        /* mean of 2TP / (2TP + FP + FN) over classes with TP+FP+FN > 0 */
  uint64_t counted;       /* pixels in the confusion matrix */
  uint64_t ignored;       /* pixels whose label is the ignore label */
  uint64_t invalid;       /* pixels whose label is neither the ignore label nor an integer
                             in [0, K) (NaN included): reported, never counted */
  /* ---- regression, over valid elements (mask nonzero, or all without a mask) ---- */
  double mae;             /* Σ|p − t| / elements */
  double rmse;            /* sqrt(Σ(p − t)² / elements) */
  double rel_error;       /* Σ|p − t| / |t| / (elements − zero_targets) */
  double l1_per_pixel;    /* Σ_pixels Σ_channels |p − t| / pixels: for the instance task,
                             the mean L1 error of the centroid vectors in pixels */
  uint64_t elements;      /* valid elements (valid pixels × channels) */
  uint64_t pixels;        /* valid pixels */
  uint64_t zero_targets;  /* valid elements with t == 0, left out of rel_error */
} clm_metrics_report;

typedef struct clm_metrics clm_metrics;

/* An accumulator for `ntasks` tasks (1..CLM_METRICS_MAX_TASKS) on ctx, zeroed. The task list
 * is copied. Device memory: (K² + 2) counts per classification task, a few hundred floats
 * per regression task, one shared workspace. */
CLMTL_API clm_status clm_metrics_create(clm_context *ctx, const clm_metrics_task *tasks, int ntasks,
                              clm_metrics **out);
/* Frees the accumulator and its buffers; NULL does nothing. */
CLMTL_API void clm_metrics_free(clm_metrics *m);

/* Zeroes every task's sums, for the next validation pass. */
CLMTL_API clm_status clm_metrics_reset(clm_metrics *m);
/* Data parallelism (dist.h): every task's totals (confusion counts; regression sums and
 * counts) summed over d's ranks, so that the results are the whole split's. Once, after the
 * last clm_metrics_add_*; nothing on one rank. */
CLMTL_API clm_status clm_metrics_allreduce(clm_metrics *m, clm_dist *d);

/* Adds one batch to a segmentation / classification task: logits (N, K, H, W), labels
 * (N, 1, H, W) of float class ids. Argmax per pixel (ties and NaN: the lowest index among
 * the largest non-NaN logits; class 0 when all are NaN). Enqueued, not waited for. */
CLMTL_API clm_status clm_metrics_add_classification(clm_metrics *m, int task, const clm_tensor *logits,
                                          const clm_tensor *labels);

/* Adds one batch to a regression task: pred and target (N, C, H, W), mask (N, 1, H, W),
 * nonzero = valid, or NULL (all valid). The batch is reduced on the device in a fixed order
 * (bit-identical run to run on one device); batch totals are added on the host in double. */
CLMTL_API clm_status clm_metrics_add_regression(clm_metrics *m, int task, const clm_tensor *pred,
                                      const clm_tensor *target, const clm_tensor *mask);

/* Downloads the task's sums (blocking) and computes its results. Accumulation may go on
 * afterwards. */
CLMTL_API clm_status clm_metrics_result(clm_metrics *m, int task, clm_metrics_report *out);

/* Copies the task's K×K confusion matrix, out[label * K + pred], into out (blocking). */
CLMTL_API clm_status clm_metrics_confusion(clm_metrics *m, int task, uint64_t *out);

/* Name of task i as given at creation ("?" when out of range). */
CLMTL_API const char *clm_metrics_task_name(const clm_metrics *m, int task);

/* ---- host helpers of the validation protocol ---------------------------------------------- */

/* Fixed-weight aggregate of per-task losses. */
typedef struct clm_metrics_aggregate {
  double total;          /* Σ w_i L_i over tasks with a finite loss; NaN when none is */
  int nskipped;          /* tasks left out because their loss is NaN or ±Inf */
  uint32_t skipped_mask; /* bit i set: task i was left out */
  int skipped[CLM_METRICS_MAX_TASKS]; /* their indices, ascending (first nskipped) */
} clm_metrics_aggregate;

/* loss[0..ntasks), weight[0..ntasks) or NULL for uniform 1/ntasks. The weights of skipped
 * tasks are not redistributed. Non-finite weights are CLM_ERR_INVALID_ARG. */
CLMTL_API clm_status clm_metrics_aggregate_loss(const double *loss, const double *weight, int ntasks,
                                      clm_metrics_aggregate *out);

/* Δm% (Maninis et al. 2019; Vandenhende et al. 2021): 100/T Σ (−1)^{l_i} (M_i − B_i) / B_i,
 * l_i = 1 where lower is better (lower_better[i] nonzero). Positive = better than the
 * single-task baselines. A zero baseline is CLM_ERR_INVALID_ARG; non-finite values are
 * CLM_ERR_NUMERIC. */
CLMTL_API clm_status clm_metrics_delta_m(const double *value, const double *baseline,
                               const int *lower_better, int ntasks, double *out);

/* Table header for tasks of this kind (segmentation and classification share columns). Like
 * snprintf: writes at most size bytes, returns the length the whole line needs. */
CLMTL_API int clm_metrics_format_header(clm_metrics_kind kind, char *buf, size_t size);
/* One task's results as a row under that header: name, then percentages for the
 * classification measures or the regression errors, then the counts. */
CLMTL_API int clm_metrics_format_row(const char *name, const clm_metrics_report *r, char *buf,
                           size_t size);

#ifdef __cplusplus
}
#endif

#endif
