/* Reductions and task losses against tests/ref/ref_loss.c: reduce_sum against a double sum
 * (sizes 1, 7, 1000, 100003) and bit-identical across runs; softmax cross-entropy with
 * ignored pixels, all pixels ignored (loss 0, count 0, zero gradient) and an invalid label
 * (NaN loss); L1 and L2 with and without a mask. Backward passes use a seed != 1 and the
 * device count from the forward, are compared with the reference, with accumulate = 1, and
 * by finite differences of seed·loss computed with the device forward. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "ref/ref_loss.h"
#include "test_util.h"

typedef struct shape { int n, c, h, w; } shape;

static float download_scalar(clm_context *ctx, const clm_tensor *t) {
  float v = 0;
  test_status("download scalar", clm_tensor_download(ctx, t, &v));
  return v;
}

static double scalar_rel(double got, double want) {
  return fabs(got - want) / fmax(fabs(want), 1e-6);
}

/* ---- reduce_sum -------------------------------------------------------------------------- */

static void test_reduce(clm_context *ctx, size_t n) {
  test_rng r = test_rng_make(300 + n);
  float *x = test_random(&r, n, -1, 1);
  double want = ref_sum(x, n), mag = 0;
  for (size_t i = 0; i < n; i++) mag += fabs(x[i]);
  size_t wsn = clm_reduce_workspace(ctx, n);
  clm_tensor tx = test_tensor(ctx, 1, 1, 1, (int)n, x);
  clm_tensor ws = test_tensor(ctx, 1, 1, 1, (int)wsn, NULL);
  clm_tensor out = test_tensor(ctx, 1, 1, 1, 1, NULL);
  float got[2];
  for (int run = 0; run < 2; run++) {
    test_status("reduce_sum", clm_reduce_sum(ctx, &tx, n, &out, &ws));
    got[run] = download_scalar(ctx, &out);
  }
  char name[128];
  /* error relative to Σ|x|: float rounding grows with the magnitudes summed, not the result */
  snprintf(name, sizeof name, "reduce_sum n=%zu (ws %zu floats) vs double sum, err / Σ|x|", n,
           wsn);
  test_check(name, fabs(got[0] - want) / fmax(mag, 1e-30), 1e-6);
  snprintf(name, sizeof name, "reduce_sum n=%zu bit-identical across runs", n);
  test_true(name, memcmp(&got[0], &got[1], sizeof got[0]) == 0, NULL);
  test_tensor_free(ctx, &tx);
  test_tensor_free(ctx, &ws);
  test_tensor_free(ctx, &out);
  free(x);
}

/* A work-group size above what the kernels allow must fall back to their limit, not fail. */
static void test_reduce_fallback(clm_context *ctx) {
  size_t keep = ctx->reduce_wg, big = 1;
  while (big <= ctx->info.max_work_group) big *= 2;
  ctx->reduce_wg = big;
  printf("-- reduce with ctx->reduce_wg = %zu (device limit %zu)\n", big,
         (size_t)ctx->info.max_work_group);
  test_reduce(ctx, 1000);
  ctx->reduce_wg = keep;
}

static void test_reduce_edges(clm_context *ctx) {
  const float x[3] = {1, 2, 3};
  clm_tensor tx = test_tensor(ctx, 1, 1, 1, 3, x), out = test_tensor(ctx, 1, 1, 1, 1, NULL);
  clm_tensor ws = test_tensor(ctx, 1, 1, 1, 1, NULL);
  test_status("fill", clm_tensor_fill(ctx, &out, 42.0f));
  test_status("reduce_sum n=0", clm_reduce_sum(ctx, &tx, 0, &out, &ws));
  test_true("reduce_sum of 0 elements is 0", download_scalar(ctx, &out) == 0.0f, NULL);
  clm_status st = clm_reduce_sum(ctx, &tx, 4, &out, &ws);
  test_true("reduce_sum past the tensor is CLM_ERR_SHAPE", st == CLM_ERR_SHAPE, clm_last_error());
  test_tensor_free(ctx, &tx);
  test_tensor_free(ctx, &out);
  test_tensor_free(ctx, &ws);
}

/* ---- shared loss plumbing ---------------------------------------------------------------- */

/* Device tensors of one loss evaluation. */
typedef struct loss_bufs {
  clm_tensor in, target, mask, loss, count, ws, seed, grad;
} loss_bufs;

typedef enum loss_kind { LOSS_XENT = 0, LOSS_L1 = CLM_LOSS_L1, LOSS_L2 = CLM_LOSS_L2 } loss_kind;

typedef struct loss_case {
  clm_context *ctx;
  loss_kind kind;
  shape s;
  int has_mask;
  loss_bufs b;
  float seed;
} loss_case;

static void case_init(loss_case *lc, clm_context *ctx, loss_kind kind, shape s, int has_mask,
                      const float *in, const float *target, const float *mask, float seed) {
  memset(lc, 0, sizeof *lc);
  lc->ctx = ctx;
  lc->kind = kind;
  lc->s = s;
  lc->has_mask = has_mask;
  lc->seed = seed;
  loss_bufs *b = &lc->b;
  b->in = test_tensor(ctx, s.n, s.c, s.h, s.w, in);
  b->grad = test_tensor(ctx, s.n, s.c, s.h, s.w, NULL);
  if (kind == LOSS_XENT) {
    b->target = test_tensor(ctx, s.n, 1, s.h, s.w, target);
  } else {
    b->target = test_tensor(ctx, s.n, s.c, s.h, s.w, target);
  }
  if (has_mask) b->mask = test_tensor(ctx, s.n, 1, s.h, s.w, mask);
  size_t per = kind == LOSS_XENT ? (size_t)s.n * s.h * s.w : (size_t)s.n * s.c * s.h * s.w;
  b->ws = test_tensor(ctx, 1, 1, 1, (int)clm_loss_workspace(ctx, per), NULL);
  b->loss = test_tensor(ctx, 1, 1, 1, 1, NULL);
  b->count = test_tensor(ctx, 1, 1, 1, 1, NULL);
  b->seed = test_tensor(ctx, 1, 1, 1, 1, &seed);
}

static void case_free(loss_case *lc) {
  loss_bufs *b = &lc->b;
  clm_tensor *all[] = {&b->in, &b->target, &b->mask, &b->loss,
                       &b->count, &b->ws, &b->seed, &b->grad};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (all[i]->buf) test_tensor_free(lc->ctx, all[i]);
}

static clm_status case_forward(loss_case *lc) {
  loss_bufs *b = &lc->b;
  if (lc->kind == LOSS_XENT)
    return clm_softmax_xent_forward(lc->ctx, &b->in, &b->target, 255, &b->loss,
                                    &b->count, &b->ws);
  return clm_regression_loss_forward(lc->ctx, (clm_regression_loss)lc->kind, &b->in, &b->target,
                                     lc->has_mask ? &b->mask : NULL, &b->loss, &b->count, &b->ws);
}

static clm_status case_backward(loss_case *lc, int accumulate) {
  loss_bufs *b = &lc->b;
  if (lc->kind == LOSS_XENT)
    return clm_softmax_xent_backward(lc->ctx, &b->in, &b->target, 255, &b->count, &b->seed,
                                     &b->grad, accumulate);
  return clm_regression_loss_backward(lc->ctx, (clm_regression_loss)lc->kind, &b->in, &b->target,
                                      lc->has_mask ? &b->mask : NULL, &b->count, &b->seed,
                                      &b->grad, accumulate);
}

/* seed · loss with the input replaced by x, through the device forward. */
static double case_objective(void *user, const float *x) {
  loss_case *lc = user;
  test_upload(lc->ctx, &lc->b.in, x);
  test_status("fd forward", case_forward(lc));
  return (double)lc->seed * download_scalar(lc->ctx, &lc->b.loss);
}

static const char *kind_name(loss_kind k) {
  return k == LOSS_XENT ? "softmax_xent" : k == LOSS_L1 ? "L1" : "L2";
}

/* Forward vs reference, backward vs reference (written, then accumulated), backward by
 * finite differences. `in` is modified and restored by the finite differences. The loss is a
 * float mean, so its rounding (~1e-7 relative) limits the differences: the step is as large
 * as each loss's smoothness allows and gradients below 10% of the largest are compared in
 * absolute terms (one ulp of the loss over 2·step is ~4e-6 at 469 pixels). */
static void check_loss(clm_context *ctx, loss_kind kind, shape s, float *in, const float *target,
                       const float *mask, float seed, int fd_samples, double fd_eps) {
  char tag[96], name[200];
  snprintf(tag, sizeof tag, "%s%s (%d,%d,%d,%d)", kind_name(kind), mask ? " masked" : "", s.n,
           s.c, s.h, s.w);
  printf("-- %s\n", tag);
  loss_case lc;
  case_init(&lc, ctx, kind, s, mask != NULL, in, target, mask, seed);
  size_t n = (size_t)s.n * s.c * s.h * s.w;
  int HW = s.h * s.w;
  double count_ref, loss_ref;
  float *grad_ref = test_alloc(n);
  if (kind == LOSS_XENT) {
    loss_ref = ref_softmax_xent_forward(in, target, s.n, s.c, HW, 255, &count_ref);
    ref_softmax_xent_backward(in, target, s.n, s.c, HW, 255, seed, grad_ref);
  } else {
    loss_ref = ref_regression_forward(kind, in, target, mask, s.n, s.c, HW, &count_ref);
    ref_regression_backward(kind, in, target, mask, s.n, s.c, HW, seed, grad_ref);
  }
  test_status("forward", case_forward(&lc));
  float loss = download_scalar(ctx, &lc.b.loss), count = download_scalar(ctx, &lc.b.count);
  snprintf(name, sizeof name, "%s loss %.6g vs reference %.6g", tag, loss, loss_ref);
  test_check(name, scalar_rel(loss, loss_ref), 1e-5);
  snprintf(name, sizeof name, "%s count %g vs reference %g", tag, count, count_ref);
  test_check(name, fabs(count - count_ref), 0);

  test_rng r = test_rng_make(77);
  float *prev = test_random(&r, n, -1, 1), *sum = test_alloc(n);
  test_upload(ctx, &lc.b.grad, prev);
  test_status("backward", case_backward(&lc, 0));
  float *got = test_download(ctx, &lc.b.grad);
  snprintf(name, sizeof name, "%s backward, seed %g, vs reference", tag, seed);
  test_check(name, test_rel_error(got, grad_ref, n, 1e-12), 1e-5);
  free(got);
  test_upload(ctx, &lc.b.grad, prev);
  test_status("backward", case_backward(&lc, 1));
  got = test_download(ctx, &lc.b.grad);
  for (size_t i = 0; i < n; i++) sum[i] = prev[i] + grad_ref[i];
  snprintf(name, sizeof name, "%s backward accumulate=1 adds onto old contents", tag);
  test_check(name, test_rel_error(got, sum, n, 1e-12), 1e-5);
  free(got);

  test_status("backward", case_backward(&lc, 0));
  float *an = test_download(ctx, &lc.b.grad);
  double gmax = 0;
  for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(an[i]));
  double e = test_fd_error(case_objective, &lc, in, n, an, fd_eps, fd_samples,
                           fmax(0.1 * gmax, 1e-6), 5);
  snprintf(name, sizeof name, "%s backward by finite differences of seed*loss", tag);
  test_check(name, e, 2e-2);
  free(an);
  free(prev);
  free(sum);
  free(grad_ref);
  case_free(&lc);
}

/* ---- softmax cross-entropy --------------------------------------------------------------- */

static float *random_labels(test_rng *r, size_t n, int K, float ignored_share) {
  float *lab = test_alloc(n);
  for (size_t i = 0; i < n; i++)
    lab[i] = test_uniform(r, 0, 1) < ignored_share ? 255.0f
                                                   : (float)((int)test_uniform(r, 0, K) % K);
  return lab;
}

static void test_xent(clm_context *ctx, shape s, int fd_samples) {
  test_rng r = test_rng_make(400 + (uint64_t)s.c * 7 + s.h);
  size_t n = (size_t)s.n * s.c * s.h * s.w, P = (size_t)s.n * s.h * s.w;
  float *logits = test_random(&r, n, -3, 3), *labels = random_labels(&r, P, s.c, 0.25f);
  if (P > 1) labels[0] = 255.0f; /* at least one ignored pixel */
  labels[P - 1] = (float)(s.c - 1); /* and at least one valid one */
  check_loss(ctx, LOSS_XENT, s, logits, labels, NULL, 2.5f, fd_samples, 1e-1);
  free(logits);
  free(labels);
}

/* All pixels ignored: count 0, loss 0, gradient exactly 0, nothing NaN. Then one label out of
 * range (K, -1 or 1.5): loss NaN. */
static void test_xent_edges(clm_context *ctx) {
  shape s = {2, 4, 3, 5};
  test_rng r = test_rng_make(9);
  size_t n = (size_t)s.n * s.c * s.h * s.w, P = (size_t)s.n * s.h * s.w;
  float *logits = test_random(&r, n, -3, 3), *labels = test_alloc(P);
  for (size_t i = 0; i < P; i++) labels[i] = 255.0f;
  loss_case lc;
  case_init(&lc, ctx, LOSS_XENT, s, 0, logits, labels, NULL, 1.0f);
  float *garbage = test_random(&r, n, -1, 1);
  test_upload(ctx, &lc.b.grad, garbage);
  test_status("forward", case_forward(&lc));
  test_status("backward", case_backward(&lc, 0));
  float loss = download_scalar(ctx, &lc.b.loss), count = download_scalar(ctx, &lc.b.count);
  float *g = test_download(ctx, &lc.b.grad);
  int zero = 1;
  for (size_t i = 0; i < n; i++) zero &= g[i] == 0.0f;
  char detail[96];
  snprintf(detail, sizeof detail, "loss %g, count %g", loss, count);
  test_true("softmax_xent all ignored: loss 0 and count 0", loss == 0.0f && count == 0.0f, detail);
  test_true("softmax_xent all ignored: gradient exactly 0 (no NaN)", zero, NULL);
  free(g);
  const float bad[3] = {(float)s.c, -1.0f, 1.5f};
  for (int t = 0; t < 3; t++) {
    for (size_t i = 0; i < P; i++) labels[i] = (float)(i % s.c);
    labels[P / 2] = bad[t];
    test_upload(ctx, &lc.b.target, labels);
    test_status("forward", case_forward(&lc));
    loss = download_scalar(ctx, &lc.b.loss);
    char name[96];
    snprintf(name, sizeof name, "softmax_xent label %g with K=%d makes the loss NaN", bad[t], s.c);
    snprintf(detail, sizeof detail, "loss %g", loss);
    test_true(name, isnan(loss), detail);
  }
  clm_tensor wrong = test_tensor(ctx, s.n, 2, s.h, s.w, NULL);
  clm_status st = clm_softmax_xent_forward(ctx, &lc.b.in, &wrong, 255, &lc.b.loss,
                                           &lc.b.count, &lc.b.ws);
  test_true("softmax_xent labels with 2 channels is CLM_ERR_SHAPE", st == CLM_ERR_SHAPE,
            clm_last_error());
  test_tensor_free(ctx, &wrong);
  case_free(&lc);
  free(logits);
  free(labels);
  free(garbage);
}

/* ---- L1 / L2 ----------------------------------------------------------------------------- */

static void test_regression(clm_context *ctx, loss_kind kind, shape s, int masked, int fd_samples) {
  test_rng r = test_rng_make(500 + (uint64_t)kind * 13 + (uint64_t)s.h + (uint64_t)masked);
  size_t n = (size_t)s.n * s.c * s.h * s.w, P = (size_t)s.n * s.h * s.w;
  float *pred = test_random(&r, n, -2, 2), *target = test_alloc(n), *mask = NULL;
  /* |pred - target| >= 0.05 so finite differences with step 2e-2 never cross the L1 kink; L2
   * is quadratic, so its central differences are exact up to rounding at any step */
  for (size_t i = 0; i < n; i++) {
    float d = test_nonzero(&r, -1, 1, 0.05f);
    target[i] = pred[i] - d;
  }
  if (masked) {
    mask = test_alloc(P);
    for (size_t i = 0; i < P; i++) mask[i] = test_uniform(&r, 0, 1) < 0.3f ? 0.0f : 1.0f;
    mask[0] = 0.0f;
    if (P > 1) mask[P - 1] = 1.0f;
  }
  check_loss(ctx, kind, s, pred, target, mask, 0.7f, fd_samples, kind == LOSS_L1 ? 2e-2 : 1e-1);
  free(pred);
  free(target);
  free(mask);
}

/* L1 gradient is 0 where pred == target; an all-zero mask gives loss 0, count 0, zero
 * gradient. */
static void test_regression_edges(clm_context *ctx) {
  shape s = {1, 2, 3, 4};
  size_t n = 24, P = 12;
  test_rng r = test_rng_make(12);
  float *pred = test_random(&r, n, -2, 2), *target = test_random(&r, n, -2, 2);
  float *mask = test_alloc(P);
  for (size_t i = 0; i < n; i += 3) target[i] = pred[i];
  for (size_t i = 0; i < P; i++) mask[i] = 0.0f;
  loss_case lc;
  case_init(&lc, ctx, LOSS_L1, s, 0, pred, target, NULL, 1.0f);
  test_status("forward", case_forward(&lc));
  test_status("backward", case_backward(&lc, 0));
  float *g = test_download(ctx, &lc.b.grad);
  int ok = 1;
  for (size_t i = 0; i < n; i++) ok &= i % 3 == 0 ? g[i] == 0.0f : fabsf(g[i]) == 1.0f / 24;
  test_true("L1 gradient is 0 at equality and ±1/count elsewhere", ok, NULL);
  free(g);
  case_free(&lc);

  case_init(&lc, ctx, LOSS_L2, s, 1, pred, target, mask, 1.0f);
  float *garbage = test_random(&r, n, -1, 1);
  test_upload(ctx, &lc.b.grad, garbage);
  test_status("forward", case_forward(&lc));
  test_status("backward", case_backward(&lc, 0));
  float loss = download_scalar(ctx, &lc.b.loss), count = download_scalar(ctx, &lc.b.count);
  g = test_download(ctx, &lc.b.grad);
  ok = 1;
  for (size_t i = 0; i < n; i++) ok &= g[i] == 0.0f;
  char detail[64];
  snprintf(detail, sizeof detail, "loss %g, count %g", loss, count);
  test_true("L2 all masked: loss 0, count 0, zero gradient", ok && loss == 0.0f && count == 0.0f,
            detail);
  free(g);
  clm_tensor wrong = test_tensor(ctx, s.n, 2, s.h, s.w, NULL);
  clm_status st = clm_regression_loss_forward(ctx, CLM_LOSS_L2, &lc.b.in, &lc.b.target, &wrong,
                                              &lc.b.loss, &lc.b.count, &lc.b.ws);
  test_true("regression mask with 2 channels is CLM_ERR_SHAPE", st == CLM_ERR_SHAPE,
            clm_last_error());
  test_tensor_free(ctx, &wrong);
  case_free(&lc);
  free(pred);
  free(target);
  free(mask);
  free(garbage);
}

int main(void) {
  clm_context *ctx = test_context();
  int small = test_small();
  int fd = small ? 8 : 30;
  const size_t sizes[] = {1, 7, 1000, 100003};
  printf("reduce work-group size %zu\n", ctx->reduce_wg);
  for (int i = 0; i < 4; i++) test_reduce(ctx, sizes[i]);
  test_reduce_fallback(ctx);
  test_reduce_edges(ctx);

  const shape xent_full[] = {{2, 5, 7, 9}, {1, 3, 1, 1}, {3, 7, 16, 13}, {1, 1, 3, 4}};
  const shape xent_small[] = {{2, 5, 7, 9}, {1, 3, 1, 1}};
  for (int i = 0; i < (small ? 2 : 4); i++)
    test_xent(ctx, small ? xent_small[i] : xent_full[i], fd);
  test_xent_edges(ctx);

  const shape reg_full[] = {{2, 3, 7, 9}, {1, 1, 1, 1}, {2, 2, 16, 13}};
  const shape reg_small[] = {{2, 3, 7, 9}};
  for (int k = LOSS_L1; k <= LOSS_L2; k++)
    for (int i = 0; i < (small ? 1 : 3); i++)
      for (int masked = 0; masked < 2; masked++)
        test_regression(ctx, (loss_kind)k, small ? reg_small[i] : reg_full[i], masked, fd);
  test_regression_edges(ctx);
  clm_context_free(ctx);
  return test_finish();
}
