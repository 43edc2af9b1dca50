/* Plug-in entropies of binned activations (binning.h): each row's vector of bin indices is one
 * symbol; symbols are counted in an open-addressing hash table keyed by the full index vector. */
#include "infoflow/binning.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SZT_EDGES 30

/* A validated binning. For SZT the edges are computed exactly as np.linspace(-1, 1, 30) does
 * (k * step + start, the last edge set to stop), so a value lying on an edge falls in the same
 * bin as in the reference Python code. */
typedef struct quantiser {
    iflow_bin_kind kind;
    double width, origin;
    double step; /* SZT: spacing of the edges */
    double edges[SZT_EDGES];
} quantiser;

static int quantiser_init(quantiser *q, const iflow_binning *bins, iflow_error *err) {
    *q = (quantiser){.kind = IFLOW_BIN_WIDTH};
    if (!bins) return iflow_error_set(err, IFLOW_EINVAL, "binning: no binning given");
    q->kind = bins->kind;
    q->width = bins->width;
    q->origin = bins->origin;
    if (bins->kind == IFLOW_BIN_SZT30) {
        const double start = -1.0, stop = 1.0, step = (stop - start) / (SZT_EDGES - 1);
        q->step = step;
        for (int k = 0; k < SZT_EDGES; k++) q->edges[k] = (double)k * step + start;
        q->edges[SZT_EDGES - 1] = stop;
        return 0;
    }
    if (bins->kind != IFLOW_BIN_WIDTH)
        return iflow_error_set(err, IFLOW_EINVAL, "binning: unknown kind %d", (int)bins->kind);
    if (!(bins->width > 0) || !isfinite(bins->width))
        return iflow_error_set(err, IFLOW_EINVAL, "binning: width must be finite and > 0, got %g",
                               bins->width);
    if (!isfinite(bins->origin))
        return iflow_error_set(err, IFLOW_EINVAL, "binning: origin must be finite, got %g",
                               bins->origin);
    return 0;
}

/* Bin index of a finite v. Width bins: floor((v - origin) / width), which the caller has checked
 * fits an int64. SZT: np.digitize(v, edges) = the number of edges <= v, in 0..30. */
static int64_t bin_index(const quantiser *q, double v) {
    if (q->kind == IFLOW_BIN_WIDTH) return (int64_t)floor((v - q->origin) / q->width);
    if (!(v >= q->edges[0])) return 0;
    if (v >= q->edges[SZT_EDGES - 1]) return SZT_EDGES;
    /* Guess the bin from the spacing, then step to the exact edges (rounding may be off by 1). */
    int j = (int)((v - q->edges[0]) / q->step);
    if (j > SZT_EDGES - 2) j = SZT_EDGES - 2;
    while (j > 0 && q->edges[j] > v) j--;
    while (q->edges[j + 1] <= v) j++;
    return j + 1;
}

/* Fills sym[0..d) with the bin indices of row i, rejecting values that have no bin. */
static int row_symbol(const quantiser *q, const double *row, size_t d, size_t i, int64_t *sym,
                      iflow_error *err) {
    for (size_t k = 0; k < d; k++) {
        double v = row[k];
        if (!isfinite(v))
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "binning: row %zu, column %zu (0-based): value is %s", i, k,
                                   isnan(v) ? "NaN" : "infinite");
        if (q->kind == IFLOW_BIN_WIDTH) {
            double f = floor((v - q->origin) / q->width);
            /* 2^63: the first double that no int64 can hold. */
            if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
                return iflow_error_set(err, IFLOW_EINVAL,
                                       "binning: row %zu, column %zu (0-based): bin index of %g "
                                       "at width %g does not fit 64 bits",
                                       i, k, v, q->width);
        }
        sym[k] = bin_index(q, v);
    }
    return 0;
}

/* splitmix64's finaliser: a bijection that spreads every input bit over the output. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t symbol_hash(const int64_t *sym, size_t d) {
    uint64_t h = 0x243f6a8885a308d3ULL;
    for (size_t k = 0; k < d; k++) h = mix64(h ^ (uint64_t)sym[k]);
    return h;
}

/* 1 if row j (already validated) has the bin indices sym[0..d). Recomputing the indices instead
 * of storing them keeps memory at O(n), not O(n d). */
static int row_matches(const quantiser *q, const double *row, size_t d, const int64_t *sym) {
    for (size_t k = 0; k < d; k++)
        if (bin_index(q, row[k]) != sym[k]) return 0;
    return 1;
}

/* Gives every row a dense symbol id (sym_id[i] in [0, *n_symbols)), equal ids exactly for equal
 * index vectors. Linear probing in a table of at least 2n slots, each holding the hash and the
 * first row with that symbol; a hash match is confirmed on the full vector (no false merges). */
static int assign_symbols(const double *x, size_t n, size_t d, const quantiser *q, size_t *sym_id,
                          size_t *n_symbols, iflow_error *err) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    uint64_t *slot_hash = malloc(cap * sizeof *slot_hash);
    size_t *slot_row = malloc(cap * sizeof *slot_row);
    int64_t *sym = malloc(d * sizeof *sym);
    int rc = 0;
    if (!slot_hash || !slot_row || !sym) {
        rc = iflow_error_set(err, IFLOW_ENOMEM, "binning: out of memory for %zu rows", n);
        goto done;
    }
    for (size_t s = 0; s < cap; s++) slot_row[s] = SIZE_MAX;
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        rc = row_symbol(q, x + i * d, d, i, sym, err);
        if (rc) goto done;
        uint64_t h = symbol_hash(sym, d);
        size_t s = (size_t)h & (cap - 1);
        while (slot_row[s] != SIZE_MAX) {
            size_t j = slot_row[s];
            if (slot_hash[s] == h && row_matches(q, x + j * d, d, sym)) break;
            s = (s + 1) & (cap - 1);
        }
        if (slot_row[s] == SIZE_MAX) {
            slot_row[s] = i;
            slot_hash[s] = h;
            sym_id[i] = count++;
        } else {
            sym_id[i] = sym_id[slot_row[s]];
        }
    }
    *n_symbols = count;
done:
    free(slot_hash);
    free(slot_row);
    free(sym);
    return rc;
}

/* sum_s c_s ln c_s over the non-zero counts; then H = ln n - (1/n) sum c ln c, which is
 * -sum p ln p with p = c / n, and is exactly ln n when every count is 1. */
static double sum_c_log_c(const size_t *count, size_t m) {
    double s = 0;
    for (size_t i = 0; i < m; i++)
        if (count[i] > 1) s += (double)count[i] * log((double)count[i]);
    return s;
}

static int check_shape(const double *x, size_t n, size_t d, iflow_error *err) {
    if (!x || n == 0 || d == 0)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "binning: need n >= 1 rows and d >= 1 columns "
                               "(got n = %zu, d = %zu)",
                               n, d);
    if (n > SIZE_MAX / 4)
        return iflow_error_set(err, IFLOW_EINVAL, "binning: too many rows (%zu)", n);
    return 0;
}

/* Counts each symbol's rows; *count is allocated here and owned by the caller. */
static int symbol_counts(const double *x, size_t n, size_t d, const iflow_binning *bins,
                         size_t *sym_id, size_t **count, size_t *n_symbols, iflow_error *err) {
    quantiser q;
    int rc = check_shape(x, n, d, err);
    if (rc) return rc;
    rc = quantiser_init(&q, bins, err);
    if (rc) return rc;
    rc = assign_symbols(x, n, d, &q, sym_id, n_symbols, err);
    if (rc) return rc;
    *count = calloc(*n_symbols, sizeof **count);
    if (!*count) return iflow_error_set(err, IFLOW_ENOMEM, "binning: out of memory");
    for (size_t i = 0; i < n; i++) (*count)[sym_id[i]]++;
    return 0;
}

int iflow_bin_entropy(const double *x, size_t n, size_t d, const iflow_binning *bins, double *h,
                      iflow_error *err) {
    size_t *sym_id = malloc((n ? n : 1) * sizeof *sym_id), *count = NULL, m = 0;
    if (!sym_id) return iflow_error_set(err, IFLOW_ENOMEM, "binning: out of memory");
    int rc = symbol_counts(x, n, d, bins, sym_id, &count, &m, err);
    if (!rc) *h = log((double)n) - sum_c_log_c(count, m) / (double)n;
    free(sym_id);
    free(count);
    return rc;
}

typedef struct sym_group {
    size_t sym, group;
} sym_group;

static int cmp_sym_group(const void *a, const void *b) {
    const sym_group *p = a, *q = b;
    if (p->sym != q->sym) return (p->sym > q->sym) - (p->sym < q->sym);
    return (p->group > q->group) - (p->group < q->group);
}

/* sum over (symbol, group) cells of c ln c, counting cells by sorting the pairs. */
static int joint_sum_c_log_c(const size_t *sym_id, const size_t *group, size_t n, double *out,
                             iflow_error *err) {
    sym_group *pairs = malloc(n * sizeof *pairs);
    if (!pairs) return iflow_error_set(err, IFLOW_ENOMEM, "binning: out of memory");
    for (size_t i = 0; i < n; i++) pairs[i] = (sym_group){sym_id[i], group[i]};
    qsort(pairs, n, sizeof *pairs, cmp_sym_group);
    double s = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && !cmp_sym_group(&pairs[i], &pairs[j])) j++;
        if (j - i > 1) s += (double)(j - i) * log((double)(j - i));
        i = j;
    }
    free(pairs);
    *out = s;
    return 0;
}

/* With n_g rows in group g and c_sg rows of symbol s in group g,
 *   h_cond = sum_g (n_g / n) H(Bin T | G = g) = (1/n) [sum_g n_g ln n_g - sum_sg c_sg ln c_sg]. */
int iflow_bin_grouped(const double *x, size_t n, size_t d, const iflow_binning *bins,
                      const size_t *group, size_t n_groups, double *h, double *h_cond,
                      iflow_error *err) {
    if (!group || n_groups == 0)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "binning: need a group for every row and "
                               "n_groups >= 1");
    for (size_t i = 0; i < n; i++)
        if (group[i] >= n_groups)
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "binning: row %zu (0-based): group %zu is not below "
                                   "n_groups = %zu",
                                   i, group[i], n_groups);
    size_t *sym_id = malloc((n ? n : 1) * sizeof *sym_id), *count = NULL, m = 0;
    size_t *group_size = calloc(n_groups, sizeof *group_size);
    int rc = 0;
    if (!sym_id || !group_size) {
        rc = iflow_error_set(err, IFLOW_ENOMEM, "binning: out of memory");
        goto done;
    }
    rc = symbol_counts(x, n, d, bins, sym_id, &count, &m, err);
    double joint = 0;
    if (!rc) rc = joint_sum_c_log_c(sym_id, group, n, &joint, err);
    if (rc) goto done;
    for (size_t i = 0; i < n; i++) group_size[group[i]]++;
    *h = log((double)n) - sum_c_log_c(count, m) / (double)n;
    *h_cond = (sum_c_log_c(group_size, n_groups) - joint) / (double)n;
done:
    free(sym_id);
    free(count);
    free(group_size);
    return rc;
}
