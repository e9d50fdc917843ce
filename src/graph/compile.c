/* First compile stage: layers are checked, become nodes (conv + bn + act expand into three,
 * or with fusion into conv and one batch-norm node carrying the activation, folded into the
 * conv in inference graphs), names that would collide after that expansion are refused, input
 * names are resolved, nodes are put in execution order, shapes are inferred and parameters
 * (and folded parameters) laid out in flat buffers. What each op checks, which extra inputs it
 * names and how it infers shapes is its op table entry's (ops_table.c); no flat buffer holds
 * more than 2^31-1 elements (kernels index with int). Every error names the layer, and the
 * file and line it came from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "graph/op-def.h"

#define WHERE(l) (clm_graph_where(g, (l), where_, sizeof where_), where_)

static int find_layer(const clm_graph *g, const char *name) {
  for (int i = 0; i < g->nlayers; i++)
    if (!strcmp(g->layers[i].name, name)) return i;
  return -1;
}

/* Losses name their target and mask inputs; those not declared as layers become inputs. */
static clm_status add_implicit_inputs(clm_graph *g) {
  int n = g->nlayers;
  for (int i = 0; i < n; i++) {
    clm_layer *l = &g->layers[i];
    if (!clm_op(l->type)->is_loss) continue;
    for (int k = 0; k < 2; k++) {
      const char *name = k ? l->mask : l->target; /* read through l: it may have moved */
      if (!name[0] || find_layer(g, name) >= 0) continue;
      clm_layer in;
      clm_layer_defaults(&in, CLM_LAYER_INPUT, name);
      /* labels and masks have one channel; a regression target takes the prediction's */
      in.channels = (k == 1 || clm_op(l->type)->label_target) ? 1 : -1;
      snprintf(in.file, sizeof in.file, "%s", l->file);
      in.line = l->line;
      CLM_TRY(clm_graph_add(g, &in));
      l = &g->layers[i]; /* clm_graph_add may have moved the array */
    }
  }
  return CLM_OK;
}

/* The op's own checks, then those of every layer: 'from' as the op's arity wants it. */
static clm_status check_layer(clm_graph *g, int li) {
  char where_[400];
  const clm_layer *l = &g->layers[li];
  const clm_op_def *op = clm_op(l->type);
  int want_from = op->arity;
  if (op->check) CLM_TRY(op->check(g, li));
  if (l->act == CLM_ACTIVATION_LEAKY_RELU && !(l->slope > 0))
    CLM_FAIL(CLM_ERR_PARSE, "%s: leaky relu slope must be > 0", WHERE(li));
  if (l->nfrom < 0 || l->nfrom > CLM_MAX_INPUTS)
    CLM_FAIL(CLM_ERR_PARSE, "%s: %d inputs in 'from' (0 to %d)", WHERE(li), l->nfrom, CLM_MAX_INPUTS);
  if (want_from == 0 && l->nfrom > 0)
    CLM_FAIL(CLM_ERR_PARSE, "%s: an input layer takes no 'from'", WHERE(li));
  if (want_from > 0 && l->nfrom != want_from)
    CLM_FAIL(CLM_ERR_PARSE, "%s: %s takes %d input%s in 'from', got %d", WHERE(li),
             op->name, want_from, want_from > 1 ? "s" : "", l->nfrom);
  if (want_from < 0 && l->nfrom < -want_from)
    CLM_FAIL(CLM_ERR_PARSE, "%s: %s takes at least %d inputs in 'from', got %d", WHERE(li),
             op->name, -want_from, l->nfrom);
  for (int k = 0; k < l->nfrom; k++)
    if (!l->from[k][0]) CLM_FAIL(CLM_ERR_PARSE, "%s: empty name in 'from'", WHERE(li));
  return CLM_OK;
}

/* Does the layer's batch norm carry its activation (one fused node)? */
static int fused_act(const clm_graph *g, const clm_layer *l) {
  return g->fuse && l->bn && l->act != CLM_ACTIVATION_NONE;
}

/* Expands layers to nodes (pre-sort order); last[li] = the node carrying layer li's output. */
static clm_status expand(clm_graph *g, int *last) {
  int count = 0;
  for (int i = 0; i < g->nlayers; i++) {
    const clm_layer *l = &g->layers[i];
    count += 1;
    if (clm_op(l->type)->expands)
      count += (l->bn ? 1 : 0) + (l->act != CLM_ACTIVATION_NONE && !fused_act(g, l) ? 1 : 0);
  }
  g->nodes = calloc((size_t)count + 1, sizeof *g->nodes);
  if (!g->nodes) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  int n = 0;
  for (int i = 0; i < g->nlayers; i++) {
    const clm_layer *l = &g->layers[i];
    clm_node *nd = &g->nodes[n];
    nd->op = l->type;
    nd->layer = i;
    nd->loss_index = -1;
    nd->bwd_step = -1;
    snprintf(nd->name, sizeof nd->name, "%s", l->name);
    n++;
    if (!clm_op(l->type)->expands) { last[i] = n - 1; continue; }
    if (l->bn) {
      clm_node *b = &g->nodes[n];
      *b = (clm_node){.op = CLM_LAYER_BATCHNORM, .layer = i, .loss_index = -1, .bwd_step = -1,
                      .nin = 1, .slope = l->slope};
      b->in[0] = n - 1;
      if (fused_act(g, l)) b->act = l->act;
      /* inference: folded into the conv's weights, the activation in place on its output */
      b->alias = g->fuse && !g->opt.training;
      snprintf(b->name, sizeof b->name, "%s.bn", l->name);
      n++;
    }
    if (l->act != CLM_ACTIVATION_NONE && !fused_act(g, l)) {
      clm_node *a = &g->nodes[n];
      *a = (clm_node){.op = CLM_LAYER_ACTIVATION, .layer = i, .loss_index = -1, .bwd_step = -1,
                      .nin = 1};
      a->in[0] = n - 1;
      snprintf(a->name, sizeof a->name, "%s.act", l->name);
      n++;
    }
    last[i] = n - 1;
  }
  g->nnodes = n;
  return CLM_OK;
}

static clm_status resolve(clm_graph *g, const int *last) {
  char where_[400];
  for (int i = 0; i < g->nnodes; i++) {
    clm_node *nd = &g->nodes[i];
    const clm_layer *l = &g->layers[nd->layer];
    if (nd->nin > 0) continue; /* chained bn/act node: already wired */
    const char *names[CLM_MAX_INPUTS + 2];
    int k = 0;
    for (; k < l->nfrom; k++) names[k] = l->from[k];
    const clm_op_def *op = clm_op(l->type);
    if (op->extra_inputs) k += op->extra_inputs(l, names + k);
    for (int j = 0; j < k; j++) {
      int src = find_layer(g, names[j]);
      if (src < 0) CLM_FAIL(CLM_ERR_PARSE, "%s: unknown input '%s'", WHERE(nd->layer), names[j]);
      if (src == nd->layer)
        CLM_FAIL(CLM_ERR_PARSE, "%s: takes its own output as input (cycle)", WHERE(nd->layer));
      nd->in[j] = last[src];
    }
    nd->nin = k;
    if (op->check_inputs) CLM_TRY(op->check_inputs(g, nd, names));
  }
  return CLM_OK;
}

/* Kahn's algorithm, always taking the earliest ready node so execution follows file order
 * where dependencies allow. Nodes left over lie on a cycle. */
static clm_status sort_nodes(clm_graph *g) {
  int n = g->nnodes;
  int *indeg = calloc((size_t)n, sizeof *indeg), *order = malloc((size_t)n * sizeof *order),
      *pos = malloc((size_t)n * sizeof *pos);
  clm_node *sorted = calloc((size_t)n + 1, sizeof *sorted);
  if (!indeg || !order || !pos || !sorted) {
    free(indeg); free(order); free(pos); free(sorted);
    CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  }
  for (int i = 0; i < n; i++) indeg[i] = g->nodes[i].nin;
  int done = 0;
  while (done < n) {
    int pick = -1;
    for (int i = 0; i < n && pick < 0; i++) if (indeg[i] == 0) pick = i;
    if (pick < 0) break;
    indeg[pick] = -1;
    order[done++] = pick;
    for (int i = 0; i < n; i++)
      for (int j = 0; j < g->nodes[i].nin; j++)
        if (g->nodes[i].in[j] == pick) indeg[i]--;
  }
  if (done < n) {
    char msg[2048] = "";
    size_t used = 0;
    int last_layer = -1;
    for (int i = 0; i < n && used < sizeof msg - 200; i++) {
      if (indeg[i] < 0 || g->nodes[i].layer == last_layer) continue;
      char w[400];
      clm_graph_where(g, g->nodes[i].layer, w, sizeof w);
      used += (size_t)snprintf(msg + used, sizeof msg - used, "\n  %s", w);
      last_layer = g->nodes[i].layer;
    }
    free(indeg); free(order); free(pos); free(sorted);
    CLM_FAIL(CLM_ERR_PARSE, "the layers form a cycle; layers on or after it:%s", msg);
  }
  for (int i = 0; i < n; i++) pos[order[i]] = i;
  for (int i = 0; i < n; i++) {
    sorted[i] = g->nodes[order[i]];
    for (int j = 0; j < sorted[i].nin; j++) sorted[i].in[j] = pos[sorted[i].in[j]];
  }
  free(g->nodes);
  g->nodes = sorted;
  free(indeg); free(order); free(pos);
  return CLM_OK;
}

/* An input declared with channels -1 gets them from the loss it is the target of; nothing
 * else may read it (whichever order the nodes run in, a layer could see it unsized). */
static clm_status check_unsized_reads(const clm_graph *g, const clm_node *nd) {
  char where_[400];
  for (int j = 0; j < nd->nin; j++) {
    const clm_node *x = &g->nodes[nd->in[j]];
    if (x->op == CLM_LAYER_INPUT && g->layers[x->layer].channels < 0 &&
        !(clm_op(nd->op)->is_loss && j == clm_op(nd->op)->arity)) /* the target: after from */
      CLM_FAIL(CLM_ERR_SHAPE, "%s: input '%s' takes its channels from the prediction of the "
               "loss it is the target of, so it cannot feed this layer; give it 'channels'",
               WHERE(nd->layer), x->name);
  }
  return CLM_OK;
}

/* After inference every input has its channel count (a target's from its loss). */
static clm_status check_inputs_sized(const clm_graph *g) {
  char where_[400];
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i].op == CLM_LAYER_INPUT && g->nodes[i].c < 1)
      CLM_FAIL(CLM_ERR_SHAPE, "%s: cannot tell its channel count", WHERE(g->nodes[i].layer));
  return CLM_OK;
}

/* Output shapes and parameter slots, node by node in execution order (the op table's rules);
 * an input whose channel count no loss settled is refused. */
static clm_status infer_shapes(clm_graph *g) {
  for (int i = 0; i < g->nnodes; i++) {
    CLM_TRY(check_unsized_reads(g, &g->nodes[i]));
    CLM_TRY(clm_op(g->nodes[i].op)->infer(g, &g->nodes[i]));
  }
  return check_inputs_sized(g);
}

/* Network parameters in execution order, then the losses' task parameters, one float each in
 * loss order, so the K of them form one contiguous view (clm_graph_task_params). Each flat
 * buffer is viewed whole as one tensor, so each holds at most CLM_TENSOR_FLOATS_MAX floats. */
static clm_status layout_params(clm_graph *g) {
  size_t p = 0, s = 0, biggest = 0;
  int big = -1;
  int ok = 1;
  for (int i = 0; i < g->nnodes; i++) {
    if (g->nodes[i].loss_index >= 0) continue;
    size_t node_p = 0;
    for (int k = 0; k < g->nodes[i].nparams; k++) {
      clm_param_slot *ps = &g->nodes[i].params[k];
      size_t n = clm_numel4(ps->n, ps->c, ps->h, ps->w);
      if (ps->is_state) { ps->off = s; ok &= clm_size_add(s, n, &s); }
      else { ps->off = p; ok &= clm_size_add(p, n, &p); node_p += n; }
    }
    if (node_p > biggest) { biggest = node_p; big = i; }
  }
  g->task_param_off = p;
  ok &= clm_size_add(p, (size_t)g->nlosses, &p);
  if (!ok || p > CLM_TENSOR_FLOATS_MAX || s > CLM_TENSOR_FLOATS_MAX) {
    char where_[400];
    const char *src = g->source_file[0] ? g->source_file : "the graph";
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %s%zu parameters (%zu state values), more than the %zu one "
             "flat buffer can hold; the largest layer is %s with %zu", src, ok ? "" : "over", p, s,
             (size_t)CLM_TENSOR_FLOATS_MAX, big >= 0 ? WHERE(g->nodes[big].layer) : "?", biggest);
  }
  for (int j = 0; j < g->nlosses; j++) g->nodes[g->losses[j]].params[0].off = g->task_param_off + (size_t)j;
  g->param_floats = p;
  g->state_floats = s;
  /* folded convolutions: weight (same shape), then one bias per output channel; no more than
   * the parameters themselves */
  size_t f = 0;
  for (int i = 0; i < g->nnodes; i++) {
    clm_node *nd = &g->nodes[i];
    if (nd->fold < 0) continue;
    const clm_param_slot *w = &nd->params[0];
    nd->fold_off = f;
    f += clm_numel4(w->n, w->c, w->h, w->w) + (size_t)nd->c;
  }
  g->folded_floats = f;
  return CLM_OK;
}

/* Names must differ after expansion: conv "enc1" with bn makes a node "enc1.bn" and with act
 * "enc1.act" (whether or not fusion merges them), and a layer of that name beside it would give
 * two tensors "enc1.bn.weight" in a checkpoint that nothing could load. Tensor names are node
 * name + "." + a suffix without dots, so unique node names make unique tensor names. */
static int layer_names(const clm_layer *l, char names[3][CLM_NODE_NAME_MAX]) {
  int n = 0;
  snprintf(names[n++], CLM_NODE_NAME_MAX, "%s", l->name);
  if (!clm_op(l->type)->expands) return n;
  if (l->bn) snprintf(names[n++], CLM_NODE_NAME_MAX, "%s.bn", l->name);
  if (l->act != CLM_ACTIVATION_NONE) snprintf(names[n++], CLM_NODE_NAME_MAX, "%s.act", l->name);
  return n;
}

static clm_status check_node_names(clm_graph *g) {
  for (int i = 0; i < g->nlayers; i++) {
    char a[3][CLM_NODE_NAME_MAX];
    int na = layer_names(&g->layers[i], a);
    for (int j = i + 1; j < g->nlayers; j++) {
      char b[3][CLM_NODE_NAME_MAX];
      int nb = layer_names(&g->layers[j], b);
      for (int x = 0; x < na; x++)
        for (int y = 0; y < nb; y++) {
          if (strcmp(a[x], b[y])) continue;
          char wa[400], wb[400];
          clm_graph_where(g, i, wa, sizeof wa);
          clm_graph_where(g, j, wb, sizeof wb);
          CLM_FAIL(CLM_ERR_PARSE, "%s and %s both make a node named '%s' (a conv/deconv layer "
                   "with bn or act adds '<name>.bn' and '<name>.act'); its tensors would have the "
                   "same names in a checkpoint: rename one", wa, wb, a[x]);
        }
    }
  }
  return CLM_OK;
}

/* opt.fuse, or by default the context's fuse option (CLMTL_FUSE=0 in the CLI turns it off). */
static int resolve_fuse(const clm_graph *g) {
  if (g->opt.fuse) return g->opt.fuse > 0;
  return !(g->ctx && g->ctx->fuse < 0);
}

/* Each folded batch-norm node names its convolution, which then runs with folded parameters. */
static void link_folds(clm_graph *g) {
  for (int i = 0; i < g->nnodes; i++) g->nodes[i].fold = -1;
  for (int i = 0; i < g->nnodes; i++) {
    clm_node *nd = &g->nodes[i];
    if (nd->op == CLM_LAYER_BATCHNORM && nd->alias) g->nodes[nd->in[0]].fold = i;
  }
}

clm_status clm_graph_build_nodes(clm_graph *g) {
  if (g->nlayers == 0)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s%sthe graph has no layers", g->source_file,
             g->source_file[0] ? ": " : "");
  g->fuse = resolve_fuse(g);
  g->nlayers_declared = g->nlayers;
  CLM_TRY(add_implicit_inputs(g));
  for (int i = 0; i < g->nlayers; i++) CLM_TRY(check_layer(g, i));
  int *last = malloc((size_t)g->nlayers * sizeof *last);
  if (!last) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  clm_status st = expand(g, last);
  if (st == CLM_OK) st = resolve(g, last);
  free(last);
  CLM_TRY(st);
  CLM_TRY(check_node_names(g));
  CLM_TRY(sort_nodes(g));
  link_folds(g);
  CLM_TRY(infer_shapes(g));
  g->losses = malloc(((size_t)g->nlosses + 1) * sizeof *g->losses);
  if (!g->losses) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  /* losses in model order: by layer index */
  int k = 0;
  for (int li = 0; li < g->nlayers; li++)
    for (int i = 0; i < g->nnodes; i++)
      if (g->nodes[i].layer == li && g->nodes[i].loss_index >= 0) g->losses[k++] = i;
  for (int j = 0; j < k; j++) g->nodes[g->losses[j]].loss_index = j;
  CLM_TRY(layout_params(g));
  if (g->opt.training && g->nlosses == 0)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s%sno [task.<name>] section: training needs at least one loss",
             g->source_file[0] ? g->source_file : "the graph", g->source_file[0] ? ": " : " has ");
  return CLM_OK;
}

clm_status clm_graph_compile(clm_graph *g, const clm_graph_options *opt) {
  if (g->compiled) CLM_FAIL(CLM_ERR_INVALID_ARG, "graph is already compiled");
  if (opt->batch <= 0 || opt->height <= 0 || opt->width <= 0)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "batch, height and width must be positive (got %d, %d, %d)",
             opt->batch, opt->height, opt->width);
  g->opt = *opt;
  g->training = opt->training;
  CLM_TRY(clm_graph_build_nodes(g));
  if (g->training) CLM_TRY(clm_graph_autograd(g));
  CLM_TRY(clm_graph_schedule(g));
  CLM_TRY(clm_graph_plan(g));
  if (!g->ctx) return CLM_OK; /* planned only: no buffers to initialise, nothing to run */
  g->compiled = 1;
  return clm_graph_init_params(g, 0);
}
