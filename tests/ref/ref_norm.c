/* Reference batch normalisation (see ref_norm.h): two-pass statistics in double. */
#include "ref/ref_norm.h"
#include <math.h>

/* Mean and biased variance of channel c, in double. */
static void channel_stats(const float *x, int N, int C, int HW, int c, double *mean, double *var) {
  double sum = 0, sq = 0, M = (double)N * HW;
  for (int n = 0; n < N; n++)
    for (int i = 0; i < HW; i++) sum += x[((long)n * C + c) * HW + i];
  double mu = sum / M;
  for (int n = 0; n < N; n++)
    for (int i = 0; i < HW; i++) {
      double d = x[((long)n * C + c) * HW + i] - mu;
      sq += d * d;
    }
  *mean = mu;
  *var = sq / M;
}

void ref_batchnorm_forward_train(const float *x, int N, int C, int H, int W, const float *gamma,
                                 const float *beta, float momentum, float eps, float *y,
                                 float *saved, float *running_mean, float *running_var) {
  int HW = H * W;
  double M = (double)N * HW;
  for (int c = 0; c < C; c++) {
    double mean, var;
    channel_stats(x, N, C, HW, c, &mean, &var);
    double invstd = 1.0 / sqrt(var + eps);
    saved[c] = (float)mean;
    saved[C + c] = (float)invstd;
    running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mean);
    running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * var * M / (M - 1));
    for (int n = 0; n < N; n++)
      for (int i = 0; i < HW; i++) {
        long k = ((long)n * C + c) * HW + i;
        y[k] = (float)(gamma[c] * (x[k] - mean) * invstd + beta[c]);
      }
  }
}

void ref_batchnorm_forward_eval(const float *x, int N, int C, int H, int W, const float *gamma,
                                const float *beta, const float *running_mean,
                                const float *running_var, float eps, float *y) {
  int HW = H * W;
  for (int c = 0; c < C; c++) {
    double invstd = 1.0 / sqrt((double)running_var[c] + eps);
    for (int n = 0; n < N; n++)
      for (int i = 0; i < HW; i++) {
        long k = ((long)n * C + c) * HW + i;
        y[k] = (float)(gamma[c] * ((double)x[k] - running_mean[c]) * invstd + beta[c]);
      }
  }
}

void ref_batchnorm_backward(const float *x, const float *dy, int N, int C, int H, int W,
                            const float *gamma, float eps, float *dx, float *dgamma, float *dbeta,
                            int accumulate) {
  int HW = H * W;
  double M = (double)N * HW;
  for (int c = 0; c < C; c++) {
    double mean, var;
    channel_stats(x, N, C, HW, c, &mean, &var);
    double invstd = 1.0 / sqrt(var + eps);
    double sdy = 0, sdyx = 0;
    for (int n = 0; n < N; n++)
      for (int i = 0; i < HW; i++) {
        long k = ((long)n * C + c) * HW + i;
        sdy += dy[k];
        sdyx += dy[k] * (x[k] - mean) * invstd;
      }
    dbeta[c] = (float)(dbeta[c] + sdy);
    dgamma[c] = (float)(dgamma[c] + sdyx);
    for (int n = 0; n < N; n++)
      for (int i = 0; i < HW; i++) {
        long k = ((long)n * C + c) * HW + i;
        double xhat = (x[k] - mean) * invstd;
        double v = gamma[c] * invstd * (dy[k] - sdy / M - xhat * sdyx / M);
        dx[k] = (float)(accumulate ? dx[k] + v : v);
      }
  }
}

void ref_batchnorm_fold(int transposed, const float *w, int n0, int n1, int R, int S,
                        const float *b, const float *gamma, const float *beta,
                        const float *running_mean, const float *running_var, float eps,
                        float *w_out, float *b_out) {
  int K = transposed ? n1 : n0;
  for (int i0 = 0; i0 < n0; i0++)
    for (int i1 = 0; i1 < n1; i1++) {
      int k = transposed ? i1 : i0;
      double s = (double)gamma[k] / sqrt((double)running_var[k] + eps);
      for (int j = 0; j < R * S; j++) {
        long i = ((long)i0 * n1 + i1) * R * S + j;
        w_out[i] = (float)(w[i] * s);
      }
    }
  for (int k = 0; k < K; k++) {
    double s = (double)gamma[k] / sqrt((double)running_var[k] + eps);
    b_out[k] = (float)(((b ? b[k] : 0.0) - running_mean[k]) * s + beta[k]);
  }
}
