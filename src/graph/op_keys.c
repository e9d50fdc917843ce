/* Model-file keys: each key's clm_layer field, kind and accepted range, and the parsing of one
 * value into its field, with the messages parse.c gives (file:line, layer, key). Which op
 * takes which keys is the op table's (ops_table.c); the INI syntax is parse.c's. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "graph/op-def.h"

#define F(field) offsetof(clm_layer, field)

static const clm_key_def keys[] = {
    {"channels", CLM_KEY_INT, F(channels), 1, 1 << 16},
    {"filters", CLM_KEY_INT, F(filters), 1, 1 << 16},
    {"size", CLM_KEY_INT, F(size), 1, 64},
    {"stride", CLM_KEY_INT, F(stride), 1, 64},
    {"pad", CLM_KEY_INT, F(pad), 0, 256},
    {"dilation", CLM_KEY_INT, F(dilation), 1, 64},
    {"output_padding", CLM_KEY_INT, F(output_padding), 0, 63},
    {"bias", CLM_KEY_INT, F(bias), 0, 1},
    {"bn", CLM_KEY_INT, F(bn), 0, 1},
    {"act", CLM_KEY_ACT, F(act), 0, 0},
    {"slope", CLM_KEY_FLOAT, F(slope), 1e-6f, 1.0f},
    {"bn_momentum", CLM_KEY_FLOAT, F(bn_momentum), 0.0f, 1.0f},
    {"momentum", CLM_KEY_FLOAT, F(bn_momentum), 0.0f, 1.0f},
    {"bn_eps", CLM_KEY_FLOAT, F(bn_eps), 1e-12f, 1.0f},
    {"eps", CLM_KEY_FLOAT, F(bn_eps), 1e-12f, 1.0f},
    {"indices", CLM_KEY_NAME, F(indices), 0, 0},
    {"target", CLM_KEY_NAME, F(target), 0, 0},
    {"mask", CLM_KEY_NAME, F(mask), 0, 0},
    {"ignore", CLM_KEY_INT, F(ignore), -1, 65535},
    {"weight", CLM_KEY_FLOAT, F(weight), 0.0f, 1e6f},
    {"kind", CLM_KEY_KIND, F(kind), 0, 0},
};

static const struct { const char *name; clm_activation act; } acts[] = {
    {"relu", CLM_ACTIVATION_RELU},         {"leaky", CLM_ACTIVATION_LEAKY_RELU},
    {"leaky_relu", CLM_ACTIVATION_LEAKY_RELU}, {"sigmoid", CLM_ACTIVATION_SIGMOID},
    {"linear", CLM_ACTIVATION_NONE},       {"none", CLM_ACTIVATION_NONE}};

const clm_key_def *clm_key_find(const char *key) {
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (!strcmp(keys[i].key, key)) return &keys[i];
  return NULL;
}

const char *clm_act_name(clm_activation a) {
  static const char *names[] = {"none", "relu", "leaky", "sigmoid"};
  return (unsigned)a < 4 ? names[a] : "?";
}

clm_status clm_key_parse(const clm_key_def *k, const char *value, const char *file, int line,
                         const char *layer, clm_layer *l) {
  void *field = (char *)l + k->offset;
  char *end;
  switch (k->kind) {
  case CLM_KEY_INT: {
    errno = 0;
    long v = strtol(value, &end, 10);
    if (!value[0] || *end || errno || v < (long)k->lo || v > (long)k->hi)
      CLM_FAIL(CLM_ERR_PARSE, "%s:%d: layer '%s': '%s = %s' is not an integer in [%d, %d]", file,
               line, layer, k->key, value, (int)k->lo, (int)k->hi);
    *(int *)field = (int)v;
    return CLM_OK;
  }
  case CLM_KEY_FLOAT: {
    float lo = (float)k->lo, hi = (float)k->hi; /* the bounds are floats, as the fields */
    errno = 0;
    double v = strtod(value, &end);
    if (!value[0] || *end || errno || !isfinite(v) || v < lo || v > hi)
      CLM_FAIL(CLM_ERR_PARSE, "%s:%d: layer '%s': '%s = %s' is not a number in [%g, %g]", file,
               line, layer, k->key, value, (double)lo, (double)hi);
    *(float *)field = (float)v;
    return CLM_OK;
  }
  case CLM_KEY_NAME:
    if (!value[0] || strlen(value) >= CLM_NAME_MAX || strchr(value, ','))
      CLM_FAIL(CLM_ERR_PARSE, "%s:%d: layer '%s': '%s' needs one layer name (at most %d characters)",
               file, line, layer, k->key, CLM_NAME_MAX - 1);
    snprintf((char *)field, CLM_NAME_MAX, "%s", value);
    return CLM_OK;
  case CLM_KEY_ACT:
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
      if (!strcmp(value, acts[i].name)) { *(clm_activation *)field = acts[i].act; return CLM_OK; }
    CLM_FAIL(CLM_ERR_PARSE, "%s:%d: layer '%s': unknown activation '%s' (relu, leaky, sigmoid, linear)",
             file, line, layer, value);
  case CLM_KEY_KIND:
    if (!strcmp(value, "classification")) *(clm_task_kind *)field = CLM_TASK_CLASSIFICATION;
    else if (!strcmp(value, "regression")) *(clm_task_kind *)field = CLM_TASK_REGRESSION;
    else CLM_FAIL(CLM_ERR_PARSE, "%s:%d: layer '%s': kind must be classification or regression, not '%s'",
                  file, line, layer, value);
    return CLM_OK;
  }
  CLM_FAIL(CLM_ERR_INVALID_ARG, "%s:%d: layer '%s': key '%s' of unknown kind", file, line, layer, k->key);
}
