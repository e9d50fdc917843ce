/* Autograd: from the forward graph, the backward steps (one per node that has a parameter
 * behind it and a loss after it, in reverse execution order), which input gradients each
 * step produces, and whether it writes or accumulates them. The first contribution to a
 * tensor's gradient writes (=) and later ones accumulate (+=), so fan-out (skip connections)
 * needs no zeroing; parameter gradients always accumulate into the flat gradient buffer. */
#include <stdlib.h>
#include "graph/op-def.h"

clm_status clm_graph_autograd(clm_graph *g) {
  int n = g->nnodes;
  for (int i = 0; i < n; i++) {
    clm_node *nd = &g->nodes[i];
    nd->requires_grad = 0;
    for (int k = 0; k < nd->nparams; k++) nd->requires_grad |= !nd->params[k].is_state;
    for (int j = 0; j < nd->nin; j++) nd->requires_grad |= g->nodes[nd->in[j]].requires_grad;
    nd->feeds_loss = nd->loss_index >= 0;
    nd->losses = nd->loss_index >= 0 && nd->loss_index < 32 ? 1u << nd->loss_index : 0;
  }
  for (int i = n - 1; i >= 0; i--)
    for (int j = 0; j < g->nodes[i].nin; j++) {
      clm_node *src = &g->nodes[g->nodes[i].in[j]];
      src->feeds_loss |= g->nodes[i].feeds_loss;
      src->losses |= g->nodes[i].losses;
    }

  g->bwd = malloc(((size_t)n + 1) * sizeof *g->bwd);
  int *written = calloc((size_t)n + 1, sizeof *written);
  if (!g->bwd || !written) { free(written); CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory"); }
  g->nbwd = 0;
  for (int i = n - 1; i >= 0; i--) {
    clm_node *nd = &g->nodes[i];
    if (!nd->requires_grad || !nd->feeds_loss) continue;
    nd->bwd_step = g->nbwd;
    g->bwd[g->nbwd++] = i;
    /* which inputs carry a gradient (the op table's grad_inputs: losses only differentiate
     * their prediction, unpool not its indices); an op with always_dx (batch norm computes dx
     * in the same kernel as dgamma) always has one */
    const clm_op_def *op = clm_op(nd->op);
    int ndiff = op->grad_inputs < 0 ? nd->nin : op->grad_inputs;
    for (int j = 0; j < nd->nin; j++) {
      const clm_node *src = &g->nodes[nd->in[j]];
      int need = j < ndiff && src->requires_grad && src->feeds_loss;
      if (op->always_dx) need = 1;
      nd->in_grad[j] = need;
      if (!need) continue;
      nd->accumulate[j] = written[nd->in[j]];
      written[nd->in[j]] = 1;
    }
  }
  free(written);
  return CLM_OK;
}
