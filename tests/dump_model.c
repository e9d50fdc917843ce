/* Prints how clmtl reads a model file, for tests/test_model_cfg.sh to compare with
 * tools/clmtl_cfg.py (tests/dump_model.py prints the same lines): one line per layer with every
 * field, then the parameter count of the compiled graph (inference, batch 1, 32x64, planned
 * without a device), or one line "error" when clmtl refuses the file (the message follows on
 * stderr).   dump_model FILE.cfg */
#include <stdio.h>
#include <string.h>
#include "graph/graph-impl.h"

static const char *act_name(clm_act_type a) {
  static const char *names[] = {"none", "relu", "leaky", "sigmoid"};
  return (unsigned)a < 4 ? names[a] : "?";
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: dump_model FILE.cfg\n"); return 2; }
  clm_graph *g;
  if (clm_graph_create(NULL, &g) != CLM_OK) return 1;
  clm_status st = clm_graph_load(g, argv[1]);
  int nparsed = clm_graph_layer_count(g);
  clm_graph_options o = {1, 32, 64, 0, -1, 1};
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  if (st != CLM_OK) {
    printf("error\n");
    fprintf(stderr, "%s\n", clm_last_error());
    clm_graph_free(g);
    return 0;
  }
  for (int i = 0; i < nparsed; i++) {
    const clm_layer *l = clm_graph_layer(g, i);
    printf("%s|%s|", l->name, clm_layer_type_name(l->type));
    for (int k = 0; k < l->nfrom; k++) printf("%s%s", k ? "," : "", l->from[k]);
    printf("|%d|%d|%d|%d|%d|%d|%d|%d|%d|%s|%.9g|%.9g|%.9g|%s|%s|%s|%d|%s|%.9g|%d\n", l->channels,
           l->filters, l->size, l->stride, l->pad, l->dilation, l->output_padding, l->bias, l->bn,
           act_name(l->act), (double)l->slope, (double)l->bn_momentum, (double)l->bn_eps,
           l->indices, l->target, l->mask, l->ignore,
           l->kind == CLM_TASK_CLASSIFICATION ? "classification" : "regression", (double)l->weight,
           l->line);
  }
  printf("params %zu\n", g->param_floats);
  clm_graph_free(g);
  return 0;
}
