/* General matrix multiply, row-major float32 (host side: src/ops/gemm.c):
 *   C (m × n) = alpha · op(A) · op(B) + beta · C
 * op(A) (m × k) is A[i·lda + p], or A[p·lda + i] when TRANS_A; op(B) (k × n) is B[p·ldb + j],
 * or B[j·ldb + p] when TRANS_B. beta == 0 writes C without reading it (NaN there is
 * overwritten). TRANS_A / TRANS_B are build options, so each case is its own program.
 *
 * Kernels (all take GEMM_ARGS):
 *   gemm_simple    one work-item per element of C, a plain loop over p: the reference.
 *   gemm_tiled     (NN, TN) one work-item per TILE_M × 16·TILE_NV block of C held in float16
 *                  registers: per p, TILE_M broadcast values of op(A) times a row of B.
 *   gemm_tiled_nt  (NT) one work-item per DOT_M × DOT_N block of C: float16 partial dot
 *                  products along the contiguous k of A and B, summed horizontally at the end.
 *   gemm_local     GPUs: a work-group computes an LTS × LTS block of C, each work-item
 *                  LWPT × LWPT of it, from LTK-deep slices of op(A) and op(B) staged in local
 *                  memory between barriers.
 * The tiled kernels use no local memory and no barriers: PoCL runs a work-group as a loop on
 * one thread and vectorises explicit vector types, not loops inside a work-item. Edge blocks
 * (m, n not multiples of a block) are shifted back inside C (gemm_tiled) or load clamped rows
 * (gemm_tiled_nt, gemm_local zero-fills), and store only the elements they own; the k tail
 * runs scalar.
 *
 * Index arithmetic writes a remainder as a − (a / b)·b (oclgrind 21.10, see cl/conv.cl). */

#ifndef TRANS_A
#define TRANS_A 0 /* op(A) = Aᵀ: A is stored k × m */
#endif
#ifndef TRANS_B
#define TRANS_B 0 /* op(B) = Bᵀ: B is stored n × k */
#endif
#ifndef TILE_M
#define TILE_M 8 /* gemm_tiled: rows of C per work-item */
#endif
#ifndef TILE_NV
#define TILE_NV 1 /* gemm_tiled: float16 vectors of columns per work-item */
#endif
#ifndef DOT_M
#define DOT_M 4 /* gemm_tiled_nt: rows of C per work-item */
#endif
#ifndef DOT_N
#define DOT_N 4 /* gemm_tiled_nt: columns of C per work-item */
#endif
#ifndef LTS
#define LTS 64 /* gemm_local: rows and columns of the C block of one work-group */
#endif
#ifndef LWPT
#define LWPT 4 /* gemm_local: rows and columns of C per work-item; (LTS/LWPT)² work-items */
#endif
#ifndef LTK
#define LTK 16 /* gemm_local: depth of the slices staged in local memory */
#endif

#define TILE_N (16 * TILE_NV)

#define GEMM_ARGS                                                                           \
  int m, int n, int k, float alpha, __global const float *a, int aoff, int lda,              \
      __global const float *b, int boff, int ldb, float beta, __global float *c, int coff,   \
      int ldc

#if TRANS_A
#define A_AT(i, p) a[(p) * lda + (i)]
#else
#define A_AT(i, p) a[(i) * lda + (p)]
#endif
#if TRANS_B
#define B_AT(p, j) b[(j) * ldb + (p)]
#else
#define B_AT(p, j) b[(p) * ldb + (j)]
#endif

/* alpha·acc (+ beta·old unless beta == 0). */
#define SCALE(acc, old) (beta == 0.0f ? alpha * (acc) : alpha * (acc) + beta * (old))

__kernel void gemm_simple(GEMM_ARGS) {
  int j = GID0, i = GID1;
  if (i >= m || j >= n) return;
  a += aoff;
  b += boff;
  c += coff;
  float acc = 0.0f;
  for (int p = 0; p < k; p++) acc = fma(A_AT(i, p), B_AT(p, j), acc);
  __global float *cp = c + i * ldc + j;
  *cp = SCALE(acc, *cp);
}

/* ---- tiled: CPUs ------------------------------------------------------------------------- */

/* row[min(j + q, n − 1)] for q = 0..15: a float16 for the ragged right edge of B. */
static float16 load16_clamped(const __global float *row, int j, int n) {
  float t[16];
  for (int q = 0; q < 16; q++) t[q] = row[min(j + q, n - 1)];
  return vload16(0, t);
}

/* Writes alpha·v (+ beta·C) to elements [from, cols) of cp (cols <= 16 counts from cp). */
static void store16(__global float *cp, float16 v, int cols, int from, float alpha, float beta) {
  if (cols >= 16 && from <= 0) {
    if (beta != 0.0f) v = alpha * v + beta * vload16(0, cp);
    else v = alpha * v;
    vstore16(v, 0, cp);
    return;
  }
  float t[16];
  vstore16(v, 0, t);
  for (int q = max(from, 0); q < min(cols, 16); q++) cp[q] = SCALE(t[q], cp[q]);
}

#if !TRANS_B
/* op(A)[is + r][p] is ap[r·A_ROW] once ap points at op(A)[is][p]; ap advances by A_COL. */
#if TRANS_A
#define A_ROW 1
#define A_COL lda
#else
#define A_ROW lda
#define A_COL 1
#endif

/* One step p of the TILE_M × TILE_N outer-product update, B's row loaded by LOAD(v). */
#define TILED_STEP(LOAD)                                                                     \
  {                                                                                          \
    float16 bv[TILE_NV];                                                                     \
    _Pragma("unroll") for (int v = 0; v < TILE_NV; v++) bv[v] = LOAD(v);                     \
    _Pragma("unroll") for (int r = 0; r < TILE_M; r++) {                                     \
      float16 av = (float16)(ap[r * A_ROW]);                                                 \
      _Pragma("unroll") for (int v = 0; v < TILE_NV; v++) acc[r][v] = fma(av, bv[v], acc[r][v]); \
    }                                                                                        \
    ap += A_COL;                                                                             \
    bp += ldb;                                                                               \
  }
#define LOAD_FULL(v) vload16(v, bp)
#define LOAD_EDGE(v) load16_clamped(bp, 16 * (v), n)

/* Work-item (x, y) owns rows i0 = y·TILE_M.. and columns j0 = x·TILE_N.. of C. A tile that
 * would stick out of C is shifted back inside (is, js) and stores only what it owns, so every
 * load is in bounds and unclamped: the host picks TILE_M <= m. Only n < TILE_N takes the
 * slower path that loads B through clamped indices. */
__kernel void gemm_tiled(GEMM_ARGS) {
  int j0 = GID0 * TILE_N, i0 = GID1 * TILE_M;
  if (j0 >= n || i0 >= m) return;
  int is = min(i0, m - TILE_M), js = max(min(j0, n - TILE_N), 0);
  const __global float *ap = a + aoff + (TRANS_A ? is : is * lda);
  const __global float *bp = b + boff + js;
  float16 acc[TILE_M][TILE_NV];
#pragma unroll
  for (int r = 0; r < TILE_M; r++)
#pragma unroll
    for (int v = 0; v < TILE_NV; v++) acc[r][v] = (float16)(0.0f);
  if (n >= TILE_N) {
    for (int p = 0; p < k; p++) TILED_STEP(LOAD_FULL)
  } else {
    for (int p = 0; p < k; p++) TILED_STEP(LOAD_EDGE)
  }
  int skip = j0 - js; /* leading columns of the tile that belong to the previous one */
#pragma unroll
  for (int r = 0; r < TILE_M; r++) {
    if (is + r < i0) continue;
    __global float *cp = c + coff + (is + r) * ldc + js;
#pragma unroll
    for (int v = 0; v < TILE_NV; v++) store16(cp + 16 * v, acc[r][v], min(n - js, TILE_N) - 16 * v, skip - 16 * v, alpha, beta);
  }
}
#endif

#if TRANS_B && !TRANS_A
#if DOT_M * DOT_N != 16
#error "gemm_tiled_nt: DOT_M·DOT_N must be 16"
#endif

/* The 16 horizontal sums of v[0..15] as one float16 (lane i = Σ of v[i]'s components): a
 * transpose-and-add tree, 4 levels of shuffle2 + add instead of 16 serial chains. Each level
 * adds the two halves of every group of lanes, pairing vectors so that no lane is wasted.
 * (Written with same-width shuffle2 masks: oclgrind 21.10's uninitialised-value checker
 * crashes on some narrowing swizzles such as .s0123 of a float16.) */
static float16 hsum16x16(const float16 *v) {
  const uint16 m1 = (uint16)(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const uint16 m2 = (uint16)(0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
  const uint16 m3 = (uint16)(0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29);
  const uint16 m4 = (uint16)(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  float16 t[8], u[4], w[2];
#pragma unroll
  for (int i = 0; i < 8; i++) /* lanes 0-7: 8 partial sums of v[2i], 8-15: of v[2i+1] */
    t[i] = shuffle2(v[2 * i], v[2 * i + 1], m1) + shuffle2(v[2 * i], v[2 * i + 1], m1 + 8);
#pragma unroll
  for (int i = 0; i < 4; i++) /* 4 lanes each for v[4i .. 4i+3] */
    u[i] = shuffle2(t[2 * i], t[2 * i + 1], m2) + shuffle2(t[2 * i], t[2 * i + 1], m2 + 4);
#pragma unroll
  for (int i = 0; i < 2; i++) /* 2 lanes each for v[8i .. 8i+7] */
    w[i] = shuffle2(u[2 * i], u[2 * i + 1], m3) + shuffle2(u[2 * i], u[2 * i + 1], m3 + 2);
  return shuffle2(w[0], w[1], m4) + shuffle2(w[0], w[1], m4 + 1);
}

/* Work-item (x, y) owns the DOT_M × DOT_N block of C at rows y·DOT_M.., columns x·DOT_N..;
 * rows and columns past the edge load a clamped row and are not stored. */
__kernel void gemm_tiled_nt(GEMM_ARGS) {
  int j0 = GID0 * DOT_N, i0 = GID1 * DOT_M;
  if (j0 >= n || i0 >= m) return;
  a += aoff;
  b += boff;
  c += coff;
  int arow[DOT_M], brow[DOT_N]; /* clamped row starts of A and of B (stored n × k) */
  float16 acc[16];              /* acc[r·DOT_N + q]: partial sums of C[i0 + r][j0 + q] */
#pragma unroll
  for (int r = 0; r < DOT_M; r++) arow[r] = min(i0 + r, m - 1) * lda;
#pragma unroll
  for (int q = 0; q < DOT_N; q++) brow[q] = min(j0 + q, n - 1) * ldb;
#pragma unroll
  for (int i = 0; i < 16; i++) acc[i] = (float16)(0.0f);
  int k16 = k - (k & 15);
  for (int p = 0; p < k16; p += 16) {
    float16 av[DOT_M], bv[DOT_N];
#pragma unroll
    for (int r = 0; r < DOT_M; r++) av[r] = vload16(0, a + arow[r] + p);
#pragma unroll
    for (int q = 0; q < DOT_N; q++) bv[q] = vload16(0, b + brow[q] + p);
#pragma unroll
    for (int r = 0; r < DOT_M; r++)
#pragma unroll
      for (int q = 0; q < DOT_N; q++) acc[r * DOT_N + q] = fma(av[r], bv[q], acc[r * DOT_N + q]);
  }
  float sum[16];
  vstore16(hsum16x16(acc), 0, sum);
  for (int r = 0; r < DOT_M && i0 + r < m; r++)
    for (int q = 0; q < DOT_N && j0 + q < n; q++) {
      float s = sum[r * DOT_N + q];
      for (int p = k16; p < k; p++) s = fma(a[arow[r] + p], b[brow[q] + p], s);
      __global float *cp = c + (i0 + r) * ldc + j0 + q;
      *cp = SCALE(s, *cp);
    }
}
#endif

/* ---- local: GPUs ------------------------------------------------------------------------- */

#define LR (LTS / LWPT)          /* work-items along each side of the group */
#define LWG (LR * LR)            /* work-items per group */
#define LLOADS (LTK * LTS / LWG) /* elements of each slice that one work-item loads */
#if LTK * LTS % LWG != 0
#error "gemm_local: LTK·LTS must be a multiple of the work-group size (LTS/LWPT)²"
#endif

/* Work-group (gx, gy) computes C[gy·LTS .., gx·LTS ..]; work-item (tx, ty) the rows
 * ty + LR·r and columns tx + LR·q of it (strided, so neighbours read neighbouring words of
 * local memory). Launch exactly (LR, LR) work-items per group. */
__kernel void gemm_local(GEMM_ARGS) {
  __local float as[LTK][LTS]; /* as[p][i] = op(A)[i0 + i][p0 + p] */
  __local float bs[LTK][LTS]; /* bs[p][j] = op(B)[p0 + p][j0 + j] */
  int tx = (int)get_local_id(0), ty = (int)get_local_id(1);
  int lid = ty * LR + tx;
  int i0 = (int)get_group_id(1) * LTS, j0 = (int)get_group_id(0) * LTS;
  a += aoff;
  b += boff;
  c += coff;
  float acc[LWPT][LWPT];
  for (int r = 0; r < LWPT; r++)
    for (int q = 0; q < LWPT; q++) acc[r][q] = 0.0f;
  for (int p0 = 0; p0 < k; p0 += LTK) {
    for (int l = 0; l < LLOADS; l++) {
      int e = lid + l * LWG;
      /* consecutive work-items read consecutive addresses of A and B */
#if TRANS_A
      int ap = e / LTS, ai = e - ap * LTS;
#else
      int ai = e / LTK, ap = e - ai * LTK;
#endif
#if TRANS_B
      int bj = e / LTK, bp = e - bj * LTK;
#else
      int bp = e / LTS, bj = e - bp * LTS;
#endif
      int gi = i0 + ai, gp = p0 + ap;
      as[ap][ai] = gi < m && gp < k ? A_AT(gi, gp) : 0.0f;
      int gj = j0 + bj;
      gp = p0 + bp;
      bs[bp][bj] = gj < n && gp < k ? B_AT(gp, gj) : 0.0f;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int p = 0; p < LTK; p++) {
      float ar[LWPT], br[LWPT];
      for (int r = 0; r < LWPT; r++) ar[r] = as[p][ty + LR * r];
      for (int q = 0; q < LWPT; q++) br[q] = bs[p][tx + LR * q];
      for (int r = 0; r < LWPT; r++)
        for (int q = 0; q < LWPT; q++) acc[r][q] = fma(ar[r], br[q], acc[r][q]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  for (int r = 0; r < LWPT; r++) {
    int i = i0 + ty + LR * r;
    if (i >= m) break;
    for (int q = 0; q < LWPT; q++) {
      int j = j0 + tx + LR * q;
      if (j >= n) break;
      __global float *cp = c + i * ldc + j;
      *cp = SCALE(acc[r][q], *cp);
    }
  }
}
