/* Batch normalisation over (N, H, W) per channel of an NCHW tensor, optionally fused with the
 * activation that follows it (forward: normalise + affine + activation in one pass; backward:
 * the activation's gradient recomputed from its saved output inside the batch-norm backward),
 * and the folding of eval-mode batch norm into the convolution before it. The per-channel
 * reductions run one work-group per channel, reading explicit vectors, with a fixed-order
 * local-memory tree, so results are bit-identical run to run (no atomics). The element-wise
 * kernels are plain 1-D launches.
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

/* Floats per vector in the per-channel loops (4, 8 or 16). PoCL vectorises a work-item that
 * runs its own loop only through explicit vector types; GPUs take them as wide loads. */
#ifndef NORM_VEC
#define NORM_VEC 16
#endif

#define NORM_CAT_(a, b) a##b
#define NORM_CAT(a, b) NORM_CAT_(a, b)
#define vec NORM_CAT(float, NORM_VEC)
#define vload_vec NORM_CAT(vload, NORM_VEC)
#define vstore_vec NORM_CAT(vstore, NORM_VEC)

/* Sum of the lanes of v, in lane order. Through a private array, not swizzles: oclgrind
 * 21.10's uninitialised-value checker crashes on the narrowing shuffles .lo/.hi compile to. */
static float hsum(vec v) {
  float t[NORM_VEC];
  vstore_vec(v, 0, t);
  float s = 0.0f;
  for (int i = 0; i < NORM_VEC; i++) s += t[i];
  return s;
}

/* Activation codes, as clm_activation in include/clmtl/kinds.h (and cl/eltwise.cl). */
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
 * act_backward in cl/eltwise.cl), element-wise and on vectors. */
static float act_grad(float o, float g, int act, float slope) {
  if (act == ACT_RELU) return o > 0.0f ? g : 0.0f;
  if (act == ACT_LEAKY_RELU) return o > 0.0f ? g : slope * g;
  if (act == ACT_SIGMOID) return g * (o * (1.0f - o));
  return g;
}

static vec act_grad_vec(vec o, vec g, int act, float slope) {
  if (act == ACT_RELU) return select((vec)(0.0f), g, o > (vec)(0.0f));
  if (act == ACT_LEAKY_RELU) return select(slope * g, g, o > (vec)(0.0f));
  if (act == ACT_SIGMOID) return g * (o * (1.0f - o));
  return g;
}

/* The per-channel kernels visit channel c plane by plane (n = 0..N-1, HW contiguous floats
 * each). Work-item lid takes vectors [*first, *end) of each plane in steps of *step: one
 * contiguous span per work-item when `contig` (CPUs: each thread streams whole cache lines),
 * else interleaved (GPUs: neighbouring work-items read neighbouring vectors); then the scalar
 * tail of the plane, interleaved. Each element is visited by exactly one work-item. */
static void plane_range(int HWV, int contig, int *first, int *end, int *step) {
  int lid = (int)get_local_id(0);
  if (contig) {
    int span = (HWV + NORM_WG - 1) / NORM_WG;
    *first = min(lid * span, HWV);
    *end = min(*first + span, HWV);
    *step = 1;
  } else {
    *first = lid;
    *end = HWV;
    *step = NORM_WG;
  }
}

/* One work-group per channel c: two-pass mean and biased variance of x (N, C, H, W) over
 * M = N*HW values. saved[c] = mean, saved[C + c] = 1/sqrt(var + eps); running stats
 * r = (1 - momentum) r + momentum * stat with the unbiased variance var * M / (M - 1).
 * raw (synchronised batch norm, the host merges the ranks' moments): saved[c] = mean,
 * saved[C + c] = Σ (x - mean)², running stats untouched. contig: see plane_range. */
__kernel void bn_stats(__global const float *x, int xoff, __global float *saved, int soff,
                       __global float *rmean, int rmoff, __global float *rvar, int rvoff, int N,
                       int C, int HW, float momentum, float eps, int contig, int raw) {
  __local float tmp[NORM_WG];
  int c = (int)get_group_id(0), lid = (int)get_local_id(0);
  if (c >= C) return; /* whole group leaves together: no barrier is split */
  int M = N * HW, HWV = HW / NORM_VEC, first, end, step;
  plane_range(HWV, contig, &first, &end, &step);
  /* Pass 1 sums x - K with K the channel's first value: the shift keeps the partial sums
   * small when |mean| >> std, so the mean keeps its precision. Pass 2: Σ (x - mean)². */
  float K = x[xoff + c * HW], acc = 0.0f;
  vec vacc = (vec)(0.0f);
  for (int n = 0; n < N; n++) {
    __global const float *xp = x + xoff + (n * C + c) * HW;
    for (int v = first; v < end; v += step) vacc += vload_vec(v, xp) - K;
    for (int t = HWV * NORM_VEC + lid; t < HW; t += NORM_WG) acc += xp[t] - K;
  }
  float mean = K + wg_sum(tmp, acc + hsum(vacc)) / (float)M;
  acc = 0.0f;
  vacc = (vec)(0.0f);
  for (int n = 0; n < N; n++) {
    __global const float *xp = x + xoff + (n * C + c) * HW;
    for (int v = first; v < end; v += step) {
      vec d = vload_vec(v, xp) - mean;
      vacc += d * d;
    }
    for (int t = HWV * NORM_VEC + lid; t < HW; t += NORM_WG) {
      float d = xp[t] - mean;
      acc += d * d;
    }
  }
  float m2 = wg_sum(tmp, acc + hsum(vacc)), var = m2 / (float)M;
  if (lid == 0 && raw) {
    saved[soff + c] = mean;
    saved[soff + C + c] = m2;
  } else if (lid == 0) {
    saved[soff + c] = mean;
    saved[soff + C + c] = rsqrt(var + eps);
    float unbiased = var * ((float)M / (float)(M - 1));
    rmean[rmoff + c] = (1.0f - momentum) * rmean[rmoff + c] + momentum * mean;
    rvar[rvoff + c] = (1.0f - momentum) * rvar[rvoff + c] + momentum * unbiased;
  }
}

/* y = act(gamma (x - mean) * invstd + beta) over x (N, C, H, W), one work-item per vector of
 * NORM_VEC floats of a plane: work-item i takes plane i / HWV (HWV = vectors per plane, the
 * last one possibly partial) and its vector i % HWV.
 * mode 0 (training): a = saved means, b = saved invstd.
 * mode 1 (eval): a = running mean, b = running variance, invstd = 1/sqrt(b + eps).
 * y may alias x. */
__kernel void bn_normalize(__global const float *x, int xoff, __global const float *a, int aoff,
                           __global const float *b, int boff, __global const float *gamma,
                           int goff, __global const float *beta, int boff2, __global float *y,
                           int yoff, int N, int C, int HW, int mode, float eps, int act,
                           float slope) {
  int i = GID0, HWV = (HW + NORM_VEC - 1) / NORM_VEC;
  if (i >= N * C * HWV) return;
  int plane = i / HWV, v = i - plane * HWV, c = plane - (plane / C) * C;
  float mean = a[aoff + c], g = gamma[goff + c], bt = beta[boff2 + c];
  float invstd = mode ? rsqrt(b[boff + c] + eps) : b[boff + c];
  __global const float *xp = x + xoff + plane * HW;
  __global float *yp = y + yoff + plane * HW;
  if ((v + 1) * NORM_VEC <= HW) {
    vec r = g * ((vload_vec(v, xp) - mean) * invstd) + bt;
    if (act == ACT_RELU) r = select((vec)(0.0f), r, r > (vec)(0.0f));
    else if (act == ACT_LEAKY_RELU) r = select(slope * r, r, r > (vec)(0.0f));
    else if (act == ACT_SIGMOID) r = 1.0f / (1.0f + exp(-r));
    vstore_vec(r, v, yp);
  } else {
    for (int t = v * NORM_VEC; t < HW; t++)
      yp[t] = act_apply(g * ((xp[t] - mean) * invstd) + bt, act, slope);
  }
}

/* One work-group per channel c. The gradient reaching the normalisation is g = dy, or with a
 * fused activation g = act'(dy) recomputed from the activation's output y (y is not read
 * when act is ACT_NONE). With xhat = (x - mean) invstd over the M = N*HW values:
 *   dbeta[c] += Σ g,  dgamma[c] += Σ g xhat,
 *   dx = gamma invstd (g - Σg / M - xhat Σ(g xhat) / M)   (= or += with accumulate).
 * dx may alias dy (or y): each element is read and written by the same work-item after the
 * sums. contig: see plane_range.
 * use_global (synchronised batch norm over several ranks): the means in dx are of the whole
 * global batch, gsum[c] = Σg and gsum[C + c] = Σ g xhat over Mg values (every rank's), while
 * dgamma, dbeta still take this rank's sums (the ranks' gradients are summed later). */
__kernel void bn_backward(__global const float *x, int xoff, __global const float *y, int yoff,
                          __global const float *dy, int dyoff, __global const float *gamma,
                          int goff, __global const float *saved, int soff, __global float *dx,
                          int dxoff, __global float *dgamma, int dgoff, __global float *dbeta,
                          int dboff, int N, int C, int HW, int accumulate, int act, float slope,
                          int contig, __global const float *gsum, int gsoff, float Mg, int use_global) {
  __local float tmp[NORM_WG];
  int c = (int)get_group_id(0), lid = (int)get_local_id(0);
  if (c >= C) return;
  int M = N * HW, HWV = HW / NORM_VEC, first, end, step;
  plane_range(HWV, contig, &first, &end, &step);
  float mean = saved[soff + c], invstd = saved[soff + C + c];
  float sdy = 0.0f, sdyx = 0.0f;
  vec vdy = (vec)(0.0f), vdyx = (vec)(0.0f);
  for (int n = 0; n < N; n++) {
    int p = (n * C + c) * HW;
    __global const float *xp = x + xoff + p, *yp = y + yoff + p, *gp = dy + dyoff + p;
    for (int v = first; v < end; v += step) {
      vec g = vload_vec(v, gp);
      if (act != ACT_NONE) g = act_grad_vec(vload_vec(v, yp), g, act, slope);
      vdy += g;
      vdyx += g * ((vload_vec(v, xp) - mean) * invstd);
    }
    for (int t = HWV * NORM_VEC + lid; t < HW; t += NORM_WG) {
      float g = gp[t];
      if (act != ACT_NONE) g = act_grad(yp[t], g, act, slope);
      sdy += g;
      sdyx += g * ((xp[t] - mean) * invstd);
    }
  }
  sdy = wg_sum(tmp, sdy + hsum(vdy));
  sdyx = wg_sum(tmp, sdyx + hsum(vdyx));
  if (lid == 0) {
    dbeta[dboff + c] += sdy;
    dgamma[dgoff + c] += sdyx;
  }
  float k = gamma[goff + c] * invstd, mdy = sdy / (float)M, mdyx = sdyx / (float)M;
  if (use_global) {
    mdy = gsum[gsoff + c] / Mg;
    mdyx = gsum[gsoff + C + c] / Mg;
  }
  for (int n = 0; n < N; n++) {
    int p = (n * C + c) * HW;
    __global const float *xp = x + xoff + p, *yp = y + yoff + p, *gp = dy + dyoff + p;
    __global float *dp = dx + dxoff + p;
    for (int v = first; v < end; v += step) {
      vec g = vload_vec(v, gp);
      if (act != ACT_NONE) g = act_grad_vec(vload_vec(v, yp), g, act, slope);
      vec r = k * (g - mdy - ((vload_vec(v, xp) - mean) * invstd) * mdyx);
      if (accumulate) r += vload_vec(v, dp);
      vstore_vec(r, v, dp);
    }
    for (int t = HWV * NORM_VEC + lid; t < HW; t += NORM_WG) {
      float g = gp[t];
      if (act != ACT_NONE) g = act_grad(yp[t], g, act, slope);
      float r = k * (g - mdy - ((xp[t] - mean) * invstd) * mdyx);
      dp[t] = accumulate ? dp[t] + r : r;
    }
  }
}

/* Synchronised batch norm, before bn_backward with use_global: this rank's per-channel sums
 * out[c] = Σ g and out[C + c] = Σ g xhat (g and xhat as in bn_backward), one work-group per
 * channel, for the host to sum over the ranks. */
__kernel void bn_backward_sums(__global const float *x, int xoff, __global const float *y, int yoff,
                               __global const float *dy, int dyoff, __global const float *saved,
                               int soff, __global float *out, int ooff, int N, int C, int HW, int act,
                               float slope, int contig) {
  __local float tmp[NORM_WG];
  int c = (int)get_group_id(0), lid = (int)get_local_id(0);
  if (c >= C) return;
  int HWV = HW / NORM_VEC, first, end, step;
  plane_range(HWV, contig, &first, &end, &step);
  float mean = saved[soff + c], invstd = saved[soff + C + c];
  float sdy = 0.0f, sdyx = 0.0f;
  vec vdy = (vec)(0.0f), vdyx = (vec)(0.0f);
  for (int n = 0; n < N; n++) {
    int p = (n * C + c) * HW;
    __global const float *xp = x + xoff + p, *yp = y + yoff + p, *gp = dy + dyoff + p;
    for (int v = first; v < end; v += step) {
      vec g = vload_vec(v, gp);
      if (act != ACT_NONE) g = act_grad_vec(vload_vec(v, yp), g, act, slope);
      vdy += g;
      vdyx += g * ((vload_vec(v, xp) - mean) * invstd);
    }
    for (int t = HWV * NORM_VEC + lid; t < HW; t += NORM_WG) {
      float g = gp[t];
      if (act != ACT_NONE) g = act_grad(yp[t], g, act, slope);
      sdy += g;
      sdyx += g * ((xp[t] - mean) * invstd);
    }
  }
  sdy = wg_sum(tmp, sdy + hsum(vdy));
  sdyx = wg_sum(tmp, sdyx + hsum(vdyx));
  if (lid == 0) {
    out[ooff + c] = sdy;
    out[ooff + C + c] = sdyx;
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
