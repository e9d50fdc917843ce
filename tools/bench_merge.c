/* `clmtl bench merge A.json B.json ...`: one comparison from `clmtl bench --json` results taken
 * on different machines (the cross-vendor comparison clmtl exists for). Each device of each
 * file is one column; columns are grouped by what was measured (model file name, size, batch,
 * weighting), since only those are comparable; every column states its device, driver, host,
 * date and commit. Writes a table to stdout and, on request, Markdown, CSV and a PNG chart.
 * Files that are not clmtl bench results are refused by name. Nothing is measured here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "bench_report.h"
#include "chart.h"
#include "cli.h"

#define MAX_FILE_BYTES (64 << 20)

typedef struct column {
  const char *file;
  const cJSON *run, *dev; /* the file's root and one element of its "devices" */
  int group;
} column;

typedef struct merge {
  cJSON **roots;
  int nroots;
  column *col;
  int ncol;
  char (*group)[320]; /* title of each group, in order of first appearance */
  int ngroup;
} merge;

static const char *usage_text =
    "usage: clmtl bench merge A.json B.json ... [--markdown FILE] [--csv FILE] [--png FILE]\n"
    "  one table (and chart) from `clmtl bench --json` results taken on different machines:\n"
    "  a column per device, grouped by model, size, batch and weighting (only those compare);\n"
    "  each column states its device, driver, host, date and clmtl commit\n"
    "  --markdown FILE   the tables as Markdown\n"
    "  --csv FILE        one line per column\n"
    "  --png FILE        bar chart of train and inference img/s per column\n";

static double jnum(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *jstr(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) && v->valuestring ? v->valuestring : "unknown";
}

static double spread(const cJSON *dev, const char *key, const char *which) {
  return jnum(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(dev, "spread"), key),
              which);
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* The file's text, NUL-terminated, malloc'd; NULL with a message naming the file. */
static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "clmtl bench merge: cannot open %s\n", path);
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap + 1);
  while (buf) {
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (n < cap) break;
    if (cap >= MAX_FILE_BYTES) {
      fprintf(stderr, "clmtl bench merge: %s: over %d MiB, not a clmtl bench result\n", path,
              MAX_FILE_BYTES >> 20);
      free(buf);
      buf = NULL;
      break;
    }
    char *more = realloc(buf, cap * 2 + 1);
    if (!more) free(buf);
    buf = more;
    cap *= 2;
  }
  int err = ferror(f);
  fclose(f);
  if (buf && err) {
    fprintf(stderr, "clmtl bench merge: cannot read %s\n", path);
    free(buf);
    return NULL;
  }
  if (buf) buf[n] = '\0';
  return buf;
}

/* Why root is not a clmtl bench result, or NULL when it is one. */
static const char *not_a_result(const cJSON *root) {
  if (!cJSON_IsObject(root)) return "not a JSON object";
  const cJSON *tool = cJSON_GetObjectItemCaseSensitive(root, "tool");
  if (!cJSON_IsString(tool) || strcmp(tool->valuestring, "clmtl"))
    return "no \"tool\": \"clmtl\" (written by something else than `clmtl bench --json`)";
  const cJSON *devs = cJSON_GetObjectItemCaseSensitive(root, "devices");
  if (!cJSON_IsArray(devs)) return "no \"devices\" list";
  if (cJSON_GetArraySize(devs) == 0) return "an empty \"devices\" list";
  if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "model")) ||
      !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "batch")) ||
      !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "height")) ||
      !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "width")))
    return "no \"model\", \"batch\", \"height\" or \"width\"";
  const cJSON *d;
  cJSON_ArrayForEach(d, devs) if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(d, "device")))
    return "a device without a \"device\" name";
  return NULL;
}

static void group_title(const cJSON *run, char *buf, size_t size) {
  snprintf(buf, size, "%s, %gx%g, batch %g, %s weighting", base_name(jstr(run, "model")),
           jnum(run, "height"), jnum(run, "width"), jnum(run, "batch"), jstr(run, "weighting"));
}

static int load(merge *m, const char *const *files, int nfiles) {
  m->roots = calloc((size_t)nfiles, sizeof *m->roots);
  if (!m->roots) return 1;
  int total = 0;
  for (int i = 0; i < nfiles; i++) {
    char *text = read_text(files[i]);
    if (!text) return 1;
    m->roots[i] = cJSON_Parse(text);
    free(text);
    m->nroots = i + 1;
    const char *why = m->roots[i] ? not_a_result(m->roots[i]) : "not JSON";
    if (why) {
      fprintf(stderr, "clmtl bench merge: %s is not a clmtl bench result: %s\n", files[i], why);
      return 1;
    }
    total += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m->roots[i], "devices"));
  }
  m->col = calloc((size_t)total, sizeof *m->col);
  m->group = calloc((size_t)total, sizeof *m->group);
  if (!m->col || !m->group) return 1;
  for (int i = 0; i < nfiles; i++) {
    char title[320];
    group_title(m->roots[i], title, sizeof title);
    int g = 0;
    while (g < m->ngroup && strcmp(m->group[g], title)) g++;
    if (g == m->ngroup) snprintf(m->group[m->ngroup++], sizeof m->group[0], "%s", title);
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(m->roots[i], "devices")) {
      column *c = &m->col[m->ncol++];
      c->file = files[i];
      c->run = m->roots[i];
      c->dev = d;
      c->group = g;
    }
  }
  return 0;
}

static int failed(const column *c) { return cJSON_GetObjectItemCaseSensitive(c->dev, "error") != NULL; }

/* ---- the rows of a group's table ---------------------------------------------------------------- */

/* One row: a label and how to print a column's cell into buf. */
typedef void (*cell_fn)(const column *c, char *buf, size_t size);

static void num_cell(char *buf, size_t size, double v, const char *fmt) {
  if (isfinite(v)) snprintf(buf, size, fmt, v);
  else snprintf(buf, size, "-");
}

/* "median (min-max)" of a timing, or the median alone when there is no spread. */
static void timed_cell(const column *c, const char *key, char *buf, size_t size) {
  double med = jnum(c->dev, key), lo = spread(c->dev, key, "min"), hi = spread(c->dev, key, "max");
  if (isfinite(med) && isfinite(lo) && isfinite(hi) && hi > lo)
    snprintf(buf, size, "%.3g (%.3g-%.3g)", med, lo, hi);
  else num_cell(buf, size, med, "%.3g");
}

static void c_device(const column *c, char *b, size_t n) { snprintf(b, n, "%s", jstr(c->dev, "device")); }
static void c_driver(const column *c, char *b, size_t n) {
  snprintf(b, n, "%s, %s %s", jstr(c->dev, "kind"), jstr(c->dev, "platform"), jstr(c->dev, "driver"));
}
static void c_host(const column *c, char *b, size_t n) {
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(c->run, "host");
  snprintf(b, n, "%s; %s", jstr(h, "cpu"), jstr(h, "os"));
}
static void c_date(const column *c, char *b, size_t n) { snprintf(b, n, "%s", jstr(c->run, "timestamp")); }
static void c_commit(const column *c, char *b, size_t n) {
  snprintf(b, n, "%s (%s)", jstr(c->run, "version"), jstr(c->run, "commit"));
}
static void c_file(const column *c, char *b, size_t n) { snprintf(b, n, "%s", base_name(c->file)); }
static void c_train(const column *c, char *b, size_t n) { timed_cell(c, "train_step_ms", b, n); }
static void c_train_img(const column *c, char *b, size_t n) { num_cell(b, n, jnum(c->dev, "train_img_s"), "%.2f"); }
static void c_infer(const column *c, char *b, size_t n) { timed_cell(c, "infer_ms", b, n); }
static void c_infer_img(const column *c, char *b, size_t n) { num_cell(b, n, jnum(c->dev, "infer_img_s"), "%.2f"); }
static void c_gflops(const column *c, char *b, size_t n) { num_cell(b, n, jnum(c->dev, "train_gflops"), "%.1f"); }
static void c_mem(const column *c, char *b, size_t n) {
  num_cell(b, n, jnum(c->dev, "peak_device_bytes") / (1 << 20), "%.1f");
}
static void c_cold(const column *c, char *b, size_t n) {
  char v[32];
  num_cell(v, sizeof v, jnum(c->dev, "cold_start_s"), "%.2f");
  snprintf(b, n, "%s (driver cache %s)", v, jstr(c->dev, "cold_start_driver_cache"));
}
static void c_warm(const column *c, char *b, size_t n) { num_cell(b, n, jnum(c->dev, "warm_start_s"), "%.2f"); }
static void c_bw(const column *c, char *b, size_t n) {
  num_cell(b, n, jnum(cJSON_GetObjectItemCaseSensitive(c->dev, "probe"), "bandwidth_gbs"), "%.2f");
}
static void c_peak(const column *c, char *b, size_t n) {
  num_cell(b, n, jnum(cJSON_GetObjectItemCaseSensitive(c->dev, "probe"), "peak_gflops"), "%.1f");
}

static const struct { const char *label; cell_fn fn; int timing; } rows[] = {
    {"device", c_device, 0},
    {"kind, platform, driver", c_driver, 0},
    {"host CPU; OS", c_host, 0},
    {"date (UTC)", c_date, 0},
    {"clmtl (commit)", c_commit, 0},
    {"result file", c_file, 0},
    {"train step ms, median (min-max)", c_train, 1},
    {"train img/s", c_train_img, 1},
    {"inference ms, median (min-max)", c_infer, 1},
    {"inference img/s", c_infer_img, 1},
    {"train GFLOP/s", c_gflops, 1},
    {"peak device MiB", c_mem, 1},
    {"cold start s", c_cold, 1},
    {"warm start s", c_warm, 1},
    {"copy GB/s (float16 vectors)", c_bw, 1},
    {"fp32 FMA GFLOP/s (float16 vectors)", c_peak, 1},
};
#define NROWS (int)(sizeof rows / sizeof rows[0])

static void cell(const column *c, int row, char *buf, size_t size) {
  if (rows[row].timing && failed(c)) snprintf(buf, size, row == 6 ? "failed: %s" : "", jstr(c->dev, "error"));
  else rows[row].fn(c, buf, size);
}

/* ---- writers ------------------------------------------------------------------------------------ */

static void print_stdout(const merge *m) {
  for (int g = 0; g < m->ngroup; g++) {
    printf("%s%s\n", g ? "\n" : "", m->group[g]);
    for (int i = 0; i < m->ncol; i++) {
      const column *c = &m->col[i];
      if (c->group != g) continue;
      char buf[512];
      printf("  ");
      for (int r = 0; r < NROWS; r++) {
        cell(c, r, buf, sizeof buf);
        if (r == 0) printf("%s\n", buf);
        else if (*buf) printf("    %-36s %s\n", rows[r].label, buf);
      }
    }
  }
}

static int write_markdown(const merge *m, const char *path) {
  FILE *f = bench_file_open("clmtl bench merge", "Markdown", path);
  if (!f) return 1;
  fprintf(f, "# clmtl bench: %d result%s merged\n\nMedians of the timed steps; (min-max) where "
             "they differ. Each column names the device, driver, host, date and clmtl commit it "
             "comes from.\n", m->nroots, m->nroots == 1 ? "" : "s");
  for (int g = 0; g < m->ngroup; g++) {
    fprintf(f, "\n## ");
    bench_md_cell(f, m->group[g]);
    fprintf(f, "\n\n");
    for (int r = 0; r < NROWS; r++) {
      fputs("| ", f);
      bench_md_cell(f, r ? rows[r].label : "");
      for (int i = 0; i < m->ncol; i++) {
        if (m->col[i].group != g) continue;
        char buf[512];
        cell(&m->col[i], r, buf, sizeof buf);
        fputs(" | ", f);
        if (r == 0) fputs("**", f);
        bench_md_cell(f, buf);
        if (r == 0) fputs("**", f);
      }
      fputs(" |\n", f);
      if (r == 0) {
        fputs("|---", f);
        for (int i = 0; i < m->ncol; i++)
          if (m->col[i].group == g) fputs("|--:", f);
        fputs("|\n", f);
      }
    }
  }
  return bench_file_close(f, "clmtl bench merge", "Markdown", path);
}

static int write_csv(const merge *m, const char *path) {
  FILE *f = bench_file_open("clmtl bench merge", "CSV", path);
  if (!f) return 1;
  fputs("group,file,model,height,width,batch,weighting,device,kind,platform,driver,host_cpu,host_os,"
        "timestamp,clmtl_version,commit,train_step_ms,train_step_ms_min,train_step_ms_max,"
        "train_img_s,infer_ms,infer_ms_min,infer_ms_max,infer_img_s,train_gflops,"
        "peak_device_bytes,cold_start_s,cold_start_driver_cache,warm_start_s,bandwidth_gbs,"
        "peak_gflops,error\n", f);
  for (int i = 0; i < m->ncol; i++) {
    const column *c = &m->col[i];
    const cJSON *host = cJSON_GetObjectItemCaseSensitive(c->run, "host");
    const cJSON *probe = cJSON_GetObjectItemCaseSensitive(c->dev, "probe");
    bench_csv_str(f, m->group[c->group]);
    fputc(',', f);
    bench_csv_str(f, c->file);
    fputc(',', f);
    bench_csv_str(f, jstr(c->run, "model"));
    bench_csv_num(f, jnum(c->run, "height"), "%.6g");
    bench_csv_num(f, jnum(c->run, "width"), "%.6g");
    bench_csv_num(f, jnum(c->run, "batch"), "%.6g");
    const char *strs[] = {jstr(c->run, "weighting"), jstr(c->dev, "device"), jstr(c->dev, "kind"),
                          jstr(c->dev, "platform"), jstr(c->dev, "driver"), jstr(host, "cpu"),
                          jstr(host, "os"), jstr(c->run, "timestamp"), jstr(c->run, "version"),
                          jstr(c->run, "commit")};
    for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++) {
      fputc(',', f);
      bench_csv_str(f, strs[k]);
    }
    bench_csv_num(f, jnum(c->dev, "train_step_ms"), "%.6g");
    bench_csv_num(f, spread(c->dev, "train_step_ms", "min"), "%.6g");
    bench_csv_num(f, spread(c->dev, "train_step_ms", "max"), "%.6g");
    bench_csv_num(f, jnum(c->dev, "train_img_s"), "%.6g");
    bench_csv_num(f, jnum(c->dev, "infer_ms"), "%.6g");
    bench_csv_num(f, spread(c->dev, "infer_ms", "min"), "%.6g");
    bench_csv_num(f, spread(c->dev, "infer_ms", "max"), "%.6g");
    bench_csv_num(f, jnum(c->dev, "infer_img_s"), "%.6g");
    bench_csv_num(f, jnum(c->dev, "train_gflops"), "%.6g");
    bench_csv_num(f, jnum(c->dev, "peak_device_bytes"), "%.6g");
    bench_csv_num(f, jnum(c->dev, "cold_start_s"), "%.6g");
    fputc(',', f);
    bench_csv_str(f, failed(c) ? "" : jstr(c->dev, "cold_start_driver_cache"));
    bench_csv_num(f, jnum(c->dev, "warm_start_s"), "%.6g");
    bench_csv_num(f, jnum(probe, "bandwidth_gbs"), "%.6g");
    bench_csv_num(f, jnum(probe, "peak_gflops"), "%.6g");
    fputc(',', f);
    bench_csv_str(f, failed(c) ? jstr(c->dev, "error") : "");
    fputc('\n', f);
  }
  return bench_file_close(f, "clmtl bench merge", "CSV", path);
}

/* Train and inference img/s per column that succeeded; labels name the device, the date and,
 * with several groups, the model and size. */
static int write_png(const merge *m, const char *path) {
  int n = 0;
  for (int i = 0; i < m->ncol; i++) n += !failed(&m->col[i]);
  if (!n) {
    fprintf(stderr, "clmtl bench merge: no result succeeded, no chart written to %s\n", path);
    return 1;
  }
  bench_chart_rows b;
  if (bench_chart_rows_alloc(&b, n, "clmtl bench merge", path)) return 1;
  char (*labels)[64] = b.text, title[400];
  double *values = b.values;
  if (m->ngroup == 1) snprintf(title, sizeof title, "clmtl bench: %s", m->group[0]);
  else snprintf(title, sizeof title, "clmtl bench: %d results, %d models or shapes", m->nroots, m->ngroup);
  cli_chart ch = {title, "img/s", 2, {"train img/s", "infer img/s"}, n, b.labels, values};
  for (int g = 0, k = 0; g < m->ngroup; g++)
    for (int i = 0; i < m->ncol; i++) {
      const column *c = &m->col[i];
      if (c->group != g || failed(c)) continue;
      char model[64] = "";
      if (m->ngroup > 1)
        snprintf(model, sizeof model, "%.14s %gx%g ", base_name(jstr(c->run, "model")),
                 jnum(c->run, "height"), jnum(c->run, "width"));
      snprintf(labels[k], sizeof labels[k], "%s%.24s %.10s", model, jstr(c->dev, "device"),
               jstr(c->run, "timestamp"));
      values[2 * k] = jnum(c->dev, "train_img_s");
      values[2 * k + 1] = jnum(c->dev, "infer_img_s");
      k++;
    }
  return bench_chart_rows_write(&b, &ch, "clmtl bench merge", path);
}

int bench_merge(int argc, char **argv) {
  const char *markdown = NULL, *csv = NULL, *png = NULL;
  const char **files = calloc((size_t)argc + 1, sizeof *files);
  int nfiles = 0;
  if (!files) return 1;
  const cli_opt opts[] = {CLI_OPT_STRING("--markdown", &markdown), CLI_OPT_STRING("--csv", &csv),
                          CLI_OPT_STRING("--png", &png), CLI_OPT_END};
  int rc = cli_args_parse("bench merge", usage_text, opts, argc, argv, files, argc, &nfiles);
  if (rc) {
    free(files);
    return rc < 0 ? 0 : rc;
  }
  if (nfiles == 0) {
    fprintf(stderr, "clmtl bench merge: no result files given\n%s", usage_text);
    free(files);
    return 2;
  }
  merge m = {0};
  rc = bench_check_output("--markdown", markdown) || bench_check_output("--csv", csv) ||
           bench_check_output("--png", png) || load(&m, files, nfiles);
  if (!rc) {
    print_stdout(&m);
    if (markdown && write_markdown(&m, markdown)) rc = 1;
    if (csv && write_csv(&m, csv)) rc = 1;
    if (png && write_png(&m, png)) rc = 1;
  }
  for (int i = 0; i < m.nroots; i++) cJSON_Delete(m.roots[i]);
  free(m.roots);
  free(m.col);
  free(m.group);
  free(files);
  return rc;
}
