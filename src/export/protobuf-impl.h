/* A minimal Protocol Buffers encoder (wire format only, no schema), enough to write ONNX
 * models: varint and length-delimited fields into a growable byte buffer, nested messages by
 * encoding them into a buffer of their own and appending that as a length-delimited field.
 * Not part of the public API; the ONNX writer (onnx.c) is its only user.
 *
 * Wire format (https://protobuf.dev/programming-guides/encoding/): each field is a key
 * varint (field_number << 3 | wire_type) followed by the value; wire type 0 is a varint
 * (int32/int64/enum, negatives as 10-byte two's complement), 2 is length-delimited (a varint
 * byte count, then the bytes: strings, bytes, sub-messages), 5 is 32-bit little-endian (float).
 * Repeated scalars are written unpacked (one key per value), which proto2 parsers such as
 * ONNX's expect by default and proto3 parsers accept. */
#ifndef CLMTL_PROTOBUF_IMPL_H
#define CLMTL_PROTOBUF_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include "clmtl/status.h"

typedef struct clm_pb {
  uint8_t *data;
  size_t len, cap;
  int failed; /* an allocation failed: every later write is ignored, clm_pb_status tells */
} clm_pb;

/* Releases the bytes and clears the buffer; NULL does nothing. */
void clm_pb_free(clm_pb *b);
/* CLM_OK, or CLM_ERR_HOST_MEMORY (with a message naming `what`) after a failed allocation. */
clm_status clm_pb_status(const clm_pb *b, const char *what);

/* Field `field` as a varint (wire type 0): int32, int64, enum, bool. */
void clm_pb_int(clm_pb *b, int field, int64_t v);
/* Field `field` as a 32-bit float (wire type 5). */
void clm_pb_float(clm_pb *b, int field, float v);
/* Field `field` as length-delimited bytes (wire type 2): bytes, or a message already encoded. */
void clm_pb_bytes(clm_pb *b, int field, const void *bytes, size_t n);
/* A NUL-terminated string as a length-delimited field. */
void clm_pb_string(clm_pb *b, int field, const char *s);
/* The encoded message `sub` as a length-delimited field of b; sub is freed (it is consumed,
 * and its failure carries over to b). */
void clm_pb_message(clm_pb *b, int field, clm_pb *sub);

#endif
