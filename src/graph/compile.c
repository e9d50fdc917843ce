/* First compile stage: layers become nodes (conv + bn + act expand into three, or with fusion
 * into conv and one batch-norm node carrying the activation, folded into the conv in inference
 * graphs), names that would collide after that expansion are refused, input names are
 * resolved, nodes are put in execution order, shapes are inferred and parameters (and folded
 * parameters) laid out in flat buffers. Shapes and sizes are computed in 64 bits and checked:
 * no dimension, tensor or flat buffer beyond 2^31-1 elements (kernels index with int). Every
 * error names the layer, and the file and line it came from. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "graph/graph-impl.h"

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
    if (l->type != CLM_LAYER_SOFTMAX_XENT && l->type != CLM_LAYER_L1 && l->type != CLM_LAYER_L2)
      continue;
    for (int k = 0; k < 2; k++) {
      const char *name = k ? l->mask : l->target; /* read through l: it may have moved */
      if (!name[0] || find_layer(g, name) >= 0) continue;
      clm_layer in;
      clm_layer_defaults(&in, CLM_LAYER_INPUT, name);
      /* labels and masks have one channel; a regression target takes the prediction's */
      in.channels = (k == 1 || l->type == CLM_LAYER_SOFTMAX_XENT) ? 1 : -1;
      snprintf(in.file, sizeof in.file, "%s", l->file);
      in.line = l->line;
      CLM_TRY(clm_graph_add(g, &in));
      l = &g->layers[i]; /* clm_graph_add may have moved the array */
    }
  }
  return CLM_OK;
}

static clm_status check_layer(clm_graph *g, int li) {
  char where_[400];
  const clm_layer *l = &g->layers[li];
  int want_from = 1;
  switch (l->type) {
  case CLM_LAYER_INPUT:
    want_from = 0;
    if (l->channels == 0 || l->channels < -1)
      CLM_FAIL(CLM_ERR_PARSE, "%s: input needs channels > 0", WHERE(li));
    break;
  case CLM_LAYER_CONV:
  case CLM_LAYER_DECONV:
    if (l->filters <= 0) CLM_FAIL(CLM_ERR_PARSE, "%s: needs filters > 0", WHERE(li));
    /* model files allow far less (parse.c); this bounds the int arithmetic of layers given
     * through the API (dilation * (size - 1) and the like) */
    if (l->size <= 0 || l->size > CLM_LAYER_GEOMETRY_MAX)
      CLM_FAIL(CLM_ERR_PARSE, "%s: needs size in [1, %d], got %d", WHERE(li), CLM_LAYER_GEOMETRY_MAX, l->size);
    if (l->stride <= 0 || l->dilation <= 0 || l->stride > CLM_LAYER_GEOMETRY_MAX ||
        l->dilation > CLM_LAYER_GEOMETRY_MAX)
      CLM_FAIL(CLM_ERR_PARSE, "%s: stride and dilation must be in [1, %d], got %d and %d", WHERE(li),
               CLM_LAYER_GEOMETRY_MAX, l->stride, l->dilation);
    if (l->pad < -1 || l->pad > CLM_LAYER_GEOMETRY_MAX)
      CLM_FAIL(CLM_ERR_PARSE, "%s: pad must be in [0, %d], got %d", WHERE(li), CLM_LAYER_GEOMETRY_MAX, l->pad);
    if (l->output_padding < 0 || (l->output_padding && l->output_padding >= l->stride &&
                                  l->output_padding >= l->dilation))
      CLM_FAIL(CLM_ERR_PARSE, "%s: output_padding must be smaller than stride or dilation", WHERE(li));
    break;
  case CLM_LAYER_CONCAT:
    want_from = -2;
    break;
  case CLM_LAYER_ADD:
    want_from = 2;
    break;
  case CLM_LAYER_UNPOOL:
    if (!l->indices[0])
      CLM_FAIL(CLM_ERR_PARSE, "%s: unpool needs 'indices = <maxpool layer>'", WHERE(li));
    break;
  case CLM_LAYER_SOFTMAX_XENT:
  case CLM_LAYER_L1:
  case CLM_LAYER_L2:
    if (!l->target[0]) CLM_FAIL(CLM_ERR_PARSE, "%s: a loss needs 'target = <input name>'", WHERE(li));
    break;
  case CLM_LAYER_ACTIVATION:
    if (l->act == CLM_ACTIVATION_NONE) CLM_FAIL(CLM_ERR_PARSE, "%s: needs 'act'", WHERE(li));
    break;
  default:
    break;
  }
  if (l->act == CLM_ACTIVATION_LEAKY_RELU && !(l->slope > 0))
    CLM_FAIL(CLM_ERR_PARSE, "%s: leaky relu slope must be > 0", WHERE(li));
  if (l->nfrom < 0 || l->nfrom > CLM_MAX_INPUTS)
    CLM_FAIL(CLM_ERR_PARSE, "%s: %d inputs in 'from' (0 to %d)", WHERE(li), l->nfrom, CLM_MAX_INPUTS);
  if (want_from == 0 && l->nfrom > 0)
    CLM_FAIL(CLM_ERR_PARSE, "%s: an input layer takes no 'from'", WHERE(li));
  if (want_from > 0 && l->nfrom != want_from)
    CLM_FAIL(CLM_ERR_PARSE, "%s: %s takes %d input%s in 'from', got %d", WHERE(li),
             clm_layer_type_name(l->type), want_from, want_from > 1 ? "s" : "", l->nfrom);
  if (want_from < 0 && l->nfrom < -want_from)
    CLM_FAIL(CLM_ERR_PARSE, "%s: %s takes at least %d inputs in 'from', got %d", WHERE(li),
             clm_layer_type_name(l->type), -want_from, l->nfrom);
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
    if (l->type == CLM_LAYER_CONV || l->type == CLM_LAYER_DECONV)
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
    if (l->type != CLM_LAYER_CONV && l->type != CLM_LAYER_DECONV) { last[i] = n - 1; continue; }
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
    if (l->type == CLM_LAYER_UNPOOL) names[k++] = l->indices;
    if (l->target[0] && l->type >= CLM_LAYER_SOFTMAX_XENT) names[k++] = l->target;
    if (l->mask[0] && l->type >= CLM_LAYER_SOFTMAX_XENT) names[k++] = l->mask;
    for (int j = 0; j < k; j++) {
      int src = find_layer(g, names[j]);
      if (src < 0) CLM_FAIL(CLM_ERR_PARSE, "%s: unknown input '%s'", WHERE(nd->layer), names[j]);
      if (src == nd->layer)
        CLM_FAIL(CLM_ERR_PARSE, "%s: takes its own output as input (cycle)", WHERE(nd->layer));
      nd->in[j] = last[src];
    }
    nd->nin = k;
    if (l->type == CLM_LAYER_UNPOOL && g->nodes[nd->in[1]].op != CLM_LAYER_MAXPOOL)
      CLM_FAIL(CLM_ERR_PARSE, "%s: indices = '%s' is not a maxpool layer", WHERE(nd->layer), l->indices);
    if (l->type >= CLM_LAYER_SOFTMAX_XENT)
      for (int j = 1; j < k; j++)
        if (g->nodes[nd->in[j]].op != CLM_LAYER_INPUT)
          CLM_FAIL(CLM_ERR_PARSE, "%s: '%s' must be an input layer (a target or mask)",
                   WHERE(nd->layer), names[j]);
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

static void add_param(clm_node *nd, const char *suffix, int is_state, int n, int c, int h, int w,
                      int fan_in) {
  clm_param_slot *p = &nd->params[nd->nparams++];
  snprintf(p->suffix, sizeof p->suffix, "%s", suffix);
  p->is_state = is_state;
  p->n = n; p->c = c; p->h = h; p->w = w;
  p->fan_in = fan_in;
}

static void set_shape(clm_node *nd, int n, int c, int h, int w) {
  nd->n = n; nd->c = c; nd->h = h; nd->w = w;
}

/* A tensor of (n, c, h, w), computed in 64 bits, must have every dimension in [1, INT_MAX]
 * and at most CLM_TENSOR_FLOATS_MAX elements (kernels index with int). Else the layer is
 * refused, naming what sets the size (`why`: the keys or options). */
static clm_status check_dims(clm_graph *g, int layer, const char *what, long long n, long long c,
                             long long h, long long w, const char *why) {
  char where_[400];
  size_t numel = clm_numel4(n, c, h, w);
  if (n < 1 || c < 1 || h < 1 || w < 1)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %s would be (%lld,%lld,%lld,%lld), empty (%s)", WHERE(layer), what,
             n, c, h, w, why);
  if (n > INT_MAX || c > INT_MAX || h > INT_MAX || w > INT_MAX || numel > CLM_TENSOR_FLOATS_MAX)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: %s would be (%lld,%lld,%lld,%lld), more than the %zu elements "
             "a tensor can hold (kernels index with int) (%s)", WHERE(layer), what, n, c, h, w,
             (size_t)CLM_TENSOR_FLOATS_MAX, why);
  return CLM_OK;
}

/* Output plane side of a convolution, PyTorch's rule: floor((in + 2p - d(k-1) - 1) / s) + 1,
 * refused when the padded input is smaller than the dilated kernel. -1: refused. */
static long long conv_side(long long in, const clm_layer *l, int pad) {
  long long span = (long long)l->dilation * (l->size - 1) + 1, num = in + 2LL * pad - span;
  return num < 0 ? -1 : num / l->stride + 1;
}

static clm_status infer_shapes(clm_graph *g) {
  char where_[400];
  const clm_graph_options *o = &g->opt;
  for (int i = 0; i < g->nnodes; i++) {
    clm_node *nd = &g->nodes[i];
    const clm_layer *l = &g->layers[nd->layer];
    clm_node *x = nd->nin > 0 ? &g->nodes[nd->in[0]] : NULL;
    int li = nd->layer;
    switch (nd->op) {
    case CLM_LAYER_INPUT: {
      long long c = l->channels < 0 ? 1 : l->channels; /* -1: taken from a prediction later */
      CLM_TRY(check_dims(g, li, "the input", o->batch, c, o->height, o->width,
                         "batch, 'channels', height and width"));
      set_shape(nd, o->batch, l->channels, o->height, o->width);
      break;
    }
    case CLM_LAYER_CONV: {
      int pad = clm_layer_pad(l);
      long long ho = conv_side(x->h, l, pad), wo = conv_side(x->w, l, pad);
      if (ho <= 0 || wo <= 0)
        CLM_FAIL(CLM_ERR_SHAPE, "%s: input %dx%d is too small for a %dx%d kernel (stride %d, pad %d, dilation %d)",
                 WHERE(li), x->h, x->w, l->size, l->size, l->stride, pad, l->dilation);
      CLM_TRY(check_dims(g, li, "the output", x->n, l->filters, ho, wo, "'filters', 'size', 'stride', 'pad', 'dilation'"));
      CLM_TRY(check_dims(g, li, "the weight", l->filters, x->c, l->size, l->size,
                         "'filters' x input channels x 'size' x 'size'"));
      set_shape(nd, x->n, l->filters, (int)ho, (int)wo);
      int fan_in = x->c * l->size * l->size; /* bounded by the weight's check */
      add_param(nd, "weight", 0, l->filters, x->c, l->size, l->size, fan_in);
      if (l->bias > 0 || (l->bias < 0 && !l->bn)) add_param(nd, "bias", 0, 1, l->filters, 1, 1, fan_in);
      break;
    }
    case CLM_LAYER_DECONV: {
      int pad = clm_layer_pad(l);
      long long extra = -2LL * pad + (long long)l->dilation * (l->size - 1) + l->output_padding + 1;
      long long ho = ((long long)x->h - 1) * l->stride + extra, wo = ((long long)x->w - 1) * l->stride + extra;
      if (ho <= 0 || wo <= 0)
        CLM_FAIL(CLM_ERR_SHAPE, "%s: output would be empty (%lldx%lld from input %dx%d, 'stride' %d, "
                 "'pad' %d, 'size' %d, 'dilation' %d, 'output_padding' %d)", WHERE(li), ho, wo, x->h,
                 x->w, l->stride, pad, l->size, l->dilation, l->output_padding);
      CLM_TRY(check_dims(g, li, "the output", x->n, l->filters, ho, wo,
                         "(input - 1) x 'stride' - 2 'pad' + 'dilation' ('size' - 1) + 'output_padding' + 1"));
      CLM_TRY(check_dims(g, li, "the weight", x->c, l->filters, l->size, l->size,
                         "input channels x 'filters' x 'size' x 'size'"));
      set_shape(nd, x->n, l->filters, (int)ho, (int)wo);
      int fan_in = l->filters * l->size * l->size; /* PyTorch: weight.size(1) * kernel area */
      add_param(nd, "weight", 0, x->c, l->filters, l->size, l->size, fan_in);
      if (l->bias > 0 || (l->bias < 0 && !l->bn)) add_param(nd, "bias", 0, 1, l->filters, 1, 1, fan_in);
      break;
    }
    case CLM_LAYER_BATCHNORM:
      set_shape(nd, x->n, x->c, x->h, x->w);
      add_param(nd, "weight", 0, 1, x->c, 1, 1, 0);
      add_param(nd, "bias", 0, 1, x->c, 1, 1, 0);
      add_param(nd, "running_mean", 1, 1, x->c, 1, 1, 0);
      add_param(nd, "running_var", 1, 1, x->c, 1, 1, 0);
      nd->aux_floats = nd->alias ? 0 : 2 * (size_t)x->c; /* saved statistics */
      break;
    case CLM_LAYER_ACTIVATION:
      set_shape(nd, x->n, x->c, x->h, x->w);
      break;
    case CLM_LAYER_MAXPOOL:
      if (x->h < 2 || x->w < 2)
        CLM_FAIL(CLM_ERR_SHAPE, "%s: input %dx%d is too small for 2x2 pooling", WHERE(li), x->h, x->w);
      set_shape(nd, x->n, x->c, x->h / 2, x->w / 2);
      nd->aux_floats = clm_numel4(nd->n, nd->c, nd->h, nd->w);
      break;
    case CLM_LAYER_UNPOOL: {
      const clm_node *pool = &g->nodes[nd->in[1]], *pin = &g->nodes[pool->in[0]];
      if (x->c != pool->c || x->h != pool->h || x->w != pool->w)
        CLM_FAIL(CLM_ERR_SHAPE, "%s: input is (%d,%d,%d) but the indices of '%s' are (%d,%d,%d)",
                 WHERE(li), x->c, x->h, x->w, l->indices, pool->c, pool->h, pool->w);
      set_shape(nd, x->n, x->c, pin->h, pin->w);
      break;
    }
    case CLM_LAYER_UPSAMPLE:
      CLM_TRY(check_dims(g, li, "the output", x->n, x->c, 2LL * x->h, 2LL * x->w, "twice the input's height and width"));
      set_shape(nd, x->n, x->c, 2 * x->h, 2 * x->w);
      break;
    case CLM_LAYER_CONCAT: {
      long long c = 0;
      for (int j = 0; j < nd->nin; j++) {
        const clm_node *y = &g->nodes[nd->in[j]];
        if (y->h != x->h || y->w != x->w)
          CLM_FAIL(CLM_ERR_SHAPE, "%s: inputs differ in size: '%s' is %dx%d, '%s' is %dx%d",
                   WHERE(li), l->from[0], x->h, x->w, l->from[j], y->h, y->w);
        c += y->c;
      }
      CLM_TRY(check_dims(g, li, "the output", x->n, c, x->h, x->w, "the sum of the inputs' channels in 'from'"));
      set_shape(nd, x->n, (int)c, x->h, x->w);
      break;
    }
    case CLM_LAYER_ADD: {
      const clm_node *y = &g->nodes[nd->in[1]];
      if (y->c != x->c || y->h != x->h || y->w != x->w)
        CLM_FAIL(CLM_ERR_SHAPE, "%s: channel or size mismatch: '%s' is (%d,%d,%d), '%s' is (%d,%d,%d)",
                 WHERE(li), l->from[0], x->c, x->h, x->w, l->from[1], y->c, y->h, y->w);
      set_shape(nd, x->n, x->c, x->h, x->w);
      break;
    }
    case CLM_LAYER_SOFTMAX_XENT:
    case CLM_LAYER_L1:
    case CLM_LAYER_L2: {
      clm_node *t = &g->nodes[nd->in[1]];
      int want_c = nd->op == CLM_LAYER_SOFTMAX_XENT ? 1 : x->c;
      if (t->c == -1) t->c = want_c;
      if (t->c != want_c || t->h != x->h || t->w != x->w)
        CLM_FAIL(CLM_ERR_SHAPE, "%s: target '%s' is (%d,%d,%d) but the prediction '%s' needs (%d,%d,%d)",
                 WHERE(li), l->target, t->c, t->h, t->w, l->from[0], want_c, x->h, x->w);
      if (nd->nin > 2) {
        const clm_node *m = &g->nodes[nd->in[2]];
        if (m->c != 1 || m->h != x->h || m->w != x->w)
          CLM_FAIL(CLM_ERR_SHAPE, "%s: mask '%s' must be (1,%d,%d), is (%d,%d,%d)", WHERE(li),
                   l->mask, x->h, x->w, m->c, m->h, m->w);
      }
      if (nd->op == CLM_LAYER_SOFTMAX_XENT && x->c < 2)
        CLM_FAIL(CLM_ERR_SHAPE, "%s: softmax cross-entropy needs at least 2 channels, '%s' has %d",
                 WHERE(li), l->from[0], x->c);
      set_shape(nd, 1, 1, 1, 1);
      nd->loss_index = g->nlosses++;
      /* the multi-task weighting's learned value for this task (s, u or a weight; mtl.h) */
      add_param(nd, "task_param", 0, 1, 1, 1, 1, 0);
      break;
    }
    default:
      CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: unknown layer type", WHERE(li));
    }
  }
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i].op == CLM_LAYER_INPUT && g->nodes[i].c < 1)
      CLM_FAIL(CLM_ERR_SHAPE, "%s: cannot tell its channel count", WHERE(g->nodes[i].layer));
  return CLM_OK;
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
  if (l->type != CLM_LAYER_CONV && l->type != CLM_LAYER_DECONV) return n;
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
