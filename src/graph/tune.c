/* clm_graph_tune: every convolution variant timed on every conv/deconv shape of a compiled
 * graph, the fastest per shape merged into the device's tuning file (tuning.c). Scratch tensors
 * of the node's shapes are used, so the graph's own memory and parameters are left alone. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "clmtl/util.h"
#include "graph/graph-impl.h"

enum { PASS_FWD, PASS_BWD_DATA, PASS_BWD_WEIGHT, PASS_COUNT };

typedef struct scratch {
  clm_tensor x, w, y, dx, dy, dw, ws;
  clm_conv_params p;
  int deconv;
} scratch;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static clm_status run_pass(clm_context *ctx, clm_conv_variant v, const scratch *s, int pass) {
  const clm_tensor *none = NULL;
  switch (pass) {
  case PASS_FWD:
    return s->deconv ? clm_deconv2d_forward(ctx, v, &s->p, &s->x, &s->w, none, &s->y, &s->ws)
                     : clm_conv2d_forward(ctx, v, &s->p, &s->x, &s->w, none, &s->y, &s->ws);
  case PASS_BWD_DATA:
    return s->deconv ? clm_deconv2d_backward_data(ctx, v, &s->p, &s->dy, &s->w, &s->dx, &s->ws, 0)
                     : clm_conv2d_backward_data(ctx, v, &s->p, &s->dy, &s->w, &s->dx, &s->ws, 0);
  default:
    return s->deconv ? clm_deconv2d_backward_weight(ctx, v, &s->p, &s->x, &s->dy, &s->dw, none, &s->ws)
                     : clm_conv2d_backward_weight(ctx, v, &s->p, &s->x, &s->dy, &s->dw, none, &s->ws);
  }
}

/* Median ms of `reps` runs of one pass after a warm-up run (which also builds the kernels). */
static clm_status time_pass(clm_context *ctx, clm_conv_variant v, const scratch *s, int pass,
                            int reps, double *ms) {
  double t[64];
  if (reps > 64) reps = 64;
  CLM_TRY(run_pass(ctx, v, s, pass));
  CLM_TRY(clm_context_finish(ctx));
  for (int r = 0; r < reps; r++) {
    double t0 = (1e3 * clm_time_seconds());
    CLM_TRY(run_pass(ctx, v, s, pass));
    CLM_TRY(clm_context_finish(ctx));
    t[r] = (1e3 * clm_time_seconds()) - t0;
  }
  qsort(t, (size_t)reps, sizeof *t, cmp_double);
  *ms = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
  return CLM_OK;
}

static clm_status random_tensor(clm_context *ctx, clm_mem *owned, int n, int c, int h, int w,
                                uint64_t *seed, clm_tensor *out) {
  size_t count = (size_t)n * c * h * w;
  CLM_TRY(clm_buffer_alloc(ctx, count, owned));
  *out = clm_tensor_view(*owned, 0, n, c, h, w);
  float *host = malloc(count * sizeof *host);
  if (!host) CLM_FAIL(CLM_ERR_HOST_MEMORY, "tune: no host memory for %zu floats", count);
  for (size_t i = 0; i < count; i++) {
    *seed ^= *seed << 13, *seed ^= *seed >> 7, *seed ^= *seed << 17;
    host[i] = (float)((*seed >> 11) * (1.0 / 9007199254740992.0)) - 0.5f;
  }
  clm_status st = clm_tensor_upload(ctx, out, host);
  free(host);
  return st;
}

/* Allocates the scratch tensors of node nd (bufs[7] receives the buffers to free). */
static clm_status make_scratch(clm_graph *g, const clm_node *nd, scratch *s, clm_mem *bufs) {
  clm_context *ctx = g->ctx;
  const clm_node *xn = &g->nodes[nd->in[0]];
  const clm_param_slot *w = &nd->params[0];
  const clm_layer *l = &g->layers[nd->layer];
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  s->deconv = nd->op == CLM_LAYER_DECONV;
  s->p = (clm_conv_params){l->stride, clm_layer_pad(l), l->dilation};
  CLM_TRY(random_tensor(ctx, &bufs[0], xn->n, xn->c, xn->h, xn->w, &seed, &s->x));
  CLM_TRY(random_tensor(ctx, &bufs[1], w->n, w->c, w->h, w->w, &seed, &s->w));
  CLM_TRY(random_tensor(ctx, &bufs[2], nd->n, nd->c, nd->h, nd->w, &seed, &s->y));
  CLM_TRY(random_tensor(ctx, &bufs[3], xn->n, xn->c, xn->h, xn->w, &seed, &s->dx));
  CLM_TRY(random_tensor(ctx, &bufs[4], nd->n, nd->c, nd->h, nd->w, &seed, &s->dy));
  CLM_TRY(random_tensor(ctx, &bufs[5], w->n, w->c, w->h, w->w, &seed, &s->dw));
  size_t ws = 1;
  for (int v = 0; v < CLM_CONV_VARIANT_COUNT; v++) {
    size_t need = s->deconv ? clm_deconv2d_workspace((clm_conv_variant)v, &s->x, &s->w, &s->y)
                            : clm_conv2d_workspace((clm_conv_variant)v, &s->x, &s->w, &s->y);
    if (need > ws) ws = need;
  }
  CLM_TRY(clm_buffer_alloc(ctx, ws, &bufs[6]));
  s->ws = clm_tensor_view(bufs[6], 0, 1, 1, 1, (int)ws);
  return CLM_OK;
}

/* Times every variant on node nd and appends the winners to e[*n]: for training the fastest
 * variant of each pass (they may differ), for inference the fastest forward. */
static clm_status tune_node(clm_graph *g, const clm_node *nd, int reps, FILE *report,
                            clm_tuning_entry *e, int *n) {
  scratch s;
  clm_mem bufs[7] = {0};
  clm_status st = make_scratch(g, nd, &s, bufs);
  double ms[CLM_CONV_VARIANT_COUNT][PASS_COUNT];
  int passes = g->training ? PASS_COUNT : 1;
  int best[PASS_COUNT] = {-1, -1, -1};
  char key[256], times[512] = "", fwd_times[512] = "";
  clm_conv_shape_key(g, nd, key, sizeof key);
  if (report) fprintf(report, "%s (%s)\n", nd->name, key);
  for (int v = 0; v < CLM_CONV_VARIANT_COUNT && st == CLM_OK; v++) {
    clm_status vs = CLM_OK;
    for (int p = 0; p < passes && vs == CLM_OK; p++)
      vs = time_pass(g->ctx, (clm_conv_variant)v, &s, p, reps, &ms[v][p]);
    const char *name = clm_conv_variant_name((clm_conv_variant)v);
    if (vs != CLM_OK) { /* a variant the device cannot run is skipped, not fatal */
      if (report) fprintf(report, "  %-9s failed: %s\n", name, clm_last_error());
      continue;
    }
    double total = 0;
    for (int p = 0; p < passes; p++) total += ms[v][p];
    if (report) {
      fprintf(report, "  %-9s forward %9.3f ms", name, ms[v][0]);
      if (passes > 1) fprintf(report, "  backward data %9.3f  backward weight %9.3f  total %9.3f",
                              ms[v][1], ms[v][2], total);
      fputc('\n', report);
    }
    size_t len = strlen(times);
    if (passes > 1)
      snprintf(times + len, sizeof times - len, "%s%s=%.3f/%.3f/%.3f", len ? " " : "", name,
               ms[v][0], ms[v][1], ms[v][2]);
    len = strlen(fwd_times);
    snprintf(fwd_times + len, sizeof fwd_times - len, "%s%s=%.3f", len ? " " : "", name, ms[v][0]);
    for (int p = 0; p < passes; p++)
      if (best[p] < 0 || ms[v][p] < ms[best[p]][p]) best[p] = v;
  }
  for (int i = 0; i < 7; i++) clm_buffer_free(g->ctx, bufs[i]);
  if (st != CLM_OK) return st;
  if (best[0] < 0) CLM_FAIL(CLM_ERR_UNSUPPORTED, "tune: no variant ran %s", key);
  for (int m = g->training ? 0 : 1; m < 2; m++) { /* m 0: train, 1: infer */
    clm_tuning_entry *t = &e[(*n)++];
    snprintf(t->key, sizeof t->key, "%s", key);
    snprintf(t->mode, sizeof t->mode, "%s", m ? "infer" : "train");
    for (int p = 0; p < CLM_CONV_PASSES; p++) t->variant[p] = m ? best[0] : best[p];
    snprintf(t->comment, sizeof t->comment, "%s ms: %s",
             m ? "forward" : "forward/backward data/backward weight", m ? fwd_times : times);
    if (report) {
      fprintf(report, "  -> %s:", t->mode);
      for (int p = 0; p < (m ? 1 : CLM_CONV_PASSES); p++)
        fprintf(report, " %s", clm_conv_variant_name((clm_conv_variant)t->variant[p]));
      fputc('\n', report);
    }
  }
  return CLM_OK;
}

clm_status clm_graph_tune(clm_graph *g, int reps, void *report) {
  if (!g || !g->compiled) CLM_FAIL(CLM_ERR_INVALID_ARG, "tune: the graph is not compiled");
  if (reps < 1) CLM_FAIL(CLM_ERR_INVALID_ARG, "tune: reps must be >= 1 (got %d)", reps);
  clm_tuning_entry *e = calloc((size_t)2 * g->nnodes + 1, sizeof *e);
  if (!e) CLM_FAIL(CLM_ERR_HOST_MEMORY, "tune: no host memory");
  int n = 0;
  clm_status st = CLM_OK;
  for (int i = 0; i < g->nnodes && st == CLM_OK; i++) {
    const clm_node *nd = &g->nodes[i];
    if (nd->op != CLM_LAYER_CONV && nd->op != CLM_LAYER_DECONV) continue;
    char key[256];
    clm_conv_shape_key(g, nd, key, sizeof key);
    int seen = 0;
    for (int j = 0; j < n && !seen; j++) seen = !strcmp(e[j].key, key);
    if (!seen) st = tune_node(g, nd, reps, (FILE *)report, e, &n);
  }
  if (st == CLM_OK) st = clm_tuning_merge(g->ctx, e, n);
  free(e);
  return st;
}
