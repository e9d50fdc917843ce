/* Kernel tuning. Every convolution can run as several kernel variants (direct, im2col + GEMM,
 * implicit GEMM, ...) that give the same results up to rounding. The scheduler picks one per
 * convolution from the device's properties; `clmtl tune` (clm_graph_tune) instead measures every
 * variant on each convolution shape of a model and records the fastest in a per-device tuning
 * file, which later compiles on the same device read.
 *
 * The tuning file lives next to the program binary cache (the context's cache_dir option;
 * $CLMTL_CACHE_DIR in the CLI, default ~/.cache/clmtl) as tuning-<key>.txt, the key hashing
 * platform, device, vendor, device version and driver version: a new driver starts untuned. It
 * is plain text, one line per shape and mode; a line that does not parse is ignored with a
 * warning to the context's message callback (never fatal), and the context's ignore_tuning
 * option ($CLMTL_TUNING=0 in the CLI) ignores the file altogether. */
#ifndef CLMTL_TUNE_H
#define CLMTL_TUNE_H

#include <stddef.h>
#include "clmtl/graph.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Path of this device's tuning file (it may not exist yet). CLM_ERR_NOT_FOUND when the context
 * has no cache directory (its cache_dir option was empty). */
CLMTL_API clm_status clm_tuning_file(const clm_context *ctx, char *buf, size_t size);

/* Measures every conv/deconv shape of a compiled graph with every variant: the forward pass,
 * and for a training graph both backward passes too; median of `reps` timed runs after one
 * warm-up, on scratch tensors of the node's shapes filled with random values. The fastest
 * variant per shape, for inference (forward) and for training (one per pass: forward,
 * backward data and backward weight may each run a different variant), is
 * merged into the tuning file (written to a temporary file and renamed). A table of the times
 * goes to `report` (a FILE*, may be NULL). The graph's own schedule is not changed: compile
 * again to use the results. */
CLMTL_API clm_status clm_graph_tune(clm_graph *g, int reps, void *report);

#ifdef __cplusplus
}
#endif

#endif
