/* Evaluation shared by the trainer's validation and `clmtl eval`: a graph run over a dataset
 * with batch-norm running statistics, accumulating per-task losses and metrics; and uploading
 * host batches into a graph's inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/train.h"
#include "graph/graph-impl.h"
#include "train/batch.h"

clm_status clm_batch_upload(const clm_batch *b, clm_graph *g) {
  const struct { const char *name; const float *data; } feeds[] = {
      {"input", b->image},          {"semantic", b->semantic}, {"instance", b->instance},
      {"instance_mask", b->instance_mask}, {"depth", b->depth}, {"depth_mask", b->depth_mask}};
  for (size_t i = 0; i < sizeof feeds / sizeof feeds[0]; i++) {
    int node = clm_graph_find_node(g, feeds[i].name);
    if (node < 0 || g->nodes[node].op != CLM_LAYER_INPUT) {
      if (i == 0) CLM_FAIL(CLM_ERR_NOT_FOUND, "the model has no input layer named 'input'");
      continue;
    }
    CLM_TRY(clm_tensor_upload(g->ctx, &g->nodes[node].out, feeds[i].data));
  }
  return CLM_OK;
}

clm_status clm_metrics_for_graph(clm_graph *g, clm_metrics **out) {
  int k = clm_graph_loss_count(g);
  clm_metrics_task mt[CLM_METRICS_MAX_TASKS];
  if (k > CLM_METRICS_MAX_TASKS) CLM_FAIL(CLM_ERR_INVALID_ARG, "too many tasks (%d)", k);
  for (int i = 0; i < k; i++) {
    const clm_layer *l = clm_graph_loss_layer(g, i);
    clm_tensor pred;
    CLM_TRY(clm_graph_tensor(g, l->from[0], &pred));
    mt[i].name = l->name + (strncmp(l->name, "task.", 5) ? 0 : 5);
    mt[i].kind = l->type == CLM_LAYER_SOFTMAX_XENT ? CLM_METRICS_SEGMENTATION : CLM_METRICS_REGRESSION;
    mt[i].classes = pred.c;
    mt[i].ignore = (float)l->ignore;
    mt[i].channels = pred.c;
  }
  return clm_metrics_create(g->ctx, mt, k, out);
}

clm_status clm_evaluate(clm_graph *g, clm_dataset *d, clm_metrics *m, double *losses) {
  int bsz = g->opt.batch, n = clm_dataset_count(d), nb = n / bsz, k = clm_graph_loss_count(g);
  if (nb == 0) CLM_FAIL(CLM_ERR_INVALID_ARG, "the split has fewer samples (%d) than a batch (%d)", n, bsz);
  int *idx = malloc((size_t)n * sizeof *idx);
  if (!idx) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  for (int i = 0; i < n; i++) idx[i] = i;
  double sum[CLM_METRICS_MAX_TASKS] = {0};
  int cnt[CLM_METRICS_MAX_TASKS] = {0};
  clm_batch batch;
  int was_training = g->training;
  clm_status st = clm_batch_init(&batch, bsz, g->opt.height, g->opt.width);
  if (st != CLM_OK) { free(idx); return st; }
  st = clm_metrics_reset(m);
  clm_graph_set_training(g, 0);
  for (int b = 0; b < nb && st == CLM_OK; b++) {
    st = clm_batch_start(&batch, d, idx + (size_t)b * bsz);
    if (st == CLM_OK) st = clm_batch_wait(&batch);
    if (st == CLM_OK) st = clm_batch_upload(&batch, g);
    if (st == CLM_OK) st = clm_graph_forward(g);
    for (int i = 0; i < k && st == CLM_OK; i++) {
      const clm_layer *l = clm_graph_loss_layer(g, i);
      clm_tensor pred, target, mask = {0}, v = clm_graph_loss_value(g, i);
      float value;
      st = clm_tensor_download(g->ctx, &v, &value);
      if (st == CLM_OK && isfinite(value)) { sum[i] += value; cnt[i]++; }
      if (st == CLM_OK) st = clm_graph_tensor(g, l->from[0], &pred);
      if (st == CLM_OK) st = clm_graph_tensor(g, l->target, &target);
      if (st == CLM_OK && l->mask[0]) st = clm_graph_tensor(g, l->mask, &mask);
      if (st != CLM_OK) break;
      st = l->type == CLM_LAYER_SOFTMAX_XENT
               ? clm_metrics_add_classification(m, i, &pred, &target)
               : clm_metrics_add_regression(m, i, &pred, &target, l->mask[0] ? &mask : NULL);
    }
  }
  clm_graph_set_training(g, was_training);
  clm_batch_free(&batch);
  free(idx);
  for (int i = 0; i < k; i++) losses[i] = cnt[i] ? sum[i] / cnt[i] : NAN;
  return st;
}
