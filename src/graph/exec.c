/* Running a compiled graph: forward over the nodes in execution order, backward over the
 * steps autograd built (whole, or partial: the steps between one layer and a subset of the
 * losses, with write/accumulate flags worked out for the steps that run), the count of
 * backward passes since the last forward that guards activation lifetimes, and the folding
 * of batch norm into convolutions for inference. Each node's work is a call into the op
 * layer (src/ops) with the views the planner assigned; the variant of each convolution is the
 * scheduler's choice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "graph/graph-impl.h"

static clm_tensor param_view(const clm_graph *g, const clm_node *nd, int k, int grad) {
  const clm_param_slot *p = &nd->params[k];
  clm_mem buf = p->is_state ? g->state : (grad ? g->grads : g->params);
  return clm_tensor_view(buf, p->off, p->n, p->c, p->h, p->w);
}

/* The bias view, or an absent tensor when the layer has none. */
static clm_tensor bias_view(const clm_graph *g, const clm_node *nd, int grad) {
  clm_tensor none = {0};
  return nd->nparams > 1 ? param_view(g, nd, 1, grad) : none;
}

/* A folded convolution's weight and bias views in g->folded. */
static void folded_views(const clm_graph *g, const clm_node *nd, clm_tensor *w, clm_tensor *b) {
  const clm_param_slot *p = &nd->params[0];
  *w = clm_tensor_view(g->folded, nd->fold_off, p->n, p->c, p->h, p->w);
  *b = clm_tensor_view(g->folded, nd->fold_off + clm_tensor_numel(w), 1, nd->c, 1, 1);
}

static clm_status forward_node(clm_graph *g, clm_node *nd) {
  clm_context *ctx = g->ctx;
  const clm_layer *l = &g->layers[nd->layer];
  const clm_tensor *x = nd->nin > 0 ? &g->nodes[nd->in[0]].out : NULL;
  clm_conv_params cp = {l->stride, clm_layer_pad(l), l->dilation};
  switch (nd->op) {
  case CLM_LAYER_INPUT:
    return CLM_OK;
  case CLM_LAYER_CONV:
  case CLM_LAYER_DECONV: {
    clm_tensor w = param_view(g, nd, 0, 0), b = bias_view(g, nd, 0);
    if (nd->fold >= 0) folded_views(g, nd, &w, &b);
    if (nd->op == CLM_LAYER_CONV)
      return clm_conv2d_forward(ctx, (clm_conv_variant)nd->variant[CLM_CONV_FORWARD], &cp, x, &w,
                                &b, &nd->out, &nd->ws);
    return clm_deconv2d_forward(ctx, (clm_conv_variant)nd->variant[CLM_CONV_FORWARD], &cp, x, &w,
                                &b, &nd->out, &nd->ws);
  }
  case CLM_LAYER_BATCHNORM: {
    clm_activation act = (clm_activation)nd->act;
    if (nd->alias) /* folded into the conv: only the activation is left, in place */
      return clm_activation_forward(ctx, act, nd->slope, &nd->out, &nd->out);
    clm_tensor gm = param_view(g, nd, 0, 0), bt = param_view(g, nd, 1, 0);
    clm_tensor rm = param_view(g, nd, 2, 0), rv = param_view(g, nd, 3, 0);
    if (g->training)
      return clm_batchnorm_act_forward_train(ctx, act, nd->slope, x, &gm, &bt, &nd->out, &nd->aux,
                                             &rm, &rv, l->bn_momentum, l->bn_eps);
    return clm_batchnorm_act_forward_eval(ctx, act, nd->slope, x, &gm, &bt, &rm, &rv, l->bn_eps,
                                          &nd->out);
  }
  case CLM_LAYER_ACTIVATION:
    return clm_activation_forward(ctx, (clm_activation)l->act, l->slope, x, &nd->out);
  case CLM_LAYER_MAXPOOL:
    return clm_maxpool2x2_forward(ctx, x, &nd->out, &nd->aux);
  case CLM_LAYER_UNPOOL:
    return clm_maxunpool2x2_forward(ctx, x, &g->nodes[nd->in[1]].aux, &nd->out);
  case CLM_LAYER_UPSAMPLE:
    return clm_upsample2x_forward(ctx, x, &nd->out);
  case CLM_LAYER_CONCAT: {
    int c0 = 0;
    for (int j = 0; j < nd->nin; j++) {
      const clm_tensor *src = &g->nodes[nd->in[j]].out;
      CLM_TRY(clm_channel_copy(ctx, src, 0, &nd->out, c0, src->c, 0));
      c0 += src->c;
    }
    return CLM_OK;
  }
  case CLM_LAYER_ADD:
    return clm_add_forward(ctx, x, &g->nodes[nd->in[1]].out, &nd->out);
  case CLM_LAYER_SOFTMAX_XENT: {
    clm_tensor count = clm_graph_loss_count_tensor(g, nd->loss_index);
    return clm_softmax_xent_forward(ctx, x, &g->nodes[nd->in[1]].out, l->ignore, &nd->out,
                                    &count, &nd->ws);
  }
  case CLM_LAYER_L1:
  case CLM_LAYER_L2: {
    clm_tensor count = clm_graph_loss_count_tensor(g, nd->loss_index);
    const clm_tensor *mask = nd->nin > 2 ? &g->nodes[nd->in[2]].out : NULL;
    return clm_regression_loss_forward(ctx, nd->op == CLM_LAYER_L1 ? CLM_LOSS_L1 : CLM_LOSS_L2, x,
                                       &g->nodes[nd->in[1]].out, mask, &nd->out, &count, &nd->ws);
  }
  default:
    CLM_FAIL(CLM_ERR_INVALID_ARG, "node '%s': no forward for this op", nd->name);
  }
}

/* Node nd's backward step. in_grad[j]: input j's gradient is wanted; accumulate[j]: add it
 * into that gradient (else write it). A whole backward passes the node's own flags
 * (autograd.c); a partial backward passes flags for the steps it runs. */
static clm_status backward_node(clm_graph *g, clm_node *nd, const int *in_grad,
                                const int *accumulate) {
  clm_context *ctx = g->ctx;
  const clm_layer *l = &g->layers[nd->layer];
  const clm_tensor *x = nd->nin > 0 ? &g->nodes[nd->in[0]].out : NULL;
  const clm_tensor *dx = nd->nin > 0 ? &g->nodes[nd->in[0]].grad : NULL;
  const clm_tensor *dy = &nd->grad;
  int acc = accumulate[0];
  clm_conv_params cp = {l->stride, clm_layer_pad(l), l->dilation};
  switch (nd->op) {
  case CLM_LAYER_CONV:
  case CLM_LAYER_DECONV: {
    clm_conv_variant vd = (clm_conv_variant)nd->variant[CLM_CONV_BACKWARD_DATA];
    clm_conv_variant vw = (clm_conv_variant)nd->variant[CLM_CONV_BACKWARD_WEIGHT];
    clm_tensor w = param_view(g, nd, 0, 0), dw = param_view(g, nd, 0, 1), db = bias_view(g, nd, 1);
    if (nd->op == CLM_LAYER_CONV) {
      if (in_grad[0]) CLM_TRY(clm_conv2d_backward_data(ctx, vd, &cp, dy, &w, dx, &nd->ws_bwd, acc));
      CLM_TRY(clm_profile_mark(g, nd));
      return clm_conv2d_backward_weight(ctx, vw, &cp, x, dy, &dw, &db, &nd->ws_bwd);
    }
    if (in_grad[0]) CLM_TRY(clm_deconv2d_backward_data(ctx, vd, &cp, dy, &w, dx, &nd->ws_bwd, acc));
    CLM_TRY(clm_profile_mark(g, nd));
    return clm_deconv2d_backward_weight(ctx, vw, &cp, x, dy, &dw, &db, &nd->ws_bwd);
  }
  case CLM_LAYER_BATCHNORM: {
    clm_tensor gm = param_view(g, nd, 0, 0), dg = param_view(g, nd, 0, 1), dbt = param_view(g, nd, 1, 1);
    return clm_batchnorm_act_backward(ctx, (clm_activation)nd->act, nd->slope, x, &nd->out, dy,
                                      &gm, &nd->aux, dx, &dg, &dbt, acc);
  }
  case CLM_LAYER_ACTIVATION:
    return clm_activation_backward(ctx, (clm_activation)l->act, l->slope, &nd->out, dy, dx, acc);
  case CLM_LAYER_MAXPOOL:
    return clm_maxpool2x2_backward(ctx, dy, &nd->aux, dx, acc);
  case CLM_LAYER_UNPOOL:
    return clm_maxunpool2x2_backward(ctx, dy, &g->nodes[nd->in[1]].aux, dx, acc);
  case CLM_LAYER_UPSAMPLE:
    return clm_upsample2x_backward(ctx, dy, dx, acc);
  case CLM_LAYER_CONCAT: {
    int c0 = 0;
    for (int j = 0; j < nd->nin; j++) {
      const clm_node *src = &g->nodes[nd->in[j]];
      if (in_grad[j])
        CLM_TRY(clm_channel_copy(ctx, dy, c0, &src->grad, 0, src->c, accumulate[j]));
      c0 += src->c;
    }
    return CLM_OK;
  }
  case CLM_LAYER_ADD:
    for (int j = 0; j < 2; j++)
      if (in_grad[j]) CLM_TRY(clm_copy(ctx, dy, &g->nodes[nd->in[j]].grad, accumulate[j]));
    return CLM_OK;
  case CLM_LAYER_SOFTMAX_XENT: {
    clm_tensor count = clm_graph_loss_count_tensor(g, nd->loss_index);
    clm_tensor seed = clm_graph_loss_seed(g, nd->loss_index);
    return clm_softmax_xent_backward(ctx, x, &g->nodes[nd->in[1]].out, l->ignore, &count, &seed, dx, acc);
  }
  case CLM_LAYER_L1:
  case CLM_LAYER_L2: {
    clm_tensor count = clm_graph_loss_count_tensor(g, nd->loss_index);
    clm_tensor seed = clm_graph_loss_seed(g, nd->loss_index);
    const clm_tensor *mask = nd->nin > 2 ? &g->nodes[nd->in[2]].out : NULL;
    return clm_regression_loss_backward(ctx, nd->op == CLM_LAYER_L1 ? CLM_LOSS_L1 : CLM_LOSS_L2, x,
                                        &g->nodes[nd->in[1]].out, mask, &count, &seed, dx, acc);
  }
  default:
    CLM_FAIL(CLM_ERR_INVALID_ARG, "node '%s': no backward for this op", nd->name);
  }
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
    clm_tensor w = param_view(g, nd, 0, 0), b = bias_view(g, nd, 0), wf, bf;
    folded_views(g, nd, &wf, &bf);
    clm_tensor gm = param_view(g, bn, 0, 0), bt = param_view(g, bn, 1, 0);
    clm_tensor rm = param_view(g, bn, 2, 0), rv = param_view(g, bn, 3, 0);
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
    /* gradients only of inputs inside the set (batch norm computes its dx regardless); the
     * first contribution of this pass writes, later ones add */
    int want[CLM_MAX_INPUTS + 2] = {0}, acc[CLM_MAX_INPUTS + 2] = {0};
    for (int j = 0; j < nd->nin; j++) {
      int src = nd->in[j];
      want[j] = nd->in_grad[j] && (in_set[src] || nd->op == CLM_LAYER_BATCHNORM);
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
