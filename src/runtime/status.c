/* Status names, the per-thread last error (the user's message, and apart from it the clmtl
 * source location that raised it), and OpenCL error names. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "runtime/runtime-impl.h"

static _Thread_local char last_error[4096];
static _Thread_local char last_location[256];

const char *clm_status_name(clm_status st) {
  switch (st) {
  case CLM_OK: return "CLM_OK";
  case CLM_ERR_INVALID_ARG: return "CLM_ERR_INVALID_ARG";
  case CLM_ERR_HOST_MEMORY: return "CLM_ERR_HOST_MEMORY";
  case CLM_ERR_DEVICE_MEMORY: return "CLM_ERR_DEVICE_MEMORY";
  case CLM_ERR_OPENCL: return "CLM_ERR_OPENCL";
  case CLM_ERR_BUILD: return "CLM_ERR_BUILD";
  case CLM_ERR_IO: return "CLM_ERR_IO";
  case CLM_ERR_PARSE: return "CLM_ERR_PARSE";
  case CLM_ERR_SHAPE: return "CLM_ERR_SHAPE";
  case CLM_ERR_NOT_FOUND: return "CLM_ERR_NOT_FOUND";
  case CLM_ERR_UNSUPPORTED: return "CLM_ERR_UNSUPPORTED";
  case CLM_ERR_NO_DEVICE: return "CLM_ERR_NO_DEVICE";
  case CLM_ERR_BLAS: return "CLM_ERR_BLAS";
  case CLM_ERR_NUMERIC: return "CLM_ERR_NUMERIC";
  case CLM_ERR_INTERRUPTED: return "CLM_ERR_INTERRUPTED";
  }
  return "CLM_ERR_UNKNOWN";
}

const char *clm_last_error(void) { return last_error; }

const char *clm_last_error_location(void) { return last_location; }

void clm_clear_error(void) {
  last_error[0] = '\0';
  last_location[0] = '\0';
}

/* The message alone goes to last_error. The location replaces the previous one, except when
 * the new message wraps the previous message (a caller adding context): then it is
 * "outer.c:12 < inner.c:34", innermost last. */
clm_status clm_error_set(clm_status st, const char *file, int line, const char *fmt, ...) {
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;
  char msg[sizeof last_error];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  char loc[sizeof last_location + 32];
  if (last_error[0] && last_location[0] && strstr(msg, last_error))
    snprintf(loc, sizeof loc, "%s:%d < %s", base, line, last_location);
  else
    snprintf(loc, sizeof loc, "%s:%d", base, line);
  memcpy(last_error, msg, sizeof msg);
  memcpy(last_location, loc, sizeof last_location - 1);
  last_location[sizeof last_location - 1] = '\0';
  return st;
}

const char *clm_cl_error_name(cl_int err) {
  switch (err) {
#define E(x) case x: return #x;
    E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE) E(CL_COMPILER_NOT_AVAILABLE)
    E(CL_MEM_OBJECT_ALLOCATION_FAILURE) E(CL_OUT_OF_RESOURCES) E(CL_OUT_OF_HOST_MEMORY)
    E(CL_PROFILING_INFO_NOT_AVAILABLE) E(CL_MEM_COPY_OVERLAP) E(CL_IMAGE_FORMAT_MISMATCH)
    E(CL_IMAGE_FORMAT_NOT_SUPPORTED) E(CL_BUILD_PROGRAM_FAILURE) E(CL_MAP_FAILURE)
    E(CL_MISALIGNED_SUB_BUFFER_OFFSET) E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    E(CL_COMPILE_PROGRAM_FAILURE) E(CL_LINKER_NOT_AVAILABLE) E(CL_LINK_PROGRAM_FAILURE)
    E(CL_DEVICE_PARTITION_FAILED) E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE) E(CL_INVALID_VALUE)
    E(CL_INVALID_DEVICE_TYPE) E(CL_INVALID_PLATFORM) E(CL_INVALID_DEVICE) E(CL_INVALID_CONTEXT)
    E(CL_INVALID_QUEUE_PROPERTIES) E(CL_INVALID_COMMAND_QUEUE) E(CL_INVALID_HOST_PTR)
    E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR) E(CL_INVALID_IMAGE_SIZE)
    E(CL_INVALID_SAMPLER) E(CL_INVALID_BINARY) E(CL_INVALID_BUILD_OPTIONS) E(CL_INVALID_PROGRAM)
    E(CL_INVALID_PROGRAM_EXECUTABLE) E(CL_INVALID_KERNEL_NAME) E(CL_INVALID_KERNEL_DEFINITION)
    E(CL_INVALID_KERNEL) E(CL_INVALID_ARG_INDEX) E(CL_INVALID_ARG_VALUE) E(CL_INVALID_ARG_SIZE)
    E(CL_INVALID_KERNEL_ARGS) E(CL_INVALID_WORK_DIMENSION) E(CL_INVALID_WORK_GROUP_SIZE)
    E(CL_INVALID_WORK_ITEM_SIZE) E(CL_INVALID_GLOBAL_OFFSET) E(CL_INVALID_EVENT_WAIT_LIST)
    E(CL_INVALID_EVENT) E(CL_INVALID_OPERATION) E(CL_INVALID_GL_OBJECT) E(CL_INVALID_BUFFER_SIZE)
    E(CL_INVALID_MIP_LEVEL) E(CL_INVALID_GLOBAL_WORK_SIZE) E(CL_INVALID_PROPERTY)
    E(CL_INVALID_IMAGE_DESCRIPTOR) E(CL_INVALID_COMPILER_OPTIONS) E(CL_INVALID_LINKER_OPTIONS)
    E(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef E
  case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
  }
  return "CL_UNKNOWN_ERROR";
}

clm_status clm_cl_error(cl_int err, const char *call, const char *file, int line) {
  clm_status st = CLM_ERR_OPENCL;
  if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_HOST_MEMORY ||
      err == CL_INVALID_BUFFER_SIZE)
    st = CLM_ERR_DEVICE_MEMORY;
  /* Keep the call short in the message: its name up to the first '('. */
  char name[96];
  size_t i = 0;
  while (call[i] && call[i] != '(' && i + 1 < sizeof name) {
    name[i] = call[i];
    i++;
  }
  name[i] = '\0';
  return clm_error_set(st, file, line, "%s failed: %s (%d)", name, clm_cl_error_name(err), err);
}
