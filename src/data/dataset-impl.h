/* How a dataset implementation plugs into clm_dataset: a table of functions and its state. */
#ifndef CLMTL_DATASET_IMPL_H
#define CLMTL_DATASET_IMPL_H

#include "clmtl/data.h"

typedef struct clm_dataset_ops {
  clm_status (*load)(void *impl, int index, clm_sample *out);
  void (*free)(void *impl);
} clm_dataset_ops;

struct clm_dataset {
  const clm_dataset_ops *ops;
  void *impl;
  int count, height, width;
  const clm_target_info *targets; /* what it offers (clm_dataset_targets) */
  int ntargets;
};

/* Wraps an implementation; on failure frees impl with ops->free. */
clm_status clm_dataset_make(const clm_dataset_ops *ops, void *impl, int count, int height,
                            int width, clm_dataset **out);
/* Declares what d offers: semantic labels of `mode`, and depth with its mask only when
 * has_depth (else they are listed as unavailable). clm_dataset_make declares categories with
 * depth. */
void clm_dataset_declare(clm_dataset *d, clm_label_mode mode, int has_depth);

#endif
