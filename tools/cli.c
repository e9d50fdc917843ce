/* Helpers the clmtl sub-commands share (cli.h): a checkpoint opened for eval and infer with
 * its errors printed, and the random input batch of `model --steps` and `bench`. Option
 * parsing lives in cli_args.c, the environment in cli_env.c. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

int cli_model_load(clm_context *ctx, const char *path, int batch, int height, int width,
                   clm_graph **g, clm_model_info *info) {
  clm_model_load_options o = {batch, height, width};
  if (clm_model_load(ctx, path, &o, g, info) == CLM_OK) return 0;
  fprintf(stderr, "%s\n", cli_error());
  return 1;
}

/* Random data for every input: class ids for softmax targets, 0/1 masks, uniform elsewhere. */
clm_status cli_fill_inputs(clm_context *ctx, clm_graph *g, uint64_t seed) {
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  int nl = clm_graph_loss_count(g), nin = clm_graph_layer_count(g);
  for (int i = -nin; i < 2 * nl; i++) { /* every input layer first, then targets and masks */
    const clm_layer *in = i < 0 ? clm_graph_layer(g, i + nin) : NULL;
    if (in && in->type != CLM_LAYER_INPUT) continue;
    const clm_layer *l = i >= 0 ? clm_graph_loss_layer(g, i / 2) : NULL;
    const char *name = in ? in->name : (i % 2 == 0 ? l->target : l->mask);
    if (!name[0]) continue;
    clm_tensor t, pred = {0};
    CLI_TRY(clm_graph_tensor(g, name, &t));
    if (l) CLI_TRY(clm_graph_tensor(g, l->from[0], &pred));
    size_t len = clm_tensor_numel(&t);
    float *h = malloc(len * sizeof *h);
    if (!h) return CLM_ERR_HOST_MEMORY;
    for (size_t k = 0; k < len; k++) {
      s ^= s << 13; s ^= s >> 7; s ^= s << 17;
      double u = (double)(s >> 11) / (double)(1ull << 53);
      if (l && i % 2 == 1) h[k] = u < 0.8;
      else if (l && clm_layer_type_takes_labels(l->type)) h[k] = (float)(int)(u * pred.c);
      else h[k] = (float)(2 * u - 1);
    }
    clm_status st = clm_tensor_upload(ctx, &t, h);
    free(h);
    CLI_TRY(st);
  }
  return CLM_OK;
}

const char *cli_shipped_model(const char *path) {
  static char found[PATH_MAX];
  if (!path || access(path, R_OK) == 0 || strncmp(path, "models/", 7) != 0) return path;
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = '\0';
      if (snprintf(found, sizeof found, "%s/../share/clmtl/%s", exe, path) < (int)sizeof found &&
          access(found, R_OK) == 0)
        return found;
    }
  }
  if (snprintf(found, sizeof found, "%s/%s", CLMTL_MODELS_DIR, path + 7) < (int)sizeof found &&
      access(found, R_OK) == 0)
    return found;
  return path;
}
