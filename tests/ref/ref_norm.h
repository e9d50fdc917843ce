/* Plain-C reference batch normalisation (training and eval forward, backward) over NCHW
 * float arrays, accumulating in double. Used by tests/test_norm.c. */
#ifndef CLMTL_REF_NORM_H
#define CLMTL_REF_NORM_H

/* x, y (N, C, H, W); gamma, beta, running_mean, running_var (C); saved (2C) = mean, invstd.
 * Running stats: r = (1 - momentum) r + momentum * stat, unbiased variance. */
void ref_batchnorm_forward_train(const float *x, int N, int C, int H, int W, const float *gamma,
                                 const float *beta, float momentum, float eps, float *y,
                                 float *saved, float *running_mean, float *running_var);
void ref_batchnorm_forward_eval(const float *x, int N, int C, int H, int W, const float *gamma,
                                const float *beta, const float *running_mean,
                                const float *running_var, float eps, float *y);
/* Recomputes the batch statistics of x with eps. dx (= or += with accumulate); dgamma,
 * dbeta +=. */
void ref_batchnorm_backward(const float *x, const float *dy, int N, int C, int H, int W,
                            const float *gamma, float eps, float *dx, float *dgamma, float *dbeta,
                            int accumulate);
/* Eval-mode batch norm folded into a convolution: s = gamma / sqrt(var + eps) per output
 * channel k; w_out = w * s[k], b_out = (b - mean) * s + beta (b may be NULL: 0). w is
 * (n0, n1, R, S): a conv weight (K, C, R, S), or with `transposed` (Cin, K, R, S). */
void ref_batchnorm_fold(int transposed, const float *w, int n0, int n1, int R, int S,
                        const float *b, const float *gamma, const float *beta,
                        const float *running_mean, const float *running_var, float eps,
                        float *w_out, float *b_out);

#endif
