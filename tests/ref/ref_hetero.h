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

/* Logit noise (Kendall & Gal 2017), analytic form: logits (N, K, HW), one log-variance s per
 * pixel (N, HW), labels (N, HW); κ = (1 + π e^{s_c} / 8)^{-1/2}, s_c = s clamped; the mean over
 * valid pixels of -log softmax(κ f)[label] (*count valid pixels; ignore label skipped). */
double ref_logit_noise_forward(const float *logits, const float *logvar, const float *labels,
                               int N, int K, int HW, int ignore, double s_min, double s_max,
                               double *count);
/* Gradients of seed · loss (written): dlogits (N, K, HW), dlogvar (N, HW). */
void ref_logit_noise_backward(const float *logits, const float *logvar, const float *labels,
                              int N, int K, int HW, int ignore, double s_min, double s_max,
                              double seed, float *dlogits, float *dlogvar);
/* The quantity the analytic form approximates, by Monte Carlo in double: the mean over valid
 * pixels of -log (1/T Σ_t softmax(f + e^{s/2} ε_t)[label]), ε_t ~ N(0, I_K), T samples. */
double ref_logit_noise_mc(const float *logits, const float *logvar, const float *labels, int N,
                          int K, int HW, int ignore, int T, unsigned long long seed);

#endif
