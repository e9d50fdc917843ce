/* OpenCL devices: enumeration over every platform, selection by a user string, and the
 * context (device, queue, compiled programs) every other part of clmtl runs on. */
#ifndef CLMTL_DEVICE_H
#define CLMTL_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include "clmtl/status.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum clm_device_kind {
  CLM_DEVICE_CPU = 1,
  CLM_DEVICE_GPU = 2,
  CLM_DEVICE_ACCELERATOR = 4,
  CLM_DEVICE_OTHER = 8
} clm_device_kind;

typedef struct clm_device_info {
  int platform_index, device_index; /* "P:D" in --device */
  char platform[128];
  char name[128];
  char vendor[128];
  char version[128];        /* CL_DEVICE_VERSION */
  char driver[128];         /* CL_DRIVER_VERSION */
  clm_device_kind kind;
  unsigned compute_units;
  unsigned clock_mhz;
  uint64_t global_mem_bytes;
  uint64_t local_mem_bytes;
  uint64_t max_alloc_bytes;
  size_t max_work_group;
  unsigned mem_base_align_bytes;
  int fp16, fp64;
  int unified_memory;       /* host and device share memory (CPU, integrated GPU) */
  int has_intel_subgroups;
} clm_device_info;

/* Every device of every platform. *list is malloc'd; free it with free(). A machine with no
 * platform gives CLM_ERR_NO_DEVICE. */
CLMTL_API clm_status clm_device_list(clm_device_info **list, int *count);

/* Pick one device. spec: "P:D", "cpu", "gpu", or a case-insensitive substring of the device,
 * vendor or platform name. NULL or "" means every device. Among the devices that match,
 * clm_device_pick's order decides (GPUs first). No match is CLM_ERR_NOT_FOUND with a message
 * listing every device. (The library reads no environment variable: the CLI maps
 * $CLMTL_DEVICE to a spec, and prints the choice: clm_context_device.) */
CLMTL_API clm_status clm_device_select(const char *spec, clm_device_info *out);

/* The selection rule alone, on any list (no OpenCL call): the index of the device spec matches,
 * GPUs first, then accelerators, then CPUs, then others, in list order within a kind; "" or
 * NULL matches every device. -1 when none matches. So "amd" on a machine with an AMD CPU and
 * an AMD GPU picks the GPU. */
CLMTL_API int clm_device_pick(const clm_device_info *list, int n, const char *spec);

/* One-line-per-field description of a device, for `clmtl devices`. */
CLMTL_API void clm_device_describe(const clm_device_info *d, char *buf, size_t size);

/* A device with its context, in-order queue and program cache. */
typedef struct clm_context clm_context;

/* On-disk program binary cache: CLM_CACHE_AUTO is on, except on PoCL when its own kernel cache
 * is on (POCL_KERNEL_CACHE unset or not 0: PoCL caches built programs itself, and asking it for
 * a binary compiles every kernel of the program first, 2.5x slower cold starts). */
typedef enum clm_cache_mode { CLM_CACHE_AUTO = 0, CLM_CACHE_OFF = 1, CLM_CACHE_ON = 2 } clm_cache_mode;

/* Receives the library's warnings (a malformed tuning-file line, ...): one line of text without
 * a trailing newline. The library never prints; without a callback warnings are dropped. */
typedef void (*clm_message_fn)(void *user, const char *message);

/* Everything that configures a context, fixed at creation. A zeroed struct is the defaults;
 * strings are copied. The CLI fills one from its environment variables (README); the library
 * itself reads none.
 *   device        as clm_device_select's spec; NULL or "": the first GPU, else the first device
 *   cache         the program binary cache: auto, off or on
 *   cache_dir     where program binaries and the device's tuning file (tune.h) live; NULL or
 *                 "": none, so no binary cache and no tuning file
 *   kernel_dir    load cl/<file>.cl from this directory instead of the embedded copies
 *                 (editing kernels without rebuilding); NULL or "": embedded
 *   ignore_tuning 1: compiles leave the device's tuning file alone (rule-of-thumb variants)
 *   conv_variant  a convolution variant name (clm_conv_variant_name) forced on every
 *                 convolution of graphs whose own option does not force one; NULL or "": none.
 *                 An unknown name fails graph compiles with the list of names
 *   fuse          default of graphs whose option leaves fusion at 0: 0 or 1 on, -1 off
 *   memory_limit  bytes a graph may plan to use (caps host memory and device global memory in
 *                 the memory budget); 0: no limit beyond what the system reports
 *   message, message_user   where warnings go (above) */
typedef struct clm_context_options {
  const char *device;
  clm_cache_mode cache;
  const char *cache_dir;
  const char *kernel_dir;
  int ignore_tuning;
  const char *conv_variant;
  int fuse;
  uint64_t memory_limit;
  clm_message_fn message;
  void *message_user;
} clm_context_options;

/* A context with the given options (NULL: the defaults). */
CLMTL_API clm_status clm_context_create_with(const clm_context_options *options, clm_context **out);
/* The defaults with this device spec: no disk cache or tuning file, embedded kernels. */
CLMTL_API clm_status clm_context_create(const char *device_spec, clm_context **out);
CLMTL_API void clm_context_free(clm_context *ctx);
CLMTL_API const clm_device_info *clm_context_device(const clm_context *ctx);
/* Waits for every queued command. */
CLMTL_API clm_status clm_context_finish(clm_context *ctx);

#ifdef __cplusplus
}
#endif

#endif
