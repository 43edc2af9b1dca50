/* Clustering of each hidden layer's noiseless representations during a run (run_cluster.h). */
#include "run_cluster.h"

#include <stdio.h>
#include <stdlib.h>

#include "infoflow/cluster.h"
#include "infoflow/mi.h"
#include "infoflow/rng.h"
#include "io.h"

const char *const RUN_CLUSTER_HEADER = "epoch,layer,width,inputs,cos_within,cos_between,"
                                       "silhouette,knn_agreement,knn_k,zero_rows,seconds";
const char *const RUN_COSINE_HIST_HEADER = "epoch,layer,pairs,lo,hi,fraction";

int run_cluster_subset(const iflow_dataset *all, size_t m, uint64_t seed, uint64_t stream,
                       iflow_dataset **out, iflow_error *err) {
    size_t n = all->n, *perm = malloc(n * sizeof *perm);
    if (!perm) return iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) perm[i] = i;
    iflow_rng r;
    iflow_rng_init(&r, seed, stream);
    iflow_rng_shuffle(&r, perm, n);
    int rc = iflow_dataset_subset(all, perm, m < n ? m : n, out, err);
    free(perm);
    return rc;
}

int run_cluster_usable(const iflow_dataset *set, size_t k, char *why, size_t n) {
    if (set->n <= k) {
        snprintf(why, n, "%zu inputs, [estimate] cluster_k = %zu needs more", set->n, k);
        return 0;
    }
    for (size_t i = 1; i < set->n; i++)
        if (set->y[i] != set->y[0]) return 1;
    snprintf(why, n, "the %zu inputs hold one class only", set->n);
    return 0;
}

/* An empty cell for a mean over no pairs (cluster.h gives NaN there). */
static void put_mean(FILE *f, double v) {
    if (v == v)
        fprintf(f, ",%.10g", v);
    else
        fputc(',', f);
}

static void write_row(FILE *f, long epoch, size_t l, size_t width, size_t m, size_t knn,
                      const iflow_cluster_result *r, double seconds) {
    fprintf(f, "%ld,%zu,%zu,%zu", epoch, l, width, m);
    put_mean(f, r->cos_within);
    put_mean(f, r->cos_between);
    fprintf(f, ",%.10g,%.10g,%zu,%zu,%.4g\n", r->silhouette, r->knn_agreement, knn, r->n_zero,
            seconds);
}

static void write_hist(FILE *f, long epoch, size_t l, const double *hw, const double *hb) {
    const double step = 2.0 / RUN_COSINE_BINS;
    for (int which = 0; which < 2; which++)
        for (size_t b = 0; b < RUN_COSINE_BINS; b++)
            fprintf(f, "%ld,%zu,%s,%.6g,%.6g,%.8g\n", epoch, l, which ? "between" : "within",
                    -1 + step * (double)b, -1 + step * (double)(b + 1), which ? hb[b] : hw[b]);
}

int run_cluster_epoch(const iflow_net *net, const iflow_dataset *set, long epoch, size_t knn,
                      int threads, runlog *csv, runlog *hist, iflow_error *err) {
    size_t m = set->n, max_w = 0;
    for (size_t l = 1; l < net->n_layers; l++)
        max_w = net->widths[l] > max_w ? net->widths[l] : max_w;
    double *t = malloc(m * max_w * sizeof *t);
    size_t *labels = malloc(m * sizeof *labels);
    int rc = t && labels ? 0 : iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    for (size_t i = 0; i < m && !rc; i++) labels[i] = (size_t)set->y[i];
    iflow_cluster_options opt;
    iflow_cluster_options_default(&opt);
    opt.knn = knn;
    opt.hist_bins = RUN_COSINE_BINS;
    opt.threads = threads;
    for (size_t l = 1; l < net->n_layers && !rc; l++) {
        double t0 = iflow_now_seconds(), hw[RUN_COSINE_BINS], hb[RUN_COSINE_BINS];
        iflow_cluster_result r;
        rc = iflow_mi_clean_layer(net, set->x, m, l, t, err);
        if (!rc)
            rc = iflow_cluster_measure(t, m, net->widths[l], labels, set->n_classes, &opt, &r, hw,
                                       hb, err);
        if (rc) break;
        write_row(csv->f, epoch, l, net->widths[l], m, knn, &r, iflow_now_seconds() - t0);
        if (hist) write_hist(hist->f, epoch, l, hw, hb);
    }
    free(t);
    free(labels);
    if (!rc && hist) rc = runlog_flush(hist, err);
    return rc ? rc : runlog_flush(csv, err);
}
