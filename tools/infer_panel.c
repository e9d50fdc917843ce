/* `clmtl infer`'s panel (infer_panel.h): tiles, captions, class legend and colour bar, drawn
 * with the library's 5×7 font and colour map. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/infer.h"
#include "infer_panel.h"

static const uint8_t white[3] = {255, 255, 255}, grey[3] = {200, 200, 200};

static void fill(uint8_t *img, int h, int w, int y0, int x0, int bh, int bw, const uint8_t c[3]) {
  for (int y = y0 < 0 ? 0 : y0; y < y0 + bh && y < h; y++)
    for (int x = x0 < 0 ? 0 : x0; x < x0 + bw && x < w; x++) memcpy(img + 3 * ((size_t)y * w + x), c, 3);
}

/* Rows the legend needs at this width: entries flow left to right, wrapping. */
static int legend_rows(const panel_legend *l, int width, int s, int margin) {
  if (!l || l->classes < 1) return 0;
  int rows = 1, x = margin + clm_text_width(l->title, s) + 6 * s;
  for (int c = 0; c < l->classes; c++) {
    char entry[96];
    snprintf(entry, sizeof entry, "%d %s", c, l->names[c]);
    int ew = 10 * s + clm_text_width(entry, s) + 8 * s;
    if (x + ew > width - margin && x > margin) { rows++; x = margin; }
    x += ew;
  }
  return rows;
}

int panel_compose(const panel_tile *tiles, int count, int height, int width, const panel_legend *legend,
                  const panel_bar *bar, uint8_t **out, int *out_h, int *out_w) {
  int s = (height < width ? height : width) / 160 + 1, margin = 4 * s, line = 11 * s;
  int pw = count * width;
  int lrows = legend_rows(legend, pw, s, margin);
  int foot = (lrows ? lrows * line + margin : 0) + (bar && bar->on ? 3 * line + margin : 0);
  if (foot) foot += margin;
  int ph = height + foot;
  uint8_t *img = calloc((size_t)ph * pw * 3, 1);
  if (!img) return 1;
  static const uint8_t band[3] = {24, 24, 24}, bg[3] = {16, 16, 16};
  fill(img, ph, pw, height, 0, foot, pw, bg);
  for (int k = 0; k < count; k++) {
    for (int y = 0; y < height; y++)
      memcpy(img + 3 * ((size_t)y * pw + (size_t)k * width), tiles[k].rgb + 3 * (size_t)y * width, 3 * (size_t)width);
    int tw = clm_text_width(tiles[k].caption, s);
    fill(img, ph, pw, 0, k * width, 9 * s, (tw + 2 * s < width ? tw + 2 * s : width), band);
    /* clipped to its own tile */
    uint8_t *strip = malloc((size_t)9 * s * width * 3);
    if (!strip) { free(img); return 1; }
    for (int y = 0; y < 9 * s && y < height; y++)
      memcpy(strip + 3 * (size_t)y * width, img + 3 * ((size_t)y * pw + (size_t)k * width), 3 * (size_t)width);
    clm_text_draw(strip, 9 * s, width, s, s, tiles[k].caption, s, white);
    for (int y = 0; y < 9 * s && y < height; y++)
      memcpy(img + 3 * ((size_t)y * pw + (size_t)k * width), strip + 3 * (size_t)y * width, 3 * (size_t)width);
    free(strip);
  }
  int y = height + margin;
  if (lrows) {
    int x = margin;
    clm_text_draw(img, ph, pw, x, y + s, legend->title, s, white);
    x += clm_text_width(legend->title, s) + 6 * s;
    for (int c = 0; c < legend->classes; c++) {
      char entry[96];
      snprintf(entry, sizeof entry, "%d %s", c, legend->names[c]);
      int ew = 10 * s + clm_text_width(entry, s) + 8 * s;
      if (x + ew > pw - margin && x > margin) { y += line; x = margin; }
      fill(img, ph, pw, y, x, 8 * s, 8 * s, legend->palette + 3 * c);
      clm_text_draw(img, ph, pw, x + 10 * s, y + s, entry, s, grey);
      x += ew;
    }
    y += line + margin;
  }
  if (bar && bar->on) {
    clm_text_draw(img, ph, pw, margin, y, bar->caption, s, white);
    y += line;
    int bw = pw - 2 * margin;
    if (bw > 256 * s) bw = 256 * s;
    for (int x = 0; x < bw; x++) {
      uint8_t c[3];
      clm_colormap(bw > 1 ? (float)x / (float)(bw - 1) : 0.0f, c);
      fill(img, ph, pw, y, margin + x, 8 * s, 1, c);
    }
    y += line;
    char lo[32], hi[32];
    snprintf(lo, sizeof lo, "%.3g", bar->lo);
    snprintf(hi, sizeof hi, "%.3g", bar->hi);
    clm_text_draw(img, ph, pw, margin, y, lo, s, grey);
    clm_text_draw(img, ph, pw, margin + bw - clm_text_width(hi, s), y, hi, s, grey);
  }
  *out = img;
  *out_h = ph;
  *out_w = pw;
  return 0;
}
