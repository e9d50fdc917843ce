/* 16-bit greyscale PNG writer (src/data/png16.c). Internal to the library. */
#ifndef CLMTL_DATA_PNG16_H
#define CLMTL_DATA_PNG16_H

#include <stdint.h>
#include "clmtl/status.h"

/* Writes px (h × w, row-major) as a 16-bit greyscale PNG at path (big-endian samples). */
clm_status clm_png_write16(const char *path, int w, int h, const uint16_t *px);

#endif
