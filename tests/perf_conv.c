/* Convolution timing (a measurement program, not a test): for the heaviest 3×3 convolutions of
 * models/default.cfg at 128×256, batch 8 (and three of models/segnet-mtl.cfg), times forward,
 * backward data and backward weight of every conv variant: one warm-up run, then the median
 * of --reps runs, each bracketed by clFinish. Prints ms, GFLOP/s (2·N·K·C·R·S·Ho·Wo per pass)
 * and the ratio to a base variant (--base, default gemm: im2col + CLBlast), plus "cores": the process's CPU time
 * over the wall time of the timed runs, about the device's core count on an idle CPU device
 * and less when other processes take cores away (the times are then inflated).
 *
 *   perf_conv [--shape NAME] [--variant NAME]... [--base NAME] [--pass forward|data|weight]
 *             [--reps N]   (--variant may repeat; the base variant is always timed)
 * (device: $CLMTL_DEVICE) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "ops/ops.h"
#include "test_util.h"

typedef struct shape {
  const char *name;
  int n, c, h, w, k; /* x (n, c, h, w) -> y (n, k, h, w): 3×3, stride 1, pad 1, no bias */
} shape;

static const shape shapes[] = {
    {"enc1", 8, 16, 128, 256, 16},  {"dec1a", 8, 48, 128, 256, 16},
    {"dec1", 8, 16, 128, 256, 16},  {"dec2a", 8, 96, 64, 128, 32},
    {"enc2", 8, 32, 64, 128, 32},   {"enc3", 8, 64, 32, 64, 64},
    {"segnet128", 8, 128, 64, 128, 128}, {"segnet256", 8, 256, 32, 64, 256},
    {"segnet512", 8, 512, 8, 16, 512},
};
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])
/* the segnet shapes run only when asked for by name */
#define NDEFAULT 6

enum { FWD, BWD_DATA, BWD_WEIGHT, NPASS };
static const char *pass_names[NPASS] = {"forward", "bwd data", "bwd weight"};

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* User + system CPU time of the whole process (PoCL's worker threads included), seconds. */
static double cpu_now(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec * 1e-6 +
         (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void check(clm_status st, const char *what) {
  if (st == CLM_OK) return;
  fprintf(stderr, "perf_conv: %s: %s: %s\n", what, clm_status_name(st), clm_last_error());
  exit(1);
}

typedef struct bufs {
  clm_tensor x, w, y, dy, dx, dw, ws;
} bufs;

static clm_status run_pass(clm_context *ctx, clm_conv_variant v, int pass, const bufs *b) {
  clm_conv_params p = {1, 1, 1};
  switch (pass) {
  case FWD: return clm_conv2d_forward(ctx, v, &p, &b->x, &b->w, NULL, &b->y, &b->ws);
  case BWD_DATA: return clm_conv2d_backward_data(ctx, v, &p, &b->dy, &b->w, &b->dx, &b->ws, 0);
  default: return clm_conv2d_backward_weight(ctx, v, &p, &b->x, &b->dy, &b->dw, NULL, &b->ws);
  }
}

/* Median wall time in seconds of `reps` runs after one warm-up; *cores = CPU time / wall time
 * over those runs. */
static double time_pass(clm_context *ctx, clm_conv_variant v, int pass, const bufs *b, int reps,
                        double *cores) {
  double t[64], wall = 0;
  check(run_pass(ctx, v, pass, b), "warm-up");
  check(clm_context_finish(ctx), "finish");
  double c0 = cpu_now();
  for (int i = 0; i < reps; i++) {
    double t0 = now();
    check(run_pass(ctx, v, pass, b), pass_names[pass]);
    check(clm_context_finish(ctx), "finish");
    t[i] = now() - t0;
    wall += t[i];
  }
  *cores = wall > 0 ? (cpu_now() - c0) / wall : 0;
  qsort(t, (size_t)reps, sizeof t[0], cmp_double);
  return t[reps / 2];
}

static void usage(void) {
  fprintf(stderr, "usage: perf_conv [--shape NAME] [--variant NAME]... [--base NAME] [--pass forward|data|weight] "
                  "[--reps N (1..64)]\nshapes:");
  for (int i = 0; i < NSHAPES; i++) fprintf(stderr, " %s", shapes[i].name);
  fprintf(stderr, "\nvariants:");
  for (int v = 0; v < CLM_CONV_VARIANT_COUNT; v++)
    fprintf(stderr, " %s", clm_conv_variant_name((clm_conv_variant)v));
  fprintf(stderr, "\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *only_shape = NULL;
  int only_variant = -1, only_pass = -1, reps = 5, base = CLM_CONV_GEMM;
  unsigned mask = 0; /* the --variant choices */
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--shape") && i + 1 < argc) only_shape = argv[++i];
    else if (!strcmp(argv[i], "--variant") && i + 1 < argc) {
      const char *name = argv[++i];
      only_variant = -1;
      for (int v = 0; v < CLM_CONV_VARIANT_COUNT; v++)
        if (!strcmp(name, clm_conv_variant_name((clm_conv_variant)v))) only_variant = v;
      if (only_variant < 0) usage();
      mask |= 1u << only_variant;
    } else if (!strcmp(argv[i], "--base") && i + 1 < argc) {
      const char *name = argv[++i];
      base = -1;
      for (int v = 0; v < CLM_CONV_VARIANT_COUNT; v++)
        if (!strcmp(name, clm_conv_variant_name((clm_conv_variant)v))) base = v;
      if (base < 0) usage();
    } else if (!strcmp(argv[i], "--pass") && i + 1 < argc) {
      const char *name = argv[++i];
      only_pass = !strcmp(name, "forward") ? FWD : !strcmp(name, "data") ? BWD_DATA
                  : !strcmp(name, "weight") ? BWD_WEIGHT : -1;
      if (only_pass < 0) usage();
    } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = atoi(argv[++i]);
      if (reps < 1 || reps > 64) usage();
    } else usage();
  }
  int found = 0;
  for (int i = 0; i < NSHAPES; i++) found |= only_shape && !strcmp(only_shape, shapes[i].name);
  if (only_shape && !found) usage();
  if (!mask) mask = ~0u;

  clm_context *ctx = test_context();
  printf("median of %d runs after a warm-up; GFLOP/s = 2·N·K·C·R·S·Ho·Wo / time; x base = speed "
         "relative to the %s variant\n\n", reps, clm_conv_variant_name((clm_conv_variant)base));
  printf("%-10s %-11s %-8s %10s %9s %7s %6s\n", "shape", "pass", "variant", "ms", "GFLOP/s", "x base",
         "cores");
  for (int si = 0; si < NSHAPES; si++) {
    const shape *sh = &shapes[si];
    if (only_shape ? strcmp(only_shape, sh->name) != 0 : si >= NDEFAULT) continue;
    test_rng rng = test_rng_make(7 + (uint64_t)si);
    size_t nx = (size_t)sh->n * sh->c * sh->h * sh->w, ny = (size_t)sh->n * sh->k * sh->h * sh->w;
    size_t nw = (size_t)sh->k * sh->c * 9;
    float *hx = test_random(&rng, nx, -1, 1), *hy = test_random(&rng, ny, -1, 1);
    float *hw = test_random(&rng, nw, -1, 1);
    bufs b;
    b.x = test_tensor(ctx, sh->n, sh->c, sh->h, sh->w, hx);
    b.dx = test_tensor(ctx, sh->n, sh->c, sh->h, sh->w, NULL);
    b.w = test_tensor(ctx, sh->k, sh->c, 3, 3, hw);
    b.dw = test_tensor(ctx, sh->k, sh->c, 3, 3, NULL);
    b.y = test_tensor(ctx, sh->n, sh->k, sh->h, sh->w, NULL);
    b.dy = test_tensor(ctx, sh->n, sh->k, sh->h, sh->w, hy);
    size_t ws = 1;
    for (int v = 0; v < CLM_CONV_VARIANT_COUNT; v++) {
      size_t need = clm_conv2d_workspace((clm_conv_variant)v, &b.x, &b.w, &b.y);
      if (need > ws) ws = need;
    }
    b.ws = test_tensor(ctx, 1, 1, 1, (int)ws, NULL);
    free(hx);
    free(hy);
    free(hw);
    double flops = 2.0 * sh->n * sh->k * sh->c * 9.0 * sh->h * sh->w;
    for (int pass = 0; pass < NPASS; pass++) {
      if (only_pass >= 0 && pass != only_pass) continue;
      double t[CLM_CONV_VARIANT_COUNT] = {0}, cores[CLM_CONV_VARIANT_COUNT] = {0};
      for (int v = 0; v < CLM_CONV_VARIANT_COUNT; v++)
        if ((mask >> v & 1) || v == base)
          t[v] = time_pass(ctx, (clm_conv_variant)v, pass, &b, reps, &cores[v]);
      for (int v = 0; v < CLM_CONV_VARIANT_COUNT; v++) {
        if (!(mask >> v & 1)) continue;
        printf("%-10s %-11s %-8s %10.2f %9.1f %7.2f %6.2f\n", sh->name, pass_names[pass],
               clm_conv_variant_name((clm_conv_variant)v), t[v] * 1e3, flops / t[v] * 1e-9,
               t[base] / t[v], cores[v]);
      }
      fflush(stdout);
    }
    clm_tensor *all[] = {&b.x, &b.dx, &b.w, &b.dw, &b.y, &b.dy, &b.ws};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) test_tensor_free(ctx, all[i]);
  }
  clm_context_free(ctx);
  return 0;
}
