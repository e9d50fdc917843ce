/* Host batches for the trainer: B samples laid out as the graph's inputs want them, filled
 * on a helper thread while the device runs the previous step. */
#ifndef CLMTL_TRAIN_BATCH_H
#define CLMTL_TRAIN_BATCH_H

#include <pthread.h>
#include "clmtl/data.h"
#include "clmtl/graph.h"

typedef struct clm_batch {
  int size, height, width;
  float *image;         /* (B, 3, H, W) */
  float *semantic;      /* (B, 1, H, W) */
  float *instance;      /* (B, 2, H, W) offsets to the instance centroid, pixels */
  float *instance_mask; /* (B, 1, H, W) */
  float *depth;         /* (B, 1, H, W) */
  float *depth_mask;    /* (B, 1, H, W) */
  clm_sample scratch;
  float instance_noise; /* σ in pixels of Gaussian noise on the instance offsets (0: none);
                           deterministic per sample index */
  /* the pending fill */
  pthread_t thread;
  int running;
  clm_dataset *data;
  const int *indices;   /* B sample indices */
  clm_status status;
  char error[512];
} clm_batch;

clm_status clm_batch_init(clm_batch *b, int size, int height, int width);
void clm_batch_free(clm_batch *b);
/* Starts filling b from data[indices[0..size)] on a thread; clm_batch_wait joins it and
 * returns the fill's status (its message restored into clm_last_error()). */
clm_status clm_batch_start(clm_batch *b, clm_dataset *data, const int *indices);
clm_status clm_batch_wait(clm_batch *b);
/* Joins a fill still running and drops its result: clm_last_error() is left as it is. For a
 * run that stops early, before the indices the fill reads go away. */
void clm_batch_discard(clm_batch *b);
/* Uploads every array of b that g has an input for: "input" (required), "semantic",
 * "instance", "instance_mask", "depth", "depth_mask". */
clm_status clm_batch_upload(const clm_batch *b, clm_graph *g);

#endif
