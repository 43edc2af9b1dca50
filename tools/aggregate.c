/* Aggregates the same CSV log (e.g. mi.csv) of several runs that differ only in their seed
 * (`repeats` in a config, run by tools/reproduce): rows are matched by their first K columns
 * (epoch, layer for mi.csv), and every other numeric column gets its mean and sample sd.
 *
 * Usage: aggregate --keys K OUT.csv RUN1.csv RUN2.csv ...
 * Output: the K key columns, `runs` (how many files had the row), then COL_mean,COL_sd for each
 * other column (empty cells are skipped; an all-empty column stays empty). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLS 64
#define LINE 8192

typedef struct {
    double key[MAX_COLS];
    double sum[MAX_COLS], sum2[MAX_COLS];
    size_t cnt[MAX_COLS], runs;
} row;

/* Splits a CSV line (no quoting) in place; empty cells become NaN. Returns the cell count. */
static size_t split(char *line, double *v, char **names) {
    size_t n = 0;
    line[strcspn(line, "\r\n")] = 0;
    for (char *p = line, *cell; (cell = strsep(&p, ",")) && n < MAX_COLS; n++) {
        if (names) names[n] = cell;
        char *end;
        v[n] = strtod(cell, &end);
        if (end == cell || *end) v[n] = NAN;
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc < 5 || strcmp(argv[1], "--keys")) {
        fprintf(stderr, "usage: aggregate --keys K OUT.csv RUN1.csv RUN2.csv ...\n");
        return 2;
    }
    size_t k = (size_t)atoi(argv[2]), n_cols = 0, n_rows = 0, cap = 0;
    row *rows = NULL;
    char header[LINE] = "", *names[MAX_COLS];
    for (int f = 4; f < argc; f++) {
        FILE *in = fopen(argv[f], "r");
        char line[LINE];
        double v[MAX_COLS];
        if (!in || !fgets(line, sizeof line, in)) {
            fprintf(stderr, "aggregate: cannot read %s\n", argv[f]);
            return 1;
        }
        if (!header[0]) {
            memcpy(header, line, sizeof line);
            n_cols = split(header, v, names);
        }
        if (k < 1 || k >= n_cols) return fprintf(stderr, "aggregate: bad --keys %zu\n", k), 1;
        for (long ln = 2; fgets(line, sizeof line, in); ln++) {
            if (split(line, v, NULL) != n_cols) {
                fprintf(stderr, "aggregate: %s:%ld: expected %zu cells\n", argv[f], ln, n_cols);
                return 1;
            }
            size_t r = 0; /* the row with the same keys, or a new one (logs are small) */
            while (r < n_rows && memcmp(rows[r].key, v, k * sizeof *v)) r++;
            if (r == n_rows) {
                if (n_rows == cap) {
                    cap = cap ? 2 * cap : 256;
                    rows = realloc(rows, cap * sizeof *rows);
                    if (!rows) return fprintf(stderr, "aggregate: out of memory\n"), 1;
                }
                memset(&rows[r], 0, sizeof rows[r]);
                memcpy(rows[r].key, v, k * sizeof *v);
                n_rows++;
            }
            rows[r].runs++;
            for (size_t c = k; c < n_cols; c++)
                if (!isnan(v[c])) rows[r].sum[c] += v[c], rows[r].sum2[c] += v[c] * v[c], rows[r].cnt[c]++;
        }
        fclose(in);
    }
    FILE *out = fopen(argv[3], "w");
    if (!out) return fprintf(stderr, "aggregate: cannot write %s\n", argv[3]), 1;
    for (size_t c = 0; c < k; c++) fprintf(out, "%s,", names[c]);
    fprintf(out, "runs");
    for (size_t c = k; c < n_cols; c++) fprintf(out, ",%s_mean,%s_sd", names[c], names[c]);
    fprintf(out, "\n");
    for (size_t r = 0; r < n_rows; r++) {
        for (size_t c = 0; c < k; c++) fprintf(out, "%.10g,", rows[r].key[c]);
        fprintf(out, "%zu", rows[r].runs);
        for (size_t c = k; c < n_cols; c++) {
            double m = rows[r].cnt[c] ? rows[r].sum[c] / (double)rows[r].cnt[c] : NAN;
            double var = rows[r].cnt[c] > 1 ? (rows[r].sum2[c] - (double)rows[r].cnt[c] * m * m) /
                                                  (double)(rows[r].cnt[c] - 1) : NAN;
            if (isnan(m)) fprintf(out, ",,");
            else if (isnan(var)) fprintf(out, ",%.10g,", m);
            else fprintf(out, ",%.10g,%.6g", m, sqrt(fmax(var, 0)));
        }
        fprintf(out, "\n");
    }
    free(rows);
    return fclose(out) ? 1 : 0;
}
