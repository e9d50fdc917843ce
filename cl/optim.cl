/* Optimizer update over the flat parameter buffer, 16 parameters per work-item: SGD
 * (momentum, Nesterov), Adam and AdamW following torch.optim's update order, with a
 * per-parameter weight-decay mask (one bit each) and a range of parameters (the multi-task
 * weighting's) with a learning rate of its own and no decay, as torch.optim parameter groups. The step counter
 * (a float holding an integer, exact up to 2^24 steps) lives on the device and is advanced by
 * optim_count, launched after optim_step on the in-order queue. A non-finite guard value makes
 * both kernels do nothing. Host side: src/ops/optim.c. */

/* Optimizer kinds, as clm_optim_kind in include/clmtl/optim.h. */
#define OPT_SGD 0
#define OPT_ADAM 1
#define OPT_ADAMW 2

/* The update of 16 parameters w with gradients d and moments *m, *v (see optim_step); returns
 * the new w. t is this update's number; wd the weight decay of each lane (wd_any: some lane's
 * is not 0); the other arguments as optim_step's. */
float16 update16(float16 w, float16 d, float16 *m, float16 *v, float t, int kind, float lr,
                 float momentum, int nesterov, float one_b1, float log_b1, float beta2,
                 float one_b2, float log_b2, float eps, float16 wd, int wd_any) {
  if (kind == OPT_SGD) {
    if (wd_any) d += wd * w;
    if (momentum != 0.0f) {
      float16 buf = t == 1.0f ? d : momentum * *m + d;
      *m = buf;
      d = nesterov ? d + momentum * buf : buf;
    }
    return w - lr * d;
  }
  if (kind == OPT_ADAMW) w *= 1.0f - lr * wd;
  else if (wd_any) d += wd * w;
  *m = *m + one_b1 * (d - *m);         /* torch: exp_avg.lerp_(grad, 1 - beta1) */
  *v = *v * beta2 + one_b2 * (d * d);  /* exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2) */
  float bc1 = -expm1(t * log_b1), bc2 = -expm1(t * log_b2);
  float16 denom = sqrt(*v) / sqrt(bc2) + eps;
  return w - (lr / bc1) * (*m / denom);
}

/* p, g, m, v: n floats each (v unused by SGD). step[0]: updates applied so far; this update
 * is number t = step + 1. guard[0] is read only when has_guard.
 * one_b1 = 1 - beta1, one_b2 = 1 - beta2, log_b1 = log(beta1), log_b2 = log(beta2), computed
 * on the host in double: the bias corrections 1 - beta^t = -expm1(t log beta) then keep full
 * float precision even where beta^t is close to 1.
 * nodecay: bit i%32 of word i/32 set exempts parameter i from weight decay (ceil(n/32) words).
 * Parameters [t0, t1) take learning rate task_lr and never decay.
 * One work-item per 16 consecutive parameters (float16 lanes; the per-step scalars once per
 * work-item): on PoCL this runs at memory speed, where one work-item per parameter took 17x
 * longer (Adam on 29.6 M parameters: 700 ms). The mask costs one 32-bit read per two
 * work-items. The last work-item, and one that holds part of [t0, t1), go lane by lane. */
__kernel void optim_step(__global float *p, int poff, __global const float *g, int goff,
                         __global float *m, int moff, __global float *v, int voff,
                         __global const float *step, int stoff, __global const float *guard,
                         int guoff, int has_guard, int n, int kind, float lr, float momentum,
                         int nesterov, float one_b1, float log_b1, float beta2, float one_b2,
                         float log_b2, float eps, float wd, __global const uint *nodecay,
                         int ndoff, int t0, int t1, float task_lr) {
  int i0 = GID0 * 16;
  if (i0 >= n) return;
  if (has_guard && !isfinite(guard[guoff])) return;
  float t = step[stoff] + 1.0f;
  uint bits = (nodecay[ndoff + i0 / 32] >> (uint)(i0 - i0 / 32 * 32)) & 0xffffu;
  if (i0 + 16 <= n && (t1 <= i0 || t0 >= i0 + 16)) {
    float16 wdv = (float16)(wd);
    if (bits) {
      uint16 off = ((uint16)(bits) >> (uint16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                                               15)) & (uint16)(1u);
      wdv = wd * (1.0f - convert_float16(off));
    }
    float16 mi = vload16(0, m + moff + i0), vi = kind == OPT_SGD ? mi : vload16(0, v + voff + i0);
    float16 w = update16(vload16(0, p + poff + i0), vload16(0, g + goff + i0), &mi, &vi, t,
                         kind, lr, momentum, nesterov, one_b1, log_b1, beta2, one_b2, log_b2,
                         eps, wdv, wd != 0.0f);
    vstore16(w, 0, p + poff + i0);
    if (kind != OPT_SGD || momentum != 0.0f) vstore16(mi, 0, m + moff + i0);
    if (kind != OPT_SGD) vstore16(vi, 0, v + voff + i0);
    return;
  }
  int end = i0 + 16 < n ? i0 + 16 : n;
  for (int i = i0; i < end; i++) { /* lane by lane, in lane 0 (read back through private memory) */
    int task = i >= t0 && i < t1;
    float lane_wd = task || ((bits >> (uint)(i - i0)) & 1u) ? 0.0f : wd;
    float16 mi = (float16)(m[moff + i]), vi = (float16)(kind == OPT_SGD ? 0.0f : v[voff + i]);
    float16 w = update16((float16)(p[poff + i]), (float16)(g[goff + i]), &mi, &vi, t, kind,
                         task ? task_lr : lr, momentum, nesterov, one_b1, log_b1, beta2, one_b2,
                         log_b2, eps, (float16)(lane_wd), lane_wd != 0.0f);
    float hw[16], hm[16], hv[16];
    vstore16(w, 0, hw);
    vstore16(mi, 0, hm);
    vstore16(vi, 0, hv);
    p[poff + i] = hw[0];
    if (kind != OPT_SGD || momentum != 0.0f) m[moff + i] = hm[0];
    if (kind != OPT_SGD) v[voff + i] = hv[0];
  }
}

/* step[0] += 1 unless the guard is given and not finite. One work-item. */
__kernel void optim_count(__global float *step, int stoff, __global const float *guard, int guoff,
                          int has_guard) {
  if (GID0 != 0) return;
  if (has_guard && !isfinite(guard[guoff])) return;
  step[stoff] += 1.0f;
}
