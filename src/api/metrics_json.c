/* JSON for the flat API (bindings.h): metrics reports with the key names log.jsonl uses, and
 * numbers that JSON can hold (non-finite ones as null). */
#include <math.h>
#include <stdlib.h>
#include "api/api-impl.h"
#include "runtime/runtime-impl.h"

void clm_api_json_number(cJSON *obj, const char *key, double n) {
  if (isfinite(n)) cJSON_AddNumberToObject(obj, key, n);
  else cJSON_AddNullToObject(obj, key);
}

cJSON *clm_api_metrics_json(const clm_metrics_report *r) {
  cJSON *t = cJSON_CreateObject();
  if (r->kind == CLM_METRICS_REGRESSION) {
    clm_api_json_number(t, "mae", r->mae);
    clm_api_json_number(t, "rmse", r->rmse);
    clm_api_json_number(t, "rel_error", r->rel_error);
    clm_api_json_number(t, "l1_per_pixel", r->l1_per_pixel);
    cJSON_AddNumberToObject(t, "pixels", (double)r->pixels);
  } else {
    clm_api_json_number(t, "miou", r->miou);
    clm_api_json_number(t, "pixel_accuracy", r->pixel_accuracy);
    cJSON_AddNumberToObject(t, "classes_present", r->classes_present);
    cJSON *iou = cJSON_AddArrayToObject(t, "iou");
    for (int c = 0; c < r->classes && c < CLM_METRICS_MAX_CLASSES; c++)
      cJSON_AddItemToArray(iou, isfinite(r->iou[c]) ? cJSON_CreateNumber(r->iou[c]) : cJSON_CreateNull());
    cJSON_AddNumberToObject(t, "pixels", (double)r->counted);
  }
  return t;
}

clm_status clm_api_json_out(cJSON *doc, char **out) {
  char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
  cJSON_Delete(doc);
  if (!text) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory writing JSON");
  *out = text;
  return CLM_OK;
}
