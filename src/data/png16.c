/* 16-bit greyscale PNG writing (stb_image_write has 8-bit only): the rows, "up"-filtered, go
 * through stb_image_write's zlib compressor and are wrapped in IHDR / IDAT / IEND chunks. Used
 * by the synthetic dataset writer (instance ids, disparity) and by inference outputs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/png16.h"
#include "runtime/runtime-impl.h"

/* Defined by stb_image_write's implementation (png_write.c) but not declared in its header. */
unsigned char *stbi_zlib_compress(unsigned char *data, int data_len, int *out_len, int quality);

static uint32_t crc32_png(const unsigned char *p, size_t n, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

static int put_chunk(FILE *f, const char *type, const unsigned char *data, uint32_t len) {
  unsigned char hdr[8] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
                          (unsigned char)(len >> 8), (unsigned char)len,
                          (unsigned char)type[0], (unsigned char)type[1],
                          (unsigned char)type[2], (unsigned char)type[3]};
  uint32_t crc = crc32_png(hdr + 4, 4, 0);
  crc = crc32_png(data, len, crc);
  unsigned char tail[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                           (unsigned char)(crc >> 8), (unsigned char)crc};
  return fwrite(hdr, 1, 8, f) == 8 && (len == 0 || fwrite(data, 1, len, f) == len) &&
         fwrite(tail, 1, 4, f) == 4;
}

clm_status clm_png_write16(const char *path, int w, int h, const uint16_t *px) {
  size_t stride = (size_t)w * 2 + 1, raw_n = stride * (size_t)h;
  if (raw_n > 0x7fffffff) CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: image too large", path);
  unsigned char *raw = malloc(raw_n);
  if (!raw) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory writing %s", path);
  for (int y = 0; y < h; y++) {
    unsigned char *row = raw + (size_t)y * stride;
    row[0] = y ? 2 : 0; /* up filter from the second row */
    for (int x = 0; x < w; x++) {
      uint16_t v = px[(size_t)y * w + x];
      unsigned char hi = (unsigned char)(v >> 8), lo = (unsigned char)v;
      if (y) {
        uint16_t u = px[(size_t)(y - 1) * w + x];
        hi = (unsigned char)(hi - (u >> 8));
        lo = (unsigned char)(lo - (u & 255));
      }
      row[1 + 2 * x] = hi;
      row[2 + 2 * x] = lo;
    }
  }
  int zlen = 0;
  unsigned char *z = stbi_zlib_compress(raw, (int)raw_n, &zlen, 8);
  free(raw);
  if (!z) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory compressing %s", path);
  FILE *f = fopen(path, "wb");
  if (!f) {
    free(z);
    CLM_FAIL(CLM_ERR_IO, "cannot open %s for writing: %s", path, strerror(errno));
  }
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  unsigned char ihdr[13] = {(unsigned char)(w >> 24), (unsigned char)(w >> 16),
                            (unsigned char)(w >> 8), (unsigned char)w,
                            (unsigned char)(h >> 24), (unsigned char)(h >> 16),
                            (unsigned char)(h >> 8), (unsigned char)h,
                            16, 0, 0, 0, 0}; /* depth 16, greyscale, deflate, no interlace */
  int ok = fwrite(sig, 1, 8, f) == 8 && put_chunk(f, "IHDR", ihdr, 13) &&
           put_chunk(f, "IDAT", z, (uint32_t)zlen) && put_chunk(f, "IEND", NULL, 0);
  free(z);
  if (fclose(f) != 0) ok = 0;
  if (!ok) CLM_FAIL(CLM_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  return CLM_OK;
}
