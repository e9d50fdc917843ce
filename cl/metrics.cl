/* Device accumulation for the evaluation metrics (include/clmtl/metrics.h): the confusion
 * matrix of a classification task (32-bit unsigned counts, atomic_inc: the counts do not
 * depend on the order of the increments) and the per-batch sums of a regression task (two
 * stages with a fixed order: work-item grid strides, a binary tree per work-group, then one
 * work-group over the partials; no float atomics). The host turns the sums into metrics.
 * Sum buffers are 32-bit words: float sums are stored with as_uint, counts as uint. */

/* Work-group size of both regression stages; a power of two. The host launches exactly this
 * many work-items per group, after checking the built kernels' limit (rebuilding smaller when
 * needed). */
#ifndef METRICS_WG
#define METRICS_WG 256
#endif

/* Words per regression record: Σ|e|, Σe², Σ|e|/|t| (floats), then valid elements, elements
 * with t == 0, valid pixels (uints), then two unused words. Matches metrics.c. */
#define METRICS_REC 8

/* counts (K*K + 2): [label*K + pred] for labels in [0, K), then [K*K] invalid labels, then
 * [K*K + 1] ignored labels. logits (N, K, H, W) at loff, labels (N, 1, H, W) at laboff;
 * npix = N*H*W, hw = H*W. One work-item per pixel. */
__kernel void metrics_confusion(__global const float *logits, int loff,
                                __global const float *labels, int laboff, int npix, int k,
                                int hw, float ignore, __global uint *counts, int coff) {
  int p = GID0;
  if (p >= npix) return;
  float lab = labels[laboff + p];
  if (lab == ignore) {
    atomic_inc(&counts[coff + k * k + 1]);
    return;
  }
  if (!(lab >= 0.0f && lab < (float)k && lab == floor(lab))) {
    atomic_inc(&counts[coff + k * k]);
    return;
  }
  int img = p / hw;
  int s = p - img * hw;
  int base = loff + img * k * hw + s;
  float best = logits[base];
  int arg = 0;
  for (int c = 1; c < k; c++) {
    float v = logits[base + c * hw];
    if (v > best || (isnan(best) && !isnan(v))) {
      best = v;
      arg = c;
    }
  }
  atomic_inc(&counts[coff + (int)lab * k + arg]);
}

/* Folds the three float and three uint arrays of the group into index 0. */
void metrics_tree(__local float *a, __local float *b, __local float *c, __local uint *d,
                  __local uint *e, __local uint *f, int lid) {
  for (int s = METRICS_WG / 2; s > 0; s >>= 1) {
    if (lid < s) {
      a[lid] += a[lid + s];
      b[lid] += b[lid + s];
      c[lid] += c[lid + s];
      d[lid] += d[lid + s];
      e[lid] += e[lid + s];
      f[lid] += f[lid + s];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
}

/* Stage 1: one METRICS_REC record per work-group into part at poff + group*METRICS_REC.
 * pred, target (N, C, H, W); mask (N, 1, H, W) read only when has_mask (nonzero = valid).
 * npix = N*H*W, hw = H*W. Work-item g visits pixels g, g + global size, ... in order. */
__kernel void metrics_regress_partial(__global const float *pred, int proff,
                                      __global const float *target, int toff,
                                      __global const float *mask, int moff, int has_mask,
                                      int npix, int c, int hw, __global uint *part, int poff) {
  __local float sa[METRICS_WG], ss[METRICS_WG], sr[METRICS_WG];
  __local uint ne[METRICS_WG], nz[METRICS_WG], np[METRICS_WG];
  int lid = (int)get_local_id(0);
  int stride = (int)get_global_size(0);
  float acc_a = 0.0f, acc_s = 0.0f, acc_r = 0.0f;
  uint cnt_e = 0u, cnt_z = 0u, cnt_p = 0u;
  for (int p = GID0; p < npix; p += stride) {
    if (has_mask && mask[moff + p] == 0.0f) continue;
    int img = p / hw;
    int s = p - img * hw;
    int base = img * c * hw + s;
    for (int ch = 0; ch < c; ch++) {
      float t = target[toff + base + ch * hw];
      float d = pred[proff + base + ch * hw] - t;
      float a = fabs(d);
      acc_a += a;
      acc_s += d * d;
      if (t != 0.0f)
        acc_r += a / fabs(t);
      else
        cnt_z++;
    }
    cnt_e += (uint)c;
    cnt_p++;
  }
  sa[lid] = acc_a;
  ss[lid] = acc_s;
  sr[lid] = acc_r;
  ne[lid] = cnt_e;
  nz[lid] = cnt_z;
  np[lid] = cnt_p;
  barrier(CLK_LOCAL_MEM_FENCE);
  metrics_tree(sa, ss, sr, ne, nz, np, lid);
  if (lid == 0) {
    int o = poff + (int)get_group_id(0) * METRICS_REC;
    part[o + 0] = as_uint(sa[0]);
    part[o + 1] = as_uint(ss[0]);
    part[o + 2] = as_uint(sr[0]);
    part[o + 3] = ne[0];
    part[o + 4] = nz[0];
    part[o + 5] = np[0];
    part[o + 6] = 0u;
    part[o + 7] = 0u;
  }
}

/* Stage 2, one work-group: the batch record at out + ooff = the sum of the `groups` stage-1
 * records at part + poff (work-item i sums records i, i + METRICS_WG, ... in order). */
__kernel void metrics_regress_final(__global const uint *part, int poff, int groups,
                                    __global uint *out, int ooff) {
  __local float sa[METRICS_WG], ss[METRICS_WG], sr[METRICS_WG];
  __local uint ne[METRICS_WG], nz[METRICS_WG], np[METRICS_WG];
  int lid = (int)get_local_id(0);
  float acc_a = 0.0f, acc_s = 0.0f, acc_r = 0.0f;
  uint cnt_e = 0u, cnt_z = 0u, cnt_p = 0u;
  for (int g = lid; g < groups; g += METRICS_WG) {
    int o = poff + g * METRICS_REC;
    acc_a += as_float(part[o + 0]);
    acc_s += as_float(part[o + 1]);
    acc_r += as_float(part[o + 2]);
    cnt_e += part[o + 3];
    cnt_z += part[o + 4];
    cnt_p += part[o + 5];
  }
  sa[lid] = acc_a;
  ss[lid] = acc_s;
  sr[lid] = acc_r;
  ne[lid] = cnt_e;
  nz[lid] = cnt_z;
  np[lid] = cnt_p;
  barrier(CLK_LOCAL_MEM_FENCE);
  metrics_tree(sa, ss, sr, ne, nz, np, lid);
  if (lid == 0) {
    out[ooff + 0] = as_uint(sa[0]);
    out[ooff + 1] = as_uint(ss[0]);
    out[ooff + 2] = as_uint(sr[0]);
    out[ooff + 3] = ne[0];
    out[ooff + 4] = nz[0];
    out[ooff + 5] = np[0];
    out[ooff + 6] = 0u;
    out[ooff + 7] = 0u;
  }
}
