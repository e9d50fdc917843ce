/* The per-device tuning file (format and location in include/clmtl/tune.h): reading it for the
 * scheduler and merging new measurements into it for clm_graph_tune.
 *
 * One line per convolution shape and mode:
 *   conv x=8x16x128x256 w=16x16x3x3 y=8x16x128x256 stride=1 pad=1 dil=1 train implicit # ms ...
 *   conv x=8x512x8x16 w=512x512x3x3 y=8x512x8x16 stride=1 pad=1 dil=1 train implicit,implicit,tiled
 * seven key fields, the mode (train: forward + both backward passes; infer: forward only), the
 * variant's name, or three names for forward, backward data and backward weight, and an
 * optional comment. '#' lines are comments. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "clmtl/util.h"
#include "graph/graph-impl.h"

#define KEY_FIELDS 7

clm_status clm_tuning_file(const clm_context *ctx, char *buf, size_t size) {
  if (!ctx->cache_dir[0])
    CLM_FAIL(CLM_ERR_NOT_FOUND, "no cache directory for the tuning file: the context's "
             "cache_dir option is empty (in the CLI: set CLMTL_CACHE_DIR or HOME)");
  const clm_device_info *d = &ctx->info;
  uint64_t h = CLM_FNV1A64_INIT;
  const char *fields[] = {"clmtl-tuning-1", d->platform, d->name, d->vendor, d->version, d->driver};
  for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) h = clm_fnv1a64(h, fields[i], strlen(fields[i]) + 1); /* the NUL too */
  snprintf(buf, size, "%s/tuning-%016llx.txt", ctx->cache_dir, (unsigned long long)h);
  return CLM_OK;
}

void clm_conv_shape_key(const clm_graph *g, const clm_node *nd, char *buf, size_t size) {
  const clm_node *x = &g->nodes[nd->in[0]];
  const clm_param_slot *w = &nd->params[0];
  const clm_layer *l = &g->layers[nd->layer];
  snprintf(buf, size, "%s x=%dx%dx%dx%d w=%dx%dx%dx%d y=%dx%dx%dx%d stride=%d pad=%d dil=%d",
           nd->op == CLM_LAYER_DECONV ? "deconv" : "conv", x->n, x->c, x->h, x->w, w->n, w->c,
           w->h, w->w, nd->n, nd->c, nd->h, nd->w, l->stride, clm_layer_pad(l), l->dilation);
}

static int variant_by_name(const char *name, size_t len) {
  for (int v = 0; v < CLM_CONV_VARIANT_COUNT; v++) {
    const char *n = clm_conv_variant_name((clm_conv_variant)v);
    if (strlen(n) == len && !strncmp(name, n, len)) return v;
  }
  return -1;
}

/* "name" (every pass) or "fwd,data,weight" into v; 0 when it is neither. */
static int parse_variants(const char *s, int v[CLM_CONV_PASSES]) {
  const char *c1 = strchr(s, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
  if (!c1) {
    int one = variant_by_name(s, strlen(s));
    for (int p = 0; p < CLM_CONV_PASSES; p++) v[p] = one;
    return one >= 0;
  }
  if (!c2 || strchr(c2 + 1, ',')) return 0;
  v[0] = variant_by_name(s, (size_t)(c1 - s));
  v[1] = variant_by_name(c1 + 1, (size_t)(c2 - c1 - 1));
  v[2] = variant_by_name(c2 + 1, strlen(c2 + 1));
  return v[0] >= 0 && v[1] >= 0 && v[2] >= 0;
}

/* Splits a line into whitespace-separated tokens up to a '#'; returns the count. */
static int tokenize(char *line, char **tok, int max) {
  char *hash = strchr(line, '#');
  if (hash) *hash = 0;
  int n = 0;
  for (char *t = strtok(line, " \t\r\n"); t && n < max; t = strtok(NULL, " \t\r\n")) tok[n++] = t;
  return n;
}

static void join_key(char **tok, char *key, size_t size) {
  key[0] = 0;
  for (int i = 0; i < KEY_FIELDS; i++) {
    size_t len = strlen(key);
    snprintf(key + len, size - len, "%s%s", i ? " " : "", tok[i]);
  }
}

int clm_tuning_lookup(const char *path, const char *key, int training, const clm_context *warn,
                      int out[CLM_CONV_PASSES]) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[1024], k[512];
  int found = 0, lineno = 0;
  const char *mode = training ? "train" : "infer";
  while (fgets(line, sizeof line, f)) {
    lineno++;
    char *tok[KEY_FIELDS + 3];
    int n = tokenize(line, tok, KEY_FIELDS + 3);
    if (n == 0) continue;
    int v[CLM_CONV_PASSES];
    int ok = n == KEY_FIELDS + 2 && parse_variants(tok[KEY_FIELDS + 1], v);
    if (!ok || (strcmp(tok[KEY_FIELDS], "train") && strcmp(tok[KEY_FIELDS], "infer"))) {
      clm_context_message(warn, "%s:%d: not a tuning entry (op x= w= y= stride= pad= dil= "
                          "train|infer variant[,variant,variant]), ignored", path, lineno);
      continue;
    }
    join_key(tok, k, sizeof k);
    if (!strcmp(k, key) && !strcmp(tok[KEY_FIELDS], mode)) { /* the last entry wins */
      found = 1;
      memcpy(out, v, sizeof v);
    }
  }
  fclose(f);
  return found;
}

clm_status clm_tuning_merge(const clm_context *ctx, const clm_tuning_entry *e, int count) {
  char path[600], tmp[640];
  CLM_TRY(clm_tuning_file(ctx, path, sizeof path));
  CLM_TRY(clm_mkdir_p(ctx->cache_dir, 0755));
  snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
  FILE *out = fopen(tmp, "w");
  if (!out) CLM_FAIL(CLM_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
  const clm_device_info *d = &ctx->info;
  fprintf(out, "# clmtl tuning file for %s | %s | %s | %s | driver %s\n"
          "# op x w y stride pad dilation mode(train|infer) variant[,variant,variant] (forward,"
          " backward data, backward weight) # median ms\n",
          d->platform, d->name, d->vendor, d->version, d->driver);
  /* keep the old entries that were not measured again */
  FILE *in = fopen(path, "r");
  if (in) {
    char line[1024], copy[1024], key[512];
    while (fgets(line, sizeof line, in)) {
      if (line[0] == '#') continue;
      snprintf(copy, sizeof copy, "%s", line);
      char *tok[KEY_FIELDS + 3];
      if (tokenize(copy, tok, KEY_FIELDS + 3) != KEY_FIELDS + 2) continue;
      join_key(tok, key, sizeof key);
      int again = 0;
      for (int i = 0; i < count && !again; i++)
        again = !strcmp(e[i].key, key) && !strcmp(e[i].mode, tok[KEY_FIELDS]);
      if (!again) fputs(line, out);
    }
    fclose(in);
  }
  for (int i = 0; i < count; i++) {
    const int *v = e[i].variant;
    char names[64];
    if (!strcmp(e[i].mode, "infer") || (v[0] == v[1] && v[0] == v[2]))
      snprintf(names, sizeof names, "%s", clm_conv_variant_name((clm_conv_variant)v[0]));
    else
      snprintf(names, sizeof names, "%s,%s,%s", clm_conv_variant_name((clm_conv_variant)v[0]),
               clm_conv_variant_name((clm_conv_variant)v[1]),
               clm_conv_variant_name((clm_conv_variant)v[2]));
    fprintf(out, "%s %s %s # %s\n", e[i].key, e[i].mode, names, e[i].comment);
  }
  int bad = ferror(out);
  bad |= fflush(out) != 0 || fsync(fileno(out)) != 0;
  bad |= fclose(out) != 0;
  if (bad || rename(tmp, path)) {
    int err = errno;
    remove(tmp);
    CLM_FAIL(CLM_ERR_IO, "cannot write the tuning file %s: %s", path, strerror(err));
  }
  return CLM_OK;
}
