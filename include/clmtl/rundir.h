/* Run directories: the folder `clmtl train --out DIR` writes its log and checkpoints into.
 * One training process at a time holds it (an fcntl write lock on DIR/.lock, which also holds
 * the owner's pid); opening it sweeps the temporary checkpoint files ("*.tmp.<pid>") that a
 * killed process left behind. Paths are built on the heap: nothing is truncated. */
#ifndef CLMTL_RUNDIR_H
#define CLMTL_RUNDIR_H

#include "clmtl/status.h"
#include "clmtl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "dir/name" in a malloc'd string (just name when dir is NULL or ""; one slash between them
 * even when dir ends in '/'). NULL only when out of memory. The caller frees it. */
CLMTL_API char *clm_path_join(const char *dir, const char *name);

typedef struct clm_rundir clm_rundir;

/* Creates dir (and its parents) when missing, takes the run lock and removes stale temporary
 * checkpoint files: names containing ".tmp.<pid>" whose process is gone. When another process
 * holds the lock: CLM_ERR_IO, the message naming the directory and that process's pid.
 * *swept (may be NULL) receives how many stale files were removed. The lock lasts until
 * clm_rundir_close or the end of the process. */
CLMTL_API clm_status clm_rundir_open(const char *dir, clm_rundir **out, int *swept);

/* Releases the lock (DIR/.lock stays, unlocked); NULL does nothing. */
CLMTL_API void clm_rundir_close(clm_rundir *r);

#ifdef __cplusplus
}
#endif

#endif
