/* One training step (step.h): the weighting's preparation, forward, the weighting's gradients
 * (one or several backward passes, src/mtl/binding.c), the optimizer and the weighting's end
 * of step, with the caller's hooks between them; and the epoch's loss sums. All on the
 * device. Not here: how the weighting weighs (src/mtl), the loop around steps (trainer.c),
 * the set-up (session.c). */
#include "clmtl/step.h"
#include "runtime/runtime-impl.h"

static clm_status hook(clm_status (*fn)(void *, clm_graph *), void *user, clm_graph *g) {
  return fn ? fn(user, g) : CLM_OK;
}

clm_status clm_step_run(clm_mtl *m, const clm_optim_config *opt, clm_optim_state *state,
                        const clm_step_hooks *hooks) {
  if (!m || !opt) CLM_FAIL(CLM_ERR_INVALID_ARG, "training step: weighting and optimizer settings required");
  clm_graph *g = clm_mtl_graph(m);
  clm_step_hooks none = {0};
  const clm_step_hooks *h = hooks ? hooks : &none;
  clm_tensor params = clm_graph_params(g), grads = clm_graph_grads(g);
  clm_tensor task = clm_graph_task_params(g), total = clm_mtl_total(m);
  /* the task parameters: their own learning rate, never decayed (host only) */
  if (state && state->n == (size_t)params.w)
    CLM_TRY(clm_optim_state_set_task(state, task.off, (size_t)clm_graph_loss_count(g)));
  CLM_TRY(clm_mtl_begin_step(m));
  CLM_TRY(clm_graph_forward(g));
  CLM_TRY(hook(h->after_forward, h->user, g));
  CLM_TRY(clm_mtl_gradients(m));
  CLM_TRY(hook(h->after_backward, h->user, g));
  CLM_TRY(clm_optim_step(clm_graph_context(g), opt, &params, &grads, state, &total));
  return clm_mtl_end_step(m);
}

clm_status clm_step_accumulate_losses(const clm_graph *g, const clm_tensor *acc) {
  int k = clm_graph_loss_count(g);
  if (!acc || clm_tensor_numel(acc) != 2 * (size_t)k)
    CLM_FAIL(CLM_ERR_SHAPE, "loss accumulator: %d tasks need 2·%d floats", k, k);
  clm_mtl_scalars sc = clm_mtl_scalars_graph(g);
  return clm_launch_1d(clm_graph_context(g), "train", "accumulate_losses", (size_t)k, "tiit",
                       &sc.value, sc.stride, k, acc);
}
