/* Bar charts for the reports of `clmtl bench` and `clmtl bench merge` (tools/chart.c): part
 * of the command-line program, not of the library; the PNG is written with the library's
 * clm_png_write8 (infer.h). */
#ifndef CLMTL_TOOLS_CHART_H
#define CLMTL_TOOLS_CHART_H

#include "clmtl/clmtl.h"

#define CLI_CHART_MAX_SERIES 4

/* Horizontal bars, one row per label and nseries bars per row, each labelled with its value;
 * a legend when there are two or more series. values[row * nseries + s]; negative or
 * non-finite values draw no bar. Text is drawn with a built-in 5×7 bitmap font (printable
 * ASCII; other bytes draw as a box). */
typedef struct cli_chart {
  const char *title;
  const char *unit;                           /* appended to values, e.g. "img/s" */
  int nseries;                                /* 1..CLI_CHART_MAX_SERIES */
  const char *series[CLI_CHART_MAX_SERIES];   /* legend names */
  int nrows;                                  /* >= 1 */
  const char *const *labels;                  /* nrows row labels */
  const double *values;                       /* nrows × nseries */
} cli_chart;

/* Draws the chart into a malloc'd 8-bit RGB image (*rgb, width × height × 3, rows top to
 * bottom); free it with free(). */
clm_status cli_chart_render(const cli_chart *c, unsigned char **rgb, int *width, int *height);
/* Renders and writes the chart to path as an RGB PNG. */
clm_status cli_chart_write_png(const cli_chart *c, const char *path);
/* Scatter plots (the Pareto plots of `clmtl compare`): one or more panels side by side, each
 * with its own axes; points of two kinds (fixed-weight runs as squares with grey labels, other
 * methods as diamonds with black labels), a ring around the points marked. Non-finite points
 * are left out. */
enum { CLI_POINT_FIXED = 0, CLI_POINT_METHOD = 1 };

typedef struct cli_scatter_panel {
  const char *xlabel, *ylabel;
  int npoints;
  const double *x, *y;
  const int *kind;            /* CLI_POINT_* per point */
  const int *ringed;          /* 1: ring it (NULL: none) */
  const char *const *labels;  /* per point, or NULL entries (NULL: none) */
} cli_scatter_panel;

typedef struct cli_scatter {
  const char *title;
  int npanels;                /* 1..6 */
  const cli_scatter_panel *panels;
} cli_scatter;

clm_status cli_scatter_render(const cli_scatter *c, unsigned char **rgb, int *width, int *height);
clm_status cli_scatter_write_png(const cli_scatter *c, const char *path);

/* The message of the last chart call that failed (bad arguments, memory, writing). */
const char *cli_chart_error(void);

#endif
