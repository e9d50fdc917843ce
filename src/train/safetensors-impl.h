/* Strict safetensors header parser used by checkpoint.c. It knows nothing about graphs: it
 * checks that a file is well-formed safetensors with float32 tensors only and hands back the
 * entries and the metadata. Not part of the public API. */
#ifndef CLMTL_SAFETENSORS_IMPL_H
#define CLMTL_SAFETENSORS_IMPL_H

#include <stdint.h>
#include <stdio.h>
#include "clmtl/checkpoint.h"

#define CLM_ST_MAX_DIMS 8
/* Headers larger than this are refused (the reference implementation's limit is 100 MB). */
#define CLM_ST_MAX_HEADER (100u * 1024u * 1024u)

typedef struct clm_st_entry {
  char *name;                       /* points into the clm_st_file's name storage */
  int ndim;
  int64_t shape[CLM_ST_MAX_DIMS];
  uint64_t begin, end;              /* bytes, relative to the data section */
} clm_st_entry;

typedef struct clm_st_file {
  FILE *f;                          /* open for reading, positioned anywhere */
  uint64_t file_size, data_start;   /* data_start = 8 + header length */
  clm_st_entry *entries;            /* in header order */
  clm_st_entry **by_name;           /* the same entries sorted by name (clm_st_find) */
  int nentries;
  char *names;                      /* storage of the entry names */
  clm_checkpoint_meta *meta;        /* one malloc'd block (clm_checkpoint_meta_free) */
  int nmeta;
} clm_st_file;

/* Opens `path` and validates it completely except for the tensor bytes themselves: the header
 * length against the file size, the JSON (cJSON, with nothing but whitespace after it), every
 * entry (dtype F32, shape, data_offsets matching 4 * numel), names unique, the tensors packed
 * without gaps or overlap and ending exactly at the end of the file. Messages name the file and
 * the tensor. On success the caller owns *out and releases it with clm_st_close. */
clm_status clm_st_open(const char *path, clm_st_file *out);

/* The same checks on a whole file already in memory (data, size bytes; `name` is used in
 * messages). out->f stays NULL: entries and metadata only, clm_st_read needs clm_st_open.
 * Used by the fuzz target tests/fuzz/fuzz_safetensors.c. */
clm_status clm_st_parse(const char *name, const void *data, size_t size, clm_st_file *out);

/* Reads entry e's floats (converted to host byte order) into dst. */
clm_status clm_st_read(const char *path, clm_st_file *sf, const clm_st_entry *e, float *dst);

/* Entry named `name`, or NULL. */
const clm_st_entry *clm_st_find(const clm_st_file *sf, const char *name);

/* Closes the file and frees everything except what was moved out (meta set to NULL). */
void clm_st_close(clm_st_file *sf);

/* "(8, 3, 3, 3)" into buf. */
void clm_st_shape_str(const int64_t *shape, int ndim, char *buf, size_t size);

/* 1 when floats are stored little-endian in host memory. */
int clm_st_host_le(void);
/* Byte-swaps n 32-bit words in place. */
void clm_st_swap32(float *x, size_t n);

#endif
