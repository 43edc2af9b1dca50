/* compare_mi: overlays I(X;T_l) of several mi.csv files of one net in one figure and prints, per
 * layer, the mean and sd over epochs of each file. With --bootstrap-m M it also prints and draws
 * ln M and E[H] +- sd of the bootstrap weight entropy (iflow_bootstrap_entropy), the value the
 * layers read when the inputs are resampled (results/REPRODUCTION.md section 2).
 *
 * Usage: compare_mi OUT.png A.csv LABEL_A [B.csv LABEL_B ...] [--title T] [--bootstrap-m M]
 *        [--epochs-from E]   (means over epochs >= E only; default all) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/plot.h"
#include "infoflow/resample.h"

#define MAX_FILES 6
#define MAX_LAYER 16

/* Mean and sd over epochs >= from of I_XT (column 4 of mi.csv: epoch,layer,width,I_XT,...). */
static int layer_stats(const char *path, double from, double *mean, double *sd, size_t *count) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    double s[MAX_LAYER + 1] = {0}, s2[MAX_LAYER + 1] = {0};
    char line[4096];
    int first = 1;
    memset(count, 0, (MAX_LAYER + 1) * sizeof *count);
    while (fgets(line, sizeof line, f)) {
        if (first) { /* header */
            first = 0;
            if (strncmp(line, "epoch,layer,width,I_XT,", 23)) {
                fclose(f);
                return -1;
            }
            continue;
        }
        char *p = line, *end;
        double v[4];
        int ok = 1;
        for (int k = 0; k < 4 && ok; k++) {
            v[k] = strtod(p, &end);
            ok = end != p && (*end == ',' || *end == '\n');
            p = end + 1;
        }
        size_t l = (size_t)v[1];
        if (!ok || v[0] < from || l < 1 || l > MAX_LAYER) continue;
        s[l] += v[3], s2[l] += v[3] * v[3], count[l]++;
    }
    fclose(f);
    for (size_t l = 1; l <= MAX_LAYER; l++) {
        double n = (double)count[l];
        mean[l] = count[l] ? s[l] / n : NAN;
        sd[l] = count[l] > 1 ? sqrt(fmax(s2[l] - n * mean[l] * mean[l], 0) / (n - 1)) : NAN;
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *out = NULL, *paths[MAX_FILES], *labels[MAX_FILES], *title = NULL;
    size_t n = 0, m = 0;
    double from = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--title") && i + 1 < argc) {
            title = argv[++i];
        } else if (!strcmp(argv[i], "--bootstrap-m") && i + 1 < argc) {
            m = strtoul(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--epochs-from") && i + 1 < argc) {
            from = strtod(argv[++i], NULL);
        } else if (!out) {
            out = argv[i];
        } else if (n < MAX_FILES && i + 1 < argc) {
            paths[n] = argv[i], labels[n++] = argv[++i];
        } else {
            out = NULL;
            break;
        }
    }
    if (!out || n == 0) {
        fprintf(stderr, "usage: compare_mi OUT.png A.csv LABEL_A [B.csv LABEL_B ...] "
                        "[--title T] [--bootstrap-m M] [--epochs-from E]\n");
        return 2;
    }
    iflow_plot_compare_options opt = {.title = title};
    char ref_text[2][96];
    if (m) {
        double e, sd;
        iflow_error err = {0};
        if (iflow_bootstrap_entropy(m, &e, &sd, &err)) {
            fprintf(stderr, "compare_mi: %s\n", err.msg);
            return 1;
        }
        printf("m = %zu: ln m = %.4f nats; bootstrap E[H] = ln m - E[k ln k] = %.4f, sd %.4f\n", m,
               log((double)m), e, sd);
        snprintf(ref_text[0], sizeof ref_text[0], "ln m = %.3f", log((double)m));
        snprintf(ref_text[1], sizeof ref_text[1], "E[H] of bootstrap weights = %.3f", e);
        opt.n_refs = 2;
        opt.refs[0] = log((double)m), opt.ref_labels[0] = ref_text[0];
        opt.refs[1] = e, opt.ref_labels[1] = ref_text[1];
    }
    printf("mean (sd) over epochs >= %g of I(X;T_l), nats\nlayer", from);
    for (size_t k = 0; k < n; k++) printf("  %24s", labels[k]);
    printf("\n");
    double mean[MAX_FILES][MAX_LAYER + 1], sd[MAX_FILES][MAX_LAYER + 1];
    size_t count[MAX_FILES][MAX_LAYER + 1];
    for (size_t k = 0; k < n; k++)
        if (layer_stats(paths[k], from, mean[k], sd[k], count[k])) {
            fprintf(stderr, "compare_mi: %s: cannot read it as an mi.csv\n", paths[k]);
            return 1;
        }
    for (size_t l = 1; l <= MAX_LAYER; l++) {
        if (!count[0][l]) continue;
        printf("%5zu", l);
        for (size_t k = 0; k < n; k++)
            printf("  %9.4f (%.4f) n=%-4zu", mean[k][l], sd[k][l], count[k][l]);
        printf("\n");
    }
    iflow_error err = {0};
    if (iflow_plot_compare_mi(paths, labels, n, &opt, out, &err)) {
        fprintf(stderr, "compare_mi: %s\n", err.msg);
        return 1;
    }
    printf("wrote %s\n", out);
    return 0;
}
