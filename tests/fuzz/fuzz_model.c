/* Fuzz target: model files. Each input is the text of a model file. It goes through
 * clm_graph_parse and, when that succeeds, the host-side compile stages: name resolution,
 * cycle detection, shape inference and parameter layout (clm_graph_build_nodes) and the
 * backward pass (clm_graph_autograd), at batch 2 and a size taken from the input's length.
 * Scheduling and memory planning are left out: they need a device, and none of these stages
 * touches the graph's context, so the graph is created without one (no OpenCL per input, no
 * driver in the process). Besides the sanitizers, it checks that every failure is a known
 * status with a message, and that parse errors name the file
 * (after the "source.c:line: " prefix of every message). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz.h"
#include "graph/graph-impl.h"

#define FUZZ_NAME "fuzz.cfg"

static void check_failure(clm_status st, int from_parser) {
  const char *msg = clm_last_error();
  if (st > CLM_OK || st < CLM_ERR_NUMERIC || !msg[0]) {
    fprintf(stderr, "status %d with message '%s'\n", (int)st, msg);
    abort();
  }
  if (from_parser && st == CLM_ERR_PARSE && !strstr(msg, ": " FUZZ_NAME ":")) {
    fprintf(stderr, "parse error does not name the file: '%s'\n", msg);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 20)) return 0;
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0'; /* clm_graph_load refuses NUL bytes; here text just ends at the first */
  clm_graph *g = NULL;
  if (clm_graph_create(NULL, &g) != CLM_OK) abort();
  clm_clear_error();
  clm_status st = clm_graph_parse(g, text, FUZZ_NAME);
  if (st != CLM_OK) {
    check_failure(st, 1);
  } else {
    g->opt.batch = 2;
    g->opt.height = 8 + 8 * (int)(size % 4); /* 8..32, so shapes vary with the input */
    g->opt.width = 2 * g->opt.height;
    g->opt.training = 1;
    g->opt.conv_variant = -1;
    g->training = 1;
    clm_clear_error();
    st = clm_graph_build_nodes(g);
    if (st == CLM_OK) st = clm_graph_autograd(g);
    if (st != CLM_OK) check_failure(st, 0);
  }
  clm_graph_free(g);
  free(text);
  return 0;
}
