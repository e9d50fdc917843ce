/* OpenCL devices: enumeration over every platform, selection by a user string, and the
 * context (device, queue, compiled programs) every other part of clmtl runs on. */
#ifndef CLMTL_DEVICE_H
#define CLMTL_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include "clmtl/status.h"

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
clm_status clm_device_list(clm_device_info **list, int *count);

/* Pick one device. spec: "P:D", "cpu", "gpu", or a case-insensitive substring of the device,
 * vendor or platform name. NULL or "" means $CLMTL_DEVICE, then every device. Among the devices
 * that match, clm_device_pick's order decides. No match is CLM_ERR_NOT_FOUND with a message
 * listing every device. The CLI prints the choice (clm_context_device). */
clm_status clm_device_select(const char *spec, clm_device_info *out);

/* The selection rule alone, on any list (no OpenCL call): the index of the device spec matches,
 * GPUs first, then accelerators, then CPUs, then others, in list order within a kind; "" or
 * NULL matches every device. -1 when none matches. So "amd" on a machine with an AMD CPU and
 * an AMD GPU picks the GPU. */
int clm_device_pick(const clm_device_info *list, int n, const char *spec);

/* One-line-per-field description of a device, for `clmtl devices`. */
void clm_device_describe(const clm_device_info *d, char *buf, size_t size);

/* A device with its context, in-order queue and program cache. */
typedef struct clm_context clm_context;

clm_status clm_context_create(const char *device_spec, clm_context **out);
void clm_context_free(clm_context *ctx);
const clm_device_info *clm_context_device(const clm_context *ctx);
/* Waits for every queued command. */
clm_status clm_context_finish(clm_context *ctx);

#endif
