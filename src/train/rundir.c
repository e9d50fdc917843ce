/* Run directories (include/clmtl/rundir.h): heap-built paths, creation with parents, the
 * one-trainer-per-directory lock and the sweep of temporary files left by killed processes.
 * What goes into the directory (log, checkpoints) is trainer.c's and checkpoint.c's. */
#define _GNU_SOURCE /* F_OFD_SETLK: a lock per open file, so one process cannot take it twice */
#include "clmtl/util.h"
#include "clmtl/rundir.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "runtime/runtime-impl.h"

#ifdef F_OFD_SETLK
#define LOCK_CMD F_OFD_SETLK
#else
#define LOCK_CMD F_SETLK
#endif

struct clm_rundir {
  int lock_fd; /* DIR/.lock, write-locked while open */
};

char *clm_path_join(const char *dir, const char *name) {
  size_t a = dir ? strlen(dir) : 0, b = strlen(name);
  int slash = a > 0 && dir[a - 1] != '/';
  char *p = malloc(a + (size_t)slash + b + 1);
  if (!p) return NULL;
  if (a) memcpy(p, dir, a);
  if (slash) p[a] = '/';
  memcpy(p + a + (size_t)slash, name, b + 1);
  return p;
}


/* The pid of a "<anything>.safetensors.tmp.<pid>" name, or 0. */
static long tmp_pid(const char *name) {
  const char *at = strstr(name, ".safetensors.tmp.");
  if (!at) return 0;
  at += strlen(".safetensors.tmp.");
  long pid = 0;
  if (!*at) return 0;
  for (; *at; at++) {
    if (*at < '0' || *at > '9' || pid > 100000000L) return 0;
    pid = pid * 10 + (*at - '0');
  }
  return pid;
}

static clm_status sweep(const char *dir, int *swept) {
  DIR *dp = opendir(dir);
  if (!dp) CLM_FAIL(CLM_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
  clm_status st = CLM_OK;
  struct dirent *e;
  while (st == CLM_OK && (e = readdir(dp))) {
    long pid = tmp_pid(e->d_name);
    if (pid <= 0 || pid == (long)getpid()) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive (or not ours to judge) */
    char *p = clm_path_join(dir, e->d_name);
    if (!p) st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "%s: out of host memory", dir);
    else if (unlink(p) != 0 && errno != ENOENT)
      st = CLM_ERROR(CLM_ERR_IO, "cannot remove the stale temporary file '%s' (its process %ld "
                     "is gone): %s", p, pid, strerror(errno));
    else if (swept)
      (*swept)++;
    free(p);
  }
  closedir(dp);
  return st;
}

/* Takes the write lock on DIR/.lock and records our pid in it. */
static clm_status lock(const char *dir, const char *path, int *fd_out) {
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (fd < 0) CLM_FAIL(CLM_ERR_IO, "cannot open the run lock '%s': %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    CLM_FAIL(CLM_ERR_IO, "the run lock '%s' is not a regular file", path);
  }
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(fd, LOCK_CMD, &fl) != 0) {
    int e = errno;
    if (e != EACCES && e != EAGAIN) {
      close(fd);
      CLM_FAIL(CLM_ERR_IO, "cannot lock '%s': %s", path, strerror(e));
    }
    char buf[32] = {0}; /* the holder's pid, written right after it took the lock */
    long pid = pread(fd, buf, sizeof buf - 1, 0) > 0 ? strtol(buf, NULL, 10) : 0;
    close(fd);
    if (pid > 0)
      CLM_FAIL(CLM_ERR_IO, "%s is in use by another training process (pid %ld holds %s); wait "
               "for it to finish or choose another --out", dir, pid, path);
    CLM_FAIL(CLM_ERR_IO, "%s is in use by another training process (it holds %s and has not "
             "written its pid yet); wait for it to finish or choose another --out", dir, path);
  }
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
    int e = errno;
    close(fd);
    CLM_FAIL(CLM_ERR_IO, "cannot write the run lock '%s': %s", path, strerror(e));
  }
  *fd_out = fd;
  return CLM_OK;
}

clm_status clm_rundir_open(const char *dir, clm_rundir **out, int *swept) {
  if (swept) *swept = 0;
  if (!dir || !*dir || !out) CLM_FAIL(CLM_ERR_INVALID_ARG, "run directory: empty path");
  *out = NULL;
  size_t len = strlen(dir);
  if (len >= PATH_MAX)
    CLM_FAIL(CLM_ERR_INVALID_ARG, "run directory '%.60s...' is %zu characters long, too long for "
             "this system (PATH_MAX %d)", dir, len, PATH_MAX);
  CLM_TRY(clm_mkdir_p(dir, 0755));
  char *lock_path = clm_path_join(dir, ".lock");
  if (!lock_path) CLM_FAIL(CLM_ERR_HOST_MEMORY, "%s: out of host memory", dir);
  int fd = -1;
  clm_status st = lock(dir, lock_path, &fd);
  free(lock_path);
  if (st == CLM_OK) st = sweep(dir, swept);
  clm_rundir *r = st == CLM_OK ? malloc(sizeof *r) : NULL;
  if (st == CLM_OK && !r) st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "%s: out of host memory", dir);
  if (st != CLM_OK) {
    if (fd >= 0) close(fd);
    return st;
  }
  r->lock_fd = fd;
  *out = r;
  return CLM_OK;
}

void clm_rundir_close(clm_rundir *r) {
  if (!r) return;
  close(r->lock_fd); /* closing the descriptor releases the fcntl lock */
  free(r);
}
