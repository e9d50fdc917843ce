/* Definitions shared by every kernel file; prepended to each program by the host.
 * Conventions: tensors are float32 NCHW; every buffer argument is followed by an int offset
 * in floats (`x, xoff`), so views into one flat buffer need no sub-buffers. Kernels check
 * their own bounds: the host rounds global sizes up to a multiple of the work-group size. */

#define GID0 ((int)get_global_id(0))
#define GID1 ((int)get_global_id(1))
#define GID2 ((int)get_global_id(2))

/* Folds buf[0..n) into buf[0] by a fixed binary tree (n a power of two, the work-group size);
 * every work-item of the group must call it, after its own buf[lid] store. Ends on a barrier. */
void local_tree_sum(__local float *buf, int lid, int n) {
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = n / 2; s > 0; s >>= 1) {
    if (lid < s) buf[lid] += buf[lid + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
}

/* Σ of a float16's lanes, in a fixed order. Through a private array, not .lo/.hi or .s0..sf:
 * oclgrind 21.10's uninitialised-value checker crashes on vector element extraction. */
float sum16(float16 v) {
  float t[16];
  vstore16(v, 0, t);
  float s = 0.0f;
  for (int i = 0; i < 16; i++) s += t[i];
  return s;
}
