/* Turning network outputs into pictures: colour-coded classes (a palette for any number of
 * classes, CityScapes colours for its label sets), colour-mapped inverse depth and other values, instances recovered from the centroid votes of "thing" pixels (Kendall et al.), and
 * side-by-side panels. Host-side, on downloaded (C, H, W) planar arrays; RGB out is 8-bit
 * interleaved (H, W, 3). */
#ifndef CLMTL_INFER_H
#define CLMTL_INFER_H

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
 * unassigned pixels, 1..n for instances. Returns n (≥ 0) or a negative status. */
CLMTL_API int clm_cluster_instances(const uint8_t *classes, const float *offsets, int height, int width,
                          const clm_cluster_options *opt, int32_t *ids);

/* Distinct colours per instance id (0: black). */
CLMTL_API void clm_colorize_instances(const int32_t *ids, int height, int width, uint8_t *rgb);

/* Planar float RGB in [0, 1] (3, H, W) to interleaved 8-bit. */
CLMTL_API void clm_image_to_rgb(const float *image, int height, int width, uint8_t *rgb);

/* Side by side: count images of H × W × 3 into one of H × (count·W) × 3. */
CLMTL_API void clm_panel(const uint8_t *const *images, int count, int height, int width, uint8_t *out);

#ifdef __cplusplus
}
#endif

#endif
