/* Reading input files (src/runtime/file.c) and model files through it: a regular file is read
 * whole; a directory, a device, a FIFO nobody writes to and an over-long file are refused by
 * name without blocking; a pipe (a FIFO with a writer, /dev/fd/N as `<(...)` gives) is read
 * once, and the model text a graph keeps is exactly what came through it. Needs no device.
 * An alarm turns a hang (opening a FIFO used to block forever) into a failure. */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "graph/graph-impl.h"
#include "runtime/file-impl.h"
#include "test_util.h"

static char tmp[256];

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "[FAIL] a file read blocked for 20 s\n";
  if (write(2, msg, sizeof msg - 1) < 0) _exit(1);
  _exit(1);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  fputs(text, f);
  fclose(f);
}

/* Expects clm_file_read_all(path, max) to fail with every string of want in the message. */
static void expect_refused(const char *name, const char *path, size_t max, const char *const *want) {
  char *data = NULL;
  size_t len = 0;
  clm_status st = clm_file_read_all(path, "model file", max, &data, &len);
  int ok = st == CLM_ERR_IO && data == NULL;
  for (int i = 0; want[i]; i++) ok = ok && strstr(clm_last_error(), want[i]);
  test_true(name, ok, st == CLM_OK ? "accepted" : clm_last_error());
  free(data);
}

/* A child that writes `text` into path (a FIFO) or fd, then exits. With `opened` (a pipe's
 * write end) it writes one byte there once it has the FIFO open. */
static pid_t writer(const char *path, int fd, const char *text, int opened) {
  pid_t pid = fork();
  if (pid == 0) {
    int w = path ? open(path, O_WRONLY) : fd;
    if (opened >= 0 && write(opened, "o", 1) != 1) _exit(1);
    size_t n = strlen(text), off = 0;
    while (w >= 0 && off < n) {
      ssize_t k = write(w, text + off, n - off);
      if (k <= 0) break;
      off += (size_t)k;
    }
    _exit(off == n ? 0 : 1);
  }
  return pid;
}

static char *slurp(const char *path) {
  char *data = NULL;
  size_t len;
  if (clm_file_read_all(path, NULL, 1 << 20, &data, &len) != CLM_OK) return NULL;
  return data;
}

int main(void) {
  signal(SIGALRM, on_alarm);
  alarm(20);
  snprintf(tmp, sizeof tmp, "/tmp/clmtl-test-file.%ld", (long)getpid());
  mkdir(tmp, 0700);
  char path[512], fifo[512];
  char *model = slurp(CLMTL_MODELS "/tiny.cfg");
  test_true("a regular file is read whole", model && strstr(model, "[task.depth]"), clm_last_error());

  snprintf(path, sizeof path, "%s/hundred", tmp);
  char hundred[101];
  memset(hundred, 'x', 100);
  hundred[100] = 0;
  write_file(path, hundred);
  char *data = NULL;
  size_t len = 0;
  clm_status st = clm_file_read_all(path, NULL, 100, &data, &len);
  test_true("a file of exactly the limit is read, NUL-terminated", st == CLM_OK && len == 100 && data[100] == 0, clm_last_error());
  free(data);
  expect_refused("a file over the limit is refused", path, 99, (const char *[]){path, "100 bytes", "99", 0});
  expect_refused("a directory is refused", tmp, 1000, (const char *[]){tmp, "a directory", 0});
  expect_refused("a character device is refused", "/dev/null", 1000, (const char *[]){"/dev/null", "character device", 0});
  snprintf(path, sizeof path, "%s/missing.cfg", tmp);
  expect_refused("a missing file is refused", path, 1000, (const char *[]){"cannot open model file", path, 0});
  data = slurp("/proc/self/status");
  test_true("a /proc file (stat size 0) is read to its end", data && strstr(data, "Pid:"), NULL);
  free(data);

  snprintf(fifo, sizeof fifo, "%s/fifo.cfg", tmp);
  mkfifo(fifo, 0600);
  expect_refused("a FIFO nobody writes to is refused, not waited on", fifo, 1000, (const char *[]){fifo, "pipe", "no data", 0});
  clm_graph *g;
  clm_graph_create(NULL, &g);
  st = clm_graph_load(g, fifo);
  test_true("clm_graph_load on such a FIFO fails naming it", st == CLM_ERR_IO && strstr(clm_last_error(), fifo), clm_last_error());
  clm_graph_free(g);

  if (model) {
    /* a writer on the FIFO: its text is parsed, and the graph keeps exactly that text */
    int sync[2];
    if (pipe(sync) != 0) return 1;
    int guard = open(fifo, O_RDONLY | O_NONBLOCK); /* lets the writer's open return */
    pid_t pid = writer(fifo, -1, model, sync[1]);
    char c;
    if (read(sync[0], &c, 1) != 1) return 1; /* the writer has the FIFO open */
    clm_graph_create(NULL, &g);
    st = clm_graph_load(g, fifo);
    close(guard);
    close(sync[0]);
    close(sync[1]);
    test_true("a FIFO with a writer is read once and parsed", st == CLM_OK && clm_graph_layer_count(g) > 5, clm_last_error());
    test_true("the graph keeps the model text that came through the pipe",
              clm_graph_model_text(g) && !strcmp(clm_graph_model_text(g), model) &&
              !strcmp(clm_graph_model_file(g), fifo), NULL);
    clm_graph_free(g);
    waitpid(pid, NULL, 0);
    /* an anonymous pipe by its /dev/fd path, as bash's <(...) passes it */
    int p[2];
    if (pipe(p) == 0) {
      pid = writer(NULL, p[1], model, -1);
      close(p[1]);
      snprintf(path, sizeof path, "/dev/fd/%d", p[0]);
      clm_graph_create(NULL, &g);
      st = clm_graph_load(g, path);
      test_true("/dev/fd/N of a pipe (<(...)) is read and kept", st == CLM_OK && clm_graph_model_text(g) &&
                !strcmp(clm_graph_model_text(g), model), clm_last_error());
      clm_graph_free(g);
      close(p[0]);
      waitpid(pid, NULL, 0);
    }
    /* a pipe over the limit */
    if (pipe(p) == 0) {
      pid = writer(NULL, p[1], model, -1);
      close(p[1]);
      snprintf(path, sizeof path, "/dev/fd/%d", p[0]);
      expect_refused("a pipe over the limit is refused", path, 100, (const char *[]){path, "more than the 100 bytes", 0});
      close(p[0]);
      waitpid(pid, NULL, 0);
    }
  }
  clm_graph_create(NULL, &g);
  clm_graph_input(g, "x", 1);
  test_true("a graph built by constructors has no model text", clm_graph_model_text(g) == NULL, NULL);
  clm_graph_free(g);
  free(model);
  unlink(fifo);
  snprintf(path, sizeof path, "%s/hundred", tmp);
  unlink(path);
  rmdir(tmp);
  return test_finish();
}
