/* Status codes returned by every clmtl call, and the last error message.
 * The library never exits or aborts on a runtime error: it returns one of these and keeps
 * a message for the user (the file, line, layer or value concerned) for clm_last_error(), and
 * apart from it the clmtl source location that raised it, clm_last_error_location(). */
#ifndef CLMTL_STATUS_H
#define CLMTL_STATUS_H

#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum clm_status {
  CLM_OK = 0,
  CLM_ERR_INVALID_ARG = -1,   /* a caller passed something the call cannot accept */
  CLM_ERR_HOST_MEMORY = -2,   /* malloc failed */
  CLM_ERR_DEVICE_MEMORY = -3, /* the device cannot hold what was asked for */
  CLM_ERR_OPENCL = -4,        /* an OpenCL call failed; the message names it */
  CLM_ERR_BUILD = -5,         /* a kernel program failed to build; the message holds the log */
  CLM_ERR_IO = -6,            /* a file could not be read or written */
  CLM_ERR_PARSE = -7,         /* malformed input (model file, checkpoint, image) */
  CLM_ERR_SHAPE = -8,         /* tensor shapes do not fit together */
  CLM_ERR_NOT_FOUND = -9,     /* a named thing (device, layer, tensor) does not exist */
  CLM_ERR_UNSUPPORTED = -10,  /* valid request the device or build cannot do */
  CLM_ERR_NO_DEVICE = -11,    /* no OpenCL platform or device at all */
  CLM_ERR_BLAS = -12,         /* CLBlast returned an error */
  CLM_ERR_NUMERIC = -13,      /* NaN or Inf where a finite value is required */
  CLM_ERR_INTERRUPTED = -14   /* the caller asked to stop (training: after saving its state) */
} clm_status;

/* Name of a status code ("CLM_ERR_PARSE"). */
CLMTL_API const char *clm_status_name(clm_status st);

/* Message of the most recent error raised on this thread ("" when none). */
CLMTL_API const char *clm_last_error(void);

/* The clmtl source file and line that raised the last error ("compile.c:265"; when a caller
 * wrapped the message with context, "outer.c:12 < inner.c:34"); "" when none. For debugging
 * reports, not for users. */
CLMTL_API const char *clm_last_error_location(void);

/* Forget the last error message of this thread. */
CLMTL_API void clm_clear_error(void);

#ifdef __cplusplus
}
#endif

#endif
