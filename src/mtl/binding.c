/* A multi-task weighting bound to a training graph: the config derived from the graph's loss
 * layers, the device buffers the weighting writes (total, effective weights, a count of
 * non-finite steps), the weighting's parts of a training step (before the forward, the
 * gradients after it, after the optimizer), its state for checkpoints, and the host snapshot
 * read at logging intervals. Not here: the step itself (src/train/step.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/mtl.h"
#include "dist/reduce.h"
#include "gradmethods-impl.h"

struct clm_mtl {
  clm_graph *g;
  clm_context *ctx;        /* g's */
  clm_mtl_config cfg;
  clm_mem buf;             /* [0] total, [1] non-finite steps, [2] of them in a row,
                              [3..3+K) effective weights;
                              gradnorm: then norms (K), L0 (K), L_grad (1), workspace */
  clm_tensor total, skipped, weights;
  /* gradnorm */
  int shared;              /* node index of the last shared layer, -1 if none */
  const char *shared_name;
  clm_tensor shared_grad;  /* gradient view of its weight */
  clm_tensor norms, l0, lgrad, ws;
  long steps;
  /* the epoch means recorded (every strategy: checkpoints carry them); dwa weighs by them */
  clm_dwa dwa;
  /* gradient methods (gradmethods.c) */
  clm_gm *gm;
  /* data parallelism (src/dist/reduce.h): NULL or one rank for a single device */
  clm_dist *dist;
};

static clm_status gradnorm_setup(clm_mtl *m) {
  clm_graph *g = m->g;
  m->shared = clm_graph_last_shared_conv(g);
  if (m->shared < 0)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "gradnorm needs a convolution shared by two or more losses; "
             "the model has none");
  if (!clm_graph_multi_backward(g))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "gradnorm takes one backward pass per task after each forward: "
             "call clm_graph_set_multi_backward(g, 1) before compiling the graph");
  clm_graph_node_info nd;
  clm_named_tensor w;
  CLM_TRY(clm_graph_node(g, m->shared, &nd));
  CLM_TRY(clm_graph_named_info(g, nd.first_named, &w)); /* its weight */
  m->shared_name = nd.name;
  m->shared_grad = clm_tensor_view(clm_graph_grads(g).buf, w.view.off, w.view.n, w.view.c,
                                   w.view.h, w.view.w);
  return CLM_OK;
}

clm_status clm_mtl_config_for_graph(const clm_graph *g, clm_mtl_strategy strategy,
                                    clm_mtl_config *cfg) {
  clm_mtl_config settings = clm_mtl_defaults(strategy, 0);
  return clm_mtl_config_bind(g, &settings, cfg);
}

clm_status clm_mtl_config_bind(const clm_graph *g, const clm_mtl_config *settings,
                               clm_mtl_config *cfg) {
  int k = clm_graph_loss_count(g);
  if (k < 1 || k > CLM_MTL_MAX_TASKS)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "multi-task weighting needs 1 to %d loss layers, the graph has %d",
             CLM_MTL_MAX_TASKS, k);
  clm_mtl_config defaults = clm_mtl_defaults(settings->strategy, k);
  *cfg = *settings;
  cfg->ntasks = k;
  for (int i = 0; i < k; i++) {
    const clm_layer *l = clm_graph_loss_layer(g, i);
    clm_tensor target;
    CLM_TRY(clm_graph_tensor((clm_graph *)g, l->target, &target));
    cfg->kind[i] = l->kind == CLM_TASK_CLASSIFICATION ? CLM_TASK_CLASSIFICATION : CLM_TASK_REGRESSION;
    cfg->valid_total[i] = (float)((double)target.n * target.c * target.h * target.w);
    if (settings->ntasks != k) {
      cfg->weight[i] = l->weight;
      cfg->init_param[i] = defaults.init_param[i];
    }
  }
  return CLM_OK;
}

clm_status clm_mtl_create(clm_graph *g, const clm_mtl_config *cfg, clm_mtl **out) {
  *out = NULL;
  if (!clm_graph_is_compiled(g) || !clm_graph_grads(g).buf)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "multi-task weighting needs a graph compiled for training");
  if (cfg->ntasks != clm_graph_loss_count(g))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "the weighting is set up for %d tasks but the graph has %d losses",
             cfg->ntasks, clm_graph_loss_count(g));
  CLM_TRY(clm_mtl_config_check(cfg));
  clm_mtl *m = calloc(1, sizeof *m);
  if (!m) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  m->g = g;
  m->ctx = clm_graph_context(g);
  m->cfg = *cfg;
  m->shared = -1;
  int k = cfg->ntasks;
  clm_status st = CLM_OK;
  size_t ws_floats = 0;
  if (cfg->strategy == CLM_MTL_GRADNORM) {
    st = gradnorm_setup(m);
    ws_floats = clm_gradnorm_workspace(clm_tensor_numel(&m->shared_grad));
  }
  if (st == CLM_OK && cfg->strategy == CLM_MTL_DWA) st = clm_dwa_init(&m->dwa, k, cfg->dwa_temperature);
  else m->dwa.ntasks = k; /* the means only */
  if (st == CLM_OK && clm_mtl_strategy_needs_task_grads(cfg->strategy) &&
      cfg->strategy != CLM_MTL_GRADNORM)
    st = clm_gm_create(g, cfg, &m->gm);
  if (st == CLM_OK) st = clm_buffer_alloc(m->ctx, 4 + 3 * (size_t)k + ws_floats, &m->buf);
  if (st != CLM_OK) { clm_gm_free(m->gm); free(m); return st; }
  m->total = clm_tensor_view(m->buf, 0, 1, 1, 1, 1);
  m->skipped = clm_tensor_view(m->buf, 1, 1, 1, 1, 2);
  m->weights = clm_tensor_view(m->buf, 3, 1, 1, 1, k);
  m->norms = clm_tensor_view(m->buf, 3 + (size_t)k, 1, 1, 1, k);
  m->l0 = clm_tensor_view(m->buf, 3 + 2 * (size_t)k, 1, 1, 1, k);
  m->lgrad = clm_tensor_view(m->buf, 3 + 3 * (size_t)k, 1, 1, 1, 1);
  m->ws = clm_tensor_view(m->buf, 4 + 3 * (size_t)k, 1, 1, 1, (int)(ws_floats ? ws_floats : 1));
  clm_graph_set_loss_temperature(g, cfg->strategy == CLM_MTL_UNCERTAINTY_EXACT);
  clm_tensor params = clm_graph_task_params(g);
  st = clm_mtl_params_init(m->ctx, cfg, &params);
  if (st != CLM_OK) { clm_mtl_free(m); return st; }
  *out = m;
  return CLM_OK;
}

void clm_mtl_free(clm_mtl *m) {
  if (!m) return;
  clm_gm_free(m->gm);
  clm_buffer_free(clm_graph_context(m->g), m->buf);
  free(m);
}

clm_tensor clm_mtl_total(const clm_mtl *m) { return m->total; }

clm_status clm_mtl_weigh(clm_mtl *m) {
  clm_graph *g = m->g;
  clm_context *ctx = m->ctx;
  clm_mtl_scalars sc = clm_mtl_scalars_graph(g);
  clm_tensor params = clm_graph_task_params(g), grads = clm_graph_task_grads(g);
  CLM_TRY(clm_mtl_step(ctx, &m->cfg, &sc, &params, &m->total, &grads, &m->weights));
  return clm_launch_1d(ctx, "train", "count_nonfinite", 1, "tt", &m->total, &m->skipped);
}

/* GradNorm's per-task gradient norms at the shared layer W: per task, a partial backward
 * from that task's loss alone (seed 1) down to W only, into a zeroed weight gradient. The
 * other gradients those passes touch (the heads', W's bias) are left dirty: the caller
 * zeroes everything before the real backward. */
static clm_status gradnorm_norms(clm_mtl *m) {
  clm_graph *g = m->g;
  clm_context *ctx = m->ctx;
  clm_mtl_scalars sc = clm_mtl_scalars_graph(g);
  for (int i = 0; i < m->cfg.ntasks; i++) {
    CLM_TRY(clm_tensor_fill(ctx, &m->shared_grad, 0.0f));
    CLM_TRY(clm_launch_1d(ctx, "train", "seed_onehot", (size_t)m->cfg.ntasks, "tiii", &sc.seed,
                          sc.stride, m->cfg.ntasks, i));
    CLM_TRY(clm_graph_backward_to_node(g, 1u << i, m->shared));
    CLM_TRY(clm_dist_allreduce_tensor(m->dist, ctx, &m->shared_grad)); /* G_i of the global batch */
    CLM_TRY(clm_gradnorm_norm(ctx, &m->shared_grad, &m->norms, i, &m->ws));
  }
  return clm_gradnorm_record_initial(m->ctx, &m->cfg, &sc, &m->l0, m->steps > 0);
}

clm_status clm_mtl_optim_setup(clm_mtl *m, clm_optim_state *s, int decay_bias_norm) {
  clm_graph *g = m->g;
  size_t param_floats = (size_t)clm_graph_params(g).w;
  if (!s || s->n != param_floats)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "optimizer set-up: the state must hold the graph's %zu "
             "parameters", param_floats);
  unsigned char *decay = malloc(param_floats + 1);
  if (!decay) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  memset(decay, 1, param_floats);
  for (int i = 0; i < clm_graph_named_count(g); i++) {
    clm_named_tensor p;
    clm_status st = clm_graph_named_info(g, i, &p);
    if (st != CLM_OK) { free(decay); return st; }
    if (!p.is_param) continue;
    /* a convolution's weight always decays; biases and batch-norm γ, β on request; the
     * weighting's task parameters never */
    int conv_weight = (p.op == CLM_LAYER_CONV || p.op == CLM_LAYER_DECONV) && !strcmp(p.suffix, "weight");
    int decays = p.is_task_param ? 0 : conv_weight ? 1 : decay_bias_norm != 0;
    memset(decay + p.view.off, decays, clm_tensor_numel(&p.view));
  }
  clm_status st = clm_optim_state_set_decay(m->ctx, s, decay);
  free(decay);
  CLM_TRY(st);
  return clm_optim_state_set_task(s, clm_graph_task_params(g).off, (size_t)m->cfg.ntasks);
}

clm_graph *clm_mtl_graph(const clm_mtl *m) { return m->g; }

clm_status clm_mtl_begin_step(clm_mtl *m) {
  if (m->cfg.strategy != CLM_MTL_RLW) return CLM_OK;
  /* this step's weights softmax(z) */
  double z[CLM_MTL_MAX_TASKS], top = -HUGE_VAL, sum = 0;
  float w[CLM_MTL_MAX_TASKS];
  clm_tensor task_params = clm_graph_task_params(m->g);
  CLM_TRY(clm_mtl_rlw_draw(m->cfg.seed, m->steps, m->cfg.ntasks, z));
  for (int i = 0; i < m->cfg.ntasks; i++) top = fmax(top, z[i]);
  for (int i = 0; i < m->cfg.ntasks; i++) sum += exp(z[i] - top);
  for (int i = 0; i < m->cfg.ntasks; i++) w[i] = (float)(exp(z[i] - top) / sum);
  return clm_tensor_upload(m->ctx, &task_params, w);
}

clm_status clm_mtl_gradients(clm_mtl *m) {
  clm_graph *g = m->g;
  clm_context *ctx = m->ctx;
  clm_tensor task_params = clm_graph_task_params(g), task_grads = clm_graph_task_grads(g);
  int gradnorm = m->cfg.strategy == CLM_MTL_GRADNORM;
  CLM_TRY(clm_dist_reduce_losses(m->dist, g)); /* the weighting sees the global batch's losses */
  if (gradnorm) CLM_TRY(gradnorm_norms(m));
  if (m->gm) { /* the gradient methods assemble the gradient from per-task passes */
    int bad = 0;
    clm_mtl_scalars sc = clm_mtl_scalars_graph(g);
    CLM_TRY(clm_mtl_step(ctx, &m->cfg, &sc, &task_params, &m->total, &task_grads, &m->weights));
    CLM_TRY(clm_gm_gradients(m->gm, m->steps, &m->weights, &bad));
    if (bad) { /* a non-finite combination: the guard skips the step and counts it */
      float nan = NAN;
      CLM_TRY(clm_tensor_upload(ctx, &m->total, &nan));
    }
    CLM_TRY(clm_launch_1d(ctx, "train", "count_nonfinite", 1, "tt", &m->total, &m->skipped));
  } else {
    CLM_TRY(clm_graph_zero_grad(g));
    CLM_TRY(clm_mtl_weigh(m));
    CLM_TRY(clm_graph_backward(g));
    CLM_TRY(clm_dist_reduce_gradients(m->dist, g)); /* every rank: the global-batch gradient */
  }
  if (gradnorm) {
    clm_mtl_scalars sc = clm_mtl_scalars_graph(g);
    CLM_TRY(clm_gradnorm_weight_grad(ctx, &m->cfg, m->cfg.gradnorm_alpha, &sc, &task_params,
                                     &m->norms, &m->l0, &task_grads, &m->lgrad));
  }
  return CLM_OK;
}

clm_status clm_mtl_end_step(clm_mtl *m) {
  if (m->cfg.strategy == CLM_MTL_GRADNORM) {
    clm_tensor task_params = clm_graph_task_params(m->g);
    CLM_TRY(clm_gradnorm_renormalize(m->ctx, &task_params));
  }
  m->steps++;
  return CLM_OK;
}

clm_status clm_mtl_set_dist(clm_mtl *m, clm_dist *d) {
  if (m->gm) clm_gm_set_dist(m->gm, d);
  m->dist = d;
  return CLM_OK;
}

clm_status clm_mtl_end_epoch(clm_mtl *m, const float *epoch_means) {
  CLM_TRY(clm_dwa_record(&m->dwa, epoch_means));
  if (m->cfg.strategy != CLM_MTL_DWA) return CLM_OK;
  clm_tensor w = clm_graph_task_params(m->g);
  return clm_dwa_upload(m->ctx, &m->dwa, &w);
}

const char *clm_mtl_shared_layer(const clm_mtl *m) {
  if (m->gm) return clm_gm_rep_name(m->gm);
  return m->shared >= 0 ? m->shared_name : NULL;
}

void clm_mtl_cost(const clm_mtl *m, size_t *extra_bytes, int *extra_backward) {
  *extra_bytes = 0;
  *extra_backward = m->cfg.strategy == CLM_MTL_GRADNORM ? m->cfg.ntasks : 0;
  if (m->gm) clm_gm_cost(m->gm, extra_bytes, extra_backward);
}

/* σ of task i from its parameter, for the strategies whose parameter is s = log σ² (or u). */
static float sigma_of(const clm_mtl_config *cfg, int i, float p) {
  float s;
  switch (cfg->strategy) {
  case CLM_MTL_UNCERTAINTY:
  case CLM_MTL_UNCERTAINTY_SIMPLE:
  case CLM_MTL_UNCERTAINTY_EXACT:
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
  float head[3], scal[3 * CLM_MTL_MAX_TASKS];
  clm_tensor params = clm_graph_task_params(g);
  clm_tensor scalars = clm_graph_loss_scalars(g);
  clm_tensor both = clm_tensor_view(m->buf, 0, 1, 1, 1, 3);
  CLM_TRY(clm_tensor_download(m->ctx, &both, head));
  CLM_TRY(clm_tensor_download(m->ctx, &m->weights, out->weight));
  CLM_TRY(clm_tensor_download(m->ctx, &params, out->param));
  CLM_TRY(clm_tensor_download(m->ctx, &scalars, scal));
  out->ntasks = k;
  out->total = head[0];
  out->skipped_steps = (int)head[1];
  out->skipped_in_a_row = (int)head[2];
  for (int i = 0; i < k; i++) {
    out->loss[i] = scal[3 * i];
    out->count[i] = scal[3 * i + 1];
    out->sigma[i] = sigma_of(&m->cfg, i, out->param[i]);
  }
  return CLM_OK;
}

clm_status clm_mtl_state_get(clm_mtl *m, clm_mtl_state *out) {
  if (!m || !out) CLM_FAIL(CLM_ERR_INVALID_ARG, "weighting state: weighting and output required");
  int k = m->cfg.ntasks;
  float head[3], l0[CLM_MTL_MAX_TASKS];
  clm_tensor both = clm_tensor_view(m->buf, 0, 1, 1, 1, 3);
  CLM_TRY(clm_tensor_download(m->ctx, &both, head));
  CLM_TRY(clm_tensor_download(m->ctx, &m->l0, l0));
  memset(out, 0, sizeof *out);
  out->ntasks = k;
  out->steps = m->steps;
  out->skipped_steps = head[1];
  out->skipped_in_a_row = head[2];
  for (int i = 0; i < k; i++) out->l0[i] = l0[i];
  out->epochs = m->dwa.epochs;
  memcpy(out->last, m->dwa.last, sizeof out->last);
  memcpy(out->before, m->dwa.before, sizeof out->before);
  return CLM_OK;
}

clm_status clm_mtl_state_set(clm_mtl *m, const clm_mtl_state *in) {
  if (!m || !in) CLM_FAIL(CLM_ERR_INVALID_ARG, "weighting state: weighting and state required");
  if (in->ntasks != m->cfg.ntasks || in->steps < 0 || in->epochs < 0)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "weighting state of %d tasks after %ld steps for a weighting of "
             "%d tasks", in->ntasks, in->steps, m->cfg.ntasks);
  clm_tensor counters = clm_tensor_view(m->buf, 1, 1, 1, 1, 2);
  float c[2] = {in->skipped_steps, in->skipped_in_a_row};
  CLM_TRY(clm_tensor_upload(m->ctx, &counters, c));
  CLM_TRY(clm_tensor_upload(m->ctx, &m->l0, in->l0));
  m->steps = in->steps;
  m->dwa.epochs = in->epochs;
  memcpy(m->dwa.last, in->last, sizeof m->dwa.last);
  memcpy(m->dwa.before, in->before, sizeof m->dwa.before);
  if (m->cfg.strategy != CLM_MTL_DWA || in->epochs == 0) return CLM_OK;
  clm_tensor w = clm_graph_task_params(m->g); /* the weights the last recorded epoch set */
  return clm_dwa_upload(m->ctx, &m->dwa, &w);
}
