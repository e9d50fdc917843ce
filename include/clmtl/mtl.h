/* Multi-task loss weighting: how the K per-task losses of a graph combine into one total,
 * with strategies chosen by name (fixed, equal, Kendall's uncertainty weighting and its
 * variants, softplus) and availability gating on the share of valid targets. The step is one
 * device kernel (cl/mtl.cl) that reads the per-task loss values and valid counts, writes the
 * total, each task's gradient seed dTotal/dL_i, the gradient w.r.t. the learned parameters
 * and the effective weights, with no host round trip. Host side: src/mtl/weighting.c.
 * Not here: the per-task losses themselves (graph.h), the optimizer that updates the learned
 * parameters (optim.h). gradnorm and dwa step like fixed with weights held on the device
 * (the params tensor); their weight updates are in the "GradNorm and DWA" section at the end
 * (host side src/mtl/balance.c, kernels cl/balance.cl). The gradient methods (pcgrad,
 * mgda-ub, cagrad, imtl-g, aligned-mtl) combine per-task gradients instead of weighting
 * losses: "Gradient methods" at the end (src/mtl/gradmethods.c, gradsolve.c,
 * cl/gradmethods.cl); rlw and gls are loss weightings like the others. */
#ifndef CLMTL_MTL_H
#define CLMTL_MTL_H

#include "clmtl/graph.h"
#include "clmtl/optim.h"
#include "clmtl/tensor.h"
#include "clmtl/dist.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLM_MTL_MAX_TASKS 16

typedef enum clm_mtl_strategy {
  CLM_MTL_FIXED = 0,               /* Σ w_i L_i, user weights */
  CLM_MTL_EQUAL = 1,               /* Σ L_i / K */
  CLM_MTL_UNCERTAINTY = 2,         /* Kendall Eq. 7/10, s = log σ²: regression ½e^{−s}L + ½s,
                                      classification e^{−s}L + ½s; learned s */
  CLM_MTL_UNCERTAINTY_SIMPLE = 3,  /* e^{−s}L + s; learned s */
  CLM_MTL_UNCERTAINTY_CLAMPED = 4, /* as UNCERTAINTY with s clamped; dTotal/ds = 0 where the
                                      clamp is active; learned s */
  CLM_MTL_SOFTPLUS = 5,            /* s = softplus(u); e^{−s}L + s; learned u */
  CLM_MTL_GRADNORM = 6,            /* Chen et al. 2018: Σ w_i L_i, w_i in params, updated by
                                      the clm_gradnorm_* calls below */
  CLM_MTL_DWA = 7,                 /* Liu et al. 2019: Σ w_i L_i, w_i in params, set once per
                                      epoch from clm_dwa below */
  /* gradient methods ("Gradient methods" below): per-task gradients, one backward per task */
  CLM_MTL_PCGRAD = 8,              /* Yu et al. 2020: projecting conflicting gradients */
  CLM_MTL_MGDA_UB = 9,             /* Sener & Koltun 2018: min-norm point of the task gradients
                                      w.r.t. the shared representation */
  CLM_MTL_CAGRAD = 10,             /* Liu et al. 2021: conflict-averse gradient, c = cagrad_c */
  CLM_MTL_IMTL_G = 11,             /* Liu et al. 2021 (ICLR): equal projections on every
                                      task's unit gradient */
  CLM_MTL_ALIGNED_MTL = 12,        /* Senushkin et al. 2023: the gradient matrix aligned by its
                                      smallest singular value */
  /* cheap loss-based ones */
  CLM_MTL_RLW = 13,                /* Lin et al. 2021: Σ w_i L_i, w = softmax(z), z ~ N(0, I)
                                      drawn per step (clm_mtl_rlw_draw), w in params */
  CLM_MTL_GLS = 14,                /* Chennupati et al. 2019: (Π L_i)^{1/K} */
  CLM_MTL_STRATEGY_COUNT
} clm_mtl_strategy;

typedef enum clm_mtl_task_kind {
  CLM_MTL_CLASSIFICATION = 0,
  CLM_MTL_REGRESSION = 1
} clm_mtl_task_kind;

typedef enum clm_mtl_gating {
  CLM_MTL_GATE_NONE = 0, /* every task with a valid target counts fully */
  CLM_MTL_GATE_HARD = 1, /* share < threshold: left out of the total, seed and gradient 0 */
  CLM_MTL_GATE_SOFT = 2  /* share < threshold: contribution and its gradients times share */
} clm_mtl_gating;

typedef enum clm_mtl_clamp {
  CLM_MTL_CLAMP_SIGMA2 = 0, /* [clamp_min, clamp_max] bounds σ² (> 0): s ∈ [log min, log max] */
  CLM_MTL_CLAMP_S = 1       /* [clamp_min, clamp_max] bounds s directly */
} clm_mtl_clamp;

typedef struct clm_mtl_config {
  clm_mtl_strategy strategy;
  int ntasks;                                /* K, 1..CLM_MTL_MAX_TASKS */
  clm_mtl_task_kind kind[CLM_MTL_MAX_TASKS];
  float weight[CLM_MTL_MAX_TASKS];           /* fixed: w_i (default 1) */
  float init_param[CLM_MTL_MAX_TASKS];       /* initial learned parameter: s = log σ² for the
                                                uncertainty strategies, u for softplus
                                                (default 0); the initial weight w_i for
                                                gradnorm and dwa (default 1) */
  clm_mtl_clamp clamp;                       /* uncertainty-clamped only */
  float clamp_min, clamp_max;                /* default σ² ∈ [1e-3, 10] */
  clm_mtl_gating gating;                     /* default none */
  float gate_threshold;                      /* default 0.2 */
  float valid_total[CLM_MTL_MAX_TASKS];      /* targets a full batch could hold per task:
                                                share = valid count / valid_total; must be > 0
                                                when gating is on */
  float gradnorm_alpha;                      /* gradnorm: α, default 1.5 */
  float dwa_temperature;                     /* dwa: T, default 2 */
  float cagrad_c;                            /* cagrad: c, default 0.5 */
  unsigned long long seed;                   /* rlw's weights and pcgrad's orders: draws of
                                                (seed, step); default 0 */
} clm_mtl_config;

/* Defaults for the strategy and K tasks (all classification, weights 1, s 0 (init_param 1
 * for gradnorm and dwa), σ² clamp [1e-3, 10], no gating, threshold 0.2, valid totals
 * 0 = unset). */
CLMTL_API clm_mtl_config clm_mtl_defaults(clm_mtl_strategy strategy, int ntasks);

/* Parses "fixed", "equal", "uncertainty", "uncertainty-simple", "uncertainty-clamped",
 * "softplus", "gradnorm", "dwa", "pcgrad", "mgda-ub", "cagrad", "imtl-g", "aligned-mtl", "rlw",
 * "gls". An unknown name is CLM_ERR_INVALID_ARG; the message lists
 * every valid name. */
CLMTL_API clm_status clm_mtl_strategy_parse(const char *name, clm_mtl_strategy *out);
/* Parses "none", "hard", "soft". */
CLMTL_API clm_status clm_mtl_gating_parse(const char *name, clm_mtl_gating *out);
/* Name of a strategy ("uncertainty-simple"); "?" when out of range. */
CLMTL_API const char *clm_mtl_strategy_name(clm_mtl_strategy s);

/* 1 for the strategies that take one backward pass per task after each forward (gradnorm
 * and the gradient methods): their graph must be compiled after
 * clm_graph_set_multi_backward(g, 1). */
CLMTL_API int clm_mtl_strategy_needs_task_grads(clm_mtl_strategy s);

/* Parameters the strategy reads from params: K for the uncertainty strategies and softplus
 * (learned through param_grad) and for gradnorm, dwa and rlw (the weights, updated outside the
 * step), 0 otherwise. */
CLMTL_API int clm_mtl_param_count(const clm_mtl_config *cfg);

/* Checks the config (K, weights, clamp range, gating totals). */
CLMTL_API clm_status clm_mtl_config_check(const clm_mtl_config *cfg);

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

/* The graph's layout: one buffer, task i at 3i (value), 3i+1 (count), 3i+2 (seed). */
CLMTL_API clm_mtl_scalars clm_mtl_scalars_graph(const clm_graph *g);
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
 * total their guard reads is Σ L_i); their gradients are combined outside (see below). */
CLMTL_API clm_status clm_mtl_step(clm_context *ctx, const clm_mtl_config *cfg, const clm_mtl_scalars *sc,
                        const clm_tensor *params, const clm_tensor *total,
                        const clm_tensor *param_grad, const clm_tensor *weights);

/* ---- a weighting bound to a training graph (src/mtl/binding.c) ---------------------------- */

/* A config for graph g's K losses with `strategy`: each task's kind and fixed weight from its
 * [task.*] section, and its valid total (targets a full batch holds: N·H·W pixels for
 * softmax_xent, N·C·H·W elements for l1/l2, matching how the losses count). */
CLMTL_API clm_status clm_mtl_config_for_graph(const clm_graph *g, clm_mtl_strategy strategy,
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

/* One training step, all on the device: zero gradients, forward, weigh, backward, optimizer
 * update of network and task parameters together (skipped, state untouched, when the total
 * is NaN or Inf). For gradnorm it also takes, per task, the gradient norm of that task's loss
 * alone at the last shared layer (one partial backward per task, from that task's loss down
 * to the shared layer only: clm_graph_backward_partial; the graph must be compiled after
 * clm_graph_set_multi_backward(g, 1), else clm_mtl_create fails), writes the weight gradient into the task
 * parameters' gradient before the optimizer and renormalises the weights to sum to K after
 * it. The weights are updated by the same optimizer as the network, as in Chen et al.
 * The gradient methods replace the backward by their per-task passes and combination
 * ("Gradient methods" below; same multi-backward requirement); rlw draws its weights
 * before the forward. */
CLMTL_API clm_status clm_mtl_train_step(clm_mtl *m, const clm_optim_config *opt, clm_optim_state *state);

/* Per-parameter optimizer settings for the graph's parameters on s (after
 * clm_optim_state_init with the graph's parameter count), as PyTorch parameter groups: the K
 * task parameters form s's task range (learning rate opt->task_lr, never decayed; every
 * clm_mtl_train_step sets that range too, so they never decay even without this call);
 * convolution weights decay; biases and batch-norm γ, β decay unless decay_bias_norm is 0. */
CLMTL_API clm_status clm_mtl_optim_setup(clm_mtl *m, clm_optim_state *s, int decay_bias_norm);

/* Data-parallel training (dist.h): the training step reduces the losses and valid counts over
 * d's ranks after the forward (so every strategy weighs the global batch's losses), GradNorm's
 * per-task gradient norms at the shared layer, and the gradient after the backward; every rank
 * then takes the same optimizer step. NULL or one rank: a single device. The gradient methods
 * (pcgrad ... aligned-mtl) are refused over several ranks. */
CLMTL_API clm_status clm_mtl_set_dist(clm_mtl *m, clm_dist *d);

/* Call once at the end of each epoch with the K epoch-mean raw losses: dwa sets the weights
 * of the next epoch from them; the other strategies ignore it. */
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

/* What a resumed run needs beyond the task parameters and the optimizer state, for
 * checkpoints: gradnorm's initial losses L_i(0) (0: not recorded yet) and its count of
 * steps taken (a resumed run must not record them again), and the non-finite step counters
 * the guard reports. Every strategy has them (unused ones stay 0). Blocking. */
typedef struct clm_mtl_state {
  int ntasks;
  long steps;                      /* clm_mtl_train_step calls so far */
  float l0[CLM_MTL_MAX_TASKS];     /* gradnorm: L_i(0) */
  float skipped_steps, skipped_in_a_row;
} clm_mtl_state;

CLMTL_API clm_status clm_mtl_state_get(clm_mtl *m, clm_mtl_state *out);
CLMTL_API clm_status clm_mtl_state_set(clm_mtl *m, const clm_mtl_state *in);

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

#define CLM_DWA_TEMPERATURE 2.0f /* T of Liu et al. */
#define CLM_GRADNORM_ALPHA 1.5f  /* α of Chen et al. */

/* DWA state: the epoch means of the last two recorded epochs. Plain host data. */
typedef struct clm_dwa {
  int ntasks;                          /* K */
  float temperature;                   /* T > 0 */
  int epochs;                          /* epochs recorded so far = the epoch weighed next */
  double last[CLM_MTL_MAX_TASKS];      /* means of epoch epochs−1 */
  double before[CLM_MTL_MAX_TASKS];    /* means of epoch epochs−2 */
} clm_dwa;

/* K tasks (1..CLM_MTL_MAX_TASKS), temperature T (> 0 and finite; CLM_DWA_TEMPERATURE), no
 * epoch recorded. */
CLMTL_API clm_status clm_dwa_init(clm_dwa *d, int ntasks, float temperature);
/* Records the K epoch-mean losses of the epoch just finished (call once per epoch). */
CLMTL_API clm_status clm_dwa_record(clm_dwa *d, const float *means);
/* The K weights of epoch d->epochs (the next one): 1 while fewer than two epochs are
 * recorded, else K·softmax(r / T). */
CLMTL_API clm_status clm_dwa_weights(const clm_dwa *d, float *w);
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

/* The K standard normal draws of rlw at (seed, step) (the trainer's step count), from a
 * counter-based generator (splitmix64, Box–Muller): the same on every device and after a
 * resume. rlw's weights are softmax(z). */
CLMTL_API clm_status clm_mtl_rlw_draw(unsigned long long seed, long step, int ntasks, double *z);
/* pcgrad: the order in which task `task` is projected onto the others at (seed, step):
 * order[0..K−2] is a uniform random permutation of the K−1 other tasks. */
CLMTL_API clm_status clm_mtl_pcgrad_order(unsigned long long seed, long step, int task, int ntasks,
                                          int *order);

/* Extra device memory (bytes) the weighting holds for graph g, and backward passes per step
 * beyond the one every strategy takes (pcgrad ...: K − 1; mgda-ub: K partial ones); after
 * clm_mtl_create. */
CLMTL_API void clm_mtl_cost(const clm_mtl *m, size_t *extra_bytes, int *extra_backward);

#ifdef __cplusplus
}
#endif

#endif
