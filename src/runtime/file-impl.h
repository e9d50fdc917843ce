/* Reading input files safely: model files, checkpoints, images. One rule for all of them:
 * only a regular file or a pipe/FIFO is read (a directory, a terminal, a device or a socket
 * is refused by name), opening never blocks (a FIFO nobody writes to is refused, not waited
 * on), and nothing larger than the caller's limit is read into memory. A pipe
 * (`--model <(...)`, /dev/stdin) can be read only once: read it with clm_file_read_all and
 * pass the same bytes to every consumer (parser, checkpoint metadata, hash). */
#ifndef CLMTL_FILE_IMPL_H
#define CLMTL_FILE_IMPL_H

#include <stddef.h>
#include <stdio.h>
#include "clmtl/status.h"

/* Reads the whole of `path` into memory.
 *   what       what the file is for messages ("model file", "checkpoint", "image"); NULL: "file"
 *   max_bytes  the largest content accepted; more is CLM_ERR_IO naming the path and the limit
 *   *data      on success a malloc'd buffer of *len bytes plus a terminating NUL (not counted
 *              in *len), so text can be used as a C string; the caller frees it. Binary
 *              content is returned as is (it may contain NULs). Untouched on failure.
 * Accepts a regular file (any size up to max_bytes, files in /proc whose stat size is 0
 * included) or a pipe/FIFO (read to end of file once). Refuses, with CLM_ERR_IO and a message
 * naming the path and what it is: a missing or unreadable path, a directory, a character or
 * block device, a socket, a FIFO that has no writer or gives no data. Never blocks on open;
 * reading a pipe blocks only while a writer holds it open, as `cat` would. */
clm_status clm_file_read_all(const char *path, const char *what, size_t max_bytes, char **data,
                             size_t *len);

/* Opens `path` for reading under the same rules (regular file or pipe/FIFO, never blocking on
 * open), for callers that stream a large file instead of reading it whole. *f is a FILE*
 * opened "rb" in blocking mode; *size is the file's size for a regular file, or SIZE_MAX for
 * a pipe (length unknown: read to EOF). The caller fcloses *f. Errors as clm_file_read_all. */
clm_status clm_file_open_read(const char *path, const char *what, FILE **f, size_t *size);

#endif
