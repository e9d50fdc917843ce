/* Optimizers as device kernels over flat buffers: parameters, gradients and the optimizer's
 * moments share one layout, so a step is one launch over all of them. What torch.optim does
 * with parameter groups is per-parameter state here: a weight-decay mask (one bit per
 * parameter) and one range (the multi-task weighting's parameters) with its own learning
 * rate and no decay. */
#ifndef CLMTL_OPTIM_H
#define CLMTL_OPTIM_H

#include "clmtl/tensor.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum clm_optim_kind {
  CLM_OPTIM_SGD = 0,   /* momentum (optionally Nesterov), L2 weight decay added to the gradient */
  CLM_OPTIM_ADAM = 1,  /* Kingma & Ba, L2 weight decay added to the gradient */
  CLM_OPTIM_ADAMW = 2  /* Loshchilov & Hutter: decoupled weight decay */
} clm_optim_kind;

typedef struct clm_optim_config {
  clm_optim_kind kind;
  float lr;
  float momentum;      /* SGD */
  int nesterov;        /* SGD */
  float beta1, beta2;  /* Adam/AdamW */
  float eps;           /* Adam/AdamW */
  float weight_decay;  /* applies to the parameters the state's mask does not exempt */
  float task_lr;       /* learning rate of the state's task range (clm_optim_state_set_task);
                          0 (default): lr */
} clm_optim_config;

/* PyTorch's defaults for the kind (lr 1e-3 for Adam/AdamW, 1e-2 for SGD, momentum 0.9). */
CLMTL_API clm_optim_config clm_optim_defaults(clm_optim_kind kind);

/* Parses "sgd", "adam", "adamw". */
CLMTL_API clm_status clm_optim_parse(const char *name, clm_optim_kind *out);

/* Device-side optimizer state for n parameters: moments m, v (n each) and a step counter.
 * The counter lives on the device so a skipped step (non-finite loss) needs no host read. */
typedef struct clm_optim_state {
  size_t n;
  clm_tensor m, v;  /* (1,1,1,n) each; v unused by SGD */
  clm_tensor step;  /* (1,1,1,1): number of updates applied */
  clm_tensor nodecay; /* ceil(n/32) 32-bit words: bit i%32 of word i/32 exempts parameter i
                         from weight decay; all 0 (everything decays) after init */
  size_t task_off, task_count; /* the task range: cfg->task_lr, no decay; empty after init */
  clm_mem buffer;   /* owns m, v, step and nodecay */
  clm_context *ctx; /* the context buffer was allocated in */
} clm_optim_state;

CLMTL_API clm_status clm_optim_state_init(clm_context *ctx, size_t n, clm_optim_state *s);
CLMTL_API void clm_optim_state_free(clm_optim_state *s);

/* The weight-decay mask: decay[i] = 0 exempts parameter i (n flags; NULL: all decay).
 * Uploaded once (blocking); kept until set again. */
CLMTL_API clm_status clm_optim_state_set_decay(clm_context *ctx, clm_optim_state *s,
                                     const unsigned char *decay);
/* Parameters [off, off + count) form the task range: learning rate cfg->task_lr (when > 0)
 * and never any weight decay, whatever the mask. count 0: no task range. Host only. */
CLMTL_API clm_status clm_optim_state_set_task(clm_optim_state *s, size_t off, size_t count);

/* One update of params (n floats) from grads, in one launch (plus a one-item counter kernel),
 * with the state's decay mask and task range.
 * guard: optional device scalar; when given and not finite (NaN/Inf total loss) the update is
 * skipped on the device, leaving params and state untouched. */
CLMTL_API clm_status clm_optim_step(clm_context *ctx, const clm_optim_config *cfg, const clm_tensor *params,
                          const clm_tensor *grads, clm_optim_state *s, const clm_tensor *guard);

#ifdef __cplusplus
}
#endif

#endif
