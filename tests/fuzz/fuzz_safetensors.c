/* Fuzz target: the strict safetensors header parser (src/train/safetensors.c) on a whole file
 * in memory (clm_st_parse: the checks of clm_st_open without the file). When a file is
 * accepted it checks what checkpoint.c relies on: every tensor's bytes lie inside the file,
 * its span is 4 bytes per element, the tensors tile the data section exactly, every name is
 * found by clm_st_find, and metadata keys and values are readable strings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz.h"
#include "train/safetensors-impl.h"

#define CHECK(c)                                                                             \
  do {                                                                                       \
    if (!(c)) {                                                                              \
      fprintf(stderr, "%s:%d: accepted file breaks: %s\n", __FILE__, __LINE__, #c);          \
      abort();                                                                               \
    }                                                                                        \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  clm_st_file sf;
  clm_clear_error();
  clm_status st = clm_st_parse("fuzz.safetensors", data, size, &sf);
  if (st != CLM_OK) {
    CHECK(st < CLM_OK && st >= CLM_ERR_NUMERIC && clm_last_error()[0]);
    CHECK(sf.entries == NULL && sf.names == NULL && sf.meta == NULL); /* nothing leaks out */
    return 0;
  }
  CHECK(sf.f == NULL && sf.file_size == size && sf.data_start >= 10 && sf.data_start <= size);
  uint64_t data_size = size - sf.data_start, covered = 0;
  for (int i = 0; i < sf.nentries; i++) {
    const clm_st_entry *e = &sf.entries[i];
    CHECK(e->name && e->ndim >= 0 && e->ndim <= CLM_ST_MAX_DIMS);
    uint64_t numel = 1;
    for (int d = 0; d < e->ndim; d++) {
      CHECK(e->shape[d] >= 0);
      numel *= (uint64_t)e->shape[d];
    }
    CHECK(e->begin <= e->end && e->end <= data_size && e->end - e->begin == 4 * numel);
    covered += e->end - e->begin;
    const clm_st_entry *found = clm_st_find(&sf, e->name);
    CHECK(found && !strcmp(found->name, e->name));
    char shape[64];
    clm_st_shape_str(e->shape, e->ndim, shape, sizeof shape);
    CHECK(shape[0] == '(' && strlen(shape) < sizeof shape);
  }
  CHECK(covered == data_size); /* packed, no overlap (and no gap, with the bound above) */
  for (int i = 0; i < sf.nmeta; i++) CHECK(sf.meta[i].key && sf.meta[i].value);
  clm_st_close(&sf);
  return 0;
}
