/* The scheduler: which kernel variant runs each pass of each node on this device (forward,
 * backward data, backward weight), and the workspaces they need. Today only convolutions have
 * variants. In order of precedence:
 *   1. the graph option conv_variant, or the context's conv_variant option (tests,
 *      experiments; CLMTL_CONV_VARIANT in the CLI);
 *   2. the device's tuning file, written by `clmtl tune` (tune.h), for this exact shape and
 *      mode (train / infer), unless the context's ignore_tuning option is set (CLMTL_TUNING=0);
 *   3. a rule of thumb from the device's properties and the shape (default_variants). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "graph/graph-impl.h"
#include "graph/op-def.h"

static clm_tensor shape_of(const clm_node *nd) {
  return clm_tensor_view(NULL, 0, nd->n, nd->c, nd->h, nd->w);
}

static int forced_variant(const clm_graph *g) {
  if (g->opt.conv_variant >= 0) return g->opt.conv_variant;
  const char *env = g->ctx ? g->ctx->conv_variant : "";
  if (!*env) return -1;
  for (int v = 0; v < CLM_CONV_VARIANT_COUNT; v++)
    if (!strcmp(env, clm_conv_variant_name((clm_conv_variant)v))) return v;
  return -2;
}

/* The untuned choice per pass, from the device's kind. CPUs (PoCL), stride 1: the implicit-
 * GEMM register tiles for the forward and backward-data passes, and for the backward weight
 * while the reduction C·R·S is at most 1152 (128 channels, 3×3); deeper weight gradients take
 * im2col + the register-tiled GEMM (`tiled`), as do other strides. Measured with perf_conv on
 * an idle 2-core AVX-512 box (ms forward / backward data / backward weight, batch 8):
 * 128→128 on 64×128, implicit 87 / 91 / 159 against tiled 151 / 162 / 245; 256→256 on 32×64,
 * 96 / 98 / 188 against 114 / 112 / 157; 512→512 on 8×16, 22 / 25 / 107 against 28 / 37 / 39.
 * 3×3, stride 1, dilation 1 with at least 128 input and 128 output channels: Winograd
 * F(4×4, 3×3) (winograd4) for the forward and backward-data passes. perf_conv, same box, load
 * average about 4, medians of 5, speed relative to implicit (forward / backward data):
 * 128→128 on 64×128 2.69× / 2.19×, 256→256 on 32×64 4.05× / 2.71×, 512→512 on 8×16
 * 1.85× / 2.19×; below 128 channels (the default model's layers) 0.41–1.45× / 0.53–1.58×,
 * losing on most, and F(2×2, 3×3) (winograd) slower than winograd4 everywhere.
 * GPUs: im2col + CLBlast, whose kernels are tuned for many GPUs, once C·R·S ≥ 32, else one
 * work-item per output (direct). `clmtl tune` replaces the rule with measurements per shape. */
static void default_variants(const clm_graph *g, const clm_node *nd, int *v) {
  const clm_param_slot *w = &nd->params[0];
  const clm_layer *l = &g->layers[nd->layer];
  int reduction = w->c * w->h * w->w;
  if (!g->ctx || clm_context_device(g->ctx)->kind == CLM_DEVICE_CPU) { /* no device: plan for a CPU */
    int implicit = l->stride == 1;
    int wino = implicit && l->dilation == 1 && w->h == 3 && w->w == 3 && w->n >= 128 &&
               w->c >= 128;
    v[CLM_CONV_FORWARD] = v[CLM_CONV_BACKWARD_DATA] = wino ? CLM_CONV_WINOGRAD4
                                                      : implicit ? CLM_CONV_IMPLICIT : CLM_CONV_TILED;
    v[CLM_CONV_BACKWARD_WEIGHT] = implicit && reduction <= 1152 ? CLM_CONV_IMPLICIT : CLM_CONV_TILED;
    return;
  }
  for (int p = 0; p < CLM_CONV_PASSES; p++)
    v[p] = reduction >= 32 ? CLM_CONV_GEMM : CLM_CONV_DIRECT;
}

static void list_variants(char *buf, size_t size) {
  buf[0] = 0;
  for (int v = 0; v < CLM_CONV_VARIANT_COUNT; v++) {
    size_t len = strlen(buf);
    snprintf(buf + len, size - len, "%s%s", v ? ", " : "", clm_conv_variant_name((clm_conv_variant)v));
  }
}

clm_status clm_graph_schedule(clm_graph *g) {
  int forced = forced_variant(g);
  if (forced == -2) {
    char names[256];
    list_variants(names, sizeof names);
    CLM_FAIL(CLM_ERR_INVALID_ARG, "the forced convolution variant '%s' (the context's "
             "conv_variant option, CLMTL_CONV_VARIANT in the CLI) is not a convolution variant (%s)",
             g->ctx->conv_variant, names);
  }
  char tuning[600] = "";
  if (forced < 0 && g->ctx && !g->ctx->ignore_tuning &&
      clm_tuning_file(g->ctx, tuning, sizeof tuning) != CLM_OK)
    tuning[0] = 0;
  const clm_context *warn = g->ctx; /* about a malformed tuning file: once per compile */
  for (int i = 0; i < g->nnodes; i++) {
    clm_node *nd = &g->nodes[i];
    if (nd->op == CLM_LAYER_CONV || nd->op == CLM_LAYER_DECONV) {
      const clm_node *x = &g->nodes[nd->in[0]];
      const clm_param_slot *w = &nd->params[0];
      clm_tensor tx = shape_of(x), ty = shape_of(nd);
      clm_tensor tw = clm_tensor_view(NULL, 0, w->n, w->c, w->h, w->w);
      int tuned = 0;
      if (tuning[0]) {
        char key[256];
        clm_conv_shape_key(g, nd, key, sizeof key);
        tuned = clm_tuning_lookup(tuning, key, g->training, warn, nd->variant);
        warn = NULL;
      }
      if (forced >= 0)
        for (int p = 0; p < CLM_CONV_PASSES; p++) nd->variant[p] = forced;
      else if (!tuned)
        default_variants(g, nd, nd->variant);
      nd->variant_tuned = forced < 0 && tuned;
      /* each step's workspace: the largest its passes' variants need */
      size_t ws[CLM_CONV_PASSES];
      for (int p = 0; p < CLM_CONV_PASSES; p++) {
        clm_conv_variant v = (clm_conv_variant)nd->variant[p];
        ws[p] = nd->op == CLM_LAYER_CONV ? clm_conv2d_workspace(v, &tx, &tw, &ty)
                                         : clm_deconv2d_workspace(v, &tx, &tw, &ty);
      }
      nd->ws_floats = ws[CLM_CONV_FORWARD];
      size_t bwd = ws[CLM_CONV_BACKWARD_DATA] > ws[CLM_CONV_BACKWARD_WEIGHT]
                       ? ws[CLM_CONV_BACKWARD_DATA] : ws[CLM_CONV_BACKWARD_WEIGHT];
      nd->ws_bwd_floats = g->training ? bwd : 0;
    } else if (nd->loss_index >= 0) {
      const clm_node *x = &g->nodes[nd->in[0]];
      nd->ws_floats = clm_loss_workspace(g->ctx, (size_t)x->n * x->c * x->h * x->w);
      /* a loss with two gradient inputs (heteroscedastic) writes one autograd does not want
       * into its backward workspace */
      if (g->training && clm_op(nd->op)->grad_inputs > 1)
        nd->ws_bwd_floats = (size_t)x->n * x->c * x->h * x->w;
      /* softmax_xent with a learned temperature (clm_graph_set_loss_temperature) sums dL/ds */
      if (g->training && nd->op == CLM_LAYER_SOFTMAX_XENT)
        nd->ws_bwd_floats = clm_xent_temperature_workspace(g->ctx, (size_t)x->n * x->h * x->w);
    }
  }
  return CLM_OK;
}
