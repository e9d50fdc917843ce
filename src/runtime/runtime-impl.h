/* Internals shared by the library: error helpers, the context layout, kernel lookup and
 * launch. Not part of the public API; ops and graph code include this. */
#ifndef CLMTL_RUNTIME_IMPL_H
#define CLMTL_RUNTIME_IMPL_H

#include <CL/cl.h>
#include <pthread.h>
#include <stdint.h>
#include "clmtl/device.h"
#include "clmtl/tensor.h"

/* ---- errors ------------------------------------------------------------------------------ */

/* Records the message for clm_last_error() and file:line for clm_last_error_location(); returns
 * st. */
clm_status clm_error_set(clm_status st, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Records a failed OpenCL call by its error name and returns the mapped status. */
clm_status clm_cl_error(cl_int err, const char *call, const char *file, int line);
const char *clm_cl_error_name(cl_int err);

#define CLM_FAIL(st, ...) return clm_error_set((st), __FILE__, __LINE__, __VA_ARGS__)
#define CLM_ERROR(st, ...) clm_error_set((st), __FILE__, __LINE__, __VA_ARGS__)
#define CLM_TRY(expr)                                                                        \
  do {                                                                                       \
    clm_status st_ = (expr);                                                                 \
    if (st_ != CLM_OK) return st_;                                                           \
  } while (0)
#define CLM_CL_TRY(call)                                                                     \
  do {                                                                                       \
    cl_int e_ = (call);                                                                      \
    if (e_ != CL_SUCCESS) return clm_cl_error(e_, #call, __FILE__, __LINE__);                \
  } while (0)
/* goto-cleanup forms: set `st` and jump to `label` on failure. */
#define CLM_CHECK(st, expr, label)                                                           \
  do {                                                                                       \
    (st) = (expr);                                                                           \
    if ((st) != CLM_OK) goto label;                                                          \
  } while (0)
#define CLM_CL_CHECK(st, call, label)                                                        \
  do {                                                                                       \
    cl_int e_ = (call);                                                                      \
    if (e_ != CL_SUCCESS) {                                                                  \
      (st) = clm_cl_error(e_, #call, __FILE__, __LINE__);                                    \
      goto label;                                                                            \
    }                                                                                        \
  } while (0)

/* ---- context ----------------------------------------------------------------------------- */

typedef struct clm_kernel_entry {
  char name[64];
  cl_kernel kernel;
  size_t max_wg; /* CL_KERNEL_WORK_GROUP_SIZE for this device */
} clm_kernel_entry;

typedef struct clm_program_entry {
  char file[32];      /* cl/<file>.cl */
  char *options;      /* extra build options (-D tuning values) */
  cl_program program;
  clm_kernel_entry *kernels;
  int nkernels, cap;
} clm_program_entry;

struct clm_context {
  clm_device_info info;
  cl_platform_id platform;
  cl_device_id device;
  cl_context context;
  cl_command_queue queue;
  clm_program_entry *programs;
  int nprograms, cap;
  size_t reduce_wg;      /* power-of-two work-group size for local-memory reductions */
  size_t launch_wg;      /* default 1-D work-group size */
  int cache_enabled;     /* on-disk program binary cache */
  char cache_dir[512];   /* "" when the options gave none: no binary cache, no tuning file */
  /* The rest of clm_context_options, copied at creation (device.h says what each does). */
  char kernel_dir[512];
  char conv_variant[32];
  int ignore_tuning;
  int fuse;
  uint64_t memory_limit;
  clm_message_fn message;
  void *message_user;
  int cache_hits, cache_misses;
  /* Running on oclgrind 21.10, whose uninitialised-value tracking goes wrong after partial host
   * writes and when a freed buffer's address is reused; tensor.c then initialises and uploads
   * in ways it tracks correctly (tensor.c explains). Never set on a real device. */
  int oclgrind;
  /* Device memory allocated through clm_buffer_alloc and not yet given to clm_buffer_free
   * (tensor.c): bytes now and the most since creation or the last
   * clm_context_memory_reset_peak, both under mem_lock. */
  size_t mem_current, mem_peak;
  pthread_mutex_t mem_lock;
  /* Synchronised batch norm (src/dist/reduce.c, clm_dist_sync_batchnorm): sums n doubles over
   * the ranks in place. Set, training-mode batch norm (ops/norm.c) takes its statistics and
   * its backward's means over every rank's batch; NULL: this device's batch alone. */
  clm_status (*bn_allreduce)(void *user, double *buf, size_t n);
  void *bn_allreduce_user;
  /* Floats of col matrix per band of output rows in the GEMM-family convolutions (conv.c);
   * 0 picks the default for the device. Tests set it small to exercise the banding. */
  size_t conv_band_floats;
  /* Work counters since the context was created, read by the graph's profiling mode: kernel
   * launches (a CLBlast call counts as one) and host transfers (uploads and downloads of
   * tensors) with their bytes. */
  unsigned long long n_launches, n_transfers, transfer_bytes;
};

/* Hands one warning line (printf format, no trailing newline) to the context's message
 * callback; nothing happens without one. ctx may be NULL. */
void clm_context_message(const clm_context *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A kernel from cl/<file>.cl built with `options` (may be NULL) on top of the context's base
 * options. Programs and kernels are cached in the context. */
clm_status clm_kernel_get(clm_context *ctx, const char *file, const char *options,
                          const char *name, cl_kernel *out, size_t *max_wg);

/* Sets kernel arguments from a format string, one letter per argument:
 *   m  cl_mem           i  int            f  float (pass a double or float)
 *   o  size_t offset in floats, passed to the kernel as int (checked < INT_MAX)
 *   t  const clm_tensor *: expands to two arguments, buffer and int offset
 *   l  size_t bytes of __local memory */
clm_status clm_kernel_args(cl_kernel k, const char *fmt, ...);

/* Enqueues an N-D range. local == NULL picks a 1-D work-group size within the kernel's limit
 * (dims must be 1 then). Global sizes are rounded up to a multiple of the local size: kernels
 * check their own bounds. */
clm_status clm_kernel_launch(clm_context *ctx, cl_kernel k, int dims, const size_t *global,
                             const size_t *local);

/* Convenience: look up, set args and launch a 1-D kernel over n items in one call. */
clm_status clm_launch_1d(clm_context *ctx, const char *file, const char *name, size_t n,
                         const char *fmt, ...);

/* Kernels that reduce through a local-memory tree of `define` work-items (cl/<file>.cl built
 * with -D<define>=wg): wg starts at ctx->reduce_wg, is capped so wg floats fit the device's
 * local memory, and is halved until every kernel's own work-group limit allows it; out[i] is
 * kernel names[i], *wg the size they were built for (launch them with exactly that). */
clm_status clm_tree_kernels(clm_context *ctx, const char *file, const char *define, int count,
                            const char *const *names, cl_kernel *out, size_t *wg);

/* Serialises calls into CLBlast (its 1.5.3 cache is not thread-safe). */
void clm_blas_lock(void);
void clm_blas_unlock(void);

/* ---- kernel sources and binary cache ------------------------------------------------------ */

/* Text of cl/<file>.cl: from the directory dir when it is set (not NULL or ""), else embedded,
 * else the source tree. *out is malloc'd. */
clm_status clm_kernel_source_load_from(const char *dir, const char *file, char **out);
/* The same without a directory: the embedded copy (or the source tree's). */
clm_status clm_kernel_source_load(const char *file, char **out);

/* 128-bit key over everything that determines a program binary. */
typedef struct clm_cache_key { uint64_t h[2]; } clm_cache_key;
clm_cache_key clm_cache_key_make(const clm_context *ctx, const char *source, const char *options);
/* Loads a cached binary for key and builds it; CLM_ERR_NOT_FOUND when absent, stale or corrupt
 * (a corrupt entry is removed). */
clm_status clm_binary_cache_load(clm_context *ctx, clm_cache_key key, const char *options,
                                 cl_program *out);
/* Stores the binary of a built program; failures are ignored (the cache is an optimisation). */
void clm_binary_cache_store(clm_context *ctx, clm_cache_key key, cl_program program);

/* ---- buffers ----------------------------------------------------------------------------- */

/* Like clm_buffer_alloc, but host-mappable without a copy (CL_MEM_ALLOC_HOST_PTR) on devices
 * with unified host memory; a plain buffer on discrete GPUs and under oclgrind.
 * clm_tensor_upload/download of views into it map, copy and unmap. */
clm_status clm_buffer_alloc_host(clm_context *ctx, size_t floats, clm_mem *out);

static inline int clm_is_pow2(size_t x) { return x && !(x & (x - 1)); }

/* ---- sizes ------------------------------------------------------------------------------- */

/* *out = a * b (a + b): 1 when it fits in size_t, 0 when it would wrap (*out is then SIZE_MAX,
 * so a chain of them stays "too large"). Every size computed from user input goes through
 * these. */
static inline int clm_size_mul(size_t a, size_t b, size_t *out) {
  if (__builtin_mul_overflow(a, b, out)) { *out = SIZE_MAX; return 0; }
  return 1;
}
static inline int clm_size_add(size_t a, size_t b, size_t *out) {
  if (__builtin_add_overflow(a, b, out)) { *out = SIZE_MAX; return 0; }
  return 1;
}
/* n·c·h·w of non-negative dimensions, SIZE_MAX when it does not fit. */
static inline size_t clm_numel4(long long n, long long c, long long h, long long w) {
  size_t r;
  if (n < 0 || c < 0 || h < 0 || w < 0) return SIZE_MAX;
  if (!clm_size_mul((size_t)n, (size_t)c, &r) || !clm_size_mul(r, (size_t)h, &r) ||
      !clm_size_mul(r, (size_t)w, &r))
    return SIZE_MAX;
  return r;
}

/* ---- memory budget (budget.c) ------------------------------------------------------------ */

/* What one program may allocate on a context's device, in bytes.
 *   shares_host   1 on CPU devices and devices with unified host memory: their buffers come
 *                 out of host memory, so device buffers and host copies share host_available
 *   host_available  memory this process can still take: MemAvailable from /proc/meminfo,
 *                 capped by the cgroup's memory limit less its usage, capped by the
 *                 context's memory_limit option (CLMTL_MEMORY_LIMIT in the CLI); UINT64_MAX
 *                 when none of these is known
 *   device_global, device_max_alloc   CL_DEVICE_GLOBAL_MEM_SIZE and CL_DEVICE_MAX_MEM_ALLOC_SIZE
 *                 (the memory_limit option caps the first too)
 *   host_source   where host_available came from, for messages ("MemAvailable", ...) */
typedef struct clm_memory_budget {
  int shares_host;
  uint64_t host_available;
  uint64_t device_global, device_max_alloc;
  char host_source[64];
} clm_memory_budget;
/* ctx may be NULL (no device: only the host side is filled, device limits UINT64_MAX). */
void clm_memory_budget_get(const clm_context *ctx, clm_memory_budget *b);

#endif
