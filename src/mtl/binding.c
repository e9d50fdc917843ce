/* A multi-task weighting bound to a training graph: the config derived from the graph's loss
 * layers, the device buffers the weighting writes (total, effective weights, a count of
 * non-finite steps), the training step that strings forward, weighting, backward and the
 * optimizer together on the device, and the host snapshot read at logging intervals. */
#include <math.h>
#include <stdlib.h>
#include "clmtl/mtl.h"
#include "graph/graph-impl.h"

struct clm_mtl {
  clm_graph *g;
  clm_mtl_config cfg;
  clm_mem buf;             /* [0] total, [1] non-finite count, [2..2+K) effective weights */
  clm_tensor total, skipped, weights;
};

clm_status clm_mtl_config_for_graph(const clm_graph *g, clm_mtl_strategy strategy,
                                    clm_mtl_config *cfg) {
  int k = clm_graph_loss_count(g);
  if (k < 1 || k > CLM_MTL_MAX_TASKS)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "multi-task weighting needs 1 to %d loss layers, the graph has %d",
             CLM_MTL_MAX_TASKS, k);
  *cfg = clm_mtl_defaults(strategy, k);
  for (int i = 0; i < k; i++) {
    const clm_layer *l = clm_graph_loss_layer(g, i);
    clm_tensor target;
    CLM_TRY(clm_graph_tensor((clm_graph *)g, l->target, &target));
    cfg->kind[i] = l->kind == CLM_TASK_CLASSIFICATION ? CLM_MTL_CLASSIFICATION : CLM_MTL_REGRESSION;
    cfg->weight[i] = l->weight;
    cfg->valid_total[i] = (float)((double)target.n * target.c * target.h * target.w);
  }
  return CLM_OK;
}

clm_status clm_mtl_create(clm_graph *g, const clm_mtl_config *cfg, clm_mtl **out) {
  *out = NULL;
  if (!g->compiled || !g->grads)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "multi-task weighting needs a graph compiled for training");
  if (cfg->ntasks != g->nlosses)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "the weighting is set up for %d tasks but the graph has %d losses",
             cfg->ntasks, g->nlosses);
  CLM_TRY(clm_mtl_config_check(cfg));
  clm_mtl *m = calloc(1, sizeof *m);
  if (!m) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  m->g = g;
  m->cfg = *cfg;
  clm_status st = clm_buffer_alloc(g->ctx, 2 + (size_t)cfg->ntasks, &m->buf);
  if (st != CLM_OK) { free(m); return st; }
  m->total = clm_tensor_view(m->buf, 0, 1, 1, 1, 1);
  m->skipped = clm_tensor_view(m->buf, 1, 1, 1, 1, 1);
  m->weights = clm_tensor_view(m->buf, 2, 1, 1, 1, cfg->ntasks);
  clm_tensor params = clm_graph_task_params(g);
  st = clm_mtl_params_init(g->ctx, cfg, &params);
  if (st != CLM_OK) { clm_mtl_free(m); return st; }
  *out = m;
  return CLM_OK;
}

void clm_mtl_free(clm_mtl *m) {
  if (!m) return;
  clm_buffer_free(m->buf);
  free(m);
}

clm_tensor clm_mtl_total(const clm_mtl *m) { return m->total; }

clm_status clm_mtl_weigh(clm_mtl *m) {
  clm_graph *g = m->g;
  clm_mtl_scalars sc = clm_mtl_scalars_graph(g);
  clm_tensor params = clm_graph_task_params(g), grads = clm_graph_task_grads(g);
  CLM_TRY(clm_mtl_step(g->ctx, &m->cfg, &sc, &params, &m->total, &grads, &m->weights));
  return clm_launch_1d(g->ctx, "train", "count_nonfinite", 1, "tt", &m->total, &m->skipped);
}

clm_status clm_mtl_train_step(clm_mtl *m, const clm_optim_config *opt, clm_optim_state *state) {
  clm_graph *g = m->g;
  clm_tensor params = clm_graph_params(g), grads = clm_graph_grads(g);
  CLM_TRY(clm_graph_zero_grad(g));
  CLM_TRY(clm_graph_forward(g));
  CLM_TRY(clm_mtl_weigh(m));
  CLM_TRY(clm_graph_backward(g));
  return clm_optim_step(g->ctx, opt, &params, &grads, state, &m->total);
}

/* σ of task i from its parameter, for the strategies whose parameter is s = log σ² (or u). */
static float sigma_of(const clm_mtl_config *cfg, int i, float p) {
  float s;
  switch (cfg->strategy) {
  case CLM_MTL_UNCERTAINTY:
  case CLM_MTL_UNCERTAINTY_SIMPLE:
    s = p;
    break;
  case CLM_MTL_UNCERTAINTY_CLAMPED: {
    float lo = cfg->clamp == CLM_MTL_CLAMP_SIGMA2 ? logf(cfg->clamp_min) : cfg->clamp_min;
    float hi = cfg->clamp == CLM_MTL_CLAMP_SIGMA2 ? logf(cfg->clamp_max) : cfg->clamp_max;
    s = p < lo ? lo : p > hi ? hi : p;
    break;
  }
  case CLM_MTL_SOFTPLUS:
    s = p > 20.0f ? p : log1pf(expf(p));
    break;
  default:
    (void)i;
    return NAN;
  }
  return expf(0.5f * s);
}

clm_status clm_mtl_read(clm_mtl *m, clm_mtl_snapshot *out) {
  clm_graph *g = m->g;
  int k = m->cfg.ntasks;
  float head[2], scal[3 * CLM_MTL_MAX_TASKS];
  clm_tensor params = clm_graph_task_params(g);
  clm_tensor scalars = clm_tensor_view(g->scalars, 0, 1, 1, 1, 3 * k);
  clm_tensor both = clm_tensor_view(m->buf, 0, 1, 1, 1, 2);
  CLM_TRY(clm_tensor_download(g->ctx, &both, head));
  CLM_TRY(clm_tensor_download(g->ctx, &m->weights, out->weight));
  CLM_TRY(clm_tensor_download(g->ctx, &params, out->param));
  CLM_TRY(clm_tensor_download(g->ctx, &scalars, scal));
  out->ntasks = k;
  out->total = head[0];
  out->skipped_steps = (int)head[1];
  for (int i = 0; i < k; i++) {
    out->loss[i] = scal[3 * i];
    out->count[i] = scal[3 * i + 1];
    out->sigma[i] = sigma_of(&m->cfg, i, out->param[i]);
  }
  return CLM_OK;
}
