/* Checkpoints: a graph's named tensors and an optimizer state to and from safetensors files
 * (format and contracts in include/clmtl/checkpoint.h). The atomic writer lives here; the
 * strict header parser is safetensors.c. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "clmtl/util.h"
#include "clmtl/checkpoint.h"
#include "runtime/runtime-impl.h"
#include "train/safetensors-impl.h"

static const char *const standard_keys[] = {"format", "model_fnv1a64", "step", "epoch",
                                            "strategy"};
#define NSTANDARD ((int)(sizeof standard_keys / sizeof standard_keys[0]))

/* One tensor of a checkpoint as the graph (or optimizer state) sees it. */
typedef struct ck_tensor {
  char name[CLM_TENSOR_NAME_MAX];
  clm_tensor view;
  int ndim;
  int64_t shape[4];
  size_t numel;
} ck_tensor;

clm_file_kind clm_file_sniff(const void *bytes, size_t n) {
  const unsigned char *b = bytes;
  if (n >= 9 && b[8] == '{') {
    unsigned long long len = 0;
    for (int i = 7; i >= 0; i--) len = len << 8 | b[i];
    if (len >= 2 && len < (1ull << 40)) return CLM_FILE_SAFETENSORS;
  }
  size_t i = 0;
  if (n >= 3 && !memcmp(b, "\xef\xbb\xbf", 3)) i = 3;
  while (i < n) { /* skip blank and comment lines */
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) i++;
    if (i < n && (b[i] == '#' || b[i] == ';')) {
      while (i < n && b[i] != '\n') i++;
      continue;
    }
    break;
  }
  if (i >= n || b[i] != '[') return CLM_FILE_UNKNOWN;
  for (size_t j = 0; j < n; j++)
    if (b[j] == 0) return CLM_FILE_UNKNOWN;
  return CLM_FILE_MODEL_TEXT;
}

const char *clm_file_kind_name(clm_file_kind k) {
  switch (k) {
  case CLM_FILE_SAFETENSORS: return "a safetensors checkpoint";
  case CLM_FILE_MODEL_TEXT: return "a model file (text with [sections])";
  default: return "neither";
  }
}

/* clm_st_open, and when it fails on a regular file that is a model file, a message that says
 * a checkpoint was expected and a model file found. */
static clm_status st_open(const char *path, clm_st_file *sf) {
  clm_status st = clm_st_open(path, sf);
  if (st == CLM_OK) return st;
  struct stat sb;
  unsigned char head[4096];
  if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return st;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return st;
  ssize_t got = read(fd, head, sizeof head);
  close(fd);
  if (got > 0 && clm_file_sniff(head, (size_t)got) == CLM_FILE_MODEL_TEXT)
    CLM_FAIL(CLM_ERR_PARSE, "%s: expected a checkpoint (.safetensors), found %s; a model file "
             "goes to --model of train, model, tune and bench", path,
             clm_file_kind_name(CLM_FILE_MODEL_TEXT));
  return st;
}

void clm_checkpoint_model_hash(const char *text, char out[17]) {
  const char *t = text ? text : "";
  uint64_t h = clm_fnv1a64(CLM_FNV1A64_INIT, t, strlen(t));
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}

const char *clm_checkpoint_meta_get(const clm_checkpoint_meta *meta, int n, const char *key) {
  for (int i = 0; meta && i < n; i++)
    if (!strcmp(meta[i].key, key)) return meta[i].value;
  return NULL;
}

void clm_checkpoint_meta_free(clm_checkpoint_meta *meta) { free(meta); }

/* The tensors of g (and opt) in file order, with their PyTorch state-dict shapes: conv/deconv
 * weights 4-D, everything else 1-D. *out is malloc'd. */
static clm_status list_tensors(const char *path, const clm_graph *g, const clm_optim_state *opt,
                               ck_tensor **out, int *count) {
  if (!clm_graph_is_compiled(g)) CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: graph is not compiled", path);
  size_t param_floats = (size_t)clm_graph_params(g).w;
  if (opt && opt->n != param_floats)
    CLM_FAIL(CLM_ERR_SHAPE, "%s: optimizer state holds %zu parameters, the graph %zu", path,
             opt->n, param_floats);
  int named = clm_graph_named_count(g), n = named + (opt ? 3 : 0);
  ck_tensor *t = calloc((size_t)n + 1, sizeof *t);
  if (!t) CLM_FAIL(CLM_ERR_HOST_MEMORY, "%s: out of host memory", path);
  int i = 0;
  for (; i < named; i++) {
    clm_named_tensor nt;
    clm_status st = clm_graph_named_info(g, i, &nt);
    if (st != CLM_OK) { free(t); return st; }
    snprintf(t[i].name, sizeof t[i].name, "%s", nt.name);
    t[i].view = nt.view;
    t[i].numel = clm_tensor_numel(&t[i].view);
    int conv_weight = (nt.op == CLM_LAYER_CONV || nt.op == CLM_LAYER_DECONV) &&
                      !strcmp(nt.suffix, "weight");
    if (conv_weight) {
      t[i].ndim = 4;
      t[i].shape[0] = t[i].view.n; t[i].shape[1] = t[i].view.c;
      t[i].shape[2] = t[i].view.h; t[i].shape[3] = t[i].view.w;
    } else {
      t[i].ndim = 1;
      t[i].shape[0] = (int64_t)t[i].numel;
    }
  }
  if (opt) {
    const char *names[3] = {"optimizer.m", "optimizer.v", "optimizer.step"};
    const clm_tensor *views[3] = {&opt->m, &opt->v, &opt->step};
    for (int k = 0; k < 3; k++, i++) {
      snprintf(t[i].name, sizeof t[i].name, "%s", names[k]);
      t[i].view = *views[k];
      t[i].numel = clm_tensor_numel(views[k]);
      t[i].ndim = 1;
      t[i].shape[0] = (int64_t)t[i].numel;
    }
  }
  *out = t;
  *count = n;
  return CLM_OK;
}

/* Prefixes the last error (a failed device copy) with the file and tensor. */
static clm_status add_context(clm_status st, const char *path, const char *name,
                              const char *what) {
  char prev[1024];
  snprintf(prev, sizeof prev, "%s", clm_last_error());
  return CLM_ERROR(st, "%s: tensor '%s': %s failed: %s", path, name, what, prev);
}

/* Finite values everywhere; running variances and second moments not negative. */
static clm_status check_values(const char *path, const char *name, const float *x, size_t n) {
  size_t len = strlen(name);
  int variance = (len >= 12 && !strcmp(name + len - 12, ".running_var")) ||
                 !strcmp(name, "optimizer.v");
  for (size_t i = 0; i < n; i++) {
    if (isfinite(x[i]) && !(variance && x[i] < 0)) continue;
    if (isfinite(x[i]))
      CLM_FAIL(CLM_ERR_NUMERIC, "%s: tensor '%s': element %zu is %g, a variance cannot be "
               "negative (file damaged or written by a broken run)", path, name, i, (double)x[i]);
    CLM_FAIL(CLM_ERR_NUMERIC, "%s: tensor '%s': element %zu is %s, a checkpoint must hold finite "
             "numbers (the run that wrote it diverged, or the file was altered)", path, name, i,
             isnan(x[i]) ? "NaN" : x[i] > 0 ? "+Inf" : "-Inf");
  }
  return CLM_OK;
}

/* The host staging buffer for all n tensors (one float more, so that an empty list still
 * allocates); *total is their element count. */
static clm_status alloc_staging(const char *path, const ck_tensor *t, int n, float **data,
                                size_t *total) {
  *total = 0;
  for (int i = 0; i < n; i++) *total += t[i].numel;
  *data = malloc((*total + 1) * sizeof **data);
  if (!*data)
    CLM_FAIL(CLM_ERR_HOST_MEMORY, "%s: out of host memory for %zu floats", path, *total);
  return CLM_OK;
}

/* Copies the n tensors between the device and data (laid out one after another): uploads when
 * upload is set, otherwise downloads and checks each tensor's values as it arrives. */
static clm_status transfer(const char *path, clm_context *ctx, const ck_tensor *t, int n,
                           float *data, int upload) {
  size_t at = 0;
  for (int i = 0; i < n; i++) {
    if (t[i].numel) {
      clm_status st = upload ? clm_tensor_upload(ctx, &t[i].view, data + at)
                             : clm_tensor_download(ctx, &t[i].view, data + at);
      if (st != CLM_OK) return add_context(st, path, t[i].name, upload ? "upload" : "download");
    }
    /* a checkpoint that would be refused on load is not written over a good one */
    if (!upload) CLM_TRY(check_values(path, t[i].name, data + at, t[i].numel));
    at += t[i].numel;
  }
  return CLM_OK;
}

/* ---- writing ----------------------------------------------------------------------------- */

static int add_number(cJSON *array, double v) {
  cJSON *x = cJSON_CreateNumber(v);
  return x && cJSON_AddItemToArray(array, x);
}

/* The JSON header, padded with spaces to a multiple of 8 bytes. */
static clm_status build_header(const char *path, const ck_tensor *t, int n,
                               const clm_checkpoint_meta *meta, int nmeta, char **out,
                               size_t *len) {
  cJSON *root = cJSON_CreateObject(), *m = cJSON_CreateObject();
  int ok = root && m && cJSON_AddItemToObject(root, "__metadata__", m);
  if (!ok) cJSON_Delete(m);
  for (int i = 0; ok && i < nmeta; i++) ok = cJSON_AddStringToObject(m, meta[i].key, meta[i].value) != NULL;
  uint64_t off = 0;
  for (int i = 0; ok && i < n; i++) {
    cJSON *e = cJSON_AddObjectToObject(root, t[i].name);
    cJSON *shape = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
    cJSON *offs = shape ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
    ok = offs && cJSON_AddStringToObject(e, "dtype", "F32");
    for (int d = 0; ok && d < t[i].ndim; d++) ok = add_number(shape, (double)t[i].shape[d]);
    ok = ok && add_number(offs, (double)off);
    off += 4 * (uint64_t)t[i].numel;
    ok = ok && add_number(offs, (double)off);
  }
  char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (!json) CLM_FAIL(CLM_ERR_HOST_MEMORY, "%s: out of host memory building the header", path);
  size_t l = strlen(json), padded = (l + 7) / 8 * 8;
  char *h = malloc(padded + 1);
  if (!h) { cJSON_free(json); CLM_FAIL(CLM_ERR_HOST_MEMORY, "%s: out of host memory", path); }
  memcpy(h, json, l);
  memset(h + l, ' ', padded - l);
  h[padded] = 0;
  cJSON_free(json);
  *out = h;
  *len = padded;
  return CLM_OK;
}

/* fsync of the directory holding path, so the rename itself is durable. */
static clm_status sync_dir(const char *path) {
  char *dir = strdup(path);
  if (!dir) CLM_FAIL(CLM_ERR_HOST_MEMORY, "%s: written, but out of host memory to sync", path);
  char *slash = strrchr(dir, '/');
  const char *d = !slash ? "." : slash == dir ? "/" : dir;
  if (slash && slash != dir) *slash = 0;
  clm_status st = CLM_OK;
  int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    st = CLM_ERROR(CLM_ERR_IO, "%s: written, but its directory '%s' cannot be opened to sync: %s",
                   path, d, strerror(errno));
  } else {
    /* some file systems cannot sync directories (EINVAL): the rename is then as durable as the
     * file system makes it */
    int r = fsync(fd), e = errno;
    close(fd);
    if (r != 0 && e != EINVAL)
      st = CLM_ERROR(CLM_ERR_IO, "%s: written, but fsync of its directory '%s' failed: %s", path,
                     d, strerror(e));
  }
  free(dir);
  return st;
}

/* The temporary file of the save in progress, for clm_checkpoint_signal_cleanup. Whoever takes
 * the pointer out (atomic exchange) owns it: the save frees it, or the signal handler unlinks
 * the file and the process ends without freeing it. */
static _Atomic(char *) pending_tmp;

void clm_checkpoint_signal_cleanup(void) {
  char *tmp = atomic_exchange(&pending_tmp, NULL);
  if (tmp) unlink(tmp);
}

/* Writes header and data to tmp, flushed and fsync'd. The caller removes tmp on failure. */
static clm_status write_file(const char *path, const char *tmp, const char *header, size_t hlen,
                             const float *data, size_t nfloats) {
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) CLM_FAIL(CLM_ERR_IO, "%s: cannot create '%s': %s", path, tmp, strerror(errno));
  FILE *f = fdopen(fd, "wb");
  if (!f) {
    int e = errno;
    close(fd);
    CLM_FAIL(CLM_ERR_IO, "%s: cannot open '%s': %s", path, tmp, strerror(e));
  }
  unsigned char len[8];
  for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
  int ok = fwrite(len, 1, 8, f) == 8 && fwrite(header, 1, hlen, f) == hlen &&
           (nfloats == 0 || fwrite(data, sizeof(float), nfloats, f) == nfloats) &&
           fflush(f) == 0 && fsync(fileno(f)) == 0;
  int e = errno;
  if (fclose(f) != 0 && ok) { ok = 0; e = errno; }
  if (!ok) CLM_FAIL(CLM_ERR_IO, "%s: writing '%s' failed: %s", path, tmp, strerror(e));
  return CLM_OK;
}

static clm_status collect_meta(const char *path, const clm_checkpoint_info *info,
                               const clm_checkpoint_meta *extra, int nextra,
                               clm_checkpoint_meta *meta, int *nmeta, char *hash, char *step,
                               char *epoch) {
  if (nextra < 0 || (nextra && !extra))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: %d extra metadata entries", path, nextra);
  for (int i = 0; i < nextra; i++) {
    if (!extra[i].key || !extra[i].value)
      CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: extra metadata %d has a NULL key or value", path, i);
    for (int k = 0; k < NSTANDARD; k++)
      if (!strcmp(extra[i].key, standard_keys[k]))
        CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: extra metadata key '%s' is a standard key", path,
                 extra[i].key);
    for (int k = 0; k < i; k++)
      if (!strcmp(extra[i].key, extra[k].key))
        CLM_FAIL(CLM_ERR_INVALID_ARG, "%s: extra metadata key '%s' given twice", path,
                 extra[i].key);
  }
  int n = 0;
  meta[n++] = (clm_checkpoint_meta){"format", CLM_CHECKPOINT_FORMAT};
  if (info && info->model_text) {
    clm_checkpoint_model_hash(info->model_text, hash);
    meta[n++] = (clm_checkpoint_meta){"model_fnv1a64", hash};
  }
  snprintf(step, 32, "%lld", info ? info->step : 0);
  snprintf(epoch, 32, "%d", info ? info->epoch : 0);
  meta[n++] = (clm_checkpoint_meta){"step", step};
  meta[n++] = (clm_checkpoint_meta){"epoch", epoch};
  meta[n++] = (clm_checkpoint_meta){"strategy", info && info->strategy ? info->strategy : ""};
  for (int i = 0; i < nextra; i++) meta[n++] = extra[i];
  *nmeta = n;
  return CLM_OK;
}

clm_status clm_checkpoint_save(const char *path, clm_graph *g, const clm_optim_state *opt,
                               const clm_checkpoint_info *info, const clm_checkpoint_meta *extra,
                               int nextra) {
  if (!path || !g) CLM_FAIL(CLM_ERR_INVALID_ARG, "checkpoint save: NULL path or graph");
  ck_tensor *t = NULL;
  int n = 0;
  CLM_TRY(list_tensors(path, g, opt, &t, &n));
  clm_status st = CLM_OK;
  float *data = NULL;
  char *header = NULL, *tmp = NULL;
  char hash[17], step[32], epoch[32];
  clm_checkpoint_meta *meta = malloc(sizeof *meta * (size_t)(NSTANDARD + (nextra > 0 ? nextra : 0)));
  if (!meta) { st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "%s: out of host memory", path); goto done; }
  int nmeta = 0;
  CLM_CHECK(st, collect_meta(path, info, extra, nextra, meta, &nmeta, hash, step, epoch), done);

  size_t total = 0;
  CLM_CHECK(st, alloc_staging(path, t, n, &data, &total), done);
  CLM_CHECK(st, transfer(path, clm_graph_context(g), t, n, data, 0), done);
  if (!clm_st_host_le()) clm_st_swap32(data, total);
  size_t hlen = 0;
  CLM_CHECK(st, build_header(path, t, n, meta, nmeta, &header, &hlen), done);

  size_t tl = strlen(path) + 32;
  tmp = malloc(tl);
  if (!tmp) { st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "%s: out of host memory", path); goto done; }
  snprintf(tmp, tl, "%s.tmp.%ld", path, (long)getpid());
  atomic_store(&pending_tmp, tmp);
  st = write_file(path, tmp, header, hlen, data, total);
  if (st == CLM_OK && rename(tmp, path) != 0)
    st = CLM_ERROR(CLM_ERR_IO, "%s: cannot rename '%s' over it: %s", path, tmp, strerror(errno));
  if (st != CLM_OK) {
    if (unlink(tmp) != 0 && errno != ENOENT) {
      int e = errno;
      char prev[1024];
      snprintf(prev, sizeof prev, "%s", clm_last_error());
      st = CLM_ERROR(st, "%s (and the temporary file '%s' could not be removed: %s)", prev, tmp,
                     strerror(e));
    }
    goto done;
  }
  st = sync_dir(path);
done:;
  /* not ours any more: a signal handler took the name and is ending the process (or, with
   * saves on several threads at once, a later save holds the slot; ours is then not freed) */
  char *expected = tmp;
  if (tmp && !atomic_compare_exchange_strong(&pending_tmp, &expected, NULL)) tmp = NULL;
  free(tmp);
  free(header);
  free(data);
  free(meta);
  free(t);
  return st;
}

/* ---- reading ----------------------------------------------------------------------------- */

static int is_optimizer_name(const char *name) {
  return !strcmp(name, "optimizer.m") || !strcmp(name, "optimizer.v") ||
         !strcmp(name, "optimizer.step");
}

/* ---- metadata ---------------------------------------------------------------------------- */

clm_status clm_checkpoint_meta_int(const char *path, const clm_checkpoint_meta *meta, int n,
                                   const char *key, long long lo, long long hi, long long *out) {
  const char *v = clm_checkpoint_meta_get(meta, n, key);
  if (!v) CLM_FAIL(CLM_ERR_NOT_FOUND, "%s: metadata '%s' is missing", path, key);
  char *end = NULL;
  errno = 0;
  long long x = (*v == '-' || (*v >= '0' && *v <= '9')) ? strtoll(v, &end, 10) : 0;
  if (!end || *end || errno || x < lo || x > hi)
    CLM_FAIL(CLM_ERR_PARSE, "%s: metadata '%s' is '%.40s%s', not an integer in [%lld, %lld]", path,
             key, v, strlen(v) > 40 ? "..." : "", lo, hi);
  *out = x;
  return CLM_OK;
}

clm_status clm_checkpoint_meta_double(const char *path, const clm_checkpoint_meta *meta, int n,
                                      const char *key, double lo, double hi, double *out) {
  const char *v = clm_checkpoint_meta_get(meta, n, key);
  if (!v) CLM_FAIL(CLM_ERR_NOT_FOUND, "%s: metadata '%s' is missing", path, key);
  char *end = NULL;
  double x = (*v && *v != ' ' && *v != '\t' && *v != '\n') ? strtod(v, &end) : NAN;
  if (!end || *end || !(x >= lo && x <= hi))
    CLM_FAIL(CLM_ERR_PARSE, "%s: metadata '%s' is '%.40s%s', not a number in [%g, %g]", path, key,
             v, strlen(v) > 40 ? "..." : "", lo, hi);
  *out = x;
  return CLM_OK;
}

/* The line of text starting at p, copied (at most 80 characters) for a message. */
static void line_at(const char *p, char *buf, size_t size) {
  size_t k = 0;
  while (p[k] && p[k] != '\n' && p[k] != '\r' && k + 1 < size && k < 80) k++;
  memcpy(buf, p, k);
  buf[k] = 0;
}

/* First line where texts a and b differ: its number (1-based), both lines and the last
 * "[section]" header before it in a. */
static void first_difference(const char *a, const char *b, int *lineno, char *la, char *lb,
                             char *section, size_t size) {
  int line = 1;
  const char *sa = a, *sb = b;
  section[0] = 0;
  if (*a == '[') line_at(a, section, size);
  while (*a && *a == *b) {
    if (*a == '\n') {
      line++;
      sa = a + 1;
      sb = b + 1;
      if (*sa == '[') line_at(sa, section, size);
    }
    a++;
    b++;
  }
  *lineno = line;
  line_at(sa, la, size);
  line_at(sb, lb, size);
}

static int is_hash(const char *h) {
  int k = 0;
  for (; h[k]; k++)
    if (!((h[k] >= '0' && h[k] <= '9') || (h[k] >= 'a' && h[k] <= 'f'))) return 0;
  return k == 16;
}

clm_status clm_checkpoint_check_model(const char *path, const clm_checkpoint_meta *meta, int n,
                                      const char *text, const char *text_name) {
  const char *recorded = clm_checkpoint_meta_get(meta, n, "model_fnv1a64");
  if (!recorded)
    CLM_FAIL(CLM_ERR_NOT_FOUND, "%s: no 'model_fnv1a64' in its metadata: it does not say which "
             "model it was written for", path);
  if (!is_hash(recorded))
    CLM_FAIL(CLM_ERR_PARSE, "%s: metadata 'model_fnv1a64' is '%.40s', not 16 lowercase hex "
             "digits", path, recorded);
  const char *cfg = clm_checkpoint_meta_get(meta, n, "model_cfg");
  char h[17];
  if (cfg) {
    clm_checkpoint_model_hash(cfg, h);
    if (strcmp(h, recorded))
      CLM_FAIL(CLM_ERR_PARSE, "%s: metadata 'model_cfg' hashes to %s but the checkpoint records "
               "model_fnv1a64 %s: its model text was edited after the checkpoint was written",
               path, h, recorded);
  }
  if (!text) return CLM_OK;
  clm_checkpoint_model_hash(text, h);
  if (!strcmp(h, recorded)) return CLM_OK;
  const char *name = text_name ? text_name : "the given model";
  if (!cfg)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s was written for another model than %s (model_fnv1a64 %s "
             "recorded, %s hashes to %s; the checkpoint holds no model text to compare)", path,
             name, recorded, name, h);
  int line;
  char la[96], lb[96], section[96];
  first_difference(text, cfg, &line, la, lb, section, sizeof la);
  CLM_FAIL(CLM_ERR_INVALID_ARG, "%s was written for another model than %s: line %d%s%s differs: "
           "'%s' in %s, '%s' in the checkpoint's model text", path, name, line,
           section[0] ? " in " : "", section, la, name, lb);
}

/* Checks the metadata this reader understands: the format, the numbers every checkpoint
 * records, and the model text against its hash. */
static clm_status check_meta(const char *path, const clm_st_file *sf) {
  const char *format = clm_checkpoint_meta_get(sf->meta, sf->nmeta, "format");
  if (format && strcmp(format, CLM_CHECKPOINT_FORMAT))
    CLM_FAIL(CLM_ERR_UNSUPPORTED, "%s: format '%s', this build reads '%s'", path, format,
             CLM_CHECKPOINT_FORMAT);
  long long x;
  if (clm_checkpoint_meta_get(sf->meta, sf->nmeta, "step"))
    CLM_TRY(clm_checkpoint_meta_int(path, sf->meta, sf->nmeta, "step", 0, LLONG_MAX, &x));
  if (clm_checkpoint_meta_get(sf->meta, sf->nmeta, "epoch"))
    CLM_TRY(clm_checkpoint_meta_int(path, sf->meta, sf->nmeta, "epoch", 0, INT_MAX, &x));
  if (clm_checkpoint_meta_get(sf->meta, sf->nmeta, "model_fnv1a64") ||
      clm_checkpoint_meta_get(sf->meta, sf->nmeta, "model_cfg"))
    CLM_TRY(clm_checkpoint_check_model(path, sf->meta, sf->nmeta, NULL, NULL));
  return CLM_OK;
}

clm_status clm_checkpoint_read_meta(const char *path, clm_checkpoint_meta **meta_out,
                                    int *nmeta_out) {
  if (!path) CLM_FAIL(CLM_ERR_INVALID_ARG, "checkpoint read: NULL path");
  clm_st_file sf;
  CLM_TRY(st_open(path, &sf));
  clm_status st = check_meta(path, &sf);
  if (st == CLM_OK) {
    if (nmeta_out) *nmeta_out = sf.nmeta;
    if (meta_out) { *meta_out = sf.meta; sf.meta = NULL; }
  }
  clm_st_close(&sf);
  return st;
}

/* Every graph tensor present with its shape, nothing unknown. */
static clm_status match_tensors(const char *path, const clm_st_file *sf, const ck_tensor *t,
                                int n, int with_opt, const clm_st_entry **found) {
  for (int i = 0; i < n; i++) {
    found[i] = clm_st_find(sf, t[i].name);
    if (!found[i])
      CLM_FAIL(CLM_ERR_NOT_FOUND, "%s: tensor '%s' is missing (the graph has it, the file does "
               "not)", path, t[i].name);
    const clm_st_entry *e = found[i];
    int same = e->ndim == t[i].ndim;
    for (int d = 0; same && d < e->ndim; d++) same = e->shape[d] == t[i].shape[d];
    if (!same) {
      char a[160], b[160];
      clm_st_shape_str(e->shape, e->ndim, a, sizeof a);
      clm_st_shape_str(t[i].shape, t[i].ndim, b, sizeof b);
      CLM_FAIL(CLM_ERR_SHAPE, "%s: tensor '%s': shape %s in the file, %s in the graph", path,
               t[i].name, a, b);
    }
  }
  for (int k = 0; k < sf->nentries; k++) {
    const char *name = sf->entries[k].name;
    if (!with_opt && is_optimizer_name(name)) continue;
    int known = 0;
    for (int i = 0; i < n && !known; i++) known = !strcmp(t[i].name, name);
    if (!known)
      CLM_FAIL(CLM_ERR_NOT_FOUND, "%s: tensor '%s' is not in the graph (unknown tensor in the "
               "file)", path, name);
  }
  return CLM_OK;
}

clm_status clm_checkpoint_load(const char *path, clm_graph *g, clm_optim_state *opt,
                               clm_checkpoint_meta **meta_out, int *nmeta_out) {
  if (!path || !g) CLM_FAIL(CLM_ERR_INVALID_ARG, "checkpoint load: NULL path or graph");
  ck_tensor *t = NULL;
  int n = 0;
  CLM_TRY(list_tensors(path, g, opt, &t, &n));
  clm_st_file sf;
  clm_status st = st_open(path, &sf);
  if (st != CLM_OK) { free(t); return st; }
  float *data = NULL;
  const clm_st_entry **found = calloc((size_t)n + 1, sizeof *found);
  if (!found) { st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "%s: out of host memory", path); goto done; }
  CLM_CHECK(st, check_meta(path, &sf), done);
  CLM_CHECK(st, match_tensors(path, &sf, t, n, opt != NULL, found), done);

  size_t total = 0;
  CLM_CHECK(st, alloc_staging(path, t, n, &data, &total), done);
  size_t at = 0;
  for (int i = 0; i < n; i++) {
    CLM_CHECK(st, clm_st_read(path, &sf, found[i], data + at), done);
    CLM_CHECK(st, check_values(path, t[i].name, data + at, t[i].numel), done);
    at += t[i].numel;
  }
  /* everything is validated and in host memory: only now is the graph modified */
  CLM_CHECK(st, transfer(path, clm_graph_context(g), t, n, data, 1), done);
  clm_graph_params_changed(g); /* an inference graph refolds batch norm at its next forward */
  if (nmeta_out) *nmeta_out = sf.nmeta;
  if (meta_out) { *meta_out = sf.meta; sf.meta = NULL; }
done:
  clm_st_close(&sf);
  free(found);
  free(data);
  free(t);
  return st;
}
