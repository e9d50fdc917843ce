/* Reference GEMM (see ref_gemm.h): the definition, one output at a time. */
#include "ref/ref_gemm.h"

void ref_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double acc = 0;
      for (int p = 0; p < k; p++) {
        double av = trans_a ? a[(long)p * lda + i] : a[(long)i * lda + p];
        double bv = trans_b ? b[(long)j * ldb + p] : b[(long)p * ldb + j];
        acc += av * bv;
      }
      double out = (double)alpha * acc;
      if (beta != 0.0f) out += (double)beta * c[(long)i * ldc + j];
      c[(long)i * ldc + j] = (float)out;
    }
}
