/* Fuzz target: graph compilation. The input bytes drive a generator of layers recorded through
 * the API, past the model file's limits: channel and filter counts up to 2^31-1, kernel sizes,
 * strides, dilations, paddings and output paddings from 0 and -1 to the API's bound, input
 * sizes up to 2^31-1, stacked upsamples and deconvolutions, concat/add/unpool/loss inputs of
 * any shape, and names that collide once conv layers expand ("x.bn", "x.act", duplicates).
 * Each model is compiled as a plan without a device (clm_graph_create(NULL, ...): shapes,
 * autograd, scheduling for a CPU, arena placement, no allocation). Either it is refused with a
 * known status and a message (shape and parse errors name a layer), or it must be consistent:
 * every shape as an independent 64-bit computation from the layer's keys gives it, every tensor
 * within 2^31-1 elements, parameters laid out without gaps or overlaps, tensor names unique,
 * and no two arena tensors alive at the same step sharing memory. Under ASan/UBSan any
 * overflow on the way is a crash. tests/test_graph_props.c runs it on thousands of seeded
 * random inputs in the regular test run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz.h"
#include "graph/graph-impl.h"

/* Inputs compiled and inputs refused so far (tests/test_graph_props.c reports them). */
long fuzz_graph_compiled, fuzz_graph_refused;

typedef struct { const uint8_t *p; size_t n, i; } input;

static unsigned byte(input *in) { return in->i < in->n ? in->p[in->i++] : 0; }

/* Mostly small values, sometimes one of the edges. */
static int pick(input *in, const int *edges, int nedges, int small) {
  unsigned b = byte(in);
  if (b < 232) return 1 + (int)(b % (unsigned)small);
  return edges[b % (unsigned)nedges];
}

#define MAXL 24

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_graph: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  abort();
}

static void check_failure(clm_status st) {
  const char *msg = clm_last_error();
  if (st > CLM_OK || st < CLM_ERR_NUMERIC || !msg[0]) fail("unknown status or no message", msg);
  if ((st == CLM_ERR_SHAPE || st == CLM_ERR_PARSE) && !strstr(msg, "layer '"))
    fail("a shape or parse error that names no layer", msg);
}

/* Output side of a conv / deconv, in 64 bits, as PyTorch defines it. */
static long long conv_side(long long in, const clm_layer *l) {
  long long pad = l->pad >= 0 ? l->pad : (long long)l->dilation * (l->size - 1) / 2;
  long long num = in + 2 * pad - (long long)l->dilation * (l->size - 1) - 1;
  return num < 0 ? -1 : num / l->stride + 1;
}
static long long deconv_side(long long in, const clm_layer *l) {
  long long pad = l->pad >= 0 ? l->pad : 0;
  return (in - 1) * l->stride - 2 * pad + (long long)l->dilation * (l->size - 1) + l->output_padding + 1;
}

static void check_graph(const clm_graph *g) {
  char msg[256];
  for (int i = 0; i < g->nnodes; i++) {
    const clm_node *nd = &g->nodes[i];
    const clm_layer *l = &g->layers[nd->layer];
    long long n = nd->n, c = nd->c, h = nd->h, w = nd->w;
    snprintf(msg, sizeof msg, "node '%s' (%lld,%lld,%lld,%lld)", nd->name, n, c, h, w);
    if (n < 1 || c < 1 || h < 1 || w < 1 || n * c > 0x7fffffffLL || n * c * h > 0x7fffffffLL ||
        n * c * h * w > 0x7fffffffLL)
      fail("shape out of range", msg);
    const clm_node *x = nd->nin > 0 ? &g->nodes[nd->in[0]] : NULL;
    long long eh = h, ew = w, ec = c;
    switch (nd->op) {
    case CLM_LAYER_CONV: eh = conv_side(x->h, l); ew = conv_side(x->w, l); ec = l->filters; break;
    case CLM_LAYER_DECONV: eh = deconv_side(x->h, l); ew = deconv_side(x->w, l); ec = l->filters; break;
    case CLM_LAYER_UPSAMPLE: eh = 2LL * x->h; ew = 2LL * x->w; ec = x->c; break;
    case CLM_LAYER_MAXPOOL: eh = x->h / 2; ew = x->w / 2; ec = x->c; break;
    case CLM_LAYER_CONCAT:
      ec = 0;
      for (int k = 0; k < nd->nin; k++) {
        ec += g->nodes[nd->in[k]].c;
        if (g->nodes[nd->in[k]].h != x->h || g->nodes[nd->in[k]].w != x->w) fail("concat of different sizes", msg);
      }
      eh = x->h; ew = x->w;
      break;
    case CLM_LAYER_ADD: {
      const clm_node *y = &g->nodes[nd->in[1]];
      if (y->c != x->c || y->h != x->h || y->w != x->w) fail("add of different shapes", msg);
      eh = x->h; ew = x->w; ec = x->c;
      break;
    }
    default: break;
    }
    if (eh != h || ew != w || ec != c) fail("shape differs from the 64-bit computation", msg);
  }
  /* parameters: slots tile [0, param_floats) and [0, state_floats) exactly */
  size_t p = 0, s = 0;
  for (int i = 0; i < g->nnodes; i++)
    for (int k = 0; k < g->nodes[i].nparams; k++) {
      const clm_param_slot *ps = &g->nodes[i].params[k];
      size_t numel = (size_t)ps->n * (size_t)ps->c * (size_t)ps->h * (size_t)ps->w;
      size_t lim = ps->is_state ? g->state_floats : g->param_floats;
      if (ps->off > lim || numel > lim - ps->off) fail("parameter slot outside its buffer", g->nodes[i].name);
      if (ps->is_state) s += numel; else p += numel;
    }
  if (p != g->param_floats || s != g->state_floats) fail("parameter layout has gaps or overlaps", NULL);
  if (g->param_floats > CLM_TENSOR_FLOATS_MAX) fail("parameter buffer over 2^31-1 floats", NULL);
  /* tensor names unique */
  for (int i = 0; i < g->nnodes; i++)
    for (int j = i + 1; j < g->nnodes; j++)
      if (!strcmp(g->nodes[i].name, g->nodes[j].name)) fail("two nodes of one name", g->nodes[i].name);
  /* arena: within bounds, no overlap while both alive */
  for (int i = 0; i < g->nplan; i++) {
    const clm_plan_item *a = &g->plan[i];
    if (a->off > g->arena_floats || a->floats > g->arena_floats - a->off) fail("arena tensor out of bounds", NULL);
    for (int j = i + 1; j < g->nplan; j++) {
      const clm_plan_item *b = &g->plan[j];
      if (a->start <= b->end && b->start <= a->end && a->off < b->off + b->floats &&
          b->off < a->off + a->floats)
        fail("two live tensors share arena memory", NULL);
    }
  }
}

static const int channels_e[] = {1, 2, 3, 65536, 0x7fffffff, 0, -1, 1 << 20};
static const int small_e[] = {1, 2, 3, 63, 64, 4096, 4097, 0, -1, 0x7fffffff};
static const int pad_e[] = {-1, 0, 1, 31, 256, 4096, 0x7fffffff, -2};
static const int side_e[] = {1, 2, 3, 5, 4096, 1 << 16, 1 << 22, 0x7fffffff};

static void make_name(input *in, const clm_graph *g, int i, char *out) {
  unsigned b = byte(in);
  int nl = g->nlayers;
  if (b >= 250 && nl > 0) { /* a name that collides: an earlier layer's, or its .bn / .act */
    const char *base = g->layers[byte(in) % (unsigned)nl].name;
    static const char *suffix[] = {"", ".bn", ".act"};
    snprintf(out, CLM_NAME_MAX, "%.50s%s", base, suffix[b % 3]);
  } else if (b >= 240) {
    snprintf(out, CLM_NAME_MAX, "task.t%d", i);
  } else {
    snprintf(out, CLM_NAME_MAX, "l%d", i);
  }
}

static const char *earlier(input *in, const clm_graph *g) {
  return g->nlayers ? g->layers[byte(in) % (unsigned)g->nlayers].name : "nothing";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  input in = {data, size, 0};
  clm_graph *g = NULL;
  if (clm_graph_create(NULL, &g) != CLM_OK) abort();
  clm_graph_options o = {pick(&in, side_e, 8, 4), pick(&in, side_e, 8, 40), pick(&in, side_e, 8, 40),
                         (int)(byte(&in) & 1), -1, (byte(&in) & 1) ? 1 : -1};
  int nl = 1 + (int)(byte(&in) % MAXL);
  clm_clear_error();
  clm_status st = CLM_OK;
  for (int i = 0; i < nl && st == CLM_OK; i++) {
    clm_layer l;
    unsigned t = i == 0 ? CLM_LAYER_INPUT : byte(&in) % CLM_LAYER_TYPE_COUNT;
    int pool = -1; /* the latest maxpool: unpool layers mostly use it */
    for (int k = 0; k < g->nlayers; k++)
      if (g->layers[k].type == CLM_LAYER_MAXPOOL) pool = k;
    if (t == CLM_LAYER_UNPOOL && pool < 0 && byte(&in) < 240) t = CLM_LAYER_MAXPOOL;
    char name[CLM_NAME_MAX];
    make_name(&in, g, i, name);
    if (clm_layer_type_is_loss((clm_layer_type)t)) snprintf(name, sizeof name, "task.l%d", i);
    clm_layer_defaults(&l, (clm_layer_type)t, name);
    switch (t) {
    case CLM_LAYER_INPUT: l.channels = pick(&in, channels_e, 8, 4); break;
    case CLM_LAYER_CONV:
    case CLM_LAYER_DECONV:
      l.filters = pick(&in, channels_e, 8, 8);
      l.size = pick(&in, small_e, 10, 5);
      l.stride = pick(&in, small_e, 10, 3);
      l.dilation = byte(&in) < 200 ? 1 : pick(&in, small_e, 10, 3);
      l.pad = byte(&in) < 128 ? -1 : pick(&in, pad_e, 8, 4) - 1;
      l.output_padding = t != CLM_LAYER_DECONV ? 0 : byte(&in) < 240 ? (int)(byte(&in) % 2) * (l.stride > 1) : (int)(byte(&in) % 4);
      l.bn = (int)(byte(&in) & 1);
      l.act = (clm_activation)(byte(&in) % 4);
      l.bias = (int)(byte(&in) % 3) - 1;
      break;
    case CLM_LAYER_ACTIVATION: l.act = (clm_activation)(byte(&in) < 250 ? 1 + byte(&in) % 3 : 0); break;
    case CLM_LAYER_UNPOOL: { /* mostly the latest maxpool, sometimes any layer */
      const char *idx = earlier(&in, g);
      if (pool >= 0 && byte(&in) < 230) idx = g->layers[pool].name;
      snprintf(l.indices, sizeof l.indices, "%s", idx);
      break;
    }
    case CLM_LAYER_SOFTMAX_XENT:
    case CLM_LAYER_L1:
    case CLM_LAYER_L2:
    case CLM_LAYER_LAPLACE_NLL:
    case CLM_LAYER_GAUSSIAN_NLL:
    case CLM_LAYER_LOGIT_NOISE_XENT:
      snprintf(l.target, sizeof l.target, "%s", byte(&in) < 200 ? "tgt" : earlier(&in, g));
      if (byte(&in) & 1) snprintf(l.mask, sizeof l.mask, "m%d", i);
      break;
    default: break;
    }
    if (t != CLM_LAYER_INPUT) {
      int nfrom = t == CLM_LAYER_CONCAT ? 2 + (int)(byte(&in) % 3)
                  : t == CLM_LAYER_ADD || t == CLM_LAYER_LAPLACE_NLL || t == CLM_LAYER_GAUSSIAN_NLL ||
                  t == CLM_LAYER_LOGIT_NOISE_XENT ? 2 : 1;
      if (byte(&in) > 252) nfrom = (int)(byte(&in) % 10); /* wrong counts too */
      for (int k = 0; k < nfrom && k < CLM_MAX_INPUTS; k++)
        snprintf(l.from[k], CLM_NAME_MAX, "%s", t == CLM_LAYER_UNPOOL && pool >= 0 && byte(&in) < 200
                 ? g->layers[pool].name : earlier(&in, g));
      l.nfrom = nfrom < CLM_MAX_INPUTS ? nfrom : CLM_MAX_INPUTS;
    }
    st = clm_graph_add(g, &l);
  }
  if (st != CLM_OK) {
    check_failure(st);
  } else {
    clm_clear_error();
    st = clm_graph_compile(g, &o);
    if (st != CLM_OK) check_failure(st);
    else check_graph(g);
  }
  if (st == CLM_OK) fuzz_graph_compiled++;
  else fuzz_graph_refused++;
  clm_graph_free(g);
  return 0;
}
