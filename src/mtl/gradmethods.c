/* The gradient methods bound to a training graph (include/clmtl/mtl.h, "Gradient methods"):
 * which parameters are shared (two or more losses depend on their node) and which belong to
 * one task, the per-task backward passes that move each task's shared gradient into its row
 * of a K×S device buffer (or, for mgda-ub, each task's gradient at the shared
 * representation), the K×K Gram on the device, one read, the solve on the host
 * (gradsolve.c) and the combined gradient written back by one kernel per range. Over several
 * ranks the rows (mgda-ub: the Grams) and the task-specific gradients are summed over the
 * ranks, and rank 0's solve is every rank's. Kernels:
 * cl/gradmethods.cl. Not here: the weighted total (weighting.c), the optimizer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "dist/reduce.h"
#include "gradmethods-impl.h"
#include "ops/ops.h"

/* Stage-1 Gram work-groups per pair at most. */
#define GRAM_MAX_GROUPS 64

typedef struct gm_range {
  size_t goff; /* in the flat gradient */
  size_t roff; /* in a packed row (or the mgda save buffer) */
  size_t n;
} gm_range;

struct clm_gm {
  clm_graph *g;
  clm_context *ctx; /* g's */
  clm_mtl_config cfg;
  int K;
  gm_range *shared;  /* the shared parameters' ranges (not mgda-ub) */
  int nshared;
  gm_range *keep;    /* mgda-ub: task-specific ranges behind the representation */
  int nkeep;
  size_t len;        /* floats per row: shared parameters, or the representation */
  size_t keep_floats;
  int rep;           /* mgda-ub: node index of the shared representation Z */
  const char *rep_name;
  clm_tensor zgrad;  /* its gradient */
  clm_mem rows;      /* K × len */
  clm_mem save;      /* mgda-ub: keep_floats */
  clm_mem small;     /* gram (K·K), alpha (K), partials */
  clm_tensor gram, alpha, part;
  int groups;        /* Gram stage-1 groups per pair */
  clm_dist *dist;    /* NULL or one rank: a single device */
};

static int bitcount(unsigned r) {
  int b = 0;
  for (; r; r &= r - 1) b++;
  return b;
}

static int range_cmp(const void *a, const void *b) {
  const gm_range *x = a, *y = b;
  return x->goff < y->goff ? -1 : x->goff > y->goff;
}

/* Ranges of the trained parameters of nodes with pick[i] set, sorted, adjacent ones merged,
 * packed offsets assigned; *total their floats. */
static clm_status collect(const clm_graph *g, const unsigned char *pick, gm_range **out, int *nout,
                          size_t *total) {
  int cap = clm_graph_named_count(g);
  gm_range *r = calloc((size_t)cap + 1, sizeof *r);
  if (!r) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  int n = 0;
  for (int i = 0; i < cap; i++) {
    clm_named_tensor p;
    clm_status st = clm_graph_named_info(g, i, &p);
    if (st != CLM_OK) { free(r); return st; }
    if (!pick[p.node] || p.is_task_param || !p.is_param) continue;
    r[n].goff = p.view.off;
    r[n].n = clm_tensor_numel(&p.view);
    n++;
  }
  qsort(r, (size_t)n, sizeof *r, range_cmp);
  int m = 0;
  for (int i = 0; i < n; i++) {
    if (m > 0 && r[m - 1].goff + r[m - 1].n == r[i].goff) r[m - 1].n += r[i].n;
    else r[m++] = r[i];
  }
  size_t off = 0;
  for (int i = 0; i < m; i++) {
    r[i].roff = off;
    off += r[i].n;
  }
  *out = r;
  *nout = m;
  *total = off;
  return CLM_OK;
}

/* The compiled graph's nodes (clm_graph_node), *out malloc'd. */
static clm_status node_list(const clm_graph *g, clm_graph_node_info **out, int *count) {
  int n = clm_graph_node_count(g);
  clm_graph_node_info *nd = calloc((size_t)n + 1, sizeof *nd);
  if (!nd) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  for (int i = 0; i < n; i++) {
    clm_status st = clm_graph_node(g, i, &nd[i]);
    if (st != CLM_OK) { free(nd); return st; }
  }
  *out = nd;
  *count = n;
  return CLM_OK;
}

static clm_status setup(clm_gm *gm) {
  clm_graph *g = gm->g;
  clm_graph_node_info *nodes = NULL;
  int nn = 0;
  CLM_TRY(node_list(g, &nodes, &nn));
  unsigned char *pick = calloc((size_t)nn + 1, 1);
  clm_status st = CLM_OK;
  if (!pick) st = CLM_ERROR(CLM_ERR_HOST_MEMORY, "out of host memory");
  if (st == CLM_OK && gm->cfg.strategy == CLM_MTL_MGDA_UB) {
    gm->rep = -1; /* the last node two or more losses depend on */
    for (int i = 0; i < nn; i++)
      if (bitcount(nodes[i].losses) >= 2 && nodes[i].in_backward && nodes[i].loss < 0) gm->rep = i;
    if (gm->rep < 0)
      st = CLM_ERROR(CLM_ERR_INVALID_ARG, "mgda-ub needs a layer shared by two or more losses; "
                     "the model has none");
    if (st == CLM_OK) {
      const clm_graph_node_info *z = &nodes[gm->rep];
      gm->zgrad = z->grad;
      gm->rep_name = z->name;
      gm->len = (size_t)z->n * z->c * z->h * z->w;
      if (!gm->zgrad.buf)
        st = CLM_ERROR(CLM_ERR_INVALID_ARG, "mgda-ub: the shared representation '%s' has no "
                       "gradient tensor", z->name);
      /* keep: one task's parameters on nodes that descend from Z */
      unsigned char *desc = pick;
      for (int i = 0; i < nn && st == CLM_OK; i++) {
        desc[i] = i == gm->rep;
        for (int j = 0; j < nodes[i].ninputs && !desc[i]; j++) desc[i] = desc[nodes[i].inputs[j]] != 0;
      }
      for (int i = 0; i < nn; i++) desc[i] = desc[i] && bitcount(nodes[i].losses) == 1;
      if (st == CLM_OK) st = collect(g, desc, &gm->keep, &gm->nkeep, &gm->keep_floats);
    }
  } else if (st == CLM_OK) {
    for (int i = 0; i < nn; i++) pick[i] = bitcount(nodes[i].losses) >= 2;
    st = collect(g, pick, &gm->shared, &gm->nshared, &gm->len);
    if (st == CLM_OK && gm->len == 0)
      st = CLM_ERROR(CLM_ERR_INVALID_ARG, "%s needs parameters shared by two or more losses; "
                     "the model has none", clm_mtl_strategy_name(gm->cfg.strategy));
  }
  free(nodes);
  free(pick);
  return st;
}

clm_status clm_gm_create(clm_graph *g, const clm_mtl_config *cfg, clm_gm **out) {
  *out = NULL;
  if (!clm_graph_multi_backward(g))
    CLM_FAIL(CLM_ERR_INVALID_ARG, "%s takes one backward pass per task after each forward: "
             "call clm_graph_set_multi_backward(g, 1) before compiling the graph",
             clm_mtl_strategy_name(cfg->strategy));
  clm_gm *gm = calloc(1, sizeof *gm);
  if (!gm) CLM_FAIL(CLM_ERR_HOST_MEMORY, "out of host memory");
  gm->g = g;
  gm->ctx = clm_graph_context(g);
  gm->cfg = *cfg;
  gm->K = cfg->ntasks;
  gm->rep = -1;
  clm_status st = setup(gm);
  size_t k = (size_t)gm->K;
  if (st == CLM_OK && (gm->len > (size_t)0x7fffffff / k))
    st = CLM_ERROR(CLM_ERR_SHAPE, "%s: %d rows of %zu floats exceed the int range kernels index "
                   "with", clm_mtl_strategy_name(cfg->strategy), gm->K, gm->len);
  size_t groups = (gm->len + 255) / 256;
  gm->groups = (int)(groups < 1 ? 1 : groups > GRAM_MAX_GROUPS ? GRAM_MAX_GROUPS : groups);
  if (st == CLM_OK) st = clm_buffer_alloc(gm->ctx, k * gm->len, &gm->rows);
  if (st == CLM_OK && gm->keep_floats) st = clm_buffer_alloc(gm->ctx, gm->keep_floats, &gm->save);
  if (st == CLM_OK)
    st = clm_buffer_alloc(gm->ctx, k * k + k + k * k * (size_t)gm->groups, &gm->small);
  if (st != CLM_OK) {
    clm_gm_free(gm);
    return st;
  }
  gm->gram = clm_tensor_view(gm->small, 0, 1, 1, 1, (int)(k * k));
  gm->alpha = clm_tensor_view(gm->small, k * k, 1, 1, 1, (int)k);
  gm->part = clm_tensor_view(gm->small, k * k + k, 1, 1, 1, (int)(k * k * (size_t)gm->groups));
  *out = gm;
  return CLM_OK;
}

void clm_gm_free(clm_gm *gm) {
  if (!gm) return;
  clm_buffer_free(clm_graph_context(gm->g), gm->rows);
  clm_buffer_free(clm_graph_context(gm->g), gm->save);
  clm_buffer_free(clm_graph_context(gm->g), gm->small);
  free(gm->shared);
  free(gm->keep);
  free(gm);
}

void clm_gm_set_dist(clm_gm *gm, clm_dist *d) {
  gm->dist = d;
}

const char *clm_gm_rep_name(const clm_gm *gm) {
  return gm && gm->rep >= 0 ? gm->rep_name : NULL;
}

void clm_gm_cost(const clm_gm *gm, size_t *bytes, int *passes) {
  size_t k = (size_t)gm->K;
  *bytes = sizeof(float) * (k * gm->len + gm->keep_floats + k * k + k +
                            k * k * (size_t)gm->groups);
  *passes = gm->cfg.strategy == CLM_MTL_MGDA_UB ? gm->K : gm->K - 1;
}

/* Moves (clear) or copies n floats between two buffers. */
static clm_status take(clm_gm *gm, clm_mem src, size_t soff, clm_mem dst, size_t doff, size_t n,
                       int clear) {
  clm_tensor s = clm_tensor_view(src, soff, 1, 1, 1, (int)n);
  clm_tensor d = clm_tensor_view(dst, doff, 1, 1, 1, (int)n);
  return clm_launch_1d(gm->ctx, "gradmethods", "gm_take", n, "ttii", &s, &d, (int)n, clear);
}

/* gram = rows · rowsᵀ (K×K), two deterministic stages over a (chunk, i, j) grid. */
static clm_status gram(clm_gm *gm) {
  static const char *const names[] = {"gm_gram_partial", "gm_gram_final"};
  cl_kernel kk[2];
  size_t wg;
  CLM_TRY(clm_tree_kernels(gm->ctx, "gradmethods", "GM_WG", 2, names, kk, &wg));
  size_t k = (size_t)gm->K;
  clm_tensor rows = clm_tensor_view(gm->rows, 0, 1, 1, 1, 1);
  size_t global[3] = {(size_t)gm->groups * wg, k, k}, fglobal[3] = {wg, k, k};
  size_t local[3] = {wg, 1, 1};
  CLM_TRY(clm_kernel_args(kk[0], "tiiit", &rows, (int)gm->len, gm->K, gm->groups, &gm->part));
  CLM_TRY(clm_kernel_launch(gm->ctx, kk[0], 3, global, local));
  CLM_TRY(clm_kernel_args(kk[1], "tiit", &gm->part, gm->K, gm->groups, &gm->gram));
  return clm_kernel_launch(gm->ctx, kk[1], 3, fglobal, local);
}

/* Reads the Gram, solves on the host, uploads α into gm->alpha and `weights`; *bad = 1 when
 * a coefficient is not finite (a Gram entry overflowed or was NaN). */
static clm_status solve(clm_gm *gm, long step, const int *active, const clm_tensor *weights,
                        int *bad) {
  int k = gm->K;
  float hg[CLM_MTL_MAX_TASKS * CLM_MTL_MAX_TASKS], ha[CLM_MTL_MAX_TASKS];
  double dg[CLM_MTL_MAX_TASKS * CLM_MTL_MAX_TASKS], da[CLM_MTL_MAX_TASKS];
  CLM_TRY(clm_tensor_download(gm->ctx, &gm->gram, hg));
  for (int i = 0; i < k * k; i++) dg[i] = hg[i];
  /* mgda-ub's rows are this rank's samples' share of the representation's gradient: the
   * global rows are the ranks' rows side by side, so the global Gram is the sum of the
   * ranks' Grams */
  if (gm->cfg.strategy == CLM_MTL_MGDA_UB) CLM_TRY(clm_dist_allreduce_double(gm->dist, dg, (size_t)(k * k)));
  /* rank 0 solves and sends α: every rank combines with the same coefficients, whatever its
   * device's rounding of the Gram (and pcgrad's order is drawn once) */
  if (clm_dist_rank(gm->dist) == 0) CLM_TRY(clm_gm_solve(&gm->cfg, step, dg, active, da));
  CLM_TRY(clm_dist_broadcast(gm->dist, da, (size_t)k * sizeof *da, 0));
  *bad = 0;
  for (int i = 0; i < k; i++) {
    ha[i] = (float)da[i];
    *bad |= !isfinite(ha[i]);
  }
  CLM_TRY(clm_tensor_upload(gm->ctx, &gm->alpha, ha));
  if (weights && clm_tensor_present(weights)) CLM_TRY(clm_tensor_upload(gm->ctx, weights, ha));
  return CLM_OK;
}

clm_status clm_gm_gradients(clm_gm *gm, long step, const clm_tensor *weights, int *nonfinite) {
  clm_graph *g = gm->g;
  clm_mem grads = clm_graph_grads(g).buf;
  int k = gm->K, active[CLM_MTL_MAX_TASKS];
  float scal[3 * CLM_MTL_MAX_TASKS];
  clm_tensor sv = clm_graph_loss_scalars(g);
  CLM_TRY(clm_tensor_download(gm->ctx, &sv, scal)); /* the one read of the losses' counts */
  clm_mtl_scalars sc = clm_mtl_scalars_graph(g);
  int mgda = gm->cfg.strategy == CLM_MTL_MGDA_UB;
  clm_tensor allrows = clm_tensor_view(gm->rows, 0, 1, 1, 1, (int)(k * gm->len));
  CLM_TRY(clm_tensor_fill(gm->ctx, &allrows, 0.0f));
  CLM_TRY(clm_graph_zero_grad(g));
  for (int i = 0; i < k; i++) {
    active[i] = scal[3 * i + 1] > 0;
    if (!active[i]) continue;
    CLM_TRY(clm_launch_1d(gm->ctx, "train", "seed_onehot", (size_t)k, "tiii", &sc.seed, sc.stride,
                          k, i));
    size_t row = (size_t)i * gm->len;
    if (mgda) {
      CLM_TRY(clm_graph_backward_to_node(g, 1u << i, gm->rep));
      CLM_TRY(take(gm, gm->zgrad.buf, gm->zgrad.off, gm->rows, row, gm->len, 0));
    } else {
      /* task-specific gradients accumulate their own task's; shared ones move to row i */
      CLM_TRY(clm_graph_backward_to_node(g, 1u << i, -1));
      for (int r = 0; r < gm->nshared; r++)
        CLM_TRY(take(gm, grads, gm->shared[r].goff, gm->rows, row + gm->shared[r].roff,
                     gm->shared[r].n, 1));
    }
  }
  if (!mgda) {
    /* over several ranks: each row, and the task-specific gradients left in the flat buffer,
     * summed into the global batch's before the Gram, so every rank solves the same problem
     * (the shared ranges there are 0 after the moves; the task parameters' are rank 0's) */
    CLM_TRY(clm_dist_allreduce_tensor(gm->dist, gm->ctx, &allrows));
    CLM_TRY(clm_dist_reduce_gradients(gm->dist, g));
  }
  CLM_TRY(gram(gm));
  CLM_TRY(solve(gm, step, active, weights, nonfinite));
  if (mgda) {
    /* the heads keep their own gradients; everything else from one backward with seeds α */
    for (int r = 0; r < gm->nkeep; r++)
      CLM_TRY(take(gm, grads, gm->keep[r].goff, gm->save, gm->keep[r].roff, gm->keep[r].n, 0));
    CLM_TRY(clm_graph_zero_grad(g));
    CLM_TRY(clm_launch_1d(gm->ctx, "gradmethods", "gm_seeds", (size_t)k, "tiit", &sc.seed,
                          sc.stride, k, &gm->alpha));
    CLM_TRY(clm_graph_backward(g));
    for (int r = 0; r < gm->nkeep; r++)
      CLM_TRY(take(gm, gm->save, gm->keep[r].roff, grads, gm->keep[r].goff, gm->keep[r].n, 0));
    return clm_dist_reduce_gradients(gm->dist, g); /* every rank: the global-batch gradient */
  }
  for (int r = 0; r < gm->nshared; r++) {
    clm_tensor rr = clm_tensor_view(gm->rows, gm->shared[r].roff, 1, 1, 1, 1);
    clm_tensor out = clm_tensor_view(grads, gm->shared[r].goff, 1, 1, 1, 1);
    CLM_TRY(clm_launch_1d(gm->ctx, "gradmethods", "gm_combine", gm->shared[r].n, "tiitti", &rr,
                          (int)gm->len, k, &gm->alpha, &out, (int)gm->shared[r].n));
  }
  return CLM_OK;
}
