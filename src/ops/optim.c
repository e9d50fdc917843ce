/* Optimizers (include/clmtl/optim.h; kernels in cl/optim.cl): defaults and name parsing, the
 * device state (moments m, v, the step counter and the weight-decay mask in one buffer, the
 * task range on the host) and the step, which is one launch over all parameters plus a
 * one-work-item launch that advances the counter. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/optim.h"
#include "ops/ops.h"

clm_optim_config clm_optim_defaults(clm_optim_kind kind) {
  clm_optim_config c;
  memset(&c, 0, sizeof c);
  c.kind = kind;
  c.lr = kind == CLM_OPTIM_SGD ? 1e-2f : 1e-3f;
  c.momentum = 0.9f;
  c.nesterov = 0;
  c.beta1 = 0.9f;
  c.beta2 = 0.999f;
  c.eps = 1e-8f;
  c.weight_decay = kind == CLM_OPTIM_ADAMW ? 1e-2f : 0.0f;
  return c;
}

clm_status clm_optim_parse(const char *name, clm_optim_kind *out) {
  static const struct { const char *name; clm_optim_kind kind; } known[] = {
      {"sgd", CLM_OPTIM_SGD}, {"adam", CLM_OPTIM_ADAM}, {"adamw", CLM_OPTIM_ADAMW}};
  if (!name || !out) CLM_FAIL(CLM_ERR_INVALID_ARG, "optimizer name missing (sgd, adam, adamw)");
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (!strcmp(name, known[i].name)) {
      *out = known[i].kind;
      return CLM_OK;
    }
  CLM_FAIL(CLM_ERR_INVALID_ARG, "unknown optimizer '%s' (known: sgd, adam, adamw)", name);
}

clm_status clm_optim_state_init(clm_context *ctx, size_t n, clm_optim_state *s) {
  memset(s, 0, sizeof *s);
  if (n == 0 || n > INT_MAX)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "optimizer state for %zu parameters: need 1 to %d", n, INT_MAX);
  clm_mem buf;
  size_t words = (n + 31) / 32;
  /* zero-filled: moments 0, step 0, no parameter exempt from decay */
  CLM_TRY(clm_buffer_alloc(ctx, 2 * n + 1 + words, &buf));
  s->n = n;
  s->ctx = ctx;
  s->buffer = buf;
  s->m = clm_tensor_view(buf, 0, 1, 1, 1, (int)n);
  s->v = clm_tensor_view(buf, n, 1, 1, 1, (int)n);
  s->step = clm_tensor_view(buf, 2 * n, 1, 1, 1, 1);
  s->nodecay = clm_tensor_view(buf, 2 * n + 1, 1, 1, 1, (int)words);
  return CLM_OK;
}

clm_status clm_optim_state_set_decay(clm_context *ctx, clm_optim_state *s,
                                     const unsigned char *decay) {
  if (!ctx || !s || !s->buffer) CLM_FAIL(CLM_ERR_INVALID_ARG, "decay mask: context and state required");
  size_t words = (s->n + 31) / 32;
  uint32_t *bits = calloc(words, sizeof *bits);
  if (!bits) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  for (size_t i = 0; decay && i < s->n; i++)
    if (!decay[i]) bits[i / 32] |= 1u << (i % 32);
  clm_status st = clm_tensor_upload(ctx, &s->nodecay, (const float *)(const void *)bits); /* words as bytes */
  free(bits);
  return st;
}

clm_status clm_optim_state_set_task(clm_optim_state *s, size_t off, size_t count) {
  if (!s || !s->buffer) CLM_FAIL(CLM_ERR_INVALID_ARG, "task range: state required");
  if (off > s->n || count > s->n - off)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "task range [%zu, %zu) lies outside the %zu parameters", off,
             off + count, s->n);
  s->task_off = count ? off : 0;
  s->task_count = count;
  return CLM_OK;
}

void clm_optim_state_free(clm_optim_state *s) {
  if (!s) return;
  clm_buffer_free(s->ctx, s->buffer);
  memset(s, 0, sizeof *s);
}

static clm_status check_config(const clm_optim_config *c) {
  if (c->kind != CLM_OPTIM_SGD && c->kind != CLM_OPTIM_ADAM && c->kind != CLM_OPTIM_ADAMW)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "unknown optimizer kind %d", (int)c->kind);
  if (!isfinite(c->lr) || c->lr < 0 || !isfinite(c->weight_decay) || c->weight_decay < 0 ||
      !isfinite(c->task_lr) || c->task_lr < 0)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "optimizer: lr %g, task lr %g and weight decay %g must be "
             "finite and >= 0", c->lr, c->task_lr, c->weight_decay);
  if (c->kind == CLM_OPTIM_SGD && !(c->momentum >= 0 && c->momentum < INFINITY))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "sgd: momentum %g must be finite and >= 0", c->momentum);
  if (c->kind == CLM_OPTIM_SGD && c->nesterov && c->momentum <= 0)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "sgd: Nesterov momentum needs momentum > 0");
  if (c->kind != CLM_OPTIM_SGD &&
      (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1) ||
       !(c->eps >= 0 && c->eps < INFINITY)))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "adam: betas (%g, %g) must lie in [0, 1), eps %g be >= 0",
             c->beta1, c->beta2, c->eps);
  return CLM_OK;
}

/* log(beta) for the bias correction; beta = 0 gives -inf, so 1 - beta^t = -expm1(-inf) = 1. */
static double log_beta(float beta) { return beta > 0 ? log((double)beta) : -INFINITY; }

clm_status clm_optim_step(clm_context *ctx, const clm_optim_config *cfg, const clm_tensor *params,
                          const clm_tensor *grads, clm_optim_state *s, const clm_tensor *guard) {
  if (!cfg || !s || !clm_tensor_present(params) || !clm_tensor_present(grads) || !s->buffer)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "optimizer step: config, params, grads and state are required");
  CLM_TRY(check_config(cfg));
  if (clm_tensor_numel(params) != s->n || clm_tensor_numel(grads) != s->n)
    CLM_FAIL(CLM_ERR_SHAPE, "optimizer step: state holds %zu parameters, params %zu, grads %zu",
             s->n, clm_tensor_numel(params), clm_tensor_numel(grads));
  int has_guard = clm_tensor_present(guard);
  if (has_guard && clm_tensor_numel(guard) < 1)
    CLM_FAIL(CLM_ERR_SHAPE, "optimizer step: the guard tensor is empty");
  const clm_tensor *gd = has_guard ? guard : &s->step; /* any valid buffer when absent */
  cl_kernel k;
  CLM_TRY(clm_kernel_get(ctx, "optim", NULL, "optim_step", &k, NULL));
  float task_lr = cfg->task_lr > 0 ? cfg->task_lr : cfg->lr;
  int t0 = (int)s->task_off, t1 = (int)(s->task_off + s->task_count);
  CLM_TRY(clm_kernel_args(k, "ttttttiiiffiffffffftiif", params, grads, &s->m, &s->v, &s->step, gd,
                          has_guard, (int)s->n, (int)cfg->kind, (double)cfg->lr,
                          (double)cfg->momentum, cfg->nesterov ? 1 : 0,
                          1.0 - (double)cfg->beta1, log_beta(cfg->beta1), (double)cfg->beta2,
                          1.0 - (double)cfg->beta2, log_beta(cfg->beta2), (double)cfg->eps,
                          (double)cfg->weight_decay, &s->nodecay, t0, t1, (double)task_lr));
  size_t items = (s->n + 15) / 16; /* 16 parameters per work-item */
  CLM_TRY(clm_kernel_launch(ctx, k, 1, &items, NULL));
  /* In-order queue: the counter moves only after every parameter has used it. */
  return clm_launch_1d(ctx, "optim", "optim_count", 1, "tti", &s->step, gd, has_guard);
}
