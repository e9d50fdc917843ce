/* Implicit-GEMM convolution for stride 1, host side (kernels: cl/conv_implicit.cl). Picks the
 * register tile per call, passed as -D build options, and launches; shape checks, bias and the
 * fallback for other strides live in src/ops/conv.c. No workspace. */
#include "ops/conv_implicit.h"
#include <stdio.h>

/* Work-group size for n work-items: a power of two up to 64 that still leaves at least 16
 * work-groups to spread over the cores (PoCL runs one work-group per thread). */
static size_t pick_wg(size_t n, size_t kmax) {
  size_t wg = 64;
  while (wg > 1 && (wg > kmax || n / wg < 16)) wg /= 2;
  return wg;
}

/* Output channels per work-item, at most k (a ragged last tile overlaps its neighbour):
 * k itself up to 16, else the tile of 16, 8 or 4 that computes the fewest accumulator rows,
 * counting each tile's fixed cost (the row load) as about three rows. */
static int pick_kt(int k) {
  if (k <= 16) return k;
  static const int cand[] = {16, 8, 4};
  int best = 16;
  long best_cost = -1;
  for (int i = 0; i < 3; i++) {
    long cost = (long)((k + cand[i] - 1) / cand[i]) * (cand[i] + 3);
    if (best_cost < 0 || cost < best_cost) best = cand[i], best_cost = cost;
  }
  return best;
}

/* out (N, K, Ho, Wo) (=/+=) conv of in (N, C, H, W) with weights read through the strides
 * (see conv_implicit_forward in the kernel file). */
static clm_status launch_forward(clm_context *ctx, const clm_tensor *in, const clm_tensor *w,
                                 size_t woff, const clm_tensor *b, const clm_tensor *out, int n,
                                 int c, int h, int wd,
                                 int k, int r, int s, int ho, int wo, int padh, int padw, int dil,
                                 int wk, int wc, int wr, int ws, int accumulate) {
  int kt = pick_kt(k);
  char opts[48];
  snprintf(opts, sizeof opts, "-DKT=%d -DWK=%d", kt, wk);
  cl_kernel kern;
  size_t kmax = 0;
  CLM_TRY(clm_kernel_get(ctx, "conv_implicit", opts, "conv_implicit_forward", &kern, &kmax));
  /* k-tile outside the rows when the weights outweigh one image's input */
  int kt_outer = (long)k * c * r * s > (long)c * h * wd;
  int has_bias = clm_tensor_present(b);
  CLM_TRY(clm_kernel_args(kern, "tmot" "iiiiiiiiii" "iiiiiii" "ti", in, w->buf, woff, out, n, c,
                          h, wd, k, r, s, ho, wo, padh, padw, dil, wc, wr, ws, accumulate,
                          kt_outer, has_bias ? b : out, has_bias));
  size_t items = (size_t)n * ho * ((k + kt - 1) / kt) * ((wo + 15) / 16);
  size_t local = pick_wg(items, kmax);
  return clm_kernel_launch(ctx, kern, 1, &items, &local);
}

clm_status clm_conv_implicit_forward(clm_context *ctx, const conv_geom *g, const clm_tensor *x,
                                     const clm_tensor *w, const clm_tensor *b,
                                     const clm_tensor *y, int accumulate) {
  int rs = g->r * g->s;
  return launch_forward(ctx, x, w, w->off, b, y, g->n, g->c, g->h, g->w, g->k, g->r, g->s, g->ho,
                        g->wo, g->pad, g->pad, g->dil, g->c * rs, rs, g->s, 1, accumulate);
}

/* For stride 1, dx is dy convolved with the weights flipped in (r, s) and transposed in
 * (k, c), with padding dil·(R−1) − pad: the forward kernel reading w backwards. */
clm_status clm_conv_implicit_backward_data(clm_context *ctx, const conv_geom *g,
                                           const clm_tensor *dy, const clm_tensor *w,
                                           const clm_tensor *dx, int accumulate) {
  int rs = g->r * g->s;
  size_t last = (size_t)(g->r - 1) * g->s + (size_t)(g->s - 1);
  return launch_forward(ctx, dy, w, w->off + last, NULL, dx, g->n, g->k, g->ho, g->wo, g->c, g->r,
                        g->s, g->h, g->w, g->dil * (g->r - 1) - g->pad,
                        g->dil * (g->s - 1) - g->pad, g->dil, rs, g->c * rs,
                        -g->s, -1, accumulate);
}

/* Backward-weight tile (see conv_implicit_backward_weight): KB·CB·TR·TS accumulators, at most
 * BW_ACC of the 32 vector registers. Per 16-column segment a work-item issues KB·CB·TR·TS
 * FMAs and KB + CB·TR·TS loads, most of them L1 hits (the TS taps of one row share cache
 * lines, and with dilation 1 the TR kernel rows were read for the previous output row), but
 * brings KB + CB rows in from L2 (CB·TR with dilation > 1), which is what it waits on. The
 * weights of the three costs were fitted to timings on PoCL (AVX-512): 3x3 prefers 2x1x3x3. */
#define BW_ACC 21
typedef struct bw_tile { int kb, cb, tr, ts; } bw_tile;

static bw_tile pick_bw_tile(const conv_geom *g) {
  bw_tile best = {1, 1, 1, 1};
  double best_cost = 1e30;
  for (int ts = 1; ts <= g->s && ts <= 8; ts++)
    for (int tr = 1; tr <= g->r && tr * ts <= BW_ACC; tr++)
      for (int kb = 1; kb <= g->k && kb <= 8 && kb * tr * ts <= BW_ACC; kb++)
        for (int cb = 1; cb <= g->c && cb <= 8 && kb * cb * tr * ts <= BW_ACC; cb++) {
          double fmas = (double)kb * cb * tr * ts;
          double l1 = kb + (double)cb * tr * ts;
          double l2 = kb + (double)cb * (g->dil == 1 ? 1 : tr);
          /* ragged tiles overlap their neighbours: count the work of every tile */
          double tiles = (double)((g->k + kb - 1) / kb) * ((g->c + cb - 1) / cb) *
                         ((g->r + tr - 1) / tr) * ((g->s + ts - 1) / ts);
          double cost = tiles * (fmas + 0.5 * l1 + l2);
          if (cost < best_cost - 1e-9) best_cost = cost, best = (bw_tile){kb, cb, tr, ts};
        }
  return best;
}

static int forced_bw[4]; /* kb, cb, tr, ts from clm_conv_implicit_force_bw_tile; 0: automatic */

void clm_conv_implicit_force_bw_tile(int kb, int cb, int tr, int ts) {
  forced_bw[0] = kb, forced_bw[1] = cb, forced_bw[2] = tr, forced_bw[3] = ts;
}

static int clamp_int(int v, int hi) { return v < 1 ? 1 : v > hi ? hi : v; }

clm_status clm_conv_implicit_backward_weight(clm_context *ctx, const conv_geom *g,
                                             const clm_tensor *x, const clm_tensor *dy,
                                             const clm_tensor *dw) {
  bw_tile t = pick_bw_tile(g);
  if (forced_bw[0])
    t = (bw_tile){clamp_int(forced_bw[0], g->k), clamp_int(forced_bw[1], g->c),
                  clamp_int(forced_bw[2], g->r), clamp_int(forced_bw[3], g->s)};
  char opts[96];
  snprintf(opts, sizeof opts, "-DKB=%d -DCB=%d -DTR=%d -DTS=%d -DCPU_PREFETCH=%d", t.kb, t.cb,
           t.tr, t.ts, ctx->info.kind == CLM_DEVICE_CPU && !ctx->oclgrind);
  cl_kernel kern;
  size_t kmax = 0;
  CLM_TRY(clm_kernel_get(ctx, "conv_implicit", opts, "conv_implicit_backward_weight", &kern,
                         &kmax));
  size_t items = (size_t)((g->k + t.kb - 1) / t.kb) * ((g->c + t.cb - 1) / t.cb) *
                 ((g->r + t.tr - 1) / t.tr) * ((g->s + t.ts - 1) / t.ts);
  /* PoCL compiles a kernel once per work-group size it is launched with (~6 s for this one):
   * CPUs get one size for every shape, which times the same as pick_wg's choices there. */
  size_t local = ctx->info.kind == CLM_DEVICE_CPU ? (kmax < 16 ? kmax : 16) : pick_wg(items, kmax);
  /* Bands of rows whose x and dy (about 256K floats) stay in cache while every work-item
   * reads them, but at least 64 row segments per work-item and launch. */
  int rows = g->n * g->ho, nseg = (g->wo + 15) / 16;
  long per_row = (long)g->k * g->wo + (long)g->c * g->w;
  int band = (int)((256L * 1024 + per_row - 1) / per_row);
  if (band * nseg < 64) band = (64 + nseg - 1) / nseg;
  if (band > rows) band = rows;
  for (int q0 = 0; q0 < rows; q0 += band) {
    int q1 = q0 + band < rows ? q0 + band : rows;
    CLM_TRY(clm_kernel_args(kern, "ttt" "iiiiiiiiiii" "ii", x, dy, dw, g->n, g->c, g->h, g->w,
                            g->k, g->r, g->s, g->ho, g->wo, g->pad, g->dil, q0, q1));
    CLM_TRY(clm_kernel_launch(ctx, kern, 1, &items, &local));
  }
  return CLM_OK;
}
