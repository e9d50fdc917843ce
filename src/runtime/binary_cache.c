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
#include "clmtl/util.h"
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

static void key_add(uint64_t h[2], const char *s) {
  size_t n = strlen(s) + 1; /* include the NUL so fields cannot run into each other */
  h[0] = clm_fnv1a64(h[0], s, n);
  h[1] = clm_fnv1a64(h[1] ^ CLM_SPLITMIX64_GAMMA, s, n);
}

clm_cache_key clm_cache_key_make(const clm_context *ctx, const char *source, const char *options) {
  uint64_t h[2] = {CLM_FNV1A64_INIT, 0x84222325cbf29ce4ull};
  const clm_device_info *d = &ctx->info;
  key_add(h, "clmtl-cache-1");
  key_add(h, d->platform);
  key_add(h, d->name);
  key_add(h, d->vendor);
  key_add(h, d->version);
  key_add(h, d->driver);
  key_add(h, source);
  key_add(h, options);
  clm_cache_key k = {{clm_splitmix64_mix(h[0]), clm_splitmix64_mix(h[1] + h[0])}};
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
  if (clm_fnv1a64(CLM_FNV1A64_INIT, payload, h.length) != h.checksum) goto bad;
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

void clm_binary_cache_store(clm_context *ctx, clm_cache_key key, cl_program program) {
  size_t len = 0;
  if (clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) != CL_SUCCESS ||
      len == 0)
    return;
  unsigned char *bin = malloc(len);
  if (!bin) return;
  if (clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) != CL_SUCCESS ||
      clm_mkdir_p(ctx->cache_dir, 0755) != CLM_OK) {
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
  h.checksum = clm_fnv1a64(CLM_FNV1A64_INIT, bin, len);
  FILE *f = fopen(tmp, "wb");
  int ok = f && fwrite(&h, sizeof h, 1, f) == 1 && fwrite(bin, 1, len, f) == len;
  if (f) {
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
  }
  if (!ok || rename(tmp, path) != 0) remove(tmp);
  free(bin);
}
