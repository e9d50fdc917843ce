/* Study files for `clmtl compare` (study.h): a small INI reader (sections, `key = value`, whole
 * comment lines starting with # or ;, as Python's configparser reads them by default) and the
 * checks of what a study must say. Every message starts "file:line: ". The statistics live in
 * stats.c; running the runs is the command line's. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/graph.h"
#include "clmtl/study.h"
#include "runtime/runtime-impl.h"

/* Options a study may not pass to `clmtl train`: compare sets them for each run. */
static const char *const reserved[] = {"out", "seed", "resume", "overwrite", "weighting", "task-weights",
                                       "epochs", "model", "data", "help", "dry-run"};

static int is_reserved(const char *key) {
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
    if (!strcmp(key, reserved[i])) return 1;
  return 0;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) s[--n] = '\0';
  return s;
}

/* A study file's sections: [study], [run.NAME], [grid.NAME]. */
typedef enum { SEC_NONE, SEC_STUDY, SEC_RUN, SEC_GRID } sec_kind;

typedef struct parser {
  const char *path;
  clm_study *s;
  sec_kind sec;
  int sec_line;
  char sec_name[CLM_STUDY_NAME_MAX];
  /* the section being read: its keys, checked when it ends */
  int nkv;
  struct { char key[CLM_STUDY_NAME_MAX]; char value[CLM_STUDY_VALUE_MAX]; int line; } kv[CLM_STUDY_MAX_ARGS + 8];
  int have_study;
} parser;

#define PFAIL(p, line, ...) CLM_FAIL(CLM_ERR_PARSE, "%s:%d: %s", (p)->path, (line), fmt_msg(__VA_ARGS__))

static const char *fmt_msg(const char *fmt, ...) {
  static char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

static const char *get(parser *p, const char *key, int *line) {
  for (int i = 0; i < p->nkv; i++)
    if (!strcmp(p->kv[i].key, key)) {
      if (line) *line = p->kv[i].line;
      return p->kv[i].value;
    }
  return NULL;
}

static clm_status parse_int(parser *p, int line, const char *key, const char *v, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (!*v || *trim(end) || errno || x < lo || x > hi)
    PFAIL(p, line, "%s = '%s': wanted an integer in [%ld, %ld]", key, v, lo, hi);
  *out = x;
  return CLM_OK;
}

/* sep-separated numbers: n of them, each finite and >= 0. */
static clm_status parse_weights(parser *p, int line, const char *v, float *w, int n) {
  char buf[CLM_STUDY_VALUE_MAX];
  snprintf(buf, sizeof buf, "%s", v);
  int k = 0;
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char *t = trim(tok), *end;
    double x = strtod(t, &end);
    if (!*t || *end || !isfinite(x) || x < 0)
      PFAIL(p, line, "weight '%s' in '%s': wanted a finite number >= 0", t, v);
    if (k == n) PFAIL(p, line, "'%s' has more than %d weights (the model's tasks: %d)", v, n, n);
    w[k++] = (float)x;
  }
  if (k != n) PFAIL(p, line, "'%s' has %d weight%s; the model has %d tasks (one weight each, in its order)", v, k,
                    k == 1 ? "" : "s", n);
  return CLM_OK;
}

static int task_index(const clm_study *s, const char *name) {
  for (int i = 0; i < s->ntasks; i++)
    if (!strcmp(s->task_names[i], name)) return i;
  return -1;
}

static clm_status check_weighting(parser *p, int line, const char *name) {
  clm_mtl_strategy st;
  if (clm_mtl_strategy_parse(name, &st) != CLM_OK) {
    const char *list = strchr(clm_last_error(), '(');
    PFAIL(p, line, "weighting = %s: unknown weighting %s", name, list ? list : "");
  }
  return CLM_OK;
}

/* The model's tasks, read without a device. */
static clm_status read_tasks(parser *p, int line) {
  clm_study *s = p->s;
  clm_graph *g = NULL;
  clm_status st = clm_graph_create(NULL, &g);
  if (st == CLM_OK) st = clm_graph_load(g, s->model);
  if (st != CLM_OK) {
    char msg[768];
    snprintf(msg, sizeof msg, "%s", clm_last_error());
    clm_graph_free(g);
    PFAIL(p, line, "model = %s: %s", s->model, msg);
  }
  /* the loss layers in file order, the order compile gives them */
  s->ntasks = 0;
  for (int i = 0; i < clm_graph_layer_count(g); i++) {
    const clm_layer *l = clm_graph_layer(g, i);
    if (!clm_layer_type_is_loss(l->type)) continue;
    if (s->ntasks == CLM_MTL_MAX_TASKS) {
      clm_graph_free(g);
      PFAIL(p, line, "model = %s has more than %d tasks", s->model, CLM_MTL_MAX_TASKS);
    }
    const char *n = strncmp(l->name, "task.", 5) ? l->name : l->name + 5;
    snprintf(s->task_names[s->ntasks], sizeof s->task_names[0], "%s", n);
    s->higher_better[s->ntasks++] = l->kind == CLM_TASK_CLASSIFICATION;
  }
  if (!s->ntasks) {
    clm_graph_free(g);
    PFAIL(p, line, "model = %s has no task ([task.NAME] sections)", s->model);
  }
  clm_graph_free(g);
  return CLM_OK;
}

/* Keys not consumed by the section become train options. */
static clm_status collect_args(parser *p, const char *const *known, int nknown, clm_study_arg *args, int *nargs) {
  *nargs = 0;
  for (int i = 0; i < p->nkv; i++) {
    int k = 0;
    while (k < nknown && strcmp(known[k], p->kv[i].key)) k++;
    if (k < nknown) continue;
    if (is_reserved(p->kv[i].key))
      PFAIL(p, p->kv[i].line, "'%s' is set by clmtl compare for each run and cannot be given here%s",
            p->kv[i].key, p->sec == SEC_STUDY ? "" : " (give it in [study] if it is one of model, data, epochs)");
    if (*nargs == CLM_STUDY_MAX_ARGS) PFAIL(p, p->kv[i].line, "more than %d options in one section", CLM_STUDY_MAX_ARGS);
    clm_study_arg *a = &args[(*nargs)++];
    snprintf(a->key, sizeof a->key, "%s", p->kv[i].key);
    snprintf(a->value, sizeof a->value, "%s", p->kv[i].value);
    a->line = p->kv[i].line;
  }
  return CLM_OK;
}

static clm_status end_study(parser *p) {
  clm_study *s = p->s;
  static const char *const known[] = {"name", "model", "data", "epochs", "seeds", "out"};
  int line = 0;
  const char *v;
  if ((v = get(p, "name", NULL))) snprintf(s->name, sizeof s->name, "%s", v);
  const char *need[] = {"model", "epochs", "seeds", "out"};
  for (int i = 0; i < 4; i++)
    if (!get(p, need[i], NULL)) PFAIL(p, p->sec_line, "[study] needs '%s'", need[i]);
  snprintf(s->model, sizeof s->model, "%s", get(p, "model", &line));
  CLM_TRY(read_tasks(p, line));
  if ((v = get(p, "data", NULL))) snprintf(s->data, sizeof s->data, "%s", v);
  snprintf(s->out, sizeof s->out, "%s", get(p, "out", NULL));
  long x;
  v = get(p, "epochs", &line);
  CLM_TRY(parse_int(p, line, "epochs", v, 1, 100000, &x));
  s->epochs = (int)x;
  v = get(p, "seeds", &line);
  char buf[CLM_STUDY_VALUE_MAX];
  snprintf(buf, sizeof buf, "%s", v);
  s->nseeds = 0;
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (s->nseeds == CLM_STUDY_MAX_SEEDS) PFAIL(p, line, "more than %d seeds", CLM_STUDY_MAX_SEEDS);
    CLM_TRY(parse_int(p, line, "seeds", trim(tok), 0, 0x7fffffffL, &x));
    for (int i = 0; i < s->nseeds; i++)
      if (s->seeds[i] == x) PFAIL(p, line, "seed %ld is listed twice", x);
    s->seeds[s->nseeds++] = x;
  }
  if (s->nseeds < 3) PFAIL(p, line, "seeds = %s: a study needs at least 3 seeds (mean ± std over them)", v);
  CLM_TRY(collect_args(p, known, 6, s->args, &s->nargs));
  p->have_study = 1;
  return CLM_OK;
}

static clm_status add_run(parser *p, clm_study_run **out) {
  clm_study *s = p->s;
  if (s->nruns == CLM_STUDY_MAX_RUNS) PFAIL(p, p->sec_line, "more than %d runs", CLM_STUDY_MAX_RUNS);
  clm_study_run *r = &s->runs[s->nruns++];
  memset(r, 0, sizeof *r);
  r->line = p->sec_line;
  *out = r;
  return CLM_OK;
}

static clm_status end_run(parser *p) {
  clm_study *s = p->s;
  clm_study_run *r;
  int line = 0;
  const char *single = get(p, "single", &line), *weighting = get(p, "weighting", NULL);
  const char *weights = get(p, "weights", NULL);
  if (single && (weighting || weights))
    PFAIL(p, line, "[run.%s]: 'single' trains one task alone (fixed weights); it takes no 'weighting' or "
          "'weights'", p->sec_name);
  if (!single && !weighting)
    PFAIL(p, p->sec_line, "[run.%s] needs 'single = TASK' or 'weighting = NAME'", p->sec_name);
  CLM_TRY(add_run(p, &r));
  snprintf(r->name, sizeof r->name, "%s", p->sec_name);
  if (single) {
    r->kind = CLM_STUDY_SINGLE;
    r->task = task_index(s, single);
    if (r->task < 0) {
      char list[512] = "";
      for (int i = 0, n = 0; i < s->ntasks; i++)
        n += snprintf(list + n, sizeof list - (size_t)n, "%s%s", i ? ", " : "", s->task_names[i]);
      PFAIL(p, line, "single = %s: the model %s has no such task (its tasks: %s)", single, s->model, list);
    }
    for (int i = 0; i < s->nruns - 1; i++)
      if (s->runs[i].kind == CLM_STUDY_SINGLE && s->runs[i].task == r->task)
        PFAIL(p, line, "a second single-task baseline of '%s' (the first is [run.%s], line %d)", single,
              s->runs[i].name, s->runs[i].line);
    snprintf(r->weighting, sizeof r->weighting, "fixed");
    r->has_weights = 1;
    for (int i = 0; i < s->ntasks; i++) r->weights[i] = i == r->task ? 1.0f : 0.0f;
  } else {
    int wl = 0;
    get(p, "weighting", &wl);
    CLM_TRY(check_weighting(p, wl, weighting));
    r->kind = CLM_STUDY_WEIGHTING;
    snprintf(r->weighting, sizeof r->weighting, "%s", weighting);
    if (weights) {
      get(p, "weights", &wl);
      CLM_TRY(parse_weights(p, wl, weights, r->weights, s->ntasks));
      r->has_weights = 1;
    }
  }
  static const char *const known[] = {"single", "weighting", "weights"};
  return collect_args(p, known, 3, r->args, &r->nargs);
}

/* A grid: `weights = a,b,c; d,e,f; ...`, one fixed-weight run per point. */
static clm_status end_grid(parser *p) {
  clm_study *s = p->s;
  int line = 0;
  const char *v = get(p, "weights", &line);
  if (!v) PFAIL(p, p->sec_line, "[grid.%s] needs 'weights = w1,w2,...; w1,w2,...' (one list per point)", p->sec_name);
  if (get(p, "weighting", &line)) PFAIL(p, line, "[grid.%s]: a grid is fixed weights; it takes no 'weighting'", p->sec_name);
  char buf[CLM_STUDY_VALUE_MAX];
  snprintf(buf, sizeof buf, "%s", v);
  static const char *const known[] = {"weights"};
  int npoints = 0;
  for (char *save = NULL, *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
    clm_study_run *r;
    CLM_TRY(add_run(p, &r));
    r->kind = CLM_STUDY_GRID;
    snprintf(r->weighting, sizeof r->weighting, "fixed");
    r->has_weights = 1;
    CLM_TRY(parse_weights(p, line, trim(tok), r->weights, s->ntasks));
    int n = snprintf(r->name, sizeof r->name, "%s", p->sec_name);
    for (int i = 0; i < s->ntasks; i++) n += snprintf(r->name + n, sizeof r->name - (size_t)n, "-%g", (double)r->weights[i]);
    CLM_TRY(collect_args(p, known, 1, r->args, &r->nargs));
    npoints++;
  }
  if (!npoints) PFAIL(p, line, "[grid.%s]: 'weights' lists no point", p->sec_name);
  return CLM_OK;
}

static clm_status end_section(parser *p) {
  clm_status st = CLM_OK;
  if (p->sec == SEC_STUDY) st = end_study(p);
  else if (p->sec == SEC_RUN) st = end_run(p);
  else if (p->sec == SEC_GRID) st = end_grid(p);
  p->nkv = 0;
  p->sec = SEC_NONE;
  return st;
}

/* A run's or grid's name becomes a directory name: letters, digits, '-', '_', '.'. */
static int plain_name(const char *n) {
  if (!*n || *n == '.') return 0;
  for (; *n; n++)
    if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') || (*n >= '0' && *n <= '9') || *n == '-' ||
          *n == '_' || *n == '.'))
      return 0;
  return 1;
}

static clm_status begin_section(parser *p, char *name, int line) {
  p->sec_line = line;
  if (!strcmp(name, "study")) {
    if (p->have_study || p->s->nruns) PFAIL(p, line, "[study] must come first, once");
    p->sec = SEC_STUDY;
    return CLM_OK;
  }
  if (!p->have_study) PFAIL(p, line, "[study] must come first (model, data, epochs, seeds, out)");
  const char *rest;
  if (!strncmp(name, "run.", 4)) p->sec = SEC_RUN, rest = name + 4;
  else if (!strncmp(name, "grid.", 5)) p->sec = SEC_GRID, rest = name + 5;
  else PFAIL(p, line, "unknown section [%s]: sections are [study], [run.NAME] and [grid.NAME]", name);
  if (!plain_name(rest) || strlen(rest) >= CLM_STUDY_NAME_MAX)
    PFAIL(p, line, "[%s]: a run's name is letters, digits, '-', '_' and '.' (at most %d characters)", name,
          CLM_STUDY_NAME_MAX - 1);
  for (int i = 0; i < p->s->nruns; i++)
    if (!strcmp(p->s->runs[i].name, rest) || (p->sec == SEC_GRID && !strncmp(p->s->runs[i].name, rest, strlen(rest)) &&
                                              p->s->runs[i].name[strlen(rest)] == '-'))
      PFAIL(p, line, "[%s]: the name '%s' is used twice (line %d)", name, rest, p->s->runs[i].line);
  snprintf(p->sec_name, sizeof p->sec_name, "%s", rest);
  return CLM_OK;
}

static clm_status parse_text(parser *p, char *text) {
  int line = 0;
  for (char *save = NULL, *ln = text; ln; ln = save) {
    char *nl = strchr(ln, '\n');
    save = nl ? nl + 1 : NULL;
    if (nl) *nl = '\0';
    line++;
    char *t = trim(ln);
    if (!*t || *t == '#' || *t == ';') continue;
    if (*t == '[') {
      char *close = strchr(t, ']');
      if (!close || close[1]) PFAIL(p, line, "a section header is [name] alone on its line, found '%s'", t);
      *close = '\0';
      CLM_TRY(end_section(p));
      CLM_TRY(begin_section(p, trim(t + 1), line));
      continue;
    }
    char *eq = strchr(t, '=');
    if (!eq) PFAIL(p, line, "expected 'key = value', found '%s'", t);
    if (p->sec == SEC_NONE) PFAIL(p, line, "'%s' comes before any section ([study] first)", t);
    *eq = '\0';
    char *key = trim(t), *value = trim(eq + 1);
    if (!*key || strlen(key) >= CLM_STUDY_NAME_MAX || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(key))
      PFAIL(p, line, "'%s' is not a key (lower-case letters, digits, '-', '_')", key);
    if (strlen(value) >= CLM_STUDY_VALUE_MAX) PFAIL(p, line, "the value of '%s' is longer than %d characters", key,
                                                    CLM_STUDY_VALUE_MAX - 1);
    if (get(p, key, NULL)) {
      int first = 0;
      get(p, key, &first);
      PFAIL(p, line, "'%s' is given twice in this section (first at line %d)", key, first);
    }
    if (p->nkv == (int)(sizeof p->kv / sizeof p->kv[0])) PFAIL(p, line, "too many keys in one section");
    snprintf(p->kv[p->nkv].key, sizeof p->kv[0].key, "%s", key);
    snprintf(p->kv[p->nkv].value, sizeof p->kv[0].value, "%s", value);
    p->kv[p->nkv++].line = line;
  }
  CLM_TRY(end_section(p));
  if (!p->have_study) PFAIL(p, line > 0 ? line : 1, "no [study] section");
  if (!p->s->nruns) PFAIL(p, line > 0 ? line : 1, "no runs: add [run.NAME] or [grid.NAME] sections");
  return CLM_OK;
}

clm_status clm_study_load(const char *path, clm_study *s) {
  memset(s, 0, sizeof *s);
  snprintf(s->path, sizeof s->path, "%s", path);
  const char *base = strrchr(path, '/');
  snprintf(s->name, sizeof s->name, "%s", base ? base + 1 : path);
  char *dot = strrchr(s->name, '.');
  if (dot && dot != s->name) *dot = '\0';
  FILE *f = fopen(path, "rb");
  if (!f) CLM_FAIL(CLM_ERR_IO, "cannot read the study file %s: %s", path, strerror(errno));
  char *text = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      cap = cap ? 2 * cap : 8192;
      char *t = cap > (1u << 24) ? NULL : realloc(text, cap);
      if (!t) {
        free(text);
        fclose(f);
        CLM_FAIL(CLM_ERR_PARSE, "%s: not a study file (larger than 16 MiB, or out of memory)", path);
      }
      text = t;
    }
    size_t n = fread(text + len, 1, 4096, f);
    len += n;
    if (n < 4096) break;
  }
  fclose(f);
  text[len] = '\0';
  if (strlen(text) != len) {
    free(text);
    CLM_FAIL(CLM_ERR_PARSE, "%s:1: not a text file (it holds a NUL byte)", path);
  }
  parser *p = calloc(1, sizeof *p);
  if (!p) {
    free(text);
    CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  }
  p->path = path;
  p->s = s;
  clm_status st = parse_text(p, text);
  free(p);
  free(text);
  return st;
}
