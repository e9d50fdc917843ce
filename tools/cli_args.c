/* Command-line options, one style for every sub-command (cli.h): a table of cli_opt parsed by
 * cli_args_parse, which handles --help, names an unknown option and a missing or malformed
 * value, and collects the positional arguments; and the batch size and input resolution,
 * checked the same way everywhere within the bounds clmtl supports. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* A decimal integer in [lo, hi] that fills all of s (up to `stop`, a character or '\0'); int_in
 * the same into an int. */
static int long_in(const char *s, char stop, long lo, long hi, long *out, const char **rest) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || *end != stop || errno || v < lo || v > hi || s[0] == ' ' || s[0] == '+') return 0;
  *out = v;
  if (rest) *rest = end + (stop ? 1 : 0);
  return 1;
}

static int int_in(const char *s, char stop, long lo, long hi, int *out, const char **rest) {
  long v;
  if (!long_in(s, stop, lo, hi, &v, rest)) return 0;
  *out = (int)v;
  return 1;
}

/* A finite number that fills all of s. */
static int finite_in(const char *s, double *out) {
  char *end;
  errno = 0;
  *out = strtod(s, &end);
  return end != s && !*end && !errno && isfinite(*out);
}

int cli_parse_batch(const char *cmd, const char *opt, const char *val, int *batch) {
  if (val && int_in(val, '\0', 1, CLI_BATCH_MAX, batch, NULL)) return 0;
  fprintf(stderr, "clmtl %s: %s %s: needs an integer in [1, %d]\n", cmd, opt, val ? val : "(missing)",
          CLI_BATCH_MAX);
  return 2;
}

int cli_parse_size(const char *cmd, const char *opt, const char *val, int *height, int *width) {
  const char *rest;
  int h, w;
  if (val && int_in(val, 'x', CLI_SIDE_MIN, CLI_SIDE_MAX, &h, &rest) &&
      int_in(rest, '\0', CLI_SIDE_MIN, CLI_SIDE_MAX, &w, NULL)) {
    *height = h;
    *width = w;
    return 0;
  }
  fprintf(stderr, "clmtl %s: %s %s: wants HxW with H and W in [%d, %d], e.g. 128x256\n", cmd, opt,
          val ? val : "(missing)", CLI_SIDE_MIN, CLI_SIDE_MAX);
  return 2;
}

/* One option's value into its destination; 0, or 2 with the message printed. */
static int take_value(const char *cmd, const cli_opt *o, const char *val) {
  switch (o->kind) {
  case CLI_STRING:
    *(const char **)o->out = val;
    return 0;
  case CLI_BATCH:
    return cli_parse_batch(cmd, o->name, val, (int *)o->out);
  case CLI_SIZE:
    return cli_parse_size(cmd, o->name, val, (int *)o->out, o->out2);
  case CLI_INT:
  case CLI_LONG: {
    long v;
    if (long_in(val, '\0', o->lo, o->hi, &v, NULL)) {
      if (o->kind == CLI_INT) *(int *)o->out = (int)v;
      else *(long *)o->out = v;
      return 0;
    }
    fprintf(stderr, "clmtl %s: %s %s: needs an integer in [%ld, %ld]\n", cmd, o->name, val, o->lo,
            o->hi);
    return 2;
  }
  case CLI_FLOAT: {
    double v;
    if (finite_in(val, &v) && v > 0) {
      *(float *)o->out = (float)v;
      return 0;
    }
    fprintf(stderr, "clmtl %s: %s %s: needs a positive number\n", cmd, o->name, val);
    return 2;
  }
  case CLI_REAL: {
    double v;
    if (finite_in(val, &v) && v >= o->flo && v <= o->fhi) {
      *(float *)o->out = (float)v;
      return 0;
    }
    fprintf(stderr, "clmtl %s: %s %s: needs a number in [%g, %g]\n", cmd, o->name, val, o->flo, o->fhi);
    return 2;
  }
  case CLI_CALL:
    return o->call(o->out, o->name, val);
  case CLI_CHOICE:
    for (int k = 0; o->choices[k]; k++)
      if (!strcmp(val, o->choices[k])) {
        *(int *)o->out = k;
        return 0;
      }
    fprintf(stderr, "clmtl %s: %s %s: wants one of", cmd, o->name, val);
    for (int k = 0; o->choices[k]; k++) fprintf(stderr, "%s %s", k ? "," : "", o->choices[k]);
    fprintf(stderr, "\n");
    return 2;
  case CLI_FLAG:
    break;
  }
  return 0;
}

int cli_args_parse(const char *cmd, const char *usage, const cli_opt *opts, int argc, char **argv,
                   const char **pos, int maxpos, int *npos) {
  *npos = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage, stdout);
      return -1;
    }
    if (a[0] != '-' || !a[1]) { /* positional; a lone "-" included */
      if (*npos == maxpos) {
        fprintf(stderr, "clmtl %s: unexpected argument '%s'\n%s", cmd, a, usage);
        return 2;
      }
      pos[(*npos)++] = a;
      continue;
    }
    const cli_opt *o = opts;
    while (o->name && strcmp(o->name, a)) o++;
    if (!o->name) {
      fprintf(stderr, "clmtl %s: unknown option '%s'\n%s", cmd, a, usage);
      return 2;
    }
    if (o->kind == CLI_FLAG) {
      *(int *)o->out = 1;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "clmtl %s: %s needs a value\n", cmd, a);
      return 2;
    }
    int rc = take_value(cmd, o, argv[++i]);
    if (rc) return rc;
  }
  return 0;
}
