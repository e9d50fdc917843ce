/* Pooling and resizing ops against tests/ref/ref_pool.c: 2x2 max-pool with indices (values
 * and indices exact, first maximum wins on ties), its gather backward, max-unpool forward and
 * backward, bilinear x2 upsampling (PyTorch's documented example included) and its backward.
 * Every backward is checked against the reference, with accumulate = 1 onto existing
 * contents, and by finite differences of the objective Σ r·y computed with the device
 * forward. Shapes include odd sizes and H or W = 1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "ref/ref_pool.h"
#include "test_util.h"

typedef struct shape { int n, c, h, w; } shape;

static double dot(const float *a, const float *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

/* Lifts each 2x2 window's maximum at least `gap` above the rest, so finite differences with
 * a step below gap/2 never change the argmax. */
static void untie_windows(float *x, int P, int H, int W, float gap) {
  for (int p = 0; p < P; p++)
    for (int i = 0; i + 1 < H; i += 2)
      for (int j = 0; j + 1 < W; j += 2) {
        float *xp = x + (size_t)p * H * W;
        int k[4] = {i * W + j, i * W + j + 1, (i + 1) * W + j, (i + 1) * W + j + 1}, best = 0;
        for (int t = 1; t < 4; t++)
          if (xp[k[t]] > xp[k[best]]) best = t;
        float second = -INFINITY;
        for (int t = 0; t < 4; t++)
          if (t != best && xp[k[t]] > second) second = xp[k[t]];
        if (xp[k[best]] - second < gap) xp[k[best]] = second + gap;
      }
}

/* Checks dx = op(accumulate = 0) against want over garbage contents, then accumulate = 1. */
typedef clm_status (*backward_fn)(clm_context *ctx, const clm_tensor *dy, const clm_tensor *idx,
                                  const clm_tensor *dx, int accumulate);

static void check_backward(clm_context *ctx, const char *what, backward_fn fn,
                           const clm_tensor *dy, const clm_tensor *idx, const clm_tensor *dx,
                           const float *want, test_rng *r, double tol) {
  size_t n = clm_tensor_numel(dx);
  float *prev = test_random(r, n, -2, 2), *sum = test_alloc(n);
  char name[160];
  test_upload(ctx, dx, prev);
  test_status(what, fn(ctx, dy, idx, dx, 0));
  float *got = test_download(ctx, dx);
  snprintf(name, sizeof name, "%s vs reference (written over old contents)", what);
  test_check(name, test_rel_error(got, want, n, 1e-6), tol);
  free(got);
  test_upload(ctx, dx, prev);
  test_status(what, fn(ctx, dy, idx, dx, 1));
  got = test_download(ctx, dx);
  for (size_t i = 0; i < n; i++) sum[i] = prev[i] + want[i];
  snprintf(name, sizeof name, "%s accumulate=1 adds onto old contents", what);
  test_check(name, test_rel_error(got, sum, n, 1e-6), 1e-6);
  free(got);
  free(prev);
  free(sum);
}

/* ---- finite differences ------------------------------------------------------------------- */

typedef enum fd_op { FD_MAXPOOL, FD_UNPOOL, FD_UPSAMPLE } fd_op;

/* Σ r·y with y = op(x) computed by the device forward; idx is the index input of unpool and
 * the index output of max-pool. */
typedef struct fd_ctx {
  clm_context *ctx;
  fd_op op;
  const clm_tensor *x, *y, *idx;
  const float *r;
} fd_ctx;

static double objective(void *user, const float *x) {
  fd_ctx *f = user;
  test_upload(f->ctx, f->x, x);
  clm_status st = CLM_OK;
  switch (f->op) {
  case FD_MAXPOOL: st = clm_maxpool2x2_forward(f->ctx, f->x, f->y, f->idx); break;
  case FD_UNPOOL: st = clm_maxunpool2x2_forward(f->ctx, f->x, f->idx, f->y); break;
  case FD_UPSAMPLE: st = clm_upsample2x_forward(f->ctx, f->x, f->y); break;
  }
  test_status("fd forward", st);
  float *y = test_download(f->ctx, f->y);
  double s = dot(f->r, y, clm_tensor_numel(f->y));
  free(y);
  return s;
}

/* ---- max-pool and max-unpool ----------------------------------------------------------------- */

static clm_status maxpool_backward_fn(clm_context *ctx, const clm_tensor *dy,
                                      const clm_tensor *idx, const clm_tensor *dx, int acc) {
  return clm_maxpool2x2_backward(ctx, dy, idx, dx, acc);
}

static void test_maxpool(clm_context *ctx, shape s, int fd_samples) {
  test_rng r = test_rng_make(100 + (uint64_t)s.h * 31 + s.w);
  int P = s.n * s.c, Ho = s.h / 2, Wo = s.w / 2;
  size_t nx = (size_t)P * s.h * s.w, ny = (size_t)P * Ho * Wo;
  char name[160];
  printf("-- maxpool2x2 (%d, %d, %d, %d)\n", s.n, s.c, s.h, s.w);
  float *x = test_random(&r, nx, -3, 3);
  untie_windows(x, P, s.h, s.w, 0.02f);
  float *y_ref = test_alloc(ny), *i_ref = test_alloc(ny), *dx_ref = test_alloc(nx);
  ref_maxpool2x2_forward(x, P, s.h, s.w, y_ref, i_ref);
  clm_tensor tx = test_tensor(ctx, s.n, s.c, s.h, s.w, x);
  clm_tensor ty = test_tensor(ctx, s.n, s.c, Ho, Wo, NULL);
  clm_tensor ti = test_tensor(ctx, s.n, s.c, Ho, Wo, NULL);
  clm_tensor tdx = test_tensor(ctx, s.n, s.c, s.h, s.w, NULL);
  test_status("maxpool forward", clm_maxpool2x2_forward(ctx, &tx, &ty, &ti));
  float *y = test_download(ctx, &ty), *idx = test_download(ctx, &ti);
  snprintf(name, sizeof name, "maxpool forward values (%d,%d,%d,%d)", s.n, s.c, s.h, s.w);
  test_check(name, test_rel_error(y, y_ref, ny, 1e-6), 0);
  snprintf(name, sizeof name, "maxpool forward indices (%d,%d,%d,%d)", s.n, s.c, s.h, s.w);
  test_check(name, test_rel_error(idx, i_ref, ny, 1), 0);

  float *dy = test_random(&r, ny, -1, 1);
  clm_tensor tdy = test_tensor(ctx, s.n, s.c, Ho, Wo, dy);
  ref_maxpool2x2_backward(dy, i_ref, P, s.h, s.w, dx_ref);
  snprintf(name, sizeof name, "maxpool backward (%d,%d,%d,%d)", s.n, s.c, s.h, s.w);
  check_backward(ctx, name, maxpool_backward_fn, &tdy, &ti, &tdx, dx_ref, &r, 0);

  /* finite differences: d(Σ r·y)/dx is the backward of dy = r */
  test_status("maxpool backward", clm_maxpool2x2_backward(ctx, &tdy, &ti, &tdx, 0));
  float *an = test_download(ctx, &tdx);
  fd_ctx f = {ctx, FD_MAXPOOL, &tx, &ty, &ti, dy};
  double e = test_fd_error(objective, &f, x, nx, an, 1e-3, fd_samples, 1e-2, 7);
  snprintf(name, sizeof name, "maxpool backward by finite differences (%d,%d,%d,%d)", s.n, s.c,
           s.h, s.w);
  test_check(name, e, 1e-2);
  free(an);

  /* max-unpool with these indices: forward = the same gather, backward = dy at idx */
  float *v = test_random(&r, ny, -2, 2), *u_ref = test_alloc(nx), *du_ref = test_alloc(ny);
  clm_tensor tv = test_tensor(ctx, s.n, s.c, Ho, Wo, v);
  clm_tensor tu = test_tensor(ctx, s.n, s.c, s.h, s.w, NULL);
  float *garbage = test_random(&r, nx, -5, 5);
  test_upload(ctx, &tu, garbage);
  ref_maxpool2x2_backward(v, i_ref, P, s.h, s.w, u_ref);
  test_status("maxunpool forward", clm_maxunpool2x2_forward(ctx, &tv, &ti, &tu));
  float *u = test_download(ctx, &tu);
  snprintf(name, sizeof name, "maxunpool forward, every element written (%d,%d,%d,%d)", s.n, s.c,
           s.h, s.w);
  test_check(name, test_rel_error(u, u_ref, nx, 1e-6), 0);
  float *du = test_random(&r, nx, -1, 1);
  clm_tensor tdu = test_tensor(ctx, s.n, s.c, s.h, s.w, du);
  ref_maxunpool2x2_backward(du, i_ref, P, s.h, s.w, du_ref);
  snprintf(name, sizeof name, "maxunpool backward (%d,%d,%d,%d)", s.n, s.c, s.h, s.w);
  check_backward(ctx, name, clm_maxunpool2x2_backward, &tdu, &ti, &tv, du_ref, &r, 0);

  /* finite differences in v of Σ du·unpool(v), indices fixed */
  test_status("unpool backward", clm_maxunpool2x2_backward(ctx, &tdu, &ti, &tv, 0));
  an = test_download(ctx, &tv);
  fd_ctx g = {ctx, FD_UNPOOL, &tv, &tu, &ti, du};
  e = test_fd_error(objective, &g, v, ny, an, 1e-2, fd_samples, 1e-2, 8);
  snprintf(name, sizeof name, "maxunpool backward by finite differences (%d,%d,%d,%d)", s.n, s.c,
           s.h, s.w);
  test_check(name, e, 1e-2);
  free(an);

  test_tensor_free(ctx, &tx);
  test_tensor_free(ctx, &ty);
  test_tensor_free(ctx, &ti);
  test_tensor_free(ctx, &tdx);
  test_tensor_free(ctx, &tdy);
  test_tensor_free(ctx, &tv);
  test_tensor_free(ctx, &tu);
  test_tensor_free(ctx, &tdu);
  free(x); free(y); free(idx); free(y_ref); free(i_ref); free(dx_ref); free(dy);
  free(v); free(u); free(u_ref); free(du); free(du_ref); free(garbage);
}

/* Ties: the first maximum in window order (0,0) (0,1) (1,0) (1,1) wins. */
static void test_maxpool_ties(clm_context *ctx) {
  const float x[8] = {1, 1, 0, 2, /* row 0 */ 1, 1, 2, 1 /* row 1 */};
  clm_tensor tx = test_tensor(ctx, 1, 1, 2, 4, x);
  clm_tensor ty = test_tensor(ctx, 1, 1, 1, 2, NULL), ti = test_tensor(ctx, 1, 1, 1, 2, NULL);
  test_status("maxpool ties", clm_maxpool2x2_forward(ctx, &tx, &ty, &ti));
  float *idx = test_download(ctx, &ti);
  char detail[64];
  snprintf(detail, sizeof detail, "indices %g %g (want 0 3)", idx[0], idx[1]);
  test_true("maxpool ties: first maximum wins", idx[0] == 0 && idx[1] == 3, detail);
  free(idx);
  clm_tensor bad = test_tensor(ctx, 1, 1, 2, 2, NULL);
  clm_status st = clm_maxpool2x2_forward(ctx, &tx, &bad, &ti);
  test_true("maxpool wrong output shape is CLM_ERR_SHAPE", st == CLM_ERR_SHAPE, clm_last_error());
  st = clm_maxunpool2x2_forward(ctx, &ty, &bad, &tx);
  test_true("maxunpool wrong index shape is CLM_ERR_SHAPE", st == CLM_ERR_SHAPE, clm_last_error());
  test_tensor_free(ctx, &tx);
  test_tensor_free(ctx, &ty);
  test_tensor_free(ctx, &ti);
  test_tensor_free(ctx, &bad);
}

/* ---- bilinear x2 upsampling ------------------------------------------------------------------ */

static clm_status upsample_backward_fn(clm_context *ctx, const clm_tensor *dy,
                                       const clm_tensor *unused, const clm_tensor *dx, int acc) {
  (void)unused;
  return clm_upsample2x_backward(ctx, dy, dx, acc);
}

static void test_upsample(clm_context *ctx, shape s, int fd_samples) {
  test_rng r = test_rng_make(200 + (uint64_t)s.h * 31 + s.w);
  int P = s.n * s.c;
  size_t nx = (size_t)P * s.h * s.w, ny = nx * 4;
  char name[160];
  printf("-- upsample2x (%d, %d, %d, %d)\n", s.n, s.c, s.h, s.w);
  float *x = test_random(&r, nx, -3, 3), *y_ref = test_alloc(ny), *dx_ref = test_alloc(nx);
  ref_upsample2x_forward(x, P, s.h, s.w, y_ref);
  clm_tensor tx = test_tensor(ctx, s.n, s.c, s.h, s.w, x);
  clm_tensor ty = test_tensor(ctx, s.n, s.c, 2 * s.h, 2 * s.w, NULL);
  test_status("upsample forward", clm_upsample2x_forward(ctx, &tx, &ty));
  float *y = test_download(ctx, &ty);
  snprintf(name, sizeof name, "upsample forward (%d,%d,%d,%d)", s.n, s.c, s.h, s.w);
  test_check(name, test_rel_error(y, y_ref, ny, 1e-6), 1e-6);

  float *dy = test_random(&r, ny, -1, 1);
  clm_tensor tdy = test_tensor(ctx, s.n, s.c, 2 * s.h, 2 * s.w, dy);
  clm_tensor tdx = test_tensor(ctx, s.n, s.c, s.h, s.w, NULL);
  ref_upsample2x_backward(dy, P, s.h, s.w, dx_ref);
  snprintf(name, sizeof name, "upsample backward (%d,%d,%d,%d)", s.n, s.c, s.h, s.w);
  check_backward(ctx, name, upsample_backward_fn, &tdy, NULL, &tdx, dx_ref, &r, 1e-6);

  test_status("upsample backward", clm_upsample2x_backward(ctx, &tdy, &tdx, 0));
  float *an = test_download(ctx, &tdx);
  fd_ctx f = {ctx, FD_UPSAMPLE, &tx, &ty, NULL, dy};
  double e = test_fd_error(objective, &f, x, nx, an, 1e-2, fd_samples, 1e-2, 9);
  snprintf(name, sizeof name, "upsample backward by finite differences (%d,%d,%d,%d)", s.n, s.c,
           s.h, s.w);
  test_check(name, e, 1e-2);
  free(an);
  test_tensor_free(ctx, &tx);
  test_tensor_free(ctx, &ty);
  test_tensor_free(ctx, &tdy);
  test_tensor_free(ctx, &tdx);
  free(x); free(y); free(y_ref); free(dy); free(dx_ref);
}

/* The example in PyTorch's nn.Upsample documentation (scale 2, bilinear, align_corners off). */
static void test_upsample_pytorch_example(clm_context *ctx) {
  const float x[4] = {1, 2, 3, 4};
  const float want[16] = {1.0f, 1.25f, 1.75f, 2.0f, 1.5f, 1.75f, 2.25f, 2.5f,
                          2.5f, 2.75f, 3.25f, 3.5f, 3.0f, 3.25f, 3.75f, 4.0f};
  clm_tensor tx = test_tensor(ctx, 1, 1, 2, 2, x), ty = test_tensor(ctx, 1, 1, 4, 4, NULL);
  test_status("upsample example", clm_upsample2x_forward(ctx, &tx, &ty));
  float *y = test_download(ctx, &ty);
  test_check("upsample matches PyTorch's documented 2x2 example", test_rel_error(y, want, 16, 1),
             0);
  free(y);
  clm_status st = clm_upsample2x_forward(ctx, &ty, &tx);
  test_true("upsample wrong output shape is CLM_ERR_SHAPE", st == CLM_ERR_SHAPE, clm_last_error());
  test_tensor_free(ctx, &tx);
  test_tensor_free(ctx, &ty);
}

int main(void) {
  clm_context *ctx = test_context();
  int small = test_small();
  const shape pool_full[] = {{2, 3, 7, 9}, {1, 2, 8, 6}, {2, 4, 33, 20}, {1, 1, 2, 3}};
  const shape pool_small[] = {{2, 3, 7, 9}, {1, 1, 2, 3}};
  const shape up_full[] = {{2, 3, 7, 9}, {1, 2, 1, 5}, {1, 1, 4, 1}, {2, 2, 1, 1}, {1, 3, 16, 13}};
  const shape up_small[] = {{2, 3, 7, 9}, {1, 2, 1, 5}};
  int fd = small ? 10 : 40;
  test_maxpool_ties(ctx);
  test_upsample_pytorch_example(ctx);
  for (int i = 0; i < (small ? 2 : 4); i++)
    test_maxpool(ctx, small ? pool_small[i] : pool_full[i], fd);
  for (int i = 0; i < (small ? 2 : 5); i++)
    test_upsample(ctx, small ? up_small[i] : up_full[i], fd);
  clm_context_free(ctx);
  return test_finish();
}
