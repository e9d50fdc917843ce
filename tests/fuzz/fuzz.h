/* What every fuzz target defines: libFuzzer's entry point, called once per input by libFuzzer
 * (-DCLMTL_FUZZ=ON) or by replay.c for each file of a corpus (the regular test run). An input
 * that finds a bug aborts (sanitizer report, or a failed check of the target's own). */
#ifndef CLMTL_FUZZ_H
#define CLMTL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
