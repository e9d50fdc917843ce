/* `clmtl compare`, shared between the runner (cmd_compare.c) and the report (compare_report.c):
 * what one finished run of one seed left behind. Part of the command-line program. */
#ifndef CLMTL_TOOLS_COMPARE_H
#define CLMTL_TOOLS_COMPARE_H

#include "clmtl/study.h"

/* One run of one seed, read from its log.jsonl (its last epoch record). */
typedef struct cmp_result {
  int done;                              /* finished: result.json present and complete */
  int final_epoch;                       /* the last epoch trained (early stopping may end sooner) */
  double metric[CLM_MTL_MAX_TASKS];      /* mIoU (0..1) for classification, MAE for regression */
  double sigma[CLM_MTL_MAX_TASKS];       /* σ = exp(s/2) of the uncertainty weightings; NaN else */
  double train_seconds;                  /* sum of the epochs' "seconds" (training + validation) */
  double wall_seconds;                   /* the child process, start-up and kernel builds included */
} cmp_result;

/* Reads dir/log.jsonl into r (the last record of each epoch; the largest epoch's metrics).
 * Returns 0, or 1 with a message in err. */
int cmp_read_log(const clm_study *s, const char *dir, cmp_result *r, char *err, size_t errsize);

/* Writes OUT/<name>.md, .csv, .json and .png from results[run * nseeds + seed] (runs not done
 * are left out of the statistics and named as missing). Returns 0, or 1 after printing what
 * went wrong. */
int cmp_write_report(const clm_study *s, const cmp_result *results);

#endif
