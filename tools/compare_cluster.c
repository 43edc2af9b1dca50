/* compare_cluster: the clustering measures of several runs of one net side by side
 * (results/REPRODUCTION.md section 9). Draws them against epoch in one figure
 * (iflow_plot_compare_cluster) and prints, per run, the clean test accuracy at the last epoch
 * (metrics.csv) and, per layer, each measure and the k-sliced I_k(X;T), I_k(Y;T) (mi.csv, when
 * the run has them) at the first and last measured epoch.
 *
 * Usage: compare_cluster OUT.png RUN_DIR LABEL [RUN_DIR LABEL ...] [--title T] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/plot.h"

#define MAX_RUNS 6
#define MAX_ROWS 4096
#define MAX_COLS 32

typedef struct table {
    char names[MAX_COLS][32];
    int n_cols;
    size_t n_rows;
    double v[MAX_ROWS][MAX_COLS];
} table;

/* A small numeric CSV (header line, then numbers; empty fields are NaN). 0 ok, -1 unreadable. */
static int table_read(const char *path, table *t) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[8192];
    t->n_cols = 0, t->n_rows = 0;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return -1;
    }
    for (char *s = strtok(line, ",\r\n"); s && t->n_cols < MAX_COLS; s = strtok(NULL, ",\r\n"))
        snprintf(t->names[t->n_cols++], sizeof t->names[0], "%s", s);
    while (t->n_rows < MAX_ROWS && fgets(line, sizeof line, f)) {
        char *p = line;
        for (int c = 0; c < t->n_cols; c++) {
            char *end;
            double x = strtod(p, &end);
            t->v[t->n_rows][c] = end == p ? NAN : x;
            p = strchr(end, ',');
            if (!p) {
                for (c++; c < t->n_cols; c++) t->v[t->n_rows][c] = NAN;
                break;
            }
            p++;
        }
        t->n_rows++;
    }
    fclose(f);
    return 0;
}

static int col(const table *t, const char *name) {
    for (int c = 0; c < t->n_cols; c++)
        if (!strcmp(t->names[c], name)) return c;
    return -1;
}

/* Value of column name in the row of (epoch, layer) (layer < 0: any); NaN if absent. */
static double at(const table *t, const char *name, double epoch, double layer) {
    int c = col(t, name), ce = col(t, "epoch"), cl = col(t, "layer");
    if (c < 0 || ce < 0) return NAN;
    for (size_t i = 0; i < t->n_rows; i++)
        if (t->v[i][ce] == epoch && (layer < 0 || (cl >= 0 && t->v[i][cl] == layer)))
            return t->v[i][c];
    return NAN;
}

static table tab_c, tab_m, tab_i; /* large: static */

static void report(const char *dir, const char *label) {
    char path[4096];
    snprintf(path, sizeof path, "%s/clustering.csv", dir);
    if (table_read(path, &tab_c) || col(&tab_c, "epoch") != 0) return;
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    int has_m = !table_read(path, &tab_m) && tab_m.n_rows > 0;
    snprintf(path, sizeof path, "%s/mi.csv", dir);
    int has_i = !table_read(path, &tab_i) && col(&tab_i, "I_XT_sliced") >= 0;
    double e0 = tab_c.v[0][0], e1 = tab_c.v[tab_c.n_rows - 1][0];
    double acc = has_m ? tab_m.v[tab_m.n_rows - 1][col(&tab_m, "test_acc_clean")] : NAN;
    double acc_tr = has_m ? tab_m.v[tab_m.n_rows - 1][col(&tab_m, "train_acc_clean")] : NAN;
    printf("%s: clean test accuracy %.4f, train %.4f (epoch %g)\n", label, acc, acc_tr,
           has_m ? tab_m.v[tab_m.n_rows - 1][0] : NAN);
    printf("  layer  cos_within      cos_between     silhouette      knn_agreement   I_k(X;T)"
           "        I_k(Y;T)      (epoch %g -> %g)\n",
           e0, e1);
    for (double l = 1; l < 64; l++) {
        if (isnan(at(&tab_c, "cos_within", e1, l))) break;
        printf("  %5g", l);
        const char *m[] = {"cos_within", "cos_between", "silhouette", "knn_agreement"};
        for (int k = 0; k < 4; k++)
            printf("  %6.3f -> %6.3f", at(&tab_c, m[k], e0, l), at(&tab_c, m[k], e1, l));
        if (has_i)
            for (int k = 0; k < 2; k++) {
                const char *n = k ? "I_YT_sliced" : "I_XT_sliced";
                printf("  %6.3f -> %6.3f", at(&tab_i, n, e0, l), at(&tab_i, n, e1, l));
            }
        printf("\n");
    }
}

int main(int argc, char **argv) {
    const char *out = NULL, *dirs[MAX_RUNS], *labels[MAX_RUNS], *title = NULL;
    size_t n = 0;
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--title") && i + 1 < argc)
            title = argv[++i];
        else if (!out)
            out = argv[i];
        else if (n < MAX_RUNS && i + 1 < argc)
            dirs[n] = argv[i], labels[n++] = argv[++i];
        else
            bad = 1;
    }
    if (!out || n == 0 || bad) {
        fprintf(stderr, "usage: compare_cluster OUT.png RUN_DIR LABEL [RUN_DIR LABEL ...] "
                        "[--title T]\n");
        return 2;
    }
    static char paths[MAX_RUNS][4096];
    const char *csv[MAX_RUNS];
    for (size_t k = 0; k < n; k++) {
        snprintf(paths[k], sizeof paths[k], "%s/clustering.csv", dirs[k]);
        csv[k] = paths[k];
        report(dirs[k], labels[k]);
    }
    iflow_error err = {0};
    if (iflow_plot_compare_cluster(csv, labels, n,
                                   title ? title
                                         : "Clustering of the hidden "
                                           "representations during training",
                                   out, &err)) {
        fprintf(stderr, "compare_cluster: %s\n", err.msg);
        return 1;
    }
    printf("wrote %s\n", out);
    return 0;
}
