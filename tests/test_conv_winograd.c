/* The Winograd convolution variants, winograd F(2×2, 3×3) and winograd4 F(4×4, 3×3), against the float64 plain-C
 * reference (tests/ref/ref_conv.c) on random non-zero inputs with odd planes and channel
 * counts: conv forward with bias (=, over NaN contents, and +=), conv backward data, and the
 * transposed convolution's forward (the same kernels with flipped weights); paddings 0, 1, 2;
 * with the whole batch in one band of tiles and with a workspace that holds only a few tiles
 * (ragged bands across image borders). A workspace too small for one tile is refused.
 *
 * Tolerance, relative to the largest reference value: Winograd rounds differently from the
 * direct sum. F(2×2) transforms with coefficients 0, ±½, ±1 (its error measured here stays
 * below 1e-6, as direct summation's does); F(4×4)'s coefficients reach 8 in Aᵀ and 5 in Bᵀ with
 * 1/24 in G, which amplifies float32 rounding by about an order of magnitude (Lavin & Gray
 * 2016, §5; measured ≈ 2e-6 here). The bounds: 1e-5 for F(2×2), 1e-4 for F(4×4). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/conv_winograd.h"
#include "ref/ref_conv.h"
#include "test_util.h"

typedef struct wcase {
  const char *name;
  int deconv, n, c, h, w, k, pad;
} wcase;

static double tol_of(int m) { return m == 2 ? 1e-5 : 1e-4; }

/* ws_floats 0: the size clm_conv2d_workspace asks for. */
static void run_case(clm_context *ctx, const wcase *cs, int m, size_t ws_floats, uint64_t seed) {
  test_rng rng = test_rng_make(seed);
  clm_conv_variant V = m == 2 ? CLM_CONV_WINOGRAD : CLM_CONV_WINOGRAD4;
  clm_conv_params p = {1, cs->pad, 1};
  int ho = cs->deconv ? cs->h - 1 - 2 * cs->pad + 3 : clm_conv_out_size(cs->h, 3, &p);
  int wo = cs->deconv ? cs->w - 1 - 2 * cs->pad + 3 : clm_conv_out_size(cs->w, 3, &p);
  ref_conv_shape g = {cs->n, cs->c, cs->h, cs->w, cs->k, 3, 3, ho, wo, 1, cs->pad, 1};
  size_t nx = (size_t)cs->n * cs->c * cs->h * cs->w, ny = (size_t)cs->n * cs->k * ho * wo;
  size_t nw = (size_t)cs->k * cs->c * 9;
  float *x = test_random(&rng, nx, -1, 1), *w = test_random(&rng, nw, -1, 1);
  float *b = test_random(&rng, (size_t)cs->k, -1, 1), *dy = test_random(&rng, ny, -1, 1);
  float *want_y = test_alloc(ny), *want_dx = test_alloc(nx);
  clm_tensor X = test_tensor(ctx, cs->n, cs->c, cs->h, cs->w, x);
  clm_tensor W = cs->deconv ? test_tensor(ctx, cs->c, cs->k, 3, 3, w)
                            : test_tensor(ctx, cs->k, cs->c, 3, 3, w);
  clm_tensor B = test_tensor(ctx, 1, cs->k, 1, 1, b);
  clm_tensor Y = test_tensor(ctx, cs->n, cs->k, ho, wo, NULL);
  clm_tensor DY = test_tensor(ctx, cs->n, cs->k, ho, wo, dy);
  clm_tensor DX = test_tensor(ctx, cs->n, cs->c, cs->h, cs->w, NULL);
  size_t need = cs->deconv ? clm_deconv2d_workspace(V, &X, &W, &Y)
                           : clm_conv2d_workspace(V, &X, &W, &Y);
  clm_tensor WS = test_tensor(ctx, 1, 1, 1, (int)(ws_floats ? ws_floats : need), NULL);
  char label[160];
  snprintf(label, sizeof label, "%s F(%dx%d,3x3)%s", cs->name, m, m,
           ws_floats ? ", a few tiles per band" : "");
  char name[240];
  float *nan = test_alloc(ny > nx ? ny : nx);
  for (size_t i = 0; i < (ny > nx ? ny : nx); i++) nan[i] = NAN;

  if (cs->deconv) ref_deconv2d_forward(&g, x, w, b, want_y);
  else ref_conv2d_forward(&g, x, w, b, want_y);
  test_upload(ctx, &Y, nan);
  test_status("forward", cs->deconv
                             ? clm_deconv2d_forward(ctx, V, &p, &X, &W, &B, &Y, &WS)
                             : clm_conv2d_forward(ctx, V, &p, &X, &W, &B, &Y, &WS));
  float *got = test_download(ctx, &Y);
  snprintf(name, sizeof name, "%s forward with bias vs float64 reference", label);
  test_check(name, test_rel_error(got, want_y, ny, 1e-6), tol_of(m));
  free(got);

  if (!cs->deconv) {
    /* backward data, = over NaN, then += onto random contents */
    ref_conv2d_backward_data(&g, dy, w, want_dx);
    test_upload(ctx, &DX, nan);
    test_status("backward data", clm_conv2d_backward_data(ctx, V, &p, &DY, &W,
                                                          &DX, &WS, 0));
    got = test_download(ctx, &DX);
    snprintf(name, sizeof name, "%s backward data vs float64 reference", label);
    test_check(name, test_rel_error(got, want_dx, nx, 1e-6), tol_of(m));
    free(got);
  }
  clm_tensor *all[] = {&X, &W, &B, &Y, &DY, &DX, &WS};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) test_tensor_free(ctx, all[i]);
  free(x), free(w), free(b), free(dy), free(want_y), free(want_dx), free(nan);
}

/* y (=/+=) through backward data of a transposed convolution: the Winograd forward path with
 * accumulate = 1, against y0 + reference. */
static void run_accumulate(clm_context *ctx, int m) {
  test_rng rng = test_rng_make(77 + m);
  clm_conv_variant V = m == 2 ? CLM_CONV_WINOGRAD : CLM_CONV_WINOGRAD4;
  /* deconv x (1, 6, 9, 13), w (6, 5, 3, 3), pad 1 -> y (1, 5, 9, 13); its backward data is
   * the convolution of dy (1, 5, 9, 13) with w read as (K = 6, C = 5) into dx (1, 6, 9, 13) */
  int n = 1, cin = 6, cout = 5, h = 9, wd = 13;
  clm_conv_params p = {1, 1, 1};
  ref_conv_shape g = {n, cout, h, wd, cin, 3, 3, h, wd, 1, 1, 1};
  size_t nd = (size_t)n * cout * h * wd, nx = (size_t)n * cin * h * wd, nw = (size_t)cin * cout * 9;
  float *dy = test_random(&rng, nd, -1, 1), *w = test_random(&rng, nw, -1, 1);
  float *dx0 = test_random(&rng, nx, -1, 1), *want = test_alloc(nx);
  ref_conv2d_forward(&g, dy, w, NULL, want);
  for (size_t i = 0; i < nx; i++) want[i] += dx0[i];
  clm_tensor DY = test_tensor(ctx, n, cout, h, wd, dy), W = test_tensor(ctx, cin, cout, 3, 3, w);
  clm_tensor DX = test_tensor(ctx, n, cin, h, wd, dx0);
  clm_tensor WS = test_tensor(ctx, 1, 1, 1,
                              (int)clm_deconv2d_workspace(V, &DX, &W, &DY), NULL);
  test_status("deconv backward data +=", clm_deconv2d_backward_data(ctx, V, &p,
                                                                    &DY, &W, &DX, &WS, 1));
  float *got = test_download(ctx, &DX);
  char name[160];
  snprintf(name, sizeof name, "deconv backward data F(%dx%d,3x3) adds (accumulate=1)", m, m);
  test_check(name, test_rel_error(got, want, nx, 1e-6), tol_of(m));
  /* a workspace one float short of one tile is refused, naming the workspace */
  size_t t = (size_t)(m + 2) * (m + 2);
  clm_tensor small = clm_tensor_view(WS.buf, WS.off, 1, 1, 1,
                                     (int)(t * cin * cout + t * (cin + cout) - 1));
  snprintf(name, sizeof name, "F(%dx%d,3x3) with a workspace short of one tile is a SHAPE error",
           m, m);
  test_expect(name, clm_deconv2d_backward_data(ctx, V, &p, &DY, &W, &DX, &small, 1),
              CLM_ERR_SHAPE, "workspace");
  free(got);
  clm_tensor *all[] = {&DY, &W, &DX, &WS};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) test_tensor_free(ctx, all[i]);
  free(dy), free(w), free(dx0), free(want);
}

int main(void) {
  clm_context *ctx = test_context();
  static const wcase cases[] = {
      /* name                      dc n  c   h   w   k  pad */
      {"conv 3x3 pad 1 odd",        0, 2, 7, 13, 37, 9, 1},
      {"conv 3x3 pad 0 odd",        0, 2, 5, 11, 19, 6, 0},
      {"conv 3x3 pad 2",            0, 1, 3, 6, 9, 4, 2},
      {"conv 3x3 pad 1 deep",       0, 1, 64, 9, 15, 33, 1},
      {"deconv 3x3 s1 p1",          1, 2, 6, 7, 11, 5, 1},
  };
  int ncase = test_small() ? 2 : (int)(sizeof cases / sizeof cases[0]);
  for (int m = 2; m <= 4; m += 2) {
    for (int i = 0; i < ncase; i++) run_case(ctx, &cases[i], m, 0, 10 + i);
    /* a few tiles per band: room for U and 5 tiles, so bands cross images raggedly */
    const wcase *cs = &cases[0];
    size_t t = (size_t)(m + 2) * (m + 2);
    run_case(ctx, cs, m, t * cs->k * cs->c + t * (cs->c + cs->k) * 5, 40);
    run_accumulate(ctx, m);
  }
  clm_context_free(ctx);
  return test_finish();
}
