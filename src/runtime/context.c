/* The context: one device, its OpenCL context and in-order queue, and the programs built for
 * it (cached in memory here, on disk by binary_cache.c). Kernel argument and launch helpers. */
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/runtime-impl.h"

/* Every program gets these; -cl-fast-relaxed-math is never used: it assumes no NaN/Inf and
 * would blind the NaN guard on the loss. */
#define BASE_OPTIONS "-cl-std=CL1.2 -cl-mad-enable"

static size_t floor_pow2(size_t x) {
  size_t p = 1;
  while (p * 2 <= x) p *= 2;
  return p;
}

/* Whether to keep program binaries on disk: CLM_CACHE_OFF / CLM_CACHE_ON say so. By default
 * (CLM_CACHE_AUTO) it is on, except on PoCL with its own kernel cache ($POCL_CACHE_DIR or
 * ~/.cache/pocl; off only with POCL_KERNEL_CACHE=0): PoCL caches built programs and compiled
 * kernels itself, and asking it for a program's binary makes it first compile every kernel of
 * the program for a generic work-group size, unused kernels included. On the default model
 * that made the first run with empty caches 2.5x slower (105 s against 42 s, idle 2 cores).
 * POCL_KERNEL_CACHE is the one variable read here: it is PoCL's own setting, which PoCL reads
 * in this process too, and the default follows what the driver will do. */
static int binary_cache_wanted(const clm_device_info *info, clm_cache_mode mode) {
  if (mode == CLM_CACHE_OFF) return 0;
  if (mode == CLM_CACHE_ON) return 1;
  const char *pocl_cache = getenv("POCL_KERNEL_CACHE");
  int pocl_caches = strstr(info->platform, "Portable Computing Language") &&
                    !(pocl_cache && !strcmp(pocl_cache, "0"));
  return !pocl_caches;
}

/* Copies an optional option string into a context field; too long is an error. */
static clm_status copy_option(const char *what, const char *value, char *field, size_t size) {
  field[0] = '\0';
  if (!value) return CLM_OK;
  if (strlen(value) >= size)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "context option %s is %zu characters long, more than the %zu "
             "allowed: %s", what, strlen(value), size - 1, value);
  memcpy(field, value, strlen(value) + 1);
  return CLM_OK;
}

static clm_status apply_options(clm_context *ctx, const clm_context_options *o) {
  if (o->cache != CLM_CACHE_AUTO && o->cache != CLM_CACHE_OFF && o->cache != CLM_CACHE_ON)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "context option cache is %d, not auto (0), off (1) or on (2)",
             (int)o->cache);
  CLM_TRY(copy_option("cache_dir", o->cache_dir, ctx->cache_dir, sizeof ctx->cache_dir));
  CLM_TRY(copy_option("kernel_dir", o->kernel_dir, ctx->kernel_dir, sizeof ctx->kernel_dir));
  CLM_TRY(copy_option("conv_variant", o->conv_variant, ctx->conv_variant, sizeof ctx->conv_variant));
  ctx->cache_enabled = ctx->cache_dir[0] && binary_cache_wanted(&ctx->info, o->cache);
  ctx->ignore_tuning = o->ignore_tuning != 0;
  ctx->fuse = o->fuse;
  ctx->memory_limit = o->memory_limit;
  ctx->message = o->message;
  ctx->message_user = o->message_user;
  return CLM_OK;
}

clm_status clm_context_create_with(const clm_context_options *options, clm_context **out) {
  static const clm_context_options defaults = {0};
  const clm_context_options *o = options ? options : &defaults;
  *out = NULL;
  clm_device_info info;
  CLM_TRY(clm_device_select(o->device, &info));
  clm_context *ctx = calloc(1, sizeof *ctx);
  if (!ctx) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  ctx->info = info;
  pthread_mutex_init(&ctx->mem_lock, NULL);
  clm_status st = CLM_OK;
  CLM_CHECK(st, apply_options(ctx, o), fail);
  cl_platform_id plats[64];
  cl_uint np = 0;
  CLM_CL_CHECK(st, clGetPlatformIDs(64, plats, &np), fail);
  cl_device_id devs[64];
  cl_uint nd = 0;
  CLM_CL_CHECK(st, clGetDeviceIDs(plats[info.platform_index], CL_DEVICE_TYPE_ALL, 64, devs, &nd), fail);
  ctx->platform = plats[info.platform_index];
  ctx->device = devs[info.device_index];
  cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->platform, 0};
  cl_int err = CL_SUCCESS;
  ctx->context = clCreateContext(props, 1, &ctx->device, NULL, NULL, &err);
  CLM_CL_CHECK(st, err, fail);
  ctx->queue = clCreateCommandQueue(ctx->context, ctx->device, 0, &err);
  CLM_CL_CHECK(st, err, fail);
  ctx->oclgrind = strstr(info.platform, "Oclgrind") != NULL;
  ctx->reduce_wg = floor_pow2(info.max_work_group < 256 ? info.max_work_group : 256);
  ctx->launch_wg = ctx->reduce_wg;
  *out = ctx;
  return CLM_OK;
fail:
  clm_context_free(ctx);
  return st;
}

clm_status clm_context_create(const char *device_spec, clm_context **out) {
  clm_context_options o = {0};
  o.device = device_spec;
  return clm_context_create_with(&o, out);
}

void clm_context_message(const clm_context *ctx, const char *fmt, ...) {
  if (!ctx || !ctx->message) return;
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  ctx->message(ctx->message_user, text);
}

void clm_context_free(clm_context *ctx) {
  if (!ctx) return;
  if (ctx->queue) clFinish(ctx->queue);
  for (int i = 0; i < ctx->nprograms; i++) {
    clm_program_entry *p = &ctx->programs[i];
    for (int k = 0; k < p->nkernels; k++) clReleaseKernel(p->kernels[k].kernel);
    free(p->kernels);
    free(p->options);
    clReleaseProgram(p->program);
  }
  free(ctx->programs);
  if (ctx->queue) clReleaseCommandQueue(ctx->queue);
  if (ctx->context) clReleaseContext(ctx->context);
  pthread_mutex_destroy(&ctx->mem_lock);
  free(ctx);
}

const clm_device_info *clm_context_device(const clm_context *ctx) { return &ctx->info; }

clm_status clm_context_finish(clm_context *ctx) {
  CLM_CL_TRY(clFinish(ctx->queue));
  return CLM_OK;
}

/* Reads the build log into a malloc'd string (never NULL unless out of memory). */
static char *build_log(clm_context *ctx, cl_program prog) {
  size_t len = 0;
  clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len);
  char *log = malloc(len + 1);
  if (!log) return NULL;
  log[0] = '\0';
  clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, len, log, NULL);
  log[len] = '\0';
  return log;
}

static clm_status build_program(clm_context *ctx, const char *file, const char *options,
                                cl_program *out) {
  char *common = NULL, *body = NULL, *opts = NULL, *joined = NULL;
  clm_status st = CLM_OK;
  CLM_CHECK(st, clm_kernel_source_load_from(ctx->kernel_dir, "common", &common), done);
  CLM_CHECK(st, clm_kernel_source_load_from(ctx->kernel_dir, file, &body), done);
  size_t lc = strlen(common), lb = strlen(body);
  joined = malloc(lc + lb + 2);
  opts = malloc(strlen(BASE_OPTIONS) + (options ? strlen(options) : 0) + 2);
  if (!joined || !opts) { st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "out of host memory"); goto done; }
  memcpy(joined, common, lc);
  joined[lc] = '\n';
  memcpy(joined + lc + 1, body, lb + 1);
  sprintf(opts, "%s%s%s", BASE_OPTIONS, options && *options ? " " : "", options ? options : "");

  clm_cache_key key = clm_cache_key_make(ctx, joined, opts);
  if (ctx->cache_enabled && clm_binary_cache_load(ctx, key, opts, out) == CLM_OK) {
    ctx->cache_hits++;
    goto done;
  }
  ctx->cache_misses++;
  cl_int err = CL_SUCCESS;
  const char *text = joined;
  cl_program prog = clCreateProgramWithSource(ctx->context, 1, &text, NULL, &err);
  CLM_CL_CHECK(st, err, done);
  err = clBuildProgram(prog, 1, &ctx->device, opts, NULL, NULL);
  if (err != CL_SUCCESS) {
    char *log = build_log(ctx, prog);
    st = CLM_ERROR(CLM_ERR_BUILD, "building cl/%s.cl with \"%s\" on %s failed: %s (%d)\n%s",
                   file, opts, ctx->info.name, clm_cl_error_name(err), err, log ? log : "");
    free(log);
    clReleaseProgram(prog);
    goto done;
  }
  if (ctx->cache_enabled) clm_binary_cache_store(ctx, key, prog);
  *out = prog;
done:
  free(common);
  free(body);
  free(opts);
  free(joined);
  return st;
}

static clm_status find_program(clm_context *ctx, const char *file, const char *options,
                               clm_program_entry **out) {
  const char *o = options ? options : "";
  for (int i = 0; i < ctx->nprograms; i++)
    if (!strcmp(ctx->programs[i].file, file) && !strcmp(ctx->programs[i].options, o)) {
      *out = &ctx->programs[i];
      return CLM_OK;
    }
  if (strlen(file) >= sizeof ctx->programs[0].file)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "kernel file name too long: %s", file);
  if (ctx->nprograms == ctx->cap) {
    int cap = ctx->cap ? ctx->cap * 2 : 16;
    clm_program_entry *p = realloc(ctx->programs, (size_t)cap * sizeof *p);
    if (!p) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
    ctx->programs = p;
    ctx->cap = cap;
  }
  cl_program prog;
  CLM_TRY(build_program(ctx, file, options, &prog));
  clm_program_entry *e = &ctx->programs[ctx->nprograms];
  memset(e, 0, sizeof *e);
  snprintf(e->file, sizeof e->file, "%s", file);
  e->options = strdup(o);
  if (!e->options) {
    clReleaseProgram(prog);
    CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  }
  e->program = prog;
  ctx->nprograms++;
  *out = e;
  return CLM_OK;
}

clm_status clm_kernel_get(clm_context *ctx, const char *file, const char *options,
                          const char *name, cl_kernel *out, size_t *max_wg) {
  clm_program_entry *p = NULL;
  CLM_TRY(find_program(ctx, file, options, &p));
  for (int k = 0; k < p->nkernels; k++)
    if (!strcmp(p->kernels[k].name, name)) {
      *out = p->kernels[k].kernel;
      if (max_wg) *max_wg = p->kernels[k].max_wg;
      return CLM_OK;
    }
  if (strlen(name) >= sizeof p->kernels[0].name)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "kernel name too long: %s", name);
  if (p->nkernels == p->cap) {
    int cap = p->cap ? p->cap * 2 : 8;
    clm_kernel_entry *k = realloc(p->kernels, (size_t)cap * sizeof *k);
    if (!k) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
    p->kernels = k;
    p->cap = cap;
  }
  cl_int err = CL_SUCCESS;
  cl_kernel k = clCreateKernel(p->program, name, &err);
  if (err != CL_SUCCESS)
    CLM_FAIL(CLM_ERR_OPENCL, "kernel %s not found in cl/%s.cl: %s", name, file, clm_cl_error_name(err));
  clm_kernel_entry *e = &p->kernels[p->nkernels++];
  snprintf(e->name, sizeof e->name, "%s", name);
  e->kernel = k;
  e->max_wg = ctx->info.max_work_group;
  size_t wg = 0;
  if (clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, NULL) ==
          CL_SUCCESS && wg > 0)
    e->max_wg = wg;
  *out = k;
  if (max_wg) *max_wg = e->max_wg;
  return CLM_OK;
}

static clm_status set_args(cl_kernel k, const char *fmt, va_list ap) {
  cl_uint idx = 0;
  for (const char *f = fmt; *f; f++) {
    cl_int err = CL_SUCCESS;
    switch (*f) {
    case 'm': { cl_mem m = va_arg(ap, cl_mem); err = clSetKernelArg(k, idx++, sizeof m, &m); break; }
    case 'i': { cl_int v = va_arg(ap, int); err = clSetKernelArg(k, idx++, sizeof v, &v); break; }
    case 'f': { cl_float v = (cl_float)va_arg(ap, double); err = clSetKernelArg(k, idx++, sizeof v, &v); break; }
    case 'o': {
      size_t o = va_arg(ap, size_t);
      if (o > INT_MAX) CLM_FAIL(CLM_ERR_INVALID_ARG, "buffer offset %zu exceeds the int range kernels index with", o);
      cl_int v = (cl_int)o;
      err = clSetKernelArg(k, idx++, sizeof v, &v);
      break;
    }
    case 't': {
      const clm_tensor *t = va_arg(ap, const clm_tensor *);
      if (t->off > INT_MAX) CLM_FAIL(CLM_ERR_INVALID_ARG, "tensor offset %zu exceeds int range", t->off);
      cl_mem m = (cl_mem)t->buf;
      cl_int v = (cl_int)t->off;
      err = clSetKernelArg(k, idx++, sizeof m, &m);
      if (err == CL_SUCCESS) err = clSetKernelArg(k, idx++, sizeof v, &v);
      break;
    }
    case 'l': { size_t b = va_arg(ap, size_t); err = clSetKernelArg(k, idx++, b, NULL); break; }
    case ' ': continue;
    default: CLM_FAIL(CLM_ERR_INVALID_ARG, "bad kernel argument format letter '%c'", *f);
    }
    if (err != CL_SUCCESS)
      CLM_FAIL(CLM_ERR_OPENCL, "clSetKernelArg(%u) failed: %s", idx - 1, clm_cl_error_name(err));
  }
  return CLM_OK;
}

clm_status clm_kernel_args(cl_kernel k, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  clm_status st = set_args(k, fmt, ap);
  va_end(ap);
  return st;
}

static size_t kernel_max_wg(clm_context *ctx, cl_kernel k) {
  size_t wg = 0;
  if (clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, NULL) !=
          CL_SUCCESS || wg == 0)
    wg = ctx->info.max_work_group;
  return wg;
}

clm_status clm_kernel_launch(clm_context *ctx, cl_kernel k, int dims, const size_t *global,
                             const size_t *local) {
  size_t g[3], l[3];
  if (dims < 1 || dims > 3) CLM_FAIL(CLM_ERR_INVALID_ARG, "bad work dimension %d", dims);
  if (!local) {
    if (dims != 1) CLM_FAIL(CLM_ERR_INVALID_ARG, "automatic work-group size needs a 1-D range");
    size_t wg = ctx->launch_wg, kmax = kernel_max_wg(ctx, k);
    while (wg > kmax) wg /= 2;
    l[0] = wg;
  } else {
    for (int i = 0; i < dims; i++) l[i] = local[i];
  }
  for (int i = 0; i < dims; i++) {
    if (global[i] == 0) return CLM_OK; /* nothing to do */
    g[i] = (global[i] + l[i] - 1) / l[i] * l[i];
  }
  CLM_CL_TRY(clEnqueueNDRangeKernel(ctx->queue, k, (cl_uint)dims, NULL, g, l, 0, NULL, NULL));
  ctx->n_launches++;
  return CLM_OK;
}

clm_status clm_launch_1d(clm_context *ctx, const char *file, const char *name, size_t n,
                         const char *fmt, ...) {
  cl_kernel k;
  CLM_TRY(clm_kernel_get(ctx, file, NULL, name, &k, NULL));
  va_list ap;
  va_start(ap, fmt);
  clm_status st = set_args(k, fmt, ap);
  va_end(ap);
  CLM_TRY(st);
  return clm_kernel_launch(ctx, k, 1, &n, NULL);
}

clm_status clm_tree_kernels(clm_context *ctx, const char *file, const char *define, int count,
                            const char *const *names, cl_kernel *out, size_t *wg_out) {
  size_t wg = ctx->reduce_wg ? ctx->reduce_wg : 1;
  while (wg > 1 && ctx->info.local_mem_bytes && wg * sizeof(float) > ctx->info.local_mem_bytes)
    wg /= 2;
  for (;;) {
    char opts[96];
    size_t lim = wg;
    snprintf(opts, sizeof opts, "-D%s=%zu", define, wg);
    for (int i = 0; i < count; i++) {
      size_t l = 0;
      CLM_TRY(clm_kernel_get(ctx, file, opts, names[i], &out[i], &l));
      if (l < lim) lim = l;
    }
    if (wg <= lim) break;
    if (wg == 1)
      CLM_FAIL(CLM_ERR_UNSUPPORTED, "cl/%s.cl: kernels cannot run even one work-item on %s", file,
               ctx->info.name);
    while (wg > lim && wg > 1) wg /= 2;
  }
  *wg_out = wg;
  return CLM_OK;
}

static pthread_mutex_t blas_mutex = PTHREAD_MUTEX_INITIALIZER;
void clm_blas_lock(void) { pthread_mutex_lock(&blas_mutex); }
void clm_blas_unlock(void) { pthread_mutex_unlock(&blas_mutex); }
