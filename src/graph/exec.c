/* Running a compiled graph: forward over the nodes in execution order, backward over the
 * steps autograd built (whole, or partial: the steps between one layer and a subset of the
 * losses, with write/accumulate flags worked out for the steps that run), the count of
 * backward passes since the last forward that guards activation lifetimes, and the folding
 * of batch norm into convolutions for inference. Each node's work is its op table entry's
 * forward or backward step (ops_table.c), a call into the op layer (src/ops) with the views
 * the planner assigned; the variant of each convolution is the scheduler's choice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "graph/op-def.h"

/* Node nd's forward or backward step, as its op's table entry does it. Backward: in_grad[j],
 * input j's gradient is wanted; accumulate[j], add it into that gradient (else write it). A
 * whole backward passes the node's own flags (autograd.c); a partial backward passes flags for
 * the steps it runs. */
static clm_status forward_node(clm_graph *g, clm_node *nd) {
  return clm_op(nd->op)->forward(g, nd);
}

static clm_status backward_node(clm_graph *g, clm_node *nd, const int *in_grad,
                                const int *accumulate) {
  const clm_op_def *op = clm_op(nd->op);
  if (!op->backward) CLM_FAIL(CLM_ERR_INVALID_ARG, "node '%s': no backward for this op", nd->name);
  return op->backward(g, nd, in_grad, accumulate);
}

static clm_status annotate(clm_graph *g, const clm_node *nd, const char *pass, clm_status st) {
  if (st == CLM_OK) return st;
  char where[400], msg[4096];
  clm_graph_where(g, nd->layer, where, sizeof where);
  snprintf(msg, sizeof msg, "%s", clm_last_error());
  return clm_error_set(st, __FILE__, __LINE__, "%s of %s (node %s): %s", pass, where, nd->name, msg);
}

clm_status clm_graph_prepare_inference(clm_graph *g) {
  if (!g->compiled) CLM_FAIL(CLM_ERR_INVALID_ARG, "graph is not compiled");
  for (int i = 0; i < g->nnodes; i++) {
    clm_node *nd = &g->nodes[i];
    if (nd->fold < 0) continue;
    const clm_node *bn = &g->nodes[nd->fold];
    clm_tensor w = clm_node_param(g, nd, 0, 0), b = clm_node_bias(g, nd, 0), wf, bf;
    clm_node_folded(g, nd, &wf, &bf);
    clm_tensor gm = clm_node_param(g, bn, 0, 0), bt = clm_node_param(g, bn, 1, 0);
    clm_tensor rm = clm_node_param(g, bn, 2, 0), rv = clm_node_param(g, bn, 3, 0);
    CLM_TRY(annotate(g, nd, "batch-norm folding",
                     clm_batchnorm_fold(g->ctx, nd->op == CLM_LAYER_DECONV, &w, &b, &gm, &bt, &rm,
                                        &rv, g->layers[bn->layer].bn_eps, &wf, &bf)));
  }
  g->folded_stale = 0;
  return CLM_OK;
}

clm_status clm_graph_forward(clm_graph *g) {
  if (!g->compiled) CLM_FAIL(CLM_ERR_INVALID_ARG, "graph is not compiled");
  if (g->folded_floats && g->training)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "this inference graph folds batch norm into its convolutions "
             "and cannot use batch statistics (training mode): compile with training = 1, or "
             "with fuse = -1 (CLMTL_FUSE=0)");
  if (g->folded_stale) CLM_TRY(clm_graph_prepare_inference(g));
  g->backward_passes = -1; /* no backward may read a half-written forward */
  for (int i = 0; i < g->nnodes; i++)
    CLM_TRY(annotate(g, &g->nodes[i], "forward",
                     CLM_PROFILED(g, i, CLM_PASS_FORWARD, forward_node(g, &g->nodes[i]))));
  g->backward_passes = 0;
  return CLM_OK;
}

clm_status clm_graph_zero_grad(clm_graph *g) {
  if (!g->grads) CLM_FAIL(CLM_ERR_INVALID_ARG, "graph was not compiled for training");
  clm_tensor t = clm_graph_grads(g);
  return clm_tensor_fill(g->ctx, &t, 0.0f);
}

/* Whether another backward may run on the current forward's activations. */
static clm_status backward_allowed(const clm_graph *g) {
  if (!g->grads) CLM_FAIL(CLM_ERR_INVALID_ARG, "graph was not compiled for training");
  if (g->backward_passes < 0)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "backward without a complete forward before it");
  if (g->backward_passes > 0 && !g->multi_backward)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "backward pass %d after one forward: this graph keeps its "
             "activations only until their first backward use; call "
             "clm_graph_set_multi_backward before compiling it for several backward passes per forward", g->backward_passes + 1);
  return CLM_OK;
}

clm_status clm_graph_backward(clm_graph *g) {
  CLM_TRY(backward_allowed(g));
  for (int s = 0; s < g->nbwd; s++) {
    clm_node *nd = &g->nodes[g->bwd[s]];
    CLM_TRY(annotate(g, nd, "backward",
                     CLM_PROFILED(g, g->bwd[s], CLM_PASS_BACKWARD,
                                  backward_node(g, nd, nd->in_grad, nd->accumulate))));
  }
  g->backward_passes++;
  return CLM_OK;
}

/* The steps of a partial backward: in_set[i] = 1 for node i when it has a backward step, is
 * `stop` or depends on it (stop < 0: any node), and some loss in `mask` depends on it. */
static void partial_set(const clm_graph *g, unsigned mask, int stop, unsigned char *in_set) {
  int n = g->nnodes;
  for (int i = 0; i < n; i++) { /* descends from stop */
    const clm_node *nd = &g->nodes[i];
    in_set[i] = stop < 0 || i == stop;
    for (int j = 0; j < nd->nin && !in_set[i]; j++) in_set[i] = in_set[nd->in[j]] != 0;
  }
  unsigned char *feeds = in_set + n; /* feeds a loss of the mask */
  for (int i = 0; i < n; i++) feeds[i] = 0;
  for (int i = n - 1; i >= 0; i--) {
    const clm_node *nd = &g->nodes[i];
    if (nd->loss_index >= 0 && (mask >> nd->loss_index & 1u)) feeds[i] = 1;
    if (feeds[i])
      for (int j = 0; j < nd->nin; j++) feeds[nd->in[j]] = 1;
  }
  for (int i = 0; i < n; i++) in_set[i] = in_set[i] && feeds[i] && g->nodes[i].bwd_step >= 0;
}

clm_status clm_graph_backward_nodes(clm_graph *g, unsigned loss_mask, int stop) {
  CLM_TRY(backward_allowed(g));
  if (g->nlosses < 32 && (loss_mask >> g->nlosses) != 0)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "partial backward: loss mask 0x%x names losses beyond the "
             "graph's %d", loss_mask, g->nlosses);
  if (stop >= g->nnodes || (stop >= 0 && g->nodes[stop].bwd_step < 0))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "partial backward: node %d has no backward step", stop);
  int n = g->nnodes;
  unsigned char *in_set = malloc(2 * (size_t)n + 1);
  unsigned char *written = calloc((size_t)n + 1, 1);
  if (!in_set || !written) {
    free(in_set);
    free(written);
    CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  }
  partial_set(g, loss_mask, stop, in_set);
  clm_status st = CLM_OK;
  for (int s = 0; s < g->nbwd && st == CLM_OK; s++) {
    int i = g->bwd[s];
    clm_node *nd = &g->nodes[i];
    if (!in_set[i]) continue;
    /* gradients only of inputs inside the set (unless the op computes dx regardless); the
     * first contribution of this pass writes, later ones add */
    int want[CLM_MAX_INPUTS + 2] = {0}, acc[CLM_MAX_INPUTS + 2] = {0};
    for (int j = 0; j < nd->nin; j++) {
      int src = nd->in[j];
      want[j] = nd->in_grad[j] && (in_set[src] || clm_op(nd->op)->always_dx);
      if (!want[j]) continue;
      acc[j] = written[src];
      written[src] = 1;
    }
    st = annotate(g, nd, "backward",
                  CLM_PROFILED(g, i, CLM_PASS_BACKWARD, backward_node(g, nd, want, acc)));
  }
  free(in_set);
  free(written);
  if (st == CLM_OK) g->backward_passes++;
  return st;
}

clm_status clm_graph_backward_partial(clm_graph *g, unsigned loss_mask, const char *down_to) {
  if (!g || !g->compiled) CLM_FAIL(CLM_ERR_INVALID_ARG, "graph is not compiled");
  int stop = -1;
  if (down_to) {
    stop = clm_graph_find_node(g, down_to);
    if (stop < 0) CLM_FAIL(CLM_ERR_NOT_FOUND, "partial backward: no layer named '%s'", down_to);
    if (g->nodes[stop].bwd_step < 0 || g->nodes[stop].nparams == 0)
      CLM_FAIL(CLM_ERR_INVALID_ARG, "partial backward: layer '%s' has no trained parameters "
               "behind a loss", down_to);
  }
  return clm_graph_backward_nodes(g, loss_mask, stop);
}
