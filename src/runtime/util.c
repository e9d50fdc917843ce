/* The shared host utilities of util.h: monotonic clock, FNV-1a 64, splitmix64, mkdir -p.
 * Each is the one definition in the tree; callers in src/ and tools/ use these. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "clmtl/util.h"
#include "runtime/runtime-impl.h"

double clm_time_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

uint64_t clm_fnv1a64(uint64_t h, const void *data, size_t len) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

uint64_t clm_splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t clm_splitmix64(uint64_t *state) {
  *state += CLM_SPLITMIX64_GAMMA;
  return clm_splitmix64_mix(*state);
}

clm_status clm_mkdir_p(const char *dir, unsigned mode) {
  if (!dir || !*dir) CLM_FAIL(CLM_ERR_INVALID_ARG, "empty directory name");
  char *tmp = strdup(dir);
  if (!tmp) CLM_FAIL(CLM_ERR_HOST_MEMORY, "%s: out of host memory", dir);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/' || p[-1] == '/') continue;
    *p = '\0';
    if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST) {
      int e = errno;
      clm_status st = CLM_ERROR(CLM_ERR_IO, "cannot create directory '%s' (for %s): %s", tmp, dir,
                                strerror(e));
      free(tmp);
      return st;
    }
    *p = '/';
  }
  free(tmp);
  struct stat sb;
  if (mkdir(dir, (mode_t)mode) != 0 && errno != EEXIST)
    CLM_FAIL(CLM_ERR_IO, "cannot create directory '%s': %s", dir, strerror(errno));
  if (stat(dir, &sb) != 0) CLM_FAIL(CLM_ERR_IO, "%s: cannot stat: %s", dir, strerror(errno));
  if (!S_ISDIR(sb.st_mode)) CLM_FAIL(CLM_ERR_IO, "%s: exists and is not a directory", dir);
  return CLM_OK;
}
