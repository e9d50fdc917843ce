/* Convolution and transposed convolution (PyTorch ConvTranspose2d layout), forward and
 * backward, host side: shape checks and launches of cl/conv.cl. Variants: DIRECT (one
 * work-item per written element) and the GEMM family — GEMM, TILED, LOCAL — which run im2col
 * / col2im per image around clm_gemm (src/ops/gemm.c) of kind CLBLAST, TILED or LOCAL
 * respectively, the workspace holding one image's col buffer; IMPLICIT (conv_implicit.c);
 * WINOGRAD and WINOGRAD4 (conv_winograd.c: F(2×2, 3×3) and F(4×4, 3×3), 3×3 stride-1
 * forward and backward data; IMPLICIT's paths for everything else).
 * A 1×1 convolution without padding or stride needs no col buffer: the image itself is the
 * col matrix. The transposed
 * convolution is the adjoint of the convolution and runs on the same paths with roles
 * swapped (see ops.h).
 *
 * Internally everything is stated in convolution terms, conv_geom: x (N, C, H, W),
 * w (K, C, R, S), y (N, K, Ho, Wo). Parameter gradients accumulate (+=); data gradients are
 * written (=) unless `accumulate`. Shape inference lives in the graph, not here. */
#include <limits.h>
#include <stdio.h>
#include "ops/conv_winograd.h"

/* The CONV_GEOM argument list of every kernel in cl/conv.cl. */
#define GEOM_FMT "iiiiiiiiiiii"
#define GEOM_ARGS(g)                                                                         \
  (g).n, (g).c, (g).h, (g).w, (g).k, (g).r, (g).s, (g).ho, (g).wo, (g).stride, (g).pad, (g).dil

const char *clm_conv_variant_name(clm_conv_variant v) {
  switch (v) {
  case CLM_CONV_DIRECT: return "direct";
  case CLM_CONV_GEMM: return "gemm";
  case CLM_CONV_TILED: return "tiled";
  case CLM_CONV_LOCAL: return "local";
  case CLM_CONV_IMPLICIT: return "implicit";
  case CLM_CONV_WINOGRAD: return "winograd";
  case CLM_CONV_WINOGRAD4: return "winograd4";
  default: return "unknown";
  }
}

/* The GEMM-family variants and the clm_gemm kind each runs; 0 for the others. */
static int gemm_kind(clm_conv_variant v, clm_gemm_variant *out) {
  switch (v) {
  case CLM_CONV_GEMM: *out = CLM_GEMM_CLBLAST; return 1;
  case CLM_CONV_TILED: *out = CLM_GEMM_TILED; return 1;
  case CLM_CONV_LOCAL: *out = CLM_GEMM_LOCAL; return 1;
  default: return 0;
  }
}

/* The output tile size m of a Winograd variant's F(m×m, 3×3); 0 for the others. */
static int winograd_m(clm_conv_variant v) {
  return v == CLM_CONV_WINOGRAD ? 2 : v == CLM_CONV_WINOGRAD4 ? 4 : 0;
}

/* A 1×1 kernel without padding whose output plane is the input plane: col = the image. */
static int pointwise(const conv_geom *g) {
  return g->r == 1 && g->s == 1 && g->pad == 0 && g->ho == g->h && g->wo == g->w;
}

/* The GEMM-family workspace: one image's col buffer, (C·R·S) × (Ho·Wo) floats, then room
 * for a copy of the weights (K·C·R·S), in conv terms. */
static size_t ws_floats(const conv_geom *g) {
  size_t crs = (size_t)g->c * g->r * g->s;
  return crs * (size_t)g->ho * g->wo + crs * (size_t)g->k;
}

/* The parameters are not passed here, so a 1×1 kernel with Ho = H and Wo = W counts as
 * unpadded (pointwise): a padded, strided 1×1 convolution of that shape, which needs a col
 * buffer, is refused with CLM_ERR_SHAPE when run with this workspace. */
size_t clm_conv2d_workspace(clm_conv_variant v, const clm_tensor *x, const clm_tensor *w,
                            const clm_tensor *y) {
  if (v == CLM_CONV_WINOGRAD || v == CLM_CONV_WINOGRAD4)
    return w->h == 3 && w->w == 3
               ? clm_conv_winograd_workspace(x->n, x->c, x->h, x->w, w->n, y->h, y->w) : 0;
  clm_gemm_variant gv;
  if (!gemm_kind(v, &gv)) return 0;
  if (w->h == 1 && w->w == 1 && x->h == y->h && x->w == y->w) return 0;
  size_t crs = (size_t)w->c * w->h * w->w;
  return crs * (size_t)y->h * y->w + crs * (size_t)w->n;
}

/* A transposed convolution is a convolution from y to x, so its col buffer spans x's plane. */
size_t clm_deconv2d_workspace(clm_conv_variant v, const clm_tensor *x, const clm_tensor *w,
                              const clm_tensor *y) {
  return clm_conv2d_workspace(v, y, w, x);
}

/* ---- checks ------------------------------------------------------------------------------ */

/* Kernels index with int: the whole view (offset included) must stay below INT_MAX. */
static clm_status check_int_range(const char *op, const char *name, const clm_tensor *t) {
  size_t n = clm_tensor_numel(t);
  if (t->off > (size_t)INT_MAX || n > (size_t)INT_MAX - t->off)
    CLM_FAIL(CLM_ERR_UNSUPPORTED, "%s: %s (offset %zu + %zu floats) exceeds the int range the "
             "conv kernels index with", op, name, t->off, n);
  return CLM_OK;
}

static clm_status check_common(const char *op, clm_conv_variant v, const clm_conv_params *p,
                               const clm_tensor *x, const clm_tensor *w, const clm_tensor *y) {
  if ((int)v < 0 || v >= CLM_CONV_VARIANT_COUNT)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: unknown conv variant %d", op, (int)v);
  if (!p) CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: no parameters", op);
  if (p->stride < 1 || p->dilation < 1 || p->pad < 0)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: need stride >= 1, dilation >= 1, pad >= 0 (got %d, %d, %d)",
             op, p->stride, p->dilation, p->pad);
  if (!clm_tensor_present(x) || !clm_tensor_present(w) || !clm_tensor_present(y))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: a required tensor is missing", op);
  if (w->n < 1 || w->c < 1 || w->h < 1 || w->w < 1)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: empty weight (%d, %d, %d, %d)", op, w->n, w->c, w->h, w->w);
  return CLM_OK;
}

/* Optional bias or bias gradient of `ch` channels, the workspace, and the int range. */
static clm_status check_rest(const char *op, clm_conv_variant v, const conv_geom *g,
                             const clm_tensor *b, const char *bname, int ch, const clm_tensor *ws,
                             const clm_tensor *const *t, const char *const *names, int nt) {
  if (clm_tensor_present(b)) {
    if (b->c != ch || clm_tensor_numel(b) != (size_t)ch)
      CLM_FAIL(CLM_ERR_SHAPE, "%s: %s is (%d, %d, %d, %d), expected (1, %d, 1, 1)", op, bname,
               b->n, b->c, b->h, b->w, ch);
    CLM_TRY(check_int_range(op, bname, b));
  }
  clm_gemm_variant gv;
  if (gemm_kind(v, &gv) && !pointwise(g)) {
    size_t need = ws_floats(g);
    if (!clm_tensor_present(ws) || clm_tensor_numel(ws) < need)
      CLM_FAIL(CLM_ERR_SHAPE, "%s: the %s variant needs a workspace of %zu floats, got %zu", op,
               clm_conv_variant_name(v), need,
               clm_tensor_present(ws) ? clm_tensor_numel(ws) : (size_t)0);
    CLM_TRY(check_int_range(op, "workspace", ws));
  }
  for (int i = 0; i < nt; i++) CLM_TRY(check_int_range(op, names[i], t[i]));
  return CLM_OK;
}

/* x (N, C, H, W), w (K, C, R, S), y (N, K, Ho, Wo); xname/yname name them in messages
 * (dx/dy for the backward passes). Fills g. */
static clm_status check_conv(const char *op, clm_conv_variant v, const clm_conv_params *p,
                             const clm_tensor *x, const char *xname, const clm_tensor *w,
                             const clm_tensor *y, const char *yname, const clm_tensor *b,
                             const char *bname, const clm_tensor *ws, conv_geom *g) {
  CLM_TRY(check_common(op, v, p, x, w, y));
  if (x->c != w->c)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %s has %d channels but w (K, C, R, S) = (%d, %d, %d, %d) expects %d",
             op, xname, x->c, w->n, w->c, w->h, w->w, w->c);
  int ho = clm_conv_out_size(x->h, w->h, p), wo = clm_conv_out_size(x->w, w->w, p);
  if (ho <= 0 || wo <= 0)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %s plane %dx%d is too small for a %dx%d kernel (pad %d, dilation %d)",
             op, xname, x->h, x->w, w->h, w->w, p->pad, p->dilation);
  if (y->n != x->n || y->c != w->n || y->h != ho || y->w != wo)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %s is (%d, %d, %d, %d), expected (%d, %d, %d, %d) from %s (%d, %d, "
             "%d, %d), w (%d, %d, %d, %d), stride %d, pad %d, dilation %d", op, yname, y->n, y->c,
             y->h, y->w, x->n, w->n, ho, wo, xname, x->n, x->c, x->h, x->w, w->n, w->c, w->h, w->w,
             p->stride, p->pad, p->dilation);
  *g = (conv_geom){x->n, x->c, x->h, x->w, w->n, w->h, w->w, ho, wo,
                   p->stride, p->pad, p->dilation};
  const clm_tensor *t[3] = {x, w, y};
  const char *names[3] = {xname, "w", yname};
  return check_rest(op, v, g, b, bname, w->n, ws, t, names, 3);
}

/* Transposed convolution: x (N, Cin, H, W), w (Cin, Cout, R, S), y (N, Cout, Ho, Wo) with
 * Ho = (H−1)·stride − 2·pad + dil·(R−1) + 1 + out_pad, 0 <= out_pad < stride (same for Wo).
 * Fills g in convolution terms: the convolution that runs from y (its input) to x (its
 * output) with w read as (K = Cin, C = Cout, R, S). */
static clm_status check_deconv(const char *op, clm_conv_variant v, const clm_conv_params *p,
                               const clm_tensor *x, const char *xname, const clm_tensor *w,
                               const clm_tensor *y, const char *yname, const clm_tensor *b,
                               const char *bname, const clm_tensor *ws, conv_geom *g) {
  CLM_TRY(check_common(op, v, p, x, w, y));
  if (x->c != w->n)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %s has %d channels but w (Cin, Cout, R, S) = (%d, %d, %d, %d) "
             "expects %d", op, xname, x->c, w->n, w->c, w->h, w->w, w->n);
  int ho = (x->h - 1) * p->stride - 2 * p->pad + p->dilation * (w->h - 1) + 1;
  int wo = (x->w - 1) * p->stride - 2 * p->pad + p->dilation * (w->w - 1) + 1;
  if (y->n != x->n || y->c != w->c || x->h < 1 || x->w < 1 || ho < 1 || wo < 1 || y->h < ho ||
      y->h >= ho + p->stride || y->w < wo || y->w >= wo + p->stride)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %s is (%d, %d, %d, %d), expected (%d, %d, %d + out_pad, %d + "
             "out_pad) with 0 <= out_pad < stride, from %s (%d, %d, %d, %d), w (%d, %d, %d, %d), "
             "stride %d, pad %d, dilation %d", op, yname, y->n, y->c, y->h, y->w, x->n, w->c, ho,
             wo, xname, x->n, x->c, x->h, x->w, w->n, w->c, w->h, w->w, p->stride, p->pad,
             p->dilation);
  *g = (conv_geom){y->n, y->c, y->h, y->w, w->n, w->h, w->w, x->h, x->w,
                   p->stride, p->pad, p->dilation};
  const clm_tensor *t[3] = {x, w, y};
  const char *names[3] = {xname, "w", yname};
  return check_rest(op, v, g, b, bname, w->c, ws, t, names, 3);
}

/* ---- shared pieces ----------------------------------------------------------------------- */

/* y (N, K, HW) += b[k]. */
static clm_status bias_add(clm_context *ctx, const clm_tensor *y, const clm_tensor *b) {
  int hw = y->h * y->w;
  return clm_launch_1d(ctx, "conv", "bias_add", clm_tensor_numel(y), "ttiii", y, b, y->n, y->c, hw);
}

/* db[k] += Σ dy[:, k] over N and the plane. */
static clm_status channel_sum(clm_context *ctx, const clm_tensor *dy, const clm_tensor *db) {
  int hw = dy->h * dy->w;
  return clm_launch_1d(ctx, "conv", "channel_sum_accumulate", (size_t)dy->c, "ttiii", dy, db,
                       dy->n, dy->c, hw);
}

/* A view of image n of t. */
static clm_tensor image(const clm_tensor *t, int n) {
  size_t plane = (size_t)t->c * t->h * t->w;
  return clm_tensor_view(t->buf, t->off + (size_t)n * plane, 1, t->c, t->h, t->w);
}

/* C = op(A)·op(B) + beta·C by clm_gemm, its error message prefixed with the pass and image. */
static clm_status gemm(clm_context *ctx, clm_gemm_variant gv, const char *what, int img, int ta,
                       int tb, int m, int n, int k, const clm_tensor *a, int lda,
                       const clm_tensor *b, int ldb, float beta, const clm_tensor *c, int ldc) {
  clm_status st = clm_gemm(ctx, gv, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
  if (st != CLM_OK) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", clm_last_error());
    CLM_FAIL(st, "conv %s, image %d: %s", what, img, msg);
  }
  return CLM_OK;
}

/* The GEMM family runs im2col and the GEMM over bands of output rows whose col chunk stays
 * in the cache on CPUs (a whole plane's col matrix is tens of MB that would stream from memory
 * twice); elsewhere one band covers the plane. 256 Ki floats (1 MiB) measured best on PoCL
 * (2-core AVX-512, 2 MiB L2 per core) against 128 Ki and 512 Ki: smaller bands pay ~10 µs a
 * launch, larger ones miss the cache. */
#define BAND_FLOATS (256 * 1024)

/* Output rows per band: as many as keep a band's col chunk (col_rows × rows·wo floats) within
 * the budget (ctx->conv_band_floats when set) and within `room` floats of workspace; at least
 * one (the workspace always holds a whole plane's col matrix). */
static int band_rows(const clm_context *ctx, size_t col_rows, int ho, int wo, size_t room) {
  size_t per_row = col_rows * (size_t)wo, budget = room;
  size_t cap = ctx->conv_band_floats ? ctx->conv_band_floats
                                     : ctx->info.kind == CLM_DEVICE_CPU ? BAND_FLOATS : room;
  if (budget > cap) budget = cap;
  size_t rows = per_row ? budget / per_row : (size_t)ho;
  if (rows < 1) rows = 1;
  return rows < (size_t)ho ? (int)rows : ho;
}

/* The columns of output rows [h0, h0 + rows) of the (m × Ho·Wo) matrix t: m rows of rows·Wo
 * floats, row stride Ho·Wo = hw. */
static clm_tensor band(const clm_tensor *t, int m, int hw, int h0, int rows, int wo) {
  size_t numel = (size_t)(m - 1) * (size_t)hw + (size_t)rows * (size_t)wo;
  return clm_tensor_view(t->buf, t->off + (size_t)h0 * wo, 1, 1, 1, (int)numel);
}

/* col chunk (C·R·S × rows·Wo) of image xn for output rows [h0, h0 + rows), into ws. */
static clm_status im2col(clm_context *ctx, const conv_geom *g, const clm_tensor *xn,
                         const clm_tensor *ws, int h0, int rows) {
  return clm_launch_1d(ctx, "conv", "im2col", (size_t)g->c * g->r * g->s * rows,
                       "tt" GEOM_FMT "ii", xn, ws, GEOM_ARGS(*g), h0, rows);
}

/* The transpose of that chunk, (rows·Wo × C·R·S), into ws: see im2col_t in cl/conv.cl. */
static clm_status im2col_t(clm_context *ctx, const conv_geom *g, const clm_tensor *xn,
                           const clm_tensor *ws, int h0, int rows) {
  return clm_launch_1d(ctx, "conv", "im2col_t", (size_t)rows * g->wo * g->c,
                       "tt" GEOM_FMT "ii", xn, ws, GEOM_ARGS(*g), h0, rows);
}

/* d (m × cols) (= with beta 0, else +=) a (m × P, row stride lda) · colᵀ, with col the im2col
 * chunk of image xn under geometry f for output rows [h0, h0 + rows) (P = rows·Wo), built in
 * ws. The register-tiled GEMM gets the transposed chunk and an NN product, which it runs 2–3×
 * faster than NT; the others (CLBlast transposes internally) the plain chunk and NT. */
static clm_status weight_product(clm_context *ctx, clm_gemm_variant gv, int img,
                                 const conv_geom *f, const clm_tensor *xn, const clm_tensor *ws,
                                 int h0, int rows, int m, const clm_tensor *a, int lda,
                                 float beta, const clm_tensor *d) {
  int cols = f->c * f->r * f->s, p = rows * f->wo;
  if (gv == CLM_GEMM_TILED) {
    CLM_TRY(im2col_t(ctx, f, xn, ws, h0, rows));
    return gemm(ctx, gv, "backward weight", img, 0, 0, m, cols, p, a, lda, ws, cols, beta, d,
                cols);
  }
  CLM_TRY(im2col(ctx, f, xn, ws, h0, rows));
  return gemm(ctx, gv, "backward weight", img, 0, 1, m, cols, p, a, lda, ws, p, beta, d, cols);
}

/* ---- the convolution paths, in conv terms, after the checks --------------------------------- */

/* y (=, or += with accumulate) = conv(x, w) + b (b optional). */
static clm_status run_forward(clm_context *ctx, clm_conv_variant v, const conv_geom *g,
                              const clm_tensor *x, const clm_tensor *w, const clm_tensor *b,
                              const clm_tensor *y, const clm_tensor *ws, int accumulate) {
  int has_bias = clm_tensor_present(b);
  if (winograd_m(v) && clm_conv_winograd_fits(g))
    return clm_conv_winograd_forward(ctx, winograd_m(v), g, x, w, b, y, ws, accumulate);
  if (winograd_m(v)) v = CLM_CONV_IMPLICIT;
  if (v == CLM_CONV_IMPLICIT && g->stride == 1)
    return clm_conv_implicit_forward(ctx, g, x, w, b, y, accumulate);
  clm_gemm_variant gv;
  if (!gemm_kind(v, &gv))
    return clm_launch_1d(ctx, "conv", "conv2d_direct_forward", clm_tensor_numel(y),
                         "ttti t" GEOM_FMT "i", x, w, has_bias ? b : x, has_bias, y, GEOM_ARGS(*g),
                         accumulate);
  int crs = g->c * g->r * g->s, hw = g->ho * g->wo;
  float beta = accumulate ? 1.0f : 0.0f;
  int rows = pointwise(g) ? g->ho : band_rows(ctx, (size_t)crs, g->ho, g->wo, clm_tensor_numel(ws));
  for (int n = 0; n < g->n; n++) {
    clm_tensor xn = image(x, n), yn = image(y, n);
    if (pointwise(g)) { /* y_n (K × HW) = W (K × C) · x_n (C × HW) */
      CLM_TRY(gemm(ctx, gv, "forward", n, 0, 0, g->k, hw, crs, w, crs, &xn, hw, beta, &yn, hw));
      continue;
    }
    for (int h0 = 0; h0 < g->ho; h0 += rows) {
      int hr = g->ho - h0 < rows ? g->ho - h0 : rows, p = hr * g->wo;
      clm_tensor yb = band(&yn, g->k, hw, h0, hr, g->wo);
      /* y_n[:, band] (K × P) = W (K × CRS) · col (CRS × P) */
      CLM_TRY(im2col(ctx, g, &xn, ws, h0, hr));
      CLM_TRY(gemm(ctx, gv, "forward", n, 0, 0, g->k, p, crs, w, crs, ws, p, beta, &yb, hw));
    }
  }
  if (has_bias) CLM_TRY(bias_add(ctx, y, b));
  return CLM_OK;
}

/* For stride 1 the adjoint is itself a convolution: from dy (K channels, Ho × Wo) to dx
 * (C channels, H × W) with the flipped weights (see flip_weights in cl/conv.cl) and padding
 * dil·(R−1) − pad on both axes, so R = S and pad <= dil·(R−1) are needed. Its col matrix of
 * dy (K·R·S rows) serves both backward passes; it is taken when it is no taller than the
 * forward one of x (C·R·S rows) and the workspace (ws floats: K·C·R·S for the turned weights,
 * the rest for col) holds at least one row of it (K·R·S × W), which a "valid" convolution's
 * smaller output plane may not. */
static int adjoint_as_conv(const conv_geom *g, size_t ws, conv_geom *f) {
  if (g->stride != 1 || g->r != g->s || g->pad > g->dil * (g->r - 1) || g->k > g->c) return 0;
  size_t krs = (size_t)g->k * g->r * g->s;
  if (krs * g->c + krs * g->w > ws) return 0;
  *f = (conv_geom){g->n, g->k, g->ho, g->wo, g->c, g->r, g->s, g->h, g->w,
                   1, g->dil * (g->r - 1) - g->pad, g->dil};
  return 1;
}

/* dx (=, or += with accumulate) = the adjoint of the convolution applied to dy. */
static clm_status run_backward_data(clm_context *ctx, clm_conv_variant v, const conv_geom *g,
                                    const clm_tensor *dy, const clm_tensor *w,
                                    const clm_tensor *dx, const clm_tensor *ws, int accumulate) {
  if (winograd_m(v) && clm_conv_winograd_fits(g))
    return clm_conv_winograd_backward_data(ctx, winograd_m(v), g, dy, w, dx, ws, accumulate);
  if (winograd_m(v)) v = CLM_CONV_IMPLICIT;
  if (v == CLM_CONV_IMPLICIT && g->stride == 1)
    return clm_conv_implicit_backward_data(ctx, g, dy, w, dx, accumulate);
  clm_gemm_variant gv;
  if (!gemm_kind(v, &gv))
    return clm_launch_1d(ctx, "conv", "conv2d_direct_backward_data", clm_tensor_numel(dx),
                         "ttt" GEOM_FMT "i", dy, w, dx, GEOM_ARGS(*g), accumulate);
  int crs = g->c * g->r * g->s, hw = g->ho * g->wo;
  float beta = accumulate ? 1.0f : 0.0f;
  conv_geom f;
  if (pointwise(g)) {
    for (int n = 0; n < g->n; n++) { /* dx_n (C × HW) = Wᵀ (C × K) · dy_n (K × HW) */
      clm_tensor dyn = image(dy, n), dxn = image(dx, n);
      CLM_TRY(gemm(ctx, gv, "backward data", n, 1, 0, crs, hw, g->k, w, crs, &dyn, hw, beta,
                   &dxn, hw));
    }
    return CLM_OK;
  }
  if (adjoint_as_conv(g, clm_tensor_numel(ws), &f)) {
    /* ws = [wf (C × K·R·S) | col chunk (K·R·S × P)]; dx_n[:, band] = wf · col(dy_n) */
    size_t nwf = (size_t)crs * g->k;
    int krs = g->k * g->r * g->s;
    clm_tensor wf = clm_tensor_view(ws->buf, ws->off, 1, 1, 1, (int)nwf);
    clm_tensor col = clm_tensor_view(ws->buf, ws->off + nwf, 1, 1, 1,
                                     (int)(clm_tensor_numel(ws) - nwf));
    CLM_TRY(clm_launch_1d(ctx, "conv", "flip_weights", nwf, "ttiiii", w, &wf, g->k, g->c, g->r,
                          g->s));
    int rows = band_rows(ctx, (size_t)krs, g->h, g->w, clm_tensor_numel(&col));
    int plane = g->h * g->w;
    for (int n = 0; n < g->n; n++) {
      clm_tensor dyn = image(dy, n), dxn = image(dx, n);
      for (int h0 = 0; h0 < g->h; h0 += rows) {
        int hr = g->h - h0 < rows ? g->h - h0 : rows, p = hr * g->w;
        clm_tensor dxb = band(&dxn, g->c, plane, h0, hr, g->w);
        CLM_TRY(im2col(ctx, &f, &dyn, &col, h0, hr));
        CLM_TRY(gemm(ctx, gv, "backward data", n, 0, 0, g->c, p, krs, &wf, krs, &col, p, beta,
                     &dxb, plane));
      }
    }
    return CLM_OK;
  }
  size_t plane = (size_t)g->c * g->h * g->w;
  for (int n = 0; n < g->n; n++) {
    clm_tensor dyn = image(dy, n), dxn = image(dx, n);
    /* dcol (CRS × HoWo) = Wᵀ (CRS × K) · dy_n (K × HoWo), then its adjoint of im2col */
    CLM_TRY(gemm(ctx, gv, "backward data", n, 1, 0, crs, hw, g->k, w, crs, &dyn, hw, 0.0f, ws, hw));
    if (g->stride == 1)
      CLM_TRY(clm_launch_1d(ctx, "conv", "col2im_s1", (size_t)g->c * g->h * ((g->w + 15) / 16),
                            "tt" GEOM_FMT "i", ws, &dxn, GEOM_ARGS(*g), accumulate));
    else
      CLM_TRY(clm_launch_1d(ctx, "conv", "col2im", plane, "tt" GEOM_FMT "i", ws, &dxn,
                            GEOM_ARGS(*g), accumulate));
  }
  return CLM_OK;
}

/* dw += x ⋆ dy. */
static clm_status run_backward_weight(clm_context *ctx, clm_conv_variant v, const conv_geom *g,
                                      const clm_tensor *x, const clm_tensor *dy,
                                      const clm_tensor *dw, const clm_tensor *ws) {
  if (winograd_m(v)) v = CLM_CONV_IMPLICIT;
  if (v == CLM_CONV_IMPLICIT && g->stride == 1)
    return clm_conv_implicit_backward_weight(ctx, g, x, dy, dw);
  clm_gemm_variant gv;
  if (!gemm_kind(v, &gv))
    return clm_launch_1d(ctx, "conv", "conv2d_direct_backward_weight", clm_tensor_numel(dw),
                         "ttt" GEOM_FMT, x, dy, dw, GEOM_ARGS(*g));
  int crs = g->c * g->r * g->s, hw = g->ho * g->wo;
  conv_geom f;
  if (!pointwise(g) && adjoint_as_conv(g, clm_tensor_numel(ws), &f)) {
    /* the shorter col matrix of dy: ws = [dwf (C × K·R·S) | col chunk (K·R·S × P)],
     * dwf = Σ x_n[:, band] · col(dy_n)ᵀ, then dw += dwf turned back */
    size_t nwf = (size_t)crs * g->k;
    int krs = g->k * g->r * g->s, plane = g->h * g->w;
    clm_tensor dwf = clm_tensor_view(ws->buf, ws->off, 1, 1, 1, (int)nwf);
    clm_tensor col = clm_tensor_view(ws->buf, ws->off + nwf, 1, 1, 1,
                                     (int)(clm_tensor_numel(ws) - nwf));
    int rows = band_rows(ctx, (size_t)krs, g->h, g->w, clm_tensor_numel(&col));
    for (int n = 0; n < g->n; n++) {
      clm_tensor xn = image(x, n), dyn = image(dy, n);
      for (int h0 = 0; h0 < g->h; h0 += rows) {
        int hr = g->h - h0 < rows ? g->h - h0 : rows;
        clm_tensor xb = band(&xn, g->c, plane, h0, hr, g->w);
        CLM_TRY(weight_product(ctx, gv, n, &f, &dyn, &col, h0, hr, g->c, &xb, plane,
                               n == 0 && h0 == 0 ? 0.0f : 1.0f, &dwf));
      }
    }
    return clm_launch_1d(ctx, "conv", "unflip_weights_accumulate", nwf, "ttiiii", &dwf, dw,
                         g->k, g->c, g->r, g->s);
  }
  int rows = pointwise(g) ? g->ho : band_rows(ctx, (size_t)crs, g->ho, g->wo, clm_tensor_numel(ws));
  for (int n = 0; n < g->n; n++) {
    clm_tensor xn = image(x, n), dyn = image(dy, n);
    if (pointwise(g)) { /* dW (K × C) += dy_n (K × HW) · x_nᵀ (HW × C) */
      CLM_TRY(gemm(ctx, gv, "backward weight", n, 0, 1, g->k, crs, hw, &dyn, hw, &xn, hw, 1.0f,
                   dw, crs));
      continue;
    }
    for (int h0 = 0; h0 < g->ho; h0 += rows) {
      int hr = g->ho - h0 < rows ? g->ho - h0 : rows;
      clm_tensor dyb = band(&dyn, g->k, hw, h0, hr, g->wo);
      /* dW (K × CRS) += dy_n[:, band] (K × P) · colᵀ (P × CRS) */
      CLM_TRY(weight_product(ctx, gv, n, g, &xn, ws, h0, hr, g->k, &dyb, hw, 1.0f, dw));
    }
  }
  return CLM_OK;
}

/* ---- convolution ------------------------------------------------------------------------- */

clm_status clm_conv2d_forward(clm_context *ctx, clm_conv_variant v, const clm_conv_params *p,
                              const clm_tensor *x, const clm_tensor *w, const clm_tensor *b,
                              const clm_tensor *y, const clm_tensor *ws) {
  conv_geom g;
  CLM_TRY(check_conv("conv2d_forward", v, p, x, "x", w, y, "y", b, "b", ws, &g));
  return run_forward(ctx, v, &g, x, w, b, y, ws, 0);
}

clm_status clm_conv2d_backward_data(clm_context *ctx, clm_conv_variant v, const clm_conv_params *p,
                                    const clm_tensor *dy, const clm_tensor *w, const clm_tensor *dx,
                                    const clm_tensor *ws, int accumulate) {
  conv_geom g;
  CLM_TRY(check_conv("conv2d_backward_data", v, p, dx, "dx", w, dy, "dy", NULL, NULL, ws, &g));
  return run_backward_data(ctx, v, &g, dy, w, dx, ws, accumulate);
}

clm_status clm_conv2d_backward_weight(clm_context *ctx, clm_conv_variant v,
                                      const clm_conv_params *p, const clm_tensor *x,
                                      const clm_tensor *dy, const clm_tensor *dw,
                                      const clm_tensor *db, const clm_tensor *ws) {
  conv_geom g;
  CLM_TRY(check_conv("conv2d_backward_weight", v, p, x, "x", dw, dy, "dy", db, "db", ws, &g));
  CLM_TRY(run_backward_weight(ctx, v, &g, x, dy, dw, ws));
  if (clm_tensor_present(db)) CLM_TRY(channel_sum(ctx, dy, db));
  return CLM_OK;
}

/* ---- transposed convolution: the convolution from y to x, run backwards ------------------ */

clm_status clm_deconv2d_forward(clm_context *ctx, clm_conv_variant v, const clm_conv_params *p,
                                const clm_tensor *x, const clm_tensor *w, const clm_tensor *b,
                                const clm_tensor *y, const clm_tensor *ws) {
  conv_geom g;
  CLM_TRY(check_deconv("deconv2d_forward", v, p, x, "x", w, y, "y", b, "b", ws, &g));
  CLM_TRY(run_backward_data(ctx, v, &g, x, w, y, ws, 0));
  if (clm_tensor_present(b)) CLM_TRY(bias_add(ctx, y, b));
  return CLM_OK;
}

clm_status clm_deconv2d_backward_data(clm_context *ctx, clm_conv_variant v,
                                      const clm_conv_params *p, const clm_tensor *dy,
                                      const clm_tensor *w, const clm_tensor *dx,
                                      const clm_tensor *ws, int accumulate) {
  conv_geom g;
  CLM_TRY(check_deconv("deconv2d_backward_data", v, p, dx, "dx", w, dy, "dy", NULL, NULL, ws, &g));
  return run_forward(ctx, v, &g, dy, w, NULL, dx, ws, accumulate);
}

clm_status clm_deconv2d_backward_weight(clm_context *ctx, clm_conv_variant v,
                                        const clm_conv_params *p, const clm_tensor *x,
                                        const clm_tensor *dy, const clm_tensor *dw,
                                        const clm_tensor *db, const clm_tensor *ws) {
  conv_geom g;
  CLM_TRY(check_deconv("deconv2d_backward_weight", v, p, x, "x", dw, dy, "dy", db, "db", ws, &g));
  /* in conv terms x is the output: dw += dy ⋆ x */
  CLM_TRY(run_backward_weight(ctx, v, &g, dy, x, dw, ws));
  if (clm_tensor_present(db)) CLM_TRY(channel_sum(ctx, dy, db));
  return CLM_OK;
}
