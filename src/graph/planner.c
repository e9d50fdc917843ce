/* The memory planner: every activation, auxiliary tensor, activation gradient and workspace
 * gets a live interval on the step timeline (forward steps, then backward steps) and an
 * offset in one arena buffer, reusing space between tensors whose intervals do not overlap
 * (greedy by size, lowest fitting offset). A graph compiled for inference has no backward
 * steps, so no gradients or backward workspaces, and each activation lives from its forward
 * step to its last forward use (network heads to the end); a folded batch norm shares its
 * convolution's output. A training graph set for several backward passes per forward
 * (clm_graph_set_multi_backward) keeps every forward value a backward step reads (inputs of
 * conv, batch norm and losses, activation outputs, batch-norm saved statistics, pooling
 * indices) to the last backward step, so a later pass never reads memory an earlier pass
 * reused; gradients and backward workspaces are rewritten by each pass and keep their
 * intervals. Then every device buffer of the graph is allocated. Losses' values, counts and
 * seeds live in a separate small scalars buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "graph/op-def.h"

#define ALIGN_FLOATS 16 /* 64-byte alignment of every tensor in the arena */

typedef struct {
  clm_tensor *slot;
  size_t floats, off;
  int start, end; /* inclusive steps */
} plan_item;

static size_t numel_of(const clm_node *nd) { return (size_t)nd->n * nd->c * nd->h * nd->w; }

/* Does backward of `op` read its forward inputs (x for weight gradients, predictions)? */
static int bwd_reads_inputs(clm_layer_type op) { return clm_op(op)->bwd_reads_inputs; }

static int cmp_items(const void *a, const void *b) {
  const plan_item *x = a, *y = b;
  if (x->floats != y->floats) return x->floats < y->floats ? 1 : -1;
  return x->start - y->start;
}

static int cmp_offsets(const void *a, const void *b) {
  const plan_item *x = *(plan_item *const *)a, *y = *(plan_item *const *)b;
  return x->off < y->off ? -1 : x->off > y->off;
}

/* Greedy placement: each item (largest first) at the lowest offset where it fits among the
 * already placed items whose lifetimes overlap its own. */
static clm_status place(plan_item *items, int count, size_t *total) {
  qsort(items, (size_t)count, sizeof *items, cmp_items);
  plan_item **live = malloc(((size_t)count + 1) * sizeof *live);
  if (!live) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  size_t peak = 0;
  for (int i = 0; i < count; i++) {
    int nl = 0;
    for (int j = 0; j < i; j++)
      if (items[j].start <= items[i].end && items[i].start <= items[j].end) live[nl++] = &items[j];
    qsort(live, (size_t)nl, sizeof *live, cmp_offsets);
    size_t off = 0;
    for (int j = 0; j < nl; j++) {
      if (live[j]->off >= off + items[i].floats) break; /* fits in the gap before live[j] */
      size_t end = live[j]->off + live[j]->floats; /* placed earlier: below the peak so far */
      end = (end + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
      if (end > off) off = end;
    }
    size_t end;
    if (!clm_size_add(off, items[i].floats, &end)) {
      free(live); /* beyond any size: the caller refuses it, naming the largest layer */
      *total = SIZE_MAX;
      return CLM_OK;
    }
    items[i].off = off;
    if (end > peak) peak = end;
  }
  free(live);
  *total = peak;
  return CLM_OK;
}

/* Reads its own output in backward (activations, batch norm with a fused activation)? */
static int bwd_reads_output(const clm_node *nd) {
  int r = clm_op(nd->op)->bwd_reads_output;
  return r == CLM_BWD_READS_OUTPUT || (r == CLM_BWD_READS_OUTPUT_IF_ACT && nd->act != CLM_ACTIVATION_NONE);
}

static double gib(size_t bytes) { return (double)bytes / (double)(1u << 30); }

/* The layer whose output and parameters (with gradients and moments) take the most bytes. */
static void largest_layer(const clm_graph *g, char *buf, size_t size) {
  size_t best = 0;
  int pick = -1;
  size_t per_param = 1 + (g->opt.training ? 1 : 0) + (g->moments > 0 ? (size_t)g->moments : 0);
  for (int li = 0; li < g->nlayers; li++) {
    size_t b = 0, r;
    for (int i = 0; i < g->nnodes; i++) {
      const clm_node *nd = &g->nodes[i];
      if (nd->layer != li) continue;
      clm_size_add(b, clm_numel4(nd->n, nd->c, nd->h, nd->w), &b);
      for (int k = 0; k < nd->nparams; k++) {
        const clm_param_slot *p = &nd->params[k];
        clm_size_mul(clm_numel4(p->n, p->c, p->h, p->w), per_param, &r);
        clm_size_add(b, r, &b);
      }
    }
    if (b >= best) { best = b; pick = li; }
  }
  if (pick < 0) { snprintf(buf, size, "none"); return; }
  char where[400];
  clm_graph_where(g, pick, where, sizeof where);
  size_t bytes;
  clm_size_mul(best, sizeof(float), &bytes);
  snprintf(buf, size, "%s (%s, output and parameters %.2f GiB)", where,
           clm_layer_type_name(g->layers[pick].type), gib(bytes));
}

/* The plan against the device's budget (runtime-impl.h), before anything is allocated. Leaves
 * 1/8 of shared host memory (at most 1 GiB) to the driver, the kernels and the program. */
static clm_status check_budget(clm_graph *g) {
  clm_graph_memory m;
  clm_graph_memory_use(g, &m);
  clm_memory_budget b;
  clm_memory_budget_get(g->ctx, &b);
  const char *dev = g->ctx->info.name;
  char big[600], detail[400];
  int copies = 1 + (m.grads > 0) + (g->moments > 0 ? g->moments : 0);
  snprintf(detail, sizeof detail, "activations %.2f GiB, parameters %.2f GiB x %d (%s), inputs "
           "%.2f GiB, host copies %.2f GiB", gib(m.arena), gib(m.params), copies,
           copies == 1 ? "no gradients" : m.moments ? "with gradients and optimizer moments"
                                                    : "with gradients", gib(m.inputs), gib(m.host));
  uint64_t host = b.host_available;
  if (host != UINT64_MAX) {
    uint64_t keep = host / 8 < (1ull << 30) ? host / 8 : (1ull << 30);
    host -= keep;
  }
  size_t need = m.host;
  const char *what = "host memory";
  uint64_t avail = host;
  if (b.shares_host) {
    clm_size_add(m.device, m.host, &need);
    what = "memory (device buffers are host memory here)";
  } else if (m.device > b.device_global) {
    largest_layer(g, big, sizeof big);
    CLM_FAIL(CLM_ERR_DEVICE_MEMORY, "%s%sthe graph needs %zu bytes of device memory (%s) but %s has "
             "%llu; largest layer: %s; use a smaller batch or resolution", g->source_file,
             g->source_file[0] ? ": " : "", m.device, detail, dev,
             (unsigned long long)b.device_global, big);
  }
  if (need > avail) {
    largest_layer(g, big, sizeof big);
    CLM_FAIL(CLM_ERR_DEVICE_MEMORY, "%s%sthe graph needs %zu bytes (%.2f GiB) of %s (%s) but "
             "%llu (%.2f GiB) are available (%s, less headroom) for %s; largest layer: %s; use a "
             "smaller batch or resolution", g->source_file, g->source_file[0] ? ": " : "", need,
             gib(need), what, detail, (unsigned long long)avail, gib((size_t)avail), b.host_source,
             dev, big);
  }
  if (m.largest_buffer > b.device_max_alloc) {
    largest_layer(g, big, sizeof big);
    CLM_FAIL(CLM_ERR_DEVICE_MEMORY, "%s%sone buffer of the graph needs %zu bytes (%s) but %s "
             "allocates at most %llu at once; largest layer: %s; use a smaller batch or resolution",
             g->source_file, g->source_file[0] ? ": " : "", m.largest_buffer, detail, dev,
             (unsigned long long)b.device_max_alloc, big);
  }
  return CLM_OK;
}

static clm_status alloc_buffers(clm_graph *g) {
  clm_context *ctx = g->ctx;
  /* inference reads its results from the arena: host-mappable where memory is unified */
  if (g->training) CLM_TRY(clm_buffer_alloc(ctx, g->arena_floats, &g->arena));
  else CLM_TRY(clm_buffer_alloc_host(ctx, g->arena_floats, &g->arena));
  CLM_TRY(clm_buffer_alloc(ctx, g->param_floats, &g->params));
  if (g->training) CLM_TRY(clm_buffer_alloc(ctx, g->param_floats, &g->grads));
  CLM_TRY(clm_buffer_alloc(ctx, g->state_floats, &g->state));
  if (g->folded_floats) CLM_TRY(clm_buffer_alloc(ctx, g->folded_floats, &g->folded));
  g->scalar_floats = 3 * (size_t)g->nlosses;
  CLM_TRY(clm_buffer_alloc(ctx, g->scalar_floats, &g->scalars));
  for (int i = 0; i < g->nlosses; i++) {
    clm_tensor seed = clm_graph_loss_seed(g, i);
    CLM_TRY(clm_tensor_fill(ctx, &seed, 1.0f));
  }
  return CLM_OK;
}

clm_status clm_graph_set_multi_backward(clm_graph *g, int on) {
  if (!g) CLM_FAIL(CLM_ERR_INVALID_ARG, "multi_backward: graph missing");
  if (g->compiled)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "multi_backward must be set before clm_graph_compile: the "
             "planner decides activation lifetimes");
  g->multi_backward = on != 0;
  return CLM_OK;
}

#define BWD(i) (g->nodes[i].bwd_step >= 0 ? n + g->nodes[i].bwd_step : -1)
#define READ_BY_BWD(i) (multi ? end : BWD(i)) /* last step a backward read at BWD(i) needs */

/* last_use[i]: the last step that reads node i's output (-1: none planned: losses, inputs),
 * and nd->keep for the outputs that stay readable after forward. multi: several backward
 * passes per forward (a value a backward step reads lives to the end). */
static void output_lifetimes(clm_graph *g, int multi, int *last_use) {
  int n = g->nnodes, end = n + g->nbwd;
  for (int i = 0; i < n; i++) {
    clm_node *nd = &g->nodes[i];
    /* heads: outputs read only by losses (or by nothing) stay readable after forward */
    int consumers = 0, non_loss = 0;
    for (int j = i + 1; j < n; j++)
      for (int k = 0; k < g->nodes[j].nin; k++)
        if (g->nodes[j].in[k] == i) { consumers++; non_loss += g->nodes[j].loss_index < 0; }
    nd->keep = nd->op == CLM_LAYER_INPUT || non_loss == 0 || consumers == 0;
    last_use[i] = -1;
    if (nd->loss_index < 0 && nd->op != CLM_LAYER_INPUT) {
      int last = i;
      for (int j = i + 1; j < n; j++)
        for (int k = 0; k < g->nodes[j].nin; k++) {
          if (g->nodes[j].in[k] != i) continue;
          if (j > last) last = j;
          if (BWD(j) > last && bwd_reads_inputs(g->nodes[j].op)) last = READ_BY_BWD(j);
        }
      if (bwd_reads_output(nd) && BWD(i) > last) last = READ_BY_BWD(i);
      if (nd->keep) last = end;
      last_use[i] = last;
    }
  }
  /* a folded batch norm works in place on its convolution's output: one tensor for both */
  for (int i = n - 1; i >= 0; i--) {
    int r = g->nodes[i].in[0];
    if (g->nodes[i].alias && last_use[i] > last_use[r]) last_use[r] = last_use[i];
  }
}

/* Every tensor of the arena with its live interval, into items (room for 5 per node): node
 * outputs (last_use), auxiliary tensors, forward and backward workspaces, activation
 * gradients. Returns the count. */
static int arena_items(clm_graph *g, int multi, const int *last_use, plan_item *items) {
  int n = g->nnodes, end = n + g->nbwd, count = 0;
#define ADD(slot_, floats_, s_, e_)                                                          \
  do {                                                                                       \
    items[count].slot = (slot_);                                                             \
    items[count].floats = (floats_);                                                         \
    items[count].start = (s_);                                                               \
    items[count].end = (e_);                                                                 \
    count++;                                                                                 \
  } while (0)
  for (int i = 0; i < n; i++) {
    clm_node *nd = &g->nodes[i];
    if (last_use[i] >= 0 && !nd->alias) ADD(&nd->out, numel_of(nd), i, last_use[i]);
    if (nd->aux_floats) {
      int last = nd->loss_index >= 0 ? i : (BWD(i) > i ? READ_BY_BWD(i) : i);
      for (int j = i + 1; j < n; j++) { /* ops reading it (unpool reads pooling indices) */
        int a = clm_op(g->nodes[j].op)->aux_input;
        if (a < 0 || a >= g->nodes[j].nin || g->nodes[j].in[a] != i) continue;
        if (j > last) last = j;
        if (BWD(j) > last) last = READ_BY_BWD(j);
      }
      ADD(&nd->aux, nd->aux_floats, i, last);
    }
    if (nd->ws_floats) ADD(&nd->ws, nd->ws_floats, i, i);
    if (nd->ws_bwd_floats && BWD(i) >= 0) ADD(&nd->ws_bwd, nd->ws_bwd_floats, BWD(i), BWD(i));
    /* gradient of out: from the first consumer's backward step to this node's own */
    int first = -1;
    for (int j = i + 1; j < n; j++)
      for (int k = 0; k < g->nodes[j].nin; k++)
        if (g->nodes[j].in[k] == i && g->nodes[j].in_grad[k] && BWD(j) >= 0)
          if (first < 0 || BWD(j) < first) first = BWD(j);
    if (first >= 0 && nd->loss_index < 0) {
      int last = BWD(i) > first ? BWD(i) : first;
      ADD(&nd->grad, numel_of(nd), first, last);
    }
  }
#undef ADD
  return count;
}
#undef READ_BY_BWD
#undef BWD

/* Offsets for the items in one arena; its aligned size into g->arena_floats. */
static clm_status place_arena(clm_graph *g, plan_item *items, int count) {
  CLM_TRY(place(items, count, &g->arena_floats));
  if (g->arena_floats > CLM_TENSOR_FLOATS_MAX - ALIGN_FLOATS) {
    char big[600];
    largest_layer(g, big, sizeof big);
    CLM_FAIL(CLM_ERR_DEVICE_MEMORY, "%s%sthe activation arena needs %zu floats (%.2f GiB), more "
             "than the %zu floats kernels can index; largest layer: %s; use a smaller batch or "
             "resolution", g->source_file, g->source_file[0] ? ": " : "", g->arena_floats,
             gib(g->arena_floats * sizeof(float)), (size_t)CLM_TENSOR_FLOATS_MAX, big);
  }
  g->arena_floats = (g->arena_floats + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
  g->scalar_floats = 3 * (size_t)g->nlosses;
  return CLM_OK;
}

/* The placements kept in g->plan; with the arena allocated, each item's tensor becomes its
 * view of it. */
static clm_status record_plan(clm_graph *g, const plan_item *items, int count) {
  g->plan = malloc(((size_t)count + 1) * sizeof *g->plan);
  if (!g->plan) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  g->nplan = count;
  for (int i = 0; i < count; i++) {
    if (g->arena) *items[i].slot = clm_tensor_view(g->arena, items[i].off, 1, 1, 1, (int)items[i].floats);
    g->plan[i] = (clm_plan_item){items[i].off, items[i].floats, items[i].start, items[i].end};
  }
  return CLM_OK;
}

/* After allocation: activations and gradients get their shapes; inputs, uploaded every step,
 * get a buffer of their own (host-mappable where memory is unified). */
static clm_status shape_tensors(clm_graph *g) {
  for (int i = 0; i < g->nnodes; i++) {
    clm_node *nd = &g->nodes[i];
    nd->aux.n = nd->aux_shape[0]; nd->aux.c = nd->aux_shape[1]; /* as the op's infer set it */
    nd->aux.h = nd->aux_shape[2]; nd->aux.w = nd->aux_shape[3];
    if (nd->loss_index >= 0) {
      nd->out = clm_graph_loss_value(g, nd->loss_index);
      continue;
    }
    if (nd->op == CLM_LAYER_INPUT) {
      CLM_TRY(clm_buffer_alloc_host(g->ctx, numel_of(nd), &nd->own));
      nd->out = clm_tensor_view(nd->own, 0, 1, 1, 1, 1);
    }
    if (nd->alias) nd->out = g->nodes[nd->in[0]].out; /* planned above: in[0] < i */
    nd->out.n = nd->n; nd->out.c = nd->c; nd->out.h = nd->h; nd->out.w = nd->w;
    if (nd->grad.buf) { nd->grad.n = nd->n; nd->grad.c = nd->c; nd->grad.h = nd->h; nd->grad.w = nd->w; }
  }
  return CLM_OK;
}

/* Planning (lifetimes, placement: no device needed), then, with a context, allocation. */
clm_status clm_graph_plan(clm_graph *g) {
  int n = g->nnodes;
  /* several backward passes per forward: a value read by a backward step must survive every
   * later step of the first pass, so it lives to the end (ends after its last read else) */
  int multi = g->training && g->multi_backward;
  g->backward_passes = -1;
  plan_item *items = calloc((size_t)n * 5 + 1, sizeof *items);
  if (!items) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  int *last_use = malloc(((size_t)n + 1) * sizeof *last_use);
  if (!last_use) { free(items); CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory"); }
  output_lifetimes(g, multi, last_use);
  int count = arena_items(g, multi, last_use, items);
  free(last_use);
  clm_status st = place_arena(g, items, count);
  if (st == CLM_OK && g->ctx) st = check_budget(g);
  if (st == CLM_OK && g->ctx) st = alloc_buffers(g);
  if (st == CLM_OK) st = record_plan(g, items, count);
  free(items);
  if (st == CLM_OK && g->ctx) st = shape_tensors(g);
  return st;
}
