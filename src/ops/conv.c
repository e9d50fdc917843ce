/* Convolution and transposed convolution (PyTorch ConvTranspose2d layout), forward and
 * backward, host side: shape checks and launches of cl/conv.cl. Two variants: DIRECT (one
 * work-item per written element) and GEMM (im2col / col2im per image around CLBlast SGEMM,
 * the workspace holding one image's col buffer). The transposed convolution is the adjoint
 * of the convolution and runs on the same paths with roles swapped (see ops.h).
 *
 * Internally everything is stated in convolution terms, conv_geom: x (N, C, H, W),
 * w (K, C, R, S), y (N, K, Ho, Wo). Parameter gradients accumulate (+=); data gradients are
 * written (=) unless `accumulate`. Shape inference lives in the graph, not here. */
#include <clblast_c.h>
#include <limits.h>
#include "ops/conv_implicit.h"

/* The CONV_GEOM argument list of every kernel in cl/conv.cl. */
#define GEOM_FMT "iiiiiiiiiiii"
#define GEOM_ARGS(g)                                                                         \
  (g).n, (g).c, (g).h, (g).w, (g).k, (g).r, (g).s, (g).ho, (g).wo, (g).stride, (g).pad, (g).dil

const char *clm_conv_variant_name(clm_conv_variant v) {
  switch (v) {
  case CLM_CONV_DIRECT: return "direct";
  case CLM_CONV_GEMM: return "gemm";
  case CLM_CONV_IMPLICIT: return "implicit";
  default: return "unknown";
  }
}

/* One image's col buffer: (C·R·S) × (Ho·Wo) floats, in conv terms. */
static size_t col_floats(const conv_geom *g) {
  return (size_t)g->c * g->r * g->s * (size_t)g->ho * g->wo;
}

size_t clm_conv2d_workspace(clm_conv_variant v, const clm_tensor *x, const clm_tensor *w,
                            const clm_tensor *y) {
  if (v != CLM_CONV_GEMM) return 0;
  (void)x;
  return (size_t)w->c * w->h * w->w * (size_t)y->h * y->w;
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
  if (v != CLM_CONV_DIRECT && v != CLM_CONV_GEMM && v != CLM_CONV_IMPLICIT)
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
  if (v == CLM_CONV_GEMM) {
    size_t need = col_floats(g);
    if (!clm_tensor_present(ws) || clm_tensor_numel(ws) < need)
      CLM_FAIL(CLM_ERR_SHAPE, "%s: the gemm variant needs a workspace of %zu floats, got %zu", op,
               need, clm_tensor_present(ws) ? clm_tensor_numel(ws) : (size_t)0);
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

static const char *blas_status_hint(CLBlastStatusCode s) {
  switch (s) {
  case CLBlastNotImplemented: return " (not implemented)";
  case CLBlastInsufficientMemoryA: return " (buffer A too small)";
  case CLBlastInsufficientMemoryB: return " (buffer B too small)";
  case CLBlastInsufficientMemoryC: return " (buffer C too small)";
  case CLBlastInvalidLocalMemUsage: return " (invalid local memory usage)";
  case CLBlastDatabaseError: return " (no tuning database entry)";
  case CLBlastUnknownError: return " (unknown error)";
  case CLBlastUnexpectedError: return " (unexpected error)";
  default: return (int)s > -1024 ? " (an OpenCL error code)" : "";
  }
}

/* Row-major C (m × n) = A·B (with optional transposes) + beta·C, offsets in floats relative to
 * each tensor's view. Serialised with clm_blas_lock(). */
static clm_status sgemm(clm_context *ctx, const char *what, int img, CLBlastTranspose ta,
                        CLBlastTranspose tb, size_t m, size_t n, size_t k, const clm_tensor *a,
                        size_t lda, const clm_tensor *b, size_t ldb, float beta,
                        const clm_tensor *c, size_t ldc) {
  clm_blas_lock();
  CLBlastStatusCode s = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, m, n, k, 1.0f,
                                     (cl_mem)a->buf, a->off, lda, (cl_mem)b->buf, b->off, ldb,
                                     beta, (cl_mem)c->buf, c->off, ldc, &ctx->queue, NULL);
  clm_blas_unlock();
  if (s != CLBlastSuccess)
    CLM_FAIL(CLM_ERR_BLAS, "CLBlastSgemm (%s, image %d, M=%zu N=%zu K=%zu) failed: CLBlast status "
             "%d%s%s%s", what, img, m, n, k, (int)s, blas_status_hint(s),
             (int)s > -1024 ? " " : "", (int)s > -1024 ? clm_cl_error_name((cl_int)s) : "");
  return CLM_OK;
}

/* ---- the convolution paths, in conv terms, after the checks --------------------------------- */

/* y (=, or += with accumulate) = conv(x, w) + b (b optional). */
static clm_status run_forward(clm_context *ctx, clm_conv_variant v, const conv_geom *g,
                              const clm_tensor *x, const clm_tensor *w, const clm_tensor *b,
                              const clm_tensor *y, const clm_tensor *ws, int accumulate) {
  int has_bias = clm_tensor_present(b);
  if (v == CLM_CONV_IMPLICIT && g->stride == 1) {
    CLM_TRY(clm_conv_implicit_forward(ctx, g, x, w, y, accumulate));
    return has_bias ? bias_add(ctx, y, b) : CLM_OK;
  }
  if (v != CLM_CONV_GEMM)
    return clm_launch_1d(ctx, "conv", "conv2d_direct_forward", clm_tensor_numel(y),
                         "ttti t" GEOM_FMT "i", x, w, has_bias ? b : x, has_bias, y, GEOM_ARGS(*g),
                         accumulate);
  size_t crs = (size_t)g->c * g->r * g->s, hw = (size_t)g->ho * g->wo;
  for (int n = 0; n < g->n; n++) {
    clm_tensor xn = image(x, n), yn = image(y, n);
    CLM_TRY(clm_launch_1d(ctx, "conv", "im2col", col_floats(g), "tt" GEOM_FMT, &xn, ws,
                          GEOM_ARGS(*g)));
    /* y_n (K × HoWo) = W (K × CRS) · col (CRS × HoWo) */
    CLM_TRY(sgemm(ctx, "forward", n, CLBlastTransposeNo, CLBlastTransposeNo, (size_t)g->k, hw,
                  crs, w, crs, ws, hw, accumulate ? 1.0f : 0.0f, &yn, hw));
  }
  if (has_bias) CLM_TRY(bias_add(ctx, y, b));
  return CLM_OK;
}

/* dx (=, or += with accumulate) = the adjoint of the convolution applied to dy. */
static clm_status run_backward_data(clm_context *ctx, clm_conv_variant v, const conv_geom *g,
                                    const clm_tensor *dy, const clm_tensor *w,
                                    const clm_tensor *dx, const clm_tensor *ws, int accumulate) {
  if (v == CLM_CONV_IMPLICIT && g->stride == 1)
    return clm_conv_implicit_backward_data(ctx, g, dy, w, dx, accumulate);
  if (v != CLM_CONV_GEMM)
    return clm_launch_1d(ctx, "conv", "conv2d_direct_backward_data", clm_tensor_numel(dx),
                         "ttt" GEOM_FMT "i", dy, w, dx, GEOM_ARGS(*g), accumulate);
  size_t crs = (size_t)g->c * g->r * g->s, hw = (size_t)g->ho * g->wo;
  size_t plane = (size_t)g->c * g->h * g->w;
  for (int n = 0; n < g->n; n++) {
    clm_tensor dyn = image(dy, n), dxn = image(dx, n);
    /* dcol (CRS × HoWo) = Wᵀ (CRS × K) · dy_n (K × HoWo) */
    CLM_TRY(sgemm(ctx, "backward data", n, CLBlastTransposeYes, CLBlastTransposeNo, crs, hw,
                  (size_t)g->k, w, crs, &dyn, hw, 0.0f, ws, hw));
    CLM_TRY(clm_launch_1d(ctx, "conv", "col2im", plane, "tt" GEOM_FMT "i", ws, &dxn,
                          GEOM_ARGS(*g), accumulate));
  }
  return CLM_OK;
}

/* dw += x ⋆ dy. */
static clm_status run_backward_weight(clm_context *ctx, clm_conv_variant v, const conv_geom *g,
                                      const clm_tensor *x, const clm_tensor *dy,
                                      const clm_tensor *dw, const clm_tensor *ws) {
  if (v == CLM_CONV_IMPLICIT && g->stride == 1)
    return clm_conv_implicit_backward_weight(ctx, g, x, dy, dw);
  if (v != CLM_CONV_GEMM)
    return clm_launch_1d(ctx, "conv", "conv2d_direct_backward_weight", clm_tensor_numel(dw),
                         "ttt" GEOM_FMT, x, dy, dw, GEOM_ARGS(*g));
  size_t crs = (size_t)g->c * g->r * g->s, hw = (size_t)g->ho * g->wo;
  for (int n = 0; n < g->n; n++) {
    clm_tensor xn = image(x, n), dyn = image(dy, n);
    CLM_TRY(clm_launch_1d(ctx, "conv", "im2col", col_floats(g), "tt" GEOM_FMT, &xn, ws,
                          GEOM_ARGS(*g)));
    /* dW (K × CRS) += dy_n (K × HoWo) · col_nᵀ (HoWo × CRS) */
    CLM_TRY(sgemm(ctx, "backward weight", n, CLBlastTransposeNo, CLBlastTransposeYes,
                  (size_t)g->k, crs, hw, &dyn, hw, ws, hw, 1.0f, dw, crs));
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
