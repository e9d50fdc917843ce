/* Pictures from network outputs (infer.h): colour maps, instance clustering by centroid
 * votes, panels. Plain host code; the rest of inference post-processing (image reading,
 * resizing, output files, captions) lives beside it in src/infer/. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/data.h"
#include "clmtl/infer.h"
#include "runtime/runtime-impl.h"

void clm_argmax_classes(const float *logits, int classes, int height, int width, uint8_t *out) {
  size_t hw = (size_t)height * width;
  for (size_t i = 0; i < hw; i++) {
    int best = 0;
    for (int c = 1; c < classes; c++)
      if (logits[c * hw + i] > logits[best * hw + i]) best = c;
    out[i] = (uint8_t)best;
  }
}

/* CityScapes category colours: flat, construction, object, nature, sky, human, vehicle. */
static const uint8_t palette[CLM_SEMANTIC_CLASSES][3] = {
    {128, 64, 128}, {70, 70, 70}, {220, 220, 0}, {107, 142, 35},
    {70, 130, 180}, {220, 20, 60}, {0, 0, 142}};

void clm_colorize_semantic(const uint8_t *classes, int height, int width, uint8_t *rgb) {
  static const uint8_t black[3] = {0, 0, 0};
  size_t hw = (size_t)height * width;
  for (size_t i = 0; i < hw; i++)
    memcpy(rgb + 3 * i, classes[i] < CLM_SEMANTIC_CLASSES ? palette[classes[i]] : black, 3);
}

/* CityScapes colours of the 19 train ids. */
static const uint8_t train_palette[19][3] = {
    {128, 64, 128}, {244, 35, 232}, {70, 70, 70},   {102, 102, 156}, {190, 153, 153},
    {153, 153, 153}, {250, 170, 30}, {220, 220, 0}, {107, 142, 35},  {152, 251, 152},
    {70, 130, 180}, {220, 20, 60},  {255, 0, 0},    {0, 0, 142},     {0, 0, 70},
    {0, 60, 100},   {0, 80, 100},   {0, 0, 230},    {119, 11, 32}};

void clm_class_palette(const char *label_set, int classes, uint8_t *pal) {
  const char *set = label_set ? label_set : "";
  if (!strcmp(set, "categories") && classes == CLM_SEMANTIC_CLASSES) {
    memcpy(pal, palette, sizeof palette);
    return;
  }
  if (!strcmp(set, "trainids") && classes == 19) {
    memcpy(pal, train_palette, sizeof train_palette);
    return;
  }
  for (int i = 0; i < classes; i++) {
    /* HSV with golden-angle hues; saturation and value cycle so that near hues differ */
    float h = fmodf(0.61803399f * (float)i, 1.0f) * 6.0f, s = (i / 6) % 2 ? 0.55f : 0.9f,
          v = (i / 12) % 2 ? 0.7f : 0.95f;
    int k = (int)h;
    float f = h - (float)k, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    float rgb[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
    for (int c = 0; c < 3; c++) pal[3 * i + c] = (uint8_t)lrintf(255.0f * rgb[k % 6][c]);
    for (int j = 0; j < i; j++) /* a duplicate: nudge it until it is not */
      if (!memcmp(pal + 3 * i, pal + 3 * j, 3)) {
        pal[3 * i + (i % 3)] = (uint8_t)(pal[3 * i + (i % 3)] + 17);
        j = -1;
      }
  }
}

void clm_colorize_classes(const uint8_t *classes, int height, int width, const uint8_t *pal,
                          int nclasses, uint8_t *rgb) {
  static const uint8_t black[3] = {0, 0, 0};
  size_t hw = (size_t)height * width;
  for (size_t i = 0; i < hw; i++)
    memcpy(rgb + 3 * i, classes[i] < nclasses ? pal + 3 * classes[i] : black, 3);
}

uint32_t clm_thing_classes(const char *label_set) {
  if (label_set && !strcmp(label_set, "categories")) return (1u << CLM_CLASS_HUMAN) | (1u << CLM_CLASS_VEHICLE);
  if (label_set && !strcmp(label_set, "trainids")) return 0xffu << 11; /* person .. bicycle */
  return 0;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* A compact perceptual map (dark purple → orange → pale yellow), piecewise linear. */
void clm_colormap(float t, uint8_t *rgb) {
  static const float stops[5][3] = {
      {0.00f, 0.00f, 0.02f}, {0.32f, 0.07f, 0.43f}, {0.72f, 0.21f, 0.33f},
      {0.98f, 0.55f, 0.23f}, {0.99f, 0.99f, 0.75f}};
  t = !(t > 0) ? 0 : t > 1 ? 1 : t;
  float x = t * 4.0f;
  int k = (int)x;
  if (k > 3) k = 3;
  float f = x - (float)k;
  for (int c = 0; c < 3; c++)
    rgb[c] = (uint8_t)lrintf(255.0f * (stops[k][c] + f * (stops[k + 1][c] - stops[k][c])));
}

float clm_depth_auto_max(const float *disparity, size_t count) {
  float max = 1.0f, *tmp = malloc((count ? count : 1) * sizeof *tmp);
  if (!tmp) return max;
  size_t n = 0;
  for (size_t i = 0; i < count; i++) if (isfinite(disparity[i])) tmp[n++] = disparity[i];
  if (n) {
    qsort(tmp, n, sizeof *tmp, cmp_float);
    max = tmp[(size_t)(0.99 * (double)(n - 1))];
  }
  free(tmp);
  return max > 0 ? max : 1.0f;
}

void clm_colorize_values(const float *values, size_t count, float lo, float hi, uint8_t *rgb) {
  float span = hi > lo ? hi - lo : 1.0f;
  for (size_t i = 0; i < count; i++)
    clm_colormap(isfinite(values[i]) ? (values[i] - lo) / span : 0.0f, rgb + 3 * i);
}

void clm_colorize_depth(const float *disparity, int height, int width, float max, uint8_t *rgb) {
  size_t hw = (size_t)height * width;
  if (!(max > 0)) max = clm_depth_auto_max(disparity, hw);
  clm_colorize_values(disparity, hw, 0.0f, max, rgb);
}

clm_cluster_options clm_cluster_defaults(void) {
  clm_cluster_options o = {(1u << CLM_CLASS_HUMAN) | (1u << CLM_CLASS_VEHICLE), 4, 20, 16.0f};
  return o;
}

typedef struct { float y, x; int cls; } centre;

clm_status clm_cluster_instances(const uint8_t *classes, const float *offsets, int height, int width,
                                 const clm_cluster_options *opt, int32_t *ids, int *count) {
  *count = 0;
  clm_cluster_options o = opt ? *opt : clm_cluster_defaults();
  if (o.cell < 1) o.cell = 1;
  size_t hw = (size_t)height * width;
  int gh = (height + o.cell - 1) / o.cell, gw = (width + o.cell - 1) / o.cell;
  /* one vote histogram per thing class, so touching instances of different classes never
   * merge */
  int nclass = 0, slot[32];
  for (int c = 0; c < 32; c++) slot[c] = (o.thing_classes & (1u << c)) ? nclass++ : -1;
  int *votes = calloc((size_t)gh * gw * (nclass ? nclass : 1), sizeof *votes);
  centre *cs = NULL;
  int ncs = 0, cap = 0;
  memset(ids, 0, hw * sizeof *ids);
  if (!votes) CLM_FAIL(CLM_ERR_HOST_MEMORY, "clustering: out of host memory for the vote histograms");
  for (size_t i = 0; i < hw; i++) {
    int c = classes[i];
    if (c >= 32 || slot[c] < 0) continue;
    float vy = (float)(i / (size_t)width) + offsets[i];
    float vx = (float)(i % (size_t)width) + offsets[hw + i];
    int gy = (int)floorf(vy / (float)o.cell), gx = (int)floorf(vx / (float)o.cell);
    if (gy < 0 || gy >= gh || gx < 0 || gx >= gw) continue;
    votes[((size_t)slot[c] * gh + gy) * gw + gx]++;
  }
  for (int c = 0; c < 32; c++) {
    if (slot[c] < 0) continue;
    const int *v = votes + (size_t)slot[c] * gh * gw;
    for (int gy = 0; gy < gh; gy++)
      for (int gx = 0; gx < gw; gx++) {
        int here = v[gy * gw + gx];
        if (here < o.min_votes) continue;
        int peak = 1; /* a local maximum of the 3×3 neighbourhood; ties go to the first */
        for (int dy = -1; dy <= 1 && peak; dy++)
          for (int dx = -1; dx <= 1 && peak; dx++) {
            int y = gy + dy, x = gx + dx;
            if ((!dy && !dx) || y < 0 || y >= gh || x < 0 || x >= gw) continue;
            int u = v[y * gw + x];
            if (u > here || (u == here && (dy < 0 || (dy == 0 && dx < 0)))) peak = 0;
          }
        if (!peak) continue;
        if (ncs == cap) {
          cap = cap ? 2 * cap : 64;
          centre *grown = realloc(cs, (size_t)cap * sizeof *cs);
          if (!grown) {
            free(cs);
            free(votes);
            CLM_FAIL(CLM_ERR_HOST_MEMORY, "clustering: out of host memory for %d centres", cap);
          }
          cs = grown;
        }
        cs[ncs++] = (centre){((float)gy + 0.5f) * (float)o.cell, ((float)gx + 0.5f) * (float)o.cell, c};
      }
  }
  for (size_t i = 0; i < hw && ncs; i++) {
    int c = classes[i];
    if (c >= 32 || slot[c] < 0) continue;
    float vy = (float)(i / (size_t)width) + offsets[i];
    float vx = (float)(i % (size_t)width) + offsets[hw + i];
    float best = o.radius * o.radius;
    for (int j = 0; j < ncs; j++) {
      if (cs[j].cls != c) continue;
      float d = (vy - cs[j].y) * (vy - cs[j].y) + (vx - cs[j].x) * (vx - cs[j].x);
      if (d <= best) { best = d; ids[i] = j + 1; }
    }
  }
  /* renumber 1..n in order of first appearance, dropping centres that won no pixel */
  int *map = calloc((size_t)ncs + 1, sizeof *map), n = 0;
  if (!map) {
    free(cs);
    free(votes);
    CLM_FAIL(CLM_ERR_HOST_MEMORY, "clustering: out of host memory for %d centres", ncs);
  }
  for (size_t i = 0; i < hw; i++)
    if (ids[i]) {
      if (!map[ids[i]]) map[ids[i]] = ++n;
      ids[i] = map[ids[i]];
    }
  free(map);
  free(cs);
  free(votes);
  *count = n;
  return CLM_OK;
}

void clm_colorize_instances(const int32_t *ids, int height, int width, uint8_t *rgb) {
  size_t hw = (size_t)height * width;
  for (size_t i = 0; i < hw; i++) {
    uint32_t h = (uint32_t)ids[i] * 2654435761u;
    rgb[3 * i + 0] = ids[i] ? (uint8_t)(64 + (h >> 8) % 192) : 0;
    rgb[3 * i + 1] = ids[i] ? (uint8_t)(64 + (h >> 16) % 192) : 0;
    rgb[3 * i + 2] = ids[i] ? (uint8_t)(64 + (h >> 24) % 192) : 0;
  }
}

void clm_image_to_rgb(const float *image, int height, int width, uint8_t *rgb) {
  size_t hw = (size_t)height * width;
  for (size_t i = 0; i < hw; i++)
    for (int c = 0; c < 3; c++) {
      float v = image[c * hw + i];
      v = v < 0 ? 0 : v > 1 ? 1 : v;
      rgb[3 * i + c] = (uint8_t)lrintf(255.0f * v);
    }
}

void clm_panel(const uint8_t *const *images, int count, int height, int width, uint8_t *out) {
  size_t row = (size_t)width * 3;
  for (int y = 0; y < height; y++)
    for (int k = 0; k < count; k++)
      memcpy(out + ((size_t)y * count + k) * row, images[k] + (size_t)y * row, row);
}
