/* Model files: INI as Python's configparser reads it with inline_comment_prefixes = (';', '#')
 * from a file opened with encoding utf-8-sig (tools/clmtl_cfg.py reads the same files the same
 * way). One section per named layer, `key = value` (or `key: value`) lines, full-line comments
 * and inline comments after white space with # or ;, an optional UTF-8 byte-order mark.
 * Sections named task.<name> are losses. What configparser would read differently from clmtl
 * (a value continued on an indented line, non-ASCII white space) is refused. Every error names
 * the file, the line and, where there is one, the key. Which keys each layer type takes is the
 * op table's (ops_table.c); each key's field and range, op_keys.c's. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/checkpoint.h"
#include "graph/op-def.h"
#include "runtime/file-impl.h"

#define MAX_KEYS 48

typedef struct {
  char key[32];
  char value[1024];
  int line;
} kv;

typedef struct {
  const char *file;
  char section[CLM_NAME_MAX];
  int line; /* of the section header */
  kv keys[MAX_KEYS];
  int nkeys;
} section;

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
  return s;
}

static clm_status parse_from(const section *s, const kv *k, clm_layer *l) {
  char buf[sizeof k->value];
  snprintf(buf, sizeof buf, "%s", k->value);
  l->nfrom = 0;
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    char *name = trim(tok);
    if (!*name || strlen(name) >= CLM_NAME_MAX)
      CLM_FAIL(CLM_ERR_PARSE, "%s:%d: layer '%s': bad name in 'from = %s'", s->file, k->line,
               s->section, k->value);
    if (l->nfrom == CLM_MAX_INPUTS)
      CLM_FAIL(CLM_ERR_PARSE, "%s:%d: layer '%s': more than %d inputs in 'from'", s->file, k->line,
               s->section, CLM_MAX_INPUTS);
    snprintf(l->from[l->nfrom++], CLM_NAME_MAX, "%s", name);
  }
  if (l->nfrom == 0)
    CLM_FAIL(CLM_ERR_PARSE, "%s:%d: layer '%s': 'from' is empty", s->file, k->line, s->section);
  return CLM_OK;
}

/* Whether layers of type t accept `key` (besides `type`): the op table's keys, and 'from'
 * for every op that takes inputs. */
static int key_allowed(clm_layer_type t, const char *key) {
  const clm_op_def *op = clm_op(t);
  if (!strcmp(key, "from")) return op->arity != 0;
  for (int i = 0; op->keys[i]; i++) if (!strcmp(op->keys[i], key)) return clm_key_find(key) != NULL;
  return 0;
}

static clm_status parse_type(const section *s, clm_layer_type *out) {
  const kv *k = NULL;
  for (int i = 0; i < s->nkeys; i++) if (!strcmp(s->keys[i].key, "type")) k = &s->keys[i];
  if (!k) CLM_FAIL(CLM_ERR_PARSE, "%s:%d: layer '%s' has no 'type'", s->file, s->line, s->section);
  int is_task = !strncmp(s->section, "task.", 5);
  for (int t = 0; t < CLM_LAYER_TYPE_COUNT; t++)
    if (!strcmp(k->value, clm_layer_type_name((clm_layer_type)t))) {
      int loss = clm_op((clm_layer_type)t)->is_loss;
      if (is_task && !loss)
        CLM_FAIL(CLM_ERR_PARSE, "%s:%d: task section '%s' needs a loss type (softmax_xent, l1, l2, laplace_nll, gaussian_nll, logit_noise_xent), not '%s'",
                 s->file, k->line, s->section, k->value);
      if (!is_task && loss)
        CLM_FAIL(CLM_ERR_PARSE, "%s:%d: loss '%s' must be in a [task.<name>] section", s->file,
                 k->line, k->value);
      *out = (clm_layer_type)t;
      return CLM_OK;
    }
  char list[512] = "";
  for (int t = 0; t < CLM_LAYER_TYPE_COUNT; t++) {
    strcat(list, t ? ", " : "");
    strcat(list, clm_layer_type_name((clm_layer_type)t));
  }
  CLM_FAIL(CLM_ERR_PARSE, "%s:%d: layer '%s': unknown type '%s' (valid: %s)", s->file, k->line,
           s->section, k->value, list);
}

static clm_status section_to_layer(const section *s, clm_layer *l) {
  clm_layer_type type;
  CLM_TRY(parse_type(s, &type));
  clm_layer_defaults(l, type, s->section);
  snprintf(l->file, sizeof l->file, "%s", s->file);
  l->line = s->line;
  for (int i = 0; i < s->nkeys; i++) {
    const kv *k = &s->keys[i];
    const char *key = k->key;
    if (!strcmp(key, "type")) continue;
    if (!key_allowed(type, key))
      CLM_FAIL(CLM_ERR_PARSE, "%s:%d: layer '%s': unknown key '%s' for a %s layer", s->file,
               k->line, s->section, key, clm_layer_type_name(type));
    if (!strcmp(key, "from")) CLM_TRY(parse_from(s, k, l));
    else CLM_TRY(clm_key_parse(clm_key_find(key), k->value, s->file, k->line, s->section, l));
  }
  if (type != CLM_LAYER_INPUT && l->nfrom == 0)
    CLM_FAIL(CLM_ERR_PARSE, "%s:%d: layer '%s' (%s) has no 'from'", s->file, s->line, s->section,
             clm_layer_type_name(type));
  if (type == CLM_LAYER_INPUT && l->channels == 0)
    CLM_FAIL(CLM_ERR_PARSE, "%s:%d: input '%s' needs 'channels'", s->file, s->line, s->section);
  return CLM_OK;
}

static clm_status flush_section(clm_graph *g, section *s) {
  if (!s->section[0]) return CLM_OK;
  clm_layer l;
  CLM_TRY(section_to_layer(s, &l));
  CLM_TRY(clm_graph_add(g, &l));
  s->section[0] = '\0';
  s->nkeys = 0;
  return CLM_OK;
}

/* Length of the UTF-8 sequence at p (0: not valid UTF-8), and whether it is white space to
 * Python (str.isspace beyond ASCII: U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029,
 * U+202F, U+205F, U+3000), which configparser would strip and clmtl would not. */
static int utf8_char(const unsigned char *p, int *space) {
  *space = 0;
  if (p[0] < 0x80) return 1;
  int n = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 && p[0] < 0xe0 ? 2 : 0;
  if (p[0] >= 0xf5) n = 0;
  for (int i = 1; i < n; i++) if ((p[i] & 0xc0) != 0x80) return 0;
  if (n == 0) return 0;
  unsigned cp = n == 2 ? (p[0] & 0x1fu) : n == 3 ? (p[0] & 0x0fu) : (p[0] & 0x07u);
  for (int i = 1; i < n; i++) cp = cp << 6 | (p[i] & 0x3fu);
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0; /* overlong or surrogate */
  *space = cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
  return n;
}

/* Where configparser (inline_comment_prefixes = ';', '#') cuts an inline comment: it looks at
 * the 1st occurrence of each prefix, then the 2nd of each, ..., and stops at the first round in
 * which some occurrence is at the start of the line or follows white space; the comment starts
 * at the earliest such occurrence of that round. Returns the cut, or len when there is none. */
static size_t inline_comment(const char *line, size_t len) {
  static const char prefixes[2] = {';', '#'};
  long at[2] = {-1, -1};
  int alive[2] = {1, 1};
  while (alive[0] || alive[1]) {
    size_t cut = len;
    for (int k = 0; k < 2; k++) {
      if (!alive[k]) continue;
      const char *hit = memchr(line + at[k] + 1, prefixes[k], len - (size_t)(at[k] + 1));
      if (!hit) { alive[k] = 0; continue; }
      at[k] = hit - line;
      if (at[k] == 0 || isspace((unsigned char)line[at[k] - 1])) if ((size_t)at[k] < cut) cut = (size_t)at[k];
    }
    if (cut < len) return cut;
  }
  return len;
}

clm_status clm_graph_parse(clm_graph *g, const char *text, const char *filename) {
  if (!filename) filename = "(model text)";
  section *s = calloc(1, sizeof *s);
  if (!s) CLM_FAIL(CLM_ERR_HOST_MEMORY, "%s: out of host memory", filename);
  s->file = filename;
  clm_status st = CLM_OK;
  int lineno = 0;
  const char *p = text;
  if (!strncmp(p, "\xef\xbb\xbf", 3)) p += 3; /* a UTF-8 byte-order mark, as utf-8-sig reads it */
  char line[1024];
  /* continuation lines as configparser sees them: deeper indented than the key line before,
   * with no blank or comment line between */
  int have_key = 0, indent_level = INT_MAX;
  while (*p && st == CLM_OK) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    lineno++;
    if (len >= sizeof line) {
      st = CLM_ERROR(CLM_ERR_PARSE, "%s:%d: line longer than %zu characters", filename, lineno, sizeof line - 1);
      break;
    }
    memcpy(line, p, len);
    line[len] = '\0';
    p = nl ? nl + 1 : p + len;
    for (size_t i = 0; i < len && st == CLM_OK;) {
      int space, n = utf8_char((const unsigned char *)line + i, &space);
      if (n == 1 && (unsigned char)line[i] < 32 && line[i] != '\t' && line[i] != '\r')
        st = CLM_ERROR(CLM_ERR_PARSE, "%s:%d: control character in the file (is it a model file?)", filename, lineno);
      else if (n == 0 || i + (size_t)n > len)
        st = CLM_ERROR(CLM_ERR_PARSE, "%s:%d: not UTF-8 text (byte 0x%02x at column %zu)", filename,
                       lineno, (unsigned char)line[i], i + 1);
      else if (space)
        st = CLM_ERROR(CLM_ERR_PARSE, "%s:%d: non-ASCII white space at column %zu (use spaces or tabs)",
                       filename, lineno, i + 1);
      i += n ? (size_t)n : 1;
    }
    if (st != CLM_OK) break;
    int indent = 0;
    while (isspace((unsigned char)line[indent])) indent++;
    line[inline_comment(line, len)] = '\0';
    char *t = trim(line);
    if (!*t || *t == '#' || *t == ';') { indent_level = INT_MAX; continue; }
    if (have_key && indent > indent_level) {
      st = CLM_ERROR(CLM_ERR_PARSE, "%s:%d: layer '%s': indented line continues the value of '%s' "
                     "(one line per value; unindent it)", filename, lineno, s->section,
                     s->nkeys ? s->keys[s->nkeys - 1].key : "?");
      break;
    }
    indent_level = indent;
    if (*t == '[') {
      char *close = strchr(t, ']');
      if (!close || close[1]) {
        st = CLM_ERROR(CLM_ERR_PARSE, "%s:%d: malformed section header '%s'", filename, lineno, t);
        break;
      }
      *close = '\0';
      char *name = trim(t + 1);
      if (!*name || strlen(name) >= CLM_NAME_MAX || strchr(name, ',')) {
        st = CLM_ERROR(CLM_ERR_PARSE, "%s:%d: bad layer name '[%s]' (1 to %d characters, no commas)",
                       filename, lineno, name, CLM_NAME_MAX - 1);
        break;
      }
      if ((st = flush_section(g, s)) != CLM_OK) break;
      snprintf(s->section, sizeof s->section, "%s", name);
      s->line = lineno;
      have_key = 0;
      continue;
    }
    char *eq = strpbrk(t, "=:");
    if (!eq) {
      st = CLM_ERROR(CLM_ERR_PARSE, "%s:%d: expected 'key = value', got '%s'", filename, lineno, t);
      break;
    }
    if (!s->section[0]) {
      st = CLM_ERROR(CLM_ERR_PARSE, "%s:%d: key outside any [layer] section", filename, lineno);
      break;
    }
    *eq = '\0';
    char *key = trim(t), *value = trim(eq + 1);
    for (char *c = key; *c; c++) *c = (char)tolower((unsigned char)*c);
    if (!*key || strlen(key) >= sizeof s->keys[0].key || strlen(value) >= sizeof s->keys[0].value) {
      st = CLM_ERROR(CLM_ERR_PARSE, "%s:%d: bad key or value too long", filename, lineno);
      break;
    }
    for (int i = 0; i < s->nkeys && st == CLM_OK; i++)
      if (!strcmp(s->keys[i].key, key))
        st = CLM_ERROR(CLM_ERR_PARSE, "%s:%d: layer '%s': key '%s' given twice (first on line %d)",
                       filename, lineno, s->section, key, s->keys[i].line);
    if (st != CLM_OK) break;
    if (s->nkeys == MAX_KEYS) {
      st = CLM_ERROR(CLM_ERR_PARSE, "%s:%d: layer '%s' has too many keys", filename, lineno, s->section);
      break;
    }
    kv *k = &s->keys[s->nkeys++];
    snprintf(k->key, sizeof k->key, "%s", key);
    snprintf(k->value, sizeof k->value, "%s", value);
    k->line = lineno;
    have_key = 1;
  }
  if (st == CLM_OK) st = flush_section(g, s);
  free(s);
  if (st == CLM_OK && g->nlayers == 0)
    st = CLM_ERROR(CLM_ERR_PARSE, "%s: no layers (an empty model file?)", filename);
  if (st == CLM_OK) st = clm_graph_set_source(g, filename, text);
  return st;
}

clm_status clm_graph_load(clm_graph *g, const char *path) {
  char *text;
  size_t len;
  CLM_TRY(clm_file_read_all(path, "model file", CLM_MODEL_FILE_MAX, &text, &len));
  if (clm_file_sniff(text, len) == CLM_FILE_SAFETENSORS) {
    free(text);
    CLM_FAIL(CLM_ERR_PARSE, "%s: expected a model file (text with [sections]), found %s; a "
             "checkpoint goes to --model of eval and infer, or train --resume DIR", path,
             clm_file_kind_name(CLM_FILE_SAFETENSORS));
  }
  if (strlen(text) != len) {
    free(text);
    CLM_FAIL(CLM_ERR_PARSE, "%s: contains NUL bytes; not a model file", path);
  }
  clm_status st = clm_graph_parse(g, text, path);
  free(text);
  return st;
}
