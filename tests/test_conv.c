/* Convolution and transposed convolution, every variant (direct; the GEMM family gemm, tiled,
 * local; implicit; winograd and winograd4, which run Winograd for 3×3 stride 1 and the
 * implicit paths elsewhere, bounds ten times wider for winograd4): forward, backward data and
 * backward weight/bias against the plain-C reference (tests/ref/ref_conv.c) and by finite
 * differences of Σ r·y computed with the device forward; "=" overwrites (even NaN), "+="
 * adds to existing contents; repeated runs are bit-identical; every variant agrees with
 * direct; 1×1 convolutions run without a workspace; and shape errors come back as
 * CLM_ERR_SHAPE with a message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/conv_implicit.h"
#include "ops/ops.h"
#include "ref/ref_conv.h"
#include "test_util.h"

#define TOL_REF 1e-5   /* relative to the largest reference value */
#define TOL_AGREE 1e-5 /* each variant vs direct */
#define TOL_FD 1e-3    /* the ops are linear, so central differences are exact up to rounding */
/* Winograd F(4×4, 3×3) (winograd4) amplifies float32 rounding about tenfold (its transforms'
 * coefficients reach 8 and 1/24; test_conv_winograd.c): its bounds are ten times wider. */
#define WIDER(v, tol) ((v) == CLM_CONV_WINOGRAD4 ? 10 * (tol) : (tol))
#define FD_EPS 0.25

typedef struct conv_case {
  const char *name;
  int deconv;                        /* 0: conv2d, 1: deconv2d (ConvTranspose2d) */
  int n, c, h, w, k, r, s;           /* x (n, c, h, w); conv w (k, c, r, s), deconv w (c, k, r, s) */
  int stride, pad, dil, out_pad;     /* out_pad: deconv only */
  int bias;
} conv_case;

/* conv2d and deconv2d share signatures; a case picks its family from these tables. */
typedef struct op_family {
  size_t (*workspace)(clm_conv_variant, const clm_tensor *, const clm_tensor *, const clm_tensor *);
  clm_status (*forward)(clm_context *, clm_conv_variant, const clm_conv_params *,
                        const clm_tensor *, const clm_tensor *, const clm_tensor *,
                        const clm_tensor *, const clm_tensor *);
  clm_status (*backward_data)(clm_context *, clm_conv_variant, const clm_conv_params *,
                              const clm_tensor *, const clm_tensor *, const clm_tensor *,
                              const clm_tensor *, int);
  clm_status (*backward_weight)(clm_context *, clm_conv_variant, const clm_conv_params *,
                                const clm_tensor *, const clm_tensor *, const clm_tensor *,
                                const clm_tensor *, const clm_tensor *);
  void (*ref_forward)(const ref_conv_shape *, const float *, const float *, const float *, float *);
  void (*ref_backward_data)(const ref_conv_shape *, const float *, const float *, float *);
  void (*ref_backward_weight)(const ref_conv_shape *, const float *, const float *, float *,
                              float *);
} op_family;

static const op_family families[2] = {
    {clm_conv2d_workspace, clm_conv2d_forward, clm_conv2d_backward_data,
     clm_conv2d_backward_weight, ref_conv2d_forward, ref_conv2d_backward_data,
     ref_conv2d_backward_weight},
    {clm_deconv2d_workspace, clm_deconv2d_forward, clm_deconv2d_backward_data,
     clm_deconv2d_backward_weight, ref_deconv2d_forward, ref_deconv2d_backward_data,
     ref_deconv2d_backward_weight},
};

/* Everything one case needs on the host and the device. */
typedef struct fixture {
  clm_context *ctx;
  const conv_case *cs;
  const op_family *f;
  clm_conv_variant v;
  clm_conv_params p;
  ref_conv_shape g;
  size_t nx, nw, ny, nb;
  float *x, *w, *b, *r; /* inputs; r is both dy and the weights of the FD objective */
  clm_tensor X, Wt, B, Y, DY, DX, DW, DB, WS;
  const clm_tensor *bias; /* &B or NULL */
} fixture;

static float *alloc_floats(size_t n) {
  float *p = malloc((n ? n : 1) * sizeof *p);
  if (!p) { fprintf(stderr, "out of host memory\n"); exit(1); }
  return p;
}

static void fill_nan(float *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = NAN;
}

static void setup(fixture *fx, clm_context *ctx, const conv_case *cs, test_rng *rng) {
  memset(fx, 0, sizeof *fx);
  fx->ctx = ctx;
  fx->cs = cs;
  fx->f = &families[cs->deconv];
  fx->p = (clm_conv_params){cs->stride, cs->pad, cs->dil};
  int ho, wo;
  if (cs->deconv) {
    ho = (cs->h - 1) * cs->stride - 2 * cs->pad + cs->dil * (cs->r - 1) + cs->out_pad + 1;
    wo = (cs->w - 1) * cs->stride - 2 * cs->pad + cs->dil * (cs->s - 1) + cs->out_pad + 1;
  } else {
    ho = clm_conv_out_size(cs->h, cs->r, &fx->p);
    wo = clm_conv_out_size(cs->w, cs->s, &fx->p);
  }
  fx->g = (ref_conv_shape){cs->n, cs->c, cs->h, cs->w, cs->k, cs->r, cs->s, ho, wo,
                           cs->stride, cs->pad, cs->dil};
  fx->nx = (size_t)cs->n * cs->c * cs->h * cs->w;
  fx->nw = (size_t)cs->k * cs->c * cs->r * cs->s;
  fx->ny = (size_t)cs->n * cs->k * ho * wo;
  fx->nb = (size_t)cs->k;
  fx->x = alloc_floats(fx->nx);
  fx->w = alloc_floats(fx->nw);
  fx->b = alloc_floats(fx->nb);
  fx->r = alloc_floats(fx->ny);
  test_fill(rng, fx->x, fx->nx, -1, 1);
  test_fill(rng, fx->w, fx->nw, -1, 1);
  test_fill(rng, fx->b, fx->nb, -1, 1);
  test_fill(rng, fx->r, fx->ny, -1, 1);
  fx->X = test_tensor(ctx, cs->n, cs->c, cs->h, cs->w, fx->x);
  fx->Wt = cs->deconv ? test_tensor(ctx, cs->c, cs->k, cs->r, cs->s, fx->w)
                      : test_tensor(ctx, cs->k, cs->c, cs->r, cs->s, fx->w);
  fx->B = test_tensor(ctx, 1, cs->k, 1, 1, fx->b);
  fx->bias = cs->bias ? &fx->B : NULL;
  fx->Y = test_tensor(ctx, cs->n, cs->k, ho, wo, NULL);
  fx->DY = test_tensor(ctx, cs->n, cs->k, ho, wo, fx->r);
  fx->DX = test_tensor(ctx, cs->n, cs->c, cs->h, cs->w, NULL);
  fx->DW = test_tensor(ctx, fx->Wt.n, fx->Wt.c, fx->Wt.h, fx->Wt.w, NULL);
  fx->DB = test_tensor(ctx, 1, cs->k, 1, 1, NULL);
  /* the largest workspace any variant needs for this case */
  size_t ws = 1;
  for (int v = 0; v < CLM_CONV_VARIANT_COUNT; v++) {
    size_t need = fx->f->workspace((clm_conv_variant)v, &fx->X, &fx->Wt, &fx->Y);
    if (need > ws) ws = need;
  }
  fx->WS = test_tensor(ctx, 1, 1, 1, (int)ws, NULL);
}

static void teardown(clm_context *ctx, fixture *fx) {
  clm_tensor *t[] = {&fx->X, &fx->Wt, &fx->B, &fx->Y, &fx->DY, &fx->DX, &fx->DW, &fx->DB, &fx->WS};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) test_tensor_free(ctx, t[i]);
  free(fx->x);
  free(fx->w);
  free(fx->b);
  free(fx->r);
}

/* ---- finite differences: objective Σ r·y, y from the device forward ------------------------ */

typedef struct fd_user {
  fixture *fx;
  const clm_tensor *target; /* the device copy of the perturbed host array */
} fd_user;

static double objective(void *u_, const float *host) {
  fd_user *u = u_;
  fixture *fx = u->fx;
  test_upload(fx->ctx, u->target, host);
  test_status("fd forward", fx->f->forward(fx->ctx, fx->v, &fx->p, &fx->X, &fx->Wt, fx->bias,
                                           &fx->Y, &fx->WS));
  float *y = test_download(fx->ctx, &fx->Y);
  double sum = 0;
  for (size_t i = 0; i < fx->ny; i++) sum += (double)fx->r[i] * y[i];
  free(y);
  return sum;
}

static void fd_check(fixture *fx, const char *label, const char *what, const clm_tensor *target,
                     float *host, size_t n, const float *analytic) {
  fd_user u = {fx, target};
  int samples = test_small() ? 6 : 24;
  double err = test_fd_error(objective, &u, host, n, analytic, FD_EPS, samples, 1e-2, 7);
  test_upload(fx->ctx, target, host);
  char name[200];
  snprintf(name, sizeof name, "%.100s %s by finite differences", label, what);
  test_check(name, err, WIDER(fx->v, TOL_FD));
}

/* ---- one case, one variant ----------------------------------------------------------------- */

/* Results of one variant, kept to compare the variants with each other. */
typedef struct results { float *y, *dx, *dw, *db; } results;

static void free_results(results *r) {
  free(r->y);
  free(r->dx);
  free(r->dw);
  free(r->db);
  memset(r, 0, sizeof *r);
}

static void check_ref(const char *label, const char *what, const float *got, const float *want,
                      size_t n, clm_conv_variant v) {
  char name[200];
  snprintf(name, sizeof name, "%.100s %s vs reference", label, what);
  test_check(name, test_rel_error(got, want, n, 1e-6), WIDER(v, TOL_REF));
}

static void run_variant(fixture *fx, clm_conv_variant v, test_rng *rng, results *out) {
  clm_context *ctx = fx->ctx;
  const op_family *f = fx->f;
  fx->v = v;
  char label[160];
  snprintf(label, sizeof label, "%s [%s]", fx->cs->name, clm_conv_variant_name(v));

  float *want_y = alloc_floats(fx->ny), *want_dx = alloc_floats(fx->nx);
  float *want_dw = alloc_floats(fx->nw), *want_db = alloc_floats(fx->nb);
  f->ref_forward(&fx->g, fx->x, fx->w, fx->bias ? fx->b : NULL, want_y);
  f->ref_backward_data(&fx->g, fx->r, fx->w, want_dx);
  f->ref_backward_weight(&fx->g, fx->x, fx->r, want_dw, want_db);

  /* forward writes (=): start from NaN */
  float *junk = alloc_floats(fx->ny > fx->nx ? fx->ny : fx->nx);
  fill_nan(junk, fx->ny);
  test_upload(ctx, &fx->Y, junk);
  test_status("forward", f->forward(ctx, v, &fx->p, &fx->X, &fx->Wt, fx->bias, &fx->Y, &fx->WS));
  out->y = test_download(ctx, &fx->Y);
  check_ref(label, "forward (over NaN contents)", out->y, want_y, fx->ny, v);
  test_status("forward again", f->forward(ctx, v, &fx->p, &fx->X, &fx->Wt, fx->bias, &fx->Y, &fx->WS));
  float *again = test_download(ctx, &fx->Y);
  char name[200];
  snprintf(name, sizeof name, "%.100s forward bit-identical on a second run", label);
  test_true(name, !memcmp(again, out->y, fx->ny * sizeof(float)), NULL);
  free(again);

  /* backward data, accumulate = 0 over NaN contents */
  fill_nan(junk, fx->nx);
  test_upload(ctx, &fx->DX, junk);
  test_status("backward data", f->backward_data(ctx, v, &fx->p, &fx->DY, &fx->Wt, &fx->DX, &fx->WS, 0));
  out->dx = test_download(ctx, &fx->DX);
  check_ref(label, "backward data (=, over NaN contents)", out->dx, want_dx, fx->nx, v);

  /* backward data, accumulate = 1 onto random contents */
  float *dx0 = alloc_floats(fx->nx), *want_acc = alloc_floats(fx->nx + fx->nw);
  test_fill(rng, dx0, fx->nx, -1, 1);
  test_upload(ctx, &fx->DX, dx0);
  test_status("backward data +=", f->backward_data(ctx, v, &fx->p, &fx->DY, &fx->Wt, &fx->DX, &fx->WS, 1));
  float *got = test_download(ctx, &fx->DX);
  for (size_t i = 0; i < fx->nx; i++) want_acc[i] = dx0[i] + want_dx[i];
  check_ref(label, "backward data (accumulate=1 adds)", got, want_acc, fx->nx, v);
  free(got);
  free(dx0);

  /* backward weight into zeros, then again onto random contents (+=) */
  float *zeros = calloc(fx->nw + fx->nb, sizeof *zeros);
  if (!zeros) { fprintf(stderr, "out of host memory\n"); exit(1); }
  test_upload(ctx, &fx->DW, zeros);
  test_upload(ctx, &fx->DB, zeros);
  free(zeros);
  const clm_tensor *db = fx->bias ? &fx->DB : NULL;
  test_status("backward weight", f->backward_weight(ctx, v, &fx->p, &fx->X, &fx->DY, &fx->DW, db, &fx->WS));
  out->dw = test_download(ctx, &fx->DW);
  check_ref(label, "backward weight", out->dw, want_dw, fx->nw, v);
  if (db) {
    out->db = test_download(ctx, &fx->DB);
    check_ref(label, "backward bias", out->db, want_db, fx->nb, v);
  }
  float *dw0 = alloc_floats(fx->nw + fx->nb);
  test_fill(rng, dw0, fx->nw + fx->nb, -1, 1);
  test_upload(ctx, &fx->DW, dw0);
  test_upload(ctx, &fx->DB, dw0 + fx->nw);
  test_status("backward weight +=", f->backward_weight(ctx, v, &fx->p, &fx->X, &fx->DY, &fx->DW, db, &fx->WS));
  got = test_download(ctx, &fx->DW);
  for (size_t i = 0; i < fx->nw; i++) want_acc[i] = dw0[i] + want_dw[i];
  check_ref(label, "backward weight accumulates (+=)", got, want_acc, fx->nw, v);
  free(got);
  if (db) {
    got = test_download(ctx, &fx->DB);
    for (size_t i = 0; i < fx->nb; i++) want_acc[i] = dw0[fx->nw + i] + want_db[i];
    check_ref(label, "backward bias accumulates (+=)", got, want_acc, fx->nb, v);
    free(got);
  } else {
    got = test_download(ctx, &fx->DB);
    for (size_t i = 0; i < fx->nb; i++) want_acc[i] = dw0[fx->nw + i];
    snprintf(name, sizeof name, "%.100s without db, db is untouched", label);
    test_true(name, !memcmp(got, want_acc, fx->nb * sizeof(float)), NULL);
    free(got);
  }
  free(dw0);

  /* finite differences against the device's own backward results */
  fd_check(fx, label, "dx", &fx->X, fx->x, fx->nx, out->dx);
  fd_check(fx, label, "dw", &fx->Wt, fx->w, fx->nw, out->dw);
  if (db) fd_check(fx, label, "db", &fx->B, fx->b, fx->nb, out->db);

  free(junk);
  free(want_acc);
  free(want_y);
  free(want_dx);
  free(want_dw);
  free(want_db);
}

/* b (variant v) against a (direct) */
static void agree(const char *label, const char *what, clm_conv_variant v, const float *a,
                  const float *b, size_t n) {
  if (!a || !b) return;
  char name[200];
  snprintf(name, sizeof name, "%.100s %s: %s vs direct", label, what, clm_conv_variant_name(v));
  test_check(name, test_rel_error(b, a, n, 1e-6), WIDER(v, TOL_AGREE));
}

static void run_case(clm_context *ctx, const conv_case *cs, uint64_t seed) {
  test_rng rng = test_rng_make(seed);
  fixture fx;
  setup(&fx, ctx, cs, &rng);
  printf("-- %s: x (%d, %d, %d, %d), w %s(%d, %d, %d, %d), y (%d, %d, %d, %d), stride %d, pad %d, "
         "dilation %d, %s\n", cs->name, cs->n, cs->c, cs->h, cs->w, cs->deconv ? "(Cin, Cout, R, S) " : "",
         fx.Wt.n, fx.Wt.c, fx.Wt.h, fx.Wt.w, cs->n, cs->k, fx.g.ho, fx.g.wo, cs->stride, cs->pad,
         cs->dil, cs->bias ? "bias" : "no bias");
  results res[CLM_CONV_VARIANT_COUNT];
  memset(res, 0, sizeof res);
  for (int v = 0; v < CLM_CONV_VARIANT_COUNT; v++) run_variant(&fx, (clm_conv_variant)v, &rng, &res[v]);
  for (int v = 1; v < CLM_CONV_VARIANT_COUNT; v++) {
    clm_conv_variant cv = (clm_conv_variant)v;
    agree(cs->name, "forward", cv, res[CLM_CONV_DIRECT].y, res[v].y, fx.ny);
    agree(cs->name, "backward data", cv, res[CLM_CONV_DIRECT].dx, res[v].dx, fx.nx);
    agree(cs->name, "backward weight", cv, res[CLM_CONV_DIRECT].dw, res[v].dw, fx.nw);
    agree(cs->name, "backward bias", cv, res[CLM_CONV_DIRECT].db, res[v].db, fx.nb);
  }
  for (int v = 0; v < CLM_CONV_VARIANT_COUNT; v++) free_results(&res[v]);
  teardown(ctx, &fx);
}

/* The implicit variant's backward weight with forced tiles that leave a ragged last tile along
 * each axis (k, c, kernel rows, kernel columns), against the reference, adding onto random
 * contents. */
static void test_forced_tiles(clm_context *ctx, test_rng *rng) {
  static const int tiles[][4] = {{2, 2, 2, 2}, {3, 1, 3, 2}, {1, 4, 1, 4}, {4, 3, 1, 1}};
  int n = 2, c = 5, h = 6, w = 37, k = 5, r = 5, s = 5;
  clm_conv_params p = {1, 2, 1};
  ref_conv_shape g = {n, c, h, w, k, r, s, h, w, 1, 2, 1};
  size_t nx = (size_t)n * c * h * w, ny = (size_t)n * k * h * w, nw = (size_t)k * c * r * s;
  float *x = test_random(rng, nx, -1, 1), *dy = test_random(rng, ny, -1, 1);
  float *dw0 = test_random(rng, nw, -1, 1), *want = test_alloc(nw);
  ref_conv2d_backward_weight(&g, x, dy, want, NULL);
  for (size_t i = 0; i < nw; i++) want[i] += dw0[i];
  clm_tensor X = test_tensor(ctx, n, c, h, w, x), DY = test_tensor(ctx, n, k, h, w, dy);
  clm_tensor DW = test_tensor(ctx, k, c, r, s, NULL);
  for (size_t t = 0; t < sizeof tiles / sizeof tiles[0]; t++) {
    const int *tl = tiles[t];
    clm_conv_implicit_force_bw_tile(tl[0], tl[1], tl[2], tl[3]);
    test_upload(ctx, &DW, dw0);
    clm_status st = clm_conv2d_backward_weight(ctx, CLM_CONV_IMPLICIT, &p, &X, &DY, &DW, NULL, NULL);
    clm_conv_implicit_force_bw_tile(0, 0, 0, 0);
    test_status("backward weight with a forced tile", st);
    float *got = test_download(ctx, &DW);
    char name[200];
    snprintf(name, sizeof name, "[implicit] 5x5, ragged tile %dx%dx%dx%d:", tl[0], tl[1], tl[2],
             tl[3]);
    check_ref(name, "backward weight adds", got, want, nw, CLM_CONV_IMPLICIT);
    free(got);
  }
  test_tensor_free(ctx, &X);
  test_tensor_free(ctx, &DY);
  test_tensor_free(ctx, &DW);
  free(x);
  free(dy);
  free(dw0);
  free(want);
}

/* ---- errors ---------------------------------------------------------------------------------- */

static void test_errors(clm_context *ctx) {
  clm_mem buf;
  if (clm_buffer_alloc(ctx, 4096, &buf) != CLM_OK) {
    test_true("error tests: buffer", 0, clm_last_error());
    return;
  }
  clm_conv_params p = {1, 1, 1};
  clm_tensor x = clm_tensor_view(buf, 0, 2, 3, 6, 6);
  clm_tensor w = clm_tensor_view(buf, 0, 4, 3, 3, 3);
  clm_tensor w_badc = clm_tensor_view(buf, 0, 4, 2, 3, 3);
  clm_tensor y = clm_tensor_view(buf, 0, 2, 4, 6, 6);
  clm_tensor y_bad = clm_tensor_view(buf, 0, 2, 4, 5, 6);
  clm_tensor b_bad = clm_tensor_view(buf, 0, 1, 3, 1, 1);
  /* the GEMM family: one image's col matrix (C·R·S × Ho·Wo) and a copy of w (K·C·R·S) */
  clm_tensor ws_small = clm_tensor_view(buf, 0, 1, 1, 1, 3 * 9 * 36 + 4 * 27 - 1);
  clm_tensor ws_ok = clm_tensor_view(buf, 0, 1, 1, 1, 3 * 9 * 36 + 4 * 27);
  for (int v = 0; v < CLM_CONV_VARIANT_COUNT; v++) {
    char name[200];
    const char *vn = clm_conv_variant_name((clm_conv_variant)v);
    clm_conv_variant cv = (clm_conv_variant)v;
    snprintf(name, sizeof name, "[%s] channels of x vs w is a SHAPE error", vn);
    test_expect(name, clm_conv2d_forward(ctx, cv, &p, &x, &w_badc, NULL, &y, &ws_ok), CLM_ERR_SHAPE, "channels");
    snprintf(name, sizeof name, "[%s] wrong y size is a SHAPE error", vn);
    test_expect(name, clm_conv2d_forward(ctx, cv, &p, &x, &w, NULL, &y_bad, &ws_ok), CLM_ERR_SHAPE, "expected");
    snprintf(name, sizeof name, "[%s] wrong bias size is a SHAPE error", vn);
    test_expect(name, clm_conv2d_forward(ctx, cv, &p, &x, &w, &b_bad, &y, &ws_ok), CLM_ERR_SHAPE, "b is");
    snprintf(name, sizeof name, "[%s] backward data with a wrong dy is a SHAPE error", vn);
    test_expect(name, clm_conv2d_backward_data(ctx, cv, &p, &y_bad, &w, &x, &ws_ok, 0), CLM_ERR_SHAPE, "dy");
    snprintf(name, sizeof name, "[%s] backward weight with a wrong dw is a SHAPE error", vn);
    test_expect(name, clm_conv2d_backward_weight(ctx, cv, &p, &x, &y, &w_badc, NULL, &ws_ok), CLM_ERR_SHAPE, NULL);
    snprintf(name, sizeof name, "[%s] stride 0 is an INVALID_ARG error", vn);
    clm_conv_params p0 = {0, 1, 1};
    test_expect(name, clm_conv2d_forward(ctx, cv, &p0, &x, &w, NULL, &y, &ws_ok), CLM_ERR_INVALID_ARG, "stride");
    /* deconv: x (2, 4, 6, 6) with w (4, 3, 3, 3), stride 1, pad 1 -> y (2, 3, 6, 6) */
    clm_tensor dx = clm_tensor_view(buf, 0, 2, 4, 6, 6), dy = clm_tensor_view(buf, 0, 2, 3, 6, 6);
    clm_tensor dy_bad = clm_tensor_view(buf, 0, 2, 3, 7, 6);
    snprintf(name, sizeof name, "[%s] deconv with an impossible y size is a SHAPE error", vn);
    test_expect(name, clm_deconv2d_forward(ctx, cv, &p, &dx, &w, NULL, &dy_bad, &ws_ok), CLM_ERR_SHAPE, "out_pad");
    snprintf(name, sizeof name, "[%s] deconv with channels of x vs w wrong is a SHAPE error", vn);
    test_expect(name, clm_deconv2d_forward(ctx, cv, &p, &dy, &w, NULL, &dx, &ws_ok), CLM_ERR_SHAPE, "channels");
  }
  test_expect("[gemm] a workspace one float short is a SHAPE error",
         clm_conv2d_forward(ctx, CLM_CONV_GEMM, &p, &x, &w, NULL, &y, &ws_small), CLM_ERR_SHAPE, "workspace");
  test_expect("[gemm] no workspace is a SHAPE error",
         clm_conv2d_forward(ctx, CLM_CONV_GEMM, &p, &x, &w, NULL, &y, NULL), CLM_ERR_SHAPE, "workspace");
  test_true("[gemm] workspace size is C*R*S*Ho*Wo + K*C*R*S",
            clm_conv2d_workspace(CLM_CONV_GEMM, &x, &w, &y) == 3 * 9 * 36 + 4 * 27, NULL);
  test_true("[direct] needs no workspace", clm_conv2d_workspace(CLM_CONV_DIRECT, &x, &w, &y) == 0, NULL);
  /* 1×1, stride 1, no padding: the image is the col matrix, for conv and deconv */
  clm_tensor w1 = clm_tensor_view(buf, 2048, 4, 3, 1, 1), y1 = clm_tensor_view(buf, 1024, 2, 4, 6, 6);
  clm_tensor w1d = clm_tensor_view(buf, 2048, 3, 4, 1, 1);
  clm_conv_params p1 = {1, 0, 1};
  for (int v = 0; v < CLM_CONV_VARIANT_COUNT; v++) {
    clm_conv_variant cv = (clm_conv_variant)v;
    char name[200];
    snprintf(name, sizeof name, "[%s] 1x1 conv and deconv need no workspace", clm_conv_variant_name(cv));
    test_true(name, clm_conv2d_workspace(cv, &x, &w1, &y1) == 0 &&
                        clm_deconv2d_workspace(cv, &x, &w1d, &y1) == 0, NULL);
    snprintf(name, sizeof name, "[%s] 1x1 conv runs without a workspace", clm_conv_variant_name(cv));
    test_expect(name, clm_conv2d_forward(ctx, cv, &p1, &x, &w1, NULL, &y1, NULL), CLM_OK, NULL);
  }
  clm_context_finish(ctx);
  test_true("[implicit] needs no workspace",
            clm_conv2d_workspace(CLM_CONV_IMPLICIT, &x, &w, &y) == 0, NULL);
  clm_buffer_free(ctx, buf);
}

int main(void) {
  clm_context *ctx = test_context();
  static const conv_case full[] = {
      /* name                      dc  n  c  h  w  k  r  s  st pd dl op bias */
      {"conv 3x3 pad 1",            0, 2, 3, 7, 9, 5, 3, 3, 1, 1, 1, 0, 1},
      {"conv 3x3 stride 2",         0, 2, 3, 7, 9, 5, 3, 3, 2, 1, 1, 0, 0},
      {"conv 3x3 dilation 2",       0, 2, 3, 8, 7, 4, 3, 3, 1, 2, 2, 0, 1},
      {"conv 1x1",                  0, 2, 4, 5, 6, 3, 1, 1, 1, 0, 1, 0, 1},
      {"conv 5x5 pad 2",            0, 2, 2, 9, 8, 3, 5, 5, 1, 2, 1, 0, 0},
      {"conv 2x3 stride 2 pad 1",   0, 2, 3, 7, 8, 4, 2, 3, 2, 1, 1, 0, 1},
      {"conv 3x3 stride 3 dil 2",   0, 1, 2, 11, 10, 3, 3, 3, 3, 0, 2, 0, 1},
      {"deconv 2x2 stride 2",       1, 2, 3, 5, 4, 4, 2, 2, 2, 0, 1, 0, 1},
      {"deconv 3x3 s2 p1 outpad 1", 1, 2, 3, 4, 5, 2, 3, 3, 2, 1, 1, 1, 1},
      {"deconv 3x3 s2 p1",          1, 2, 2, 5, 3, 3, 3, 3, 2, 1, 1, 0, 0},
      {"deconv 3x2 s1 d2 p1",       1, 1, 3, 4, 5, 2, 3, 2, 1, 1, 2, 0, 1},
      {"deconv 1x1",                1, 2, 5, 6, 7, 3, 1, 1, 1, 0, 1, 0, 1},
      /* K <= C: stride-1 backward data runs as a convolution with flipped weights */
      {"conv 3x3 pad 1 K<C",        0, 2, 6, 9, 11, 4, 3, 3, 1, 1, 1, 0, 1},
      {"deconv 3x3 s1 p1 Cin<Cout", 1, 2, 3, 6, 7, 5, 3, 3, 1, 1, 1, 0, 0},
      /* ... unless one row of dy's col matrix outgrows the workspace (sized for x's) */
      {"conv 3x3 valid flat K<C",   0, 1, 4, 3, 7, 3, 3, 3, 1, 0, 1, 0, 1},
      /* planes larger than a GEMM tile, ragged on every side (m = K, n = Ho·Wo) */
      {"conv 3x3 pad 1 ragged",     0, 2, 5, 13, 37, 20, 3, 3, 1, 1, 1, 0, 1},
      {"conv 1x1 ragged",           0, 2, 21, 9, 31, 19, 1, 1, 1, 0, 1, 0, 0},
      {"deconv 1x1 ragged",         1, 1, 19, 9, 31, 21, 1, 1, 1, 0, 1, 0, 1},
      /* stride 1 at widths beyond one 16-column segment (the implicit variant's tiles):
       * ragged widths and channel counts, several rows, every border case */
      {"conv 3x3 w37 k20",          0, 2, 5, 9, 37, 20, 3, 3, 1, 1, 1, 0, 1},
      {"conv 3x3 pad 0 w40",        0, 2, 3, 6, 40, 17, 3, 3, 1, 0, 1, 0, 0},
      {"conv 3x3 pad 2 dil 2 w33",  0, 2, 4, 7, 33, 9, 3, 3, 1, 2, 2, 0, 1},
      {"conv 1x1 w48",              0, 3, 6, 4, 48, 5, 1, 1, 1, 0, 1, 0, 1},
      {"conv 5x5 pad 2 w35",        0, 2, 3, 6, 35, 5, 5, 5, 1, 2, 1, 0, 0},
      {"conv 3x3 pad 1 w16",        0, 2, 9, 5, 16, 33, 3, 3, 1, 1, 1, 0, 1},
      {"conv 1x7 pad 3 w21",        0, 1, 2, 3, 21, 3, 1, 7, 1, 3, 1, 0, 1},
      {"conv 7x7 pad 3 w19",        0, 1, 5, 8, 19, 3, 7, 7, 1, 3, 1, 0, 0},
      {"conv 1x1 c11 k1 w20",       0, 2, 11, 3, 20, 1, 1, 1, 1, 0, 1, 0, 1},
      {"deconv 3x3 s1 p1 w37",      1, 2, 4, 5, 37, 6, 3, 3, 1, 1, 1, 0, 1},
      {"deconv 5x5 s1 p0 w20",      1, 2, 3, 4, 20, 2, 5, 5, 1, 0, 1, 0, 1},
  };
  static const conv_case small[] = {
      {"conv 3x3 valid flat K<C",   0, 1, 4, 3, 7, 3, 3, 3, 1, 0, 1, 0, 1},
      {"conv 3x3 stride 2 pad 1",   0, 2, 3, 5, 6, 4, 3, 3, 2, 1, 1, 0, 1},
      {"deconv 3x3 s2 p1 outpad 1", 1, 1, 2, 3, 4, 3, 3, 3, 2, 1, 1, 1, 1},
      {"conv 1x1 ragged",           0, 1, 5, 3, 7, 6, 1, 1, 1, 0, 1, 0, 1},
      {"deconv 1x1",                1, 1, 3, 5, 4, 2, 1, 1, 1, 0, 1, 0, 0},
      {"conv 3x3 w37 k5",           0, 2, 2, 3, 37, 5, 3, 3, 1, 1, 1, 0, 1},
      {"conv 3x3 pad 2 dil 2 w18",  0, 1, 2, 5, 18, 3, 3, 3, 1, 2, 2, 0, 0},
      {"deconv 3x3 s1 p1 w17",      1, 1, 3, 2, 17, 2, 3, 3, 1, 1, 1, 0, 1},
  };
  const conv_case *cases = test_small() ? small : full;
  size_t count = test_small() ? sizeof small / sizeof small[0] : sizeof full / sizeof full[0];
  for (size_t i = 0; i < count; i++) run_case(ctx, &cases[i], 100 + i);
  /* the GEMM family again with one output row per band of im2col + GEMM */
  static const conv_case banded[] = {
      {"conv 3x3 pad 1 ragged, 1 row per band",   0, 2, 5, 13, 37, 20, 3, 3, 1, 1, 1, 0, 1},
      {"conv 3x3 stride 2, 1 row per band",       0, 2, 3, 7, 9, 5, 3, 3, 2, 1, 1, 0, 0},
      {"deconv 3x3 s2 p1 outpad 1, 1 row per band", 1, 2, 3, 4, 5, 2, 3, 3, 2, 1, 1, 1, 1},
      {"conv 3x3 dil 2 K<C, 1 row per band",      0, 1, 5, 8, 7, 3, 3, 3, 1, 2, 2, 0, 1},
  };
  static const conv_case banded_small[] = {
      {"conv 3x3 K<C, 1 row per band",            0, 1, 4, 4, 5, 3, 3, 3, 1, 1, 1, 0, 1},
  };
  ctx->conv_band_floats = 1;
  if (test_small()) run_case(ctx, &banded_small[0], 300);
  else
    for (size_t i = 0; i < sizeof banded / sizeof banded[0]; i++) run_case(ctx, &banded[i], 200 + i);
  ctx->conv_band_floats = 0;
  test_rng rng = test_rng_make(99);
  test_forced_tiles(ctx, &rng);
  test_errors(ctx);
  clm_context_free(ctx);
  return test_finish();
}
