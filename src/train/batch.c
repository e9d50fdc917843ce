/* Filling host batches on a helper thread (see batch.h). */
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
  if (b->running) clm_batch_wait(b);
  free(b->image);
  free(b->semantic);
  free(b->instance);
  free(b->instance_mask);
  free(b->depth);
  free(b->depth_mask);
  clm_sample_free(&b->scratch);
  memset(b, 0, sizeof *b);
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
