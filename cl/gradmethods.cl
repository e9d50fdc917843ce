/* The device pieces of the gradient-based multi-task methods (include/clmtl/mtl.h, "Gradient
 * methods"; host side src/mtl/gradmethods.c): per-task gradient rows taken out of the flat
 * gradient, their K×K Gram matrix by a deterministic two-stage reduction, the weighted sum of
 * the rows written back into the flat gradient, gradient seeds from a K-float buffer, and the
 * geometric-mean loss (GLS). Rows: task k's packed shared gradient at rows[roff + k*len].
 * Not here: the K×K solves (host, src/mtl/gradsolve.c), the weighted total (cl/mtl.cl). */

/* Work-group size of both Gram stages; a power of two, set by the host (clm_tree_kernels). */
#ifndef GM_WG
#define GM_WG 256
#endif

#define GM_MAX_TASKS 16

/* dst[doff + j] = src[soff + j]; with clear, src[soff + j] = 0 afterwards (j < n). */
__kernel void gm_take(__global float *src, int soff, __global float *dst, int doff, int n,
                      int clear) {
  int j = GID0;
  if (j >= n) return;
  dst[doff + j] = src[soff + j];
  if (clear) src[soff + j] = 0.0f;
}

/* Launched over (groups·GM_WG, K, K) with work-groups (GM_WG, 1, 1): the group at
 * (chunk, i, j), j >= i, writes part[poff + (i*K + j)*groups + chunk] = Σ rows_i[t]·rows_j[t]
 * over the items of this chunk (work-item order fixed, then a fixed tree); groups with
 * j < i return at once. rows_k starts at roff + k*len. */
__kernel void gm_gram_partial(__global const float *rows, int roff, int len, int K, int groups,
                              __global float *part, int poff) {
  __local float buf[GM_WG];
  int lid = (int)get_local_id(0), chunk = (int)get_group_id(0);
  int i = (int)get_global_id(1), j = (int)get_global_id(2);
  if (j < i) return; /* the whole group */
  int ai = roff + i * len, bj = roff + j * len;
  float acc = 0.0f;
  for (int t = chunk * GM_WG + lid; t < len; t += groups * GM_WG) acc += rows[ai + t] * rows[bj + t];
  buf[lid] = acc;
  local_tree_sum(buf, lid, GM_WG);
  if (lid == 0) part[poff + (i * K + j) * groups + chunk] = buf[0];
}

/* Launched over (GM_WG, K, K): gram[goff + i*K + j] = gram[goff + j*K + i] = Σ of the
 * partials of (i, j), j >= i. */
__kernel void gm_gram_final(__global const float *part, int poff, int K, int groups,
                            __global float *gram, int goff) {
  __local float buf[GM_WG];
  int lid = (int)get_local_id(0);
  int i = (int)get_global_id(1), j = (int)get_global_id(2);
  if (j < i) return;
  float acc = 0.0f;
  for (int c = lid; c < groups; c += GM_WG) acc += part[poff + (i * K + j) * groups + c];
  buf[lid] = acc;
  local_tree_sum(buf, lid, GM_WG);
  if (lid == 0) {
    gram[goff + i * K + j] = buf[0];
    gram[goff + j * K + i] = buf[0];
  }
}

/* out[ooff + t] = Σ_k alpha[aoff + k]·rows[roff + k*len + t] for t < n (k in task order). */
__kernel void gm_combine(__global const float *rows, int roff, int len, int K,
                         __global const float *alpha, int aoff, __global float *out, int ooff,
                         int n) {
  int t = GID0;
  if (t >= n) return;
  float s = 0.0f;
  for (int k = 0; k < K; k++) s += alpha[aoff + k] * rows[roff + k * len + t];
  out[ooff + t] = s;
}

/* seed[soff + k*stride] = alpha[aoff + k] for k < K. */
__kernel void gm_seeds(__global float *seed, int soff, int stride, int K,
                       __global const float *alpha, int aoff) {
  int k = GID0;
  if (k < K) seed[soff + k * stride] = alpha[aoff + k];
}

/* GLS (Chennupati et al. 2019): over the tasks whose valid count is > 0 (A, |A| = m),
 * total = (Π_{i∈A} L_i)^{1/m} = exp(mean log L_i), seed_i = dtotal/dL_i = total / (m·L_i),
 * 0 outside A; weights (the effective weights) = the seeds. A loss that is not > 0 makes
 * the total 0 or NaN (log of it), which the optimizer's guard sees. */
__kernel void gm_gls(__global const float *val, int voff, __global const float *cnt, int coff,
                     __global float *seed, int soff, int stride, int K, __global float *total,
                     int toff, __global float *weight, int woff, int has_weight) {
  if (GID0 != 0) return;
  if (K < 1 || K > GM_MAX_TASKS) return;
  int m = 0;
  float lsum = 0.0f;
  for (int i = 0; i < K; i++)
    if (cnt[coff + i * stride] > 0.0f) {
      lsum += log(val[voff + i * stride]);
      m++;
    }
  float t = m > 0 ? exp(lsum / (float)m) : 0.0f;
  total[toff] = t;
  for (int i = 0; i < K; i++) {
    float s = cnt[coff + i * stride] > 0.0f ? t / ((float)m * val[voff + i * stride]) : 0.0f;
    seed[soff + i * stride] = s;
    if (has_weight) weight[woff + i] = s;
  }
}
