/* `clmtl train`: option parsing and the progress display around clm_train_run. With no
 * arguments it trains the default model on built-in synthetic scenes with uncertainty
 * weighting and Adam. A progress bar on a terminal, plain lines otherwise. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "clmtl/train.h"

static const char *usage_text =
    "usage: clmtl train [options]\n"
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
    "                          backward per task); rlw (random weights), gls (geometric mean)\n"
    "  --gating none|hard|soft  --gate-threshold X   availability gating (default none, 0.2)\n"
    "  --clamp-min X --clamp-max X   sigma^2 range of uncertainty-clamped (1e-3, 10)\n"
    "  --alpha X               gradnorm alpha (1.5)   --temperature X   dwa T (2)\n"
    "  --noise-semantic P --noise-instance S --noise-depth S   synthetic target noise\n"
    "  --patience N            early stopping (default 3, 0 off)\n"
    "  --seed N  --device D  --out DIR (default runs/default)  --log-every N\n"
    "  --resume DIR            continue the run in DIR from its last.safetensors (same options)\n"
    "  --max-bad-steps N       stop after N steps in a row with a NaN/Inf loss (default 20)\n"
    "  --inject-nan-from STEP  testing aid: NaN targets from this step on\n";

static int bad(const char *opt, const char *value, const char *want) {
  fprintf(stderr, "clmtl train: %s %s: %s\n", opt, value ? value : "(missing)", want);
  return 2;
}

static int parse_long(const char *opt, const char *v, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long x = v ? strtol(v, &end, 10) : 0;
  if (!v || !*v || *end || errno || x < lo || x > hi) {
    char want[96];
    snprintf(want, sizeof want, "needs an integer in [%ld, %ld]", lo, hi);
    return bad(opt, v, want);
  }
  *out = x;
  return 0;
}

static int parse_float(const char *opt, const char *v, double lo, double hi, float *out) {
  char *end;
  errno = 0;
  double x = v ? strtod(v, &end) : 0;
  if (!v || !*v || *end || errno || !isfinite(x) || x < lo || x > hi) {
    char want[96];
    snprintf(want, sizeof want, "needs a number in [%g, %g]", lo, hi);
    return bad(opt, v, want);
  }
  *out = (float)x;
  return 0;
}

typedef struct { int tty; int last_len; } display;

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

static void on_progress(void *user, const clm_train_progress *p) {
  display *d = user;
  char line[512];
  int n = snprintf(line, sizeof line, "epoch %d/%d step %ld/%ld %5.1f img/s ETA %4.0fs lr %.2g |",
                   p->epoch + 1, p->epochs, p->step, p->total_steps, p->images_per_second,
                   p->eta_seconds, p->lr);
  for (int i = 0; i < p->tasks.ntasks && n < (int)sizeof line - 64; i++) {
    n += snprintf(line + n, sizeof line - (size_t)n, " L%d %.3f w %.2f", i, p->tasks.loss[i], p->tasks.weight[i]);
    if (p->tasks.sigma[i] == p->tasks.sigma[i])
      n += snprintf(line + n, sizeof line - (size_t)n, " σ %.2f", p->tasks.sigma[i]);
  }
  if (d->tty) {
    int width = 28;
    long done = p->step * width / (p->total_steps ? p->total_steps : 1);
    char bar[40];
    for (int i = 0; i < width; i++) bar[i] = i < done ? '#' : '.';
    bar[width] = '\0';
    printf("\r[%s] %s\033[K", bar, line);
  } else {
    printf("%s\n", line);
  }
  fflush(stdout);
}

static void on_epoch(void *user, const clm_epoch_report *r) {
  display *d = user;
  if (d->tty) printf("\n");
  printf("epoch %d: val loss %.4f%s (%.0f s)%s%s\n", r->epoch + 1, r->val_aggregate,
         r->val_skipped ? " (NaN tasks skipped)" : "", r->seconds, r->best ? "  best" : "",
         r->skipped_steps ? "  [non-finite steps skipped]" : "");
  for (int i = 0; i < r->ntasks; i++) {
    const clm_metrics_report *m = &r->metrics[i];
    printf("  %-10s train %.4f  val %.4f  ", r->task_names[i], r->train_loss[i], r->val_loss[i]);
    if (m->kind == CLM_METRICS_REGRESSION)
      printf("MAE %.4f  RMSE %.4f  rel %.3f  L1/px %.4f\n", m->mae, m->rmse, m->rel_error, m->l1_per_pixel);
    else
      printf("mIoU %.1f%%  pixel acc %.1f%%\n", 100 * m->miou, 100 * m->pixel_accuracy);
  }
  if (r->stop) printf("early stopping: no better validation loss for the last epochs\n");
  fflush(stdout);
}

int cmd_train(int argc, char **argv) {
  clm_train_options o = clm_train_defaults();
  long v;
  int out_given = 0, labels_given = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    int takes = 1, rc = 0;
    if (!strcmp(a, "--model")) o.model_path = val;
    else if (!strcmp(a, "--data")) o.data_dir = val;
    else if (!strcmp(a, "--out")) { o.out_dir = val; out_given = 1; }
    else if (!strcmp(a, "--resume")) o.resume = val;
    else if (!strcmp(a, "--device")) o.device = val;
    else if (!strcmp(a, "--skip-bad")) { o.skip_bad = 1; takes = 0; }
    else if (!strcmp(a, "--labels")) {
      labels_given = 1;
      if (val && !strcmp(val, "categories")) o.labels = CLM_LABELS_CATEGORIES;
      else if (val && !strcmp(val, "trainids")) o.labels = CLM_LABELS_TRAIN_IDS;
      else return bad(a, val, "is categories or trainids");
    } else if (!strcmp(a, "--size")) rc = cli_parse_size("train", a, val, &o.height, &o.width);
    else if (!strcmp(a, "--batch")) rc = cli_parse_batch("train", a, val, &o.batch);
    else if (!strcmp(a, "--epochs")) { rc = parse_long(a, val, 1, 100000, &v); o.epochs = (int)v; }
    else if (!strcmp(a, "--train-count")) { rc = parse_long(a, val, 1, 10000000, &v); o.train_count = (int)v; }
    else if (!strcmp(a, "--val-count")) { rc = parse_long(a, val, 1, 10000000, &v); o.val_count = (int)v; }
    else if (!strcmp(a, "--patience")) { rc = parse_long(a, val, 0, 100000, &v); o.patience = (int)v; }
    else if (!strcmp(a, "--log-every")) { rc = parse_long(a, val, 1, 1000000, &v); o.log_every = (int)v; }
    else if (!strcmp(a, "--max-bad-steps")) { rc = parse_long(a, val, 0, 1000000, &v); o.max_bad_steps = (int)v; }
    else if (!strcmp(a, "--inject-nan-from")) { rc = parse_long(a, val, 0, 0x7fffffffL, &v); o.inject_nan_from = v; }
    else if (!strcmp(a, "--step-epochs")) { rc = parse_long(a, val, 1, 100000, &v); o.step_epochs = (int)v; }
    else if (!strcmp(a, "--seed")) { rc = parse_long(a, val, 0, 0x7fffffffL, &v); o.seed = (uint64_t)v; o.synth.seed = (uint64_t)v; }
    else if (!strcmp(a, "--optimizer")) {
      clm_optim_kind k;
      if (clm_optim_parse(val ? val : "", &k) != CLM_OK) return bad(a, val, "is sgd, adam or adamw");
      float lr = o.optim.lr, task_lr = o.optim.task_lr;
      o.optim = clm_optim_defaults(k);
      o.optim.lr = lr;
      o.optim.task_lr = task_lr;
    } else if (!strcmp(a, "--lr")) rc = parse_float(a, val, 0, 10, &o.optim.lr);
    else if (!strcmp(a, "--task-lr")) rc = parse_float(a, val, 0, 10, &o.optim.task_lr);
    else if (!strcmp(a, "--no-decay-bias-norm")) { o.no_decay_bias_norm = 1; takes = 0; }
    else if (!strcmp(a, "--momentum")) rc = parse_float(a, val, 0, 0.999999, &o.optim.momentum);
    else if (!strcmp(a, "--weight-decay")) rc = parse_float(a, val, 0, 1, &o.optim.weight_decay);
    else if (!strcmp(a, "--gamma")) rc = parse_float(a, val, 0, 1, &o.gamma);
    else if (!strcmp(a, "--power")) rc = parse_float(a, val, 0, 10, &o.poly_power);
    else if (!strcmp(a, "--schedule")) {
      if (val && !strcmp(val, "constant")) o.schedule = CLM_LR_CONSTANT;
      else if (val && !strcmp(val, "step")) o.schedule = CLM_LR_STEP;
      else if (val && !strcmp(val, "poly")) o.schedule = CLM_LR_POLY;
      else return bad(a, val, "is constant, step or poly");
    } else if (!strcmp(a, "--weighting")) {
      if (clm_mtl_strategy_parse(val ? val : "", &o.weighting.strategy) != CLM_OK)
        return bad(a, val, strchr(clm_last_error(), '(') ? strchr(clm_last_error(), '(') : "unknown");
    } else if (!strcmp(a, "--gating")) {
      if (clm_mtl_gating_parse(val ? val : "", &o.weighting.gating) != CLM_OK) return bad(a, val, "is none, hard or soft");
    } else if (!strcmp(a, "--gate-threshold")) rc = parse_float(a, val, 0, 1, &o.weighting.gate_threshold);
    else if (!strcmp(a, "--clamp-min")) rc = parse_float(a, val, 1e-12, 1e12, &o.weighting.clamp_min);
    else if (!strcmp(a, "--clamp-max")) rc = parse_float(a, val, 1e-12, 1e12, &o.weighting.clamp_max);
    else if (!strcmp(a, "--alpha")) rc = parse_float(a, val, 0, 100, &o.weighting.gradnorm_alpha);
    else if (!strcmp(a, "--temperature")) rc = parse_float(a, val, 1e-6, 1e6, &o.weighting.dwa_temperature);
    else if (!strcmp(a, "--noise-semantic")) rc = parse_float(a, val, 0, 1, &o.synth.noise_semantic);
    else if (!strcmp(a, "--noise-instance")) rc = parse_float(a, val, 0, 1e4, &o.synth.noise_instance);
    else if (!strcmp(a, "--noise-depth")) rc = parse_float(a, val, 0, 1e4, &o.synth.noise_depth);
    else if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage_text, stdout); return 0; }
    else {
      fprintf(stderr, "clmtl train: unknown option '%s'\n%s", a, usage_text);
      return 2;
    }
    if (rc) return rc;
    if (takes) {
      if (!val) return bad(a, NULL, "needs a value");
      i++;
    }
  }
  static char model[1024];
  if (access(o.model_path, R_OK) != 0 &&
      !strncmp(o.model_path, "models/", 7)) { /* a shipped model, run from elsewhere */
    snprintf(model, sizeof model, "%s/%s", CLMTL_MODELS_DIR, o.model_path + 7);
    if (access(model, R_OK) == 0) o.model_path = model;
  }
  if (labels_given && !o.data_dir)
    return bad("--labels", o.labels == CLM_LABELS_TRAIN_IDS ? "trainids" : "categories",
               "applies to --data (the synthetic scenes are labelled with the 7 categories)");
  if (o.resume && !out_given) o.out_dir = o.resume; /* continue in the run's own directory */
  if (o.weighting.clamp_min >= o.weighting.clamp_max)
    return bad("--clamp-min", "", "must be below --clamp-max");
  clm_context_options co = cli_context_options_from_env();
  o.context = &co;
  o.device = cli_device(o.device);
  display d = {isatty(STDOUT_FILENO), 0};
  clm_train_callbacks cb = {on_start, on_progress, on_epoch, &d, on_note};
  clm_status st = clm_train_run(&o, &cb);
  if (st != CLM_OK) {
    if (d.tty) printf("\n");
    fprintf(stderr, "clmtl train: %s\n", clm_last_error());
    return 1;
  }
  printf("log: %s/log.jsonl\n", o.out_dir);
  return 0;
}
