/* GradNorm training against an independent float64 reference written here from Chen et al.
 * 2018: a small network (two conv+bn+relu layers shared, three 1x1 heads: softmax
 * cross-entropy with ignored pixels, L1 and L2), the same initial weights and batches, SGD
 * with momentum (torch.optim.SGD's update). Per step the reference takes G_i = ‖∇_W w_i L_i‖
 * on the last shared convolution's weight W (a full float64 backward per task),
 * L̃_i = L_i / L_i(0), r_i = L̃_i / mean L̃, L_grad = Σ |G_i − Ḡ r_i^α| with the target Ḡ r_i^α
 * a constant, so dL_grad/dw_i = sign(G_i − target_i)·‖∇_W L_i‖; the network steps on
 * ∇ Σ w_i L_i with the weights before the update; then w ← K·w / Σ w. After every step the
 * task losses, task weights, every parameter and the batch-norm running statistics (updated
 * once per step, by the forward) must equal the reference to float32 tolerance, for
 * α = 0, 1.5 and 3. This is the check that failed while GradNorm's extra backward passes read
 * activations the planner had already reused. Once more for α = 1.5 with the clmtl side
 * stopped after step 2 and resumed in a new graph, as --resume does: checkpoint (weights,
 * statistics, optimizer state) plus clm_mtl_state (L(0), step count); recording L(0) again
 * at the resumed step would make step 3 differ from the reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "clmtl/checkpoint.h"
#include "test_util.h"

#define STEPS 5
#include "ref/ref_mtlnet.h"

/* Gradients of Σ seed_i L_i into every parameter's g (+=). */
static void ref_backward(const batch *b, const fwd *f, const double seed[K]) {
  static double ds[N * NCLS * HW], dd[N * HW], dz[N * ZC * HW], dh2[N * F * HW],
      tmp[N * F * HW], da2[N * F * HW], dh1[N * F * HW], da1[N * F * HW];
  double cnt = 0;
  for (int i = 0; i < N * HW; i++) cnt += b->labels[i] != 255;
  for (int n = 0; n < N; n++)
    for (int i = 0; i < HW; i++) {
      int lab = (int)b->labels[n * HW + i];
      double top = -INFINITY, sum = 0;
      for (int c = 0; c < NCLS; c++) top = fmax(top, f->s[(n * NCLS + c) * HW + i]);
      for (int c = 0; c < NCLS; c++) sum += exp(f->s[(n * NCLS + c) * HW + i] - top);
      for (int c = 0; c < NCLS; c++) {
        int at = (n * NCLS + c) * HW + i;
        ds[at] = lab == 255 ? 0 : seed[0] / cnt * (exp(f->s[at] - top) / sum - (c == lab));
      }
    }
  for (int i = 0; i < N * HW; i++) {
    double d = f->d[i] - b->depth[i];
    dd[i] = seed[1] / (N * HW) * (d > 0 ? 1 : d < 0 ? -1 : 0);
  }
  for (int i = 0; i < N * ZC * HW; i++) dz[i] = seed[2] / (N * ZC * HW) * 2 * (f->z[i] - b->zt[i]);
  memset(dh2, 0, sizeof dh2);
  const double *heads[3] = {ds, dd, dz};
  const int hw[3] = {P_WS, P_WD, P_WZ}, hc[3] = {NCLS, 1, ZC};
  for (int t = 0; t < 3; t++) {
    conv_bwd(f->h2, F, P[hw[t]].v, hc[t], 1, heads[t], tmp, P[hw[t]].g, P[hw[t] + 1].g);
    for (int i = 0; i < N * F * HW; i++) dh2[i] += tmp[i];
  }
  bn_relu_bwd(f->h2, f->xh2, f->is2, P[P_G2].v, dh2, da2, P[P_G2].g, P[P_B2].g);
  conv_bwd(f->h1, F, P[P_W2].v, F, 3, da2, dh1, P[P_W2].g, NULL);
  bn_relu_bwd(f->h1, f->xh1, f->is1, P[P_G1].v, dh1, da1, P[P_G1].g, P[P_B1].g);
  conv_bwd(b->x, C0, P[P_W1].v, F, 3, da1, NULL, P[P_W1].g, NULL);
}

static void zero_grads(void) {
  for (int p = 0; p < P_COUNT; p++) memset(P[p].g, 0, sizeof(double) * P[p].n);
}

/* One GradNorm step of the reference: returns the losses of this step in loss[]. */
static void ref_step(const batch *b, double alpha, int t, double *w, double *wbuf, double *l0,
                     double *loss) {
  static fwd f;
  ref_forward(b, &f);
  for (int i = 0; i < K; i++) loss[i] = f.loss[i];
  if (t == 0)
    for (int i = 0; i < K; i++) l0[i] = f.loss[i];
  /* ‖∇_W L_i‖ on W = c2.weight, one float64 backward per task */
  double graw[K], G[K], gbar = 0, lt[K], ltbar = 0;
  for (int i = 0; i < K; i++) {
    double seed[K] = {0};
    seed[i] = 1;
    zero_grads();
    ref_backward(b, &f, seed);
    double ss = 0;
    for (int j = 0; j < P[P_W2].n; j++) ss += P[P_W2].g[j] * P[P_W2].g[j];
    graw[i] = sqrt(ss);
    G[i] = w[i] * graw[i];
    gbar += G[i] / K;
    lt[i] = f.loss[i] / l0[i];
    ltbar += lt[i] / K;
  }
  double dw[K];
  for (int i = 0; i < K; i++) {
    double target = gbar * pow(lt[i] / ltbar, alpha); /* a constant */
    double diff = G[i] - target;
    dw[i] = (diff > 0 ? 1 : diff < 0 ? -1 : 0) * graw[i];
  }
  /* the network on ∇ Σ w_i L_i with the weights before their update */
  zero_grads();
  ref_backward(b, &f, w);
  for (int p = 0; p < P_COUNT; p++) {
    if (P[p].state) continue;
    for (int j = 0; j < P[p].n; j++) {
      double g = P[p].g[j];
      P[p].buf[j] = t == 0 ? g : MOMENTUM * P[p].buf[j] + g;
      P[p].v[j] -= LR * P[p].buf[j];
    }
  }
  double sum = 0;
  for (int i = 0; i < K; i++) {
    wbuf[i] = t == 0 ? dw[i] : MOMENTUM * wbuf[i] + dw[i];
    w[i] -= LR * wbuf[i];
    w[i] = fmax(w[i], 1e-6);
    sum += w[i];
  }
  for (int i = 0; i < K; i++) w[i] = K * w[i] / sum;
}

/* ---- the comparison -------------------------------------------------------------------- */

static void make_batch(test_rng *r, batch *b, float *hx, float *hl, float *hd, float *hz) {
  for (int i = 0; i < N * C0 * HW; i++) b->x[i] = hx[i] = test_uniform(r, -1, 1);
  for (int i = 0; i < N * HW; i++) {
    float u = test_uniform(r, 0, 1);
    hl[i] = u < 0.1f ? 255.0f : (float)((int)(u * 10) % NCLS); /* ~10% ignored */
    b->labels[i] = hl[i];
    b->depth[i] = hd[i] = test_nonzero(r, -2, 2, 0.05f);
  }
  for (int i = 0; i < N * ZC * HW; i++) b->zt[i] = hz[i] = test_uniform(r, -1.5f, 1.5f);
}

/* Max |got - want| / max(max |want|, floor) over one named tensor of the graph. */
static double compare_param(clm_graph *g, clm_context *ctx, const rparam *p, double floor) {
  for (int i = 0; i < clm_graph_named_count(g); i++) {
    const char *name;
    clm_tensor v;
    int is_param;
    if (clm_graph_named(g, i, &name, &v, &is_param) != CLM_OK || strcmp(name, p->name)) continue;
    float *got = test_download(ctx, &v);
    double err = 0, top = floor;
    for (int j = 0; j < p->n; j++) {
      err = fmax(err, fabs(got[j] - p->v[j]));
      top = fmax(top, fabs(p->v[j]));
    }
    free(got);
    return err / top;
  }
  return INFINITY;
}

/* A training graph with GradNorm (alpha) and its optimizer state, parameters from `seed`. */
static clm_status make_rig(clm_context *ctx, double alpha, uint64_t seed, clm_graph **g,
                           clm_mtl **m, clm_optim_state *os) {
  clm_graph_options o = {N, H, W, 1, -1, 0};
  clm_mtl_config cfg;
  clm_status st = clm_graph_create(ctx, g);
  if (st == CLM_OK) st = clm_graph_parse(*g, model, "gradnorm_ref.cfg");
  if (st == CLM_OK) st = clm_graph_set_multi_backward(*g, 1);
  if (st == CLM_OK) st = clm_graph_compile(*g, &o);
  if (st == CLM_OK) st = clm_graph_init_params(*g, seed);
  if (st == CLM_OK) st = clm_mtl_config_for_graph(*g, CLM_MTL_GRADNORM, &cfg);
  cfg.gradnorm_alpha = (float)alpha;
  if (st == CLM_OK) st = clm_mtl_create(*g, &cfg, m);
  if (st == CLM_OK) st = clm_optim_state_init(ctx, clm_graph_params(*g).w, os);
  return st;
}

/* --resume in miniature: checkpoint and weighting state out, a new graph (other initial
 * weights) in, both restored. */
static clm_status resume_rig(clm_context *ctx, double alpha, clm_graph **g, clm_mtl **m,
                             clm_optim_state *os) {
  char path[] = "/tmp/clmtl-gradnorm-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return CLM_ERR_IO;
  close(fd);
  clm_mtl_state ms;
  clm_status st = clm_mtl_state_get(*m, &ms);
  if (st == CLM_OK) st = clm_checkpoint_save(path, *g, os, NULL, NULL, 0);
  clm_optim_state_free(os);
  clm_mtl_free(*m);
  clm_graph_free(*g);
  *m = NULL;
  *g = NULL;
  if (st == CLM_OK) st = make_rig(ctx, alpha, 99, g, m, os);
  if (st == CLM_OK) st = clm_checkpoint_load(path, *g, os, NULL, NULL);
  if (st == CLM_OK) st = clm_mtl_state_set(*m, &ms);
  remove(path);
  return st;
}

static void run_alpha(clm_context *ctx, double alpha, int resume_after) {
  clm_graph *g = NULL;
  clm_mtl *m = NULL;
  clm_optim_state os = {0};
  clm_status st = make_rig(ctx, alpha, 7, &g, &m, &os);
  char name[200];
  snprintf(name, sizeof name, "alpha %g%s: set-up", alpha, resume_after > 0 ? ", resumed" : "");
  test_status(name, st);
  if (st != CLM_OK) { clm_graph_free(g); return; }
  snprintf(name, sizeof name, "alpha %g: the last shared layer is c2", alpha);
  test_true(name, clm_mtl_shared_layer(m) && !strcmp(clm_mtl_shared_layer(m), "c2"),
            clm_mtl_shared_layer(m));
  /* the reference starts from the graph's initial values */
  for (int p = 0; p < P_COUNT; p++) {
    P[p].v = calloc((size_t)P[p].n, sizeof(double));
    P[p].g = calloc((size_t)P[p].n, sizeof(double));
    P[p].buf = calloc((size_t)P[p].n, sizeof(double));
    int found = 0;
    for (int i = 0; i < clm_graph_named_count(g); i++) {
      const char *nm;
      clm_tensor v;
      int is_param;
      if (clm_graph_named(g, i, &nm, &v, &is_param) != CLM_OK || strcmp(nm, P[p].name)) continue;
      float *h = test_download(ctx, &v);
      for (int j = 0; j < P[p].n; j++) P[p].v[j] = h[j];
      free(h);
      found = (int)clm_tensor_numel(&v) == P[p].n;
    }
    if (!found) test_true("reference parameter found in the graph", 0, P[p].name);
  }
  clm_optim_config oc = clm_optim_defaults(CLM_OPTIM_SGD);
  oc.lr = (float)LR;
  oc.momentum = (float)MOMENTUM;
  double w[K] = {1, 1, 1}, wbuf[K] = {0}, l0[K], loss[K];
  test_rng r = test_rng_make(1234);
  static batch b;
  float hx[N * C0 * HW], hl[N * HW], hd[N * HW], hz[N * ZC * HW];
  for (int t = 0; t < STEPS && st == CLM_OK; t++) {
    if (t == resume_after) {
      st = resume_rig(ctx, alpha, &g, &m, &os);
      snprintf(name, sizeof name, "alpha %g: stopped after step %d and resumed", alpha, t);
      test_status(name, st);
      if (st != CLM_OK) break;
    }
    make_batch(&r, &b, hx, hl, hd, hz);
    st = clm_graph_set_input(g, "input", hx);
    if (st == CLM_OK) st = clm_graph_set_input(g, "labels", hl);
    if (st == CLM_OK) st = clm_graph_set_input(g, "depth", hd);
    if (st == CLM_OK) st = clm_graph_set_input(g, "zt", hz);
    if (st == CLM_OK) st = clm_step_run(m, &oc, &os, NULL);
    clm_mtl_snapshot snap;
    if (st == CLM_OK) st = clm_mtl_read(m, &snap);
    snprintf(name, sizeof name, "alpha %g%s step %d", alpha, resume_after > 0 ? " resumed" : "", t + 1);
    test_status(name, st);
    if (st != CLM_OK) break;
    ref_step(&b, alpha, t, w, wbuf, l0, loss);
    double el = 0, ew = 0;
    for (int i = 0; i < K; i++) {
      el = fmax(el, fabs(snap.loss[i] - loss[i]) / fmax(fabs(loss[i]), 1e-3));
      ew = fmax(ew, fabs(snap.param[i] - w[i]));
    }
    snprintf(name, sizeof name, "alpha %g%s step %d: task losses %.5f %.5f %.5f (reference %.5f "
             "%.5f %.5f)", alpha, resume_after > 0 ? " resumed" : "", t + 1, snap.loss[0], snap.loss[1], snap.loss[2], loss[0],
             loss[1], loss[2]);
    test_check(name, el, 2e-5);
    snprintf(name, sizeof name, "alpha %g step %d: task weights %.5f %.5f %.5f (reference %.5f "
             "%.5f %.5f)", alpha, t + 1, snap.param[0], snap.param[1], snap.param[2], w[0], w[1],
             w[2]);
    test_check(name, ew, 2e-5);
    double ep = 0;
    const char *worst = "";
    for (int p = 0; p < P_COUNT; p++) {
      double e = compare_param(g, ctx, &P[p], 1e-2);
      if (e > ep) { ep = e; worst = P[p].name; }
    }
    snprintf(name, sizeof name, "alpha %g step %d: parameters and running statistics (worst %s)",
             alpha, t + 1, worst);
    test_check(name, ep, 1e-4);
  }
  for (int p = 0; p < P_COUNT; p++) {
    free(P[p].v);
    free(P[p].g);
    free(P[p].buf);
  }
  clm_optim_state_free(&os);
  clm_mtl_free(m);
  clm_graph_free(g);
}

/* The planner's side: without multi_backward a second backward after one forward is refused,
 * GradNorm refuses such a graph, and a partial backward names its layer. */
static void test_guards(clm_context *ctx) {
  clm_graph *g = NULL;
  clm_graph_options o = {N, H, W, 1, -1, 0};
  clm_status st = clm_graph_create(ctx, &g);
  if (st == CLM_OK) st = clm_graph_parse(g, model, "gradnorm_ref.cfg");
  if (st == CLM_OK) st = clm_graph_compile(g, &o);
  test_status("guards: set-up", st);
  if (st != CLM_OK) { clm_graph_free(g); return; }
  clm_mtl_config cfg;
  clm_mtl *m = NULL;
  test_status("guards: config", clm_mtl_config_for_graph(g, CLM_MTL_GRADNORM, &cfg));
  test_expect("gradnorm needs a multi-backward graph", clm_mtl_create(g, &cfg, &m),
              CLM_ERR_INVALID_ARG, "clm_graph_set_multi_backward");
  test_expect("multi_backward after compile", clm_graph_set_multi_backward(g, 1),
              CLM_ERR_INVALID_ARG, "before clm_graph_compile");
  test_expect("backward before any forward", clm_graph_backward(g), CLM_ERR_INVALID_ARG,
              "complete forward");
  test_status("forward", clm_graph_forward(g));
  test_status("one backward", clm_graph_backward(g));
  test_expect("a second backward after one forward", clm_graph_backward(g),
              CLM_ERR_INVALID_ARG, "backward pass 2");
  test_status("forward again", clm_graph_forward(g));
  test_expect("partial backward down to an unknown layer",
              clm_graph_backward_partial(g, 1, "nope"), CLM_ERR_NOT_FOUND, "nope");
  test_expect("partial backward for a loss the graph lacks",
              clm_graph_backward_partial(g, 1u << 5, "c2"), CLM_ERR_INVALID_ARG, "mask");
  test_status("partial backward down to c2", clm_graph_backward_partial(g, 1, "c2"));
  clm_graph_free(g);
}

int main(void) {
  clm_context *ctx = test_context();
  const double alphas[3] = {0.0, 1.5, 3.0};
  for (int a = 0; a < 3; a++) run_alpha(ctx, alphas[a], -1);
  run_alpha(ctx, 1.5, 2);
  test_guards(ctx);
  clm_context_free(ctx);
  return test_finish();
}
