/* Reference convolution and transposed convolution (see ref_conv.h). Each pass walks every
 * tap (n, k, output position, c, r, s) that links an x element and a y element through one
 * weight, and accumulates in double buffers. */
#include "ref/ref_conv.h"
#include <stdlib.h>

/* Calls of `tap` for every link of the convolution: x index, w index, y index. For the
 * transposed convolution the roles of the planes swap: x is the small side. */
typedef void (*tap_fn)(void *u, size_t xi, size_t wi, size_t yi);

static void walk_conv(const ref_conv_shape *g, tap_fn tap, void *u) {
  for (int n = 0; n < g->n; n++)
    for (int k = 0; k < g->k; k++)
      for (int ho = 0; ho < g->ho; ho++)
        for (int wo = 0; wo < g->wo; wo++)
          for (int c = 0; c < g->c; c++)
            for (int r = 0; r < g->r; r++)
              for (int s = 0; s < g->s; s++) {
                int hi = ho * g->stride - g->pad + r * g->dil;
                int wi = wo * g->stride - g->pad + s * g->dil;
                if (hi < 0 || hi >= g->h || wi < 0 || wi >= g->w) continue;
                tap(u, (((size_t)n * g->c + c) * g->h + hi) * g->w + wi,
                    (((size_t)k * g->c + c) * g->r + r) * g->s + s,
                    (((size_t)n * g->k + k) * g->ho + ho) * g->wo + wo);
              }
}

static void walk_deconv(const ref_conv_shape *g, tap_fn tap, void *u) {
  for (int n = 0; n < g->n; n++)
    for (int c = 0; c < g->c; c++)
      for (int h = 0; h < g->h; h++)
        for (int w = 0; w < g->w; w++)
          for (int k = 0; k < g->k; k++)
            for (int r = 0; r < g->r; r++)
              for (int s = 0; s < g->s; s++) {
                int ho = h * g->stride - g->pad + r * g->dil;
                int wo = w * g->stride - g->pad + s * g->dil;
                if (ho < 0 || ho >= g->ho || wo < 0 || wo >= g->wo) continue;
                tap(u, (((size_t)n * g->c + c) * g->h + h) * g->w + w,
                    (((size_t)c * g->k + k) * g->r + r) * g->s + s,
                    (((size_t)n * g->k + k) * g->ho + ho) * g->wo + wo);
              }
}

/* out[oi] += a[ai] · b[bi], with (oi, ai, bi) picked from (xi, wi, yi) by the pass. */
typedef struct pass {
  enum { FWD, BWD_DATA, BWD_WEIGHT } kind;
  const float *a, *b; /* FWD: x, w; BWD_DATA: dy, w; BWD_WEIGHT: x, dy */
  double *out;
} pass;

static void tap_acc(void *u, size_t xi, size_t wi, size_t yi) {
  pass *p = u;
  switch (p->kind) {
  case FWD: p->out[yi] += (double)p->a[xi] * p->b[wi]; break;
  case BWD_DATA: p->out[xi] += (double)p->a[yi] * p->b[wi]; break;
  case BWD_WEIGHT: p->out[wi] += (double)p->a[xi] * p->b[yi]; break;
  }
}

static size_t x_size(const ref_conv_shape *g) { return (size_t)g->n * g->c * g->h * g->w; }
static size_t w_size(const ref_conv_shape *g) { return (size_t)g->k * g->c * g->r * g->s; }
static size_t y_size(const ref_conv_shape *g) { return (size_t)g->n * g->k * g->ho * g->wo; }

static void run(const ref_conv_shape *g, int deconv, int kind, const float *a, const float *b,
                float *out, size_t nout, const float *bias) {
  double *acc = calloc(nout ? nout : 1, sizeof *acc);
  if (!acc) abort();
  pass p = {kind, a, b, acc};
  if (deconv) walk_deconv(g, tap_acc, &p);
  else walk_conv(g, tap_acc, &p);
  size_t plane = (size_t)g->ho * g->wo;
  for (size_t i = 0; i < nout; i++)
    out[i] = (float)(acc[i] + (bias ? bias[(i / plane) % (size_t)g->k] : 0.0));
  free(acc);
}

/* db[k] = Σ dy[n, k, :, :] */
static void bias_grad(const ref_conv_shape *g, const float *dy, float *db) {
  if (!db) return;
  size_t plane = (size_t)g->ho * g->wo;
  for (int k = 0; k < g->k; k++) {
    double acc = 0;
    for (int n = 0; n < g->n; n++)
      for (size_t j = 0; j < plane; j++) acc += dy[((size_t)n * g->k + k) * plane + j];
    db[k] = (float)acc;
  }
}

void ref_conv2d_forward(const ref_conv_shape *g, const float *x, const float *w, const float *b,
                        float *y) {
  run(g, 0, FWD, x, w, y, y_size(g), b);
}
void ref_conv2d_backward_data(const ref_conv_shape *g, const float *dy, const float *w,
                              float *dx) {
  run(g, 0, BWD_DATA, dy, w, dx, x_size(g), NULL);
}
void ref_conv2d_backward_weight(const ref_conv_shape *g, const float *x, const float *dy,
                                float *dw, float *db) {
  run(g, 0, BWD_WEIGHT, x, dy, dw, w_size(g), NULL);
  bias_grad(g, dy, db);
}
void ref_deconv2d_forward(const ref_conv_shape *g, const float *x, const float *w, const float *b,
                          float *y) {
  run(g, 1, FWD, x, w, y, y_size(g), b);
}
void ref_deconv2d_backward_data(const ref_conv_shape *g, const float *dy, const float *w,
                                float *dx) {
  run(g, 1, BWD_DATA, dy, w, dx, x_size(g), NULL);
}
void ref_deconv2d_backward_weight(const ref_conv_shape *g, const float *x, const float *dy,
                                  float *dw, float *db) {
  run(g, 1, BWD_WEIGHT, x, dy, dw, w_size(g), NULL);
  bias_grad(g, dy, db);
}
