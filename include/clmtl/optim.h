/* Optimizers as device kernels over flat buffers: parameters, gradients and the optimizer's
 * moments share one layout, so a step is one launch over all of them. */
#ifndef CLMTL_OPTIM_H
#define CLMTL_OPTIM_H

#include "clmtl/tensor.h"

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
  float weight_decay;
} clm_optim_config;

/* PyTorch's defaults for the kind (lr 1e-3 for Adam/AdamW, 1e-2 for SGD, momentum 0.9). */
clm_optim_config clm_optim_defaults(clm_optim_kind kind);

/* Parses "sgd", "adam", "adamw". */
clm_status clm_optim_parse(const char *name, clm_optim_kind *out);

/* Device-side optimizer state for n parameters: moments m, v (n each) and a step counter.
 * The counter lives on the device so a skipped step (non-finite loss) needs no host read. */
typedef struct clm_optim_state {
  size_t n;
  clm_tensor m, v;  /* (1,1,1,n) each; v unused by SGD */
  clm_tensor step;  /* (1,1,1,1): number of updates applied */
  clm_mem buffer;   /* owns m, v and step */
} clm_optim_state;

clm_status clm_optim_state_init(clm_context *ctx, size_t n, clm_optim_state *s);
void clm_optim_state_free(clm_optim_state *s);

/* One update of params (n floats) from grads, in one launch (plus a one-item counter kernel).
 * guard: optional device scalar; when given and not finite (NaN/Inf total loss) the update is
 * skipped on the device, leaving params and state untouched. */
clm_status clm_optim_step(clm_context *ctx, const clm_optim_config *cfg, const clm_tensor *params,
                          const clm_tensor *grads, clm_optim_state *s, const clm_tensor *guard);

#endif
