/* Reports of `clmtl bench` (bench_report.h): the stdout tables, and the JSON, CSV, Markdown and
 * PNG files, and the check that those files can be written before a run. Nothing is measured
 * here. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "bench_report.h"
#include "chart.h"

#define TOP_OPS 12   /* ops shown without --ops */
#define CHART_OPS 15 /* bars in the one-device chart */

static double img_s(int batch, double ms) { return ms > 0 ? batch * 1e3 / ms : NAN; }
static double per_s(double amount, double ms) { return ms > 0 ? amount / (ms * 1e6) : NAN; }
static double op_step_ms(const bench_op *o) { return o->ms * o->per_step; }
static double ratio(double a, double b) { return b > 0 && isfinite(a) ? a / b : NAN; }

static const char *kind_name(clm_device_kind k) {
  switch (k) {
  case CLM_DEVICE_CPU: return "cpu";
  case CLM_DEVICE_GPU: return "gpu";
  case CLM_DEVICE_ACCELERATOR: return "accelerator";
  default: return "other";
  }
}

static int shown_ops(const bench_run *r, const bench_device *d) {
  return r->all_ops || d->nops < TOP_OPS ? d->nops : TOP_OPS;
}

static double ops_step_ms(const bench_device *d) {
  double s = 0;
  for (int i = 0; i < d->nops; i++) s += op_step_ms(&d->ops[i]);
  return s;
}

int bench_check_output(const char *opt, const char *path) {
  struct stat st;
  if (!path) return 0;
  if (stat(path, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      fprintf(stderr, "clmtl bench: %s %s: is a directory, not a file\n", opt, path);
      return 1;
    }
    if (access(path, W_OK) == 0) return 0;
    fprintf(stderr, "clmtl bench: %s %s: cannot write it: %s\n", opt, path, strerror(errno));
    return 1;
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) {
    fprintf(stderr, "clmtl bench: %s %s: cannot create it: %s\n", opt, path, strerror(errno));
    return 1;
  }
  close(fd);
  unlink(path);
  return 0;
}

/* ---- stdout ------------------------------------------------------------------------------ */

void bench_print_device(const bench_run *r, const bench_device *d, FILE *f) {
  fprintf(f, "device %d:%d  %s\n", d->info.platform_index, d->info.device_index, d->info.name);
  fprintf(f, "  platform          %s, %s, driver %s\n", d->info.platform, kind_name(d->info.kind),
          d->info.driver);
  if (!d->ok) {
    fprintf(f, "  error             %s\n", d->error);
    return;
  }
  const clm_probe_result *p = &d->probe;
  double gflops = per_s(d->flop_per_step, d->train_ms);
  fprintf(f, "  probe             %.2f GB/s copy bandwidth (float16 vectors), %.1f GFLOP/s fp32 FMA "
          "peak (float16 vectors); best of %d runs\n", p->bandwidth_gbs, p->peak_gflops, p->runs);
  fprintf(f, "  train step        %.1f ms  %.2f img/s  %.2f GFLOP/step  %.1f GFLOP/s (%.1f%% of peak); "
          "min %.1f, max %.1f ms\n", d->train_ms, img_s(r->batch, d->train_ms),
          d->flop_per_step * 1e-9, gflops, 100 * ratio(gflops, p->peak_gflops), d->train.min,
          d->train.max);
  fprintf(f, "  inference         %.1f ms  %.2f img/s; min %.1f, max %.1f ms\n", d->infer_ms,
          img_s(r->batch, d->infer_ms), d->infer.min, d->infer.max);
  fprintf(f, "  peak memory       %.1f MiB of device buffers during the train step\n",
          (double)d->peak_bytes / (1 << 20));
  fprintf(f, "  start             cold %.2f s (clmtl cache empty, driver cache %s), %.2f s with the "
          "driver cache kept, warm %.2f s (context to first train step)\n", d->cold_s,
          d->driver_cache, d->cold_kept_s, d->warm_s);
  double mtl_gbs = per_s(d->mtl_bytes, d->mtl_ms);
  fprintf(f, "  multi-task loss   %.2f ms/step, %.1f MB read, %.2f GB/s (%.1f%% of probe bandwidth)\n",
          d->mtl_ms, d->mtl_bytes * 1e-6, mtl_gbs, 100 * ratio(mtl_gbs, p->bandwidth_gbs));
  fprintf(f, "  weighting %-8s %d extra backward pass%s per step, %.2f MiB of extra device memory\n",
          r->weighting, d->mtl_extra_backward, d->mtl_extra_backward == 1 ? "" : "es",
          d->mtl_extra_bytes / (1 << 20));
  int n = shown_ops(r, d);
  fprintf(f, "  ops: %s%d of %d (node, pass) by time per step; profiled step %.1f ms, nodes %.1f%% "
          "of it\n", n < d->nops ? "top " : "", n, d->nops, d->profiled_ms,
          100 * ratio(ops_step_ms(d), d->profiled_ms));
  fprintf(f, "    %-22s %-15s %-9s %9s %6s %8s %6s %9s %7s %6s\n", "node", "pass", "variant",
          "ms/step", "share", "GFLOP/s", "%peak", "MB/run", "GB/s", "%bw");
  for (int i = 0; i < n; i++) {
    const bench_op *o = &d->ops[i];
    double gf = per_s(o->flop, o->ms), gb = per_s(o->bytes, o->ms);
    char gfs[16] = "-", pk[16] = "-";
    if (o->flop > 0) {
      snprintf(gfs, sizeof gfs, "%.1f", gf);
      snprintf(pk, sizeof pk, "%.1f", 100 * ratio(gf, p->peak_gflops));
    }
    fprintf(f, "    %-22s %-15s %-9s %9.2f %5.1f%% %8s %6s %9.2f %7.2f %6.1f\n", o->node, o->pass,
            o->variant, op_step_ms(o), 100 * ratio(op_step_ms(o), d->profiled_ms), gfs, pk,
            o->bytes * 1e-6, gb, 100 * ratio(gb, p->bandwidth_gbs));
  }
}

void bench_print_comparison(const bench_run *r, FILE *f) {
  fprintf(f, "%-44s %9s %7s %9s %7s %8s %8s %8s %8s %7s %7s\n", "device", "train ms", "img/s",
          "infer ms", "img/s", "GFLOP/s", "bw GB/s", "peak GF", "peak MiB", "cold s", "warm s");
  for (int i = 0; i < r->ndev; i++) {
    const bench_device *d = &r->dev[i];
    char name[160];
    snprintf(name, sizeof name, "%d:%d %s", d->info.platform_index, d->info.device_index, d->info.name);
    if (!d->ok) {
      fprintf(f, "%-44.44s failed: %.200s\n", name, d->error);
      continue;
    }
    fprintf(f, "%-44.44s %9.1f %7.2f %9.1f %7.2f %8.1f %8.2f %8.1f %8.1f %7.2f %7.2f\n", name,
            d->train_ms, img_s(r->batch, d->train_ms), d->infer_ms, img_s(r->batch, d->infer_ms),
            per_s(d->flop_per_step, d->train_ms), d->probe.bandwidth_gbs, d->probe.peak_gflops,
            (double)d->peak_bytes / (1 << 20), d->cold_s, d->warm_s);
  }
}

/* ---- JSON -------------------------------------------------------------------------------- */

static void num(cJSON *o, const char *key, double v) {
  if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
  else cJSON_AddNullToObject(o, key);
}

static void spread_json(cJSON *o, const char *key, const bench_spread *s) {
  cJSON *e = cJSON_AddObjectToObject(o, key);
  num(e, "min", s->min);
  num(e, "median", s->median);
  num(e, "max", s->max);
  num(e, "n", s->n);
}

static void rate_spread_json(cJSON *o, const char *key, const double v[3], int n) {
  bench_spread s = {v[0], v[1], v[2], n};
  spread_json(o, key, &s);
}

static cJSON *device_json(const bench_run *r, const bench_device *d) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "device", d->info.name);
  cJSON_AddStringToObject(o, "platform", d->info.platform);
  cJSON_AddStringToObject(o, "vendor", d->info.vendor);
  cJSON_AddStringToObject(o, "driver", d->info.driver);
  cJSON_AddStringToObject(o, "kind", kind_name(d->info.kind));
  if (!d->ok) {
    cJSON_AddStringToObject(o, "error", d->error);
    return o;
  }
  cJSON *p = cJSON_AddObjectToObject(o, "probe");
  num(p, "bandwidth_gbs", d->probe.bandwidth_gbs);
  num(p, "peak_gflops", d->probe.peak_gflops);
  cJSON_AddStringToObject(p, "bandwidth", "copy bandwidth (float16 vectors: 16 x fp32), best run");
  cJSON_AddStringToObject(p, "peak", "fp32 FMA peak (float16 vectors), best run");
  num(o, "train_step_ms", d->train_ms);
  num(o, "train_img_s", img_s(r->batch, d->train_ms));
  num(o, "infer_ms", d->infer_ms);
  num(o, "infer_img_s", img_s(r->batch, d->infer_ms));
  num(o, "peak_device_bytes", (double)d->peak_bytes);
  num(o, "cold_start_s", d->cold_s);
  num(o, "warm_start_s", d->warm_s);
  num(o, "cold_start_driver_cache_kept_s", d->cold_kept_s);
  cJSON_AddStringToObject(o, "cold_start_driver_cache", d->driver_cache);
  num(o, "train_gflop_per_step", d->flop_per_step * 1e-9);
  num(o, "train_gflops", per_s(d->flop_per_step, d->train_ms));
  num(o, "profiled_step_ms", d->profiled_ms);
  cJSON *sp = cJSON_AddObjectToObject(o, "spread"); /* min, median, max and n of each timing */
  spread_json(sp, "train_step_ms", &d->train);
  spread_json(sp, "profiled_step_ms", &d->profiled);
  spread_json(sp, "infer_ms", &d->infer);
  spread_json(sp, "cold_start_s", &d->cold);
  spread_json(sp, "cold_start_driver_cache_kept_s", &d->cold_kept);
  spread_json(sp, "warm_start_s", &d->warm);
  rate_spread_json(sp, "probe_bandwidth_gbs", d->probe.bandwidth_spread, d->probe.runs);
  rate_spread_json(sp, "probe_peak_gflops", d->probe.gflops_spread, d->probe.runs);
  cJSON *m = cJSON_AddObjectToObject(o, "mtl_reduction");
  double mtl_gbs = per_s(d->mtl_bytes, d->mtl_ms);
  num(m, "ms", d->mtl_ms);
  num(m, "bytes", d->mtl_bytes);
  num(m, "gbs", mtl_gbs);
  num(m, "fraction_of_bandwidth", ratio(mtl_gbs, d->probe.bandwidth_gbs));
  cJSON *wc = cJSON_AddObjectToObject(o, "weighting_cost");
  num(wc, "extra_backward_passes", d->mtl_extra_backward);
  num(wc, "extra_device_bytes", d->mtl_extra_bytes);
  cJSON *ops = cJSON_AddArrayToObject(o, "ops");
  for (int i = 0; i < d->nops; i++) {
    const bench_op *b = &d->ops[i];
    cJSON *e = cJSON_CreateObject();
    double gf = per_s(b->flop, b->ms), gb = per_s(b->bytes, b->ms);
    cJSON_AddStringToObject(e, "node", b->node);
    cJSON_AddStringToObject(e, "op", b->op);
    cJSON_AddStringToObject(e, "pass", b->pass);
    cJSON_AddStringToObject(e, "variant", b->variant);
    num(e, "ms", b->ms);
    num(e, "calls_per_step", b->per_step);
    num(e, "share", ratio(op_step_ms(b), d->profiled_ms));
    num(e, "gflop", b->flop * 1e-9);
    num(e, "gflops", gf);
    num(e, "fraction_of_peak", ratio(gf, d->probe.peak_gflops));
    num(e, "bytes", b->bytes);
    num(e, "gbs", gb);
    num(e, "fraction_of_bandwidth", ratio(gb, d->probe.bandwidth_gbs));
    cJSON_AddItemToArray(ops, e);
  }
  return o;
}

static int write_text(const char *path, const char *text, const char *what) {
  FILE *f = fopen(path, "w");
  if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
    if (f) fclose(f);
    fprintf(stderr, "clmtl bench: cannot write the %s file %s\n", what, path);
    return 1;
  }
  return 0;
}

int bench_write_json(const bench_run *r, const char *path) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "tool", "clmtl");
  cJSON_AddStringToObject(root, "version", CLMTL_VERSION);
  cJSON_AddStringToObject(root, "commit", CLMTL_GIT_COMMIT);
  cJSON_AddStringToObject(root, "timestamp", r->timestamp);
  cJSON *host = cJSON_AddObjectToObject(root, "host");
  cJSON_AddStringToObject(host, "cpu", r->host_cpu);
  cJSON_AddStringToObject(host, "os", r->host_os);
  cJSON_AddStringToObject(root, "model", r->model);
  num(root, "batch", r->batch);
  num(root, "height", r->height);
  num(root, "width", r->width);
  cJSON_AddStringToObject(root, "weighting", r->weighting);
  cJSON_AddStringToObject(root, "optimizer", "adam");
  num(root, "steps", r->steps);
  num(root, "warmup", r->warmup);
  if (r->have_load) { /* the same key as bench_torch.py: taken at the end */
    cJSON_AddItemToObject(root, "load_average_start", cJSON_CreateDoubleArray(r->load_start, 3));
    cJSON_AddItemToObject(root, "load_average", cJSON_CreateDoubleArray(r->load_end, 3));
  }
  cJSON *devs = cJSON_AddArrayToObject(root, "devices");
  for (int i = 0; i < r->ndev; i++) cJSON_AddItemToArray(devs, device_json(r, &r->dev[i]));
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text) {
    fprintf(stderr, "clmtl bench: out of memory writing %s\n", path);
    return 1;
  }
  size_t len = strlen(text);
  char *line = realloc(text, len + 2);
  if (line) {
    text = line;
    strcpy(text + len, "\n");
  }
  int rc = write_text(path, text, "JSON");
  free(text);
  return rc;
}

/* ---- CSV --------------------------------------------------------------------------------- */

void bench_csv_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s == '\n' ? ' ' : *s, f);
  }
  fputc('"', f);
}

void bench_csv_num(FILE *f, double v, const char *fmt) {
  fputc(',', f);
  if (isfinite(v)) fprintf(f, fmt, v);
}

int bench_write_csv(const bench_run *r, const char *path) {
  FILE *f = bench_file_open("clmtl bench", "CSV", path);
  if (!f) return 1;
  fprintf(f, "device,platform,vendor,driver,kind,model,batch,height,width,weighting,"
             "train_step_ms,train_img_s,infer_ms,infer_img_s,train_gflop_per_step,train_gflops,"
             "peak_device_bytes,cold_start_s,warm_start_s,bandwidth_gbs,peak_gflops,mtl_ms,"
             "mtl_gbs,error,timestamp,host_cpu,host_os,clmtl_version,commit,"
             "cold_start_driver_cache,cold_start_driver_cache_kept_s,"
             "train_step_ms_min,train_step_ms_max,profiled_step_ms,profiled_step_ms_min,"
             "profiled_step_ms_max,infer_ms_min,infer_ms_max,timed_steps,timed_forwards,"
             "bandwidth_gbs_min,bandwidth_gbs_median,peak_gflops_min,peak_gflops_median,probe_runs\n");
  for (int i = 0; i < r->ndev; i++) {
    const bench_device *d = &r->dev[i];
    const char *strs[] = {d->info.name, d->info.platform, d->info.vendor, d->info.driver,
                          kind_name(d->info.kind), r->model};
    for (int k = 0; k < 6; k++) {
      if (k) fputc(',', f);
      bench_csv_str(f, strs[k]);
    }
    fprintf(f, ",%d,%d,%d,", r->batch, r->height, r->width);
    bench_csv_str(f, r->weighting);
    if (d->ok) {
      bench_csv_num(f, d->train_ms, "%.3f");
      bench_csv_num(f, img_s(r->batch, d->train_ms), "%.4f");
      bench_csv_num(f, d->infer_ms, "%.3f");
      bench_csv_num(f, img_s(r->batch, d->infer_ms), "%.4f");
      bench_csv_num(f, d->flop_per_step * 1e-9, "%.4f");
      bench_csv_num(f, per_s(d->flop_per_step, d->train_ms), "%.3f");
      bench_csv_num(f, (double)d->peak_bytes, "%.0f");
      bench_csv_num(f, d->cold_s, "%.3f");
      bench_csv_num(f, d->warm_s, "%.3f");
      bench_csv_num(f, d->probe.bandwidth_gbs, "%.3f");
      bench_csv_num(f, d->probe.peak_gflops, "%.2f");
      bench_csv_num(f, d->mtl_ms, "%.4f");
      bench_csv_num(f, per_s(d->mtl_bytes, d->mtl_ms), "%.3f");
      fputc(',', f);
    } else {
      fputs(",,,,,,,,,,,,,,", f);
      bench_csv_str(f, d->error);
    }
    const char *meta[] = {r->timestamp, r->host_cpu, r->host_os, CLMTL_VERSION, CLMTL_GIT_COMMIT,
                          d->driver_cache};
    for (int k = 0; k < 6; k++) {
      fputc(',', f);
      bench_csv_str(f, meta[k]);
    }
    if (d->ok) {
      bench_csv_num(f, d->cold_kept_s, "%.3f");
      bench_csv_num(f, d->train.min, "%.3f");
      bench_csv_num(f, d->train.max, "%.3f");
      bench_csv_num(f, d->profiled.median, "%.3f");
      bench_csv_num(f, d->profiled.min, "%.3f");
      bench_csv_num(f, d->profiled.max, "%.3f");
      bench_csv_num(f, d->infer.min, "%.3f");
      bench_csv_num(f, d->infer.max, "%.3f");
      bench_csv_num(f, d->train.n, "%.0f");
      bench_csv_num(f, d->infer.n, "%.0f");
      bench_csv_num(f, d->probe.bandwidth_spread[0], "%.3f");
      bench_csv_num(f, d->probe.bandwidth_spread[1], "%.3f");
      bench_csv_num(f, d->probe.gflops_spread[0], "%.2f");
      bench_csv_num(f, d->probe.gflops_spread[1], "%.2f");
      bench_csv_num(f, d->probe.runs, "%.0f");
    } else {
      fputs(",,,,,,,,,,,,,,,", f);
    }
    fputc('\n', f);
  }
  return bench_file_close(f, "clmtl bench", "CSV", path);
}

/* ---- Markdown ---------------------------------------------------------------------------- */

/* Table cells must not contain '|' or line breaks. */
void bench_md_cell(FILE *f, const char *s) {
  for (; *s; s++) {
    if (*s == '|') fputs("\\|", f);
    else fputc(*s == '\n' ? ' ' : *s, f);
  }
}

int bench_write_markdown(const bench_run *r, const char *path) {
  FILE *f = bench_file_open("clmtl bench", "Markdown", path);
  if (!f) return 1;
  fprintf(f, "# clmtl bench\n\n`%s`, batch %d, %d×%d, %s weighting, Adam; medians of %d timed steps "
             "after %d warm-up steps (clmtl %s).\n\n", r->model, r->batch, r->height, r->width,
          r->weighting, r->steps, r->warmup, CLMTL_VERSION);
  fprintf(f, "Taken %s on %s, %s; clmtl %s, commit %s.\n\n", r->timestamp, r->host_cpu,
          r->host_os, CLMTL_VERSION, CLMTL_GIT_COMMIT);
  if (r->have_load)
    fprintf(f, "Load average (1 min) %.2f at the start, %.2f at the end.\n\n", r->load_start[0],
            r->load_end[0]);
  fprintf(f, "| device | train ms | train img/s | infer ms | infer img/s | GFLOP/step | GFLOP/s | "
             "peak MiB | cold s | warm s | copy GB/s (float16 vectors) | fp32 FMA GFLOP/s |\n");
  fprintf(f, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (int i = 0; i < r->ndev; i++) {
    const bench_device *d = &r->dev[i];
    fputs("| ", f);
    bench_md_cell(f, d->info.name);
    if (!d->ok) {
      fputs(" | failed: ", f);
      bench_md_cell(f, d->error);
      for (int k = 0; k < 10; k++) fputs(" |", f);
      fputs(" |\n", f);
      continue;
    }
    fprintf(f, " | %.1f | %.2f | %.1f | %.2f | %.2f | %.1f | %.1f | %.2f | %.2f | %.2f | %.1f |\n",
            d->train_ms, img_s(r->batch, d->train_ms), d->infer_ms, img_s(r->batch, d->infer_ms),
            d->flop_per_step * 1e-9, per_s(d->flop_per_step, d->train_ms),
            (double)d->peak_bytes / (1 << 20), d->cold_s, d->warm_s, d->probe.bandwidth_gbs,
            d->probe.peak_gflops);
  }
  for (int i = 0; i < r->ndev; i++) {
    const bench_device *d = &r->dev[i];
    if (!d->ok) continue;
    double mtl_gbs = per_s(d->mtl_bytes, d->mtl_ms);
    fprintf(f, "\n## ");
    bench_md_cell(f, d->info.name);
    fprintf(f, "\n\nMulti-task loss reduction: %.2f ms/step, %.1f MB read, %.2f GB/s (%.1f%% of the "
               "probe's bandwidth).\n\n", d->mtl_ms, d->mtl_bytes * 1e-6, mtl_gbs,
            100 * ratio(mtl_gbs, d->probe.bandwidth_gbs));
    fprintf(f, "| node | pass | variant | ms/step | share | GFLOP/s | %% of peak | GB/s | %% of "
               "bandwidth |\n|---|---|---|--:|--:|--:|--:|--:|--:|\n");
    for (int k = 0; k < shown_ops(r, d); k++) {
      const bench_op *o = &d->ops[k];
      double gf = per_s(o->flop, o->ms), gb = per_s(o->bytes, o->ms);
      fprintf(f, "| %s | %s | %s | %.2f | %.1f%% | ", o->node, o->pass, o->variant, op_step_ms(o),
              100 * ratio(op_step_ms(o), d->profiled_ms));
      if (o->flop > 0) fprintf(f, "%.1f | %.1f%% | ", gf, 100 * ratio(gf, d->probe.peak_gflops));
      else fputs("– | – | ", f);
      fprintf(f, "%.2f | %.1f%% |\n", gb, 100 * ratio(gb, d->probe.bandwidth_gbs));
    }
  }
  return bench_file_close(f, "clmtl bench", "Markdown", path);
}

/* ---- PNG --------------------------------------------------------------------------------- */

int bench_write_png(const bench_run *r, const char *path) {
  int nok = 0, one = -1;
  for (int i = 0; i < r->ndev; i++)
    if (r->dev[i].ok) nok++, one = one < 0 ? i : one;
  if (!nok) {
    fprintf(stderr, "clmtl bench: no device succeeded, no chart written to %s\n", path);
    return 1;
  }
  int rows = nok > 1 ? nok : (r->dev[one].nops < CHART_OPS ? r->dev[one].nops : CHART_OPS);
  if (rows < 1) rows = 1;
  bench_chart_rows b;
  if (bench_chart_rows_alloc(&b, rows, "clmtl bench", path)) return 1;
  char (*labels)[64] = b.text, title[256];
  double *values = b.values;
  cli_chart c = {title, "", 1, {"ms per step"}, rows, b.labels, values};
  if (nok > 1) {
    snprintf(title, sizeof title, "clmtl bench: %s %dx%d batch %d", r->model, r->height, r->width,
             r->batch);
    c.unit = "img/s";
    c.nseries = 2;
    c.series[0] = "train img/s";
    c.series[1] = "infer img/s";
    for (int i = 0, k = 0; i < r->ndev; i++) {
      if (!r->dev[i].ok) continue;
      snprintf(labels[k], sizeof labels[k], "%.60s", r->dev[i].info.name);
      values[2 * k] = img_s(r->batch, r->dev[i].train_ms);
      values[2 * k + 1] = img_s(r->batch, r->dev[i].infer_ms);
      k++;
    }
  } else {
    const bench_device *d = &r->dev[one];
    snprintf(title, sizeof title, "%s %dx%d b%d on %.40s: top ops, ms per train step", r->model,
             r->height, r->width, r->batch, d->info.name);
    c.unit = "ms";
    for (int k = 0; k < rows && k < d->nops; k++) {
      snprintf(labels[k], sizeof labels[k], "%.40s %.20s", d->ops[k].node, d->ops[k].pass);
      values[k] = op_step_ms(&d->ops[k]);
    }
    if (!d->nops) snprintf(labels[0], sizeof labels[0], "(no ops)");
  }
  return bench_chart_rows_write(&b, &c, "clmtl bench", path);
}

int bench_chart_rows_alloc(bench_chart_rows *r, int n, const char *cmd, const char *path) {
  r->text = calloc((size_t)n, sizeof *r->text);
  r->labels = calloc((size_t)n, sizeof *r->labels);
  r->values = calloc((size_t)n * 2, sizeof *r->values);
  if (!r->text || !r->labels || !r->values) {
    fprintf(stderr, "%s: out of memory drawing %s\n", cmd, path);
    bench_chart_rows_write(r, NULL, cmd, path);
    return 1;
  }
  for (int k = 0; k < n; k++) r->labels[k] = r->text[k];
  return 0;
}

int bench_chart_rows_write(bench_chart_rows *r, const cli_chart *c, const char *cmd, const char *path) {
  int rc = 0;
  if (c && cli_chart_write_png(c, path) != CLM_OK) {
    fprintf(stderr, "%s: %s\n", cmd, cli_chart_error());
    rc = 1;
  }
  free(r->text);
  free(r->labels);
  free(r->values);
  memset(r, 0, sizeof *r);
  return rc;
}

FILE *bench_file_open(const char *cmd, const char *kind, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) fprintf(stderr, "%s: cannot write the %s file %s\n", cmd, kind, path);
  return f;
}

int bench_file_close(FILE *f, const char *cmd, const char *kind, const char *path) {
  if (fclose(f) == 0) return 0;
  fprintf(stderr, "%s: cannot write the %s file %s\n", cmd, kind, path);
  return 1;
}
