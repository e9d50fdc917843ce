/* float32 NCHW device tensors. A clm_tensor is a view: a buffer, an offset in floats, and a
 * shape. It owns nothing; buffers are owned by whoever allocated them (a graph's arena, its
 * flat parameter buffer, or a caller via clm_buffer_alloc). */
#ifndef CLMTL_TENSOR_H
#define CLMTL_TENSOR_H

#include <stddef.h>
#include "clmtl/device.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _cl_mem *clm_mem; /* same type as cl_mem, without pulling in CL headers */

typedef struct clm_tensor {
  clm_mem buf;
  size_t off;          /* offset into buf, in floats */
  int n, c, h, w;      /* NCHW; a scalar is (1,1,1,1) */
} clm_tensor;

static inline size_t clm_tensor_numel(const clm_tensor *t) {
  return (size_t)t->n * (size_t)t->c * (size_t)t->h * (size_t)t->w;
}

/* A view of `numel` floats of `buf` starting at float offset `off`, shaped (n, c, h, w). */
static inline clm_tensor clm_tensor_view(clm_mem buf, size_t off, int n, int c, int h, int w) {
  clm_tensor t = {buf, off, n, c, h, w};
  return t;
}

/* Device buffer of `floats` float32 values. Zero-filled. */
CLMTL_API clm_status clm_buffer_alloc(clm_context *ctx, size_t floats, clm_mem *out);
/* Releases a buffer clm_buffer_alloc made in ctx and takes its bytes off ctx's count (a buffer
 * given with another context would upset that count). buf NULL: nothing happens. */
CLMTL_API void clm_buffer_free(clm_context *ctx, clm_mem buf);

/* Device memory of the buffers clm_buffer_alloc made in this context and that are not yet
 * freed (every buffer the library creates: graphs, optimizer state, multi-task buffers,
 * metrics, workspaces; not the drivers' or CLBlast's own), in bytes: now, and the most at any
 * time since the context was created or clm_context_memory_reset_peak. Either pointer may be
 * NULL. */
CLMTL_API void clm_context_memory(clm_context *ctx, size_t *current, size_t *peak);
/* Sets the peak to the current value, so the next clm_context_memory reports the peak of
 * what runs in between. */
CLMTL_API void clm_context_memory_reset_peak(clm_context *ctx);

/* Blocking copies between host memory and a tensor view (numel floats). */
CLMTL_API clm_status clm_tensor_upload(clm_context *ctx, const clm_tensor *t, const float *host);
CLMTL_API clm_status clm_tensor_download(clm_context *ctx, const clm_tensor *t, float *host);
/* Sets every element of the view to `value` (device kernel). */
CLMTL_API clm_status clm_tensor_fill(clm_context *ctx, const clm_tensor *t, float value);

#ifdef __cplusplus
}
#endif

#endif
