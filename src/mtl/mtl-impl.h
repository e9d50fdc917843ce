/* What the host sides of the multi-task weighting share (src/mtl/weighting.c, balance.c);
 * not part of the public API. */
#ifndef CLMTL_MTL_IMPL_H
#define CLMTL_MTL_IMPL_H

#include "clmtl/tensor.h"

/* Fails unless t's buffer (its size, not its shape) holds the floats t->off + i*stride for
 * i < k; who names the caller in the message ("loss weighting", "gradnorm"). */
clm_status clm_mtl_check_span(const char *who, const clm_tensor *t, int k, int stride,
                              const char *what);

#endif
