/* Error reporting and file sniffing, without a device: clm_last_error() is the user's message
 * (no "file.c:NN: " of clmtl's own source in it) and clm_last_error_location() holds that
 * source line, chained "outer < inner" when a caller wraps the message; CLM_ERR_INTERRUPTED
 * has its name; clm_file_sniff tells a safetensors checkpoint from a model file (comments,
 * blank lines and a UTF-8 BOM before the first section) and from anything else, and the
 * loaders name both kinds when given the other. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/checkpoint.h"
#include "clmtl/graph.h"
#include "clmtl/mtl.h"
#include "runtime/runtime-impl.h"
#include "test_util.h"

/* "name.c:123": lowercase letters, digits, '_' or '-', ".c:", digits, nothing else. */
static int is_location(const char *s, size_t n) {
  const char *c = memchr(s, ':', n);
  if (!c || c - s < 3 || strncmp(c - 2, ".c", 2)) return 0;
  for (const char *p = s; p < c - 2; p++)
    if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_' && *p != '-') return 0;
  if (c + 1 == s + n) return 0;
  for (const char *p = c + 1; p < s + n; p++)
    if (!isdigit((unsigned char)*p)) return 0;
  return 1;
}

static clm_status inner(void) { CLM_FAIL(CLM_ERR_PARSE, "models/x.cfg:3: bad value '%s'", "q"); }

static clm_status outer(void) {
  char prev[256];
  clm_status st = inner();
  snprintf(prev, sizeof prev, "%s", clm_last_error());
  return CLM_ERROR(st, "while loading: %s", prev);
}

int main(void) {
  clm_mtl_strategy s;
  clm_status st = clm_mtl_strategy_parse("nonsense", &s);
  const char *msg = clm_last_error(), *loc = clm_last_error_location();
  test_true("a failed call's message names the value", st != CLM_OK && strstr(msg, "nonsense"), msg);
  test_true("... and carries no clmtl source location", !strstr(msg, ".c:"), msg);
  test_true("the location is apart: 'file.c:line'", is_location(loc, strlen(loc)), loc);
  st = outer();
  loc = clm_last_error_location();
  const char *lt = strstr(loc, " < ");
  test_true("a wrapped message keeps the user's text", st == CLM_ERR_PARSE &&
            !strcmp(clm_last_error(), "while loading: models/x.cfg:3: bad value 'q'"), clm_last_error());
  test_true("... and chains the locations 'outer.c:N < inner.c:M'",
            lt && is_location(loc, (size_t)(lt - loc)) && is_location(lt + 3, strlen(lt + 3)) &&
            strncmp(loc, lt + 3, (size_t)(lt - loc)), loc);
  clm_clear_error();
  test_true("clm_clear_error empties both", !*clm_last_error() && !*clm_last_error_location(), NULL);
  test_true("CLM_ERR_INTERRUPTED has its name", !strcmp(clm_status_name(CLM_ERR_INTERRUPTED), "CLM_ERR_INTERRUPTED"), NULL);

  /* sniffing */
  unsigned char st_head[16] = {14, 0, 0, 0, 0, 0, 0, 0, '{', '"', '_', '_', 'm', 'e', 't', 'a'};
  const char *cases[][2] = {
      {"[input]\nchannels = 3\n", "model"},
      {"# a comment\n; another\n\n  [input]\n", "model"},
      {"\xef\xbb\xbf[input]\n", "model"},
      {"channels = 3\n[input]\n", "unknown"},
      {"", "unknown"},
      {"{\"a\": 1}", "unknown"},
  };
  test_true("safetensors bytes are a checkpoint", clm_file_sniff(st_head, sizeof st_head) == CLM_FILE_SAFETENSORS, NULL);
  test_true("8 bytes alone are not", clm_file_sniff(st_head, 8) == CLM_FILE_UNKNOWN, NULL);
  unsigned char zero_len[9] = {0, 0, 0, 0, 0, 0, 0, 0, '{'};
  test_true("a zero header length is not", clm_file_sniff(zero_len, 9) == CLM_FILE_UNKNOWN, NULL);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    clm_file_kind want = !strcmp(cases[i][1], "model") ? CLM_FILE_MODEL_TEXT : CLM_FILE_UNKNOWN;
    char label[160];
    snprintf(label, sizeof label, "sniff %.40s... -> %s", cases[i][0], cases[i][1]);
    for (char *p = label; *p; p++) if (*p == '\n') *p = ' ';
    test_true(label, clm_file_sniff(cases[i][0], strlen(cases[i][0])) == want, NULL);
  }
  char model_with_nul[] = "[input]\0x";
  test_true("text with a NUL byte is not a model file", clm_file_sniff(model_with_nul, sizeof model_with_nul) == CLM_FILE_UNKNOWN, NULL);

  /* the loaders: a checkpoint as model file, a model file as checkpoint */
  char dirt[] = "/tmp/clmtl-errors-XXXXXX";
  if (!mkdtemp(dirt)) return 1;
  char ck[96], cfg[96];
  snprintf(ck, sizeof ck, "%s/x.safetensors", dirt);
  snprintf(cfg, sizeof cfg, "%s/x.cfg", dirt);
  FILE *f = fopen(ck, "wb");
  fwrite(st_head, 1, 8, f);
  fputs("{\"__metadata__\":{}}", f);
  fclose(f);
  f = fopen(cfg, "w");
  fputs("# a model\n[input]\nchannels = 3\n", f);
  fclose(f);
  clm_graph *g = NULL;
  st = clm_graph_create(NULL, &g);
  if (st == CLM_OK) st = clm_graph_load(g, ck);
  test_true("clm_graph_load of a checkpoint: expected a model file, found a checkpoint",
            st == CLM_ERR_PARSE && strstr(clm_last_error(), ck) &&
            strstr(clm_last_error(), "expected a model file (text with [sections]), found a safetensors checkpoint"),
            clm_last_error());
  clm_graph_free(g);
  clm_checkpoint_meta *meta = NULL;
  int n = 0;
  st = clm_checkpoint_read_meta(cfg, &meta, &n);
  test_true("clm_checkpoint_read_meta of a model file: expected a checkpoint, found a model file",
            st != CLM_OK && strstr(clm_last_error(), cfg) &&
            strstr(clm_last_error(), "expected a checkpoint (.safetensors), found a model file"), clm_last_error());
  clm_checkpoint_meta_free(meta);
  remove(ck);
  remove(cfg);
  remove(dirt);
  return test_finish();
}
