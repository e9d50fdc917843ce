/* The training step's collectives over a graph's device buffers (staged through host memory):
 * the hooks the trainer and the weighting call, each a no-op on one rank (NULL or size 1).
 *
 * Losses are means over valid targets, so the ranks' means are not averaged: each rank's sum
 * (mean × count) and count are summed, and every rank's scalars get the global mean and the
 * global count. The loss backward divides by the count it reads there, so each rank's
 * gradient is its share of the global-batch gradient, and the sum over ranks is that
 * gradient exactly (up to float rounding). */
#ifndef CLMTL_DIST_REDUCE_H
#define CLMTL_DIST_REDUCE_H

#include "clmtl/dist.h"
#include "clmtl/graph.h"

/* After the forward: each loss's (value, count) in the graph's scalars become the global mean
 * and the global valid count. Call before the weighting reads them. */
clm_status clm_dist_reduce_losses(clm_dist *d, clm_graph *g);

/* After the backward: the flat gradient buffer summed over the ranks. The task parameters'
 * gradients, written by the weighting from the (already global) losses and equal on every
 * rank, are rank 0's, not summed. */
clm_status clm_dist_reduce_gradients(clm_dist *d, clm_graph *g);

/* t summed over the ranks, in place (GradNorm's per-task gradient at the shared layer). */
clm_status clm_dist_allreduce_tensor(clm_dist *d, clm_context *ctx, const clm_tensor *t);

/* Rank 0's parameters (the task parameters included) and running statistics to every rank:
 * after initialisation and --resume, so that every replica starts identical. */
clm_status clm_dist_broadcast_params(clm_dist *d, clm_graph *g);

/* Running statistics (batch norm's, kept per rank during training) averaged over the ranks:
 * before validation and checkpoints. */
clm_status clm_dist_average_state(clm_dist *d, clm_graph *g);

/* Every rank's parameter buffer compared with rank 0's by FNV-1a hash: CLM_ERR_NUMERIC naming
 * the step, the rank and both hashes when they differ. *hash receives this rank's. */
clm_status clm_dist_check_replicas(clm_dist *d, clm_graph *g, long step, uint64_t *hash);

/* --sync-bn: training-mode batch norm on ctx takes its statistics (and its backward's means)
 * over every rank's batch, as on one device with the global batch: per batch-norm layer and
 * step, one allreduce of 2C+1 doubles in the forward and one in the backward (ops/norm.c). On
 * one rank, per-device statistics as ever. */
void clm_dist_sync_batchnorm(clm_dist *d, clm_context *ctx);

#endif
