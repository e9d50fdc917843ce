/* Batch normalisation over (N, H, W) per channel of an NCHW tensor, optionally fused with the
 * activation that follows it (forward: normalise + affine + activation in one pass; backward:
 * the activation's gradient recomputed from its saved output inside the batch-norm backward),
 * and the folding of eval-mode batch norm into the convolution before it. The per-channel
 * reductions run one work-group per channel with a fixed-order local-memory tree, so results
 * are bit-identical run to run (no atomics). The element-wise kernels are plain 1-D launches.
 * Host side: src/ops/norm.c. */

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

/* Activation codes, as clm_activation in src/ops/ops.h (and cl/eltwise.cl). */
#define ACT_NONE 0
#define ACT_RELU 1
#define ACT_LEAKY_RELU 2
#define ACT_SIGMOID 3

static float act_apply(float v, int act, float slope) {
  if (act == ACT_RELU) return v > 0.0f ? v : 0.0f;
  if (act == ACT_LEAKY_RELU) return v > 0.0f ? v : slope * v;
  if (act == ACT_SIGMOID) return 1.0f / (1.0f + exp(-v));
  return v;
}

/* Gradient before the activation from its OUTPUT o and the gradient g after it (as
 * act_backward in cl/eltwise.cl). */
static float act_grad(float o, float g, int act, float slope) {
  if (act == ACT_RELU) return o > 0.0f ? g : 0.0f;
  if (act == ACT_LEAKY_RELU) return o > 0.0f ? g : slope * g;
  if (act == ACT_SIGMOID) return g * (o * (1.0f - o));
  return g;
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

/* y = act(gamma (x - mean) * invstd + beta) for all n elements of x (N, C, H, W).
 * mode 0 (training): a = saved means, b = saved invstd.
 * mode 1 (eval): a = running mean, b = running variance, invstd = 1/sqrt(b + eps).
 * y may alias x. */
__kernel void bn_normalize(__global const float *x, int xoff, __global const float *a, int aoff,
                           __global const float *b, int boff, __global const float *gamma,
                           int goff, __global const float *beta, int boff2, __global float *y,
                           int yoff, int n, int C, int HW, int mode, float eps, int act,
                           float slope) {
  int i = GID0;
  if (i >= n) return;
  int c = (i / HW) % C;
  float invstd = mode ? rsqrt(b[boff + c] + eps) : b[boff + c];
  float v = gamma[goff + c] * ((x[xoff + i] - a[aoff + c]) * invstd) + beta[boff2 + c];
  y[yoff + i] = act_apply(v, act, slope);
}

/* One work-group per channel c. The gradient reaching the normalisation is g = dy, or with a
 * fused activation g = act'(dy) recomputed from the activation's output y (y is not read
 * when act is ACT_NONE). With xhat = (x - mean) invstd over the M = N*HW values:
 *   dbeta[c] += Σ g,  dgamma[c] += Σ g xhat,
 *   dx = gamma invstd (g - Σg / M - xhat Σ(g xhat) / M)   (= or += with accumulate).
 * dx may alias dy (or y): each element is read and written by the same work-item after the
 * sums. */
__kernel void bn_backward(__global const float *x, int xoff, __global const float *y, int yoff,
                          __global const float *dy, int dyoff, __global const float *gamma,
                          int goff, __global const float *saved, int soff, __global float *dx,
                          int dxoff, __global float *dgamma, int dgoff, __global float *dbeta,
                          int dboff, int N, int C, int HW, int accumulate, int act, float slope) {
  __local float tmp[NORM_WG];
  int c = (int)get_group_id(0), lid = (int)get_local_id(0);
  if (c >= C) return;
  int M = N * HW;
  float mean = saved[soff + c], invstd = saved[soff + C + c];
  float sdy = 0.0f, sdyx = 0.0f;
  for (int j = lid; j < M; j += NORM_WG) {
    int i = chan_index(j, c, C, HW);
    float g = dy[dyoff + i];
    if (act != ACT_NONE) g = act_grad(y[yoff + i], g, act, slope);
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
    float g = dy[dyoff + i];
    if (act != ACT_NONE) g = act_grad(y[yoff + i], g, act, slope);
    float xhat = (x[xoff + i] - mean) * invstd;
    float v = k * (g - mdy - xhat * mdyx);
    dx[dxoff + i] = accumulate ? dx[dxoff + i] + v : v;
  }
}

/* Eval-mode batch norm folded into the convolution before it: with s = gamma / sqrt(var + eps)
 * per output channel k, wo = w * s[k] and bo = (b - mean) * s + beta (b taken as 0 when
 * has_bias is 0). Work-items i < nw fold the weights: a conv weight (K, C, R, S) has
 * inner = C*R*S, a transposed conv weight (Cin, K, R, S) inner = R*S, and k = (i / inner) % K
 * in both. Items nw .. nw+K-1 fold the biases. wo, bo must not alias w, b. */
__kernel void bn_fold(__global const float *w, int woff, __global const float *b, int boff,
                      int has_bias, __global const float *gamma, int goff,
                      __global const float *beta, int beoff, __global const float *rmean,
                      int rmoff, __global const float *rvar, int rvoff, __global float *wo,
                      int wooff, __global float *bo, int booff, int nw, int inner, int K,
                      float eps) {
  int i = GID0;
  if (i >= nw + K) return;
  int q = i < nw ? i / inner : i - nw;
  int k = q - (q / K) * K;
  float s = gamma[goff + k] * rsqrt(rvar[rvoff + k] + eps);
  if (i < nw) {
    wo[wooff + i] = w[woff + i] * s;
  } else {
    float bias = has_bias ? b[boff + k] : 0.0f;
    bo[booff + k] = (bias - rmean[rmoff + k]) * s + beta[beoff + k];
  }
}
