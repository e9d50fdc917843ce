/* Fuzz target: model files. Each input is the text of a model file. It goes through
 * clm_graph_parse and, when that succeeds, the whole compile as a plan without a device (the
 * graph is created without a context: name resolution, cycle detection, shape inference,
 * parameter layout, the backward pass, scheduling for a CPU and arena placement, no
 * allocation, no OpenCL per input, no driver in the process), training, at batch 2 and a size
 * taken from the input's length. Besides the sanitizers, it checks that every failure is a
 * known status with a message, and that parse errors name the file (after the "source.c:line: "
 * prefix of every message). tests/fuzz/fuzz_graph.c generates layers past the file's limits. */
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
  if (from_parser && st == CLM_ERR_PARSE && !strstr(msg, FUZZ_NAME ":")) {
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
    int side = 8 + 8 * (int)(size % 4); /* 8..32, so shapes vary with the input */
    clm_graph_options o = {2, side, 2 * side, 1, -1, 0};
    clm_clear_error();
    st = clm_graph_compile(g, &o);
    if (st != CLM_OK) check_failure(st, 0);
  }
  clm_graph_free(g);
  free(text);
  return 0;
}
