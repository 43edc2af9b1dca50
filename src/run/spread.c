/* spread: (item, layer) units of a measurement over the ranks of an MPI job, results to rank 0
 * (see spread.h). With one process it is a plain loop over the items. */
#include "spread.h"

#include <stdlib.h>
#include <string.h>

#include "dist.h"

static int layer_selected(const iflow_mi_options *mi, size_t l) {
    if (mi->layer_mask_n == 0) return 1;
    for (size_t i = 0; i < mi->layer_mask_n; i++)
        if (mi->layers[i] == l) return 1;
    return 0;
}

/* The selected layers, ascending, into sel; returns their count. */
static size_t selected_layers(const iflow_mi_options *mi, size_t n_hidden, size_t *sel) {
    size_t n = 0;
    for (size_t l = 1; l <= n_hidden; l++)
        if (layer_selected(mi, l)) sel[n++] = l;
    return n;
}

/* The layer of the k-th unit of an item: the item's layers rotated by the item's index, so
 * that a rank count sharing a factor with the number of layers (5 layers on 5 or 10 ranks)
 * does not give one rank the same, perhaps most costly, layer of every epoch. */
static size_t unit_layer(const size_t *sel, size_t n_sel, size_t item, size_t k) {
    return sel[(k + item) % n_sel];
}

/* This rank's units, in unit order: fn per item over the layers it owns. */
static int compute_mine(size_t n_items, size_t n_hidden, const iflow_mi_options *mi,
                        spread_unit_fn fn, void *user, iflow_layer_info *mine, size_t *n_mine,
                        iflow_error *err) {
    size_t size = (size_t)iflow_dist_size(), rank = (size_t)iflow_dist_rank(), u = 0;
    iflow_layer_info *tmp = calloc(n_hidden ? n_hidden : 1, sizeof *tmp);
    if (!tmp) return iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    size_t sel[IFLOW_MAX_LAYERS], n_sel = selected_layers(mi, n_hidden, sel);
    int rc = 0, was = iflow_dist_solo(1);
    *n_mine = 0;
    for (size_t item = 0; item < n_items && !rc; item++) {
        iflow_mi_options o = *mi;
        o.layer_mask_n = 0;
        for (size_t k = 0; k < n_sel; k++)
            if (u++ % size == rank) o.layers[o.layer_mask_n++] = unit_layer(sel, n_sel, item, k);
        if (o.layer_mask_n == 0) continue;
        rc = fn(user, item, &o, tmp, err);
        for (size_t k = 0; k < o.layer_mask_n && !rc; k++) mine[(*n_mine)++] = tmp[o.layers[k] - 1];
    }
    iflow_dist_solo(was);
    free(tmp);
    return rc;
}

int iflow_spread_units(size_t n_items, size_t n_hidden, const iflow_mi_options *mi,
                       spread_unit_fn fn, void *user, iflow_layer_info *all, iflow_error *err) {
    size_t size = (size_t)iflow_dist_size(), rank = (size_t)iflow_dist_rank();
    size_t sel[IFLOW_MAX_LAYERS], n_sel = selected_layers(mi, n_hidden, sel);
    size_t n_units = n_items * n_sel;
    size_t cap = n_units / size + 1, n_mine = 0;
    iflow_layer_info *mine = calloc(cap, sizeof *mine);
    iflow_layer_info *got = rank == 0 ? calloc(n_units + 1, sizeof *got) : NULL;
    size_t *counts = calloc(size, sizeof *counts);
    int rc = mine && counts && (rank != 0 || got)
                 ? 0
                 : iflow_error_set(err, IFLOW_ENOMEM, "out of memory for %zu units", n_units);
    if (!rc) rc = compute_mine(n_items, n_hidden, mi, fn, user, mine, &n_mine, err);
    rc = iflow_dist_agree(rc, err);
    for (size_t r = 0; counts && r < size; r++) /* counts is NULL only after an error */
        counts[r] = (n_units > r ? (n_units - r + size - 1) / size : 0) * sizeof *mine;
    if (!rc) rc = iflow_dist_gather(mine, counts, got, err);
    rc = iflow_dist_agree(rc, err);
    if (!rc && rank == 0) {
        /* unit u is the (u / size)-th of rank u mod size: after the units of lower ranks */
        size_t *first = calloc(size, sizeof *first), u = 0;
        if (!first) rc = iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
        for (size_t r = 1; !rc && r < size; r++)
            first[r] = first[r - 1] + counts[r - 1] / sizeof *mine;
        memset(all, 0, n_items * n_hidden * sizeof *all);
        for (size_t item = 0; !rc && item < n_items; item++)
            for (size_t k = 0; k < n_sel; k++, u++)
                all[item * n_hidden + unit_layer(sel, n_sel, item, k) - 1] =
                    got[first[u % size] + u / size];
        free(first);
    }
    free(mine);
    free(got);
    free(counts);
    return rc;
}
