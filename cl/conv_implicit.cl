/* Implicit-GEMM convolution kernels for stride 1, float32 NCHW (host side:
 * src/ops/conv_implicit.c). No im2col buffer: each work-item keeps a register tile of float16
 * accumulators and reads the input planes directly, one 16-wide row segment per tap.
 *
 *   conv_implicit_forward   out[n,k,oh,ow] (=/+=) Σ_{c,r,s} in[n,c,oh−pad+r·dil, ow−pad+s·dil]
 *                           · wt(k,c,r,s), wt(k,c,r,s) = w[woff + k·WK + c·wc + r·wr + s·ws],
 *                           then + bias[k] (has_bias) as it stores: the same two roundings as
 *                           a separate bias pass, without the pass.
 *                           The weight strides let the same kernel run the convolution (WK =
 *                           C·R·S, wc = R·S, wr = S, ws = 1) and its backward data pass (dy
 *                           convolved with the flipped, channel-transposed weights: negative
 *                           wr, ws and padding dil·(R−1) − pad rows, dil·(S−1) − pad columns,
 *                           which may be negative). Here pad is padh (rows), padw (columns).
 *   conv_implicit_backward_weight
 *                           dw[k,c,r,s] += Σ dy[n,k,oh,ow] · x[n,c,oh−pad+r·dil, ow−pad+s·dil]
 *                           over the rows q = n·Ho + oh in [q0, q1) and all ow (the host
 *                           launches it once per band of rows, so that a band's x and dy stay
 *                           in cache while every work-item reads them; each launch adds to dw
 *                           in a fixed order: deterministic, no atomics).
 *
 * PoCL runs a work-group's work-items one after the other and does not vectorise across them
 * when each has inner loops, so the vector width is explicit: 16 consecutive output columns of
 * one row per float16. Taps outside the input plane read as zero; columns past the output
 * width are computed on zeros and never stored. */

/* Forward: output channels per work-item (KT accumulators of 16 columns), and the weight
 * stride between consecutive output channels, fixed at build time so that each weight
 * broadcast addresses memory at a constant displacement. */
#ifndef KT
#define KT 16
#endif
#ifndef WK
#define WK 1
#endif

/* Backward weight: a work-item owns KB output channels × CB input channels × TR kernel rows ×
 * TS kernel columns, KB·CB·TR·TS float16 accumulators. */
#ifndef KB
#define KB 2
#endif
#ifndef CB
#define CB 1
#endif
#ifndef TR
#define TR 3
#endif
#ifndef TS
#define TS 3
#endif

/* CPU builds (-DCPU_PREFETCH=1, clang) prefetch the row streams of the backward-weight
 * kernel PREFETCH_AHEAD floats ahead: the hardware prefetcher alone leaves it waiting on L2. */
#ifndef PREFETCH_AHEAD
#define PREFETCH_AHEAD 64
#endif
#if defined(CPU_PREFETCH) && CPU_PREFETCH && defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((p), 0, 3)
#else
#define PREFETCH(p) ((void)0)
#endif

/* Helpers must inline: their accumulator arrays only live in registers once they do. */
#define INLINE static inline __attribute__((always_inline))

/* buf[row + wi0 .. + 16), zero where the column wi0 + j falls outside [0, W); the tensor
 * holding the row spans buf[lo, hi). `inside` (a constant where this is inlined) says the
 * caller knows the window lies within the row. A window crossing the border of the row is
 * read whole when it stays inside the tensor (the neighbouring row's values are masked
 * out), else one column at a time. */
INLINE float16 load_row16(__global const float *buf, int row, int wi0, int W, int lo, int hi,
                          int inside) {
  int e = row + wi0;
  if (inside || (wi0 >= 0 && wi0 + 16 <= W)) return vload16(0, buf + e);
  if (e >= lo && e + 16 <= hi) {
    int16 col = (int16)wi0 + (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    return select((float16)0.0f, vload16(0, buf + e), col >= 0 && col < (int16)W);
  }
  float t[16];
  for (int j = 0; j < 16; j++) t[j] = wi0 + j >= 0 && wi0 + j < W ? buf[e + j] : 0.0f;
  return vload16(0, t);
}

/* acc[kk] += Σ_{c,r,s} in[c, oh − padh + r·dil, ow0 − padw + s·dil + 0..16) · wt(kk, c, r, s)
 * for one image's planes in[base ..] (C, H, W), the tensor spanning in[lo, hi), and
 * wp = &wt(0, 0, 0, 0). */
INLINE void forward_tile(float16 *acc, __global const float *in, int base, int lo, int hi,
                         __global const float *wp, int C, int H, int W, int R, int Ssz, int oh,
                         int ow0, int padh, int padw, int dil, int wc, int wr, int ws,
                         int inside) {
  for (int c = 0; c < C; c++) {
    __global const float *wc0 = wp + c * wc;
    for (int r = 0; r < R; r++) {
      int hi_ = oh - padh + r * dil;
      if (hi_ < 0 || hi_ >= H) continue;
      int row = base + (c * H + hi_) * W;
      __global const float *wr0 = wc0 + r * wr;
      for (int s = 0; s < Ssz; s++) {
        float16 v = load_row16(in, row, ow0 - padw + s * dil, W, lo, hi, inside);
        __global const float *wq = wr0 + s * ws;
#pragma unroll
        for (int kk = 0; kk < KT; kk++) acc[kk] = fma(v, (float16)wq[kk * WK], acc[kk]);
      }
    }
  }
}

/* out[n, k0 .. k0+KT, oh, ow0 .. ow0+16): see the file comment. in (N, C, H, W),
 * out (N, K, Ho, Wo), K >= KT. One work-item per (n, k-tile, oh, 16-column segment); the
 * k-tile index runs inside oh (neighbouring work-items share input rows) unless kt_outer
 * (they share weights). When KT does not divide K the last k-tile starts at K − KT,
 * overlapping its neighbour, and stores only the channels the neighbour does not. */
__kernel void conv_implicit_forward(__global const float *in, int inoff, __global const float *w,
                                    int woff, __global float *out, int outoff, int N, int C,
                                    int H, int W, int K, int R, int Ssz, int Ho, int Wo, int padh,
                                    int padw, int dil, int wc, int wr, int ws, int accumulate,
                                    int kt_outer, __global const float *bias, int boff,
                                    int has_bias) {
  int nseg = (Wo + 15) / 16, nkt = (K + KT - 1) / KT;
  int i = GID0;
  if (i >= N * Ho * nkt * nseg) return;
  int t = i / nseg, seg = i - t * nseg;
  int n, kt, oh;
  if (kt_outer) {
    int t2 = t / Ho;
    oh = t - t2 * Ho;
    n = t2 / nkt;
    kt = t2 - n * nkt;
  } else {
    int t2 = t / nkt;
    kt = t - t2 * nkt;
    n = t2 / Ho;
    oh = t2 - n * Ho;
  }
  int ow0 = seg * 16, k0 = min(kt * KT, K - KT), kskip = kt * KT - k0;
  float16 acc[KT];
#pragma unroll
  for (int kk = 0; kk < KT; kk++) acc[kk] = (float16)0.0f;
  int base = inoff + n * C * H * W, lo = inoff, hi = inoff + N * C * H * W;
  __global const float *wp = w + woff + k0 * WK;
  if (ow0 - padw >= 0 && ow0 + 16 - padw + (Ssz - 1) * dil <= W)
    forward_tile(acc, in, base, lo, hi, wp, C, H, W, R, Ssz, oh, ow0, padh, padw, dil, wc, wr,
                 ws, 1);
  else
    forward_tile(acc, in, base, lo, hi, wp, C, H, W, R, Ssz, oh, ow0, padh, padw, dil, wc, wr,
                 ws, 0);
  int nw = min(16, Wo - ow0);
#pragma unroll
  for (int kk = 0; kk < KT; kk++) {
    if (kk < kskip) continue;
    __global float *o = out + outoff + ((n * K + k0 + kk) * Ho + oh) * Wo + ow0;
    float bk = has_bias ? bias[boff + k0 + kk] : 0.0f;
    if (nw == 16) {
      float16 v = accumulate ? vload16(0, o) + acc[kk] : acc[kk];
      vstore16(has_bias ? v + (float16)bk : v, 0, o);
    } else {
      float tt[16];
      vstore16(acc[kk], 0, tt);
      for (int j = 0; j < nw; j++) {
        float v = accumulate ? o[j] + tt[j] : tt[j];
        o[j] = has_bias ? v + bk : v;
      }
    }
  }
}

/* acc[a][b][r][s] += dy[k0 + a, oh, ow0 + 0..16) · x[c0 + b, oh − pad + (r0 + r)·dil,
 * ow0 − pad + (s0 + s)·dil + 0..16) for the segments [seg0, seg1) of one row of image n:
 * dyrow = index of dy[n, k0, oh, 0], xbase = index of x[n, c0, 0, 0]; the tensors span
 * dy[dlo, dhi), x[xlo, xhi). */
INLINE void weight_segments(float16 (*acc)[CB][TR][TS], __global const float *dy, int dyrow,
                            int dlo, int dhi, __global const float *x, int xbase, int xlo,
                            int xhi, int H, int W, int Ho, int Wo, int oh, int r0, int s0,
                            int pad, int dil, int seg0, int seg1, int inside) {
  for (int seg = seg0; seg < seg1; seg++) {
    int ow0 = seg * 16;
    float16 d[KB];
#pragma unroll
    for (int a = 0; a < KB; a++)
      d[a] = load_row16(dy, dyrow + a * Ho * Wo, ow0, Wo, dlo, dhi, inside);
#pragma unroll
    for (int r = 0; r < TR; r++) {
      int hi_ = oh - pad + (r0 + r) * dil;
      if (hi_ < 0 || hi_ >= H) continue;
#pragma unroll
      for (int b = 0; b < CB; b++) {
        int row = xbase + (b * H + hi_) * W;
#pragma unroll
        for (int s = 0; s < TS; s++) {
          float16 v = load_row16(x, row, ow0 - pad + (s0 + s) * dil, W, xlo, xhi, inside);
#pragma unroll
          for (int a = 0; a < KB; a++) acc[a][b][r][s] = fma(d[a], v, acc[a][b][r][s]);
        }
      }
    }
  }
}

/* The same without bounds checks on the index, for the segments [seg0, seg1) whose loads stay
 * inside the tensors: dyp = &dy[n, k0, oh, 0] (channels dys apart),
 * xp = &x[n, c0, oh − pad + r0·dil, s0·dil − pad] (channels xcs, kernel rows xrs apart).
 * masked (a constant where inlined): lanes outside dm (dy) and xm[s] (x, tap s) read as zero,
 * for a segment that crosses a row border. Only the kernel rows whose bit is set in rows are
 * read (the others fall outside x). */
INLINE void weight_run(float16 (*acc)[CB][TR][TS], __global const float *dyp, int dys,
                       __global const float *xp, int xcs, int xrs, int dil, int seg0, int seg1,
                       int masked, int16 dm, const int16 *xm, int rows) {
  for (int ow0 = seg0 * 16; ow0 < seg1 * 16; ow0 += 16) {
    float16 d[KB];
#pragma unroll
    for (int a = 0; a < KB; a++) {
      d[a] = vload16(0, dyp + a * dys + ow0);
      PREFETCH(dyp + a * dys + ow0 + PREFETCH_AHEAD);
      if (masked) d[a] = select((float16)0.0f, d[a], dm);
    }
#pragma unroll
    for (int r = 0; r < TR; r++) {
      if (!((rows >> r) & 1)) continue;
#pragma unroll
      for (int b = 0; b < CB; b++)
#pragma unroll
        for (int s = 0; s < TS; s++) {
          float16 v = vload16(0, xp + b * xcs + r * xrs + s * dil + ow0);
          if (r == TR - 1 && s == 0) PREFETCH(xp + b * xcs + r * xrs + ow0 + PREFETCH_AHEAD);
          if (masked) v = select((float16)0.0f, v, xm[s]);
#pragma unroll
          for (int a = 0; a < KB; a++) acc[a][b][r][s] = fma(d[a], v, acc[a][b][r][s]);
        }
    }
  }
}

/* Lanes of the 16-column segment at ow0 that fall inside a row of W columns, for the window
 * offset off (-1 lanes inside, 0 outside). */
INLINE int16 lanes_inside(int ow0, int off, int W) {
  int16 col = (int16)(ow0 + off) + (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  return col >= (int16)0 && col < (int16)W;
}

/* One output row (n, oh) of the backward weight with every check: kernel rows outside x
 * skipped, the masked border segments only where their loads stay inside the tensors, else
 * the checked path for the whole row. Arguments as computed in the kernel below. */
INLINE void weight_checked_row(float16 (*acc)[CB][TR][TS], __global const float *dy,
                               __global const float *x, int n, int oh, int K, int C, int H,
                               int W, int Ho, int Wo, int k0, int c0, int r0, int s0, int pad,
                               int dil, int dyoff, int xoff, int dlo, int dhi, int xlo, int xhi,
                               int nseg, int lo, int hi, int masks_ok, int sofs, int xmin,
                               int xmax, int dmax, int16 dml, int16 dmr, const int16 *xml,
                               const int16 *xmr) {
  int dyrow = dyoff + ((n * K + k0) * Ho + oh) * Wo;
  int xbase = xoff + (n * C + c0) * H * W;
  int h0 = oh - pad + r0 * dil;
  int rows = 0;
#pragma unroll
  for (int r = 0; r < TR; r++) rows |= (h0 + r * dil >= 0 && h0 + r * dil < H) << r;
  int rfirst = rows ? 31 - clz(rows & -rows) : 0, rlast = rows ? 31 - clz(rows) : 0;
  int xrow0 = xbase + (h0 + rfirst * dil) * W;               /* lowest row read */
  int xrow1 = xbase + ((CB - 1) * H + h0 + rlast * dil) * W; /* highest row read */
  int dyrow1 = dyrow + (KB - 1) * Ho * Wo;
  if (masks_ok && xrow0 + xmin >= xlo && xrow1 + xmax <= xhi && dyrow1 + dmax <= dhi) {
    __global const float *dyp = dy + dyrow, *xp = x + xbase + h0 * W + sofs;
    int xcs = H * W, xrs = dil * W, dys = Ho * Wo;
    weight_run(acc, dyp, dys, xp, xcs, xrs, dil, 0, lo, 1, dml, xml, rows);
    weight_run(acc, dyp, dys, xp, xcs, xrs, dil, lo, hi, 0, dml, xml, rows);
    weight_run(acc, dyp, dys, xp, xcs, xrs, dil, hi, nseg, 1, dmr, xmr, rows);
  } else {
    weight_segments(acc, dy, dyrow, dlo, dhi, x, xbase, xlo, xhi, H, W, Ho, Wo, oh, r0, s0,
                    pad, dil, 0, nseg, 0);
  }
}

/* dw[k0 .. +KB, c0 .. +CB, r0 .. +TR, s0 .. +TS] += the band [q0, q1) of rows q = n·Ho + oh:
 * see the file comment. x (N, C, H, W), dy (N, K, Ho, Wo), dw (K, C, R, S), with KB <= K,
 * CB <= C, TR <= R, TS <= S. One work-item per tile; a ragged last tile along any axis starts
 * at (size − tile), overlapping its neighbour, and adds only what the neighbour does not.
 * Lanes past the end of a dy row are zero, so the x values they meet do not count (as long as
 * x is finite). */
__kernel void conv_implicit_backward_weight(__global const float *x, int xoff,
                                            __global const float *dy, int dyoff,
                                            __global float *dw, int dwoff, int N, int C, int H,
                                            int W, int K, int R, int Ssz, int Ho, int Wo,
                                            int pad, int dil, int q0, int q1) {
  int nkt = (K + KB - 1) / KB, nct = (C + CB - 1) / CB;
  int nrt = (R + TR - 1) / TR, nst = (Ssz + TS - 1) / TS;
  int i = GID0;
  if (i >= nkt * nct * nrt * nst) return;
  int t = i / nst, st = i - t * nst;
  int t2 = t / nrt, rt = t - t2 * nrt;
  int kt = t2 / nct, ct = t2 - kt * nct;
  int k0 = min(kt * KB, K - KB), c0 = min(ct * CB, C - CB);
  int r0 = min(rt * TR, R - TR), s0 = min(st * TS, Ssz - TS);
  float16 acc[KB][CB][TR][TS];
#pragma unroll
  for (int a = 0; a < KB; a++)
#pragma unroll
    for (int b = 0; b < CB; b++)
#pragma unroll
      for (int r = 0; r < TR; r++)
#pragma unroll
        for (int s = 0; s < TS; s++) acc[a][b][r][s] = (float16)0.0f;
  /* segments [lo, hi) need no border handling: every x window inside the row, dy full */
  int nseg = (Wo + 15) / 16;
  int lo = clamp((pad - s0 * dil + 15) / 16, 0, nseg);
  int last = min(W + pad - (s0 + TS - 1) * dil, Wo) - 16; /* largest interior ow0 */
  int hi = last < 0 ? lo : clamp(last / 16 + 1, lo, nseg);
  int dlo = dyoff, dhi = dyoff + N * K * Ho * Wo, xlo = xoff, xhi = xoff + N * C * H * W;
  /* At most one border segment on each side (seg 0 when lo == 1, seg nseg − 1 when
   * hi == nseg − 1) runs with lane masks computed here once; anything else, and rows where a
   * masked load would leave the tensor, take the checked path. */
  int sofs = s0 * dil - pad, owl = 0, owr = (nseg - 1) * 16;
  int masks_ok = lo <= 1 && hi >= nseg - 1;
  int16 dml = lanes_inside(owl, 0, Wo), dmr = lanes_inside(owr, 0, Wo), xml[TS], xmr[TS];
#pragma unroll
  for (int s = 0; s < TS; s++) {
    xml[s] = lanes_inside(owl, sofs + s * dil, W);
    xmr[s] = lanes_inside(owr, sofs + s * dil, W);
  }
  int xmin = sofs + (lo == 1 ? owl : owr);                 /* reach of the masked loads */
  int xmax = sofs + (TS - 1) * dil + (hi == nseg - 1 ? owr : owl) + 16;
  int dmax = (hi == nseg - 1 ? owr : owl) + 16;
  int xcs = H * W, xrs = dil * W, dys = Ho * Wo;
  /* Steady rows: every kernel row of the tile inside x with a row to spare above and below,
   * and a dy row below, so that the masked loads (reaching less than a row past either end)
   * stay inside the tensors without checks; they advance by pointer increments. */
  int steady = masks_ok && -xmin <= W && xmax - W <= W && Wo >= 16;
  int oh_a = max(pad - r0 * dil + 1, 0);
  int oh_b = min(H - 2 - (TR - 1) * dil + pad - r0 * dil, Ho - 2) + 1;
  for (int q = q0; q < q1;) {
    int n = q / Ho, oh = q - n * Ho, oh_end = min(Ho, q1 - n * Ho);
    int sa = steady ? clamp(oh_a, oh, oh_end) : oh_end, sb = steady ? clamp(oh_b, sa, oh_end) : oh_end;
    for (; oh < sa; oh++)
      weight_checked_row(acc, dy, x, n, oh, K, C, H, W, Ho, Wo, k0, c0, r0, s0, pad, dil,
                         dyoff, xoff, dlo, dhi, xlo, xhi, nseg, lo, hi, masks_ok, sofs, xmin,
                         xmax, dmax, dml, dmr, xml, xmr);
    __global const float *dyp = dy + dyoff + ((n * K + k0) * Ho + oh) * Wo;
    __global const float *xp = x + xoff + (n * C + c0) * H * W + (oh - pad + r0 * dil) * W + sofs;
    for (; oh < sb; oh++, dyp += Wo, xp += W) {
      weight_run(acc, dyp, dys, xp, xcs, xrs, dil, 0, lo, 1, dml, xml, (1 << TR) - 1);
      weight_run(acc, dyp, dys, xp, xcs, xrs, dil, lo, hi, 0, dml, xml, (1 << TR) - 1);
      weight_run(acc, dyp, dys, xp, xcs, xrs, dil, hi, nseg, 1, dmr, xmr, (1 << TR) - 1);
    }
    for (; oh < oh_end; oh++)
      weight_checked_row(acc, dy, x, n, oh, K, C, H, W, Ho, Wo, k0, c0, r0, s0, pad, dil,
                         dyoff, xoff, dlo, dhi, xlo, xhi, nseg, lo, hi, masks_ok, sofs, xmin,
                         xmax, dmax, dml, dmr, xml, xmr);
    q = n * Ho + oh_end;
  }
  /* skip what the previous tile along each axis already covers */
  int ka = kt * KB - k0, cb = ct * CB - c0, rb = rt * TR - r0, sb = st * TS - s0;
#pragma unroll
  for (int a = 0; a < KB; a++)
#pragma unroll
    for (int b = 0; b < CB; b++)
#pragma unroll
      for (int r = 0; r < TR; r++)
#pragma unroll
        for (int s = 0; s < TS; s++) {
          if (a < ka || b < cb || r < rb || s < sb) continue;
          /* lane sum through private memory: oclgrind 21.10's uninitialised-value check
           * loses track of (or crashes on) swizzles such as v.lo + v.hi */
          float h[16], sum = 0.0f;
          vstore16(acc[a][b][r][s], 0, h);
          for (int j = 0; j < 16; j++) sum += h[j];
          dw[dwoff + (((k0 + a) * C + c0 + b) * R + r0 + r) * Ssz + s0 + s] += sum;
        }
}
