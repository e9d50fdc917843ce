/* Evaluation metrics (include/clmtl/metrics.h): a hand-computed segmentation example (an
 * ignored pixel, an invalid label, a class absent from labels and predictions) checked for its
 * confusion matrix, per-class IoU, mIoU, pixel accuracy, accuracy and macro F1; the same
 * pixels in two batches equal one batch; a random larger case against tests/ref in 64-bit
 * counts (exact). Regression: a hand example with a mask (MAE, RMSE, relative error with a
 * zero target, channel-summed L1 per pixel), then random cases (with and without a mask,
 * several batches; more batches than the device ring of 64 holds) against a double
 * reference. Host helpers: the aggregate loss with a NaN and an Inf task skipped and
 * reported, Δm% by hand, the table printer, reset, and argument and shape errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/metrics.h"
#include "ref/ref_metrics.h"
#include "test_util.h"

#define EXACT 1e-12  /* host double arithmetic on exact counts */
#define HAND_TOL 1e-6 /* float device sums of a few small exact numbers */
#define RAND_TOL 1e-5 /* float device sums (fixed-order tree) vs double, relative */

static double rel(double got, double want) {
  double d = fabs(got - want), s = fabs(want) > 1e-30 ? fabs(want) : 1.0;
  return isnan(got) || isnan(want) ? (isnan(got) && isnan(want) ? 0.0 : INFINITY) : d / s;
}

/* ---- segmentation by hand ------------------------------------------------------------------ */

/* K = 4 classes, ignore 255, logits (2, 4, 1, 5) built so that the argmax is `pred` (the
 * largest logit 2.0 + noise at pred, others below 1). Pixels (label, pred):
 *   image 0: (0,0) (0,0) (0,1) (1,1) (1,1)      image 1: (1,2) (2,0) (2,2) (255,1) (7,0)
 * pixel 8 is ignored, pixel 9 has the invalid label 7; class 3 appears nowhere. */
#define HK 4
#define HN 2
#define HW_ 5
static const float hand_label[HN * HW_] = {0, 0, 0, 1, 1, 1, 2, 2, 255, 7};
static const int hand_pred[HN * HW_] = {0, 0, 1, 1, 1, 2, 0, 2, 1, 0};

static void hand_logits(float *x) {
  test_rng r = test_rng_make(11);
  for (int n = 0; n < HN; n++)
    for (int k = 0; k < HK; k++)
      for (int s = 0; s < HW_; s++)
        x[(n * HK + k) * HW_ + s] = hand_pred[n * HW_ + s] == k ? 2.0f + test_uniform(&r, 0, 1)
                                                                : test_uniform(&r, -1, 0.9f);
}

static void test_segmentation_hand(clm_context *ctx) {
  float logits[HN * HK * HW_];
  hand_logits(logits);
  clm_metrics_task tasks[2] = {
      {"semantic", CLM_METRICS_SEGMENTATION, HK, 255.0f, 0},
      {"split", CLM_METRICS_CLASSIFICATION, HK, 255.0f, 0}};
  clm_metrics *m = NULL;
  test_status("create", clm_metrics_create(ctx, tasks, 2, &m));
  if (!m) return;
  /* task 0: one batch of both images; task 1: image 0, then image 1 */
  clm_tensor lg = test_tensor(ctx, HN, HK, 1, HW_, logits);
  clm_tensor lb = test_tensor(ctx, HN, 1, 1, HW_, hand_label);
  clm_tensor lg0 = test_tensor(ctx, 1, HK, 1, HW_, logits);
  clm_tensor lg1 = test_tensor(ctx, 1, HK, 1, HW_, logits + HK * HW_);
  clm_tensor lb0 = test_tensor(ctx, 1, 1, 1, HW_, hand_label);
  clm_tensor lb1 = test_tensor(ctx, 1, 1, 1, HW_, hand_label + HW_);
  test_status("add one batch", clm_metrics_add_classification(m, 0, &lg, &lb));
  test_status("add batch 1 of 2", clm_metrics_add_classification(m, 1, &lg0, &lb0));
  test_status("add batch 2 of 2", clm_metrics_add_classification(m, 1, &lg1, &lb1));

  /* rows = label, columns = prediction */
  static const uint64_t want_conf[HK * HK] = {2, 1, 0, 0,  /* label 0: (0,0) (0,0) (0,1) */
                                              0, 2, 1, 0,  /* label 1: (1,1) (1,1) (1,2) */
                                              1, 0, 1, 0,  /* label 2: (2,0) (2,2) */
                                              0, 0, 0, 0}; /* class 3: nowhere */
  uint64_t conf[HK * HK], conf2[HK * HK];
  test_status("confusion", clm_metrics_confusion(m, 0, conf));
  test_status("confusion (two batches)", clm_metrics_confusion(m, 1, conf2));
  test_true("confusion matrix by hand", !memcmp(conf, want_conf, sizeof conf), "");
  test_true("two batches = one batch (confusion)", !memcmp(conf, conf2, sizeof conf), "");

  clm_metrics_report r, r2;
  test_status("result", clm_metrics_result(m, 0, &r));
  test_status("result (two batches)", clm_metrics_result(m, 1, &r2));
  /* IoU = TP / (TP + FP + FN), FP = column - TP, FN = row - TP:
   *   class 0: 2 / (2 + (3-2) + (3-2)) = 2/4 = 0.5
   *   class 1: 2 / (2 + (3-2) + (3-2)) = 0.5
   *   class 2: 1 / (1 + (2-1) + (2-1)) = 1/3
   *   class 3: union 0 -> NaN, left out of the mean
   * mIoU = (0.5 + 0.5 + 1/3) / 3 = 4/9 = 0.444444...
   * pixel accuracy = trace / counted = (2 + 2 + 1) / 8 = 0.625 (ignored and invalid left out)
   * F1 = 2TP / (2TP + FP + FN): class 0: 4/6, class 1: 4/6, class 2: 2/4
   * macro F1 = (2/3 + 2/3 + 1/2) / 3 = 11/18 = 0.611111... */
  double err = 0.0;
  err = fmax(err, rel(r.iou[0], 0.5));
  err = fmax(err, rel(r.iou[1], 0.5));
  err = fmax(err, rel(r.iou[2], 0.3333333333333333));
  test_check("per-class IoU by hand", err, EXACT);
  test_true("absent class has NaN IoU", isnan(r.iou[3]), "");
  test_check("mIoU = 4/9", rel(r.miou, 0.4444444444444444), EXACT);
  test_check("pixel accuracy = 5/8", rel(r.pixel_accuracy, 0.625), EXACT);
  test_check("accuracy = 5/8", rel(r.accuracy, 0.625), EXACT);
  test_check("macro F1 = 11/18", rel(r.macro_f1, 0.6111111111111112), EXACT);
  char d[96];
  snprintf(d, sizeof d, "counted %llu ignored %llu invalid %llu present %d",
           (unsigned long long)r.counted, (unsigned long long)r.ignored,
           (unsigned long long)r.invalid, r.classes_present);
  test_true("counted 8, ignored 1, invalid 1, 3 classes present",
            r.counted == 8 && r.ignored == 1 && r.invalid == 1 && r.classes_present == 3, d);
  test_true("two batches = one batch (results)",
            r2.miou == r.miou && r2.macro_f1 == r.macro_f1 && r2.ignored == 1 &&
                r2.invalid == 1 && r2.counted == 8, "");

  char head[160], row[160];
  clm_metrics_format_header(CLM_METRICS_SEGMENTATION, head, sizeof head);
  clm_metrics_format_row(clm_metrics_task_name(m, 0), &r, row, sizeof row);
  printf("  %s\n  %s\n", head, row);
  test_true("row shows name, mIoU 44.44, accuracy 62.50, macro F1 61.11",
            strstr(row, "semantic") && strstr(row, "44.44") && strstr(row, "62.50") &&
                strstr(row, "61.11") && strstr(row, "3/4"), row);

  /* accumulation goes on after a result; reset empties */
  test_status("add again", clm_metrics_add_classification(m, 0, &lg, &lb));
  test_status("result after 2 passes", clm_metrics_result(m, 0, &r));
  test_true("result does not disturb accumulation: counts double, mIoU stays 4/9",
            r.counted == 16 && r.ignored == 2 && r.invalid == 2 &&
                fabs(r.miou - 4.0 / 9.0) < EXACT,
            "");
  test_status("reset", clm_metrics_reset(m));
  test_status("result after reset", clm_metrics_result(m, 0, &r));
  test_true("reset empties: counted 0, mIoU NaN", r.counted == 0 && isnan(r.miou), "");
  test_status("add after reset", clm_metrics_add_classification(m, 0, &lg, &lb));
  test_status("confusion after reset", clm_metrics_confusion(m, 0, conf));
  test_true("after reset = one pass", !memcmp(conf, want_conf, sizeof conf), "");

  /* errors */
  clm_tensor bad = test_tensor(ctx, HN, 1, 1, HW_ - 1, NULL);
  test_true("labels of another size: CLM_ERR_SHAPE",
            clm_metrics_add_classification(m, 0, &lg, &bad) == CLM_ERR_SHAPE, clm_last_error());
  test_true("logits with K != classes: CLM_ERR_SHAPE",
            clm_metrics_add_classification(m, 0, &lb, &lb) == CLM_ERR_SHAPE, clm_last_error());
  test_true("task out of range: CLM_ERR_INVALID_ARG",
            clm_metrics_add_classification(m, 2, &lg, &lb) == CLM_ERR_INVALID_ARG,
            clm_last_error());
  test_true("regression add to a classification task: CLM_ERR_INVALID_ARG",
            clm_metrics_add_regression(m, 0, &lg, &lg, NULL) == CLM_ERR_INVALID_ARG,
            clm_last_error());
  test_tensor_free(ctx, &bad);
  test_tensor_free(ctx, &lg);
  test_tensor_free(ctx, &lb);
  test_tensor_free(ctx, &lg0);
  test_tensor_free(ctx, &lg1);
  test_tensor_free(ctx, &lb0);
  test_tensor_free(ctx, &lb1);
  clm_metrics_free(m);
}

/* Random logits and labels (with ignored and invalid labels, -1 and K and 2.5 among them), in
 * three batches, vs the reference counts: exact. */
static void test_segmentation_random(clm_context *ctx) {
  const int K = 7, N = test_small() ? 2 : 4, H = test_small() ? 5 : 33, W = test_small() ? 7 : 47;
  const int HWn = H * W, B = 3;
  clm_metrics_task task = {"random", CLM_METRICS_SEGMENTATION, K, 255.0f, 0};
  clm_metrics *m = NULL;
  test_status("create (random)", clm_metrics_create(ctx, &task, 1, &m));
  if (!m) return;
  uint64_t *want = calloc((size_t)K * K + 2, sizeof *want);
  uint64_t *got = calloc((size_t)K * K, sizeof *got);
  test_rng r = test_rng_make(5);
  for (int b = 0; b < B; b++) {
    float *lg = test_random(&r, (size_t)N * K * HWn, -3, 3), *lb = test_alloc((size_t)N * HWn);
    for (int i = 0; i < N * HWn; i++) {
      float u = test_uniform(&r, 0, 1);
      lb[i] = u < 0.05f ? 255.0f : u < 0.07f ? -1.0f : u < 0.08f ? (float)K : u < 0.09f ? 2.5f
                                                                           : (float)(int)(u * K);
    }
    clm_tensor tl = test_tensor(ctx, N, K, H, W, lg), tb = test_tensor(ctx, N, 1, H, W, lb);
    test_status("add (random)", clm_metrics_add_classification(m, 0, &tl, &tb));
    ref_confusion(lg, lb, N, K, HWn, 255.0f, want);
    test_tensor_free(ctx, &tl);
    test_tensor_free(ctx, &tb);
    free(lg);
    free(lb);
  }
  clm_metrics_report res;
  test_status("confusion (random)", clm_metrics_confusion(m, 0, got));
  test_status("result (random)", clm_metrics_result(m, 0, &res));
  char d[96];
  snprintf(d, sizeof d, "%d pixels, invalid %llu (want %llu), ignored %llu (want %llu)",
           B * N * HWn, (unsigned long long)res.invalid, (unsigned long long)want[K * K],
           (unsigned long long)res.ignored, (unsigned long long)want[K * K + 1]);
  test_true("random confusion = reference (exact)",
            !memcmp(got, want, (size_t)K * K * sizeof *got) && res.invalid == want[K * K] &&
                res.ignored == want[K * K + 1] && res.invalid > 0,
            d);
  free(want);
  free(got);
  clm_metrics_free(m);
}

/* ---- regression ---------------------------------------------------------------------------- */

static void test_regression_hand(clm_context *ctx) {
  /* pred, target (1, 2, 1, 4), mask (1, 1, 1, 4) = [1 0 1 1]; channel-major */
  static const float pred[8] = {1, 5, 2, 0, /* channel 0 */ 3, 0, -1, 4 /* channel 1 */};
  static const float target[8] = {2, 9, 4, 1, /* channel 0 */ 1, 0, 0, 2 /* channel 1 */};
  static const float mask[4] = {1, 0, 1, 1};
  /* valid pixels 0, 2, 3 (pixel 1, masked, would add |5-9| = 4):
   *   pixel 0: e = -1, 2   rel 1/2, 2/1
   *   pixel 2: e = -2, -1  rel 2/4, (t = 0: counted in zero_targets)
   *   pixel 3: e = -1, 2   rel 1/1, 2/2
   * Σ|e| = 1+2+2+1+1+2 = 9, 6 elements -> MAE 1.5
   * Σe² = 1+4+4+1+1+4 = 15 -> RMSE sqrt(15/6) = sqrt(2.5) = 1.5811388300841898
   * Σ rel = 0.5+2+0.5+1+1 = 5 over 6-1 = 5 elements -> 1.0
   * channel-summed L1 per pixel = 9 / 3 = 3.0 */
  clm_metrics_task task = {"offsets", CLM_METRICS_REGRESSION, 0, 0.0f, 2};
  clm_metrics *m = NULL;
  test_status("create (regression)", clm_metrics_create(ctx, &task, 1, &m));
  if (!m) return;
  clm_tensor p = test_tensor(ctx, 1, 2, 1, 4, pred), t = test_tensor(ctx, 1, 2, 1, 4, target);
  clm_tensor k = test_tensor(ctx, 1, 1, 1, 4, mask);
  test_status("add regression", clm_metrics_add_regression(m, 0, &p, &t, &k));
  clm_metrics_report r;
  test_status("result (regression)", clm_metrics_result(m, 0, &r));
  test_check("MAE = 9/6 = 1.5", rel(r.mae, 1.5), HAND_TOL);
  test_check("RMSE = sqrt(15/6)", rel(r.rmse, 1.5811388300841898), HAND_TOL);
  test_check("relative error = 5/5 = 1", rel(r.rel_error, 1.0), HAND_TOL);
  test_check("channel-summed L1 per pixel = 9/3 = 3", rel(r.l1_per_pixel, 3.0), HAND_TOL);
  char d[96];
  snprintf(d, sizeof d, "elements %llu pixels %llu zero targets %llu",
           (unsigned long long)r.elements, (unsigned long long)r.pixels,
           (unsigned long long)r.zero_targets);
  test_true("6 elements, 3 pixels, 1 zero target",
            r.elements == 6 && r.pixels == 3 && r.zero_targets == 1, d);
  char head[160], row[160];
  clm_metrics_format_header(CLM_METRICS_REGRESSION, head, sizeof head);
  clm_metrics_format_row(clm_metrics_task_name(m, 0), &r, row, sizeof row);
  printf("  %s\n  %s\n", head, row);
  test_true("row shows name and MAE 1.5", strstr(row, "offsets") && strstr(row, "1.5"), row);

  /* the same batch twice: same means */
  test_status("add regression again", clm_metrics_add_regression(m, 0, &p, &t, &k));
  test_status("result (regression x2)", clm_metrics_result(m, 0, &r));
  test_true("two equal batches: same MAE, double counts",
            fabs(r.mae - 1.5) < HAND_TOL && r.elements == 12 && r.pixels == 6, "");

  /* errors */
  clm_tensor one = test_tensor(ctx, 1, 1, 1, 4, NULL);
  test_true("pred with 1 of 2 channels: CLM_ERR_SHAPE",
            clm_metrics_add_regression(m, 0, &one, &one, NULL) == CLM_ERR_SHAPE, clm_last_error());
  test_true("target of another shape: CLM_ERR_SHAPE",
            clm_metrics_add_regression(m, 0, &p, &k, NULL) == CLM_ERR_SHAPE, clm_last_error());
  test_true("mask with 2 channels: CLM_ERR_SHAPE",
            clm_metrics_add_regression(m, 0, &p, &t, &t) == CLM_ERR_SHAPE, clm_last_error());
  test_true("classification add to a regression task: CLM_ERR_INVALID_ARG",
            clm_metrics_add_classification(m, 0, &p, &k) == CLM_ERR_INVALID_ARG,
            clm_last_error());
  test_tensor_free(ctx, &one);
  test_tensor_free(ctx, &p);
  test_tensor_free(ctx, &t);
  test_tensor_free(ctx, &k);
  clm_metrics_free(m);
}

/* Random pred / target (about 3% exact-zero targets), a ~70% mask, several batches of
 * different sizes, vs the double reference. */
static void test_regression_random(clm_context *ctx, int use_mask) {
  const int small = test_small(), C = 3, B = small ? 2 : 5;
  clm_metrics_task task = {"depth", CLM_METRICS_REGRESSION, 0, 0.0f, C};
  clm_metrics *m = NULL;
  test_status("create (regression random)", clm_metrics_create(ctx, &task, 1, &m));
  if (!m) return;
  ref_regress_sums want = {0, 0, 0, 0, 0, 0};
  test_rng r = test_rng_make(use_mask ? 21 : 22);
  for (int b = 0; b < B; b++) {
    const int N = 1 + b % 2, H = small ? 5 + b : 40 + 7 * b, W = small ? 9 : 61 + b;
    const size_t n = (size_t)N * C * H * W, np = (size_t)N * H * W;
    float *p = test_random(&r, n, -2, 5), *t = test_random(&r, n, 0.1f, 4);
    float *k = test_alloc(np);
    for (size_t i = 0; i < n; i++)
      if (test_uniform(&r, 0, 1) < 0.03f) t[i] = 0.0f;
    for (size_t i = 0; i < np; i++) k[i] = test_uniform(&r, 0, 1) < 0.7f ? 1.0f : 0.0f;
    clm_tensor tp = test_tensor(ctx, N, C, H, W, p), tt = test_tensor(ctx, N, C, H, W, t);
    clm_tensor tk = test_tensor(ctx, N, 1, H, W, k);
    test_status("add (regression random)",
                clm_metrics_add_regression(m, 0, &tp, &tt, use_mask ? &tk : NULL));
    ref_regress(p, t, use_mask ? k : NULL, N, C, H * W, &want);
    test_tensor_free(ctx, &tp);
    test_tensor_free(ctx, &tt);
    test_tensor_free(ctx, &tk);
    free(p);
    free(t);
    free(k);
  }
  clm_metrics_report res;
  test_status("result (regression random)", clm_metrics_result(m, 0, &res));
  const double ne = (double)want.elements;
  double err = rel(res.mae, want.abs / ne);
  err = fmax(err, rel(res.rmse, sqrt(want.sq / ne)));
  err = fmax(err, rel(res.rel_error, want.rel / (ne - (double)want.zeros)));
  err = fmax(err, rel(res.l1_per_pixel, want.abs / (double)want.pixels));
  char name[96];
  snprintf(name, sizeof name, "random regression %s mask (%llu elements, %d batches) vs double",
           use_mask ? "with" : "without", (unsigned long long)want.elements, B);
  test_check(name, err, RAND_TOL);
  test_true("random regression counts exact",
            res.elements == want.elements && res.pixels == want.pixels &&
                res.zero_targets == want.zeros && want.zeros > 0,
            "");
  clm_metrics_free(m);
}

/* More batches than the device ring holds (64): the host folds it mid-pass, in order. */
static void test_regression_many_batches(clm_context *ctx) {
  const int B = 70;
  clm_metrics_task task = {"ring", CLM_METRICS_REGRESSION, 0, 0.0f, 1};
  clm_metrics *m = NULL;
  test_status("create (ring)", clm_metrics_create(ctx, &task, 1, &m));
  if (!m) return;
  ref_regress_sums want = {0, 0, 0, 0, 0, 0};
  test_rng r = test_rng_make(31);
  float p[6], t[6];
  clm_tensor tp = test_tensor(ctx, 1, 1, 2, 3, NULL), tt = test_tensor(ctx, 1, 1, 2, 3, NULL);
  for (int b = 0; b < B; b++) {
    test_fill(&r, p, 6, -1, 1);
    test_fill(&r, t, 6, 0.5f, 2);
    test_upload(ctx, &tp, p);
    test_upload(ctx, &tt, t);
    test_status("add (ring)", clm_metrics_add_regression(m, 0, &tp, &tt, NULL));
    ref_regress(p, t, NULL, 1, 1, 6, &want);
  }
  clm_metrics_report res;
  test_status("result (ring)", clm_metrics_result(m, 0, &res));
  double err = rel(res.mae, want.abs / (double)want.elements);
  err = fmax(err, rel(res.rmse, sqrt(want.sq / (double)want.elements)));
  err = fmax(err, rel(res.rel_error, want.rel / (double)want.elements));
  test_check("70 batches (ring of 64 folded) vs double", err, RAND_TOL);
  test_true("70 batches: 420 elements", res.elements == 420 && res.pixels == 420, "");
  test_tensor_free(ctx, &tp);
  test_tensor_free(ctx, &tt);
  clm_metrics_free(m);
}

/* ---- host helpers -------------------------------------------------------------------------- */

static void test_aggregate(void) {
  clm_metrics_aggregate a;
  /* uniform weights 1/3, task 1 NaN: (1.0 + 3.0) / 3 = 4/3 */
  const double loss[3] = {1.0, NAN, 3.0};
  test_status("aggregate", clm_metrics_aggregate_loss(loss, NULL, 3, &a));
  test_check("aggregate, uniform, NaN skipped = 4/3", rel(a.total, 4.0 / 3.0), EXACT);
  test_true("NaN task reported: 1 skipped, index 1, mask 0x2",
            a.nskipped == 1 && a.skipped[0] == 1 && a.skipped_mask == 0x2u, "");
  /* weights (0.5, 2, 0.25), task 0 +Inf: 2*2 + 0.25*4 = 5 */
  const double loss2[3] = {INFINITY, 2.0, 4.0}, w[3] = {0.5, 2.0, 0.25};
  test_status("aggregate weighted", clm_metrics_aggregate_loss(loss2, w, 3, &a));
  test_check("aggregate, weighted, Inf skipped = 5", rel(a.total, 5.0), EXACT);
  test_true("Inf task reported: index 0, mask 0x1",
            a.nskipped == 1 && a.skipped[0] == 0 && a.skipped_mask == 0x1u, "");
  const double all_nan[2] = {NAN, -INFINITY};
  test_status("aggregate all NaN", clm_metrics_aggregate_loss(all_nan, NULL, 2, &a));
  test_true("no finite task: total NaN, both reported",
            isnan(a.total) && a.nskipped == 2 && a.skipped_mask == 0x3u, "");
  const double badw[3] = {1, NAN, 1};
  test_true("NaN weight: CLM_ERR_INVALID_ARG",
            clm_metrics_aggregate_loss(loss, badw, 3, &a) == CLM_ERR_INVALID_ARG, "");
}

static void test_delta_m(void) {
  /* mIoU 0.52 vs baseline 0.50, higher better: +(0.02 / 0.5) = +0.04
   * RMSE 0.60 vs baseline 0.50, lower better:  -(0.10 / 0.5) = -0.20
   * Δm = 100 / 2 * (0.04 - 0.20) = -8.0 */
  const double v[2] = {0.52, 0.60}, b[2] = {0.50, 0.50};
  const int lower[2] = {0, 1};
  double dm = 0.0;
  test_status("delta_m", clm_metrics_delta_m(v, b, lower, 2, &dm));
  test_check("delta m = -8.0%", rel(dm, -8.0), 1e-12);
  const double zero[2] = {0.5, 0.0};
  test_true("zero baseline: CLM_ERR_INVALID_ARG",
            clm_metrics_delta_m(v, zero, lower, 2, &dm) == CLM_ERR_INVALID_ARG, "");
  const double nanv[2] = {NAN, 0.5};
  test_true("NaN value: CLM_ERR_NUMERIC",
            clm_metrics_delta_m(nanv, b, lower, 2, &dm) == CLM_ERR_NUMERIC, "");
}

static void test_create_errors(clm_context *ctx) {
  clm_metrics *m = NULL;
  clm_metrics_task bad = {"x", CLM_METRICS_SEGMENTATION, 0, 255.0f, 0};
  test_true("0 classes: CLM_ERR_INVALID_ARG",
            clm_metrics_create(ctx, &bad, 1, &m) == CLM_ERR_INVALID_ARG && !m, "");
  bad.kind = CLM_METRICS_REGRESSION;
  test_true("0 channels: CLM_ERR_INVALID_ARG",
            clm_metrics_create(ctx, &bad, 1, &m) == CLM_ERR_INVALID_ARG && !m, "");
  test_true("0 tasks: CLM_ERR_INVALID_ARG",
            clm_metrics_create(ctx, &bad, 0, &m) == CLM_ERR_INVALID_ARG && !m, "");
  clm_metrics_free(NULL);
}

int main(void) {
  clm_context *ctx = test_context();
  test_segmentation_hand(ctx);
  test_segmentation_random(ctx);
  test_regression_hand(ctx);
  test_regression_random(ctx, 1);
  test_regression_random(ctx, 0);
  test_regression_many_batches(ctx);
  test_aggregate();
  test_delta_m();
  test_create_errors(ctx);
  clm_context_free(ctx);
  return test_finish();
}
