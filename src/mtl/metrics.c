/* Evaluation metrics, host side (include/clmtl/metrics.h; kernels in cl/metrics.cl): the
 * accumulator's buffers and launches, the folds of device sums into 64-bit / double host
 * totals, the metrics computed from those totals, and the host-only helpers (aggregate loss,
 * Δm%, table rows). Not here: anything that runs a network (the validation loop calls
 * clm_metrics_add_* on its outputs).
 *
 * Device counts are 32-bit: a classification task's counts are folded into the host's 64-bit
 * totals (and zeroed) before a batch could take any of them past UINT32_MAX. Regression batch
 * records go to a ring of METRICS_SLOTS slots per task, downloaded and added in double, in
 * batch order, when the ring is full or a result is asked for. */
#include "clmtl/metrics.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"

#define METRICS_REC 8          /* words per regression record (cl/metrics.cl) */
#define METRICS_MAX_GROUPS 256 /* stage-1 work-groups of the regression reduction */
#define METRICS_SLOTS 64       /* batch records held on the device per regression task */

typedef struct metrics_task {
  clm_metrics_task t;
  char name[CLM_METRICS_NAME_LEN];
  /* classification */
  clm_mem counts;        /* K*K + 2 uints: confusion, invalid, ignored */
  int ncounts;
  uint64_t *host_counts; /* folded totals, same layout */
  uint64_t dev_pixels;   /* pixels added to the device counts since the last fold */
  /* regression */
  clm_mem slots;         /* METRICS_SLOTS records */
  int used;
  double sum_abs, sum_sq, sum_rel;
  uint64_t elements, zeros, pixels;
} metrics_task;

struct clm_metrics {
  clm_context *ctx;
  int ntasks;
  metrics_task *tasks;
  clm_mem ws; /* METRICS_MAX_GROUPS stage-1 records, shared (the queue is in order) */
};

static int is_class_kind(clm_metrics_kind k) {
  return k == CLM_METRICS_SEGMENTATION || k == CLM_METRICS_CLASSIFICATION;
}

/* The three kernels of cl/metrics.cl, built for one tree size (clm_tree_kernels). */
static clm_status metrics_kernels(clm_context *ctx, cl_kernel *conf, cl_kernel *part,
                                  cl_kernel *fin, size_t *wg_out) {
  static const char *const names[] = {"metrics_confusion", "metrics_regress_partial",
                                      "metrics_regress_final"};
  cl_kernel k[3];
  size_t wg;
  CLM_TRY(clm_tree_kernels(ctx, "metrics", "METRICS_WG", 3, names, k, &wg));
  *conf = k[0];
  *part = k[1];
  *fin = k[2];
  if (wg_out) *wg_out = wg;
  return CLM_OK;
}

static clm_status read_words(clm_context *ctx, clm_mem buf, size_t words, uint32_t *host) {
  CLM_CL_TRY(clEnqueueReadBuffer(ctx->queue, (cl_mem)buf, CL_TRUE, 0, words * sizeof(uint32_t),
                                 host, 0, NULL, NULL));
  return CLM_OK;
}

static clm_status zero_words(clm_context *ctx, clm_mem buf, int words) {
  clm_tensor all = clm_tensor_view(buf, 0, 1, 1, 1, words); /* 0.0f has all bits zero */
  return clm_tensor_fill(ctx, &all, 0.0f);
}

/* Adds the device counts of a classification task to its host totals and zeroes them. */
static clm_status fold_counts(clm_metrics *m, metrics_task *t) {
  if (t->dev_pixels == 0) return CLM_OK;
  uint32_t *w = malloc((size_t)t->ncounts * sizeof *w);
  if (!w) CLM_FAIL(CLM_ERR_HOST_MEMORY, "metrics: %d counts", t->ncounts);
  clm_status st = read_words(m->ctx, t->counts, (size_t)t->ncounts, w);
  if (st == CLM_OK) {
    for (int i = 0; i < t->ncounts; i++) t->host_counts[i] += w[i];
    st = zero_words(m->ctx, t->counts, t->ncounts);
  }
  free(w);
  if (st == CLM_OK) t->dev_pixels = 0;
  return st;
}

/* Adds the regression task's pending batch records to its double totals, in batch order. */
static clm_status fold_slots(clm_metrics *m, metrics_task *t) {
  if (t->used == 0) return CLM_OK;
  uint32_t w[METRICS_SLOTS * METRICS_REC];
  CLM_TRY(read_words(m->ctx, t->slots, (size_t)t->used * METRICS_REC, w));
  for (int b = 0; b < t->used; b++) {
    const uint32_t *r = w + b * METRICS_REC;
    float f[3];
    memcpy(f, r, sizeof f);
    t->sum_abs += f[0];
    t->sum_sq += f[1];
    t->sum_rel += f[2];
    t->elements += r[3];
    t->zeros += r[4];
    t->pixels += r[5];
  }
  t->used = 0;
  return CLM_OK;
}

static void clear_host(metrics_task *t) {
  if (t->host_counts) memset(t->host_counts, 0, (size_t)t->ncounts * sizeof *t->host_counts);
  t->dev_pixels = 0;
  t->used = 0;
  t->sum_abs = t->sum_sq = t->sum_rel = 0.0;
  t->elements = t->zeros = t->pixels = 0;
}

clm_status clm_metrics_allreduce(clm_metrics *m, clm_dist *d) {
  if (clm_dist_size(d) <= 1) return CLM_OK;
  for (int i = 0; i < m->ntasks; i++) {
    metrics_task *t = &m->tasks[i];
    if (is_class_kind(t->t.kind)) {
      CLM_TRY(fold_counts(m, t));
      int64_t *c = malloc((size_t)t->ncounts * sizeof *c);
      if (!c) CLM_FAIL(CLM_ERR_HOST_MEMORY, "metrics: %d counts", t->ncounts);
      for (int j = 0; j < t->ncounts; j++) c[j] = (int64_t)t->host_counts[j];
      clm_status st = clm_dist_allreduce_int64(d, c, (size_t)t->ncounts);
      for (int j = 0; j < t->ncounts && st == CLM_OK; j++) t->host_counts[j] = (uint64_t)c[j];
      free(c);
      CLM_TRY(st);
    } else {
      CLM_TRY(fold_slots(m, t));
      double sums[3] = {t->sum_abs, t->sum_sq, t->sum_rel};
      int64_t counts[3] = {(int64_t)t->elements, (int64_t)t->zeros, (int64_t)t->pixels};
      CLM_TRY(clm_dist_allreduce_double(d, sums, 3));
      CLM_TRY(clm_dist_allreduce_int64(d, counts, 3));
      t->sum_abs = sums[0];
      t->sum_sq = sums[1];
      t->sum_rel = sums[2];
      t->elements = (uint64_t)counts[0];
      t->zeros = (uint64_t)counts[1];
      t->pixels = (uint64_t)counts[2];
    }
  }
  return CLM_OK;
}

clm_status clm_metrics_create(clm_context *ctx, const clm_metrics_task *tasks, int ntasks,
                              clm_metrics **out) {
  if (!out) CLM_FAIL(CLM_ERR_INVALID_ARG, "metrics: no output handle");
  *out = NULL;
  if (!ctx || !tasks) CLM_FAIL(CLM_ERR_INVALID_ARG, "metrics: context and task list required");
  if (ntasks < 1 || ntasks > CLM_METRICS_MAX_TASKS)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "metrics: %d tasks, 1..%d allowed", ntasks,
             CLM_METRICS_MAX_TASKS);
  for (int i = 0; i < ntasks; i++) {
    const clm_metrics_task *t = &tasks[i];
    if (is_class_kind(t->kind)) {
      if (t->classes < 1 || t->classes > CLM_METRICS_MAX_CLASSES)
        CLM_FAIL(CLM_ERR_INVALID_ARG, "metrics: task %d has %d classes, 1..%d allowed", i,
                 t->classes, CLM_METRICS_MAX_CLASSES);
    } else if (t->kind == CLM_METRICS_REGRESSION) {
      if (t->channels < 1)
        CLM_FAIL(CLM_ERR_INVALID_ARG, "metrics: regression task %d has %d channels", i,
                 t->channels);
    } else {
      CLM_FAIL(CLM_ERR_INVALID_ARG, "metrics: task %d has unknown kind %d", i, (int)t->kind);
    }
  }
  /* build (and check) the kernels now, so that a device that cannot run them fails here */
  cl_kernel kc, kp, kf;
  CLM_TRY(metrics_kernels(ctx, &kc, &kp, &kf, NULL));

  clm_metrics *m = calloc(1, sizeof *m);
  if (!m) CLM_FAIL(CLM_ERR_HOST_MEMORY, "metrics: accumulator");
  m->ctx = ctx;
  m->ntasks = ntasks;
  m->tasks = calloc((size_t)ntasks, sizeof *m->tasks);
  clm_status st = CLM_OK;
  if (!m->tasks) {
    st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "metrics: %d tasks", ntasks);
    goto fail;
  }
  CLM_CHECK(st, clm_buffer_alloc(ctx, METRICS_MAX_GROUPS * METRICS_REC, &m->ws), fail);
  for (int i = 0; i < ntasks; i++) {
    metrics_task *t = &m->tasks[i];
    t->t = tasks[i];
    if (tasks[i].name)
      snprintf(t->name, sizeof t->name, "%s", tasks[i].name);
    else
      snprintf(t->name, sizeof t->name, "task%d", i);
    t->t.name = t->name;
    if (is_class_kind(t->t.kind)) {
      t->ncounts = t->t.classes * t->t.classes + 2;
      t->host_counts = calloc((size_t)t->ncounts, sizeof *t->host_counts);
      if (!t->host_counts) {
        st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "metrics: %d counts", t->ncounts);
        goto fail;
      }
      CLM_CHECK(st, clm_buffer_alloc(ctx, (size_t)t->ncounts, &t->counts), fail);
    } else {
      CLM_CHECK(st, clm_buffer_alloc(ctx, METRICS_SLOTS * METRICS_REC, &t->slots), fail);
    }
  }
  *out = m;
  return CLM_OK;
fail:
  clm_metrics_free(m);
  return st;
}

void clm_metrics_free(clm_metrics *m) {
  if (!m) return;
  if (m->tasks)
    for (int i = 0; i < m->ntasks; i++) {
      metrics_task *t = &m->tasks[i];
      clm_buffer_free(m->ctx, t->counts);
      clm_buffer_free(m->ctx, t->slots);
      free(t->host_counts);
    }
  clm_buffer_free(m->ctx, m->ws);
  free(m->tasks);
  free(m);
}

clm_status clm_metrics_reset(clm_metrics *m) {
  if (!m) CLM_FAIL(CLM_ERR_INVALID_ARG, "metrics: no accumulator");
  for (int i = 0; i < m->ntasks; i++) {
    metrics_task *t = &m->tasks[i];
    if (t->counts && t->dev_pixels) CLM_TRY(zero_words(m->ctx, t->counts, t->ncounts));
    clear_host(t);
  }
  return CLM_OK;
}

static clm_status get_task(clm_metrics *m, int task, const char *call, metrics_task **out) {
  if (!m) CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: no accumulator", call);
  if (task < 0 || task >= m->ntasks)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: task %d out of range (0..%d)", call, task, m->ntasks - 1);
  *out = &m->tasks[task];
  return CLM_OK;
}

/* numel + offset within the int range kernels index with. */
static clm_status check_range(const clm_tensor *x, const char *call, const char *what) {
  if (!clm_tensor_present(x)) CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: %s missing", call, what);
  if (x->n < 1 || x->c < 1 || x->h < 1 || x->w < 1)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %s has shape (%d, %d, %d, %d)", call, what, x->n, x->c, x->h,
             x->w);
  if (clm_tensor_numel(x) + x->off > (size_t)INT_MAX)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %s of %zu floats at offset %zu exceeds the int range", call,
             what, clm_tensor_numel(x), x->off);
  return CLM_OK;
}

clm_status clm_metrics_add_classification(clm_metrics *m, int task, const clm_tensor *logits,
                                          const clm_tensor *labels) {
  static const char *call = "clm_metrics_add_classification";
  metrics_task *t = NULL;
  CLM_TRY(get_task(m, task, call, &t));
  if (!is_class_kind(t->t.kind))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: task %d ('%s') is a regression task", call, task,
             t->name);
  CLM_TRY(check_range(logits, call, "logits"));
  CLM_TRY(check_range(labels, call, "labels"));
  const int k = t->t.classes;
  if (logits->c != k)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: task '%s' has %d classes, logits (%d, %d, %d, %d) have %d", call,
             t->name, k, logits->n, logits->c, logits->h, logits->w, logits->c);
  if (labels->c != 1 || labels->n != logits->n || labels->h != logits->h ||
      labels->w != logits->w)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: labels (%d, %d, %d, %d) do not fit logits (%d, %d, %d, %d): "
             "(N, 1, H, W) expected", call, labels->n, labels->c, labels->h, labels->w,
             logits->n, logits->c, logits->h, logits->w);
  size_t npix = clm_tensor_numel(labels);
  if (t->dev_pixels + npix > UINT32_MAX) CLM_TRY(fold_counts(m, t));
  cl_kernel kc, kp, kf;
  CLM_TRY(metrics_kernels(m->ctx, &kc, &kp, &kf, NULL));
  CLM_TRY(clm_kernel_args(kc, "ttiiifmi", logits, labels, (int)npix, k,
                          logits->h * logits->w, (double)t->t.ignore, (cl_mem)t->counts, 0));
  CLM_TRY(clm_kernel_launch(m->ctx, kc, 1, &npix, NULL));
  t->dev_pixels += npix;
  return CLM_OK;
}

clm_status clm_metrics_add_regression(clm_metrics *m, int task, const clm_tensor *pred,
                                      const clm_tensor *target, const clm_tensor *mask) {
  static const char *call = "clm_metrics_add_regression";
  metrics_task *t = NULL;
  CLM_TRY(get_task(m, task, call, &t));
  if (t->t.kind != CLM_METRICS_REGRESSION)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: task %d ('%s') is a classification task", call, task,
             t->name);
  CLM_TRY(check_range(pred, call, "pred"));
  CLM_TRY(check_range(target, call, "target"));
  if (pred->c != t->t.channels)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: task '%s' has %d channels, pred (%d, %d, %d, %d) has %d", call,
             t->name, t->t.channels, pred->n, pred->c, pred->h, pred->w, pred->c);
  if (target->n != pred->n || target->c != pred->c || target->h != pred->h ||
      target->w != pred->w)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: target (%d, %d, %d, %d) differs from pred (%d, %d, %d, %d)",
             call, target->n, target->c, target->h, target->w, pred->n, pred->c, pred->h,
             pred->w);
  const int has_mask = clm_tensor_present(mask);
  if (has_mask) {
    CLM_TRY(check_range(mask, call, "mask"));
    if (mask->c != 1 || mask->n != pred->n || mask->h != pred->h || mask->w != pred->w)
      CLM_FAIL(CLM_ERR_SHAPE, "%s: mask (%d, %d, %d, %d) does not fit pred (%d, %d, %d, %d): "
               "(N, 1, H, W) expected", call, mask->n, mask->c, mask->h, mask->w, pred->n,
               pred->c, pred->h, pred->w);
  }
  if (t->used == METRICS_SLOTS) CLM_TRY(fold_slots(m, t));
  cl_kernel kc, kp, kf;
  size_t wg;
  CLM_TRY(metrics_kernels(m->ctx, &kc, &kp, &kf, &wg));
  const size_t npix = (size_t)pred->n * (size_t)pred->h * (size_t)pred->w;
  size_t groups = (npix + wg - 1) / wg;
  if (groups > METRICS_MAX_GROUPS) groups = METRICS_MAX_GROUPS;
  size_t global = groups * wg;
  /* without a mask the kernel never reads its mask argument: pred stands in */
  const clm_tensor *mk = has_mask ? mask : pred;
  CLM_TRY(clm_kernel_args(kp, "tttiiiimi", pred, target, mk, has_mask, (int)npix, pred->c,
                          pred->h * pred->w, (cl_mem)m->ws, 0));
  CLM_TRY(clm_kernel_launch(m->ctx, kp, 1, &global, &wg));
  CLM_TRY(clm_kernel_args(kf, "miimi", (cl_mem)m->ws, 0, (int)groups, (cl_mem)t->slots,
                          t->used * METRICS_REC));
  CLM_TRY(clm_kernel_launch(m->ctx, kf, 1, &wg, &wg));
  t->used++;
  return CLM_OK;
}

clm_status clm_metrics_confusion(clm_metrics *m, int task, uint64_t *out) {
  metrics_task *t = NULL;
  CLM_TRY(get_task(m, task, "clm_metrics_confusion", &t));
  if (!is_class_kind(t->t.kind))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_metrics_confusion: task %d ('%s') is a regression task",
             task, t->name);
  if (!out) CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_metrics_confusion: no output array");
  CLM_TRY(fold_counts(m, t));
  memcpy(out, t->host_counts, (size_t)t->t.classes * t->t.classes * sizeof *out);
  return CLM_OK;
}

/* Results of a classification task from its K×K counts C[label*K + pred]. */
static void class_results(const uint64_t *c, int k, clm_metrics_report *r) {
  uint64_t total = 0, trace = 0;
  double iou_sum = 0.0, f1_sum = 0.0;
  int f1_classes = 0;
  for (int i = 0; i < k; i++) {
    uint64_t row = 0, col = 0;
    for (int j = 0; j < k; j++) {
      row += c[i * k + j];
      col += c[j * k + i];
    }
    const uint64_t tp = c[i * k + i], fn = row - tp, fp = col - tp;
    total += row;
    trace += tp;
    const uint64_t uni = tp + fp + fn;
    if (uni > 0) {
      r->iou[i] = (double)tp / (double)uni;
      iou_sum += r->iou[i];
      r->classes_present++;
      f1_sum += 2.0 * (double)tp / (double)(2 * tp + fp + fn);
      f1_classes++;
    } else {
      r->iou[i] = NAN;
    }
  }
  r->counted = total;
  r->miou = r->classes_present ? iou_sum / r->classes_present : NAN;
  r->macro_f1 = f1_classes ? f1_sum / f1_classes : NAN;
  r->pixel_accuracy = total ? (double)trace / (double)total : NAN;
  r->accuracy = r->pixel_accuracy;
}

clm_status clm_metrics_result(clm_metrics *m, int task, clm_metrics_report *out) {
  metrics_task *t = NULL;
  CLM_TRY(get_task(m, task, "clm_metrics_report", &t));
  if (!out) CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_metrics_report: no output struct");
  memset(out, 0, sizeof *out);
  out->kind = t->t.kind;
  if (is_class_kind(t->t.kind)) {
    const int k = t->t.classes;
    CLM_TRY(fold_counts(m, t));
    out->classes = k;
    class_results(t->host_counts, k, out);
    out->invalid = t->host_counts[k * k];
    out->ignored = t->host_counts[k * k + 1];
  } else {
    CLM_TRY(fold_slots(m, t));
    const double ne = (double)t->elements, nr = (double)(t->elements - t->zeros);
    out->elements = t->elements;
    out->pixels = t->pixels;
    out->zero_targets = t->zeros;
    out->mae = ne > 0 ? t->sum_abs / ne : NAN;
    out->rmse = ne > 0 ? sqrt(t->sum_sq / ne) : NAN;
    out->rel_error = nr > 0 ? t->sum_rel / nr : NAN;
    out->l1_per_pixel = t->pixels ? t->sum_abs / (double)t->pixels : NAN;
  }
  return CLM_OK;
}

const char *clm_metrics_task_name(const clm_metrics *m, int task) {
  if (!m || task < 0 || task >= m->ntasks) return "?";
  return m->tasks[task].name;
}

/* ---- host helpers ------------------------------------------------------------------------- */

clm_status clm_metrics_aggregate_loss(const double *loss, const double *weight, int ntasks,
                                      clm_metrics_aggregate *out) {
  if (!loss || !out)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_metrics_aggregate_loss: loss and out required");
  if (ntasks < 1 || ntasks > CLM_METRICS_MAX_TASKS)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_metrics_aggregate_loss: %d tasks, 1..%d allowed", ntasks,
             CLM_METRICS_MAX_TASKS);
  if (weight)
    for (int i = 0; i < ntasks; i++)
      if (!isfinite(weight[i]))
        CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_metrics_aggregate_loss: weight %d is %g", i,
                 weight[i]);
  memset(out, 0, sizeof *out);
  double total = 0.0;
  int used = 0;
  for (int i = 0; i < ntasks; i++) {
    if (!isfinite(loss[i])) {
      out->skipped[out->nskipped++] = i;
      out->skipped_mask |= (uint32_t)1 << i;
      continue;
    }
    total += (weight ? weight[i] : 1.0 / ntasks) * loss[i];
    used++;
  }
  out->total = used ? total : NAN;
  return CLM_OK;
}

clm_status clm_metrics_delta_m(const double *value, const double *baseline,
                               const int *lower_better, int ntasks, double *out) {
  if (!value || !baseline || !lower_better || !out)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_metrics_delta_m: values, baselines, directions and out "
             "required");
  if (ntasks < 1) CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_metrics_delta_m: %d tasks", ntasks);
  double sum = 0.0;
  for (int i = 0; i < ntasks; i++) {
    if (!isfinite(value[i]) || !isfinite(baseline[i]))
      CLM_FAIL(CLM_ERR_NUMERIC, "clm_metrics_delta_m: task %d: value %g, baseline %g", i,
               value[i], baseline[i]);
    if (baseline[i] == 0.0)
      CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_metrics_delta_m: task %d has a zero baseline", i);
    const double rel = (value[i] - baseline[i]) / baseline[i];
    sum += lower_better[i] ? -rel : rel;
  }
  *out = 100.0 * sum / ntasks;
  return CLM_OK;
}

int clm_metrics_format_header(clm_metrics_kind kind, char *buf, size_t size) {
  if (kind == CLM_METRICS_REGRESSION)
    return snprintf(buf, size, "%-16s %10s %10s %9s %10s %12s %12s %10s", "task", "MAE", "RMSE",
                    "rel", "L1/pixel", "elements", "pixels", "t==0");
  return snprintf(buf, size, "%-16s %7s %7s %7s %10s %12s %10s %10s", "task", "mIoU%", "acc%",
                  "mF1%", "classes", "pixels", "ignored", "invalid");
}

int clm_metrics_format_row(const char *name, const clm_metrics_report *r, char *buf,
                           size_t size) {
  if (!r) return snprintf(buf, size, "%-16s (no result)", name ? name : "?");
  if (!name) name = "?";
  if (r->kind == CLM_METRICS_REGRESSION)
    return snprintf(buf, size, "%-16.16s %10.5g %10.5g %9.4f %10.5g %12llu %12llu %10llu", name,
                    r->mae, r->rmse, r->rel_error, r->l1_per_pixel,
                    (unsigned long long)r->elements, (unsigned long long)r->pixels,
                    (unsigned long long)r->zero_targets);
  char classes[24];
  snprintf(classes, sizeof classes, "%d/%d", r->classes_present, r->classes);
  return snprintf(buf, size, "%-16.16s %7.2f %7.2f %7.2f %10s %12llu %10llu %10llu", name,
                  100.0 * r->miou, 100.0 * r->pixel_accuracy, 100.0 * r->macro_f1, classes,
                  (unsigned long long)r->counted, (unsigned long long)r->ignored,
                  (unsigned long long)r->invalid);
}
