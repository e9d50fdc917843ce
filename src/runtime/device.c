/* Device enumeration over every OpenCL platform, selection from a user string, and the
 * printable description used by `clmtl devices`. Contexts live in context.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "runtime/runtime-impl.h"

static void get_string(cl_device_id d, cl_device_info what, char *buf, size_t size) {
  buf[0] = '\0';
  if (clGetDeviceInfo(d, what, size, buf, NULL) != CL_SUCCESS) snprintf(buf, size, "?");
  buf[size - 1] = '\0';
}

static void fill_info(cl_platform_id p, cl_device_id d, int pi, int di, clm_device_info *o) {
  memset(o, 0, sizeof *o);
  o->platform_index = pi;
  o->device_index = di;
  if (clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof o->platform, o->platform, NULL) != CL_SUCCESS)
    snprintf(o->platform, sizeof o->platform, "?");
  get_string(d, CL_DEVICE_NAME, o->name, sizeof o->name);
  get_string(d, CL_DEVICE_VENDOR, o->vendor, sizeof o->vendor);
  get_string(d, CL_DEVICE_VERSION, o->version, sizeof o->version);
  get_string(d, CL_DRIVER_VERSION, o->driver, sizeof o->driver);
  cl_device_type type = 0;
  clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
  o->kind = (type & CL_DEVICE_TYPE_GPU)           ? CLM_DEVICE_GPU
            : (type & CL_DEVICE_TYPE_CPU)         ? CLM_DEVICE_CPU
            : (type & CL_DEVICE_TYPE_ACCELERATOR) ? CLM_DEVICE_ACCELERATOR
                                                  : CLM_DEVICE_OTHER;
  cl_uint u = 0;
  cl_ulong ul = 0;
  size_t sz = 0;
  cl_bool b = CL_FALSE;
  if (clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL) == CL_SUCCESS)
    o->compute_units = u;
  if (clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof u, &u, NULL) == CL_SUCCESS)
    o->clock_mhz = u;
  if (clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof ul, &ul, NULL) == CL_SUCCESS)
    o->global_mem_bytes = ul;
  if (clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof ul, &ul, NULL) == CL_SUCCESS)
    o->local_mem_bytes = ul;
  if (clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ul, &ul, NULL) == CL_SUCCESS)
    o->max_alloc_bytes = ul;
  if (clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof sz, &sz, NULL) == CL_SUCCESS)
    o->max_work_group = sz;
  if (clGetDeviceInfo(d, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof u, &u, NULL) == CL_SUCCESS)
    o->mem_base_align_bytes = u / 8;
  if (clGetDeviceInfo(d, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof b, &b, NULL) == CL_SUCCESS)
    o->unified_memory = b == CL_TRUE;
  char ext[8192];
  get_string(d, CL_DEVICE_EXTENSIONS, ext, sizeof ext);
  o->fp16 = strstr(ext, "cl_khr_fp16") != NULL;
  o->fp64 = strstr(ext, "cl_khr_fp64") != NULL;
  o->has_intel_subgroups = strstr(ext, "cl_intel_subgroups") != NULL;
}

/* Calls fn for every device of every platform until fn returns nonzero. */
typedef int (*device_visit)(cl_platform_id, cl_device_id, int, int, void *);

static clm_status visit_devices(device_visit fn, void *user) {
  cl_uint np = 0;
  cl_int err = clGetPlatformIDs(0, NULL, &np);
  if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && np == 0))
    CLM_FAIL(CLM_ERR_NO_DEVICE,
             "no OpenCL platform found: install a driver (e.g. pocl-opencl-icd for the CPU) "
             "and check /etc/OpenCL/vendors");
  if (err != CL_SUCCESS) return clm_cl_error(err, "clGetPlatformIDs", __FILE__, __LINE__);
  cl_platform_id plats[64];
  if (np > 64) np = 64;
  CLM_CL_TRY(clGetPlatformIDs(np, plats, NULL));
  for (cl_uint p = 0; p < np; p++) {
    cl_uint nd = 0;
    if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS) continue;
    cl_device_id devs[64];
    if (nd > 64) nd = 64;
    if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL) != CL_SUCCESS) continue;
    for (cl_uint d = 0; d < nd; d++)
      if (fn(plats[p], devs[d], (int)p, (int)d, user)) return CLM_OK;
  }
  return CLM_OK;
}

typedef struct { clm_device_info *list; int count, cap, oom; } list_acc;

static int add_to_list(cl_platform_id p, cl_device_id d, int pi, int di, void *user) {
  list_acc *a = user;
  if (a->count == a->cap) {
    int cap = a->cap ? a->cap * 2 : 8;
    clm_device_info *l = realloc(a->list, (size_t)cap * sizeof *l);
    if (!l) { a->oom = 1; return 1; }
    a->list = l;
    a->cap = cap;
  }
  fill_info(p, d, pi, di, &a->list[a->count++]);
  return 0;
}

clm_status clm_device_list(clm_device_info **list, int *count) {
  list_acc a = {0};
  *list = NULL;
  *count = 0;
  clm_status st = visit_devices(add_to_list, &a);
  if (st == CLM_OK && a.oom) st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "out of host memory");
  if (st == CLM_OK && a.count == 0)
    st = CLM_ERROR(CLM_ERR_NO_DEVICE, "OpenCL platforms exist but expose no device");
  if (st != CLM_OK) { free(a.list); return st; }
  *list = a.list;
  *count = a.count;
  return CLM_OK;
}

static int contains_nocase(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (; *hay; hay++) {
    size_t i = 0;
    while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
    if (i == n) return 1;
  }
  return n == 0;
}

static int matches(const clm_device_info *d, const char *spec) {
  int p, q;
  char tail;
  if (sscanf(spec, "%d:%d%c", &p, &q, &tail) == 2) return d->platform_index == p && d->device_index == q;
  if (!strcasecmp(spec, "cpu")) return d->kind == CLM_DEVICE_CPU;
  if (!strcasecmp(spec, "gpu")) return d->kind == CLM_DEVICE_GPU;
  return contains_nocase(d->name, spec) || contains_nocase(d->vendor, spec) ||
         contains_nocase(d->platform, spec);
}

static const char *kind_name(clm_device_kind k) {
  switch (k) {
  case CLM_DEVICE_CPU: return "CPU";
  case CLM_DEVICE_GPU: return "GPU";
  case CLM_DEVICE_ACCELERATOR: return "accelerator";
  default: return "other";
  }
}

/* Preference among devices a spec matches: GPUs, then accelerators, then CPUs, then the rest. */
static int kind_rank(clm_device_kind k) {
  switch (k) {
  case CLM_DEVICE_GPU: return 0;
  case CLM_DEVICE_ACCELERATOR: return 1;
  case CLM_DEVICE_CPU: return 2;
  default: return 3;
  }
}

int clm_device_pick(const clm_device_info *list, int n, const char *spec) {
  int pick = -1;
  for (int i = 0; i < n; i++) {
    if (spec && *spec && !matches(&list[i], spec)) continue;
    if (pick < 0 || kind_rank(list[i].kind) < kind_rank(list[pick].kind)) pick = i;
  }
  return pick;
}

clm_status clm_device_select(const char *spec, clm_device_info *out) {
  clm_device_info *list;
  int n;
  CLM_TRY(clm_device_list(&list, &n));
  int pick = clm_device_pick(list, n, spec);
  if (pick < 0) {
    char msg[3072];
    size_t used = 0;
    for (int i = 0; i < n && used < sizeof msg; i++) {
      int w = snprintf(msg + used, sizeof msg - used, "\n  %d:%d  %s  [%s, %s, %s]",
                       list[i].platform_index, list[i].device_index, list[i].name,
                       list[i].vendor, list[i].platform, kind_name(list[i].kind));
      if (w < 0) break;
      used += (size_t)w;
    }
    free(list);
    CLM_FAIL(CLM_ERR_NOT_FOUND, "no OpenCL device matches \"%s\"; devices present:%s", spec, msg);
  }
  *out = list[pick];
  free(list);
  return CLM_OK;
}

void clm_device_describe(const clm_device_info *d, char *buf, size_t size) {
  snprintf(buf, size,
           "[%d:%d] %s\n"
           "  platform        %s\n"
           "  vendor          %s\n"
           "  type            %s\n"
           "  compute units   %u\n"
           "  clock           %u MHz\n"
           "  global memory   %.2f GiB (max allocation %.2f GiB)\n"
           "  local memory    %.1f KiB\n"
           "  max work-group  %zu\n"
           "  fp16 / fp64     %s / %s\n"
           "  unified memory  %s\n"
           "  OpenCL          %s\n"
           "  driver          %s\n",
           d->platform_index, d->device_index, d->name, d->platform, d->vendor,
           kind_name(d->kind), d->compute_units, d->clock_mhz,
           (double)d->global_mem_bytes / (1u << 30), (double)d->max_alloc_bytes / (1u << 30),
           (double)d->local_mem_bytes / 1024.0, d->max_work_group, d->fp16 ? "yes" : "no",
           d->fp64 ? "yes" : "no", d->unified_memory ? "yes" : "no", d->version, d->driver);
}
