/* Option values every sub-command that builds a graph checks the same way (train, model):
 * the batch size and the input resolution, within the bounds clmtl supports. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"

/* A decimal integer in [lo, hi] that fills all of s (up to `stop`, a character or '\0'). */
static int int_in(const char *s, char stop, long lo, long hi, int *out, const char **rest) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || *end != stop || errno || v < lo || v > hi || s[0] == ' ' || s[0] == '+') return 0;
  *out = (int)v;
  if (rest) *rest = end + (stop ? 1 : 0);
  return 1;
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
