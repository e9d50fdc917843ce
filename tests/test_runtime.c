/* Runtime: device enumeration and selection, kernel sources, build errors with the log,
 * the on-disk binary cache (hit, corrupt entry rebuilt, disabled), buffers and copies. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "runtime/runtime-impl.h"
#include "test_util.h"

static void test_devices(void) {
  clm_device_info *list;
  int n;
  test_status("device list", clm_device_list(&list, &n));
  test_true("at least one device", n > 0, NULL);
  if (n <= 0) return;
  char spec[32];
  snprintf(spec, sizeof spec, "%d:%d", list[0].platform_index, list[0].device_index);
  clm_device_info d;
  test_true("select by P:D", clm_device_select(spec, &d) == CLM_OK && !strcmp(d.name, list[0].name), spec);
  /* a case-flipped piece of the device name */
  char piece[8] = {0};
  memcpy(piece, list[0].name, strlen(list[0].name) < 4 ? strlen(list[0].name) : 4);
  for (char *p = piece; *p; p++) *p = (*p >= 'a' && *p <= 'z') ? *p - 32 : (*p >= 'A' && *p <= 'Z') ? *p + 32 : *p;
  test_true("select by name substring, any case", clm_device_select(piece, &d) == CLM_OK, piece);
  const char *kind = list[0].kind == CLM_DEVICE_GPU ? "gpu" : list[0].kind == CLM_DEVICE_CPU ? "cpu" : NULL;
  if (kind) test_true("select by kind", clm_device_select(kind, &d) == CLM_OK && d.kind == list[0].kind, kind);
  clm_status st = clm_device_select("no-such-device-xyz", &d);
  test_true("no match is NOT_FOUND", st == CLM_ERR_NOT_FOUND, clm_status_name(st));
  test_true("no match lists the devices", strstr(clm_last_error(), list[0].name) != NULL, clm_last_error());
  st = clm_device_select("7:7", &d);
  test_true("bad index is NOT_FOUND", st == CLM_ERR_NOT_FOUND, NULL);
  char buf[4096];
  clm_device_describe(&list[0], buf, sizeof buf);
  test_true("describe names the driver", strstr(buf, list[0].driver) != NULL, NULL);
  free(list);
}

static void test_buffers(clm_context *ctx) {
  test_rng r = test_rng_make(1);
  float host[1001], back[1001];
  test_fill(&r, host, 1001, -3, 3);
  clm_tensor t = test_tensor(ctx, 7, 11, 13, 1, host);
  float *got = test_download(ctx, &t);
  test_check("upload/download round trip at an offset", test_rel_error(got, host, 1001, 1), 0);
  free(got);
  test_status("fill", clm_tensor_fill(ctx, &t, 2.5f));
  test_status("download", clm_tensor_download(ctx, &t, back));
  int ok = 1;
  for (int i = 0; i < 1001; i++) ok &= back[i] == 2.5f;
  test_true("fill sets every element", ok, NULL);
  test_tensor_free(ctx, &t);
  clm_mem huge;
  clm_status st = clm_buffer_alloc(ctx, (size_t)1 << 62, &huge);
  test_true("impossible allocation is a DEVICE_MEMORY error", st == CLM_ERR_DEVICE_MEMORY, clm_last_error());
  test_true("and states the bytes", strstr(clm_last_error(), "bytes") != NULL, NULL);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) { perror(path); exit(1); }
  fputs(text, f);
  fclose(f);
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) if (strstr(e->d_name, ".bin") && !strstr(e->d_name, ".tmp")) n++;
  closedir(d);
  return n;
}

static void first_entry(const char *dir, char *out, size_t size) {
  DIR *d = opendir(dir);
  struct dirent *e;
  out[0] = '\0';
  while (d && (e = readdir(d)))
    if (strstr(e->d_name, ".bin")) { snprintf(out, size, "%s/%s", dir, e->d_name); break; }
  if (d) closedir(d);
}

static void test_kernel_dir_and_cache(void) {
  char dir[] = "/tmp/clmtl-test-XXXXXX";
  if (!mkdtemp(dir)) { perror("mkdtemp"); exit(1); }
  char kdir[300], cdir[300], path[400];
  snprintf(kdir, sizeof kdir, "%s/cl", dir);
  snprintf(cdir, sizeof cdir, "%s/cache", dir);
  mkdir(kdir, 0755);
  snprintf(path, sizeof path, "%s/common.cl", kdir);
  write_text(path, "#define GID0 ((int)get_global_id(0))\n");
  snprintf(path, sizeof path, "%s/good.cl", kdir);
  write_text(path, "__kernel void twice(__global float *x, int off, int n) {\n"
                   "  int i = GID0; if (i < n) x[off + i] *= SCALE; }\n");
  snprintf(path, sizeof path, "%s/broken.cl", kdir);
  write_text(path, "__kernel void oops(__global float *x) { x[0] = undefined_name_here; }\n");
  char *tensor_src = NULL; /* buffers are zeroed by cl/tensor.cl: the directory needs it */
  if (clm_kernel_source_load("tensor", &tensor_src) != CLM_OK) { fprintf(stderr, "%s\n", clm_last_error()); exit(1); }
  snprintf(path, sizeof path, "%s/tensor.cl", kdir);
  write_text(path, tensor_src);
  free(tensor_src);
  clm_context_options co = *test_context_options();
  co.kernel_dir = kdir;
  co.cache_dir = cdir;
  co.cache = CLM_CACHE_ON;

  clm_context *ctx = test_context_with(&co);
  cl_kernel k;
  clm_status st = clm_kernel_get(ctx, "broken", NULL, "oops", &k, NULL);
  test_true("broken kernel is a BUILD error", st == CLM_ERR_BUILD, clm_status_name(st));
  test_true("build error names the file", strstr(clm_last_error(), "broken.cl") != NULL, NULL);
  test_true("build error carries the log", strstr(clm_last_error(), "undefined_name_here") != NULL,
            clm_last_error());

  float host[37], want[37];
  test_rng r = test_rng_make(2);
  test_fill(&r, host, 37, -1, 1);
  for (int i = 0; i < 37; i++) want[i] = host[i] * 3.0f;
  for (int round = 0; round < 4; round++) {
    /* 0: cold build, 1: warm from the cache, 2: corrupt entry rebuilt, 3: cache disabled.
     * Two programs are cached: good.cl and tensor.cl (buffers are zeroed by a kernel). */
    if (round == 3) co.cache = CLM_CACHE_OFF;
    if (round > 0) { clm_context_free(ctx); ctx = test_context_with(&co); }
    if (round == 2) {
      char entry[600];
      first_entry(cdir, entry, sizeof entry);
      FILE *f = fopen(entry, "r+b");
      if (f) { fseek(f, 100, SEEK_SET); fputc('X', f); fputc('Y', f); fclose(f); }
      if (truncate(entry, 120) != 0) perror("truncate");
    }
    clm_tensor t = test_tensor(ctx, 1, 1, 1, 37, host);
    st = clm_kernel_get(ctx, "good", "-DSCALE=3.0f", "twice", &k, NULL);
    test_status("build good kernel", st);
    if (st == CLM_OK) {
      size_t n = 37;
      test_status("args", clm_kernel_args(k, "ti", &t, 37));
      test_status("launch", clm_kernel_launch(ctx, k, 1, &n, NULL));
      float *got = test_download(ctx, &t);
      char name[64];
      snprintf(name, sizeof name, "kernel from CLMTL_KERNEL_DIR, round %d", round);
      test_check(name, test_rel_error(got, want, 37, 1), 0);
      free(got);
    }
    test_tensor_free(ctx, &t);
    printf("round %d: cache hits %d, misses %d, entries %d\n", round, ctx->cache_hits,
           ctx->cache_misses, count_entries(cdir));
    if (round == 0) test_true("cold run misses and writes an entry", ctx->cache_misses >= 1 && count_entries(cdir) >= 1, NULL);
    if (round == 1) test_true("warm run hits the cache", ctx->cache_hits >= 1 && ctx->cache_misses == 0, NULL);
    if (round == 2) test_true("corrupt entry is rebuilt, not loaded", ctx->cache_misses == 1 && count_entries(cdir) == 2, NULL);
    if (round == 3) test_true("CLMTL_CACHE=0 bypasses the cache", ctx->cache_hits == 0, NULL);
  }
  clm_context_free(ctx);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(void) {
  test_devices();
  clm_context *ctx = test_context();
  test_buffers(ctx);
  clm_context_free(ctx);
  test_kernel_dir_and_cache();
  return test_finish();
}
