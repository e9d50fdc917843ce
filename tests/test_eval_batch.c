/* clm_evaluate does not depend on the batch size: on a synthetic split of 11 samples (not a
 * multiple of 3 or 8), tests/models/four_tasks.cfg (9-class softmax cross-entropy, masked L1
 * on the 2-channel instance offsets, masked L1 on depth, unmasked L2 on depth) is evaluated at
 * batch 1, 3 and 8. Each task's loss, and the pixel accuracy, depth MAE and L2-head RMSE, are
 * compared with a float64 host computation over every sample, from the network's
 * predictions sample by sample: the loss is the mean over every valid target of the split. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/train.h"
#include "test_util.h"
#include "clmtl/feeds.h"

#define H 16
#define W 32
#define N 11
#define K 4
#define SEED 7

static clm_graph *model(clm_context *ctx, int batch) {
  clm_graph *g = NULL;
  clm_graph_options o = {batch, H, W, 0, -1, 0};
  clm_status st = clm_graph_create(ctx, &g);
  if (st == CLM_OK) st = clm_graph_load(g, CLMTL_TEST_MODELS "/four_tasks.cfg");
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  if (st == CLM_OK) st = clm_graph_init_params(g, SEED);
  test_status("compile four_tasks.cfg", st);
  return g;
}

typedef struct reference {
  double loss[K];
  double accuracy, depth_mae, l2_rmse;
} reference;

/* Per sample through a batch-1 graph; sums in float64. */
static void compute_reference(clm_context *ctx, clm_dataset *d, reference *ref) {
  clm_graph *g = model(ctx, 1);
  const clm_target_info *targets;
  int nt = clm_dataset_targets(d, &targets);
  clm_feeds feeds;
  test_status("bind (reference)", clm_feeds_bind(g, targets, nt, 0, &feeds));
  size_t hw = (size_t)H * W;
  clm_sample s;
  clm_sample_alloc(&s, H, W);
  float *buf = test_alloc(3 * hw), *rgb = test_alloc(3 * hw), *logits = test_alloc(9 * hw);
  float *off = test_alloc(2 * hw), *pinst = test_alloc(2 * hw), *imask = test_alloc(hw);
  float *pdep = test_alloc(hw), *pdep2 = test_alloc(hw);
  double sum[K] = {0}, cnt[K] = {0}, right = 0, counted = 0;
  for (int i = 0; i < N; i++) {
    test_status("load", clm_dataset_load(d, i, &s));
    for (int f = 0; f < feeds.count; f++) {
      clm_feed_fill(&feeds.feed[f], &s, buf, rgb);
      clm_graph_set_input(g, feeds.feed[f].layer, buf);
    }
    clm_graph_forward(g);
    const char *heads[4] = {"sem", "inst", "dep", "dep2"};
    float *outs[4] = {logits, pinst, pdep, pdep2};
    for (int k = 0; k < 4; k++) {
      clm_tensor t;
      clm_graph_tensor(g, heads[k], &t);
      clm_tensor_download(ctx, &t, outs[k]);
    }
    clm_instance_targets(&s, off, imask);
    for (size_t p = 0; p < hw; p++) {
      int lab = (int)s.semantic[p];
      if (lab != 255) {
        double m = -INFINITY, z = 0;
        int best = 0;
        for (int c = 0; c < 9; c++) {
          m = fmax(m, logits[c * hw + p]);
          if (logits[c * hw + p] > logits[best * hw + p]) best = c;
        }
        for (int c = 0; c < 9; c++) z += exp(logits[c * hw + p] - m);
        sum[0] += log(z) + m - logits[lab * hw + p];
        cnt[0]++;
        right += best == lab;
        counted++;
      }
      for (int c = 0; c < 2 && imask[p] != 0; c++) {
        sum[1] += fabs((double)pinst[c * hw + p] - off[c * hw + p]);
        cnt[1]++;
      }
      if (s.depth_valid[p] != 0) {
        sum[2] += fabs((double)pdep[p] - s.depth[p]);
        cnt[2]++;
      }
      double e = (double)pdep2[p] - s.depth[p];
      sum[3] += e * e;
      cnt[3]++;
    }
  }
  for (int k = 0; k < K; k++) ref->loss[k] = sum[k] / cnt[k];
  ref->accuracy = right / counted;
  ref->depth_mae = ref->loss[2];
  ref->l2_rmse = sqrt(ref->loss[3]);
  clm_sample_free(&s);
  free(buf); free(rgb); free(logits); free(off); free(pinst); free(imask); free(pdep); free(pdep2);
  clm_graph_free(g);
}

int main(void) {
  clm_context *ctx = test_context();
  clm_synth_options so = {3, N, H, W, 0, 0, 0, 0};
  clm_dataset *d = NULL;
  test_status("open a synthetic split of 11", clm_synth_open(&so, CLM_SPLIT_VAL, &d));
  reference ref;
  compute_reference(ctx, d, &ref);
  printf("float64 reference: losses %.6f %.6f %.6f %.6f, pixel accuracy %.6f\n", ref.loss[0], ref.loss[1],
         ref.loss[2], ref.loss[3], ref.accuracy);
  const int batches[3] = {1, 3, 8};
  for (int b = 0; b < 3; b++) {
    clm_graph *g = model(ctx, batches[b]);
    const clm_target_info *targets;
    int nt = clm_dataset_targets(d, &targets);
    clm_feeds feeds;
    clm_metrics *m = NULL;
    double losses[K];
    test_status("bind", clm_feeds_bind(g, targets, nt, 0, &feeds));
    test_status("metrics", clm_metrics_for_graph(g, &m));
    test_status("evaluate", clm_evaluate(g, &feeds, d, m, losses));
    char name[128];
    const char *tasks[K] = {"semantic (xent)", "instance (masked L1)", "depth (masked L1)", "depth_l2 (unmasked L2)"};
    for (int k = 0; k < K; k++) {
      snprintf(name, sizeof name, "batch %d: %s loss %.6f is the mean over the split", batches[b], tasks[k], losses[k]);
      test_check(name, fabs(losses[k] - ref.loss[k]) / fabs(ref.loss[k]), 1e-5);
    }
    clm_metrics_report r[K];
    for (int k = 0; k < K; k++) clm_metrics_result(m, k, &r[k]);
    snprintf(name, sizeof name, "batch %d: pixel accuracy over all %d samples", batches[b], N);
    test_check(name, fabs(r[0].pixel_accuracy - ref.accuracy), 2e-4);
    snprintf(name, sizeof name, "batch %d: depth MAE", batches[b]);
    test_check(name, fabs(r[2].mae - ref.depth_mae) / ref.depth_mae, 1e-5);
    snprintf(name, sizeof name, "batch %d: depth_l2 RMSE (padded rows left out)", batches[b]);
    test_check(name, fabs(r[3].rmse - ref.l2_rmse) / ref.l2_rmse, 1e-5);
    test_true("the L2 head's metrics count every real pixel", r[3].pixels == (uint64_t)N * H * W, NULL);
    clm_metrics_free(m);
    clm_graph_free(g);
  }
  clm_dataset_free(d);
  clm_context_free(ctx);
  return test_finish();
}
