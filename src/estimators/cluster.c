/* cluster: cosine similarities, silhouette and k-NN class agreement of labelled representations
 * (cluster.h, ESTIMATION.md section 8), all from blocks of Gram matrices:
 *     c_ij = G_ij / sqrt(n_i n_j),        G = S S^T,  n_i = |s_i|^2   (cosines: about the origin)
 *     |s_i - s_j|^2 = m_i + m_j - 2 C_ij,  C = T T^T, m_i = |t_i|^2   (distances)
 * with T = S minus its column means (in double). Distances do not depend on the origin, and the
 * Gram form of them loses ~d eps (m_i + m_j) absolutely: centring makes m_i the spread about the
 * mean, not the offset of the data, and a pair closer than TAU (m_i + m_j) is summed directly.
 * Per-row results are stored and summed in row order afterwards, histograms are integer counts:
 * the numbers do not depend on the thread count. */
#include "infoflow/cluster.h"
#include "alloc.h"
#include "blas.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_BYTES (64u << 20) /* both Gram blocks together when opt->block is 0 */
/* Below TAU (m_i + m_j) a squared distance from the Gram form could be off by more than
 * 2 d eps / TAU of itself (|error| <= ~2 d eps (m_i + m_j)); it is summed from the rows. */
#define TAU 0x1p-10

void iflow_cluster_options_default(iflow_cluster_options *opt) {
    opt->knn = 10;
    opt->hist_bins = 40;
    opt->block = 0;
    opt->threads = 0;
    opt->progress = NULL;
    opt->progress_user = NULL;
}

/* What each row contributes; summed in row order at the end. */
typedef struct row_out {
    double sil, agree; /* silhouette s_i, k-NN agreement of row i */
    double cw, cb;     /* sums of cosines to j > i, same / other class */
    uint64_t nw, nb;   /* their counts */
} row_out;

/* Per-thread scratch: class distance sums and the k-NN max-heap of (distance^2, index). */
typedef struct scratch {
    double *class_sum; /* n_classes */
    double *hd;        /* heap keys, k */
    size_t *hj;        /* heap indices, k */
    uint64_t *hist;    /* 2 * bins: within, then between */
} scratch;

/* Heap order: (d, j) lexicographic, the root the largest (the current k-th neighbour). */
static int heap_less(double da, size_t ja, double db, size_t jb) {
    return da < db || (da == db && ja < jb);
}

static void heap_sift_down(double *hd, size_t *hj, size_t k, size_t p) {
    for (;;) {
        size_t l = 2 * p + 1, r = l + 1, m = p;
        if (l < k && heap_less(hd[m], hj[m], hd[l], hj[l])) m = l;
        if (r < k && heap_less(hd[m], hj[m], hd[r], hj[r])) m = r;
        if (m == p) return;
        double td = hd[p];
        size_t tj = hj[p];
        hd[p] = hd[m], hj[p] = hj[m];
        hd[m] = td, hj[m] = tj;
        p = m;
    }
}

/* Offers neighbour (dist2, j) to a heap holding *size of k entries. */
static void heap_offer(double *hd, size_t *hj, size_t k, size_t *size, double dist2, size_t j) {
    if (*size < k) {
        size_t c = (*size)++;
        hd[c] = dist2, hj[c] = j;
        while (c > 0) { /* sift up */
            size_t p = (c - 1) / 2;
            if (!heap_less(hd[p], hj[p], hd[c], hj[c])) break;
            double td = hd[p];
            size_t tj = hj[p];
            hd[p] = hd[c], hj[p] = hj[c];
            hd[c] = td, hj[c] = tj;
            c = p;
        }
    } else if (heap_less(dist2, j, hd[0], hj[0])) {
        hd[0] = dist2, hj[0] = j;
        heap_sift_down(hd, hj, k, 0);
    }
}

typedef struct problem {
    const size_t *labels;
    const double *norm2;  /* n: |s_i|^2 */
    const double *t;      /* n x d: the rows minus the column means */
    const double *tnorm2; /* n: |t_i|^2 */
    const size_t *count;  /* n_classes: members of each class */
    size_t n, d, n_classes, knn, bins;
} problem;

/* |t_i - t_j|^2 from the centred Gram entry c = t_i . t_j, or summed from the rows when the Gram
 * form would lose digits (see TAU). */
static double squared_distance(const problem *p, size_t i, size_t j, double c) {
    double scale = p->tnorm2[i] + p->tnorm2[j], d2 = scale - 2 * c;
    if (d2 >= TAU * scale) return d2;
    const double *a = p->t + i * p->d, *b = p->t + j * p->d;
    double q = 0;
    for (size_t k = 0; k < p->d; k++) q += (a[k] - b[k]) * (a[k] - b[k]);
    return q;
}

/* Row i of the Gram matrices, g[j] = s_i . s_j and gc[j] = t_i . t_j: all row i contributes. */
static void one_row(const problem *p, size_t i, const double *g, const double *gc, scratch *w,
                    row_out *o) {
    size_t li = p->labels[i], heap_size = 0, nc = p->n_classes;
    double ni = p->norm2[i];
    memset(w->class_sum, 0, nc * sizeof *w->class_sum);
    *o = (row_out){0};
    for (size_t j = 0; j < p->n; j++) {
        if (j == i) continue;
        double d2 = squared_distance(p, i, j, gc[j]);
        w->class_sum[p->labels[j]] += sqrt(d2);
        heap_offer(w->hd, w->hj, p->knn, &heap_size, d2, j);
        if (j < i || ni == 0 || p->norm2[j] == 0) continue;
        double c = g[j] / sqrt(ni * p->norm2[j]);
        int same = p->labels[j] == li;
        if (same)
            o->cw += c, o->nw++;
        else
            o->cb += c, o->nb++;
        double bf = floor((fmin(fmax(c, -1.0), 1.0) + 1) * 0.5 * (double)p->bins);
        size_t b = bf >= (double)p->bins ? p->bins - 1 : (size_t)bf;
        w->hist[(same ? 0 : p->bins) + b]++;
    }
    size_t agree = 0;
    for (size_t h = 0; h < p->knn; h++) agree += p->labels[w->hj[h]] == li;
    o->agree = (double)agree / (double)p->knn;
    /* Silhouette: 0 for a class of one (Rousseeuw 1987) or when a = b = 0. */
    if (p->count[li] < 2) return;
    double a = w->class_sum[li] / (double)(p->count[li] - 1), b = INFINITY;
    for (size_t c = 0; c < nc; c++)
        if (c != li && p->count[c] > 0) b = fmin(b, w->class_sum[c] / (double)p->count[c]);
    double mx = fmax(a, b);
    o->sil = mx > 0 ? (b - a) / mx : 0.0;
}

static int check_input(const double *s, size_t n, size_t d, const size_t *labels, size_t nc,
                       const iflow_cluster_options *opt, size_t *count, iflow_error *err) {
    const char *fn = "iflow_cluster_measure";
    if (!s || !labels || !opt || n < 2 || d < 1)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: need at least 2 rows of dimension >= 1 "
                               "with labels (n = %zu, d = %zu)",
                               fn, n, d);
    if (opt->knn < 1 || opt->knn >= n)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: k = %zu neighbours needs 1 <= k < n = "
                               "%zu",
                               fn, opt->knn, n);
    if (opt->hist_bins < 1)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: hist_bins must be >= 1", fn);
    if (n > (size_t)INT32_MAX || d > (size_t)INT32_MAX)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: %zu x %zu is too large for GEMM", fn, n, d);
    memset(count, 0, nc * sizeof *count);
    for (size_t i = 0; i < n; i++) {
        if (labels[i] >= nc)
            return iflow_error_set(err, IFLOW_EINVAL,
                                   "%s: label %zu of row %zu is out of range "
                                   "[0, %zu)",
                                   fn, labels[i], i, nc);
        count[labels[i]]++;
    }
    size_t present = 0;
    for (size_t c = 0; c < nc; c++) present += count[c] > 0;
    if (present < 2)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: the labels hold %zu class(es); the "
                               "silhouette needs at least 2",
                               fn, present);
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite(s[i]))
            return iflow_error_set(err, IFLOW_EINVAL, "%s: row %zu, column %zu is %g", fn, i / d,
                                   i % d, s[i]);
    return 0;
}

/* Sums the per-row results in row order and normalises the histograms. */
static void finish(const row_out *rows, size_t n, const uint64_t *hist, size_t bins,
                   iflow_cluster_result *out, double *hw, double *hb) {
    double sil = 0, agree = 0, cw = 0, cb = 0;
    uint64_t nw = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        sil += rows[i].sil;
        agree += rows[i].agree;
        cw += rows[i].cw;
        cb += rows[i].cb;
        nw += rows[i].nw;
        nb += rows[i].nb;
    }
    out->silhouette = sil / (double)n;
    out->knn_agreement = agree / (double)n;
    out->n_within = nw;
    out->n_between = nb;
    out->cos_within = nw ? cw / (double)nw : NAN;
    out->cos_between = nb ? cb / (double)nb : NAN;
    for (size_t b = 0; b < bins; b++) {
        if (hw) hw[b] = nw ? (double)hist[b] / (double)nw : 0.0;
        if (hb) hb[b] = nb ? (double)hist[bins + b] / (double)nb : 0.0;
    }
}

/* Rows [i0, i0 + rows) against all n: two GEMMs (raw and centred), then the rows in parallel. */
static void one_block(const problem *p, const double *s, size_t i0, size_t rows, double *g,
                      double *gc, scratch *w, int nth, row_out *out) {
    int n = (int)p->n, d = (int)p->d;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, n, d, 1.0, s + i0 * p->d, d, s,
                d, 0.0, g, n);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, n, d, 1.0, p->t + i0 * p->d, d,
                p->t, d, 0.0, gc, n);
#pragma omp parallel for num_threads(nth) schedule(dynamic, 8)
    for (size_t r = 0; r < rows; r++)
        one_row(p, i0 + r, g + r * p->n, gc + r * p->n, &w[omp_get_thread_num()], &out[i0 + r]);
}

/* t = s minus its column means (summed in double, in row order; mean: d scratch), and the
 * squared norms of the rows of s and of t; ENUMERIC if a square overflows. */
static int centre_rows(const double *s, size_t n, size_t d, double *mean, double *t, double *norm2,
                       double *tnorm2, iflow_error *err) {
    for (size_t c = 0; c < d; c++) mean[c] = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < d; c++) mean[c] += s[i * d + c];
    for (size_t c = 0; c < d; c++) mean[c] /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double q = 0, qt = 0;
        for (size_t c = 0; c < d; c++) {
            double v = s[i * d + c];
            t[i * d + c] = v - mean[c];
            q += v * v;
            qt += t[i * d + c] * t[i * d + c];
        }
        norm2[i] = q, tnorm2[i] = qt;
        if (!isfinite(q) || !isfinite(qt))
            return iflow_error_set(err, IFLOW_ENUMERIC,
                                   "iflow_cluster_measure: row %zu: its squared norm overflows "
                                   "double; rescale the data",
                                   i);
    }
    return 0;
}

static int cluster_body(const double *s, size_t n, size_t d, const size_t *labels, size_t n_classes,
                        const iflow_cluster_options *opt, iflow_cluster_result *out,
                        double *hist_within, double *hist_between, iflow_error *err) {
    iflow_error local = {0}, *e = err ? err : &local; /* the code of a failed allocation */
    size_t *count =
        iflow_alloc_array(n_classes, sizeof *count, "iflow_cluster_measure: classes", e);
    if (!count) return e->code;
    int rc = check_input(s, n, d, labels, n_classes, opt, count, err);
    if (rc) {
        free(count);
        return rc;
    }
    int nth = opt->threads > 0 ? opt->threads : omp_get_max_threads();
    size_t block = opt->block ? opt->block : BLOCK_BYTES / (2 * n * sizeof(double));
    block = block < 1 ? 1 : block > n ? n : block;
    size_t bins = opt->hist_bins, k = opt->knn, nd = n * d; /* n, d < 2^31: no wrap */
    /* Sizes from the caller are checked before they size anything. */
    double *norm2 = iflow_alloc_array(n, sizeof(double), "cluster norms", e);
    double *tnorm2 = norm2 ? iflow_alloc_array(n, sizeof(double), "cluster norms", e) : NULL;
    double *mean = tnorm2 ? iflow_alloc_array(d, sizeof(double), "cluster means", e) : NULL;
    double *t = mean ? iflow_alloc_array(nd, sizeof(double), "centred rows", e) : NULL;
    double *g = t ? iflow_alloc_array(2 * block * n, sizeof(double), "Gram blocks", e) : NULL;
    row_out *rows = g ? iflow_alloc_array(n, sizeof *rows, "cluster rows", e) : NULL;
    uint64_t *hist = rows ? iflow_alloc_array(bins, 2 * sizeof(uint64_t), "histograms", e) : NULL;
    scratch *w = hist ? calloc((size_t)nth, sizeof *w) : NULL;
    int ok = w != NULL;
    if (hist) memset(hist, 0, 2 * bins * sizeof *hist);
    for (int th = 0; ok && th < nth; th++) {
        w[th].class_sum = malloc(n_classes * sizeof(double));
        w[th].hd = malloc(k * sizeof(double));
        w[th].hj = malloc(k * sizeof(size_t));
        w[th].hist = calloc(2 * bins, sizeof(uint64_t));
        ok = w[th].class_sum && w[th].hd && w[th].hj && w[th].hist;
    }
    if (!hist) {
        rc = e->code;
    } else if (!ok) {
        rc = iflow_error_set(err, IFLOW_ENOMEM,
                             "iflow_cluster_measure: out of memory (n = %zu, "
                             "block = %zu)",
                             n, block);
    } else if (!(rc = centre_rows(s, n, d, mean, t, norm2, tnorm2, err))) {
        problem p = {labels, norm2, t, tnorm2, count, n, d, n_classes, k, bins};
        for (size_t i0 = 0; i0 < n; i0 += block) {
            size_t r = n - i0 < block ? n - i0 : block;
            one_block(&p, s, i0, r, g, g + block * n, w, nth, rows);
            if (opt->progress) opt->progress(opt->progress_user, (double)(i0 + r) / (double)n);
        }
        /* Integer counts: their sum does not depend on which thread counted what. */
        for (int th = 0; th < nth; th++)
            for (size_t b = 0; b < 2 * bins; b++) hist[b] += w[th].hist[b];
        finish(rows, n, hist, bins, out, hist_within, hist_between);
        out->n_zero = 0;
        for (size_t i = 0; i < n; i++) out->n_zero += norm2[i] == 0;
    }
    for (int th = 0; w && th < nth; th++) {
        free(w[th].class_sum);
        free(w[th].hd);
        free(w[th].hj);
        free(w[th].hist);
    }
    free(w);
    free(hist);
    free(rows);
    free(g);
    free(t);
    free(mean);
    free(tnorm2);
    free(norm2);
    free(count);
    return rc;
}

int iflow_cluster_measure(const double *s, size_t n, size_t d, const size_t *labels,
                          size_t n_classes, const iflow_cluster_options *opt,
                          iflow_cluster_result *out, double *hist_within, double *hist_between,
                          iflow_error *err) {
    int blas = iflow_blas_serial_begin(); /* blas.h: the numbers must not depend on it */
    int rc = cluster_body(s, n, d, labels, n_classes, opt, out, hist_within, hist_between, err);
    iflow_blas_serial_end(blas);
    return rc;
}
