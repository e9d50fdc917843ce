/* The op table (op-def.h): one section per layer type with its checks, shape and parameter
 * inference, forward and backward steps (calls into src/ops with the views the planner
 * assigned) and cost, then the table of clm_op_def entries at the end. Shapes are computed in
 * 64 bits and checked: no dimension or tensor beyond 2^31-1 elements (kernels index with int).
 * Not here: expanding layers into nodes, ordering, autograd, planning and running (compile.c,
 * autograd.c, planner.c, exec.c), which consult the table. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "graph/op-def.h"

#define WHERE(l) (clm_graph_where(g, (l), where_, sizeof where_), where_)
#define LAYER(nd) (&g->layers[(nd)->layer])
#define IN(nd, j) (&g->nodes[(nd)->in[j]])

/* ---- helpers shared by the entries ------------------------------------------------------ */

clm_tensor clm_node_param(const clm_graph *g, const clm_node *nd, int k, int grad) {
  const clm_param_slot *p = &nd->params[k];
  clm_mem buf = p->is_state ? g->state : (grad ? g->grads : g->params);
  return clm_tensor_view(buf, p->off, p->n, p->c, p->h, p->w);
}

clm_tensor clm_node_bias(const clm_graph *g, const clm_node *nd, int grad) {
  clm_tensor none = {0};
  return nd->nparams > 1 ? clm_node_param(g, nd, 1, grad) : none;
}

void clm_node_folded(const clm_graph *g, const clm_node *nd, clm_tensor *w, clm_tensor *b) {
  const clm_param_slot *p = &nd->params[0];
  *w = clm_tensor_view(g->folded, nd->fold_off, p->n, p->c, p->h, p->w);
  *b = clm_tensor_view(g->folded, nd->fold_off + clm_tensor_numel(w), 1, nd->c, 1, 1);
}

static void add_param(clm_node *nd, const char *suffix, int is_state, int n, int c, int h, int w,
                      int fan_in) {
  clm_param_slot *p = &nd->params[nd->nparams++];
  snprintf(p->suffix, sizeof p->suffix, "%s", suffix);
  p->is_state = is_state;
  p->n = n; p->c = c; p->h = h; p->w = w;
  p->fan_in = fan_in;
  p->init_const = 0;
}

/* A parameter or state slot set to `value` by clm_graph_init_params (batch norm's γ, β and
 * running statistics). */
static void add_const_param(clm_node *nd, const char *suffix, int is_state, int c, float value) {
  add_param(nd, suffix, is_state, 1, c, 1, 1, 0);
  nd->params[nd->nparams - 1].init_const = 1;
  nd->params[nd->nparams - 1].init_value = value;
}

static void set_shape(clm_node *nd, int n, int c, int h, int w) {
  nd->n = n; nd->c = c; nd->h = h; nd->w = w;
}

static void set_aux_shape(clm_node *nd, int n, int c, int h, int w) {
  nd->aux_shape[0] = n; nd->aux_shape[1] = c; nd->aux_shape[2] = h; nd->aux_shape[3] = w;
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

static double numel(const clm_node *nd) { return (double)nd->n * nd->c * nd->h * nd->w; }

static double param_numel(const clm_node *nd, int k) {
  const clm_param_slot *p = &nd->params[k];
  return (double)p->n * p->c * p->h * p->w;
}

/* Floats of the accumulated input gradient read back by a backward pass (0 forward). */
static double dx_acc(const clm_graph *g, const clm_node *nd, clm_graph_pass pass) {
  return pass != CLM_PASS_FORWARD && nd->nin > 0 && nd->accumulate[0] ? numel(IN(nd, 0)) : 0;
}

/* An op of one input x and output y whose forward reads x and writes y, and whose backward
 * reads `bwd_y` tensors of y's size (dy, y) and writes dx. */
static double unary_floats(const clm_graph *g, const clm_node *nd, clm_graph_pass pass, int bwd_y) {
  double x = numel(IN(nd, 0)), y = numel(nd);
  return pass == CLM_PASS_FORWARD ? x + y : bwd_y * y + x + dx_acc(g, nd, pass);
}

/* ---- input: data uploaded by the caller (images, labels, targets, masks) ----------------- */
/* y (N, channels, H, W) at the compile options' batch and resolution */

static clm_status input_check(clm_graph *g, int li) {
  char where_[400];
  const clm_layer *l = &g->layers[li];
  if (l->channels == 0 || l->channels < -1)
    CLM_FAIL(CLM_ERR_PARSE, "%s: input needs channels > 0", WHERE(li));
  return CLM_OK;
}

static clm_status input_infer(clm_graph *g, clm_node *nd) {
  const clm_layer *l = LAYER(nd);
  const clm_graph_options *o = &g->opt;
  long long c = l->channels < 0 ? 1 : l->channels; /* -1: taken from a prediction later */
  CLM_TRY(check_dims(g, nd->layer, "the input", o->batch, c, o->height, o->width,
                     "batch, 'channels', height and width"));
  set_shape(nd, o->batch, l->channels, o->height, o->width);
  return CLM_OK;
}

static clm_status input_forward(clm_graph *g, clm_node *nd) {
  (void)g; (void)nd;
  return CLM_OK;
}

/* ---- conv, deconv: x (N, C, H, W) -> y (N, K, Ho, Wo); w (K, C, R, R) for conv, (C, K, R, R)
 * for deconv; optional bias (K); bn and act become their own nodes ------------------------- */

static clm_status conv_check(clm_graph *g, int li) {
  char where_[400];
  const clm_layer *l = &g->layers[li];
  if (l->filters <= 0) CLM_FAIL(CLM_ERR_PARSE, "%s: needs filters > 0", WHERE(li));
  /* model files allow far less (op_keys.c); this bounds the int arithmetic of layers given
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
  return CLM_OK;
}

/* Output plane side of a convolution, PyTorch's rule: floor((in + 2p - d(k-1) - 1) / s) + 1,
 * refused when the padded input is smaller than the dilated kernel. -1: refused. */
static long long conv_side(long long in, const clm_layer *l, int pad) {
  long long span = (long long)l->dilation * (l->size - 1) + 1, num = in + 2LL * pad - span;
  return num < 0 ? -1 : num / l->stride + 1;
}

static clm_status conv_infer(clm_graph *g, clm_node *nd) {
  char where_[400];
  const clm_layer *l = LAYER(nd);
  const clm_node *x = IN(nd, 0);
  int li = nd->layer, pad = clm_layer_pad(l);
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
  return CLM_OK;
}

static clm_status deconv_infer(clm_graph *g, clm_node *nd) {
  char where_[400];
  const clm_layer *l = LAYER(nd);
  const clm_node *x = IN(nd, 0);
  int li = nd->layer, pad = clm_layer_pad(l);
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
  return CLM_OK;
}

static clm_status conv_forward(clm_graph *g, clm_node *nd) {
  const clm_layer *l = LAYER(nd);
  clm_conv_params cp = {l->stride, clm_layer_pad(l), l->dilation};
  clm_tensor w = clm_node_param(g, nd, 0, 0), b = clm_node_bias(g, nd, 0);
  if (nd->fold >= 0) clm_node_folded(g, nd, &w, &b);
  clm_conv_variant v = (clm_conv_variant)nd->variant[CLM_CONV_FORWARD];
  if (nd->op == CLM_LAYER_CONV)
    return clm_conv2d_forward(g->ctx, v, &cp, &IN(nd, 0)->out, &w, &b, &nd->out, &nd->ws);
  return clm_deconv2d_forward(g->ctx, v, &cp, &IN(nd, 0)->out, &w, &b, &nd->out, &nd->ws);
}

/* dx (when wanted), then dw and db (accumulated); clm_profile_mark between the two parts. */
static clm_status conv_backward(clm_graph *g, clm_node *nd, const int *in_grad, const int *acc) {
  clm_context *ctx = g->ctx;
  const clm_layer *l = LAYER(nd);
  clm_conv_params cp = {l->stride, clm_layer_pad(l), l->dilation};
  const clm_tensor *x = &IN(nd, 0)->out, *dx = &IN(nd, 0)->grad, *dy = &nd->grad;
  clm_conv_variant vd = (clm_conv_variant)nd->variant[CLM_CONV_BACKWARD_DATA];
  clm_conv_variant vw = (clm_conv_variant)nd->variant[CLM_CONV_BACKWARD_WEIGHT];
  clm_tensor w = clm_node_param(g, nd, 0, 0), dw = clm_node_param(g, nd, 0, 1), db = clm_node_bias(g, nd, 1);
  if (nd->op == CLM_LAYER_CONV) {
    if (in_grad[0]) CLM_TRY(clm_conv2d_backward_data(ctx, vd, &cp, dy, &w, dx, &nd->ws_bwd, acc[0]));
    CLM_TRY(clm_profile_mark(g, nd));
    return clm_conv2d_backward_weight(ctx, vw, &cp, x, dy, &dw, &db, &nd->ws_bwd);
  }
  if (in_grad[0]) CLM_TRY(clm_deconv2d_backward_data(ctx, vd, &cp, dy, &w, dx, &nd->ws_bwd, acc[0]));
  CLM_TRY(clm_profile_mark(g, nd));
  return clm_deconv2d_backward_weight(ctx, vw, &cp, x, dy, &dw, &db, &nd->ws_bwd);
}

/* Multiply-adds x2 of one pass (the three passes cost the same): 2·N·K·C·R·S·Ho·Wo for conv,
 * 2·N·Cin·Cout·R·S·H·W for deconv (H, W its input's). */
static double conv_flop(const clm_graph *g, const clm_node *nd) {
  const clm_node *x = IN(nd, 0);
  double w = param_numel(nd, 0); /* K·C·R·S, or Cin·Cout·R·S for deconv */
  if (nd->op == CLM_LAYER_CONV) return 2.0 * w * nd->n * nd->h * nd->w;
  return 2.0 * w * x->n * x->h * x->w;
}

static double conv_floats(const clm_graph *g, const clm_node *nd, clm_graph_pass pass) {
  double x = numel(IN(nd, 0)), y = numel(nd), w = param_numel(nd, 0);
  if (pass == CLM_PASS_FORWARD) return x + w + y;
  if (pass == CLM_PASS_BACKWARD_DATA) return y + w + x + dx_acc(g, nd, pass);
  return x + y + 2 * w; /* dw accumulates */
}

/* ---- batchnorm: x (N, C, H, W) -> y, same shape; γ, β (C), running mean and var (C) as
 * state; saved batch statistics (2C) in aux; may carry a fused activation, or (inference,
 * folded) only apply that activation in place on its convolution's output ------------------- */

static clm_status batchnorm_infer(clm_graph *g, clm_node *nd) {
  const clm_node *x = IN(nd, 0);
  /* the saved statistics (mean and variance per channel) are one tensor of 2C */
  CLM_TRY(check_dims(g, nd->layer, "its saved batch statistics", 1, 2LL * x->c, 1, 1, "twice the input's channels"));
  set_shape(nd, x->n, x->c, x->h, x->w);
  add_const_param(nd, "weight", 0, x->c, 1.0f); /* PyTorch's BatchNorm2d defaults */
  add_const_param(nd, "bias", 0, x->c, 0.0f);
  add_const_param(nd, "running_mean", 1, x->c, 0.0f);
  add_const_param(nd, "running_var", 1, x->c, 1.0f);
  nd->aux_floats = nd->alias ? 0 : 2 * (size_t)x->c; /* saved statistics */
  set_aux_shape(nd, 1, 2 * x->c, 1, 1);
  return CLM_OK;
}

static clm_status batchnorm_forward(clm_graph *g, clm_node *nd) {
  clm_context *ctx = g->ctx;
  const clm_layer *l = LAYER(nd);
  const clm_tensor *x = &IN(nd, 0)->out;
  clm_activation act = (clm_activation)nd->act;
  if (nd->alias) /* folded into the conv: only the activation is left, in place */
    return clm_activation_forward(ctx, act, nd->slope, &nd->out, &nd->out);
  clm_tensor gm = clm_node_param(g, nd, 0, 0), bt = clm_node_param(g, nd, 1, 0);
  clm_tensor rm = clm_node_param(g, nd, 2, 0), rv = clm_node_param(g, nd, 3, 0);
  if (g->training)
    return clm_batchnorm_act_forward_train(ctx, act, nd->slope, x, &gm, &bt, &nd->out, &nd->aux,
                                           &rm, &rv, l->bn_momentum, l->bn_eps);
  return clm_batchnorm_act_forward_eval(ctx, act, nd->slope, x, &gm, &bt, &rm, &rv, l->bn_eps,
                                        &nd->out);
}

static clm_status batchnorm_backward(clm_graph *g, clm_node *nd, const int *in_grad, const int *acc) {
  (void)in_grad;
  clm_tensor gm = clm_node_param(g, nd, 0, 0), dg = clm_node_param(g, nd, 0, 1), dbt = clm_node_param(g, nd, 1, 1);
  return clm_batchnorm_act_backward(g->ctx, (clm_activation)nd->act, nd->slope, &IN(nd, 0)->out,
                                    &nd->out, &nd->grad, &gm, &nd->aux, &IN(nd, 0)->grad, &dg,
                                    &dbt, acc[0]);
}

static double batchnorm_floats(const clm_graph *g, const clm_node *nd, clm_graph_pass pass) {
  return unary_floats(g, nd, pass, 1) + (pass == CLM_PASS_FORWARD ? 0 : numel(IN(nd, 0))); /* backward reads x, dy */
}

/* ---- activation: x -> y, same shape; act and slope -------------------------------------- */

static clm_status activation_check(clm_graph *g, int li) {
  char where_[400];
  if (g->layers[li].act == CLM_ACTIVATION_NONE) CLM_FAIL(CLM_ERR_PARSE, "%s: needs 'act'", WHERE(li));
  return CLM_OK;
}

static clm_status same_shape_infer(clm_graph *g, clm_node *nd) {
  const clm_node *x = IN(nd, 0);
  set_shape(nd, x->n, x->c, x->h, x->w);
  return CLM_OK;
}

static clm_status activation_forward(clm_graph *g, clm_node *nd) {
  const clm_layer *l = LAYER(nd);
  return clm_activation_forward(g->ctx, (clm_activation)l->act, l->slope, &IN(nd, 0)->out, &nd->out);
}

static clm_status activation_backward(clm_graph *g, clm_node *nd, const int *in_grad, const int *acc) {
  (void)in_grad;
  const clm_layer *l = LAYER(nd);
  return clm_activation_backward(g->ctx, (clm_activation)l->act, l->slope, &nd->out, &nd->grad,
                                 &IN(nd, 0)->grad, acc[0]);
}

static double activation_floats(const clm_graph *g, const clm_node *nd, clm_graph_pass pass) {
  return unary_floats(g, nd, pass, 2); /* backward reads y and dy */
}

/* ---- maxpool: x (N, C, H, W) -> y (N, C, H/2, W/2), 2x2 stride 2; argmax indices in aux -- */

static clm_status maxpool_infer(clm_graph *g, clm_node *nd) {
  char where_[400];
  const clm_node *x = IN(nd, 0);
  if (x->h < 2 || x->w < 2)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: input %dx%d is too small for 2x2 pooling", WHERE(nd->layer), x->h, x->w);
  set_shape(nd, x->n, x->c, x->h / 2, x->w / 2);
  nd->aux_floats = clm_numel4(nd->n, nd->c, nd->h, nd->w);
  set_aux_shape(nd, nd->n, nd->c, nd->h, nd->w); /* indices share the output's shape */
  return CLM_OK;
}

static clm_status maxpool_forward(clm_graph *g, clm_node *nd) {
  return clm_maxpool2x2_forward(g->ctx, &IN(nd, 0)->out, &nd->out, &nd->aux);
}

static clm_status maxpool_backward(clm_graph *g, clm_node *nd, const int *in_grad, const int *acc) {
  (void)in_grad;
  return clm_maxpool2x2_backward(g->ctx, &nd->grad, &nd->aux, &IN(nd, 0)->grad, acc[0]);
}

static double maxpool_floats(const clm_graph *g, const clm_node *nd, clm_graph_pass pass) {
  double y = numel(nd); /* y and its indices */
  return pass == CLM_PASS_FORWARD ? numel(IN(nd, 0)) + 2 * y : unary_floats(g, nd, pass, 2);
}

/* ---- unpool: x (N, C, h, w) and the indices of a maxpool of (N, C, 2h', 2w') -> y at the
 * maxpool's input size ---------------------------------------------------------------------- */

static clm_status unpool_check(clm_graph *g, int li) {
  char where_[400];
  if (!g->layers[li].indices[0])
    CLM_FAIL(CLM_ERR_PARSE, "%s: unpool needs 'indices = <maxpool layer>'", WHERE(li));
  return CLM_OK;
}

static int unpool_extra(const clm_layer *l, const char **names) {
  names[0] = l->indices;
  return 1;
}

static clm_status unpool_check_inputs(clm_graph *g, const clm_node *nd, const char **names) {
  char where_[400];
  (void)names;
  if (IN(nd, 1)->op != CLM_LAYER_MAXPOOL)
    CLM_FAIL(CLM_ERR_PARSE, "%s: indices = '%s' is not a maxpool layer", WHERE(nd->layer), LAYER(nd)->indices);
  return CLM_OK;
}

static clm_status unpool_infer(clm_graph *g, clm_node *nd) {
  char where_[400];
  const clm_node *x = IN(nd, 0), *pool = IN(nd, 1), *pin = IN(pool, 0);
  if (x->c != pool->c || x->h != pool->h || x->w != pool->w)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: input is (%d,%d,%d) but the indices of '%s' are (%d,%d,%d)",
             WHERE(nd->layer), x->c, x->h, x->w, LAYER(nd)->indices, pool->c, pool->h, pool->w);
  set_shape(nd, x->n, x->c, pin->h, pin->w);
  return CLM_OK;
}

static clm_status unpool_forward(clm_graph *g, clm_node *nd) {
  return clm_maxunpool2x2_forward(g->ctx, &IN(nd, 0)->out, &IN(nd, 1)->aux, &nd->out);
}

static clm_status unpool_backward(clm_graph *g, clm_node *nd, const int *in_grad, const int *acc) {
  (void)in_grad;
  return clm_maxunpool2x2_backward(g->ctx, &nd->grad, &IN(nd, 1)->aux, &IN(nd, 0)->grad, acc[0]);
}

static double unpool_floats(const clm_graph *g, const clm_node *nd, clm_graph_pass pass) {
  double x = numel(IN(nd, 0)); /* backward gathers dy at the indices */
  return pass == CLM_PASS_FORWARD ? 2 * x + numel(nd) : 3 * x + dx_acc(g, nd, pass);
}

/* ---- upsample: x (N, C, H, W) -> y (N, C, 2H, 2W), bilinear --------------------------------- */

static clm_status upsample_infer(clm_graph *g, clm_node *nd) {
  const clm_node *x = IN(nd, 0);
  CLM_TRY(check_dims(g, nd->layer, "the output", x->n, x->c, 2LL * x->h, 2LL * x->w,
                     "twice the input's height and width"));
  set_shape(nd, x->n, x->c, 2 * x->h, 2 * x->w);
  return CLM_OK;
}

static clm_status upsample_forward(clm_graph *g, clm_node *nd) {
  return clm_upsample2x_forward(g->ctx, &IN(nd, 0)->out, &nd->out);
}

static clm_status upsample_backward(clm_graph *g, clm_node *nd, const int *in_grad, const int *acc) {
  (void)in_grad;
  return clm_upsample2x_backward(g->ctx, &nd->grad, &IN(nd, 0)->grad, acc[0]);
}

static double upsample_floats(const clm_graph *g, const clm_node *nd, clm_graph_pass pass) {
  return unary_floats(g, nd, pass, 1);
}

/* ---- concat: x_j (N, C_j, H, W) -> y (N, ΣC_j, H, W); add: a, b (N, C, H, W) -> a + b ----- */

static clm_status concat_infer(clm_graph *g, clm_node *nd) {
  char where_[400];
  const clm_layer *l = LAYER(nd);
  const clm_node *x = IN(nd, 0);
  long long c = 0;
  for (int j = 0; j < nd->nin; j++) {
    const clm_node *y = IN(nd, j);
    if (y->h != x->h || y->w != x->w)
      CLM_FAIL(CLM_ERR_SHAPE, "%s: inputs differ in size: '%s' is %dx%d, '%s' is %dx%d",
               WHERE(nd->layer), l->from[0], x->h, x->w, l->from[j], y->h, y->w);
    c += y->c;
  }
  CLM_TRY(check_dims(g, nd->layer, "the output", x->n, c, x->h, x->w, "the sum of the inputs' channels in 'from'"));
  set_shape(nd, x->n, (int)c, x->h, x->w);
  return CLM_OK;
}

static clm_status concat_forward(clm_graph *g, clm_node *nd) {
  int c0 = 0;
  for (int j = 0; j < nd->nin; j++) {
    const clm_tensor *src = &IN(nd, j)->out;
    CLM_TRY(clm_channel_copy(g->ctx, src, 0, &nd->out, c0, src->c, 0));
    c0 += src->c;
  }
  return CLM_OK;
}

static clm_status concat_backward(clm_graph *g, clm_node *nd, const int *in_grad, const int *acc) {
  int c0 = 0;
  for (int j = 0; j < nd->nin; j++) {
    const clm_node *src = IN(nd, j);
    if (in_grad[j]) CLM_TRY(clm_channel_copy(g->ctx, &nd->grad, c0, &src->grad, 0, src->c, acc[j]));
    c0 += src->c;
  }
  return CLM_OK;
}

static clm_status add_infer(clm_graph *g, clm_node *nd) {
  char where_[400];
  const clm_layer *l = LAYER(nd);
  const clm_node *x = IN(nd, 0), *y = IN(nd, 1);
  if (y->c != x->c || y->h != x->h || y->w != x->w)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: channel or size mismatch: '%s' is (%d,%d,%d), '%s' is (%d,%d,%d)",
             WHERE(nd->layer), l->from[0], x->c, x->h, x->w, l->from[1], y->c, y->h, y->w);
  set_shape(nd, x->n, x->c, x->h, x->w);
  return CLM_OK;
}

static clm_status add_forward(clm_graph *g, clm_node *nd) {
  return clm_add_forward(g->ctx, &IN(nd, 0)->out, &IN(nd, 1)->out, &nd->out);
}

static clm_status add_backward(clm_graph *g, clm_node *nd, const int *in_grad, const int *acc) {
  for (int j = 0; j < 2; j++)
    if (in_grad[j]) CLM_TRY(clm_copy(g->ctx, &nd->grad, &IN(nd, j)->grad, acc[j]));
  return CLM_OK;
}

/* Forward reads every input and writes y; backward per input with a gradient reads dy (its
 * slice for concat) and writes (or accumulates into) that input's gradient. */
static double join_floats(const clm_graph *g, const clm_node *nd, clm_graph_pass pass) {
  double f = 0, y = numel(nd);
  for (int j = 0; j < nd->nin; j++) {
    double in = numel(IN(nd, j));
    if (pass == CLM_PASS_FORWARD) f += in;
    else if (nd->in_grad[j]) f += (nd->op == CLM_LAYER_ADD ? y : in) + in + (nd->accumulate[j] ? in : 0);
  }
  return pass == CLM_PASS_FORWARD ? f + y : f;
}

/* ---- losses: prediction x (N, C, H, W), target (N, 1 or C, H, W), optional mask (N, 1, H, W)
 * -> a scalar in the scalars buffer (mean over valid targets) with its valid count; one task
 * parameter each; scratch (loss partial sums) in ws --------------------------------------- */

/* Inputs of a loss node: its 'from' inputs (the prediction, and the log-variance for the
 * heteroscedastic losses), then the target, then the mask when given. */
static int loss_target(const clm_node *nd) { return clm_op(nd->op)->arity; }

static const clm_tensor *loss_mask(const clm_graph *g, const clm_node *nd) {
  int k = loss_target(nd) + 1;
  return nd->nin > k ? &IN(nd, k)->out : NULL;
}

static clm_status loss_check(clm_graph *g, int li) {
  char where_[400];
  if (!g->layers[li].target[0])
    CLM_FAIL(CLM_ERR_PARSE, "%s: a loss needs 'target = <input name>'", WHERE(li));
  return CLM_OK;
}

static int loss_extra(const clm_layer *l, const char **names) {
  int k = 0;
  if (l->target[0]) names[k++] = l->target;
  if (l->mask[0]) names[k++] = l->mask;
  return k;
}

static clm_status loss_check_inputs(clm_graph *g, const clm_node *nd, const char **names) {
  char where_[400];
  for (int j = loss_target(nd); j < nd->nin; j++)
    if (IN(nd, j)->op != CLM_LAYER_INPUT)
      CLM_FAIL(CLM_ERR_PARSE, "%s: '%s' must be an input layer (a target or mask)",
               WHERE(nd->layer), names[j]);
  return CLM_OK;
}

static clm_status loss_infer(clm_graph *g, clm_node *nd) {
  char where_[400];
  const clm_layer *l = LAYER(nd);
  const clm_node *x = IN(nd, 0);
  int ti = loss_target(nd);
  clm_node *t = &g->nodes[nd->in[ti]];
  if (ti > 1) { /* a log-variance per predicted value, or per pixel for classification */
    const clm_node *s = IN(nd, 1);
    int want_s = clm_op(nd->op)->label_target ? 1 : x->c;
    if (s->c != want_s || s->h != x->h || s->w != x->w)
      CLM_FAIL(CLM_ERR_SHAPE, "%s: log-variance '%s' is (%d,%d,%d) but the prediction '%s' needs "
               "(%d,%d,%d): %s", WHERE(nd->layer), l->from[1], s->c, s->h, s->w, l->from[0],
               want_s, x->h, x->w, want_s == 1 && clm_op(nd->op)->label_target
               ? "one log-variance per pixel" : "one log-variance per predicted value");
  }
  int li = nd->layer, want_c = clm_op(nd->op)->label_target ? 1 : x->c;
  if (t->c == -1) t->c = want_c;
  if (t->c != want_c || t->h != x->h || t->w != x->w)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: target '%s' is (%d,%d,%d) but the prediction '%s' needs (%d,%d,%d)",
             WHERE(li), l->target, t->c, t->h, t->w, l->from[0], want_c, x->h, x->w);
  if (nd->nin > ti + 1) {
    const clm_node *m = IN(nd, ti + 1);
    if (m->c != 1 || m->h != x->h || m->w != x->w)
      CLM_FAIL(CLM_ERR_SHAPE, "%s: mask '%s' must be (1,%d,%d), is (%d,%d,%d)", WHERE(li),
               l->mask, x->h, x->w, m->c, m->h, m->w);
  }
  if (clm_op(nd->op)->label_target && x->c < 2)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: softmax cross-entropy needs at least 2 channels, '%s' has %d",
             WHERE(li), l->from[0], x->c);
  set_shape(nd, 1, 1, 1, 1);
  set_aux_shape(nd, t->n, t->c, t->h, t->w); /* scratch shaped like the target */
  nd->loss_index = g->nlosses++;
  /* the multi-task weighting's learned value for this task (s, u or a weight; mtl.h) */
  add_param(nd, "task_param", 0, 1, 1, 1, 1, 0);
  return CLM_OK;
}

/* With the graph's loss temperature on (training only), the task parameter s scales the logits
 * (clm_graph_set_loss_temperature). */
static int xent_tempered(const clm_graph *g) { return g->loss_temperature && g->training; }

static clm_status xent_forward(clm_graph *g, clm_node *nd) {
  clm_tensor count = clm_graph_loss_count_tensor(g, nd->loss_index);
  if (xent_tempered(g)) {
    clm_tensor s = clm_node_param(g, nd, 0, 0);
    return clm_xent_temperature_forward(g->ctx, &IN(nd, 0)->out, &s, &IN(nd, 1)->out,
                                        LAYER(nd)->ignore, &nd->out, &count, &nd->ws);
  }
  return clm_softmax_xent_forward(g->ctx, &IN(nd, 0)->out, &IN(nd, 1)->out, LAYER(nd)->ignore,
                                  &nd->out, &count, &nd->ws);
}

static clm_status xent_backward(clm_graph *g, clm_node *nd, const int *in_grad, const int *acc) {
  (void)in_grad;
  clm_tensor count = clm_graph_loss_count_tensor(g, nd->loss_index);
  clm_tensor seed = clm_graph_loss_seed(g, nd->loss_index);
  if (xent_tempered(g)) {
    clm_tensor sv = clm_node_param(g, nd, 0, 0), ds = clm_node_param(g, nd, 0, 1);
    return clm_xent_temperature_backward(g->ctx, &IN(nd, 0)->out, &sv, &IN(nd, 1)->out,
                                         LAYER(nd)->ignore, &count, &seed, &IN(nd, 0)->grad,
                                         acc[0], &ds, &nd->ws_bwd);
  }
  return clm_softmax_xent_backward(g->ctx, &IN(nd, 0)->out, &IN(nd, 1)->out, LAYER(nd)->ignore,
                                   &count, &seed, &IN(nd, 0)->grad, acc[0]);
}

static clm_regression_loss regression(const clm_node *nd) {
  return nd->op == CLM_LAYER_L1 ? CLM_LOSS_L1 : CLM_LOSS_L2;
}

static clm_status regression_forward(clm_graph *g, clm_node *nd) {
  clm_tensor count = clm_graph_loss_count_tensor(g, nd->loss_index);
  const clm_tensor *mask = loss_mask(g, nd);
  return clm_regression_loss_forward(g->ctx, regression(nd), &IN(nd, 0)->out, &IN(nd, 1)->out,
                                     mask, &nd->out, &count, &nd->ws);
}

static clm_status regression_backward(clm_graph *g, clm_node *nd, const int *in_grad, const int *acc) {
  (void)in_grad;
  clm_tensor count = clm_graph_loss_count_tensor(g, nd->loss_index);
  clm_tensor seed = clm_graph_loss_seed(g, nd->loss_index);
  const clm_tensor *mask = loss_mask(g, nd);
  return clm_regression_loss_backward(g->ctx, regression(nd), &IN(nd, 0)->out, &IN(nd, 1)->out,
                                      mask, &count, &seed, &IN(nd, 0)->grad, acc[0]);
}

/* Heteroscedastic regression: from = prediction, log-variance (same shape); Laplace for
 * laplace_nll (L1), Gaussian for gaussian_nll (L2); src/ops/loss.c has the formulas. */
static clm_regression_loss hetero(const clm_node *nd) {
  return nd->op == CLM_LAYER_LAPLACE_NLL ? CLM_LOSS_L1 : CLM_LOSS_L2;
}

static clm_status hetero_forward(clm_graph *g, clm_node *nd) {
  clm_tensor count = clm_graph_loss_count_tensor(g, nd->loss_index);
  return clm_hetero_loss_forward(g->ctx, hetero(nd), &IN(nd, 0)->out, &IN(nd, 1)->out,
                                 &IN(nd, 2)->out, loss_mask(g, nd), &nd->out, &count, &nd->ws);
}

/* Both gradients are computed in one launch; one that autograd does not want goes to the
 * backward workspace (shaped like the prediction). */
static clm_status hetero_backward(clm_graph *g, clm_node *nd, const int *in_grad, const int *acc) {
  clm_tensor count = clm_graph_loss_count_tensor(g, nd->loss_index);
  clm_tensor seed = clm_graph_loss_seed(g, nd->loss_index);
  const clm_node *x = IN(nd, 0);
  clm_tensor scratch = clm_tensor_view(nd->ws_bwd.buf, nd->ws_bwd.off, x->n, x->c, x->h, x->w);
  const clm_tensor *dp = in_grad[0] ? &IN(nd, 0)->grad : &scratch;
  const clm_tensor *ds = in_grad[1] ? &IN(nd, 1)->grad : &scratch;
  return clm_hetero_loss_backward(g->ctx, hetero(nd), &x->out, &IN(nd, 1)->out, &IN(nd, 2)->out,
                                  loss_mask(g, nd), &count, &seed, dp, in_grad[0] && acc[0], ds,
                                  in_grad[1] && acc[1]);
}

/* Forward reads prediction, target and mask; backward also writes dpred. */
static double loss_floats(const clm_graph *g, const clm_node *nd, clm_graph_pass pass) {
  double f = 0;
  for (int j = 0; j < nd->nin && j < 3; j++) f += numel(IN(nd, j));
  return pass == CLM_PASS_FORWARD ? f : f + numel(IN(nd, 0)) + dx_acc(g, nd, pass);
}

/* Logit-noise cross-entropy: from = logits (N, K, H, W), log-variance (N, 1, H, W). */
static clm_status logit_noise_forward(clm_graph *g, clm_node *nd) {
  clm_tensor count = clm_graph_loss_count_tensor(g, nd->loss_index);
  return clm_logit_noise_xent_forward(g->ctx, &IN(nd, 0)->out, &IN(nd, 1)->out, &IN(nd, 2)->out,
                                      LAYER(nd)->ignore, &nd->out, &count, &nd->ws);
}

static clm_status logit_noise_backward(clm_graph *g, clm_node *nd, const int *in_grad, const int *acc) {
  clm_tensor count = clm_graph_loss_count_tensor(g, nd->loss_index);
  clm_tensor seed = clm_graph_loss_seed(g, nd->loss_index);
  const clm_node *x = IN(nd, 0), *s = IN(nd, 1);
  clm_tensor sx = clm_tensor_view(nd->ws_bwd.buf, nd->ws_bwd.off, x->n, x->c, x->h, x->w);
  clm_tensor ss = clm_tensor_view(nd->ws_bwd.buf, nd->ws_bwd.off, s->n, s->c, s->h, s->w);
  return clm_logit_noise_xent_backward(g->ctx, &x->out, &s->out, &IN(nd, 2)->out, LAYER(nd)->ignore,
                                       &count, &seed, in_grad[0] ? &x->grad : &sx,
                                       in_grad[0] && acc[0], in_grad[1] ? &s->grad : &ss,
                                       in_grad[1] && acc[1]);
}

/* ---- the table ---------------------------------------------------------------------------- */

static const char *const no_keys[] = {NULL};
static const char *const input_keys[] = {"channels", NULL};
static const char *const conv_keys[] = {"filters", "size", "stride", "pad", "dilation", "bias",
                                        "bn", "act", "slope", "bn_momentum", "bn_eps",
                                        "output_padding", NULL};
static const char *const bn_keys[] = {"momentum", "eps", NULL};
static const char *const act_keys[] = {"act", "slope", NULL};
static const char *const unpool_keys[] = {"indices", NULL};
static const char *const loss_keys[] = {"target", "mask", "kind", "ignore", "weight", NULL};

#define LOSS(name_, kind_, fwd, bwd) LOSS_N(name_, kind_, 1, fwd, bwd)
/* n: inputs in 'from', each of which gets a gradient */
#define LOSS_N(name_, kind_, n_, fwd, bwd)                                                    \
  {.name = name_, .keys = loss_keys, .arity = n_, .is_loss = 1, .grad_inputs = n_,            \
   .label_target = kind_ == CLM_TASK_CLASSIFICATION,                                          \
   .bwd_reads_inputs = 1, .aux_input = -1, .task_kind = kind_, .check = loss_check,           \
   .extra_inputs = loss_extra, .check_inputs = loss_check_inputs, .infer = loss_infer,        \
   .forward = fwd, .backward = bwd, .floats = loss_floats}

static const clm_op_def ops[CLM_LAYER_TYPE_COUNT] = {
    [CLM_LAYER_INPUT] = {.name = "input", .keys = input_keys, .arity = 0, .aux_input = -1,
                         .check = input_check, .infer = input_infer, .forward = input_forward},
    [CLM_LAYER_CONV] = {.name = "conv", .keys = conv_keys, .arity = 1, .grad_inputs = -1,
                        .expands = 1, .split_backward = 1, .bwd_reads_inputs = 1, .aux_input = -1,
                        .check = conv_check, .infer = conv_infer, .forward = conv_forward,
                        .backward = conv_backward, .flop = conv_flop, .floats = conv_floats},
    [CLM_LAYER_DECONV] = {.name = "deconv", .keys = conv_keys, .arity = 1, .grad_inputs = -1,
                          .expands = 1, .split_backward = 1, .bwd_reads_inputs = 1,
                          .aux_input = -1, .check = conv_check, .infer = deconv_infer,
                          .forward = conv_forward, .backward = conv_backward, .flop = conv_flop,
                          .floats = conv_floats},
    [CLM_LAYER_BATCHNORM] = {.name = "batchnorm", .keys = bn_keys, .arity = 1, .grad_inputs = -1,
                             .always_dx = 1, .bwd_reads_inputs = 1,
                             .bwd_reads_output = CLM_BWD_READS_OUTPUT_IF_ACT, .aux_input = -1,
                             .infer = batchnorm_infer, .forward = batchnorm_forward,
                             .backward = batchnorm_backward, .floats = batchnorm_floats},
    [CLM_LAYER_ACTIVATION] = {.name = "activation", .keys = act_keys, .arity = 1,
                              .grad_inputs = -1, .bwd_reads_output = CLM_BWD_READS_OUTPUT,
                              .aux_input = -1, .check = activation_check,
                              .infer = same_shape_infer, .forward = activation_forward,
                              .backward = activation_backward, .floats = activation_floats},
    [CLM_LAYER_MAXPOOL] = {.name = "maxpool", .keys = no_keys, .arity = 1, .grad_inputs = -1,
                           .aux_input = -1, .infer = maxpool_infer, .forward = maxpool_forward,
                           .backward = maxpool_backward, .floats = maxpool_floats},
    [CLM_LAYER_UNPOOL] = {.name = "unpool", .keys = unpool_keys, .arity = 1, .grad_inputs = 1,
                          .aux_input = 1, .check = unpool_check, .extra_inputs = unpool_extra,
                          .check_inputs = unpool_check_inputs, .infer = unpool_infer,
                          .forward = unpool_forward, .backward = unpool_backward,
                          .floats = unpool_floats},
    [CLM_LAYER_UPSAMPLE] = {.name = "upsample", .keys = no_keys, .arity = 1, .grad_inputs = -1,
                            .aux_input = -1, .infer = upsample_infer, .forward = upsample_forward,
                            .backward = upsample_backward, .floats = upsample_floats},
    [CLM_LAYER_CONCAT] = {.name = "concat", .keys = no_keys, .arity = -2, .grad_inputs = -1,
                          .aux_input = -1, .infer = concat_infer, .forward = concat_forward,
                          .backward = concat_backward, .floats = join_floats},
    [CLM_LAYER_ADD] = {.name = "add", .keys = no_keys, .arity = 2, .grad_inputs = -1,
                       .aux_input = -1, .infer = add_infer, .forward = add_forward,
                       .backward = add_backward, .floats = join_floats},
    [CLM_LAYER_SOFTMAX_XENT] = LOSS("softmax_xent", CLM_TASK_CLASSIFICATION, xent_forward, xent_backward),
    [CLM_LAYER_L1] = LOSS("l1", CLM_TASK_REGRESSION, regression_forward, regression_backward),
    [CLM_LAYER_L2] = LOSS("l2", CLM_TASK_REGRESSION, regression_forward, regression_backward),
    [CLM_LAYER_LAPLACE_NLL] = LOSS_N("laplace_nll", CLM_TASK_REGRESSION, 2, hetero_forward, hetero_backward),
    [CLM_LAYER_GAUSSIAN_NLL] = LOSS_N("gaussian_nll", CLM_TASK_REGRESSION, 2, hetero_forward, hetero_backward),
    [CLM_LAYER_LOGIT_NOISE_XENT] = LOSS_N("logit_noise_xent", CLM_TASK_CLASSIFICATION, 2, logit_noise_forward,
                                          logit_noise_backward),
};

const clm_op_def *clm_op(clm_layer_type t) { return &ops[t]; }

const char *clm_layer_type_name(clm_layer_type t) {
  return (unsigned)t < CLM_LAYER_TYPE_COUNT ? ops[t].name : "?";
}

int clm_layer_type_is_loss(clm_layer_type t) {
  return (unsigned)t < CLM_LAYER_TYPE_COUNT && ops[t].is_loss;
}

int clm_layer_type_takes_labels(clm_layer_type t) {
  return (unsigned)t < CLM_LAYER_TYPE_COUNT && ops[t].is_loss && ops[t].label_target;
}
