/* The small float64 reference network shared by the per-task-gradient tests
 * (test_gradnorm_ref.c, test_gradmethods_ref.c): its model file, two conv+bn+relu layers
 * shared and three 1x1 heads (softmax cross-entropy with ignored pixels, L1, L2), written
 * here in double from the layer definitions, not from clmtl's code. Header-only (static
 * definitions): each test includes it once, after defining STEPS. */
#ifndef CLMTL_TEST_REF_MTLNET_H
#define CLMTL_TEST_REF_MTLNET_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 2
#define C0 3
#define F 4
#define H 6
#define W 6
#define HW (H * W)
#define NCLS 3
#define ZC 2
#define K 3
#define LR 0.05
#define MOMENTUM 0.9
#define BN_EPS 1e-5
#define BN_MOM 0.1

static const char *model =
    "[input]\ntype = input\nchannels = 3\n"
    "[c1]\ntype = conv\nfrom = input\nfilters = 4\nsize = 3\nbn = 1\nact = relu\n"
    "[c2]\ntype = conv\nfrom = c1\nfilters = 4\nsize = 3\nbn = 1\nact = relu\n"
    "[sa]\ntype = conv\nfrom = c2\nfilters = 3\nsize = 1\n"
    "[da]\ntype = conv\nfrom = c2\nfilters = 1\nsize = 1\n"
    "[za]\ntype = conv\nfrom = c2\nfilters = 2\nsize = 1\n"
    "[task.seg]\ntype = softmax_xent\nfrom = sa\ntarget = labels\nkind = classification\n"
    "[task.depth]\ntype = l1\nfrom = da\ntarget = depth\nkind = regression\n"
    "[task.z]\ntype = l2\nfrom = za\ntarget = zt\nkind = regression\n";

/* ---- the reference network, float64 ------------------------------------------------------ */

/* Parameters (and their SGD momentum buffers, same layout) by name. */
typedef struct {
  const char *name;
  int n;
  double *v, *g, *buf;
  int state; /* running statistics: not trained */
} rparam;

enum { P_W1, P_G1, P_B1, P_RM1, P_RV1, P_W2, P_G2, P_B2, P_RM2, P_RV2,
       P_WS, P_BS, P_WD, P_BD, P_WZ, P_BZ, P_COUNT };

static rparam P[P_COUNT] = {
    {"c1.weight", F * C0 * 9, 0, 0, 0, 0}, {"c1.bn.weight", F, 0, 0, 0, 0},
    {"c1.bn.bias", F, 0, 0, 0, 0}, {"c1.bn.running_mean", F, 0, 0, 0, 1},
    {"c1.bn.running_var", F, 0, 0, 0, 1}, {"c2.weight", F * F * 9, 0, 0, 0, 0},
    {"c2.bn.weight", F, 0, 0, 0, 0}, {"c2.bn.bias", F, 0, 0, 0, 0},
    {"c2.bn.running_mean", F, 0, 0, 0, 1}, {"c2.bn.running_var", F, 0, 0, 0, 1},
    {"sa.weight", NCLS * F, 0, 0, 0, 0}, {"sa.bias", NCLS, 0, 0, 0, 0},
    {"da.weight", F, 0, 0, 0, 0}, {"da.bias", 1, 0, 0, 0, 0},
    {"za.weight", ZC * F, 0, 0, 0, 0}, {"za.bias", ZC, 0, 0, 0, 0}};

/* y (N, co, H, W) = conv(x (N, ci, H, W), w (co, ci, k, k)) + b, stride 1, "same" padding. */
static void conv_fwd(const double *x, int ci, const double *w, const double *b, int co, int k,
                     double *y) {
  int p = (k - 1) / 2;
  for (int n = 0; n < N; n++)
    for (int o = 0; o < co; o++)
      for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
          double s = b ? b[o] : 0;
          for (int c = 0; c < ci; c++)
            for (int r = 0; r < k; r++)
              for (int q = 0; q < k; q++) {
                int ii = i + r - p, jj = j + q - p;
                if (ii < 0 || jj < 0 || ii >= H || jj >= W) continue;
                s += w[((o * ci + c) * k + r) * k + q] * x[((n * ci + c) * H + ii) * W + jj];
              }
          y[((n * co + o) * H + i) * W + j] = s;
        }
}

/* dw += ∂/∂w, db += ∂/∂b (when b), dx = ∂/∂x (when dx) of Σ dy·y. */
static void conv_bwd(const double *x, int ci, const double *w, int co, int k, const double *dy,
                     double *dx, double *dw, double *db) {
  int p = (k - 1) / 2;
  if (dx) memset(dx, 0, sizeof(double) * N * ci * HW);
  for (int n = 0; n < N; n++)
    for (int o = 0; o < co; o++)
      for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
          double d = dy[((n * co + o) * H + i) * W + j];
          if (db) db[o] += d;
          for (int c = 0; c < ci; c++)
            for (int r = 0; r < k; r++)
              for (int q = 0; q < k; q++) {
                int ii = i + r - p, jj = j + q - p;
                if (ii < 0 || jj < 0 || ii >= H || jj >= W) continue;
                size_t xi = ((size_t)(n * ci + c) * H + ii) * W + jj;
                dw[((o * ci + c) * k + r) * k + q] += d * x[xi];
                if (dx) dx[xi] += d * w[((o * ci + c) * k + r) * k + q];
              }
        }
}

/* Training batch norm + ReLU over (N, F, H, W): biased batch variance normalises, the
 * running variance takes the unbiased one (torch.nn.BatchNorm2d). Keeps x̂ and 1/σ. */
static void bn_relu_fwd(const double *x, const double *gm, const double *bt, double *rm,
                        double *rv, double *xhat, double *invstd, double *y) {
  const int m = N * HW;
  for (int c = 0; c < F; c++) {
    double mean = 0, var = 0;
    for (int n = 0; n < N; n++)
      for (int i = 0; i < HW; i++) mean += x[(n * F + c) * HW + i];
    mean /= m;
    for (int n = 0; n < N; n++)
      for (int i = 0; i < HW; i++) {
        double d = x[(n * F + c) * HW + i] - mean;
        var += d * d;
      }
    var /= m;
    invstd[c] = 1.0 / sqrt(var + BN_EPS);
    rm[c] = (1 - BN_MOM) * rm[c] + BN_MOM * mean;
    rv[c] = (1 - BN_MOM) * rv[c] + BN_MOM * var * m / (m - 1);
    for (int n = 0; n < N; n++)
      for (int i = 0; i < HW; i++) {
        int at = (n * F + c) * HW + i;
        xhat[at] = (x[at] - mean) * invstd[c];
        double v = gm[c] * xhat[at] + bt[c];
        y[at] = v > 0 ? v : 0;
      }
  }
}

/* dx = ∂/∂x, dgamma, dbeta += of Σ dy·y through the ReLU and batch norm above. */
static void bn_relu_bwd(const double *y, const double *xhat, const double *invstd,
                        const double *gm, const double *dy, double *dx, double *dg, double *db) {
  const int m = N * HW;
  for (int c = 0; c < F; c++) {
    double s1 = 0, s2 = 0;
    for (int n = 0; n < N; n++)
      for (int i = 0; i < HW; i++) {
        int at = (n * F + c) * HW + i;
        double d = y[at] > 0 ? dy[at] : 0;
        s1 += d;
        s2 += d * xhat[at];
      }
    dg[c] += s2;
    db[c] += s1;
    for (int n = 0; n < N; n++)
      for (int i = 0; i < HW; i++) {
        int at = (n * F + c) * HW + i;
        double d = y[at] > 0 ? dy[at] : 0;
        dx[at] = gm[c] * invstd[c] / m * (m * d - s1 - xhat[at] * s2);
      }
  }
}

typedef struct {
  double x[N * C0 * HW], labels[N * HW], depth[N * HW], zt[N * ZC * HW];
} batch;

typedef struct { /* forward values kept for backward */
  double a1[N * F * HW], xh1[N * F * HW], is1[F], h1[N * F * HW];
  double a2[N * F * HW], xh2[N * F * HW], is2[F], h2[N * F * HW];
  double s[N * NCLS * HW], d[N * HW], z[N * ZC * HW];
  double loss[K];
} fwd;

static void ref_forward(const batch *b, fwd *f) {
  conv_fwd(b->x, C0, P[P_W1].v, NULL, F, 3, f->a1);
  bn_relu_fwd(f->a1, P[P_G1].v, P[P_B1].v, P[P_RM1].v, P[P_RV1].v, f->xh1, f->is1, f->h1);
  conv_fwd(f->h1, F, P[P_W2].v, NULL, F, 3, f->a2);
  bn_relu_fwd(f->a2, P[P_G2].v, P[P_B2].v, P[P_RM2].v, P[P_RV2].v, f->xh2, f->is2, f->h2);
  conv_fwd(f->h2, F, P[P_WS].v, P[P_BS].v, NCLS, 1, f->s);
  conv_fwd(f->h2, F, P[P_WD].v, P[P_BD].v, 1, 1, f->d);
  conv_fwd(f->h2, F, P[P_WZ].v, P[P_BZ].v, ZC, 1, f->z);
  double xe = 0, cnt = 0, l1 = 0, l2 = 0;
  for (int n = 0; n < N; n++)
    for (int i = 0; i < HW; i++) {
      int lab = (int)b->labels[n * HW + i];
      if (lab == 255) continue;
      double top = -INFINITY, sum = 0;
      for (int c = 0; c < NCLS; c++) top = fmax(top, f->s[(n * NCLS + c) * HW + i]);
      for (int c = 0; c < NCLS; c++) sum += exp(f->s[(n * NCLS + c) * HW + i] - top);
      xe += log(sum) + top - f->s[(n * NCLS + lab) * HW + i];
      cnt++;
    }
  for (int i = 0; i < N * HW; i++) l1 += fabs(f->d[i] - b->depth[i]);
  for (int i = 0; i < N * ZC * HW; i++) l2 += (f->z[i] - b->zt[i]) * (f->z[i] - b->zt[i]);
  f->loss[0] = xe / cnt;
  f->loss[1] = l1 / (N * HW);
  f->loss[2] = l2 / (N * ZC * HW);
}

#endif
