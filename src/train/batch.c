/* Filling host batches on a helper thread (see batch.h). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/runtime-impl.h"
#include "train/batch.h"

clm_status clm_batch_init(clm_batch *b, const clm_feeds *feeds, int size, int height, int width) {
  memset(b, 0, sizeof *b);
  size_t hw = (size_t)height * width, px = (size_t)size * hw;
  b->size = size;
  b->height = height;
  b->width = width;
  b->feeds = feeds;
  int ok = (b->rgb = malloc(3 * hw * sizeof(float))) && (b->mask = malloc(hw * sizeof(float)));
  for (int i = 0; i < feeds->count && ok; i++)
    ok = (b->data[i] = malloc((size_t)feeds->feed[i].channels * px * sizeof(float))) != NULL;
  if (!ok) {
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
  for (int i = 0; i < CLM_FEEDS_MAX; i++) free(b->data[i]);
  free(b->rgb);
  free(b->mask);
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
  const clm_feeds *f = b->feeds;
  size_t hw = (size_t)b->height * b->width;
  b->status = CLM_OK;
  for (int i = 0; i < b->size; i++) {
    clm_sample *s = &b->scratch;
    clm_status st = i < b->filled ? clm_dataset_load(b->data_set, b->indices[i], s) : CLM_OK;
    for (int k = 0; k < f->count && st == CLM_OK; k++) {
      const clm_feed *fd = &f->feed[k];
      float *row = b->data[k] + (size_t)fd->channels * hw * i;
      if (i >= b->filled) {
        for (size_t p = 0; p < (size_t)fd->channels * hw; p++) row[p] = fd->pad;
        continue;
      }
      st = clm_feed_fill(fd, s, row, b->rgb);
      if (st == CLM_OK && b->instance_noise > 0 && fd->source->kind == CLM_TARGET_OFFSETS &&
          fd->source->available && fd->channels == 2) {
        float *tmp = malloc(2 * hw * sizeof *tmp);
        if (!tmp) { st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "out of host memory"); break; }
        clm_instance_targets(s, tmp, b->mask);
        free(tmp);
        add_noise(b, b->indices[i], row, b->mask);
      }
    }
    if (st != CLM_OK) {
      b->status = st;
      snprintf(b->error, sizeof b->error, "%s", clm_last_error());
      return NULL;
    }
  }
  return NULL;
}

clm_status clm_batch_start_partial(clm_batch *b, clm_dataset *data, const int *indices, int count) {
  if (b->running) CLM_FAIL(CLM_ERR_INVALID_ARG, "batch is already being filled");
  if (count < 0 || count > b->size) CLM_FAIL(CLM_ERR_INVALID_ARG, "%d samples for a batch of %d", count, b->size);
  b->data_set = data;
  b->indices = indices;
  b->filled = count;
  if (pthread_create(&b->thread, NULL, fill, b) != 0) {
    fill(b); /* no thread to be had: fill here */
    return b->status == CLM_OK ? CLM_OK : clm_error_set(b->status, __FILE__, __LINE__, "%s", b->error);
  }
  b->running = 1;
  return CLM_OK;
}

clm_status clm_batch_start(clm_batch *b, clm_dataset *data, const int *indices) {
  return clm_batch_start_partial(b, data, indices, b->size);
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

clm_status clm_batch_upload(const clm_batch *b, clm_graph *g) {
  for (int i = 0; i < b->feeds->count; i++)
    CLM_TRY(clm_graph_set_input(g, b->feeds->feed[i].layer, b->data[i]));
  return CLM_OK;
}

void clm_batch_poison(clm_batch *b) {
  size_t px = (size_t)b->size * b->height * b->width;
  for (int i = 0; i < b->feeds->count; i++) {
    const clm_feed *fd = &b->feeds->feed[i];
    clm_target_kind k = fd->source->kind;
    if (k == CLM_TARGET_IMAGE || k == CLM_TARGET_MASK) continue;
    for (size_t p = 0; p < (size_t)fd->channels * px; p++) b->data[i][p] = NAN;
  }
}
