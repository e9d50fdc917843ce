/* Batch normalisation over (N, H, W) per channel of an NCHW tensor. The per-channel
 * reductions run one work-group per channel with a fixed-order local-memory tree, so results
 * are bit-identical run to run (no atomics). The element-wise normalisation is a plain 1-D
 * kernel. Host side: src/ops/norm.c. */

/* Work-group size of the per-channel reduction kernels: a power of two, launched exactly
 * (the host passes ctx->reduce_wg, halved until it fits the kernel's own limit). */
#ifndef NORM_WG
#define NORM_WG 64
#endif

/* Sum of v over the work-group. Every work-item must call it; all get the total. The tree
 * order is fixed by NORM_WG, so the result is deterministic. */
static float wg_sum(__local float *tmp, float v) {
  int lid = (int)get_local_id(0);
  tmp[lid] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = NORM_WG / 2; s > 0; s >>= 1) {
    if (lid < s) tmp[lid] += tmp[lid + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  float total = tmp[0];
  barrier(CLK_LOCAL_MEM_FENCE); /* tmp may be reused right after */
  return total;
}

/* Flat index of element j (j < N*HW) of channel c. */
static int chan_index(int j, int c, int C, int HW) {
  int n = j / HW;
  return (n * C + c) * HW + (j - n * HW);
}

/* One work-group per channel c: two-pass mean and biased variance of x (N, C, H, W) over
 * M = N*HW values. saved[c] = mean, saved[C + c] = 1/sqrt(var + eps); running stats
 * r = (1 - momentum) r + momentum * stat with the unbiased variance var * M / (M - 1). */
__kernel void bn_stats(__global const float *x, int xoff, __global float *saved, int soff,
                       __global float *rmean, int rmoff, __global float *rvar, int rvoff, int N,
                       int C, int HW, float momentum, float eps) {
  __local float tmp[NORM_WG];
  int c = (int)get_group_id(0), lid = (int)get_local_id(0);
  if (c >= C) return; /* whole group leaves together: no barrier is split */
  int M = N * HW;
  /* Pass 1 sums x - K with K the channel's first value: the shift keeps the partial sums
   * small when |mean| >> std, so the mean keeps its precision. Pass 2: Σ (x - mean)². */
  float K = x[xoff + chan_index(0, c, C, HW)], acc = 0.0f;
  for (int j = lid; j < M; j += NORM_WG) acc += x[xoff + chan_index(j, c, C, HW)] - K;
  float mean = K + wg_sum(tmp, acc) / (float)M;
  acc = 0.0f;
  for (int j = lid; j < M; j += NORM_WG) {
    float d = x[xoff + chan_index(j, c, C, HW)] - mean;
    acc += d * d;
  }
  float var = wg_sum(tmp, acc) / (float)M;
  if (lid == 0) {
    saved[soff + c] = mean;
    saved[soff + C + c] = rsqrt(var + eps);
    float unbiased = var * ((float)M / (float)(M - 1));
    rmean[rmoff + c] = (1.0f - momentum) * rmean[rmoff + c] + momentum * mean;
    rvar[rvoff + c] = (1.0f - momentum) * rvar[rvoff + c] + momentum * unbiased;
  }
}

/* y = gamma (x - mean) * invstd + beta for all n elements of x (N, C, H, W).
 * mode 0 (training): a = saved means, b = saved invstd.
 * mode 1 (eval): a = running mean, b = running variance, invstd = 1/sqrt(b + eps).
 * y may alias x. */
__kernel void bn_normalize(__global const float *x, int xoff, __global const float *a, int aoff,
                           __global const float *b, int boff, __global const float *gamma,
                           int goff, __global const float *beta, int boff2, __global float *y,
                           int yoff, int n, int C, int HW, int mode, float eps) {
  int i = GID0;
  if (i >= n) return;
  int c = (i / HW) % C;
  float invstd = mode ? rsqrt(b[boff + c] + eps) : b[boff + c];
  y[yoff + i] = gamma[goff + c] * ((x[xoff + i] - a[aoff + c]) * invstd) + beta[boff2 + c];
}

/* One work-group per channel c. With xhat = (x - mean) invstd over the M = N*HW values:
 *   dbeta[c] += Σ dy,  dgamma[c] += Σ dy xhat,
 *   dx = gamma invstd (dy - Σdy / M - xhat Σ(dy xhat) / M)   (= or += with accumulate).
 * dx may alias dy: each element is read and written by the same work-item after the sums. */
__kernel void bn_backward(__global const float *x, int xoff, __global const float *dy, int dyoff,
                          __global const float *gamma, int goff, __global const float *saved,
                          int soff, __global float *dx, int dxoff, __global float *dgamma,
                          int dgoff, __global float *dbeta, int dboff, int N, int C, int HW,
                          int accumulate) {
  __local float tmp[NORM_WG];
  int c = (int)get_group_id(0), lid = (int)get_local_id(0);
  if (c >= C) return;
  int M = N * HW;
  float mean = saved[soff + c], invstd = saved[soff + C + c];
  float sdy = 0.0f, sdyx = 0.0f;
  for (int j = lid; j < M; j += NORM_WG) {
    int i = chan_index(j, c, C, HW);
    float g = dy[dyoff + i];
    sdy += g;
    sdyx += g * ((x[xoff + i] - mean) * invstd);
  }
  sdy = wg_sum(tmp, sdy);
  sdyx = wg_sum(tmp, sdyx);
  if (lid == 0) {
    dbeta[dboff + c] += sdy;
    dgamma[dgoff + c] += sdyx;
  }
  float k = gamma[goff + c] * invstd, mdy = sdy / (float)M, mdyx = sdyx / (float)M;
  for (int j = lid; j < M; j += NORM_WG) {
    int i = chan_index(j, c, C, HW);
    float xhat = (x[xoff + i] - mean) * invstd;
    float v = k * (dy[dyoff + i] - mdy - xhat * mdyx);
    dx[dxoff + i] = accumulate ? dx[dxoff + i] + v : v;
  }
}
