/* Convolution kernels, float32 NCHW (host side: src/ops/conv.c).
 *   x (N, C, H, W), w (K, C, R, S), y (N, K, Ho, Wo),
 *   y[n,k,ho,wo] = Σ_{c,r,s} x[n, c, ho·stride − pad + r·dil, wo·stride − pad + s·dil] w[k,c,r,s]
 * (taps outside x count as zero). Every kernel takes the same geometry (CONV_GEOM); the
 * transposed convolution is the adjoint and runs on these same kernels with roles swapped.
 *
 * Variants:
 *   DIRECT  conv2d_direct_*: one work-item per element it writes, plain loops. Backward data
 *           is a gather over the outputs each input element feeds (no atomics), so every
 *           result is summed in a fixed order and is bit-identical run to run.
 *   GEMM family (gemm, tiled, local): im2col / col2im for ONE image (the host loops over the
 *           batch and, on CPUs, over bands of output rows) around a GEMM (src/ops/gemm.c); col
 *           is (C·R·S) × (Ho·Wo), row (c·R + r)·S + s, column ho·Wo + wo. im2col copies row
 *           segments (im2col_t writes the transpose, for the backward weight); col2im
 *           gathers, 16 outputs per work-item for stride 1; flip_weights and
 *           unflip_weights_accumulate turn w around for the stride-1 backward passes that run
 *           as a convolution of dy.
 * Plus bias_add and channel_sum_accumulate, shared by all.
 *
 * Index arithmetic writes a remainder as a − (a / b)·b rather than a % b next to a / b: for
 * the paired form LLVM emits a `freeze` instruction that oclgrind 21.10's uninitialised-value
 * checker cannot execute. */

#define CONV_GEOM                                                                          \
  int N, int C, int H, int W, int K, int R, int S, int Ho, int Wo, int stride, int pad,   \
      int dil

/* y (=, or += with accumulate) = conv(x, w) + b[k] if has_bias; one work-item per y element. */
__kernel void conv2d_direct_forward(__global const float *x, int xoff, __global const float *w,
                                    int woff, __global const float *b, int boff, int has_bias,
                                    __global float *y, int yoff, CONV_GEOM, int accumulate) {
  int i = GID0;
  if (i >= N * K * Ho * Wo) return;
  int t = i / Wo, wo = i - t * Wo;
  int nk = t / Ho, ho = t - nk * Ho;
  int n = nk / K, k = nk - n * K;
  float acc = 0.0f;
  for (int c = 0; c < C; c++) {
    int xc = xoff + (n * C + c) * H * W;
    int wc = woff + (k * C + c) * R * S;
    for (int r = 0; r < R; r++) {
      int hi = ho * stride - pad + r * dil;
      if (hi < 0 || hi >= H) continue;
      for (int s = 0; s < S; s++) {
        int wi = wo * stride - pad + s * dil;
        if (wi < 0 || wi >= W) continue;
        acc += x[xc + hi * W + wi] * w[wc + r * S + s];
      }
    }
  }
  if (has_bias) acc += b[boff + k];
  y[yoff + i] = accumulate ? y[yoff + i] + acc : acc;
}

/* dx (=, or += with accumulate) = Σ dy[n,k,ho,wo] w[k,c,r,s] over the (k, r, s) whose output
 * (ho, wo) reads x[n,c,h,w]: ho·stride = h + pad − r·dil exactly, 0 <= ho < Ho (same for w).
 * One work-item per dx element (a gather: no two work-items write the same element). */
__kernel void conv2d_direct_backward_data(__global const float *dy, int dyoff,
                                          __global const float *w, int woff, __global float *dx,
                                          int dxoff, CONV_GEOM, int accumulate) {
  int i = GID0;
  if (i >= N * C * H * W) return;
  int t = i / W, wi = i - t * W;
  int nc = t / H, hi = t - nc * H;
  int n = nc / C, c = nc - n * C;
  float acc = 0.0f;
  for (int r = 0; r < R; r++) {
    int th = hi + pad - r * dil;
    int ho = th / stride;
    if (th < 0 || ho * stride != th || ho >= Ho) continue;
    for (int s = 0; s < S; s++) {
      int tw = wi + pad - s * dil;
      int wo = tw / stride;
      if (tw < 0 || wo * stride != tw || wo >= Wo) continue;
      for (int k = 0; k < K; k++)
        acc += dy[dyoff + ((n * K + k) * Ho + ho) * Wo + wo] * w[woff + ((k * C + c) * R + r) * S + s];
    }
  }
  dx[dxoff + i] = accumulate ? dx[dxoff + i] + acc : acc;
}

/* dw[k,c,r,s] += Σ_{n,ho,wo} dy[n,k,ho,wo] x[n, c, ho·stride − pad + r·dil, wo·stride − pad + s·dil];
 * one work-item per weight element. */
__kernel void conv2d_direct_backward_weight(__global const float *x, int xoff,
                                            __global const float *dy, int dyoff,
                                            __global float *dw, int dwoff, CONV_GEOM) {
  int i = GID0;
  if (i >= K * C * R * S) return;
  int t = i / S, s = i - t * S;
  int kc = t / R, r = t - kc * R;
  int k = kc / C, c = kc - k * C;
  float acc = 0.0f;
  for (int n = 0; n < N; n++) {
    int xc = xoff + (n * C + c) * H * W;
    int dyk = dyoff + (n * K + k) * Ho * Wo;
    for (int ho = 0; ho < Ho; ho++) {
      int hi = ho * stride - pad + r * dil;
      if (hi < 0 || hi >= H) continue;
      for (int wo = 0; wo < Wo; wo++) {
        int wi = wo * stride - pad + s * dil;
        if (wi < 0 || wi >= W) continue;
        acc += dy[dyk + ho * Wo + wo] * x[xc + hi * W + wi];
      }
    }
  }
  dw[dwoff + i] += acc;
}

/* dx (C, H, W) of ONE image (=, or += with accumulate) = the sum of the col entries that
 * im2col copied from each element: the adjoint of im2col, as a gather (one work-item per dx
 * element, same tap rule as conv2d_direct_backward_data). Any stride; col2im_s1 below is the
 * fast form for stride 1. */
__kernel void col2im(__global const float *col, int coloff, __global float *dx, int dxoff,
                     CONV_GEOM, int accumulate) {
  int i = GID0;
  if (i >= C * H * W) return;
  int t = i / W, wi = i - t * W;
  int c = t / H, hi = t - c * H;
  float acc = 0.0f;
  for (int r = 0; r < R; r++) {
    int th = hi + pad - r * dil;
    int ho = th / stride;
    if (th < 0 || ho * stride != th || ho >= Ho) continue;
    for (int s = 0; s < S; s++) {
      int tw = wi + pad - s * dil;
      int wo = tw / stride;
      if (tw < 0 || wo * stride != tw || wo >= Wo) continue;
      acc += col[coloff + ((c * R + r) * S + s) * Ho * Wo + ho * Wo + wo];
    }
  }
  dx[dxoff + i] = accumulate ? dx[dxoff + i] + acc : acc;
}

/* The columns of output rows [ho0, ho0 + hoc) of col (C·R·S, Ho·Wo) for ONE image x
 * (C, H, W), stored as a (C·R·S, hoc·Wo) matrix; zero where the tap falls into the padding.
 * One work-item per (row (c, r, s), ho) writes Wo entries of col row (c·R + r)·S + s: a
 * shifted (strided) copy of one row of x between zeros. */
__kernel void im2col(__global const float *x, int xoff, __global float *col, int coloff,
                     CONV_GEOM, int ho0, int hoc) {
  int i = GID0;
  if (i >= C * R * S * hoc) return;
  int row = i / hoc, ho = ho0 + i - row * hoc;
  int t = row / S, s = row - t * S;
  int c = t / R, r = t - c * R;
  int hi = ho * stride - pad + r * dil;
  __global float *dst = col + coloff + i * Wo;
  const __global float *src = x + xoff + (c * H + hi) * W;
  /* wi = wo·stride + off lies in [0, W) for wo in [lo, end); none when row hi is padding */
  int off = s * dil - pad;
  int lo = off < 0 ? min((stride - 1 - off) / stride, Wo) : 0;
  int end = off < W ? min((W - 1 - off) / stride + 1, Wo) : 0;
  if (hi < 0 || hi >= H) lo = end = Wo;
  end = max(end, lo);
  int wo = 0;
  for (; wo < lo; wo++) dst[wo] = 0.0f;
  if (stride == 1) { /* explicit float16 copies: PoCL does not vectorise this loop itself */
    for (; wo + 16 <= end; wo += 16) vstore16(vload16(0, src + wo + off), 0, dst + wo);
    for (; wo < end; wo++) dst[wo] = src[wo + off];
  } else {
    for (; wo < end; wo++) dst[wo] = src[wo * stride + off];
  }
  for (; wo + 16 <= Wo; wo += 16) vstore16((float16)(0.0f), 0, dst + wo);
  for (; wo < Wo; wo++) dst[wo] = 0.0f;
}

/* The transpose of im2col's band: colt is (hoc·Wo) × (C·R·S), row (ho − ho0)·Wo + wo holding
 * the taps of output pixel (ho, wo) at column (c·R + r)·S + s, zero in the padding. It makes
 * the backward-weight product dW = dy · colᵀ an NN GEMM (dy · colt), which the register-tiled
 * GEMM runs 2–3× faster than NT. One work-item per (pixel, c), consecutive ones writing
 * consecutive runs of R·S floats. */
__kernel void im2col_t(__global const float *x, int xoff, __global float *colt, int coloff,
                       CONV_GEOM, int ho0, int hoc) {
  int i = GID0;
  if (i >= hoc * Wo * C) return;
  int p = i / C, c = i - p * C;
  int hr = p / Wo, wo = p - hr * Wo;
  int hb = (ho0 + hr) * stride - pad, wb = wo * stride - pad;
  __global float *dst = colt + coloff + (p * C + c) * R * S;
  const __global float *src = x + xoff + c * H * W;
  for (int r = 0; r < R; r++) {
    int hi = hb + r * dil;
    int row_inside = hi >= 0 && hi < H;
    for (int s = 0; s < S; s++) {
      int wi = wb + s * dil;
      dst[r * S + s] = row_inside && wi >= 0 && wi < W ? src[hi * W + wi] : 0.0f;
    }
  }
}

/* wf (C, K, R, S) = w (K, C, R, S) with channels swapped and taps rotated by 180°:
 * wf[c, k, r, s] = w[k, c, R−1−r, S−1−s]. For stride 1 the backward data pass is the
 * convolution of dy with wf (padding dil·(R−1) − pad). One work-item per element. */
__kernel void flip_weights(__global const float *w, int woff, __global float *wf, int wfoff,
                           int K, int C, int R, int S) {
  int i = GID0;
  if (i >= K * C * R * S) return;
  int t = i / S, s = i - t * S;
  int u = t / R, r = t - u * R;
  int c = u / K, k = u - c * K;
  wf[wfoff + i] = w[woff + ((k * C + c) * R + R - 1 - r) * S + S - 1 - s];
}

/* dw (K, C, R, S) += wf (C, K, R, S) turned back: dw[k, c, r, s] += wf[c, k, R−1−r, S−1−s]
 * (the inverse of flip_weights, accumulating). One work-item per element of dw. */
__kernel void unflip_weights_accumulate(__global const float *wf, int wfoff, __global float *dw,
                                        int dwoff, int K, int C, int R, int S) {
  int i = GID0;
  if (i >= K * C * R * S) return;
  int t = i / S, s = i - t * S;
  int u = t / R, r = t - u * R;
  int k = u / C, c = u - k * C;
  dw[dwoff + i] += wf[wfoff + ((c * K + k) * R + R - 1 - r) * S + S - 1 - s];
}

/* p[j + q] for q = 0..15, zero where j + q falls outside [0, len). */
static float16 load16_inside(const __global float *p, int j, int len) {
  float t[16];
  for (int q = 0; q < 16; q++) t[q] = j + q >= 0 && j + q < len ? p[j + q] : 0.0f;
  return vload16(0, t);
}

/* col2im for stride 1: one work-item per 16 consecutive elements of a row of dx (C, H, W) of
 * ONE image (=, or += with accumulate), summing the R·S shifted col rows that feed them
 * (same gather and order as col2im, so the results are identical). */
__kernel void col2im_s1(__global const float *col, int coloff, __global float *dx, int dxoff,
                             CONV_GEOM, int accumulate) {
  int chunks = (W + 15) / 16;
  int i = GID0;
  if (i >= C * H * chunks) return;
  int t = i / chunks, wi0 = (i - t * chunks) * 16;
  int c = t / H, hi = t - c * H;
  float16 acc = (float16)(0.0f);
  for (int r = 0; r < R; r++) {
    int ho = hi + pad - r * dil;
    if (ho < 0 || ho >= Ho) continue;
    for (int s = 0; s < S; s++) {
      int wo0 = wi0 + pad - s * dil;
      const __global float *src = col + coloff + (((c * R + r) * S + s) * Ho + ho) * Wo;
      if (wo0 >= 0 && wo0 + 16 <= Wo) acc += vload16(0, src + wo0);
      else acc += load16_inside(src, wo0, Wo);
    }
  }
  __global float *dst = dx + dxoff + t * W + wi0;
  if (wi0 + 16 <= W) {
    if (accumulate) acc += vload16(0, dst);
    vstore16(acc, 0, dst);
  } else {
    float v[16];
    vstore16(acc, 0, v);
    for (int q = 0; q < W - wi0; q++) dst[q] = accumulate ? dst[q] + v[q] : v[q];
  }
}

/* y (N, K, HW) += b[k]: the bias of the GEMM path and of the transposed convolution. */
__kernel void bias_add(__global float *y, int yoff, __global const float *b, int boff, int N,
                       int K, int HW) {
  int i = GID0;
  if (i >= N * K * HW) return;
  int nk = i / HW;
  y[yoff + i] += b[boff + nk - nk / K * K];
}

/* db[k] += Σ_{n, j} dy[n, k, j] for dy (N, K, HW): bias gradients. One work-item per channel. */
__kernel void channel_sum_accumulate(__global const float *dy, int dyoff, __global float *db,
                                     int dboff, int N, int K, int HW) {
  int k = GID0;
  if (k >= K) return;
  float acc = 0.0f;
  for (int n = 0; n < N; n++) {
    int base = dyoff + (n * K + k) * HW;
    for (int j = 0; j < HW; j++) acc += dy[base + j];
  }
  db[dboff + k] += acc;
}
