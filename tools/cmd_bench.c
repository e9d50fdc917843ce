/* `clmtl bench [MODEL.cfg]`: how fast one device (or every device) trains and runs a model.
 * Per device: cold start (context, compile and first train step with an empty program cache)
 * and warm start (the same with that cache filled); the median train step (multi-task
 * weighting + Adam, as `clmtl model --steps`) and its peak device memory; the same steps
 * again with the graph's profiling mode for per-(node, pass) times, FLOP and bytes; the median
 * forward of a graph compiled for inference; and a probe of the device's bandwidth and peak
 * FLOP/s to put those in proportion. The cold start runs in a child process of this program
 * (`--cold-start-child`, not in --help) with the driver's kernel cache pointed at an empty
 * directory too, where the driver has one we know of. Output paths are checked before anything
 * runs. Reports: bench_report.c; `clmtl bench merge`: bench_merge.c. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bench_infer.h"
#include "bench_report.h"
#include "cli.h"

typedef struct bench_opts {
  const char *model, *device, *json, *csv, *markdown, *png;
  const char *child_out; /* --cold-start-child FILE: time one session_open, write it there */
  const char *mode;      /* --mode train (default) or infer (bench_infer.c) */
  int batch, height, width, steps, warmup, all_devices, ops;
  int keep_driver_cache; /* --keep-driver-cache: no cold start in a child with empty caches */
  clm_mtl_strategy strategy;
} bench_opts;

/* 1, 5 and 15-minute load averages; 0 when /proc/loadavg cannot be read. */
static int load_average(double out[3]) {
  FILE *f = fopen("/proc/loadavg", "r");
  int ok = f && fscanf(f, "%lf %lf %lf", &out[0], &out[1], &out[2]) == 3;
  if (f) fclose(f);
  return ok;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Min, median and max of n values (sorts them). */
static bench_spread spread_of(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  bench_spread s = {v[0], n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]), v[n - 1], n};
  return s;
}

static bench_spread spread_one(double v) {
  bench_spread s = {v, v, v, 1};
  return s;
}



/* A line on stderr as each figure is measured: a long run shows what it has so far. */
static void progress(const bench_device *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void progress(const bench_device *d, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "clmtl bench %d:%d: ", d->info.platform_index, d->info.device_index);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* ---- a training session (step.h): one context and a compiled training graph, ready to step -- */

typedef struct session {
  clm_session *s;
  clm_optim_config cfg;
} session;

static void session_close(session *s) {
  clm_session_close(s->s);
  s->s = NULL;
}

static clm_status train_step(session *s, double *ms) {
  double t0 = clm_time_seconds();
  CLI_TRY(clm_step_run(s->s->mtl, &s->cfg, &s->s->opt, NULL));
  CLI_TRY(clm_context_finish(s->s->ctx));
  *ms = (clm_time_seconds() - t0) * 1e3;
  return CLM_OK;
}

/* The session (context, graph, weighting and optimizer state), inputs, then one train step. */
static clm_status session_open(const bench_opts *o, const clm_context_options *co, session *s) {
  memset(s, 0, sizeof *s);
  clm_session_options so = clm_session_defaults();
  so.context = co;
  so.model_path = o->model;
  so.batch = o->batch;
  so.height = o->height;
  so.width = o->width;
  so.weighting.strategy = o->strategy;
  CLI_TRY(clm_session_open(&so, &s->s));
  CLI_TRY(cli_fill_inputs(s->s->ctx, s->s->g, 1));
  s->cfg = clm_optim_defaults(CLM_OPTIM_ADAM);
  double ms;
  return train_step(s, &ms);
}

/* ---- the temporary program cache of the cold and warm starts --------------------------------- */

static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    char path[1200];
    while ((e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      unlink(path);
    }
    closedir(d);
  }
  rmdir(dir);
}

/* Copies the device's tuning file (tune.h), if any, from the user's cache directory into the
 * temporary one, so the timed graphs run the same kernel variants as with the user's cache. */
static void copy_tuning(const clm_context_options *user, const char *dir) {
  clm_context *c = NULL;
  char from[600], to[1200];
  if (clm_context_create_with(user, &c) != CLM_OK || clm_tuning_file(c, from, sizeof from) != CLM_OK) {
    clm_context_free(c);
    return;
  }
  clm_context_free(c);
  const char *base = strrchr(from, '/');
  snprintf(to, sizeof to, "%s/%s", dir, base ? base + 1 : from);
  FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
  char buf[4096];
  size_t n;
  while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
  if (in) fclose(in);
  if (out) fclose(out);
}

/* The options of the timed contexts: the user's (environment), with the program cache in the
 * temporary directory `tmp` and at its default setting, so the cold start is cold. */
static clm_context_options redirected_options(const clm_context_options *user, const char *tmp) {
  clm_context_options o = *user;
  o.cache_dir = tmp;
  o.cache = CLM_CACHE_AUTO;
  return o;
}

/* ---- the cold start with every cache empty, in a child process -------------------------------- */

/* A directory and everything under it (the drivers' caches nest directories). */
static void remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char sub[1200];
      snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
      remove_tree(sub);
    }
    if (d) closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

/* Drivers whose kernel cache an environment variable moves, by a piece of the platform name.
 * The child gets every one of them (the others ignore them); driver_cache names the one that
 * applies. */
static const struct { const char *platform, *var; } driver_caches[] = {
    {"Portable Computing Language", "POCL_CACHE_DIR"},
    {"NVIDIA", "CUDA_CACHE_PATH"},
    {"Intel(R) OpenCL Graphics", "NEO_CACHE_DIR"},
};
#define NDRIVER_CACHES (sizeof driver_caches / sizeof driver_caches[0])

extern char **environ;

/* The child's environment: this one less every cache setting, plus clmtl's cache and every
 * driver cache in the fresh directories clmtl_dir and driver_dir. NULL when out of memory. */
static char **child_environment(const char *clmtl_dir, const char *driver_dir) {
  static const char *const drop[] = {"CLMTL_CACHE_DIR", "CLMTL_CACHE", "POCL_CACHE_DIR",
                                     "POCL_KERNEL_CACHE", "CUDA_CACHE_PATH", "CUDA_CACHE_DISABLE",
                                     "NEO_CACHE_DIR", "NEO_CACHE_PERSISTENT"};
  size_t n = 0;
  while (environ[n]) n++;
  char **env = calloc(n + NDRIVER_CACHES + 2, sizeof *env);
  if (!env) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int keep = 1;
    for (size_t j = 0; j < sizeof drop / sizeof drop[0] && keep; j++) {
      size_t len = strlen(drop[j]);
      keep = !(strncmp(environ[i], drop[j], len) == 0 && environ[i][len] == '=');
    }
    if (keep) env[k++] = environ[i];
  }
  size_t first = k; /* the entries from here on are malloc'd */
  for (size_t j = 0; j <= NDRIVER_CACHES; j++) {
    const char *var = j < NDRIVER_CACHES ? driver_caches[j].var : "CLMTL_CACHE_DIR";
    size_t len = strlen(var) + strlen(driver_dir) + strlen(clmtl_dir) + 2;
    char *e = malloc(len);
    if (!e) {
      for (size_t m = first; m < k; m++) free(env[m]);
      free(env);
      return NULL;
    }
    snprintf(e, len, "%s=%s", var, j < NDRIVER_CACHES ? driver_dir : clmtl_dir);
    env[k++] = e;
  }
  return env;
}

/* Cold start with clmtl's program cache and the driver's kernel cache both empty: a child
 * `clmtl bench --cold-start-child FILE` times its session_open (so the driver starts, reads its
 * cache location and compiles from nothing) in fresh directories under $TMPDIR, removed after.
 * Sets d->cold_s and d->driver_cache and returns 0; otherwise d->driver_cache says why not. */
static int cold_start_child(const bench_opts *o, const clm_context_options *user,
                            bench_device *d) {
  char top[512], clmtl_dir[600], driver_dir[600], out[600], size[32], batch[16];
  const char *base = getenv("TMPDIR");
  snprintf(top, sizeof top, "%s/clmtl-cold-XXXXXX", base && *base ? base : "/tmp");
  if (!mkdtemp(top)) {
    snprintf(d->driver_cache, sizeof d->driver_cache, "not emptied: cannot create %.120s", top);
    return 1;
  }
  snprintf(clmtl_dir, sizeof clmtl_dir, "%s/clmtl", top);
  snprintf(driver_dir, sizeof driver_dir, "%s/driver", top);
  snprintf(out, sizeof out, "%s/seconds", top);
  snprintf(size, sizeof size, "%dx%d", o->height, o->width);
  snprintf(batch, sizeof batch, "%d", o->batch);
  clm_mkdir_p(clmtl_dir, 0700);
  clm_mkdir_p(driver_dir, 0700);
  copy_tuning(user, clmtl_dir); /* the same kernel variants as the timed graphs */
  char *argv[] = {"clmtl", "bench", (char *)o->model, "--size", size, "--batch", batch,
                  "--weighting", (char *)clm_mtl_strategy_name(o->strategy), "--device",
                  (char *)user->device, "--cold-start-child", out, NULL};
  char **env = child_environment(clmtl_dir, driver_dir);
  pid_t pid;
  int rc = 1, status = 0;
  if (!env) snprintf(d->driver_cache, sizeof d->driver_cache, "not emptied: out of host memory");
  else if ((errno = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, env)) != 0)
    snprintf(d->driver_cache, sizeof d->driver_cache, "not emptied: cannot start a child process "
             "(%s)", strerror(errno));
  else if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    snprintf(d->driver_cache, sizeof d->driver_cache, "not emptied: the child process failed "
             "(status %d)", status);
  else {
    FILE *f = fopen(out, "r");
    rc = !(f && fscanf(f, "%lf", &d->cold_s) == 1 && d->cold_s > 0);
    if (f) fclose(f);
    if (rc) snprintf(d->driver_cache, sizeof d->driver_cache, "not emptied: no time from the child");
  }
  if (!rc) {
    snprintf(d->driver_cache, sizeof d->driver_cache, "kept (no known cache location for this driver)");
    for (size_t j = 0; j < NDRIVER_CACHES; j++)
      if (strstr(d->info.platform, driver_caches[j].platform))
        snprintf(d->driver_cache, sizeof d->driver_cache, "emptied (%s)", driver_caches[j].var);
  }
  if (env) {
    size_t k = 0;
    while (env[k]) k++;
    for (size_t j = k - NDRIVER_CACHES - 1; j < k; j++) free(env[j]);
    free(env);
  }
  remove_tree(top);
  return rc;
}

/* `--cold-start-child FILE`: the child side of cold_start_child. */
static int cold_start_child_main(const bench_opts *o) {
  session s;
  clm_context_options co = cli_context_options_from_env(); /* the caches cold_start_child set */
  co.device = o->device;
  double t0 = clm_time_seconds();
  clm_status st = session_open(o, &co, &s);
  double t = clm_time_seconds() - t0;
  session_close(&s);
  if (st != CLM_OK) {
    fprintf(stderr, "clmtl bench: cold start (child process): %s\n", clm_last_error());
    return 1;
  }
  FILE *f = fopen(o->child_out, "w");
  int bad = !f || fprintf(f, "%.9f\n", t) < 0;
  if (f && fclose(f) != 0) bad = 1;
  return bad;
}

/* ---- one device ---------------------------------------------------------------------------- */

static int cmp_op(const void *a, const void *b) {
  const bench_op *x = a, *y = b;
  double tx = x->ms * x->per_step, ty = y->ms * y->per_step;
  return (tx < ty) - (tx > ty);
}

/* Profiled steps: per-(node, pass) medians, FLOP per step and the loss nodes' share. */
static clm_status profile_steps(const bench_opts *o, session *s, bench_device *d) {
  CLI_TRY(clm_graph_profile_enable(s->s->g, 1));
  double *ms = calloc((size_t)o->steps, sizeof *ms);
  int n = clm_graph_profile_count(s->s->g);
  d->ops = calloc((size_t)n + 1, sizeof *d->ops);
  if (!ms || !d->ops) {
    free(ms);
    return CLM_ERR_HOST_MEMORY;
  }
  clm_status st = CLM_OK;
  for (int i = 0; i < o->steps && st == CLM_OK; i++) {
    st = train_step(s, &ms[i]);
    if (st == CLM_OK) progress(d, "profiled step %d/%d: %.1f ms", i + 1, o->steps, ms[i]);
  }
  if (st == CLM_OK) {
    d->profiled = spread_of(ms, o->steps);
    d->profiled_ms = d->profiled.median;
  }
  free(ms);
  for (int i = 0; i < n && st == CLM_OK; i++) {
    clm_op_profile p;
    st = clm_graph_profile_get(s->s->g, i, &p);
    if (st != CLM_OK || p.calls == 0) continue;
    bench_op *b = &d->ops[d->nops++];
    snprintf(b->node, sizeof b->node, "%s", p.node);
    snprintf(b->variant, sizeof b->variant, "%s", p.variant);
    b->op = clm_layer_type_name(p.op);
    b->pass = clm_graph_pass_name(p.pass);
    b->is_loss = p.is_loss;
    b->ms = p.ms;
    b->per_step = (double)p.calls / o->steps;
    b->flop = p.flop;
    b->bytes = p.bytes;
    d->flop_per_step += p.flop * b->per_step;
    if (p.is_loss && p.pass == CLM_PASS_FORWARD) {
      d->mtl_ms += p.ms * b->per_step;
      d->mtl_bytes += p.bytes * b->per_step;
    }
  }
  qsort(d->ops, (size_t)d->nops, sizeof *d->ops, cmp_op);
  clm_status off = clm_graph_profile_enable(s->s->g, 0);
  return st != CLM_OK ? st : off;
}

static clm_status infer_time(const bench_opts *o, clm_context *ctx, bench_spread *out) {
  clm_graph *g = NULL;
  int runs = o->steps < 3 ? 3 : o->steps;
  double ms[64];
  if (runs > 64) runs = 64;
  clm_status st = clm_graph_create(ctx, &g);
  if (st == CLM_OK) st = clm_graph_load(g, o->model);
  clm_graph_options go = {o->batch, o->height, o->width, 0, -1, 0};
  if (st == CLM_OK) st = clm_graph_compile(g, &go);
  if (st == CLM_OK) st = cli_fill_inputs(ctx, g, 2);
  for (int i = -1; i < runs && st == CLM_OK; i++) { /* run -1 warms up */
    double t0 = clm_time_seconds();
    st = clm_graph_forward(g);
    if (st == CLM_OK) st = clm_context_finish(ctx);
    if (i >= 0) ms[i] = (clm_time_seconds() - t0) * 1e3;
  }
  if (st == CLM_OK) *out = spread_of(ms, runs);
  clm_graph_free(g);
  return st;
}

static void fail(bench_device *d, const char *stage) {
  d->ok = 0;
  snprintf(d->error, sizeof d->error, "%s: %s", stage, clm_last_error());
}

/* Everything for one device; failures end up in d->error. */
static void bench_device_run(const bench_opts *o, const char *spec, bench_device *d) {
  char tmp[512];
  const char *base = getenv("TMPDIR");
  snprintf(tmp, sizeof tmp, "%s/clmtl-bench-XXXXXX", base && *base ? base : "/tmp");
  if (!mkdtemp(tmp)) {
    snprintf(d->error, sizeof d->error, "cannot create a temporary cache directory in %s",
             base && *base ? base : "/tmp");
    return;
  }
  clm_context_options user = cli_context_options_from_env();
  user.device = spec;
  copy_tuning(&user, tmp);
  clm_context_options co = redirected_options(&user, tmp);
  int cold_ok = 0;
  if (o->keep_driver_cache)
    snprintf(d->driver_cache, sizeof d->driver_cache, "kept (--keep-driver-cache)");
  else
    cold_ok = cold_start_child(o, &user, d) == 0;
  if (cold_ok)
    progress(d, "cold start %.2f s (child process; empty program cache, driver cache %s)",
             d->cold_s, d->driver_cache);
  session s = {0};
  double *ms = NULL;
  d->ok = 1;

  double t0 = clm_time_seconds();
  if (session_open(o, &co, &s) != CLM_OK) { fail(d, "cold start"); goto done; }
  d->cold_kept_s = clm_time_seconds() - t0;
  if (!cold_ok) d->cold_s = d->cold_kept_s;
  session_close(&s);
  progress(d, "cold start %.2f s (context, compile, first train step; empty program cache, "
           "driver cache kept)", d->cold_kept_s);

  t0 = clm_time_seconds();
  if (session_open(o, &co, &s) != CLM_OK) { fail(d, "warm start"); goto done; }
  d->warm_s = clm_time_seconds() - t0;
  size_t extra_bytes = 0;
  clm_mtl_cost(s.s->mtl, &extra_bytes, &d->mtl_extra_backward);
  d->mtl_extra_bytes = (double)extra_bytes;
  d->cold = spread_one(d->cold_s);
  d->cold_kept = spread_one(d->cold_kept_s);
  d->warm = spread_one(d->warm_s);
  progress(d, "warm start %.2f s (filled program cache)", d->warm_s);

  ms = calloc((size_t)o->steps, sizeof *ms);
  if (!ms) { snprintf(d->error, sizeof d->error, "out of host memory"); d->ok = 0; goto done; }
  for (int i = 0; i < o->warmup; i++)
    if (train_step(&s, &ms[0]) != CLM_OK) { fail(d, "warm-up step"); goto done; }
  for (int i = 0; i < o->steps; i++) {
    if (train_step(&s, &ms[i]) != CLM_OK) { fail(d, "train step"); goto done; }
    progress(d, "train step %d/%d: %.1f ms", i + 1, o->steps, ms[i]);
  }
  d->train = spread_of(ms, o->steps);
  d->train_ms = d->train.median;
  clm_context_memory(s.s->ctx, NULL, &d->peak_bytes);

  if (profile_steps(o, &s, d) != CLM_OK) { fail(d, "profiled step"); goto done; }
  clm_session_release_graph(s.s);
  progress(d, "profiled steps: median %.1f ms, %.2f GFLOP per step", d->profiled_ms,
           d->flop_per_step * 1e-9);

  if (infer_time(o, s.s->ctx, &d->infer) != CLM_OK) { fail(d, "inference"); goto done; }
  d->infer_ms = d->infer.median;
  progress(d, "inference: median %.1f ms", d->infer_ms);

  if (clm_probe_run(s.s->ctx, NULL, &d->probe) != CLM_OK) { fail(d, "probe"); goto done; }
  progress(d, "probe: %.2f GB/s, %.1f GFLOP/s", d->probe.bandwidth_gbs, d->probe.peak_gflops);
done:
  free(ms);
  session_close(&s);
  remove_dir(tmp);
}

/* ---- the command ---------------------------------------------------------------------------- */

static const char *usage_text =
    "usage: clmtl bench [MODEL.cfg] [options]   (default models/default.cfg)\n"
    "       mpirun -np N clmtl bench --ranks [MODEL.cfg] ...   data-parallel scaling (--ranks --help)\n"
    "  --size HxW          input resolution (128x256)\n"
    "  --batch N           batch size (8)\n"
    "  --steps N           timed train steps, profiled steps and (at least 3) forwards (3)\n"
    "  --warmup N          more untimed train steps (0; the first step, part of the warm\n"
    "                      start, is never timed)\n"
    "  --weighting W       multi-task weighting (uncertainty); Adam optimizer\n"
    "  --device D          device: P:D, cpu, gpu or part of a name (default: as elsewhere)\n"
    "  --all-devices       every device of every platform, one comparison table\n"
    "  --ops               every (node, pass) in the op table, not only the top 12\n"
    "  --mode train|infer  train (default): the report below; infer: the inference graph\n"
    "                      node by node (time, share, kernel launches, host transfers per\n"
    "                      forward) and the outputs' read-back; stdout only\n"
    "  --keep-driver-cache cold start with the driver's kernel cache as it is (quicker: an\n"
    "                      empty PoCL cache means minutes of compiling for a large model)\n"
    "  --json FILE         results as JSON (the format tools/bench_torch.py reads)\n"
    "  --csv FILE          one line per device\n"
    "  --markdown FILE     comparison and op tables\n"
    "  --png FILE          bar chart: img/s per device, or one device's top ops\n"
    "  merge A.json B.json ... [--markdown F] [--csv F] [--png F]\n"
    "                      one table and chart from results taken on different machines\n"
    "                      ('clmtl bench merge --help')\n"
    "Cold start: with clmtl's program cache empty and the driver's kernel cache empty too where\n"
    "the driver lets a variable move it (PoCL: POCL_CACHE_DIR; NVIDIA: CUDA_CACHE_PATH; Intel:\n"
    "NEO_CACHE_DIR), in a child process; then again in this process with the driver's cache as\n"
    "it is. Warm start: both caches filled. Temporary caches are removed afterwards (the\n"
    "device's tuning file is copied into them). The JSON and CSV carry the date, host CPU and\n"
    "OS, clmtl version and commit, and the min/median/max of every timing. Output files are\n"
    "checked writable before anything runs.\n";

static int parse_args(int argc, char **argv, bench_opts *o) {
  const char *weighting = "uncertainty", *model = NULL;
  int npos;
  /* --batch up to 10^6, wider than elsewhere: a batch past a tensor's int range is reported
   * per device (JSON error), not refused as a usage error */
  const cli_opt opts[] = {CLI_OPT_SIZE("--size", &o->height, &o->width),
                          CLI_OPT_INT("--batch", &o->batch, 1, 1000000),
                          CLI_OPT_INT("--steps", &o->steps, 1, 1000000),
                          CLI_OPT_INT("--warmup", &o->warmup, 0, 1000000),
                          CLI_OPT_STRING("--device", &o->device),
                          CLI_OPT_STRING("--weighting", &weighting),
                          CLI_OPT_STRING("--json", &o->json),
                          CLI_OPT_STRING("--csv", &o->csv),
                          CLI_OPT_STRING("--markdown", &o->markdown),
                          CLI_OPT_STRING("--png", &o->png),
                          CLI_OPT_STRING("--mode", &o->mode),
                          CLI_OPT_STRING("--cold-start-child", &o->child_out),
                          CLI_OPT_FLAG("--all-devices", &o->all_devices),
                          CLI_OPT_FLAG("--ops", &o->ops),
                          CLI_OPT_FLAG("--keep-driver-cache", &o->keep_driver_cache),
                          CLI_OPT_END};
  int rc = cli_args_parse("bench", usage_text, opts, argc, argv, &model, 1, &npos);
  if (rc) return rc;
  if (model) o->model = model;
  if (o->all_devices && o->device) return cli_usage_error("--device and --all-devices exclude each other");
  if (o->mode && strcmp(o->mode, "train") && strcmp(o->mode, "infer"))
    return cli_usage_error("--mode must be train or infer");
  if (o->mode && !strcmp(o->mode, "infer") &&
      (o->json || o->csv || o->markdown || o->png || o->all_devices || o->warmup))
    return cli_usage_error("--mode infer prints to stdout for one device: --json, --csv, "
                           "--markdown, --png, --all-devices and --warmup are train-mode options");
  if (clm_mtl_strategy_parse(weighting, &o->strategy) != CLM_OK) {
    fprintf(stderr, "clmtl bench: %s\n", clm_last_error());
    return 2;
  }
  return 0;
}

/* When and where the run happens: UTC start time, the CPU's model name, the OS. */
static void host_info(bench_run *r) {
  time_t now = time(NULL);
  struct tm tm;
  if (!gmtime_r(&now, &tm) || !strftime(r->timestamp, sizeof r->timestamp, "%Y-%m-%dT%H:%M:%SZ", &tm))
    snprintf(r->timestamp, sizeof r->timestamp, "unknown");
  snprintf(r->host_cpu, sizeof r->host_cpu, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[512];
  while (f && fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (strncmp(line, "model name", 10) || !colon) continue;
    colon += 1 + strspn(colon + 1, " \t");
    colon[strcspn(colon, "\n")] = '\0';
    snprintf(r->host_cpu, sizeof r->host_cpu, "%s", colon);
    break;
  }
  if (f) fclose(f);
  struct utsname u;
  if (uname(&u) == 0) snprintf(r->host_os, sizeof r->host_os, "%s %s %s", u.sysname, u.release, u.machine);
  else snprintf(r->host_os, sizeof r->host_os, "unknown");
  f = fopen("/etc/os-release", "r"); /* the distribution, where there is one */
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, "PRETTY_NAME=", 12)) continue;
    char *v = line + 12 + (line[12] == '"');
    v[strcspn(v, "\"\n")] = '\0';
    size_t used = strlen(r->host_os);
    snprintf(r->host_os + used, sizeof r->host_os - used, " (%s)", v);
    break;
  }
  if (f) fclose(f);
}

int cmd_bench(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "merge")) return bench_merge(argc - 1, argv + 1);
  if (argc > 1 && !strcmp(argv[1], "--ranks")) return cmd_bench_ranks(argc - 1, argv + 1);
  bench_opts o = {.model = "models/default.cfg", .batch = 8, .height = 128, .width = 256,
                  .steps = 3, .warmup = 0};
  int rc = parse_args(argc, argv, &o);
  if (rc) return rc < 0 ? 0 : rc;
  if (bench_check_output("--json", o.json) || bench_check_output("--csv", o.csv) ||
      bench_check_output("--markdown", o.markdown) || bench_check_output("--png", o.png))
    return 1;
  const char *shown_model = o.model; /* as given: "models/default.cfg" reads the same anywhere */
  o.model = cli_shipped_model(o.model); /* a shipped model, run from elsewhere */
  if (o.child_out) return cold_start_child_main(&o);
  if (o.mode && !strcmp(o.mode, "infer")) {
    bench_infer_opts io = {o.model, shown_model, o.device, o.batch, o.height, o.width, o.steps,
                           o.ops};
    return bench_infer(&io);
  }
  clm_graph *check = NULL; /* read the model once before touching any device */
  if (clm_graph_create(NULL, &check) != CLM_OK || clm_graph_load(check, o.model) != CLM_OK) {
    fprintf(stderr, "clmtl bench: %s\n", clm_last_error());
    clm_graph_free(check);
    return 1;
  }
  clm_graph_free(check);

  bench_run run = {.model = shown_model, .batch = o.batch, .height = o.height, .width = o.width,
                   .steps = o.steps, .warmup = o.warmup,
                   .weighting = clm_mtl_strategy_name(o.strategy), .all_ops = o.ops};
  clm_device_info *list = NULL;
  if (o.all_devices) {
    if (clm_device_list(&list, &run.ndev) != CLM_OK) {
      fprintf(stderr, "clmtl bench: %s\n", clm_last_error());
      return 1;
    }
  } else {
    list = malloc(sizeof *list);
    if (!list || clm_device_select(cli_device(o.device), list) != CLM_OK) {
      fprintf(stderr, "clmtl bench: %s\n", list ? clm_last_error() : "out of host memory");
      free(list);
      return 1;
    }
    run.ndev = 1;
  }
  run.dev = calloc((size_t)run.ndev, sizeof *run.dev);
  if (!run.dev) {
    free(list);
    fprintf(stderr, "clmtl bench: out of host memory\n");
    return 1;
  }
  host_info(&run);
  run.have_load = load_average(run.load_start);
  printf("clmtl bench: %s, batch %d, %dx%d, %s weighting, Adam; medians of %d steps after %d "
         "warm-up\n", shown_model, o.batch, o.height, o.width, run.weighting, o.steps, o.warmup);
  for (int i = 0; i < run.ndev; i++) /* the choice --device made, or every device */
    printf("device %d:%d: %s (%s, driver %s)\n", list[i].platform_index, list[i].device_index,
           list[i].name, list[i].platform, list[i].driver);
  if (run.have_load) printf("load average %.2f at the start\n", run.load_start[0]);
  printf("\n");
  fflush(stdout);
  int nok = 0;
  for (int i = 0; i < run.ndev; i++) {
    bench_device *d = &run.dev[i];
    char spec[32];
    d->info = list[i];
    snprintf(spec, sizeof spec, "%d:%d", list[i].platform_index, list[i].device_index);
    bench_device_run(&o, spec, d);
    nok += d->ok;
    bench_print_device(&run, d, stdout);
    printf("\n");
    fflush(stdout);
  }
  if (run.ndev > 1) bench_print_comparison(&run, stdout);
  run.have_load = run.have_load && load_average(run.load_end);
  if (run.have_load)
    printf("%sload average %.2f at the end (other work on the machine slows every figure)\n",
           run.ndev > 1 ? "\n" : "", run.load_end[0]);
  rc = nok ? 0 : 1;
  if (o.json && bench_write_json(&run, o.json)) rc = 1;
  if (o.csv && bench_write_csv(&run, o.csv)) rc = 1;
  if (o.markdown && bench_write_markdown(&run, o.markdown)) rc = 1;
  if (o.png && bench_write_png(&run, o.png)) rc = 1;
  for (int i = 0; i < run.ndev; i++) free(run.dev[i].ops);
  free(run.dev);
  free(list);
  return rc;
}
