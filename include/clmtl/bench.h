/* Benchmark support: a short probe of a device's global memory bandwidth and peak FLOP/s
 * (src/bench/probe.c, kernels cl/probe.cl). The benchmark itself is the `clmtl bench` command
 * (tools/cmd_bench.c), its PNG bar chart tools/chart.c; per-node times come from the graph's
 * profiling mode (graph.h). */
#ifndef CLMTL_BENCH_H
#define CLMTL_BENCH_H

#include <stddef.h>
#include "clmtl/device.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- device probe -------------------------------------------------------------------------- */

typedef struct clm_probe_options {
  size_t bytes;  /* size of each of the two copy buffers; 0: the smaller of 256 MiB, the
                    device's largest allocation and 1/8 of its global memory */
  int repeats;   /* each figure is the best of this many timed runs (at most 64); 0: 5 */
  double min_ms; /* the FMA launch is sized to run at least this long; 0: 50 */
} clm_probe_options;

/* "float16" in cl/probe.cl is OpenCL's vector of 16 floats (32-bit), not half precision. */
typedef struct clm_probe_result {
  double bandwidth_gbs; /* copy of float16 vectors: (bytes read + bytes written) / time of
                           the fastest run, 1e9 bytes/s */
  double peak_gflops;   /* FMA chains on float16 vectors (fp32 arithmetic): 2 FLOP per FMA
                           lane, fastest run, 1e9 FLOP/s */
  double bandwidth_spread[3]; /* min, median, max over the timed runs (max = bandwidth_gbs) */
  double gflops_spread[3];    /* the same for peak_gflops */
  int runs;             /* timed runs behind each spread */
  size_t bytes;         /* copy buffer size used */
  double flop;          /* FLOP of one timed FMA launch */
} clm_probe_result;

/* Measures both figures on ctx's device (about a second on a CPU). opt may be NULL for the
 * defaults. Allocates two copy buffers of opt->bytes for the duration of the call. */
CLMTL_API clm_status clm_probe_run(clm_context *ctx, const clm_probe_options *opt, clm_probe_result *out);

#ifdef __cplusplus
}
#endif

#endif
