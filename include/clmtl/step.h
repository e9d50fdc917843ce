/* One training step and the set-up that makes one possible.
 *
 * clm_step_run is the step: the weighting's preparation (rlw's draw), the forward, the
 * weighting and the backward pass(es) it takes, the optimizer, the weighting's follow-up
 * (gradnorm's renormalisation), all on the device with no host read. Hooks let a caller act
 * between them (data parallelism: reduce the losses after the forward, allreduce the flat
 * gradient after the backward).
 *
 * clm_session_open is the set-up the trainer, `clmtl model --steps` and `clmtl bench` share:
 * context → graph (model file or text) → compile (parameters initialised once, from the
 * seed) → weighting → optimizer state (and its decay mask). */
#ifndef CLMTL_STEP_H
#define CLMTL_STEP_H

#include "clmtl/device.h"
#include "clmtl/dist.h"
#include "clmtl/graph.h"
#include "clmtl/mtl.h"
#include "clmtl/optim.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Callbacks inside a step; each NULL one is skipped, a status other than CLM_OK ends the step
 * with that status. */
typedef struct clm_step_hooks {
  void *user;
  /* After the forward, before the weighting reads the losses: every loss value and valid
   * count is on the device in clm_graph_loss_scalars(g) (value 3i, count 3i+1). A data-parallel
   * run reduces them here, so that every replica weighs the same global losses. */
  clm_status (*after_forward)(void *user, clm_graph *g);
  /* After the weighting's backward pass(es), before the optimizer reads the gradient: the
   * whole flat gradient, clm_graph_grads(g), is complete (task parameters' included). A
   * data-parallel run allreduces (averages) it here. */
  clm_status (*after_backward)(void *user, clm_graph *g);
} clm_step_hooks;

/* One training step of m's graph with optimizer settings opt on state (after
 * clm_optim_state_init with the graph's parameter count; the task parameters are its task
 * range: learning rate opt->task_lr, never decayed). Zeroes the gradients, runs forward, the
 * weighting's gradients (mtl.h, clm_mtl_gradients), the optimizer update of network and task
 * parameters together (skipped, state untouched, when the weighted total is NaN or Inf) and
 * the weighting's end of step. hooks may be NULL. */
CLMTL_API clm_status clm_step_run(clm_mtl *m, const clm_optim_config *opt, clm_optim_state *state,
                                  const clm_step_hooks *hooks);

/* Adds the step's K loss values to acc (2K floats, on the device): task i's value, when
 * finite, to acc[i] and 1 to acc[K + i], so that an epoch's mean losses are acc[i] / acc[K + i]. */
CLMTL_API clm_status clm_step_accumulate_losses(const clm_graph *g, const clm_tensor *acc);

/* ---- the set-up ---------------------------------------------------------------------------- */

typedef struct clm_session_options {
  const clm_context_options *context; /* NULL: the defaults */
  const char *device;                 /* overrides context->device when not NULL or "" */
  const char *model_path;             /* a model file (read once) ... */
  const char *model_text;             /* ... or, with model_path NULL, model text in memory */
  const char *model_name;             /* the text's name in messages */
  int batch, height, width;
  int training;                       /* 0: the graph compiled for inference alone */
  unsigned long long seed;            /* parameters' initialisation; rlw's and pcgrad's draws */
  clm_mtl_config weighting;           /* its strategy and settings (clm_mtl_config_bind) */
  int moments;                        /* optimizer moments to count in compile's memory check */
  int decay_mask;                     /* 1: set the optimizer's decay mask (clm_mtl_optim_setup) */
  int decay_bias_norm;                /* ... decaying biases and batch-norm γ, β too */
  clm_dist *dist;                     /* data parallelism (dist.h): this rank's entry of a device
                                         list, the weighting over the ranks (valid totals of the
                                         global batch); NULL: one device */
} clm_session_options;

/* Zero, but for training with the weighting's defaults: clm_mtl_defaults(UNCERTAINTY, 0). */
CLMTL_API clm_session_options clm_session_defaults(void);

typedef struct clm_session {
  clm_context *ctx;
  clm_graph *g;
  clm_mtl *mtl;        /* training sessions */
  clm_optim_state opt; /* training sessions: for the graph's parameters */
} clm_session;

/* Opens everything in order; on failure *out is NULL and what was made is freed. A training
 * session's graph is compiled with clm_graph_set_multi_backward on for the strategies that
 * take per-task gradients. */
CLMTL_API clm_status clm_session_open(const clm_session_options *o, clm_session **out);
/* Frees the optimizer state, the weighting and the graph, and keeps the context. */
CLMTL_API void clm_session_release_graph(clm_session *s);
/* Frees everything; NULL does nothing. */
CLMTL_API void clm_session_close(clm_session *s);

#ifdef __cplusplus
}
#endif

#endif
