/* Studies for `clmtl compare`: a study file (INI, readable by Python's configparser) names a
 * model, data, epochs, seeds and a list of runs (single-task baselines, weightings with their
 * options, fixed-weight grids); clm_study_load reads and checks it, naming file:line for every
 * fault. The statistics of a finished study (mean ± std over seeds, Δm% against the single-task
 * baselines, non-dominated points) are computed here too; running the runs and writing the
 * tables is the command line's (tools/cmd_compare.c). */
#ifndef CLMTL_STUDY_H
#define CLMTL_STUDY_H

#include "clmtl/mtl.h"
#include "clmtl/status.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLM_STUDY_MAX_RUNS 128
#define CLM_STUDY_MAX_SEEDS 32
#define CLM_STUDY_MAX_ARGS 24
#define CLM_STUDY_NAME_MAX 64
#define CLM_STUDY_VALUE_MAX 512

typedef enum clm_study_run_kind {
  CLM_STUDY_SINGLE = 0,    /* one task's weight 1, the others 0 (--weighting fixed) */
  CLM_STUDY_WEIGHTING = 1, /* any --weighting, with its options */
  CLM_STUDY_GRID = 2       /* one point of a fixed-weight grid (--weighting fixed) */
} clm_study_run_kind;

/* A `clmtl train` option given in the study: "--<key> <value>" (value "" for a flag). */
typedef struct clm_study_arg {
  char key[CLM_STUDY_NAME_MAX];
  char value[CLM_STUDY_VALUE_MAX];
  int line;
} clm_study_arg;

typedef struct clm_study_run {
  char name[CLM_STUDY_NAME_MAX + 48]; /* the section's name; grid points: NAME-w1-w2-... */
  clm_study_run_kind kind;
  int task;                            /* CLM_STUDY_SINGLE: the task it trains */
  char weighting[CLM_STUDY_NAME_MAX];  /* the --weighting name */
  int has_weights;                     /* weights[] go to --task-weights */
  float weights[CLM_MTL_MAX_TASKS];
  int nargs;                           /* the section's own train options */
  clm_study_arg args[CLM_STUDY_MAX_ARGS];
  int line;                            /* the section's line in the study file */
} clm_study_run;

typedef struct clm_study {
  char path[1024];                     /* the study file */
  char name[CLM_STUDY_NAME_MAX];       /* [study] name, default the file's stem */
  char model[1024], data[1024], out[1024];
  int epochs;
  int nseeds;
  long seeds[CLM_STUDY_MAX_SEEDS];
  int ntasks;                          /* the model's tasks, in its order */
  char task_names[CLM_MTL_MAX_TASKS][CLM_STUDY_NAME_MAX];
  int higher_better[CLM_MTL_MAX_TASKS];/* classification: mIoU (1); regression: MAE (0) */
  int nargs;                           /* [study]'s train options, given to every run */
  clm_study_arg args[CLM_STUDY_MAX_ARGS];
  int nruns;
  clm_study_run runs[CLM_STUDY_MAX_RUNS];
} clm_study;

/* Reads and checks the study file at path into *s (caller's storage). Relative model, data
 * and out paths stay as written (relative to the current directory). The model file is read
 * (no device) for its tasks: single-task runs name one of them, weight lists have one weight
 * per task. Every fault (syntax, a missing or unknown key, a bad number, fewer than 3 seeds, an
 * unknown weighting or task, a duplicate run name) is CLM_ERR_PARSE or CLM_ERR_INVALID_ARG
 * with a message that starts "path:line: ". */
CLMTL_API clm_status clm_study_load(const char *path, clm_study *s);

/* Mean and sample standard deviation (n − 1 in the denominator; 0 for n = 1) of the finite
 * values among x[0..n); *count how many there were (NaN mean without any). */
CLMTL_API void clm_study_mean_std(const double *x, int n, double *mean, double *std, int *count);

/* Δm% (Maninis et al. 2019, Vandenhende et al. 2021): 100 · mean over the K tasks of
 * (−1)^{l_t} (M_t − B_t) / B_t, l_t = 1 where lower is better. NaN when a task's M or B is not
 * finite or B is 0. */
CLMTL_API double clm_study_delta_m(const double *m, const double *base, const int *higher_better, int k);

/* Non-dominated points among n points of k metrics each (x[i * k + t]; higher_better[t] says
 * each metric's direction): nondom[i] = 1 where no other point is at least as good in every
 * metric and better in one. Points with a non-finite metric are never non-dominated and
 * dominate nothing. */
CLMTL_API void clm_study_nondominated(const double *x, int n, int k, const int *higher_better, int *nondom);

#ifdef __cplusplus
}
#endif

#endif
