/* Checkpoints: a save/load round trip of models/tiny.cfg with random parameters, running
 * statistics and optimizer moments is bit-exact and keeps the metadata; the file reads as
 * safetensors in plain Python; every kind of damaged or mismatched file is refused with a
 * message naming file and tensor, leaving the target graph untouched; a failed save leaves
 * neither a temporary file nor a damaged previous checkpoint. Model text against its hash
 * (an edited model_cfg, another model at resume), non-finite values and negative variances,
 * metadata numbers (garbage, out of range), and headers of 200,000 entries checked in well
 * under a second (the duplicate and overlap checks are sorts, not pairwise). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <limits.h>
#include <math.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "clmtl/checkpoint.h"
#include "graph/graph-impl.h"
#include "test_util.h"

static clm_context *ctx;
static char dir[64];
static char *tiny_text;

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) { fclose(f); free(b); return NULL; }
  b[n] = 0;
  fclose(f);
  if (len) *len = (size_t)n;
  return b;
}

static void write_file(const char *path, const void *a, size_t alen, const void *b, size_t blen) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(a, 1, alen, f) != alen || (blen && fwrite(b, 1, blen, f) != blen)) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(1);
  }
  fclose(f);
}

static void path_in(char *out, size_t size, const char *name) {
  snprintf(out, size, "%s/%s", dir, name);
}

/* tiny.cfg (or text) compiled for training, with an optimizer state. */
static clm_graph *make_graph(const char *text, clm_optim_state *opt) {
  clm_graph *g;
  clm_graph_create(ctx, &g);
  clm_status st = clm_graph_parse(g, text, "tiny.cfg");
  clm_graph_options o = {2, 16, 20, 1, -1, 0};
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  if (st == CLM_OK && opt) st = clm_optim_state_init(ctx, g->param_floats, opt);
  if (st != CLM_OK) {
    fprintf(stderr, "cannot build the test graph: %s\n", clm_last_error());
    exit(1);
  }
  return g;
}

/* Random parameters, running statistics, moments and step counter. */
static void randomise(clm_graph *g, clm_optim_state *opt, uint64_t seed) {
  test_rng r = test_rng_make(seed);
  clm_tensor p = clm_graph_params(g), s = clm_graph_state(g);
  float *hp = test_random(&r, g->param_floats, -1, 1), *hs = test_random(&r, g->state_floats, 0.1f, 2);
  test_upload(ctx, &p, hp);
  test_upload(ctx, &s, hs);
  free(hp);
  free(hs);
  if (!opt) return;
  float *m = test_random(&r, opt->n, -1, 1), *v = test_random(&r, opt->n, 0, 1);
  float step = (float)(1 + seed % 1000);
  test_upload(ctx, &opt->m, m);
  test_upload(ctx, &opt->v, v);
  test_upload(ctx, &opt->step, &step);
  free(m);
  free(v);
}

/* Everything a checkpoint covers, downloaded, for bitwise comparison. */
typedef struct snapshot { float *p, *s, *m, *v, step; size_t np, ns, nm; } snapshot;

static snapshot take(clm_graph *g, clm_optim_state *opt) {
  snapshot x = {0};
  clm_tensor p = clm_graph_params(g), s = clm_graph_state(g);
  x.np = g->param_floats;
  x.ns = g->state_floats;
  x.p = test_download(ctx, &p);
  x.s = test_download(ctx, &s);
  if (opt) {
    x.nm = opt->n;
    x.m = test_download(ctx, &opt->m);
    x.v = test_download(ctx, &opt->v);
    float *st = test_download(ctx, &opt->step);
    x.step = *st;
    free(st);
  }
  return x;
}

static int same(const snapshot *a, const snapshot *b) {
  if (a->np != b->np || a->ns != b->ns || a->nm != b->nm) return 0;
  if (memcmp(a->p, b->p, a->np * 4) || memcmp(a->s, b->s, a->ns * 4)) return 0;
  if (a->nm && (memcmp(a->m, b->m, a->nm * 4) || memcmp(a->v, b->v, a->nm * 4) ||
                memcmp(&a->step, &b->step, 4)))
    return 0;
  return 1;
}

static void drop(snapshot *x) {
  free(x->p); free(x->s); free(x->m); free(x->v);
}

/* Offset in the parameter buffer of a named tensor. */
static clm_tensor named(clm_graph *g, const char *want) {
  for (int i = 0; i < clm_graph_named_count(g); i++) {
    const char *name;
    clm_tensor v;
    int is_param;
    clm_graph_named(g, i, &name, &v, &is_param);
    if (!strcmp(name, want)) return v;
  }
  fprintf(stderr, "no tensor %s\n", want);
  exit(1);
}

/* Names in dir containing ".tmp." (left-over temporary files). */
static int temp_files(const char *d) {
  DIR *dp = opendir(d);
  if (!dp) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(dp))) n += strstr(e->d_name, ".tmp.") != NULL;
  closedir(dp);
  return n;
}

static clm_checkpoint_info info = {NULL, 1234, 7, "uncertainty"};

/* ---- round trip -------------------------------------------------------------------------- */

static char good[128]; /* a valid checkpoint of tiny.cfg with optimizer state */

static void test_round_trip(void) {
  clm_optim_state oa, ob;
  clm_graph *a = make_graph(tiny_text, &oa), *b = make_graph(tiny_text, &ob);
  randomise(a, &oa, 11);
  randomise(b, &ob, 22);
  snapshot sa = take(a, &oa), sb = take(b, &ob);
  test_true("the two graphs start different", !same(&sa, &sb), NULL);
  path_in(good, sizeof good, "good.safetensors");
  clm_checkpoint_meta extra[2] = {{"lr", "0.001"}, {"note", "quotes \" and unicode \xc3\xa9"}};
  test_status("save", clm_checkpoint_save(good, a, &oa, &info, extra, 2));
  test_true("no temporary file after a save", temp_files(dir) == 0, NULL);

  clm_checkpoint_meta *meta = NULL;
  int nmeta = 0;
  test_status("load into a fresh graph", clm_checkpoint_load(good, b, &ob, &meta, &nmeta));
  snapshot sb2 = take(b, &ob);
  test_true("parameters, running statistics, moments and step bit-identical", same(&sa, &sb2), NULL);
  char hash[17];
  clm_checkpoint_model_hash(tiny_text, hash);
  const char *want[][2] = {{"format", "clmtl-1"}, {"model_fnv1a64", hash}, {"step", "1234"},
                           {"epoch", "7"}, {"strategy", "uncertainty"}, {"lr", "0.001"},
                           {"note", extra[1].value}};
  int ok = nmeta == 7;
  for (int i = 0; ok && i < 7; i++)
    ok = !strcmp(meta[i].key, want[i][0]) && !strcmp(meta[i].value, want[i][1]);
  test_true("metadata round trip, in order", ok, NULL);
  clm_checkpoint_meta_free(meta);

  meta = NULL;
  test_status("read metadata only", clm_checkpoint_read_meta(good, &meta, &nmeta));
  test_true("read_meta: step and epoch",
            meta && !strcmp(clm_checkpoint_meta_get(meta, nmeta, "step"), "1234") &&
            !strcmp(clm_checkpoint_meta_get(meta, nmeta, "epoch"), "7") &&
            !clm_checkpoint_meta_get(meta, nmeta, "absent"), NULL);
  clm_checkpoint_meta_free(meta);
  clm_checkpoint_meta_free(NULL);

  /* without an optimizer: its entries are skipped on load; a file without them cannot
   * restore one */
  clm_graph *c = make_graph(tiny_text, NULL);
  test_status("load parameters only", clm_checkpoint_load(good, c, NULL, NULL, NULL));
  snapshot sc = take(c, NULL);
  test_true("parameters only: bit-identical", sc.np == sa.np && !memcmp(sc.p, sa.p, sa.np * 4) &&
            !memcmp(sc.s, sa.s, sa.ns * 4), NULL);
  char noopt[128];
  path_in(noopt, sizeof noopt, "noopt.safetensors");
  test_status("save without optimizer", clm_checkpoint_save(noopt, c, NULL, NULL, NULL, 0));
  clm_status st = clm_checkpoint_load(noopt, b, &ob, NULL, NULL);
  test_true("optimizer state requested but absent: error naming optimizer.m",
            st == CLM_ERR_NOT_FOUND && strstr(clm_last_error(), "optimizer.m") &&
            strstr(clm_last_error(), noopt), clm_last_error());
  clm_checkpoint_meta bad[2] = {{"step", "1"}, {"x", "y"}};
  st = clm_checkpoint_save(noopt, c, NULL, NULL, bad, 2);
  test_true("extra key equal to a standard key refused", st == CLM_ERR_INVALID_ARG, clm_last_error());

  /* plain Python reads it: names, PyTorch shapes, a value, the data section's extent */
  if (system("python3 -c 'import json, struct' >/dev/null 2>&1") == 0) {
    char script[128], cmd[512];
    path_in(script, sizeof script, "read.py");
    const char *py =
        "import json, struct, sys\n"
        "b = open(sys.argv[1], 'rb').read()\n"
        "n = struct.unpack('<Q', b[:8])[0]\n"
        "h = json.loads(b[8:8 + n])\n"
        "d = b[8 + n:]\n"
        "m = h.pop('__metadata__')\n"
        "assert m['format'] == 'clmtl-1' and m['step'] == '1234' and m['strategy'] == 'uncertainty'\n"
        "assert n % 8 == 0\n"
        "e = h['enc1.weight']\n"
        "assert e['dtype'] == 'F32' and e['shape'] == [8, 3, 3, 3], e\n"
        "assert h['depth_head.weight']['shape'] == [1, 8, 1, 1]\n"
        "assert h['depth_head.bias']['shape'] == [1]\n"
        "assert h['enc1.bn.running_var']['shape'] == [8]\n"
        "assert h['task.semantic.task_param']['shape'] == [1]\n"
        "assert h['optimizer.m']['shape'] == [int(sys.argv[2])]\n"
        "assert h['optimizer.step']['shape'] == [1]\n"
        "o = e['data_offsets']\n"
        "assert d[o[0]:o[0] + 4].hex() == sys.argv[3], d[o[0]:o[0] + 4].hex()\n"
        "assert max(x['data_offsets'][1] for x in h.values()) == len(d)\n"
        "assert all(x['dtype'] == 'F32' for x in h.values())\n";
    write_file(script, py, strlen(py), NULL, 0);
    clm_tensor w = named(a, "enc1.weight");
    const unsigned char *v = (const unsigned char *)&sa.p[w.off];
    snprintf(cmd, sizeof cmd, "python3 %s %s %zu %02x%02x%02x%02x", script, good, oa.n, v[0],
             v[1], v[2], v[3]);
    int rc = system(cmd);
    test_true("python reads the file as safetensors", rc == 0, cmd);
  } else {
    printf("[SKIP] python3 not available: safetensors cross-check\n");
  }
  drop(&sa); drop(&sb); drop(&sb2); drop(&sc);
  clm_optim_state_free(&oa);
  clm_optim_state_free(&ob);
  clm_graph_free(a);
  clm_graph_free(b);
  clm_graph_free(c);
}

/* ---- rejections -------------------------------------------------------------------------- */

static clm_graph *target;
static clm_optim_state target_opt;
static char *good_bytes;
static size_t good_len, hdr_len;

/* Loads path into the target; expects failure with every string of want (NULL-terminated) and
 * the path in the message, and the target unchanged. */
static void expect_reject(const char *name, const char *path, const char *const *want) {
  snapshot before = take(target, &target_opt);
  clm_status st = clm_checkpoint_load(path, target, &target_opt, NULL, NULL);
  const char *msg = clm_last_error();
  int ok = st != CLM_OK && strstr(msg, path) != NULL;
  for (int i = 0; ok && want[i]; i++) ok = strstr(msg, want[i]) != NULL;
  char label[256];
  snprintf(label, sizeof label, "rejects %s", name);
  test_true(label, ok, st == CLM_OK ? "accepted" : msg);
  snapshot after = take(target, &target_opt);
  snprintf(label, sizeof label, "%s: target graph unchanged", name);
  test_true(label, same(&before, &after), NULL);
  drop(&before);
  drop(&after);
}

static cJSON *good_header(void) {
  cJSON *h = cJSON_ParseWithLength(good_bytes + 8, hdr_len);
  if (!h) { fprintf(stderr, "cannot parse the good header\n"); exit(1); }
  return h;
}

static const char *data_section(void) { return good_bytes + 8 + hdr_len; }
static size_t data_len(void) { return good_len - 8 - hdr_len; }

/* Writes u64 length + json + data. */
static void write_with_header(const char *path, const char *json, const char *data, size_t dlen) {
  size_t n = strlen(json);
  unsigned char *b = malloc(8 + n);
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)n >> (8 * i));
  memcpy(b + 8, json, n);
  write_file(path, b, 8 + n, data, dlen);
  free(b);
}

static void write_tree(const char *path, cJSON *h, const char *data, size_t dlen) {
  char *json = cJSON_PrintUnformatted(h);
  write_with_header(path, json, data, dlen);
  cJSON_free(json);
}

/* Rewrites every entry's data_offsets to pack them in header order, copying the bytes. */
static void write_repacked(const char *path, cJSON *h) {
  char *out = malloc(data_len() + 1);
  size_t pos = 0;
  cJSON *e;
  cJSON_ArrayForEach(e, h) {
    if (!strcmp(e->string, "__metadata__")) continue;
    cJSON *o = cJSON_GetObjectItem(e, "data_offsets");
    size_t b = (size_t)cJSON_GetArrayItem(o, 0)->valuedouble;
    size_t n = (size_t)cJSON_GetArrayItem(o, 1)->valuedouble - b;
    memcpy(out + pos, data_section() + b, n);
    cJSON_ReplaceItemInArray(o, 0, cJSON_CreateNumber((double)pos));
    cJSON_ReplaceItemInArray(o, 1, cJSON_CreateNumber((double)(pos + n)));
    pos += n;
  }
  write_tree(path, h, out, pos);
  free(out);
}

static void set_offsets(cJSON *entry, double b, double e) {
  cJSON *o = cJSON_GetObjectItem(entry, "data_offsets");
  cJSON_ReplaceItemInArray(o, 0, cJSON_CreateNumber(b));
  cJSON_ReplaceItemInArray(o, 1, cJSON_CreateNumber(e));
}

static void test_rejections(void) {
  target = make_graph(tiny_text, &target_opt);
  randomise(target, &target_opt, 33);
  good_bytes = read_file(good, &good_len);
  if (!good_bytes) { fprintf(stderr, "cannot read %s\n", good); exit(1); }
  for (int i = 7; i >= 0; i--) hdr_len = (hdr_len << 8) | (unsigned char)good_bytes[i];
  char p[128], s1[64], s2[64];
  path_in(p, sizeof p, "bad.safetensors");

  expect_reject("a missing file", "/nonexistent/x.safetensors", (const char *[]){"cannot open", 0});

  write_file(p, good_bytes, good_len - 100, NULL, 0);
  snprintf(s1, sizeof s1, "expected %zu bytes", good_len);
  snprintf(s2, sizeof s2, "the file has %zu", good_len - 100);
  expect_reject("a file cut in the data section", p, (const char *[]){"truncated", s1, s2, 0});

  write_file(p, good_bytes, 8 + hdr_len / 2, NULL, 0);
  snprintf(s1, sizeof s1, "expected at least %zu bytes", 8 + hdr_len);
  snprintf(s2, sizeof s2, "the file has %zu", 8 + hdr_len / 2);
  expect_reject("a file cut in the header", p, (const char *[]){"header length", s1, s2, 0});

  write_file(p, good_bytes, 5, NULL, 0);
  expect_reject("a 5-byte file", p, (const char *[]){"too short", 0});

  {
    char *b = malloc(good_len);
    memcpy(b, good_bytes, good_len);
    uint64_t n = good_len + 100;
    for (int i = 0; i < 8; i++) b[i] = (char)(n >> (8 * i));
    write_file(p, b, good_len, NULL, 0);
    expect_reject("a header length larger than the file", p, (const char *[]){"exceeds the file", 0});
    n = hdr_len / 2;
    for (int i = 0; i < 8; i++) b[i] = (char)(n >> (8 * i));
    write_file(p, b, good_len, NULL, 0);
    expect_reject("a header length inside the file (JSON cut)", p,
                  (const char *[]){"not valid JSON", 0});
    write_file(p, good_bytes, good_len, "\0\0\0\0", 4);
    expect_reject("trailing bytes", p, (const char *[]){"4 bytes after the last tensor", 0});
    free(b);
  }

  cJSON *h = good_header();
  set_offsets(cJSON_GetObjectItem(h, "enc1.weight"), (double)data_len(), (double)data_len() + 864);
  write_tree(p, h, data_section(), data_len());
  expect_reject("offsets out of range", p, (const char *[]){"'enc1.weight'", "beyond the end", 0});
  cJSON_Delete(h);

  h = good_header();
  cJSON *o = cJSON_GetObjectItem(cJSON_GetObjectItem(h, "enc1.bn.weight"), "data_offsets");
  set_offsets(cJSON_GetObjectItem(h, "enc1.bn.bias"), cJSON_GetArrayItem(o, 0)->valuedouble,
              cJSON_GetArrayItem(o, 1)->valuedouble);
  write_tree(p, h, data_section(), data_len());
  expect_reject("overlapping offsets", p,
                (const char *[]){"overlap", "'enc1.bn.weight'", "'enc1.bn.bias'", 0});
  cJSON_Delete(h);

  h = good_header();
  o = cJSON_GetObjectItem(cJSON_GetObjectItem(h, "enc1.bn.bias"), "data_offsets");
  set_offsets(cJSON_GetObjectItem(h, "enc1.bn.bias"), cJSON_GetArrayItem(o, 0)->valuedouble - 4,
              cJSON_GetArrayItem(o, 1)->valuedouble - 4);
  write_tree(p, h, data_section(), data_len());
  expect_reject("offsets overlapping by one float", p,
                (const char *[]){"overlap", "'enc1.bn.weight'", "'enc1.bn.bias' [892, 924]", 0});
  cJSON_Delete(h);

  h = good_header();
  o = cJSON_GetObjectItem(cJSON_GetObjectItem(h, "enc1.bn.bias"), "data_offsets");
  set_offsets(cJSON_GetObjectItem(h, "enc1.bn.bias"), cJSON_GetArrayItem(o, 0)->valuedouble + 4,
              cJSON_GetArrayItem(o, 1)->valuedouble + 4);
  write_tree(p, h, data_section(), data_len());
  expect_reject("a gap between tensors", p, (const char *[]){"'enc1.bn.bias'", "4 unused bytes", 0});
  cJSON_Delete(h);

  h = good_header();
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(h, "enc1.weight"), "dtype", cJSON_CreateString("F16"));
  write_tree(p, h, data_section(), data_len());
  expect_reject("dtype F16", p, (const char *[]){"'enc1.weight'", "dtype F16", 0});
  cJSON_Delete(h);

  h = good_header();
  cJSON *shape = cJSON_GetObjectItem(cJSON_GetObjectItem(h, "enc1.weight"), "shape");
  cJSON_ReplaceItemInArray(shape, 3, cJSON_CreateNumber(2));
  write_tree(p, h, data_section(), data_len());
  expect_reject("data_offsets not matching the shape", p,
                (const char *[]){"'enc1.weight'", "(8, 3, 3, 2)", "needs 576", 0});
  cJSON_Delete(h);

  h = good_header();
  cJSON_ReplaceItemInArray(cJSON_GetObjectItem(cJSON_GetObjectItem(h, "enc1.weight"), "shape"), 0,
                           cJSON_CreateNumber(-8));
  write_tree(p, h, data_section(), data_len());
  expect_reject("a negative dimension", p, (const char *[]){"'enc1.weight'", "non-negative", 0});
  cJSON_Delete(h);

  h = good_header();
  cJSON_DeleteItemFromObject(h, "enc2.bn.running_var");
  write_repacked(p, h);
  expect_reject("a missing tensor", p, (const char *[]){"'enc2.bn.running_var'", "missing", 0});
  cJSON_Delete(h);

  h = good_header();
  cJSON *extra = cJSON_AddObjectToObject(h, "extra.weight");
  cJSON_AddStringToObject(extra, "dtype", "F32");
  cJSON_AddItemToObject(extra, "shape", cJSON_CreateIntArray((const int[]){2}, 1));
  cJSON_AddItemToObject(extra, "data_offsets",
                        cJSON_CreateIntArray((const int[]){(int)data_len(), (int)data_len() + 8}, 2));
  {
    char *d = calloc(data_len() + 8, 1);
    memcpy(d, data_section(), data_len());
    write_tree(p, h, d, data_len() + 8);
    free(d);
  }
  expect_reject("an extra tensor", p, (const char *[]){"'extra.weight'", "not in the graph", 0});
  cJSON_Delete(h);

  h = good_header();
  cJSON *tp = cJSON_GetObjectItem(h, "task.semantic.task_param");
  cJSON_ReplaceItemInObject(tp, "shape", cJSON_CreateArray());
  write_tree(p, h, data_section(), data_len());
  expect_reject("a 0-D task parameter", p,
                (const char *[]){"'task.semantic.task_param'", "shape () in the file, (1) in the graph", 0});
  cJSON_Delete(h);

  h = good_header();
  cJSON *dup = cJSON_Duplicate(cJSON_GetObjectItem(h, "enc1.bn.bias"), 1);
  cJSON_AddItemToObject(h, "enc1.bn.bias", dup);
  write_tree(p, h, data_section(), data_len());
  expect_reject("a tensor given twice", p, (const char *[]){"'enc1.bn.bias'", "twice", 0});
  cJSON_Delete(h);

  h = good_header();
  cJSON *m = cJSON_GetObjectItem(h, "__metadata__");
  cJSON_ReplaceItemInObject(m, "step", cJSON_CreateNumber(1234));
  write_tree(p, h, data_section(), data_len());
  expect_reject("a non-string metadata value", p, (const char *[]){"'step'", "not a string", 0});
  cJSON_Delete(h);

  h = good_header();
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(h, "__metadata__"), "format",
                            cJSON_CreateString("clmtl-2"));
  write_tree(p, h, data_section(), data_len());
  expect_reject("another format version", p, (const char *[]){"clmtl-2", 0});
  cJSON_Delete(h);

  write_with_header(p, "[1, 2, 3]", NULL, 0);
  expect_reject("a header that is not an object", p, (const char *[]){"not a JSON object", 0});

  /* a checkpoint of the same network with 4 filters in enc1 */
  {
    const char *at = strstr(tiny_text, "filters = 8");
    size_t k = (size_t)(at - tiny_text);
    char *text = malloc(strlen(tiny_text) + 1);
    memcpy(text, tiny_text, k);
    sprintf(text + k, "filters = 4%s", at + strlen("filters = 8"));
    clm_optim_state o4;
    clm_graph *g4 = make_graph(text, &o4);
    char p4[128];
    path_in(p4, sizeof p4, "filters4.safetensors");
    test_status("save the narrower model", clm_checkpoint_save(p4, g4, &o4, NULL, NULL, 0));
    expect_reject("a model with different filters", p4,
                  (const char *[]){"'enc1.weight'", "(4, 3, 3, 3) in the file", "(8, 3, 3, 3) in the graph", 0});
    clm_optim_state_free(&o4);
    clm_graph_free(g4);
    free(text);
  }

  {
    test_rng r = test_rng_make(5);
    unsigned char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(test_uniform(&r, 0, 256));
    write_file(p, junk, sizeof junk, NULL, 0);
    expect_reject("garbage bytes", p, (const char *[]){0});
    junk[0] = 100;
    memset(junk + 1, 0, 7);
    write_file(p, junk, sizeof junk, NULL, 0);
    expect_reject("garbage after a plausible header length", p, (const char *[]){"JSON", 0});
    clm_checkpoint_meta *meta = NULL;
    int n = -1;
    clm_status st = clm_checkpoint_read_meta(p, &meta, &n);
    test_true("read_meta refuses garbage too", st != CLM_OK && !meta && n == -1, clm_last_error());
  }
  free(good_bytes);
  clm_optim_state_free(&target_opt);
  clm_graph_free(target);
}

/* ---- atomicity --------------------------------------------------------------------------- */

static void test_atomic(void) {
  clm_optim_state o;
  clm_graph *g = make_graph(tiny_text, &o);
  randomise(g, &o, 44);
  char p[128], sub[128];
  size_t len0;
  char *before = read_file(good, &len0);

  path_in(p, sizeof p, "nodir/x.safetensors");
  clm_status st = clm_checkpoint_save(p, g, &o, &info, NULL, 0);
  test_true("save into a missing directory fails naming the file",
            st == CLM_ERR_IO && strstr(clm_last_error(), p), clm_last_error());
  test_true("... leaving no temporary file", temp_files(dir) == 0, NULL);

  clm_graph *raw;
  clm_graph_create(ctx, &raw);
  clm_graph_parse(raw, tiny_text, "tiny.cfg");
  st = clm_checkpoint_save(good, raw, NULL, &info, NULL, 0);
  test_true("save of an uncompiled graph fails", st == CLM_ERR_INVALID_ARG, clm_last_error());
  clm_graph_free(raw);

  /* a write that fails halfway: the file size limit stops the temporary file at 4 KiB */
  struct rlimit old, lim;
  getrlimit(RLIMIT_FSIZE, &old);
  lim = old;
  lim.rlim_cur = 4096;
  signal(SIGXFSZ, SIG_IGN);
  if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
    st = clm_checkpoint_save(good, g, &o, &info, NULL, 0);
    setrlimit(RLIMIT_FSIZE, &old);
    test_true("save failing mid-write reports an IO error naming the file",
              st == CLM_ERR_IO && strstr(clm_last_error(), good), clm_last_error());
  } else {
    printf("[SKIP] cannot lower RLIMIT_FSIZE\n");
  }
  test_true("... leaving no temporary file", temp_files(dir) == 0, NULL);

  /* rename fails when the target is a directory: the written temporary file must go */
  path_in(sub, sizeof sub, "adir");
  mkdir(sub, 0755);
  st = clm_checkpoint_save(sub, g, &o, &info, NULL, 0);
  test_true("save over a directory fails at the rename",
            st == CLM_ERR_IO && strstr(clm_last_error(), "rename"), clm_last_error());
  test_true("... leaving no temporary file", temp_files(dir) == 0, NULL);
  rmdir(sub);

  if (geteuid() != 0) {
    /* a read-only directory holding a checkpoint */
    char ro[128], rofile[256];
    path_in(ro, sizeof ro, "ro");
    mkdir(ro, 0755);
    snprintf(rofile, sizeof rofile, "%s/c.safetensors", ro);
    write_file(rofile, before, len0, NULL, 0);
    chmod(ro, 0555);
    st = clm_checkpoint_save(rofile, g, &o, &info, NULL, 0);
    test_true("save into a read-only directory fails", st == CLM_ERR_IO, clm_last_error());
    size_t l;
    char *now = read_file(rofile, &l);
    test_true("... the old checkpoint there is intact", now && l == len0 && !memcmp(now, before, l), NULL);
    test_true("... and no temporary file", temp_files(ro) == 0, NULL);
    free(now);
    chmod(ro, 0755);
    unlink(rofile);
    rmdir(ro);
  } else {
    printf("[SKIP] running as root: read-only directory case (failed writes tested above)\n");
  }

  size_t len1;
  char *after = read_file(good, &len1);
  test_true("the existing checkpoint survived every failed save",
            after && len1 == len0 && !memcmp(before, after, len0), NULL);
  clm_checkpoint_meta *meta = NULL;
  int n = 0;
  test_status("and still loads", clm_checkpoint_load(good, g, &o, &meta, &n));
  clm_checkpoint_meta_free(meta);
  free(before);
  free(after);
  clm_optim_state_free(&o);
  clm_graph_free(g);
}

/* ---- model text, values and metadata ---------------------------------------------------- */

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Header of the file at path as a cJSON tree; *data / *dlen its data section (malloc'd). */
static cJSON *file_header(const char *path, char **data, size_t *dlen) {
  size_t len;
  char *b = read_file(path, &len);
  if (!b) { fprintf(stderr, "cannot read %s\n", path); exit(1); }
  size_t n = 0;
  for (int i = 7; i >= 0; i--) n = (n << 8) | (unsigned char)b[i];
  cJSON *h = cJSON_ParseWithLength(b + 8, n);
  *dlen = len - 8 - n;
  *data = malloc(*dlen + 1);
  memcpy(*data, b + 8 + n, *dlen);
  free(b);
  if (!h) { fprintf(stderr, "cannot parse the header of %s\n", path); exit(1); }
  return h;
}

/* A copy of src at dst with metadata key set to value. */
static void with_meta(const char *src, const char *dst, const char *key, const char *value) {
  char *data;
  size_t dlen;
  cJSON *h = file_header(src, &data, &dlen);
  cJSON *m = cJSON_GetObjectItem(h, "__metadata__");
  if (cJSON_GetObjectItem(m, key)) cJSON_ReplaceItemInObject(m, key, cJSON_CreateString(value));
  else cJSON_AddStringToObject(m, key, value);
  write_tree(dst, h, data, dlen);
  cJSON_Delete(h);
  free(data);
}

/* A copy of src at dst with element `index` of tensor `name` set to v. */
static void with_value(const char *src, const char *dst, const char *name, size_t index, float v) {
  char *data;
  size_t dlen;
  cJSON *h = file_header(src, &data, &dlen);
  cJSON *o = cJSON_GetObjectItem(cJSON_GetObjectItem(h, name), "data_offsets");
  size_t at = (size_t)cJSON_GetArrayItem(o, 0)->valuedouble + 4 * index;
  memcpy(data + at, &v, 4); /* the test hosts are little-endian, like the file */
  write_tree(dst, h, data, dlen);
  cJSON_Delete(h);
  free(data);
}

/* Loads path into g (with opt); expects status want and every string of need in the message,
 * which must name the file, and g unchanged. */
static void expect_load(const char *label, const char *path, clm_graph *g, clm_optim_state *opt,
                        clm_status want, const char *const *need) {
  snapshot before = take(g, opt);
  clm_status st = clm_checkpoint_load(path, g, opt, NULL, NULL);
  const char *msg = clm_last_error();
  int ok = st == want && strstr(msg, path) != NULL;
  for (int i = 0; ok && need[i]; i++) ok = strstr(msg, need[i]) != NULL;
  test_true(label, ok, st == CLM_OK ? "accepted" : msg);
  snapshot after = take(g, opt);
  char l2[256];
  snprintf(l2, sizeof l2, "%s: graph unchanged", label);
  test_true(l2, same(&before, &after), NULL);
  drop(&before);
  drop(&after);
}

/* tiny.cfg with enc2's activation changed: the same tensors, another model. *line is the
 * 1-based line of the change. */
static char *edited_model(int *line) {
  const char *enc2 = strstr(tiny_text, "[enc2]"), *act = strstr(enc2, "act = relu");
  size_t k = (size_t)(act - tiny_text);
  char *text = malloc(strlen(tiny_text) + 8);
  memcpy(text, tiny_text, k);
  sprintf(text + k, "act = leaky%s", act + strlen("act = relu"));
  *line = 1;
  for (const char *p = tiny_text; p < act; p++) *line += *p == '\n';
  return text;
}

static void test_model_text(void) {
  clm_optim_state o;
  clm_graph *g = make_graph(tiny_text, &o);
  randomise(g, &o, 55);
  int line;
  char *edited = edited_model(&line);
  char ok_path[128], edit_path[128], nohash[128];
  path_in(ok_path, sizeof ok_path, "withcfg.safetensors");
  path_in(edit_path, sizeof edit_path, "editedcfg.safetensors");
  path_in(nohash, sizeof nohash, "nohash.safetensors");
  clm_checkpoint_meta cfg = {"model_cfg", tiny_text};
  test_status("save with the model text", clm_checkpoint_save(ok_path, g, &o, &info, &cfg, 1));
  test_status("... loads", clm_checkpoint_load(ok_path, g, &o, NULL, NULL));

  /* the stored text edited after the fact (an activation: no tensor changes) */
  with_meta(ok_path, edit_path, "model_cfg", edited);
  randomise(g, &o, 56);
  expect_load("an edited model_cfg is refused on load", edit_path, g, &o, CLM_ERR_PARSE,
              (const char *[]){"model_cfg", "edited", 0});
  clm_checkpoint_meta *meta = NULL;
  int n = 0;
  clm_status st = clm_checkpoint_read_meta(edit_path, &meta, &n);
  test_true("... and by read_meta (eval, infer)", st == CLM_ERR_PARSE &&
            strstr(clm_last_error(), edit_path) && strstr(clm_last_error(), "model_cfg"),
            clm_last_error());
  clm_checkpoint_meta_free(meta);

  /* another model text at --resume: the first differing line, its section, both versions */
  meta = NULL;
  test_status("read_meta of the good file", clm_checkpoint_read_meta(ok_path, &meta, &n));
  test_status("the same model text matches",
              clm_checkpoint_check_model(ok_path, meta, n, tiny_text, "tiny.cfg"));
  st = clm_checkpoint_check_model(ok_path, meta, n, edited, "edited.cfg");
  char want_line[32];
  snprintf(want_line, sizeof want_line, "line %d", line);
  const char *msg = clm_last_error();
  test_true("another model text is refused naming line, section and both versions",
            st == CLM_ERR_INVALID_ARG && strstr(msg, ok_path) && strstr(msg, "edited.cfg") &&
            strstr(msg, want_line) && strstr(msg, "[enc2]") && strstr(msg, "'act = leaky'") &&
            strstr(msg, "'act = relu'"), msg);
  clm_checkpoint_meta_free(meta);

  test_status("save without a model hash", clm_checkpoint_save(nohash, g, &o, NULL, NULL, 0));
  meta = NULL;
  clm_checkpoint_read_meta(nohash, &meta, &n);
  st = clm_checkpoint_check_model(nohash, meta, n, tiny_text, "tiny.cfg");
  test_true("no model hash: cannot be matched to a model", st == CLM_ERR_NOT_FOUND &&
            strstr(clm_last_error(), "model_fnv1a64"), clm_last_error());
  clm_checkpoint_meta_free(meta);

  with_meta(ok_path, edit_path, "model_fnv1a64", "0123456789ABCDEF");
  expect_load("a malformed model hash is refused", edit_path, g, &o, CLM_ERR_PARSE,
              (const char *[]){"model_fnv1a64", 0});
  free(edited);
  clm_optim_state_free(&o);
  clm_graph_free(g);
}

static void test_values(void) {
  clm_optim_state o;
  clm_graph *g = make_graph(tiny_text, &o);
  randomise(g, &o, 66);
  char src[128], p[128];
  path_in(src, sizeof src, "values.safetensors");
  path_in(p, sizeof p, "badvalue.safetensors");
  test_status("save", clm_checkpoint_save(src, g, &o, &info, NULL, 0));
  randomise(g, &o, 67);

  with_value(src, p, "enc2.weight", 5, NAN);
  expect_load("a NaN weight is refused naming tensor and element", p, g, &o, CLM_ERR_NUMERIC,
              (const char *[]){"'enc2.weight'", "element 5 ", "NaN", 0});
  with_value(src, p, "dec1.bn.running_mean", 3, INFINITY);
  expect_load("an Inf running mean is refused", p, g, &o, CLM_ERR_NUMERIC,
              (const char *[]){"'dec1.bn.running_mean'", "element 3 ", "+Inf", 0});
  with_value(src, p, "enc1.bn.running_var", 2, -0.5f);
  expect_load("a negative running variance is refused", p, g, &o, CLM_ERR_NUMERIC,
              (const char *[]){"'enc1.bn.running_var'", "element 2 ", "-0.5", "negative", 0});
  with_value(src, p, "enc1.bn.running_var", 0, NAN);
  expect_load("a NaN running variance is refused", p, g, &o, CLM_ERR_NUMERIC,
              (const char *[]){"'enc1.bn.running_var'", "element 0 ", "NaN", 0});
  with_value(src, p, "optimizer.m", 7, -INFINITY);
  expect_load("an Inf optimizer moment is refused", p, g, &o, CLM_ERR_NUMERIC,
              (const char *[]){"'optimizer.m'", "element 7 ", "-Inf", 0});
  with_value(src, p, "optimizer.v", 1, -1.0f);
  expect_load("a negative second moment is refused", p, g, &o, CLM_ERR_NUMERIC,
              (const char *[]){"'optimizer.v'", "element 1 ", "negative", 0});
  with_value(src, p, "task.depth.task_param", 0, NAN);
  expect_load("a NaN task parameter is refused", p, g, &o, CLM_ERR_NUMERIC,
              (const char *[]){"'task.depth.task_param'", "element 0 ", 0});
  with_value(src, p, "enc1.bn.running_var", 2, 0.0f);
  test_status("a zero running variance is fine", clm_checkpoint_load(p, g, &o, NULL, NULL));

  /* a diverged graph is not saved over a good checkpoint */
  size_t len0, len1;
  char *before = read_file(src, &len0);
  clm_tensor w = named(g, "dec1.weight");
  float nan = NAN;
  clm_tensor one = w;
  one.n = one.c = one.h = 1;
  one.w = 1;
  one.off += 4;
  test_upload(ctx, &one, &nan);
  clm_status st = clm_checkpoint_save(src, g, &o, &info, NULL, 0);
  test_true("saving a NaN weight is refused naming tensor and element", st == CLM_ERR_NUMERIC &&
            strstr(clm_last_error(), "'dec1.weight'") && strstr(clm_last_error(), "element 4 ") &&
            strstr(clm_last_error(), src), clm_last_error());
  char *after = read_file(src, &len1);
  test_true("... the previous checkpoint is intact", after && len0 == len1 &&
            !memcmp(before, after, len0), NULL);
  test_true("... and no temporary file", temp_files(dir) == 0, NULL);
  free(before);
  free(after);
  clm_optim_state_free(&o);
  clm_graph_free(g);
}

static void test_metadata_numbers(void) {
  clm_optim_state o;
  clm_graph *g = make_graph(tiny_text, &o);
  randomise(g, &o, 77);
  char src[128], p[128];
  path_in(src, sizeof src, "meta.safetensors");
  path_in(p, sizeof p, "badmeta.safetensors");
  test_status("save", clm_checkpoint_save(src, g, &o, &info, NULL, 0));
  const char *bad[][2] = {{"step", "12abc"}, {"step", "-5"}, {"step", " 7"}, {"step", ""},
                          {"step", "99999999999999999999"}, {"epoch", "2147483648"},
                          {"epoch", "-1"}, {"epoch", "0x10"}, {"epoch", "3.5"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    with_meta(src, p, bad[i][0], bad[i][1]);
    char label[128], key[32];
    snprintf(label, sizeof label, "metadata %s = '%s' is refused naming file and key", bad[i][0],
             bad[i][1]);
    snprintf(key, sizeof key, "'%s'", bad[i][0]);
    expect_load(label, p, g, &o, CLM_ERR_PARSE, (const char *[]){key, 0});
    clm_checkpoint_meta *meta = NULL;
    int n = 0;
    clm_status st = clm_checkpoint_read_meta(p, &meta, &n);
    snprintf(label, sizeof label, "... read_meta too (%s = '%s')", bad[i][0], bad[i][1]);
    test_true(label, st == CLM_ERR_PARSE && strstr(clm_last_error(), p) &&
              strstr(clm_last_error(), key), clm_last_error());
    clm_checkpoint_meta_free(meta);
  }
  /* INT_MAX is a valid epoch in the format; a trainer that adds one refuses it by its range */
  with_meta(src, p, "epoch", "2147483647");
  clm_checkpoint_meta *meta = NULL;
  int n = 0;
  test_status("epoch INT_MAX reads", clm_checkpoint_read_meta(p, &meta, &n));
  long long x = 0;
  test_expect("meta_int refuses INT_MAX above its range, naming file and key",
              clm_checkpoint_meta_int(p, meta, n, "epoch", 0, INT_MAX - 1, &x), CLM_ERR_PARSE,
              "'epoch'");
  test_true("... and the file", strstr(clm_last_error(), p) != NULL, clm_last_error());
  test_status("meta_int within range", clm_checkpoint_meta_int(p, meta, n, "epoch", 0, INT_MAX, &x));
  test_true("... exact value", x == INT_MAX, NULL);
  test_expect("a missing key", clm_checkpoint_meta_int(p, meta, n, "nope", 0, 1, &x),
              CLM_ERR_NOT_FOUND, "'nope'");
  clm_checkpoint_meta_free(meta);
  const char *reals[][2] = {{"inf", "ok"}, {"1.5e-3", "ok"}, {"-2", "ok"}, {"nan", "bad"},
                            {" 1", "bad"}, {"1e5x", "bad"}, {"", "bad"}, {"abc", "bad"}};
  for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
    clm_checkpoint_meta m = {"best_val_loss", reals[i][0]};
    double d = 0;
    clm_status st = clm_checkpoint_meta_double("x.safetensors", &m, 1, "best_val_loss", -INFINITY,
                                               INFINITY, &d);
    char label[96];
    snprintf(label, sizeof label, "meta_double '%s': %s", reals[i][0], reals[i][1]);
    test_true(label, !strcmp(reals[i][1], "ok") ? st == CLM_OK
                                               : st == CLM_ERR_PARSE &&
                                                     strstr(clm_last_error(), "x.safetensors") &&
                                                     strstr(clm_last_error(), "'best_val_loss'"),
              clm_last_error());
  }
  clm_optim_state_free(&o);
  clm_graph_free(g);
}

/* A header of n zero-size tensors (and n metadata keys when meta), the last entry renamed to
 * the first's when dup. */
static void write_many(const char *path, int n, int meta, int dup) {
  size_t cap = (size_t)n * 80 + 64, k = 0;
  char *j = malloc(cap);
  k += (size_t)snprintf(j + k, cap - k, "{");
  if (meta) {
    k += (size_t)snprintf(j + k, cap - k, "\"__metadata__\":{");
    for (int i = 0; i < n; i++)
      k += (size_t)snprintf(j + k, cap - k, "%s\"key%07d\":\"v\"", i ? "," : "",
                            dup && i == n - 1 ? 0 : i);
    k += (size_t)snprintf(j + k, cap - k, "}%s", n ? "," : "");
  }
  for (int i = 0; i < n; i++)
    k += (size_t)snprintf(j + k, cap - k, "%s\"t%07d\":{\"dtype\":\"F32\",\"shape\":[0],"
                          "\"data_offsets\":[0,0]}", i ? "," : "", dup && !meta && i == n - 1 ? 0 : i);
  snprintf(j + k, cap - k, "}");
  write_with_header(path, j, NULL, 0);
  free(j);
}

static void test_many_entries(void) {
  clm_optim_state o;
  clm_graph *g = make_graph(tiny_text, &o);
  char p[128];
  path_in(p, sizeof p, "many.safetensors");
  const int n = 200000;
  struct { int meta, dup; const char *what; } cases[] = {
      {0, 0, "200,000 distinct tensors"}, {0, 1, "200,000 tensors, the last a duplicate"},
      {1, 1, "200,000 metadata keys, the last a duplicate"}};
  for (int c = 0; c < 3; c++) {
    write_many(p, n, cases[c].meta, cases[c].dup);
    clm_checkpoint_meta *meta = NULL;
    int nm = 0;
    double t0 = seconds();
    clm_status st = clm_checkpoint_read_meta(p, &meta, &nm);
    double t1 = seconds();
    clm_checkpoint_meta_free(meta);
    char label[160];
    snprintf(label, sizeof label, "%s: header %s in %.3f s (bound 5 s)", cases[c].what,
             cases[c].dup ? "refused" : "accepted", t1 - t0);
    int ok = cases[c].dup ? st == CLM_ERR_PARSE && strstr(clm_last_error(), "twice") : st == CLM_OK;
    test_true(label, ok && t1 - t0 < 5.0, clm_last_error());
    t0 = seconds();
    st = clm_checkpoint_load(p, g, &o, NULL, NULL);
    t1 = seconds();
    snprintf(label, sizeof label, "%s: load refused in %.3f s (bound 5 s)", cases[c].what, t1 - t0);
    test_true(label, st != CLM_OK && t1 - t0 < 5.0, clm_last_error());
  }
  unlink(p);
  clm_optim_state_free(&o);
  clm_graph_free(g);
}

static void cleanup(void) {
  DIR *dp = opendir(dir);
  if (!dp) return;
  struct dirent *e;
  char p[512];
  while ((e = readdir(dp)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      unlink(p);
    }
  closedir(dp);
  rmdir(dir);
}

int main(void) {
  ctx = test_context();
  tiny_text = read_file(CLMTL_MODELS "/tiny.cfg", NULL);
  snprintf(dir, sizeof dir, "/tmp/clmtl-ckpt-XXXXXX");
  if (!tiny_text || !mkdtemp(dir)) {
    fprintf(stderr, "cannot read tiny.cfg or create a temporary directory\n");
    return 1;
  }
  info.model_text = tiny_text;
  test_round_trip();
  test_rejections();
  test_atomic();
  test_model_text();
  test_values();
  test_metadata_numbers();
  test_many_entries();
  cleanup();
  free(tiny_text);
  clm_context_free(ctx);
  return test_finish();
}
