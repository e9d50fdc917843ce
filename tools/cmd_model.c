/* `clmtl model FILE.cfg`: loads and compiles a model file, prints its layers, shapes,
 * parameters, kernel variants and device memory; with --steps N it trains N Adam steps on one
 * random batch with a multi-task weighting (--weighting, default uncertainty) and prints each
 * task's loss, weight and σ: a quick check that the whole path runs on a device. With --json
 * it prints the compiled graph as JSON (clm_graph_json), planned without a device, for tools
 * (tools/clmtl_cfg.py) that read models through clmtl. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* --json: the graph compiled for inference (fusion off: conv, batch-norm and activation nodes
 * as written) and planned without a device. Exit 1 with the message when clmtl refuses it. */
static int model_json(const char *path, int batch, int height, int width) {
  clm_graph *g = NULL;
  char *text = NULL;
  clm_graph_options o = {batch, height, width, 0, -1, -1};
  int rc = clm_graph_create(NULL, &g) != CLM_OK || clm_graph_load(g, path) != CLM_OK ||
           clm_graph_compile(g, &o) != CLM_OK || clm_graph_json(g, &text) != CLM_OK;
  if (rc) fprintf(stderr, "clmtl model: %s\n", cli_error());
  else printf("%s\n", text);
  free(text);
  clm_graph_free(g);
  return rc;
}

static const char *model_usage =
    "usage: clmtl model FILE.cfg [options]\n"
    "  checks a model file: layers, shapes, parameters, memory\n"
    "  --batch N (2)  --size HxW (64x128)  --device D\n"
    "  --steps N      train N Adam steps on one random batch (default 0)\n"
    "  --lr X         their learning rate (1e-3)\n"
    "  --json         print the graph compiled for inference as JSON (no device needed)\n"
    "  --weighting W  fixed, equal, uncertainty (default), uncertainty-simple,\n"
    "                 uncertainty-clamped, softplus, gradnorm, dwa, rlw, gls, pcgrad,\n"
    "                 mgda-ub, cagrad, imtl-g, aligned-mtl, uncertainty-exact\n";

int cmd_model(int argc, char **argv) {
  const char *path = NULL, *device = NULL, *weighting = "uncertainty";
  int batch = 2, height = 64, width = 128, steps = 0, json = 0, npos;
  float lr = 1e-3f;
  const cli_opt opts[] = {CLI_OPT_BATCH("--batch", &batch),
                          CLI_OPT_SIZE("--size", &height, &width),
                          CLI_OPT_INT("--steps", &steps, 0, 1000000),
                          CLI_OPT_FLOAT("--lr", &lr),
                          CLI_OPT_STRING("--device", &device),
                          CLI_OPT_STRING("--weighting", &weighting),
                          CLI_OPT_FLAG("--json", &json),
                          CLI_OPT_END};
  int rc = cli_args_parse("model", model_usage, opts, argc, argv, &path, 1, &npos);
  if (rc) return rc < 0 ? 0 : rc;
  if (!path) return cli_usage_error("'model' needs a model file");
  if (json) return model_json(path, batch, height, width);
  clm_mtl_strategy strategy;
  if (clm_mtl_strategy_parse(weighting, &strategy) != CLM_OK) {
    fprintf(stderr, "clmtl model: %s\n", cli_error());
    return 2;
  }
  clm_context *ctx = NULL;
  clm_graph *g = NULL;
  clm_optim_state opt = {0};
  clm_mtl *mtl = NULL;
  rc = 1;
  if (cli_context_create(device, &ctx) != CLM_OK) goto fail;
  printf("device: %s (%s)\n", clm_context_device(ctx)->name, clm_context_device(ctx)->platform);
  if (clm_graph_create(ctx, &g) != CLM_OK || clm_graph_load(g, path) != CLM_OK) goto fail;
  clm_graph_options o = {batch, height, width, steps > 0, -1, 0};
  if (steps > 0) clm_graph_expect_moments(g, 2); /* Adam's m and v */
  /* gradnorm and the gradient methods: a backward per task after each forward */
  if (clm_graph_set_multi_backward(g, steps > 0 && clm_mtl_strategy_needs_task_grads(strategy)) != CLM_OK ||
      clm_graph_compile(g, &o) != CLM_OK)
    goto fail;
  clm_graph_print(g, stdout);
  if (steps > 0) {
    if (cli_fill_inputs(ctx, g, 1) != CLM_OK) goto fail;
    clm_optim_config cfg = clm_optim_defaults(CLM_OPTIM_ADAM);
    cfg.lr = lr;
    clm_mtl_config mc;
    if (clm_mtl_config_for_graph(g, strategy, &mc) != CLM_OK || clm_mtl_create(g, &mc, &mtl) != CLM_OK ||
        clm_optim_state_init(ctx, clm_graph_params(g).w, &opt) != CLM_OK)
      goto fail;
    printf("weighting: %s\n", clm_mtl_strategy_name(strategy));
    for (int s = 0; s < steps; s++) {
      double t0 = clm_time_seconds();
      if (clm_mtl_train_step(mtl, &cfg, &opt) != CLM_OK || clm_context_finish(ctx) != CLM_OK) goto fail;
      double ms = (clm_time_seconds() - t0) * 1e3;
      clm_mtl_snapshot snap;
      if (clm_mtl_read(mtl, &snap) != CLM_OK) goto fail;
      printf("step %3d  %7.1f ms  total %.4f", s + 1, ms, snap.total);
      for (int i = 0; i < snap.ntasks; i++) {
        printf("  %s %.4f (w %.3f", clm_graph_loss_layer(g, i)->name + 5 /* "task." */, snap.loss[i],
               snap.weight[i]);
        if (snap.sigma[i] == snap.sigma[i]) printf(", σ %.3f", snap.sigma[i]);
        printf(")");
      }
      printf("%s\n", snap.skipped_steps ? "  [non-finite steps skipped]" : "");
    }
  }
  rc = 0;
fail:
  if (rc) fprintf(stderr, "clmtl model: %s\n", cli_error());
  clm_optim_state_free(&opt);
  clm_mtl_free(mtl);
  clm_graph_free(g);
  clm_context_free(ctx);
  return rc;
}
