/* `clmtl bench` results and their reports: what cmd_bench.c measures per device, and the
 * writers bench_report.c turns it into (stdout tables, JSON, CSV, Markdown, PNG chart). The
 * JSON layout is a contract with tools/bench_torch.py. */
#ifndef CLMTL_BENCH_REPORT_H
#define CLMTL_BENCH_REPORT_H

#include <stdio.h>
#include "clmtl/clmtl.h"

/* One (node, pass) of the profiled train step. */
typedef struct bench_op {
  char node[96];
  const char *op, *pass; /* layer type and pass names (static strings) */
  char variant[24];      /* conv/deconv kernel variant, "" otherwise */
  int is_loss;
  double ms;             /* median per run */
  double per_step;       /* runs per train step (1, or K + 1 backward runs with gradnorm) */
  double flop, bytes;    /* per run (graph.h, clm_op_profile) */
} bench_op;

/* The spread of one timed figure over its n repetitions. */
typedef struct bench_spread {
  double min, median, max;
  int n;
} bench_spread;

typedef struct bench_device {
  clm_device_info info;
  int ok;                    /* 0: error holds why it failed */
  char error[2048];
  clm_probe_result probe;
  double train_ms;           /* median train step (uncertainty weighting + Adam by default) */
  double infer_ms;           /* median forward of a graph compiled with training = 0 */
  double cold_s, warm_s;     /* context creation through first train step: cold with every
                                cache empty (clmtl's, and the driver's where driver_cache says
                                so, in a child process), warm with them filled */
  double cold_kept_s;        /* the same with clmtl's cache empty, the driver's as the user has
                                it (in this process) */
  char driver_cache[160];    /* how the driver's cache was emptied for cold_s, or why not */
  bench_spread train, profiled, infer, cold, cold_kept, warm; /* of the figures above */
  size_t peak_bytes;         /* peak device memory of the train step (clm_context_memory) */
  double flop_per_step;      /* FLOP of one train step, from the profile */
  double profiled_ms;        /* median train step with profiling on (the ops' denominator) */
  double mtl_ms, mtl_bytes;  /* loss nodes' forward: time per step and bytes read */
  int mtl_extra_backward;    /* the weighting's extra backward passes per step (clm_mtl_cost) */
  double mtl_extra_bytes;    /* and the device bytes it adds (per-task gradients, kept values) */
  bench_op *ops;             /* by time per step, longest first */
  int nops;
} bench_device;

typedef struct bench_run {
  char timestamp[32];        /* start of the run, UTC, ISO 8601 (2026-12-07T21:30:00Z) */
  char host_cpu[256];        /* "model name" of /proc/cpuinfo, or "unknown" */
  char host_os[256];         /* uname: system, release, machine */
  const char *model;
  int batch, height, width, steps, warmup;
  const char *weighting;
  int all_ops;               /* --ops: every op in the stdout and Markdown tables */
  int have_load;             /* /proc/loadavg was readable: */
  double load_start[3], load_end[3]; /* 1, 5, 15-minute load averages before and after */
  bench_device *dev;
  int ndev;
} bench_run;

/* Device block (probe, end to end, memory, start-up, multi-task reduction, top ops). */
void bench_print_device(const bench_run *r, const bench_device *d, FILE *f);
/* One line per device, for --all-devices. */
void bench_print_comparison(const bench_run *r, FILE *f);

/* 0 when path (given with option opt) can be written: an existing writable file, or a new file
 * in a writable directory (created and removed again). Else prints why, naming the option and
 * the path, and returns 1. NULL is fine. For checks before a long run. */
int bench_check_output(const char *opt, const char *path);

/* Cells of the CSV and Markdown writers, shared with bench merge: a quoted CSV string (quotes
 * doubled, line breaks as spaces); a CSV number after its comma (empty when not finite); a
 * Markdown table cell ('|' escaped, line breaks as spaces). */
void bench_csv_str(FILE *f, const char *s);
void bench_csv_num(FILE *f, double v, const char *fmt);
void bench_md_cell(FILE *f, const char *s);

/* Each returns 0, or prints why to stderr and returns 1. */
int bench_write_json(const bench_run *r, const char *path);
int bench_write_csv(const bench_run *r, const char *path);
int bench_write_markdown(const bench_run *r, const char *path);
/* Train and inference img/s per device when two or more devices succeeded, else the top
 * ops' times of the one that did. */
int bench_write_png(const bench_run *r, const char *path);

/* A report file (kind "CSV", "Markdown") opened for writing and closed, shared by `clmtl bench`
 * and `clmtl bench merge`: NULL or 1 after printing "CMD: cannot write the KIND file PATH". */
FILE *bench_file_open(const char *cmd, const char *kind, const char *path);
int bench_file_close(FILE *f, const char *cmd, const char *kind, const char *path);

/* The rows of a bar chart of up to two series, shared by `clmtl bench` and `clmtl bench merge`:
 * text (64 characters a row), labels pointing at them (the cli_chart's labels), values
 * (rows × 2). */
typedef struct bench_chart_rows {
  char (*text)[64];
  const char **labels;
  double *values;
} bench_chart_rows;
/* Room for n >= 1 rows, zeroed: 0, or 1 after printing "CMD: out of memory drawing PATH" (*r
 * then holds nothing to free). */
int bench_chart_rows_alloc(bench_chart_rows *r, int n, const char *cmd, const char *path);
/* Writes chart c (its labels and values r's) to path as a PNG, printing "CMD: <error>" when
 * that fails, and frees r: 0 or 1. With c NULL it only frees r. */
struct cli_chart;
int bench_chart_rows_write(bench_chart_rows *r, const struct cli_chart *c, const char *cmd, const char *path);

/* `clmtl bench merge A.json B.json ...` (bench_merge.c): a process exit status. */
int bench_merge(int argc, char **argv);

#endif
