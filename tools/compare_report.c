/* The report of `clmtl compare` (compare.h): each run's result read from its own log.jsonl,
 * then one table per study as Markdown, CSV and JSON, and the Pareto plot (chart.c). The
 * numbers: each task's metric of the last epoch (mIoU for classification, MAE for regression)
 * as mean ± sample std over seeds; Δm% (clm_study_delta_m) of each seed against the baselines
 * of the same seed, then mean ± std over seeds; σ the learned exp(s/2) at the end. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chart.h"
#include "cli.h"
#include "compare.h"

int cmp_read_log(const clm_study *s, const char *dir, cmp_result *r, char *err, size_t errsize) {
  char *path = clm_path_join(dir, "log.jsonl");
  FILE *f = path ? fopen(path, "rb") : NULL;
  if (!f) {
    snprintf(err, errsize, "cannot read %s", path ? path : dir);
    free(path);
    return 1;
  }
  memset(r, 0, sizeof *r);
  for (int i = 0; i < CLM_MTL_MAX_TASKS; i++) r->metric[i] = r->sigma[i] = NAN;
  static double seconds[100001];
  int max_epoch = 0;
  char *line = NULL;
  size_t cap = 0;
  cJSON *last = NULL;
  while (getline(&line, &cap, f) > 0) {
    if (!strstr(line, "\"event\":\"epoch\"")) continue;
    cJSON *j = cJSON_Parse(line);
    cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "epoch");
    if (!cJSON_IsNumber(e) || e->valueint < 1 || e->valueint > 100000) {
      cJSON_Delete(j);
      continue;
    }
    cJSON *sec = cJSON_GetObjectItemCaseSensitive(j, "seconds");
    /* a resumed run may log an epoch again: its last record counts */
    for (int k = max_epoch + 1; k <= e->valueint; k++) seconds[k] = 0;
    seconds[e->valueint] = cJSON_IsNumber(sec) ? sec->valuedouble : 0;
    if (e->valueint >= max_epoch) {
      max_epoch = e->valueint;
      cJSON_Delete(last);
      last = j;
    } else {
      cJSON_Delete(j);
    }
  }
  free(line);
  fclose(f);
  if (!last) {
    snprintf(err, errsize, "%s holds no epoch record", path);
    free(path);
    return 1;
  }
  r->final_epoch = max_epoch;
  for (int k = 1; k <= max_epoch; k++) r->train_seconds += seconds[k];
  cJSON *tasks = cJSON_GetObjectItemCaseSensitive(last, "tasks");
  int bad = 0;
  for (int i = 0; i < s->ntasks; i++) {
    cJSON *t = cJSON_GetObjectItemCaseSensitive(tasks, s->task_names[i]);
    if (!t) {
      snprintf(err, errsize, "%s: the last epoch record has no task '%s'", path, s->task_names[i]);
      bad = 1;
      break;
    }
    cJSON *m = cJSON_GetObjectItemCaseSensitive(t, s->higher_better[i] ? "miou" : "mae");
    cJSON *sg = cJSON_GetObjectItemCaseSensitive(t, "sigma");
    r->metric[i] = cJSON_IsNumber(m) ? m->valuedouble : NAN;
    r->sigma[i] = cJSON_IsNumber(sg) ? sg->valuedouble : NAN;
  }
  cJSON_Delete(last);
  free(path);
  return bad;
}

/* ---- the table ------------------------------------------------------------------------------ */

typedef struct row {
  int done;                                  /* seeds finished */
  double mean[CLM_MTL_MAX_TASKS], std[CLM_MTL_MAX_TASKS];
  double sigma[CLM_MTL_MAX_TASKS], sigma_std[CLM_MTL_MAX_TASKS];
  double dm, dm_std;                         /* NaN without every baseline */
  double train, train_std;
  int nondom;                                /* non-dominated over every task's metric */
} row;

static const char *kind_name(clm_study_run_kind k) {
  return k == CLM_STUDY_SINGLE ? "single-task" : k == CLM_STUDY_GRID ? "fixed grid" : "weighting";
}

/* "0.512 ± 0.013" with the metric's precision; mIoU as %. */
static void fmt_pm(char *buf, size_t size, double m, double sd, int percent) {
  if (!isfinite(m)) snprintf(buf, size, "–");
  else if (percent) snprintf(buf, size, "%.1f ± %.1f", 100 * m, 100 * sd);
  else snprintf(buf, size, "%.4f ± %.4f", m, sd);
}

static void json_num(cJSON *o, const char *key, double v) {
  if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
  else cJSON_AddNullToObject(o, key);
}

static FILE *open_out(const clm_study *s, const char *ext, char *path, size_t size) {
  snprintf(path, size, "%s/%s.%s", s->out, s->name, ext);
  FILE *f = fopen(path, "wb");
  if (!f) fprintf(stderr, "clmtl compare: cannot write %s\n", path);
  return f;
}

static int write_md(const clm_study *s, const row *rows, int any_sigma, int have_base) {
  char path[2200], cell[96];
  FILE *f = open_out(s, "md", path, sizeof path);
  if (!f) return 1;
  fprintf(f, "| run | kind | weighting |");
  for (int t = 0; t < s->ntasks; t++)
    fprintf(f, " %s %s |", s->task_names[t], s->higher_better[t] ? "mIoU % ↑" : "MAE ↓");
  fprintf(f, " Δm %% ↑ |");
  if (any_sigma)
    for (int t = 0; t < s->ntasks; t++) fprintf(f, " σ %s |", s->task_names[t]);
  fprintf(f, " train s | seeds |\n|---|---|---|");
  for (int t = 0; t < s->ntasks + 1 + (any_sigma ? s->ntasks : 0) + 2; t++) fprintf(f, "---:|");
  fprintf(f, "\n");
  for (int i = 0; i < s->nruns; i++) {
    const clm_study_run *r = &s->runs[i];
    const row *w = &rows[i];
    fprintf(f, "| %s%s | %s | %s |", r->name, w->nondom ? " *" : "", kind_name(r->kind), r->weighting);
    for (int t = 0; t < s->ntasks; t++) {
      fmt_pm(cell, sizeof cell, w->mean[t], w->std[t], s->higher_better[t]);
      fprintf(f, " %s |", cell);
    }
    if (isfinite(w->dm)) fprintf(f, " %+.2f ± %.2f |", w->dm, w->dm_std);
    else fprintf(f, " – |");
    for (int t = 0; any_sigma && t < s->ntasks; t++) {
      if (isfinite(w->sigma[t])) fprintf(f, " %.3f ± %.3f |", w->sigma[t], w->sigma_std[t]);
      else fprintf(f, " – |");
    }
    if (isfinite(w->train)) fprintf(f, " %.1f ± %.1f |", w->train, w->train_std);
    else fprintf(f, " – |");
    fprintf(f, " %d/%d |\n", w->done, s->nseeds);
  }
  fprintf(f, "\nEach cell: mean ± sample std over the seeds of the last epoch's validation metric (mIoU for "
             "classification, MAE for regression). Δm%% = 100 · mean over tasks of (−1)^l_t (M_t − M_b,t) / M_b,t, "
             "l_t = 1 where lower is better (Maninis et al. 2019; Vandenhende et al. 2021), M_b,t the single-task "
             "baseline of the same seed (same data and initialisation); per seed, then mean ± std; none for the "
             "single-task rows, whose other tasks are untrained.%s σ = exp(s/2), the learned uncertainty at the end. "
             "train s: the epochs' time (training and validation). * non-dominated over all tasks' metrics.\n",
          have_base ? "" : " (No Δm%: the study lacks a single-task baseline for every task.)");
  fclose(f);
  printf("table: %s\n", path);
  return 0;
}

static int write_csv(const clm_study *s, const row *rows) {
  char path[2200];
  FILE *f = open_out(s, "csv", path, sizeof path);
  if (!f) return 1;
  fprintf(f, "run,kind,weighting,seeds");
  for (int t = 0; t < s->ntasks; t++)
    fprintf(f, ",%s_%s_mean,%s_%s_std,%s_sigma_mean,%s_sigma_std", s->task_names[t], s->higher_better[t] ? "miou" : "mae",
            s->task_names[t], s->higher_better[t] ? "miou" : "mae", s->task_names[t], s->task_names[t]);
  fprintf(f, ",delta_m_pct_mean,delta_m_pct_std,train_seconds_mean,train_seconds_std,nondominated\n");
  for (int i = 0; i < s->nruns; i++) {
    const row *w = &rows[i];
    fprintf(f, "%s,%s,%s,%d", s->runs[i].name, kind_name(s->runs[i].kind), s->runs[i].weighting, w->done);
    double v[4];
    for (int t = 0; t < s->ntasks; t++) {
      v[0] = w->mean[t], v[1] = w->std[t], v[2] = w->sigma[t], v[3] = w->sigma_std[t];
      for (int k = 0; k < 4; k++) isfinite(v[k]) ? fprintf(f, ",%.9g", v[k]) : fprintf(f, ",");
    }
    v[0] = w->dm, v[1] = w->dm_std, v[2] = w->train, v[3] = w->train_std;
    for (int k = 0; k < 4; k++) isfinite(v[k]) ? fprintf(f, ",%.9g", v[k]) : fprintf(f, ",");
    fprintf(f, ",%d\n", w->nondom);
  }
  fclose(f);
  printf("csv: %s\n", path);
  return 0;
}

static int write_json(const clm_study *s, const row *rows, const cmp_result *res) {
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "study", s->name);
  cJSON_AddStringToObject(j, "file", s->path);
  cJSON_AddStringToObject(j, "model", s->model);
  cJSON_AddNumberToObject(j, "epochs", s->epochs);
  cJSON *seeds = cJSON_AddArrayToObject(j, "seeds");
  for (int k = 0; k < s->nseeds; k++) cJSON_AddItemToArray(seeds, cJSON_CreateNumber((double)s->seeds[k]));
  cJSON_AddStringToObject(j, "delta_m", "100 * mean_t (-1)^l_t (M_t - M_b,t) / M_b,t per seed against the "
                                        "baselines of the same seed; l_t = 1 where lower is better; std: sample (n-1)");
  cJSON *tasks = cJSON_AddArrayToObject(j, "tasks");
  for (int t = 0; t < s->ntasks; t++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", s->task_names[t]);
    cJSON_AddStringToObject(o, "metric", s->higher_better[t] ? "miou" : "mae");
    cJSON_AddBoolToObject(o, "higher_is_better", s->higher_better[t]);
    cJSON_AddItemToArray(tasks, o);
  }
  cJSON *runs = cJSON_AddArrayToObject(j, "runs");
  for (int i = 0; i < s->nruns; i++) {
    const row *w = &rows[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", s->runs[i].name);
    cJSON_AddStringToObject(o, "kind", kind_name(s->runs[i].kind));
    cJSON_AddStringToObject(o, "weighting", s->runs[i].weighting);
    cJSON_AddNumberToObject(o, "seeds_done", w->done);
    cJSON *m = cJSON_AddObjectToObject(o, "tasks");
    for (int t = 0; t < s->ntasks; t++) {
      cJSON *x = cJSON_AddObjectToObject(m, s->task_names[t]);
      json_num(x, "mean", w->mean[t]);
      json_num(x, "std", w->std[t]);
      json_num(x, "sigma_mean", w->sigma[t]);
      json_num(x, "sigma_std", w->sigma_std[t]);
      cJSON *per = cJSON_AddArrayToObject(x, "per_seed");
      for (int k = 0; k < s->nseeds; k++) {
        const cmp_result *r = &res[i * s->nseeds + k];
        cJSON_AddItemToArray(per, r->done && isfinite(r->metric[t]) ? cJSON_CreateNumber(r->metric[t]) : cJSON_CreateNull());
      }
    }
    json_num(o, "delta_m_pct_mean", w->dm);
    json_num(o, "delta_m_pct_std", w->dm_std);
    json_num(o, "train_seconds_mean", w->train);
    json_num(o, "train_seconds_std", w->train_std);
    cJSON_AddBoolToObject(o, "nondominated", w->nondom);
    cJSON_AddItemToArray(runs, o);
  }
  char *text = cJSON_Print(j);
  cJSON_Delete(j);
  char path[2200];
  FILE *f = text ? open_out(s, "json", path, sizeof path) : NULL;
  int bad = !f || fputs(text, f) < 0;
  if (f) fputc('\n', f), fclose(f);
  free(text);
  if (!bad) printf("json: %s\n", path);
  return bad;
}

/* One panel per pair of tasks: the fixed-weight runs (grid and single-task) and the other
 * weightings at their seed means, the pair's non-dominated points ringed. */
static int write_png(const clm_study *s, const row *rows) {
  if (s->ntasks < 2) return 0;
  static cli_scatter_panel panels[CLM_MTL_MAX_TASKS * (CLM_MTL_MAX_TASKS - 1) / 2];
  static double xs[CLM_STUDY_MAX_RUNS * 45], ys[CLM_STUDY_MAX_RUNS * 45];
  static int kinds[CLM_STUDY_MAX_RUNS], marks[CLM_STUDY_MAX_RUNS * 45];
  static const char *labels[CLM_STUDY_MAX_RUNS];
  static char weights[CLM_STUDY_MAX_RUNS][CLM_MTL_MAX_TASKS * 12];
  static char axis[90][96];
  int np = 0;
  for (int i = 0; i < s->nruns; i++) {
    kinds[i] = s->runs[i].kind == CLM_STUDY_WEIGHTING ? CLI_POINT_METHOD : CLI_POINT_FIXED;
    /* methods by name, fixed-weight points by their weights */
    labels[i] = s->runs[i].name;
    if (s->runs[i].kind == CLM_STUDY_WEIGHTING) continue;
    for (int t = 0, n = 0; t < s->ntasks; t++)
      n += snprintf(weights[i] + n, sizeof weights[i] - (size_t)n, "%s%g", t ? "/" : "", (double)s->runs[i].weights[t]);
    labels[i] = weights[i];
  }
  for (int a = 0; a < s->ntasks && np < 6; a++)
    for (int b = a + 1; b < s->ntasks && np < 6; b++, np++) {
      cli_scatter_panel *p = &panels[np];
      double *x = xs + (size_t)np * s->nruns, *y = ys + (size_t)np * s->nruns;
      double pts[2 * CLM_STUDY_MAX_RUNS];
      int hb[2] = {s->higher_better[a], s->higher_better[b]}, *mk = marks + (size_t)np * s->nruns;
      for (int i = 0; i < s->nruns; i++) {
        double sc_a = s->higher_better[a] ? 100 : 1, sc_b = s->higher_better[b] ? 100 : 1;
        /* single-task runs leave the other tasks untrained: not on the plot */
        int shown = rows[i].done && s->runs[i].kind != CLM_STUDY_SINGLE;
        x[i] = shown ? rows[i].mean[a] * sc_a : NAN;
        y[i] = shown ? rows[i].mean[b] * sc_b : NAN;
        pts[2 * i] = x[i];
        pts[2 * i + 1] = y[i];
      }
      clm_study_nondominated(pts, s->nruns, 2, hb, mk);
      snprintf(axis[2 * np], sizeof axis[0], "%s %s", s->task_names[a], hb[0] ? "mIoU %, higher is better" : "MAE, lower is better");
      snprintf(axis[2 * np + 1], sizeof axis[0], "%s %s", s->task_names[b], hb[1] ? "mIoU %, higher is better" : "MAE, lower is better");
      p->xlabel = axis[2 * np];
      p->ylabel = axis[2 * np + 1];
      p->npoints = s->nruns;
      p->x = x;
      p->y = y;
      p->kind = kinds;
      p->ringed = mk;
      p->labels = labels;
    }
  char title[256], path[2200];
  snprintf(title, sizeof title, "%s: fixed weights (squares, w1/w2/...), weightings (diamonds); means of %d seeds; ring: non-dominated in the panel",
           s->name, s->nseeds);
  cli_scatter sc = {title, np, panels};
  snprintf(path, sizeof path, "%s/%s.png", s->out, s->name);
  if (cli_scatter_write_png(&sc, path) != CLM_OK) {
    fprintf(stderr, "clmtl compare: %s: %s\n", path, cli_chart_error());
    return 1;
  }
  printf("plot: %s\n", path);
  return 0;
}

int cmp_write_report(const clm_study *s, const cmp_result *res) {
  row *rows = calloc((size_t)s->nruns, sizeof *rows);
  if (!rows) return 1;
  int ns = s->nseeds, base_run[CLM_MTL_MAX_TASKS], have_base = 1, any_sigma = 0;
  double base[CLM_MTL_MAX_TASKS];
  for (int t = 0; t < s->ntasks; t++) base_run[t] = -1;
  for (int i = 0; i < s->nruns; i++)
    if (s->runs[i].kind == CLM_STUDY_SINGLE) base_run[s->runs[i].task] = i;
  double v[CLM_STUDY_MAX_SEEDS];
  int cnt;
  for (int i = 0; i < s->nruns; i++) {
    row *w = &rows[i];
    for (int k = 0; k < ns; k++) w->done += res[i * ns + k].done;
    for (int t = 0; t < s->ntasks; t++) {
      for (int k = 0; k < ns; k++) v[k] = res[i * ns + k].done ? res[i * ns + k].metric[t] : NAN;
      clm_study_mean_std(v, ns, &w->mean[t], &w->std[t], &cnt);
      for (int k = 0; k < ns; k++) v[k] = res[i * ns + k].done ? res[i * ns + k].sigma[t] : NAN;
      clm_study_mean_std(v, ns, &w->sigma[t], &w->sigma_std[t], &cnt);
      any_sigma |= cnt > 0;
    }
    for (int k = 0; k < ns; k++) v[k] = res[i * ns + k].done ? res[i * ns + k].train_seconds : NAN;
    clm_study_mean_std(v, ns, &w->train, &w->train_std, &cnt);
  }
  for (int t = 0; t < s->ntasks; t++) {
    /* a baseline's own task: its metric; the others it did not train */
    base[t] = base_run[t] >= 0 ? rows[base_run[t]].mean[t] : NAN;
    if (!isfinite(base[t])) have_base = 0;
  }
  double *pts = malloc((size_t)s->nruns * s->ntasks * sizeof *pts);
  int *nd = malloc((size_t)s->nruns * sizeof *nd);
  for (int i = 0; i < s->nruns; i++) {
    row *w = &rows[i];
    for (int k = 0; k < ns; k++) {
      /* paired: against the baselines of the same seed (same data and initialisation), their
       * seed mean where that seed's baseline is missing */
      double b[CLM_MTL_MAX_TASKS];
      for (int t = 0; t < s->ntasks; t++) {
        const cmp_result *rb = base_run[t] >= 0 ? &res[base_run[t] * ns + k] : NULL;
        b[t] = rb && rb->done && isfinite(rb->metric[t]) ? rb->metric[t] : base[t];
      }
      v[k] = NAN;
      /* a single-task run's other tasks are untrained: no Δm */
      if (res[i * ns + k].done && have_base && s->runs[i].kind != CLM_STUDY_SINGLE) v[k] = clm_study_delta_m(res[i * ns + k].metric, b, s->higher_better, s->ntasks);
    }
    clm_study_mean_std(v, ns, &w->dm, &w->dm_std, &cnt);
    for (int t = 0; pts && t < s->ntasks; t++)
      pts[(size_t)i * s->ntasks + t] = w->done && s->runs[i].kind != CLM_STUDY_SINGLE ? w->mean[t] : NAN;
  }
  /* single-task runs leave the other tasks untrained: never on the front */
  if (pts && nd) {
    clm_study_nondominated(pts, s->nruns, s->ntasks, s->higher_better, nd);
    for (int i = 0; i < s->nruns; i++) rows[i].nondom = nd[i];
  }
  free(pts);
  free(nd);
  for (int i = 0; i < s->nruns; i++)
    if (rows[i].done < ns)
      fprintf(stderr, "clmtl compare: %s: %d of %d seeds finished; the table holds those\n", s->runs[i].name,
              rows[i].done, ns);
  int bad = write_md(s, rows, any_sigma, have_base) | write_csv(s, rows) | write_json(s, rows, res) | write_png(s, rows);
  free(rows);
  return bad;
}
