/* Inference results as files other tools read (infer.h): CityScapes disparity and instanceIds
 * encodings, NumPy .npy arrays, 8-bit and 16-bit PNGs. Plain host code. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/infer.h"
#include <stb_image_write.h>
#include "data/png16.h"
#include "runtime/runtime-impl.h"

void clm_disparity_encode(const float *disparity, size_t count, uint16_t *out) {
  for (size_t i = 0; i < count; i++) {
    float d = disparity[i];
    if (!(d > 0) || !isfinite(d)) { out[i] = 0; continue; }
    double v = floor((double)d * 256.0 + 0.5) + 1.0;
    out[i] = (uint16_t)(v > 65535.0 ? 65535.0 : v);
  }
}

clm_status clm_instance_ids(const uint8_t *classes, const int32_t *instances, int height, int width,
                            uint16_t *out, clm_instance_info *info, int max_info, int *count) {
  *count = 0;
  size_t hw = (size_t)height * width;
  int n = 0;
  for (size_t i = 0; i < hw; i++) n = instances[i] > n ? instances[i] : n;
  int *cls = malloc(((size_t)n + 1) * sizeof *cls), *index = malloc(((size_t)n + 1) * sizeof *index);
  clm_instance_info *all = calloc((size_t)n + 1, sizeof *all);
  double *sy = calloc((size_t)n + 1, sizeof *sy), *sx = calloc((size_t)n + 1, sizeof *sx);
  int per_class[256] = {0};
  clm_status st = CLM_OK;
  if (!cls || !index || !all || !sy || !sx) {
    st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "out of host memory for %d instances", n);
    goto done;
  }
  for (int k = 0; k <= n; k++) { cls[k] = -1; index[k] = -1; }
  for (size_t i = 0; i < hw; i++) {
    int k = instances[i], c = classes[i];
    if (k <= 0 || c >= 65) continue;
    if (cls[k] >= 0 && cls[k] != c) {
      st = CLM_ERROR(CLM_ERR_INVALID_ARG, "instance %d spans classes %d and %d (pixel %zu, %zu)", k, cls[k], c,
                     i / (size_t)width, i % (size_t)width);
      goto done;
    }
    if (cls[k] < 0) {
      cls[k] = c;
      all[k] = (clm_instance_info){0, c, 0, width, height, -1, -1, 0, 0};
    }
    clm_instance_info *a = &all[k];
    int y = (int)(i / (size_t)width), x = (int)(i % (size_t)width);
    a->pixels++;
    sy[k] += y;
    sx[k] += x;
    a->x0 = x < a->x0 ? x : a->x0;
    a->y0 = y < a->y0 ? y : a->y0;
    a->x1 = x > a->x1 ? x : a->x1;
    a->y1 = y > a->y1 ? y : a->y1;
  }
  int found = 0;
  for (int k = 1; k <= n; k++) {
    if (cls[k] < 0) continue;
    if (per_class[cls[k]] == 1000) {
      st = CLM_ERROR(CLM_ERR_INVALID_ARG, "class %d has more than 1000 instances, more than class·1000 + k holds",
                     cls[k]);
      goto done;
    }
    index[k] = per_class[cls[k]]++;
    all[k].id = cls[k] * 1000 + index[k];
    all[k].cy = sy[k] / (double)all[k].pixels;
    all[k].cx = sx[k] / (double)all[k].pixels;
    if (info && found < max_info) info[found] = all[k];
    found++;
  }
  for (size_t i = 0; i < hw; i++) {
    int k = instances[i];
    out[i] = (uint16_t)(k > 0 && k <= n && index[k] >= 0 && classes[i] < 65 ? all[k].id : classes[i]);
  }
  *count = found;
done:
  free(cls); free(index); free(all); free(sy); free(sx);
  return st;
}

clm_status clm_npy_write(const char *path, int channels, int height, int width, const float *values) {
  char head[128];
  int n = snprintf(head, sizeof head, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d, %d), }",
                   channels, height, width);
  int total = ((10 + n + 1 + 63) / 64) * 64; /* magic, version, length, dict, '\n': to 64 bytes */
  FILE *f = fopen(path, "wb");
  if (!f) CLM_FAIL(CLM_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  unsigned short hl = (unsigned short)(total - 10);
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 255), (unsigned char)(hl >> 8)};
  int bad = fwrite(pre, 1, 10, f) != 10 || fwrite(head, 1, (size_t)n, f) != (size_t)n;
  for (int i = 10 + n; i < total - 1; i++) bad |= fputc(' ', f) == EOF;
  bad |= fputc('\n', f) == EOF;
  size_t count = (size_t)channels * height * width;
  bad |= fwrite(values, sizeof *values, count, f) != count;
  bad |= fclose(f) != 0;
  if (bad) CLM_FAIL(CLM_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  return CLM_OK;
}

clm_status clm_png_write8(const char *path, int height, int width, int channels,
                          const uint8_t *px) {
  errno = 0;
  if (!stbi_write_png(path, width, height, channels, px, width * channels))
    CLM_FAIL(CLM_ERR_IO, "cannot write %s: %s", path, errno ? strerror(errno) : "stb_image_write failed");
  return CLM_OK;
}

clm_status clm_png_write_gray16(const char *path, int height, int width, const uint16_t *px) {
  return clm_png_write16(path, width, height, px);
}
