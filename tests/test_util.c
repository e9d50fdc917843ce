/* Implementation of the shared test harness (see test_util.h). */
#include "test_util.h"
#include "cli.h"
#include <CL/cl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int test_passed, test_failed;

int test_small(void) {
  const char *s = getenv("CLMTL_TEST_SMALL");
  return s && *s && strcmp(s, "0");
}

const clm_context_options *test_context_options(void) {
  static clm_context_options o;
  static int filled;
  if (!filled) o = cli_context_options_from_env();
  filled = 1;
  return &o;
}

clm_context *test_context(void) { return test_context_with(test_context_options()); }

clm_context *test_context_with(const clm_context_options *o) {
  clm_context *ctx = NULL;
  if (clm_context_create_with(o, &ctx) != CLM_OK) {
    fprintf(stderr, "cannot open an OpenCL device: %s\n", clm_last_error());
    exit(1);
  }
  const clm_device_info *d = clm_context_device(ctx);
  printf("device: %s (%s, %s)\n", d->name, d->platform, d->driver);
  return ctx;
}

test_rng test_rng_make(uint64_t seed) {
  test_rng r = {seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull};
  return r;
}

static uint64_t next_u64(test_rng *r) {
  uint64_t x = r->s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  r->s = x;
  return x * 0x2545f4914f6cdd1dull;
}

float test_uniform(test_rng *r, float lo, float hi) {
  double u = (double)(next_u64(r) >> 11) / (double)(1ull << 53);
  return (float)(lo + (hi - lo) * u);
}

float test_nonzero(test_rng *r, float lo, float hi, float gap) {
  for (;;) {
    float v = test_uniform(r, lo, hi);
    if (fabsf(v) >= gap) return v;
  }
}

void test_fill(test_rng *r, float *x, size_t n, float lo, float hi) {
  for (size_t i = 0; i < n; i++) x[i] = test_nonzero(r, lo, hi, 1e-3f * (hi - lo));
}

float *test_alloc(size_t n) {
  float *p = malloc((n ? n : 1) * sizeof *p);
  if (!p) { fprintf(stderr, "out of host memory\n"); exit(1); }
  return p;
}

float *test_random(test_rng *r, size_t n, float lo, float hi) {
  float *p = test_alloc(n);
  test_fill(r, p, n, lo, hi);
  return p;
}

static clm_context *alloc_ctx; /* tensors remember nothing; tests use one context */

clm_tensor test_tensor_at(clm_context *ctx, size_t pad, int n, int c, int h, int w,
                          const float *host) {
  alloc_ctx = ctx;
  size_t numel = (size_t)n * c * h * w;
  clm_mem buf;
  if (clm_buffer_alloc(ctx, numel + pad + 7, &buf) != CLM_OK) {
    fprintf(stderr, "test_tensor: %s\n", clm_last_error());
    exit(1);
  }
  clm_tensor t = clm_tensor_view(buf, pad, n, c, h, w);
  {
    /* write the whole buffer from offset 0: oclgrind 21.10 mistracks writes at an offset */
    size_t total = numel + pad + 7;
    float *all = calloc(total, sizeof *all);
    if (!all) exit(1);
    if (host) memcpy(all + pad, host, numel * sizeof *all);
    clm_tensor whole = clm_tensor_view(buf, 0, 1, 1, 1, (int)total);
    if (clm_tensor_upload(ctx, &whole, all) != CLM_OK) {
      fprintf(stderr, "test_tensor upload: %s\n", clm_last_error());
      exit(1);
    }
    free(all);
  }
  return t;
}

clm_tensor test_tensor(clm_context *ctx, int n, int c, int h, int w, const float *host) {
  return test_tensor_at(ctx, 5, n, c, h, w, host); /* odd offset on purpose */
}

void test_tensor_free(clm_context *ctx, clm_tensor *t) {
  clm_buffer_free(ctx, t->buf);
  t->buf = NULL;
}

void test_upload(clm_context *ctx, const clm_tensor *t, const float *host) {
  size_t bytes = 0;
  if (clGetMemObjectInfo((cl_mem)t->buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL) != CL_SUCCESS) {
    fprintf(stderr, "test_upload: clGetMemObjectInfo failed\n");
    exit(1);
  }
  clm_tensor whole = clm_tensor_view(t->buf, 0, 1, 1, 1, (int)(bytes / sizeof(float)));
  float *all = test_download(ctx, &whole);
  if (host) memcpy(all + t->off, host, clm_tensor_numel(t) * sizeof *all);
  test_status("upload", clm_tensor_upload(ctx, &whole, all));
  free(all);
}

float *test_download(clm_context *ctx, const clm_tensor *t) {
  size_t n = clm_tensor_numel(t);
  float *h = malloc((n ? n : 1) * sizeof *h);
  if (!h || clm_tensor_download(ctx, t, h) != CLM_OK) {
    fprintf(stderr, "test_download: %s\n", clm_last_error());
    exit(1);
  }
  return h;
}

double test_rel_error(const float *got, const float *want, size_t n, double floor) {
  double maxdiff = 0, maxref = floor;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - (double)want[i]);
    if (!(d <= maxdiff)) maxdiff = d; /* NaN propagates as a failure */
    if (fabs(want[i]) > maxref) maxref = fabs(want[i]);
  }
  return maxdiff / maxref;
}

void test_check(const char *name, double err, double tol) {
  int ok = err <= tol; /* false for NaN */
  printf("[%s] %s: rel err %.3g (tol %.3g)\n", ok ? "PASS" : "FAIL", name, err, tol);
  if (ok) test_passed++;
  else test_failed++;
  fflush(stdout);
}

void test_true(const char *name, int ok, const char *detail) {
  printf("[%s] %s%s%s\n", ok ? "PASS" : "FAIL", name, detail ? ": " : "", detail ? detail : "");
  if (ok) test_passed++;
  else test_failed++;
  fflush(stdout);
}

void test_status(const char *name, clm_status st) {
  if (st == CLM_OK) return;
  printf("[FAIL] %s: %s: %s\n", name, clm_status_name(st), clm_last_error());
  test_failed++;
  fflush(stdout);
}

void test_expect(const char *name, clm_status st, clm_status want, const char *needle) {
  char detail[600];
  snprintf(detail, sizeof detail, "%s: %s", clm_status_name(st), st ? clm_last_error() : "");
  test_true(name, st == want && (!needle || strstr(clm_last_error(), needle)), detail);
}

double test_fd_error(test_objective f, void *user, float *x, size_t n, const float *analytic,
                     double eps, int samples, double floor, uint64_t seed) {
  test_rng r = test_rng_make(seed);
  double worst = 0;
  size_t count = samples < 0 || (size_t)samples >= n ? n : (size_t)samples;
  for (size_t s = 0; s < count; s++) {
    size_t i = count == n ? s : (size_t)(next_u64(&r) % n);
    float keep = x[i];
    x[i] = keep + (float)eps;
    double fp = f(user, x);
    x[i] = keep - (float)eps;
    double fm = f(user, x);
    x[i] = keep;
    double num = (fp - fm) / (2 * eps), ana = analytic[i];
    double scale = fmax(fmax(fabs(num), fabs(ana)), floor);
    double e = fabs(num - ana) / scale;
    if (getenv("CLMTL_TEST_VERBOSE")) printf("  fd[%zu] numeric %.6g analytic %.6g\n", i, num, ana);
    if (!(e <= worst)) worst = e;
  }
  return worst;
}

int test_finish(void) {
  printf("%d passed, %d failed\n", test_passed, test_failed);
  return test_failed ? 1 : 0;
}
