/* Element-wise kernels: activations forward and backward, add, and the channel-slice copy
 * that concat is made of. Plain copies use `copy` in cl/tensor.cl. Host side:
 * src/ops/eltwise.c. All are 1-D over the elements, with bounds checks. */

/* Activation codes, as clm_activation in src/ops/ops.h. */
#define ACT_NONE 0
#define ACT_RELU 1
#define ACT_LEAKY_RELU 2
#define ACT_SIGMOID 3

/* y = act(x) for i < n; y may alias x (same offset). */
__kernel void act_forward(__global const float *x, int xoff, __global float *y, int yoff, int n,
                          int act, float slope) {
  int i = GID0;
  if (i >= n) return;
  float v = x[xoff + i];
  if (act == ACT_RELU) v = v > 0.0f ? v : 0.0f;
  else if (act == ACT_LEAKY_RELU) v = v > 0.0f ? v : slope * v;
  else if (act == ACT_SIGMOID) v = 1.0f / (1.0f + exp(-v));
  y[yoff + i] = v;
}

/* dx (= or += with accumulate) from the activation's OUTPUT y and dy; dx may alias dy. */
__kernel void act_backward(__global const float *y, int yoff, __global const float *dy, int dyoff,
                           __global float *dx, int dxoff, int n, int act, float slope,
                           int accumulate) {
  int i = GID0;
  if (i >= n) return;
  float o = y[yoff + i], g = dy[dyoff + i];
  if (act == ACT_RELU) g = o > 0.0f ? g : 0.0f;
  else if (act == ACT_LEAKY_RELU) g = o > 0.0f ? g : slope * g;
  else if (act == ACT_SIGMOID) g = g * (o * (1.0f - o));
  dx[dxoff + i] = accumulate ? dx[dxoff + i] + g : g;
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
