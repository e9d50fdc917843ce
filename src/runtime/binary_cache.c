/* On-disk cache of compiled program binaries, one file per (platform, device, driver, source,
 * options). An entry is: magic, format version, the 128-bit key, payload length, payload
 * checksum, payload. It is written to a unique temporary file, flushed and renamed, so readers
 * never see a partial entry; anything that fails verification is deleted and rebuilt. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "runtime/runtime-impl.h"

#define CACHE_MAGIC "CLMTLBIN"
#define CACHE_VERSION 1u

typedef struct {
  char magic[8];
  uint32_t version, reserved;
  uint64_t key[2];
  uint64_t length;
  uint64_t checksum;
} cache_header;

static uint64_t fnv1a(uint64_t h, const void *data, size_t len) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

static uint64_t mix(uint64_t x) { /* splitmix64 finaliser */
  x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27; x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static void key_add(uint64_t h[2], const char *s) {
  size_t n = strlen(s) + 1; /* include the NUL so fields cannot run into each other */
  h[0] = fnv1a(h[0], s, n);
  h[1] = fnv1a(h[1] ^ 0x9e3779b97f4a7c15ull, s, n);
}

clm_cache_key clm_cache_key_make(const clm_context *ctx, const char *source, const char *options) {
  uint64_t h[2] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull};
  const clm_device_info *d = &ctx->info;
  key_add(h, "clmtl-cache-1");
  key_add(h, d->platform);
  key_add(h, d->name);
  key_add(h, d->vendor);
  key_add(h, d->version);
  key_add(h, d->driver);
  key_add(h, source);
  key_add(h, options);
  clm_cache_key k = {{mix(h[0]), mix(h[1] + h[0])}};
  return k;
}

static void entry_path(const clm_context *ctx, clm_cache_key key, char *buf, size_t size) {
  snprintf(buf, size, "%s/%016llx%016llx.bin", ctx->cache_dir, (unsigned long long)key.h[0],
           (unsigned long long)key.h[1]);
}

/* Reads and verifies an entry; returns the payload (malloc'd) or NULL. */
static unsigned char *read_entry(const char *path, clm_cache_key key, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  cache_header h;
  unsigned char *payload = NULL;
  long size = -1;
  if (fread(&h, sizeof h, 1, f) != 1) goto bad;
  if (memcmp(h.magic, CACHE_MAGIC, 8) || h.version != CACHE_VERSION || h.key[0] != key.h[0] ||
      h.key[1] != key.h[1])
    goto bad;
  if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0) goto bad;
  if (h.length == 0 || h.length != (uint64_t)size - sizeof h) goto bad;
  if (fseek(f, (long)sizeof h, SEEK_SET) != 0) goto bad;
  payload = malloc(h.length);
  if (!payload || fread(payload, 1, h.length, f) != h.length) goto bad;
  if (fnv1a(0xcbf29ce484222325ull, payload, h.length) != h.checksum) goto bad;
  fclose(f);
  *len = h.length;
  return payload;
bad:
  free(payload);
  fclose(f);
  remove(path); /* corrupt, truncated or foreign: never load it, rebuild instead */
  return NULL;
}

clm_status clm_binary_cache_load(clm_context *ctx, clm_cache_key key, const char *options,
                                 cl_program *out) {
  char path[640];
  entry_path(ctx, key, path, sizeof path);
  size_t len = 0;
  unsigned char *bin = read_entry(path, key, &len);
  if (!bin) return CLM_ERR_NOT_FOUND;
  cl_int status = CL_SUCCESS, err = CL_SUCCESS;
  const unsigned char *b = bin;
  cl_program prog =
      clCreateProgramWithBinary(ctx->context, 1, &ctx->device, &len, &b, &status, &err);
  free(bin);
  if (err != CL_SUCCESS || status != CL_SUCCESS) {
    if (prog) clReleaseProgram(prog);
    remove(path);
    return CLM_ERR_NOT_FOUND;
  }
  if (clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL) != CL_SUCCESS) {
    clReleaseProgram(prog);
    remove(path);
    return CLM_ERR_NOT_FOUND;
  }
  *out = prog;
  return CLM_OK;
}

static int mkdir_p(const char *dir) {
  char tmp[512];
  snprintf(tmp, sizeof tmp, "%s", dir);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
      *p = '/';
    }
  return (mkdir(tmp, 0755) != 0 && errno != EEXIST) ? -1 : 0;
}

void clm_binary_cache_store(clm_context *ctx, clm_cache_key key, cl_program program) {
  size_t len = 0;
  if (clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) != CL_SUCCESS ||
      len == 0)
    return;
  unsigned char *bin = malloc(len);
  if (!bin) return;
  if (clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) != CL_SUCCESS ||
      mkdir_p(ctx->cache_dir) != 0) {
    free(bin);
    return;
  }
  char path[640], tmp[700];
  entry_path(ctx, key, path, sizeof path);
  static _Thread_local unsigned counter;
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(), counter++);
  cache_header h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, CACHE_MAGIC, 8);
  h.version = CACHE_VERSION;
  h.key[0] = key.h[0];
  h.key[1] = key.h[1];
  h.length = len;
  h.checksum = fnv1a(0xcbf29ce484222325ull, bin, len);
  FILE *f = fopen(tmp, "wb");
  int ok = f && fwrite(&h, sizeof h, 1, f) == 1 && fwrite(bin, 1, len, f) == len;
  if (f) {
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
  }
  if (!ok || rename(tmp, path) != 0) remove(tmp);
  free(bin);
}
