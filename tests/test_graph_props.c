/* Property test of graph compilation: the fuzz target tests/fuzz/fuzz_graph.c run on seeded
 * random inputs (default 4000, or argv[1]; seed argv[2]). Every random model either compiles
 * to a plan whose shapes, parameter layout, names and arena placements the target checks
 * independently, or is refused with a message naming the layer; any overflow on the way
 * aborts under the sanitizer build. Fails unless both outcomes occur often enough for the test
 * to mean something. Needs no device. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "fuzz.h"

extern long fuzz_graph_compiled, fuzz_graph_refused;

int main(int argc, char **argv) {
  long count = argc > 1 ? atol(argv[1]) : 4000;
  uint64_t s = argc > 2 ? strtoull(argv[2], NULL, 10) : 12345;
  uint8_t buf[256];
  for (long i = 0; i < count; i++) {
    size_t n = 8 + (size_t)(i % 240);
    for (size_t k = 0; k < n; k++) {
      s ^= s << 13; s ^= s >> 7; s ^= s << 17;
      buf[k] = (uint8_t)(s >> 24);
    }
    LLVMFuzzerTestOneInput(buf, n);
  }
  printf("%ld random models: %ld compiled, %ld refused\n", count, fuzz_graph_compiled, fuzz_graph_refused);
  int ok = fuzz_graph_compiled >= count / 20 && fuzz_graph_refused >= count / 20;
  printf("[%s] both outcomes occur (at least 5%% each)\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
