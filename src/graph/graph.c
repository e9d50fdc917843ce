/* Graph lifetime, layer recording and the layer constructors, accessors of a compiled graph,
 * parameter initialisation and the printable summary. Compilation lives in compile.c,
 * autograd.c, scheduler.c and planner.c; execution in exec.c; model files in parse.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "graph/op-def.h"

clm_status clm_graph_create(clm_context *ctx, clm_graph **out) {
  *out = calloc(1, sizeof **out);
  if (!*out) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  (*out)->ctx = ctx;
  return CLM_OK;
}

void clm_graph_free(clm_graph *g) {
  if (!g) return;
  if (g->ctx && g->ctx->queue) clFinish(g->ctx->queue);
  clm_buffer_free(g->ctx, g->arena);
  clm_buffer_free(g->ctx, g->params);
  clm_buffer_free(g->ctx, g->grads);
  clm_buffer_free(g->ctx, g->state);
  clm_buffer_free(g->ctx, g->scalars);
  clm_buffer_free(g->ctx, g->folded);
  for (int i = 0; i < g->nnodes; i++) clm_buffer_free(g->ctx, g->nodes[i].own);
  free(g->layers);
  free(g->nodes);
  free(g->bwd);
  free(g->losses);
  free(g->plan);
  free(g->source_text);
  clm_profile_free(g->profile);
  free(g);
}

clm_status clm_graph_set_source(clm_graph *g, const char *filename, const char *text) {
  free(g->source_text);
  g->source_text = NULL;
  if (++g->sources > 1) { g->source_file[0] = '\0'; return CLM_OK; } /* several texts: none */
  size_t len = strlen(text);
  g->source_text = malloc(len + 1);
  if (!g->source_text) CLM_FAIL(CLM_ERR_HOST_MEMORY, "%s: out of host memory", filename);
  memcpy(g->source_text, text, len + 1);
  snprintf(g->source_file, sizeof g->source_file, "%s", filename);
  return CLM_OK;
}

const char *clm_graph_model_text(const clm_graph *g) { return g->source_text; }
void clm_graph_expect_moments(clm_graph *g, int count) { g->moments = count > 0 ? count : 0; }
const char *clm_graph_model_file(const clm_graph *g) { return g->source_file; }

void clm_layer_defaults(clm_layer *l, clm_layer_type type, const char *name) {
  memset(l, 0, sizeof *l);
  l->type = type;
  if (name) snprintf(l->name, sizeof l->name, "%s", name);
  l->stride = 1;
  l->pad = -1;
  l->dilation = 1;
  l->bias = -1;
  l->slope = 0.1f;
  l->bn_momentum = 0.1f;
  l->bn_eps = 1e-5f;
  l->ignore = 255;
  l->weight = 1.0f;
  l->kind = clm_layer_type_is_loss(type) ? clm_op(type)->task_kind : CLM_TASK_REGRESSION;
}

void clm_graph_where(const clm_graph *g, int layer, char *buf, size_t size) {
  const clm_layer *l = &g->layers[layer];
  if (l->file[0] && l->line > 0) snprintf(buf, size, "%s:%d: layer '%s'", l->file, l->line, l->name);
  else snprintf(buf, size, "layer '%s'", l->name);
}

clm_status clm_graph_add(clm_graph *g, const clm_layer *layer) {
  if (g->compiled) CLM_FAIL(CLM_ERR_INVALID_ARG, "graph already compiled: cannot add '%s'", layer->name);
  /* every name a terminated string (the layer may come from anywhere) */
  int bad = !memchr(layer->name, 0, sizeof layer->name) || !memchr(layer->indices, 0, CLM_NAME_MAX) ||
            !memchr(layer->target, 0, CLM_NAME_MAX) || !memchr(layer->mask, 0, CLM_NAME_MAX) ||
            !memchr(layer->file, 0, sizeof layer->file);
  for (int k = 0; k < CLM_MAX_INPUTS; k++) bad |= !memchr(layer->from[k], 0, CLM_NAME_MAX);
  if (bad) CLM_FAIL(CLM_ERR_INVALID_ARG, "a layer's name fields must be NUL-terminated strings");
  if (!layer->name[0]) CLM_FAIL(CLM_ERR_INVALID_ARG, "a layer needs a name");
  if ((unsigned)layer->type >= CLM_LAYER_TYPE_COUNT)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "layer '%s': unknown type %d", layer->name, (int)layer->type);
  for (int i = 0; i < g->nlayers; i++)
    if (!strcmp(g->layers[i].name, layer->name)) {
      char first[400];
      clm_graph_where(g, i, first, sizeof first);
      if (layer->file[0])
        CLM_FAIL(CLM_ERR_PARSE, "%s:%d: duplicate layer name '%s' (first defined at %s)",
                 layer->file, layer->line, layer->name, first);
      CLM_FAIL(CLM_ERR_INVALID_ARG, "duplicate layer name '%s' (first: %s)", layer->name, first);
    }
  if (g->nlayers == g->cap_layers) {
    int cap = g->cap_layers ? g->cap_layers * 2 : 32;
    clm_layer *l = realloc(g->layers, (size_t)cap * sizeof *l);
    if (!l) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
    g->layers = l;
    g->cap_layers = cap;
  }
  g->layers[g->nlayers++] = *layer;
  return CLM_OK;
}

static void set_from(clm_layer *l, int i, const char *name) {
  snprintf(l->from[i], sizeof l->from[i], "%s", name ? name : "");
  if (i + 1 > l->nfrom) l->nfrom = i + 1;
}

clm_status clm_graph_input(clm_graph *g, const char *name, int channels) {
  clm_layer l;
  clm_layer_defaults(&l, CLM_LAYER_INPUT, name);
  l.channels = channels;
  return clm_graph_add(g, &l);
}

clm_status clm_graph_conv(clm_graph *g, const char *name, const char *from, int filters,
                          int size, int stride, int bn, clm_activation act) {
  clm_layer l;
  clm_layer_defaults(&l, CLM_LAYER_CONV, name);
  set_from(&l, 0, from);
  l.filters = filters;
  l.size = size;
  l.stride = stride;
  l.bn = bn;
  l.act = act;
  return clm_graph_add(g, &l);
}

static clm_status add_unary(clm_graph *g, clm_layer_type t, const char *name, const char *from) {
  clm_layer l;
  clm_layer_defaults(&l, t, name);
  set_from(&l, 0, from);
  return clm_graph_add(g, &l);
}

clm_status clm_graph_maxpool(clm_graph *g, const char *name, const char *from) {
  return add_unary(g, CLM_LAYER_MAXPOOL, name, from);
}

clm_status clm_graph_upsample(clm_graph *g, const char *name, const char *from) {
  return add_unary(g, CLM_LAYER_UPSAMPLE, name, from);
}

clm_status clm_graph_concat(clm_graph *g, const char *name, const char *a, const char *b) {
  clm_layer l;
  clm_layer_defaults(&l, CLM_LAYER_CONCAT, name);
  set_from(&l, 0, a);
  set_from(&l, 1, b);
  return clm_graph_add(g, &l);
}

clm_status clm_graph_loss(clm_graph *g, const char *name, clm_layer_type type, const char *from,
                          const char *target, const char *mask) {
  if (!clm_layer_type_is_loss(type))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "layer '%s': %s is not a loss", name, clm_layer_type_name(type));
  clm_layer l;
  clm_layer_defaults(&l, type, name);
  set_from(&l, 0, from);
  snprintf(l.target, sizeof l.target, "%s", target ? target : "");
  snprintf(l.mask, sizeof l.mask, "%s", mask ? mask : "");
  return clm_graph_add(g, &l);
}

/* ---- accessors --------------------------------------------------------------------------- */

int clm_graph_find_node(const clm_graph *g, const char *name) {
  /* the last node of a layer carries the layer's output; exact node names also match */
  for (int i = 0; i < g->nnodes; i++)
    if (!strcmp(g->nodes[i].name, name)) return i;
  int best = -1;
  for (int i = 0; i < g->nnodes; i++)
    if (!strcmp(g->layers[g->nodes[i].layer].name, name)) best = i;
  return best;
}

static clm_status need_compiled(const clm_graph *g) {
  if (!g->compiled) CLM_FAIL(CLM_ERR_INVALID_ARG, "graph is not compiled");
  return CLM_OK;
}

clm_status clm_graph_tensor(clm_graph *g, const char *layer, clm_tensor *out) {
  CLM_TRY(need_compiled(g));
  int i = -1;
  for (int k = 0; k < g->nlayers; k++)
    if (!strcmp(g->layers[k].name, layer)) i = k;
  int node = -1;
  if (i >= 0)
    for (int k = 0; k < g->nnodes; k++)
      if (g->nodes[k].layer == i) node = k; /* last node of the layer in execution order */
  if (node < 0) node = clm_graph_find_node(g, layer);
  if (node < 0) CLM_FAIL(CLM_ERR_NOT_FOUND, "no layer named '%s'", layer);
  if (!g->nodes[node].out.buf)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "layer '%s' has no stored output", layer);
  *out = g->nodes[node].out;
  return CLM_OK;
}

clm_status clm_graph_set_input(clm_graph *g, const char *layer, const float *host) {
  clm_tensor t;
  CLM_TRY(clm_graph_tensor(g, layer, &t));
  return clm_tensor_upload(g->ctx, &t, host);
}

void clm_graph_set_training(clm_graph *g, int training) { g->training = training; }

int clm_graph_layer_count(const clm_graph *g) { return g->nlayers; }

const clm_layer *clm_graph_layer(const clm_graph *g, int i) {
  return (i >= 0 && i < g->nlayers) ? &g->layers[i] : NULL;
}

int clm_graph_loss_count(const clm_graph *g) { return g->nlosses; }

const clm_layer *clm_graph_loss_layer(const clm_graph *g, int i) {
  return (i >= 0 && i < g->nlosses) ? &g->layers[g->nodes[g->losses[i]].layer] : NULL;
}

static clm_tensor scalar(const clm_graph *g, size_t index) {
  return clm_tensor_view(g->scalars, index, 1, 1, 1, 1);
}
/* scalars buffer: per loss i, [3i] value, [3i+1] valid count, [3i+2] seed */
clm_tensor clm_graph_loss_value(const clm_graph *g, int i) { return scalar(g, 3 * (size_t)i); }
clm_tensor clm_graph_loss_count_tensor(const clm_graph *g, int i) { return scalar(g, 3 * (size_t)i + 1); }
clm_tensor clm_graph_loss_seed(const clm_graph *g, int i) { return scalar(g, 3 * (size_t)i + 2); }

clm_tensor clm_graph_task_params(const clm_graph *g) {
  return clm_tensor_view(g->params, g->task_param_off, 1, 1, 1, g->nlosses);
}
clm_tensor clm_graph_task_grads(const clm_graph *g) {
  return clm_tensor_view(g->grads, g->task_param_off, 1, 1, 1, g->nlosses);
}

clm_tensor clm_graph_params(const clm_graph *g) {
  return clm_tensor_view(g->params, 0, 1, 1, 1, (int)g->param_floats);
}
clm_tensor clm_graph_grads(const clm_graph *g) {
  return clm_tensor_view(g->grads, 0, 1, 1, 1, (int)g->param_floats);
}
clm_tensor clm_graph_state(const clm_graph *g) {
  return clm_tensor_view(g->state, 0, 1, 1, 1, (int)g->state_floats);
}

int clm_graph_named_count(const clm_graph *g) {
  int n = 0;
  for (int i = 0; i < g->nnodes; i++) n += g->nodes[i].nparams;
  return n;
}

clm_status clm_graph_named(const clm_graph *g, int index, const char **name, clm_tensor *view,
                           int *is_param) {
  clm_named_tensor t;
  CLM_TRY(clm_graph_named_info(g, index, &t));
  *name = t.name;
  *view = t.view;
  *is_param = t.is_param;
  return CLM_OK;
}

size_t clm_graph_arena_bytes(const clm_graph *g) { return g->arena_floats * sizeof(float); }

static size_t sat_add(size_t a, size_t b) { size_t r; clm_size_add(a, b, &r); return r; }
static size_t sat_mul(size_t a, size_t b) { size_t r; clm_size_mul(a, b, &r); return r; }

void clm_graph_memory_use(const clm_graph *g, clm_graph_memory *m) {
  memset(m, 0, sizeof *m);
  const size_t f = sizeof(float);
  size_t input_floats = 0;
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i].op == CLM_LAYER_INPUT)
      input_floats = sat_add(input_floats, clm_numel4(g->nodes[i].n, g->nodes[i].c, g->nodes[i].h, g->nodes[i].w));
  m->arena = sat_mul(g->arena_floats, f);
  m->params = sat_mul(g->param_floats, f);
  m->grads = g->opt.training ? m->params : 0;
  m->moments = g->moments > 0 ? sat_mul(m->params, (size_t)g->moments) : 0;
  m->state = sat_mul(g->state_floats, f);
  m->folded = sat_mul(g->folded_floats, f);
  m->scalars = sat_mul(3 * (size_t)g->nlosses, f);
  m->inputs = sat_mul(input_floats, f);
  size_t parts[] = {m->arena, m->params, m->grads, m->moments, m->state, m->folded, m->scalars, m->inputs};
  for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
    m->device = sat_add(m->device, parts[k]);
    if (k != 3 && parts[k] > m->largest_buffer) m->largest_buffer = parts[k];
  }
  if (g->moments > 0 && m->params > m->largest_buffer) m->largest_buffer = m->params;
  m->host = sat_add(sat_add(m->params, m->state), m->inputs);
}

size_t clm_graph_device_bytes(const clm_graph *g) {
  clm_graph_memory m;
  clm_graph_memory_use(g, &m);
  return sat_add(sat_add(m.arena, m.params), sat_add(sat_add(m.grads, m.state),
                 sat_add(sat_add(m.folded, m.scalars), m.inputs)));
}

/* ---- initialisation ---------------------------------------------------------------------- */

static double uniform01(uint64_t *s) { /* xorshift64* */
  uint64_t x = *s;
  x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
  *s = x;
  return (double)((x * 0x2545f4914f6cdd1dull) >> 11) / (double)(1ull << 53);
}

clm_status clm_graph_init_params(clm_graph *g, uint64_t seed) {
  CLM_TRY(need_compiled(g));
  float *p = calloc(g->param_floats + 1, sizeof *p), *s = calloc(g->state_floats + 1, sizeof *s);
  if (!p || !s) { free(p); free(s); CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory"); }
  uint64_t rng = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
  for (int i = 0; i < g->nnodes; i++) {
    const clm_node *nd = &g->nodes[i];
    for (int k = 0; k < nd->nparams; k++) {
      const clm_param_slot *ps = &nd->params[k];
      size_t n = (size_t)ps->n * ps->c * ps->h * ps->w;
      float *dst = (ps->is_state ? s : p) + ps->off;
      if (ps->init_const) /* as the op's shape inference set it (batch norm: 1, 0, 0, 1) */
        for (size_t j = 0; j < n; j++) dst[j] = ps->init_value;
      else {
        /* PyTorch: kaiming_uniform_(a=sqrt(5)) gives bound 1/sqrt(fan_in) for weights; biases
         * are uniform in the same bound */
        double bound = ps->fan_in > 0 ? 1.0 / sqrt((double)ps->fan_in) : 0.0;
        for (size_t j = 0; j < n; j++) dst[j] = (float)((2.0 * uniform01(&rng) - 1.0) * bound);
      }
    }
  }
  clm_status st = CLM_OK;
  clm_tensor tp = clm_graph_params(g), ts = clm_graph_state(g);
  if (g->param_floats) st = clm_tensor_upload(g->ctx, &tp, p);
  if (st == CLM_OK && g->state_floats) st = clm_tensor_upload(g->ctx, &ts, s);
  free(p);
  free(s);
  if (st == CLM_OK) g->folded_stale = 1; /* folded parameters follow at the next forward */
  return st;
}

/* ---- summary ----------------------------------------------------------------------------- */

void clm_graph_print(const clm_graph *g, void *file) {
  FILE *f = file ? file : stdout;
  static const char *acts[] = {"", "+relu", "+leaky", "+sigmoid"};
  fprintf(f, "%-28s %-17s %-22s %10s  %s\n", "node", "op", "output (N,C,H,W)", "params", "variant");
  size_t total = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const clm_node *nd = &g->nodes[i];
    size_t np = 0;
    for (int k = 0; k < nd->nparams; k++)
      if (!nd->params[k].is_state)
        np += (size_t)nd->params[k].n * nd->params[k].c * nd->params[k].h * nd->params[k].w;
    total += np;
    char shape[64];
    snprintf(shape, sizeof shape, "(%d,%d,%d,%d)", nd->n, nd->c, nd->h, nd->w);
    int conv = nd->op == CLM_LAYER_CONV || nd->op == CLM_LAYER_DECONV;
    char var[64] = ""; /* one name, or forward/backward data/backward weight when they differ */
    if (conv) {
      const int *v = nd->variant;
      if (v[0] == v[1] && v[0] == v[2])
        snprintf(var, sizeof var, "%s", clm_conv_variant_name((clm_conv_variant)v[0]));
      else
        snprintf(var, sizeof var, "%s/%s/%s", clm_conv_variant_name((clm_conv_variant)v[0]),
                 clm_conv_variant_name((clm_conv_variant)v[1]),
                 clm_conv_variant_name((clm_conv_variant)v[2]));
    }
    char op[48]; /* fused activation; folded batch norm: only the activation runs, in place */
    snprintf(op, sizeof op, "%s%s", nd->alias ? "folded" : clm_layer_type_name(nd->op),
             nd->op == CLM_LAYER_BATCHNORM && (unsigned)nd->act < 4 ? acts[nd->act] : "");
    fprintf(f, "%-28s %-17s %-22s %10zu  %s%s%s\n", nd->name, op, shape, np, var,
            conv && nd->variant_tuned ? " (tuned)" : "", nd->fold >= 0 ? ", bn folded" : "");
  }
  clm_graph_memory m;
  clm_graph_memory_use(g, &m);
  fprintf(f, "parameters: %zu   activation arena: %.2f MiB   device total: %.2f MiB   host copies: "
          "%.2f MiB\n", total, (double)clm_graph_arena_bytes(g) / (1 << 20),
          (double)clm_graph_device_bytes(g) / (1 << 20), (double)m.host / (1 << 20));
}
