/* Whole-tensor utilities: fill, copy, scaled accumulate. */

/* x[i] = value for i < n */
__kernel void fill(__global float *x, int xoff, int n, float value) {
  int i = GID0;
  if (i < n) x[xoff + i] = value;
}

/* y[i] = x[i] (accumulate == 0) or y[i] += x[i] (accumulate != 0) */
__kernel void copy(__global const float *x, int xoff, __global float *y, int yoff, int n,
                   int accumulate) {
  int i = GID0;
  if (i >= n) return;
  float v = x[xoff + i];
  y[yoff + i] = accumulate ? y[yoff + i] + v : v;
}
