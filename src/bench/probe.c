/* The device probe of `clmtl bench`: global memory bandwidth from a copy of float16 vectors
 * (OpenCL's 16 x fp32, not half precision) between two buffers much larger than any cache, and
 * peak fp32 FLOP/s from FMA chains on float16 vectors over enough work-items to fill the device
 * (cl/probe.cl). Each figure is the best of a few timed runs, timed on the host around enqueue
 * and clFinish; the min/median/max of those runs are kept too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "clmtl/bench.h"
#include "clmtl/util.h"
#include "runtime/runtime-impl.h"

#define PROBE_ITERS 128 /* must match the -D passed below (the kernel's loop trips) */
#define MIB ((size_t)1 << 20)
#define MAX_RUNS 64

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* min, median, max of amount / seconds over n runs (sorts seconds). */
static void rate_spread(double *seconds, int n, double amount, double out[3]) {
  qsort(seconds, (size_t)n, sizeof *seconds, cmp_double);
  double mid = n % 2 ? seconds[n / 2] : 0.5 * (seconds[n / 2 - 1] + seconds[n / 2]);
  out[0] = amount / seconds[n - 1];
  out[1] = amount / mid;
  out[2] = amount / seconds[0];
}

/* Wall seconds of one launch of k over n work-items, queue drained before and after. */
static clm_status timed_launch(clm_context *ctx, cl_kernel k, size_t n, double *seconds) {
  CLM_CL_TRY(clFinish(ctx->queue));
  double t0 = clm_time_seconds();
  CLM_TRY(clm_kernel_launch(ctx, k, 1, &n, NULL));
  CLM_CL_TRY(clFinish(ctx->queue));
  *seconds = clm_time_seconds() - t0;
  return CLM_OK;
}

static clm_status probe_bandwidth(clm_context *ctx, size_t bytes, int repeats, double spread[3]) {
  size_t n = bytes / 64; /* float16 elements */
  clm_mem a = NULL, b = NULL;
  cl_kernel k;
  double runs[MAX_RUNS];
  clm_status st = CLM_OK;
  CLM_CHECK(st, clm_kernel_get(ctx, "probe", NULL, "probe_copy", &k, NULL), done);
  CLM_CHECK(st, clm_buffer_alloc(ctx, n * 16, &a), done); /* zero-filled: pages are touched */
  CLM_CHECK(st, clm_buffer_alloc(ctx, n * 16, &b), done);
  CLM_CHECK(st, clm_kernel_args(k, "mmi", (cl_mem)a, (cl_mem)b, (int)n), done);
  for (int r = 0; r <= repeats; r++) { /* run 0 warms up */
    double s;
    CLM_CHECK(st, timed_launch(ctx, k, n, &s), done);
    if (r > 0) runs[r - 1] = s;
  }
  rate_spread(runs, repeats, 2.0 * (double)(n * 64) * 1e-9, spread);
done:
  clm_buffer_free(ctx, a);
  clm_buffer_free(ctx, b);
  return st;
}

static clm_status probe_flops(clm_context *ctx, int repeats, double min_ms, double spread[3],
                              double *flop) {
  cl_kernel k;
  char opts[64];
  snprintf(opts, sizeof opts, "-DPROBE_ITERS=%d", PROBE_ITERS);
  CLM_TRY(clm_kernel_get(ctx, "probe", opts, "probe_fma", &k, NULL));
  /* Start with a few work-groups per compute unit and grow until one launch is long enough. */
  size_t n = (size_t)(ctx->info.compute_units ? ctx->info.compute_units : 1) * 1024;
  const size_t n_max = (size_t)1 << 26;
  clm_mem out = NULL;
  clm_status st = CLM_OK;
  double s = 0;
  for (;;) {
    clm_buffer_free(ctx, out);
    out = NULL;
    CLM_CHECK(st, clm_buffer_alloc(ctx, n, &out), done);
    CLM_CHECK(st, clm_kernel_args(k, "miff", (cl_mem)out, (int)n, 0.999, 0.001), done);
    CLM_CHECK(st, timed_launch(ctx, k, n, &s), done);
    if (s * 1e3 >= min_ms || n >= n_max) break;
    double grow = s > 0 ? min_ms * 1.2e-3 / s : 16;
    n = (size_t)((double)n * (grow < 2 ? 2 : grow > 16 ? 16 : grow));
    if (n > n_max) n = n_max;
  }
  double runs[MAX_RUNS];
  for (int r = 0; r < repeats; r++) CLM_CHECK(st, timed_launch(ctx, k, n, &runs[r]), done);
  *flop = 2.0 * 8 * 16 * PROBE_ITERS * (double)n;
  rate_spread(runs, repeats, *flop * 1e-9, spread);
done:
  clm_buffer_free(ctx, out);
  return st;
}

clm_status clm_probe_run(clm_context *ctx, const clm_probe_options *opt, clm_probe_result *out) {
  clm_probe_options o = {0, 0, 0};
  if (opt) o = *opt;
  if (!o.bytes) {
    o.bytes = 256 * MIB;
    if (o.bytes > ctx->info.max_alloc_bytes) o.bytes = ctx->info.max_alloc_bytes;
    if (o.bytes > ctx->info.global_mem_bytes / 8) o.bytes = ctx->info.global_mem_bytes / 8;
  }
  o.bytes = o.bytes / 64 * 64;
  if (o.bytes < 64 || o.bytes / 64 > 0x7fffffff)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "probe buffer of %zu bytes: need 64 bytes to 128 GiB", o.bytes);
  if (o.repeats <= 0) o.repeats = 5;
  if (o.repeats > MAX_RUNS) o.repeats = MAX_RUNS;
  if (!(o.min_ms > 0)) o.min_ms = 50;
  out->bytes = o.bytes;
  out->runs = o.repeats;
  CLM_TRY(probe_bandwidth(ctx, o.bytes, o.repeats, out->bandwidth_spread));
  out->bandwidth_gbs = out->bandwidth_spread[2];
  CLM_TRY(probe_flops(ctx, o.repeats, o.min_ms, out->gflops_spread, &out->flop));
  out->peak_gflops = out->gflops_spread[2];
  return CLM_OK;
}
