/* `--fit tile` (infer.h): the image scaled uniformly so that it covers the network input with
 * one side equal to the network's, the canvas covered by network-sized windows that overlap by
 * at least a quarter of a window (the first at the canvas's origin, the last at its far
 * border), and the windows' predictions blended into one canvas-sized prediction by a mean
 * weighted with a tent that falls toward each window's edges. Plain host code; the forward
 * passes themselves are the caller's (tools/cmd_infer.c). */
#include <math.h>
#include <string.h>
#include "clmtl/infer.h"
#include "runtime/runtime-impl.h"

clm_status clm_tile_canvas(int src_h, int src_w, int net_h, int net_w, int *height, int *width, double *scale) {
  if (src_h < 1 || src_w < 1 || net_h < 1 || net_w < 1)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "tile: image %d x %d, network %d x %d: sizes must be positive", src_h, src_w,
             net_h, net_w);
  double s = fmax((double)net_h / src_h, (double)net_w / src_w);
  long h = lround(src_h * s), w = lround(src_w * s);
  h = h < net_h ? net_h : h;
  w = w < net_w ? net_w : w;
  if ((double)h * (double)w > (double)CLM_IMAGE_MAX_PIXELS)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "tile: image %d x %d scaled by %.4g to cover the network's %d x %d is %ld x %ld, "
             "more than %ld pixels", src_h, src_w, s, net_h, net_w, h, w, (long)CLM_IMAGE_MAX_PIXELS);
  *height = (int)h;
  *width = (int)w;
  if (scale) *scale = s;
  return CLM_OK;
}

int clm_tile_overlap(int window) { return window < 2 ? 0 : (window + 3) / 4 < window - 1 ? (window + 3) / 4 : window - 1; }

clm_status clm_tile_layout(int length, int window, int *starts, int max_starts, int *count) {
  *count = 0;
  if (window < 1 || length < window)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "tile: a window of %d does not fit a side of %d", window, length);
  int n = 1;
  if (length > window) {
    int step = window - clm_tile_overlap(window);
    n = 1 + (length - window + step - 1) / step;
  }
  if (starts && n > max_starts)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "tile: %d windows of %d along %d, room for %d", n, window, length, max_starts);
  /* evenly spread: start_i = floor(i (length - window) / (n - 1)), so steps differ by at most 1
   * and none exceeds window - overlap */
  for (int i = 0; starts && i < n; i++) starts[i] = n == 1 ? 0 : (int)((long)i * (length - window) / (n - 1));
  *count = n;
  return CLM_OK;
}

double clm_tile_weight(int i, int window) {
  int a = i + 1, b = window - i;
  return (double)(a < b ? a : b);
}

void clm_tile_accumulate(const float *pred, int channels, int win_h, int win_w, int y0, int x0, double *acc,
                         double *wsum, int height, int width) {
  size_t hw = (size_t)height * width, whw = (size_t)win_h * win_w;
  for (int y = 0; y < win_h; y++) {
    double wy = clm_tile_weight(y, win_h);
    for (int x = 0; x < win_w; x++) {
      double wt = wy * clm_tile_weight(x, win_w);
      size_t o = (size_t)(y0 + y) * width + (size_t)(x0 + x), i = (size_t)y * win_w + x;
      wsum[o] += wt;
      for (int c = 0; c < channels; c++) acc[(size_t)c * hw + o] += wt * pred[(size_t)c * whw + i];
    }
  }
}

void clm_tile_finish(const double *acc, const double *wsum, int channels, int height, int width, float *out) {
  size_t hw = (size_t)height * width;
  for (int c = 0; c < channels; c++)
    for (size_t i = 0; i < hw; i++) out[(size_t)c * hw + i] = wsum[i] > 0 ? (float)(acc[(size_t)c * hw + i] / wsum[i]) : 0.0f;
}
