/* Replays fuzz inputs without libFuzzer: feeds every file named on the command line, and every
 * file under every directory named (recursively, in sorted order), to the target's
 * LLVMFuzzerTestOneInput. The regular test run replays each target's seeds and regressions
 * with it (tests/fuzz/CMakeLists.txt), so a crash once found stays fixed. Fails when a path
 * cannot be read or holds no input at all; a bug in the target aborts. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "fuzz.h"

static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); return -1; }
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      uint8_t *nb = realloc(buf, cap *= 2);
      if (!nb) { free(buf); buf = NULL; }
      buf = nb;
    }
  }
  int err = ferror(f);
  fclose(f);
  if (!buf || err) { fprintf(stderr, "%s: cannot read\n", path); free(buf); return -1; }
  /* an exact-size copy, so the sanitizers see reads past the input as libFuzzer would */
  uint8_t *exact = malloc(n ? n : 1);
  if (!exact) { free(buf); return -1; }
  memcpy(exact, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  return 1;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Inputs replayed under path, or -1 on an error. */
static int replay(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) { perror(path); return -1; }
  if (!S_ISDIR(st.st_mode)) return replay_file(path);
  DIR *d = opendir(path);
  if (!d) { perror(path); return -1; }
  char **names = NULL;
  int n = 0, cap = 0, total = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      char **nn = realloc(names, (size_t)cap * sizeof *nn);
      if (!nn) { closedir(d); return -1; }
      names = nn;
    }
    size_t len = strlen(path) + strlen(e->d_name) + 2;
    names[n] = malloc(len);
    if (!names[n]) { closedir(d); return -1; }
    snprintf(names[n++], len, "%s/%s", path, e->d_name);
  }
  closedir(d);
  if (n > 1) qsort(names, (size_t)n, sizeof *names, cmp_str);
  for (int i = 0; i < n; i++) {
    /* only inputs: skip the scripts and notes that live beside the corpora */
    const char *dot = strrchr(names[i], '.');
    int k = dot && (!strcmp(dot, ".md") || !strcmp(dot, ".sh") || !strcmp(dot, ".py"))
                ? 0 : replay(names[i]);
    if (k < 0) total = -1;
    else if (total >= 0) total += k;
    free(names[i]);
  }
  free(names);
  return total;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
    return 2;
  }
  int total = 0;
  for (int i = 1; i < argc; i++) {
    int k = replay(argv[i]);
    if (k < 0) return 1;
    total += k;
  }
  printf("%d inputs replayed, no failure\n", total);
  return total > 0 ? 0 : 1;
}
