/* `clmtl tune [MODEL.cfg]`: times every convolution variant on each convolution shape of a
 * model on one device and records the fastest per shape in the device's tuning file, which
 * every later compile on that device (train, eval, infer, bench) reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

int cmd_tune(int argc, char **argv) {
  const char *path = "models/default.cfg", *device = NULL;
  int batch = 8, height = 128, width = 256, reps = 3, path_given = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
      if (sscanf(argv[++i], "%dx%d", &height, &width) != 2) return cli_usage_error("--size wants HxW, e.g. 128x256");
    } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
    else if (argv[i][0] == '-') return cli_usage_error("unknown option for 'tune'");
    else if (!path_given) path = argv[i], path_given = 1;
    else return cli_usage_error("'tune' takes one model file");
  }
  if (batch <= 0 || height <= 0 || width <= 0 || reps <= 0)
    return cli_usage_error("--batch, --size and --reps must be positive");
  static char shipped[1024];
  if (access(path, R_OK) != 0 && !strncmp(path, "models/", 7)) { /* run from elsewhere */
    snprintf(shipped, sizeof shipped, "%s/%s", CLMTL_MODELS_DIR, path + 7);
    if (access(shipped, R_OK) == 0) path = shipped;
  }
  clm_context *ctx = NULL;
  clm_graph *g = NULL;
  int rc = 1;
  char file[600];
  if (cli_context_create(device, &ctx) != CLM_OK) goto fail;
  printf("device: %s (%s, driver %s)\n", clm_context_device(ctx)->name,
         clm_context_device(ctx)->platform, clm_context_device(ctx)->driver);
  if (clm_tuning_file(ctx, file, sizeof file) != CLM_OK) goto fail;
  if (clm_graph_create(ctx, &g) != CLM_OK || clm_graph_load(g, path) != CLM_OK) goto fail;
  clm_graph_options o = {batch, height, width, 1, -1, 0};
  if (clm_graph_compile(g, &o) != CLM_OK) goto fail;
  printf("model: %s at %dx%d, batch %d; median of %d runs per pass\n", path, height, width, batch, reps);
  if (clm_graph_tune(g, reps, stdout) != CLM_OK) goto fail;
  printf("tuning file: %s\n", file);
  rc = 0;
fail:
  if (rc) fprintf(stderr, "clmtl tune: %s\n", clm_last_error());
  clm_graph_free(g);
  clm_context_free(ctx);
  return rc;
}
