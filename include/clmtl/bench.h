/* Benchmark support: a short probe of a device's global memory bandwidth and peak FLOP/s
 * (src/bench/probe.c, kernels cl/probe.cl), and a bar chart written as a PNG for benchmark
 * reports (src/bench/chart.c). The benchmark itself is the `clmtl bench` command
 * (tools/cmd_bench.c); per-node times come from the graph's profiling mode (graph.h). */
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

/* ---- bar chart ------------------------------------------------------------------------------ */

#define CLM_CHART_MAX_SERIES 4

/* Horizontal bars, one row per label and nseries bars per row, each labelled with its value;
 * a legend when there are two or more series. values[row * nseries + s]; negative or
 * non-finite values draw no bar. Text is drawn with a built-in 5×7 bitmap font (printable
 * ASCII; other bytes draw as a box). */
typedef struct clm_chart {
  const char *title;
  const char *unit;                           /* appended to values, e.g. "img/s" */
  int nseries;                                /* 1..CLM_CHART_MAX_SERIES */
  const char *series[CLM_CHART_MAX_SERIES];   /* legend names */
  int nrows;                                  /* >= 1 */
  const char *const *labels;                  /* nrows row labels */
  const double *values;                       /* nrows × nseries */
} clm_chart;

/* Draws the chart into a malloc'd 8-bit RGB image (*rgb, width × height × 3, rows top to
 * bottom); free it with free(). */
CLMTL_API clm_status clm_chart_render(const clm_chart *c, unsigned char **rgb, int *width, int *height);
/* Renders and writes the chart to path as an RGB PNG. */
CLMTL_API clm_status clm_chart_write_png(const clm_chart *c, const char *path);

#ifdef __cplusplus
}
#endif

#endif
