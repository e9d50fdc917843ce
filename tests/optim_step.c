/* One clmtl optimizer step on a checkpoint, for test_torch_optim.sh (the PyTorch side is
 * tests/torch_optim.py): opens IN (model text, weights, optimizer.m/v/step), sets every
 * parameter's gradient to g = sin(3w) + 0.05 (a function of the value alone, so it needs no
 * agreement on the parameter layout), sets the decay mask and task range as clmtl train does
 * (clm_mtl_optim_setup), runs clm_optim_step once and saves weights and state to OUT.
 *   optim_step IN OUT adam|adamw LR WEIGHT_DECAY TASK_LR DECAY_BIAS_NORM(0|1) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/clmtl.h"

static int fail(const char *what) {
  fprintf(stderr, "optim_step: %s: %s\n", what, clm_last_error());
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: optim_step IN OUT adam|adamw LR WEIGHT_DECAY TASK_LR DECAY_BIAS_NORM\n");
    return 2;
  }
  clm_optim_kind kind;
  if (clm_optim_parse(argv[3], &kind) != CLM_OK) return fail("optimizer");
  clm_optim_config cfg = clm_optim_defaults(kind);
  cfg.lr = strtof(argv[4], NULL);
  cfg.weight_decay = strtof(argv[5], NULL);
  cfg.task_lr = strtof(argv[6], NULL);
  int decay_bias_norm = atoi(argv[7]);
  clm_checkpoint_meta *meta = NULL;
  int nmeta = 0;
  if (clm_checkpoint_read_meta(argv[1], &meta, &nmeta) != CLM_OK) return fail("metadata");
  const char *text = clm_checkpoint_meta_get(meta, nmeta, "model_cfg");
  const char *strategy = clm_checkpoint_meta_get(meta, nmeta, "strategy");
  int h = atoi(clm_checkpoint_meta_get(meta, nmeta, "height")), w = atoi(clm_checkpoint_meta_get(meta, nmeta, "width"));
  clm_context *ctx = NULL;
  clm_graph *g = NULL;
  clm_mtl *mtl = NULL;
  clm_mtl_strategy ms;
  clm_mtl_config mc;
  clm_optim_state opt = {0};
  if (clm_context_create(NULL, &ctx) != CLM_OK) return fail("context");
  if (clm_graph_create(ctx, &g) != CLM_OK || clm_graph_parse(g, text, argv[1]) != CLM_OK) return fail("model");
  clm_graph_expect_moments(g, 2);
  clm_graph_options o = {1, h, w, 1, -1, 0};
  if (clm_graph_compile(g, &o) != CLM_OK) return fail("compile");
  clm_tensor params = clm_graph_params(g), grads = clm_graph_grads(g);
  size_t n = clm_tensor_numel(&params);
  if (clm_optim_state_init(ctx, n, &opt) != CLM_OK) return fail("state");
  /* as the trainer: the weighting first (it initialises the task parameters), then the load */
  if (clm_mtl_strategy_parse(strategy && *strategy ? strategy : "uncertainty", &ms) != CLM_OK ||
      clm_mtl_config_for_graph(g, ms, &mc) != CLM_OK || clm_mtl_create(g, &mc, &mtl) != CLM_OK)
    return fail("multi-task set-up");
  if (clm_checkpoint_load(argv[1], g, &opt, NULL, NULL) != CLM_OK) return fail("load");
  if (clm_mtl_optim_setup(mtl, &opt, decay_bias_norm) != CLM_OK) return fail("decay mask");
  float *x = malloc(n * sizeof *x);
  if (!x || clm_tensor_download(ctx, &params, x) != CLM_OK) return fail("download");
  for (size_t i = 0; i < n; i++) x[i] = sinf(3.0f * x[i]) + 0.05f;
  if (clm_tensor_upload(ctx, &grads, x) != CLM_OK) return fail("upload");
  if (clm_optim_step(ctx, &cfg, &params, &grads, &opt, NULL) != CLM_OK || clm_context_finish(ctx) != CLM_OK)
    return fail("step");
  clm_checkpoint_info info = {text, 1, 0, strategy};
  clm_checkpoint_meta extra[2] = {{"height", clm_checkpoint_meta_get(meta, nmeta, "height")},
                                  {"width", clm_checkpoint_meta_get(meta, nmeta, "width")}};
  if (clm_checkpoint_save(argv[2], g, &opt, &info, extra, 2) != CLM_OK) return fail("save");
  printf("optim_step: %s step, %zu parameters -> %s\n", argv[3], n, argv[2]);
  free(x);
  clm_optim_state_free(&opt);
  clm_mtl_free(mtl);
  clm_graph_free(g);
  clm_context_free(ctx);
  clm_checkpoint_meta_free(meta);
  return 0;
}
