/* The shared host utilities of clmtl/util.h against independent references: FNV-1a 64 and
 * splitmix64 against the published test values (the FNV reference page's vectors; Vigna's
 * splitmix64.c from state 0, the same numbers Python's big integers give), the monotonic clock
 * against CLOCK_MONOTONIC read directly, and mkdir -p against stat(2): nested directories
 * made, an existing one accepted, a path through a regular file and an empty name refused
 * with a message naming them. Needs no device. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "clmtl/util.h"
#include "test_util.h"

static void test_fnv(void) {
  static const struct { const char *text; uint64_t want; } v[] = {
      {"", 0xcbf29ce484222325ull}, {"a", 0xaf63dc4c8601ec8cull}, {"foobar", 0x85944171f73967e8ull}};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char name[80], detail[80];
    uint64_t got = clm_fnv1a64(CLM_FNV1A64_INIT, v[i].text, strlen(v[i].text));
    snprintf(name, sizeof name, "FNV-1a 64 of \"%s\"", v[i].text);
    snprintf(detail, sizeof detail, "got %016llx", (unsigned long long)got);
    test_true(name, got == v[i].want, detail);
  }
  /* continuing from a hash is hashing the concatenation */
  uint64_t h = clm_fnv1a64(clm_fnv1a64(CLM_FNV1A64_INIT, "foo", 3), "bar", 3);
  test_true("FNV-1a 64 continues across calls", h == 0x85944171f73967e8ull, NULL);
}

static void test_splitmix(void) {
  static const uint64_t want[3] = {0xe220a8397b1dcdafull, 0x6e789e6aa1b965f4ull,
                                   0x06c45d188009454full};
  uint64_t s = 0;
  int ok = 1;
  for (int i = 0; i < 3; i++) ok &= clm_splitmix64(&s) == want[i];
  test_true("splitmix64 from state 0: the reference's first three values", ok, NULL);
  test_true("splitmix64 advances its state by the gamma", s == 3 * CLM_SPLITMIX64_GAMMA, NULL);
  test_true("splitmix64's finaliser of 0 is 0 (a bijection fixing 0)", clm_splitmix64_mix(0) == 0,
            NULL);
}

static void test_clock(void) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  double t = clm_time_seconds();
  usleep(20000);
  double u = clm_time_seconds();
  clock_gettime(CLOCK_MONOTONIC, &b);
  double lo = (double)a.tv_sec + a.tv_nsec * 1e-9, hi = (double)b.tv_sec + b.tv_nsec * 1e-9;
  char detail[120];
  snprintf(detail, sizeof detail, "%.6f %.6f within [%.6f, %.6f]", t, u, lo, hi);
  test_true("clm_time_seconds reads CLOCK_MONOTONIC", lo <= t && t <= u && u <= hi, detail);
  test_true("a 20 ms sleep measures at least 20 ms", u - t >= 0.020, detail);
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_mkdir(void) {
  char base[] = "/tmp/clmtl-test-mkdir-XXXXXX", deep[256], file[256], through[256];
  if (!mkdtemp(base)) {
    test_true("mkdtemp", 0, base);
    return;
  }
  snprintf(deep, sizeof deep, "%s/a//b/c/", base);
  test_status("mkdir -p a//b/c/", clm_mkdir_p(deep, 0755));
  snprintf(deep, sizeof deep, "%s/a/b/c", base);
  test_true("every component exists as a directory", is_dir(deep), deep);
  test_status("mkdir -p of an existing directory", clm_mkdir_p(deep, 0755));
  snprintf(file, sizeof file, "%s/f", base);
  FILE *f = fopen(file, "w");
  if (f) fclose(f);
  snprintf(through, sizeof through, "%s/f/x", base);
  test_expect("a path through a regular file", clm_mkdir_p(through, 0755), CLM_ERR_IO, "/f");
  test_expect("a regular file where the directory should be", clm_mkdir_p(file, 0755), CLM_ERR_IO,
              "not a directory");
  test_expect("an empty name", clm_mkdir_p("", 0755), CLM_ERR_INVALID_ARG, "empty");
  unlink(file);
  rmdir(deep);
  snprintf(deep, sizeof deep, "%s/a/b", base);
  rmdir(deep);
  snprintf(deep, sizeof deep, "%s/a", base);
  rmdir(deep);
  rmdir(base);
}

int main(void) {
  test_fnv();
  test_splitmix();
  test_clock();
  test_mkdir();
  return test_finish();
}
