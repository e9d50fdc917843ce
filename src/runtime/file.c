/* Safe reading of input files (contract in file-impl.h): the path is checked to be a regular
 * file or a pipe before it is opened, opened without blocking, checked again on the open
 * descriptor, and read with a size limit. Writing files is not here. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "runtime/file-impl.h"
#include "runtime/runtime-impl.h"

static const char *kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISFIFO(m)) return "a pipe";
  if (S_ISREG(m)) return "a regular file";
  return "not a regular file";
}

static clm_status check_mode(const char *path, const char *what, mode_t m) {
  if (S_ISREG(m) || S_ISFIFO(m)) return CLM_OK;
  CLM_FAIL(CLM_ERR_IO, "%s %s is %s, not a regular file", what, path, kind_of(m));
}

clm_status clm_file_open_read(const char *path, const char *what, FILE **out, size_t *size) {
  if (!what) what = "file";
  if (!path || !*path) CLM_FAIL(CLM_ERR_IO, "no %s given (empty path)", what);
  struct stat sb;
  /* before opening: opening a device can have effects of its own */
  if (stat(path, &sb) != 0) CLM_FAIL(CLM_ERR_IO, "cannot open %s %s: %s", what, path, strerror(errno));
  CLM_TRY(check_mode(path, what, sb.st_mode));
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) CLM_FAIL(CLM_ERR_IO, "cannot open %s %s: %s", what, path, strerror(errno));
  clm_status st = CLM_OK;
  int peeked = -1; /* a byte read from a pipe to tell whether anyone writes to it */
  if (fstat(fd, &sb) != 0) {
    st = CLM_ERROR(CLM_ERR_IO, "cannot stat %s %s: %s", what, path, strerror(errno));
  } else if ((st = check_mode(path, what, sb.st_mode)) == CLM_OK && S_ISFIFO(sb.st_mode)) {
    unsigned char c;
    ssize_t got;
    do got = read(fd, &c, 1); while (got < 0 && errno == EINTR);
    if (got == 1) peeked = c;
    else if (got == 0)
      st = CLM_ERROR(CLM_ERR_IO, "%s %s is a pipe that gave no data (nothing writes to it)", what, path);
    else if (errno != EAGAIN && errno != EWOULDBLOCK)
      st = CLM_ERROR(CLM_ERR_IO, "cannot read %s %s: %s", what, path, strerror(errno));
  }
  int flags = st == CLM_OK ? fcntl(fd, F_GETFL) : 0;
  if (st == CLM_OK && (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0))
    st = CLM_ERROR(CLM_ERR_IO, "cannot read %s %s: %s", what, path, strerror(errno));
  FILE *f = st == CLM_OK ? fdopen(fd, "rb") : NULL;
  if (st == CLM_OK && !f) st = CLM_ERROR(CLM_ERR_IO, "cannot open %s %s: %s", what, path, strerror(errno));
  if (st != CLM_OK) { close(fd); return st; }
  if (peeked >= 0 && ungetc(peeked, f) == EOF) {
    fclose(f);
    CLM_FAIL(CLM_ERR_IO, "cannot read %s %s", what, path);
  }
  *out = f;
  *size = S_ISREG(sb.st_mode) ? (size_t)sb.st_size : SIZE_MAX;
  return CLM_OK;
}

clm_status clm_file_read_all(const char *path, const char *what, size_t max_bytes, char **data,
                             size_t *len) {
  if (!what) what = "file";
  if (max_bytes > SIZE_MAX / 2) max_bytes = SIZE_MAX / 2; /* keeps max_bytes + 1 and cap + 1 exact */
  FILE *f;
  size_t size;
  CLM_TRY(clm_file_open_read(path, what, &f, &size));
  if (size != SIZE_MAX && size > max_bytes) {
    fclose(f);
    CLM_FAIL(CLM_ERR_IO, "%s %s is %zu bytes, more than the %zu accepted", what, path, size, max_bytes);
  }
  /* the stat size is a hint only (files in /proc say 0; a file may grow): read to EOF */
  size_t cap = size != SIZE_MAX && size < max_bytes ? size + 1 : 4096, n = 0;
  if (cap > max_bytes + 1) cap = max_bytes + 1;
  if (cap < 64) cap = 64;
  char *buf = malloc(cap + 1);
  clm_status st = buf ? CLM_OK : CLM_ERROR(CLM_ERR_HOST_MEMORY, "out of host memory reading %s %s", what, path);
  while (st == CLM_OK) {
    if (n == cap) {
      if (cap > max_bytes) { /* read one byte beyond the limit: too long */
        st = CLM_ERROR(CLM_ERR_IO, "%s %s is more than the %zu bytes accepted", what, path, max_bytes);
        break;
      }
      size_t ncap = cap > max_bytes / 2 ? max_bytes + 1 : cap * 2;
      char *nb = realloc(buf, ncap + 1);
      if (!nb) { st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "out of host memory reading %s %s", what, path); break; }
      buf = nb;
      cap = ncap;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) {
      if (ferror(f)) st = CLM_ERROR(CLM_ERR_IO, "error reading %s %s: %s", what, path, strerror(errno));
      break;
    }
  }
  fclose(f);
  if (st == CLM_OK && n > max_bytes)
    st = CLM_ERROR(CLM_ERR_IO, "%s %s is more than the %zu bytes accepted", what, path, max_bytes);
  if (st != CLM_OK) { free(buf); return st; }
  buf[n] = '\0';
  *data = buf;
  *len = n;
  return CLM_OK;
}
