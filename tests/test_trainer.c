/* The training loop end to end on small synthetic scenes with the tiny model: epochs run,
 * the JSON Lines log starts with a record of the options and holds one line per epoch with every task's losses, weights, σ and
 * metrics, validation loss falls, and callbacks see progress; a run stopped after two epochs
 * and resumed for the third writes the same checkpoint, byte for byte, as one that ran
 * straight through: with uncertainty weighting, with GradNorm (its initial losses L(0) and step
 * count travel in the checkpoint), with non-finite steps (their counters too) and with DWA
 * (the epoch means its weights follow come back with the weighting's state). DWA with
 * weight decay keeps its weights exactly 1 through its first two epochs: the task parameters
 * never decay. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/checkpoint.h"
#include "clmtl/train.h"
#include "test_util.h"

typedef struct { int progress, epochs; double first_val, last_val; } seen;

static void on_progress(void *user, const clm_train_progress *p) {
  seen *s = user;
  s->progress++;
  (void)p;
}

static char *slurp(const char *path, long *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)*len + 1);
  if (b && fread(b, 1, (size_t)*len, f) != (size_t)*len) { free(b); b = NULL; }
  fclose(f);
  return b;
}

/* The tiny model for `epochs` epochs into dir (resumed from dir when resume != 0), with a
 * weighting strategy and NaN targets from step nan_from on (-1: none). */
/* A progress callback that asks the run to stop once it has reported step stop_at. */
typedef struct { long stop_at; volatile sig_atomic_t stop; } stopper;

static void stop_progress(void *user, const clm_train_progress *p) {
  stopper *s = user;
  if (p->step >= s->stop_at) s->stop = 1;
}

static clm_status small_run_stop(const char *dir, int epochs, int resume, clm_mtl_strategy strategy,
                                 long nan_from, stopper *stop) {
  clm_train_options o = clm_train_defaults();
  o.context = test_context_options();
  o.model_path = CLMTL_MODELS "/tiny.cfg";
  o.height = 16;
  o.width = 32;
  o.batch = 4;
  o.epochs = epochs;
  o.train_count = 24;
  o.val_count = 4;
  o.optim.lr = 5e-3f;
  o.schedule = CLM_LR_STEP; /* depends on the epoch only, not on how many epochs are asked */
  o.step_epochs = 2;
  o.patience = 0;
  o.out_dir = dir;
  o.resume = resume ? dir : NULL;
  o.weighting.strategy = strategy;
  o.inject_nan_from = nan_from;
  o.log_every = 1;
  clm_train_callbacks cb = {NULL, stop_progress, NULL, stop, NULL};
  if (stop) o.stop_requested = &stop->stop;
  return clm_train_run(&o, stop ? &cb : NULL);
}

static clm_status small_run(const char *dir, int epochs, int resume, clm_mtl_strategy strategy,
                            long nan_from) {
  return small_run_stop(dir, epochs, resume, strategy, nan_from, NULL);
}

static void test_resume(clm_mtl_strategy strategy, long nan_from) {
  char a[] = "/tmp/clmtl-straight-XXXXXX", b[] = "/tmp/clmtl-resumed-XXXXXX";
  if (!mkdtemp(a) || !mkdtemp(b)) return;
  printf("resume with %s weighting%s\n", clm_mtl_strategy_name(strategy),
         nan_from >= 0 ? ", NaN targets from step 10 (6 steps per epoch)" : "");
  test_status("straight run of 3 epochs", small_run(a, 3, 0, strategy, nan_from));
  test_status("run of 2 epochs", small_run(b, 2, 0, strategy, nan_from));
  test_status("resumed for the third", small_run(b, 3, 1, strategy, nan_from));
  char pa[128], pb[128];
  snprintf(pa, sizeof pa, "%s/last.safetensors", a);
  snprintf(pb, sizeof pb, "%s/last.safetensors", b);
  long la = 0, lb = 0;
  char *fa = slurp(pa, &la), *fb = slurp(pb, &lb);
  test_true("resumed run's checkpoint equals the uninterrupted run's, byte for byte",
            fa && fb && la == lb && !memcmp(fa, fb, (size_t)la), NULL);
  free(fa);
  free(fb);
  /* the weighting's state as the resumed run saw it: GradNorm's L(0) of step 0 (recording
   * them again at the resumed step would change them) and the non-finite step count */
  clm_checkpoint_meta *ma = NULL, *mb = NULL;
  int na = 0, nb = 0;
  if (clm_checkpoint_read_meta(pa, &ma, &na) == CLM_OK && clm_checkpoint_read_meta(pb, &mb, &nb) == CLM_OK) {
    const char *keys[2] = {"gradnorm_l0", "skipped_steps"};
    for (int k = 0; k < 2; k++) {
      const char *va = clm_checkpoint_meta_get(ma, na, keys[k]), *vb = clm_checkpoint_meta_get(mb, nb, keys[k]);
      char name[160], detail[600];
      snprintf(name, sizeof name, "checkpoint metadata %s: resumed equals uninterrupted", keys[k]);
      snprintf(detail, sizeof detail, "%s vs %s", va ? va : "(absent)", vb ? vb : "(absent)");
      test_true(name, va && vb && !strcmp(va, vb), detail);
      if (k == 0 && strategy == CLM_MTL_GRADNORM)
        test_true("gradnorm L(0) recorded (not 0)", va && strtod(va, NULL) > 0, detail);
      if (k == 1 && nan_from >= 0)
        test_true("non-finite steps counted across the resume (8: steps 10 to 17)",
                  va && vb && atoi(va) == 8 && atoi(vb) == 8, detail);
    }
  }
  clm_checkpoint_meta_free(ma);
  clm_checkpoint_meta_free(mb);
  /* and the log's last epoch reports the same count */
  char la_[8192] = "", lb_[8192] = "", path[160];
  for (int k = 0; k < 2; k++) {
    snprintf(path, sizeof path, "%s/log.jsonl", k ? b : a);
    FILE *f = fopen(path, "r");
    char *dst = k ? lb_ : la_;
    while (f && fgets(dst, 8192, f)) {}
    if (f) fclose(f);
  }
  const char *sa = strstr(la_, "\"skipped_steps\":"), *sb = strstr(lb_, "\"skipped_steps\":");
  char counts[64];
  snprintf(counts, sizeof counts, "%d vs %d", sa ? atoi(sa + 16) : -1, sb ? atoi(sb + 16) : -1);
  test_true("log: the last epoch's skipped_steps agree", sa && sb && atoi(sa + 16) == atoi(sb + 16),
            counts);
  /* a stop request in the middle of epoch 2 (step 8 of 6 per epoch): last.safetensors holds
   * that step, and resuming from it ends where the uninterrupted run ends */
  char c[] = "/tmp/clmtl-stopped-XXXXXX";
  if (mkdtemp(c)) {
    stopper stop = {8, 0};
    clm_status st = small_run_stop(c, 3, 0, strategy, nan_from, &stop);
    test_true("a stop request mid-epoch returns CLM_ERR_INTERRUPTED naming the step",
              st == CLM_ERR_INTERRUPTED && strstr(clm_last_error(), "epoch 2 at step 8"), clm_last_error());
    char pc[128];
    snprintf(pc, sizeof pc, "%s/last.safetensors", c);
    clm_checkpoint_meta *mc = NULL;
    int nc = 0;
    long long es = -1, ep = -1;
    if (clm_checkpoint_read_meta(pc, &mc, &nc) == CLM_OK) {
      clm_checkpoint_meta_int(pc, mc, nc, "epoch_step", 0, 100, &es);
      clm_checkpoint_meta_int(pc, mc, nc, "epoch", 0, 100, &ep);
    }
    clm_checkpoint_meta_free(mc);
    char detail[96];
    snprintf(detail, sizeof detail, "epoch %lld, epoch_step %lld", ep, es);
    test_true("... its last.safetensors: 1 epoch completed and 2 steps into the second", ep == 1 && es == 2, detail);
    test_status("resumed from the stopped step", small_run(c, 3, 1, strategy, nan_from));
    long lc = 0;
    char *fc = slurp(pc, &lc);
    fa = slurp(pa, &la);
    test_true("... and its last checkpoint equals the uninterrupted run's, byte for byte",
              fa && fc && la == lc && !memcmp(fa, fc, (size_t)la), NULL);
    free(fa);
    free(fc);
    char rm[100];
    snprintf(rm, sizeof rm, "rm -rf %s", c);
    if (!getenv("CLMTL_TEST_KEEP") && system(rm) != 0) printf("could not remove %s\n", c);
  }
  char cmd[200];
  snprintf(cmd, sizeof cmd, getenv("CLMTL_TEST_KEEP") ? "true %s %s" : "rm -rf %s %s", a, b);
  if (system(cmd) != 0) printf("could not remove %s %s\n", a, b);
}

/* DWA's weights must stay exactly 1 in the first two epochs, whatever the weight decay. */
typedef struct { int steps, off_one; float worst; } dwa_seen;

static void dwa_progress(void *user, const clm_train_progress *p) {
  dwa_seen *s = user;
  if (p->epoch > 2) return; /* epochs 1 and 2 (1-based) */
  s->steps++;
  for (int i = 0; i < p->tasks.ntasks; i++)
    if (p->tasks.param[i] != 1.0f) {
      s->off_one++;
      s->worst = p->tasks.param[i];
    }
}

static void test_dwa_decay(void) {
  char dir[] = "/tmp/clmtl-dwa-XXXXXX";
  if (!mkdtemp(dir)) return;
  clm_train_options o = clm_train_defaults();
  o.context = test_context_options();
  o.model_path = CLMTL_MODELS "/tiny.cfg";
  o.height = 16;
  o.width = 32;
  o.batch = 4;
  o.epochs = 2;
  o.train_count = 12;
  o.val_count = 4;
  o.optim.weight_decay = 1e-4f; /* Adam: L2 decay added to the gradient */
  o.patience = 0;
  o.out_dir = dir;
  o.log_every = 1;
  o.weighting.strategy = CLM_MTL_DWA;
  dwa_seen s = {0, 0, 1.0f};
  clm_train_callbacks cb = {NULL, dwa_progress, NULL, &s, NULL};
  test_status("dwa with weight decay 1e-4, 2 epochs", clm_train_run(&o, &cb));
  char detail[96];
  snprintf(detail, sizeof detail, "%d of %d steps off 1 (e.g. %.6f)", s.off_one, s.steps, s.worst);
  test_true("dwa weights exactly 1 at every step of epochs 0 and 1 with weight decay",
            s.steps == 6 && s.off_one == 0, detail);
  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) printf("could not remove %s\n", dir);
}

static void on_epoch(void *user, const clm_epoch_report *r) {
  seen *s = user;
  if (s->epochs == 0) s->first_val = r->val_aggregate;
  s->last_val = r->val_aggregate;
  s->epochs++;
  printf("  epoch %d: val %.4f, %s mIoU %.3f, %s L1/px %.3f, %s MAE %.3f\n", r->epoch,
         r->val_aggregate, r->task_names[0], r->metrics[0].miou, r->task_names[1],
         r->metrics[1].l1_per_pixel, r->task_names[2], r->metrics[2].mae);
}

int main(void) {
  char dir[] = "/tmp/clmtl-trainer-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  clm_train_options o = clm_train_defaults();
  o.context = test_context_options();
  o.model_path = CLMTL_MODELS "/tiny.cfg";
  o.height = test_small() ? 16 : 32;
  o.width = test_small() ? 32 : 64;
  o.batch = 4;
  o.epochs = test_small() ? 2 : 4;
  o.train_count = test_small() ? 8 : 48;
  o.val_count = 8;
  o.optim.lr = 5e-3f;
  o.patience = 0;
  o.out_dir = dir;
  o.log_every = 3;
  seen s = {0};
  clm_train_callbacks cb = {NULL, on_progress, on_epoch, &s, NULL};
  clm_status st = clm_train_run(&o, &cb);
  test_status("train the tiny model on synthetic scenes", st);
  test_true("every epoch reported", s.epochs == o.epochs, NULL);
  test_true("progress reported", s.progress >= o.epochs, NULL);
  char detail[128];
  snprintf(detail, sizeof detail, "%.4f -> %.4f", s.first_val, s.last_val);
  if (!test_small()) test_true("validation loss falls", s.last_val < s.first_val, detail);
  char path[256], line[8192];
  snprintf(path, sizeof path, "%s/log.jsonl", dir);
  FILE *f = fopen(path, "r");
  int lines = 0, complete = 0;
  int start = 0, records = 0;
  while (f && fgets(line, sizeof line, f)) {
    if (!records++) start = strstr(line, "{\"event\":\"start\"") && strstr(line, "\"options\":{\"model\":") &&
                        strstr(line, "\"commit\":") && strstr(line, "\"time\":") && strstr(line, "\"model_text\":");
    if (!strstr(line, "\"event\":\"epoch\"")) continue;
    lines++;
    complete += strstr(line, "\"semantic\":{\"train_loss\"") && strstr(line, "\"miou\"") &&
                strstr(line, "\"sigma\"") && strstr(line, "\"l1_per_pixel\"") && strstr(line, "\"val_loss\"");
  }
  if (f) fclose(f);
  test_true("log.jsonl: one complete line per epoch", lines == o.epochs && complete == o.epochs, NULL);
  test_true("log.jsonl: the first record is the start, with options, model text, commit, time", start, NULL);
  /* bad options fail cleanly */
  o.model_path = "/nonexistent.cfg";
  st = clm_train_run(&o, NULL);
  test_true("a missing model file is an I/O error naming it",
            st == CLM_ERR_IO && strstr(clm_last_error(), "/nonexistent.cfg"), clm_last_error());
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) return 1;
  test_resume(CLM_MTL_UNCERTAINTY, -1);
  test_resume(CLM_MTL_GRADNORM, -1);
  test_resume(CLM_MTL_GRADNORM, 10);
  test_resume(CLM_MTL_DWA, -1); /* the third epoch weighs by the first two's means */
  test_dwa_decay();
  return test_finish();
}
