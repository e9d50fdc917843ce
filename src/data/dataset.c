/* Samples and the dataset dispatch shared by every data source; instance targets; the label
 * sets and what each data source declares it offers, by name (data.h). */
#include <stdlib.h>
#include <string.h>
#include "data/dataset-impl.h"
#include "runtime/runtime-impl.h"

clm_status clm_sample_alloc(clm_sample *s, int height, int width) {
  memset(s, 0, sizeof *s);
  if (height <= 0 || width <= 0 || (size_t)height * width > ((size_t)1 << 28))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "sample size %dx%d is out of range", height, width);
  size_t n = (size_t)height * width;
  s->height = height;
  s->width = width;
  s->image = calloc(3 * n, sizeof *s->image);
  s->semantic = calloc(n, sizeof *s->semantic);
  s->instance = calloc(n, sizeof *s->instance);
  s->depth = calloc(n, sizeof *s->depth);
  s->depth_valid = calloc(n, sizeof *s->depth_valid);
  if (!s->image || !s->semantic || !s->instance || !s->depth || !s->depth_valid) {
    clm_sample_free(s);
    CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory for a %dx%d sample", height, width);
  }
  return CLM_OK;
}

void clm_sample_free(clm_sample *s) {
  if (!s) return;
  free(s->image);
  free(s->semantic);
  free(s->instance);
  free(s->depth);
  free(s->depth_valid);
  memset(s, 0, sizeof *s);
}

/* Centroids by a sort-free two-pass: ids are arbitrary, so accumulate per distinct id in a
 * small open-addressing table. */
typedef struct { int32_t id; double sy, sx; long n; } centroid;

void clm_instance_targets(const clm_sample *s, float *offsets, float *mask) {
  size_t n = (size_t)s->height * s->width;
  size_t cap = 64;
  for (size_t i = 0; i < n; i++) if (s->instance[i]) { cap = 1024; break; }
  centroid *tab = NULL;
  for (;;) {
    tab = calloc(cap, sizeof *tab);
    if (!tab) break;
    size_t used = 0;
    int full = 0;
    for (size_t i = 0; i < n && !full; i++) {
      int32_t id = s->instance[i];
      if (!id) continue;
      size_t h = ((uint32_t)id * 2654435761u) & (cap - 1);
      while (tab[h].n && tab[h].id != id) h = (h + 1) & (cap - 1);
      if (!tab[h].n) { tab[h].id = id; if (++used * 2 > cap) full = 1; }
      tab[h].sy += (double)(i / (size_t)s->width);
      tab[h].sx += (double)(i % (size_t)s->width);
      tab[h].n++;
    }
    if (!full) break;
    free(tab);
    cap *= 4;
  }
  for (size_t i = 0; i < n; i++) {
    int32_t id = s->instance[i];
    offsets[i] = offsets[n + i] = 0.0f;
    mask[i] = 0.0f;
    if (!id || !tab) continue;
    size_t h = ((uint32_t)id * 2654435761u) & (cap - 1);
    while (tab[h].id != id) h = (h + 1) & (cap - 1);
    double y = (double)(i / (size_t)s->width), x = (double)(i % (size_t)s->width);
    offsets[i] = (float)(tab[h].sy / (double)tab[h].n - y);
    offsets[n + i] = (float)(tab[h].sx / (double)tab[h].n - x);
    mask[i] = 1.0f;
  }
  free(tab);
}

const char *clm_split_name(clm_split s) {
  return s == CLM_SPLIT_TRAIN ? "train" : s == CLM_SPLIT_VAL ? "val" : s == CLM_SPLIT_TEST ? "test" : "?";
}

clm_status clm_dataset_make(const clm_dataset_ops *ops, void *impl, int count, int height,
                            int width, clm_dataset **out) {
  *out = calloc(1, sizeof **out);
  if (!*out) {
    ops->free(impl);
    CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  }
  (*out)->ops = ops;
  (*out)->impl = impl;
  (*out)->count = count;
  (*out)->height = height;
  (*out)->width = width;
  clm_dataset_declare(*out, CLM_LABELS_CATEGORIES, 1);
  return CLM_OK;
}

int clm_dataset_count(const clm_dataset *d) { return d->count; }

void clm_dataset_size(const clm_dataset *d, int *height, int *width) {
  *height = d->height;
  *width = d->width;
}

clm_status clm_dataset_load(clm_dataset *d, int index, clm_sample *out) {
  if (index < 0 || index >= d->count)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "sample %d out of range (the dataset has %d)", index, d->count);
  if (out->height != d->height || out->width != d->width)
    CLM_FAIL(CLM_ERR_SHAPE, "sample buffer is %dx%d, the dataset is %dx%d", out->height,
             out->width, d->height, d->width);
  return d->ops->load(d->impl, index, out);
}

void clm_dataset_free(clm_dataset *d) {
  if (!d) return;
  d->ops->free(d->impl);
  free(d);
}

/* ---- label sets and declared targets ------------------------------------------------------ */

static const char *const CATEGORY_NAMES[CLM_SEMANTIC_CLASSES] = {
    "flat", "construction", "object", "nature", "sky", "human", "vehicle"};
static const char *const TRAIN_ID_NAMES[19] = {
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle"};
static const clm_label_set LABEL_SETS[2] = {
    {"categories", CLM_SEMANTIC_CLASSES, CATEGORY_NAMES, CLM_IGNORE_LABEL},
    {"trainids", 19, TRAIN_ID_NAMES, CLM_IGNORE_LABEL}};

const clm_label_set *clm_label_set_get(clm_label_mode mode) {
  return mode == CLM_LABELS_TRAIN_IDS ? &LABEL_SETS[1] : &LABEL_SETS[0];
}

const clm_label_set *clm_label_set_find(const char *name) {
  for (int i = 0; i < 2 && name; i++)
    if (!strcmp(name, LABEL_SETS[i].name)) return &LABEL_SETS[i];
  return NULL;
}

#define TARGETS(set, depth)                                                         \
  {{CLM_DATA_IMAGE, 3, CLM_TARGET_IMAGE, NULL, 1},                                  \
   {"semantic", 1, CLM_TARGET_LABELS, &LABEL_SETS[set], 1},                         \
   {"instance", 2, CLM_TARGET_OFFSETS, NULL, 1},                                    \
   {"instance_mask", 1, CLM_TARGET_MASK, NULL, 1},                                  \
   {"depth", 1, CLM_TARGET_VALUES, NULL, depth},                                    \
   {"depth_mask", 1, CLM_TARGET_MASK, NULL, depth}}
/* [label mode][has depth] */
static const clm_target_info TARGET_LISTS[2][2][6] = {{TARGETS(0, 0), TARGETS(0, 1)},
                                                      {TARGETS(1, 0), TARGETS(1, 1)}};
#define NTARGETS 6

void clm_dataset_declare(clm_dataset *d, clm_label_mode mode, int has_depth) {
  d->targets = TARGET_LISTS[mode == CLM_LABELS_TRAIN_IDS][has_depth != 0];
  d->ntargets = NTARGETS;
}

int clm_data_targets_known(clm_label_mode mode, const clm_target_info **out) {
  *out = TARGET_LISTS[mode == CLM_LABELS_TRAIN_IDS][1];
  return NTARGETS;
}

int clm_dataset_targets(const clm_dataset *d, const clm_target_info **out) {
  *out = d->targets;
  return d->ntargets;
}

clm_status clm_sample_target(const clm_sample *s, const char *name, float *out) {
  size_t n = (size_t)s->height * s->width;
  if (!strcmp(name, CLM_DATA_IMAGE)) memcpy(out, s->image, 3 * n * sizeof *out);
  else if (!strcmp(name, "semantic")) memcpy(out, s->semantic, n * sizeof *out);
  else if (!strcmp(name, "depth")) memcpy(out, s->depth, n * sizeof *out);
  else if (!strcmp(name, "depth_mask")) memcpy(out, s->depth_valid, n * sizeof *out);
  else if (!strcmp(name, "instance") || !strcmp(name, "instance_mask")) {
    float *tmp = malloc((name[8] ? 2 : 1) * n * sizeof *tmp);
    if (!tmp) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory for a %dx%d sample", s->height, s->width);
    if (name[8]) clm_instance_targets(s, tmp, out); /* instance_mask */
    else clm_instance_targets(s, out, tmp);
    free(tmp);
  } else {
    CLM_FAIL(CLM_ERR_NOT_FOUND, "no data array named '%s'", name);
  }
  return CLM_OK;
}
