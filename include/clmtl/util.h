/* Small host utilities every part of clmtl and its programs share, so that each exists once:
 * a monotonic clock, the FNV-1a 64-bit hash, the splitmix64 generator and `mkdir -p`
 * (src/runtime/util.c). Nothing here touches a device. */
#ifndef CLMTL_UTIL_H
#define CLMTL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "clmtl/export.h"
#include "clmtl/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds on the monotonic clock (CLOCK_MONOTONIC): only differences mean anything. */
CLMTL_API double clm_time_seconds(void);

/* The FNV-1a 64-bit offset basis: the hash of no bytes. */
#define CLM_FNV1A64_INIT 0xcbf29ce484222325ull
/* FNV-1a 64 of len bytes of data, continuing from hash h (CLM_FNV1A64_INIT to start). */
CLMTL_API uint64_t clm_fnv1a64(uint64_t h, const void *data, size_t len);

/* The splitmix64 increment (the golden ratio in 64 bits). */
#define CLM_SPLITMIX64_GAMMA 0x9e3779b97f4a7c15ull
/* The splitmix64 finaliser: a bijection on 64-bit values with strong avalanche. */
CLMTL_API uint64_t clm_splitmix64_mix(uint64_t z);
/* The next value of the splitmix64 stream whose state is *state (advanced by the gamma). */
CLMTL_API uint64_t clm_splitmix64(uint64_t *state);

/* mkdir -p: creates every missing component of dir with `mode` (less the umask). CLM_OK when
 * dir exists as a directory afterwards; CLM_ERR_INVALID_ARG for an empty name, CLM_ERR_IO
 * naming the component that could not be made (and dir) and why, or dir when it exists and
 * is not a directory. */
CLMTL_API clm_status clm_mkdir_p(const char *dir, unsigned mode);

#ifdef __cplusplus
}
#endif

#endif
