/* The op table: one clm_op_def per layer type, holding everything the graph knows about that
 * op (its name, the model-file keys it takes, how many inputs, which of them get gradients,
 * its checks, shape and parameter inference, forward and backward steps, its FLOP and byte
 * cost, and flags such as is_loss). compile.c, autograd.c, planner.c, exec.c, profile.c,
 * parse.c and json.c consult the table instead of switching on the type. The entries live in
 * ops_table.c, one section per op; model-file keys and their value rules in op_keys.c.
 *
 * Adding an op: one entry here (ops_table.c) + its host op (src/ops) + its kernel (cl/) + its
 * reference (tests/ref) + its test. Activation gradients are written (=) or accumulated (+=)
 * as the backward step's `accumulate` flags say; parameter gradients always accumulate. */
#ifndef CLMTL_OP_DEF_H
#define CLMTL_OP_DEF_H

#include <stddef.h>
#include "graph/graph-impl.h"

/* ---- model-file keys (op_keys.c) ------------------------------------------------------- */

typedef enum clm_key_kind {
  CLM_KEY_INT,   /* int field, integer in [lo, hi] */
  CLM_KEY_FLOAT, /* float field, finite number in [lo, hi] */
  CLM_KEY_NAME,  /* char[CLM_NAME_MAX] field: one layer name */
  CLM_KEY_ACT,   /* clm_activation field: relu, leaky, leaky_relu, sigmoid, linear, none */
  CLM_KEY_KIND   /* clm_task_kind field: classification, regression */
} clm_key_kind;

/* One key of a model file and the clm_layer field it sets. The default is the field's value
 * after clm_layer_defaults. */
typedef struct clm_key_def {
  const char *key;
  clm_key_kind kind;
  size_t offset; /* of the field in clm_layer */
  double lo, hi;
} clm_key_def;

/* The key named `key` (aliases included: momentum, eps), or NULL. */
const clm_key_def *clm_key_find(const char *key);
/* Parses `value` into the key's field of l; CLM_ERR_PARSE (with the message set, naming
 * file:line, layer and key) when it is out of range or malformed. */
clm_status clm_key_parse(const clm_key_def *k, const char *value, const char *file, int line,
                         const char *layer, clm_layer *l);
/* Name of an activation as model files write it ("relu", "leaky", "sigmoid", "none"). */
const char *clm_act_name(clm_activation a);

/* ---- ops ----------------------------------------------------------------------------------- */

/* Reads of the backward step beyond dy (for the planner's lifetimes). */
enum { CLM_BWD_READS_OUTPUT_NEVER = 0, CLM_BWD_READS_OUTPUT = 1, CLM_BWD_READS_OUTPUT_IF_ACT = 2 };

typedef struct clm_op_def {
  const char *name;           /* as model files write it */
  const char *const *keys;    /* keys a model file may give besides type and from; NULL-ended */
  int arity;                  /* inputs in 'from': n exactly, or -n: at least n */
  int is_loss;                /* a task's loss: [task.<name>] sections, target and mask inputs,
                                 one task parameter, scalar output */
  int grad_inputs;            /* inputs (leading) that get a gradient; -1: all */
  int always_dx;              /* the backward step computes its input's gradient in any case */
  int expands;                /* conv/deconv: bn and act become nodes <name>.bn and <name>.act */
  int split_backward;         /* the backward step is two timed parts: data, then weight */
  int bwd_reads_inputs;       /* the backward step reads its forward inputs */
  int bwd_reads_output;       /* CLM_BWD_READS_OUTPUT_* */
  int aux_input;              /* reads the aux tensor (indices) of input aux_input, else -1 */
  clm_task_kind task_kind;    /* losses: the default 'kind' */
  int label_target;           /* losses: the target is one channel of class ids (else it has
                                 the prediction's shape) */
  /* Checks of the recorded layer beyond arity and common keys (NULL: none). */
  clm_status (*check)(clm_graph *g, int layer);
  /* Inputs named besides 'from' (unpool's indices, a loss's target and mask), appended to
   * names; returns how many (NULL: none). */
  int (*extra_inputs)(const clm_layer *l, const char **names);
  /* Checks of the resolved inputs, before sorting (NULL: none). */
  clm_status (*check_inputs)(clm_graph *g, const clm_node *nd, const char **names);
  /* Output shape, parameter slots and aux size of a node whose inputs are inferred. */
  clm_status (*infer)(clm_graph *g, clm_node *nd);
  clm_status (*forward)(clm_graph *g, clm_node *nd);
  /* in_grad[j]: input j's gradient is wanted; accumulate[j]: add into it (else write). */
  clm_status (*backward)(clm_graph *g, clm_node *nd, const int *in_grad, const int *accumulate);
  /* 2 x multiply-adds of one pass (NULL: 0), and the floats it reads plus writes (rules in
   * graph.h, clm_op_profile). */
  double (*flop)(const clm_graph *g, const clm_node *nd);
  double (*floats)(const clm_graph *g, const clm_node *nd, clm_graph_pass pass);
} clm_op_def;

/* The entry of layer type t (t < CLM_LAYER_TYPE_COUNT). */
const clm_op_def *clm_op(clm_layer_type t);

/* Parameter k of a node as a view of the parameter, gradient (grad) or state buffer. */
clm_tensor clm_node_param(const clm_graph *g, const clm_node *nd, int k, int grad);
/* The bias view of a conv/deconv node, or an absent tensor when it has none. */
clm_tensor clm_node_bias(const clm_graph *g, const clm_node *nd, int grad);
/* A folded convolution's weight and bias views in g->folded. */
void clm_node_folded(const clm_graph *g, const clm_node *nd, clm_tensor *w, clm_tensor *b);

#endif
