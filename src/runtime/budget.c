/* The memory budget of a device (runtime-impl.h): how much a graph may allocate before it
 * allocates anything. A CPU device (PoCL) reports all of RAM as its global memory, and its
 * buffers are host memory, as are those of integrated GPUs: for them the real limit is the
 * memory the process can still take, read here from /proc/meminfo and the cgroup. Discrete
 * devices are bounded by their own global memory. Checking a plan against this is the
 * planner's job (planner.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/runtime-impl.h"

/* The first integer after `key` in a small text file, times `scale`; 0 when absent. */
static int read_number(const char *path, const char *key, uint64_t scale, uint64_t *out) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[256];
  int found = 0;
  size_t klen = key ? strlen(key) : 0;
  while (!found && fgets(line, sizeof line, f)) {
    if (key && strncmp(line, key, klen)) continue;
    char *end;
    unsigned long long v = strtoull(line + klen, &end, 10);
    if (end == line + klen) { if (!key) break; continue; }
    found = v <= UINT64_MAX / scale;
    *out = (uint64_t)v * scale;
  }
  fclose(f);
  return found;
}

static void cap(clm_memory_budget *b, uint64_t v, const char *source) {
  if (v < b->host_available) {
    b->host_available = v;
    snprintf(b->host_source, sizeof b->host_source, "%s", source);
  }
}

void clm_memory_budget_get(const clm_context *ctx, clm_memory_budget *b) {
  memset(b, 0, sizeof *b);
  b->host_available = UINT64_MAX;
  snprintf(b->host_source, sizeof b->host_source, "unknown");
  b->device_global = b->device_max_alloc = UINT64_MAX;
  if (ctx) {
    b->shares_host = ctx->info.kind == CLM_DEVICE_CPU || ctx->info.unified_memory;
    if (ctx->info.global_mem_bytes) b->device_global = ctx->info.global_mem_bytes;
    if (ctx->info.max_alloc_bytes) b->device_max_alloc = ctx->info.max_alloc_bytes;
  }
  uint64_t v;
  if (read_number("/proc/meminfo", "MemAvailable:", 1024, &v)) cap(b, v, "MemAvailable in /proc/meminfo");
  /* cgroup v2, then v1: the limit less what the group already uses */
  uint64_t lim, used;
  if (read_number("/sys/fs/cgroup/memory.max", NULL, 1, &lim) &&
      read_number("/sys/fs/cgroup/memory.current", NULL, 1, &used))
    cap(b, lim > used ? lim - used : 0, "the cgroup's memory.max");
  else if (read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes", NULL, 1, &lim) &&
           read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes", NULL, 1, &used))
    cap(b, lim > used ? lim - used : 0, "the cgroup's memory limit");
  uint64_t limit = ctx ? ctx->memory_limit : 0;
  if (limit) {
    /* named as the CLI user sets it; library callers know it as the memory_limit option */
    cap(b, limit, "CLMTL_MEMORY_LIMIT, the context's memory_limit");
    if (limit < b->device_global) b->device_global = limit;
  }
}
