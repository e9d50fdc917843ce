/* Host batches for the trainer and the evaluator: B samples laid out as the graph's bound
 * inputs want them (one array per feed, feeds.h, sized from the input layer's shape), filled
 * on a helper thread while the device runs the previous step, and uploaded by layer name. */
#ifndef CLMTL_TRAIN_BATCH_H
#define CLMTL_TRAIN_BATCH_H

#include <pthread.h>
#include "clmtl/data.h"
#include "clmtl/graph.h"
#include "clmtl/feeds.h"

typedef struct clm_batch {
  int size, height, width;
  const clm_feeds *feeds;         /* not owned; outlives the batch */
  float *data[CLM_FEEDS_MAX];     /* feed i: (B, feeds->feed[i].channels, H, W) */
  float *rgb;                     /* (3, H, W) scratch for converted images */
  float *mask;                    /* (H, W) scratch: instance mask for the offsets' noise */
  clm_sample scratch;
  float instance_noise; /* σ in pixels of Gaussian noise on centroid offsets (0: none);
                           deterministic per sample index */
  /* the pending fill */
  pthread_t thread;
  int running;
  clm_dataset *data_set;
  const int *indices;   /* `filled` sample indices */
  int filled;           /* rows [filled, size) hold each feed's pad value */
  clm_status status;
  char error[512];
} clm_batch;

clm_status clm_batch_init(clm_batch *b, const clm_feeds *feeds, int size, int height, int width);
void clm_batch_free(clm_batch *b);
/* Starts filling b from data[indices[0..size)] on a thread; clm_batch_wait joins it and
 * returns the fill's status (its message restored into clm_last_error()). */
clm_status clm_batch_start(clm_batch *b, clm_dataset *data, const int *indices);
/* The same with count <= size samples; the other rows take each feed's pad value (ignore
 * labels, zero masks), so that they add no valid target to masked or labelled losses. */
clm_status clm_batch_start_partial(clm_batch *b, clm_dataset *data, const int *indices, int count);
clm_status clm_batch_wait(clm_batch *b);
/* Joins a fill still running and drops its result: clm_last_error() is left as it is. For a
 * run that stops early, before the indices the fill reads go away. */
void clm_batch_discard(clm_batch *b);
/* Uploads every feed of b into its input layer of g. */
clm_status clm_batch_upload(const clm_batch *b, clm_graph *g);
/* Testing aid (--inject-nan-from): every label and value target of b becomes NaN (images and
 * masks stay). */
void clm_batch_poison(clm_batch *b);

#endif
