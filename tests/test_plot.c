/* Tests of the figure pipeline: CSV reading and its errors, tick choice, the data->pixel mapping
 * (a unique-colour point read back from the PNG), and iflow_plot_run on synthetic run dirs. */
#include <check.h>
#include <ftw.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chart.h"
#include "check_util.h"
#include "csvread.h"
#include "infoflow/plot.h"
#include "plot_figures.h"

static char tmpdir[256];

static void setup(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/iflow_test_plot_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void) { iflow_rmtree(tmpdir); }

static void path_in(char *out, size_t n, const char *dir, const char *name) {
    snprintf(out, n, "%.300s/%.200s", dir, name);
}

static void write_file(const char *dir, const char *name, const char *text) {
    char p[512];
    path_in(p, sizeof p, dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static int file_exists(const char *dir, const char *name) {
    char p[512];
    struct stat st;
    path_in(p, sizeof p, dir, name);
    return stat(p, &st) == 0;
}

/* ---- PNG reading ---- */

typedef struct png_info_t {
    int width, height, colour_type, depth, n_text;
    char software[128], hash[64];
    unsigned char *rgb; /* width * height * 3 when colour type is RGB 8 */
} png_info_t;

static int read_png(const char *path, png_info_t *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    unsigned char sig[8];
    if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8)) {
        fclose(f);
        return -2;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        return -3;
    }
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    out->width = (int)png_get_image_width(png, info);
    out->height = (int)png_get_image_height(png, info);
    out->colour_type = png_get_color_type(png, info);
    out->depth = png_get_bit_depth(png, info);
    png_textp text;
    int n_text = 0;
    png_get_text(png, info, &text, &n_text);
    out->n_text = n_text;
    for (int i = 0; i < n_text; i++) {
        if (!strcmp(text[i].key, "Software"))
            snprintf(out->software, sizeof out->software, "%s", text[i].text);
        if (!strcmp(text[i].key, "Config-Hash"))
            snprintf(out->hash, sizeof out->hash, "%s", text[i].text);
    }
    if (out->colour_type == PNG_COLOR_TYPE_RGB && out->depth == 8) {
        out->rgb = malloc((size_t)out->width * (size_t)out->height * 3);
        for (int y = 0; y < out->height; y++)
            png_read_row(png, out->rgb + (size_t)y * (size_t)out->width * 3, NULL);
        png_read_end(png, NULL);
    }
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return 0;
}

/* ---- CSV reader ---- */

START_TEST(test_csv_numbers_strings_missing) {
    write_file(tmpdir, "binned.csv",
               "epoch,layer,bin,noise,H_bin\n1,2,0.07,noisy,3.5\n\n"
               "10,2,szt30,clean,\r\n");
    char p[512];
    path_in(p, sizeof p, tmpdir, "binned.csv");
    iflow_csv *c;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_csv_read(p, &c, &err), 0);
    ck_assert_uint_eq(c->n_rows, 2);
    ck_assert_uint_eq(c->n_cols, 5);
    const double *h, *e;
    ck_assert_int_eq(iflow_csv_numbers(c, "H_bin", &h, &err), 0);
    ck_assert_int_eq(iflow_csv_numbers(c, "epoch", &e, &err), 0);
    ck_assert_double_eq(h[0], 3.5);
    ck_assert(isnan(h[1]));
    ck_assert_double_eq(e[1], 10);
    int hc = iflow_csv_find(c, "H_bin"), bc = iflow_csv_find(c, "bin");
    ck_assert(!iflow_csv_missing(c, 0, hc) && iflow_csv_missing(c, 1, hc));
    ck_assert_str_eq(iflow_csv_str(c, 1, bc), "szt30");
    ck_assert_str_eq(iflow_csv_str(c, 0, iflow_csv_find(c, "noise")), "noisy");
    /* a string column is not numeric: asking for numbers names the first bad cell */
    ck_assert_int_eq(iflow_csv_numbers(c, "noise", &h, &err), IFLOW_EPARSE);
    ck_assert_str_eq(err.msg, "binned.csv:2: column noise: 'noisy' is not a number");
    const double *none;
    ck_assert_int_eq(iflow_csv_numbers_opt(c, "I_YT_bin", &none, &err), 0);
    ck_assert_ptr_null(none);
    iflow_csv_free(c);
}
END_TEST

START_TEST(test_csv_errors) {
    char p[512];
    iflow_csv *c;
    iflow_error err = {0};
    path_in(p, sizeof p, tmpdir, "absent.csv");
    ck_assert_int_eq(iflow_csv_read(p, &c, &err), IFLOW_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, p));
    ck_assert_ptr_null(c);

    write_file(tmpdir, "mi.csv", "epoch,layer,I_XT\n0,1,2.5\n1,1,2.4\n2,1,abc\n");
    path_in(p, sizeof p, tmpdir, "mi.csv");
    ck_assert_int_eq(iflow_csv_read(p, &c, &err), 0);
    const double *v;
    ck_assert_int_eq(iflow_csv_numbers(c, "I_XT", &v, &err), IFLOW_EPARSE);
    ck_assert_str_eq(err.msg, "mi.csv:4: column I_XT: 'abc' is not a number");
    ck_assert_int_eq(iflow_csv_numbers(c, "I_YT", &v, &err), IFLOW_EPARSE);
    ck_assert_str_eq(err.msg, "mi.csv:1: missing column 'I_YT'");
    iflow_csv_free(c);

    write_file(tmpdir, "r.csv", "a,b,c\n1,2,3\n4,5\n");
    path_in(p, sizeof p, tmpdir, "r.csv");
    ck_assert_int_eq(iflow_csv_read(p, &c, &err), IFLOW_EPARSE);
    ck_assert_str_eq(err.msg, "r.csv:3: 2 cells, header has 3");
    write_file(tmpdir, "e.csv", "");
    path_in(p, sizeof p, tmpdir, "e.csv");
    ck_assert_int_eq(iflow_csv_read(p, &c, &err), IFLOW_EPARSE);
}
END_TEST

/* ---- chart layer ---- */

START_TEST(test_ticks) {
    double t[IFLOW_CHART_MAX_TICKS];
    int sci;
    /* linear: evenly spaced 1-2-5 steps inside the range, at most max_ticks */
    static const double ranges[][2] = {{0, 1}, {-0.37, 2.9}, {13, 17}, {-1.05, 1.05}, {0.1, 0.7}};
    for (size_t r = 0; r < 5; r++) {
        for (size_t max = 3; max <= 8; max++) {
            size_t n = iflow_ticks(ranges[r][0], ranges[r][1], 0, max, t, &sci);
            ck_assert_uint_ge(n, 2);
            ck_assert_uint_le(n, max);
            double step = t[1] - t[0], mant = step / pow(10, floor(log10(step) + 1e-9));
            ck_assert(fabs(mant - 1) < 1e-6 || fabs(mant - 2) < 1e-6 || fabs(mant - 5) < 1e-6);
            for (size_t i = 0; i < n; i++) {
                ck_assert(t[i] >= ranges[r][0] - 1e-12 && t[i] <= ranges[r][1] + 1e-12);
                if (i) ck_assert_double_eq_tol(t[i] - t[i - 1], step, 1e-9 * step);
            }
        }
    }
    /* log over four decades: the powers of ten, drawn as 10^k */
    size_t n = iflow_ticks(1, 1e4, 1, 8, t, &sci);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(sci, 1);
    for (size_t i = 0; i < n; i++) ck_assert_double_eq_tol(t[i], pow(10, (double)i), 1e-9 * t[i]);
    /* log over 1..30: 1, 2, 5, 10, 20 */
    n = iflow_ticks(1, 30, 1, 6, t, &sci);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(sci, 0);
    ck_assert_double_eq_tol(t[2], 5, 1e-12);
    ck_assert_double_eq_tol(t[4], 20, 1e-12);
}
END_TEST

START_TEST(test_viridis) {
    /* interpolation halfway between the first two anchors is their mean */
    iflow_rgb a = iflow_viridis(0), b = iflow_viridis(1.0 / 15), m = iflow_viridis(0.5 / 15);
    ck_assert_double_eq_tol(m.g, (a.g + b.g) / 2, 1e-12);
    ck_assert_double_eq_tol(m.b, (a.b + b.b) / 2, 1e-12);
    /* dark purple to yellow, green rising monotonically; clamped outside [0, 1] */
    ck_assert(a.b > a.g && iflow_viridis(1).r > 0.9 && iflow_viridis(1).g > 0.85);
    for (int i = 1; i <= 100; i++)
        ck_assert(iflow_viridis(i / 100.0).g > iflow_viridis((i - 1) / 100.0).g);
    ck_assert_double_eq(iflow_viridis(-3).r, a.r);
    ck_assert_double_eq(iflow_viridis(7).g, iflow_viridis(1).g);
}
END_TEST

/* Centroid of the pixels of exactly colour (r, g, b). */
static int centroid(const png_info_t *img, int r, int g, int b, double *cx, double *cy) {
    double sx = 0, sy = 0;
    int n = 0;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) {
            const unsigned char *p = img->rgb + ((size_t)y * (size_t)img->width + (size_t)x) * 3;
            if (p[0] == r && p[1] == g && p[2] == b) sx += x + 0.5, sy += y + 0.5, n++;
        }
    if (n) *cx = sx / n, *cy = sy / n;
    return n;
}

START_TEST(test_point_lands_on_its_pixel) {
    iflow_figure fig;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_fig_new(&fig, 640, 480, &err), 0);
    iflow_panel p;
    iflow_range rx = {1, 1000, 1}, ry = {-2, 3, 0};
    iflow_axis_set(&p.x, rx, 1, 0, "x (log)");
    iflow_axis_set(&p.y, ry, 0, 0, "y");
    iflow_panel_init(&p, &fig, (iflow_box){0, 0, 640, 480}, "one point");
    /* the mapping itself: x = 10 is a third of the way along a log axis over [1, 1000] */
    double px, py;
    ck_assert_int_eq(iflow_panel_px(&p, 10, 0.5, &px, &py), 0);
    ck_assert_double_eq_tol(px, p.area.x + p.area.w / 3, 1e-9);
    ck_assert_double_eq_tol(py, p.area.y + p.area.h * (1 - 2.5 / 5), 1e-9);
    ck_assert_int_eq(iflow_panel_px(&p, 0, 0.5, &px, &py), -1);
    ck_assert_int_eq(iflow_panel_px(&p, 10, NAN, &px, &py), -1);
    ck_assert(p.area.x > 40 && p.area.x + p.area.w <= 640 && p.area.y > 20 &&
              p.area.y + p.area.h < 440);
    iflow_rgb magenta = {1, 0, 1};
    iflow_panel_marker(&p, 10, 0.5, IFLOW_MARK_SQUARE, 11, magenta, magenta);
    iflow_panel_free(&p);
    char path[512];
    path_in(path, sizeof path, tmpdir, "point.png");
    const char *keys[] = {"Software"}, *vals[] = {"test"};
    ck_assert_int_eq(iflow_fig_write_png(&fig, path, keys, vals, 1, &err), 0);
    iflow_fig_free(&fig);
    png_info_t img;
    ck_assert_int_eq(read_png(path, &img), 0);
    ck_assert_int_eq(img.width, 640);
    ck_assert_int_eq(img.height, 480);
    ck_assert_str_eq(img.software, "test");
    double cx, cy;
    ck_assert_int_ge(centroid(&img, 255, 0, 255, &cx, &cy), 40); /* the square's inside */
    ck_assert_double_le(fabs(cx - px), 2);
    ck_assert_double_le(fabs(cy - py), 2);
    const unsigned char *c =
        img.rgb + ((size_t)lround(py - 0.5) * 640 + (size_t)lround(px - 0.5)) * 3;
    ck_assert(c[0] == 255 && c[1] == 0 && c[2] == 255);
    free(img.rgb);
}
END_TEST

/* ---- whole runs ---- */

/* A small run directory: 3 hidden layers (widths 4, 3, 2), epochs 0..10, MI at 0, 1, 3, 10.
 * deterministic: SP columns left empty, as a beta = 0 run writes them. */
static void write_run(const char *dir, int deterministic) {
    static const int widths[3] = {4, 3, 2}, mi_ep[4] = {0, 1, 3, 10};
    char path[512];
    path_in(path, sizeof path, dir, "metrics.csv");
    FILE *f = fopen(path, "w");
    fprintf(f, "epoch,train_loss,train_acc,test_loss,test_acc,train_loss_clean,train_acc_clean,"
               "test_loss_clean,test_acc_clean,seconds\n");
    for (int e = 0; e <= 10; e++) {
        double l = 0.7 * exp(-e / 4.0) + 0.1;
        fprintf(f, "%d,%g,%g,%g,%g,%g,%g,%g,%g,%g\n", e, l, 1 - l / 1.4, l + 0.05,
                1 - (l + 0.05) / 1.4, 0.9 * l, 1 - 0.9 * l / 1.4, l, 1 - l / 1.4, 0.1 * e);
    }
    fclose(f);
    path_in(path, sizeof path, dir, "mi.csv");
    f = fopen(path, "w");
    fprintf(f, "epoch,layer,width,I_XT,I_XT_se,I_YT,I_YT_se,h_T,h_T_given_X,h_T_given_Y,"
               "kde_lower_h_T,kde_upper_h_T\n");
    for (int k = 0; k < 4; k++)
        for (int l = 1; l <= 3; l++) {
            if (deterministic)
                fprintf(f, "%d,%d,%d,,,,,,,,,\n", mi_ep[k], l, widths[l - 1]);
            else
                fprintf(f, "%d,%d,%d,%g,0.05,%g,0.01,1,0.5,0.8,,\n", mi_ep[k], l, widths[l - 1],
                        4.0 - l - 0.1 * mi_ep[k], 0.1 * l + 0.04 * mi_ep[k]);
        }
    fclose(f);
    path_in(path, sizeof path, dir, "binned.csv");
    f = fopen(path, "w");
    fprintf(f, "epoch,layer,bin,noise,H_bin,I_YT_bin\n");
    for (int k = 0; k < 4; k++)
        for (int l = 1; l <= 3; l++)
            fprintf(f, "%d,%d,0.07,noisy,%g,0.5\n%d,%d,szt30,clean,%g,0.4\n", mi_ep[k], l, 5.0 - l,
                    mi_ep[k], l, 4.5 - l);
    fclose(f);
    path_in(path, sizeof path, dir, "activations.csv");
    f = fopen(path, "w");
    fprintf(f, "epoch,layer,lo,hi,density\n");
    for (int k = 0; k < 4; k++)
        for (int l = 1; l <= 3; l++)
            for (int b = 0; b < 10; b++) {
                double c = -0.9 + 0.2 * b, s = 0.3 + 0.05 * mi_ep[k];
                fprintf(f, "%d,%d,%g,%g,%g\n", mi_ep[k], l, c - 0.1, c + 0.1,
                        exp(-c * c / (2 * s * s)) / (s * sqrt(2 * M_PI)));
            }
    fclose(f);
    path_in(path, sizeof path, dir, "scatter.csv");
    f = fopen(path, "w");
    fprintf(f, "epoch,layer,input,label,u1,u2,u3\n");
    for (int k = 0; k < 4; k++)
        for (int l = 2; l <= 3; l++)
            for (int i = 0; i < 40; i++) {
                double a = 2 * M_PI * i / 40, r = 0.3 + 0.05 * mi_ep[k];
                fprintf(f, "%d,%d,%d,%d,%g,%g,", mi_ep[k], l, i, i % 2, r * cos(a), r * sin(a));
                if (widths[l - 1] == 3) fprintf(f, "%g", r * cos(2 * a));
                fprintf(f, "\n");
            }
    fclose(f);
    write_file(dir, "info.csv",
               "key,value\nm,40\nH_Y,0.6931471806\nln_m,3.688879454\n"
               "activation,tanh\nbeta,0.1\n");
}

static const char *FIGS[7] = {"info_plane.png", "mi_epochs.png",   "binned_vs_sp.png",
                              "loss_acc.png",   "activations.png", "scatter.png",
                              "summary.png"};

/* Checks a written figure: PNG signature, size, RGB 8-bit, Software tEXt, and that something
 * was drawn (a few per cent of the pixels are not white). */
static void check_png(const char *dir, const char *name, int w, int h, const char *hash) {
    char p[512];
    png_info_t img;
    path_in(p, sizeof p, dir, name);
    ck_assert_msg(read_png(p, &img) == 0, "%s: not a readable PNG", name);
    ck_assert_int_eq(img.width, w);
    if (h) ck_assert_int_eq(img.height, h);
    ck_assert_int_eq(img.colour_type, PNG_COLOR_TYPE_RGB);
    ck_assert_int_eq(img.depth, 8);
    ck_assert_str_eq(img.software, "infoflow " IFLOW_VERSION);
    if (hash) ck_assert_str_eq(img.hash, hash);
    size_t ink = 0, n = (size_t)img.width * (size_t)img.height;
    for (size_t i = 0; i < n; i++)
        ink += img.rgb[3 * i] < 250 || img.rgb[3 * i + 1] < 250 || img.rgb[3 * i + 2] < 250;
    ck_assert_msg(ink > n / 50, "%s: only %zu of %zu pixels drawn", name, ink, n);
    free(img.rgb);
}

START_TEST(test_run_all_figures) {
    write_run(tmpdir, 0);
    /* config.ini that does not load as a config: the hash falls back to FNV-1a of its bytes */
    const char *ini = "not an ini file\n";
    write_file(tmpdir, "config.ini", ini);
    unsigned long long h = 14695981039346656037ULL;
    for (const char *s = ini; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    char hash[32];
    snprintf(hash, sizeof hash, "%016llx", h);
    char out[512], notes[2048];
    path_in(out, sizeof out, tmpdir, "figs/sub");
    iflow_plot_options opt = {.bits = 1, .verbose_notes = 1};
    int n = -1;
    iflow_error err = {0};
    ck_assert_msg(iflow_plot_run(tmpdir, out, &opt, notes, sizeof notes, &n, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(n, 7);
    ck_assert_str_eq(notes, "");
    for (int i = 0; i < 7; i++) {
        int summary = i == 6, scatter = i == 5;
        check_png(out, FIGS[i], summary ? 2400 : 1600, summary ? 1600 : scatter ? 0 : 1000, hash);
    }
    ck_assert(!file_exists(out, "summary.png.tmp"));
}
END_TEST

/* mi.csv with the k-sliced columns, clustering.csv and cosine_hist.csv: four more figures. The
 * old layout (test_run_all_figures) still draws its seven without notes. */
START_TEST(test_sliced_and_clustering_figures) {
    write_run(tmpdir, 0);
    char path[512];
    path_in(path, sizeof path, tmpdir, "mi.csv");
    FILE *f = fopen(path, "w");
    fprintf(f, "epoch,layer,width,I_XT,I_XT_se,I_YT,I_YT_se,h_T,h_T_given_X,h_T_given_Y,"
               "kde_lower_h_T,kde_upper_h_T,I_XT_sliced,I_XT_sliced_se,I_YT_sliced,"
               "I_YT_sliced_se,slice_dim,slices\n");
    static const int eps[4] = {0, 1, 3, 10};
    for (int k = 0; k < 4; k++)
        for (int l = 1; l <= 3; l++)
            fprintf(f, "%d,%d,%d,%g,0.05,%g,0.01,1,0.5,0.8,,,%g,0.1,%g,0.02,%d,%d\n", eps[k], l,
                    5 - l, 4.0 - l, 0.1 * l + 0.04 * eps[k], 3.0 - l - 0.1 * eps[k],
                    0.05 * l + 0.03 * eps[k], l < 3 ? 2 : 2, l < 3 ? 8 : 0);
    fclose(f);
    path_in(path, sizeof path, tmpdir, "clustering.csv");
    f = fopen(path, "w");
    fprintf(f, "epoch,layer,width,inputs,cos_within,cos_between,silhouette,knn_agreement,knn_k,"
               "zero_rows,seconds\n");
    for (int k = 0; k < 4; k++)
        for (int l = 1; l <= 3; l++)
            fprintf(f, "%d,%d,%d,100,%g,%g,%g,%g,10,0,0.01\n", eps[k], l, 5 - l,
                    0.5 + 0.04 * eps[k], 0.1 - 0.01 * l, 0.1 * l + 0.02 * eps[k],
                    0.6 + 0.03 * eps[k]);
    fclose(f);
    path_in(path, sizeof path, tmpdir, "cosine_hist.csv");
    f = fopen(path, "w");
    fprintf(f, "epoch,layer,pairs,lo,hi,fraction\n");
    for (int e = 1; e <= 10; e += 9)
        for (int l = 1; l <= 3; l++)
            for (int w = 0; w < 2; w++)
                for (int b = 0; b < 40; b++) {
                    double x = -1 + 0.05 * (b + 0.5), m = w ? 0.0 : 0.5 + 0.04 * e;
                    fprintf(f, "%d,%d,%s,%g,%g,%g\n", e, l, w ? "between" : "within", -1 + 0.05 * b,
                            -1 + 0.05 * (b + 1), 0.05 * exp(-8 * (x - m) * (x - m)));
                }
    fclose(f);
    char notes[2048];
    iflow_plot_options opt = {.bits = 0, .verbose_notes = 1};
    int n = -1;
    iflow_error err = {0};
    ck_assert_msg(iflow_plot_run(tmpdir, tmpdir, &opt, notes, sizeof notes, &n, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(n, 11);
    ck_assert_str_eq(notes, "");
    check_png(tmpdir, "info_plane_sliced.png", 1600, 1000, NULL);
    check_png(tmpdir, "mi_epochs_sliced.png", 1600, 1000, NULL);
    check_png(tmpdir, "clustering.png", 1600, 1100, NULL);
    check_png(tmpdir, "cosine_hist.png", 1600, 700, NULL);
    /* A malformed clustering.csv is an error naming the file, line and column. */
    write_file(tmpdir, "clustering.csv",
               "epoch,layer,width,cos_within,cos_between,silhouette,"
               "knn_agreement\n1,1,3,0.5,x,0.1,0.2\n");
    ck_assert_int_eq(iflow_plot_run(tmpdir, tmpdir, &opt, notes, sizeof notes, &n, &err),
                     IFLOW_EPARSE);
    ck_assert_ptr_nonnull(strstr(err.msg, "clustering.csv:2"));
}
END_TEST

START_TEST(test_deterministic_run_skips_sp_figures) {
    write_run(tmpdir, 1);
    char notes[2048];
    iflow_plot_options opt = {.bits = 0, .verbose_notes = 1};
    int n = -1;
    iflow_error err = {0};
    ck_assert_msg(iflow_plot_run(tmpdir, tmpdir, &opt, notes, sizeof notes, &n, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(n, 5);
    ck_assert(!file_exists(tmpdir, "info_plane.png") && !file_exists(tmpdir, "mi_epochs.png"));
    ck_assert_ptr_nonnull(
        strstr(notes, "info_plane.png: skipped, mi.csv has no SP values (deterministic run)\n"));
    ck_assert_ptr_nonnull(
        strstr(notes, "mi_epochs.png: skipped, mi.csv has no SP values (deterministic run)\n"));
    for (int i = 2; i < 7; i++) ck_assert_msg(file_exists(tmpdir, FIGS[i]), "%s missing", FIGS[i]);
    /* a directory without any log is not a run: an error naming it, nothing written */
    char empty[512];
    path_in(empty, sizeof empty, tmpdir, "empty");
    mkdir(empty, 0777);
    ck_assert_int_ne(iflow_plot_run(empty, empty, &opt, notes, sizeof notes, &n, &err), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "empty: not a run directory"));
}
END_TEST

/* A `repeats` directory holds only the aggregated logs (tools/aggregate) and info.csv: the
 * information and loss figures are drawn from the means, with the sds as bands. */
START_TEST(test_repeats_means_figures) {
    char path[512];
    path_in(path, sizeof path, tmpdir, "mi-mean.csv");
    FILE *f = fopen(path, "w");
    fprintf(f, "epoch,layer,width,runs,I_XT_mean,I_XT_sd,I_XT_se_mean,I_XT_se_sd,I_YT_mean,"
               "I_YT_sd,I_YT_se_mean,I_YT_se_sd\n");
    for (int e = 1; e <= 100; e *= 10)
        for (int l = 1; l <= 2; l++)
            fprintf(f, "%d,%d,%d,3,%g,0.2,0.01,0,%g,0.05,0.01,0\n", e, l, 4 - l, 3.0 - l,
                    0.1 * l + 0.001 * e);
    fclose(f);
    path_in(path, sizeof path, tmpdir, "metrics-mean.csv");
    f = fopen(path, "w");
    fprintf(f, "epoch,runs,train_loss_mean,train_loss_sd,train_acc_mean,train_acc_sd,"
               "test_loss_mean,test_loss_sd,test_acc_mean,test_acc_sd\n");
    for (int e = 0; e <= 100; e++)
        fprintf(f, "%d,3,%g,0.01,%g,0.01,%g,0.01,%g,0.01\n", e, 1.0 / (e + 1), 1 - 0.5 / (e + 1),
                1.1 / (e + 1), 1 - 0.6 / (e + 1));
    fclose(f);
    write_file(tmpdir, "info.csv", "key,value\nH_Y,0.6931471806\nln_m,3.688879454\n");
    char notes[2048];
    iflow_plot_options opt = {.bits = 0, .verbose_notes = 1};
    int n = -1;
    iflow_error err = {0};
    ck_assert_msg(iflow_plot_run(tmpdir, tmpdir, &opt, notes, sizeof notes, &n, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(n, 4);
    const char *drawn[4] = {"info_plane.png", "mi_epochs.png", "loss_acc.png", "summary.png"};
    for (int i = 0; i < 4; i++)
        check_png(tmpdir, drawn[i], i == 3 ? 2400 : 1600, i == 3 ? 1600 : 1000, NULL);
    ck_assert_ptr_nonnull(strstr(notes, "binned_vs_sp.png: skipped, no binned.csv"));
    /* A mean file without the sd columns is an error naming it. */
    write_file(tmpdir, "mi-mean.csv",
               "epoch,layer,width,runs,I_XT_mean,I_YT_mean\n1,1,3,3,2,0.1\n");
    ck_assert_int_ne(iflow_plot_run(tmpdir, tmpdir, &opt, notes, sizeof notes, &n, &err), 0);
    ck_assert_msg(strstr(err.msg, "mi-mean.csv") && strstr(err.msg, "I_XT_sd"), "%s", err.msg);
}
END_TEST

START_TEST(test_run_bad_csvs) {
    char notes[256];
    iflow_plot_options opt = {.bits = 0, .verbose_notes = 1};
    int n;
    iflow_error err = {0};
    write_run(tmpdir, 0);
    write_file(tmpdir, "mi.csv",
               "epoch,layer,width,I_XT,I_XT_se,I_YT,I_YT_se\n1,1,4,2.5,0.1,0.3,0.01\n"
               "2,1,4,abc,0.1,0.3,0.01\n");
    ck_assert_int_eq(iflow_plot_run(tmpdir, tmpdir, &opt, notes, sizeof notes, &n, &err),
                     IFLOW_EPARSE);
    ck_assert_str_eq(err.msg, "mi.csv:3: column I_XT: 'abc' is not a number");
    ck_assert_int_eq(n, 0);
    write_run(tmpdir, 0);
    write_file(tmpdir, "metrics.csv", "epoch,train_loss,train_acc,test_loss\n0,1,0.5,1\n");
    ck_assert_int_eq(iflow_plot_run(tmpdir, tmpdir, &opt, notes, sizeof notes, &n, &err),
                     IFLOW_EPARSE);
    ck_assert_str_eq(err.msg, "metrics.csv:1: missing column 'test_acc'");
    char absent[512];
    path_in(absent, sizeof absent, tmpdir, "no-such-run");
    ck_assert_int_eq(iflow_plot_run(absent, absent, &opt, notes, sizeof notes, &n, &err),
                     IFLOW_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, absent));
}
END_TEST

/* Runs `infoflow plot ARGS` with output to a file; returns the exit status. */
static int run_cli(const char *args, char *out, size_t n) {
    const char *bin = getenv("IFLOW_BIN");
    if (!bin) return -1;
    char cmd[2048], log[512];
    path_in(log, sizeof log, tmpdir, "cli.log");
    snprintf(cmd, sizeof cmd, "'%s' plot %s >'%s' 2>&1", bin, args, log);
    int st = system(cmd);
    FILE *f = fopen(log, "r");
    size_t k = f ? fread(out, 1, n - 1, f) : 0;
    out[k] = '\0';
    if (f) fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Two mi.csv of the same net in one figure (resample none vs bootstrap): a panel per layer and a
 * legend cell; a file without I_XT is refused with its name and the column. */
START_TEST(test_compare_mi) {
    write_run(tmpdir, 0);
    char a[512], b[512], out[512];
    path_in(a, sizeof a, tmpdir, "mi.csv");
    path_in(b, sizeof b, tmpdir, "mi-b.csv");
    write_file(tmpdir, "mi-b.csv",
               "epoch,layer,width,I_XT,I_XT_se\n1,1,4,2.5,0.1\n3,1,4,2.4,0.1\n"
               "1,2,3,1.5,0.1\n3,2,3,1.2,0.1\n");
    path_in(out, sizeof out, tmpdir, "cmp.png");
    const char *paths[] = {a, b}, *labels[] = {"none", "bootstrap"};
    iflow_plot_compare_options opt = {.n_refs = 1, .refs = {3.0}, .ref_labels = {"ref"}};
    iflow_error err = {0};
    ck_assert_msg(iflow_plot_compare_mi(paths, labels, 2, &opt, out, &err) == 0, "%s", err.msg);
    check_png(tmpdir, "cmp.png", 1600, 60 + 460 * 2, NULL); /* 3 layers + legend: 2 rows */
    ck_assert(file_exists(tmpdir, "cmp.pdf"));
    /* 20 layers: 20 panels and the legend, 7 rows of 3 (none left out) */
    path_in(b, sizeof b, tmpdir, "mi-20.csv");
    FILE *f = fopen(b, "w");
    fprintf(f, "epoch,layer,width,I_XT,I_XT_se\n");
    for (int l = 1; l <= 20; l++)
        fprintf(f, "1,%d,4,%g,0.1\n3,%d,4,%g,0.1\n", l, 0.1 * l, l, 0.2 * l);
    fclose(f);
    ck_assert_msg(iflow_plot_compare_mi(paths + 1, labels + 1, 1, &opt, out, &err) == 0, "%s",
                  err.msg);
    check_png(tmpdir, "cmp.png", 1600, 60 + 460 * 7, NULL);
    path_in(b, sizeof b, tmpdir, "mi-b.csv");
    write_file(tmpdir, "bad.csv", "epoch,layer,width\n1,1,4\n");
    path_in(b, sizeof b, tmpdir, "bad.csv");
    ck_assert_int_eq(iflow_plot_compare_mi(paths, labels, 2, &opt, out, &err), IFLOW_EPARSE);
    ck_assert_msg(strstr(err.msg, "bad.csv") && strstr(err.msg, "I_XT"), "%s", err.msg);
}
END_TEST

/* Two clustering.csv of the same net (e.g. with and without orthonormality): a row per measure, a
 * column per layer of the first file; a file without a measure column is refused with its name
 * and the column. */
START_TEST(test_compare_cluster) {
    const char *hdr = "epoch,layer,width,inputs,cos_within,cos_between,silhouette,knn_agreement\n";
    char text[1024];
    snprintf(text, sizeof text,
             "%s0,1,4,9,0.5,0.4,0.1,0.3\n0,2,3,9,0.6,0.5,0.1,0.3\n"
             "2,1,4,9,0.8,0.2,0.4,0.7\n2,2,3,9,0.9,0.1,0.5,0.8\n",
             hdr);
    write_file(tmpdir, "ca.csv", text);
    snprintf(text, sizeof text,
             "%s0,1,4,9,0.5,0.4,0.1,0.3\n0,2,3,9,0.6,0.5,0.1,0.3\n"
             "2,1,4,9,0.7,0.3,0.3,0.6\n2,2,3,9,0.7,0.3,0.3,0.6\n",
             hdr);
    write_file(tmpdir, "cb.csv", text);
    char a[512], b[512], out[512];
    path_in(a, sizeof a, tmpdir, "ca.csv");
    path_in(b, sizeof b, tmpdir, "cb.csv");
    path_in(out, sizeof out, tmpdir, "ccmp.png");
    const char *paths[] = {a, b}, *labels[] = {"plain", "orthonormal"};
    iflow_error err = {0};
    ck_assert_msg(iflow_plot_compare_cluster(paths, labels, 2, NULL, out, &err) == 0, "%s",
                  err.msg);
    check_png(tmpdir, "ccmp.png", 80 + 520 * 2, 130 + 380 * 4, NULL); /* 2 layers, 4 measures */
    write_file(tmpdir, "cbad.csv", "epoch,layer,width,cos_within\n0,1,4,0.5\n");
    path_in(b, sizeof b, tmpdir, "cbad.csv");
    ck_assert_int_eq(iflow_plot_compare_cluster(paths, labels, 2, NULL, out, &err), IFLOW_EPARSE);
    ck_assert_msg(strstr(err.msg, "cbad.csv") && strstr(err.msg, "cos_between"), "%s", err.msg);
    ck_assert_int_eq(iflow_plot_compare_cluster(paths, labels, 0, NULL, out, &err), IFLOW_EINVAL);
}
END_TEST

START_TEST(test_cli) {
    if (!getenv("IFLOW_BIN")) return; /* run outside meson: the library tests above still ran */
    write_run(tmpdir, 1);
    char args[1024], out[4096];
    snprintf(args, sizeof args, "'%s' --out '%s/o' --units bits", tmpdir, tmpdir);
    ck_assert_int_eq(run_cli(args, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "info_plane.png: skipped"));
    ck_assert_ptr_nonnull(strstr(out, "wrote 5 figures to"));
    snprintf(args, sizeof args, "'%s' --units furlongs", tmpdir);
    ck_assert_int_eq(run_cli(args, out, sizeof out), 2);
    snprintf(args, sizeof args, "'%s/nothing-here'", tmpdir);
    ck_assert_int_eq(run_cli(args, out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "nothing-here"));
    ck_assert_int_eq(run_cli("--help", out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "--units"));
}
END_TEST

/* ---- what the figures say ---- */

/* A plot_ctx over tmpdir's logs, as iflow_plot_run loads them (nats, notes kept). */
static void load_ctx(plot_ctx *c, char *notes, size_t n) {
    memset(c, 0, sizeof *c);
    c->run_dir = c->out_dir = tmpdir;
    c->unit = 1, c->unit_name = "nats", c->verbose = 1;
    c->notes = notes, c->notes_size = n;
    notes[0] = '\0';
    iflow_error err = {0};
    ck_assert_msg(plot_load_all(c, &err) == 0, "%s", err.msg);
}

/* The same drawing as PNG and PDF: every .png of a run has a .pdf beside it (a PDF header and
 * trailer), none with png_only; PNGs carry every tEXt chunk asked for, not only the first 8. */
START_TEST(test_pdf_beside_png_and_all_text_chunks) {
    write_run(tmpdir, 0);
    char out[512], notes[2048], p[600];
    path_in(out, sizeof out, tmpdir, "figs");
    iflow_plot_options opt = {.bits = 0, .verbose_notes = 1};
    int n = -1;
    iflow_error err = {0};
    ck_assert_msg(iflow_plot_run(tmpdir, out, &opt, notes, sizeof notes, &n, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(n, 7);
    for (int i = 0; i < 7; i++) {
        char pdf[64];
        snprintf(pdf, sizeof pdf, "%.*s.pdf", (int)(strlen(FIGS[i]) - 4), FIGS[i]);
        path_in(p, sizeof p, out, pdf);
        FILE *f = fopen(p, "rb");
        ck_assert_msg(f != NULL, "%s missing", pdf);
        char head[6] = "", tail[8] = "";
        ck_assert_uint_eq(fread(head, 1, 5, f), 5);
        fseek(f, -7, SEEK_END);
        ck_assert_uint_eq(fread(tail, 1, 7, f), 7);
        fclose(f);
        ck_assert_str_eq(head, "%PDF-");
        ck_assert_msg(strstr(tail, "%%EOF"), "%s: no PDF trailer", pdf);
        ck_assert(!file_exists(out, "summary.pdf.tmp"));
    }
    path_in(out, sizeof out, tmpdir, "png-only");
    opt.png_only = 1;
    ck_assert_msg(iflow_plot_run(tmpdir, out, &opt, notes, sizeof notes, &n, &err) == 0, "%s",
                  err.msg);
    ck_assert(file_exists(out, "info_plane.png") && !file_exists(out, "info_plane.pdf"));
    /* twelve tEXt chunks, all read back */
    iflow_figure fig;
    ck_assert_int_eq(iflow_fig_new(&fig, 64, 48, &err), 0);
    const char *keys[12], *vals[12];
    char names[12][16];
    for (int i = 0; i < 12; i++) {
        snprintf(names[i], sizeof names[i], "Key-%d", i);
        keys[i] = names[i], vals[i] = "value";
    }
    keys[0] = "Software";
    path_in(p, sizeof p, tmpdir, "text.png");
    ck_assert_int_eq(iflow_fig_write(&fig, p, 1, keys, vals, 12, &err), 0);
    iflow_fig_free(&fig);
    png_info_t img;
    ck_assert_int_eq(read_png(p, &img), 0);
    ck_assert_int_eq(img.n_text, 12);
    free(img.rgb);
    ck_assert(file_exists(tmpdir, "text.pdf"));
}
END_TEST

/* mi.csv whose layers 1 and 2 sit at the same points (both saturated at (ln m, H(Y))) and layer 3
 * elsewhere: the information plane says "layers 1-2 coincide" in its legend and a note; with
 * layer 1 moved away, it says nothing of the kind. */
static void write_saturated_mi(double shift1) {
    char path[512];
    path_in(path, sizeof path, tmpdir, "mi.csv");
    FILE *f = fopen(path, "w");
    fprintf(f, "epoch,layer,width,I_XT,I_XT_se,I_YT,I_YT_se\n");
    static const int eps[4] = {0, 1, 3, 10};
    for (int k = 0; k < 4; k++) {
        fprintf(f, "%d,1,4,%g,0.01,%g,0.001\n", eps[k], 3.688879454 - shift1, 0.6931471806);
        fprintf(f, "%d,2,3,3.688879454,0.01,0.6931471806,0.001\n", eps[k]);
        fprintf(f, "%d,3,2,%g,0.05,%g,0.01\n", eps[k], 1.0 + 0.1 * eps[k], 0.2 + 0.04 * eps[k]);
    }
    fclose(f);
}

START_TEST(test_info_plane_names_coinciding_layers) {
    write_run(tmpdir, 0);
    write_saturated_mi(0);
    plot_ctx c;
    char notes[2048];
    load_ctx(&c, notes, sizeof notes);
    iflow_figure fig;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_fig_new(&fig, 1600, 1000, &err), 0);
    c.fig_name = "info_plane.png";
    ck_assert_int_eq(plot_draw_info_plane(&c, &fig, (iflow_box){20, 60, 1560, 900}), 0);
    ck_assert(iflow_fig_says(&fig, "layers 1-2 coincide"));
    ck_assert(!iflow_fig_says(&fig, "layers 2-3"));
    ck_assert_msg(strstr(notes, "info_plane.png: layers 1-2 coincide"), "%s", notes);
    iflow_fig_free(&fig);
    /* the same layers against epoch, in both panels */
    ck_assert_int_eq(iflow_fig_new(&fig, 1600, 1000, &err), 0);
    c.fig_name = "mi_epochs.png";
    ck_assert_int_eq(plot_draw_mi_epochs(&c, &fig, (iflow_box){20, 60, 1560, 900}), 0);
    const char *first = strstr(fig.texts, "layers 1-2 coincide\n");
    ck_assert(first && strstr(first + 1, "layers 1-2 coincide\n")); /* in each panel */
    ck_assert_msg(strstr(notes, "mi_epochs.png: layers 1-2 coincide"), "%s", notes);
    iflow_fig_free(&fig);
    plot_free_files(&c);
    write_saturated_mi(1.5);
    load_ctx(&c, notes, sizeof notes);
    ck_assert_int_eq(iflow_fig_new(&fig, 1600, 1000, &err), 0);
    ck_assert_int_eq(plot_draw_info_plane(&c, &fig, (iflow_box){20, 60, 1560, 900}), 0);
    ck_assert(!iflow_fig_says(&fig, "coincide"));
    ck_assert_str_eq(notes, "");
    iflow_fig_free(&fig);
    plot_free_files(&c);
}
END_TEST

/* MI against epoch: a marker at each measured epoch of each layer on the log axis (epochs 1, 3,
 * 10 of 3 layers, in 2 panels), and legends that name the width as a width. */
START_TEST(test_mi_epochs_markers_and_width_legend) {
    write_run(tmpdir, 0);
    plot_ctx c;
    char notes[2048];
    load_ctx(&c, notes, sizeof notes);
    iflow_figure fig;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_fig_new(&fig, 1600, 1000, &err), 0);
    ck_assert_int_eq(plot_draw_mi_epochs(&c, &fig, (iflow_box){20, 60, 1560, 900}), 0);
    ck_assert_uint_eq(fig.n_markers, 3 * 3 * 2);
    ck_assert(iflow_fig_says(&fig, "layer 1, width 4\n"));
    ck_assert(iflow_fig_says(&fig, "layer 3, width 2\n"));
    ck_assert(!iflow_fig_says(&fig, "(4)"));
    iflow_fig_free(&fig);
    plot_free_files(&c);
}
END_TEST

/* The summary's scatter cell shows every pair of units of a 3-wide layer (u3 on an axis). */
START_TEST(test_summary_scatter_shows_third_unit) {
    write_run(tmpdir, 0);
    plot_ctx c;
    char notes[2048];
    load_ctx(&c, notes, sizeof notes);
    scat_plan sp;
    ck_assert_int_eq(plot_scatter_plan(&c, &sp), 0);
    ck_assert_int_eq(sp.width[0], 3);
    iflow_figure fig;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_fig_new(&fig, 1200, 700, &err), 0);
    size_t before = fig.n_markers;
    plot_draw_scatter_last(&c, &fig, (iflow_box){0, 0, 1200, 700}, &sp);
    ck_assert(iflow_fig_says(&fig, "u1\n") && iflow_fig_says(&fig, "u2\n"));
    ck_assert(iflow_fig_says(&fig, "u3\n"));
    ck_assert_uint_eq(fig.n_markers - before, 3 * 40); /* 40 points in each of 3 panels */
    ck_assert(iflow_fig_says(&fig, "y = 0\n") && iflow_fig_says(&fig, "y = 1\n"));
    iflow_fig_free(&fig);
    plot_free_files(&c);
    /* 12 classes: labels 0 and 10 share a colour, and its legend entry names both */
    write_file(tmpdir, "scatter.csv",
               "epoch,layer,input,label,u1,u2,u3\n"
               "1,2,0,0,0.1,0.2,\n1,2,1,10,0.3,0.1,\n1,2,2,11,0.2,0.2,\n"
               "1,2,3,,0.2,0.3,\n");
    load_ctx(&c, notes, sizeof notes);
    ck_assert_int_eq(plot_scatter_plan(&c, &sp), 0);
    ck_assert_int_eq(iflow_fig_new(&fig, 1200, 700, &err), 0);
    plot_draw_scatter_last(&c, &fig, (iflow_box){0, 0, 1200, 700}, &sp);
    ck_assert(iflow_fig_says(&fig, "y = 0, 10\n") && iflow_fig_says(&fig, "y = 11\n"));
    ck_assert(iflow_fig_says(&fig, "no label\n"));
    iflow_fig_free(&fig);
    plot_free_files(&c);
}
END_TEST

static void write_clustering(const char *extra_info) {
    char path[512];
    path_in(path, sizeof path, tmpdir, "clustering.csv");
    FILE *f = fopen(path, "w");
    fprintf(f, "epoch,layer,width,inputs,cos_within,cos_between,silhouette,knn_agreement,knn_k,"
               "zero_rows,seconds\n");
    for (int e = 1; e <= 3; e++)
        for (int l = 1; l <= 2; l++)
            fprintf(f, "%d,%d,%d,100,0.5,0.1,0.2,%g,10,0,0.01\n", e, l, 5 - l, 0.6 + 0.1 * e);
    fclose(f);
    char info[512];
    snprintf(info, sizeof info, "key,value\nm,40\nH_Y,0.6931471806\nln_m,3.688879454\n%s",
             extra_info);
    write_file(tmpdir, "info.csv", info);
}

/* Draws clustering.png's panels from tmpdir's logs into fig. */
static void draw_clustering(iflow_figure *fig, char *notes, size_t n) {
    plot_ctx c;
    load_ctx(&c, notes, n);
    char path[512];
    path_in(path, sizeof path, tmpdir, "clustering.csv");
    iflow_csv *f;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_csv_read(path, &f, &err), 0);
    ck_assert_int_eq(iflow_fig_new(fig, 1600, 1100, &err), 0);
    ck_assert_int_eq(plot_draw_clustering(&c, f, fig, (iflow_box){20, 60, 1560, 1000}), 0);
    iflow_csv_free(f);
    plot_free_files(&c);
}

/* Clustering panels: axis labels in words, not column names; the k-NN agreement panel draws its
 * chance level and says which: the class frequencies (info.csv knn_chance), else 1/classes, else
 * the labels of scatter.csv, else a note that there is none. */
START_TEST(test_clustering_labels_and_chance) {
    iflow_figure fig;
    char notes[2048];
    write_clustering("knn_chance,0.52\nclasses,2\n");
    draw_clustering(&fig, notes, sizeof notes);
    ck_assert(iflow_fig_says(&fig, "fraction of neighbours in class\n"));
    ck_assert(iflow_fig_says(&fig, "cosine, same class\n"));
    ck_assert(!iflow_fig_says(&fig, "knn_agreement") && !iflow_fig_says(&fig, "cos_within"));
    ck_assert(iflow_fig_says(&fig, "chance 0.52 (class frequencies)"));
    ck_assert(iflow_fig_says(&fig, "layer 2, width 3\n"));
    iflow_fig_free(&fig);
    write_clustering("classes,4\n");
    draw_clustering(&fig, notes, sizeof notes);
    ck_assert(iflow_fig_says(&fig, "chance 0.25 (1/4 classes)"));
    iflow_fig_free(&fig);
    write_clustering("");
    write_file(tmpdir, "scatter.csv",
               "epoch,layer,input,label,u1,u2,u3\n1,2,0,0,0.1,0.2,\n"
               "1,2,1,1,0.3,0.1,\n1,2,2,2,0.2,0.2,\n");
    draw_clustering(&fig, notes, sizeof notes);
    ck_assert(iflow_fig_says(&fig, "chance 0.333 (1/3, the labels of scatter.csv)"));
    iflow_fig_free(&fig);
    char p[512];
    path_in(p, sizeof p, tmpdir, "scatter.csv");
    unlink(p);
    draw_clustering(&fig, notes, sizeof notes);
    ck_assert(!iflow_fig_says(&fig, "chance"));
    ck_assert_msg(strstr(notes, "clustering.png: no chance level for k-NN agreement"), "%s", notes);
    iflow_fig_free(&fig);
}
END_TEST

/* Nothing is dropped without a word: 20 (bin, noise) pairs all in the legend; a layer logged at
 * 1100 epochs has its last epoch among those the scatter shows; 40 layers in mi.csv and 10
 * epochs in cosine_hist.csv are noted with what was left out. */
START_TEST(test_no_silent_clamps) {
    write_run(tmpdir, 0);
    char path[512];
    path_in(path, sizeof path, tmpdir, "binned.csv");
    FILE *f = fopen(path, "w");
    fprintf(f, "epoch,layer,bin,noise,H_bin,I_YT_bin\n");
    for (int q = 0; q < 20; q++)
        for (int e = 1; e <= 10; e *= 10) fprintf(f, "%d,1,b%d,noisy,%g,0.5\n", e, q, 1 + 0.1 * q);
    fclose(f);
    path_in(path, sizeof path, tmpdir, "scatter.csv");
    f = fopen(path, "w");
    fprintf(f, "epoch,layer,input,label,u1,u2,u3\n");
    for (int e = 0; e < 1100; e++)
        for (int i = 0; i < 2; i++) fprintf(f, "%d,3,%d,%d,%g,%g,\n", e, i, i, 0.1 * i, 0.2 * i);
    fclose(f);
    plot_ctx c;
    char notes[4096];
    load_ctx(&c, notes, sizeof notes);
    iflow_figure fig;
    iflow_error err = {0};
    ck_assert_int_eq(iflow_fig_new(&fig, 1600, 1000, &err), 0);
    ck_assert_int_eq(plot_draw_binned(&c, &fig, (iflow_box){20, 60, 1560, 900}), 0);
    ck_assert(iflow_fig_says(&fig, "bin b0, noisy") && iflow_fig_says(&fig, "bin b19, noisy"));
    iflow_fig_free(&fig);
    scat_plan sp;
    ck_assert_int_eq(plot_scatter_plan(&c, &sp), 0);
    ck_assert_uint_eq(sp.n_ep[0], 4);
    ck_assert_double_eq(sp.eps[0][0], 0);
    ck_assert_double_eq(sp.eps[0][3], 1099);
    plot_free_files(&c);

    path_in(path, sizeof path, tmpdir, "mi.csv");
    f = fopen(path, "w");
    fprintf(f, "epoch,layer,width,I_XT,I_XT_se,I_YT,I_YT_se\n");
    for (int l = 1; l <= 40; l++)
        for (int e = 1; e <= 2; e++) fprintf(f, "%d,%d,5,%g,0.1,0.3,0.01\n", e, l, 0.1 * l + e);
    fclose(f);
    path_in(path, sizeof path, tmpdir, "cosine_hist.csv");
    f = fopen(path, "w");
    fprintf(f, "epoch,layer,pairs,lo,hi,fraction\n");
    for (int e = 1; e <= 10; e++)
        for (int w = 0; w < 2; w++)
            for (int b = 0; b < 4; b++)
                fprintf(f, "%d,1,%s,%g,%g,0.25\n", e, w ? "between" : "within", -1 + 0.5 * b,
                        -0.5 + 0.5 * b);
    fclose(f);
    iflow_plot_options opt = {.verbose_notes = 1, .png_only = 1};
    int n;
    ck_assert_msg(iflow_plot_run(tmpdir, tmpdir, &opt, notes, sizeof notes, &n, &err) == 0, "%s",
                  err.msg);
    char want[160];
    snprintf(want, sizeof want,
             "mi.csv: 40 distinct layers; the figures show layers 1 to %d (the "
             "first %d), %d left out\n",
             MAX_LAYERS, MAX_LAYERS, 40 - MAX_LAYERS);
    ck_assert_msg(strstr(notes, want), "%s", notes);
    ck_assert_msg(strstr(notes, "cosine_hist.png: 10 epochs in cosine_hist.csv, 8 shown from 1 to "
                                "10, 2 left out\n"),
                  "%s", notes);
}
END_TEST

/* Logs gain columns (standard errors, bias, saturation flags): the figures find theirs by name
 * and ignore the rest, wherever they stand and whatever they hold. */
START_TEST(test_extra_columns_ignored) {
    write_run(tmpdir, 0);
    char path[512];
    path_in(path, sizeof path, tmpdir, "mi.csv");
    FILE *f = fopen(path, "w");
    fprintf(f, "I_XT_bias,epoch,layer,width,I_XT,I_XT_se,saturated,I_YT,I_YT_se,I_YT_bias,note\n");
    static const int eps[4] = {0, 1, 3, 10};
    for (int k = 0; k < 4; k++)
        for (int l = 1; l <= 3; l++)
            fprintf(f, "0.01,%d,%d,%d,%g,0.05,%s,%g,0.01,,x y\n", eps[k], l, 5 - l,
                    4.0 - l - 0.1 * eps[k], k % 2 ? "yes" : "no", 0.1 * l + 0.04 * eps[k]);
    fclose(f);
    write_clustering("knn_chance,0.5\nsaturation_rule,any unit\n");
    path_in(path, sizeof path, tmpdir, "clustering.csv");
    f = fopen(path, "w");
    fprintf(f, "flag,epoch,layer,width,cos_within,cos_within_se,cos_between,silhouette,"
               "knn_agreement,knn_agreement_se\n");
    for (int e = 1; e <= 3; e++)
        for (int l = 1; l <= 2; l++)
            fprintf(f, "ok,%d,%d,%d,0.5,0.01,0.1,0.2,0.7,0.02\n", e, l, 5 - l);
    fclose(f);
    char notes[2048];
    iflow_plot_options opt = {.verbose_notes = 1, .png_only = 1};
    int n = -1;
    iflow_error err = {0};
    ck_assert_msg(iflow_plot_run(tmpdir, tmpdir, &opt, notes, sizeof notes, &n, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(n, 8);
    ck_assert_str_eq(notes, "");
    check_png(tmpdir, "info_plane.png", 1600, 1000, NULL);
    check_png(tmpdir, "clustering.png", 1600, 1100, NULL);
    char a[512], out[512];
    path_in(a, sizeof a, tmpdir, "mi.csv");
    path_in(out, sizeof out, tmpdir, "cmp.png");
    const char *paths[] = {a}, *labels[] = {"extra"};
    iflow_plot_compare_options copt = {0};
    ck_assert_msg(iflow_plot_compare_mi(paths, labels, 1, &copt, out, &err) == 0, "%s", err.msg);
}
END_TEST

int main(void) {
    Suite *s = suite_create("plot");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_csv_numbers_strings_missing);
    tcase_add_test(tc, test_csv_errors);
    tcase_add_test(tc, test_ticks);
    tcase_add_test(tc, test_viridis);
    tcase_add_test(tc, test_point_lands_on_its_pixel);
    tcase_add_test(tc, test_run_all_figures);
    tcase_add_test(tc, test_deterministic_run_skips_sp_figures);
    tcase_add_test(tc, test_sliced_and_clustering_figures);
    tcase_add_test(tc, test_repeats_means_figures);
    tcase_add_test(tc, test_run_bad_csvs);
    tcase_add_test(tc, test_compare_mi);
    tcase_add_test(tc, test_compare_cluster);
    tcase_add_test(tc, test_cli);
    tcase_add_test(tc, test_pdf_beside_png_and_all_text_chunks);
    tcase_add_test(tc, test_info_plane_names_coinciding_layers);
    tcase_add_test(tc, test_mi_epochs_markers_and_width_legend);
    tcase_add_test(tc, test_summary_scatter_shows_third_unit);
    tcase_add_test(tc, test_clustering_labels_and_chance);
    tcase_add_test(tc, test_no_silent_clamps);
    tcase_add_test(tc, test_extra_columns_ignored);
    suite_add_tcase(s, tc);
    int failed = iflow_check_run(s);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
