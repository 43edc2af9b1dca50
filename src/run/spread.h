/* spread: the (item, layer) units of a measurement dealt to the ranks of an MPI job (dist.h),
 * and their results gathered on rank 0. Internal header. */
#ifndef IFLOW_SPREAD_H
#define IFLOW_SPREAD_H

#include <stddef.h>

#include "infoflow/error.h"
#include "infoflow/mi.h"

/* Measures the layers listed in mi->layers (layer_mask_n of them) of item `item` (e.g. an
 * epoch): fills out[l - 1] for each, as iflow_mi_measure does. */
typedef int (*spread_unit_fn)(void *user, size_t item, const iflow_mi_options *mi,
                              iflow_layer_info *out, iflow_error *err);

/* The units (item, l) for item in [0, n_items) and the hidden layers l = 1..n_hidden that
 * mi selects, numbered item-major (an item's layers rotated by the item's index), go
 * round-robin to the ranks: unit u to rank u mod N, a balanced share when neighbouring items
 * cost alike (log-spaced epochs) whatever the layers cost.
 * Each rank calls fn once per item in which it owns units, in solo mode (the estimator
 * inside does not split its sums again), with mi's layer mask narrowed to its own layers.
 * Then rank 0's all[item * n_hidden + l - 1] receives every unit's result (layers not
 * selected: layer = 0); all is only written on rank 0. Every rank returns the same code. */
int iflow_spread_units(size_t n_items, size_t n_hidden, const iflow_mi_options *mi,
                       spread_unit_fn fn, void *user, iflow_layer_info *all, iflow_error *err);

#endif
