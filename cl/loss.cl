/* Per-pixel task losses and their gradients: softmax cross-entropy with an ignore label, L1
 * and L2 regression with an optional validity mask. The forward kernels write per-pixel
 * (per-element) losses; the host sums them with reduce.cl and divides by the valid count in
 * loss_finish, all on the device. The backward kernels read the gradient seed and the count
 * from device scalars: scale = seed[0] / max(count[0], 1). Labels are floats holding exact
 * integers. Index arithmetic avoids i % n beside i / n (see pool.cl: oclgrind and `freeze`). */

/* Per-pixel cross-entropy. logits (N, K, HW), labels (N, HW) -> pix (N, HW):
 * logsumexp_k(logits) - logits[label], 0 where label == ignore, NaN for a label that is
 * neither ignore nor an integer in [0, K). */
__kernel void xent_pixel(__global const float *logits, int loff, __global const float *labels,
                         int laboff, __global float *pix, int poff, int N, int K, int HW,
                         int ignore) {
  int q = GID0;
  if (q >= N * HW) return;
  int n = q / HW, hw = q - n * HW;
  float lab = labels[laboff + q];
  float out = 0.0f;
  if (lab != (float)ignore) {
    __global const float *z = logits + loff + n * K * HW + hw;
    float m = z[0];
    for (int k = 1; k < K; k++) m = fmax(m, z[k * HW]);
    float s = 0.0f;
    for (int k = 0; k < K; k++) s += exp(z[k * HW] - m);
    if (lab >= 0.0f && lab < (float)K && floor(lab) == lab)
      out = log(s) - (z[(int)lab * HW] - m);
    else out = NAN;
  }
  pix[poff + q] = out;
}

/* dlogits (N, K, HW) = scale * (softmax - onehot(label)); 0 on ignored pixels and on pixels
 * with an invalid label (the forward already reports those as NaN; the gradient stays finite
 * so a skipped task cannot poison the weights). */
__kernel void xent_backward(__global const float *logits, int loff, __global const float *labels,
                            int laboff, __global const float *count, int coff,
                            __global const float *seed, int soff, __global float *dlogits,
                            int doff, int N, int K, int HW, int ignore, int accumulate) {
  int q = GID0;
  if (q >= N * HW) return;
  int n = q / HW, hw = q - n * HW;
  float lab = labels[laboff + q];
  int valid = lab != (float)ignore && lab >= 0.0f && lab < (float)K && floor(lab) == lab;
  int c = valid ? (int)lab : 0;
  __global const float *z = logits + loff + n * K * HW + hw;
  __global float *dz = dlogits + doff + n * K * HW + hw;
  if (!valid) {
    if (!accumulate)
      for (int k = 0; k < K; k++) dz[k * HW] = 0.0f;
    return;
  }
  float scale = seed[soff] / fmax(count[coff], 1.0f);
  float m = z[0];
  for (int k = 1; k < K; k++) m = fmax(m, z[k * HW]);
  float s = 0.0f;
  for (int k = 0; k < K; k++) s += exp(z[k * HW] - m);
  float inv = 1.0f / s;
  for (int k = 0; k < K; k++) {
    float g = scale * (exp(z[k * HW] - m) * inv - (k == c ? 1.0f : 0.0f));
    dz[k * HW] = accumulate ? dz[k * HW] + g : g;
  }
}

/* Mask element (N, HW) of element i of an (N, C, HW) tensor. */
int mask_index(int i, int C, int HW) {
  int t = i / HW; /* n * C + c */
  return (t / C) * HW + (i - t * HW);
}

/* Per-element regression loss. pred, target (N, C, HW), mask (N, HW) when has_mask ->
 * pix (N, C, HW) = |d| (kind 1) or d² (kind 2), d = pred - target; 0 where mask == 0. */
__kernel void regression_pixel(__global const float *pred, int poff, __global const float *target,
                               int toff, __global const float *mask, int moff, int has_mask,
                               __global float *pix, int xoff, int N, int C, int HW, int kind) {
  int i = GID0;
  if (i >= N * C * HW) return;
  float out = 0.0f;
  if (!has_mask || mask[moff + mask_index(i, C, HW)] != 0.0f) {
    float d = pred[poff + i] - target[toff + i];
    out = kind == 1 ? fabs(d) : d * d;
  }
  pix[xoff + i] = out;
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

/* loss[0] holds the sum of per-pixel losses; turn it into the mean over count[0] valid
 * entries (0 when there are none; NaN stays NaN). One work-item. */
__kernel void loss_finish(__global float *loss, int loff, __global const float *count, int coff) {
  if (GID0 == 0) loss[loff] = loss[loff] / fmax(count[coff], 1.0f);
}
