/* `clmtl compare STUDY.ini`: runs a study's runs one after another, each seed of each run as a
 * child `clmtl train` process (this same program) in its own process group and run directory
 * OUT/<run>/seed-<S>, its console output in console.txt there; then the report
 * (compare_report.c). Every run's options are checked (`train --dry-run`, in this process)
 * before the first one starts. Resumable: a run whose result.json is complete (written after
 * its process ended with status 0, with the study's epochs) is skipped; one interrupted midway
 * continues from its last.safetensors (--resume). A first SIGINT/SIGTERM is passed on to the
 * running child once (it saves and stops after its step), and the study stops after it. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cli.h"
#include "compare.h"

static const char *usage_text =
    "usage: clmtl compare STUDY.ini [--report-only] [--check] [--device D]\n"
    "  runs the study's runs (each seed a 'clmtl train' into OUT/<run>/seed-<S>), skipping those\n"
    "  already finished, then writes OUT/<study>.md, .csv, .json and .png: each task's metric\n"
    "  (mIoU for classification, MAE for regression; of the last epoch) as mean ± std over the\n"
    "  seeds, Δm% against the single-task baselines, the learned σ, training time, and a Pareto\n"
    "  plot of the fixed-weight runs with the other weightings placed on it\n"
    "  --report-only   write the report from the finished runs, start none\n"
    "  --check         read the study and check every run's options, then stop (exit 0)\n"
    "  --device D      passed to every run\n"
    "study file (INI):\n"
    "  [study]            model = FILE.cfg, data = DIR (optional: synthetic scenes), epochs = N,\n"
    "                     seeds = 1,2,3 (at least 3), out = DIR, name = NAME (optional); any\n"
    "                     other key is a 'clmtl train' option for every run (size = 32x64)\n"
    "  [run.NAME]         single = TASK (that task alone: weight 1, the others 0), or\n"
    "                     weighting = NAME [weights = w1,w2,...]; other keys: train options\n"
    "  [grid.NAME]        weights = w1,w2,...; w1,w2,...   one fixed-weight run per list\n"
    "Ctrl-C stops the running run after its step (it can be resumed); run the command again to\n"
    "continue. Exit status: 0 done, 1 a run failed, 2 usage or a bad study file, 130/143 stopped.\n";

/* OUT/<run>/seed-<S> */
static void run_dir(const clm_study *s, const clm_study_run *r, long seed, char *out, size_t size) {
  snprintf(out, size, "%s/%s/seed-%ld", s->out, r->name, seed);
}

static int file_exists(const char *dir, const char *name) {
  char *p = clm_path_join(dir, name);
  int there = p && access(p, F_OK) == 0;
  free(p);
  return there;
}

/* The `clmtl train` command line of one run and seed (argv[0] the program, argv[1] "train"); strings point into s, r
 * and store. resume: continue the run in dir; overwrite: replace what a failed start left. */
typedef struct argvec {
  const char *v[4 * (2 * CLM_STUDY_MAX_ARGS) + 48];
  int n;
  char seed[24], epochs[24], weights[CLM_MTL_MAX_TASKS * 24];
} argvec;

static void add(argvec *a, const char *x) { a->v[a->n++] = x; }

static void add_opts(argvec *a, const clm_study_arg *args, int n, char (*names)[CLM_STUDY_NAME_MAX + 2]) {
  for (int i = 0; i < n; i++) {
    snprintf(names[i], sizeof names[i], "--%s", args[i].key);
    add(a, names[i]);
    if (args[i].value[0] && strcmp(args[i].value, "true")) add(a, args[i].value);
  }
}

static int has_key(const clm_study_arg *args, int n, const char *key) {
  for (int i = 0; i < n; i++)
    if (!strcmp(args[i].key, key)) return 1;
  return 0;
}

static char study_names[CLM_STUDY_MAX_ARGS][CLM_STUDY_NAME_MAX + 2];
static char run_names[CLM_STUDY_MAX_ARGS][CLM_STUDY_NAME_MAX + 2];

static void build_args(const clm_study *s, const clm_study_run *r, long seed, const char *dir, const char *device,
                       int resume, int overwrite, argvec *a) {
  a->n = 0;
  add(a, cli_program);
  add(a, "train");
  snprintf(a->epochs, sizeof a->epochs, "%d", s->epochs);
  if (resume) {
    /* the run recorded its options; only these may be given again */
    add(a, "--resume");
    add(a, dir);
    add(a, "--epochs");
    add(a, a->epochs);
  } else {
    snprintf(a->seed, sizeof a->seed, "%ld", seed);
    add(a, "--model");
    add(a, s->model);
    if (s->data[0]) add(a, "--data"), add(a, s->data);
    add(a, "--epochs");
    add(a, a->epochs);
    add(a, "--seed");
    add(a, a->seed);
    add(a, "--out");
    add(a, dir);
    /* early stopping on the uniform validation loss would cut single-task runs short */
    if (!has_key(s->args, s->nargs, "patience") && !has_key(r->args, r->nargs, "patience"))
      add(a, "--patience"), add(a, "0");
    add(a, "--weighting");
    add(a, r->weighting);
    if (r->has_weights) {
      int n = 0;
      for (int i = 0; i < s->ntasks; i++)
        n += snprintf(a->weights + n, sizeof a->weights - (size_t)n, "%s%.9g", i ? "," : "", (double)r->weights[i]);
      add(a, "--task-weights");
      add(a, a->weights);
    }
    add_opts(a, s->args, s->nargs, study_names);
    add_opts(a, r->args, r->nargs, run_names);
    if (overwrite) add(a, "--overwrite");
  }
  if (device) add(a, "--device"), add(a, device);
  a->v[a->n] = NULL;
}

/* result.json: complete when it parses, says "complete": true and has the study's epochs. */
static int result_complete(const clm_study *s, const char *dir) {
  char *p = clm_path_join(dir, "result.json");
  FILE *f = p ? fopen(p, "rb") : NULL;
  free(p);
  if (!f) return 0;
  char buf[8192];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  cJSON *j = cJSON_Parse(buf);
  int ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "complete")) &&
           cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "epochs")) &&
           cJSON_GetObjectItemCaseSensitive(j, "epochs")->valueint == s->epochs;
  cJSON_Delete(j);
  return ok;
}

/* Writes dir/result.json (through a temporary file and a rename) from r. */
static int write_result(const clm_study *s, const clm_study_run *run, long seed, const char *dir,
                        const cmp_result *r) {
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "study", s->name);
  cJSON_AddStringToObject(j, "run", run->name);
  cJSON_AddNumberToObject(j, "seed", (double)seed);
  cJSON_AddNumberToObject(j, "epochs", s->epochs);
  cJSON_AddNumberToObject(j, "final_epoch", r->final_epoch);
  cJSON_AddNumberToObject(j, "train_seconds", r->train_seconds);
  cJSON_AddNumberToObject(j, "wall_seconds", r->wall_seconds);
  cJSON *t = cJSON_AddObjectToObject(j, "tasks");
  for (int i = 0; i < s->ntasks; i++) {
    cJSON *o = cJSON_AddObjectToObject(t, s->task_names[i]);
    cJSON_AddStringToObject(o, "metric", s->higher_better[i] ? "miou" : "mae");
    if (isfinite(r->metric[i])) cJSON_AddNumberToObject(o, "value", r->metric[i]);
    else cJSON_AddNullToObject(o, "value");
    if (isfinite(r->sigma[i])) cJSON_AddNumberToObject(o, "sigma", r->sigma[i]);
    else cJSON_AddNullToObject(o, "sigma");
  }
  cJSON_AddBoolToObject(j, "complete", 1);
  char *text = cJSON_Print(j);
  cJSON_Delete(j);
  char *path = clm_path_join(dir, "result.json"), *tmp = clm_path_join(dir, "result.json.tmp");
  FILE *f = text && tmp ? fopen(tmp, "wb") : NULL;
  int bad = !f || fputs(text, f) < 0 || fputc('\n', f) < 0;
  if (f && fclose(f) != 0) bad = 1;
  if (!bad && rename(tmp, path) != 0) bad = 1;
  if (bad) fprintf(stderr, "clmtl compare: cannot write %s: %s\n", path ? path : dir, strerror(errno));
  free(text);
  free(path);
  free(tmp);
  return bad;
}

/* The last lines of dir/console.txt on stderr, indented. */
static void print_tail(const char *dir) {
  char *p = clm_path_join(dir, "console.txt");
  FILE *f = p ? fopen(p, "rb") : NULL;
  if (f) {
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, n > 1500 ? n - 1500 : 0, SEEK_SET);
    char buf[1600];
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    buf[k] = '\0';
    char *start = n > 1500 ? strchr(buf, '\n') : NULL;
    fprintf(stderr, "  the end of %s:\n", p);
    for (char *line = start ? start + 1 : buf, *save = NULL; (line = strtok_r(line, "\n", &save)); line = NULL)
      fprintf(stderr, "    %s\n", line);
    fclose(f);
  }
  free(p);
}

/* Runs `self a->v` with stdout and stderr to dir/console.txt in its own process group; the
 * first stop request reaching this process is passed on to it. Returns its exit status (128 +
 * signal when a signal ended it), or -1 when it could not be started. */
static int run_child(const char *self, const argvec *a, const char *dir) {
  char *log = clm_path_join(dir, "console.txt");
  if (!log) return -1;
  int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) {
    fprintf(stderr, "clmtl compare: cannot write %s: %s\n", log, strerror(errno));
    free(log);
    return -1;
  }
  free(log);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    close(fd);
    fprintf(stderr, "clmtl compare: fork: %s\n", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    setpgid(0, 0); /* terminal signals reach compare, which passes them on once */
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    /* exec resets caught signals to their default and keeps ignored ones ignored (nohup) */
    execv(self, (char *const *)a->v);
    fprintf(stderr, "clmtl compare: cannot run %s: %s\n", self, strerror(errno));
    _exit(127);
  }
  close(fd);
  int forwarded = 0, status = 0;
  for (;;) {
    if (cli_stop_signal && !forwarded) {
      kill(pid, cli_stop_signal);
      forwarded = 1;
    }
    pid_t w = waitpid(pid, &status, 0);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) return -1;
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

/* The path of this program, for the child processes. */
static const char *self_path(void) {
  static char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    buf[n] = '\0';
    return buf;
  }
  return cli_program;
}

/* Every run's options through `clmtl train --dry-run`, before any run starts; stderr names
 * the study file and line of the run. */
static int check_runs(const clm_study *s, const char *device) {
  for (int i = 0; i < s->nruns; i++) {
    const clm_study_run *r = &s->runs[i];
    argvec a;
    char dir[2048];
    run_dir(s, r, s->seeds[0], dir, sizeof dir);
    build_args(s, r, s->seeds[0], dir, device, 0, 0, &a);
    a.v[a.n++] = "--dry-run";
    a.v[a.n] = NULL;
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, STDOUT_FILENO); /* the usage text after an unknown option */
    int rc = cmd_train(a.n - 1, (char **)a.v + 1);
    fflush(stdout);
    if (saved >= 0) dup2(saved, STDOUT_FILENO), close(saved);
    if (devnull >= 0) close(devnull);
    if (rc != 0) {
      fprintf(stderr, "clmtl compare: %s:%d: [%s%s]: 'clmtl train' refuses these options (above)\n", s->path,
              r->line, r->kind == CLM_STUDY_GRID ? "grid." : "run.", r->name);
      return 2;
    }
  }
  return 0;
}

int cmd_compare(int argc, char **argv) {
  const char *study_path = NULL, *device = NULL, *pos[1];
  int report_only = 0, check_only = 0, npos = 0;
  cli_opt opts[] = {CLI_OPT_FLAG("--report-only", &report_only), CLI_OPT_FLAG("--check", &check_only),
                    CLI_OPT_STRING("--device", &device), CLI_OPT_END};
  int rc = cli_args_parse("compare", usage_text, opts, argc, argv, pos, 1, &npos);
  if (rc) return rc < 0 ? 0 : rc;
  if (npos != 1) {
    fprintf(stderr, "clmtl compare: give one study file\n%s", usage_text);
    return 2;
  }
  study_path = pos[0];
  static clm_study s;
  if (clm_study_load(study_path, &s) != CLM_OK) {
    fprintf(stderr, "clmtl compare: %s\n", cli_error());
    return 2;
  }
  if (check_runs(&s, device)) return 2;
  if (check_only) {
    printf("clmtl compare: study %s: %d runs x %d seeds, every run's options accepted\n", s.name, s.nruns, s.nseeds);
    return 0;
  }
  int total = s.nruns * s.nseeds;
  cmp_result *results = calloc((size_t)total, sizeof *results);
  if (!results) return 1;
  const char *self = self_path();
  printf("clmtl compare: study %s: %d runs x %d seeds, %d epochs each, into %s\n", s.name, s.nruns, s.nseeds,
         s.epochs, s.out);
  fflush(stdout);
  double t0 = clm_time_seconds();
  int failed = 0, stopped = 0, ran = 0, skipped = 0;
  cli_stop_graceful = 1;
  for (int i = 0; i < s.nruns && !failed && !stopped; i++) {
    for (int k = 0; k < s.nseeds && !failed && !stopped; k++) {
      if (cli_stop_signal) { /* it came between two runs */
        stopped = 1;
        printf("clmtl compare: stopped; run the same command again to continue\n");
        break;
      }
      const clm_study_run *r = &s.runs[i];
      char dir[2048], err[512];
      run_dir(&s, r, s.seeds[k], dir, sizeof dir);
      cmp_result *res = &results[i * s.nseeds + k];
      int n = i * s.nseeds + k + 1;
      if (result_complete(&s, dir)) {
        if (cmp_read_log(&s, dir, res, err, sizeof err) == 0) {
          res->done = 1;
          skipped++;
          printf("[%d/%d] %s seed %ld: finished before, skipped\n", n, total, r->name, s.seeds[k]);
          continue;
        }
      }
      if (report_only) continue;
      if (clm_mkdir_p(dir, 0755) != CLM_OK) {
        fprintf(stderr, "clmtl compare: %s\n", cli_error());
        failed = 1;
        break;
      }
      int resume = file_exists(dir, "last.safetensors");
      int overwrite = !resume && clm_train_dir_has_run(dir, NULL);
      argvec a;
      build_args(&s, r, s.seeds[k], dir, device, resume, overwrite, &a);
      printf("[%d/%d] %s seed %ld%s ...", n, total, r->name, s.seeds[k], resume ? " (resumed)" : "");
      fflush(stdout);
      double start = clm_time_seconds();
      int code = run_child(self, &a, dir);
      double wall = clm_time_seconds() - start;
      if (code == 0 && cmp_read_log(&s, dir, res, err, sizeof err) == 0) {
        res->wall_seconds = wall;
        if (write_result(&s, r, s.seeds[k], dir, res)) {
          failed = 1;
          break;
        }
        res->done = 1;
        ran++;
        printf(" %.1f s\n", wall);
        continue;
      }
      printf("\n");
      if (cli_stop_signal || code == 130 || code == 143) {
        stopped = 1;
        printf("clmtl compare: stopped during %s seed %ld; run the same command again to continue\n", r->name,
               s.seeds[k]);
      } else if (code == 0) {
        fprintf(stderr, "clmtl compare: %s seed %ld: %s\n", r->name, s.seeds[k], err);
        failed = 1;
      } else {
        fprintf(stderr, "clmtl compare: %s seed %ld failed (exit status %d); its output is in %s/console.txt\n",
                r->name, s.seeds[k], code, dir);
        print_tail(dir);
        failed = 1;
      }
    }
  }
  cli_stop_graceful = 0;
  int sig = cli_stop_signal;
  if (stopped || sig) {
    free(results);
    return 128 + (sig ? sig : SIGINT);
  }
  printf("clmtl compare: %d runs trained, %d skipped, %.1f s\n", ran, skipped, clm_time_seconds() - t0);
  int bad = cmp_write_report(&s, results);
  free(results);
  return failed || bad ? 1 : 0;
}
