/* `clmtl bench --mode infer`: a model's inference graph (compiled with training = 0) measured
 * node by node on one device: the median forward and its img/s, the read-back of the task
 * outputs, then the same forwards in the graph's profiling mode with each node's median time,
 * share, kernel launches and host transfers per forward, longest first. What the train-step
 * benchmark (cmd_bench.c) reports lives there; this file only prints to stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_infer.h"
#include "cli.h"

#define TOP_NODES 15 /* nodes shown without --ops */

typedef struct node_row {
  const char *node, *op;
  char variant[24];
  double ms, launches, transfers, bytes, flop;
} node_row;

static int cmp_row(const void *a, const void *b) {
  const node_row *x = a, *y = b;
  return (x->ms < y->ms) - (x->ms > y->ms);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median_of(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double load1(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f && fscanf(f, "%lf", &l) != 1) l = -1;
  if (f) fclose(f);
  return l;
}

/* Downloads every task's output (the head each loss layer reads); *bytes, *count. */
static clm_status read_back(clm_context *ctx, clm_graph *g, float *host, double *bytes,
                            int *count) {
  *bytes = 0, *count = 0;
  for (int i = 0; i < clm_graph_loss_count(g); i++) {
    clm_tensor t;
    CLI_TRY(clm_graph_tensor(g, clm_graph_loss_layer(g, i)->from[0], &t));
    CLI_TRY(clm_tensor_download(ctx, &t, host));
    *bytes += 4.0 * (double)clm_tensor_numel(&t);
    (*count)++;
  }
  return CLM_OK;
}

static clm_status run(const bench_infer_opts *o, clm_context *ctx, clm_graph *g) {
  CLI_TRY(clm_graph_load(g, o->model));
  clm_graph_options go = {o->batch, o->height, o->width, 0, -1, 0};
  CLI_TRY(clm_graph_compile(g, &go));
  CLI_TRY(cli_fill_inputs(ctx, g, 2));
  int runs = o->steps < 3 ? 3 : o->steps > 64 ? 64 : o->steps;
  double ms[64], rb[64], rb_bytes = 0;
  int rb_count = 0;
  size_t most = 0; /* the largest output, for the read-back buffer */
  for (int i = 0; i < clm_graph_loss_count(g); i++) {
    clm_tensor t;
    CLI_TRY(clm_graph_tensor(g, clm_graph_loss_layer(g, i)->from[0], &t));
    if (clm_tensor_numel(&t) > most) most = clm_tensor_numel(&t);
  }
  float *host = malloc((most ? most : 1) * sizeof *host);
  if (!host) return CLM_ERR_HOST_MEMORY;
  clm_status st = CLM_OK;
  for (int i = -1; i < runs && st == CLM_OK; i++) { /* run -1 warms up */
    double t0 = clm_time_seconds();
    st = clm_graph_forward(g);
    if (st == CLM_OK) st = clm_context_finish(ctx);
    double t1 = clm_time_seconds();
    if (st == CLM_OK) st = read_back(ctx, g, host, &rb_bytes, &rb_count);
    if (i >= 0) ms[i] = (t1 - t0) * 1e3, rb[i] = (clm_time_seconds() - t1) * 1e3;
  }
  free(host);
  CLI_TRY(st);
  double fwd = median_of(ms, runs), back = median_of(rb, runs);
  printf("forward: median %.2f ms (min %.2f, max %.2f) = %.1f img/s\n", fwd, ms[0],
         ms[runs - 1], o->batch * 1e3 / fwd);
  printf("read-back of %d task outputs: median %.2f ms, %.2f MB\n", rb_count, back,
         rb_bytes * 1e-6);

  CLI_TRY(clm_graph_profile_enable(g, 1));
  double pm[64];
  for (int i = 0; i < runs && st == CLM_OK; i++) {
    double t0 = clm_time_seconds();
    st = clm_graph_forward(g);
    if (st == CLM_OK) st = clm_context_finish(ctx);
    pm[i] = (clm_time_seconds() - t0) * 1e3;
  }
  int n = clm_graph_profile_count(g), nrow = 0;
  node_row *rows = calloc((size_t)n + 1, sizeof *rows);
  if (!rows) st = CLM_ERR_HOST_MEMORY;
  double sum_ms = 0, sum_l = 0, sum_x = 0, sum_b = 0;
  for (int i = 0; i < n && st == CLM_OK; i++) {
    clm_op_profile p;
    st = clm_graph_profile_get(g, i, &p);
    if (st != CLM_OK || !p.calls) continue;
    node_row *r = &rows[nrow++];
    r->node = p.node;
    r->op = clm_layer_type_name(p.op);
    snprintf(r->variant, sizeof r->variant, "%s", p.variant);
    r->ms = p.ms, r->launches = p.launches, r->transfers = p.transfers;
    r->bytes = p.transfer_bytes, r->flop = p.flop;
    sum_ms += p.ms, sum_l += p.launches, sum_x += p.transfers, sum_b += p.transfer_bytes;
  }
  if (st == CLM_OK) {
    double prof = median_of(pm, runs);
    qsort(rows, (size_t)nrow, sizeof *rows, cmp_row);
    int shown = o->all_ops || nrow < TOP_NODES ? nrow : TOP_NODES;
    printf("profiled forward (a queue drain around each node): median %.2f ms, nodes %.1f%% of "
           "it; per forward %.0f kernel launches, %.0f host transfers (%.2f MB)\n",
           prof, prof > 0 ? 100 * sum_ms / prof : 0, sum_l, sum_x, sum_b * 1e-6);
    printf("%s%d of %d nodes by time:\n", shown < nrow ? "top " : "", shown, nrow);
    printf("  %-22s %-10s %-9s %9s %6s %8s %9s %9s %8s\n", "node", "op", "variant", "ms", "%",
           "launches", "transfers", "MB moved", "GFLOP/s");
    for (int i = 0; i < shown; i++) {
      const node_row *r = &rows[i];
      printf("  %-22.22s %-10.10s %-9.9s %9.3f %6.1f %8.0f %9.0f %9.2f %8.1f\n", r->node, r->op,
             r->variant[0] ? r->variant : "-", r->ms, prof > 0 ? 100 * r->ms / prof : 0,
             r->launches, r->transfers, r->bytes * 1e-6,
             r->ms > 0 ? r->flop / (r->ms * 1e6) : 0);
    }
  }
  free(rows);
  clm_status off = clm_graph_profile_enable(g, 0);
  return st != CLM_OK ? st : off;
}

int bench_infer(const bench_infer_opts *o) {
  clm_context_options co = cli_context_options_from_env();
  co.device = cli_device(o->device);
  clm_context *ctx = NULL;
  clm_graph *g = NULL;
  double l0 = load1();
  clm_status st = clm_context_create_with(&co, &ctx);
  if (st == CLM_OK) {
    const clm_device_info *d = clm_context_device(ctx);
    printf("clmtl bench --mode infer: %s, batch %d, %dx%d; medians of %d forwards after a "
           "warm-up\ndevice %d:%d: %s (%s, driver %s)\n", o->shown_model, o->batch, o->height,
           o->width, o->steps < 3 ? 3 : o->steps > 64 ? 64 : o->steps, d->platform_index,
           d->device_index, d->name, d->platform, d->driver);
    if (l0 >= 0) printf("load average %.2f at the start\n", l0);
    st = clm_graph_create(ctx, &g);
  }
  if (st == CLM_OK) st = run(o, ctx, g);
  clm_graph_free(g);
  clm_context_free(ctx);
  if (st != CLM_OK) {
    fprintf(stderr, "clmtl bench: inference: %s\n", clm_last_error());
    return 1;
  }
  double l1 = load1();
  if (l1 >= 0) printf("load average %.2f at the end (other work on the machine slows every "
                      "figure)\n", l1);
  return 0;
}
