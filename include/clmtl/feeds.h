/* Binding a compiled graph to a data source by name, before any work starts: each input layer
 * of the graph is matched with an array the data offers (clm_dataset_targets). Input layers
 * that are a loss's target or mask take the data array of that name; other input layers take
 * the array of their own name when the data has one, else the image. Checked here: a target
 * the data does not offer, a channel count that differs, labels where values are wanted (or
 * the reverse), a label set with more classes than a classification head, an ignore value
 * that differs. Each error names the model file and line, the layer, the task, what the model
 * wants and what the data has. A task whose target (and mask) the data knows but lacks, such
 * as depth in a CityScapes tree without disparity/, is kept with a note: its mask is all 0,
 * so it has no valid target, trains on nothing and is left out of the validation loss.
 * The trainer, its validation and `clmtl eval` / `clmtl infer` share this binding
 * (src/train/feeds.c). */
#ifndef CLMTL_FEEDS_H
#define CLMTL_FEEDS_H

#include "clmtl/data.h"
#include "clmtl/graph.h"
#include "clmtl/metrics.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLM_FEEDS_MAX 32
#define CLM_FEEDS_NOTES 8

typedef struct clm_feed {
  char layer[CLM_NAME_MAX];       /* the graph's input layer */
  const clm_target_info *source;  /* the data array it takes */
  int channels;                   /* the layer's channels */
  int luma;                       /* a 1-channel image input: Rec. 601 luma of the RGB image */
  float pad;                      /* value of batch rows that hold no sample (evaluate.c):
                                     the ignore label for labels, 0 otherwise */
} clm_feed;

typedef struct clm_feeds {
  int count;
  clm_feed feed[CLM_FEEDS_MAX];
  int ntasks;
  int unmasked[CLM_METRICS_MAX_TASKS];   /* task i is a regression without a mask */
  int available[CLM_METRICS_MAX_TASKS];  /* 0: its target is missing from this data (a note) */
  const clm_label_set *labels;           /* label set of the classification targets, or NULL */
  int nnotes;
  char notes[CLM_FEEDS_NOTES][1024];
} clm_feeds;

/* Binds g's inputs to the arrays `targets[0..ntargets)` of a data source. With image_only,
 * only the inputs that are no loss's target or mask are bound (inference). */
CLMTL_API clm_status clm_feeds_bind(clm_graph *g, const clm_target_info *targets, int ntargets,
                                    int image_only, clm_feeds *out);

/* Writes feed f of sample s as (f->channels, H, W) planar floats into out; rgb is scratch of
 * 3·H·W floats (used for luma). Arrays the data lacks are written as zeros. */
CLMTL_API clm_status clm_feed_fill(const clm_feed *f, const clm_sample *s, float *out, float *rgb);

/* The image converted for an input of `channels`: 3 copies it, 1 writes the Rec. 601 luma
 * 0.299 R + 0.587 G + 0.114 B. rgb (3, H, W), out (channels, H, W). */
CLMTL_API void clm_image_convert(const float *rgb, size_t hw, int channels, float *out);

/* Task i's name: the loss layer's without its "task." prefix. */
CLMTL_API const char *clm_feeds_task_name(const clm_layer *loss);

#ifdef __cplusplus
}
#endif

#endif
