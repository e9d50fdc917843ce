/* Filling host batches on a helper thread (see batch.h). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/runtime-impl.h"
#include "train/batch.h"

clm_status clm_batch_init(clm_batch *b, int size, int height, int width) {
  memset(b, 0, sizeof *b);
  size_t px = (size_t)size * height * width;
  b->size = size;
  b->height = height;
  b->width = width;
  b->image = malloc(3 * px * sizeof(float));
  b->semantic = malloc(px * sizeof(float));
  b->instance = malloc(2 * px * sizeof(float));
  b->instance_mask = malloc(px * sizeof(float));
  b->depth = malloc(px * sizeof(float));
  b->depth_mask = malloc(px * sizeof(float));
  if (!b->image || !b->semantic || !b->instance || !b->instance_mask || !b->depth || !b->depth_mask) {
    clm_batch_free(b);
    CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory for a batch of %d at %dx%d", size, height, width);
  }
  clm_status st = clm_sample_alloc(&b->scratch, height, width);
  if (st != CLM_OK) clm_batch_free(b);
  return st;
}

void clm_batch_free(clm_batch *b) {
  if (!b) return;
  clm_batch_discard(b);
  free(b->image);
  free(b->semantic);
  free(b->instance);
  free(b->instance_mask);
  free(b->depth);
  free(b->depth_mask);
  clm_sample_free(&b->scratch);
  memset(b, 0, sizeof *b);
}

/* Gaussian noise (Box-Muller on a splitmix64 stream seeded by the sample index) on the
 * offsets of instance pixels: the --noise-instance option. */
static void add_noise(const clm_batch *b, int index, float *offsets, const float *mask) {
  size_t hw = (size_t)b->height * b->width;
  uint64_t s = 0x6a09e667f3bcc909ull ^ ((uint64_t)index * 0x9e3779b97f4a7c15ull);
  for (size_t p = 0; p < 2 * hw; p++) {
    if (mask[p % hw] <= 0) continue;
    uint64_t z1 = (s += 0x9e3779b97f4a7c15ull), z2 = (s += 0x9e3779b97f4a7c15ull);
    z1 = (z1 ^ (z1 >> 31)) * 0xbf58476d1ce4e5b9ull;
    z2 = (z2 ^ (z2 >> 31)) * 0xbf58476d1ce4e5b9ull;
    double u1 = ((double)(z1 >> 11) + 1.0) / 9007199254740993.0, u2 = (double)(z2 >> 11) / 9007199254740992.0;
    offsets[p] += b->instance_noise * (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
  }
}

static void *fill(void *arg) {
  clm_batch *b = arg;
  size_t hw = (size_t)b->height * b->width;
  b->status = CLM_OK;
  for (int i = 0; i < b->size; i++) {
    clm_sample *s = &b->scratch;
    clm_status st = clm_dataset_load(b->data, b->indices[i], s);
    if (st != CLM_OK) {
      b->status = st;
      snprintf(b->error, sizeof b->error, "%s", clm_last_error());
      return NULL;
    }
    memcpy(b->image + 3 * hw * i, s->image, 3 * hw * sizeof(float));
    memcpy(b->semantic + hw * i, s->semantic, hw * sizeof(float));
    clm_instance_targets(s, b->instance + 2 * hw * i, b->instance_mask + hw * i);
    if (b->instance_noise > 0) add_noise(b, b->indices[i], b->instance + 2 * hw * i, b->instance_mask + hw * i);
    memcpy(b->depth + hw * i, s->depth, hw * sizeof(float));
    memcpy(b->depth_mask + hw * i, s->depth_valid, hw * sizeof(float));
  }
  return NULL;
}

clm_status clm_batch_start(clm_batch *b, clm_dataset *data, const int *indices) {
  if (b->running) CLM_FAIL(CLM_ERR_INVALID_ARG, "batch is already being filled");
  b->data = data;
  b->indices = indices;
  if (pthread_create(&b->thread, NULL, fill, b) != 0) {
    fill(b); /* no thread to be had: fill here */
    return b->status == CLM_OK ? CLM_OK : clm_error_set(b->status, __FILE__, __LINE__, "%s", b->error);
  }
  b->running = 1;
  return CLM_OK;
}

clm_status clm_batch_wait(clm_batch *b) {
  if (b->running) {
    pthread_join(b->thread, NULL);
    b->running = 0;
  }
  if (b->status != CLM_OK) return clm_error_set(b->status, __FILE__, __LINE__, "%s", b->error);
  return CLM_OK;
}

void clm_batch_discard(clm_batch *b) {
  if (!b->running) return;
  pthread_join(b->thread, NULL);
  b->running = 0;
}
