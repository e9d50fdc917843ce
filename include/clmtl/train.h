/* The training loop: a model file trained on a dataset (synthetic scenes by default, or a
 * CityScapes-layout directory) with a multi-task weighting, an optimizer and a learning-rate
 * schedule; each epoch validated with fixed-weight losses and per-task metrics, logged as
 * JSON Lines, with early stopping and best/last checkpoints. The library prints nothing:
 * progress reaches the caller through callbacks. */
#ifndef CLMTL_TRAIN_H
#define CLMTL_TRAIN_H

#include <signal.h>
#include "clmtl/checkpoint.h"
#include "clmtl/data.h"
#include "clmtl/metrics.h"
#include "clmtl/mtl.h"
#include "clmtl/optim.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum clm_lr_schedule {
  CLM_LR_CONSTANT = 0,
  CLM_LR_STEP = 1, /* lr · gamma^floor(epoch / step_epochs) */
  CLM_LR_POLY = 2  /* lr · (1 − iteration / total iterations)^power */
} clm_lr_schedule;

typedef struct clm_train_options {
  const char *model_path;    /* models/default.cfg; with resume, NULL: the model text stored
                                in the run's checkpoint */
  const char *data_dir;      /* CityScapes layout; NULL: built-in synthetic scenes */
  int skip_bad;              /* CityScapes: leave out bad samples instead of failing */
  clm_label_mode labels;     /* CityScapes label mapping */
  int height, width, batch, epochs;
  int train_count, val_count;/* synthetic: samples per split */
  clm_synth_options synth;   /* synthetic: seed and target noise (count/size from above) */
  clm_optim_config optim;    /* optim.task_lr: the task parameters' learning rate (0: lr),
                                scaled by the schedule as lr is; they never decay */
  int no_decay_bias_norm;    /* no weight decay on biases and batch-norm γ, β */
  clm_lr_schedule schedule;
  int step_epochs;           /* CLM_LR_STEP */
  float gamma;               /* CLM_LR_STEP */
  float poly_power;          /* CLM_LR_POLY */
  clm_mtl_config weighting;  /* strategy, gating, clamp ... (ntasks and kinds from the model) */
  int patience;              /* epochs without a better validation loss before stopping; 0 off */
  uint64_t seed;             /* parameter initialisation and sample order */
  const char *device;         /* overrides context->device when set */
  const clm_context_options *context; /* the context's options (device.h); NULL: defaults */
  const char *out_dir;       /* log.jsonl, best.safetensors, last.safetensors */
  const char *resume;        /* a run's directory: continue from its last.safetensors (the
                                same options must be given, except epochs, patience,
                                log_every, device, max_bad_steps and inject_nan_from, whose
                                changes are logged; the log is appended to) */
  int overwrite;             /* out_dir may hold a run (log.jsonl or a checkpoint): replace
                                it; otherwise such a directory is refused */
  volatile sig_atomic_t *stop_requested; /* polled after every step: when non-zero the run
                                writes last.safetensors (mid-epoch: resumed from that step)
                                and returns CLM_ERR_INTERRUPTED; may be NULL */
  int log_every;             /* steps between progress callbacks (device reads) */
  int max_bad_steps;         /* stop when this many steps in a row had a non-finite loss (their
                                updates are skipped); checked at each log step; default 20 */
  long inject_nan_from;      /* testing aid: from this step on, the semantic and depth
                                targets are NaN; -1 (default) off */
  int early_stop_patience;   /* per task: epochs without a better validation metric of that
                                task before it leaves training (src/train/early_stop.h); 0 off */
  /* data parallelism (dist.h): NULL or one rank trains on one device. Over R ranks, `batch` is
   * the global batch (a multiple of R): rank r takes samples [r·batch/R, (r+1)·batch/R) of each
   * step's slice of the one shuffled order, so a run samples exactly as a single-device run
   * with the same seed. Losses, valid counts and gradients are summed over the ranks each step;
   * batch-norm statistics are per rank (unless sync_bn) and their running averages are averaged
   * over the ranks before validation and checkpoints; validation is sharded and its sums reduced. Rank 0
   * alone writes the run directory (log, checkpoints); the others read --resume's checkpoint. */
  clm_dist *dist;
  int sync_bn;               /* batch-norm statistics over every rank's batch (as one device
                                with the global batch) instead of per rank */
  int check_replicas;        /* after every step, compare every rank's parameters with rank
                                0's (hash): a difference stops the run naming step and rank */
  long inject_drift_at;      /* testing aid: at this step the last rank's first parameter
                                moves by 1e-3 (so check_replicas must fail); -1 (default) off */
} clm_train_options;

/* Defaults: default model, synthetic data 64x128, batch 8, 6 epochs of 480 + 64 samples, Adam
 * lr 2e-3 poly 0.9, uncertainty weighting, patience 3, out_dir "runs/default". Every option is
 * recorded: checkpoint metadata "train_options" (a JSON object keyed by the command line's
 * option names: "lr", "size", ...) and the first record of log.jsonl, {"event":"start",...}. */
CLMTL_API clm_train_options clm_train_defaults(void);

/* The options a run in dir was trained with (its last.safetensors' "train_options"), as
 * key/value pairs in one malloc'd block (free with clm_checkpoint_meta_free): keys are option
 * names without "--", values JSON text ("0.002", "true", "null") except strings, which are
 * given bare ("64x128"). *n is 0 for a checkpoint from before options were recorded. */
CLMTL_API clm_status clm_train_stored_options(const char *dir, clm_checkpoint_meta **out, int *n);

/* Where dir already holds a run (log.jsonl, last.safetensors or best.safetensors): 1, and the
 * first such file's name in *what; else 0. */
CLMTL_API int clm_train_dir_has_run(const char *dir, const char **what);

typedef struct clm_train_progress {
  int epoch, epochs;         /* epoch 1-based */
  long step, steps_per_epoch, total_steps;
  double images_per_second, eta_seconds;
  clm_mtl_snapshot tasks;    /* raw losses, weights, σ of the last step */
  float lr;
  const char *task_names[CLM_MTL_MAX_TASKS]; /* the tasks' names ("semantic", ...) */
} clm_train_progress;

typedef struct clm_epoch_report {
  int epoch;                 /* 1-based, as in the log and the checkpoint's "epoch" */
  double train_loss[CLM_MTL_MAX_TASKS]; /* epoch means of the raw task losses */
  double val_loss[CLM_MTL_MAX_TASKS];
  double val_aggregate;      /* fixed-weight (uniform) validation loss, NaN tasks skipped */
  int val_skipped;           /* tasks skipped in it */
  clm_metrics_report metrics[CLM_MTL_MAX_TASKS];
  const char *task_names[CLM_MTL_MAX_TASKS];
  int ntasks;
  int best;                  /* this epoch is the best so far */
  int stop;                  /* early stopping ends training after this epoch */
  int skipped_steps;         /* non-finite steps so far */
  double seconds;
  int task_stopped[CLM_MTL_MAX_TASKS]; /* --early-stop-patience: the epoch after which task i
                                left training (its best epoch in task_best_epoch); 0: training */
  int task_best_epoch[CLM_MTL_MAX_TASKS];
} clm_epoch_report;

typedef struct clm_train_callbacks {
  void (*on_start)(void *user, const char *device, const char *model, long params);
  void (*on_progress)(void *user, const clm_train_progress *p);
  void (*on_epoch)(void *user, const clm_epoch_report *r);
  void *user;
  /* a note before training starts: samples left out by --skip-bad, tasks whose target the
   * data lacks (also written to log.jsonl); may be NULL */
  void (*on_note)(void *user, const char *note);
} clm_train_callbacks;

CLMTL_API clm_status clm_train_run(const clm_train_options *opt, const clm_train_callbacks *cb);

/* Metrics for graph g's losses: segmentation for softmax_xent (classes from its logits),
 * regression for l1/l2; task names without their "task." prefix. */
CLMTL_API clm_status clm_metrics_for_graph(clm_graph *g, clm_metrics **out);

/* Runs g over every sample of d with batch-norm running statistics, its inputs fed as
 * `feeds` binds them (src/train/feeds.h, clm_feeds_bind): metrics m (reset first) accumulate
 * per task, and losses[i] is loss i's mean over every valid target of the split (each batch's
 * loss weighted by its valid count; batches where it is not finite left out; NaN without a
 * valid target), the same whatever the batch size. Batch size and resolution are g's; d must
 * match them. */
struct clm_feeds;
CLMTL_API clm_status clm_evaluate(clm_graph *g, const struct clm_feeds *feeds, clm_dataset *d, clm_metrics *m,
                        double *losses);
/* The same over the ranks of dist (dist.h): rank r runs its contiguous share of the split
 * (samples [n·r/R, n·(r+1)/R)), and the loss sums, valid counts and metric totals are summed
 * over the ranks; every rank gets the whole split's result. NULL: clm_evaluate. */
CLMTL_API clm_status clm_evaluate_dist(clm_graph *g, const struct clm_feeds *feeds, clm_dataset *d,
                             clm_metrics *m, double *losses, clm_dist *dist);

#ifdef __cplusplus
}
#endif

#endif
