/* The training loop end to end on small synthetic scenes with the tiny model: epochs run,
 * the JSON Lines log holds one line per epoch with every task's losses, weights, σ and
 * metrics, validation loss falls, and callbacks see progress; a run stopped after two epochs
 * and resumed for the third writes the same checkpoint, byte for byte, as one that ran
 * straight through. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* The tiny model for `epochs` epochs into dir (resumed from dir when resume != 0). */
static clm_status small_run(const char *dir, int epochs, int resume) {
  clm_train_options o = clm_train_defaults();
  o.model_path = CLMTL_MODELS "/tiny.cfg";
  o.height = 16;
  o.width = 32;
  o.batch = 4;
  o.epochs = epochs;
  o.train_count = 12;
  o.val_count = 4;
  o.optim.lr = 5e-3f;
  o.schedule = CLM_LR_STEP; /* depends on the epoch only, not on how many epochs are asked */
  o.step_epochs = 2;
  o.patience = 0;
  o.out_dir = dir;
  o.resume = resume ? dir : NULL;
  return clm_train_run(&o, NULL);
}

static void test_resume(void) {
  char a[] = "/tmp/clmtl-straight-XXXXXX", b[] = "/tmp/clmtl-resumed-XXXXXX";
  if (!mkdtemp(a) || !mkdtemp(b)) return;
  test_status("straight run of 3 epochs", small_run(a, 3, 0));
  test_status("run of 2 epochs", small_run(b, 2, 0));
  test_status("resumed for the third", small_run(b, 3, 1));
  char pa[128], pb[128];
  snprintf(pa, sizeof pa, "%s/last.safetensors", a);
  snprintf(pb, sizeof pb, "%s/last.safetensors", b);
  long la = 0, lb = 0;
  char *fa = slurp(pa, &la), *fb = slurp(pb, &lb);
  test_true("resumed run's checkpoint equals the uninterrupted run's, byte for byte",
            fa && fb && la == lb && !memcmp(fa, fb, (size_t)la), NULL);
  free(fa);
  free(fb);
  char cmd[200];
  snprintf(cmd, sizeof cmd, getenv("CLMTL_TEST_KEEP") ? "true %s %s" : "rm -rf %s %s", a, b);
  if (system(cmd) != 0) printf("could not remove %s %s\n", a, b);
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
  while (f && fgets(line, sizeof line, f)) {
    lines++;
    complete += strstr(line, "\"semantic\":{\"train_loss\"") && strstr(line, "\"miou\"") &&
                strstr(line, "\"sigma\"") && strstr(line, "\"l1_per_pixel\"") && strstr(line, "\"val_loss\"");
  }
  if (f) fclose(f);
  test_true("log.jsonl: one complete line per epoch", lines == o.epochs && complete == o.epochs, NULL);
  /* bad options fail cleanly */
  o.model_path = "/nonexistent.cfg";
  st = clm_train_run(&o, NULL);
  test_true("a missing model file is an I/O error naming it",
            st == CLM_ERR_IO && strstr(clm_last_error(), "/nonexistent.cfg"), clm_last_error());
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) return 1;
  test_resume();
  return test_finish();
}
