/* The scheduler: which kernel variant runs each node on this device, and the workspace that
 * variant needs. Today only convolutions have variants; $CLMTL_CONV_VARIANT (direct, gemm) or
 * the compile option forces one, otherwise a rule of thumb from the shapes decides. */
#include <stdlib.h>
#include <string.h>
#include "graph/graph-impl.h"

static clm_tensor shape_of(const clm_node *nd) {
  return clm_tensor_view(NULL, 0, nd->n, nd->c, nd->h, nd->w);
}

static int forced_variant(const clm_graph *g) {
  if (g->opt.conv_variant >= 0) return g->opt.conv_variant;
  const char *env = getenv("CLMTL_CONV_VARIANT");
  if (!env || !*env) return -1;
  for (int v = 0; v < CLM_CONV_VARIANT_COUNT; v++)
    if (!strcmp(env, clm_conv_variant_name((clm_conv_variant)v))) return v;
  return -2;
}

clm_status clm_graph_schedule(clm_graph *g) {
  int forced = forced_variant(g);
  if (forced == -2)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "CLMTL_CONV_VARIANT=%s is not a convolution variant (direct, gemm)",
             getenv("CLMTL_CONV_VARIANT"));
  for (int i = 0; i < g->nnodes; i++) {
    clm_node *nd = &g->nodes[i];
    if (nd->op == CLM_LAYER_CONV || nd->op == CLM_LAYER_DECONV) {
      const clm_node *x = &g->nodes[nd->in[0]];
      const clm_param_slot *w = &nd->params[0];
      clm_tensor tx = shape_of(x), ty = shape_of(nd);
      clm_tensor tw = clm_tensor_view(NULL, 0, w->n, w->c, w->h, w->w);
      /* GEMM pays off once the reduction (C·R·S) is long enough to amortise im2col */
      int reduction = w->c * w->h * w->w;
      nd->variant = forced >= 0 ? forced : (reduction >= 32 ? CLM_CONV_GEMM : CLM_CONV_DIRECT);
      size_t ws = nd->op == CLM_LAYER_CONV
                      ? clm_conv2d_workspace((clm_conv_variant)nd->variant, &tx, &tw, &ty)
                      : clm_deconv2d_workspace((clm_conv_variant)nd->variant, &tx, &tw, &ty);
      nd->ws_floats = ws;
      nd->ws_bwd_floats = g->training ? ws : 0;
    } else if (nd->loss_index >= 0) {
      const clm_node *x = &g->nodes[nd->in[0]];
      nd->ws_floats = clm_reduce_workspace(g->ctx, (size_t)x->n * x->c * x->h * x->w);
    }
  }
  return CLM_OK;
}
