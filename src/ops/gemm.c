/* General matrix multiply, host side: argument checks, the per-shape choice of tile sizes
 * (build options of cl/gemm.cl), launches, and the CLBlast SGEMM wrapper. The kernels and
 * their layout conventions are described in cl/gemm.cl; the contract is in ops.h. */
#include <clblast_c.h>
#include <limits.h>
#include <stdio.h>
#include "ops/ops.h"

const char *clm_gemm_variant_name(clm_gemm_variant v) {
  switch (v) {
  case CLM_GEMM_SIMPLE: return "simple";
  case CLM_GEMM_TILED: return "tiled";
  case CLM_GEMM_LOCAL: return "local";
  case CLM_GEMM_CLBLAST: return "clblast";
  default: return "unknown";
  }
}

/* ---- checks ------------------------------------------------------------------------------ */

/* A matrix stored as `rows` × `cols` with leading dimension ld inside the view t: ld >= cols
 * and the last element inside the view, whose end stays below INT_MAX (kernels index with
 * int). rows == 0 or cols == 0 stores nothing and passes. */
static clm_status check_matrix(const char *name, const clm_tensor *t, int rows, int cols,
                               int ld) {
  if (!clm_tensor_present(t)) CLM_FAIL(CLM_ERR_INVALID_ARG, "gemm: matrix %s is missing", name);
  if (ld < (cols > 1 ? cols : 1))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "gemm: ld%s = %d is less than its stored row length %d", name,
             ld, cols);
  if (rows == 0 || cols == 0) return CLM_OK;
  size_t need = (size_t)(rows - 1) * (size_t)ld + (size_t)cols, have = clm_tensor_numel(t);
  if (need > have)
    CLM_FAIL(CLM_ERR_SHAPE, "gemm: %s (%d × %d, ld %d) needs %zu floats, its view holds %zu",
             name, rows, cols, ld, need, have);
  if (t->off > (size_t)INT_MAX || need > (size_t)INT_MAX - t->off)
    CLM_FAIL(CLM_ERR_UNSUPPORTED, "gemm: %s (offset %zu + %zu floats) exceeds the int range the "
             "kernels index with", name, t->off, need);
  return CLM_OK;
}

/* ---- launches ------------------------------------------------------------------------------ */

static size_t div_up(size_t a, size_t b) { return (a + b - 1) / b; }

static clm_status set_gemm_args(cl_kernel kern, int m, int n, int k, float alpha,
                                const clm_tensor *a, int lda, const clm_tensor *b, int ldb,
                                float beta, const clm_tensor *c, int ldc) {
  return clm_kernel_args(kern, "iiif ti ti f ti", m, n, k, (double)alpha, a, lda, b, ldb,
                         (double)beta, c, ldc);
}

static clm_status run_simple(clm_context *ctx, int ta, int tb, int m, int n, int k,
                             float alpha, const clm_tensor *a, int lda, const clm_tensor *b,
                             int ldb, float beta, const clm_tensor *c, int ldc) {
  char opts[64];
  snprintf(opts, sizeof opts, "-DTRANS_A=%d -DTRANS_B=%d", ta, tb);
  cl_kernel kern;
  size_t max_wg = 1;
  CLM_TRY(clm_kernel_get(ctx, "gemm", opts, "gemm_simple", &kern, &max_wg));
  CLM_TRY(set_gemm_args(kern, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
  size_t lx = 16, ly = 1;
  while (lx > 1 && lx > max_wg) lx /= 2;
  while (ly * 2 * lx <= max_wg && ly < 8) ly *= 2;
  size_t global[2] = {(size_t)n, (size_t)m}, local[2] = {lx, ly};
  return clm_kernel_launch(ctx, kern, 2, global, local);
}

/* gemm_tiled's block per work-item, TILE_M rows × TILE_NV float16 vectors of columns: 24
 * float16 accumulators (12 × 2 or 8 × 3) leave registers for B's row and the broadcast value
 * of A; wide blocks read each row of B in long runs, which keeps the hardware prefetcher
 * going. The rows are the candidate (at most m) with the least estimated cost
 * tiles·(TILE_M + 2), the 2 standing for the loads a block spends per step; an edge block is
 * shifted back inside C and recomputes a few rows. */
static void tiled_block(int m, int n, int *tm, int *nv) {
  static const int cand[][2] = {{12, 2}, {8, 3}, {6, 4}, {4, 4}, {3, 4}, {2, 4}, {1, 4}};
  size_t best_cost = (size_t)-1;
  for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) {
    if (cand[i][0] > m) continue;
    size_t cost = div_up((size_t)m, (size_t)cand[i][0]) * (size_t)(cand[i][0] + 2);
    if (cost < best_cost) {
      best_cost = cost;
      *tm = cand[i][0];
      *nv = cand[i][1];
    }
  }
  int fit = n / 16; /* no wider than C, so that the shifted edge block stays inside */
  if (*nv > fit) *nv = fit > 1 ? fit : 1;
}

static clm_status run_tiled(clm_context *ctx, int ta, int tb, int m, int n, int k, float alpha,
                            const clm_tensor *a, int lda, const clm_tensor *b, int ldb,
                            float beta, const clm_tensor *c, int ldc) {
  if (ta && tb) /* TT: conv never needs it; the simple kernel serves */
    return run_simple(ctx, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  char opts[128];
  cl_kernel kern;
  size_t max_wg = 1, global[2], local[2];
  if (tb) {
    /* 4 × 4 dot products; a work-group takes 4 neighbouring blocks along a row of C */
    const int dm = 4, dn = 4;
    snprintf(opts, sizeof opts, "-DTRANS_A=0 -DTRANS_B=1 -DDOT_M=%d -DDOT_N=%d", dm, dn);
    CLM_TRY(clm_kernel_get(ctx, "gemm", opts, "gemm_tiled_nt", &kern, &max_wg));
    global[0] = div_up((size_t)n, (size_t)dn);
    global[1] = div_up((size_t)m, (size_t)dm);
    local[0] = 4;
    local[1] = 1;
  } else {
    /* a work-group takes the blocks of one column panel down to 8 row blocks, so the rows of
     * B it reads serve them all from the cache */
    int tm = 1, nv = 1;
    tiled_block(m, n, &tm, &nv);
    snprintf(opts, sizeof opts, "-DTRANS_A=%d -DTRANS_B=0 -DTILE_M=%d -DTILE_NV=%d", ta, tm, nv);
    CLM_TRY(clm_kernel_get(ctx, "gemm", opts, "gemm_tiled", &kern, &max_wg));
    global[0] = div_up((size_t)n, 16 * (size_t)nv);
    global[1] = div_up((size_t)m, (size_t)tm);
    local[0] = 1;
    local[1] = global[1] < 8 ? global[1] : 8;
  }
  while (local[0] * local[1] > max_wg) {
    if (local[1] > 1) local[1] /= 2;
    else local[0] /= 2;
  }
  CLM_TRY(set_gemm_args(kern, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
  return clm_kernel_launch(ctx, kern, 2, global, local);
}

/* gemm_local configurations, largest first: C block LTS × LTS, LWPT × LWPT per work-item
 * ((LTS/LWPT)² work-items). The first whose block is less than twice the smaller side of C
 * and whose work-group the kernel can run is used. */
static const struct { int ts, wpt; } local_cfgs[] = {
    {64, 4}, {64, 8}, {32, 4}, {32, 8}, {16, 2}, {16, 4}, {8, 2}, {4, 2}, {2, 2}, {1, 1}};

static clm_status run_local(clm_context *ctx, int ta, int tb, int m, int n, int k, float alpha,
                            const clm_tensor *a, int lda, const clm_tensor *b, int ldb,
                            float beta, const clm_tensor *c, int ldc) {
  const int ltk = 16;
  for (size_t i = 0; i < sizeof local_cfgs / sizeof local_cfgs[0]; i++) {
    int ts = local_cfgs[i].ts, wpt = local_cfgs[i].wpt;
    size_t lr = (size_t)(ts / wpt);
    int small = m < n ? m : n;
    if (ts > 4 && small <= ts / 2) continue; /* a smaller block wastes less */
    size_t local_bytes = 2 * (size_t)ltk * (size_t)ts * sizeof(float);
    if (ctx->info.local_mem_bytes && local_bytes > ctx->info.local_mem_bytes) continue;
    if (lr * lr > ctx->info.max_work_group) continue;
    char opts[128];
    snprintf(opts, sizeof opts, "-DTRANS_A=%d -DTRANS_B=%d -DLTS=%d -DLWPT=%d -DLTK=%d", ta, tb,
             ts, wpt, ltk);
    cl_kernel kern;
    size_t max_wg = 1;
    CLM_TRY(clm_kernel_get(ctx, "gemm", opts, "gemm_local", &kern, &max_wg));
    if (lr * lr > max_wg) continue;
    CLM_TRY(set_gemm_args(kern, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
    size_t global[2] = {div_up((size_t)n, (size_t)ts) * lr, div_up((size_t)m, (size_t)ts) * lr};
    size_t local[2] = {lr, lr};
    return clm_kernel_launch(ctx, kern, 2, global, local);
  }
  CLM_FAIL(CLM_ERR_UNSUPPORTED, "gemm (local): no tile configuration fits %s", ctx->info.name);
}

/* ---- CLBlast ------------------------------------------------------------------------------- */

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

/* Serialised with clm_blas_lock(): CLBlast 1.5.3's cache is not thread-safe. */
static clm_status run_clblast(clm_context *ctx, int ta, int tb, int m, int n, int k, float alpha,
                              const clm_tensor *a, int lda, const clm_tensor *b, int ldb,
                              float beta, const clm_tensor *c, int ldc) {
  clm_blas_lock();
  CLBlastStatusCode s = CLBlastSgemm(
      CLBlastLayoutRowMajor, ta ? CLBlastTransposeYes : CLBlastTransposeNo,
      tb ? CLBlastTransposeYes : CLBlastTransposeNo, (size_t)m, (size_t)n, (size_t)k, alpha,
      (cl_mem)a->buf, a->off, (size_t)lda, (cl_mem)b->buf, b->off, (size_t)ldb, beta,
      (cl_mem)c->buf, c->off, (size_t)ldc, &ctx->queue, NULL);
  clm_blas_unlock();
  ctx->n_launches++;
  if (s != CLBlastSuccess)
    CLM_FAIL(CLM_ERR_BLAS, "CLBlastSgemm (%s%s, M=%d N=%d K=%d) failed: CLBlast status %d%s%s%s",
             ta ? "T" : "N", tb ? "T" : "N", m, n, k, (int)s, blas_status_hint(s),
             (int)s > -1024 ? " " : "", (int)s > -1024 ? clm_cl_error_name((cl_int)s) : "");
  return CLM_OK;
}

/* ---- entry --------------------------------------------------------------------------------- */

clm_status clm_gemm(clm_context *ctx, clm_gemm_variant v, int trans_a, int trans_b, int m, int n,
                    int k, float alpha, const clm_tensor *a, int lda, const clm_tensor *b, int ldb,
                    float beta, const clm_tensor *c, int ldc) {
  if ((int)v < 0 || v >= CLM_GEMM_VARIANT_COUNT)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "gemm: unknown variant %d", (int)v);
  if (m < 0 || n < 0 || k < 0)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "gemm: negative size m=%d n=%d k=%d", m, n, k);
  int ta = trans_a != 0, tb = trans_b != 0;
  CLM_TRY(check_matrix("A", a, ta ? k : m, ta ? m : k, lda));
  CLM_TRY(check_matrix("B", b, tb ? n : k, tb ? k : n, ldb));
  CLM_TRY(check_matrix("C", c, m, n, ldc));
  if (m == 0 || n == 0) return CLM_OK;
  /* k == 0 leaves C = beta·C: the simple kernel's empty loop does exactly that */
  if (k == 0 || v == CLM_GEMM_SIMPLE)
    return run_simple(ctx, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  switch (v) {
  case CLM_GEMM_TILED: return run_tiled(ctx, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  case CLM_GEMM_LOCAL: return run_local(ctx, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  default: return run_clblast(ctx, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}
