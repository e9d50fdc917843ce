/* Element-wise ops against tests/ref/ref_eltwise.c: activations forward (out of place and in
 * place) and backward (written, accumulated, in place) for none/relu/leaky relu/sigmoid, with
 * finite differences; add (also in place); copy (= and +=); channel copy as concat forward and
 * backward, including views into one shared buffer; argument and shape errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "ref/ref_eltwise.h"
#include "test_util.h"

#define TOL 1e-6    /* float vs double: at most a few ulp (sigmoid's exp) */
#define TOL_FD 2e-3 /* central differences, eps 5e-3 < the inputs' distance from 0 (8e-3) */

typedef struct shape { int n, c, h, w; } shape;

static const char *act_names[] = {"none", "relu", "leaky relu", "sigmoid"};
static const float SLOPE = 0.1f;

static float *alloc_floats(size_t n) {
  float *p = malloc((n ? n : 1) * sizeof *p);
  if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
  return p;
}

static void check(const char *what, const char *detail, const shape *s, const float *got,
                  const float *want, size_t n, double tol) {
  char name[200];
  snprintf(name, sizeof name, "%s%s%s (%d,%d,%d,%d)", what, detail ? " " : "", detail ? detail : "",
           s->n, s->c, s->h, s->w);
  test_check(name, test_rel_error(got, want, n, 1e-6), tol);
}

static void check_tensor(clm_context *ctx, const char *what, const char *detail, const shape *s,
                         const clm_tensor *t, const float *want, double tol) {
  float *got = test_download(ctx, t);
  check(what, detail, s, got, want, clm_tensor_numel(t), tol);
  free(got);
}

/* Objective Σ r·act(x) through the device forward. */
typedef struct act_fd {
  clm_context *ctx;
  clm_activation act;
  clm_tensor x, y;
  const float *r;
  size_t n;
} act_fd;

static double act_objective(void *user, const float *x) {
  act_fd *a = user;
  test_upload(a->ctx, &a->x, x);
  test_status("fd forward", clm_activation_forward(a->ctx, a->act, SLOPE, &a->x, &a->y));
  float *y = test_download(a->ctx, &a->y);
  double sum = 0;
  for (size_t i = 0; i < a->n; i++) sum += (double)a->r[i] * y[i];
  free(y);
  return sum;
}

static void test_activations(clm_context *ctx, shape s, uint64_t seed) {
  test_rng rng = test_rng_make(seed);
  size_t n = (size_t)s.n * s.c * s.h * s.w;
  float *x = alloc_floats(n), *y = alloc_floats(n), *dy = alloc_floats(n), *dx = alloc_floats(n);
  float *want = alloc_floats(n), *r = alloc_floats(n);
  test_fill(&rng, x, n, -4, 4);
  test_fill(&rng, dy, n, -1, 1);
  test_fill(&rng, dx, n, -1, 1);
  test_fill(&rng, r, n, -1, 1);
  for (int act = CLM_ACTIVATION_NONE; act <= CLM_ACTIVATION_SIGMOID; act++) {
    const char *an = act_names[act];
    clm_tensor tx = test_tensor(ctx, s.n, s.c, s.h, s.w, x);
    clm_tensor ty = test_tensor_at(ctx, 11, s.n, s.c, s.h, s.w, NULL);
    test_status("activation forward", clm_activation_forward(ctx, act, SLOPE, &tx, &ty));
    ref_activation_forward(act, SLOPE, x, y, n);
    check_tensor(ctx, "activation forward", an, &s, &ty, y, TOL);
    /* in place: y = x */
    test_status("activation forward in place", clm_activation_forward(ctx, act, SLOPE, &tx, &tx));
    check_tensor(ctx, "activation forward in place", an, &s, &tx, y, TOL);

    /* backward from the reference output y (exactly what the forward would have stored) */
    test_upload(ctx, &ty, y);
    clm_tensor tdy = test_tensor(ctx, s.n, s.c, s.h, s.w, dy);
    clm_tensor tdx = test_tensor_at(ctx, 3, s.n, s.c, s.h, s.w, dx);
    for (int acc = 0; acc <= 1; acc++) {
      memcpy(want, dx, n * sizeof *want);
      test_upload(ctx, &tdx, dx);
      test_status("activation backward",
                  clm_activation_backward(ctx, act, SLOPE, &ty, &tdy, &tdx, acc));
      ref_activation_backward(act, SLOPE, y, dy, want, n, acc);
      check_tensor(ctx, acc ? "activation backward dx +=" : "activation backward dx =", an, &s,
                   &tdx, want, TOL);
    }
    /* in place: dx = dy */
    test_status("activation backward in place",
                clm_activation_backward(ctx, act, SLOPE, &ty, &tdy, &tdy, 0));
    ref_activation_backward(act, SLOPE, y, dy, want, n, 0);
    check_tensor(ctx, "activation backward in place", an, &s, &tdy, want, TOL);

    /* finite differences of Σ r·act(x) */
    test_upload(ctx, &tdy, r);
    test_status("fd backward", clm_activation_backward(ctx, act, SLOPE, &ty, &tdy, &tdx, 0));
    float *g = test_download(ctx, &tdx);
    act_fd a = {ctx, act, tx, ty, r, n};
    char name[120];
    snprintf(name, sizeof name, "finite differences %s (%d,%d,%d,%d)", an, s.n, s.c, s.h, s.w);
    test_check(name, test_fd_error(act_objective, &a, x, n, g, 5e-3, 32, 1e-2, seed + act),
               TOL_FD);
    free(g);
    test_tensor_free(ctx, &tx);
    test_tensor_free(ctx, &ty);
    test_tensor_free(ctx, &tdy);
    test_tensor_free(ctx, &tdx);
  }
  free(x); free(y); free(dy); free(dx); free(want); free(r);
}

static void test_add_copy(clm_context *ctx, shape s, uint64_t seed) {
  test_rng rng = test_rng_make(seed);
  size_t n = (size_t)s.n * s.c * s.h * s.w;
  float *a = alloc_floats(n), *b = alloc_floats(n), *want = alloc_floats(n), *d = alloc_floats(n);
  test_fill(&rng, a, n, -3, 3);
  test_fill(&rng, b, n, -3, 3);
  test_fill(&rng, d, n, -3, 3);
  clm_tensor ta = test_tensor(ctx, s.n, s.c, s.h, s.w, a);
  clm_tensor tb = test_tensor_at(ctx, 2, s.n, s.c, s.h, s.w, b);
  clm_tensor ty = test_tensor_at(ctx, 9, s.n, s.c, s.h, s.w, NULL);
  test_status("add", clm_add_forward(ctx, &ta, &tb, &ty));
  ref_add(a, b, want, n);
  check_tensor(ctx, "add", NULL, &s, &ty, want, TOL);
  test_status("add in place", clm_add_forward(ctx, &ta, &tb, &ta));
  check_tensor(ctx, "add in place (y = a)", NULL, &s, &ta, want, TOL);

  /* copy into a differently shaped view of the same element count, = then += */
  clm_tensor flat = test_tensor_at(ctx, 4, 1, 1, 1, (int)n, d);
  test_status("copy", clm_copy(ctx, &tb, &flat, 0));
  check_tensor(ctx, "copy =", NULL, &s, &flat, b, 0);
  test_upload(ctx, &flat, d);
  test_status("copy +=", clm_copy(ctx, &tb, &flat, 1));
  ref_add(d, b, want, n);
  check_tensor(ctx, "copy += (accumulate)", NULL, &s, &flat, want, TOL);
  test_tensor_free(ctx, &ta);
  test_tensor_free(ctx, &tb);
  test_tensor_free(ctx, &ty);
  test_tensor_free(ctx, &flat);
  free(a); free(b); free(want); free(d);
}

/* Concat of a (N, C1, H, W) and b (N, C2, H, W) into y (N, C1 + C2, H, W) by two channel
 * copies, and its backward: dy slices accumulated onto existing da, db. All three live in one
 * buffer at distinct offsets, as the memory planner lays activations out. */
static void test_concat(clm_context *ctx, shape s, int c2, uint64_t seed) {
  test_rng rng = test_rng_make(seed);
  int c1 = s.c, C = c1 + c2, HW = s.h * s.w;
  size_t na = (size_t)s.n * c1 * HW, nb = (size_t)s.n * c2 * HW, ny = na + nb;
  float *a = alloc_floats(na), *b = alloc_floats(nb), *want = alloc_floats(ny);
  float *dy = alloc_floats(ny), *da = alloc_floats(na), *db = alloc_floats(nb);
  test_fill(&rng, a, na, -2, 2);
  test_fill(&rng, b, nb, -2, 2);
  test_fill(&rng, dy, ny, -2, 2);
  test_fill(&rng, want, ny, -2, 2);
  clm_tensor arena = test_tensor_at(ctx, 3, 1, 1, 1, (int)(2 * ny + 10), NULL);
  clm_tensor ta = clm_tensor_view(arena.buf, 3, s.n, c1, s.h, s.w);
  clm_tensor tb = clm_tensor_view(arena.buf, 3 + na + 1, s.n, c2, s.h, s.w);
  clm_tensor ty = clm_tensor_view(arena.buf, 3 + ny + 5, s.n, C, s.h, s.w);
  test_upload(ctx, &ta, a);
  test_upload(ctx, &tb, b);
  test_upload(ctx, &ty, want); /* garbage that must be overwritten */
  shape sy = {s.n, C, s.h, s.w};
  test_status("concat a", clm_channel_copy(ctx, &ta, 0, &ty, 0, c1, 0));
  test_status("concat b", clm_channel_copy(ctx, &tb, 0, &ty, c1, c2, 0));
  ref_channel_copy(a, c1, 0, want, C, 0, s.n, HW, c1, 0);
  ref_channel_copy(b, c2, 0, want, C, c1, s.n, HW, c2, 0);
  check_tensor(ctx, "concat forward by channel copies", NULL, &sy, &ty, want, 0);

  /* backward: dy in y's place, accumulated onto random da, db */
  test_fill(&rng, da, na, -1, 1);
  test_fill(&rng, db, nb, -1, 1);
  test_upload(ctx, &ty, dy);
  test_upload(ctx, &ta, da);
  test_upload(ctx, &tb, db);
  test_status("concat backward a", clm_channel_copy(ctx, &ty, 0, &ta, 0, c1, 1));
  test_status("concat backward b", clm_channel_copy(ctx, &ty, c1, &tb, 0, c2, 1));
  ref_channel_copy(dy, C, 0, da, c1, 0, s.n, HW, c1, 1);
  ref_channel_copy(dy, C, c1, db, c2, 0, s.n, HW, c2, 1);
  check_tensor(ctx, "concat backward da +=", NULL, &s, &ta, da, TOL);
  check_tensor(ctx, "concat backward db +=", NULL, &s, &tb, db, TOL);

  /* a middle slice: channels [1, 1 + k) of y into channels [0, k) of a, written */
  if (C >= 2 && c1 >= 1) {
    int k = c1 < C - 1 ? c1 : C - 1;
    float *cur = test_download(ctx, &ta);
    test_status("channel slice", clm_channel_copy(ctx, &ty, 1, &ta, 0, k, 0));
    ref_channel_copy(dy, C, 1, cur, c1, 0, s.n, HW, k, 0);
    check_tensor(ctx, "channel slice [1, 1+k) =", NULL, &s, &ta, cur, 0);
    free(cur);
  }
  test_tensor_free(ctx, &arena);
  free(a); free(b); free(want); free(dy); free(da); free(db);
}

static void test_errors(clm_context *ctx) {
  clm_tensor x = test_tensor(ctx, 2, 3, 4, 4, NULL), z = test_tensor(ctx, 2, 3, 4, 5, NULL);
  clm_tensor w = test_tensor(ctx, 1, 3, 4, 4, NULL);
  clm_status st = clm_add_forward(ctx, &x, &z, &x);
  test_true("add shape mismatch is a SHAPE error", st == CLM_ERR_SHAPE, clm_last_error());
  st = clm_activation_forward(ctx, CLM_ACTIVATION_RELU, 0, &x, &z);
  test_true("activation shape mismatch is a SHAPE error", st == CLM_ERR_SHAPE, clm_last_error());
  st = clm_activation_forward(ctx, CLM_ACTIVATION_LEAKY_RELU, 0, &x, &x);
  test_true("leaky relu slope 0 is INVALID_ARG", st == CLM_ERR_INVALID_ARG, clm_last_error());
  st = clm_activation_forward(ctx, (clm_activation)17, 0, &x, &x);
  test_true("unknown activation is INVALID_ARG", st == CLM_ERR_INVALID_ARG, clm_last_error());
  clm_tensor shifted = x;
  shifted.off += 1;
  st = clm_activation_forward(ctx, CLM_ACTIVATION_RELU, 0, &x, &shifted);
  test_true("partially overlapping output is INVALID_ARG", st == CLM_ERR_INVALID_ARG,
            clm_last_error());
  st = clm_copy(ctx, &x, &z, 0);
  test_true("copy of a different element count is a SHAPE error", st == CLM_ERR_SHAPE,
            clm_last_error());
  st = clm_channel_copy(ctx, &x, 1, &z, 0, 3, 0);
  test_true("channel copy across different H, W is a SHAPE error", st == CLM_ERR_SHAPE,
            clm_last_error());
  st = clm_channel_copy(ctx, &x, 1, &w, 0, 2, 0);
  test_true("channel copy across different N is a SHAPE error", st == CLM_ERR_SHAPE,
            clm_last_error());
  clm_tensor y2 = test_tensor(ctx, 2, 4, 4, 4, NULL);
  st = clm_channel_copy(ctx, &x, 1, &y2, 0, 3, 0);
  test_true("channel range past the source is a SHAPE error", st == CLM_ERR_SHAPE,
            clm_last_error());
  st = clm_channel_copy(ctx, &x, 0, &y2, 2, 3, 0);
  test_true("channel range past the destination is a SHAPE error", st == CLM_ERR_SHAPE,
            clm_last_error());
  test_tensor_free(ctx, &x);
  test_tensor_free(ctx, &z);
  test_tensor_free(ctx, &w);
  test_tensor_free(ctx, &y2);
}

int main(void) {
  clm_context *ctx = test_context();
  printf("tolerances: forward/backward %g (relative to the largest value), finite differences "
         "%g; copies exact\n", TOL, TOL_FD);
  shape big[] = {{3, 5, 7, 9}, {1, 3, 4, 4}, {2, 1, 5, 3}, {4, 16, 32, 33}};
  shape small[] = {{3, 5, 7, 9}, {1, 1, 3, 5}};
  int ns = test_small() ? 2 : 4;
  for (int i = 0; i < ns; i++) {
    shape s = test_small() ? small[i] : big[i];
    test_activations(ctx, s, 10 + i);
    test_add_copy(ctx, s, 20 + i);
    test_concat(ctx, s, 1 + 2 * i, 30 + i);
  }
  test_errors(ctx);
  clm_context_free(ctx);
  return test_finish();
}
