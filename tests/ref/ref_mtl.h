/* Plain-C double-precision reference of the multi-task loss weighting step
 * (include/clmtl/mtl_device.h), written from the formulas in DESIGN.md. Self-contained: strategy,
 * kind and gating codes are plain ints with the values of clm_mtl_strategy,
 * clm_task_kind and clm_mtl_gating. Used by tests/test_mtl.c. */
#ifndef CLMTL_REF_MTL_H
#define CLMTL_REF_MTL_H

#define REF_MTL_MAX_TASKS 16

typedef struct ref_mtl_config {
  int strategy;                   /* 0 fixed, 1 equal, 2 uncertainty, 3 uncertainty-simple,
                                     4 uncertainty-clamped, 5 softplus */
  int k;                          /* tasks */
  int regression[REF_MTL_MAX_TASKS]; /* 1: regression (½ factor in uncertainty) */
  double weight[REF_MTL_MAX_TASKS];  /* fixed weights */
  double slo, shi;                /* clamp range of s (uncertainty-clamped) */
  int gating;                     /* 0 none, 1 hard, 2 soft */
  double threshold;
  double valid_total[REF_MTL_MAX_TASKS];
} ref_mtl_config;

/* Total over tasks of gate_i * c_i(L_i, p_i), where gate_i is 0 for count_i <= 0, else 1,
 * or (share_i = count_i / valid_total_i below threshold) 0 (hard) / share_i (soft).
 * Writes (each optional, NULL to skip): seed_i = dTotal/dL_i, pgrad_i = dTotal/dp_i, and
 * contrib_i = c_i, the ungated contribution (0 for count_i <= 0). */
double ref_mtl_step(const ref_mtl_config *c, const double *loss, const double *count,
                    const double *param, double *seed, double *pgrad, double *contrib);

#endif
