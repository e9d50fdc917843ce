/* The enums several levels of the API share, defined once: an activation (the element-wise
 * ops and the one fused after batch norm, a layer's `act`) and a task's kind (a loss layer's
 * `kind`, the multi-task weighting's per-task kind). The codes are also those of the kernels
 * (cl/eltwise.cl, cl/norm.cl, cl/mtl.cl). */
#ifndef CLMTL_KINDS_H
#define CLMTL_KINDS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum clm_activation {
  CLM_ACTIVATION_NONE = 0,
  CLM_ACTIVATION_RELU,
  CLM_ACTIVATION_LEAKY_RELU, /* slope for x < 0, must be > 0 */
  CLM_ACTIVATION_SIGMOID
} clm_activation;

typedef enum clm_task_kind { CLM_TASK_CLASSIFICATION = 0, CLM_TASK_REGRESSION = 1 } clm_task_kind;

#ifdef __cplusplus
}
#endif

#endif
