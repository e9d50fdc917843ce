/* Pooling and resizing: 2x2 max-pool with argmax indices, max-unpool, bilinear x2 upsampling,
 * and their backward passes. Every kernel runs one work-item per element it WRITES and
 * gathers what it needs, so each output element is written exactly once: no scatter, no
 * atomics, results independent of scheduling. Indices are flat h*W + w within one (n, c)
 * plane of the full-resolution tensor, stored as float (exact below 2^24, checked on the
 * host). Convolution and normalisation live elsewhere.
 *
 * Index arithmetic takes a quotient and subtracts (i - q * n) instead of writing i % n next
 * to i / n: LLVM would otherwise pair them with a `freeze` instruction that oclgrind's
 * uninitialised-value checker cannot run. */

/* Splits flat e over (P, H, W) into plane p, row h, column w. */
#define SPLIT3(e, H, W, p, h, w)                                                               \
  do {                                                                                       \
    int r_ = (e) / (W);                                                                      \
    (w) = (e) - r_ * (W);                                                                    \
    (p) = r_ / (H);                                                                          \
    (h) = r_ - (p) * (H);                                                                    \
  } while (0)

/* Value written by a gather: y = v, or y += v when accumulate != 0. */
#define STORE(y, i, v, accumulate) ((y)[i] = (accumulate) ? (y)[i] + (v) : (v))

/* y (P, Ho, Wo), idx (P, Ho, Wo) from x (P, H, W), P = N*C planes, Ho = H/2, Wo = W/2.
 * Window order (0,0) (0,1) (1,0) (1,1); the first maximum wins; NaN counts as the maximum
 * (as in PyTorch) so it propagates. */
__kernel void maxpool2x2_forward(__global const float *x, int xoff, __global float *y, int yoff,
                                 __global float *idx, int ioff, int planes, int H, int W) {
  int Ho = H / 2, Wo = W / 2;
  int o = GID0;
  if (o >= planes * Ho * Wo) return;
  int p, ho, wo;
  SPLIT3(o, Ho, Wo, p, ho, wo);
  __global const float *xp = x + xoff + p * H * W;
  int best_i = (2 * ho) * W + 2 * wo;
  float best = xp[best_i];
  for (int k = 1; k < 4; k++) {
    int i = (2 * ho + (k >> 1)) * W + 2 * wo + (k & 1);
    float v = xp[i];
    if (v > best || (isnan(v) && !isnan(best))) {
      best = v;
      best_i = i;
    }
  }
  y[yoff + o] = best;
  idx[ioff + o] = (float)best_i;
}

/* The gather behind both max-pool backward and max-unpool forward:
 * y (P, H, W) from v (P, Ho, Wo) and idx (P, Ho, Wo), Ho = H/2, Wo = W/2. One work-item per
 * 2x2 block of y (P, ceil(H/2), ceil(W/2) of them): element (h, w) receives v of window
 * (h/2, w/2) if the window's index names it, else 0; a row or column left over by an odd size
 * has no window and receives 0. */
__kernel void unpool2x2_gather(__global const float *v, int voff, __global const float *idx,
                               int ioff, __global float *y, int yoff, int planes, int H, int W,
                               int accumulate) {
  int Ho = H / 2, Wo = W / 2, Hb = (H + 1) / 2, Wb = (W + 1) / 2;
  int e = GID0;
  if (e >= planes * Hb * Wb) return;
  int p, hb, wb;
  SPLIT3(e, Hb, Wb, p, hb, wb);
  int window = hb < Ho && wb < Wo;
  int o = (p * Ho + hb) * Wo + wb;
  int k = window ? (int)idx[ioff + o] : -1;
  float val = window ? v[voff + o] : 0.0f;
  for (int d = 0; d < 4; d++) {
    int h = 2 * hb + (d >> 1), w = 2 * wb + (d & 1);
    if (h < H && w < W) {
      int at = yoff + (p * H + h) * W + w;
      STORE(y, at, k == h * W + w ? val : 0.0f, accumulate);
    }
  }
}

/* Max-unpool backward: dx (P, Ho, Wo) = dy (P, H, W) at idx. An index outside its own window
 * (not produced by maxpool2x2_forward with this H, W) contributes 0, matching the forward. */
__kernel void unpool2x2_backward(__global const float *dy, int dyoff, __global const float *idx,
                                 int ioff, __global float *dx, int dxoff, int planes, int H,
                                 int W, int accumulate) {
  int Ho = H / 2, Wo = W / 2;
  int o = GID0;
  if (o >= planes * Ho * Wo) return;
  int p, ho, wo;
  SPLIT3(o, Ho, Wo, p, ho, wo);
  int k = (int)idx[ioff + o];
  float out = 0.0f;
  int kh = k / W, kw = k - kh * W;
  if (k >= 0 && k < H * W && kh / 2 == ho && kw / 2 == wo)
    out = dy[dyoff + p * H * W + k];
  STORE(dx, dxoff + o, out, accumulate);
}

/* y (P, 2H, 2W) = bilinear x2 of x (P, H, W). Output 2k reads inputs k-1, k with weights
 * 1/4, 3/4 and output 2k+1 reads k, k+1 with 3/4, 1/4, indices clamped to the edge (which is
 * PyTorch's align_corners = false: the clamped taps land on the same input). One work-item
 * writes the output pair (2w, 2w+1) of one output row. */
__kernel void upsample2x_forward(__global const float *x, int xoff, __global float *y, int yoff,
                                 int planes, int H, int W) {
  int Ho = 2 * H;
  int o = GID0;
  if (o >= planes * Ho * W) return;
  int p, ho, w;
  SPLIT3(o, Ho, W, p, ho, w);
  int k = ho >> 1, odd = ho & 1;
  int r0 = odd ? k : max(k - 1, 0), r1 = odd ? min(k + 1, H - 1) : k;
  float w0 = odd ? 0.75f : 0.25f, w1 = 1.0f - w0;
  int wl = max(w - 1, 0), wr = min(w + 1, W - 1);
  __global const float *a = x + xoff + (p * H + r0) * W, *b = x + xoff + (p * H + r1) * W;
  float left = w0 * a[wl] + w1 * b[wl], mid = w0 * a[w] + w1 * b[w], right = w0 * a[wr] + w1 * b[wr];
  vstore2((float2)(0.25f * left + 0.75f * mid, 0.75f * mid + 0.25f * right), 0,
          y + yoff + (p * Ho + ho) * 2 * W + 2 * w);
}

/* Along one axis of input length n, input i is read by outputs 2i-1 .. 2i+2 with weights
 * 1/4 (i >= 1), 3/4 (1 at i = 0), 3/4 (1 at i = n-1), 1/4 (i <= n-2); both middle weights are 1
 * when n = 1. Out-of-range taps get weight 0 and a clamped index, so there are no branches. */
void up2_taps(int i, int n, int *d, float *wt) {
  int last = 2 * n - 1;
  d[0] = max(2 * i - 1, 0);
  d[1] = 2 * i;
  d[2] = 2 * i + 1;
  d[3] = min(2 * i + 2, last);
  wt[0] = i >= 1 ? 0.25f : 0.0f;
  wt[1] = i == 0 ? 1.0f : 0.75f;
  wt[2] = i == n - 1 ? 1.0f : 0.75f;
  wt[3] = i <= n - 2 ? 0.25f : 0.0f;
}

/* dx (P, H, W) from dy (P, 2H, 2W): the adjoint of the forward, 16 taps summed row by row in a
 * fixed order. */
__kernel void upsample2x_backward(__global const float *dy, int dyoff, __global float *dx,
                                  int dxoff, int planes, int H, int W, int accumulate) {
  int Ho = 2 * H, Wo = 2 * W;
  int e = GID0;
  if (e >= planes * H * W) return;
  int p, h, w;
  SPLIT3(e, H, W, p, h, w);
  __global const float *dyp = dy + dyoff + p * Ho * Wo;
  int rows[4], cols[4];
  float wr[4], wc[4];
  up2_taps(h, H, rows, wr);
  up2_taps(w, W, cols, wc);
  float acc = 0.0f;
  for (int a = 0; a < 4; a++) {
    __global const float *r = dyp + rows[a] * Wo;
    float row = wc[0] * r[cols[0]] + wc[1] * r[cols[1]] + wc[2] * r[cols[2]] + wc[3] * r[cols[3]];
    acc += wr[a] * row;
  }
  STORE(dx, dxoff + e, acc, accumulate);
}
