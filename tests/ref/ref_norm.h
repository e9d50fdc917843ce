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

#endif
