/* Multi-task loss weighting, host side (include/clmtl/mtl_strategy.h and mtl_device.h; kernel
 * in cl/mtl.cl): strategy
 * and gating names, defaults, config checks, the scalar layouts and the one-launch step.
 * gradnorm and dwa step like fixed with device-resident weights (the params tensor).
 * Not here: the update of the learned parameters (the optimizer) and the gradnorm / dwa
 * weight updates (src/mtl/balance.c). */
#include <math.h>
#include <string.h>
#include "clmtl/mtl.h"
#include "mtl/mtl-impl.h"
#include "ops/ops.h"

static const char *const strategy_names[CLM_MTL_STRATEGY_COUNT] = {
    "fixed", "equal", "uncertainty", "uncertainty-simple", "uncertainty-clamped",
    "softplus", "gradnorm", "dwa", "pcgrad", "mgda-ub", "cagrad", "imtl-g", "aligned-mtl",
    "rlw", "gls", "uncertainty-exact"};

#define STRATEGY_LIST \
  "fixed, equal, uncertainty, uncertainty-simple, uncertainty-clamped, softplus, gradnorm, dwa, " \
  "pcgrad, mgda-ub, cagrad, imtl-g, aligned-mtl, rlw, gls, uncertainty-exact"

clm_mtl_config clm_mtl_defaults(clm_mtl_strategy strategy, int ntasks) {
  clm_mtl_config c;
  memset(&c, 0, sizeof c);
  c.strategy = strategy;
  c.ntasks = ntasks;
  for (int i = 0; i < CLM_MTL_MAX_TASKS; i++) {
    c.kind[i] = CLM_TASK_CLASSIFICATION;
    c.weight[i] = 1.0f;
    /* gradnorm and dwa keep their weights in params: start at 1 */
    c.init_param[i] = strategy == CLM_MTL_GRADNORM || strategy == CLM_MTL_DWA ? 1.0f
                      : strategy == CLM_MTL_RLW ? 1.0f / (float)(ntasks > 0 ? ntasks : 1)
                                                : 0.0f;
  }
  c.clamp = CLM_MTL_CLAMP_SIGMA2;
  c.clamp_min = 1e-3f;
  c.clamp_max = 10.0f;
  c.gating = CLM_MTL_GATE_NONE;
  c.gate_threshold = 0.2f;
  c.gradnorm_alpha = 1.5f;    /* CLM_GRADNORM_ALPHA */
  c.dwa_temperature = 2.0f;   /* CLM_DWA_TEMPERATURE */
  c.cagrad_c = 0.5f;          /* Liu et al.'s default */
  return c;
}

clm_status clm_mtl_strategy_parse(const char *name, clm_mtl_strategy *out) {
  if (!name || !out) CLM_FAIL(CLM_ERR_INVALID_ARG, "loss weighting name missing (" STRATEGY_LIST ")");
  for (int i = 0; i < CLM_MTL_STRATEGY_COUNT; i++)
    if (!strcmp(name, strategy_names[i])) {
      *out = (clm_mtl_strategy)i;
      return CLM_OK;
    }
  CLM_FAIL(CLM_ERR_INVALID_ARG, "unknown loss weighting '%s' (known: " STRATEGY_LIST ")", name);
}

clm_status clm_mtl_gating_parse(const char *name, clm_mtl_gating *out) {
  static const char *const names[] = {"none", "hard", "soft"};
  if (!name || !out) CLM_FAIL(CLM_ERR_INVALID_ARG, "gating name missing (none, hard, soft)");
  for (int i = 0; i < 3; i++)
    if (!strcmp(name, names[i])) {
      *out = (clm_mtl_gating)i;
      return CLM_OK;
    }
  CLM_FAIL(CLM_ERR_INVALID_ARG, "unknown gating '%s' (known: none, hard, soft)", name);
}

const char *clm_mtl_strategy_name(clm_mtl_strategy s) {
  return (int)s >= 0 && s < CLM_MTL_STRATEGY_COUNT ? strategy_names[s] : "?";
}

static int learned(clm_mtl_strategy s) {
  return s == CLM_MTL_UNCERTAINTY || s == CLM_MTL_UNCERTAINTY_SIMPLE ||
         s == CLM_MTL_UNCERTAINTY_CLAMPED || s == CLM_MTL_SOFTPLUS || s == CLM_MTL_UNCERTAINTY_EXACT;
}

/* Weights w_i read from params, updated outside the step (gradnorm, dwa, rlw). */
static int device_weights(clm_mtl_strategy s) {
  return s == CLM_MTL_GRADNORM || s == CLM_MTL_DWA || s == CLM_MTL_RLW;
}

/* The gradient methods: the step weighs like fixed with every weight 1. */
static int gradient_method(clm_mtl_strategy s) {
  return s >= CLM_MTL_PCGRAD && s <= CLM_MTL_ALIGNED_MTL;
}

int clm_mtl_strategy_needs_task_grads(clm_mtl_strategy s) {
  return s == CLM_MTL_GRADNORM || gradient_method(s);
}

int clm_mtl_param_count(const clm_mtl_config *cfg) {
  return cfg && (learned(cfg->strategy) || device_weights(cfg->strategy)) ? cfg->ntasks : 0;
}

clm_status clm_mtl_config_check(const clm_mtl_config *c) {
  if (!c) CLM_FAIL(CLM_ERR_INVALID_ARG, "loss weighting: config missing");
  if ((int)c->strategy < 0 || c->strategy >= CLM_MTL_STRATEGY_COUNT)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "loss weighting: unknown strategy %d (known: " STRATEGY_LIST ")",
             (int)c->strategy);
  if (c->ntasks < 1 || c->ntasks > CLM_MTL_MAX_TASKS)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "loss weighting: %d tasks, need 1 to %d", c->ntasks,
             CLM_MTL_MAX_TASKS);
  if ((int)c->gating < 0 || c->gating > CLM_MTL_GATE_SOFT)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "loss weighting: unknown gating %d", (int)c->gating);
  if (c->gating != CLM_MTL_GATE_NONE && !(c->gate_threshold >= 0 && c->gate_threshold <= 1))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "loss weighting: gate threshold %g must lie in [0, 1]",
             c->gate_threshold);
  for (int i = 0; i < c->ntasks; i++) {
    if (c->kind[i] != CLM_TASK_CLASSIFICATION && c->kind[i] != CLM_TASK_REGRESSION)
      CLM_FAIL(CLM_ERR_INVALID_ARG, "loss weighting: task %d has unknown kind %d", i,
               (int)c->kind[i]);
    if (c->strategy == CLM_MTL_FIXED && !isfinite(c->weight[i]))
      CLM_FAIL(CLM_ERR_INVALID_ARG, "loss weighting: task %d weight %g is not finite", i,
               c->weight[i]);
    if (c->gating != CLM_MTL_GATE_NONE && !(c->valid_total[i] > 0 && isfinite(c->valid_total[i])))
      CLM_FAIL(CLM_ERR_INVALID_ARG,
               "loss weighting: gating needs task %d's valid target total > 0 (got %g)", i,
               c->valid_total[i]);
  }
  if (c->strategy == CLM_MTL_UNCERTAINTY_CLAMPED) {
    int ok = c->clamp_min <= c->clamp_max && isfinite(c->clamp_min) && isfinite(c->clamp_max);
    if (c->clamp == CLM_MTL_CLAMP_SIGMA2) ok = ok && c->clamp_min > 0;
    else if (c->clamp != CLM_MTL_CLAMP_S) ok = 0;
    if (!ok)
      CLM_FAIL(CLM_ERR_INVALID_ARG, "uncertainty-clamped: bad clamp range [%g, %g] on %s",
               c->clamp_min, c->clamp_max, c->clamp == CLM_MTL_CLAMP_S ? "s" : "sigma^2 (> 0)");
  }
  return CLM_OK;
}

clm_status clm_mtl_params_init(clm_context *ctx, const clm_mtl_config *cfg,
                               const clm_tensor *params) {
  CLM_TRY(clm_mtl_config_check(cfg));
  if (!clm_tensor_present(params) || clm_tensor_numel(params) != (size_t)cfg->ntasks)
    CLM_FAIL(CLM_ERR_SHAPE, "loss weighting: parameters must be %d floats", cfg->ntasks);
  return clm_tensor_upload(ctx, params, cfg->init_param);
}

clm_mtl_scalars clm_mtl_scalars_graph(const clm_graph *g) {
  clm_mtl_scalars sc = {clm_graph_loss_value(g, 0), clm_graph_loss_count_tensor(g, 0),
                        clm_graph_loss_seed(g, 0), 3};
  return sc;
}

clm_mtl_scalars clm_mtl_scalars_packed(const clm_tensor *values, const clm_tensor *counts,
                                       const clm_tensor *seeds) {
  clm_mtl_scalars sc = {*values, *counts, *seeds, 1};
  return sc;
}

clm_status clm_mtl_check_span(const char *who, const clm_tensor *t, int k, int stride,
                              const char *what) {
  if (!clm_tensor_present(t)) CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: %s missing", who, what);
  size_t bytes = 0;
  CLM_CL_TRY(clGetMemObjectInfo((cl_mem)t->buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
  size_t last = t->off + (size_t)(k - 1) * (size_t)stride;
  if (last >= bytes / sizeof(float) || last > INT32_MAX)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %s of %d tasks (stride %d, offset %zu) runs past its buffer of "
             "%zu floats", who, what, k, stride, t->off, bytes / sizeof(float));
  return CLM_OK;
}

clm_status clm_mtl_step(clm_context *ctx, const clm_mtl_config *cfg, const clm_mtl_scalars *sc,
                        const clm_tensor *params, const clm_tensor *total,
                        const clm_tensor *param_grad, const clm_tensor *weights) {
  CLM_TRY(clm_mtl_config_check(cfg));
  if (!ctx || !sc) CLM_FAIL(CLM_ERR_INVALID_ARG, "loss weighting: context and scalars required");
  const int k = cfg->ntasks;
  if (sc->stride < 1) CLM_FAIL(CLM_ERR_INVALID_ARG, "loss weighting: stride %d < 1", sc->stride);
  CLM_TRY(clm_mtl_check_span("loss weighting", &sc->value, k, sc->stride, "loss values"));
  CLM_TRY(clm_mtl_check_span("loss weighting", &sc->count, k, sc->stride, "valid counts"));
  CLM_TRY(clm_mtl_check_span("loss weighting", &sc->seed, k, sc->stride, "gradient seeds"));
  if (!clm_tensor_present(total) || clm_tensor_numel(total) != 1)
    CLM_FAIL(CLM_ERR_SHAPE, "loss weighting: the total must be one float");
  int has_par = learned(cfg->strategy) || device_weights(cfg->strategy);
  if (has_par && (!clm_tensor_present(params) || clm_tensor_numel(params) != (size_t)k))
    CLM_FAIL(CLM_ERR_SHAPE, "loss weighting '%s': %s must be %d floats",
             clm_mtl_strategy_name(cfg->strategy),
             device_weights(cfg->strategy) ? "the weights (params)" : "learned parameters", k);
  int has_pgrad = clm_tensor_present(param_grad), has_weight = clm_tensor_present(weights);
  if (has_pgrad && clm_tensor_numel(param_grad) != (size_t)k)
    CLM_FAIL(CLM_ERR_SHAPE, "loss weighting: parameter gradient must be %d floats", k);
  if (has_weight && clm_tensor_numel(weights) != (size_t)k)
    CLM_FAIL(CLM_ERR_SHAPE, "loss weighting: weights must be %d floats", k);

  double slo = 0, shi = 0;
  if (cfg->strategy == CLM_MTL_UNCERTAINTY_CLAMPED) {
    slo = cfg->clamp == CLM_MTL_CLAMP_S ? cfg->clamp_min : log((double)cfg->clamp_min);
    shi = cfg->clamp == CLM_MTL_CLAMP_S ? cfg->clamp_max : log((double)cfg->clamp_max);
  }
  int regression_mask = 0;
  cl_float16 w, vt;
  memset(&w, 0, sizeof w);
  memset(&vt, 0, sizeof vt);
  for (int i = 0; i < k; i++) {
    if (cfg->kind[i] == CLM_TASK_REGRESSION) regression_mask |= 1 << i;
    w.s[i] = cfg->weight[i];
    vt.s[i] = cfg->valid_total[i] > 0 ? cfg->valid_total[i] : 1.0f;
  }
  if (cfg->strategy == CLM_MTL_CAGRAD && !(cfg->cagrad_c >= 0 && isfinite(cfg->cagrad_c)))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "cagrad: c = %g must be finite and >= 0", cfg->cagrad_c);
  /* absent optional outputs still need a valid buffer argument */
  const clm_tensor *par = has_par ? params : total;
  const clm_tensor *pg = has_pgrad ? param_grad : total;
  const clm_tensor *wt = has_weight ? weights : total;

  cl_kernel kern;
  if (cfg->strategy == CLM_MTL_GLS) {
    if (has_pgrad) CLM_TRY(clm_tensor_fill(ctx, param_grad, 0.0f));
    return clm_launch_1d(ctx, "gradmethods", "gm_gls", 1, "tttiitti", &sc->value, &sc->count,
                         &sc->seed, sc->stride, k, total, wt, has_weight);
  }
  /* rlw steps like dwa; the gradient methods like fixed with weights 1 */
  int kstrategy = cfg->strategy == CLM_MTL_RLW ? (int)CLM_MTL_DWA
                  : gradient_method(cfg->strategy) ? (int)CLM_MTL_FIXED
                                                   : (int)cfg->strategy;
  if (gradient_method(cfg->strategy))
    for (int i = 0; i < k; i++) w.s[i] = 1.0f;
  CLM_TRY(clm_kernel_get(ctx, "mtl", NULL, "mtl_step", &kern, NULL));
  CLM_TRY(clm_kernel_args(kern, "tttiiiiftittitiiff", &sc->value, &sc->count, &sc->seed,
                          sc->stride, k, kstrategy, (int)cfg->gating,
                          (double)cfg->gate_threshold, par, has_par, total, pg, has_pgrad, wt,
                          has_weight, regression_mask, slo, shi));
  /* the two float16 arguments follow the 25 set above */
  CLM_CL_TRY(clSetKernelArg(kern, 25, sizeof w, &w));
  CLM_CL_TRY(clSetKernelArg(kern, 26, sizeof vt, &vt));
  size_t one = 1;
  return clm_kernel_launch(ctx, kern, 1, &one, NULL);
}
