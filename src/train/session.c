/* The set-up every training program shares (step.h, clm_session_open): context, graph from a
 * model file or text, compile (parameters initialised once, from the seed), the weighting
 * bound to the graph's tasks and the optimizer state with its decay mask. The trainer,
 * `clmtl model --steps` and `clmtl bench` open one; what they do with it is theirs. */
#include <stdlib.h>
#include <string.h>
#include "clmtl/step.h"
#include "runtime/runtime-impl.h"

clm_session_options clm_session_defaults(void) {
  clm_session_options o = {0};
  o.training = 1;
  o.weighting = clm_mtl_defaults(CLM_MTL_UNCERTAINTY, 0);
  return o;
}

static clm_status load_model(const clm_session_options *o, clm_graph *g) {
  if (o->model_path) return clm_graph_load(g, o->model_path);
  if (o->model_text) return clm_graph_parse(g, o->model_text, o->model_name ? o->model_name : "(model text)");
  CLM_FAIL(CLM_ERR_INVALID_ARG, "no model file given");
}

static clm_status open_all(const clm_session_options *o, clm_session *s) {
  clm_context_options co = o->context ? *o->context : (clm_context_options){0};
  if (o->device && *o->device) co.device = o->device;
  char spec[256];
  if (clm_dist_size(o->dist) > 1 && co.device) { /* this rank's entry of a list, or its device among several */
    CLM_TRY(clm_dist_device_spec(o->dist, co.device, spec, sizeof spec));
    co.device = spec;
  }
  CLM_TRY(clm_context_create_with(&co, &s->ctx));
  CLM_TRY(clm_graph_create(s->ctx, &s->g));
  CLM_TRY(load_model(o, s->g));
  clm_graph_options go = {o->batch, o->height, o->width, o->training != 0, -1, 0};
  clm_graph_set_seed(s->g, o->seed);
  if (o->training && o->moments > 0) clm_graph_expect_moments(s->g, o->moments);
  /* gradnorm and the gradient methods: a backward per task after each forward */
  CLM_TRY(clm_graph_set_multi_backward(
      s->g, o->training && clm_mtl_strategy_needs_task_grads(o->weighting.strategy)));
  CLM_TRY(clm_graph_compile(s->g, &go));
  if (!o->training) return CLM_OK;
  clm_mtl_config settings = o->weighting, mc;
  settings.seed = o->seed; /* rlw's draws and pcgrad's orders follow the run's seed */
  CLM_TRY(clm_mtl_config_bind(s->g, &settings, &mc));
  /* gating's share of valid targets: of the global batch, as the counts it sees are global */
  for (int i = 0; i < mc.ntasks; i++) mc.valid_total[i] *= (float)clm_dist_size(o->dist);
  CLM_TRY(clm_mtl_create(s->g, &mc, &s->mtl));
  CLM_TRY(clm_mtl_set_dist(s->mtl, o->dist));
  CLM_TRY(clm_optim_state_init(s->ctx, clm_graph_params(s->g).w, &s->opt));
  if (o->decay_mask) CLM_TRY(clm_mtl_optim_setup(s->mtl, &s->opt, o->decay_bias_norm));
  return CLM_OK;
}

clm_status clm_session_open(const clm_session_options *o, clm_session **out) {
  *out = NULL;
  if (!o) CLM_FAIL(CLM_ERR_INVALID_ARG, "session: options required");
  clm_session *s = calloc(1, sizeof *s);
  if (!s) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  clm_status st = open_all(o, s);
  if (st != CLM_OK) {
    clm_session_close(s); /* frees only: clm_last_error() keeps the failure */
    return st;
  }
  *out = s;
  return CLM_OK;
}

void clm_session_release_graph(clm_session *s) {
  if (!s) return;
  clm_optim_state_free(&s->opt);
  memset(&s->opt, 0, sizeof s->opt);
  clm_mtl_free(s->mtl);
  s->mtl = NULL;
  clm_graph_free(s->g);
  s->g = NULL;
}

void clm_session_close(clm_session *s) {
  if (!s) return;
  clm_session_release_graph(s);
  clm_context_free(s->ctx);
  free(s);
}
