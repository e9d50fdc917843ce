/* Deterministic two-stage sum reduction. Stage 1 (reduce_partial): G work-groups of
 * REDUCE_WG work-items; work-item g of the grid sums x[g], x[g + G*REDUCE_WG], ... in order,
 * then each group folds its values by a fixed binary tree in local memory and writes one
 * partial. Stage 2 (reduce_final): one work-group does the same over the G partials. The
 * order depends only on n, G and REDUCE_WG, so results are bit-identical run to run. Both
 * stages can count instead of sum (for loss normalisers): see `mode`. Loss kernels live in
 * loss.cl. */

/* Work-group size of both stages; a power of two. The host launches exactly this many
 * work-items per group, after checking it against the built kernels' limit (and rebuilding
 * smaller when needed), so no reqd_work_group_size attribute hides that limit. */
#ifndef REDUCE_WG
#define REDUCE_WG 256
#endif

/* Folds buf[0..REDUCE_WG) into buf[0]; all work-items of the group must call it. */
void tree_sum(__local float *buf, int lid) {
  for (int s = REDUCE_WG / 2; s > 0; s >>= 1) {
    if (lid < s) buf[lid] += buf[lid + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
}

/* part[g] for group g over x[0..n). mode 0: sum of x; mode 1: count of x != cmp
 * (valid labels with cmp = ignore, mask entries with cmp = 0). Counts are exact in float up
 * to 2^24. */
__kernel void reduce_partial(__global const float *x, int xoff, int n, int mode, float cmp,
                             __global float *part, int poff) {
  __local float buf[REDUCE_WG];
  int lid = (int)get_local_id(0);
  int stride = (int)get_global_size(0);
  float acc = 0.0f;
  for (int i = GID0; i < n; i += stride) {
    float v = x[xoff + i];
    acc += mode == 0 ? v : (v != cmp ? 1.0f : 0.0f);
  }
  buf[lid] = acc;
  barrier(CLK_LOCAL_MEM_FENCE);
  tree_sum(buf, lid);
  if (lid == 0) part[poff + (int)get_group_id(0)] = buf[0];
}

/* out[0] = scale * Σ part[0..g), one work-group. */
__kernel void reduce_final(__global const float *part, int poff, int g, float scale,
                           __global float *out, int ooff) {
  __local float buf[REDUCE_WG];
  int lid = (int)get_local_id(0);
  float acc = 0.0f;
  for (int i = lid; i < g; i += REDUCE_WG) acc += part[poff + i];
  buf[lid] = acc;
  barrier(CLK_LOCAL_MEM_FENCE);
  tree_sum(buf, lid);
  if (lid == 0) out[ooff] = scale * buf[0];
}
