/* Fitting an image of any size to the network's input and the predictions back (infer.h):
 * letterbox / stretch boxes and region-to-region resampling, bilinear for images and values,
 * nearest for labels and instance ids. Plain host code. */
#include <math.h>
#include <string.h>
#include "clmtl/infer.h"

clm_box clm_fit_box(int src_h, int src_w, int net_h, int net_w, clm_fit fit) {
  clm_box b = {0, 0, net_h, net_w};
  if (fit == CLM_FIT_STRETCH || src_h < 1 || src_w < 1) return b;
  double s = fmin((double)net_h / src_h, (double)net_w / src_w);
  b.height = (int)lround(src_h * s);
  b.width = (int)lround(src_w * s);
  b.height = b.height < 1 ? 1 : b.height > net_h ? net_h : b.height;
  b.width = b.width < 1 ? 1 : b.width > net_w ? net_w : b.width;
  b.y = (net_h - b.height) / 2;
  b.x = (net_w - b.width) / 2;
  return b;
}

/* The source coordinate of destination index d (pixel centres at +0.5), inside the region. */
static double src_coord(int d, int to_off, int to_len, int from_off, int from_len) {
  return ((double)(d - to_off) + 0.5) * (double)from_len / (double)to_len - 0.5 + from_off;
}

void clm_resize_bilinear(const float *src, int channels, int sh, int sw, const clm_box *from,
                         float *dst, int dh, int dw, const clm_box *to) {
  clm_box f = from ? *from : (clm_box){0, 0, sh, sw}, t = to ? *to : (clm_box){0, 0, dh, dw};
  size_t shw = (size_t)sh * sw, dhw = (size_t)dh * dw;
  for (int y = t.y; y < t.y + t.height; y++) {
    double fy = src_coord(y, t.y, t.height, f.y, f.height);
    fy = fy < f.y ? f.y : fy > f.y + f.height - 1 ? f.y + f.height - 1 : fy;
    int y0 = (int)fy, y1 = y0 + 1 < f.y + f.height ? y0 + 1 : y0;
    double ay = fy - y0;
    for (int x = t.x; x < t.x + t.width; x++) {
      double fx = src_coord(x, t.x, t.width, f.x, f.width);
      fx = fx < f.x ? f.x : fx > f.x + f.width - 1 ? f.x + f.width - 1 : fx;
      int x0 = (int)fx, x1 = x0 + 1 < f.x + f.width ? x0 + 1 : x0;
      double ax = fx - x0;
      for (int c = 0; c < channels; c++) {
        const float *p = src + (size_t)c * shw;
        double v = (1 - ay) * ((1 - ax) * p[(size_t)y0 * sw + x0] + ax * p[(size_t)y0 * sw + x1]) +
                   ay * ((1 - ax) * p[(size_t)y1 * sw + x0] + ax * p[(size_t)y1 * sw + x1]);
        dst[(size_t)c * dhw + (size_t)y * dw + x] = (float)v;
      }
    }
  }
}

/* floor((d − to_off + 0.5) · from_len / to_len) + from_off, clamped to the region */
static int nearest_index(int d, int to_off, int to_len, int from_off, int from_len) {
  int i = (int)floor(((double)(d - to_off) + 0.5) * (double)from_len / (double)to_len);
  i = i < 0 ? 0 : i >= from_len ? from_len - 1 : i;
  return from_off + i;
}

void clm_resize_nearest(const void *src, size_t elem_size, int channels, int sh, int sw,
                        const clm_box *from, void *dst, int dh, int dw, const clm_box *to) {
  clm_box f = from ? *from : (clm_box){0, 0, sh, sw}, t = to ? *to : (clm_box){0, 0, dh, dw};
  size_t shw = (size_t)sh * sw, dhw = (size_t)dh * dw;
  const unsigned char *s = src;
  unsigned char *d = dst;
  for (int y = t.y; y < t.y + t.height; y++) {
    int sy = nearest_index(y, t.y, t.height, f.y, f.height);
    for (int x = t.x; x < t.x + t.width; x++) {
      int sx = nearest_index(x, t.x, t.width, f.x, f.width);
      for (int c = 0; c < channels; c++)
        memcpy(d + ((size_t)c * dhw + (size_t)y * dw + x) * elem_size,
               s + ((size_t)c * shw + (size_t)sy * sw + sx) * elem_size, elem_size);
    }
  }
}
