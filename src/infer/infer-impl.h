/* Internal to src/infer/: the JPEG decoder's entry points (jpeg_read.c). */
#ifndef CLMTL_INFER_IMPL_H
#define CLMTL_INFER_IMPL_H

/* Decodes the JPEG at path as 8-bit RGB (stb_image); NULL with *why set on failure. The
 * pixels are released with infer_jpeg_free. */
unsigned char *infer_jpeg_load(const char *path, int *width, int *height, const char **why);
void infer_jpeg_free(unsigned char *px);

#endif
