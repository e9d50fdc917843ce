/* `clmtl train`: option parsing, the run directory's name, the progress display and the
 * summary around clm_train_run. With no arguments it trains the default model on built-in
 * synthetic scenes with uncertainty weighting and Adam into runs/default-<N>. On a terminal
 * one progress line redrawn in place that fits the terminal's width, plain lines otherwise.
 * `--resume DIR` takes every option from the run's checkpoint; a first SIGINT/SIGTERM asks the
 * trainer to stop after the current step (the handler is clmtl.c's). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "clmtl/dist.h"
#include "clmtl/train.h"

static const char *usage_text =
    "usage: clmtl train [options]\n"
    "       clmtl train --resume DIR [--epochs N] [--patience N] [--log-every N] [--device D]\n"
    "  --model FILE.cfg        model (default models/default.cfg)\n"
    "  --data DIR              CityScapes-layout data (default: built-in synthetic scenes)\n"
    "  --skip-bad              leave out unreadable samples instead of stopping\n"
    "  --labels categories|trainids   CityScapes label mapping (default categories)\n"
    "  --size HxW              training resolution (default 64x128)\n"
    "  --batch N  --epochs N   (default 8, 6)\n"
    "  --train-count N  --val-count N   synthetic samples per split (default 480, 64)\n"
    "  --optimizer sgd|adam|adamw  --lr X  --momentum X  --weight-decay X\n"
    "  --task-lr X             learning rate of the weighting's task parameters (default: --lr;\n"
    "                          follows the schedule); they never take weight decay\n"
    "  --no-decay-bias-norm    no weight decay on biases and batch-norm weights/biases\n"
    "  --schedule constant|step|poly  --step-epochs N  --gamma X  --power X\n"
    "  --weighting NAME        fixed, equal, uncertainty (default), uncertainty-simple,\n"
    "                          uncertainty-clamped, softplus, gradnorm, dwa; gradient\n"
    "                          methods pcgrad, mgda-ub, cagrad, imtl-g, aligned-mtl (one\n"
    "                          backward per task); rlw (random weights), gls (geometric mean);\n"
    "                          uncertainty-exact (σ² inside the classification softmax)\n"
    "  --gating none|hard|soft  --gate-threshold X   availability gating (default none, 0.2)\n"
    "  --clamp-min X --clamp-max X   sigma^2 range of uncertainty-clamped (1e-3, 10)\n"
    "  --alpha X               gradnorm alpha (1.5)   --temperature X   dwa T (2)\n"
    "  --task-weights W1,W2,.. one weight per task of the model, in its order (fixed; default the\n"
    "                          model file's 'weight' keys, else 1)\n"
    "  --noise-semantic P --noise-instance S --noise-depth S   synthetic target noise\n"
    "  --noise-depth-far S  Gaussian disparity noise on the far half of each image only\n"
    "  --patience N            early stopping (default 3, 0 off)\n"
    "  --early-stop-patience N per task: a task whose validation metric (mIoU, MAE) has not\n"
    "                          improved for N epochs leaves training (its targets masked: weight\n"
    "                          0); best-<task>.safetensors keeps its best epoch (default 0, off)\n"
    "  --seed N  --device D  --log-every N (steps between progress lines and log records)\n"
    "  --out DIR               run directory (default runs/<model>-<N>, the next free N); one that\n"
    "                          holds a run is refused unless --overwrite\n"
    "  --overwrite             replace the run in --out\n"
    "  --resume DIR            continue the run in DIR from its last.safetensors with the options\n"
    "                          it recorded; only --epochs, --patience, --log-every, --device\n"
    "                          may be given differently (the change is logged)\n"
    "  --max-bad-steps N       stop after N steps in a row with a NaN/Inf loss (default 20)\n"
    "  --inject-nan-from STEP  testing aid: NaN targets from this step on\n"
    "  --dry-run               check the options and stop (exit 0) without training\n"
    "Several devices or machines (built with MPI): mpirun -np N clmtl train ... trains one model\n"
    "over N ranks; --batch is the global batch (a multiple of N); rank 0 writes the run.\n"
    "  --device D1,D2,...      the device of each local rank (local rank i takes entry i mod\n"
    "                          count); a spec several devices match (gpu) gives each local rank\n"
    "                          its own one\n"
    "  --sync-bn               batch-norm statistics over every rank's batch (default: per rank)\n"
    "  --check-replicas        compare every rank's parameters with rank 0's after each step\n"
    "  --inject-drift-at STEP  testing aid: move the last rank's first parameter at STEP\n"
    "Ctrl-C (or SIGTERM) stops after the current step, writes DIR/last.safetensors and prints\n"
    "the command that resumes; a second Ctrl-C ends at once. Exit status: 0 done, 1 error,\n"
    "2 usage, 130/143 stopped by SIGINT/SIGTERM.\n";

static int bad(const char *opt, const char *value, const char *want) {
  fprintf(stderr, "clmtl train: %s %s: %s\n", opt, value ? value : "(missing)", want);
  return 2;
}

typedef struct display {
  int tty;
  int drawn;                 /* a progress line is on the terminal, not yet ended */
  int have_best;
  clm_epoch_report best;     /* the best epoch's report, names copied */
  char best_names[CLM_MTL_MAX_TASKS][64];
} display;

/* Columns of the terminal on stdout: TIOCGWINSZ, else $COLUMNS, else 80. */
static int term_width(void) {
  struct winsize ws;
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  const char *c = getenv("COLUMNS");
  int w = c ? atoi(c) : 0;
  return w > 0 ? w : 80;
}

/* Characters on screen: UTF-8 continuation bytes take no column. */
static int columns(const char *s) {
  int n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xc0) != 0x80;
  return n;
}

static void on_start(void *user, const char *device, const char *model, long params) {
  (void)user;
  printf("clmtl train: %s on %s, %ld parameters\n", model, device, params);
  fflush(stdout);
}

/* Samples left out by --skip-bad and tasks the data cannot serve: on stderr before training. */
static void on_note(void *user, const char *note) {
  (void)user;
  fprintf(stderr, "clmtl train: %s\n", note);
}

/* The progress fields, most important first; on a terminal those that do not fit are dropped
 * (a task's weight and σ before the task, the bar before the rest), and the kept ones are
 * shown in their natural order. */
enum { F_EPOCH, F_STEP, F_ETA, F_RATE, F_TASK0, F_BAR = F_TASK0 + CLM_MTL_MAX_TASKS, F_LR, F_COUNT };

static void on_progress(void *user, const clm_train_progress *p) {
  display *d = user;
  char f[F_COUNT][160], full[CLM_MTL_MAX_TASKS][160];
  int nt = p->tasks.ntasks < CLM_MTL_MAX_TASKS ? p->tasks.ntasks : CLM_MTL_MAX_TASKS;
  snprintf(f[F_EPOCH], sizeof f[0], "epoch %d/%d", p->epoch, p->epochs);
  snprintf(f[F_STEP], sizeof f[0], "step %ld/%ld", p->step, p->total_steps);
  snprintf(f[F_ETA], sizeof f[0], "ETA %.0fs", p->eta_seconds);
  snprintf(f[F_RATE], sizeof f[0], "%.1f img/s", p->images_per_second);
  snprintf(f[F_LR], sizeof f[0], "lr %.2g", p->lr);
  const char *names[CLM_MTL_MAX_TASKS];
  for (int i = 0; i < CLM_MTL_MAX_TASKS; i++) {
    f[F_TASK0 + i][0] = '\0';
    if (i >= nt) continue;
    names[i] = p->task_names[i];
    char fallback[16];
    snprintf(fallback, sizeof fallback, "task%d", i);
    const char *name = names[i] ? names[i] : fallback;
    snprintf(f[F_TASK0 + i], sizeof f[0], "%s %.3f", name, p->tasks.loss[i]);
    int n = snprintf(full[i], sizeof full[i], "%s %.3f w %.2f", name, p->tasks.loss[i], p->tasks.weight[i]);
    if (p->tasks.sigma[i] == p->tasks.sigma[i])
      snprintf(full[i] + n, sizeof full[i] - (size_t)n, " σ %.2f", p->tasks.sigma[i]);
  }
  long width = 24, done = p->step * width / (p->total_steps ? p->total_steps : 1);
  char *bar = f[F_BAR];
  bar[0] = '[';
  for (int i = 0; i < width; i++) bar[1 + i] = i < done ? '#' : '.';
  bar[1 + width] = ']';
  bar[2 + width] = '\0';
  if (!d->tty) {
    printf("%s %s %s %s %s |", f[F_EPOCH], f[F_STEP], f[F_RATE], f[F_ETA], f[F_LR]);
    for (int i = 0; i < nt; i++) printf(" %s", full[i]);
    printf("\n");
    fflush(stdout);
    return;
  }
  /* greedy by importance: the fields in F_ order, then tasks widened to their full text */
  int room = term_width() - 1, used = 0, keep[F_COUNT] = {0}, wide[CLM_MTL_MAX_TASKS] = {0};
  for (int k = 0; k < F_COUNT; k++) {
    int w = columns(f[k]) + (used ? 1 : 0);
    if (f[k][0] && used + w <= room) { keep[k] = 1; used += w; }
  }
  for (int i = 0; i < nt; i++) {
    int extra = columns(full[i]) - columns(f[F_TASK0 + i]);
    if (keep[F_TASK0 + i] && used + extra <= room) { wide[i] = 1; used += extra; }
  }
  static const int order[] = {F_EPOCH, F_BAR, F_STEP, F_RATE, F_ETA, F_LR};
  char line[2048];
  int n = 0;
  for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
    if (keep[order[k]]) n += snprintf(line + n, sizeof line - (size_t)n, "%s%s", n ? " " : "", f[order[k]]);
  for (int i = 0; i < nt; i++)
    if (keep[F_TASK0 + i])
      n += snprintf(line + n, sizeof line - (size_t)n, "%s%s", n ? " " : "", wide[i] ? full[i] : f[F_TASK0 + i]);
  printf("\r%s\033[K", line);
  d->drawn = 1;
  fflush(stdout);
}

static void print_metrics(const clm_epoch_report *r, const char *const *names) {
  for (int i = 0; i < r->ntasks; i++) {
    const clm_metrics_report *m = &r->metrics[i];
    printf("  %-10s train %.4f  val %.4f  ", names[i], r->train_loss[i], r->val_loss[i]);
    if (m->kind == CLM_METRICS_REGRESSION)
      printf("MAE %.4f  RMSE %.4f  rel %.3f  L1/px %.4f\n", m->mae, m->rmse, m->rel_error, m->l1_per_pixel);
    else
      printf("mIoU %.1f%%  pixel acc %.1f%%\n", 100 * m->miou, 100 * m->pixel_accuracy);
  }
}

static void on_epoch(void *user, const clm_epoch_report *r) {
  display *d = user;
  if (d->drawn) printf("\n");
  d->drawn = 0;
  for (int i = 0; i < r->ntasks && i < CLM_MTL_MAX_TASKS; i++)
    snprintf(d->best_names[i], sizeof d->best_names[i], "%s", r->task_names[i]);
  printf("epoch %d: val loss %.4f%s (%.0f s)%s%s\n", r->epoch, r->val_aggregate,
         r->val_skipped ? " (NaN tasks skipped)" : "", r->seconds, r->best ? "  best" : "",
         r->skipped_steps ? "  [non-finite steps skipped]" : "");
  print_metrics(r, r->task_names);
  if (r->best) {
    d->best = *r;
    d->have_best = 1;
  }
  int left = 0, per_task = 0;
  for (int i = 0; i < r->ntasks && i < CLM_MTL_MAX_TASKS; i++) {
    left += !r->task_stopped[i];
    per_task |= r->task_stopped[i] != 0;
    if (r->task_stopped[i] == r->epoch)
      printf("early stopping of task %s: no better validation %s since epoch %d (best-%s.safetensors); "
             "left out of training from now on\n", r->task_names[i],
             r->metrics[i].kind == CLM_METRICS_REGRESSION ? "MAE" : "mIoU", r->task_best_epoch[i], r->task_names[i]);
  }
  if (r->stop && per_task && !left) printf("early stopping: every task has stopped\n");
  else if (r->stop) printf("early stopping: no better validation loss for the last epochs\n");
  fflush(stdout);
}

/* The end of a run: the best epoch and its metrics, the files, the wall time. */
static void summary(display *d, const char *out, double seconds) {
  printf("\n");
  if (d->have_best) {
    const char *names[CLM_MTL_MAX_TASKS];
    for (int i = 0; i < CLM_MTL_MAX_TASKS; i++) names[i] = d->best_names[i];
    printf("best epoch %d: val loss %.4f\n", d->best.epoch, d->best.val_aggregate);
    print_metrics(&d->best, names);
  }
  printf("checkpoints: %s/best.safetensors  %s/last.safetensors\n", out, out);
  printf("log: %s/log.jsonl\n", out);
  printf("wall time: %.1f s\n", seconds);
  printf("run directory: %s\n", out);
}

/* The option string of a stored option as the command line gives it, or NULL to leave it out:
 * --model (the text comes from the checkpoint), unset values, false flags. */
static int stored_arg(const clm_checkpoint_meta *m, int have_data, const char **opt, const char **val) {
  static char name[80];
  if (!strcmp(m->key, "model") || !strcmp(m->value, "null") || !strcmp(m->value, "false")) return 0;
  if (!strcmp(m->key, "labels") && !have_data) return 0;
  if (!strcmp(m->key, "inject-nan-from") && !strcmp(m->value, "-1")) return 0;
  snprintf(name, sizeof name, "--%s", m->key);
  *opt = name;
  *val = strcmp(m->value, "true") ? m->value : NULL;
  return 1;
}

/* 'dir' for a shell: single-quoted unless it is plain. */
static void print_quoted(const char *s) {
  if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./+:=,@") == strlen(s)) {
    fputs(s, stdout);
    return;
  }
  putchar('\'');
  for (; *s; s++) {
    if (*s == '\'') fputs("'\\''", stdout);
    else putchar(*s);
  }
  putchar('\'');
}

/* runs/<stem of the model file>-<N>, N the first that mkdir creates (so two runs started
 * together get different ones). */
static int claim_run_dir(const char *model, char *out, size_t size) {
  const char *base = strrchr(model, '/');
  base = base ? base + 1 : model;
  char stem[128];
  snprintf(stem, sizeof stem, "%s", base);
  char *dot = strrchr(stem, '.');
  if (dot && dot != stem) *dot = '\0';
  if (mkdir("runs", 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "clmtl train: cannot create the directory 'runs': %s (give --out DIR)\n", strerror(errno));
    return 1;
  }
  for (int n = 1; n < 1000000; n++) {
    snprintf(out, size, "runs/%s-%d", stem, n);
    if (mkdir(out, 0755) == 0) return 0;
    if (errno != EEXIST) {
      fprintf(stderr, "clmtl train: cannot create %s: %s (give --out DIR)\n", out, strerror(errno));
      return 1;
    }
  }
  fprintf(stderr, "clmtl train: no free runs/%s-N directory\n", stem);
  return 1;
}

/* What the options table fills besides clm_train_options: the flags train_main checks once the
 * line is read, and the options with custom parsing (the CLI_CALL rows below). */
typedef struct train_cli {
  clm_train_options o;
  int out_given, labels_given, dry_run;
  long seed;                /* --seed, -1 unset: it seeds both the model and the synthetic data */
  const char *task_weights; /* --task-weights, parsed once the line is read */
} train_cli;

static int opt_out(void *ctx, const char *opt, const char *val) {
  train_cli *c = ctx;
  (void)opt;
  c->o.out_dir = val;
  c->out_given = 1;
  return 0;
}

static int opt_labels(void *ctx, const char *opt, const char *val) {
  train_cli *c = ctx;
  c->labels_given = 1;
  if (!strcmp(val, "categories")) c->o.labels = CLM_LABELS_CATEGORIES;
  else if (!strcmp(val, "trainids")) c->o.labels = CLM_LABELS_TRAIN_IDS;
  else return bad(opt, val, "is categories or trainids");
  return 0;
}

/* --optimizer sets the kind's defaults but keeps --lr and --task-lr wherever they stand. */
static int opt_optimizer(void *ctx, const char *opt, const char *val) {
  clm_train_options *o = &((train_cli *)ctx)->o;
  clm_optim_kind k;
  if (clm_optim_parse(val, &k) != CLM_OK) return bad(opt, val, "is sgd, adam or adamw");
  float lr = o->optim.lr, task_lr = o->optim.task_lr;
  o->optim = clm_optim_defaults(k);
  o->optim.lr = lr;
  o->optim.task_lr = task_lr;
  return 0;
}

static int opt_schedule(void *ctx, const char *opt, const char *val) {
  clm_train_options *o = &((train_cli *)ctx)->o;
  if (!strcmp(val, "constant")) o->schedule = CLM_LR_CONSTANT;
  else if (!strcmp(val, "step")) o->schedule = CLM_LR_STEP;
  else if (!strcmp(val, "poly")) o->schedule = CLM_LR_POLY;
  else return bad(opt, val, "is constant, step or poly");
  return 0;
}

/* The library's message lists the valid names in parentheses. */
static int opt_weighting(void *ctx, const char *opt, const char *val) {
  clm_train_options *o = &((train_cli *)ctx)->o;
  if (clm_mtl_strategy_parse(val, &o->weighting.strategy) == CLM_OK) return 0;
  const char *names = strchr(clm_last_error(), '(');
  return bad(opt, val, names ? names : "unknown");
}

static int opt_gating(void *ctx, const char *opt, const char *val) {
  clm_train_options *o = &((train_cli *)ctx)->o;
  if (clm_mtl_gating_parse(val, &o->weighting.gating) == CLM_OK) return 0;
  return bad(opt, val, "is none, hard or soft");
}

/* Parses argv[1..argc) into c: 0, -1 after --help, else 2 (printed). Called for a resumed
 * run's stored options and then for the user's, so that a later option wins. */
static int parse_train_args(train_cli *c, int argc, char **argv) {
  clm_train_options *o = &c->o;
  const cli_opt opts[] = {
      CLI_OPT_STRING("--model", &o->model_path),
      CLI_OPT_STRING("--data", &o->data_dir),
      CLI_OPT_CALL("--out", c, opt_out),
      CLI_OPT_STRING("--resume", &o->resume),
      CLI_OPT_STRING("--device", &o->device),
      CLI_OPT_FLAG("--skip-bad", &o->skip_bad),
      CLI_OPT_FLAG("--overwrite", &o->overwrite),
      CLI_OPT_FLAG("--dry-run", &c->dry_run),
      CLI_OPT_STRING("--task-weights", &c->task_weights),
      CLI_OPT_CALL("--labels", c, opt_labels),
      CLI_OPT_SIZE("--size", &o->height, &o->width),
      CLI_OPT_BATCH("--batch", &o->batch),
      CLI_OPT_INT("--epochs", &o->epochs, 1, 100000),
      CLI_OPT_INT("--train-count", &o->train_count, 1, 10000000),
      CLI_OPT_INT("--val-count", &o->val_count, 1, 10000000),
      CLI_OPT_INT("--patience", &o->patience, 0, 100000),
      CLI_OPT_INT("--early-stop-patience", &o->early_stop_patience, 0, 100000),
      CLI_OPT_INT("--log-every", &o->log_every, 1, 1000000),
      CLI_OPT_INT("--max-bad-steps", &o->max_bad_steps, 0, 1000000),
      CLI_OPT_LONG("--inject-nan-from", &o->inject_nan_from, 0, 0x7fffffffL),
      CLI_OPT_LONG("--inject-drift-at", &o->inject_drift_at, 0, 0x7fffffffL),
      CLI_OPT_FLAG("--check-replicas", &o->check_replicas),
      CLI_OPT_FLAG("--sync-bn", &o->sync_bn),
      CLI_OPT_INT("--step-epochs", &o->step_epochs, 1, 100000),
      CLI_OPT_LONG("--seed", &c->seed, 0, 0x7fffffffL),
      CLI_OPT_CALL("--optimizer", c, opt_optimizer),
      CLI_OPT_REAL("--lr", &o->optim.lr, 0, 10),
      CLI_OPT_REAL("--task-lr", &o->optim.task_lr, 0, 10),
      CLI_OPT_FLAG("--no-decay-bias-norm", &o->no_decay_bias_norm),
      CLI_OPT_REAL("--momentum", &o->optim.momentum, 0, 0.999999),
      CLI_OPT_REAL("--weight-decay", &o->optim.weight_decay, 0, 1),
      CLI_OPT_REAL("--gamma", &o->gamma, 0, 1),
      CLI_OPT_REAL("--power", &o->poly_power, 0, 10),
      CLI_OPT_CALL("--schedule", c, opt_schedule),
      CLI_OPT_CALL("--weighting", c, opt_weighting),
      CLI_OPT_CALL("--gating", c, opt_gating),
      CLI_OPT_REAL("--gate-threshold", &o->weighting.gate_threshold, 0, 1),
      CLI_OPT_REAL("--clamp-min", &o->weighting.clamp_min, 1e-12, 1e12),
      CLI_OPT_REAL("--clamp-max", &o->weighting.clamp_max, 1e-12, 1e12),
      CLI_OPT_REAL("--alpha", &o->weighting.gradnorm_alpha, 0, 100),
      CLI_OPT_REAL("--temperature", &o->weighting.dwa_temperature, 1e-6, 1e6),
      CLI_OPT_REAL("--noise-semantic", &o->synth.noise_semantic, 0, 1),
      CLI_OPT_REAL("--noise-instance", &o->synth.noise_instance, 0, 1e4),
      CLI_OPT_REAL("--noise-depth", &o->synth.noise_depth, 0, 1e4),
      CLI_OPT_REAL("--noise-depth-far", &o->synth.noise_depth_far, 0, 1e4),
      CLI_OPT_END};
  int npos;
  return cli_args_parse("train", usage_text, opts, argc, argv, NULL, 0, &npos);
}

/* Over several ranks (mpirun), messages start with "rank R of N on HOST: ". */
static const char *who(const clm_dist *d) {
  static char buf[320];
  if (clm_dist_size(d) <= 1) return "";
  clm_dist_describe(d, buf, sizeof buf);
  strcat(buf, ": ");
  return buf;
}

/* With --resume DIR among the user's arguments (into *resume_out): the options the run recorded
 * as a command line into *argv_out (argc_out entries, argv_user[0] first); without, argv_user[0]
 * alone. *help when the user asked for it. Nonzero (printed) on failure. The strings stay valid
 * to the end. */
static int stored_argv(int argc_user, char **argv_user, int *argc_out, char ***argv_out, int *help,
                       const char **resume_out, const clm_dist *o_dist) {
  const char *resume = NULL;
  *help = 0;
  for (int i = 1; i < argc_user; i++) {
    if (!strcmp(argv_user[i], "--help") || !strcmp(argv_user[i], "-h")) {
      *help = 1;
      return 0;
    }
    if (!strcmp(argv_user[i], "--resume") && i + 1 < argc_user) resume = argv_user[++i];
  }
  static clm_checkpoint_meta *stored; /* argv points into it until the end */
  int nstored = 0, have_data = 0;
  if (resume && clm_train_stored_options(resume, &stored, &nstored) != CLM_OK) {
    fprintf(stderr, "clmtl train: %s--resume %s: %s\n", who(o_dist), resume, cli_error());
    return 1;
  }
  for (int i = 0; i < nstored; i++) have_data |= !strcmp(stored[i].key, "data") && strcmp(stored[i].value, "null");
  static char **argv;
  static char (*names)[80];
  free(argv); /* a second call in one process (clmtl compare's --dry-run checks) */
  free(names);
  argv = calloc((size_t)(2 * nstored + 2), sizeof *argv);
  names = calloc((size_t)nstored + 1, sizeof *names);
  if (!argv || !names) return 1;
  int argc = 0;
  argv[argc++] = argv_user[0];
  for (int i = 0; i < nstored; i++) {
    const char *opt, *val;
    if (!stored_arg(&stored[i], have_data, &opt, &val)) continue;
    snprintf(names[i], sizeof names[i], "%s", opt);
    argv[argc++] = names[i];
    if (val) argv[argc++] = (char *)val;
  }
  *argc_out = argc;
  *argv_out = argv;
  *resume_out = resume;
  return 0;
}

/* Runs the training with the display's callbacks and reports how it ended: the summary, the
 * error, a removed empty run directory (run_dir: the one claimed, "" if none), the resume
 * command after a signal. The command's exit status. */
static int run_and_report(clm_train_options *o, const char *run_dir) {
  clm_dist *dist = o->dist;
  int rank = clm_dist_rank(dist);
  clm_context_options co = cli_context_options_from_env();
  o->context = &co;
  o->device = cli_device(o->device);
  o->stop_requested = &cli_stop_signal;
  display d;
  memset(&d, 0, sizeof d);
  d.tty = isatty(STDOUT_FILENO);
  clm_train_callbacks cb = {on_start, on_progress, on_epoch, &d, on_note};
  if (rank == 0) { /* rank 0 alone prints */
    printf("clmtl train: run directory %s\n", o->out_dir);
    if (clm_dist_size(dist) > 1) printf("clmtl train: %d ranks, global batch %d (%d per rank)\n",
                                        clm_dist_size(dist), o->batch, o->batch / clm_dist_size(dist));
    fflush(stdout);
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cli_stop_graceful = 1;
  clm_status st = clm_train_run(o, rank == 0 ? &cb : NULL);
  cli_stop_graceful = 0;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  if (d.drawn) printf("\n");
  int sig = cli_stop_signal;
  if (st != CLM_OK && !(sig && st == CLM_ERR_INTERRUPTED))
    fprintf(stderr, "clmtl train: %s%s\n", who(dist), cli_error());
  if (st == CLM_OK && rank == 0) summary(&d, o->out_dir, seconds);
  if (st != CLM_OK && rank == 0 && run_dir[0] && !clm_train_dir_has_run(run_dir, NULL)) {
    /* a run that failed before writing anything leaves no runs/<model>-N behind */
    char *lock = clm_path_join(run_dir, ".lock");
    if (lock) unlink(lock);
    free(lock);
    rmdir(run_dir);
  }
  if (sig && rank != 0) return st == CLM_OK ? 0 : 128 + sig;
  if (sig) {
    char *last = clm_path_join(o->out_dir, "last.safetensors");
    if (st == CLM_ERR_INTERRUPTED) printf("clmtl train: stopped by %s; %s\n", sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal", cli_error());
    if (last && access(last, F_OK) == 0) {
      printf("resume with: %s train --resume ", cli_program);
      print_quoted(o->out_dir);
      printf("\n");
    }
    free(last);
    fflush(stdout);
    return st == CLM_OK ? 0 : 128 + sig;
  }
  return st == CLM_OK ? 0 : 1;
}

/* --task-weights W1,W2,..: one weight >= 0 per task into w (the trainer checks the count
 * against the model's tasks). 0, or 2 (printed) when malformed. */
static int parse_task_weights(const char *list, clm_mtl_config *w) {
  int n = 0;
  const char *p = list;
  for (;;) {
    char *end;
    errno = 0;
    double x = strtod(p, &end);
    if (end == p || errno || !isfinite(x) || x < 0 || n == CLM_MTL_MAX_TASKS || (*end && *end != ','))
      return bad("--task-weights", list, "needs comma-separated numbers >= 0, one per task");
    w->weight[n++] = (float)x;
    if (!*end) break;
    p = end + 1;
  }
  clm_mtl_config d = clm_mtl_defaults(w->strategy, n);
  w->ntasks = n;
  for (int i = 0; i < n; i++) w->init_param[i] = d.init_param[i];
  return 0;
}

static int train_main(int argc_user, char **argv_user, clm_dist *dist) {
  train_cli c = {.o = clm_train_defaults(), .seed = -1};
  clm_train_options *o = &c.o;
  o->dist = dist;
  int argc = 0, help = 0;
  char **argv = NULL;
  const char *resume = NULL;
  if (stored_argv(argc_user, argv_user, &argc, &argv, &help, &resume, dist)) return 1;
  if (help) {
    fputs(usage_text, stdout);
    return 0;
  }
  /* a resumed run keeps the checkpoint's model text (NULL) unless the user gives --model; the
   * stored options never hold --model */
  if (resume) o->model_path = NULL;
  int rc = parse_train_args(&c, argc, argv);
  c.labels_given = 0; /* the run's own --labels went with its --data */
  if (!rc) rc = parse_train_args(&c, argc_user, argv_user);
  if (rc) return rc < 0 ? 0 : rc;
  if (c.seed >= 0) o->seed = o->synth.seed = (uint64_t)c.seed;
  o->model_path = cli_shipped_model(o->model_path); /* a shipped model, run from elsewhere */
  if (c.labels_given && !o->data_dir)
    return bad("--labels", o->labels == CLM_LABELS_TRAIN_IDS ? "trainids" : "categories",
               "applies to --data (the synthetic scenes are labelled with the 7 categories)");
  if (o->resume && !c.out_given) o->out_dir = o->resume; /* continue in the run's own directory */
  if (o->weighting.clamp_min >= o->weighting.clamp_max)
    return bad("--clamp-min", "", "must be below --clamp-max");
  if (c.task_weights && parse_task_weights(c.task_weights, &o->weighting)) return 2;
  if (c.dry_run) return 0;
  static char run_dir[1200];
  if (!o->resume && !c.out_given) { /* rank 0 claims it, the others learn its name */
    if (clm_dist_rank(dist) == 0 && claim_run_dir(o->model_path, run_dir, sizeof run_dir)) return 1;
    if (clm_dist_broadcast(dist, run_dir, sizeof run_dir, 0) != CLM_OK) {
      fprintf(stderr, "clmtl train: %s%s\n", who(dist), cli_error());
      return 1;
    }
    o->out_dir = run_dir;
  }
  return run_and_report(o, run_dir);
}

int cmd_train(int argc, char **argv) {
  clm_dist *dist = NULL;
  if (clm_dist_init(&dist) != CLM_OK) {
    fprintf(stderr, "clmtl train: %s\n", cli_error());
    return 1;
  }
  int rc = train_main(argc, argv, dist);
  /* a failure on one rank (its device, its memory, its files) ends every rank at once, rather
   * than leaving them waiting in the next collective; usage errors and stops on request are
   * the same on every rank, which then finish together */
  if (rc == 1 && clm_dist_size(dist) > 1) {
    fflush(stdout);
    fflush(stderr);
    clm_dist_abort(dist, 1);
  }
  clm_dist_free(dist);
  return rc;
}
