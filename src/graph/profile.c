/* Profiling mode of a graph: per (node, pass) wall times, each bracketed by queue drains, and
 * the FLOP and bytes of each pass from the op table's cost rules. exec.c calls the hooks
 * (CLM_PROFILED, clm_profile_mark in graph-impl.h); everything else lives here. Not here: the
 * benchmark that reads these records (tools/cmd_bench.c). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "clmtl/util.h"
#include "graph/op-def.h"

typedef struct prof_entry {
  int node;
  clm_graph_pass pass;
  double flop, bytes;
  double *ms; /* one sample per timed run */
  int n, cap;
  double launches, transfers, transfer_bytes; /* summed over the runs */
} prof_entry;

struct clm_profile {
  prof_entry *e;
  int ne;
  int *index; /* nnodes × CLM_PASS_COUNT: entry of (node, pass), or -1 */
  double t0;  /* seconds, when the work being timed began */
  unsigned long long l0, x0, b0; /* the context's counters then (launches, transfers, bytes) */
};

static const char *pass_names[CLM_PASS_COUNT] = {"forward", "backward", "backward_data",
                                                 "backward_weight"};

const char *clm_graph_pass_name(clm_graph_pass p) {
  return (unsigned)p < CLM_PASS_COUNT ? pass_names[p] : "?";
}

static void add_entry(clm_graph *g, int node, clm_graph_pass pass) {
  struct clm_profile *p = g->profile;
  const clm_node *nd = &g->nodes[node];
  prof_entry *e = &p->e[p->ne];
  memset(e, 0, sizeof *e);
  e->node = node;
  e->pass = pass;
  const clm_op_def *op = clm_op(nd->op);
  e->flop = op->flop ? op->flop(g, nd) : 0;
  e->bytes = op->floats ? 4.0 * op->floats(g, nd, pass) : 0;
  p->index[node * CLM_PASS_COUNT + pass] = p->ne++;
}

void clm_profile_free(struct clm_profile *p) {
  if (!p) return;
  for (int i = 0; i < p->ne; i++) free(p->e[i].ms);
  free(p->e);
  free(p->index);
  free(p);
}

clm_status clm_graph_profile_enable(clm_graph *g, int on) {
  clm_profile_free(g->profile);
  g->profile = NULL;
  if (!on) return CLM_OK;
  if (!g->compiled) CLM_FAIL(CLM_ERR_INVALID_ARG, "graph is not compiled");
  struct clm_profile *p = calloc(1, sizeof *p);
  if (p) p->e = calloc((size_t)g->nnodes * 3 + 1, sizeof *p->e); /* forward + two backward parts */
  if (p) p->index = malloc(((size_t)g->nnodes * CLM_PASS_COUNT + 1) * sizeof *p->index);
  if (!p || !p->e || !p->index) {
    clm_profile_free(p);
    CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  }
  for (int i = 0; i < g->nnodes * CLM_PASS_COUNT; i++) p->index[i] = -1;
  g->profile = p;
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i].op != CLM_LAYER_INPUT) add_entry(g, i, CLM_PASS_FORWARD);
  for (int s = 0; s < g->nbwd; s++) {
    int i = g->bwd[s];
    const clm_node *nd = &g->nodes[i];
    if (clm_op(nd->op)->split_backward) {
      if (nd->in_grad[0]) add_entry(g, i, CLM_PASS_BACKWARD_DATA);
      add_entry(g, i, CLM_PASS_BACKWARD_WEIGHT);
    } else {
      add_entry(g, i, CLM_PASS_BACKWARD);
    }
  }
  return CLM_OK;
}

void clm_graph_profile_reset(clm_graph *g) {
  if (!g->profile) return;
  for (int i = 0; i < g->profile->ne; i++) {
    prof_entry *e = &g->profile->e[i];
    e->n = 0;
    e->launches = e->transfers = e->transfer_bytes = 0;
  }
}

int clm_graph_profile_count(const clm_graph *g) { return g->profile ? g->profile->ne : 0; }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

clm_status clm_graph_profile_get(const clm_graph *g, int i, clm_op_profile *out) {
  if (!g->profile) CLM_FAIL(CLM_ERR_INVALID_ARG, "profiling is off");
  if (i < 0 || i >= g->profile->ne)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "profile entry %d of %d", i, g->profile->ne);
  const prof_entry *e = &g->profile->e[i];
  const clm_node *nd = &g->nodes[e->node];
  memset(out, 0, sizeof *out);
  out->node = nd->name;
  out->op = nd->op;
  out->pass = e->pass;
  int conv_pass = e->pass == CLM_PASS_BACKWARD_DATA     ? CLM_CONV_BACKWARD_DATA
                  : e->pass == CLM_PASS_BACKWARD_WEIGHT ? CLM_CONV_BACKWARD_WEIGHT
                                                        : CLM_CONV_FORWARD;
  out->variant = clm_op(nd->op)->split_backward
                     ? clm_conv_variant_name((clm_conv_variant)nd->variant[conv_pass]) : "";
  out->is_loss = nd->loss_index >= 0;
  out->calls = e->n;
  out->flop = e->flop;
  out->bytes = e->bytes;
  if (e->n > 0) {
    double *s = malloc((size_t)e->n * sizeof *s);
    if (!s) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
    memcpy(s, e->ms, (size_t)e->n * sizeof *s);
    qsort(s, (size_t)e->n, sizeof *s, cmp_double);
    out->ms = e->n % 2 ? s[e->n / 2] : 0.5 * (s[e->n / 2 - 1] + s[e->n / 2]);
    for (int k = 0; k < e->n; k++) out->ms_total += s[k];
    free(s);
    out->launches = e->launches / e->n;
    out->transfers = e->transfers / e->n;
    out->transfer_bytes = e->transfer_bytes / e->n;
  }
  return CLM_OK;
}

/* Appends one sample to (node, pass) when the graph records that pair, with the context's
 * counters since the work began; restarts the counters. */
static clm_status record(clm_graph *g, int node, clm_graph_pass pass, double ms) {
  struct clm_profile *p = g->profile;
  const clm_context *ctx = g->ctx;
  double dl = (double)(ctx->n_launches - p->l0), dx = (double)(ctx->n_transfers - p->x0);
  double db = (double)(ctx->transfer_bytes - p->b0);
  p->l0 = ctx->n_launches, p->x0 = ctx->n_transfers, p->b0 = ctx->transfer_bytes;
  int k = p->index[node * CLM_PASS_COUNT + pass];
  if (k < 0) return CLM_OK;
  prof_entry *e = &p->e[k];
  e->launches += dl, e->transfers += dx, e->transfer_bytes += db;
  if (e->n == e->cap) {
    int cap = e->cap ? 2 * e->cap : 16;
    double *ms = realloc(e->ms, (size_t)cap * sizeof *ms);
    if (!ms) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
    e->ms = ms;
    e->cap = cap;
  }
  e->ms[e->n++] = ms;
  return CLM_OK;
}

void clm_profile_begin(clm_graph *g) {
  if (!g->profile) return;
  clFinish(g->ctx->queue); /* an error here shows again at the drain in clm_profile_end */
  g->profile->t0 = clm_time_seconds();
  g->profile->l0 = g->ctx->n_launches, g->profile->x0 = g->ctx->n_transfers;
  g->profile->b0 = g->ctx->transfer_bytes;
}

clm_status clm_profile_end(clm_graph *g, int node, clm_graph_pass pass, clm_status st) {
  if (!g->profile || st != CLM_OK) return st;
  CLM_CL_TRY(clFinish(g->ctx->queue));
  const clm_node *nd = &g->nodes[node];
  if (pass == CLM_PASS_BACKWARD && clm_op(nd->op)->split_backward)
    pass = CLM_PASS_BACKWARD_WEIGHT; /* what is left after clm_profile_mark */
  return record(g, node, pass, (clm_time_seconds() - g->profile->t0) * 1e3);
}

clm_status clm_profile_mark(clm_graph *g, const clm_node *nd) {
  if (!g->profile) return CLM_OK;
  if (nd->in_grad[0]) {
    CLM_CL_TRY(clFinish(g->ctx->queue));
    CLM_TRY(record(g, (int)(nd - g->nodes), CLM_PASS_BACKWARD_DATA,
                   (clm_time_seconds() - g->profile->t0) * 1e3));
  }
  g->profile->t0 = clm_time_seconds();
  return CLM_OK;
}
