/* The multi-task weighting's state (clm_mtl_state: gradnorm's L(0) and step count, the
 * non-finite step counters, the recorded epoch means dwa weighs by) written into a
 * checkpoint's metadata and read back, checked; and lists of numbers in metadata. Not here:
 * the tensors (checkpoint.c), where training stands (trainer.c). */
#include <float.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/checkpoint.h"
#include "runtime/runtime-impl.h"

clm_status clm_checkpoint_meta_list(const char *path, const clm_checkpoint_meta *meta, int nmeta,
                                    const char *key, double *out, int n) {
  const char *s = clm_checkpoint_meta_get(meta, nmeta, key), *v = s;
  if (!s) CLM_FAIL(CLM_ERR_NOT_FOUND, "%s: metadata '%s' is missing", path, key);
  for (int i = 0; i < n; i++) {
    char *end = NULL;
    out[i] = *s && *s != ' ' && *s != ',' ? strtod(s, &end) : 0;
    if (!end || end == s || (i + 1 < n ? *end != ',' : *end != '\0'))
      CLM_FAIL(CLM_ERR_PARSE, "%s: metadata '%s' is '%.60s', not %d comma-separated numbers", path,
               key, v, n);
    s = end + (i + 1 < n);
  }
  return CLM_OK;
}

/* n numbers as "%.9g" joined by commas (as many as fit). */
static void join(char *buf, size_t size, const double *x, int n) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && used < size - 32; i++)
    used += (size_t)snprintf(buf + used, size - used, "%s%.9g", i ? "," : "", x[i]);
}

void clm_checkpoint_mtl_meta(const clm_mtl_state *st, clm_checkpoint_mtl_text *t,
                             clm_checkpoint_meta out[CLM_CHECKPOINT_MTL_KEYS]) {
  double l0[CLM_MTL_MAX_TASKS];
  for (int i = 0; i < st->ntasks; i++) l0[i] = st->l0[i];
  join(t->l0, sizeof t->l0, l0, st->ntasks);
  snprintf(t->steps, sizeof t->steps, "%ld", st->steps);
  snprintf(t->skipped[0], sizeof t->skipped[0], "%.9g", st->skipped_steps);
  snprintf(t->skipped[1], sizeof t->skipped[1], "%.9g", st->skipped_in_a_row);
  snprintf(t->epochs, sizeof t->epochs, "%d", st->epochs);
  join(t->means[0], sizeof t->means[0], st->last, st->ntasks);
  join(t->means[1], sizeof t->means[1], st->before, st->ntasks);
  const clm_checkpoint_meta m[CLM_CHECKPOINT_MTL_KEYS] = {
      {"mtl_steps", t->steps},   {"gradnorm_l0", t->l0},  {"skipped_steps", t->skipped[0]},
      {"skipped_in_a_row", t->skipped[1]}, {"dwa_epochs", t->epochs},
      {"dwa_last", t->means[0]}, {"dwa_before", t->means[1]}};
  memcpy(out, m, sizeof m);
}

clm_status clm_checkpoint_mtl_state(const char *path, const clm_checkpoint_meta *meta, int n,
                                    int ntasks, clm_mtl_state *out) {
  if (ntasks < 1 || ntasks > CLM_MTL_MAX_TASKS)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: weighting state of %d tasks", path, ntasks);
  memset(out, 0, sizeof *out);
  out->ntasks = ntasks;
  long long epochs = 0, steps = 0;
  CLM_TRY(clm_checkpoint_meta_int(path, meta, n, "dwa_epochs", 0, INT_MAX - 1, &epochs));
  CLM_TRY(clm_checkpoint_meta_list(path, meta, n, "dwa_last", out->last, ntasks));
  CLM_TRY(clm_checkpoint_meta_list(path, meta, n, "dwa_before", out->before, ntasks));
  out->epochs = (int)epochs;
  for (int i = 0; i < ntasks; i++) { /* recorded as float means: the same values again */
    out->last[i] = (float)out->last[i];
    out->before[i] = (float)out->before[i];
  }
  if (!clm_checkpoint_meta_get(meta, n, "mtl_steps")) return CLM_OK; /* saved before they were */
  double skipped = 0, in_a_row = 0, l0[CLM_MTL_MAX_TASKS] = {0};
  CLM_TRY(clm_checkpoint_meta_int(path, meta, n, "mtl_steps", 0, 1LL << 53, &steps));
  CLM_TRY(clm_checkpoint_meta_double(path, meta, n, "skipped_steps", 0, FLT_MAX, &skipped));
  CLM_TRY(clm_checkpoint_meta_double(path, meta, n, "skipped_in_a_row", 0, FLT_MAX, &in_a_row));
  CLM_TRY(clm_checkpoint_meta_list(path, meta, n, "gradnorm_l0", l0, ntasks));
  out->steps = (long)steps;
  out->skipped_steps = (float)skipped;
  out->skipped_in_a_row = (float)in_a_row;
  for (int i = 0; i < ntasks; i++) out->l0[i] = (float)l0[i];
  return CLM_OK;
}
