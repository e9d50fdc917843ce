/* Internal layout of a graph: the recorded layers, the nodes they expand into (a conv layer
 * with bn and act becomes conv, batchnorm and activation nodes, or with fusion conv and one
 * batchnorm node carrying the activation), the backward steps built by autograd, and the
 * device buffers the planner laid out. */
#ifndef CLMTL_GRAPH_IMPL_H
#define CLMTL_GRAPH_IMPL_H

#include "clmtl/graph.h"
#include "clmtl/tune.h"
#include "ops/ops.h"

#define CLM_NODE_NAME_MAX 96
#define CLM_NODE_MAX_PARAMS 4
/* Elements one tensor, one flat buffer or the arena may hold: kernels index with int. */
#define CLM_TENSOR_FLOATS_MAX ((size_t)0x7fffffff)
/* Largest kernel size, stride, dilation and padding of a layer (model files allow less). */
#define CLM_LAYER_GEOMETRY_MAX 4096
/* The longest model file clm_graph_load reads. */
#define CLM_MODEL_FILE_MAX ((size_t)16 << 20)

/* A parameter or state tensor owned by a node, as a view into the flat buffers. */
typedef struct clm_param_slot {
  char suffix[24];   /* "weight", "bias", "running_mean", ... */
  int is_state;      /* 1: state buffer (not trained), 0: parameter buffer */
  size_t off;        /* in floats, in its buffer */
  int n, c, h, w;
  int fan_in;        /* for initialisation: uniform in ±1/sqrt(fan_in) (0: a draw of 0) ... */
  int init_const;    /* ... unless 1: every value init_value */
  float init_value;
} clm_param_slot;

typedef struct clm_node {
  char name[CLM_NODE_NAME_MAX];
  clm_layer_type op;            /* CONV and DECONV nodes never carry bn/act: those are nodes */
  int layer;                    /* index of the layer it came from */
  int in[CLM_MAX_INPUTS + 2];   /* resolved input nodes */
  int nin;
  int n, c, h, w;               /* output shape */
  clm_param_slot params[CLM_NODE_MAX_PARAMS];
  int nparams;
  /* planned device tensors (buf NULL when absent) */
  clm_tensor out;               /* forward value; loss nodes: scalar in the scalars buffer */
  clm_tensor aux;               /* maxpool indices, batchnorm saved stats, loss scratch */
  clm_tensor grad;              /* gradient of out */
  clm_tensor ws, ws_bwd;        /* workspaces of the forward and the backward step */
  size_t aux_floats, ws_floats, ws_bwd_floats;
  int aux_shape[4];             /* aux's (N, C, H, W) as the op's shape inference set it */
  int variant[CLM_CONV_PASSES]; /* conv variant per pass, picked by the scheduler */
  int variant_tuned;            /* ... from the device's tuning file */
  clm_activation act;             /* batchnorm: activation fused after it (NONE: none) */
  float slope;                  /* its leaky-relu slope */
  int alias;                    /* batchnorm folded into the conv before it (inference): out is
                                   in[0]'s out, the activation applied in place */
  int fold;                     /* conv/deconv: the folded batchnorm node, else -1 */
  size_t fold_off;              /* with fold >= 0: folded weight (w's shape), then K biases,
                                   in floats in g->folded */
  int requires_grad;            /* out depends on a parameter */
  int feeds_loss;               /* some loss depends on out */
  unsigned losses;              /* bit t: loss t (t < 32) depends on out (autograd) */
  int keep;                     /* value kept after forward (network heads) */
  int loss_index;               /* loss nodes: position among losses, else -1 */
  int bwd_step;                 /* position in the backward order, -1 when none */
  clm_mem own;                  /* input layers: their own buffer (uploads land at offset 0) */
  int accumulate[CLM_MAX_INPUTS + 2]; /* backward: add into input i's gradient, not write */
  int in_grad[CLM_MAX_INPUTS + 2];    /* backward: input i's gradient is needed */
} clm_node;

/* One arena placement, kept after planning so tests can verify no two live tensors overlap. */
typedef struct clm_plan_item {
  size_t off, floats;
  int start, end; /* inclusive steps: forward 0..nnodes-1, then backward */
} clm_plan_item;

struct clm_graph {
  clm_context *ctx;
  clm_layer *layers;
  int nlayers, cap_layers;
  int nlayers_declared;        /* before compile added the losses' implicit target inputs */
  clm_node *nodes;             /* in execution (topological) order after compile */
  int nnodes;
  int *bwd;                    /* node indices in backward execution order */
  int nbwd;
  int *losses;                 /* loss node indices in model order */
  int nlosses;
  size_t task_param_off;       /* first of the losses' task parameters in the params buffer */
  clm_graph_options opt;
  int compiled, training;
  int fuse;                    /* opt.fuse resolved (and the context's fuse): 1 fused, 0 not */
  int folded_stale;            /* folded parameters must be recomputed before a forward */
  int multi_backward;          /* clm_graph_set_multi_backward */
  int loss_temperature;        /* clm_graph_set_loss_temperature */
  int backward_passes;         /* since the last complete forward; -1: none complete */
  /* device memory */
  clm_plan_item *plan;
  int nplan;
  clm_mem arena, params, grads, state, scalars, folded;
  size_t arena_floats, param_floats, state_floats, scalar_floats, folded_floats;
  struct clm_profile *profile; /* profiling mode (profile.c); NULL when off */
  /* the model text it was parsed from (clm_graph_model_text) and that text's file name */
  char *source_text;
  char source_file[256];
  int sources;                 /* texts parsed into this graph */
  int moments;                 /* clm_graph_expect_moments */
};

/* Records the text a parse read (a copy) and its file name; parse.c calls it. */
clm_status clm_graph_set_source(clm_graph *g, const char *filename, const char *text);

/* Bytes a compiled (or planned) graph needs, by where they live. Device: the activation arena,
 * parameters, their gradients (training), optimizer moments (g->moments copies of the
 * parameters, allocated by the caller later), state, folded parameters, loss scalars and the
 * inputs' own buffers. Host: one copy of parameters and state (initialisation, checkpoints)
 * and one of every input (a batch being filled). Every sum saturates at SIZE_MAX. */
typedef struct clm_graph_memory {
  size_t arena, params, grads, moments, state, folded, scalars, inputs;
  size_t device; /* their sum */
  size_t host;
  size_t largest_buffer; /* the largest single device buffer */
} clm_graph_memory;
void clm_graph_memory_use(const clm_graph *g, clm_graph_memory *m);

/* Padding of a conv/deconv layer: explicit, or "same" for conv and 0 for deconv. */
static inline int clm_layer_pad(const clm_layer *l) {
  if (l->pad >= 0) return l->pad;
  return l->type == CLM_LAYER_CONV ? l->dilation * (l->size - 1) / 2 : 0;
}

/* Node index of the layer output named `name` after compile, or -1. */
int clm_graph_find_node(const clm_graph *g, const char *name);

/* "model.cfg:12: layer 'enc1'" for messages about node i (or layer l). */
void clm_graph_where(const clm_graph *g, int layer, char *buf, size_t size);

/* Compile stages, in order (compile.c, autograd.c, planner.c, scheduler.c). */
clm_status clm_graph_build_nodes(clm_graph *g);   /* expand, resolve, sort, shapes, params */
clm_status clm_graph_autograd(clm_graph *g);      /* backward order and accumulate flags */
clm_status clm_graph_schedule(clm_graph *g);      /* kernel variant and workspace per node */
clm_status clm_graph_plan(clm_graph *g);          /* liveness, arena offsets, allocation */

/* Partial backward by node index (exec.c; clm_graph_backward_partial resolves a layer name):
 * stop < 0 runs every step that feeds a loss of loss_mask. */
clm_status clm_graph_backward_nodes(clm_graph *g, unsigned loss_mask, int stop);

/* The tuning file (tuning.c; format in tune.h). */
typedef struct clm_tuning_entry {
  char key[256];     /* clm_conv_shape_key */
  char mode[8];      /* "train" or "infer" */
  int variant[CLM_CONV_PASSES]; /* infer: only [CLM_CONV_FORWARD] counts */
  char comment[512]; /* the measured times */
} clm_tuning_entry;
/* "conv x=NxCxHxW w=KxCxRxS y=NxKxHoxWo stride=1 pad=1 dil=1" for a conv/deconv node. */
void clm_conv_shape_key(const clm_graph *g, const clm_node *nd, char *buf, size_t size);
/* Whether the file at `path` has an entry for key and mode (0: no file, no entry); if so its
 * variant per pass goes to out (an entry naming one variant gives it to every pass). Lines
 * that do not parse are skipped, with a warning to warn's message callback (warn may be NULL). */
int clm_tuning_lookup(const char *path, const char *key, int training, const clm_context *warn,
                      int out[CLM_CONV_PASSES]);
/* Rewrites the device's tuning file with these entries replacing any of the same key and mode. */
clm_status clm_tuning_merge(const clm_context *ctx, const clm_tuning_entry *e, int count);

/* Profiling hooks (profile.c), no-ops while profiling is off. CLM_PROFILED(g, i, pass, expr)
 * evaluates expr, a clm_status expression doing node i's pass, between two queue drains and
 * records its time. clm_profile_mark, called inside a conv/deconv backward step between its
 * two parts, records the time so far as the node's backward_data (when it has one). */
#define CLM_PROFILED(g, i, pass, expr)                                                       \
  ((g)->profile ? (clm_profile_begin(g), clm_profile_end((g), (i), (pass), (expr))) : (expr))
void clm_profile_begin(clm_graph *g);
clm_status clm_profile_end(clm_graph *g, int node, clm_graph_pass pass, clm_status st);
clm_status clm_profile_mark(clm_graph *g, const clm_node *nd);
void clm_profile_free(struct clm_profile *p);

#endif
