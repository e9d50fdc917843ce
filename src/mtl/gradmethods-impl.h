/* Internal interface of the gradient methods (include/clmtl/mtl.h, "Gradient methods"):
 * the per-graph state binding.c holds (gradmethods.c) and the host K×K solves
 * (gradsolve.c). */
#ifndef CLMTL_GRADMETHODS_IMPL_H
#define CLMTL_GRADMETHODS_IMPL_H

#include "clmtl/mtl.h"
#include "runtime/runtime-impl.h"

typedef struct clm_gm clm_gm;

/* Sets up cfg's gradient method on the compiled multi-backward training graph g (shared and
 * task-specific parameter ranges, the K rows of per-task gradients, the Gram buffers). */
clm_status clm_gm_create(clm_graph *g, const clm_mtl_config *cfg, clm_gm **out);
void clm_gm_free(clm_gm *gm);

/* One training step after clm_graph_forward and clm_mtl_weigh (total Σ L_i): the per-task
 * passes, the Gram, the solve and the combined gradient in g's gradient buffer, ready for the
 * optimizer; the coefficients α into `weights` (K floats) for the log. step: the draw
 * counter (pcgrad). *nonfinite = 1 when a coefficient is not finite: the caller must make
 * the optimizer's guard skip the step (the total Σ L_i may be finite). */
clm_status clm_gm_gradients(clm_gm *gm, long step, const clm_tensor *weights, int *nonfinite);

/* mgda-ub's shared representation node name, else NULL. */
/* Over several ranks (d's size > 1): the per-task gradients summed over the ranks before the
 * solve, rank 0's coefficients used by every rank, the combined gradient the global batch's. */
void clm_gm_set_dist(clm_gm *gm, clm_dist *d);
const char *clm_gm_rep_name(const clm_gm *gm);
/* Extra device bytes and extra backward passes per step (clm_mtl_cost). */
void clm_gm_cost(const clm_gm *gm, size_t *bytes, int *passes);

/* α (K) of g = Σ α_i g_i from the K×K Gram (row-major) of the tasks' gradients; tasks with
 * active[i] == 0 are left out (α_i = 0). A non-finite Gram gives NaN coefficients. */
clm_status clm_gm_solve(const clm_mtl_config *cfg, long step, const double *gram,
                        const int *active, double *alpha);

#endif
