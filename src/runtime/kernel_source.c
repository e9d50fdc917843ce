/* Where kernel source text comes from: the context's kernel directory on disk when set (for
 * editing kernels without rebuilding), else the copy embedded at build time, else the source
 * tree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/kernel-source.h"
#include "runtime/runtime-impl.h"

static clm_status read_file(const char *path, char **out) {
  FILE *f = fopen(path, "rb");
  if (!f) CLM_FAIL(CLM_ERR_IO, "cannot open kernel source %s", path);
  char *buf = NULL;
  long len = -1;
  if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
  if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    CLM_FAIL(CLM_ERR_IO, "cannot read kernel source %s", path);
  }
  buf = malloc((size_t)len + 1);
  if (!buf) { fclose(f); CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory"); }
  size_t got = fread(buf, 1, (size_t)len, f);
  fclose(f);
  if (got != (size_t)len) { free(buf); CLM_FAIL(CLM_ERR_IO, "short read of kernel source %s", path); }
  buf[len] = '\0';
  *out = buf;
  return CLM_OK;
}

clm_status clm_kernel_source_load_from(const char *dir, const char *file, char **out) {
  char path[1024];
  if (dir && *dir) {
    snprintf(path, sizeof path, "%s/%s.cl", dir, file);
    return read_file(path, out);
  }
  for (int i = 0; i < clm_embedded_kernel_count; i++)
    if (!strcmp(clm_embedded_kernels[i].name, file)) {
      *out = strdup(clm_embedded_kernels[i].text);
      if (!*out) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
      return CLM_OK;
    }
  if (clm_embedded_kernel_count > 0)
    CLM_FAIL(CLM_ERR_NOT_FOUND, "no embedded kernel source cl/%s.cl", file);
  snprintf(path, sizeof path, "%s/%s.cl", CLMTL_SOURCE_KERNEL_DIR, file);
  return read_file(path, out);
}

clm_status clm_kernel_source_load(const char *file, char **out) {
  return clm_kernel_source_load_from(NULL, file, out);
}
