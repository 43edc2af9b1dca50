/* Option parsing and output helpers shared by `infoflow entropy` and `infoflow mi`. */
#include "estimator_args.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "dist.h"

/* Applies one option's value; returns 0 or the usage-error exit code. */
static int apply_option(const est_command *c, est_args *a, int opt, const char *v) {
    const char *cmd = c->name;
    switch (opt) {
    case OPT_ESTIMATOR:
        for (size_t i = 0; i < c->n_estimators; i++)
            if (!strcmp(v, c->estimators[i])) {
                a->est = i;
                return 0;
            }
        return cli_usage_error(cmd, "unknown estimator '%s' (%s)", v, c->estimator_list);
    case OPT_SIGMA:
        if (cli_parse_double(v, &a->sigma) || !(a->sigma > 0))
            return cli_usage_error(cmd, "--sigma must be a number > 0, got '%s'%s", v,
                                   cli_range_note(v));
        return 0;
    case OPT_SIGMA_FILE: a->sigma_file = v; return 0;
    case OPT_MAX_SLICE: a->max_slice = 1; return 0;
    case OPT_SAVE_DIRS: a->save_dirs = v; return 0;
    case OPT_MC:
        if (cli_parse_size(v, &a->mc) || a->mc < 1 || a->mc > IFLOW_MAX_MC)
            return cli_usage_error(cmd, "--mc must be an integer in [1, %d], got '%s'",
                                   IFLOW_MAX_MC, v);
        return 0;
    case OPT_SEED:
        if (cli_parse_u64(v, &a->seed))
            return cli_usage_error(cmd, "--seed must be a non-negative integer, got '%s'", v);
        return 0;
    case OPT_TOL:
        if (cli_parse_double(v, &a->tolerance) || a->tolerance < 0)
            return cli_usage_error(cmd, "--tolerance must be a number >= 0, got '%s'%s", v,
                                   cli_range_note(v));
        return 0;
    case OPT_NORMALS: {
        int g = iflow_normals_parse(v);
        if (g < 0) return cli_usage_error(cmd, "--normals must be v1 or v2, got '%s'", v);
        a->normals = (iflow_normals)g;
        return 0;
    }
    case OPT_WIDTH:
        if (a->have_bins) return cli_usage_error(cmd, "give one of --bin-width and --bins");
        a->bins = (iflow_binning){IFLOW_BIN_WIDTH, 0.0, 0.0};
        if (cli_parse_double(v, &a->bins.width) || !(a->bins.width > 0))
            return cli_usage_error(cmd, "--bin-width must be a number > 0, got '%s'%s", v,
                                   cli_range_note(v));
        a->have_bins = 1;
        return 0;
    case OPT_BINS:
        if (a->have_bins) return cli_usage_error(cmd, "give one of --bin-width and --bins");
        if (strcmp(v, "szt30") != 0)
            return cli_usage_error(cmd, "--bins accepts only 'szt30', got '%s'", v);
        a->bins = (iflow_binning){IFLOW_BIN_SZT30, 0.0, 0.0};
        a->have_bins = 1;
        return 0;
    case OPT_K:
        if (cli_parse_size(v, &a->k) || a->k < 1 || a->k > IFLOW_MAX_KNN_K)
            return cli_usage_error(cmd, "--k must be an integer in [1, %d], got '%s'",
                                   IFLOW_MAX_KNN_K, v);
        return 0;
    case OPT_THREADS:
        if (cli_parse_long(v, &a->threads) || a->threads < 0 || a->threads > IFLOW_MAX_THREADS)
            return cli_usage_error(cmd, "--threads must be an integer in [0, %d], got '%s'",
                                   IFLOW_MAX_THREADS, v);
        return 0;
    case OPT_SLICES:
        if (cli_parse_size(v, &a->slices) || a->slices < 1 || a->slices > 100000)
            return cli_usage_error(cmd, "--slices must be an integer in [1, 100000], got '%s'", v);
        a->have_slices = 1;
        return 0;
    case OPT_SLICE_DIM:
        if (cli_parse_size(v, &a->slice_dim))
            return cli_usage_error(cmd, "--slice-dim must be an integer >= 0, got '%s'", v);
        return 0;
    case OPT_QUIET: a->quiet = 1; return 0;
    case OPT_NO_BIAS: a->no_bias = 1; return 0;
    case OPT_GROUP:
        if (cli_parse_size(v, &a->group_col))
            return cli_usage_error(cmd, "--group-col must be an integer >= 0, got '%s'", v);
        a->have_group_col = 1;
        return 0;
    }
    return cli_usage_error(cmd, "internal error: option %d", opt);
}

int est_parse_args(const est_command *c, int argc, char **argv, est_args *a) {
    /* tolerance: the run's default (1e-6), many times faster than exact sums and equal to
     * every printed digit of the committed results. */
    *a = (est_args){.est = 0,
                    .mc = IFLOW_SP_DEFAULT_MC,
                    .seed = 1,
                    .k = 3,
                    .tolerance = EST_DEFAULT_TOLERANCE,
                    .normals = IFLOW_SP_DEFAULT_NORMALS,
                    .slices = 16};
    opterr = 0; /* report errors in our own words */
    optind = 0; /* glibc: full re-initialisation */
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", c->options, NULL)) != -1) {
        if (opt == 'h') {
            c->usage(stdout);
            return 0;
        }
        if (opt == ':') return cli_usage_error(c->name, "%s needs a value", argv[optind - 1]);
        if (opt == '?' && optopt > 0 && optopt < 256)
            return cli_usage_error(c->name, "unknown option '-%c'", optopt);
        if (opt == '?') return cli_usage_error(c->name, "unknown option '%s'", argv[optind - 1]);
        int rc = apply_option(c, a, opt, optarg);
        if (rc) return rc;
    }
    if (optind != argc - 1)
        return cli_usage_error(c->name, optind == argc ? "no FILE given" : "give exactly one FILE");
    a->path = argv[optind];
    if (a->sigma_file && a->sigma > 0)
        return cli_usage_error(c->name, "give one of --sigma and --sigma-file");
    if (a->sigma_file && a->slice_dim > 0)
        return cli_usage_error(c->name, "--sigma-file does not combine with --slice-dim (a "
                                        "projection of anisotropic noise is not a noisy layer)");
    if (a->max_slice && a->slice_dim == 0)
        return cli_usage_error(c->name, "--max-slice needs --slice-dim K (K >= 1)");
    if (a->save_dirs && !a->max_slice)
        return cli_usage_error(c->name, "--save-directions needs --max-slice");
    if (a->have_slices && a->slice_dim == 0)
        return cli_usage_error(c->name, "--slices needs --slice-dim K (K >= 1)");
    return -1;
}

int est_load_sigma(const char *path, size_t n, size_t d, double **sigma, size_t *cols,
                   iflow_error *err) {
    iflow_matrix *m = NULL;
    *sigma = NULL;
    int rc = iflow_matrix_load(path, &m, err);
    if (rc) return rc;
    if (m->rows != n || (m->cols != 1 && m->cols != d)) {
        char per_coord[64] = "";
        if (d > 1) snprintf(per_coord, sizeof per_coord, " or %zu (one per coordinate)", d);
        rc = iflow_error_set(err, IFLOW_EINVAL,
                             "%s: --sigma-file needs one row per sample (%zu) of 1 column (a "
                             "std per sample)%s, got %zu x %zu",
                             path, n, per_coord, m->rows, m->cols);
    }
    for (size_t i = 0; rc == 0 && i < m->rows * m->cols; i++) {
        if (m->data[i] > 0) continue;
        size_t row = i / m->cols, line = 0;
        iflow_error ignored = {0};
        iflow_matrix_row_line(path, row, &line, &ignored);
        char where[64];
        if (line)
            snprintf(where, sizeof where, "%zu", line);
        else
            snprintf(where, sizeof where, " data row %zu", row + 1);
        rc = iflow_error_set(err, IFLOW_EINVAL, "%s:%s: column %zu: noise std %g must be > 0", path,
                             where, i % m->cols + 1, m->data[i]);
    }
    if (rc == 0) {
        *sigma = m->data;
        *cols = m->cols;
        m->data = NULL;
    }
    iflow_matrix_free(m);
    return rc;
}

int est_data_error(const char *cmd, const char *path, const iflow_error *err) {
    if (iflow_dist_error_shared() && iflow_dist_world_rank() > 0) return 1; /* rank 0 says it */
    const char *msg = err->msg[0] ? err->msg : iflow_strerror(err->code);
    if (strstr(msg, path))
        fprintf(stderr, "infoflow %s: %s\n", cmd, msg);
    else
        fprintf(stderr, "infoflow %s: %s: %s\n", cmd, path, msg);
    return 1;
}

void est_json_number(const char *key, double v) {
    if (isfinite(v))
        printf(",\"%s\":%.10g", key, v);
    else
        printf(",\"%s\":null", key);
}

int est_check_finite(const char *what, double v, iflow_error *err) {
    if (isfinite(v)) return 0;
    return iflow_error_set(err, IFLOW_ENUMERIC,
                           "%s came out as %g: it cannot be computed in double precision for "
                           "these samples (see docs/BAD_INPUTS.md)",
                           what, v);
}

void est_sp_options(const est_args *a, iflow_sp_options *opt) {
    iflow_sp_options_default(opt);
    opt->beta = a->sigma;
    opt->mc = a->mc;
    opt->seed = a->seed;
    opt->bias = !a->no_bias;
    opt->tolerance = a->tolerance;
    opt->normals = a->normals;
    opt->threads = (int)a->threads;
}

void est_slice_options(const est_args *a, iflow_slice_options *opt) {
    iflow_slice_options_default(opt);
    opt->slices = a->slices;
    opt->dim = a->slice_dim;
    opt->seed = a->seed;
}

void est_json_sp_settings(const est_args *a) {
    /* The plan is the one every SP sum takes (entropy.c, mix_problem). */
    printf(",\"mc\":%zu,\"normals\":\"%s\"", a->mc, iflow_normals_name(a->normals));
    est_json_number("tolerance", a->tolerance);
    printf(",\"plan\":\"greedy\",\"seed\":%llu", (unsigned long long)a->seed);
}

void est_json_sliced(const est_args *a, const iflow_sliced_estimate *e) {
    printf(",\"slice_dim\":%zu,\"slices\":%zu", a->slice_dim, a->slices);
    est_json_number("sd_slices", e->sd_slices);
    est_json_number("mc_se", e->mc_se);
}

void est_json_estimate(const char *name, const iflow_estimate *e) {
    char key[64];
    est_json_number(name, e->value);
    snprintf(key, sizeof key, "%s_se", name);
    est_json_number(key, e->se_kind == IFLOW_SE_NA ? NAN : e->se);
    snprintf(key, sizeof key, "%s_se_mc", name);
    est_json_number(key, e->se_mc);
    printf(",\"%s_se_kind\":\"%s\"", name, iflow_se_kind_name(e->se_kind));
    if (!e->has_bias) return;
    snprintf(key, sizeof key, "%s_bias", name);
    est_json_number(key, e->bias);
    snprintf(key, sizeof key, "%s_corrected", name);
    est_json_number(key, e->value - e->bias);
}

int est_check_estimate(const char *name, const iflow_estimate *e, iflow_error *err) {
    char what[96];
    int rc = est_check_finite(name, e->value, err);
    snprintf(what, sizeof what, "the Monte Carlo standard error of %s", name);
    if (!rc) rc = est_check_finite(what, e->se_mc, err);
    snprintf(what, sizeof what, "the standard error of %s", name);
    if (!rc && e->se_kind != IFLOW_SE_NA) rc = est_check_finite(what, e->se, err);
    snprintf(what, sizeof what, "the bias of %s", name);
    if (!rc && e->has_bias) rc = est_check_finite(what, e->bias, err);
    return rc;
}

void est_note_se(const char *cmd, const iflow_estimate *const *e, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (e[i]->se_kind == IFLOW_SE_NA) {
            fprintf(stderr,
                    "infoflow %s: note: the total standard error is n/a (null): a group holds a "
                    "single sample, so the spread of the samples within a group is unknown; "
                    "*_se_mc covers the Monte Carlo draws only (docs/ESTIMATION.md section 11)\n",
                    cmd);
            return;
        }
}

void est_tagged_free(est_tagged *t) {
    free(t->s);
    free(t->group);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The rank of v among the sorted distinct values. */
static size_t rank_of(const uint64_t *distinct, size_t n_distinct, uint64_t v) {
    const uint64_t *p = bsearch(&v, distinct, n_distinct, sizeof *distinct, cmp_u64);
    return (size_t)(p - distinct);
}

int est_split_groups(const iflow_matrix *m, const uint64_t *ids, size_t c, const char *path,
                     est_tagged *t, iflow_error *err) {
    size_t n = m->rows;
    *t = (est_tagged){.n = n, .d = m->cols - 1};
    uint64_t *values = malloc(n * sizeof *values);
    t->s = malloc(n * t->d * sizeof *t->s);
    t->group = malloc(n * sizeof *t->group);
    if (!values || !t->s || !t->group) {
        free(values);
        return iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory for %zu rows", path, n);
    }
    for (size_t i = 0; i < n; i++) {
        const double *row = m->data + i * m->cols;
        values[i] = ids[i];
        memcpy(t->s + i * t->d, row, c * sizeof *row);
        memcpy(t->s + i * t->d + c, row + c + 1, (t->d - c) * sizeof *row);
    }
    qsort(values, n, sizeof *values, cmp_u64);
    size_t n_distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || values[i] != values[n_distinct - 1]) values[n_distinct++] = values[i];
    for (size_t i = 0; i < n; i++) t->group[i] = rank_of(values, n_distinct, ids[i]);
    t->n_groups = n_distinct;
    free(values);
    return 0;
}
