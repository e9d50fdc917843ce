/* Device buffers and the blocking host<->device copies of tensor views. */
#include <stdint.h>
#include "runtime/runtime-impl.h"

clm_status clm_buffer_alloc(clm_context *ctx, size_t floats, clm_mem *out) {
  *out = NULL;
  if (floats > SIZE_MAX / sizeof(float) - 1)
    CLM_FAIL(CLM_ERR_DEVICE_MEMORY, "a buffer of %zu floats (over %zu bytes) cannot be addressed",
             floats, SIZE_MAX);
  size_t bytes = (floats ? floats : 1) * sizeof(float);
  if (bytes > ctx->info.max_alloc_bytes)
    CLM_FAIL(CLM_ERR_DEVICE_MEMORY,
             "a buffer of %zu bytes exceeds the device's largest allocation (%llu bytes of %llu "
             "global) on %s", bytes, (unsigned long long)ctx->info.max_alloc_bytes,
             (unsigned long long)ctx->info.global_mem_bytes, ctx->info.name);
  cl_int err = CL_SUCCESS;
  cl_mem m = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
  if (err != CL_SUCCESS) {
    clm_cl_error(err, "clCreateBuffer", __FILE__, __LINE__);
    CLM_FAIL(CLM_ERR_DEVICE_MEMORY, "allocating %zu bytes on %s failed: %s", bytes, ctx->info.name,
             clm_cl_error_name(err));
  }
  /* zeroed by a kernel, not clEnqueueFillBuffer: oclgrind 21.10 does not count the latter as
   * initialising memory and would report every later read */
  clm_tensor all = clm_tensor_view((clm_mem)m, 0, 1, 1, 1, 1);
  all.w = (int)(bytes / sizeof(float));
  clm_status st = clm_tensor_fill(ctx, &all, 0.0f);
  if (st != CLM_OK) { clReleaseMemObject(m); return st; }
  *out = (clm_mem)m;
  return CLM_OK;
}

void clm_buffer_free(clm_mem buf) {
  if (buf) clReleaseMemObject((cl_mem)buf);
}

clm_status clm_tensor_upload(clm_context *ctx, const clm_tensor *t, const float *host) {
  size_t n = clm_tensor_numel(t);
  if (!n) return CLM_OK;
  CLM_CL_TRY(clEnqueueWriteBuffer(ctx->queue, (cl_mem)t->buf, CL_TRUE, t->off * sizeof(float),
                                  n * sizeof(float), host, 0, NULL, NULL));
  return CLM_OK;
}

clm_status clm_tensor_download(clm_context *ctx, const clm_tensor *t, float *host) {
  size_t n = clm_tensor_numel(t);
  if (!n) return CLM_OK;
  CLM_CL_TRY(clEnqueueReadBuffer(ctx->queue, (cl_mem)t->buf, CL_TRUE, t->off * sizeof(float),
                                 n * sizeof(float), host, 0, NULL, NULL));
  return CLM_OK;
}

clm_status clm_tensor_fill(clm_context *ctx, const clm_tensor *t, float value) {
  size_t n = clm_tensor_numel(t);
  if (!n) return CLM_OK;
  if (n > 0x7fffffff) CLM_FAIL(CLM_ERR_UNSUPPORTED, "fill of %zu floats exceeds the int range", n);
  return clm_launch_1d(ctx, "tensor", "fill", n, "tif", t, (int)n, (double)value);
}
