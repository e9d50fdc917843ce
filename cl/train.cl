/* Small bookkeeping kernels of the training step. */

/* When total[0] is NaN or Inf: counter[0] (all such steps) and counter[1] (such steps in a
 * row) += 1; otherwise counter[1] = 0. One work-item. Steps with such a total are skipped by
 * the optimizer's guard; this keeps count without a host read. */
__kernel void count_nonfinite(__global const float *total, int toff, __global float *counter,
                              int coff) {
  if (get_global_id(0) != 0) return;
  if (isfinite(total[toff])) {
    counter[coff + 1] = 0.0f;
  } else {
    counter[coff] += 1.0f;
    counter[coff + 1] += 1.0f;
  }
}

/* seed[j·stride] = (j == task) for the K losses: the backward of one task's loss alone. */
__kernel void seed_onehot(__global float *seed, int soff, int stride, int K, int task) {
  int j = GID0;
  if (j < K) seed[soff + j * stride] = j == task ? 1.0f : 0.0f;
}

/* acc[i] += value of loss i and acc[K + i] += 1 when it is finite: epoch means of the raw
 * losses without a host read per step. One work-item per task. */
__kernel void accumulate_losses(__global const float *scal, int soff, int stride, int K,
                                __global float *acc, int aoff) {
  int i = GID0;
  if (i >= K) return;
  float v = scal[soff + i * stride];
  if (isfinite(v)) {
    acc[aoff + i] += v;
    acc[aoff + K + i] += 1.0f;
  }
}
