/* Device buffers, the blocking host<->device copies of tensor views, and the per-context count
 * of device memory those buffers hold. Buffers made by clm_buffer_alloc_host on a device with
 * unified host memory are CL_MEM_ALLOC_HOST_PTR: copies into and out of views of them map the
 * region, memcpy and unmap (zero-copy on CPUs and integrated GPUs); every other buffer uses
 * clEnqueueRead/WriteBuffer. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/runtime-impl.h"

/* Memory accounting: every allocation adds its bytes to its context's count and every
 * clm_buffer_free(ctx, buf) subtracts buf's CL_MEM_SIZE, under the context's own mem_lock. */
static void memory_add(clm_context *ctx, size_t bytes) {
  pthread_mutex_lock(&ctx->mem_lock);
  ctx->mem_current += bytes;
  if (ctx->mem_current > ctx->mem_peak) ctx->mem_peak = ctx->mem_current;
  pthread_mutex_unlock(&ctx->mem_lock);
}

static void memory_sub(clm_context *ctx, size_t bytes) {
  pthread_mutex_lock(&ctx->mem_lock);
  ctx->mem_current -= bytes <= ctx->mem_current ? bytes : ctx->mem_current;
  pthread_mutex_unlock(&ctx->mem_lock);
}

void clm_context_memory(clm_context *ctx, size_t *current, size_t *peak) {
  pthread_mutex_lock(&ctx->mem_lock);
  if (current) *current = ctx->mem_current;
  if (peak) *peak = ctx->mem_peak;
  pthread_mutex_unlock(&ctx->mem_lock);
}

void clm_context_memory_reset_peak(clm_context *ctx) {
  pthread_mutex_lock(&ctx->mem_lock);
  ctx->mem_peak = ctx->mem_current;
  pthread_mutex_unlock(&ctx->mem_lock);
}

/* oclgrind 21.10 workarounds (ctx->oclgrind only). Its uninitialised-value tracking counts
 * neither clEnqueueFillBuffer nor, on a buffer that reuses a freed buffer's address, kernel
 * writes; and a host write into part of a buffer resets what it knows of the rest. A host
 * write of the WHOLE buffer always leaves it right. So under oclgrind new buffers are zeroed
 * by a whole host write and partial uploads go through a staging buffer and a copy kernel;
 * real devices use a fill kernel and direct writes. */
static clm_status zero_by_host(clm_context *ctx, cl_mem m, size_t bytes) {
  void *zeros = calloc(1, bytes);
  if (!zeros) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  cl_int err = clEnqueueWriteBuffer(ctx->queue, m, CL_TRUE, 0, bytes, zeros, 0, NULL, NULL);
  free(zeros);
  if (err != CL_SUCCESS) return clm_cl_error(err, "clEnqueueWriteBuffer", __FILE__, __LINE__);
  return CLM_OK;
}

static clm_status alloc_flags(clm_context *ctx, size_t floats, cl_mem_flags flags, clm_mem *out) {
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
  cl_mem m = clCreateBuffer(ctx->context, flags, bytes, NULL, &err);
  if (err != CL_SUCCESS) {
    clm_cl_error(err, "clCreateBuffer", __FILE__, __LINE__);
    CLM_FAIL(CLM_ERR_DEVICE_MEMORY, "allocating %zu bytes on %s failed: %s", bytes, ctx->info.name,
             clm_cl_error_name(err));
  }
  clm_tensor all = clm_tensor_view((clm_mem)m, 0, 1, 1, 1, 1);
  all.w = (int)(bytes / sizeof(float));
  clm_status st = ctx->oclgrind ? zero_by_host(ctx, (cl_mem)m, bytes) : clm_tensor_fill(ctx, &all, 0.0f);
  if (st != CLM_OK) { clReleaseMemObject(m); return st; }
  memory_add(ctx, bytes);
  *out = (clm_mem)m;
  return CLM_OK;
}

clm_status clm_buffer_alloc(clm_context *ctx, size_t floats, clm_mem *out) {
  return alloc_flags(ctx, floats, CL_MEM_READ_WRITE, out);
}

clm_status clm_buffer_alloc_host(clm_context *ctx, size_t floats, clm_mem *out) {
  /* oclgrind keeps the plain path its workarounds above are written for */
  int mapped = ctx->info.unified_memory && !ctx->oclgrind;
  return alloc_flags(ctx, floats, CL_MEM_READ_WRITE | (mapped ? CL_MEM_ALLOC_HOST_PTR : 0), out);
}

/* Is buf host-mappable without a copy (clm_buffer_alloc_host on unified memory)? */
static clm_status is_host_mapped(const clm_context *ctx, clm_mem buf, int *mapped) {
  cl_mem_flags flags = 0;
  *mapped = 0;
  if (ctx->oclgrind || !ctx->info.unified_memory) return CLM_OK;
  CLM_CL_TRY(clGetMemObjectInfo((cl_mem)buf, CL_MEM_FLAGS, sizeof flags, &flags, NULL));
  *mapped = (flags & CL_MEM_ALLOC_HOST_PTR) != 0;
  return CLM_OK;
}

/* Blocking copy through a mapping of the view's region: to the device (write) or from it. */
static clm_status copy_mapped(clm_context *ctx, const clm_tensor *t, void *host, int write) {
  size_t bytes = clm_tensor_numel(t) * sizeof(float);
  cl_int err = CL_SUCCESS;
  void *p = clEnqueueMapBuffer(ctx->queue, (cl_mem)t->buf, CL_TRUE, write ? CL_MAP_WRITE : CL_MAP_READ,
                               t->off * sizeof(float), bytes, 0, NULL, NULL, &err);
  if (err != CL_SUCCESS) return clm_cl_error(err, "clEnqueueMapBuffer", __FILE__, __LINE__);
  if (write) memcpy(p, host, bytes);
  else memcpy(host, p, bytes);
  cl_event done;
  CLM_CL_TRY(clEnqueueUnmapMemObject(ctx->queue, (cl_mem)t->buf, p, 0, NULL, &done));
  err = clWaitForEvents(1, &done); /* blocking, like clEnqueueRead/WriteBuffer with CL_TRUE */
  clReleaseEvent(done);
  if (err != CL_SUCCESS) return clm_cl_error(err, "clWaitForEvents", __FILE__, __LINE__);
  return CLM_OK;
}

void clm_buffer_free(clm_context *ctx, clm_mem buf) {
  if (!buf) return;
  size_t bytes = 0;
  if (ctx && clGetMemObjectInfo((cl_mem)buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL) == CL_SUCCESS)
    memory_sub(ctx, bytes);
  clReleaseMemObject((cl_mem)buf);
}

clm_status clm_tensor_upload(clm_context *ctx, const clm_tensor *t, const float *host) {
  size_t n = clm_tensor_numel(t), bytes = 0;
  if (!n) return CLM_OK;
  ctx->n_transfers++;
  ctx->transfer_bytes += n * sizeof(float);
  int mapped;
  CLM_TRY(is_host_mapped(ctx, t->buf, &mapped));
  if (mapped) return copy_mapped(ctx, t, (void *)host, 1);
  if (ctx->oclgrind)
    CLM_CL_TRY(clGetMemObjectInfo((cl_mem)t->buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
  if (!ctx->oclgrind || (t->off == 0 && n * sizeof(float) == bytes)) {
    CLM_CL_TRY(clEnqueueWriteBuffer(ctx->queue, (cl_mem)t->buf, CL_TRUE, t->off * sizeof(float),
                                    n * sizeof(float), host, 0, NULL, NULL));
    return CLM_OK;
  }
  /* oclgrind, part of a buffer: a whole staging buffer, copied in by a kernel (see above) */
  clm_mem staging;
  CLM_TRY(clm_buffer_alloc(ctx, n, &staging));
  clm_tensor src = clm_tensor_view(staging, 0, 1, 1, 1, 1);
  src.w = (int)n;
  clm_status st = CLM_OK;
  cl_int err = clEnqueueWriteBuffer(ctx->queue, (cl_mem)staging, CL_TRUE, 0, n * sizeof(float),
                                    host, 0, NULL, NULL);
  if (err != CL_SUCCESS) st = clm_cl_error(err, "clEnqueueWriteBuffer", __FILE__, __LINE__);
  if (st == CLM_OK)
    st = clm_launch_1d(ctx, "tensor", "copy", n, "ttii", &src, t, (int)n, 0);
  if (st == CLM_OK) {
    err = clFinish(ctx->queue); /* blocking, like the direct write */
    if (err != CL_SUCCESS) st = clm_cl_error(err, "clFinish", __FILE__, __LINE__);
  }
  clm_buffer_free(ctx, staging);
  return st;
}

clm_status clm_tensor_download(clm_context *ctx, const clm_tensor *t, float *host) {
  size_t n = clm_tensor_numel(t);
  if (!n) return CLM_OK;
  ctx->n_transfers++;
  ctx->transfer_bytes += n * sizeof(float);
  int mapped;
  CLM_TRY(is_host_mapped(ctx, t->buf, &mapped));
  if (mapped) return copy_mapped(ctx, t, host, 0);
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
