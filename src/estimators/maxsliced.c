/* maxsliced: the max-sliced information max_A I(G; A^T T) over k-dimensional orthonormal
 * projections A (docs/ESTIMATION.md section 12): a search on the Stiefel manifold with common
 * random numbers, then an estimate at the optimum from fresh draws. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/sliced.h"

/* Search draws: centre i's from stream opt->stream + n + i, disjoint from the final estimate's
 * opt->stream + i, so the value reported at the optimum uses draws the search never saw. */
static int objective(const double *s, size_t n, size_t d, const size_t *group, size_t n_groups,
                     const iflow_sp_options *search, const double *q, size_t k, double *proj,
                     double *a, double *value, iflow_mi_estimate *e, iflow_error *err) {
    for (size_t r = 0; r < d; r++) memcpy(a + r * k, q + r * d, k * sizeof *a);
    iflow_slice_project(s, n, d, a, k, proj);
    int rc = iflow_sp_grouped_mi(proj, n, k, group, n_groups, search, e, err);
    *value = e->mi.value;
    return rc;
}

/* Columns p and c of the d x d orthogonal q (row-major) rotated by angle t in their plane. */
static void rotate(double *q, size_t d, size_t p, size_t c, double t) {
    double co = cos(t), si = sin(t);
    for (size_t r = 0; r < d; r++) {
        double u = q[r * d + p], v = q[r * d + c];
        q[r * d + p] = co * u + si * v;
        q[r * d + c] = -si * u + co * v;
    }
}

int iflow_maxsliced_grouped_mi(const double *s, size_t n, size_t d, const size_t *group,
                               size_t n_groups, const iflow_sp_options *sp,
                               const iflow_maxslice_options *mo, double *directions,
                               iflow_maxsliced_estimate *out, iflow_error *err) {
    const char *fn = "iflow_maxsliced_grouped_mi";
    if (!sp || !mo || !out || !s)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: NULL argument", fn);
    size_t k = mo->dim;
    if (k < 1 || k >= d)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: slice dimension k must be in [1, d) = [1, %zu), got %zu", fn, d,
                               k);
    if (mo->starts < 1 || mo->starts > 10000 || mo->sweeps > 10000)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: starts must be in [1, 10000] and sweeps in [0, 10000] (got "
                               "%zu, %zu)",
                               fn, mo->starts, mo->sweeps);
    if (n > SIZE_MAX / 4 / d)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: n = %zu is too large", fn, n);
    double *q = malloc(d * d * sizeof *q), *best_q = malloc(d * d * sizeof *q);
    double *a = malloc(d * k * sizeof *a), *proj = malloc(n * k * sizeof *proj);
    if (!q || !best_q || !a || !proj) {
        free(q), free(best_q), free(a), free(proj);
        return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory", fn);
    }
    iflow_sp_options search = *sp;
    search.stream = sp->stream + n;
    search.progress = NULL;
    search.bias = 0; /* the search compares values only; the final estimate carries the bias */
    iflow_mi_estimate e;
    double best = -INFINITY, v = 0;
    size_t evals = 0;
    int rc = 0;
    /* Starts: Haar-distributed bases (the whole d x d, so the complement is at hand). */
    for (size_t st = 0; st < mo->starts && !rc; st++) {
        rc = iflow_slice_basis(d, d, mo->seed, st, q, err);
        if (!rc) rc = objective(s, n, d, group, n_groups, &search, q, k, proj, a, &v, &e, err);
        evals++;
        if (!rc && v > best) best = v, memcpy(best_q, q, d * d * sizeof *q);
    }
    /* Coordinate search over the planes that mix a column of A with one of its complement
     * (rotations inside span A or inside its complement leave I unchanged): each step keeps A
     * exactly orthonormal, and with common random numbers the objective is a deterministic,
     * smooth function of A, so a step is kept only if it raises it; the angle halves after a
     * sweep without a gain. */
    double angle = 0.5;
    for (size_t sw = 0; sw < mo->sweeps && angle > 1e-3 && !rc; sw++) {
        int gained = 0;
        for (size_t p = 0; p < k && !rc; p++)
            for (size_t c = k; c < d && !rc; c++)
                for (int sg = -1; sg <= 1 && !rc; sg += 2) {
                    memcpy(q, best_q, d * d * sizeof *q);
                    rotate(q, d, p, c, sg * angle);
                    rc = objective(s, n, d, group, n_groups, &search, q, k, proj, a, &v, &e, err);
                    evals++;
                    if (!rc && v > best) {
                        best = v, gained = 1;
                        memcpy(best_q, q, d * d * sizeof *q);
                        break;
                    }
                }
        if (!gained) angle /= 2;
    }
    if (!rc) {
        for (size_t r = 0; r < d; r++) memcpy(a + r * k, best_q + r * d, k * sizeof *a);
        iflow_slice_project(s, n, d, a, k, proj);
        rc = iflow_sp_grouped_mi(proj, n, k, group, n_groups, sp, &out->mi, err);
        out->search_value = best;
        out->evaluations = evals;
        if (directions) memcpy(directions, a, d * k * sizeof *a);
    }
    free(q), free(best_q), free(a), free(proj);
    return rc;
}
