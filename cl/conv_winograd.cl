/* Winograd convolution F(m×m, 3×3) for 3×3 stride-1 dilation-1 convolutions, float32 NCHW
 * (host side: src/ops/conv_winograd.c). Lavin & Gray, "Fast Algorithms for Convolutional
 * Neural Networks" (2016): an output tile Y (m × m) of one channel is
 *   Y = Aᵀ [ Σ_c (G g_{k,c} Gᵀ) ⊙ (Bᵀ d_c B) ] A
 * with d_c the (m+2) × (m+2) input patch of channel c and g_{k,c} the 3×3 kernel. The sum over
 * c at each of the (m+2)² transformed positions is a GEMM, run by the host (clm_gemm) between
 * these kernels:
 *   wino_weight  U (T, K, C) = G g Gᵀ per (k, c), T = (m+2)² positions; weights read through
 *                strides so that the backward data pass (flipped, channel-transposed weights)
 *                uses the same kernel, as conv_implicit_forward does.
 *   wino_input   V (T, C, pb) = Bᵀ d B for the tiles p0 .. p0+pb of the batch (tile p =
 *                (n·TH + ty)·TW + tx; patch rows ty·m − pad .., zero outside the plane).
 *   wino_output  out[n, k, tile] (=, or += with accumulate) = Aᵀ M A (+ b[k]) from
 *                M (T, K, pb) = U · V, stores clipped to the output plane.
 * One work-item per (k, c), (c, tile) or (k, tile); the transforms are fully unrolled with
 * constant matrices. Remainders are written a − (a / b)·b (see cl/conv.cl on oclgrind). */

/* Output tile size m: 2 (F(2×2, 3×3), 16 positions) or 4 (F(4×4, 3×3), 36 positions). */
#ifndef WINO_M
#define WINO_M 2
#endif
#define WA (WINO_M + 2)

#if WINO_M == 2
__constant float BT[WA][WA] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
__constant float GM[WA][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
__constant float AT[WINO_M][WA] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
#elif WINO_M == 4
__constant float BT[WA][WA] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0},
                               {0, 4, -4, -1, 1, 0}, {0, -2, -1, 2, 1, 0},
                               {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
__constant float GM[WA][3] = {{0.25f, 0, 0},
                              {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                              {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                              {1.0f / 24, 1.0f / 12, 1.0f / 6},
                              {1.0f / 24, -1.0f / 12, 1.0f / 6},
                              {0, 0, 1}};
__constant float AT[WINO_M][WA] = {{1, 1, 1, 1, 1, 0},
                                   {0, 1, -1, 2, -2, 0},
                                   {0, 1, 1, 4, 4, 0},
                                   {0, 1, -1, 8, -8, 1}};
#else
#error "WINO_M must be 2 or 4"
#endif

/* u[(a·WA + b)·K·C + k·C + c] = (G g Gᵀ)[a][b], g[r][s] = w[woff + k·wk + c·wc + r·wr + s·ws]. */
__kernel void wino_weight(__global const float *w, int woff, __global float *u, int uoff, int K,
                          int C, int wk, int wc, int wr, int ws) {
  int i = GID0;
  if (i >= K * C) return;
  int k = i / C, c = i - k * C;
  __global const float *g = w + woff + k * wk + c * wc;
  float t[WA][3];
#pragma unroll
  for (int a = 0; a < WA; a++)
#pragma unroll
    for (int s = 0; s < 3; s++)
      t[a][s] = GM[a][0] * g[s * ws] + GM[a][1] * g[wr + s * ws] + GM[a][2] * g[2 * wr + s * ws];
#pragma unroll
  for (int a = 0; a < WA; a++)
#pragma unroll
    for (int b = 0; b < WA; b++)
      u[uoff + (a * WA + b) * K * C + i] = t[a][0] * GM[b][0] + t[a][1] * GM[b][1] +
                                           t[a][2] * GM[b][2];
}

/* v[(a·WA + b)·C·pb + c·pb + pp] = (Bᵀ d B)[a][b] for tile p0 + pp of in (N, C, H, W). */
__kernel void wino_input(__global const float *in, int inoff, __global float *v, int voff,
                         int C, int H, int W, int TH, int TW, int pad, int p0, int pb) {
  int i = GID0;
  if (i >= C * pb) return;
  int c = i / pb, pp = i - c * pb, p = p0 + pp;
  int per = TH * TW, n = p / per, t = p - n * per, ty = t / TW, tx = t - ty * TW;
  int h0 = ty * WINO_M - pad, w0 = tx * WINO_M - pad;
  __global const float *x = in + inoff + (n * C + c) * H * W;
  float d[WA][WA];
#pragma unroll
  for (int a = 0; a < WA; a++)
#pragma unroll
    for (int b = 0; b < WA; b++) {
      int hh = h0 + a, ww = w0 + b;
      d[a][b] = hh >= 0 && hh < H && ww >= 0 && ww < W ? x[hh * W + ww] : 0.0f;
    }
  float t1[WA][WA];
#pragma unroll
  for (int a = 0; a < WA; a++)
#pragma unroll
    for (int b = 0; b < WA; b++) {
      float s = 0.0f;
#pragma unroll
      for (int j = 0; j < WA; j++) s += BT[a][j] * d[j][b];
      t1[a][b] = s;
    }
  __global float *o = v + voff + c * pb + pp;
  int stride = C * pb;
#pragma unroll
  for (int a = 0; a < WA; a++)
#pragma unroll
    for (int b = 0; b < WA; b++) {
      float s = 0.0f;
#pragma unroll
      for (int j = 0; j < WA; j++) s += t1[a][j] * BT[b][j];
      o[(a * WA + b) * stride] = s;
    }
}

/* out[n, k, ty·m + r, tx·m + s] (=, or += with accumulate) = (Aᵀ M A)[r][s] + b[k] (has_bias)
 * for tile p0 + pp, M[a][b] = m[(a·WA + b)·K·pb + k·pb + pp]; out (N, K, Ho, Wo). */
__kernel void wino_output(__global const float *m, int moff, __global float *out, int outoff,
                          __global const float *bias, int boff, int has_bias, int K, int Ho,
                          int Wo, int TH, int TW, int p0, int pb, int accumulate) {
  int i = GID0;
  if (i >= K * pb) return;
  int k = i / pb, pp = i - k * pb, p = p0 + pp;
  int per = TH * TW, n = p / per, t = p - n * per, ty = t / TW, tx = t - ty * TW;
  __global const float *mp = m + moff + k * pb + pp;
  int stride = K * pb;
  float mm[WA][WA];
#pragma unroll
  for (int a = 0; a < WA; a++)
#pragma unroll
    for (int b = 0; b < WA; b++) mm[a][b] = mp[(a * WA + b) * stride];
  float t1[WINO_M][WA];
#pragma unroll
  for (int r = 0; r < WINO_M; r++)
#pragma unroll
    for (int b = 0; b < WA; b++) {
      float s = 0.0f;
#pragma unroll
      for (int j = 0; j < WA; j++) s += AT[r][j] * mm[j][b];
      t1[r][b] = s;
    }
  float bk = has_bias ? bias[boff + k] : 0.0f;
  int oh0 = ty * WINO_M, ow0 = tx * WINO_M;
  __global float *o = out + outoff + (n * K + k) * Ho * Wo;
#pragma unroll
  for (int r = 0; r < WINO_M; r++)
#pragma unroll
    for (int s = 0; s < WINO_M; s++) {
      int oh = oh0 + r, ow = ow0 + s;
      if (oh >= Ho || ow >= Wo) continue;
      float acc = bk;
#pragma unroll
      for (int j = 0; j < WA; j++) acc += t1[r][j] * AT[s][j];
      int e = oh * Wo + ow;
      o[e] = accumulate ? o[e] + acc : acc;
    }
}
