/* clm_onnx_export (clmtl/onnx.h): a checkpoint's inference graph as an ONNX model. The model
 * text in the checkpoint's metadata is compiled without a device (planned only) and read back
 * as clm_graph_json, the documented description of layers, effective keys, shapes, execution
 * order and tasks; the tensors are read from the safetensors file on the host. Layers map one
 * to one onto ONNX nodes (conv + bn + act: one Conv with folded weights, then the activation).
 * The protobuf encoding is protobuf-impl.h's; the field numbers below are onnx.proto's
 * (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto). Not here: running the model. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "clmtl/checkpoint.h"
#include "clmtl/onnx.h"
#include "clmtl/version.h"
#include "export/protobuf-impl.h"
#include "runtime/runtime-impl.h"
#include "train/safetensors-impl.h"

#define ONNX_OPSET 13
#define ONNX_IR_VERSION 7 /* the IR of opset 13 (ONNX 1.8) */

/* onnx.proto field numbers */
enum {
  MODEL_IR_VERSION = 1, MODEL_PRODUCER_NAME = 2, MODEL_PRODUCER_VERSION = 3, MODEL_DOC = 6,
  MODEL_GRAPH = 7, MODEL_OPSET_IMPORT = 8, MODEL_METADATA = 14,
  OPSET_DOMAIN = 1, OPSET_VERSION = 2,
  ENTRY_KEY = 1, ENTRY_VALUE = 2,
  GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INITIALIZER = 5, GRAPH_DOC = 10, GRAPH_INPUT = 11,
  GRAPH_OUTPUT = 12,
  NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5,
  ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_S = 4, ATTR_INTS = 8, ATTR_TYPE = 20,
  TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_NAME = 8, TENSOR_RAW_DATA = 9,
  VALUE_NAME = 1, VALUE_TYPE = 2,
  TYPE_TENSOR = 1, TENSOR_TYPE_ELEM = 1, TENSOR_TYPE_SHAPE = 2,
  SHAPE_DIM = 1, DIM_VALUE = 1, DIM_PARAM = 2
};
/* AttributeProto.AttributeType and TensorProto.DataType values */
enum { ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_STRING = 3, ATTR_INTS_TYPE = 7 };
enum { DTYPE_FLOAT = 1, DTYPE_INT64 = 7 };

typedef struct exporter {
  const char *path;  /* the checkpoint, for messages */
  clm_st_file sf;
  cJSON *doc;        /* clm_graph_json of the planned graph */
  const clm_onnx_options *opt;
  clm_pb graph;      /* the GraphProto being written */
} exporter;

/* ---- small writers ------------------------------------------------------------------------ */

static void attr_begin(clm_pb *a, const char *name, int type) {
  clm_pb_string(a, ATTR_NAME, name);
  clm_pb_int(a, ATTR_TYPE, type);
}

static void attr_int(clm_pb *node, const char *name, int64_t v) {
  clm_pb a = {0};
  attr_begin(&a, name, ATTR_INT);
  clm_pb_int(&a, ATTR_I, v);
  clm_pb_message(node, NODE_ATTRIBUTE, &a);
}

static void attr_float(clm_pb *node, const char *name, float v) {
  clm_pb a = {0};
  attr_begin(&a, name, ATTR_FLOAT);
  clm_pb_float(&a, ATTR_F, v);
  clm_pb_message(node, NODE_ATTRIBUTE, &a);
}

static void attr_string(clm_pb *node, const char *name, const char *s) {
  clm_pb a = {0};
  attr_begin(&a, name, ATTR_STRING);
  clm_pb_string(&a, ATTR_S, s);
  clm_pb_message(node, NODE_ATTRIBUTE, &a);
}

/* An INTS attribute of n copies of v (kernel_shape, strides, pads, ...). */
static void attr_ints(clm_pb *node, const char *name, int n, int64_t v) {
  clm_pb a = {0};
  attr_begin(&a, name, ATTR_INTS_TYPE);
  for (int i = 0; i < n; i++) clm_pb_int(&a, ATTR_INTS, v);
  clm_pb_message(node, NODE_ATTRIBUTE, &a);
}

/* A NodeProto's inputs (an empty name is an omitted optional input), outputs, name and op;
 * the caller adds attributes, then node_end appends it to the graph. */
static clm_pb node_begin(const char *op, const char *name, const char *const *in, int nin,
                         const char *const *out, int nout) {
  clm_pb nd = {0};
  for (int i = 0; i < nin; i++) clm_pb_string(&nd, NODE_INPUT, in[i]);
  for (int i = 0; i < nout; i++) clm_pb_string(&nd, NODE_OUTPUT, out[i]);
  clm_pb_string(&nd, NODE_NAME, name);
  clm_pb_string(&nd, NODE_OP_TYPE, op);
  return nd;
}

static void node_end(exporter *e, clm_pb *nd) { clm_pb_message(&e->graph, GRAPH_NODE, nd); }

/* A one-input, one-output node without attributes. */
static void node_unary(exporter *e, const char *op, const char *name, const char *x, const char *y) {
  clm_pb nd = node_begin(op, name, &x, 1, &y, 1);
  node_end(e, &nd);
}

/* An initializer: dims[0..ndim) and n values, float32 or int64, as little-endian raw_data. */
static void initializer(exporter *e, const char *name, const int64_t *dims, int ndim,
                        const float *f, const int64_t *i64, size_t n) {
  clm_pb t = {0};
  for (int d = 0; d < ndim; d++) clm_pb_int(&t, TENSOR_DIMS, dims[d]);
  clm_pb_int(&t, TENSOR_DATA_TYPE, f ? DTYPE_FLOAT : DTYPE_INT64);
  clm_pb_string(&t, TENSOR_NAME, name);
  size_t width = f ? 4 : 8, bytes = n * width;
  uint8_t *raw = bytes ? malloc(bytes) : NULL;
  if (bytes && !raw) {
    t.failed = 1;
  } else {
    for (size_t k = 0; k < n; k++) {
      uint64_t u = 0;
      if (f) {
        uint32_t u32;
        memcpy(&u32, &f[k], 4);
        u = u32;
      } else {
        memcpy(&u, &i64[k], 8);
      }
      for (size_t b = 0; b < width; b++) raw[k * width + b] = (uint8_t)(u >> (8 * b));
    }
    clm_pb_bytes(&t, TENSOR_RAW_DATA, raw, bytes);
  }
  free(raw);
  clm_pb_message(&e->graph, GRAPH_INITIALIZER, &t);
}

/* A ValueInfoProto of a float tensor (N, C, H, W): a dimension > 0 as its value, 0 as the
 * symbolic name in params (NULL entry: an unknown dimension), as graph input or output. */
static void value_info(exporter *e, int field, const char *name, const int *dims,
                       const char *const *params) {
  clm_pb shape = {0}, tt = {0}, type = {0}, vi = {0};
  for (int d = 0; d < 4; d++) {
    clm_pb dim = {0};
    if (dims[d] > 0) clm_pb_int(&dim, DIM_VALUE, dims[d]);
    else if (params[d]) clm_pb_string(&dim, DIM_PARAM, params[d]);
    clm_pb_message(&shape, SHAPE_DIM, &dim);
  }
  clm_pb_int(&tt, TENSOR_TYPE_ELEM, DTYPE_FLOAT);
  clm_pb_message(&tt, TENSOR_TYPE_SHAPE, &shape);
  clm_pb_message(&type, TYPE_TENSOR, &tt);
  clm_pb_string(&vi, VALUE_NAME, name);
  clm_pb_message(&vi, VALUE_TYPE, &type);
  clm_pb_message(&e->graph, field, &vi);
}

/* ---- the checkpoint's tensors ------------------------------------------------------------- */

/* Layer l as "layer 'enc1' (models/x.cfg:12)" for messages. */
static const char *where(const cJSON *l, char *buf, size_t size) {
  snprintf(buf, size, "layer '%s' (%s:%d)", cJSON_GetStringValue(cJSON_GetObjectItem(l, "name")),
           cJSON_GetStringValue(cJSON_GetObjectItem(l, "file")),
           (int)cJSON_GetNumberValue(cJSON_GetObjectItem(l, "line")));
  return buf;
}

/* The checkpoint's tensor `name` of n floats, malloc'd into *out (the caller frees it), every
 * value finite. */
static clm_status read_tensor(exporter *e, const char *name, size_t n, float **out) {
  *out = NULL;
  const clm_st_entry *en = clm_st_find(&e->sf, name);
  if (!en) CLM_FAIL(CLM_ERR_NOT_FOUND, "%s: no tensor '%s', which the model needs", e->path, name);
  if (en->end - en->begin != 4 * (uint64_t)n)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: tensor '%s' holds %llu floats, the model wants %zu", e->path, name,
             (unsigned long long)((en->end - en->begin) / 4), n);
  float *x = malloc(n ? n * sizeof *x : 1);
  if (!x) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory reading '%s' from %s", name, e->path);
  clm_status st = clm_st_read(e->path, &e->sf, en, x);
  for (size_t i = 0; st == CLM_OK && i < n; i++)
    if (!isfinite(x[i]))
      st = CLM_ERROR(CLM_ERR_NUMERIC, "%s: tensor '%s' has %g at index %zu", e->path, name, (double)x[i], i);
  if (st != CLM_OK) {
    free(x);
    return st;
  }
  *out = x;
  return CLM_OK;
}

static int key_int(const cJSON *l, const char *key) {
  return (int)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(l, "keys"), key));
}

static const char *key_str(const cJSON *l, const char *key) {
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(l, "keys"), key));
  return s ? s : "";
}

static int shape_at(const cJSON *l, int d) {
  return (int)cJSON_GetNumberValue(cJSON_GetArrayItem(cJSON_GetObjectItem(l, "shape"), d));
}

/* ---- layers ------------------------------------------------------------------------------- */

/* The activation `act` ("relu", "leaky", "sigmoid") from x to y; "none" is not a node. */
static clm_status activation(exporter *e, const cJSON *l, const char *act, float slope,
                             const char *x, const char *y) {
  char name[CLM_NAME_MAX + 16], w[400];
  snprintf(name, sizeof name, "%s::act", y);
  if (!strcmp(act, "relu")) {
    node_unary(e, "Relu", name, x, y);
  } else if (!strcmp(act, "sigmoid")) {
    node_unary(e, "Sigmoid", name, x, y);
  } else if (!strcmp(act, "leaky")) {
    clm_pb nd = node_begin("LeakyRelu", name, &x, 1, &y, 1);
    attr_float(&nd, "alpha", slope);
    node_end(e, &nd);
  } else {
    CLM_FAIL(CLM_ERR_UNSUPPORTED, "%s: activation '%s' has no ONNX form here", where(l, w, sizeof w), act);
  }
  return CLM_OK;
}

/* conv / deconv [+ bn] [+ act]: one Conv or ConvTranspose with batch norm folded into its
 * weight and bias, then the activation. Weights: conv (K, C, R, R), deconv (C, K, R, R);
 * either way the output channel is the axis folded. */
static clm_status conv_layer(exporter *e, const cJSON *l, const char *name, const char *x, int deconv) {
  char w[400], wname[CLM_NAME_MAX + 16], bname[CLM_NAME_MAX + 16], pre[CLM_NAME_MAX + 16];
  const cJSON *wshape = NULL, *params = cJSON_GetObjectItem(l, "parameters"), *p;
  cJSON_ArrayForEach(p, params) {
    snprintf(wname, sizeof wname, "%s.weight", name);
    if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(p, "name")), wname)) wshape = cJSON_GetObjectItem(p, "shape");
  }
  if (!wshape) CLM_FAIL(CLM_ERR_NOT_FOUND, "%s: the model lists no weight '%s'", where(l, w, sizeof w), wname);
  int64_t dims[4];
  for (int d = 0; d < 4; d++) dims[d] = (int64_t)cJSON_GetNumberValue(cJSON_GetArrayItem(wshape, d));
  int k = key_int(l, "filters"), bn = key_int(l, "bn"), has_bias = cJSON_IsTrue(cJSON_GetObjectItem(l, "has_bias"));
  int outer = (int)dims[0], inner = (int)dims[1]; /* (K, C) blocks of R x S; deconv (C, K) */
  size_t area = (size_t)(dims[2] * dims[3]), nw = (size_t)dims[0] * (size_t)dims[1] * area;
  float *wt = NULL, *bias = NULL, *bnp[4] = {NULL, NULL, NULL, NULL}, *b2 = calloc((size_t)k, sizeof *b2);
  clm_status st = b2 ? read_tensor(e, wname, nw, &wt) : CLM_ERROR(CLM_ERR_HOST_MEMORY, "out of host memory");
  if (st == CLM_OK && has_bias) {
    snprintf(bname, sizeof bname, "%s.bias", name);
    st = read_tensor(e, bname, (size_t)k, &bias);
  }
  static const char *const bn_suffix[4] = {"weight", "bias", "running_mean", "running_var"};
  for (int i = 0; i < 4 && st == CLM_OK && bn; i++) {
    char pn[CLM_NAME_MAX + 32];
    snprintf(pn, sizeof pn, "%s.bn.%s", name, bn_suffix[i]);
    st = read_tensor(e, pn, (size_t)k, &bnp[i]);
  }
  if (st == CLM_OK) {
    /* w' = w·s and b' = (b - mean)·s + β per output channel, s = γ/√(var+ε), in double */
    double eps = cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(l, "keys"), "bn_eps"));
    for (int a = 0; a < outer; a++)
      for (int c = 0; c < inner; c++) {
        int o = deconv ? c : a; /* the output channel of block (a, c) */
        double s = bn ? bnp[0][o] / sqrt((double)bnp[3][o] + eps) : 1.0;
        float *blk = wt + ((size_t)a * inner + c) * area;
        for (size_t i = 0; i < area; i++) blk[i] = (float)(blk[i] * s);
      }
    for (int o = 0; o < k; o++) {
      double b = bias ? bias[o] : 0.0;
      if (bn) b = (b - bnp[2][o]) * (bnp[0][o] / sqrt((double)bnp[3][o] + eps)) + bnp[1][o];
      b2[o] = (float)b;
    }
    snprintf(bname, sizeof bname, "%s.bias", name);
    int64_t bdim = k;
    initializer(e, wname, dims, 4, wt, NULL, nw);
    initializer(e, bname, &bdim, 1, b2, NULL, (size_t)k);
    const char *act = key_str(l, "act");
    int with_act = strcmp(act, "none") != 0;
    snprintf(pre, sizeof pre, "%s::conv", name);
    const char *in[3] = {x, wname, bname}, *out = with_act ? pre : name;
    clm_pb nd = node_begin(deconv ? "ConvTranspose" : "Conv", name, in, 3, &out, 1);
    int pad = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(l, "pad_effective"));
    attr_ints(&nd, "kernel_shape", 2, dims[2]);
    attr_ints(&nd, "strides", 2, key_int(l, "stride"));
    attr_ints(&nd, "pads", 4, pad);
    attr_ints(&nd, "dilations", 2, key_int(l, "dilation"));
    attr_int(&nd, "group", 1);
    if (deconv) attr_ints(&nd, "output_padding", 2, key_int(l, "output_padding"));
    node_end(e, &nd);
    if (with_act)
      st = activation(e, l, act, (float)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(l, "keys"), "slope")),
                      pre, name);
  }
  free(wt);
  free(bias);
  free(b2);
  for (int i = 0; i < 4; i++) free(bnp[i]);
  return st;
}

/* A batch-norm layer of its own: BatchNormalization with the running statistics. */
static clm_status batchnorm_layer(exporter *e, const cJSON *l, const char *name, const char *x) {
  static const char *const suffix[4] = {"weight", "bias", "running_mean", "running_var"};
  char pn[4][CLM_NAME_MAX + 32];
  const char *in[5] = {x, pn[0], pn[1], pn[2], pn[3]};
  int64_t c = shape_at(l, 1);
  clm_status st = CLM_OK;
  for (int i = 0; i < 4 && st == CLM_OK; i++) {
    float *v;
    snprintf(pn[i], sizeof pn[i], "%s.%s", name, suffix[i]);
    st = read_tensor(e, pn[i], (size_t)c, &v);
    if (st == CLM_OK) initializer(e, pn[i], &c, 1, v, NULL, (size_t)c);
    if (st == CLM_OK) free(v);
  }
  if (st != CLM_OK) return st;
  clm_pb nd = node_begin("BatchNormalization", name, in, 5, &name, 1);
  attr_float(&nd, "epsilon", (float)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(l, "keys"), "eps")));
  node_end(e, &nd);
  return CLM_OK;
}

/* ---- the graph ---------------------------------------------------------------------------- */

static const cJSON *find_layer(const cJSON *layers, const char *name) {
  const cJSON *l;
  cJSON_ArrayForEach(l, layers) if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(l, "name")), name)) return l;
  return NULL;
}

/* Index of `name` in the execution order, or -1. */
static int order_index(const cJSON *order, const char *name) {
  int i = 0;
  const cJSON *o;
  cJSON_ArrayForEach(o, order) {
    if (!strcmp(cJSON_GetStringValue(o), name)) return i;
    i++;
  }
  return -1;
}

/* Which layers the task predictions depend on (needed[i], by execution order index), and which
 * maxpool layers an unpool reads the indices of (indices[i]). */
static void mark_needed(const cJSON *doc, char *needed, char *indices) {
  const cJSON *layers = cJSON_GetObjectItem(doc, "layers"), *order = cJSON_GetObjectItem(doc, "order"), *t;
  cJSON_ArrayForEach(t, cJSON_GetObjectItem(doc, "tasks")) {
    int i = order_index(order, cJSON_GetStringValue(cJSON_GetObjectItem(t, "prediction")));
    if (i >= 0) needed[i] = 1;
  }
  for (int i = cJSON_GetArraySize(order) - 1; i >= 0; i--) {
    if (!needed[i]) continue;
    const cJSON *l = find_layer(layers, cJSON_GetStringValue(cJSON_GetArrayItem(order, i))), *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(l, "from")) {
      int j = order_index(order, cJSON_GetStringValue(f));
      if (j >= 0) needed[j] = 1;
    }
    if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(l, "type")), "unpool")) {
      int j = order_index(order, key_str(l, "indices"));
      if (j >= 0) needed[j] = indices[j] = 1;
    }
  }
}

static const char *const sym[4] = {"batch", NULL, "height", "width"};

/* One layer of the inference graph. */
static clm_status emit_layer(exporter *e, const cJSON *l, int want_indices) {
  char w[400], aux[CLM_NAME_MAX + 16], aux2[CLM_NAME_MAX + 16];
  const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(l, "name"));
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(l, "type"));
  const cJSON *from = cJSON_GetObjectItem(l, "from");
  const char *x = cJSON_GetStringValue(cJSON_GetArrayItem(from, 0));
  if (!strcmp(type, "input")) {
    int dims[4] = {e->opt->batch, shape_at(l, 1), e->opt->height, e->opt->width};
    value_info(e, GRAPH_INPUT, name, dims, sym);
    return CLM_OK;
  }
  if (!strcmp(type, "conv") || !strcmp(type, "deconv")) return conv_layer(e, l, name, x, type[0] == 'd');
  if (!strcmp(type, "batchnorm")) return batchnorm_layer(e, l, name, x);
  if (!strcmp(type, "activation"))
    return activation(e, l, key_str(l, "act"),
                      (float)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(l, "keys"), "slope")), x, name);
  if (!strcmp(type, "maxpool")) {
    snprintf(aux, sizeof aux, "%s::indices", name);
    const char *out[2] = {name, aux};
    clm_pb nd = node_begin("MaxPool", name, &x, 1, out, want_indices ? 2 : 1);
    attr_ints(&nd, "kernel_shape", 2, 2);
    attr_ints(&nd, "strides", 2, 2);
    attr_int(&nd, "ceil_mode", 0);
    node_end(e, &nd);
    return CLM_OK;
  }
  if (!strcmp(type, "unpool")) {
    /* the output has the pooled input's shape (odd sizes included): Shape of that input */
    const char *pool = key_str(l, "indices");
    const cJSON *pl = find_layer(cJSON_GetObjectItem(e->doc, "layers"), pool);
    const char *pin = cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(pl, "from"), 0));
    snprintf(aux, sizeof aux, "%s::shape", name);
    snprintf(aux2, sizeof aux2, "%s::indices", pool);
    node_unary(e, "Shape", aux, pin, aux);
    const char *in[3] = {x, aux2, aux};
    clm_pb nd = node_begin("MaxUnpool", name, in, 3, &name, 1);
    attr_ints(&nd, "kernel_shape", 2, 2);
    attr_ints(&nd, "strides", 2, 2);
    node_end(e, &nd);
    return CLM_OK;
  }
  if (!strcmp(type, "upsample")) {
    /* clmtl's bilinear x2 samples at (o + 0.5)/2 - 0.5, clamped to the edges: half_pixel */
    static const float scales[4] = {1, 1, 2, 2};
    int64_t four = 4;
    snprintf(aux, sizeof aux, "%s::scales", name);
    initializer(e, aux, &four, 1, scales, NULL, 4);
    const char *in[3] = {x, "", aux};
    clm_pb nd = node_begin("Resize", name, in, 3, &name, 1);
    attr_string(&nd, "mode", "linear");
    attr_string(&nd, "coordinate_transformation_mode", "half_pixel");
    node_end(e, &nd);
    return CLM_OK;
  }
  if (!strcmp(type, "concat") || !strcmp(type, "add")) {
    const char *in[CLM_MAX_INPUTS];
    int n = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, from) if (n < CLM_MAX_INPUTS) in[n++] = cJSON_GetStringValue(f);
    clm_pb nd = node_begin(type[0] == 'c' ? "Concat" : "Add", name, in, n, &name, 1);
    if (type[0] == 'c') attr_int(&nd, "axis", 1);
    node_end(e, &nd);
    return CLM_OK;
  }
  CLM_FAIL(CLM_ERR_UNSUPPORTED, "%s: layer type '%s' has no ONNX export in clmtl", where(l, w, sizeof w), type);
}

/* The GraphProto: layers the tasks need in execution order, then an Identity per task that
 * names its output. */
static clm_status emit_graph(exporter *e) {
  const cJSON *doc = e->doc, *order = cJSON_GetObjectItem(doc, "order"), *t;
  const cJSON *layers = cJSON_GetObjectItem(doc, "layers");
  int n = cJSON_GetArraySize(order);
  char *needed = calloc((size_t)n + 1, 1), *indices = calloc((size_t)n + 1, 1);
  if (!needed || !indices) {
    free(needed);
    free(indices);
    CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  }
  mark_needed(doc, needed, indices);
  clm_pb_string(&e->graph, GRAPH_NAME, "clmtl");
  clm_status st = CLM_OK;
  for (int i = 0; i < n && st == CLM_OK; i++)
    if (needed[i]) st = emit_layer(e, find_layer(layers, cJSON_GetStringValue(cJSON_GetArrayItem(order, i))), indices[i]);
  cJSON_ArrayForEach(t, cJSON_GetObjectItem(doc, "tasks")) {
    if (st != CLM_OK) break;
    const char *task = cJSON_GetStringValue(cJSON_GetObjectItem(t, "name")), *pred = cJSON_GetStringValue(cJSON_GetObjectItem(t, "prediction"));
    const char *out = strncmp(task, "task.", 5) ? task : task + 5;
    int j = order_index(order, out);
    if (j >= 0 && needed[j]) {
      st = CLM_ERROR(CLM_ERR_UNSUPPORTED, "%s: task '%s' would name an output '%s', but a layer of the "
                     "inference graph has that name", e->path, task, out);
      break;
    }
    const cJSON *pl = find_layer(layers, pred);
    int same = shape_at(pl, 2) == cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "height")) &&
               shape_at(pl, 3) == cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "width"));
    int dims[4] = {e->opt->batch, shape_at(pl, 1), same ? e->opt->height : 0, same ? e->opt->width : 0};
    if (!same && e->opt->height && e->opt->width) dims[2] = shape_at(pl, 2), dims[3] = shape_at(pl, 3);
    const char *const params[4] = {"batch", NULL, same ? "height" : NULL, same ? "width" : NULL};
    char nn[CLM_NAME_MAX + 16];
    snprintf(nn, sizeof nn, "%s::output", out);
    node_unary(e, "Identity", nn, pred, out);
    value_info(e, GRAPH_OUTPUT, out, dims, params);
  }
  free(needed);
  free(indices);
  return st;
}

static void metadata(clm_pb *model, const char *key, const char *value) {
  if (!value) return;
  clm_pb m = {0};
  clm_pb_string(&m, ENTRY_KEY, key);
  clm_pb_string(&m, ENTRY_VALUE, value);
  clm_pb_message(model, MODEL_METADATA, &m);
}

/* The planned graph of the checkpoint's model text as JSON, compiled at h x w (batch 1). */
static clm_status graph_doc(const char *path, const char *cfg, int h, int w, cJSON **doc) {
  clm_graph *g = NULL;
  char *text = NULL, *name = malloc(strlen(path) + sizeof ":model_cfg");
  clm_graph_options o = {1, h, w, 0, -1, -1};
  clm_status st = name ? clm_graph_create(NULL, &g) : CLM_ERROR(CLM_ERR_HOST_MEMORY, "out of host memory");
  if (name) sprintf(name, "%s:model_cfg", path);
  if (st == CLM_OK) st = clm_graph_parse(g, cfg, name);
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  if (st == CLM_OK) st = clm_graph_json(g, &text);
  if (st == CLM_OK && !(*doc = cJSON_Parse(text))) st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "out of host memory");
  free(text);
  free(name);
  clm_graph_free(g);
  return st;
}

static clm_status write_file(const char *out, const clm_pb *model) {
  FILE *f = fopen(out, "wb");
  if (!f) CLM_FAIL(CLM_ERR_IO, "%s: cannot create the ONNX file", out);
  int bad = fwrite(model->data, 1, model->len, f) != model->len;
  bad |= fclose(f) != 0;
  if (bad) {
    remove(out);
    CLM_FAIL(CLM_ERR_IO, "%s: writing %zu bytes failed (disk full?)", out, model->len);
  }
  return CLM_OK;
}

clm_status clm_onnx_export(const char *checkpoint, const char *out, const clm_onnx_options *opts) {
  static const clm_onnx_options symbolic = {0, 0, 0};
  if (!checkpoint || !out) CLM_FAIL(CLM_ERR_INVALID_ARG, "clm_onnx_export needs a checkpoint and an output path");
  exporter e = {checkpoint, {0}, NULL, opts ? opts : &symbolic, {0}};
  if (e.opt->batch < 0 || e.opt->height < 0 || e.opt->width < 0 || (!e.opt->height != !e.opt->width))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "ONNX export: batch, height and width must be >= 0 (0: symbolic), "
             "height and width both set or both 0; got %d, %d, %d", e.opt->batch, e.opt->height, e.opt->width);
  clm_checkpoint_meta *meta = NULL;
  int nmeta = 0;
  long long hh = 0, ww = 0;
  CLM_TRY(clm_checkpoint_read_meta(checkpoint, &meta, &nmeta));
  const char *cfg = clm_checkpoint_meta_get(meta, nmeta, "model_cfg");
  clm_status st = CLM_OK;
  if (!cfg || !*cfg)
    st = CLM_ERROR(CLM_ERR_NOT_FOUND, "%s: no model text in its metadata (not written by clmtl train)", checkpoint);
  if (st == CLM_OK) st = clm_checkpoint_check_model(checkpoint, meta, nmeta, NULL, NULL);
  if (st == CLM_OK) st = clm_checkpoint_meta_int(checkpoint, meta, nmeta, "height", 1, 65536, &hh);
  if (st == CLM_OK) st = clm_checkpoint_meta_int(checkpoint, meta, nmeta, "width", 1, 65536, &ww);
  if (st == CLM_OK)
    st = graph_doc(checkpoint, cfg, e.opt->height ? e.opt->height : (int)hh, e.opt->width ? e.opt->width : (int)ww, &e.doc);
  if (st == CLM_OK) st = clm_st_open(checkpoint, &e.sf);
  int opened = st == CLM_OK;
  if (st == CLM_OK) st = emit_graph(&e);
  if (st == CLM_OK) st = clm_pb_status(&e.graph, "the ONNX graph");
  clm_pb model = {0}, opset = {0};
  if (st == CLM_OK) {
    clm_pb_int(&model, MODEL_IR_VERSION, ONNX_IR_VERSION);
    clm_pb_string(&model, MODEL_PRODUCER_NAME, "clmtl");
    clm_pb_string(&model, MODEL_PRODUCER_VERSION, CLMTL_VERSION_STRING);
    clm_pb_string(&model, MODEL_DOC, "clmtl inference graph: input planar RGB in [0, 1]; one output "
                                     "per task (classification: logits), batch norm folded");
    clm_pb_string(&opset, OPSET_DOMAIN, "");
    clm_pb_int(&opset, OPSET_VERSION, ONNX_OPSET);
    clm_pb_message(&model, MODEL_OPSET_IMPORT, &opset);
    clm_pb_message(&model, MODEL_GRAPH, &e.graph);
    metadata(&model, "clmtl_version", CLMTL_VERSION_STRING);
    metadata(&model, "model_fnv1a64", clm_checkpoint_meta_get(meta, nmeta, "model_fnv1a64"));
    metadata(&model, "label_set", clm_checkpoint_meta_get(meta, nmeta, "label_set"));
    metadata(&model, "class_names", clm_checkpoint_meta_get(meta, nmeta, "class_names"));
    st = clm_pb_status(&model, "the ONNX model");
  }
  if (st == CLM_OK) st = write_file(out, &model);
  clm_pb_free(&model);
  clm_pb_free(&e.graph);
  if (opened) clm_st_close(&e.sf);
  cJSON_Delete(e.doc);
  clm_checkpoint_meta_free(meta);
  return st;
}
