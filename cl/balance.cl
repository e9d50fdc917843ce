/* GradNorm's device pieces (include/clmtl/mtl.h, "GradNorm and DWA"; host side
 * src/mtl/balance.c): the record of the initial losses, the weight gradient of L_grad and the
 * renormalisation of the weights to sum K. The L2 norm of a gradient region is the shared
 * two-stage reduction in square mode (cl/reduce.cl). The K <= 16 per-task
 * kernels run as one work-item that loops in task order, so results are deterministic. Not
 * here: the weighted total (cl/mtl.cl), the optimizer (cl/optim.cl), DWA (host only). */

/* Floor of a weight before renormalisation (Chen et al. keep weights positive). */
#ifndef GRADNORM_MIN_WEIGHT
#define GRADNORM_MIN_WEIGHT 1e-6f
#endif

#define BALANCE_MAX_TASKS 16

/* Gating modes, as clm_mtl_gating. */
#define BALANCE_GATE_NONE 0
#define BALANCE_GATE_HARD 1

/* L0 recorded: finite and > 0. */
int balance_recorded(float l0) { return l0 > 0.0f && isfinite(l0); }

/* l0[i] = val[voff + i*stride] when cnt[coff + i*stride] > 0 and that loss is finite and
 * > 0, else 0 (not recorded). fill_missing: leave slots that are already recorded. */
__kernel void gradnorm_record(__global const float *val, int voff, __global const float *cnt,
                              int coff, int stride, int K, __global float *l0, int loff,
                              int fill_missing) {
  if (GID0 != 0) return;
  if (K < 1 || K > BALANCE_MAX_TASKS) return;
  for (int i = 0; i < K; i++) {
    if (fill_missing && balance_recorded(l0[loff + i])) continue;
    int at = i * stride;
    float n = cnt[coff + at];
    float L = n > 0.0f ? val[voff + at] : 0.0f;
    l0[loff + i] = balance_recorded(L) ? L : 0.0f;
  }
}

/* Task i: loss val[voff + i*stride], valid count cnt[coff + i*stride], weight w[woff + i],
 * raw norm gn[goff + i] = ‖∇_W L_i‖, initial loss l0[loff + i]. Active: count > 0, not left
 * out by hard gating (share = count / valid_total[i] < threshold), L0 recorded. Writes
 * wgrad[wgoff + i] = sign(G_i − target_i)·G_raw_i (0 inactive) and lgrad[lgoff] = L_grad. */
__kernel void gradnorm_weight_grad(__global const float *val, int voff,
                                   __global const float *cnt, int coff, int stride, int K,
                                   int gating, float threshold, __global const float *w,
                                   int woff, __global const float *gn, int goff,
                                   __global const float *l0, int loff, float alpha,
                                   __global float *wgrad, int wgoff, __global float *lgrad,
                                   int lgoff, float16 valid_total) {
  if (GID0 != 0) return;
  if (K < 1 || K > BALANCE_MAX_TASKS) return;
  float vt[BALANCE_MAX_TASKS], G[BALANCE_MAX_TASKS], lt[BALANCE_MAX_TASKS];
  int active[BALANCE_MAX_TASKS];
  vstore16(valid_total, 0, vt);
  float gsum = 0.0f, ltsum = 0.0f;
  int na = 0;
  for (int i = 0; i < K; i++) {
    int at = i * stride;
    float n = cnt[coff + at];
    int on = n > 0.0f;
    if (on && gating == BALANCE_GATE_HARD && n / vt[i] < threshold) on = 0;
    float L0 = on ? l0[loff + i] : 0.0f;
    if (on && !balance_recorded(L0)) on = 0;
    active[i] = on;
    G[i] = 0.0f;
    lt[i] = 0.0f;
    if (!on) continue;
    G[i] = w[woff + i] * gn[goff + i];
    lt[i] = val[voff + at] / L0;
    gsum += G[i];
    ltsum += lt[i];
    na++;
  }
  float gbar = na > 0 ? gsum / (float)na : 0.0f;
  float ltbar = na > 0 ? ltsum / (float)na : 0.0f;
  float lg = 0.0f;
  for (int i = 0; i < K; i++) {
    float d = 0.0f;
    if (active[i]) {
      float r = ltbar != 0.0f ? lt[i] / ltbar : 1.0f;
      float target = gbar * pow(r, alpha);
      float diff = G[i] - target;
      lg += fabs(diff);
      d = sign(diff) * gn[goff + i];
    }
    wgrad[wgoff + i] = d;
  }
  lgrad[lgoff] = lg;
}

/* In place on w[woff .. woff+K): w_i = max(w_i, floor) (fmax drops a NaN), then
 * w_i = K·w_i / Σ w, summed in task order. */
__kernel void gradnorm_renormalize(__global float *w, int woff, int K) {
  if (GID0 != 0) return;
  if (K < 1 || K > BALANCE_MAX_TASKS) return;
  float v[BALANCE_MAX_TASKS];
  float sum = 0.0f;
  for (int i = 0; i < K; i++) {
    v[i] = fmax(w[woff + i], GRADNORM_MIN_WEIGHT);
    sum += v[i];
  }
  float scale = (float)K / sum;
  for (int i = 0; i < K; i++) w[woff + i] = v[i] * scale;
}
