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
 * y (P, H, W) from v (P, Ho, Wo) and idx (P, Ho, Wo), Ho = H/2, Wo = W/2.
 * Element (h, w) lies in window (h/2, w/2) (none for a row/column left over by an odd size);
 * it receives v of that window if the window's index names it, else 0. */
__kernel void unpool2x2_gather(__global const float *v, int voff, __global const float *idx,
                               int ioff, __global float *y, int yoff, int planes, int H, int W,
                               int accumulate) {
  int Ho = H / 2, Wo = W / 2;
  int e = GID0;
  if (e >= planes * H * W) return;
  int p, h, w;
  SPLIT3(e, H, W, p, h, w);
  int ho = h / 2, wo = w / 2;
  float out = 0.0f;
  if (ho < Ho && wo < Wo) {
    int o = (p * Ho + ho) * Wo + wo;
    if ((int)idx[ioff + o] == h * W + w) out = v[voff + o];
  }
  STORE(y, yoff + e, out, accumulate);
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

/* Source of output coordinate d along an axis of input length n for bilinear x2,
 * align_corners = false (PyTorch): s = max((d + 0.5) / 2 - 0.5, 0); output reads
 * (1 - lam) * in[i0] + lam * in[i0 + step]. The weights are exact in float. */
void up2_source(int d, int n, int *i0, int *step, float *lam) {
  float s = fmax(((float)d + 0.5f) * 0.5f - 0.5f, 0.0f);
  int i = (int)s;
  *i0 = i;
  *step = i < n - 1 ? 1 : 0;
  *lam = s - (float)i;
}

/* Weight with which output coordinate d reads input coordinate i (0 if it does not). */
float up2_weight(int d, int i, int n) {
  int i0, step;
  float lam;
  up2_source(d, n, &i0, &step, &lam);
  float wgt = 0.0f;
  if (i0 == i) wgt += 1.0f - lam;
  if (i0 + step == i) wgt += lam;
  return wgt;
}

/* y (P, 2H, 2W) = bilinear x2 of x (P, H, W). */
__kernel void upsample2x_forward(__global const float *x, int xoff, __global float *y, int yoff,
                                 int planes, int H, int W) {
  int Ho = 2 * H, Wo = 2 * W;
  int o = GID0;
  if (o >= planes * Ho * Wo) return;
  int p, ho, wo;
  SPLIT3(o, Ho, Wo, p, ho, wo);
  int h0, hs, w0, ws;
  float lh, lw;
  up2_source(ho, H, &h0, &hs, &lh);
  up2_source(wo, W, &w0, &ws, &lw);
  __global const float *xp = x + xoff + p * H * W + h0 * W + w0;
  float top = (1.0f - lw) * xp[0] + lw * xp[ws];
  float bot = (1.0f - lw) * xp[hs * W] + lw * xp[hs * W + ws];
  y[yoff + o] = (1.0f - lh) * top + lh * bot;
}

/* dx (P, H, W) from dy (P, 2H, 2W): input (h, w) is read by output rows 2h-1 .. 2h+2 and
 * columns 2w-1 .. 2w+2 at most; each sums its <= 16 contributions in that fixed order. */
__kernel void upsample2x_backward(__global const float *dy, int dyoff, __global float *dx,
                                  int dxoff, int planes, int H, int W, int accumulate) {
  int Ho = 2 * H, Wo = 2 * W;
  int e = GID0;
  if (e >= planes * H * W) return;
  int p, h, w;
  SPLIT3(e, H, W, p, h, w);
  __global const float *dyp = dy + dyoff + p * Ho * Wo;
  float acc = 0.0f;
  for (int a = 0; a < 4; a++) {
    int oh = 2 * h - 1 + a;
    if (oh < 0 || oh >= Ho) continue;
    float wh = up2_weight(oh, h, H);
    if (wh == 0.0f) continue;
    float row = 0.0f;
    for (int b = 0; b < 4; b++) {
      int ow = 2 * w - 1 + b;
      if (ow < 0 || ow >= Wo) continue;
      float ww = up2_weight(ow, w, W);
      if (ww != 0.0f) row += ww * dyp[oh * Wo + ow];
    }
    acc += wh * row;
  }
  STORE(dx, dxoff + e, acc, accumulate);
}
