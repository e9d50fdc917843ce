/* Accessors of a compiled graph for the engine's other rooms (graph.h, "accessors for the
 * engine's other rooms"): its context and modes, the state dict with what each entry belongs
 * to, the nodes with their inputs and the losses that depend on them, the last shared
 * convolution, and backward by node index. The weighting (src/mtl), checkpoints and
 * evaluation (src/train) use these instead of graph-impl.h. Not here: the layer-level
 * accessors and the flat buffers (graph.c). */
#include <stdio.h>
#include <string.h>
#include "graph/graph-impl.h"

clm_context *clm_graph_context(const clm_graph *g) { return g ? g->ctx : NULL; }
int clm_graph_is_compiled(const clm_graph *g) { return g && g->compiled; }
int clm_graph_training(const clm_graph *g) { return g->training; }
int clm_graph_multi_backward(const clm_graph *g) { return g->multi_backward; }
void clm_graph_set_loss_temperature(clm_graph *g, int on) { g->loss_temperature = on != 0; }
void clm_graph_params_changed(clm_graph *g) { g->folded_stale = 1; }

clm_tensor clm_graph_loss_scalars(const clm_graph *g) {
  return clm_tensor_view(g->scalars, 0, 1, 1, 1, 3 * g->nlosses);
}

int clm_graph_node_count(const clm_graph *g) { return g->compiled ? g->nnodes : 0; }

clm_status clm_graph_node(const clm_graph *g, int i, clm_graph_node_info *out) {
  if (!g->compiled || i < 0 || i >= g->nnodes)
    CLM_FAIL(CLM_ERR_NOT_FOUND, "node %d: the graph has %d compiled nodes", i,
             g->compiled ? g->nnodes : 0);
  const clm_node *nd = &g->nodes[i];
  int first = 0;
  for (int k = 0; k < i; k++) first += g->nodes[k].nparams;
  *out = (clm_graph_node_info){nd->name, nd->op, nd->n, nd->c, nd->h, nd->w, nd->in, nd->nin,
                               nd->loss_index, nd->bwd_step >= 0,
                               g->opt.training ? nd->losses : 0u, nd->grad, first, nd->nparams};
  return CLM_OK;
}

clm_status clm_graph_named_info(const clm_graph *g, int index, clm_named_tensor *out) {
  _Static_assert(CLM_TENSOR_NAME_MAX >= CLM_NODE_NAME_MAX + 32, "state-dict names fit");
  static _Thread_local char buf[CLM_TENSOR_NAME_MAX];
  for (int i = 0; i < g->nnodes; i++) {
    const clm_node *nd = &g->nodes[i];
    if (index >= nd->nparams) { index -= nd->nparams; continue; }
    const clm_param_slot *p = &nd->params[index];
    snprintf(buf, sizeof buf, "%s.%s", nd->name, p->suffix);
    *out = (clm_named_tensor){buf, p->suffix, i, nd->op, !p->is_state, nd->loss_index >= 0,
                              clm_tensor_view(p->is_state ? g->state : g->params, p->off, p->n,
                                              p->c, p->h, p->w)};
    return CLM_OK;
  }
  CLM_FAIL(CLM_ERR_NOT_FOUND, "named tensor index out of range");
}

int clm_graph_last_shared_conv(const clm_graph *g) {
  int found = -1;
  for (int i = 0; g->opt.training && i < g->nnodes; i++) {
    const clm_node *nd = &g->nodes[i];
    int bits = 0;
    for (unsigned r = nd->losses; r; r &= r - 1) bits++;
    if ((nd->op == CLM_LAYER_CONV || nd->op == CLM_LAYER_DECONV) && bits >= 2) found = i;
  }
  return found;
}

clm_status clm_graph_backward_to_node(clm_graph *g, unsigned loss_mask, int node) {
  if (!g || !g->compiled) CLM_FAIL(CLM_ERR_INVALID_ARG, "graph is not compiled");
  if (node >= g->nnodes)
    CLM_FAIL(CLM_ERR_NOT_FOUND, "partial backward: node %d of %d", node, g->nnodes);
  return clm_graph_backward_nodes(g, loss_mask, node);
}
