/* The CLI's environment variables: the one place clmtl reads them. Each fills a field of the
 * context options (device.h) the sub-commands create their contexts with; the library itself
 * reads none. The variables and what they do are listed in the README and in 'clmtl help'. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

void cli_message(void *user, const char *message) {
  (void)user;
  fprintf(stderr, "clmtl: %s\n", message);
}

const char *cli_device(const char *arg) {
  if (arg && *arg) return arg;
  const char *v = getenv("CLMTL_DEVICE");
  return v && *v ? v : NULL;
}

/* $CLMTL_MEMORY_LIMIT: bytes, or K, M, G (binary) multiples; 0 (no limit) when unset or
 * malformed. */
static uint64_t memory_limit(void) {
  const char *v = getenv("CLMTL_MEMORY_LIMIT");
  if (!v || !*v) return 0;
  char *end;
  unsigned long long x = strtoull(v, &end, 10);
  uint64_t scale = 1;
  if (*end == 'K' || *end == 'k') scale = 1ull << 10;
  else if (*end == 'M' || *end == 'm') scale = 1ull << 20;
  else if (*end == 'G' || *end == 'g') scale = 1ull << 30;
  if (scale > 1) end++;
  if (*end || end == v || x > UINT64_MAX / scale) return 0;
  return (uint64_t)x * scale;
}

/* $CLMTL_CACHE_DIR, else $XDG_CACHE_HOME/clmtl, else ~/.cache/clmtl; NULL (no cache) when none
 * of these is set. */
static const char *cache_dir(void) {
  static char dir[512];
  const char *v = getenv("CLMTL_CACHE_DIR");
  if (v && *v) return v;
  const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  if (xdg && *xdg) snprintf(dir, sizeof dir, "%s/clmtl", xdg);
  else if (home && *home) snprintf(dir, sizeof dir, "%s/.cache/clmtl", home);
  else return NULL;
  return dir;
}

static int is(const char *name, const char *value) {
  const char *v = getenv(name);
  return v && !strcmp(v, value);
}

clm_context_options cli_context_options_from_env(void) {
  clm_context_options o = {0};
  o.device = cli_device(NULL);
  o.cache = is("CLMTL_CACHE", "0") ? CLM_CACHE_OFF : is("CLMTL_CACHE", "1") ? CLM_CACHE_ON : CLM_CACHE_AUTO;
  o.cache_dir = cache_dir();
  o.kernel_dir = getenv("CLMTL_KERNEL_DIR");
  o.ignore_tuning = is("CLMTL_TUNING", "0");
  o.conv_variant = getenv("CLMTL_CONV_VARIANT");
  o.fuse = is("CLMTL_FUSE", "0") ? -1 : 0;
  o.memory_limit = memory_limit();
  o.message = cli_message;
  return o;
}

clm_status cli_context_create(const char *device, clm_context **out) {
  clm_context_options o = cli_context_options_from_env();
  o.device = cli_device(device);
  return clm_context_create_with(&o, out);
}

const char *cli_error(void) {
  static char buf[4400];
  const char *loc = clm_last_error_location();
  if (!is("CLMTL_DEBUG", "1") || !*loc) return clm_last_error();
  snprintf(buf, sizeof buf, "%s [at %s]", clm_last_error(), loc);
  return buf;
}
