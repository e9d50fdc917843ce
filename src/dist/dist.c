/* What the communicator's two builds share (dist.h): rank queries, its description for
 * messages, and the per-rank device choice. The collectives: comm_mpi.c / comm_stub.c; the
 * training step's reductions over device buffers: reduce.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clmtl/device.h"
#include "dist-impl.h"
#include "runtime/runtime-impl.h"

int clm_dist_rank(const clm_dist *d) { return d ? d->rank : 0; }
int clm_dist_size(const clm_dist *d) { return d ? d->size : 1; }
int clm_dist_local_rank(const clm_dist *d) { return d ? d->local_rank : 0; }
const char *clm_dist_host(const clm_dist *d) { return d ? d->host : ""; }

void clm_dist_describe(const clm_dist *d, char *buf, size_t size) {
  snprintf(buf, size, "rank %d of %d on %s", clm_dist_rank(d), clm_dist_size(d),
           d && d->host[0] ? d->host : "(unknown host)");
}

clm_status clm_dist_device_spec(const clm_dist *d, const char *spec, char *out, size_t size) {
  int local = clm_dist_local_rank(d);
  if (!out || size == 0) CLM_FAIL(CLM_ERR_INVALID_ARG, "device spec: no output buffer");
  out[0] = '\0';
  if (!spec) return CLM_OK;
  if (strchr(spec, ',')) { /* an explicit list: entry local mod count */
    int count = 1;
    for (const char *c = spec; *c; c++) count += *c == ',';
    const char *s = spec;
    for (int i = 0; i < local % count; i++) s = strchr(s, ',') + 1;
    size_t len = strcspn(s, ",");
    if (len == 0) CLM_FAIL(CLM_ERR_INVALID_ARG, "--device %s: entry %d (local rank %d) is empty", spec, local % count, local);
    if (len >= size) CLM_FAIL(CLM_ERR_INVALID_ARG, "--device %s: entry too long", spec);
    memcpy(out, s, len);
    out[len] = '\0';
    return CLM_OK;
  }
  if (strlen(spec) >= size) CLM_FAIL(CLM_ERR_INVALID_ARG, "--device %s: too long", spec);
  strcpy(out, spec);
  if (local == 0 || clm_dist_size(d) == 1) return CLM_OK;
  /* a spec matching several devices: the local rank's one among them */
  clm_device_info *list = NULL;
  int n = 0;
  if (clm_device_list(&list, &n) != CLM_OK) return CLM_OK; /* the context reports it */
  int matches = 0;
  for (int i = 0; i < n; i++) matches += clm_device_pick(&list[i], 1, spec) == 0;
  if (matches > 1) {
    clm_device_info *rest = malloc((size_t)n * sizeof *rest);
    if (!rest) {
      free(list);
      CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
    }
    memcpy(rest, list, (size_t)n * sizeof *rest);
    int m = n, pick = -1;
    for (int k = 0; k <= local % matches; k++) { /* the k-th in pick order */
      pick = clm_device_pick(rest, m, spec);
      if (k < local % matches) { /* removed, the order of the others kept */
        memmove(rest + pick, rest + pick + 1, (size_t)(m - pick - 1) * sizeof *rest);
        m--;
      }
    }
    snprintf(out, size, "%d:%d", rest[pick].platform_index, rest[pick].device_index);
    free(rest);
  }
  free(list);
  return CLM_OK;
}
