/* mixture_tree: the truncated driver of the mixture sums over a k-d tree (mixture_tree.c).
 * Internal to the estimators; called by mixture.c. */
#ifndef IFLOW_MIXTURE_TREE_H
#define IFLOW_MIXTURE_TREE_H

#include "mixture_kernel.h"

/* Fills stats for the query centres of cx->p with every ln within cx->p->tolerance of its exact
 * value. Builds and frees its own k-d tree; leaves cx's query blocks (blk_*) for the caller to
 * gather over MPI ranks and free. 0 or IFLOW_ENOMEM. */
int iflow_mix_run_truncated(mc_ctx *cx, iflow_mix_stats *stats);

#endif
