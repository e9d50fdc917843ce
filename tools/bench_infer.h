/* `clmtl bench --mode infer` (bench_infer.c): the inference graph measured node by node. */
#ifndef CLMTL_BENCH_INFER_H
#define CLMTL_BENCH_INFER_H

typedef struct bench_infer_opts {
  const char *model;       /* path to load */
  const char *shown_model; /* as the user gave it */
  const char *device;      /* NULL: as elsewhere */
  int batch, height, width, steps, all_ops;
} bench_infer_opts;

/* Prints the report to stdout; a process exit status (errors on stderr). */
int bench_infer(const bench_infer_opts *o);

#endif
