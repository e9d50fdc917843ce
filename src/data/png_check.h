/* A structural check of a PNG file that runs before stb_image decodes it. stb_image trusts the
 * lengths in a file: an IDAT chunk that claims a gigabyte, or an IHDR that claims 20000x20000
 * pixels over a few bytes of data, makes it allocate that much before it finds the file short.
 * clm_png_check walks the chunk headers (a few seeks, no decoding) and refuses such files. */
#ifndef CLMTL_PNG_CHECK_H
#define CLMTL_PNG_CHECK_H

#include <stddef.h>
#include "clmtl/status.h"

/* CLM_OK when path is a PNG whose chunks all lie inside the file, whose IHDR is valid, that has
 * an IEND, and whose compressed image data could inflate to the size its header claims (deflate
 * expands at most 1032:1). Otherwise CLM_ERR_PARSE (CLM_ERR_NOT_FOUND when it cannot be opened)
 * with "<path>: not a readable PNG (<what is wrong, where>)" in msg. Sets no global error. */
clm_status clm_png_check(const char *path, char *msg, size_t size);

#endif
