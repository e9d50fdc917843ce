/* Reading the images inference runs on (infer.h clm_image_read): PNG through the library's
 * stb_image after the structural check of data/png_check.c, JPEG through a private JPEG-only
 * stb_image after a walk of its markers to the frame header that bounds its dimensions (stb
 * would otherwise allocate what a 600-byte file claims). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stb_image.h>
#include "clmtl/infer.h"
#include "data/png_check.h"
#include "infer/infer-impl.h"
#include "runtime/file-impl.h"
#include "runtime/runtime-impl.h"

/* The frame header (SOFn) of a JPEG: its height and width, or a message. */
static clm_status jpeg_check(const char *path, FILE *f, int *height, int *width) {
  unsigned char b[8];
  if (fread(b, 1, 2, f) != 2 || b[0] != 0xff || b[1] != 0xd8)
    CLM_FAIL(CLM_ERR_PARSE, "%s: not a readable JPEG (no start-of-image marker)", path);
  for (;;) {
    int c = fgetc(f);
    if (c == EOF) break;
    if (c != 0xff) CLM_FAIL(CLM_ERR_PARSE, "%s: not a readable JPEG (byte 0x%02x where a marker was expected, offset %ld)", path, c, ftell(f) - 1);
    do c = fgetc(f); while (c == 0xff);
    if (c == EOF) break;
    if (c == 0xd9 || c == 0xda) break; /* end of image or start of scan before any frame */
    if (c == 0x01 || (c >= 0xd0 && c <= 0xd7)) continue; /* markers without a length */
    if (fread(b, 1, 2, f) != 2) break;
    long len = b[0] * 256L + b[1];
    if (len < 2) CLM_FAIL(CLM_ERR_PARSE, "%s: not a readable JPEG (marker 0xff%02x has length %ld)", path, c, len);
    if (c >= 0xc0 && c <= 0xcf && c != 0xc4 && c != 0xc8 && c != 0xcc) {
      if (len < 8 || fread(b, 1, 5, f) != 5) break;
      *height = b[1] * 256 + b[2];
      *width = b[3] * 256 + b[4];
      if (*height < 1 || *width < 1 || *height > CLM_IMAGE_MAX_SIDE || *width > CLM_IMAGE_MAX_SIDE ||
          (long)*height * *width > CLM_IMAGE_MAX_PIXELS)
        CLM_FAIL(CLM_ERR_PARSE, "%s: JPEG frame of %d x %d pixels refused (at most %d a side and %ld pixels)",
                 path, *width, *height, CLM_IMAGE_MAX_SIDE, (long)CLM_IMAGE_MAX_PIXELS);
      return CLM_OK;
    }
    if (fseek(f, len - 2, SEEK_CUR) != 0) break;
  }
  CLM_FAIL(CLM_ERR_PARSE, "%s: not a readable JPEG (no frame header before the image data ends)", path);
}

clm_status clm_image_read(const char *path, uint8_t **rgb, int *height, int *width) {
  *rgb = NULL;
  /* a regular file only: FIFOs, devices and directories are refused at once, never waited on */
  FILE *f = NULL;
  size_t bytes = 0;
  CLM_TRY(clm_file_open_read(path, "image", &f, &bytes));
  if (bytes == SIZE_MAX) {
    fclose(f);
    CLM_FAIL(CLM_ERR_IO, "%s: a pipe, not a file: images are read from regular files", path);
  }
  unsigned char magic[4] = {0};
  size_t n = fread(magic, 1, 4, f);
  rewind(f);
  int is_png = n == 4 && magic[0] == 0x89 && magic[1] == 'P' && magic[2] == 'N' && magic[3] == 'G';
  int is_jpeg = n >= 2 && magic[0] == 0xff && magic[1] == 0xd8;
  clm_status st = CLM_OK;
  int jh = 0, jw = 0;
  if (is_jpeg) st = jpeg_check(path, f, &jh, &jw);
  fclose(f);
  if (!is_png && !is_jpeg) CLM_FAIL(CLM_ERR_PARSE, "%s: neither a PNG nor a JPEG (by its first bytes)", path);
  if (st != CLM_OK) return st;
  int w = 0, h = 0, c = 0;
  if (is_png) {
    char why[512];
    if (clm_png_check(path, why, sizeof why) != CLM_OK) CLM_FAIL(CLM_ERR_PARSE, "%s", why);
    /* grey, grey + alpha and RGBA are read as RGB, as the CityScapes reader does */
    unsigned char *px = stbi_load(path, &w, &h, &c, 3);
    if (!px) CLM_FAIL(CLM_ERR_PARSE, "%s: cannot decode the PNG (%s)", path, stbi_failure_reason());
    *rgb = malloc((size_t)w * h * 3);
    if (*rgb) memcpy(*rgb, px, (size_t)w * h * 3);
    stbi_image_free(px);
  } else {
    const char *why = NULL;
    unsigned char *px = infer_jpeg_load(path, &w, &h, &why);
    if (!px) CLM_FAIL(CLM_ERR_PARSE, "%s: cannot decode the JPEG (%s)", path, why ? why : "?");
    if (w != jw || h != jh) {
      infer_jpeg_free(px);
      CLM_FAIL(CLM_ERR_PARSE, "%s: the JPEG decoded to %d x %d, its frame header says %d x %d", path, w, h, jw, jh);
    }
    *rgb = malloc((size_t)w * h * 3);
    if (*rgb) memcpy(*rgb, px, (size_t)w * h * 3);
    infer_jpeg_free(px);
  }
  if (!*rgb) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory reading %s", path);
  *height = h;
  *width = w;
  return CLM_OK;
}
