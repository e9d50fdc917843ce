/* The training loop (train.h): set-up of data, log and run directory around a session
 * (session.c: device, graph, weighting, optimizer); epochs of steps (step.c) with the next
 * batch filled on a helper thread; validation with fixed-weight losses and per-task metrics;
 * JSON Lines log; early stopping; where training stands saved with each checkpoint and
 * restored by --resume. Checkpoint files: checkpoint.c. */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "clmtl/util.h"
#include "clmtl/checkpoint.h"
#include "clmtl/rundir.h"
#include "clmtl/step.h"
#include "clmtl/train.h"
#include "clmtl/version.h"
#include "dist/reduce.h"
#include "runtime/runtime-impl.h"
#include "train/batch.h"
#include "train/early_stop.h"
#include "train/train-options-impl.h"

clm_train_options clm_train_defaults(void) {
  clm_train_options o;
  memset(&o, 0, sizeof o);
  o.model_path = "models/default.cfg";
  o.height = 64;
  o.width = 128;
  o.batch = 8;
  o.epochs = 6;
  o.train_count = 480;
  o.val_count = 64;
  o.synth.seed = 1;
  o.optim = clm_optim_defaults(CLM_OPTIM_ADAM);
  o.optim.lr = 2e-3f;
  o.schedule = CLM_LR_POLY;
  o.step_epochs = 10;
  o.gamma = 0.1f;
  o.poly_power = 0.9f;
  o.weighting = clm_mtl_defaults(CLM_MTL_UNCERTAINTY, 0);
  o.patience = 3;
  o.seed = 1;
  o.out_dir = "runs/default";
  o.log_every = 5;
  o.max_bad_steps = 20;
  o.inject_nan_from = -1;
  o.inject_drift_at = -1;
  return o;
}

typedef struct trainer {
  const clm_train_options *o;
  clm_session *session;     /* context, graph, weighting, optimizer state */
  clm_context *ctx;         /* ... its parts */
  clm_graph *g;
  clm_mtl *mtl;
  clm_optim_state *opt;
  clm_step_hooks hooks;     /* inside each step (step.h); none by default */
  clm_dataset *train, *val;
  clm_batch batches[2];
  clm_metrics *metrics;
  clm_mem acc;              /* per-task loss sums and counts over an epoch */
  int ntasks;
  FILE *log;
  clm_rundir *rundir;       /* out_dir, locked for this run */
  const char *model_text;   /* the graph's: hashed into checkpoints and stored in them */
  char model_name[1024];    /* the model's path, or where --resume took its text from */
  char *options_json;       /* clm__train_options_json: checkpoints and the log record it */
  long epoch_step;          /* --resume of an interrupted epoch: its steps already taken */
  float epoch_acc[2 * CLM_MTL_MAX_TASKS]; /* ... and its loss sums and counts */
  int interrupted_save;     /* last.safetensors is being written mid-epoch */
  /* where training stands: restored by --resume */
  int first_epoch;
  long step;
  double best;
  int since_best;
  clm_feeds feeds;          /* the graph's inputs bound to the data by name (feeds.h) */
  clm_early_stop es;        /* per-task early stopping (early_stop.h) */
  const clm_train_callbacks *cb;
  /* the epoch loop */
  int *order;               /* this epoch's sample order */
  long per_epoch, total;    /* steps */
  long first_step;          /* t->step when this process started training */
  double start;             /* and when */
  clm_tensor losses;        /* acc's view: this epoch's loss sums and counts (step.h) */
  /* data parallelism (dist.h): this rank's share of each global batch */
  clm_dist *dist;
  int rank, ranks, local_batch;
  size_t shard;             /* rank·local_batch: this rank's slice of each global batch */
  long replica_checks;      /* steps after which the replicas were compared (check_replicas) */
} trainer;

static clm_status open_data(trainer *t) {
  const clm_train_options *o = t->o;
  if (o->data_dir) {
    clm_cityscapes_options c = {o->data_dir, CLM_SPLIT_TRAIN, o->height, o->width, o->labels, o->skip_bad};
    CLM_TRY(clm_cityscapes_open(&c, &t->train));
    c.split = CLM_SPLIT_VAL;
    return clm_cityscapes_open(&c, &t->val);
  }
  clm_synth_options s = o->synth;
  s.height = o->height;
  s.width = o->width;
  s.count = o->train_count;
  CLM_TRY(clm_synth_open(&s, CLM_SPLIT_TRAIN, &t->train));
  s.count = o->val_count;
  return clm_synth_open(&s, CLM_SPLIT_VAL, &t->val);
}

/* s as a JSON string, quotes included; NULL as null. */
static void json_str(FILE *f, const char *s) {
  if (!s) {
    fputs("null", f);
    return;
  }
  fputc('"', f);
  for (const char *c = s; *c; c++) {
    if (*c == '"' || *c == '\\') fprintf(f, "\\%c", *c);
    else if ((unsigned char)*c < 0x20) fprintf(f, "\\u%04x", (unsigned char)*c);
    else fputc(*c, f);
  }
  fputc('"', f);
}

/* The UTC time as "2026-12-07T21:40:00Z". */
static void utc_now(char out[32]) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One note to the caller and to the log as {"event":"note","kind":...,"message":...}. */
static void note(trainer *t, const char *kind, const char *msg) {
  if (t->cb && t->cb->on_note) t->cb->on_note(t->cb->user, msg);
  fprintf(t->log, "{\"event\":\"note\",\"kind\":\"%s\",\"message\":", kind);
  json_str(t->log, msg);
  fprintf(t->log, "}\n");
  fflush(t->log);
}

/* The log's first record: the options, the model text, the label set, the device, the clmtl
 * version and commit, the time. */
static void log_start(trainer *t) {
  FILE *f = t->log;
  char when[32];
  utc_now(when);
  fprintf(f, "{\"event\":\"start\",\"time\":\"%s\",\"version\":\"%s\",\"commit\":", when,
          CLMTL_VERSION_STRING);
  json_str(f, CLMTL_GIT_COMMIT);
  fprintf(f, ",\"out\":");
  json_str(f, t->o->out_dir);
  fprintf(f, ",\"device_name\":");
  json_str(f, clm_context_device(t->ctx)->name);
  const clm_label_set *ls = t->feeds.labels;
  fprintf(f, ",\"label_set\":");
  json_str(f, ls ? ls->name : NULL);
  fprintf(f, ",\"class_names\":");
  if (!ls) fputs("null", f);
  for (int i = 0; ls && i < ls->classes; i++) {
    fputc(i ? ',' : '[', f);
    json_str(f, ls->class_names[i]);
  }
  if (ls) fputc(']', f);
  fprintf(f, ",\"options\":%s,\"model_text\":", t->options_json);
  json_str(f, t->model_text);
  fprintf(f, "}\n");
  fflush(f);
}

int clm_train_dir_has_run(const char *dir, const char **what) {
  static const char *const names[] = {"log.jsonl", "last.safetensors", "best.safetensors"};
  for (int i = 0; i < 3; i++) {
    char *p = clm_path_join(dir, names[i]);
    int there = p && access(p, F_OK) == 0;
    free(p);
    if (there) {
      if (what) *what = names[i];
      return 1;
    }
  }
  return 0;
}

/* --resume without a model: the model text its checkpoint stores (*meta keeps it; the
 * caller frees it) and, in t->model_name, the name its messages give it. */
static clm_status stored_model(trainer *t, clm_checkpoint_meta **meta, int *n, const char **text) {
  char *path = clm_path_join(t->o->resume, "last.safetensors");
  if (!path) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  clm_status st = clm_checkpoint_read_meta(path, meta, n);
  *text = clm_checkpoint_meta_get(*meta, *n, "model_cfg");
  if (st == CLM_OK && (!*text || !**text))
    st = CLM_ERROR(CLM_ERR_NOT_FOUND, "%s holds no model text (metadata 'model_cfg'); give the "
                   "model file it was trained with (--model)", path);
  snprintf(t->model_name, sizeof t->model_name, "%s (model_cfg)", path);
  free(path);
  return st;
}

/* The session: the model file (or the text --resume's checkpoint stores), compiled for
 * training with parameters from the run's seed, the weighting and the optimizer state. */
static clm_status open_session(trainer *t) {
  const clm_train_options *o = t->o;
  clm_session_options so = clm_session_defaults();
  so.context = o->context;
  so.device = o->device;
  so.batch = t->local_batch;
  so.dist = o->dist; /* this rank's device, the weighting over the ranks */
  so.height = o->height;
  so.width = o->width;
  so.seed = o->seed;
  so.weighting = o->weighting; /* strategy and settings; tasks from the model */
  so.decay_mask = 1;
  so.decay_bias_norm = !o->no_decay_bias_norm;
  clm_checkpoint_meta *meta = NULL;
  int n = 0;
  clm_status st = CLM_OK;
  /* read once (a pipe can be read only once): checkpoints store and hash the very bytes parsed */
  if (o->model_path) {
    snprintf(t->model_name, sizeof t->model_name, "%s", o->model_path);
    so.model_path = o->model_path;
  } else if (o->resume) {
    st = stored_model(t, &meta, &n, &so.model_text);
    so.model_name = t->model_name;
  }
  if (st == CLM_OK) st = clm_session_open(&so, &t->session);
  /* the run records the model file it was started with, not where this copy came from */
  if (st == CLM_OK && so.model_text)
    clm__train_options_string(clm_checkpoint_meta_get(meta, n, "train_options"), "model",
                              t->model_name, sizeof t->model_name);
  clm_checkpoint_meta_free(meta);
  return st;
}

/* Samples --skip-bad left out (each by name, with why) and tasks the data cannot serve. */
static void report_notes(trainer *t) {
  clm_dataset *sets[2] = {t->train, t->val};
  for (int k = 0; k < 2; k++) {
    char list[8 * 600], msg[sizeof list + 128];
    int n = clm_cityscapes_skipped(sets[k], list, sizeof list);
    if (!n) continue;
    snprintf(msg, sizeof msg, "--skip-bad left out %d sample%s of the %s split%s:\n%s", n, n == 1 ? "" : "s",
             k ? "val" : "train", n > 8 ? " (the first 8 below)" : "", list);
    note(t, "skipped_samples", msg);
  }
  for (int i = 0; i < t->feeds.nnotes; i++) note(t, "task_without_data", t->feeds.notes[i]);
}

/* The run directory, created and locked only now, when the run can start: a second trainer
 * into it stops here, before it truncates the log or writes a checkpoint. Then --overwrite's
 * removals and the log (appended to by --resume). */
static clm_status open_run_dir(trainer *t) {
  const clm_train_options *o = t->o;
  /* every rank: the options (checkpoints, --resume's comparison) */
  t->options_json = clm__train_options_json(o, o->model_path ? o->model_path : t->model_name);
  if (!t->options_json) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  if (t->rank != 0) { /* rank 0 alone writes the run directory; the others' records go nowhere */
    t->log = fopen("/dev/null", "w");
    if (!t->log) CLM_FAIL(CLM_ERR_IO, "cannot open /dev/null: %s", strerror(errno));
    return CLM_OK;
  }
  CLM_TRY(clm_rundir_open(o->out_dir, &t->rundir, NULL));
  const char *what = NULL;
  if (!o->resume && clm_train_dir_has_run(o->out_dir, &what)) {
    if (!o->overwrite)
      CLM_FAIL(CLM_ERR_INVALID_ARG, "%s already holds a run (%s): continue it with --resume %s, "
               "replace it with --overwrite, or choose another --out", o->out_dir, what, o->out_dir);
    const char *old[] = {"best.safetensors", "last.safetensors"};
    for (int i = 0; i < 2; i++) {
      char *p = clm_path_join(o->out_dir, old[i]);
      if (!p) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
      int bad = unlink(p) != 0 && errno != ENOENT;
      int e = errno;
      free(p);
      if (bad) CLM_FAIL(CLM_ERR_IO, "--overwrite: cannot remove %s/%s: %s", o->out_dir, old[i], strerror(e));
    }
  }
  char *path = clm_path_join(o->out_dir, "log.jsonl");
  if (!path) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  t->log = fopen(path, o->resume ? "a" : "w");
  if (!t->log) {
    clm_status st = CLM_ERROR(CLM_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    free(path);
    return st;
  }
  free(path);
  if (!o->resume) log_start(t);
  return CLM_OK;
}

/* Session, data, feeds, double-buffered batches, metrics, then the run directory. */
static clm_status setup(trainer *t) {
  const clm_train_options *o = t->o;
  if (o->batch <= 0 || o->epochs <= 0 || o->height <= 0 || o->width <= 0)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "batch, epochs and size must be positive");
  t->dist = o->dist;
  t->rank = clm_dist_rank(o->dist);
  t->ranks = clm_dist_size(o->dist);
  if (o->batch % t->ranks)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "--batch %d is the global batch; over %d ranks it must be a multiple "
             "of %d (each rank takes batch/ranks samples)", o->batch, t->ranks, t->ranks);
  t->local_batch = o->batch / t->ranks;
  t->shard = (size_t)t->rank * (size_t)t->local_batch;
  CLM_TRY(open_session(t));
  if (o->sync_bn) clm_dist_sync_batchnorm(o->dist, t->session->ctx); /* nothing on one rank */
  t->ctx = t->session->ctx;
  t->g = t->session->g;
  t->mtl = t->session->mtl;
  t->opt = &t->session->opt;
  t->model_text = clm_graph_model_text(t->g);
  t->ntasks = clm_graph_loss_count(t->g);
  if (o->weighting.ntasks && o->weighting.ntasks != t->ntasks)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%d task weights given (--task-weights), the model %s has %d tasks",
             o->weighting.ntasks, t->model_name, t->ntasks);
  CLM_TRY(clm_buffer_alloc(t->ctx, 2 * (size_t)t->ntasks, &t->acc));
  CLM_TRY(open_data(t));
  if (clm_dataset_count(t->train) < o->batch)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "the training split has %d samples, fewer than a batch of %d",
             clm_dataset_count(t->train), o->batch);
  const clm_target_info *targets;
  int ntargets = clm_dataset_targets(t->train, &targets);
  CLM_TRY(clm_feeds_bind(t->g, targets, ntargets, 0, &t->feeds));
  for (int i = 0; i < 2; i++) {
    CLM_TRY(clm_batch_init(&t->batches[i], &t->feeds, t->local_batch, o->height, o->width));
    t->batches[i].instance_noise = o->synth.noise_instance;
  }
  CLM_TRY(clm_metrics_for_graph(t->g, &t->metrics));
  CLM_TRY(open_run_dir(t));
  if (t->rank == 0) report_notes(t); /* rank 0's notes */
  /* per-task early stopping on every rank, each masking its shard the same way; rank 0 alone
   * reads early_stop.json on --resume (the run directory may be on its machine only), and
   * clm_train_run sends its state to the others */
  return clm_early_stop_init(&t->es, o->early_stop_patience, t->g, &t->feeds, o->out_dir,
                             o->resume != NULL && t->rank == 0);
}

static void teardown(trainer *t) {
  for (int i = 0; i < 2; i++) clm_batch_free(&t->batches[i]);
  if (t->log) fclose(t->log);
  clm_metrics_free(t->metrics);
  clm_buffer_free(t->ctx, t->acc);
  clm_dataset_free(t->train);
  clm_dataset_free(t->val);
  clm_session_close(t->session);
  clm_rundir_close(t->rundir);
  free(t->options_json);
}

static float lr_at(const clm_train_options *o, int epoch, long step, long total) {
  switch (o->schedule) {
  case CLM_LR_STEP:
    return o->optim.lr * powf(o->gamma, (float)(epoch / (o->step_epochs > 0 ? o->step_epochs : 1)));
  case CLM_LR_POLY:
    return o->optim.lr * powf(1.0f - (float)step / (float)(total + 1), o->poly_power);
  default:
    return o->optim.lr;
  }
}

/* Fisher-Yates with a splitmix64 stream: the sample order of each epoch. */
static void shuffle(int *idx, int n, uint64_t seed) {
  for (int i = 0; i < n; i++) idx[i] = i;
  uint64_t s = seed;
  for (int i = n - 1; i > 0; i--) {
    uint64_t z = clm_splitmix64(&s);
    int j = (int)(z % (uint64_t)(i + 1)), tmp = idx[i];
    idx[i] = idx[j];
    idx[j] = tmp;
  }
}

static void json_num(FILE *f, double v) {
  if (isfinite(v)) fprintf(f, "%.6g", v);
  else fprintf(f, "null");
}

static void log_epoch(trainer *t, const clm_epoch_report *r, const clm_mtl_snapshot *s, float lr) {
  FILE *f = t->log;
  fprintf(f, "{\"event\":\"epoch\",\"epoch\":%d,\"lr\":", r->epoch); /* 1-based */
  json_num(f, lr);
  fprintf(f, ",\"seconds\":");
  json_num(f, r->seconds);
  fprintf(f, ",\"val_loss\":");
  json_num(f, r->val_aggregate);
  fprintf(f, ",\"skipped_steps\":%d,\"best\":%s,\"tasks\":{", r->skipped_steps, r->best ? "true" : "false");
  for (int i = 0; i < r->ntasks; i++) {
    const clm_metrics_report *m = &r->metrics[i];
    fprintf(f, "%s\"%s\":{\"train_loss\":", i ? "," : "", r->task_names[i]);
    json_num(f, r->train_loss[i]);
    fprintf(f, ",\"val_loss\":");
    json_num(f, r->val_loss[i]);
    fprintf(f, ",\"weight\":");
    json_num(f, s->weight[i]);
    fprintf(f, ",\"sigma\":");
    json_num(f, s->sigma[i]);
    if (m->kind == CLM_METRICS_REGRESSION) {
      fprintf(f, ",\"mae\":");
      json_num(f, m->mae);
      fprintf(f, ",\"rmse\":");
      json_num(f, m->rmse);
      fprintf(f, ",\"rel_error\":");
      json_num(f, m->rel_error);
      fprintf(f, ",\"l1_per_pixel\":");
      json_num(f, m->l1_per_pixel);
    } else {
      fprintf(f, ",\"miou\":");
      json_num(f, m->miou);
      fprintf(f, ",\"pixel_accuracy\":");
      json_num(f, m->pixel_accuracy);
    }
    fprintf(f, "}");
  }
  fprintf(f, "}}\n");
  fflush(f);
}

/* Validation: fixed-weight losses and per-task metrics (evaluate.c). */
static clm_status validate(trainer *t, clm_epoch_report *r) {
  CLM_TRY(clm_evaluate_dist(t->g, &t->feeds, t->val, t->metrics, r->val_loss, t->dist));
  for (int i = 0; i < t->ntasks; i++) CLM_TRY(clm_metrics_result(t->metrics, i, &r->metrics[i]));
  /* uniform weights over the tasks this data has: a task whose target the data lacks for the
   * whole run (depth without disparity/) is left out, not averaged in as a 0 */
  double weight[CLM_MTL_MAX_TASKS];
  int present = 0;
  for (int i = 0; i < t->ntasks; i++) present += t->feeds.available[i] != 0;
  for (int i = 0; i < t->ntasks; i++) weight[i] = t->feeds.available[i] && present ? 1.0 / present : 0.0;
  clm_metrics_aggregate agg;
  CLM_TRY(clm_metrics_aggregate_loss(r->val_loss, weight, t->ntasks, &agg));
  r->val_aggregate = agg.total;
  r->val_skipped = agg.nskipped;
  return CLM_OK;
}

/* Writes dir/<name>.safetensors with the weights, running statistics, optimizer state, task
 * parameters and where training stands. */
static clm_status save(trainer *t, const char *name, int epoch, long epoch_step, const float *acc) {
  const clm_train_options *o = t->o;
  if (t->rank != 0) return CLM_OK; /* rank 0 writes; every rank holds the same parameters */
  char best[32], since[16], h[16], w[16], seed[32], estep[24], eacc[1024] = "";
  snprintf(estep, sizeof estep, "%ld", epoch_step);
  for (int i = 0, used = 0; acc && i < 2 * t->ntasks && used < (int)sizeof eacc - 32; i++)
    used += snprintf(eacc + used, sizeof eacc - (size_t)used, "%s%.9g", i ? "," : "", acc[i]);
  snprintf(h, sizeof h, "%d", o->height);
  snprintf(w, sizeof w, "%d", o->width);
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->synth.seed);
  snprintf(best, sizeof best, "%.9g", t->best);
  snprintf(since, sizeof since, "%d", t->since_best);
  /* the weighting's own state: gradnorm's L(0) and step count, the non-finite counters, the
   * epoch means dwa weighs by */
  clm_mtl_state ms;
  clm_checkpoint_mtl_text mt;
  clm_checkpoint_meta m[CLM_CHECKPOINT_MTL_KEYS];
  CLM_TRY(clm_mtl_state_get(t->mtl, &ms));
  clm_checkpoint_mtl_meta(&ms, &mt, m);
  clm_checkpoint_info info = {t->model_text, t->step, epoch, clm_mtl_strategy_name(o->weighting.strategy)};
  /* the model text and resolution too, so eval and infer need only the checkpoint */
  clm_checkpoint_meta extra[] = {{"best_val_loss", best}, {"epochs_since_best", since},
                                 m[4], m[5], m[6],
                                 {"height", h}, {"width", w}, {"data_seed", seed},
                                 {"model_cfg", t->model_text ? t->model_text : ""},
                                 {"label_set", ""}, {"class_names", ""},
                                 m[0], m[1], m[2], m[3],
                                 {"train_options", t->options_json}, {"epoch_step", estep},
                                 {"epoch_loss_acc", eacc}};
  /* the label set the classification tasks were trained on, for eval and infer */
  char names[4096] = "";
  const clm_label_set *ls = t->feeds.labels;
  for (int i = 0, used = 0; ls && i < ls->classes && used < (int)sizeof names - 64; i++)
    used += snprintf(names + used, sizeof names - (size_t)used, "%s\"%s\"%s", i ? "," : "[", ls->class_names[i],
                     i + 1 == ls->classes ? "]" : "");
  extra[9].value = ls ? ls->name : "";
  extra[10].value = names;
  char file[160];
  snprintf(file, sizeof file, "%s.safetensors", name);
  char *path = clm_path_join(o->out_dir, file);
  if (!path) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  clm_status st = clm_checkpoint_save(path, t->g, t->opt, &info, extra, acc ? 18 : 17);
  free(path);
  return st;
}

/* --resume: weights, statistics, optimizer and task parameters from dir/last.safetensors,
 * and the epoch, step, best loss and DWA state recorded with them. Everything is checked
 * (the model text against this run's, every number with its range) before the graph is
 * touched. */
static clm_status restore(trainer *t) {
  char *path = clm_path_join(t->o->resume, "last.safetensors");
  if (!path) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  clm_checkpoint_meta *meta = NULL;
  int n = 0;
  clm_status st = clm_checkpoint_read_meta(path, &meta, &n);
  const char *strategy = clm_checkpoint_meta_get(meta, n, "strategy");
  long long epoch = 0, step = 0, since = 0;
  if (st == CLM_OK && strategy && strcmp(strategy, clm_mtl_strategy_name(t->o->weighting.strategy)))
    st = CLM_ERROR(CLM_ERR_INVALID_ARG, "%s was trained with --weighting %s, not %s", path, strategy,
                   clm_mtl_strategy_name(t->o->weighting.strategy));
  if (st == CLM_OK) st = clm_checkpoint_check_model(path, meta, n, t->model_text, t->model_name);
  /* the options: those that may not change are refused, the others' changes logged */
  const char *stored = clm_checkpoint_meta_get(meta, n, "train_options");
  char *changes = NULL;
  if (st == CLM_OK && stored) st = clm__train_options_compare(path, stored, t->options_json, &changes);
  long long estep = 0;
  if (st == CLM_OK && clm_checkpoint_meta_get(meta, n, "epoch_step"))
    st = clm_checkpoint_meta_int(path, meta, n, "epoch_step", 0, 1LL << 53, &estep);
  double acc[2 * CLM_MTL_MAX_TASKS] = {0};
  if (st == CLM_OK && estep > 0) st = clm_checkpoint_meta_list(path, meta, n, "epoch_loss_acc", acc, 2 * t->ntasks);
  if (st == CLM_OK) st = clm_checkpoint_meta_int(path, meta, n, "epoch", 0, INT_MAX - 1, &epoch);
  if (st == CLM_OK) st = clm_checkpoint_meta_int(path, meta, n, "step", 0, 1LL << 53, &step);
  if (st == CLM_OK) st = clm_checkpoint_meta_double(path, meta, n, "best_val_loss", -INFINITY, INFINITY, &t->best);
  if (st == CLM_OK) st = clm_checkpoint_meta_int(path, meta, n, "epochs_since_best", 0, INT_MAX - 1, &since);
  /* the weighting's state (dwa's epoch means; gradnorm's L(0), the non-finite counters) */
  clm_mtl_state ms;
  if (st == CLM_OK) st = clm_checkpoint_mtl_state(path, meta, n, t->ntasks, &ms);
  if (st == CLM_OK) st = clm_checkpoint_load(path, t->g, t->opt, NULL, NULL);
  if (st == CLM_OK) {
    /* "epoch" counts completed epochs; checkpoints from before options were recorded stored
     * the last epoch's 0-based index */
    t->first_epoch = stored ? (int)epoch : (int)epoch + 1;
    t->epoch_step = (long)estep;
    for (int i = 0; i < 2 * t->ntasks; i++) t->epoch_acc[i] = (float)acc[i];
    char when[32];
    utc_now(when);
    fprintf(t->log, "{\"event\":\"resume\",\"time\":\"%s\",\"version\":\"%s\",\"commit\":", when,
            CLMTL_VERSION_STRING);
    json_str(t->log, CLMTL_GIT_COMMIT);
    fprintf(t->log, ",\"from_epoch\":%d,\"epoch_step\":%lld,\"step\":%lld,\"changed\":%s,\"options\":%s}\n",
            t->first_epoch + 1, estep, step, changes ? changes : "{}", t->options_json);
    fflush(t->log);
    t->step = (long)step;
    t->since_best = (int)since;
  }
  if (st == CLM_OK) st = clm_mtl_state_set(t->mtl, &ms);
  free(changes);
  clm_checkpoint_meta_free(meta);
  free(path);
  return st;
}

/* Every log_every steps: {"event":"step",...} with the raw losses, weights and σ by task. */
static void log_step(trainer *t, const clm_train_progress *p) {
  FILE *f = t->log;
  fprintf(f, "{\"event\":\"step\",\"epoch\":%d,\"step\":%ld,\"lr\":", p->epoch, p->step);
  json_num(f, p->lr);
  fprintf(f, ",\"img_per_s\":");
  json_num(f, p->images_per_second);
  const char *keys[3] = {"losses", "weights", "sigma"};
  const float *vals[3] = {p->tasks.loss, p->tasks.weight, p->tasks.sigma};
  for (int k = 0; k < 3; k++) {
    fprintf(f, ",\"%s\":{", keys[k]);
    for (int i = 0; i < t->ntasks; i++) {
      fprintf(f, "%s", i ? "," : "");
      json_str(f, clm_metrics_task_name(t->metrics, i));
      fputc(':', f);
      json_num(f, vals[k][i]);
    }
    fputc('}', f);
  }
  fprintf(f, "}\n");
  fflush(f);
}

/* A stop request (SIGINT/SIGTERM) as every rank sees it: the ranks may get the signal at
 * different steps, so they agree on it after each step, and stop together. */
static clm_status stop_requested(trainer *t, int *stop) {
  int64_t flag = t->o->stop_requested && *t->o->stop_requested;
  CLM_TRY(clm_dist_allreduce_max_int64(t->dist, &flag, 1));
  *stop = flag != 0;
  return CLM_OK;
}

/* --check-replicas after a step (and its testing aid, --inject-drift-at, before the check). */
static clm_status check_replicas(trainer *t, long step) {
  if (t->o->inject_drift_at >= 0 && step == t->o->inject_drift_at && t->rank == t->ranks - 1) {
    clm_tensor p = clm_graph_params(t->g);
    p.w = 1;
    float v;
    CLM_TRY(clm_tensor_download(t->ctx, &p, &v));
    v += 1e-3f;
    CLM_TRY(clm_tensor_upload(t->ctx, &p, &v));
  }
  if (!t->o->check_replicas) return CLM_OK;
  CLM_TRY(clm_dist_check_replicas(t->dist, t->g, step + 1, NULL));
  t->replica_checks++;
  return CLM_OK;
}

/* Every log_every steps and at an epoch's last: one read of the weighting's scalars for the
 * log, the progress callback and the non-finite guard. */
static clm_status report_step(trainer *t, int epoch, long s, float lr) {
  const clm_train_options *o = t->o;
  long step = t->step;
  if (step % (o->log_every > 0 ? o->log_every : 1) != 0 && s + 1 != t->per_epoch) return CLM_OK;
  clm_train_progress p = {epoch + 1, o->epochs, step + 1, t->per_epoch, t->total, 0, 0, {0}, lr, {0}};
  for (int i = 0; i < t->ntasks; i++) p.task_names[i] = clm_metrics_task_name(t->metrics, i);
  CLM_TRY(clm_mtl_read(t->mtl, &p.tasks));
  double el = clm_time_seconds() - t->start;
  p.images_per_second = (double)(step + 1 - t->first_step) * o->batch / el;
  p.eta_seconds = el / (double)(step + 1 - t->first_step) * (double)(t->total - step - 1);
  log_step(t, &p);
  if (t->cb && t->cb->on_progress) t->cb->on_progress(t->cb->user, &p);
  if (o->max_bad_steps > 0 && p.tasks.skipped_in_a_row >= o->max_bad_steps)
    CLM_FAIL(CLM_ERR_NUMERIC,
             "%d steps in a row had a NaN or Inf loss (their updates were skipped); "
             "stopped at step %ld. The last good checkpoint is %s/last.safetensors",
             p.tasks.skipped_in_a_row, step + 1, o->out_dir);
  return CLM_OK;
}

/* Step s of an epoch: its batch (filled on the helper thread) to the graph, the next one
 * started, the learning rate of the schedule, the training step and the epoch's loss sums. */
static clm_status train_step(trainer *t, int epoch, long s, clm_optim_config *oc) {
  const clm_train_options *o = t->o;
  clm_batch *cur = &t->batches[s & 1], *next = &t->batches[(s + 1) & 1];
  CLM_TRY(clm_batch_wait(cur));
  if (o->inject_nan_from >= 0 && t->step >= o->inject_nan_from) {
    /* NaN targets, not images: ReLU and max-pool would squash NaN pixels to numbers */
    clm_batch_poison(cur);
  }
  clm_early_stop_mask(&t->es, cur);
  CLM_TRY(clm_batch_upload(cur, t->g));
  if (s + 1 < t->per_epoch)
    CLM_TRY(clm_batch_start(next, t->train, t->order + (size_t)(s + 1) * o->batch + t->shard));
  oc->lr = lr_at(o, epoch, t->step, t->total);
  if (o->optim.task_lr > 0) /* the schedule scales both, as for torch parameter groups */
    oc->task_lr = o->optim.lr > 0 ? o->optim.task_lr * (oc->lr / o->optim.lr) : o->optim.task_lr;
  CLM_TRY(clm_step_run(t->mtl, oc, t->opt, &t->hooks));
  CLM_TRY(check_replicas(t, t->step));
  return clm_step_accumulate_losses(t->g, &t->losses);
}

/* A stop request mid-epoch: this step's state to last.safetensors, with where the epoch
 * stands; then CLM_ERR_INTERRUPTED. */
static clm_status stop_mid_epoch(trainer *t, int epoch, long s) {
  float hacc[2 * CLM_MTL_MAX_TASKS];
  clm_batch_discard(&t->batches[(s + 1) & 1]);
  CLM_TRY(clm_dist_average_state(t->dist, t->g));
  CLM_TRY(clm_tensor_download(t->ctx, &t->losses, hacc));
  CLM_TRY(save(t, "last", epoch, s + 1, hacc));
  CLM_FAIL(CLM_ERR_INTERRUPTED, "stopped on request in epoch %d at step %ld; %s/last.safetensors "
           "holds this step", epoch + 1, t->step, t->o->out_dir);
}

/* The steps of one epoch, from its first (or, resuming an epoch a stop request interrupted,
 * its next) step; *lr: the last step's learning rate. */
static clm_status train_epoch(trainer *t, int epoch, float *lr) {
  const clm_train_options *o = t->o;
  int n = clm_dataset_count(t->train);
  shuffle(t->order, n, o->seed * 1000003u + (uint64_t)epoch);
  long s0 = epoch == t->first_epoch && t->epoch_step < t->per_epoch ? t->epoch_step : 0;
  if (s0 > 0) CLM_TRY(clm_tensor_upload(t->ctx, &t->losses, t->epoch_acc));
  else CLM_TRY(clm_tensor_fill(t->ctx, &t->losses, 0.0f));
  /* this rank's slice of each step's global batch */
  CLM_TRY(clm_batch_start(&t->batches[s0 & 1], t->train, t->order + (size_t)s0 * o->batch + t->shard));
  clm_optim_config oc = o->optim;
  for (long s = s0; s < t->per_epoch; s++) {
    CLM_TRY(train_step(t, epoch, s, &oc));
    *lr = oc.lr;
    CLM_TRY(report_step(t, epoch, s, oc.lr));
    t->step++;
    /* a stop request mid-epoch (at an epoch's last step the epoch ends first) */
    int stop = 0;
    CLM_TRY(stop_requested(t, &stop));
    if (stop && s + 1 < t->per_epoch) return stop_mid_epoch(t, epoch, s);
  }
  return CLM_OK;
}

/* Early-stopping bookkeeping after validation: best so far, epochs since, whether to stop. */
static void track_best(trainer *t, clm_epoch_report *r) {
  r->best = r->val_aggregate < t->best;
  if (r->best) {
    t->best = r->val_aggregate;
    t->since_best = 0;
  } else {
    t->since_best++;
  }
  r->stop = t->o->patience > 0 && t->since_best >= t->o->patience;
}

/* Per-task early stopping (early_stop.h): its bookkeeping, may stop the run; each task that
 * improved gets best-<task>.safetensors, and the state is saved. */
static clm_status track_tasks(trainer *t, int epoch, clm_epoch_report *r) {
  /* rank 0 decides and sends its state, whether every task stopped and which improved, so
   * that every rank masks the same tasks from the next step on: the validation metrics are
   * reduced over the ranks already, but one decision cannot come out differently on two ranks
   * (a metric at a tie, a reduction's rounding), and a resumed run's state is rank 0's alone */
  struct {
    clm_early_stop es;
    int improved[CLM_MTL_MAX_TASKS];
    int all_stopped;
  } d;
  memset(&d, 0, sizeof d);
  if (t->rank == 0) d.all_stopped = clm_early_stop_epoch(&t->es, r, t->log, d.improved);
  d.es = t->es;
  if (t->es.patience > 0) {
    CLM_TRY(clm_dist_broadcast(t->dist, &d, sizeof d, 0));
    t->es = d.es;
    for (int i = 0; i < t->ntasks; i++) {
      r->task_stopped[i] = t->es.stopped[i];
      r->task_best_epoch[i] = t->es.best_epoch[i];
    }
  }
  r->stop |= d.all_stopped;
  const int *improved = d.improved;
  for (int i = 0; i < t->ntasks; i++) {
    char name[96];
    snprintf(name, sizeof name, "best-%s", r->task_names[i]);
    if (improved[i]) CLM_TRY(save(t, name, epoch + 1, 0, NULL));
  }
  return t->rank == 0 ? clm_early_stop_save(&t->es, t->o->out_dir) : CLM_OK; /* rank 0 writes */
}

/* An epoch's end: its mean losses (to the weighting: dwa's next weights), validation, early
 * stopping, best and last checkpoints, the log and the callback. */
static clm_status end_epoch(trainer *t, int epoch, float lr, double epoch_start, clm_epoch_report *r) {
  memset(r, 0, sizeof *r);
  r->epoch = epoch + 1;
  r->ntasks = t->ntasks;
  float hacc[2 * CLM_MTL_MAX_TASKS], means[CLM_MTL_MAX_TASKS];
  CLM_TRY(clm_tensor_download(t->ctx, &t->losses, hacc));
  for (int i = 0; i < t->ntasks; i++) {
    r->train_loss[i] = hacc[t->ntasks + i] > 0 ? hacc[i] / hacc[t->ntasks + i] : NAN;
    means[i] = (float)r->train_loss[i];
    r->task_names[i] = clm_metrics_task_name(t->metrics, i);
  }
  CLM_TRY(clm_mtl_end_epoch(t->mtl, means));
  CLM_TRY(clm_dist_average_state(t->dist, t->g)); /* per-rank BN statistics */
  CLM_TRY(validate(t, r));
  clm_mtl_snapshot snap;
  clm_status st = clm_mtl_read(t->mtl, &snap);
  r->skipped_steps = snap.skipped_steps;
  track_best(t, r);
  if (st == CLM_OK) st = track_tasks(t, epoch, r);
  if (st == CLM_OK && r->best) st = save(t, "best", epoch + 1, 0, NULL);
  if (st == CLM_OK) st = save(t, "last", epoch + 1, 0, NULL);
  CLM_TRY(st);
  r->seconds = clm_time_seconds() - epoch_start;
  log_epoch(t, r, &snap, lr);
  if (t->cb && t->cb->on_epoch) t->cb->on_epoch(t->cb->user, r);
  return CLM_OK;
}

/* The epochs from the first (or resumed) one to the last, early stopping or a stop request. */
static clm_status run(trainer *t) {
  const clm_train_options *o = t->o;
  int n = clm_dataset_count(t->train);
  t->per_epoch = n / o->batch;
  t->total = t->per_epoch * o->epochs;
  t->order = malloc((size_t)n * sizeof *t->order);
  if (!t->order) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  t->losses = clm_tensor_view(t->acc, 0, 1, 1, 1, 2 * t->ntasks);
  if (t->cb && t->cb->on_start)
    t->cb->on_start(t->cb->user, clm_context_device(t->ctx)->name, t->model_name, (long)clm_graph_params(t->g).w);
  t->start = clm_time_seconds();
  t->first_step = t->step;
  clm_status st = CLM_OK;
  for (int epoch = t->first_epoch; epoch < o->epochs && st == CLM_OK; epoch++) {
    double epoch_start = clm_time_seconds();
    float lr = o->optim.lr;
    clm_epoch_report r;
    st = train_epoch(t, epoch, &lr);
    if (st == CLM_OK) st = end_epoch(t, epoch, lr, epoch_start, &r);
    if (st != CLM_OK || r.stop) break;
    int stop = 0;
    st = stop_requested(t, &stop);
    if (st == CLM_OK && stop && epoch + 1 < o->epochs)
      st = CLM_ERROR(CLM_ERR_INTERRUPTED, "stopped on request after epoch %d; %s/last.safetensors "
                     "holds it", epoch + 1, o->out_dir);
  }
  /* a run stopped by an error may leave the next batch filling from the sample order */
  for (int i = 0; i < 2; i++) clm_batch_discard(&t->batches[i]);
  free(t->order);
  t->order = NULL;
  if (st == CLM_OK && o->check_replicas) {
    char msg[160];
    snprintf(msg, sizeof msg, "--check-replicas: the parameters of all %d ranks were identical after "
             "each of %ld steps", t->ranks, t->replica_checks);
    note(t, "replicas", msg);
  }
  return st;
}

clm_status clm_train_run(const clm_train_options *opt, const clm_train_callbacks *cb) {
  trainer t;
  memset(&t, 0, sizeof t);
  t.o = opt;
  t.best = INFINITY;
  t.cb = cb;
  clm_status st = setup(&t);
  if (st == CLM_OK && opt->resume) st = restore(&t);
  /* every replica starts from rank 0's parameters and statistics */
  if (st == CLM_OK) st = clm_dist_broadcast_params(t.dist, t.g);
  /* and from rank 0's per-task early stopping (read from early_stop.json on --resume) */
  if (st == CLM_OK && t.es.patience > 0) st = clm_dist_broadcast(t.dist, &t.es, sizeof t.es, 0);
  if (st == CLM_OK) st = run(&t);
  teardown(&t); /* frees only: clm_last_error() still holds the first failure */
  return st;
}
