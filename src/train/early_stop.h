/* Per-task early stopping (--early-stop-patience N): each task's validation metric (mIoU for
 * classification, higher is better; MAE for regression, lower is better) is followed on its
 * own. A task whose metric has not been strictly better than its best for N epochs in a row
 * stops: from the next step on it is excluded from every training step -- its targets in each
 * batch are blanked (labels to the ignore label, the regression mask to 0), so its valid count
 * is 0 and the weighting leaves it out (contribution, loss gradient and task-parameter gradient
 * 0, whatever the strategy) -- and {"event":"task_stop",...} is logged. Validation still
 * measures it. Its best epoch's weights are kept in best-<task>.safetensors beside the
 * aggregate best.safetensors. When every task has stopped, training ends. The state survives
 * --resume in early_stop.json beside the checkpoints. Over several ranks (trainer.c) every rank
 * holds the state and masks its shard; rank 0 decides, reads and writes the file and sends the
 * state to the others. */
#ifndef CLMTL_TRAIN_EARLY_STOP_H
#define CLMTL_TRAIN_EARLY_STOP_H

#include <stdio.h>
#include "clmtl/train.h"
#include "train/batch.h"

typedef struct clm_early_stop {
  int patience;                          /* 0: off (every call does nothing) */
  int ntasks;
  int higher[CLM_MTL_MAX_TASKS];         /* 1: the metric is mIoU, else MAE */
  double best[CLM_MTL_MAX_TASKS];
  int best_epoch[CLM_MTL_MAX_TASKS];     /* 1-based; 0: none yet */
  int since[CLM_MTL_MAX_TASKS];          /* epochs since the best */
  int stopped[CLM_MTL_MAX_TASKS];        /* the epoch after which it stopped; 0: training */
  int target_feed[CLM_MTL_MAX_TASKS];    /* the feed blanked for a stopped task */
  int mask_feed[CLM_MTL_MAX_TASKS];      /* its mask's feed, or -1 */
} clm_early_stop;

/* Sets e up for graph g's tasks bound by feeds. With resume, reads out_dir/early_stop.json
 * when it is there. A task whose target or mask feeds another task too, or a regression task
 * without a mask, cannot be excluded alone: refused, naming it. */
clm_status clm_early_stop_init(clm_early_stop *e, int patience, clm_graph *g, const clm_feeds *feeds,
                               const char *out_dir, int resume);
/* Blanks the targets of the stopped tasks in b (before its upload). */
void clm_early_stop_mask(const clm_early_stop *e, clm_batch *b);
/* After epoch r->epoch's validation: improved[i] = 1 where task i reached a new best (the
 * caller saves best-<task>.safetensors); tasks that stop are logged to log; r->task_stopped
 * and r->task_best_epoch are filled in. Returns 1 when every task has stopped. */
int clm_early_stop_epoch(clm_early_stop *e, clm_epoch_report *r, FILE *log, int *improved);
/* Writes out_dir/early_stop.json (through a temporary file and a rename). */
clm_status clm_early_stop_save(const clm_early_stop *e, const char *out_dir);

#endif
