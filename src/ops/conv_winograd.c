/* Winograd convolution F(m×m, 3×3), host side (kernels and formula: cl/conv_winograd.cl).
 * For 3×3 kernels, stride 1, dilation 1, any padding: the forward pass, and the backward data
 * pass as the same convolution of dy with the flipped, channel-transposed weights (padding
 * 2 − pad). Per call: the weight transform U (T × K × C, T = (m+2)² positions), then per band
 * of pb tiles of the batch the input transform V (T × C × pb), T GEMMs M_t (K × pb) = U_t · V_t
 * through clm_gemm (TILED on CPUs, CLBlast elsewhere), and the output transform with the bias.
 * Workspace: [U | V | M], sized by clm_conv_winograd_workspace. The weight transform runs on
 * every call (one launch of K·C work-items, small beside the GEMMs): training changes the
 * weights every step; inference does not keep U between forwards. Shape checks, the backward
 * weight pass and the other geometries live in src/ops/conv.c. */
#include "ops/conv_winograd.h"
#include <stdio.h>

/* Tiles per band: at most this many floats of V and M together, so that each GEMM's slices
 * stay near the cache; at least one tile. */
#ifndef WINO_BAND_FLOATS
#define WINO_BAND_FLOATS (4 * 1024 * 1024)
#endif

int clm_conv_winograd_fits(const conv_geom *g) {
  return g->r == 3 && g->s == 3 && g->stride == 1 && g->dil == 1;
}

static size_t tiles(int n, int h, int w, int m) {
  return (size_t)n * (size_t)((h + m - 1) / m) * (size_t)((w + m - 1) / m);
}

/* Band of tiles for cin → cout channels over `total` tiles: within WINO_BAND_FLOATS. */
static size_t band_tiles(size_t total, int cin, int cout, int m) {
  size_t per = (size_t)(m + 2) * (m + 2) * ((size_t)cin + cout);
  size_t pb = WINO_BAND_FLOATS / per;
  if (pb < 1) pb = 1;
  return pb < total ? pb : total;
}

size_t clm_conv_winograd_workspace(int n, int c, int h, int w, int k, int ho, int wo) {
  size_t best = 0;
  for (int m = 2; m <= 4; m += 2) { /* either tile size, either direction */
    size_t t = (size_t)(m + 2) * (m + 2);
    size_t p = tiles(n, ho, wo, m), pd = tiles(n, h, w, m);
    if (pd > p) p = pd;
    size_t need = t * (size_t)k * c + t * ((size_t)c + k) * band_tiles(p, c, k, m);
    if (need > best) best = need;
  }
  return best;
}

/* out (N, cout, ho, wo) (=/+=) F(m×m, 3×3) conv of in (N, cin, h, wd) with the 3×3 weights
 * wt(k, c, r, s) = w[woff + k·wk + c·wc + r·wr + s·ws], padding pad, plus b (optional). */
static clm_status run(clm_context *ctx, int m, const clm_tensor *in, const clm_tensor *w, size_t woff,
                      int wk, int wc, int wr, int wsd, const clm_tensor *b,
                      const clm_tensor *out, const clm_tensor *ws, int n, int cin, int h,
                      int wd, int cout, int ho, int wo, int pad, int accumulate) {
  int t = (m + 2) * (m + 2);
  int th = (ho + m - 1) / m, tw = (wo + m - 1) / m;
  size_t total = (size_t)n * th * tw, nu = (size_t)t * cout * cin;
  size_t room = clm_tensor_present(ws) ? clm_tensor_numel(ws) : 0;
  size_t per = (size_t)t * ((size_t)cin + cout);
  size_t pb = room > nu ? (room - nu) / per : 0;
  if (pb > band_tiles(total, cin, cout, m)) pb = band_tiles(total, cin, cout, m);
  if (pb < 1)
    CLM_FAIL(CLM_ERR_SHAPE, "conv winograd F(%dx%d,3x3): %d -> %d channels need a workspace of "
             "at least %zu floats, got %zu", m, m, cin, cout, nu + per, room);
  char opts[32];
  snprintf(opts, sizeof opts, "-DWINO_M=%d", m);
  cl_kernel kw, ki, ko;
  CLM_TRY(clm_kernel_get(ctx, "conv_winograd", opts, "wino_weight", &kw, NULL));
  CLM_TRY(clm_kernel_get(ctx, "conv_winograd", opts, "wino_input", &ki, NULL));
  CLM_TRY(clm_kernel_get(ctx, "conv_winograd", opts, "wino_output", &ko, NULL));
  clm_tensor u = clm_tensor_view(ws->buf, ws->off, 1, 1, 1, (int)nu);
  size_t voff = ws->off + nu, moff = voff + (size_t)t * cin * pb;
  CLM_TRY(clm_kernel_args(kw, "mo t iiiiii", w->buf, woff, &u, cout, cin, wk, wc, wr, wsd));
  size_t items = (size_t)cout * cin;
  CLM_TRY(clm_kernel_launch(ctx, kw, 1, &items, NULL));
  clm_gemm_variant gv = ctx->info.kind == CLM_DEVICE_CPU ? CLM_GEMM_TILED : CLM_GEMM_CLBLAST;
  int has_bias = clm_tensor_present(b);
  for (size_t p0 = 0; p0 < total; p0 += pb) {
    int nb = (int)(total - p0 < pb ? total - p0 : pb);
    CLM_TRY(clm_kernel_args(ki, "t mo iiiiiiii", in, ws->buf, voff, cin, h, wd, th, tw, pad,
                            (int)p0, nb));
    items = (size_t)cin * nb;
    CLM_TRY(clm_kernel_launch(ctx, ki, 1, &items, NULL));
    for (int q = 0; q < t; q++) {
      clm_tensor uq = clm_tensor_view(ws->buf, ws->off + (size_t)q * cout * cin, 1, 1, cout, cin);
      clm_tensor vq = clm_tensor_view(ws->buf, voff + (size_t)q * cin * nb, 1, 1, cin, nb);
      clm_tensor mq = clm_tensor_view(ws->buf, moff + (size_t)q * cout * nb, 1, 1, cout, nb);
      clm_status st = clm_gemm(ctx, gv, 0, 0, cout, nb, cin, 1.0f, &uq, cin, &vq, nb, 0.0f,
                               &mq, nb);
      if (st != CLM_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", clm_last_error());
        CLM_FAIL(st, "conv winograd F(%dx%d,3x3), position %d of tiles %zu..: %s", m, m, q, p0,
                 msg);
      }
    }
    CLM_TRY(clm_kernel_args(ko, "mo t tiiiiiiiii", ws->buf, moff, out, has_bias ? b : out,
                            has_bias, cout, ho, wo, th, tw, (int)p0, nb, accumulate));
    items = (size_t)cout * nb;
    CLM_TRY(clm_kernel_launch(ctx, ko, 1, &items, NULL));
  }
  return CLM_OK;
}

clm_status clm_conv_winograd_forward(clm_context *ctx, int m, const conv_geom *g, const clm_tensor *x,
                                     const clm_tensor *w, const clm_tensor *b,
                                     const clm_tensor *y, const clm_tensor *ws, int accumulate) {
  return run(ctx, m, x, w, w->off, g->c * 9, 9, 3, 1, b, y, ws, g->n, g->c, g->h, g->w, g->k,
             g->ho, g->wo, g->pad, accumulate);
}

/* dx = dy convolved with wt(c, k, r, s) = w[k, c, 2 − r, 2 − s], padding 2 − pad. */
clm_status clm_conv_winograd_backward_data(clm_context *ctx, int m, const conv_geom *g,
                                           const clm_tensor *dy, const clm_tensor *w,
                                           const clm_tensor *dx, const clm_tensor *ws,
                                           int accumulate) {
  return run(ctx, m, dy, w, w->off + 8, 9, g->c * 9, -3, -1, NULL, dx, ws, g->n, g->k, g->ho,
             g->wo, g->c, g->h, g->w, 2 - g->pad, accumulate);
}
