/* Device probe (src/bench/probe.c): a float16 copy that streams global memory, for bandwidth,
 * and independent float16 FMA chains, for peak arithmetic throughput. Not used by training. */

#ifndef PROBE_ITERS
#define PROBE_ITERS 128 /* trips of the FMA loop; each trip is 8 chains × 16 lanes of FMA */
#endif

/* dst[i] = src[i] for i < n (float16 elements) */
__kernel void probe_copy(__global const float16 *src, __global float16 *dst, int n) {
  int i = GID0;
  if (i < n) dst[i] = src[i];
}

/* 8 independent chains x = x·a + b per work-item (enough to hide FMA latency on wide SIMD
 * units; every operation is a float16 vector so the compiler needs no vectorisation across
 * work-items). With 0 < a < 1 the values settle at b / (1 − a) and stay normal. The sum is
 * stored so nothing is optimised away. 2·8·16·PROBE_ITERS FLOP per work-item. */
__kernel void probe_fma(__global float *out, int n, float a, float b) {
  int i = GID0;
  if (i >= n) return;
  float16 va = (float16)a, vb = (float16)b;
  float16 x0 = (float16)(0.001f * (float)(i & 1023)), x1 = x0 + 0.125f, x2 = x0 + 0.25f,
          x3 = x0 + 0.375f, x4 = x0 + 0.5f, x5 = x0 + 0.625f, x6 = x0 + 0.75f, x7 = x0 + 0.875f;
  for (int k = 0; k < PROBE_ITERS; k++) {
    x0 = fma(x0, va, vb);
    x1 = fma(x1, va, vb);
    x2 = fma(x2, va, vb);
    x3 = fma(x3, va, vb);
    x4 = fma(x4, va, vb);
    x5 = fma(x5, va, vb);
    x6 = fma(x6, va, vb);
    x7 = fma(x7, va, vb);
  }
  float16 s = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7));
  float8 h8 = s.lo + s.hi;
  float4 h4 = h8.lo + h8.hi;
  float2 h2 = h4.lo + h4.hi;
  out[i] = h2.x + h2.y;
}
