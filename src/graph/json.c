/* A compiled graph as JSON (clm_graph_json, printed by `clmtl model --json`): the resolution,
 * every layer in model order with its type, inputs, the effective value of every key its op
 * takes (op table), its output shape and its nodes; the layers in execution order; every
 * parameter and state tensor with its name and shape; the tasks. Tools read this instead of
 * re-implementing the model-file parser and the shape rules (tools/clmtl_cfg.py). */
#include <stdio.h>
#include <stdlib.h>
#include <cJSON.h>
#include "graph/op-def.h"

static cJSON *shape4(int n, int c, int h, int w) {
  int d[4] = {n, c, h, w};
  return cJSON_CreateIntArray(d, 4);
}

/* The effective value of key k of layer l, as JSON. */
static cJSON *key_value(const clm_key_def *k, const clm_layer *l) {
  const void *field = (const char *)l + k->offset;
  switch (k->kind) {
  case CLM_KEY_INT: return cJSON_CreateNumber(*(const int *)field);
  case CLM_KEY_FLOAT: return cJSON_CreateNumber((double)*(const float *)field);
  case CLM_KEY_NAME: return cJSON_CreateString((const char *)field);
  case CLM_KEY_ACT: return cJSON_CreateString(clm_act_name(*(const clm_activation *)field));
  case CLM_KEY_KIND:
    return cJSON_CreateString(*(const clm_task_kind *)field == CLM_TASK_CLASSIFICATION
                                  ? "classification" : "regression");
  }
  return cJSON_CreateNull();
}

static cJSON *param_json(const clm_node *nd, const clm_param_slot *p) {
  char name[CLM_NODE_NAME_MAX + 32];
  snprintf(name, sizeof name, "%s.%s", nd->name, p->suffix);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", name);
  cJSON_AddItemToObject(o, "shape", shape4(p->n, p->c, p->h, p->w));
  cJSON_AddBoolToObject(o, "state", p->is_state);
  return o;
}

static cJSON *layer_json(const clm_graph *g, int li) {
  const clm_layer *l = &g->layers[li];
  const clm_op_def *op = clm_op(l->type);
  cJSON *o = cJSON_CreateObject(), *from = cJSON_CreateArray(), *keys = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", l->name);
  cJSON_AddStringToObject(o, "type", op->name);
  cJSON_AddBoolToObject(o, "is_loss", op->is_loss);
  cJSON_AddBoolToObject(o, "implicit", li >= g->nlayers_declared); /* a loss's target or mask */
  cJSON_AddStringToObject(o, "file", l->file);
  cJSON_AddNumberToObject(o, "line", l->line);
  for (int k = 0; k < l->nfrom; k++) cJSON_AddItemToArray(from, cJSON_CreateString(l->from[k]));
  cJSON_AddItemToObject(o, "from", from);
  if (l->type == CLM_LAYER_INPUT) /* an implicit target's channels, as the loss settled them */
    cJSON_AddItemToObject(keys, "channels", cJSON_CreateNumber(g->nodes[clm_graph_find_node(g, l->name)].c));
  else
    for (int k = 0; op->keys[k]; k++)
      cJSON_AddItemToObject(keys, op->keys[k], key_value(clm_key_find(op->keys[k]), l));
  cJSON_AddItemToObject(o, "keys", keys);
  if (op->expands) { /* what "pad = -1" and "bias = -1" (the defaults) come to */
    cJSON_AddNumberToObject(o, "pad_effective", clm_layer_pad(l));
    cJSON_AddBoolToObject(o, "has_bias", l->bias > 0 || (l->bias < 0 && !l->bn));
  }
  const clm_node *out = &g->nodes[clm_graph_find_node(g, l->name)];
  cJSON_AddItemToObject(o, "shape", shape4(out->n, out->c, out->h, out->w));
  cJSON *nodes = cJSON_CreateArray(), *params = cJSON_CreateArray();
  for (int i = 0; i < g->nnodes; i++) {
    const clm_node *nd = &g->nodes[i];
    if (nd->layer != li) continue;
    cJSON *n = cJSON_CreateObject();
    cJSON_AddStringToObject(n, "name", nd->name);
    cJSON_AddStringToObject(n, "op", clm_op(nd->op)->name);
    cJSON_AddItemToObject(n, "shape", shape4(nd->n, nd->c, nd->h, nd->w));
    cJSON_AddItemToArray(nodes, n);
    for (int k = 0; k < nd->nparams; k++) cJSON_AddItemToArray(params, param_json(nd, &nd->params[k]));
  }
  cJSON_AddItemToObject(o, "nodes", nodes);
  cJSON_AddItemToObject(o, "parameters", params);
  return o;
}

static cJSON *task_json(const clm_graph *g, int i) {
  const clm_node *nd = &g->nodes[g->losses[i]], *pred = &g->nodes[nd->in[0]];
  const clm_layer *l = &g->layers[nd->layer];
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", l->name);
  cJSON_AddStringToObject(o, "type", clm_op(l->type)->name);
  cJSON_AddStringToObject(o, "kind", l->kind == CLM_TASK_CLASSIFICATION ? "classification" : "regression");
  cJSON_AddStringToObject(o, "prediction", l->from[0]);
  if (l->nfrom > 1) cJSON_AddStringToObject(o, "logvar", l->from[1]);
  cJSON_AddStringToObject(o, "target", l->target);
  if (l->mask[0]) cJSON_AddStringToObject(o, "mask", l->mask);
  else cJSON_AddNullToObject(o, "mask");
  cJSON_AddNumberToObject(o, "channels", pred->c);
  if (clm_op(l->type)->label_target) cJSON_AddNumberToObject(o, "classes", pred->c);
  cJSON_AddNumberToObject(o, "weight", (double)l->weight);
  return o;
}

clm_status clm_graph_json(const clm_graph *g, char **out) {
  *out = NULL;
  if (!g->nodes || g->nnodes == 0) CLM_FAIL(CLM_ERR_INVALID_ARG, "graph is not compiled");
  cJSON *root = cJSON_CreateObject();
  if (!root) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  cJSON_AddStringToObject(root, "model", g->source_file);
  cJSON_AddNumberToObject(root, "batch", g->opt.batch);
  cJSON_AddNumberToObject(root, "height", g->opt.height);
  cJSON_AddNumberToObject(root, "width", g->opt.width);
  cJSON *layers = cJSON_AddArrayToObject(root, "layers"), *order = cJSON_AddArrayToObject(root, "order");
  for (int li = 0; li < g->nlayers; li++) cJSON_AddItemToArray(layers, layer_json(g, li));
  for (int i = 0; i < g->nnodes; i++) /* a layer's nodes run one after the other */
    if (i == 0 || g->nodes[i].layer != g->nodes[i - 1].layer)
      cJSON_AddItemToArray(order, cJSON_CreateString(g->layers[g->nodes[i].layer].name));
  cJSON *params = cJSON_AddArrayToObject(root, "parameters");
  for (int i = 0; i < g->nnodes; i++)
    for (int k = 0; k < g->nodes[i].nparams; k++)
      cJSON_AddItemToArray(params, param_json(&g->nodes[i], &g->nodes[i].params[k]));
  cJSON_AddNumberToObject(root, "parameter_count", (double)g->param_floats);
  cJSON_AddNumberToObject(root, "state_count", (double)g->state_floats);
  cJSON *tasks = cJSON_AddArrayToObject(root, "tasks");
  for (int i = 0; i < g->nlosses; i++) cJSON_AddItemToArray(tasks, task_json(g, i));
  *out = cJSON_Print(root);
  cJSON_Delete(root);
  if (!*out) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  return CLM_OK;
}
