/* Samples and the dataset dispatch shared by every data source; instance targets. */
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
