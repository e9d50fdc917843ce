/* Evaluation shared by the trainer's validation and `clmtl eval`: a graph run over every
 * sample of a dataset with batch-norm running statistics, accumulating per-task metrics and
 * per-task losses weighted by their valid-target counts, so that the result is the mean over
 * the split whatever the batch size. The last batch, when the split is not a multiple of the
 * batch, is padded with rows whose targets are ignore labels or masked out; metrics read views
 * of the real rows only. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/train.h"
#include "runtime/runtime-impl.h"
#include "train/batch.h"

clm_status clm_metrics_for_graph(clm_graph *g, clm_metrics **out) {
  int k = clm_graph_loss_count(g);
  clm_metrics_task mt[CLM_METRICS_MAX_TASKS];
  if (k > CLM_METRICS_MAX_TASKS) CLM_FAIL(CLM_ERR_INVALID_ARG, "too many tasks (%d)", k);
  for (int i = 0; i < k; i++) {
    const clm_layer *l = clm_graph_loss_layer(g, i);
    clm_tensor pred;
    CLM_TRY(clm_graph_tensor(g, l->from[0], &pred));
    mt[i].name = clm_feeds_task_name(l);
    mt[i].kind = clm_layer_type_takes_labels(l->type) ? CLM_METRICS_SEGMENTATION : CLM_METRICS_REGRESSION;
    mt[i].classes = pred.c;
    mt[i].ignore = (float)l->ignore;
    mt[i].channels = pred.c;
  }
  return clm_metrics_create(clm_graph_context(g), mt, k, out);
}

/* The first `rows` samples of a (N, C, H, W) tensor. */
static clm_tensor rows_of(clm_tensor t, int rows) {
  t.n = rows;
  return t;
}

/* Loss i's value and valid count after a forward. */
static clm_status read_loss(clm_graph *g, int i, float *value, float *count) {
  clm_tensor v = clm_graph_loss_value(g, i), c = clm_graph_loss_count_tensor(g, i);
  CLM_TRY(clm_tensor_download(clm_graph_context(g), &v, value));
  return clm_tensor_download(clm_graph_context(g), &c, count);
}

/* A regression without a mask counts every element, padded rows included. Its padded rows get
 * the prediction itself as target and the graph runs again: they add exactly 0 to the sum (a
 * heteroscedastic loss: its log-variance term, computed here and subtracted), and their
 * elements are taken off the count. */
static clm_status unmasked_padded(clm_graph *g, int i, int real, float *scratch, double *sum, double *cnt) {
  const clm_layer *l = clm_graph_loss_layer(g, i);
  clm_tensor pred, target;
  CLM_TRY(clm_graph_tensor(g, l->from[0], &pred));
  CLM_TRY(clm_graph_tensor(g, l->target, &target));
  size_t row = (size_t)pred.c * pred.h * pred.w;
  clm_tensor p = pred, t = target;
  p.off += row * (size_t)real;
  t.off += row * (size_t)real;
  p.n = t.n = pred.n - real;
  CLM_TRY(clm_tensor_download(clm_graph_context(g), &p, scratch));
  CLM_TRY(clm_tensor_upload(clm_graph_context(g), &t, scratch));
  CLM_TRY(clm_graph_forward(g));
  float value, count;
  CLM_TRY(read_loss(g, i, &value, &count));
  double real_count = (double)count - (double)row * (double)(pred.n - real), pad = 0;
  if (l->type == CLM_LAYER_LAPLACE_NLL || l->type == CLM_LAYER_GAUSSIAN_NLL) {
    /* a heteroscedastic loss at d = 0 is still s (Laplace) or ½s (Gaussian), s clamped as the
     * loss clamps it (cl/loss.cl): taken off the sum */
    clm_tensor s;
    CLM_TRY(clm_graph_tensor(g, l->from[1], &s));
    s.off += row * (size_t)real;
    s.n = pred.n - real;
    CLM_TRY(clm_tensor_download(clm_graph_context(g), &s, scratch));
    double coef = l->type == CLM_LAYER_LAPLACE_NLL ? 1.0 : 0.5;
    for (size_t j = 0; j < row * (size_t)(pred.n - real); j++)
      pad += coef * fmin(fmax((double)scratch[j], -15.0), 15.0);
  }
  if (isfinite(value) && real_count > 0) {
    *sum += (double)value * (double)count - pad;
    *cnt += real_count;
  }
  return CLM_OK;
}

clm_status clm_evaluate(clm_graph *g, const clm_feeds *feeds, clm_dataset *d, clm_metrics *m, double *losses) {
  return clm_evaluate_dist(g, feeds, d, m, losses, NULL);
}

clm_status clm_evaluate_dist(clm_graph *g, const clm_feeds *feeds, clm_dataset *d, clm_metrics *m,
                             double *losses, clm_dist *dist) {
  int total = clm_dataset_count(d), k = clm_graph_loss_count(g);
  /* this rank's contiguous share of the split */
  int ranks = clm_dist_size(dist), rank = clm_dist_rank(dist);
  int first = (int)((long long)total * rank / ranks), n = (int)((long long)total * (rank + 1) / ranks) - first;
  for (int i = 0; i < k; i++) losses[i] = NAN;
  if (feeds->count < 1 || feeds->ntasks != k) CLM_FAIL(CLM_ERR_INVALID_ARG, "evaluate: the feeds are not bound to this graph");
  clm_tensor in;
  CLM_TRY(clm_graph_tensor(g, feeds->feed[0].layer, &in));
  int bsz = in.n, nb = (n + bsz - 1) / bsz;
  if (total == 0) CLM_FAIL(CLM_ERR_INVALID_ARG, "the split has no samples");
  int *idx = malloc((size_t)n * sizeof *idx + 1);
  size_t widest = 0;
  for (int i = 0; i < k; i++) {
    clm_tensor pred;
    CLM_TRY(clm_graph_tensor(g, clm_graph_loss_layer(g, i)->from[0], &pred));
    if (clm_tensor_numel(&pred) > widest) widest = clm_tensor_numel(&pred);
  }
  float *scratch = malloc(widest * sizeof *scratch + 1);
  if (!idx || !scratch) {
    free(idx);
    free(scratch);
    CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  }
  for (int i = 0; i < n; i++) idx[i] = first + i;
  double sum[CLM_METRICS_MAX_TASKS] = {0}, cnt[CLM_METRICS_MAX_TASKS] = {0};
  clm_batch batch;
  int was_training = clm_graph_training(g);
  clm_status st = clm_batch_init(&batch, feeds, bsz, in.h, in.w);
  if (st != CLM_OK) { free(idx); free(scratch); return st; }
  st = clm_metrics_reset(m);
  clm_graph_set_training(g, 0);
  for (int b = 0; b < nb && st == CLM_OK; b++) {
    int real = n - b * bsz < bsz ? n - b * bsz : bsz;
    st = clm_batch_start_partial(&batch, d, idx + (size_t)b * bsz, real);
    if (st == CLM_OK) st = clm_batch_wait(&batch);
    if (st == CLM_OK) st = clm_batch_upload(&batch, g);
    if (st == CLM_OK) st = clm_graph_forward(g);
    for (int i = 0; i < k && st == CLM_OK; i++) {
      const clm_layer *l = clm_graph_loss_layer(g, i);
      clm_tensor pred, target, mask = {0};
      float value, count;
      st = read_loss(g, i, &value, &count);
      /* batches whose loss is not finite (labels outside the classes) are left out, as are
       * the padded rows of an unmasked regression (handled after the metrics) */
      if (st == CLM_OK && isfinite(value) && !(real < bsz && feeds->unmasked[i])) {
        sum[i] += (double)value * (double)count;
        cnt[i] += (double)count;
      }
      if (st == CLM_OK) st = clm_graph_tensor(g, l->from[0], &pred);
      if (st == CLM_OK) st = clm_graph_tensor(g, l->target, &target);
      if (st == CLM_OK && l->mask[0]) st = clm_graph_tensor(g, l->mask, &mask);
      if (st != CLM_OK) break;
      pred = rows_of(pred, real);
      target = rows_of(target, real);
      mask = rows_of(mask, real);
      st = clm_layer_type_takes_labels(l->type)
               ? clm_metrics_add_classification(m, i, &pred, &target)
               : clm_metrics_add_regression(m, i, &pred, &target, l->mask[0] ? &mask : NULL);
    }
    for (int i = 0; i < k && st == CLM_OK && real < bsz; i++)
      if (feeds->unmasked[i]) st = unmasked_padded(g, i, real, scratch, &sum[i], &cnt[i]);
  }
  clm_graph_set_training(g, was_training);
  clm_batch_free(&batch);
  free(idx);
  free(scratch);
  /* over the ranks: sums and counts, never means of means */
  double both[2 * CLM_METRICS_MAX_TASKS];
  for (int i = 0; i < k; i++) { both[i] = sum[i]; both[k + i] = cnt[i]; }
  if (st == CLM_OK) st = clm_dist_allreduce_double(dist, both, 2 * (size_t)k);
  if (st == CLM_OK) st = clm_metrics_allreduce(m, dist);
  for (int i = 0; i < k; i++) losses[i] = both[k + i] > 0 ? both[i] / both[k + i] : NAN;
  return st;
}
