/* clm_gemm, every variant × every transposition (NN, TN, NT, TT) against the double-precision
 * reference (tests/ref/ref_gemm.c) on odd, tile-multiple and tall/skinny sizes, at nonzero
 * buffer offsets with leading dimensions wider than the rows. Each case runs three ways:
 * beta 0 over NaN contents (must overwrite), beta 1 (accumulates), and a general alpha/beta.
 * The gaps between stored rows of C must come back untouched. Argument errors come back as
 * statuses with a message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "ref/ref_gemm.h"
#include "test_util.h"

/* Relative to the largest |reference| value: float32 sums of up to a few hundred products of
 * values in [-1, 1] stay well inside this. */
#define TOL 1e-5
#define GAP_VALUE 1234.5f /* fills the ld gaps of C */

typedef struct gemm_case {
  int m, n, k;
  int pad; /* extra floats per stored row of A, B and C (ld = row length + pad) */
} gemm_case;

typedef struct ab_case {
  const char *name;
  float alpha, beta;
  int nan_c; /* C starts as NaN (beta must be 0) */
} ab_case;

static const ab_case ab_cases[] = {
    {"beta 0 over NaN", 1.0f, 0.0f, 1},
    {"beta 1 accumulates", -0.5f, 1.0f, 0},
    {"alpha 1.5 beta 0.25", 1.5f, 0.25f, 0},
};

/* One stored matrix: rows × ld floats at a nonzero offset of its own buffer. */
typedef struct mat {
  int rows, cols, ld;
  float *host;
  clm_tensor t;
} mat;

static mat mat_make(clm_context *ctx, test_rng *rng, int rows, int cols, int pad, size_t off) {
  mat x = {rows, cols, cols + pad, NULL, {0}};
  if (x.ld < 1) x.ld = 1;
  size_t total = (size_t)(rows > 0 ? rows : 1) * (size_t)x.ld;
  x.host = test_random(rng, total, -1, 1);
  x.t = test_tensor_at(ctx, off, 1, 1, 1, (int)total, x.host);
  return x;
}

static void mat_free(clm_context *ctx, mat *x) {
  free(x->host);
  test_tensor_free(ctx, &x->t);
}

static void run_case(clm_context *ctx, const gemm_case *gc, int ta, int tb, uint64_t seed) {
  test_rng rng = test_rng_make(seed);
  int m = gc->m, n = gc->n, k = gc->k;
  mat a = mat_make(ctx, &rng, ta ? k : m, ta ? m : k, gc->pad, 3);
  mat b = mat_make(ctx, &rng, tb ? n : k, tb ? k : n, gc->pad, 17);
  mat c = mat_make(ctx, &rng, m, n, gc->pad, 6);
  size_t csize = (size_t)(m > 0 ? m : 1) * (size_t)c.ld;
  float *c0 = test_alloc(csize), *want = test_alloc(csize);
  float *got_v = test_alloc(csize), *want_v = test_alloc(csize);
  for (size_t ai = 0; ai < sizeof ab_cases / sizeof ab_cases[0]; ai++) {
    const ab_case *ab = &ab_cases[ai];
    memcpy(c0, c.host, csize * sizeof *c0);
    for (size_t i = 0; i < csize; i++) {
      int col = (int)(i % (size_t)c.ld);
      if (col >= n) c0[i] = GAP_VALUE;
      else if (ab->nan_c) c0[i] = NAN;
    }
    memcpy(want, c0, csize * sizeof *want);
    ref_gemm(ta, tb, m, n, k, ab->alpha, a.host, a.ld, b.host, b.ld, ab->beta, want, c.ld);
    for (int v = 0; v < CLM_GEMM_VARIANT_COUNT; v++) {
      test_upload(ctx, &c.t, c0);
      char name[200];
      snprintf(name, sizeof name, "[%s] %c%c m=%d n=%d k=%d ld+%d, %s", clm_gemm_variant_name(v),
               ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, gc->pad, ab->name);
      clm_status st = clm_gemm(ctx, (clm_gemm_variant)v, ta, tb, m, n, k, ab->alpha, &a.t, a.ld,
                               &b.t, b.ld, ab->beta, &c.t, c.ld);
      if (st != CLM_OK) {
        test_true(name, 0, clm_last_error());
        continue;
      }
      float *got = test_download(ctx, &c.t);
      /* the m×n elements, packed, for the error; the gaps must be untouched */
      int gaps_ok = 1;
      size_t nv = 0;
      for (size_t i = 0; i < csize; i++) {
        if ((int)(i % (size_t)c.ld) >= n) gaps_ok &= got[i] == GAP_VALUE;
        else {
          got_v[nv] = got[i];
          want_v[nv++] = want[i];
        }
      }
      if (!gaps_ok) test_true(name, 0, "the ld gaps of C were written");
      else test_check(name, test_rel_error(got_v, want_v, nv, 1e-6), TOL);
      free(got);
    }
  }
  free(c0);
  free(want);
  free(got_v);
  free(want_v);
  mat_free(ctx, &a);
  mat_free(ctx, &b);
  mat_free(ctx, &c);
}

static void test_errors(clm_context *ctx) {
  clm_mem buf;
  if (clm_buffer_alloc(ctx, 64, &buf) != CLM_OK) {
    test_true("error tests: buffer", 0, clm_last_error());
    return;
  }
  clm_tensor t = clm_tensor_view(buf, 0, 1, 1, 1, 64), small = clm_tensor_view(buf, 0, 1, 1, 1, 15);
  for (int v = 0; v < CLM_GEMM_VARIANT_COUNT; v++) {
    clm_gemm_variant gv = (clm_gemm_variant)v;
    char name[200];
    snprintf(name, sizeof name, "[%s] lda below the row length is INVALID_ARG", clm_gemm_variant_name(gv));
    test_expect(name, clm_gemm(ctx, gv, 0, 0, 4, 4, 4, 1, &t, 3, &t, 4, 0, &t, 4), CLM_ERR_INVALID_ARG, "ldA");
    snprintf(name, sizeof name, "[%s] a view one float short is a SHAPE error", clm_gemm_variant_name(gv));
    test_expect(name, clm_gemm(ctx, gv, 0, 1, 4, 4, 4, 1, &t, 4, &small, 4, 0, &t, 4), CLM_ERR_SHAPE, "B (4");
    snprintf(name, sizeof name, "[%s] a negative size is INVALID_ARG", clm_gemm_variant_name(gv));
    test_expect(name, clm_gemm(ctx, gv, 0, 0, -1, 4, 4, 1, &t, 4, &t, 4, 0, &t, 4), CLM_ERR_INVALID_ARG, "negative");
    snprintf(name, sizeof name, "[%s] a missing C is INVALID_ARG", clm_gemm_variant_name(gv));
    test_expect(name, clm_gemm(ctx, gv, 0, 0, 4, 4, 4, 1, &t, 4, &t, 4, 0, NULL, 4), CLM_ERR_INVALID_ARG, "C");
  }
  test_expect("an unknown variant is INVALID_ARG",
         clm_gemm(ctx, CLM_GEMM_VARIANT_COUNT, 0, 0, 4, 4, 4, 1, &t, 4, &t, 4, 0, &t, 4),
         CLM_ERR_INVALID_ARG, "variant");
  clm_buffer_free(ctx, buf);
}

int main(void) {
  clm_context *ctx = test_context();
  static const gemm_case full[] = {
      /*  m     n    k  pad */
      {1, 1, 1, 0},
      {7, 7, 7, 1},
      {33, 33, 33, 0},
      {64, 64, 64, 0},     /* tile multiples */
      {48, 96, 32, 3},     /* tile multiples, wider ld */
      {16, 4100, 144, 0},  /* tall/skinny: conv forward with a ragged plane */
      {144, 512, 16, 0},   /* conv backward data: long m, short k */
      {16, 144, 1027, 2},  /* conv backward weight: long k, ragged */
      {5, 17, 3, 2},
      {33, 1, 40, 0},
      {1, 33, 40, 1},
      {13, 21, 0, 1},      /* k = 0: C = beta·C */
  };
  static const gemm_case small[] = {
      {1, 1, 1, 0},
      {7, 7, 7, 1},
      {20, 35, 19, 2},
      {3, 40, 33, 0},
      {6, 2, 0, 1},
  };
  const gemm_case *cases = test_small() ? small : full;
  size_t count = test_small() ? sizeof small / sizeof small[0] : sizeof full / sizeof full[0];
  for (size_t i = 0; i < count; i++)
    for (int t = 0; t < 4; t++) run_case(ctx, &cases[i], t & 1, t >> 1, 500 + 4 * i + (size_t)t);
  /* work-groups capped below 256 (POCL_MAX_WORK_GROUP_SIZE=64): a C large enough for the local
   * variant's 64 × 64 block, which must then fall back to 64 work-items of 8 × 8 */
  if (test_small() && clm_context_device(ctx)->max_work_group < 256) {
    static const gemm_case wide = {130, 129, 20, 1};
    for (int t = 0; t < 4; t++) run_case(ctx, &wide, t & 1, t >> 1, 700 + (size_t)t);
  }
  test_errors(ctx);
  clm_context_free(ctx);
  return test_finish();
}
