/* Deterministic two-stage sum reduction, the one in clmtl (host: clm_reduce, src/ops/loss.c).
 * Stage 1 (reduce_partial): G work-groups of REDUCE_WG work-items; work-item g of the grid
 * sums x[g], x[g + G*REDUCE_WG], ... in order (their squares in square mode), then each group
 * folds its values by a fixed binary tree in local memory and writes one partial. Stage 2
 * (reduce_final): one work-group does the same over the G partials and writes the sum, or its
 * square root (root mode: with square mode, the L2 norm GradNorm uses). The order depends only
 * on n, G and REDUCE_WG, so results are bit-identical run to run. The task losses fuse their
 * own reduction (loss.cl). */

/* Work-group size of both stages; a power of two. The host launches exactly this many
 * work-items per group, after checking it against the built kernels' limit (and rebuilding
 * smaller when needed), so no reqd_work_group_size attribute hides that limit. */
#ifndef REDUCE_WG
#define REDUCE_WG 256
#endif

/* part[g] = the sum of group g's share of x[0..n) (of their squares when square != 0). */
__kernel void reduce_partial(__global const float *x, int xoff, int n, int square,
                             __global float *part, int poff) {
  __local float buf[REDUCE_WG];
  int lid = (int)get_local_id(0);
  int stride = (int)get_global_size(0);
  float acc = 0.0f;
  for (int i = GID0; i < n; i += stride) {
    float v = x[xoff + i];
    acc += square ? v * v : v;
  }
  buf[lid] = acc;
  local_tree_sum(buf, lid, REDUCE_WG);
  if (lid == 0) part[poff + (int)get_group_id(0)] = buf[0];
}

/* out[0] = Σ part[0..g) (its square root when root != 0), one work-group. */
__kernel void reduce_final(__global const float *part, int poff, int g, int root,
                           __global float *out, int ooff) {
  __local float buf[REDUCE_WG];
  int lid = (int)get_local_id(0);
  float acc = 0.0f;
  for (int i = lid; i < g; i += REDUCE_WG) acc += part[poff + i];
  buf[lid] = acc;
  local_tree_sum(buf, lid, REDUCE_WG);
  if (lid == 0) out[ooff] = root ? sqrt(buf[0]) : buf[0];
}
