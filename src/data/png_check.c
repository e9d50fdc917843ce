/* Chunk-level PNG check before decoding; see png_check.h. Layout per the PNG specification:
 * an 8-byte signature, then chunks of [length u32 BE][type 4 letters][data][CRC u32]; IHDR
 * first (width, height, bit depth, colour type, compression, filter, interlace), IEND last. */
#define _FILE_OFFSET_BITS 64
#include "data/png_check.h"
#include "runtime/file-impl.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#define PNG_MAX_CHUNK 0x7fffffffu /* the specification's limit on one chunk's length */
#define DEFLATE_MAX_RATIO 1032    /* most bytes one compressed byte can inflate to */

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static clm_status refuse(char *msg, size_t size, const char *path, const char *fmt, ...) {
  char why[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  snprintf(msg, size, "%s: not a readable PNG (%s)", path, why);
  return CLM_ERR_PARSE;
}

/* Channels of a colour type at a bit depth, 0 if the pair is not allowed. */
static int png_channels(int color, int depth) {
  int low_ok = depth == 1 || depth == 2 || depth == 4 || depth == 8;
  switch (color) {
    case 0: return low_ok || depth == 16 ? 1 : 0;
    case 3: return low_ok ? 1 : 0;
    case 2: return depth == 8 || depth == 16 ? 3 : 0;
    case 4: return depth == 8 || depth == 16 ? 2 : 0;
    case 6: return depth == 8 || depth == 16 ? 4 : 0;
    default: return 0;
  }
}

/* The header fields, checked; on success *w, *h and *bits (per pixel) are set. */
static clm_status check_ihdr(const unsigned char d[13], const char *path, char *msg, size_t size,
                             uint32_t *w, uint32_t *h, int *bits, int *interlaced) {
  *w = be32(d);
  *h = be32(d + 4);
  int depth = d[8], color = d[9], ch = png_channels(color, depth);
  if (*w == 0 || *h == 0 || *w > PNG_MAX_CHUNK || *h > PNG_MAX_CHUNK)
    return refuse(msg, size, path, "IHDR gives a %ux%u image", *w, *h);
  if (!ch)
    return refuse(msg, size, path, "IHDR gives colour type %d with bit depth %d", color, depth);
  if (d[10] != 0 || d[11] != 0 || d[12] > 1)
    return refuse(msg, size, path, "IHDR gives compression %d, filter %d, interlace %d", d[10],
                  d[11], d[12]);
  *bits = depth * ch;
  *interlaced = d[12];
  return CLM_OK;
}

static clm_status walk(FILE *f, const char *path, char *msg, size_t size) {
  static const unsigned char SIG[8] = {137, 'P', 'N', 'G', '\r', '\n', 26, '\n'};
  unsigned char head[8], ihdr[13];
  if (fseeko(f, 0, SEEK_END) != 0) return refuse(msg, size, path, "cannot seek");
  const uint64_t file_size = (uint64_t)ftello(f);
  rewind(f);
  if (fread(head, 1, 8, f) != 8 || memcmp(head, SIG, 8) != 0)
    return refuse(msg, size, path, "no PNG signature in the first 8 bytes");

  uint64_t at = 8, idat = 0;
  uint32_t w = 0, h = 0;
  int bits = 0, interlaced = 0, chunks = 0;
  for (;; chunks++) {
    if (at == file_size) return refuse(msg, size, path, "no IEND chunk: the file is truncated");
    if (file_size - at < 12 || fseeko(f, (off_t)at, SEEK_SET) != 0 || fread(head, 1, 8, f) != 8)
      return refuse(msg, size, path, "the file ends inside the chunk header at byte %llu",
                    (unsigned long long)at);
    uint32_t len = be32(head);
    char type[5] = {0};
    for (int i = 0; i < 4; i++) {
      unsigned char c = head[4 + i];
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
        return refuse(msg, size, path, "chunk at byte %llu has a type that is not 4 letters",
                      (unsigned long long)at);
      type[i] = (char)c;
    }
    if (len > PNG_MAX_CHUNK || (uint64_t)len + 12 > file_size - at)
      return refuse(msg, size, path,
                    "chunk %s at byte %llu claims %u bytes of data, only %llu bytes follow its "
                    "header", type, (unsigned long long)at, len,
                    (unsigned long long)(file_size - at - 8));
    if (chunks == 0) {
      if (strcmp(type, "IHDR") != 0 || len != 13)
        return refuse(msg, size, path, "the first chunk is %s of %u bytes, not a 13-byte IHDR",
                      type, len);
      if (fread(ihdr, 1, 13, f) != 13) return refuse(msg, size, path, "cannot read IHDR");
      clm_status st = check_ihdr(ihdr, path, msg, size, &w, &h, &bits, &interlaced);
      if (st != CLM_OK) return st;
    } else if (strcmp(type, "IDAT") == 0) {
      idat += len;
    } else if (strcmp(type, "IEND") == 0) {
      break;
    }
    at += (uint64_t)len + 12;
  }
  if (idat == 0) return refuse(msg, size, path, "no image data (IDAT) before IEND");

  /* Bytes the filtered scanlines take at least: one filter byte and the packed pixels per row
   * when not interlaced; the packed pixels alone bound the interlaced case from below. */
  const uint64_t row = ((uint64_t)w * (uint64_t)bits + 7) / 8 + (interlaced ? 0 : 1);
  const uint64_t room = idat * DEFLATE_MAX_RATIO + DEFLATE_MAX_RATIO;
  if (row > room / h)
    return refuse(msg, size, path,
                  "%llu bytes of compressed data cannot hold the %ux%u image its IHDR claims",
                  (unsigned long long)idat, w, h);
  return CLM_OK;
}

clm_status clm_png_check(const char *path, char *msg, size_t size) {
  /* a regular file only: a FIFO, directory or device is refused without blocking (the
   * decoder opens the file again, which a pipe cannot give twice) */
  FILE *f = NULL;
  size_t bytes = 0;
  if (clm_file_open_read(path, "image", &f, &bytes) != CLM_OK) {
    snprintf(msg, size, "%s", clm_last_error());
    return CLM_ERR_IO;
  }
  if (bytes == SIZE_MAX) {
    fclose(f);
    snprintf(msg, size, "%s: a pipe, not a file: images are read from regular files", path);
    return CLM_ERR_IO;
  }
  clm_status st = walk(f, path, msg, size);
  fclose(f);
  return st;
}
