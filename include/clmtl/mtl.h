/* Multi-task loss weighting bound to a training graph: the weighting of a compiled graph's K
 * losses (src/mtl/binding.c), its training step, what a log line and a resumed run read back,
 * and the gradient methods (pcgrad, mgda-ub, cagrad, imtl-g, aligned-mtl; src/mtl/gradmethods.c,
 * gradsolve.c, cl/gradmethods.cl), which combine per-task gradients instead of weighting
 * losses. The levels below: the strategies as host data (clmtl/mtl_strategy.h) and the device
 * primitives (clmtl/mtl_device.h), both included here. */
#ifndef CLMTL_MTL_H
#define CLMTL_MTL_H

#include "clmtl/graph.h"
#include "clmtl/mtl_device.h"
#include "clmtl/mtl_strategy.h"
#include "clmtl/optim.h"
#include "clmtl/tensor.h"
#include "clmtl/dist.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The graph's layout: one buffer, task i at 3i (value), 3i+1 (count), 3i+2 (seed). */
CLMTL_API clm_mtl_scalars clm_mtl_scalars_graph(const clm_graph *g);

/* ---- a weighting bound to a training graph (src/mtl/binding.c) ---------------------------- */

/* A config for graph g's K losses with `strategy`: each task's kind and fixed weight from its
 * [task.*] section, and its valid total (targets a full batch holds: N·H·W pixels for
 * softmax_xent, N·C·H·W elements for l1/l2, matching how the losses count). */
CLMTL_API clm_status clm_mtl_config_for_graph(const clm_graph *g, clm_mtl_strategy strategy,
                                    clm_mtl_config *cfg);
/* The same from a caller's settings (a training run's options): strategy, clamp, gating,
 * gradnorm α, dwa T, cagrad c and seed from `settings`; kind and valid total from g; the fixed
 * weights and initial parameters from `settings` when settings->ntasks is g's loss count, else
 * as clm_mtl_config_for_graph sets them. */
CLMTL_API clm_status clm_mtl_config_bind(const clm_graph *g, const clm_mtl_config *settings,
                                         clm_mtl_config *cfg);

typedef struct clm_mtl clm_mtl;

/* Binds cfg to the compiled training graph g: the learned values live in g's task parameters
 * (clm_graph_task_params), which this sets to cfg->init_param. */
CLMTL_API clm_status clm_mtl_create(clm_graph *g, const clm_mtl_config *cfg, clm_mtl **out);
CLMTL_API void clm_mtl_free(clm_mtl *m);

/* After clm_graph_forward: total, every loss's seed, and dTotal/d(task parameter) written into
 * g's gradient buffer; a non-finite total is counted on the device. */
CLMTL_API clm_status clm_mtl_weigh(clm_mtl *m);

/* Device scalar of the weighted total: the optimizer's guard. */
CLMTL_API clm_tensor clm_mtl_total(const clm_mtl *m);

/* The graph the weighting is bound to. */
CLMTL_API clm_graph *clm_mtl_graph(const clm_mtl *m);

/* The weighting's parts of one training step; the step itself (forward, these, the optimizer)
 * is clm_step_run (step.h), in this order:
 *   clm_mtl_begin_step  before the forward: rlw draws this step's weights softmax(z);
 *   clm_mtl_gradients   after the forward: the weighted total, the seeds and the whole flat
 *                       gradient (zeroed first), task parameters' gradient included. Most
 *                       strategies weigh and run one backward. gradnorm first takes, per task,
 *                       the gradient norm of that task's loss alone at the last shared layer
 *                       (one partial backward per task, from that task's loss down to the
 *                       shared layer only; the graph must be compiled after
 *                       clm_graph_set_multi_backward(g, 1), else clm_mtl_create fails) and
 *                       writes its weight gradient into the task parameters' gradient. The
 *                       gradient methods replace the backward by their per-task passes and
 *                       combination ("Gradient methods" below; same multi-backward
 *                       requirement). A non-finite total is counted on the device;
 *   clm_mtl_end_step    after the optimizer (which skips the update when the total is NaN
 *                       or Inf): gradnorm renormalises its weights to sum to K; the step
 *                       count advances. */
CLMTL_API clm_status clm_mtl_begin_step(clm_mtl *m);
CLMTL_API clm_status clm_mtl_gradients(clm_mtl *m);
CLMTL_API clm_status clm_mtl_end_step(clm_mtl *m);

/* Per-parameter optimizer settings for the graph's parameters on s (after
 * clm_optim_state_init with the graph's parameter count), as PyTorch parameter groups: the K
 * task parameters form s's task range (learning rate opt->task_lr, never decayed; every
 * clm_step_run sets that range too, so they never decay even without this call);
 * convolution weights decay; biases and batch-norm γ, β decay unless decay_bias_norm is 0. */
CLMTL_API clm_status clm_mtl_optim_setup(clm_mtl *m, clm_optim_state *s, int decay_bias_norm);

/* Data-parallel training (dist.h): clm_mtl_gradients reduces the losses and valid counts over
 * d's ranks first (so every strategy weighs the global batch's losses), GradNorm's per-task
 * gradient norms at the shared layer, and the gradient after the backward; every rank then
 * takes the same optimizer step. NULL or one rank: a single device. The gradient methods
 * (pcgrad ... aligned-mtl) sum each task's shared-parameter gradient over the ranks before the
 * Gram (mgda-ub: the ranks' Grams of the representation's gradient, whose samples the ranks
 * split), rank 0 solves and every rank combines with its coefficients. */
CLMTL_API clm_status clm_mtl_set_dist(clm_mtl *m, clm_dist *d);

/* Call once at the end of each epoch with the K epoch-mean raw losses: every strategy records
 * the last two (clm_mtl_state), and dwa sets the weights of the next epoch from them. */
CLMTL_API clm_status clm_mtl_end_epoch(clm_mtl *m, const float *epoch_means);

/* gradnorm: the last shared layer, the last convolution that two or more losses depend on
 * (e.g. "dec1"); mgda-ub: the shared representation's node (the last node two or more losses
 * depend on, e.g. "dec1.bn"); NULL for the other strategies. */
CLMTL_API const char *clm_mtl_shared_layer(const clm_mtl *m);

/* What a log line shows, read back from the device (blocking). */
typedef struct clm_mtl_snapshot {
  int ntasks;
  float loss[CLM_MTL_MAX_TASKS];   /* raw loss of each task */
  float count[CLM_MTL_MAX_TASKS];  /* valid targets */
  float weight[CLM_MTL_MAX_TASKS]; /* effective weight dTotal/dL_i */
  float sigma[CLM_MTL_MAX_TASKS];  /* σ = exp(s/2) for the uncertainty strategies and softplus,
                                      NaN for the others */
  float param[CLM_MTL_MAX_TASKS];  /* the task parameter itself */
  float total;
  int skipped_steps;               /* steps whose total was not finite, since creation */
  int skipped_in_a_row;            /* of them, the latest run of consecutive ones */
} clm_mtl_snapshot;

CLMTL_API clm_status clm_mtl_read(clm_mtl *m, clm_mtl_snapshot *out);

/* What a resumed run needs beyond the task parameters (the uncertainty strategies' log
 * variances, the gradnorm, dwa and rlw weights: in the graph's parameters) and the optimizer
 * state, for checkpoints: gradnorm's initial losses L_i(0) (0: not recorded yet) and its count
 * of steps taken (a resumed run must not record them again), the non-finite step counters the
 * guard reports, and the epoch means clm_mtl_end_epoch recorded (dwa's history). Every
 * strategy has them (unused ones stay 0). Blocking. clm_mtl_state_set restores all of it in
 * one call; for dwa it also sets the weights of the epoch that follows (as the last
 * clm_mtl_end_epoch did). clm_checkpoint_mtl_meta / clm_checkpoint_mtl_restore (checkpoint.h)
 * carry it through a checkpoint's metadata. */
typedef struct clm_mtl_state {
  int ntasks;
  long steps;                      /* training steps so far (clm_mtl_end_step calls) */
  float l0[CLM_MTL_MAX_TASKS];     /* gradnorm: L_i(0) */
  float skipped_steps, skipped_in_a_row;
  int epochs;                      /* epochs recorded by clm_mtl_end_epoch */
  double last[CLM_MTL_MAX_TASKS];  /* their means: of the last one ... */
  double before[CLM_MTL_MAX_TASKS];/* ... and of the one before it */
} clm_mtl_state;

CLMTL_API clm_status clm_mtl_state_get(clm_mtl *m, clm_mtl_state *out);
CLMTL_API clm_status clm_mtl_state_set(clm_mtl *m, const clm_mtl_state *in);

/* ==== Gradient methods ==================================================================== */
/* pcgrad, mgda-ub, cagrad, imtl-g and aligned-mtl combine per-task gradients (host side
 * src/mtl/gradmethods.c and src/mtl/gradsolve.c, kernels cl/gradmethods.cl). Shared
 * parameters are every trained parameter of a node that two or more losses depend on;
 * a task-specific parameter (one loss depends on it) always takes its own task's gradient
 * ∇L_i, unweighted (Sener & Koltun's Algorithm 2; LibMTL's practice). Per step:
 *   pcgrad, cagrad, imtl-g, aligned-mtl: one backward per task (seed 1 on that task's loss)
 *     whose shared-parameter gradient is moved into row i of a K×S buffer (S = shared floats),
 *     the K×K Gram matrix of the rows on the device, one read of it, the K×K solve on the host
 *     (double precision, microseconds for K <= 16), the coefficients α uploaded and the shared
 *     gradient written as Σ α_i g_i by one kernel. The methods in the Gram basis:
 *       pcgrad:  per task i, g_i' = g_i then for j in a random order (clm_mtl_pcgrad_order) of
 *                the others: if g_i'·g_j < 0, g_i' −= (g_i'·g_j / ‖g_j‖²) g_j; g = Σ g_i'.
 *       cagrad:  g0 = mean g_i, w = argmin_{w∈Δ} g_w·g0 + c‖g0‖‖g_w‖ (g_w = Σ w_i g_i),
 *                g = (g0 + c‖g0‖/‖g_w‖ g_w) / (1 + c²) (the authors' code's rescale = 1).
 *       imtl-g:  u_i = g_i/‖g_i‖, D = [g_1 − g_i], U = [u_1 − u_i] (i = 2..K),
 *                α_{2..K} = g_1 Uᵀ (D Uᵀ)⁻¹, α_1 = 1 − Σ α_{2..K}; g = Σ α_i g_i.
 *       aligned-mtl: Gram M = V Λ Vᵀ, rank R = #{λ > λ_max·K·FLT_EPSILON},
 *                B = √λ_R · V_R Λ_R^{−1/2} V_Rᵀ, α = B·1; g = Σ α_i g_i.
 *   mgda-ub: one partial backward per task from its loss down to the shared representation Z,
 *     its gradient ∇_Z L_i into row i, the Gram of those rows, α = argmin_{α∈Δ} ‖Σ α_i ∇_Z L_i‖²
 *     (projected gradient, then the exact solution on its support), then one full backward
 *     with seeds α; the task-specific gradients behind Z are kept from the per-task passes.
 * Tasks whose valid count is not > 0 are left out (α_i = 0, no pass). The total the guard
 * reads is Σ L_i; the logged weights are α. */

/* Extra device memory (bytes) the weighting holds for graph g, and backward passes per step
 * beyond the one every strategy takes (pcgrad ...: K − 1; mgda-ub: K partial ones); after
 * clm_mtl_create. */
CLMTL_API void clm_mtl_cost(const clm_mtl *m, size_t *extra_bytes, int *extra_backward);

#ifdef __cplusplus
}
#endif

#endif
