/* Plain-C reference GEMM (double accumulation): the ground truth tests/test_gemm.c compares
 * clm_gemm with. Same contract as clm_gemm in src/ops/ops.h, on host arrays. */
#ifndef CLMTL_REF_GEMM_H
#define CLMTL_REF_GEMM_H

/* C (m×n, row stride ldc) = alpha·op(A)·op(B) + beta·C, op(A) = A (m×k, stride lda) or, with
 * trans_a, Aᵀ of A stored k×m; op(B) likewise k×n or Bᵀ of B stored n×k. beta == 0 ignores
 * the old C. Elements between rows (the ld gaps) are left alone. */
void ref_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);

#endif
