/* Definitions shared by every kernel file; prepended to each program by the host.
 * Conventions: tensors are float32 NCHW; every buffer argument is followed by an int offset
 * in floats (`x, xoff`), so views into one flat buffer need no sub-buffers. Kernels check
 * their own bounds: the host rounds global sizes up to a multiple of the work-group size. */

#define GID0 ((int)get_global_id(0))
#define GID1 ((int)get_global_id(1))
#define GID2 ((int)get_global_id(2))
