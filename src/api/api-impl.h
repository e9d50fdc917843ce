/* Helpers of the flat API (bindings.h) shared by its files: metrics reports and numbers as
 * JSON (NaN and infinities as null, which JSON lacks), and a document handed out as text. */
#ifndef CLMTL_API_IMPL_H
#define CLMTL_API_IMPL_H

#include <cjson/cJSON.h>
#include "clmtl/metrics.h"

/* n added under key, or null when not finite. */
void clm_api_json_number(cJSON *obj, const char *key, double n);
/* A report's metrics: classification mIoU, pixel accuracy, iou (per class), classes present;
 * regression MAE, RMSE, rel_error, l1_per_pixel. */
cJSON *clm_api_metrics_json(const clm_metrics_report *r);
/* doc printed (unformatted) into *out and deleted; CLM_ERR_HOST_MEMORY when that fails. */
clm_status clm_api_json_out(cJSON *doc, char **out);

#endif
