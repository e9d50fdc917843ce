/* Optimizers against tests/ref/ref_optim.c (written from torch.optim): several steps of SGD
 * (plain, momentum, Nesterov, weight decay), Adam (plain; weight decay with an eps large
 * enough to matter) and AdamW over n = 1001 parameters at buffer offsets, comparing the
 * parameters' displacement, the moments and the device step counter. The guard: NaN and Inf
 * leave params, moments and counter bit-identical, both on fresh state (the next step is
 * still the first) and mid-run. Parameter groups: SGD with momentum (and Nesterov), Adam and
 * AdamW with a random weight-decay mask and a task range with its own learning rate, against
 * a float64 reference written here from the torch.optim update formulas, per parameter with
 * its own lr and decay. Also defaults, name parsing and argument errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ops/ops.h"
#include "ref/ref_optim.h"
#include "test_util.h"

#define N_PARAMS 1001
#define STEPS 5
#define TOL 1e-5 /* float device update vs double reference, over STEPS steps */

typedef struct opt_case {
  const char *name;
  clm_optim_config cfg;
  float grad_scale; /* gradients uniform in ±grad_scale */
} opt_case;

/* Params, m, v and step counter, for bit-identity checks. */
typedef struct snapshot { float *p, *m, *v, step; } snapshot;

static snapshot take(clm_context *ctx, const clm_tensor *params, const clm_optim_state *s) {
  snapshot sn = {test_download(ctx, params), test_download(ctx, &s->m),
                 test_download(ctx, &s->v), 0};
  float *st = test_download(ctx, &s->step);
  sn.step = st[0];
  free(st);
  return sn;
}

static int same(const snapshot *a, const snapshot *b, size_t n) {
  return !memcmp(a->p, b->p, n * sizeof(float)) && !memcmp(a->m, b->m, n * sizeof(float)) &&
         !memcmp(a->v, b->v, n * sizeof(float)) && !memcmp(&a->step, &b->step, sizeof(float));
}

static void drop(snapshot *s) {
  free(s->p);
  free(s->m);
  free(s->v);
}

/* Steps with a NaN then an Inf guard; both must leave everything bit-identical. */
static void check_guard(clm_context *ctx, const opt_case *oc, const clm_tensor *params,
                        const clm_tensor *grads, clm_optim_state *s, const char *when) {
  float bad[2] = {NAN, INFINITY};
  const char *bad_names[2] = {"NaN", "Inf"};
  for (int i = 0; i < 2; i++) {
    clm_tensor guard = test_tensor(ctx, 1, 1, 1, 1, &bad[i]);
    snapshot before = take(ctx, params, s);
    test_status("guarded step", clm_optim_step(ctx, &oc->cfg, params, grads, s, &guard));
    snapshot after = take(ctx, params, s);
    char name[160];
    snprintf(name, sizeof name, "%s: %s guard %s leaves params, moments, step bit-identical",
             oc->name, bad_names[i], when);
    test_true(name, same(&before, &after, s->n), NULL);
    drop(&before);
    drop(&after);
    test_tensor_free(ctx, &guard);
  }
}

static void run_case(clm_context *ctx, const opt_case *oc, uint64_t seed) {
  test_rng rng = test_rng_make(seed);
  const size_t n = N_PARAMS;
  const clm_optim_config *c = &oc->cfg;
  float *p = malloc(n * sizeof *p), *p0 = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
  float *m = calloc(n, sizeof *m), *v = calloc(n, sizeof *v);
  float *got_d = malloc(n * sizeof *p), *want_d = malloc(n * sizeof *p);
  if (!p || !p0 || !g || !m || !v || !got_d || !want_d) { fprintf(stderr, "oom\n"); exit(1); }
  test_fill(&rng, p, n, -1, 1);
  memcpy(p0, p, n * sizeof *p);
  clm_tensor params = test_tensor(ctx, 1, 1, 1, (int)n, p);
  clm_tensor grads = test_tensor_at(ctx, 13, 1, 1, 1, (int)n, NULL);
  float one = 1.0f;
  clm_tensor finite_guard = test_tensor(ctx, 1, 1, 1, 1, &one);
  clm_optim_state s;
  test_status("state init", clm_optim_state_init(ctx, n, &s));
  float zero = 0;
  test_upload(ctx, &s.step, &zero); /* rewrites the whole state buffer, for oclgrind (see put) */

  check_guard(ctx, oc, &params, &grads, &s, "on fresh state");
  for (int t = 1; t <= STEPS; t++) {
    test_fill(&rng, g, n, -oc->grad_scale, oc->grad_scale);
    test_upload(ctx, &grads, g);
    /* alternate between no guard and a finite one: both must update */
    test_status("step", clm_optim_step(ctx, c, &params, &grads, &s, t % 2 ? NULL : &finite_guard));
    if (c->kind == CLM_OPTIM_SGD)
      ref_sgd_step(n, p, g, m, c->lr, c->momentum, c->nesterov, c->weight_decay, t == 1);
    else
      ref_adam_step(n, p, g, m, v, t, c->lr, c->beta1, c->beta2, c->eps, c->weight_decay,
                    c->kind == CLM_OPTIM_ADAMW);
    if (t == 2) check_guard(ctx, oc, &params, &grads, &s, "mid-run");
  }

  char name[160];
  float *gp = test_download(ctx, &params), *gm = test_download(ctx, &s.m);
  float *gv = test_download(ctx, &s.v);
  float *gs = test_download(ctx, &s.step);
  for (size_t i = 0; i < n; i++) {
    got_d[i] = gp[i] - p0[i];
    want_d[i] = p[i] - p0[i];
  }
  snprintf(name, sizeof name, "%s: parameter displacement after %d steps", oc->name, STEPS);
  test_check(name, test_rel_error(got_d, want_d, n, 1e-6), TOL);
  snprintf(name, sizeof name, "%s: parameters after %d steps", oc->name, STEPS);
  test_check(name, test_rel_error(gp, p, n, 1e-6), TOL);
  if (c->kind != CLM_OPTIM_SGD || c->momentum != 0) {
    snprintf(name, sizeof name, "%s: first moment / momentum buffer", oc->name);
    test_check(name, test_rel_error(gm, m, n, 1e-6), TOL);
  }
  if (c->kind != CLM_OPTIM_SGD) {
    snprintf(name, sizeof name, "%s: second moment", oc->name);
    test_check(name, test_rel_error(gv, v, n, 1e-6), TOL);
  }
  char detail[64];
  snprintf(detail, sizeof detail, "step %g, want %d (guarded steps not counted)", gs[0], STEPS);
  snprintf(name, sizeof name, "%s: device step counter", oc->name);
  test_true(name, gs[0] == (float)STEPS, detail);

  free(gp); free(gm); free(gv); free(gs);
  clm_optim_state_free(&s);
  test_tensor_free(ctx, &params);
  test_tensor_free(ctx, &grads);
  test_tensor_free(ctx, &finite_guard);
  free(p); free(p0); free(g); free(m); free(v); free(got_d); free(want_d);
}

static clm_optim_config sgd(float lr, float momentum, int nesterov, float wd) {
  clm_optim_config c = clm_optim_defaults(CLM_OPTIM_SGD);
  c.lr = lr;
  c.momentum = momentum;
  c.nesterov = nesterov;
  c.weight_decay = wd;
  return c;
}

static clm_optim_config adam(clm_optim_kind kind, float lr, float eps, float wd) {
  clm_optim_config c = clm_optim_defaults(kind);
  c.lr = lr;
  c.eps = eps;
  c.weight_decay = wd;
  return c;
}

/* One torch.optim step in float64 for parameter i with its own lr and weight decay: SGD
 * (d = g + wd p; buf = d at t = 1, else momentum buf + d; d = d + momentum buf (Nesterov) or
 * buf; p -= lr d), Adam (d = g + wd p) and AdamW (p *= 1 - lr wd; d = g): m = b1 m + (1-b1) d,
 * v = b2 v + (1-b2) d², p -= lr/(1-b1^t) · m / (sqrt(v)/sqrt(1-b2^t) + eps). */
static void ref_group_step(const clm_optim_config *c, int t, double lr, double wd, double *p,
                           double g, double *m, double *v) {
  if (c->kind == CLM_OPTIM_SGD) {
    double d = g + wd * *p;
    if (c->momentum != 0) {
      *m = t == 1 ? d : c->momentum * *m + d;
      d = c->nesterov ? d + c->momentum * *m : *m;
    }
    *p -= lr * d;
    return;
  }
  double d = g;
  if (c->kind == CLM_OPTIM_ADAMW) *p *= 1 - lr * wd;
  else d += wd * *p;
  *m = c->beta1 * *m + (1 - c->beta1) * d;
  *v = c->beta2 * *v + (1 - c->beta2) * d * d;
  double bc1 = 1 - pow(c->beta1, t), bc2 = 1 - pow(c->beta2, t);
  *p -= lr / bc1 * (*m / (sqrt(*v) / sqrt(bc2) + c->eps));
}

/* Groups in one launch: a random third of the parameters exempt from decay, a task range
 * [T0, T1) across a 16-parameter boundary with task_lr, the tail past the last full group. */
static void run_groups(clm_context *ctx, const char *label, clm_optim_config c, uint64_t seed) {
  enum { n = 1001, T0 = 500, T1 = 521 };
  test_rng rng = test_rng_make(seed);
  float *p = test_random(&rng, n, -1, 1), *g = test_alloc(n);
  double *rp = calloc(n, sizeof *rp), *rm = calloc(n, sizeof *rm), *rv = calloc(n, sizeof *rv);
  unsigned char decay[n];
  for (int i = 0; i < n; i++) {
    rp[i] = p[i];
    decay[i] = test_uniform(&rng, 0, 1) > 0.33f;
  }
  c.task_lr = 3.0f * c.lr;
  clm_tensor params = test_tensor(ctx, 1, 1, 1, n, p);
  clm_tensor grads = test_tensor_at(ctx, 5, 1, 1, 1, n, NULL);
  clm_optim_state s;
  test_status("groups: state init", clm_optim_state_init(ctx, n, &s));
  float zero = 0;
  test_upload(ctx, &s.step, &zero); /* whole buffer written once, for oclgrind */
  test_status("groups: decay mask", clm_optim_state_set_decay(ctx, &s, decay));
  test_status("groups: task range", clm_optim_state_set_task(&s, T0, T1 - T0));
  for (int t = 1; t <= STEPS; t++) {
    test_fill(&rng, g, n, -1, 1);
    test_upload(ctx, &grads, g);
    test_status("groups: step", clm_optim_step(ctx, &c, &params, &grads, &s, NULL));
    for (int i = 0; i < n; i++) {
      int task = i >= T0 && i < T1;
      ref_group_step(&c, t, task ? c.task_lr : c.lr, task || !decay[i] ? 0 : c.weight_decay,
                     &rp[i], g[i], &rm[i], &rv[i]);
    }
  }
  float *got = test_download(ctx, &params);
  double err = 0, top = 1e-6, dt = 0, dtop = 1e-6;
  for (int i = 0; i < n; i++) {
    err = fmax(err, fabs(got[i] - rp[i]));
    top = fmax(top, fabs(rp[i]));
    dt = fmax(dt, fabs((got[i] - p[i]) - (rp[i] - p[i])));
    dtop = fmax(dtop, fabs(rp[i] - p[i]));
  }
  char name[200];
  snprintf(name, sizeof name, "%s, decay mask and task lr: parameters after %d steps", label, STEPS);
  test_check(name, err / top, TOL);
  snprintf(name, sizeof name, "%s, decay mask and task lr: displacement after %d steps", label, STEPS);
  test_check(name, dt / dtop, TOL);
  clm_optim_state_free(&s);
  test_tensor_free(ctx, &params);
  test_tensor_free(ctx, &grads);
  free(p); free(g); free(got); free(rp); free(rm); free(rv);
}

static void test_api(clm_context *ctx) {
  clm_optim_config d = clm_optim_defaults(CLM_OPTIM_SGD);
  test_true("sgd defaults (lr 1e-2, momentum 0.9, no decay)",
            d.kind == CLM_OPTIM_SGD && d.lr == 1e-2f && d.momentum == 0.9f && !d.nesterov &&
                d.weight_decay == 0, NULL);
  d = clm_optim_defaults(CLM_OPTIM_ADAM);
  test_true("adam defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8, no decay)",
            d.lr == 1e-3f && d.beta1 == 0.9f && d.beta2 == 0.999f && d.eps == 1e-8f &&
                d.weight_decay == 0, NULL);
  d = clm_optim_defaults(CLM_OPTIM_ADAMW);
  test_true("adamw defaults (weight decay 1e-2)", d.lr == 1e-3f && d.weight_decay == 1e-2f, NULL);

  const char *names[] = {"sgd", "adam", "adamw"};
  for (int i = 0; i < 3; i++) {
    clm_optim_kind k = (clm_optim_kind)-1;
    test_true("parse known name", clm_optim_parse(names[i], &k) == CLM_OK && (int)k == i, names[i]);
  }
  clm_optim_kind k;
  clm_status st = clm_optim_parse("rmsprop", &k);
  test_true("unknown optimizer is INVALID_ARG", st == CLM_ERR_INVALID_ARG, clm_last_error());
  test_true("and lists the known ones",
            strstr(clm_last_error(), "sgd") && strstr(clm_last_error(), "adamw") &&
                strstr(clm_last_error(), "rmsprop"), clm_last_error());

  clm_optim_state s;
  test_status("state init", clm_optim_state_init(ctx, 7, &s));
  clm_tensor p = test_tensor(ctx, 1, 1, 1, 8, NULL), g = test_tensor(ctx, 1, 1, 1, 7, NULL);
  clm_optim_config c = clm_optim_defaults(CLM_OPTIM_ADAM);
  st = clm_optim_step(ctx, &c, &p, &g, &s, NULL);
  test_true("params of the wrong size is a SHAPE error", st == CLM_ERR_SHAPE, clm_last_error());
  c.kind = (clm_optim_kind)9;
  st = clm_optim_step(ctx, &c, &g, &g, &s, NULL);
  test_true("unknown kind is INVALID_ARG", st == CLM_ERR_INVALID_ARG, clm_last_error());
  c = clm_optim_defaults(CLM_OPTIM_ADAM);
  c.beta2 = 1.0f;
  st = clm_optim_step(ctx, &c, &g, &g, &s, NULL);
  test_true("beta2 = 1 is INVALID_ARG", st == CLM_ERR_INVALID_ARG, clm_last_error());
  c = clm_optim_defaults(CLM_OPTIM_ADAM);
  c.task_lr = -1;
  test_expect("negative task lr", clm_optim_step(ctx, &c, &g, &g, &s, NULL), CLM_ERR_INVALID_ARG,
              "task lr");
  test_expect("task range past the parameters", clm_optim_state_set_task(&s, 5, 3),
              CLM_ERR_INVALID_ARG, "outside");
  clm_optim_state_free(&s);
  clm_optim_state_free(&s); /* freed state is empty: a second free does nothing */
  clm_optim_state_free(NULL);
  test_true("state free twice and free(NULL) are harmless", 1, NULL);
  test_tensor_free(ctx, &p);
  test_tensor_free(ctx, &g);
}

int main(void) {
  clm_context *ctx = test_context();
  printf("n = %d parameters, %d steps; tolerance %g relative to the largest value\n", N_PARAMS,
         STEPS, TOL);
  const opt_case cases[] = {
      {"sgd", sgd(0.1f, 0, 0, 0), 1},
      {"sgd momentum", sgd(0.05f, 0.9f, 0, 0), 1},
      {"sgd nesterov", sgd(0.05f, 0.9f, 1, 0), 1},
      {"sgd momentum + weight decay", sgd(0.05f, 0.8f, 0, 0.1f), 1},
      {"sgd nesterov + weight decay", sgd(0.05f, 0.9f, 1, 0.05f), 1},
      {"adam", adam(CLM_OPTIM_ADAM, 0.02f, 1e-8f, 0), 1},
      {"adam + L2 decay, eps 1e-2 on small grads", adam(CLM_OPTIM_ADAM, 0.02f, 1e-2f, 0.1f), 0.02f},
      {"adamw", adam(CLM_OPTIM_ADAMW, 0.02f, 1e-8f, 0.1f), 1},
      {"adamw, eps 1e-2 on small grads", adam(CLM_OPTIM_ADAMW, 0.02f, 1e-2f, 0.05f), 0.02f},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(ctx, &cases[i], 100 + i);
  run_groups(ctx, "sgd momentum + weight decay", sgd(0.05f, 0.9f, 0, 0.1f), 200);
  run_groups(ctx, "sgd nesterov + weight decay", sgd(0.05f, 0.9f, 1, 0.1f), 201);
  run_groups(ctx, "adam + L2 decay", adam(CLM_OPTIM_ADAM, 0.02f, 1e-3f, 0.1f), 202);
  run_groups(ctx, "adamw", adam(CLM_OPTIM_ADAMW, 0.02f, 1e-8f, 0.1f), 203);
  test_api(ctx);
  clm_context_free(ctx);
  return test_finish();
}
