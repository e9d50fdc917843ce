/* Strict reading of safetensors headers (format: include/clmtl/checkpoint.h). The JSON is
 * parsed by cJSON; this file checks everything the format promises on top of it, so that
 * checkpoint.c can match entries to a graph knowing the bytes are where the header says.
 * Writing lives in checkpoint.c. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "runtime/file-impl.h"
#include "runtime/runtime-impl.h"
#include "train/safetensors-impl.h"

#define MAX_EXACT_INT 9007199254740992.0 /* 2^53: larger JSON numbers are not exact */

int clm_st_host_le(void) {
  uint16_t x = 1;
  unsigned char b;
  memcpy(&b, &x, 1);
  return b == 1;
}

void clm_st_swap32(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &x[i], 4);
    u = (u >> 24) | ((u >> 8) & 0xff00u) | ((u << 8) & 0xff0000u) | (u << 24);
    memcpy(&x[i], &u, 4);
  }
}

void clm_st_shape_str(const int64_t *shape, int ndim, char *buf, size_t size) {
  size_t k = (size_t)snprintf(buf, size, "(");
  for (int i = 0; i < ndim && k < size; i++)
    k += (size_t)snprintf(buf + k, size - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
  if (k < size) snprintf(buf + k, size - k, ")");
}

void clm_st_close(clm_st_file *sf) {
  if (!sf) return;
  if (sf->f) fclose(sf->f);
  free(sf->entries);
  free(sf->by_name);
  free(sf->names);
  free(sf->meta);
  memset(sf, 0, sizeof *sf);
}

static int by_name(const void *a, const void *b) {
  return strcmp((*(const clm_st_entry *const *)a)->name, (*(const clm_st_entry *const *)b)->name);
}

const clm_st_entry *clm_st_find(const clm_st_file *sf, const char *name) {
  clm_st_entry key = {0}, *k = &key;
  key.name = (char *)name;
  clm_st_entry **hit = sf->by_name ? bsearch(&k, sf->by_name, (size_t)sf->nentries,
                                             sizeof *sf->by_name, by_name) : NULL;
  return hit ? *hit : NULL;
}

static int by_key(const void *a, const void *b) {
  return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* A JSON number that is a non-negative integer, exactly representable. */
static int json_uint(const cJSON *j, uint64_t *out) {
  if (!cJSON_IsNumber(j)) return 0;
  double d = j->valuedouble;
  if (!(d >= 0.0) || d > MAX_EXACT_INT || d != (double)(uint64_t)d) return 0;
  *out = (uint64_t)d;
  return 1;
}

/* Validates one tensor entry `j` (named j->string) into e (name not set). */
static clm_status parse_entry(const char *path, const cJSON *j, clm_st_entry *e) {
  const char *name = j->string;
  if (!cJSON_IsObject(j))
    CLM_FAIL(CLM_ERR_PARSE, "%s: tensor '%s': header entry is not a JSON object", path, name);
  const cJSON *dtype = NULL, *shape = NULL, *offs = NULL, *k;
  cJSON_ArrayForEach(k, j) {
    const cJSON **slot = !strcmp(k->string, "dtype")          ? &dtype
                         : !strcmp(k->string, "shape")        ? &shape
                         : !strcmp(k->string, "data_offsets") ? &offs
                                                              : NULL;
    if (!slot)
      CLM_FAIL(CLM_ERR_PARSE, "%s: tensor '%s': unknown key '%s' (expected dtype, shape, "
               "data_offsets)", path, name, k->string);
    if (*slot) CLM_FAIL(CLM_ERR_PARSE, "%s: tensor '%s': key '%s' given twice", path, name, k->string);
    *slot = k;
  }
  if (!dtype || !shape || !offs)
    CLM_FAIL(CLM_ERR_PARSE, "%s: tensor '%s': no '%s'", path, name,
             !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
  if (!cJSON_IsString(dtype))
    CLM_FAIL(CLM_ERR_PARSE, "%s: tensor '%s': dtype is not a string", path, name);
  if (strcmp(dtype->valuestring, "F32"))
    CLM_FAIL(CLM_ERR_UNSUPPORTED, "%s: tensor '%s': dtype %s, only F32 is supported", path, name,
             dtype->valuestring);
  if (!cJSON_IsArray(shape))
    CLM_FAIL(CLM_ERR_PARSE, "%s: tensor '%s': shape is not a list", path, name);
  int ndim = cJSON_GetArraySize(shape);
  if (ndim > CLM_ST_MAX_DIMS)
    CLM_FAIL(CLM_ERR_PARSE, "%s: tensor '%s': %d dimensions, at most %d supported", path, name,
             ndim, CLM_ST_MAX_DIMS);
  e->ndim = 0;
  uint64_t numel = 1;
  cJSON_ArrayForEach(k, shape) {
    uint64_t d;
    if (!json_uint(k, &d))
      CLM_FAIL(CLM_ERR_PARSE, "%s: tensor '%s': shape entry %d is not a non-negative integer",
               path, name, e->ndim);
    if (d && numel > (UINT64_C(1) << 60) / d)
      CLM_FAIL(CLM_ERR_PARSE, "%s: tensor '%s': shape too large", path, name);
    numel *= d;
    e->shape[e->ndim++] = (int64_t)d;
  }
  if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
      !json_uint(cJSON_GetArrayItem(offs, 0), &e->begin) ||
      !json_uint(cJSON_GetArrayItem(offs, 1), &e->end))
    CLM_FAIL(CLM_ERR_PARSE, "%s: tensor '%s': data_offsets is not a list [begin, end] of "
             "non-negative integers", path, name);
  if (e->end < e->begin || e->end - e->begin != 4 * numel) {
    char s[160];
    clm_st_shape_str(e->shape, e->ndim, s, sizeof s);
    CLM_FAIL(CLM_ERR_PARSE, "%s: tensor '%s': data_offsets [%llu, %llu] span %lld bytes, shape "
             "%s of F32 needs %llu", path, name, (unsigned long long)e->begin,
             (unsigned long long)e->end, (long long)e->end - (long long)e->begin, s,
             (unsigned long long)(4 * numel));
  }
  return CLM_OK;
}

/* __metadata__: an object of strings, copied into one malloc'd block. */
static clm_status parse_meta(const char *path, const cJSON *j, clm_st_file *sf) {
  if (!cJSON_IsObject(j)) CLM_FAIL(CLM_ERR_PARSE, "%s: __metadata__ is not a JSON object", path);
  size_t bytes = 0;
  int n = 0;
  const cJSON *k;
  cJSON_ArrayForEach(k, j) {
    if (!cJSON_IsString(k))
      CLM_FAIL(CLM_ERR_PARSE, "%s: __metadata__ '%s' is not a string (safetensors metadata "
               "holds strings only)", path, k->string);
    bytes += strlen(k->string) + strlen(k->valuestring) + 2;
    n++;
  }
  /* duplicate keys: sorted, neighbours compared (O(n log n) for headers of any size) */
  const cJSON **keys = malloc(sizeof *keys * ((size_t)n + 1));
  if (!keys) CLM_FAIL(CLM_ERR_HOST_MEMORY, "%s: out of host memory for metadata", path);
  int nk = 0;
  cJSON_ArrayForEach(k, j) keys[nk++] = k;
  qsort(keys, (size_t)n, sizeof *keys, by_key);
  for (int i = 1; i < n; i++)
    if (!strcmp(keys[i - 1]->string, keys[i]->string)) {
      clm_status st = CLM_ERROR(CLM_ERR_PARSE, "%s: __metadata__ key '%s' given twice", path,
                                keys[i]->string);
      free(keys);
      return st;
    }
  free(keys);
  char *block = malloc(sizeof(clm_checkpoint_meta) * (size_t)n + bytes + 1);
  if (!block) CLM_FAIL(CLM_ERR_HOST_MEMORY, "%s: out of host memory for metadata", path);
  clm_checkpoint_meta *m = (clm_checkpoint_meta *)(void *)block;
  char *s = block + sizeof(clm_checkpoint_meta) * (size_t)n;
  int i = 0;
  cJSON_ArrayForEach(k, j) {
    size_t a = strlen(k->string) + 1, b = strlen(k->valuestring) + 1;
    memcpy(s, k->string, a);
    m[i].key = s;
    s += a;
    memcpy(s, k->valuestring, b);
    m[i].value = s;
    s += b;
    i++;
  }
  sf->meta = m;
  sf->nmeta = n;
  return CLM_OK;
}

static int by_begin(const void *a, const void *b) {
  const clm_st_entry *x = *(const clm_st_entry *const *)a, *y = *(const clm_st_entry *const *)b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

/* Tensors must tile [0, data size) exactly, as the safetensors reference implementation
 * requires: no gap, no overlap, nothing after the last tensor, nothing missing. */
static clm_status check_layout(const char *path, clm_st_file *sf) {
  uint64_t data_size = sf->file_size - sf->data_start;
  const clm_st_entry *last = NULL;
  for (int i = 0; i < sf->nentries; i++)
    if (!last || sf->entries[i].end > last->end) last = &sf->entries[i];
  if (last && last->end > data_size)
    CLM_FAIL(CLM_ERR_PARSE, "%s: tensor '%s': data_offsets [%llu, %llu] lie beyond the end of "
             "the file (truncated?): expected %llu bytes, the file has %llu", path, last->name,
             (unsigned long long)last->begin, (unsigned long long)last->end,
             (unsigned long long)(sf->data_start + last->end),
             (unsigned long long)sf->file_size);
  clm_st_entry **order = malloc(sizeof *order * (size_t)(sf->nentries + 1));
  if (!order) CLM_FAIL(CLM_ERR_HOST_MEMORY, "%s: out of host memory", path);
  for (int i = 0; i < sf->nentries; i++) order[i] = &sf->entries[i];
  qsort(order, (size_t)sf->nentries, sizeof *order, by_begin);
  uint64_t pos = 0;
  const clm_st_entry *prev = NULL;
  for (int i = 0; i < sf->nentries; i++) {
    const clm_st_entry *e = order[i];
    if (e->begin < pos) {
      clm_status st = CLM_ERROR(CLM_ERR_PARSE, "%s: tensors '%s' [%llu, %llu] and '%s' [%llu, "
                                "%llu] overlap", path, prev->name, (unsigned long long)prev->begin,
                                (unsigned long long)prev->end, e->name,
                                (unsigned long long)e->begin, (unsigned long long)e->end);
      free(order);
      return st;
    }
    if (e->begin > pos) {
      clm_status st = CLM_ERROR(CLM_ERR_PARSE, "%s: tensor '%s': %llu unused bytes before its "
                                "data_offsets [%llu, %llu] (tensors must be packed)", path,
                                e->name, (unsigned long long)(e->begin - pos),
                                (unsigned long long)e->begin, (unsigned long long)e->end);
      free(order);
      return st;
    }
    pos = e->end;
    prev = e;
  }
  free(order);
  if (pos != data_size)
    CLM_FAIL(CLM_ERR_PARSE, "%s: %llu bytes after the last tensor: expected %llu bytes, the file "
             "has %llu", path, (unsigned long long)(data_size - pos),
             (unsigned long long)(sf->data_start + pos), (unsigned long long)sf->file_size);
  return CLM_OK;
}

static clm_status parse_header(const char *path, const char *text, size_t len, clm_st_file *sf) {
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (!root) {
    size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
    CLM_FAIL(CLM_ERR_PARSE, "%s: header is not valid JSON (error near byte %zu of %zu; header "
             "length wrong or file corrupt)", path, at, len);
  }
  for (const char *p = end; p < text + len; p++)
    if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
      cJSON_Delete(root);
      CLM_FAIL(CLM_ERR_PARSE, "%s: header has bytes after its JSON object (at byte %zu of %zu)",
               path, (size_t)(p - text), len);
    }
  clm_status st = CLM_OK;
  if (!cJSON_IsObject(root)) {
    st = CLM_ERROR(CLM_ERR_PARSE, "%s: header is not a JSON object", path);
    goto done;
  }
  int n = 0, nmeta = 0;
  size_t name_bytes = 0;
  const cJSON *k;
  cJSON_ArrayForEach(k, root) {
    if (strcmp(k->string, "__metadata__")) {
      n++;
      name_bytes += strlen(k->string) + 1;
    } else if (++nmeta > 1) {
      st = CLM_ERROR(CLM_ERR_PARSE, "%s: '__metadata__' appears twice in the header", path);
      goto done;
    }
  }
  sf->entries = calloc((size_t)n + 1, sizeof *sf->entries);
  sf->by_name = malloc(sizeof *sf->by_name * ((size_t)n + 1));
  sf->names = malloc(name_bytes + 1);
  if (!sf->entries || !sf->by_name || !sf->names) {
    st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "%s: out of host memory", path);
    goto done;
  }
  char *s = sf->names;
  cJSON_ArrayForEach(k, root) {
    if (!strcmp(k->string, "__metadata__")) {
      CLM_CHECK(st, parse_meta(path, k, sf), done);
      continue;
    }
    clm_st_entry *e = &sf->entries[sf->nentries];
    CLM_CHECK(st, parse_entry(path, k, e), done);
    size_t l = strlen(k->string) + 1;
    memcpy(s, k->string, l);
    e->name = s;
    s += l;
    sf->by_name[sf->nentries] = e;
    sf->nentries++;
  }
  /* duplicate names: sorted, neighbours compared; the order also serves clm_st_find */
  qsort(sf->by_name, (size_t)sf->nentries, sizeof *sf->by_name, by_name);
  for (int i = 1; i < sf->nentries; i++)
    if (!strcmp(sf->by_name[i - 1]->name, sf->by_name[i]->name)) {
      st = CLM_ERROR(CLM_ERR_PARSE, "%s: tensor '%s' appears twice in the header", path,
                     sf->by_name[i]->name);
      goto done;
    }
  st = check_layout(path, sf);
done:
  cJSON_Delete(root);
  return st;
}

/* The 8-byte little-endian header length against the file size: *n on success. */
static clm_status header_length(const char *path, const unsigned char lenbuf[8],
                                uint64_t file_size, uint64_t *n) {
  *n = 0;
  for (int i = 7; i >= 0; i--) *n = (*n << 8) | lenbuf[i];
  if (*n > file_size - 8)
    CLM_FAIL(CLM_ERR_PARSE, "%s: header length %llu exceeds the file (truncated or not "
             "safetensors): expected at least %llu bytes, the file has %llu", path,
             (unsigned long long)*n, (unsigned long long)*n + 8, (unsigned long long)file_size);
  if (*n < 2 || *n > CLM_ST_MAX_HEADER)
    CLM_FAIL(CLM_ERR_PARSE, "%s: header length %llu out of range (2 to %u bytes)", path,
             (unsigned long long)*n, CLM_ST_MAX_HEADER);
  return CLM_OK;
}

static clm_status too_short(const char *path, uint64_t file_size) {
  CLM_FAIL(CLM_ERR_PARSE, "%s: %llu bytes, too short for a safetensors file (8-byte header "
           "length first)", path, (unsigned long long)file_size);
}

clm_status clm_st_open(const char *path, clm_st_file *out) {
  memset(out, 0, sizeof *out);
  /* never blocks on a FIFO; a pipe cannot be one either: the tensors are read by seeking */
  FILE *f;
  size_t size;
  CLM_TRY(clm_file_open_read(path, "checkpoint", &f, &size));
  if (size == SIZE_MAX) {
    fclose(f);
    CLM_FAIL(CLM_ERR_IO, "checkpoint %s is a pipe, not a regular file (tensors are read by "
             "seeking)", path);
  }
  out->f = f;
  clm_status st = CLM_OK;
  char *text = NULL;
  out->file_size = (uint64_t)size;
  unsigned char lenbuf[8];
  if (out->file_size < 8 || fread(lenbuf, 1, 8, f) != 8) {
    st = too_short(path, out->file_size);
    goto fail;
  }
  uint64_t n;
  CLM_CHECK(st, header_length(path, lenbuf, out->file_size, &n), fail);
  out->data_start = 8 + n;
  text = malloc((size_t)n + 1);
  if (!text) {
    st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "%s: out of host memory for a %llu-byte header", path,
                   (unsigned long long)n);
    goto fail;
  }
  if (fread(text, 1, (size_t)n, f) != (size_t)n) {
    st = CLM_ERROR(CLM_ERR_IO, "%s: short read of the %llu-byte header", path,
                   (unsigned long long)n);
    goto fail;
  }
  text[n] = 0;
  CLM_CHECK(st, parse_header(path, text, (size_t)n, out), fail);
  free(text);
  return CLM_OK;
fail:
  free(text);
  clm_st_close(out);
  return st;
}

clm_status clm_st_parse(const char *name, const void *data, size_t size, clm_st_file *out) {
  memset(out, 0, sizeof *out);
  out->file_size = (uint64_t)size;
  if (size < 8) return too_short(name, out->file_size);
  uint64_t n;
  clm_status st = header_length(name, data, out->file_size, &n);
  if (st != CLM_OK) return st;
  out->data_start = 8 + n;
  /* a copy of exactly the header, so nothing can read past it into the tensor bytes */
  char *text = malloc((size_t)n + 1);
  if (!text) CLM_FAIL(CLM_ERR_HOST_MEMORY, "%s: out of host memory for a %llu-byte header", name,
                      (unsigned long long)n);
  memcpy(text, (const unsigned char *)data + 8, (size_t)n);
  text[n] = 0;
  st = parse_header(name, text, (size_t)n, out);
  free(text);
  if (st != CLM_OK) clm_st_close(out);
  return st;
}

clm_status clm_st_read(const char *path, clm_st_file *sf, const clm_st_entry *e, float *dst) {
  size_t bytes = (size_t)(e->end - e->begin);
  if (!bytes) return CLM_OK;
  if (fseeko(sf->f, (off_t)(sf->data_start + e->begin), SEEK_SET) != 0 ||
      fread(dst, 1, bytes, sf->f) != bytes)
    CLM_FAIL(CLM_ERR_IO, "%s: tensor '%s': cannot read %zu bytes at offset %llu", path, e->name,
             bytes, (unsigned long long)(sf->data_start + e->begin));
  if (!clm_st_host_le()) clm_st_swap32(dst, bytes / 4);
  return CLM_OK;
}
