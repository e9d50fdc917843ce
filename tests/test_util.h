/* Small test harness shared by the ctest suites: device set-up, random data, comparisons
 * with a stated tolerance, finite-difference gradient checks, and the closing tally line
 * ("N passed, N failed") that CI reads. */
#ifndef CLMTL_TEST_UTIL_H
#define CLMTL_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "clmtl/clmtl.h"

extern int test_passed, test_failed;

/* Small shapes when $CLMTL_TEST_SMALL is set (oclgrind runs). */
int test_small(void);

/* The context options of this test run, read once from the environment as the CLI reads
 * them (tools/cli_env.c): $CLMTL_DEVICE, $CLMTL_CACHE_DIR (tests/CMakeLists.txt points it at
 * the build's test-cache), $CLMTL_CACHE (run_oclgrind.sh turns it off), ... Tests copy it and
 * change fields to exercise an option. */
const clm_context_options *test_context_options(void);

/* Creates a context with test_context_options(); prints the device. Exits the test program
 * with status 1 when no device can be opened: tests may exit, the library may not. */
clm_context *test_context(void);
/* The same with the given options. */
clm_context *test_context_with(const clm_context_options *o);

/* Deterministic xorshift generator. */
typedef struct test_rng { uint64_t s; } test_rng;
test_rng test_rng_make(uint64_t seed);
float test_uniform(test_rng *r, float lo, float hi);
/* Uniform in [lo, hi] but never within `gap` of zero (random, non-zero inputs). */
float test_nonzero(test_rng *r, float lo, float hi, float gap);
void test_fill(test_rng *r, float *x, size_t n, float lo, float hi);
/* malloc'd host arrays (at least one element); the test exits if memory runs out. */
float *test_alloc(size_t n);
/* test_alloc + test_fill. */
float *test_random(test_rng *r, size_t n, float lo, float hi);

/* Device tensor of the given shape in a fresh buffer, filled from host, or zeros when host is
 * NULL. The whole buffer is written from offset 0 (see test_upload). */
clm_tensor test_tensor(clm_context *ctx, int n, int c, int h, int w, const float *host);
/* The same inside a shared buffer at a non-zero offset, to exercise offsets in kernels. */
clm_tensor test_tensor_at(clm_context *ctx, size_t pad, int n, int c, int h, int w,
                          const float *host);
void test_tensor_free(clm_context *ctx, clm_tensor *t);
/* Writes host data (numel floats) into the view t by rewriting t's WHOLE buffer from offset
 * 0, keeping everything outside the view; host == NULL rewrites the buffer unchanged.
 * oclgrind 21.10 loses track of initialised bytes after a host write at a non-zero offset
 * (and after clEnqueueFillBuffer); a whole-buffer write resets that, so its
 * uninitialised-value check stays meaningful for the kernels under test. */
void test_upload(clm_context *ctx, const clm_tensor *t, const float *host);

/* Downloads a tensor into a malloc'd host array. */
float *test_download(clm_context *ctx, const clm_tensor *t);

/* Max relative error max|a-b| / max(max|b|, floor). */
double test_rel_error(const float *got, const float *want, size_t n, double floor);

/* Records and prints one check: "[PASS] name: rel err 1.2e-07 (tol 1e-05)". */
void test_check(const char *name, double err, double tol);
/* Records a boolean check. */
void test_true(const char *name, int ok, const char *detail);
/* Fails the test with the library's last error unless st == CLM_OK. */
void test_status(const char *name, clm_status st);
/* Records that a call returned `want` with needle (when not NULL) in the library's message. */
void test_expect(const char *name, clm_status st, clm_status want, const char *needle);

/* Objective for finite differences: a scalar function of the host vector x. */
typedef double (*test_objective)(void *user, const float *x);
/* Central differences with step eps on `samples` coordinates (all if samples >= n) of x,
 * compared with `analytic`. Returns the max of |num - ana| / max(|num|, |ana|, floor). */
double test_fd_error(test_objective f, void *user, float *x, size_t n, const float *analytic,
                     double eps, int samples, double floor, uint64_t seed);

/* Prints "N passed, N failed" and returns the process exit status. */
int test_finish(void);

#endif
