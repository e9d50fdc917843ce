/* Scenes to train on: samples of an RGB image with its semantic, instance and depth targets at
 * one resolution, from the built-in synthetic street-scene generator or a CityScapes-layout
 * directory. Host memory only; the trainer uploads batches. */
#ifndef CLMTL_DATA_H
#define CLMTL_DATA_H

#include <stddef.h>
#include <stdint.h>
#include "clmtl/status.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CityScapes categories, the 7 semantic classes: flat, construction, object, nature, sky,
 * human, vehicle (category id − 1; the "void" category is ignored). */
#define CLM_SEMANTIC_CLASSES 7
#define CLM_IGNORE_LABEL 255
enum {
  CLM_CLASS_FLAT = 0, CLM_CLASS_CONSTRUCTION, CLM_CLASS_OBJECT, CLM_CLASS_NATURE,
  CLM_CLASS_SKY, CLM_CLASS_HUMAN, CLM_CLASS_VEHICLE
};
/* Stereo baseline used to turn synthetic depth into disparity (CityScapes' is about 0.21 m). */
#define CLM_STEREO_BASELINE_M 0.22f

typedef struct clm_sample {
  int height, width;
  float *image;       /* (3, H, W) planar RGB in [0, 1] */
  float *semantic;    /* (H, W) class 0..6 (or 0..18 with train ids), CLM_IGNORE_LABEL */
  int32_t *instance;  /* (H, W) instance id, 0 where the pixel belongs to no instance */
  float *depth;       /* (H, W) inverse depth as disparity in pixels at this resolution; sky 0 */
  float *depth_valid; /* (H, W) 1 where depth is known, else 0 */
} clm_sample;

/* Allocates every array of a sample of h × w (zeroed); _free(NULL-filled) is safe. */
CLMTL_API clm_status clm_sample_alloc(clm_sample *s, int height, int width);
CLMTL_API void clm_sample_free(clm_sample *s);

/* Instance targets (Kendall et al.): for each pixel of an instance, the vector from the pixel
 * to its instance's centroid, in pixels, (dy, dx) planar into offsets (2, H, W); mask (H, W)
 * is 1 on instance pixels and 0 elsewhere (where offsets are 0). */
CLMTL_API void clm_instance_targets(const clm_sample *s, float *offsets, float *mask);

typedef enum clm_label_mode {
  CLM_LABELS_CATEGORIES = 0, /* 34 label ids -> the 7 categories */
  CLM_LABELS_TRAIN_IDS = 1   /* 34 label ids -> the 19 train ids */
} clm_label_mode;

typedef enum clm_split { CLM_SPLIT_TRAIN = 0, CLM_SPLIT_VAL = 1, CLM_SPLIT_TEST = 2 } clm_split;
CLMTL_API const char *clm_split_name(clm_split s); /* "train", "val", "test" */

/* A dataset: `count` samples of one resolution, loaded by index. Implementations: synthetic
 * (src/data/synth*.c) and CityScapes layout (src/data/cityscapes.c). Loading is safe from
 * one thread per dataset at a time. */
typedef struct clm_dataset clm_dataset;
CLMTL_API int clm_dataset_count(const clm_dataset *d);
CLMTL_API void clm_dataset_size(const clm_dataset *d, int *height, int *width);
/* Fills *out (allocated with the dataset's size) with sample `index`. */
CLMTL_API clm_status clm_dataset_load(clm_dataset *d, int index, clm_sample *out);
CLMTL_API void clm_dataset_free(clm_dataset *d);

/* ---- what a data source offers, by name ------------------------------------------------------
 * Every data source declares the arrays it can fill, by name, with their channels and kind: the
 * image ("image", 3 channels RGB in [0, 1]), "semantic" (1 channel of labels of a named label
 * set), "instance" (2 channels: (dy, dx) to the instance centroid, pixels), "instance_mask",
 * "depth" (1 channel, disparity in pixels) and "depth_mask". A model's input layers and task
 * targets are matched against this list by name (src/train/feeds.c). */

#define CLM_DATA_IMAGE "image"

typedef enum clm_target_kind {
  CLM_TARGET_IMAGE = 0, /* the network's input */
  CLM_TARGET_LABELS,    /* class ids of a label set; the set's ignore value where unlabelled */
  CLM_TARGET_VALUES,    /* real values for a regression */
  CLM_TARGET_OFFSETS,   /* vectors (dy, dx) from each pixel to its instance's centroid */
  CLM_TARGET_MASK       /* 1 where a partner target is valid, else 0 */
} clm_target_kind;

/* A named set of class labels: "categories" (the 7 CityScapes categories) or "trainids" (the
 * 19 CityScapes train ids). */
typedef struct clm_label_set {
  const char *name;
  int classes;
  const char *const *class_names; /* classes names */
  int ignore;                     /* label of unlabelled pixels: CLM_IGNORE_LABEL */
} clm_label_set;

typedef struct clm_target_info {
  const char *name;
  int channels;
  clm_target_kind kind;
  const clm_label_set *labels; /* CLM_TARGET_LABELS: its label set; else NULL */
  int available;               /* 0: a target this source knows but this dataset lacks (a
                                  CityScapes tree without disparity/): filled with zeros */
} clm_target_info;

/* The label set of a mode, and one by name (NULL when unknown). */
CLMTL_API const clm_label_set *clm_label_set_get(clm_label_mode mode);
CLMTL_API const clm_label_set *clm_label_set_find(const char *name);
/* Everything the built-in sources can offer, with semantic labels of `mode` (all available). */
CLMTL_API int clm_data_targets_known(clm_label_mode mode, const clm_target_info **out);
/* What this dataset offers: returns the count and points *out at the list (owned by d). */
CLMTL_API int clm_dataset_targets(const clm_dataset *d, const clm_target_info **out);
/* Writes the array `name` of sample s (one of clm_data_targets_known's names) as planar
 * (channels, H, W) floats into out. */
CLMTL_API clm_status clm_sample_target(const clm_sample *s, const char *name, float *out);

/* ---- synthetic street scenes (src/data/synth*.c) -------------------------------------------- */

typedef struct clm_synth_options {
  uint64_t seed;       /* the whole dataset is a function of seed, split and index */
  int count;           /* samples in the split */
  int height, width;
  float noise_semantic;/* probability of replacing a label by a random class (0 = none) */
  float noise_instance;/* σ of Gaussian noise added to instance offsets, in pixels: applied by
                          the trainer to training batches (ids cannot carry it) */
  float noise_depth;   /* σ of Gaussian noise added to valid disparities, in pixels */
  float noise_depth_far; /* σ of Gaussian noise added only to the far half of each image's valid
                            disparities (below its median), in pixels: spatially varying noise */
} clm_synth_options;

/* Renders one scene (deterministic from scene_seed) into out (allocated h × w). */
CLMTL_API clm_status clm_synth_render(uint64_t scene_seed, clm_sample *out);
/* The split's samples; scene seeds of different splits never coincide. */
CLMTL_API clm_status clm_synth_open(const clm_synth_options *opt, clm_split split, clm_dataset **out);
/* Writes `count` samples of each split under dir in the CityScapes layout (leftImg8bit,
 * gtFine labelIds/instanceIds, disparity), readable by clm_cityscapes_open. */
CLMTL_API clm_status clm_synth_write(const char *dir, const clm_synth_options *opt);

/* ---- CityScapes layout (src/data/cityscapes.c) ------------------------------------------------ */

typedef struct clm_cityscapes_options {
  const char *root;    /* holds leftImg8bit/, gtFine/, disparity/ */
  clm_split split;
  int height, width;   /* training resolution: images bilinear, labels nearest */
  clm_label_mode labels;
  int skip_bad;        /* 1: leave out unreadable or inconsistent samples (reported); 0: fail */
} clm_cityscapes_options;

/* Scans the split (every file opened and checked once, so a bad file is reported by name
 * before training starts). */
CLMTL_API clm_status clm_cityscapes_open(const clm_cityscapes_options *opt, clm_dataset **out);
/* Samples left out by skip_bad: returns how many, and writes the messages of the first few
 * (each naming the file and the problem), one a line, into buf (NUL-terminated, truncated to
 * size; buf may be NULL). 0 and "" for a dataset not opened by clm_cityscapes_open. */
CLMTL_API int clm_cityscapes_skipped(const clm_dataset *d, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
