/* `clmtl tune [MODEL.cfg]`: times every convolution variant on each convolution shape of a
 * model on one device and records the fastest per shape in the device's tuning file, which
 * every later compile on that device (train, eval, infer, bench) reads. The shapes are the
 * ones the user will run: the same --model/--size/--batch as `clmtl train`, with train's
 * defaults (clm_train_defaults). `--reset` removes the device's tuning file instead. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "clmtl/train.h"

static const char *usage_text =
    "usage: clmtl tune [MODEL.cfg | --model MODEL.cfg] [options]\n"
    "  times every convolution variant on the model's shapes (forward and both backward\n"
    "  passes, as training runs them) and keeps the fastest per shape in this device's\n"
    "  tuning file, which train, eval, infer and bench then use\n"
    "  --model FILE   model file, as for 'clmtl train' (default models/default.cfg)\n"
    "  --size HxW     input resolution, as for 'clmtl train' (default %dx%d)\n"
    "  --batch N      batch size, as for 'clmtl train' (default %d)\n"
    "  --reps N       timed runs per variant and pass; the median counts (default 3)\n"
    "  --device D     device: P:D, cpu, gpu or part of a name\n"
    "  --reset        remove this device's tuning file (back to the built-in choices)\n";

/* Removes the device's tuning file, saying which file or that there was none. */
static int reset(clm_context *ctx) {
  char file[600];
  if (clm_tuning_file(ctx, file, sizeof file) != CLM_OK) {
    fprintf(stderr, "clmtl tune: %s\n", clm_last_error());
    return 1;
  }
  if (unlink(file) == 0) {
    printf("removed the tuning file %s\n", file);
    return 0;
  }
  if (errno == ENOENT) {
    printf("no tuning file to remove (%s does not exist)\n", file);
    return 0;
  }
  fprintf(stderr, "clmtl tune: cannot remove %s: %s\n", file, strerror(errno));
  return 1;
}

int cmd_tune(int argc, char **argv) {
  const clm_train_options defaults = clm_train_defaults();
  const char *path = defaults.model_path, *device = NULL;
  int batch = defaults.batch, height = defaults.height, width = defaults.width, reps = 3;
  const char *model = NULL, *pos = NULL;
  int do_reset = 0, npos;
  char usage_buf[2048];
  snprintf(usage_buf, sizeof usage_buf, usage_text, defaults.height, defaults.width, defaults.batch);
  const cli_opt opts[] = {CLI_OPT_STRING("--model", &model),
                          CLI_OPT_SIZE("--size", &height, &width),
                          CLI_OPT_BATCH("--batch", &batch),
                          CLI_OPT_INT("--reps", &reps, 1, 1000),
                          CLI_OPT_STRING("--device", &device),
                          CLI_OPT_FLAG("--reset", &do_reset),
                          CLI_OPT_END};
  int rc = cli_args_parse("tune", usage_buf, opts, argc, argv, &pos, 1, &npos);
  if (rc) return rc < 0 ? 0 : rc;
  if (model && pos) return cli_usage_error("'tune' takes one model file");
  if (model || pos) path = model ? model : pos;
  path = cli_shipped_model(path); /* a shipped model, run from elsewhere */
  clm_context *ctx = NULL;
  clm_graph *g = NULL;
  rc = 1;
  char file[600];
  if (cli_context_create(device, &ctx) != CLM_OK) goto fail;
  const clm_device_info *di = clm_context_device(ctx);
  printf("device: %d:%d %s (%s, driver %s)\n", di->platform_index, di->device_index, di->name,
         di->platform, di->driver);
  if (do_reset) {
    rc = reset(ctx);
    clm_context_free(ctx);
    return rc;
  }
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
