/* Element-wise kernels: activations forward and backward, add, and the channel-slice copy
 * that concat is made of. Plain copies use `copy` in cl/tensor.cl. Host side:
 * src/ops/eltwise.c. All are 1-D launches with bounds checks: the activations over vectors of
 * ELT_VEC elements, the others over single elements. */

/* Activation codes, as clm_activation in include/clmtl/kinds.h. */
#define ACT_NONE 0
#define ACT_RELU 1
#define ACT_LEAKY_RELU 2
#define ACT_SIGMOID 3

/* The activation kernels take ELT_VEC consecutive elements per work-item as one vector (PoCL
 * then runs them on full SIMD width whatever the activation); the last work-item takes the
 * remainder one by one. */
#ifndef ELT_VEC
#define ELT_VEC 16
#endif
#define ELT_CAT_(a, b) a##b
#define ELT_CAT(a, b) ELT_CAT_(a, b)
#define vec ELT_CAT(float, ELT_VEC)
#define vload_vec ELT_CAT(vload, ELT_VEC)
#define vstore_vec ELT_CAT(vstore, ELT_VEC)

/* y = act(x) for i < n; y may alias x (same offset). Work-item i: elements i*ELT_VEC.. */
__kernel void act_forward(__global const float *x, int xoff, __global float *y, int yoff, int n,
                          int act, float slope) {
  int i = GID0;
  if (i * ELT_VEC >= n) return;
  __global const float *xp = x + xoff;
  __global float *yp = y + yoff;
  if ((i + 1) * ELT_VEC <= n) {
    vec v = vload_vec(i, xp);
    if (act == ACT_RELU) v = select((vec)(0.0f), v, v > (vec)(0.0f));
    else if (act == ACT_LEAKY_RELU) v = select(slope * v, v, v > (vec)(0.0f));
    else if (act == ACT_SIGMOID) v = 1.0f / (1.0f + exp(-v));
    vstore_vec(v, i, yp);
    return;
  }
  for (int t = i * ELT_VEC; t < n; t++) {
    float v = xp[t];
    if (act == ACT_RELU) v = v > 0.0f ? v : 0.0f;
    else if (act == ACT_LEAKY_RELU) v = v > 0.0f ? v : slope * v;
    else if (act == ACT_SIGMOID) v = 1.0f / (1.0f + exp(-v));
    yp[t] = v;
  }
}

/* dx (= or += with accumulate) from the activation's OUTPUT y and dy; dx may alias dy.
 * Work-item i: elements i*ELT_VEC.. */
__kernel void act_backward(__global const float *y, int yoff, __global const float *dy, int dyoff,
                           __global float *dx, int dxoff, int n, int act, float slope,
                           int accumulate) {
  int i = GID0;
  if (i * ELT_VEC >= n) return;
  __global const float *yp = y + yoff, *gp = dy + dyoff;
  __global float *dp = dx + dxoff;
  if ((i + 1) * ELT_VEC <= n) {
    vec o = vload_vec(i, yp), g = vload_vec(i, gp);
    if (act == ACT_RELU) g = select((vec)(0.0f), g, o > (vec)(0.0f));
    else if (act == ACT_LEAKY_RELU) g = select(slope * g, g, o > (vec)(0.0f));
    else if (act == ACT_SIGMOID) g = g * (o * (1.0f - o));
    if (accumulate) g += vload_vec(i, dp);
    vstore_vec(g, i, dp);
    return;
  }
  for (int t = i * ELT_VEC; t < n; t++) {
    float o = yp[t], g = gp[t];
    if (act == ACT_RELU) g = o > 0.0f ? g : 0.0f;
    else if (act == ACT_LEAKY_RELU) g = o > 0.0f ? g : slope * g;
    else if (act == ACT_SIGMOID) g = g * (o * (1.0f - o));
    dp[t] = accumulate ? dp[t] + g : g;
  }
}

/* y = a + b for i < n; y may alias a or b. */
__kernel void add(__global const float *a, int aoff, __global const float *b, int boff,
                  __global float *y, int yoff, int n) {
  int i = GID0;
  if (i < n) y[yoff + i] = a[aoff + i] + b[boff + i];
}

/* dst[:, dc0 + c] (= or +=) src[:, sc0 + c] for c < channels, launched 2-D: dimension 0 over
 * the plane HW, dimension 1 over the N * channels planes. src has SC channels, dst DC; both
 * share N and HW. */
__kernel void channel_copy(__global const float *src, int soff, __global float *dst, int doff,
                           int N, int SC, int DC, int HW, int sc0, int dc0, int channels,
                           int accumulate) {
  int hw = GID0, t = GID1;
  if (hw >= HW || t >= N * channels) return;
  int n = t / channels, c = t - n * channels; /* not t % channels: oclgrind 21.10 cannot run
                                              * the LLVM freeze a div/rem pair becomes */
  float v = src[soff + (n * SC + sc0 + c) * HW + hw];
  int d = doff + (n * DC + dc0 + c) * HW + hw;
  dst[d] = accumulate ? dst[d] + v : v;
}
