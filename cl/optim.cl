/* Optimizer update over the flat parameter buffer: one work-item per parameter, SGD
 * (momentum, Nesterov), Adam and AdamW following torch.optim's update order. The step counter
 * (a float holding an integer, exact up to 2^24 steps) lives on the device and is advanced by
 * optim_count, launched after optim_step on the in-order queue. A non-finite guard value makes
 * both kernels do nothing. Host side: src/ops/optim.c. */

/* Optimizer kinds, as clm_optim_kind in include/clmtl/optim.h. */
#define OPT_SGD 0
#define OPT_ADAM 1
#define OPT_ADAMW 2

/* p, g, m, v: n floats each (v unused by SGD). step[0]: updates applied so far; this update
 * is number t = step + 1. guard[0] is read only when has_guard.
 * one_b1 = 1 - beta1, one_b2 = 1 - beta2, log_b1 = log(beta1), log_b2 = log(beta2), computed
 * on the host in double: the bias corrections 1 - beta^t = -expm1(t log beta) then keep full
 * float precision even where beta^t is close to 1. */
__kernel void optim_step(__global float *p, int poff, __global const float *g, int goff,
                         __global float *m, int moff, __global float *v, int voff,
                         __global const float *step, int stoff, __global const float *guard,
                         int guoff, int has_guard, int n, int kind, float lr, float momentum,
                         int nesterov, float one_b1, float log_b1, float beta2, float one_b2,
                         float log_b2, float eps, float wd) {
  int i = GID0;
  if (i >= n) return;
  if (has_guard && !isfinite(guard[guoff])) return;
  float t = step[stoff] + 1.0f;
  float w = p[poff + i], d = g[goff + i];
  if (kind == OPT_SGD) {
    if (wd != 0.0f) d += wd * w;
    if (momentum != 0.0f) {
      float buf = t == 1.0f ? d : momentum * m[moff + i] + d;
      m[moff + i] = buf;
      d = nesterov ? d + momentum * buf : buf;
    }
    p[poff + i] = w - lr * d;
    return;
  }
  if (kind == OPT_ADAMW) w *= 1.0f - lr * wd;
  else if (wd != 0.0f) d += wd * w;
  float mi = m[moff + i], vi = v[voff + i];
  mi = mi + one_b1 * (d - mi);        /* torch: exp_avg.lerp_(grad, 1 - beta1) */
  vi = vi * beta2 + one_b2 * (d * d); /* exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2) */
  m[moff + i] = mi;
  v[voff + i] = vi;
  float bc1 = -expm1(t * log_b1), bc2 = -expm1(t * log_b2);
  float denom = sqrt(vi) / sqrt(bc2) + eps;
  p[poff + i] = w - (lr / bc1) * (mi / denom);
}

/* step[0] += 1 unless the guard is given and not finite. One work-item. */
__kernel void optim_count(__global float *step, int stoff, __global const float *guard, int guoff,
                          int has_guard) {
  if (GID0 != 0) return;
  if (has_guard && !isfinite(guard[guoff])) return;
  step[stoff] += 1.0f;
}
