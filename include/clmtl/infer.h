/* Inference on the host, around a network's forward pass: images of any size read (PNG, JPEG)
 * and fitted to the network's resolution (letterbox, stretch, or overlapping tiles blended),
 * predictions resized back to the image's; network outputs turned into pictures (colour-coded
 * classes with a palette for any number of classes and CityScapes colours for its label sets,
 * colour-mapped inverse depth and other values, instances recovered from the centroid votes of
 * "thing" pixels (Kendall et al.), side-by-side panels, a small bitmap font for captions) and
 * into files other tools read (CityScapes instanceIds and disparity encodings, NumPy .npy,
 * 16-bit PNG). Host-side, on downloaded (C, H, W) planar arrays; RGB is 8-bit interleaved
 * (H, W, 3). Colour maps and clustering: src/infer/postprocess.c; the rest: src/infer/. */
#ifndef CLMTL_INFER_H
#define CLMTL_INFER_H

#include <stddef.h>
#include <stdint.h>
#include "clmtl/status.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-pixel argmax over K class planes of logits (K, H, W) into classes (H, W). */
CLMTL_API void clm_argmax_classes(const float *logits, int classes, int height, int width, uint8_t *out);

/* CityScapes category colours for the 7 classes (ignore and unknown: black). */
CLMTL_API void clm_colorize_semantic(const uint8_t *classes, int height, int width, uint8_t *rgb);

/* Colours for `classes` classes into palette (classes × 3): the CityScapes colours when the
 * label set is "categories" with 7 classes or "trainids" with 19, else `classes` distinct
 * colours (golden-angle hues, any duplicate moved). label_set may be NULL or "". */
CLMTL_API void clm_class_palette(const char *label_set, int classes, uint8_t *palette);

/* Classes (H, W) coloured with palette (classes × 3); classes outside it black. */
CLMTL_API void clm_colorize_classes(const uint8_t *classes, int height, int width, const uint8_t *palette,
                          int nclasses, uint8_t *rgb);

/* Bit c set for each class of the label set that has instances: human and vehicle for
 * "categories", person .. bicycle for "trainids"; 0 for others. */
CLMTL_API uint32_t clm_thing_classes(const char *label_set);

/* Inverse depth in [0, max] mapped through a perceptual colour map (near = bright); max <= 0
 * uses the 99th percentile of the image. */
CLMTL_API void clm_colorize_depth(const float *disparity, int height, int width, float max, uint8_t *rgb);

typedef struct clm_cluster_options {
  uint32_t thing_classes; /* bit c set: class c has instances (default: human, vehicle) */
  int cell;               /* vote accumulator cell size in pixels (default 4) */
  int min_votes;          /* votes a centre needs (default 20) */
  float radius;           /* a pixel joins the nearest centre within this many pixels (16) */
} clm_cluster_options;

CLMTL_API clm_cluster_options clm_cluster_defaults(void);

/* Instances from centroid votes: every thing pixel votes at its position plus its predicted
 * offset (dy, dx) (offsets (2, H, W)); peaks of the vote histogram (cells with at least
 * min_votes that are local maxima) become centres, and each thing pixel takes the nearest
 * centre of its own class that its vote lands within radius of. ids (H, W): 0 for stuff and
 * unassigned pixels, 1..n for instances; n into *count. */
CLMTL_API clm_status clm_cluster_instances(const uint8_t *classes, const float *offsets, int height,
                                           int width, const clm_cluster_options *opt, int32_t *ids,
                                           int *count);

/* Distinct colours per instance id (0: black). */
CLMTL_API void clm_colorize_instances(const int32_t *ids, int height, int width, uint8_t *rgb);

/* Planar float RGB in [0, 1] (3, H, W) to interleaved 8-bit. */
CLMTL_API void clm_image_to_rgb(const float *image, int height, int width, uint8_t *rgb);

/* Side by side: count images of H × W × 3 into one of H × (count·W) × 3. */
CLMTL_API void clm_panel(const uint8_t *const *images, int count, int height, int width, uint8_t *out);

/* Inverse depth (or any values) in [lo, hi] mapped through the colour map of
 * clm_colorize_depth (lo: darkest, hi: brightest; outside: clamped; not finite: as lo). */
CLMTL_API void clm_colorize_values(const float *values, size_t count, float lo, float hi, uint8_t *rgb);
/* The colour of t in [0, 1] on that map (rgb: 3 bytes). */
CLMTL_API void clm_colormap(float t, uint8_t *rgb);
/* The scale clm_colorize_depth picks for max <= 0: the 99th percentile of the finite values
 * (1 when there are none or it is not positive). */
CLMTL_API float clm_depth_auto_max(const float *disparity, size_t count);

/* ---- images in, predictions out at the image's resolution (src/infer/geometry.c) ---------- */

typedef enum clm_fit {
  CLM_FIT_LETTERBOX = 0, /* scaled to fit inside the network input, aspect ratio kept, centred;
                            the border is padding */
  CLM_FIT_STRETCH = 1,   /* scaled to the network input in each direction independently */
  CLM_FIT_TILE = 2       /* scaled uniformly to cover the network input (clm_tile_canvas), run
                            on overlapping network-sized windows, blended (src/infer/tile.c) */
} clm_fit;

/* A rectangle of an image: rows [y, y + height), columns [x, x + width). */
typedef struct clm_box {
  int y, x, height, width;
} clm_box;

/* Where an image of src_h × src_w lies inside a network input of net_h × net_w. Letterbox:
 * scale s = min(net_h / src_h, net_w / src_w), size round(src · s) (at least 1), offset
 * floor((net − size) / 2). Stretch: the whole input. */
CLMTL_API clm_box clm_fit_box(int src_h, int src_w, int net_h, int net_w, clm_fit fit);

/* Bilinear resampling of planar (C, sh, sw) floats: the region `from` of src (NULL: all of
 * it) onto the region `to` of dst (C, dh, dw) (NULL: all of it); dst outside `to` is left as
 * it was. Pixel centres at +0.5 (align_corners=False, as PyTorch's interpolate and OpenCV's
 * resize), source coordinates clamped to the region's edge pixels. */
CLMTL_API void clm_resize_bilinear(const float *src, int channels, int sh, int sw, const clm_box *from,
                                   float *dst, int dh, int dw, const clm_box *to);
/* The same geometry, nearest neighbour (source index floor((d + 0.5) · from / to), clamped),
 * for elements of elem_size bytes (labels: 1, instance ids: 4). */
CLMTL_API void clm_resize_nearest(const void *src, size_t elem_size, int channels, int sh, int sw,
                                  const clm_box *from, void *dst, int dh, int dw, const clm_box *to);

/* ---- tiling (src/infer/tile.c) ------------------------------------------------------------ */

/* The canvas an image of src_h × src_w is tiled on: scaled uniformly by
 * s = max(net_h / src_h, net_w / src_w), so one side equals the network's and the other covers
 * it; size round(src · s), at least the network's. *scale (may be NULL) receives s.
 * CLM_ERR_INVALID_ARG for sizes < 1 or a canvas over CLM_IMAGE_MAX_PIXELS. */
CLMTL_API clm_status clm_tile_canvas(int src_h, int src_w, int net_h, int net_w, int *height, int *width,
                                     double *scale);
/* The least overlap of two neighbouring windows of `window` pixels: ceil(window / 4), at most
 * window − 1 (0 for a window of 1). */
CLMTL_API int clm_tile_overlap(int window);
/* Window starts along a side of `length` ≥ window: the fewest windows whose neighbours overlap
 * by at least clm_tile_overlap(window), n = 1 + ceil((length − window) / (window − overlap))
 * (1 when length == window), start_i = floor(i · (length − window) / (n − 1)): the first at 0,
 * the last at length − window. n into *count; starts NULL: only the count. CLM_ERR_INVALID_ARG
 * for window < 1, length < window, n > max_starts. */
CLMTL_API clm_status clm_tile_layout(int length, int window, int *starts, int max_starts, int *count);
/* The blend weight of position i (0 ≤ i < window) in a window along one side: the tent
 * min(i + 1, window − i), highest in the middle, 1 at both edges; a pixel's weight in a window
 * is the product of its row's and its column's. */
CLMTL_API double clm_tile_weight(int i, int window);
/* Adds one window's prediction pred (C, win_h, win_w), placed at (y0, x0) of the canvas:
 * acc (C, height, width) += weight · pred and wsum (height, width) += weight (both start at 0,
 * accumulate over windows). */
CLMTL_API void clm_tile_accumulate(const float *pred, int channels, int win_h, int win_w, int y0, int x0,
                                   double *acc, double *wsum, int height, int width);
/* out (C, height, width) = acc / wsum: the weighted mean over the windows covering each pixel
 * (0 where none does). */
CLMTL_API void clm_tile_finish(const double *acc, const double *wsum, int channels, int height, int width,
                               float *out);

/* Reads a PNG or JPEG file (told by its first bytes) as 8-bit RGB (grey, grey + alpha and
 * RGBA converted; alpha dropped). PNGs pass clm_png_check first; a JPEG's frame header is
 * read first and refused when a side exceeds CLM_IMAGE_MAX_SIDE or the image
 * CLM_IMAGE_MAX_PIXELS. *rgb is malloc'd (h × w × 3), freed by the caller. */
#define CLM_IMAGE_MAX_SIDE 16384
#define CLM_IMAGE_MAX_PIXELS (64L * 1024 * 1024)
CLMTL_API clm_status clm_image_read(const char *path, uint8_t **rgb, int *height, int *width);

/* ---- files other tools read (src/infer/encode.c) ------------------------------------------- */

/* CityScapes disparity PNG values: round(d · 256) + 1 (at most 65535) where d > 0 and finite,
 * else 0 (invalid). */
CLMTL_API void clm_disparity_encode(const float *disparity, size_t count, uint16_t *out);

/* One instance of an instanceIds image. */
typedef struct clm_instance_info {
  int id;               /* its value in the instanceIds image: class · 1000 + index */
  int cls;              /* class id */
  long pixels;
  int x0, y0, x1, y1;   /* bounding box, inclusive */
  double cy, cx;        /* centroid (mean pixel row and column) */
} clm_instance_info;

/* CityScapes instanceIds (H, W) from classes (H, W) and instance numbers (H, W; 0: none, else
 * 1..n from clm_cluster_instances): class · 1000 + k on pixels of an instance (k counts the
 * instances of that class from 0, in order of instance number), the class id elsewhere (stuff,
 * and thing pixels no instance took). Classes ≥ 65 hold no instances (65·1000 > 65535).
 * info (max_info entries, may be NULL) receives the instances in order of their number.
 * The number of instances into *count; CLM_ERR_INVALID_ARG with a message when a class has
 * more than 1000 or an instance spans two classes. */
CLMTL_API clm_status clm_instance_ids(const uint8_t *classes, const int32_t *instances, int height,
                                      int width, uint16_t *out, clm_instance_info *info, int max_info,
                                      int *count);

/* Writes values (C, H, W) float32 as a NumPy .npy file (format 1.0, '<f4', C order). */
CLMTL_API clm_status clm_npy_write(const char *path, int channels, int height, int width,
                                   const float *values);
/* Writes px (H × W × channels, 8 bits, rows top to bottom) as a PNG: 1 grey, 3 RGB, 4 RGBA. */
CLMTL_API clm_status clm_png_write8(const char *path, int height, int width, int channels,
                                    const uint8_t *px);
/* Writes px (H × W) as a 16-bit greyscale PNG. */
CLMTL_API clm_status clm_png_write_gray16(const char *path, int height, int width, const uint16_t *px);

/* ---- captions (src/infer/font.c) -------------------------------------------------------- */

/* Width in pixels of text in the built-in 5×7 font at `scale` (6·scale per character; the line
 * is 8·scale high). */
CLMTL_API int clm_text_width(const char *text, int scale);
/* Draws text (printable ASCII; others as '?') into rgb (H × W × 3) with its top-left corner
 * at (x, y), clipped to the image. */
CLMTL_API void clm_text_draw(uint8_t *rgb, int height, int width, int x, int y, const char *text,
                             int scale, const uint8_t color[3]);

#ifdef __cplusplus
}
#endif

#endif
