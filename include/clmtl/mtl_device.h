/* Multi-task loss weighting, the device primitives: the step kernel (cl/mtl.cl) that reads the
 * K per-task loss values and valid counts, writes the total, each task's gradient seed
 * dTotal/dL_i, the gradient w.r.t. the learned parameters and the effective weights, with no
 * host round trip (host side src/mtl/weighting.c); and the device side of gradnorm and dwa,
 * whose weights are held on the device in the params tensor (host side src/mtl/balance.c,
 * kernels cl/balance.cl). These work on tensor views, with no graph. Not here: the strategies
 * and their configuration (clmtl/mtl_strategy.h), the per-task losses themselves (graph.h),
 * the optimizer that updates the learned parameters (optim.h), a weighting bound to a training
 * graph (clmtl/mtl.h). */
#ifndef CLMTL_MTL_DEVICE_H
#define CLMTL_MTL_DEVICE_H

#include "clmtl/device.h"
#include "clmtl/mtl_strategy.h"
#include "clmtl/tensor.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Uploads cfg->init_param into params (K floats, blocking). */
CLMTL_API clm_status clm_mtl_params_init(clm_context *ctx, const clm_mtl_config *cfg,
                               const clm_tensor *params);

/* Where the per-task device scalars live: task i's loss value at value.off + i*stride, its
 * valid count at count.off + i*stride and its gradient seed at seed.off + i*stride (all in
 * floats; each view's buffer must hold all K). */
typedef struct clm_mtl_scalars {
  clm_tensor value, count, seed;
  int stride;
} clm_mtl_scalars;

/* Three buffers of K consecutive floats each (stride 1). */
CLMTL_API clm_mtl_scalars clm_mtl_scalars_packed(const clm_tensor *values, const clm_tensor *counts,
                                       const clm_tensor *seeds);

/* One launch: reads the K loss values and valid counts from sc and the learned parameters
 * (K floats: s, u, or the gradnorm / dwa weights w_i; NULL allowed when
 * clm_mtl_param_count is 0), and writes
 *   total       1 float: the weighted total (written even when not finite, so that the
 *               optimizer's guard can skip the step);
 *   sc seeds    K floats: dTotal/dL_i (0 for a task left out);
 *   param_grad  K floats, WRITTEN (not accumulated): dTotal/d(s or u); optional (NULL); zeros
 *               for strategies without learned parameters, gradnorm and dwa included (their
 *               weights are not learned through the total);
 *   weights     K floats, optional: each task's effective weight dTotal/dL_i, for logging.
 * A task whose valid count is 0 (or not positive) is left out whatever the gating, so a NaN
 * loss from an empty task does not reach the total. gradnorm and dwa: total = Σ w_i L_i and
 * seed_i = w_i (times the gate) with w_i = params[i]. rlw steps like dwa. gls: total =
 * (Π L_i)^{1/m} over the m tasks whose count is > 0 (gating other than that is not applied),
 * seed_i = total / (m·L_i). The gradient methods step like fixed with every weight 1 (the
 * total their guard reads is Σ L_i); their gradients are combined outside ("Gradient
 * methods" in clmtl/mtl.h). */
CLMTL_API clm_status clm_mtl_step(clm_context *ctx, const clm_mtl_config *cfg, const clm_mtl_scalars *sc,
                        const clm_tensor *params, const clm_tensor *total,
                        const clm_tensor *param_grad, const clm_tensor *weights);

/* ==== GradNorm and DWA ==================================================================== */
/* Weight updates for the gradnorm and dwa strategies. Their K weights w_i live on the device
 * in the params tensor that clm_mtl_step reads (clm_mtl_params_init sets them to init_param,
 * 1 by default); clm_mtl_step never changes them. Host side src/mtl/balance.c, kernels
 * cl/balance.cl.
 *
 * DWA (Liu et al. 2019), once per epoch on the host: after epoch t-1 record its K epoch-mean
 * losses, then the weights of epoch t are w_k = K·exp(r_k/T) / Σ_j exp(r_j/T) with
 * r_k = L_k(t−1) / L_k(t−2), T = 2 by default; w_k = 1 for epochs 0 and 1 (counted from 0).
 * Σ w = K. A ratio whose means are not finite or whose L_k(t−2) is not > 0 counts as r_k = 1.
 *
 * GradNorm (Chen et al. 2018), all on the device with no host read. One training step:
 *   1. forward; clm_mtl_step (total = Σ w_i L_i, seeds w_i); the network's backward from
 *      those seeds as usual;
 *   2. for each task i: the gradient of L_i alone (backward with seed 1 for task i, 0 for
 *      the others) w.r.t. the last shared layer's weight W, and clm_gradnorm_norm into slot i
 *      of `norms` (G_raw_i = ‖∇_W L_i‖₂). Parameter gradients accumulate (+=), so each task's
 *      ∇_W must start from zeros (or be taken as a difference). Slots of inactive tasks are
 *      not read and may be left unwritten;
 *   3. at the first step only, clm_gradnorm_record_initial (L0_i = L_i);
 *   4. clm_gradnorm_weight_grad: dL_grad/dw into `wgrad`, L_grad into `lgrad`;
 *   5. clm_optim_step on the weights with wgrad (an optimizer state of K floats of its own;
 *      pass lgrad or the total as guard, so a non-finite step is skipped);
 *   6. clm_gradnorm_renormalize: w_i ← max(w_i, 1e-6), then w ← K·w / Σ w.
 * Active tasks: the weight gradient reads each task's valid count from the same
 * clm_mtl_scalars as clm_mtl_step and applies cfg's gating the same way: a task is active when
 * its count is > 0, hard gating does not leave it out (soft gating keeps it, unscaled), and
 * its L0 was recorded (> 0). Inactive tasks get gradient 0 and are left out of both means.
 * A non-finite loss or norm of an active task makes L_grad non-finite. */


/* clm_dwa_weights uploaded into the weights tensor (the params of clm_mtl_step; K floats,
 * blocking). */
CLMTL_API clm_status clm_dwa_upload(clm_context *ctx, const clm_dwa *d, const clm_tensor *weights);

/* Floats of workspace clm_gradnorm_norm needs for a gradient of n floats (at most 256). */
CLMTL_API size_t clm_gradnorm_workspace(size_t n);
/* norms[task] = ‖grad‖₂ over all of the view grad (any shape, e.g. the last shared layer's
 * weight gradient (K', C, R, S)); norms holds K floats, only slot `task` is written.
 * Deterministic: a fixed-order two-stage sum of squares; ws: clm_gradnorm_workspace floats. */
CLMTL_API clm_status clm_gradnorm_norm(clm_context *ctx, const clm_tensor *grad, const clm_tensor *norms,
                             int task, const clm_tensor *ws);
/* l0 (K floats) = the current loss values of sc. A task without a usable value (count not
 * > 0, or the loss not finite and > 0) gets 0, "not recorded", and stays inactive.
 * fill_missing 0 writes every slot (the first step); 1 writes only slots not yet recorded
 * (l0 must have been written before), so later calls can fill tasks absent at the start. */
CLMTL_API clm_status clm_gradnorm_record_initial(clm_context *ctx, const clm_mtl_config *cfg,
                                       const clm_mtl_scalars *sc, const clm_tensor *l0,
                                       int fill_missing);
/* One work-item: over the active tasks (see above) G_i = w_i·G_raw_i, Ḡ = mean G,
 * L̃_i = L_i / L0_i, r_i = L̃_i / mean L̃, target_i = Ḡ·r_i^α (a constant);
 *   wgrad  K floats, WRITTEN: dL_grad/dw_i = sign(G_i − target_i)·G_raw_i, 0 when inactive;
 *   lgrad  1 float: L_grad = Σ_i |G_i − target_i| (0 when no task is active).
 * weights, norms (G_raw), l0: K floats each. alpha ≥ 0 (CLM_GRADNORM_ALPHA). */
CLMTL_API clm_status clm_gradnorm_weight_grad(clm_context *ctx, const clm_mtl_config *cfg, float alpha,
                                    const clm_mtl_scalars *sc, const clm_tensor *weights,
                                    const clm_tensor *norms, const clm_tensor *l0,
                                    const clm_tensor *wgrad, const clm_tensor *lgrad);
/* In place on the K weights: w_i ← max(w_i, 1e-6) (NaN becomes 1e-6), then w ← K·w / Σ w. */
CLMTL_API clm_status clm_gradnorm_renormalize(clm_context *ctx, const clm_tensor *weights);

#ifdef __cplusplus
}
#endif

#endif
