/* `mpirun -np N clmtl bench --ranks [MODEL.cfg]`: data-parallel scaling of the training step.
 * Every rank compiles the model for its share of the global batch (--batch / N) on its device
 * (--device as for train), steps it --warmup + --steps times with the weighting and Adam over
 * MPI (losses, counts and gradients summed over the ranks, as clmtl train does), and rank 0
 * prints the median step time, the throughput of the global batch and the median share of the
 * step spent in the reductions (host staging and MPI), and appends them to --csv. Run it at 1,
 * 2, ... ranks for the scaling; efficiency(N) = throughput(N) / (N · throughput(1)) at a fixed
 * per-rank batch. Inputs are fixed random values: this times the step, not the data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "clmtl/dist.h"

typedef struct ranks_opts {
  const char *model, *device, *csv;
  int batch, height, width, steps, warmup;
  clm_mtl_strategy strategy;
} ranks_opts;

static const char *usage_text =
    "usage: mpirun -np N clmtl bench --ranks [MODEL.cfg] [options]\n"
    "  --batch N        the global batch, a multiple of N (default 8)\n"
    "  --size HxW       (default 64x128)   --steps N (default 10)   --warmup N (default 2)\n"
    "  --weighting W    (default uncertainty)   --device D   as for clmtl train\n"
    "  --csv FILE       append a row: ranks, batch, per-rank batch, size, median step ms,\n"
    "                   images/s, median reduction ms and its share of the step, device\n";

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static clm_status measure(const ranks_opts *o, clm_dist *dist, double *step_ms, double *comm_ms, char *device,
                          size_t device_size) {
  int ranks = clm_dist_size(dist);
  clm_context_options co = cli_context_options_from_env();
  char spec[256];
  const char *want = cli_device(o->device);
  if (want) {
    CLI_TRY(clm_dist_device_spec(dist, want, spec, sizeof spec));
    co.device = spec;
  }
  clm_context *ctx = NULL;
  clm_graph *g = NULL;
  clm_mtl *mtl = NULL;
  clm_optim_state opt;
  memset(&opt, 0, sizeof opt);
  double *steps = calloc((size_t)o->steps, sizeof *steps), *comm = calloc((size_t)o->steps, sizeof *comm);
  clm_status st = steps && comm ? clm_context_create_with(&co, &ctx) : CLM_ERR_HOST_MEMORY;
  if (st == CLM_OK) snprintf(device, device_size, "%s", clm_context_device(ctx)->name);
  if (st == CLM_OK) st = clm_graph_create(ctx, &g);
  if (st == CLM_OK) st = clm_graph_load(g, o->model);
  clm_graph_options go = {o->batch / ranks, o->height, o->width, 1, -1, 0};
  if (st == CLM_OK) st = clm_graph_set_multi_backward(g, clm_mtl_strategy_needs_task_grads(o->strategy));
  if (st == CLM_OK) st = clm_graph_compile(g, &go);
  if (st == CLM_OK) st = clm_graph_init_params(g, 1);
  if (st == CLM_OK) st = cli_fill_inputs(ctx, g, 1 + (uint64_t)clm_dist_rank(dist));
  clm_mtl_config mc;
  if (st == CLM_OK) st = clm_mtl_config_for_graph(g, o->strategy, &mc);
  if (st == CLM_OK) st = clm_mtl_create(g, &mc, &mtl);
  if (st == CLM_OK) st = clm_mtl_set_dist(mtl, dist);
  if (st == CLM_OK) st = clm_optim_state_init(ctx, clm_graph_params(g).w, &opt);
  clm_optim_config cfg = clm_optim_defaults(CLM_OPTIM_ADAM);
  for (int i = 0; i < o->warmup + o->steps && st == CLM_OK; i++) {
    st = clm_dist_barrier(dist); /* every rank starts each step together */
    double t0 = clm_time_seconds(), c0 = clm_dist_comm_seconds(dist);
    if (st == CLM_OK) st = clm_mtl_train_step(mtl, &cfg, &opt);
    if (st == CLM_OK) st = clm_context_finish(ctx);
    if (st == CLM_OK && i >= o->warmup) {
      steps[i - o->warmup] = (clm_time_seconds() - t0) * 1e3;
      comm[i - o->warmup] = (clm_dist_comm_seconds(dist) - c0) * 1e3;
    }
  }
  if (st == CLM_OK) {
    qsort(steps, (size_t)o->steps, sizeof *steps, cmp_double);
    qsort(comm, (size_t)o->steps, sizeof *comm, cmp_double);
    *step_ms = steps[o->steps / 2];
    *comm_ms = comm[o->steps / 2];
  }
  free(steps);
  free(comm);
  clm_optim_state_free(&opt);
  clm_mtl_free(mtl);
  clm_graph_free(g);
  clm_context_free(ctx);
  return st;
}

int cmd_bench_ranks(int argc, char **argv) {
  ranks_opts o = {.model = "models/default.cfg", .batch = 8, .height = 64, .width = 128, .steps = 10, .warmup = 2};
  const char *weighting = "uncertainty", *model = NULL;
  int npos;
  const cli_opt opts[] = {CLI_OPT_SIZE("--size", &o.height, &o.width),
                          CLI_OPT_INT("--batch", &o.batch, 1, CLI_BATCH_MAX),
                          CLI_OPT_INT("--steps", &o.steps, 1, 1000000),
                          CLI_OPT_INT("--warmup", &o.warmup, 0, 1000000),
                          CLI_OPT_STRING("--device", &o.device),
                          CLI_OPT_STRING("--weighting", &weighting),
                          CLI_OPT_STRING("--csv", &o.csv),
                          CLI_OPT_END};
  int rc = cli_args_parse("bench --ranks", usage_text, opts, argc, argv, &model, 1, &npos);
  if (rc) return rc < 0 ? 0 : rc;
  if (model) o.model = model;
  o.model = cli_shipped_model(o.model);
  if (clm_mtl_strategy_parse(weighting, &o.strategy) != CLM_OK) {
    fprintf(stderr, "clmtl bench --ranks: %s\n", clm_last_error());
    return 2;
  }
  clm_dist *dist = NULL;
  if (clm_dist_init(&dist) != CLM_OK) {
    fprintf(stderr, "clmtl bench --ranks: %s\n", clm_last_error());
    return 1;
  }
  int ranks = clm_dist_size(dist), rank = clm_dist_rank(dist);
  if (o.batch % ranks) {
    if (rank == 0) fprintf(stderr, "clmtl bench --ranks: --batch %d is not a multiple of the %d ranks\n", o.batch, ranks);
    clm_dist_free(dist);
    return 2;
  }
  double step_ms = 0, comm_ms = 0;
  char device[160] = "";
  clm_status st = measure(&o, dist, &step_ms, &comm_ms, device, sizeof device);
  if (st != CLM_OK) {
    char who[320];
    clm_dist_describe(dist, who, sizeof who);
    fprintf(stderr, "clmtl bench --ranks: %s: %s\n", who, clm_last_error());
    fflush(stderr);
    clm_dist_abort(dist, 1);
    clm_dist_free(dist);
    return 1;
  }
  /* the slowest rank's medians: the step is synchronous */
  double worst[2] = {step_ms, comm_ms};
  int64_t us[2] = {(int64_t)(worst[0] * 1e3), (int64_t)(worst[1] * 1e3)};
  if (clm_dist_allreduce_max_int64(dist, us, 2) == CLM_OK) {
    worst[0] = (double)us[0] / 1e3;
    worst[1] = (double)us[1] / 1e3;
  }
  if (rank == 0) {
    double ips = o.batch / (worst[0] / 1e3), share = worst[0] > 0 ? worst[1] / worst[0] : 0;
    printf("clmtl bench --ranks: %s, %d rank%s, global batch %d (%d per rank), %dx%d, %s: step %.1f ms "
           "(median of %d), %.1f img/s, reductions %.2f ms (%.1f%% of the step)\n",
           o.model, ranks, ranks == 1 ? "" : "s", o.batch, o.batch / ranks, o.height, o.width, device,
           worst[0], o.steps, ips, worst[1], 100 * share);
    if (o.csv) {
      struct stat sb;
      int fresh = stat(o.csv, &sb) != 0 || sb.st_size == 0;
      FILE *f = fopen(o.csv, "a");
      if (!f) {
        fprintf(stderr, "clmtl bench --ranks: cannot append to %s\n", o.csv);
        clm_dist_free(dist);
        return 1;
      }
      if (fresh) fprintf(f, "model,ranks,batch,per_rank_batch,height,width,step_ms,images_per_s,reduce_ms,reduce_share,device\n");
      fprintf(f, "%s,%d,%d,%d,%d,%d,%.3f,%.2f,%.3f,%.4f,\"%s\"\n", o.model, ranks, o.batch, o.batch / ranks, o.height,
              o.width, worst[0], ips, worst[1], share, device);
      fclose(f);
    }
  }
  clm_dist_free(dist);
  return 0;
}
