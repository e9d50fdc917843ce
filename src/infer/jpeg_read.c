/* The JPEG decoder: a private (static) copy of stb_image built with JPEG only, so that the
 * library's shared stb_image (src/data/png_read.c) stays PNG-only for datasets, where a file
 * of garbage must never pass for a loosely-checked format. Only image_read.c calls this. */
#include "data/stb-impl.h"
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#include <stb_image.h>
#include "infer/infer-impl.h" /* stb warnings stay off to the end: some are reported there */

unsigned char *infer_jpeg_load(const char *path, int *width, int *height, const char **why) {
  int c;
  unsigned char *px = stbi_load(path, width, height, &c, 3);
  *why = px ? NULL : stbi_failure_reason();
  return px;
}

void infer_jpeg_free(unsigned char *px) { stbi_image_free(px); }
