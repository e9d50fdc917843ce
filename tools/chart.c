/* Bar charts for benchmark reports (chart.h): horizontal bars drawn into an 8-bit RGB buffer,
 * text in a built-in 5×7 bitmap font with descenders, written as PNG with the library's
 * clm_png_write8. Knows nothing about benchmarks: the caller passes labels and values. Part
 * of the command-line program, not of the library. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chart.h"

static char chart_error[1024];

const char *cli_chart_error(void) { return chart_error; }

/* Keeps the message for cli_chart_error and returns st. */
static clm_status fail(clm_status st, const char *msg) {
  snprintf(chart_error, sizeof chart_error, "%s", msg);
  return st;
}

/* ---- font ----------------------------------------------------------------------------------- */

/* 5×7 glyphs of printable ASCII, plus two rows below the baseline for descenders (g, j, p,
 * q, y, comma, semicolon): one byte per row, top row first, bit 4 the leftmost pixel.
 * Characters not in the table draw as a hollow box. */
#define GLYPH_ROWS 9
typedef struct glyph {
  char ch;
  unsigned char rows[GLYPH_ROWS];
} glyph;

static const glyph font[] = {
    {' ', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
    {'0', {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e, 0x00, 0x00}},
    {'1', {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}},
    {'2', {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f, 0x00, 0x00}},
    {'3', {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e, 0x00, 0x00}},
    {'4', {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02, 0x00, 0x00}},
    {'5', {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e, 0x00, 0x00}},
    {'6', {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e, 0x00, 0x00}},
    {'7', {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0x00, 0x00}},
    {'8', {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e, 0x00, 0x00}},
    {'9', {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c, 0x00, 0x00}},
    {'A', {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11, 0x00, 0x00}},
    {'B', {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e, 0x00, 0x00}},
    {'C', {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e, 0x00, 0x00}},
    {'D', {0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c, 0x00, 0x00}},
    {'E', {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f, 0x00, 0x00}},
    {'F', {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10, 0x00, 0x00}},
    {'G', {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f, 0x00, 0x00}},
    {'H', {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11, 0x00, 0x00}},
    {'I', {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}},
    {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c, 0x00, 0x00}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11, 0x00, 0x00}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f, 0x00, 0x00}},
    {'M', {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11, 0x00, 0x00}},
    {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x00, 0x00}},
    {'O', {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00}},
    {'P', {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10, 0x00, 0x00}},
    {'Q', {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d, 0x00, 0x00}},
    {'R', {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11, 0x00, 0x00}},
    {'S', {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e, 0x00, 0x00}},
    {'T', {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00, 0x00}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a, 0x00, 0x00}},
    {'X', {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11, 0x00, 0x00}},
    {'Y', {0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00}},
    {'Z', {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f, 0x00, 0x00}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c, 0x00, 0x00}},
    {',', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c, 0x04, 0x08}},
    {':', {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00, 0x00, 0x00}},
    {';', {0x00, 0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x04, 0x08}},
    {'-', {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00}},
    {'_', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00, 0x00, 0x00}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02, 0x00, 0x00}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08, 0x00, 0x00}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03, 0x00, 0x00}},
    {'+', {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00, 0x00, 0x00}},
    {'=', {0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00}},
    {'#', {0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a, 0x00, 0x00}},
    {'*', {0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00, 0x00, 0x00}},
    {'[', {0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e, 0x00, 0x00}},
    {']', {0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e, 0x00, 0x00}},
    {'<', {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02, 0x00, 0x00}},
    {'>', {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08, 0x00, 0x00}},
    {'\'', {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
    {'"', {0x0a, 0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
    {'!', {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04, 0x00, 0x00}},
    {'?', {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00, 0x00}},
    {'|', {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00}},
    {'a', {0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f, 0x00, 0x00}},
    {'b', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e, 0x00, 0x00}},
    {'c', {0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e, 0x00, 0x00}},
    {'d', {0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f, 0x00, 0x00}},
    {'e', {0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e, 0x00, 0x00}},
    {'f', {0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08, 0x00, 0x00}},
    {'g', {0x00, 0x00, 0x0f, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e}},
    {'h', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00}},
    {'i', {0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}},
    {'j', {0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c}},
    {'k', {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00, 0x00}},
    {'l', {0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}},
    {'m', {0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11, 0x00, 0x00}},
    {'n', {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00}},
    {'o', {0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00}},
    {'p', {0x00, 0x00, 0x1e, 0x11, 0x11, 0x11, 0x1e, 0x10, 0x10}},
    {'q', {0x00, 0x00, 0x0f, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x01}},
    {'r', {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10, 0x00, 0x00}},
    {'s', {0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e, 0x00, 0x00}},
    {'t', {0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06, 0x00, 0x00}},
    {'u', {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d, 0x00, 0x00}},
    {'v', {0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00, 0x00}},
    {'w', {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a, 0x00, 0x00}},
    {'x', {0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x00, 0x00}},
    {'y', {0x00, 0x00, 0x11, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e}},
    {'z', {0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f, 0x00, 0x00}},
};

static const unsigned char box[GLYPH_ROWS] = {0x1f, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1f, 0, 0};

static const unsigned char *glyph_rows(char ch) {
  for (size_t i = 0; i < sizeof font / sizeof font[0]; i++)
    if (font[i].ch == ch) return font[i].rows;
  return box;
}

/* ---- drawing -------------------------------------------------------------------------------- */

#define SCALE 2              /* font pixels are SCALE×SCALE image pixels */
#define CHAR_W (6 * SCALE)   /* glyph plus one column of spacing */
#define CHAR_H (GLYPH_ROWS * SCALE)
#define MARGIN 16
#define BAR_H 16
#define BAR_GAP 3
#define ROW_GAP 10
#define BAR_AREA 480         /* pixels of the longest bar */
#define LABEL_MAX 56         /* label characters shown; longer labels are cut */
#define VALUE_CHARS 18       /* room for "123456.0 img/s" after a bar */

typedef struct canvas {
  unsigned char *px;
  int w, h;
} canvas;

typedef struct rgb {
  unsigned char r, g, b;
} rgb;

static const rgb WHITE = {255, 255, 255}, INK = {33, 33, 33}, GRID = {210, 210, 210}, LABEL_GREY = {120, 120, 120};
static const rgb PALETTE[CLI_CHART_MAX_SERIES] = {
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
    for (int r = 0; r < GLYPH_ROWS; r++)
      for (int b = 0; b < 5; b++)
        if (rows[r] & (0x10 >> b))
          fill_rect(c, x + k * CHAR_W + b * SCALE, y + r * SCALE, SCALE, SCALE, col);
  }
}

static void format_value(char *buf, size_t size, double v, const char *unit) {
  const char *fmt = v >= 100 ? "%.0f%s%s" : v >= 10 ? "%.1f%s%s" : "%.2f%s%s";
  snprintf(buf, size, fmt, v, unit && *unit ? " " : "", unit ? unit : "");
}

clm_status cli_chart_render(const cli_chart *ch, unsigned char **rgb_out, int *width, int *height) {
  *rgb_out = NULL;
  if (ch->nseries < 1 || ch->nseries > CLI_CHART_MAX_SERIES || ch->nrows < 1 || !ch->labels ||
      !ch->values)
    return fail(CLM_ERR_INVALID_ARG, "chart needs 1..4 series and at least one row");
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
  if (!c.px) return fail(CLM_ERR_HOST_MEMORY, "out of host memory");
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
      fill_rect(&c, x, y, 7 * SCALE, 7 * SCALE, PALETTE[s]);
      draw_text(&c, x + 7 * SCALE + 6, y, name, LABEL_MAX, INK);
      x += 7 * SCALE + 6 + (int)(strlen(name) < LABEL_MAX ? strlen(name) : LABEL_MAX) * CHAR_W + 24;
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

/* Writes a rendered image (render's status st) to path and frees it. */
static clm_status write_rendered(clm_status st, unsigned char *px, int w, int h, const char *path) {
  if (st != CLM_OK) return st;
  st = clm_png_write8(path, h, w, 3, px);
  free(px);
  return st != CLM_OK ? fail(st, clm_last_error()) : CLM_OK;
}

clm_status cli_chart_write_png(const cli_chart *ch, const char *path) {
  unsigned char *px = NULL;
  int w = 0, h = 0;
  clm_status st = cli_chart_render(ch, &px, &w, &h); /* before px, w, h are read */
  return write_rendered(st, px, w, h, path);
}

/* ---- scatter plots -------------------------------------------------------------------------- */

#define PANEL_W 540
#define PANEL_H 380
#define PLOT_L 96            /* room left of the plot area for the tick labels */
#define PLOT_B 56            /* room below it for tick labels and the axis label */

static void ring(canvas *c, int cx, int cy, int r, rgb col) {
  for (int dy = -r - 1; dy <= r + 1; dy++)
    for (int dx = -r - 1; dx <= r + 1; dx++) {
      double d = sqrt((double)(dx * dx + dy * dy));
      if (d >= r - 1 && d <= r + 1) fill_rect(c, cx + dx, cy + dy, 1, 1, col);
    }
}

static void marker(canvas *c, int cx, int cy, int kind, rgb col) {
  if (kind == CLI_POINT_FIXED) {
    fill_rect(c, cx - 4, cy - 4, 9, 9, col);
    return;
  }
  for (int dy = -6; dy <= 6; dy++) {
    int half = 6 - (dy < 0 ? -dy : dy);
    fill_rect(c, cx - half, cy + dy, 2 * half + 1, 1, col);
  }
}

/* Enough decimals to tell ticks a quarter of span apart. */
static void tick_text(char *buf, size_t size, double v, double span) {
  int d = span > 0 ? (int)ceil(-log10(span / 4)) + 1 : 3;
  snprintf(buf, size, "%.*f", d < 0 ? 0 : d > 6 ? 6 : d, v);
}

static void draw_panel(canvas *c, int ox, int oy, const cli_scatter_panel *p) {
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (int i = 0; i < p->npoints; i++) {
    if (!isfinite(p->x[i]) || !isfinite(p->y[i])) continue;
    x0 = fmin(x0, p->x[i]), x1 = fmax(x1, p->x[i]), y0 = fmin(y0, p->y[i]), y1 = fmax(y1, p->y[i]);
  }
  if (!(x0 <= x1)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  double px = (x1 - x0) * 0.08 + 1e-9 + fabs(x1) * 1e-6, py = (y1 - y0) * 0.08 + 1e-9 + fabs(y1) * 1e-6;
  x0 -= px, x1 += px, y0 -= py, y1 += py;
  int ax = ox + PLOT_L, ay = oy + 10, aw = PANEL_W - PLOT_L - 16, ah = PANEL_H - PLOT_B - 20;
  fill_rect(c, ax, ay, aw, 1, GRID);
  fill_rect(c, ax, ay + ah, aw, 1, INK);
  fill_rect(c, ax, ay, 1, ah, INK);
  fill_rect(c, ax + aw, ay, 1, ah, GRID);
  char buf[32];
  for (int k = 0; k <= 4; k++) {
    double vx = x0 + (x1 - x0) * k / 4, vy = y0 + (y1 - y0) * k / 4;
    int tx = ax + aw * k / 4, ty = ay + ah - ah * k / 4;
    fill_rect(c, tx, ay + ah, 1, 5, INK);
    fill_rect(c, ax - 5, ty, 5, 1, INK);
    if (k > 0 && k < 4) fill_rect(c, tx, ay, 1, ah, GRID), fill_rect(c, ax + 1, ty, aw - 1, 1, GRID);
    tick_text(buf, sizeof buf, vx, x1 - x0);
    draw_text(c, tx - (int)strlen(buf) * CHAR_W / 2, ay + ah + 8, buf, 10, INK);
    tick_text(buf, sizeof buf, vy, y1 - y0);
    int len = (int)strlen(buf) > 7 ? 7 : (int)strlen(buf);
    draw_text(c, ax - 8 - len * CHAR_W, ty - CHAR_H / 2 + 2, buf, 7, INK);
  }
  draw_text(c, ax, ay + ah + 12 + CHAR_H, p->xlabel ? p->xlabel : "", (PANEL_W - PLOT_L) / CHAR_W, INK);
  /* the y label above the plot area's left edge */
  draw_text(c, ox + 4, oy + PANEL_H - 18, "y:", 2, INK);
  draw_text(c, ox + 4 + 3 * CHAR_W, oy + PANEL_H - 18, p->ylabel ? p->ylabel : "", (PANEL_W - 40) / CHAR_W, INK);
  int boxes[64][4], nboxes = 0; /* labels drawn: x0, y0, x1, y1 */
  for (int pass = 0; pass < 2; pass++) /* fixed-weight points first, methods on top */
    for (int i = 0; i < p->npoints; i++) {
      int kind = p->kind ? p->kind[i] : CLI_POINT_FIXED;
      if ((kind == CLI_POINT_METHOD) != pass || !isfinite(p->x[i]) || !isfinite(p->y[i])) continue;
      int cx = ax + (int)lround((p->x[i] - x0) / (x1 - x0) * aw);
      int cy = ay + ah - (int)lround((p->y[i] - y0) / (y1 - y0) * ah);
      marker(c, cx, cy, kind, PALETTE[kind == CLI_POINT_METHOD ? 1 : 0]);
      if (p->ringed && p->ringed[i]) ring(c, cx, cy, 10, INK);
      if (p->labels && p->labels[i]) {
        int len = (int)strlen(p->labels[i]) > 24 ? 24 : (int)strlen(p->labels[i]), lw = len * CHAR_W;
        /* the first place beside the point that no earlier label covers: right, left, then
         * a line above or below either */
        static const int dy[] = {0, 0, -1, -1, 1, 1, -2, -2, 2, 2};
        int tx = cx + 12, ty = cy - CHAR_H / 2;
        for (int k = 0; k < 10; k++) {
          int x = k % 2 == 0 ? cx + 12 : cx - 12 - lw, y = cy - CHAR_H / 2 + dy[k] * (CHAR_H + 2);
          if (x < ox || x + lw > ox + PANEL_W) continue;
          int free_ = 1;
          for (int b = 0; b < nboxes && free_; b++)
            free_ = x + lw <= boxes[b][0] || x >= boxes[b][2] || y + CHAR_H <= boxes[b][1] || y >= boxes[b][3];
          if (free_) {
            tx = x, ty = y;
            break;
          }
        }
        if (nboxes < 64) boxes[nboxes][0] = tx, boxes[nboxes][1] = ty, boxes[nboxes][2] = tx + lw,
                         boxes[nboxes][3] = ty + CHAR_H, nboxes++;
        draw_text(c, tx, ty, p->labels[i], len, kind == CLI_POINT_METHOD ? INK : LABEL_GREY);
      }
    }
}

clm_status cli_scatter_render(const cli_scatter *sc, unsigned char **rgb_out, int *width, int *height) {
  *rgb_out = NULL;
  if (sc->npanels < 1 || sc->npanels > 6 || !sc->panels) return fail(CLM_ERR_INVALID_ARG, "scatter needs 1..6 panels");
  int title_h = sc->title ? CHAR_H + 14 : 0;
  int w = MARGIN * 2 + sc->npanels * PANEL_W, h = MARGIN * 2 + title_h + PANEL_H;
  canvas c = {malloc((size_t)w * h * 3), w, h};
  if (!c.px) return fail(CLM_ERR_HOST_MEMORY, "out of host memory");
  fill_rect(&c, 0, 0, w, h, WHITE);
  if (sc->title) draw_text(&c, MARGIN, MARGIN, sc->title, (w - 2 * MARGIN) / CHAR_W, INK);
  for (int k = 0; k < sc->npanels; k++) draw_panel(&c, MARGIN + k * PANEL_W, MARGIN + title_h, &sc->panels[k]);
  *rgb_out = c.px;
  *width = w;
  *height = h;
  return CLM_OK;
}

clm_status cli_scatter_write_png(const cli_scatter *sc, const char *path) {
  unsigned char *px = NULL;
  int w = 0, h = 0;
  clm_status st = cli_scatter_render(sc, &px, &w, &h); /* before px, w, h are read */
  return write_rendered(st, px, w, h, path);
}
