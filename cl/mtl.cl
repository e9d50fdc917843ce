/* Multi-task loss weighting step (include/clmtl/mtl.h; host side src/mtl/weighting.c): one
 * work-item combines the K <= 16 per-task losses into the total, writes each task's gradient
 * seed dTotal/dL_i, the gradient w.r.t. the learned parameters (s = log σ², or u for
 * softplus) and the effective weights. uncertainty-exact: a classification task's L already
 * holds σ² inside its softmax (cl/loss.cl), so it counts with weight 1 and its s-gradient comes
 * from the loss's own backward. gradnorm and dwa weigh like fixed, with the weights
 * read from par (their updates live in cl/balance.cl and on the host). A single work-item
 * sums in task order, so the result is deterministic. Not here: the per-task losses
 * (cl/loss.cl) and the optimizer. */

/* Strategies, as clm_mtl_strategy. */
#define MTL_FIXED 0
#define MTL_EQUAL 1
#define MTL_UNCERTAINTY 2
#define MTL_UNCERTAINTY_SIMPLE 3
#define MTL_UNCERTAINTY_CLAMPED 4
#define MTL_SOFTPLUS 5
#define MTL_GRADNORM 6
#define MTL_DWA 7
#define MTL_UNCERTAINTY_EXACT 15

/* Gating modes, as clm_mtl_gating. */
#define MTL_GATE_NONE 0
#define MTL_GATE_HARD 1
#define MTL_GATE_SOFT 2

#define MTL_MAX_TASKS 16

/* Task i: loss value val[voff + i*stride], valid count cnt[coff + i*stride], seed written to
 * seed[soff + i*stride]. par (K floats) read only when has_par: s or u for the learned
 * strategies, the weights w_i for gradnorm and dwa (which get a zero pgrad); pgrad and
 * weight (K floats each) written only when has_pgrad / has_weight; total[toff] always
 * written.
 * regression_mask bit i: task i is a regression task. [slo, shi]: clamp range of s.
 * fixed_w, valid_total: per-task fixed weights and targets of a full batch (share =
 * count / valid_total), lanes >= K unused. */
__kernel void mtl_step(__global const float *val, int voff, __global const float *cnt, int coff,
                       __global float *seed, int soff, int stride, int K, int strategy,
                       int gating, float threshold, __global const float *par, int poff,
                       int has_par, __global float *total, int toff, __global float *pgrad,
                       int goff, int has_pgrad, __global float *weight, int woff, int has_weight,
                       int regression_mask, float slo, float shi, float16 fixed_w,
                       float16 valid_total) {
  if (GID0 != 0) return;
  if (K < 1 || K > MTL_MAX_TASKS) return;
  float w[MTL_MAX_TASKS], vt[MTL_MAX_TASKS];
  vstore16(fixed_w, 0, w);
  vstore16(valid_total, 0, vt);
  float sum = 0.0f;
  for (int i = 0; i < K; i++) {
    int at = i * stride;
    float L = val[voff + at], n = cnt[coff + at];
    /* gate: 1 counts fully, 0 left out (empty task or hard gating), share (soft gating) */
    float gate = 1.0f;
    if (!(n > 0.0f)) {
      gate = 0.0f;
    } else if (gating != MTL_GATE_NONE) {
      float share = n / vt[i];
      if (share < threshold) gate = gating == MTL_GATE_HARD ? 0.0f : share;
    }
    float c = 0.0f, dl = 0.0f, dp = 0.0f; /* contribution, d c / d L, d c / d param */
    if (gate != 0.0f) {
      if (strategy == MTL_FIXED || strategy == MTL_GRADNORM || strategy == MTL_DWA) {
        float wi = strategy == MTL_FIXED ? w[i] : (has_par ? par[poff + i] : 1.0f);
        c = wi * L;
        dl = wi;
      } else if (strategy == MTL_EQUAL) {
        dl = 1.0f / (float)K;
        c = dl * L;
      } else if (strategy == MTL_SOFTPLUS) {
        float u = has_par ? par[poff + i] : 0.0f;
        float t = exp(-fabs(u));
        float s = fmax(u, 0.0f) + log1p(t); /* softplus, no overflow */
        /* e = exp(-s) = sigmoid(-u) and ds/du = sigmoid(u), both without cancellation */
        float e = u >= 0.0f ? t / (1.0f + t) : 1.0f / (1.0f + t);
        float sig = u >= 0.0f ? 1.0f / (1.0f + t) : t / (1.0f + t);
        c = e * L + s;
        dl = e;
        dp = (1.0f - e * L) * sig;
      } else {
        float s = has_par ? par[poff + i] : 0.0f;
        int active = 0, exact_cls = strategy == MTL_UNCERTAINTY_EXACT && !((regression_mask >> i) & 1);
        if (strategy == MTL_UNCERTAINTY_CLAMPED && (s < slo || s > shi)) {
          active = 1;
          s = clamp(s, slo, shi);
        }
        float e = exp(-s);
        if (exact_cls) {
          /* L is already -log softmax(f/σ²)[y]: the loss's backward adds dL/ds itself */
          c = L;
          dl = 1.0f;
          dp = 0.0f;
        } else if (strategy == MTL_UNCERTAINTY_SIMPLE) {
          c = e * L + s;
          dl = e;
          dp = 1.0f - e * L;
        } else {
          float a = (regression_mask >> i) & 1 ? 0.5f : 1.0f;
          c = a * e * L + 0.5f * s;
          dl = a * e;
          dp = 0.5f - a * e * L;
        }
        if (active) dp = 0.0f;
      }
      sum += gate * c;
    }
    seed[soff + at] = gate * dl;
    if (has_pgrad) pgrad[goff + i] = gate * dp;
    if (has_weight) weight[woff + i] = gate * dl;
  }
  total[toff] = sum;
}
