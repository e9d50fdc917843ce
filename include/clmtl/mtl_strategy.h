/* Multi-task loss weighting, the strategies as host data: which strategies there are (fixed,
 * equal, Kendall's uncertainty weighting and its variants, softplus, gradnorm, dwa, the
 * gradient methods, rlw, gls), their configuration, names and checks, and the host-side rules
 * that need no device: DWA's per-epoch weights and the counter-based draws of rlw and pcgrad.
 * Not here: the device kernels that apply a strategy (clmtl/mtl_device.h) and a weighting
 * bound to a training graph (clmtl/mtl.h). Host side: src/mtl/weighting.c, balance.c,
 * gradmethods.c. */
#ifndef CLMTL_MTL_STRATEGY_H
#define CLMTL_MTL_STRATEGY_H

#include "clmtl/kinds.h"
#include "clmtl/status.h"
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
                                      the clm_gradnorm_* calls (mtl_device.h) */
  CLM_MTL_DWA = 7,                 /* Liu et al. 2019: Σ w_i L_i, w_i in params, set once per
                                      epoch from clm_dwa (below) */
  /* gradient methods ("Gradient methods" in mtl.h): per-task gradients, one backward per task */
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
  CLM_MTL_UNCERTAINTY_EXACT = 15,  /* Kendall et al. 2018 without Eq. 10's approximation: a
                                      classification task's loss is -log softmax(f/σ²)[y] itself,
                                      σ² = e^s inside the softmax (the graph's loss temperature,
                                      clm_graph_set_loss_temperature), weight 1; regression as
                                      UNCERTAINTY (Eq. 7); learned s */
  CLM_MTL_STRATEGY_COUNT
} clm_mtl_strategy;

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
  clm_task_kind kind[CLM_MTL_MAX_TASKS];
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

/* ---- DWA's host state (Liu et al. 2019; the rule is in clmtl/mtl_device.h's GradNorm and
 * DWA section) -------------------------------------------------------------------------------- */

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

/* ---- counter-based draws (rlw, pcgrad; see "Gradient methods" in clmtl/mtl.h) ---------- */

/* The K standard normal draws of rlw at (seed, step) (the trainer's step count), from a
 * counter-based generator (splitmix64, Box–Muller): the same on every device and after a
 * resume. rlw's weights are softmax(z). */
CLMTL_API clm_status clm_mtl_rlw_draw(unsigned long long seed, long step, int ntasks, double *z);
/* pcgrad: the order in which task `task` is projected onto the others at (seed, step):
 * order[0..K−2] is a uniform random permutation of the K−1 other tasks. */
CLMTL_API clm_status clm_mtl_pcgrad_order(unsigned long long seed, long step, int task, int ntasks,
                                          int *order);

#ifdef __cplusplus
}
#endif

#endif
