/* Bar charts for benchmark reports: horizontal bars drawn into an 8-bit RGB buffer, text in
 * a built-in 5×7 bitmap font, written as PNG with the library's stb_image_write. Knows
 * nothing about benchmarks: the caller passes labels and values (bench.h, clm_chart). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stb_image_write.h>
#include "clmtl/bench.h"
#include "runtime/runtime-impl.h"

/* ---- font ----------------------------------------------------------------------------------- */

/* 5×7 glyphs: one byte per row, top row first, bit 4 the leftmost pixel. Characters not in
 * the table draw as a hollow box; lower case draws as upper case. */
typedef struct glyph {
  char ch;
  unsigned char rows[7];
} glyph;

static const glyph font[] = {
    {' ', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
    {'0', {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e}},
    {'1', {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e}},
    {'2', {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f}},
    {'3', {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e}},
    {'4', {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02}},
    {'5', {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e}},
    {'6', {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e}},
    {'7', {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e}},
    {'9', {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c}},
    {'A', {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}},
    {'B', {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e}},
    {'C', {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e}},
    {'D', {0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c}},
    {'E', {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f}},
    {'F', {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10}},
    {'G', {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f}},
    {'H', {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}},
    {'I', {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}},
    {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f}},
    {'M', {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11}},
    {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}},
    {'P', {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10}},
    {'Q', {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d}},
    {'R', {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11}},
    {'S', {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e}},
    {'T', {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a}},
    {'X', {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04}},
    {'Z', {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c}},
    {',', {0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08}},
    {':', {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00}},
    {';', {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x04, 0x08}},
    {'-', {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00}},
    {'_', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {'+', {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00}},
    {'=', {0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00}},
    {'#', {0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a}},
    {'*', {0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00}},
    {'[', {0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e}},
    {']', {0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e}},
    {'<', {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02}},
    {'>', {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08}},
    {'\'', {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00}},
    {'"', {0x0a, 0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00}},
    {'!', {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04}},
    {'?', {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}},
    {'|', {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
};

static const unsigned char box[7] = {0x1f, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1f};

static const unsigned char *glyph_rows(char ch) {
  if (ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
  for (size_t i = 0; i < sizeof font / sizeof font[0]; i++)
    if (font[i].ch == ch) return font[i].rows;
  return box;
}

/* ---- drawing -------------------------------------------------------------------------------- */

#define SCALE 2              /* font pixels are SCALE×SCALE image pixels */
#define CHAR_W (6 * SCALE)   /* glyph plus one column of spacing */
#define CHAR_H (7 * SCALE)
#define MARGIN 16
#define BAR_H 16
#define BAR_GAP 3
#define ROW_GAP 10
#define BAR_AREA 480         /* pixels of the longest bar */
#define LABEL_MAX 32         /* label characters shown; longer labels are cut */
#define VALUE_CHARS 18       /* room for "123456.0 img/s" after a bar */

typedef struct canvas {
  unsigned char *px;
  int w, h;
} canvas;

typedef struct rgb {
  unsigned char r, g, b;
} rgb;

static const rgb WHITE = {255, 255, 255}, INK = {33, 33, 33}, GRID = {210, 210, 210};
static const rgb PALETTE[CLM_CHART_MAX_SERIES] = {
    {66, 133, 244}, {234, 67, 53}, {52, 168, 83}, {251, 188, 5}};

static void fill_rect(canvas *c, int x, int y, int w, int h, rgb col) {
  for (int j = y < 0 ? 0 : y; j < y + h && j < c->h; j++)
    for (int i = x < 0 ? 0 : x; i < x + w && i < c->w; i++) {
      unsigned char *p = c->px + ((size_t)j * c->w + i) * 3;
      p[0] = col.r;
      p[1] = col.g;
      p[2] = col.b;
    }
}

/* Draws at most max characters of s with its top-left corner at (x, y). */
static void draw_text(canvas *c, int x, int y, const char *s, int max, rgb col) {
  for (int k = 0; s[k] && k < max; k++) {
    const unsigned char *rows = glyph_rows(s[k]);
    for (int r = 0; r < 7; r++)
      for (int b = 0; b < 5; b++)
        if (rows[r] & (0x10 >> b))
          fill_rect(c, x + k * CHAR_W + b * SCALE, y + r * SCALE, SCALE, SCALE, col);
  }
}

static void format_value(char *buf, size_t size, double v, const char *unit) {
  const char *fmt = v >= 100 ? "%.0f%s%s" : v >= 10 ? "%.1f%s%s" : "%.2f%s%s";
  snprintf(buf, size, fmt, v, unit && *unit ? " " : "", unit ? unit : "");
}

clm_status clm_chart_render(const clm_chart *ch, unsigned char **rgb_out, int *width, int *height) {
  *rgb_out = NULL;
  if (ch->nseries < 1 || ch->nseries > CLM_CHART_MAX_SERIES || ch->nrows < 1 || !ch->labels ||
      !ch->values)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "chart needs 1..%d series and at least one row",
             CLM_CHART_MAX_SERIES);
  int ns = ch->nseries, label_chars = 1;
  double vmax = 0;
  for (int r = 0; r < ch->nrows; r++) {
    int len = ch->labels[r] ? (int)strlen(ch->labels[r]) : 0;
    if (len > label_chars) label_chars = len > LABEL_MAX ? LABEL_MAX : len;
    for (int s = 0; s < ns; s++) {
      double v = ch->values[r * ns + s];
      if (isfinite(v) && v > vmax) vmax = v;
    }
  }
  int bar_x = MARGIN + label_chars * CHAR_W + 12;
  int title_h = ch->title ? CHAR_H + 12 : 0, legend_h = ns > 1 ? CHAR_H + 10 : 0;
  int row_h = ns * (BAR_H + BAR_GAP) - BAR_GAP + ROW_GAP;
  int w = bar_x + BAR_AREA + 8 + VALUE_CHARS * CHAR_W + MARGIN;
  int h = MARGIN + title_h + legend_h + ch->nrows * row_h + MARGIN;
  if (ch->title && MARGIN * 2 + (int)strlen(ch->title) * CHAR_W > w)
    w = MARGIN * 2 + (int)strlen(ch->title) * CHAR_W;
  canvas c = {malloc((size_t)w * h * 3), w, h};
  if (!c.px) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  fill_rect(&c, 0, 0, w, h, WHITE);
  int y = MARGIN;
  if (ch->title) {
    draw_text(&c, MARGIN, y, ch->title, (w - 2 * MARGIN) / CHAR_W, INK);
    y += title_h;
  }
  if (ns > 1) {
    int x = bar_x;
    for (int s = 0; s < ns; s++) {
      const char *name = ch->series[s] ? ch->series[s] : "";
      fill_rect(&c, x, y, CHAR_H, CHAR_H, PALETTE[s]);
      draw_text(&c, x + CHAR_H + 6, y, name, LABEL_MAX, INK);
      x += CHAR_H + 6 + (int)(strlen(name) < LABEL_MAX ? strlen(name) : LABEL_MAX) * CHAR_W + 24;
    }
    y += legend_h;
  }
  fill_rect(&c, bar_x - 1, y - 4, 1, ch->nrows * row_h, GRID); /* the axis */
  for (int r = 0; r < ch->nrows; r++, y += row_h) {
    int group_h = row_h - ROW_GAP;
    if (ch->labels[r])
      draw_text(&c, MARGIN, y + (group_h - CHAR_H) / 2, ch->labels[r], LABEL_MAX, INK);
    for (int s = 0; s < ns; s++) {
      double v = ch->values[r * ns + s];
      int by = y + s * (BAR_H + BAR_GAP);
      char text[64];
      if (!isfinite(v) || v < 0) {
        draw_text(&c, bar_x + 4, by + (BAR_H - CHAR_H) / 2, "-", 1, INK);
        continue;
      }
      int len = vmax > 0 ? (int)lround(v / vmax * BAR_AREA) : 0;
      if (v > 0 && len < 1) len = 1;
      fill_rect(&c, bar_x, by, len, BAR_H, PALETTE[s]);
      format_value(text, sizeof text, v, ch->unit);
      draw_text(&c, bar_x + len + 8, by + (BAR_H - CHAR_H) / 2, text, VALUE_CHARS, INK);
    }
  }
  *rgb_out = c.px;
  *width = w;
  *height = h;
  return CLM_OK;
}

clm_status clm_chart_write_png(const clm_chart *ch, const char *path) {
  unsigned char *px;
  int w, h;
  CLM_TRY(clm_chart_render(ch, &px, &w, &h));
  int ok = stbi_write_png(path, w, h, 3, px, w * 3);
  free(px);
  if (!ok) CLM_FAIL(CLM_ERR_IO, "cannot write the chart to %s", path);
  return CLM_OK;
}
