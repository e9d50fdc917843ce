/* Networks as graphs of named layers. Layers are recorded (by the constructors below or from
 * a models/NAME.cfg file) and refer to their inputs by name; clm_graph_compile resolves names,
 * orders the layers, infers shapes, builds the backward pass, plans device memory and
 * allocates it. Then forward/backward run the whole graph as OpenCL kernels.
 *
 * Device memory of a compiled graph: one arena for activations, gradients of activations and
 * workspaces (reused by liveness); one flat buffer each for parameters, their gradients
 * (same layout) and non-trained state (batch-norm running statistics); a small buffer of
 * scalars (loss values, valid counts, gradient seeds). */
#ifndef CLMTL_GRAPH_H
#define CLMTL_GRAPH_H

#include "clmtl/tensor.h"
#include "clmtl/kinds.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLM_MAX_INPUTS 8
#define CLM_NAME_MAX 64
/* The longest name of a tensor in a graph's state dict ("enc1.bn.running_mean"), NUL included. */
#define CLM_TENSOR_NAME_MAX 128

typedef enum clm_layer_type {
  CLM_LAYER_INPUT = 0, /* data: image, labels, targets, masks */
  CLM_LAYER_CONV,      /* conv2d [+ batch norm] [+ activation] */
  CLM_LAYER_DECONV,    /* transposed conv2d [+ batch norm] [+ activation] */
  CLM_LAYER_BATCHNORM,
  CLM_LAYER_ACTIVATION,
  CLM_LAYER_MAXPOOL,   /* 2x2, stride 2, keeps argmax indices */
  CLM_LAYER_UNPOOL,    /* 2x2 max-unpool with the indices of a maxpool layer */
  CLM_LAYER_UPSAMPLE,  /* bilinear x2 */
  CLM_LAYER_CONCAT,    /* along channels */
  CLM_LAYER_ADD,
  CLM_LAYER_SOFTMAX_XENT, /* loss: from = logits, target = labels input */
  CLM_LAYER_L1,           /* loss: from = prediction, target, optional mask */
  CLM_LAYER_L2,
  CLM_LAYER_LAPLACE_NLL,  /* loss: from = prediction, log-variance; target, optional mask */
  CLM_LAYER_GAUSSIAN_NLL, /* the same with a Gaussian likelihood (L2) */
  CLM_LAYER_LOGIT_NOISE_XENT, /* loss: from = logits, log-variance (1 channel); target labels */
  CLM_LAYER_TYPE_COUNT
} clm_layer_type;

/* One layer as recorded. Zero-initialise and set what applies; the defaults are noted. */
typedef struct clm_layer {
  char name[CLM_NAME_MAX];
  clm_layer_type type;
  char from[CLM_MAX_INPUTS][CLM_NAME_MAX]; /* inputs by layer name */
  int nfrom;
  int channels;            /* input: channels */
  int filters;             /* conv/deconv: output channels */
  int size;                /* conv/deconv: square kernel size */
  int stride;              /* default 1 */
  int pad;                 /* default -1: "same" = dilation*(size-1)/2 for conv, 0 for deconv */
  int dilation;            /* default 1 */
  int output_padding;      /* deconv */
  int bias;                /* default -1: on unless bn */
  int bn;                  /* conv/deconv: batch norm after */
  clm_activation act;        /* conv/deconv/activation */
  float slope;             /* leaky relu, default 0.1 */
  float bn_momentum;       /* default 0.1 */
  float bn_eps;            /* default 1e-5 */
  char indices[CLM_NAME_MAX]; /* unpool: the maxpool layer whose indices it uses */
  /* losses */
  char target[CLM_NAME_MAX];  /* name of the target input (created if absent) */
  char mask[CLM_NAME_MAX];    /* optional validity mask input (regression) */
  int ignore;                 /* softmax_xent ignore label, default 255 */
  clm_task_kind kind;
  float weight;               /* task weight for fixed weighting and validation, default 1 */
  /* where it came from, for error messages */
  char file[256];
  int line;
} clm_layer;

/* Layer type names as written in model files ("conv", "softmax_xent", ...). */
CLMTL_API const char *clm_layer_type_name(clm_layer_type t);
/* Whether layers of type t are a task's loss ([task.<name>] sections; softmax_xent, l1, l2). */
CLMTL_API int clm_layer_type_is_loss(clm_layer_type t);
/* Whether t is a loss whose target is class labels (softmax_xent, logit_noise_xent). */
CLMTL_API int clm_layer_type_takes_labels(clm_layer_type t);

typedef struct clm_graph clm_graph;

CLMTL_API clm_status clm_graph_create(clm_context *ctx, clm_graph **out);
CLMTL_API void clm_graph_free(clm_graph *g);

/* Records a layer (a copy is kept). A duplicate name is an error. Unset fields take their
 * defaults at compile time. */
CLMTL_API clm_status clm_graph_add(clm_graph *g, const clm_layer *layer);
/* Fills *l with the defaults for `type`. */
CLMTL_API void clm_layer_defaults(clm_layer *l, clm_layer_type type, const char *name);

/* Constructors for the common layers (thin wrappers around clm_graph_add). */
CLMTL_API clm_status clm_graph_input(clm_graph *g, const char *name, int channels);
CLMTL_API clm_status clm_graph_conv(clm_graph *g, const char *name, const char *from, int filters,
                          int size, int stride, int bn, clm_activation act);
CLMTL_API clm_status clm_graph_maxpool(clm_graph *g, const char *name, const char *from);
CLMTL_API clm_status clm_graph_upsample(clm_graph *g, const char *name, const char *from);
CLMTL_API clm_status clm_graph_concat(clm_graph *g, const char *name, const char *a, const char *b);
CLMTL_API clm_status clm_graph_loss(clm_graph *g, const char *name, clm_layer_type type, const char *from,
                          const char *target, const char *mask);

/* Reads layers from a model file (INI; format in the README). Errors name file, line, key.
 * The path must be a regular file or a pipe (`<(...)`, /dev/stdin), read once: take the text
 * from clm_graph_model_text afterwards rather than reading the path again. */
CLMTL_API clm_status clm_graph_load(clm_graph *g, const char *path);
/* Same from text in memory; `filename` is used in messages. */
CLMTL_API clm_status clm_graph_parse(clm_graph *g, const char *text, const char *filename);
/* The model text the graph was read from by clm_graph_load / clm_graph_parse, byte for byte,
 * and the file name given with it; NULL (and "") for a graph built with the constructors or
 * from more than one text. Valid while the graph lives. */
CLMTL_API const char *clm_graph_model_text(const clm_graph *g);
CLMTL_API const char *clm_graph_model_file(const clm_graph *g);

typedef struct clm_graph_options {
  int batch, height, width; /* input resolution */
  int training;             /* build the backward pass and gradient buffers */
  int conv_variant;         /* -1: the scheduler decides; else a clm_conv_variant */
  int fuse;                 /* 0: the context's fuse option (on by default), 1: on, -1: off */
} clm_graph_options;

/* Before clm_graph_compile of a training graph: whether several backward passes may follow
 * one forward (per-task gradients: GradNorm, PCGrad, MGDA...; 0 by default). On, the planner
 * keeps every value a backward step reads (activations, batch-norm saved statistics, pooling
 * indices) alive until the last backward step, so each backward pass reads the same forward
 * values, at the cost of reusing less arena memory (clm_graph_arena_bytes tells). Off, one
 * backward per forward and the least memory. CLM_ERR_INVALID_ARG once compiled. */
CLMTL_API clm_status clm_graph_set_multi_backward(clm_graph *g, int on);

/* Before clm_graph_compile: the seed compile initialises the parameters from
 * (clm_graph_init_params; 0 by default). */
CLMTL_API void clm_graph_set_seed(clm_graph *g, unsigned long long seed);

/* Before clm_graph_compile: the caller will allocate `count` more parameter-sized buffers
 * (optimizer moments: Adam 2, SGD with momentum 1), to be counted in compile's memory check. */
CLMTL_API void clm_graph_expect_moments(clm_graph *g, int count);

/* Resolves, orders, infers shapes, (training) builds the backward pass, plans memory, checks
 * the plan against the device's memory budget and allocates every device buffer. Shapes and
 * sizes are computed without overflow: a tensor over 2^31-1 elements is CLM_ERR_SHAPE naming
 * the layer. The budget: on CPU devices and devices with unified host memory, device buffers
 * and host copies together must fit the memory the process can still take (MemAvailable and
 * the cgroup limit, less 1/8 headroom; the context's memory_limit caps it); elsewhere device buffers
 * must fit global memory and host copies host memory; every buffer must fit the largest
 * allocation. Otherwise CLM_ERR_DEVICE_MEMORY stating the bytes needed and available and the
 * largest layer, before anything is allocated. A graph created without a context
 * (clm_graph_create(NULL, ...)) is planned but not allocated: shapes, parameter layout and
 * arena placement for a CPU device, with no budget check; only the accessors of shapes and
 * sizes (clm_graph_print, clm_graph_device_bytes, ...) may be used on it. Parameters are initialised as PyTorch does, from the seed clm_graph_set_seed gave (0 by default)
 * via clm_graph_init_params. May be called once per graph.
 *
 * Fusion (opt->fuse): a conv/deconv layer with bn and act runs batch norm and its activation
 * as one node, one kernel pass each way, and stores no batch-norm output; results agree with
 * the unfused graph up to float rounding. In a graph compiled for inference (training = 0)
 * batch norm is moreover folded into the convolution's weights and bias (see
 * clm_graph_prepare_inference) and the activation runs in place on the convolution's output,
 * so batch norm costs neither memory nor a pass over the data. Such a graph cannot run batch
 * norm in training mode (clm_graph_set_training(g, 1)): compile with fuse = -1 for that.
 * Fusion off gives the conv, batch-norm and activation nodes as written, for comparisons. */
CLMTL_API clm_status clm_graph_compile(clm_graph *g, const clm_graph_options *opt);

/* Inference graphs with folded batch norm: computes, on the device, each folded convolution's
 * weights w' = w·γ/√(var+ε) and bias b' = (b − mean)·γ/√(var+ε) + β (b = 0 without a bias)
 * from the parameters and running statistics, into a buffer of their own. Call it after
 * changing parameters or running statistics through views (clm_graph_params, clm_graph_state,
 * clm_graph_named). clm_graph_init_params and clm_checkpoint_load mark the folded values stale
 * instead, and the next clm_graph_forward recomputes them. Does nothing in other graphs. */
CLMTL_API clm_status clm_graph_prepare_inference(clm_graph *g);

/* PyTorch-default initialisation (Kaiming-uniform weights, uniform biases, BN 1/0, running
 * statistics 0/1), deterministic from seed. */
CLMTL_API clm_status clm_graph_init_params(clm_graph *g, uint64_t seed);

/* Batch-norm mode: training statistics (1) or running statistics (0). Default: training
 * when compiled for training. An inference graph with folded batch norm only runs with 0. */
CLMTL_API void clm_graph_set_training(clm_graph *g, int training);

/* Device tensor of a layer's output (inputs included: upload data there). */
CLMTL_API clm_status clm_graph_tensor(clm_graph *g, const char *layer, clm_tensor *out);
/* Copies host data into an input (or any stored) tensor. On devices with unified host memory
 * (CPUs, integrated GPUs) input buffers, and in inference graphs the activation arena, are
 * host-mappable (CL_MEM_ALLOC_HOST_PTR): this and clm_tensor_download of the outputs then go
 * through map/unmap, without a copy to or from a staging buffer. */
CLMTL_API clm_status clm_graph_set_input(clm_graph *g, const char *layer, const float *host);

CLMTL_API clm_status clm_graph_forward(clm_graph *g);
/* Sets every parameter gradient to 0 (they accumulate during backward). */
CLMTL_API clm_status clm_graph_zero_grad(clm_graph *g);
/* Backward from every loss layer, each seeded with its seed scalar (1 unless changed through
 * clm_graph_loss_seed or by a device kernel). Parameter gradients accumulate. A backward must
 * follow a complete forward. Without clm_graph_set_multi_backward the planner reuses an activation's
 * memory after its last backward use, so only one backward (whole or partial) may follow each
 * forward: a second one is CLM_ERR_INVALID_ARG. With clm_graph_set_multi_backward any number may, each
 * reading the same forward values; batch-norm running statistics are updated by the forward
 * only, so once per forward however many backward passes follow. */
CLMTL_API clm_status clm_graph_backward(clm_graph *g);

/* Part of the backward pass, for per-task gradients: runs, in backward order, the steps of the
 * nodes that depend on layer `down_to` (its parameter-carrying node, e.g. the convolution of
 * a conv+bn+act layer; the node itself included) and feed a loss whose bit is set in
 * loss_mask (bit i: loss i, seeded with its seed scalar). Losses outside the mask count as
 * seeded 0. Parameter gradients of those nodes accumulate (+=), down_to's weight and bias
 * included; the gradient of down_to's input is not computed. down_to NULL: every node that
 * feeds a loss of the mask. Same rules as clm_graph_backward on how many may follow one
 * forward. E.g. GradNorm: per task i, zero the shared layer's weight gradient, then
 * clm_graph_backward_partial(g, 1u << i, "dec1") gives ∇_W (seed_i·L_i). */
CLMTL_API clm_status clm_graph_backward_partial(clm_graph *g, unsigned loss_mask, const char *down_to);

/* Every recorded layer, in model order (implicit target inputs included after compile). */
CLMTL_API int clm_graph_layer_count(const clm_graph *g);
CLMTL_API const clm_layer *clm_graph_layer(const clm_graph *g, int i);

/* Loss layers, in model order. */
CLMTL_API int clm_graph_loss_count(const clm_graph *g);
CLMTL_API const clm_layer *clm_graph_loss_layer(const clm_graph *g, int i);
/* Device scalars of loss i: its value (mean over valid targets), valid count and seed. */
CLMTL_API clm_tensor clm_graph_loss_value(const clm_graph *g, int i);
CLMTL_API clm_tensor clm_graph_loss_count_tensor(const clm_graph *g, int i);
CLMTL_API clm_tensor clm_graph_loss_seed(const clm_graph *g, int i);

/* Each loss layer owns one task parameter ("task.<name>.task_param") used by the multi-task
 * weighting (mtl.h): s = log σ² for the uncertainty strategies, u for softplus, the weight for
 * GradNorm and DWA. The K of them are contiguous in the parameter buffer, in loss order, so the
 * optimizer updates them with everything else. Views (1,1,1,K) into params and grads: */
CLMTL_API clm_tensor clm_graph_task_params(const clm_graph *g);
CLMTL_API clm_tensor clm_graph_task_grads(const clm_graph *g);

/* Flat parameter, gradient and state buffers as (1,1,1,n) views. */
CLMTL_API clm_tensor clm_graph_params(const clm_graph *g);
CLMTL_API clm_tensor clm_graph_grads(const clm_graph *g);
CLMTL_API clm_tensor clm_graph_state(const clm_graph *g);

/* Named tensors of the graph for checkpoints: parameters ("enc1.weight", "enc1.bn.bias") and
 * state ("enc1.bn.running_mean"). *is_param tells which buffer the view lies in. */
CLMTL_API int clm_graph_named_count(const clm_graph *g);
CLMTL_API clm_status clm_graph_named(const clm_graph *g, int i, const char **name, clm_tensor *view,
                           int *is_param);

/* ---- accessors for the engine's other rooms (src/graph/access.c) -------------------------
 * What the weighting, the optimizer set-up, checkpoints and evaluation need to know about a
 * compiled graph, without its internal layout. */

/* The context the graph was created with (NULL for a graph planned without one). */
CLMTL_API clm_context *clm_graph_context(const clm_graph *g);
/* Whether clm_graph_compile succeeded (1) or not (0). */
CLMTL_API int clm_graph_is_compiled(const clm_graph *g);
/* The batch-norm mode clm_graph_set_training last set (1: training statistics). */
CLMTL_API int clm_graph_training(const clm_graph *g);
/* Whether clm_graph_set_multi_backward(g, 1) was called. */
CLMTL_API int clm_graph_multi_backward(const clm_graph *g);
/* With on, a training graph's softmax_xent losses use their task parameter s (log σ²) as a
 * temperature: -log softmax(f e^{-s})[label] (Kendall et al. 2018's exact classification
 * likelihood, the uncertainty-exact weighting), and their backward adds dL/ds into the task
 * parameter's gradient. Off by default; evaluation (clm_graph_set_training(g, 0)) never uses
 * it. May change at any time. */
CLMTL_API void clm_graph_set_loss_temperature(clm_graph *g, int on);
/* The device scalars of every loss as one (1,1,1,3K) view: loss i's value at 3i, its valid
 * count at 3i+1, its seed at 3i+2. */
CLMTL_API clm_tensor clm_graph_loss_scalars(const clm_graph *g);
/* Parameters or running statistics were changed behind the graph's back (a checkpoint
 * loaded into the views): an inference graph refolds batch norm at its next forward. */
CLMTL_API void clm_graph_params_changed(clm_graph *g);

/* One entry of the graph's state dict, clm_graph_named's index order. */
typedef struct clm_named_tensor {
  const char *name;   /* "enc1.weight", "enc1.bn.running_mean"; valid until the next call */
  const char *suffix; /* "weight", "bias", "running_mean", ... */
  int node;           /* the node that owns it (clm_graph_node) */
  clm_layer_type op;  /* that node's op: conv/deconv weights are 4-D in a state dict */
  int is_param;       /* 1: in the parameter buffer (trained), 0: in the state buffer */
  int is_task_param;  /* a loss's task parameter (mtl.h): never weight-decayed */
  clm_tensor view;    /* into clm_graph_params (is_param) or clm_graph_state; the gradient
                         lies at the same offset in clm_graph_grads */
} clm_named_tensor;
CLMTL_API clm_status clm_graph_named_info(const clm_graph *g, int i, clm_named_tensor *out);

/* The nodes a compiled graph runs, in execution order (a conv layer with bn and act is a conv
 * node and a batch-norm node "<layer>.bn" ...). */
typedef struct clm_graph_node_info {
  const char *name;       /* valid while the graph lives */
  clm_layer_type op;
  int n, c, h, w;         /* output shape */
  const int *inputs;      /* node indices, ninputs of them */
  int ninputs;
  int loss;               /* its position among the losses, -1 for other nodes */
  int in_backward;        /* a backward step runs for it (training graphs) */
  unsigned losses;        /* training graphs: bit t set when loss t (t < 32) depends on it */
  clm_tensor grad;        /* gradient of its output (buf NULL when there is none) */
  int first_named, nnamed;/* its parameters and state among clm_graph_named_info */
} clm_graph_node_info;
CLMTL_API int clm_graph_node_count(const clm_graph *g);
CLMTL_API clm_status clm_graph_node(const clm_graph *g, int i, clm_graph_node_info *out);

/* The last convolution (or transposed convolution) node two or more losses depend on, the
 * "last shared layer" GradNorm balances: its node index, or -1 when there is none. */
CLMTL_API int clm_graph_last_shared_conv(const clm_graph *g);

/* clm_graph_backward_partial by node index: node < 0 runs every step feeding a loss of
 * loss_mask; otherwise the steps down to that node (which needs no parameters here). */
CLMTL_API clm_status clm_graph_backward_to_node(clm_graph *g, unsigned loss_mask, int node);

/* Peak bytes of the activation arena and the total of every device buffer of the graph. */
CLMTL_API size_t clm_graph_arena_bytes(const clm_graph *g);
CLMTL_API size_t clm_graph_device_bytes(const clm_graph *g);

/* The compiled (or planned, clm_graph_create(NULL, ...)) graph as JSON text, for tools that
 * read models without re-implementing the parser and shape rules: "batch", "height", "width";
 * "layers" in model order, each with "name", "type", "is_loss", "implicit" (a loss's target or
 * mask input added at compile), "file", "line", "from", "keys" (every key its type takes, with
 * its effective value: defaults filled in; conv/deconv also "pad_effective" and "has_bias"),
 * "shape" (N,C,H,W of its output), "nodes" (name, op, shape) and "parameters"; "order" (layer
 * names in execution order); "parameters" (every parameter and state tensor: "name", "shape",
 * "state"), "parameter_count" (task parameters included), "state_count"; "tasks" in loss order
 * ("name", "type", "kind", "prediction", "target", "mask" or null, "channels", "classes" for
 * class labels, "weight"). *out is malloc'ed: the caller frees it. */
CLMTL_API clm_status clm_graph_json(const clm_graph *g, char **out);

/* Human-readable summary: layers, shapes, parameters, kernel variants, memory. */
CLMTL_API void clm_graph_print(const clm_graph *g, void *file /* FILE* */);

/* ---- profiling (src/graph/profile.c) ------------------------------------------------------ */

/* What part of a node's work a time belongs to. A conv/deconv backward step is two parts. */
typedef enum clm_graph_pass {
  CLM_PASS_FORWARD = 0,
  CLM_PASS_BACKWARD,        /* the whole backward step of a node other than conv/deconv */
  CLM_PASS_BACKWARD_DATA,   /* conv/deconv: gradient of the input */
  CLM_PASS_BACKWARD_WEIGHT, /* conv/deconv: gradients of weight and bias */
  CLM_PASS_COUNT
} clm_graph_pass;

/* "forward", "backward", "backward_data", "backward_weight". */
CLMTL_API const char *clm_graph_pass_name(clm_graph_pass p);

/* One (node, pass) of a profiled graph. FLOP and bytes follow from the shapes:
 *   flop   2·multiply-adds of a conv/deconv pass: 2·N·K·C·R·S·Ho·Wo for conv (every pass),
 *          2·N·Cin·Cout·R·S·H·W for deconv (H, W its input's); 0 for every other op;
 *   bytes  4 × the floats of the activations, weights and gradients the pass reads plus those
 *          it writes, each once (an accumulated gradient is read and written); per-channel
 *          vectors (bias, batch-norm γ, β and statistics) are left out. A loss's forward
 *          counts what it reads: prediction, target and mask. */
typedef struct clm_op_profile {
  const char *node;    /* node name ("enc1", "enc1.bn"); valid while the graph lives */
  clm_layer_type op;
  clm_graph_pass pass;
  const char *variant; /* conv/deconv kernel variant ("gemm"), "" for other ops */
  int is_loss;         /* a loss node: its forward is the per-task loss and its reduction */
  int calls;           /* timed runs since profiling was turned on or reset */
  double ms;           /* median over the calls, milliseconds (0 without calls) */
  double ms_total;     /* sum over the calls */
  double flop;         /* per run */
  double bytes;        /* per run */
  double launches;     /* kernel launches per run (a CLBlast call counts as one) */
  double transfers;    /* host transfers (tensor uploads, downloads) per run, and their bytes */
  double transfer_bytes;
} clm_op_profile;

/* Profiling mode of a compiled graph. While on, forward and backward finish the queue before
 * and after each node's work (and between the two parts of a conv backward) and record the
 * wall time of each (node, pass): slower than a normal run, for measurement only. Turning it
 * on starts with no records; turning it off drops them. */
CLMTL_API clm_status clm_graph_profile_enable(clm_graph *g, int on);
/* Drops the recorded times and keeps profiling on. */
CLMTL_API void clm_graph_profile_reset(clm_graph *g);
/* (node, pass) pairs the graph can record, forward in execution order then backward in
 * backward order; 0 while profiling is off. */
CLMTL_API int clm_graph_profile_count(const clm_graph *g);
CLMTL_API clm_status clm_graph_profile_get(const clm_graph *g, int i, clm_op_profile *out);

#ifdef __cplusplus
}
#endif

#endif
