/* The Protocol Buffers wire-format encoder of protobuf-impl.h: a growable buffer and the
 * varint, fixed32 and length-delimited field writers. Nothing here knows about ONNX. */
#include <stdlib.h>
#include <string.h>
#include "export/protobuf-impl.h"
#include "runtime/runtime-impl.h"

void clm_pb_free(clm_pb *b) {
  if (!b) return;
  free(b->data);
  memset(b, 0, sizeof *b);
}

clm_status clm_pb_status(const clm_pb *b, const char *what) {
  if (b->failed) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory encoding %s", what);
  return CLM_OK;
}

/* Room for n more bytes (doubling), or the buffer marked failed. */
static int reserve(clm_pb *b, size_t n) {
  if (b->failed) return 0;
  if (n > SIZE_MAX / 2 - b->len) {
    b->failed = 1;
    return 0;
  }
  if (b->len + n <= b->cap) return 1;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + n) cap *= 2;
  uint8_t *d = realloc(b->data, cap);
  if (!d) {
    b->failed = 1;
    return 0;
  }
  b->data = d;
  b->cap = cap;
  return 1;
}

static void put(clm_pb *b, const void *bytes, size_t n) {
  if (n && reserve(b, n)) {
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
  }
}

/* An unsigned varint: 7 bits per byte, least significant first, high bit = more follow. */
static void varint(clm_pb *b, uint64_t v) {
  uint8_t tmp[10];
  size_t n = 0;
  do {
    tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  put(b, tmp, n);
}

static void key(clm_pb *b, int field, int wire) { varint(b, ((uint64_t)field << 3) | (uint64_t)wire); }

void clm_pb_int(clm_pb *b, int field, int64_t v) {
  key(b, field, 0);
  varint(b, (uint64_t)v); /* negatives: the 64-bit two's complement, 10 bytes */
}

void clm_pb_float(clm_pb *b, int field, float v) {
  uint32_t u;
  memcpy(&u, &v, 4);
  uint8_t le[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
  key(b, field, 5);
  put(b, le, 4);
}

void clm_pb_bytes(clm_pb *b, int field, const void *bytes, size_t n) {
  key(b, field, 2);
  varint(b, n);
  put(b, bytes, n);
}

void clm_pb_string(clm_pb *b, int field, const char *s) { clm_pb_bytes(b, field, s, strlen(s)); }

void clm_pb_message(clm_pb *b, int field, clm_pb *sub) {
  if (sub->failed) b->failed = 1;
  else clm_pb_bytes(b, field, sub->data, sub->len);
  clm_pb_free(sub);
}
