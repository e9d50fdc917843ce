/* Multi-task loss weighting: how the K per-task losses of a graph combine into one total,
 * with strategies chosen by name (fixed, equal, Kendall's uncertainty weighting and its
 * variants, softplus) and availability gating on the share of valid targets. The step is one
 * device kernel (cl/mtl.cl) that reads the per-task loss values and valid counts, writes the
 * total, each task's gradient seed dTotal/dL_i, the gradient w.r.t. the learned parameters
 * and the effective weights, with no host round trip. Host side: src/mtl/weighting.c.
 * Not here: the per-task losses themselves (graph.h), the optimizer that updates the learned
 * parameters (optim.h). gradnorm and dwa are named and parsed but not yet implemented. */
#ifndef CLMTL_MTL_H
#define CLMTL_MTL_H

#include "clmtl/graph.h"
#include "clmtl/optim.h"
#include "clmtl/tensor.h"

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
  CLM_MTL_GRADNORM = 6,            /* Chen et al. 2018: parsed, step not implemented yet */
  CLM_MTL_DWA = 7,                 /* Liu et al. 2019: parsed, step not implemented yet */
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
                                                (default 0) */
  clm_mtl_clamp clamp;                       /* uncertainty-clamped only */
  float clamp_min, clamp_max;                /* default σ² ∈ [1e-3, 10] */
  clm_mtl_gating gating;                     /* default none */
  float gate_threshold;                      /* default 0.2 */
  float valid_total[CLM_MTL_MAX_TASKS];      /* targets a full batch could hold per task:
                                                share = valid count / valid_total; must be > 0
                                                when gating is on */
} clm_mtl_config;

/* Defaults for the strategy and K tasks (all classification, weights 1, s 0, σ² clamp
 * [1e-3, 10], no gating, threshold 0.2, valid totals 0 = unset). */
clm_mtl_config clm_mtl_defaults(clm_mtl_strategy strategy, int ntasks);

/* Parses "fixed", "equal", "uncertainty", "uncertainty-simple", "uncertainty-clamped",
 * "softplus", "gradnorm", "dwa". An unknown name is CLM_ERR_INVALID_ARG; the message lists
 * every valid name. */
clm_status clm_mtl_strategy_parse(const char *name, clm_mtl_strategy *out);
/* Parses "none", "hard", "soft". */
clm_status clm_mtl_gating_parse(const char *name, clm_mtl_gating *out);
/* Name of a strategy ("uncertainty-simple"); "?" when out of range. */
const char *clm_mtl_strategy_name(clm_mtl_strategy s);

/* Learned parameters the strategy needs: K for the uncertainty strategies and softplus,
 * 0 otherwise. */
int clm_mtl_param_count(const clm_mtl_config *cfg);

/* Checks the config (K, weights, clamp range, gating totals). */
clm_status clm_mtl_config_check(const clm_mtl_config *cfg);

/* Uploads cfg->init_param into params (K floats, blocking). */
clm_status clm_mtl_params_init(clm_context *ctx, const clm_mtl_config *cfg,
                               const clm_tensor *params);

/* Where the per-task device scalars live: task i's loss value at value.off + i*stride, its
 * valid count at count.off + i*stride and its gradient seed at seed.off + i*stride (all in
 * floats; each view's buffer must hold all K). */
typedef struct clm_mtl_scalars {
  clm_tensor value, count, seed;
  int stride;
} clm_mtl_scalars;

/* The graph's layout: one buffer, task i at 3i (value), 3i+1 (count), 3i+2 (seed). */
clm_mtl_scalars clm_mtl_scalars_graph(const clm_graph *g);
/* Three buffers of K consecutive floats each (stride 1). */
clm_mtl_scalars clm_mtl_scalars_packed(const clm_tensor *values, const clm_tensor *counts,
                                       const clm_tensor *seeds);

/* One launch: reads the K loss values and valid counts from sc and the learned parameters
 * (K floats; NULL allowed when clm_mtl_param_count is 0), and writes
 *   total       1 float: the weighted total (written even when not finite, so that the
 *               optimizer's guard can skip the step);
 *   sc seeds    K floats: dTotal/dL_i (0 for a task left out);
 *   param_grad  K floats, WRITTEN (not accumulated): dTotal/d(s or u); optional (NULL); zeros
 *               for strategies without learned parameters;
 *   weights     K floats, optional: each task's effective weight dTotal/dL_i, for logging.
 * A task whose valid count is 0 (or not positive) is left out whatever the gating, so a NaN
 * loss from an empty task does not reach the total. gradnorm and dwa return
 * CLM_ERR_UNSUPPORTED. */
clm_status clm_mtl_step(clm_context *ctx, const clm_mtl_config *cfg, const clm_mtl_scalars *sc,
                        const clm_tensor *params, const clm_tensor *total,
                        const clm_tensor *param_grad, const clm_tensor *weights);

/* ---- a weighting bound to a training graph (src/mtl/binding.c) ---------------------------- */

/* A config for graph g's K losses with `strategy`: each task's kind and fixed weight from its
 * [task.*] section, and its valid total (targets a full batch holds: N·H·W pixels for
 * softmax_xent, N·C·H·W elements for l1/l2, matching how the losses count). */
clm_status clm_mtl_config_for_graph(const clm_graph *g, clm_mtl_strategy strategy,
                                    clm_mtl_config *cfg);

typedef struct clm_mtl clm_mtl;

/* Binds cfg to the compiled training graph g: the learned values live in g's task parameters
 * (clm_graph_task_params), which this sets to cfg->init_param. */
clm_status clm_mtl_create(clm_graph *g, const clm_mtl_config *cfg, clm_mtl **out);
void clm_mtl_free(clm_mtl *m);

/* After clm_graph_forward: total, every loss's seed, and dTotal/d(task parameter) written into
 * g's gradient buffer; a non-finite total is counted on the device. */
clm_status clm_mtl_weigh(clm_mtl *m);

/* Device scalar of the weighted total: the optimizer's guard. */
clm_tensor clm_mtl_total(const clm_mtl *m);

/* One training step, all on the device: zero gradients, forward, weigh, backward, optimizer
 * update of network and task parameters together (skipped, state untouched, when the total
 * is NaN or Inf). */
clm_status clm_mtl_train_step(clm_mtl *m, const clm_optim_config *opt, clm_optim_state *state);

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
} clm_mtl_snapshot;

clm_status clm_mtl_read(clm_mtl *m, clm_mtl_snapshot *out);

#endif
