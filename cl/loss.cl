/* Task losses and their gradients: softmax cross-entropy with an ignore label, L1 and L2
 * regression with an optional validity mask, and their heteroscedastic forms (Laplace and
 * Gaussian negative log-likelihood with a predicted log-variance). The forward is fused with its reduction: each
 * work-group of xent_reduce / regression_reduce sums per-pixel losses and valid counts of
 * 16-pixel chunks (float16 vectors) into one partial pair, and loss_final folds the partials
 * into loss = sum / max(count, 1) and count; no per-pixel buffer is written. The backward
 * kernels read the gradient seed and the count from device scalars: scale = seed[0] /
 * max(count[0], 1). Labels are floats holding exact integers. Index arithmetic avoids i % n
 * beside i / n (oclgrind 21.10 cannot run the LLVM `freeze` that pair becomes). */

#define LANES 16 /* pixels per chunk: one float16 */

/* The range the heteroscedastic losses clamp the predicted log-variance s to: e^{15} and
 * e^{-15} keep e^{-s}·d² finite in float for |d| up to about 1e16. */
#ifndef HETERO_S_MIN
#define HETERO_S_MIN (-15.0f)
#endif
#ifndef HETERO_S_MAX
#define HETERO_S_MAX (15.0f)
#endif

/* Logit noise (Kendall & Gal 2017, classification), in its analytic form: logits f with
 * Gaussian noise of variance σ² = e^s per pixel, the expected softmax approximated by the
 * probit-style (mean-field) rule E[softmax(f + σε)] ≈ softmax(κ f), κ = (1 + π σ² / 8)^{-1/2}.
 * s clamped as above. */
float logit_noise_kappa(float s) {
  return rsqrt(1.0f + 0.39269908f * exp(clamp(s, HETERO_S_MIN, HETERO_S_MAX)));
}

/* The logit scale of pixel t: kmode 0, logit noise, κ(s[t]) as above; kmode 1, the temperature
 * of Kendall et al.'s exact classification likelihood softmax(f / σ²), κ = e^{-s}, s = log σ²
 * one value s[0] for every pixel (clamped as above). */
float logit_scale(__global const float *s, int soff, int t, int kmode) {
  return kmode ? exp(-clamp(s[soff], HETERO_S_MIN, HETERO_S_MAX))
               : logit_noise_kappa(s[soff + t]);
}

#ifdef LOSS_WG /* the fused forward kernels: built with -DLOSS_WG=<work-group size> */

/* Cross-entropy of 16 pixels: logits z (K planes HW apart), labels lab. Pixels labelled
 * `ignore` give 0 and are not counted; a label that is neither ignore nor an integer in [0, K)
 * gives NaN. */
float16 xent16(__global const float *z, int K, int HW, float16 lab, int ignore, float16 *valid) {
  float16 m = vload16(0, z);
  for (int k = 1; k < K; k++) m = fmax(m, vload16(0, z + k * HW));
  float16 s = (float16)(0.0f), zl = (float16)(0.0f);
  for (int k = 0; k < K; k++) {
    float16 v = vload16(0, z + k * HW);
    s += exp(v - m);
    zl = select(zl, v, lab == (float16)((float)k));
  }
  int16 counted = lab != (float16)((float)ignore);
  int16 in_range = (lab >= (float16)(0.0f)) & (lab < (float16)((float)K)) & (floor(lab) == lab);
  float16 out = select((float16)(NAN), log(s) - (zl - m), in_range);
  *valid = select((float16)(0.0f), (float16)(1.0f), counted);
  return select((float16)(0.0f), out, counted);
}

/* Same for one pixel (chunk tails). */
float xent1(__global const float *z, int K, int HW, float lab, int ignore, float *valid) {
  *valid = lab != (float)ignore ? 1.0f : 0.0f;
  if (lab == (float)ignore) return 0.0f;
  float m = z[0];
  for (int k = 1; k < K; k++) m = fmax(m, z[k * HW]);
  float s = 0.0f;
  for (int k = 0; k < K; k++) s += exp(z[k * HW] - m);
  if (!(lab >= 0.0f && lab < (float)K && floor(lab) == lab)) return NAN;
  return log(s) - (z[(int)lab * HW] - m);
}

/* The chunks of [0, chunks) work-item g of the grid takes, from the returned one up to *end
 * in steps of *step (the caller sets *end = chunks, *step = the grid size): with per_item > 0
 * (CPUs) the contiguous run [g·per_item, (g + 1)·per_item), which the hardware prefetcher
 * follows; with 0 (GPUs) g, g + grid, ..., so that neighbouring work-items read neighbouring
 * chunks. Either way the order of each work-item's sum is fixed. */
int first_chunk(int chunks, int per_item, int *end, int *step) {
  int g = (int)GID0;
  if (!per_item) return g;
  *step = 1;
  *end = min(g * per_item + per_item, chunks);
  return g * per_item;
}

/* Writes the group's sums of acc and cnt to part[group] and part[groups + group]. */
void write_partials(float acc, float cnt, __local float *ls, __local float *lc,
                    __global float *part, int poff) {
  int lid = (int)get_local_id(0), grp = (int)get_group_id(0), groups = (int)get_num_groups(0);
  ls[lid] = acc;
  local_tree_sum(ls, lid, LOSS_WG);
  lc[lid] = cnt;
  local_tree_sum(lc, lid, LOSS_WG);
  if (lid == 0) {
    part[poff + grp] = ls[0];
    part[poff + groups + grp] = lc[0];
  }
}

/* Partial sums of the cross-entropy of logits (N, K, HW) against labels (N, HW), and of the
 * valid-pixel count, over chunks of 16 pixels of one image (the last chunk of an image may be
 * shorter), shared out by first_chunk. */
__kernel void xent_reduce(__global const float *logits, int loff, __global const float *labels,
                          int laboff, int N, int K, int HW, int ignore, int per_item,
                          __global float *part, int poff) {
  __local float ls[LOSS_WG], lc[LOSS_WG];
  int per_image = (HW + LANES - 1) / LANES, chunks = N * per_image;
  float16 acc = (float16)(0.0f), cnt = (float16)(0.0f);
  float acc1 = 0.0f, cnt1 = 0.0f;
  int t1 = chunks, step = (int)get_global_size(0);
  for (int t = first_chunk(chunks, per_item, &t1, &step); t < t1; t += step) {
    int n = t / per_image, j0 = (t - n * per_image) * LANES;
    __global const float *z = logits + loff + n * K * HW + j0;
    __global const float *lab = labels + laboff + n * HW + j0;
    if (j0 + LANES <= HW) {
      float16 valid;
      acc += xent16(z, K, HW, vload16(0, lab), ignore, &valid);
      cnt += valid;
    } else {
      for (int j = 0; j < HW - j0; j++) {
        float valid;
        acc1 += xent1(z + j, K, HW, lab[j], ignore, &valid);
        cnt1 += valid;
      }
    }
  }
  write_partials(sum16(acc) + acc1, sum16(cnt) + cnt1, ls, lc, part, poff);
}

#endif /* LOSS_WG */

/* dlogits (N, K, HW) = scale * (softmax - onehot(label)); 0 on ignored pixels and on pixels
 * with an invalid label (the forward already reports those as NaN; the gradient stays finite
 * so a skipped task cannot poison the weights). One work-item per chunk of 16 pixels of one
 * image (float16 lanes; the last chunk of an image, when shorter, pixel by pixel). */
__kernel void xent_backward(__global const float *logits, int loff, __global const float *labels,
                            int laboff, __global const float *count, int coff,
                            __global const float *seed, int soff, __global float *dlogits,
                            int doff, int N, int K, int HW, int ignore, int accumulate) {
  int per_image = (HW + LANES - 1) / LANES;
  int t = GID0;
  if (t >= N * per_image) return;
  int n = t / per_image, j0 = (t - n * per_image) * LANES;
  float scale = seed[soff] / fmax(count[coff], 1.0f);
  __global const float *z = logits + loff + n * K * HW + j0;
  __global const float *lab = labels + laboff + n * HW + j0;
  __global float *dz = dlogits + doff + n * K * HW + j0;
  if (j0 + LANES <= HW) {
    float16 l = vload16(0, lab);
    int16 valid = (l != (float16)((float)ignore)) & (l >= (float16)(0.0f)) &
                  (l < (float16)((float)K)) & (floor(l) == l);
    float16 m = vload16(0, z);
    for (int k = 1; k < K; k++) m = fmax(m, vload16(0, z + k * HW));
    float16 s = (float16)(0.0f);
    for (int k = 0; k < K; k++) s += exp(vload16(0, z + k * HW) - m);
    float16 f = select((float16)(0.0f), scale / s, valid); /* 0 on invalid pixels */
    for (int k = 0; k < K; k++) {
      float16 p = exp(vload16(0, z + k * HW) - m) * f;
      float16 g = p - select((float16)(0.0f), (float16)(scale), valid & (l == (float16)((float)k)));
      if (accumulate) g += vload16(0, dz + k * HW);
      vstore16(g, 0, dz + k * HW);
    }
    return;
  }
  for (int j = 0; j < HW - j0; j++) {
    float lj = lab[j];
    int valid = lj != (float)ignore && lj >= 0.0f && lj < (float)K && floor(lj) == lj;
    float m = z[j];
    for (int k = 1; k < K; k++) m = fmax(m, z[k * HW + j]);
    float s = 0.0f;
    for (int k = 0; k < K; k++) s += exp(z[k * HW + j] - m);
    float f = valid ? scale / s : 0.0f;
    for (int k = 0; k < K; k++) {
      float g = exp(z[k * HW + j] - m) * f - (valid && (int)lj == k ? scale : 0.0f);
      dz[k * HW + j] = accumulate ? dz[k * HW + j] + g : g;
    }
  }
}

#ifdef LOSS_WG

/* Partial sums of |d| (kind 1) or d² (kind 2), d = pred - target over (N, C, HW), and of
 * the valid-element count; mask (N, HW), when has_mask, zeroes and uncounts elements where it is
 * 0 (broadcast over C). Chunks of 16 elements of one (n, c) plane, as in xent_reduce. */
__kernel void regression_reduce(__global const float *pred, int poff,
                                __global const float *target, int toff,
                                __global const float *mask, int moff, int has_mask, int N, int C,
                                int HW, int kind, int per_item, __global float *part,
                                int partoff) {
  __local float ls[LOSS_WG], lc[LOSS_WG];
  int per_plane = (HW + LANES - 1) / LANES, chunks = N * C * per_plane;
  float16 acc = (float16)(0.0f), cnt = (float16)(0.0f);
  float acc1 = 0.0f, cnt1 = 0.0f;
  int t1 = chunks, step = (int)get_global_size(0);
  for (int t = first_chunk(chunks, per_item, &t1, &step); t < t1; t += step) {
    int plane = t / per_plane, j0 = (t - plane * per_plane) * LANES;
    int n = plane / C;
    __global const float *p = pred + poff + plane * HW + j0, *q = target + toff + plane * HW + j0;
    __global const float *m = mask + moff + n * HW + j0;
    if (j0 + LANES <= HW) {
      float16 d = vload16(0, p) - vload16(0, q);
      float16 e = kind == 1 ? fabs(d) : d * d;
      float16 valid = has_mask ? select((float16)(0.0f), (float16)(1.0f), vload16(0, m) != (float16)(0.0f))
                               : (float16)(1.0f);
      acc += select((float16)(0.0f), e, valid != (float16)(0.0f));
      cnt += valid;
    } else {
      for (int j = 0; j < HW - j0; j++) {
        if (has_mask && m[j] == 0.0f) continue;
        float d = p[j] - q[j];
        acc1 += kind == 1 ? fabs(d) : d * d;
        cnt1 += 1.0f;
      }
    }
  }
  write_partials(sum16(acc) + acc1, sum16(cnt) + cnt1, ls, lc, part, partoff);
}

/* Partial sums of the heteroscedastic regression loss over (N, C, HW) and of the valid count
 * (see hetero_backward for the formula and the clamp of s); chunks as in regression_reduce. */
__kernel void hetero_reduce(__global const float *pred, int poff, __global const float *logvar,
                            int soff, __global const float *target, int toff,
                            __global const float *mask, int moff, int has_mask, int N, int C,
                            int HW, int kind, int per_item, __global float *part, int partoff) {
  __local float ls[LOSS_WG], lc[LOSS_WG];
  int per_plane = (HW + LANES - 1) / LANES, chunks = N * C * per_plane;
  float16 acc = (float16)(0.0f), cnt = (float16)(0.0f);
  float acc1 = 0.0f, cnt1 = 0.0f;
  int t1 = chunks, step = (int)get_global_size(0);
  for (int t = first_chunk(chunks, per_item, &t1, &step); t < t1; t += step) {
    int plane = t / per_plane, j0 = (t - plane * per_plane) * LANES;
    int n = plane / C, off = plane * HW + j0;
    __global const float *m = mask + moff + n * HW + j0;
    if (j0 + LANES <= HW) {
      float16 d = vload16(0, pred + poff + off) - vload16(0, target + toff + off);
      float16 s = clamp(vload16(0, logvar + soff + off), (float16)(HETERO_S_MIN),
                        (float16)(HETERO_S_MAX));
      float16 e = kind == 1 ? exp(-s) * fabs(d) + s : 0.5f * (exp(-s) * d * d + s);
      float16 valid = has_mask ? select((float16)(0.0f), (float16)(1.0f), vload16(0, m) != (float16)(0.0f))
                               : (float16)(1.0f);
      acc += select((float16)(0.0f), e, valid != (float16)(0.0f));
      cnt += valid;
    } else {
      for (int j = 0; j < HW - j0; j++) {
        if (has_mask && m[j] == 0.0f) continue;
        float d = pred[poff + off + j] - target[toff + off + j];
        float s = clamp(logvar[soff + off + j], HETERO_S_MIN, HETERO_S_MAX);
        acc1 += kind == 1 ? exp(-s) * fabs(d) + s : 0.5f * (exp(-s) * d * d + s);
        cnt1 += 1.0f;
      }
    }
  }
  write_partials(sum16(acc) + acc1, sum16(cnt) + cnt1, ls, lc, part, partoff);
}

/* Partial sums of the scaled cross-entropy -log softmax(κ f)[y] (see logit_noise_backward) of
 * logits (N, K, HW), κ from logvar by logit_scale (kmode), and of the valid count; one pixel at
 * a time. */
__kernel void logit_noise_reduce(__global const float *logits, int loff,
                                 __global const float *logvar, int soff,
                                 __global const float *labels, int laboff, int N, int K, int HW,
                                 int ignore, int kmode, int per_item, __global float *part,
                                 int poff) {
  __local float ls[LOSS_WG], lc[LOSS_WG];
  int pixels = N * HW;
  float acc = 0.0f, cnt = 0.0f;
  int t1 = pixels, step = (int)get_global_size(0);
  for (int t = first_chunk(pixels, per_item, &t1, &step); t < t1; t += step) {
    int n = t / HW, j = t - n * HW;
    float lab = labels[laboff + t];
    if (lab == (float)ignore) continue;
    cnt += 1.0f;
    if (!(lab >= 0.0f && lab < (float)K && floor(lab) == lab)) { acc += NAN; continue; }
    __global const float *z = logits + loff + n * K * HW + j;
    float kappa = logit_scale(logvar, soff, t, kmode);
    float m = kappa * z[0];
    for (int k = 1; k < K; k++) m = fmax(m, kappa * z[k * HW]);
    float se = 0.0f;
    for (int k = 0; k < K; k++) se += exp(kappa * z[k * HW] - m);
    acc += log(se) - (kappa * z[(int)lab * HW] - m);
  }
  write_partials(acc, cnt, ls, lc, part, poff);
}

/* loss[0] = Σ part[0..groups) / max(count, 1), count[0] = Σ part[groups..2·groups): one
 * work-group. NaN stays NaN. */
__kernel void loss_final(__global const float *part, int poff, int groups, __global float *loss,
                         int loff, __global float *count, int coff) {
  __local float ls[LOSS_WG], lc[LOSS_WG];
  int lid = (int)get_local_id(0);
  float a = 0.0f, c = 0.0f;
  for (int i = lid; i < groups; i += LOSS_WG) {
    a += part[poff + i];
    c += part[poff + groups + i];
  }
  ls[lid] = a;
  local_tree_sum(ls, lid, LOSS_WG);
  lc[lid] = c;
  local_tree_sum(lc, lid, LOSS_WG);
  if (lid == 0) {
    loss[loff] = ls[0] / fmax(lc[0], 1.0f);
    count[coff] = lc[0];
  }
}

#endif /* LOSS_WG */

/* Mask element (N, HW) of element i of an (N, C, HW) tensor. */
int mask_index(int i, int C, int HW) {
  int t = i / HW; /* n * C + c */
  return (t / C) * HW + (i - t * HW);
}

/* dpred (N, C, HW) = scale * sign(d) (kind 1, 0 at d == 0) or scale * 2d (kind 2); 0 where
 * mask == 0. */
__kernel void regression_backward(__global const float *pred, int poff,
                                  __global const float *target, int toff,
                                  __global const float *mask, int moff, int has_mask,
                                  __global const float *count, int coff,
                                  __global const float *seed, int soff, __global float *dpred,
                                  int doff, int N, int C, int HW, int kind, int accumulate) {
  int i = GID0;
  if (i >= N * C * HW) return;
  float g = 0.0f;
  if (!has_mask || mask[moff + mask_index(i, C, HW)] != 0.0f) {
    float scale = seed[soff] / fmax(count[coff], 1.0f);
    float d = pred[poff + i] - target[toff + i];
    g = kind == 1 ? scale * (d > 0.0f ? 1.0f : d < 0.0f ? -1.0f : 0.0f) : scale * 2.0f * d;
  }
  dpred[doff + i] = accumulate ? dpred[doff + i] + g : g;
}

/* Heteroscedastic regression (Kendall & Gal 2017): pred f and log-variance s (N, C, HW),
 * target y; s is clamped to [HETERO_S_MIN, HETERO_S_MAX] (s_c) so that e^{-s} stays finite.
 * Per element, with d = f - y:
 *   kind 1 (Laplace, s = log b):     e^{-s_c} |d| + s_c
 *   kind 2 (Gaussian, s = log σ²):   ½ e^{-s_c} d² + ½ s_c
 * dpred = scale · e^{-s_c} sign(d) (Laplace) or scale · e^{-s_c} d (Gaussian);
 * dlogvar = scale · (1 - e^{-s_c}|d|) (Laplace) or scale · ½ (1 - e^{-s_c} d²) (Gaussian),
 * 0 where s lies outside the clamp range; both 0 where mask == 0. scale = seed / max(count, 1).
 * Each of dpred, dlogvar is written or accumulated by its own flag. */
__kernel void hetero_backward(__global const float *pred, int poff, __global const float *logvar,
                              int soff, __global const float *target, int toff,
                              __global const float *mask, int moff, int has_mask,
                              __global const float *count, int coff, __global const float *seed,
                              int sdoff, __global float *dpred, int dpoff,
                              __global float *dlogvar, int dsoff, int N, int C, int HW, int kind,
                              int acc_pred, int acc_logvar) {
  int i = GID0;
  if (i >= N * C * HW) return;
  float gp = 0.0f, gs = 0.0f;
  if (!has_mask || mask[moff + mask_index(i, C, HW)] != 0.0f) {
    float scale = seed[sdoff] / fmax(count[coff], 1.0f);
    float d = pred[poff + i] - target[toff + i], s = logvar[soff + i];
    float sc = clamp(s, HETERO_S_MIN, HETERO_S_MAX), w = exp(-sc);
    int inside = s >= HETERO_S_MIN && s <= HETERO_S_MAX;
    if (kind == 1) {
      gp = scale * w * (d > 0.0f ? 1.0f : d < 0.0f ? -1.0f : 0.0f);
      gs = inside ? scale * (1.0f - w * fabs(d)) : 0.0f;
    } else {
      gp = scale * w * d;
      gs = inside ? scale * 0.5f * (1.0f - w * d * d) : 0.0f;
    }
  }
  dpred[dpoff + i] = acc_pred ? dpred[dpoff + i] + gp : gp;
  dlogvar[dsoff + i] = acc_logvar ? dlogvar[dsoff + i] + gs : gs;
}

/* The scaled cross-entropy per valid pixel, L = -log softmax(κ f)[y], p = softmax(κ f):
 * dlogits[k] = scale · κ (p_k - [k = y]),
 * dlogvar = scale · (Σ_k p_k f_k - f_y) · dκ/ds, with dκ/ds = -(π/16) e^{s} κ³ (kmode 0, logit
 * noise) or -κ (kmode 1, temperature: the pixel's share of the one s, summed by the caller);
 * 0 outside the clamp, on ignored pixels and invalid labels. One work-item per pixel; each
 * output written or accumulated by its own flag. */
__kernel void logit_noise_backward(__global const float *logits, int loff,
                                   __global const float *logvar, int soff,
                                   __global const float *labels, int laboff,
                                   __global const float *count, int coff,
                                   __global const float *seed, int sdoff, __global float *dlogits,
                                   int dloff, __global float *dlogvar, int dsoff, int N, int K,
                                   int HW, int ignore, int kmode, int acc_logits, int acc_logvar) {
  int t = GID0;
  if (t >= N * HW) return;
  int n = t / HW, j = t - n * HW;
  float lab = labels[laboff + t];
  int valid = lab != (float)ignore && lab >= 0.0f && lab < (float)K && floor(lab) == lab;
  float scale = valid ? seed[sdoff] / fmax(count[coff], 1.0f) : 0.0f;
  float s = logvar[soff + (kmode ? 0 : t)], kappa = logit_scale(logvar, soff, t, kmode);
  __global const float *z = logits + loff + n * K * HW + j;
  __global float *dz = dlogits + dloff + n * K * HW + j;
  float m = kappa * z[0];
  for (int k = 1; k < K; k++) m = fmax(m, kappa * z[k * HW]);
  float se = 0.0f, pf = 0.0f;
  for (int k = 0; k < K; k++) se += exp(kappa * z[k * HW] - m);
  for (int k = 0; k < K; k++) {
    float p = exp(kappa * z[k * HW] - m) / se;
    pf += p * z[k * HW];
    float g = valid ? scale * kappa * (p - ((int)lab == k ? 1.0f : 0.0f)) : 0.0f;
    dz[k * HW] = acc_logits ? dz[k * HW] + g : g;
  }
  int inside = s >= HETERO_S_MIN && s <= HETERO_S_MAX;
  float gs = 0.0f;
  if (valid && inside)
    gs = scale * (pf - z[(int)lab * HW]) *
         (kmode ? -kappa : -0.19634954f * exp(s) * kappa * kappa * kappa);
  dlogvar[dsoff + t] = acc_logvar ? dlogvar[dsoff + t] + gs : gs;
}
