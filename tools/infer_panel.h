/* The picture `clmtl infer` writes per image (<stem>_panel.png): captioned tiles side by side
 * (the input, then one per task), and under them a class legend and a colour bar with its
 * range and units. Composed from RGB tiles the caller made (tools/infer_panel.c). */
#ifndef CLMTL_INFER_PANEL_H
#define CLMTL_INFER_PANEL_H

#include <stdint.h>

typedef struct panel_tile {
  const uint8_t *rgb; /* (H, W, 3) */
  char caption[128];
} panel_tile;

typedef struct panel_legend {
  int classes;                /* 0: no legend */
  const uint8_t *palette;     /* classes × 3 */
  const char *const *names;   /* classes names */
  const char *title;          /* e.g. the task's name */
} panel_legend;

typedef struct panel_bar {
  int on;
  float lo, hi;               /* the values at the bar's two ends */
  char caption[192];          /* what is shown, units and how the range was chosen */
} panel_bar;

/* Composes count tiles of H × W into a new image (*out, malloc'd, *out_h × *out_w × 3): the
 * tiles in a row, each caption on a dark band at its top, then the legend and the bar below
 * them on a dark background. Returns 0, or 1 when out of memory. */
int panel_compose(const panel_tile *tiles, int count, int height, int width, const panel_legend *legend,
                  const panel_bar *bar, uint8_t **out, int *out_h, int *out_w);

#endif
