/* Plain-C float64 reference of the heteroscedastic regression losses (Kendall & Gal 2017),
 * written from the formulas, independent of src/ops/loss.c: pred f, log-variance s, target y
 * (N, C, H, W), mask (N, 1, H, W) or NULL; HW = H*W. kind 1 = Laplace: e^{-s}|f - y| + s;
 * kind 2 = Gaussian: ½e^{-s}(f - y)² + ½s; s clamped to [s_min, s_max]. */
#ifndef CLMTL_REF_HETERO_H
#define CLMTL_REF_HETERO_H

/* Mean over valid elements; *count = valid pixels × C. */
double ref_hetero_forward(int kind, const float *pred, const float *logvar, const float *target,
                          const float *mask, int N, int C, int HW, double s_min, double s_max,
                          double *count);
/* Gradients of seed · loss (written): dpred, dlogvar (0 outside the clamp and where masked). */
void ref_hetero_backward(int kind, const float *pred, const float *logvar, const float *target,
                         const float *mask, int N, int C, int HW, double s_min, double s_max,
                         double seed, float *dpred, float *dlogvar);

#endif
