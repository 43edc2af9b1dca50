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

/* How the units are dealt. With at least WHOLE_ITEMS items per rank a unit is a whole item
 * (all its layers on one rank: an epoch's samples are drawn once, not once on every rank that
 * owns one of its layers, and neighbouring epochs cost alike, so the share stays even); with
 * fewer, a unit is one (item, layer), the item's layers rotated by the item's index, so that
 * a rank count sharing a factor with the number of layers (5 layers on 5 or 10 ranks) does not
 * give one rank the same, perhaps costliest, layer of every epoch. Unit u is item u / upi,
 * goes to rank u mod N and holds lpu layers. */
#define WHOLE_ITEMS 4
typedef struct dealing {
    size_t size, rank;
    size_t sel[IFLOW_MAX_LAYERS], n_sel; /* the selected layers, ascending */
    size_t upi, lpu;                     /* units per item, layers per unit */
} dealing;

static void deal(const iflow_mi_options *mi, size_t n_items, size_t n_hidden, dealing *d) {
    d->size = (size_t)iflow_dist_size();
    d->rank = (size_t)iflow_dist_rank();
    d->n_sel = 0;
    for (size_t l = 1; l <= n_hidden; l++)
        if (layer_selected(mi, l)) d->sel[d->n_sel++] = l;
    int whole = n_items >= WHOLE_ITEMS * d->size;
    d->upi = whole ? 1 : d->n_sel;
    d->lpu = whole ? d->n_sel : 1;
}

/* Layer j of unit k of an item. */
static size_t unit_layer(const dealing *d, size_t item, size_t k, size_t j) {
    return d->lpu > 1 ? d->sel[j] : d->sel[(k + item) % d->n_sel];
}

/* This rank's units, in unit order: fn per item over the layers it owns. */
static int compute_mine(const dealing *d, size_t n_items, size_t n_hidden,
                        const iflow_mi_options *mi, spread_unit_fn fn, void *user,
                        iflow_layer_info *mine, iflow_error *err) {
    iflow_layer_info *tmp = calloc(n_hidden ? n_hidden : 1, sizeof *tmp);
    if (!tmp) return iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    int rc = 0, was = iflow_dist_solo(1);
    size_t n_mine = 0;
    for (size_t item = 0; item < n_items && !rc; item++) {
        iflow_mi_options o = *mi;
        o.layer_mask_n = 0;
        for (size_t k = 0; k < d->upi; k++)
            if ((item * d->upi + k) % d->size == d->rank)
                for (size_t j = 0; j < d->lpu; j++)
                    o.layers[o.layer_mask_n++] = unit_layer(d, item, k, j);
        if (o.layer_mask_n == 0) continue;
        rc = fn(user, item, &o, tmp, err);
        for (size_t k = 0; k < o.layer_mask_n && !rc; k++) mine[n_mine++] = tmp[o.layers[k] - 1];
    }
    iflow_dist_solo(was);
    free(tmp);
    return rc;
}

int iflow_spread_units(size_t n_items, size_t n_hidden, const iflow_mi_options *mi,
                       spread_unit_fn fn, void *user, iflow_layer_info *all, iflow_error *err) {
    dealing d;
    deal(mi, n_items, n_hidden, &d);
    size_t n_units = n_items * d.upi, size = d.size;
    iflow_layer_info *mine = calloc((n_units / size + 1) * d.lpu, sizeof *mine);
    iflow_layer_info *got = d.rank == 0 ? calloc(n_units * d.lpu + 1, sizeof *got) : NULL;
    size_t *counts = calloc(size, sizeof *counts), *first = calloc(size, sizeof *first);
    int rc = mine && counts && first && (d.rank != 0 || got)
                 ? 0
                 : iflow_error_set(err, IFLOW_ENOMEM, "out of memory for %zu units", n_units);
    if (!rc) rc = compute_mine(&d, n_items, n_hidden, mi, fn, user, mine, err);
    rc = iflow_dist_agree(rc, err);
    for (size_t r = 0; r < size; r++) { /* rank r's units, then where they land on rank 0 */
        counts[r] = (n_units > r ? (n_units - r + size - 1) / size : 0) * d.lpu * sizeof *mine;
        if (r > 0) first[r] = first[r - 1] + counts[r - 1] / sizeof *mine;
    }
    if (!rc) rc = iflow_dist_gather(mine, counts, got, err);
    rc = iflow_dist_agree(rc, err);
    if (!rc && d.rank == 0) {
        /* unit u is the (u / size)-th of rank u mod size */
        memset(all, 0, n_items * n_hidden * sizeof *all);
        for (size_t u = 0; u < n_units; u++)
            for (size_t j = 0; j < d.lpu; j++)
                all[u / d.upi * n_hidden + unit_layer(&d, u / d.upi, u % d.upi, j) - 1] =
                    got[first[u % size] + u / size * d.lpu + j];
    }
    free(mine);
    free(got);
    free(counts);
    free(first);
    return rc;
}
