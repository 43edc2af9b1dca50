/* infoflow export: a run's net at one epoch as NumPy arrays in PyTorch's layouts, with the first
 * inputs of its data file and their noiseless hidden outputs S_l (docs/FORMATS.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/checkpoint.h"
#include "infoflow/data.h"
#include "infoflow/run.h"
#include "io.h"

typedef struct export_state {
    const char *out;
    iflow_config cfg;
    iflow_net *net;
    iflow_dataset *data;
    size_t n; /* inputs exported */
} export_state;

static int save_f8(const export_state *s, const char *name, const double *v, const size_t *shape,
                   size_t ndim, iflow_error *err) {
    char path[IFLOW_PATH_MAX + 64];
    int rc = iflow_path_join(path, sizeof path, s->out, name, err);
    return rc ? rc : iflow_npy_save_f8(path, v, shape, ndim, err);
}

/* weight-J.npy as (C_out, C_in, KH, KW) or (out, in), bias-J.npy (out,): W is stored C_out x
 * (C_in KH KW) row-major, which is exactly PyTorch's C-order layout. */
static int export_weights(const export_state *s, iflow_error *err) {
    const iflow_net *net = s->net;
    int rc = 0;
    for (size_t l = 1; l <= net->n_layers && !rc; l++) {
        const iflow_block *b = &net->block[l];
        char name[64];
        size_t conv[4] = {b->units, net->shape[l - 1].c, b->kh, b->kw};
        size_t dense[2] = {net->w_rows[l], net->w_cols[l]};
        int is_conv = b->kind == IFLOW_BLOCK_CONV;
        snprintf(name, sizeof name, "weight-%zu.npy", l);
        rc = save_f8(s, name, net->w[l], is_conv ? conv : dense, is_conv ? 4 : 2, err);
        snprintf(name, sizeof name, "bias-%zu.npy", l);
        if (!rc) rc = save_f8(s, name, net->b[l], &net->w_rows[l], 1, err);
    }
    return rc;
}

/* inputs.npy, labels.npy and S-L.npy of every hidden block L. */
static int export_activations(const export_state *s, iflow_error *err) {
    const iflow_net *net = s->net;
    const iflow_shape *in = &s->cfg.input;
    size_t n = s->n;
    size_t img[4] = {n, in->c, in->h, in->w}, flat[2] = {n, net->widths[0]};
    int rc = save_f8(s, "inputs.npy", s->data->x, in->c ? img : flat, in->c ? 4 : 2, err);
    int64_t *labels = malloc((n ? n : 1) * sizeof *labels);
    if (!labels) return iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) labels[i] = s->data->y[i];
    char path[IFLOW_PATH_MAX + 64];
    if (!rc) rc = iflow_path_join(path, sizeof path, s->out, "labels.npy", err);
    if (!rc) rc = iflow_npy_save_i8(path, labels, &n, 1, err);
    free(labels);
    size_t max_w = 0;
    for (size_t l = 1; l < net->n_layers; l++)
        max_w = net->widths[l] > max_w ? net->widths[l] : max_w;
    iflow_workspace *ws = NULL;
    double *out = NULL;
    if (!rc && max_w) rc = iflow_workspace_new(net, n < 256 ? n : 256, &ws, err);
    if (!rc && max_w && !(out = malloc(n * max_w * sizeof *out)))
        rc = iflow_error_set(err, IFLOW_ENOMEM, "out of memory for %zu x %zu outputs", n, max_w);
    for (size_t l = 1; l < net->n_layers && !rc; l++) {
        const iflow_shape *sh = &net->shape[l];
        size_t conv[4] = {n, sh->c, sh->h, sh->w}, dense[2] = {n, net->widths[l]};
        int is_conv = net->block[l].kind == IFLOW_BLOCK_CONV;
        char name[64];
        iflow_net_propagate(net, s->data->x, n, l, NULL, ws, out);
        snprintf(name, sizeof name, "S-%zu.npy", l);
        rc = save_f8(s, name, out, is_conv ? conv : dense, is_conv ? 4 : 2, err);
    }
    free(out);
    iflow_workspace_free(ws);
    return rc;
}

/* The shortest of %.15g..%.17g that reads back as x. */
static void fmt_double(double x, char *buf, size_t n) {
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
}

/* net.txt: a comment with the input, activation and noise, then one block per line. */
static int export_net_txt(const export_state *s, iflow_error *err) {
    const iflow_net *net = s->net;
    char path[IFLOW_PATH_MAX + 64];
    iflow_atomic a;
    int rc = iflow_path_join(path, sizeof path, s->out, "net.txt", err);
    if (!rc) rc = iflow_atomic_open(&a, path, err);
    if (rc) return rc;
    fprintf(a.f, "# input %zux%zux%zu, activation %s", net->shape[0].c, net->shape[0].h,
            net->shape[0].w, iflow_activation_name(net->act));
    char num[40];
    if (net->act == IFLOW_ACT_LEAKY_RELU) {
        fmt_double(net->leaky_slope, num, sizeof num);
        fprintf(a.f, " (slope %s)", num);
    }
    fprintf(a.f, ", beta");
    for (size_t l = 1; l < net->n_layers; l++) {
        fmt_double(net->beta[l], num, sizeof num);
        fprintf(a.f, "%s%s", l > 1 ? "," : " ", num);
    }
    fprintf(a.f, "\n");
    for (size_t l = 1; l <= net->n_layers; l++) {
        char text[128];
        iflow_block_format(&net->block[l], text, sizeof text);
        fprintf(a.f, "%s\n", text);
    }
    return iflow_atomic_commit(&a, err);
}

static int load_inputs(export_state *s, size_t n_inputs, iflow_error *err) {
    const iflow_config *c = &s->cfg;
    int rc = !strcmp(c->data_format, "idx")
                 ? iflow_dataset_load_idx(c->data_file, c->data_labels, n_inputs, &s->data, err)
                 : iflow_dataset_load_csv(c->data_file, &s->data, err);
    if (rc) return rc;
    if (s->data->d != s->net->widths[0])
        return iflow_error_set(err, IFLOW_EINVAL, "%s: rows have %zu values, the net takes %zu",
                               c->data_file, s->data->d, s->net->widths[0]);
    s->n = s->data->n < n_inputs ? s->data->n : n_inputs;
    return 0;
}

int iflow_run_export(const char *run_dir, long epoch, size_t n_inputs, const char *out_dir,
                     iflow_error *err) {
    export_state s = {.out = out_dir};
    char path[IFLOW_PATH_MAX + 64];
    if (n_inputs == 0) return iflow_error_set(err, IFLOW_EINVAL, "--inputs must be >= 1");
    int rc = iflow_run_load_config(run_dir, &s.cfg, err);
    if (!rc) rc = iflow_config_net(&s.cfg, &s.net, err);
    if (!rc) {
        snprintf(path, sizeof path, "%s/checkpoints/epoch-%06ld.ckpt", run_dir, epoch);
        rc = iflow_checkpoint_load(path, NULL, s.net, NULL, NULL, err);
    }
    if (!rc) rc = load_inputs(&s, n_inputs, err);
    if (!rc) rc = iflow_mkdirs(out_dir, err);
    if (!rc) rc = export_weights(&s, err);
    if (!rc) rc = export_activations(&s, err);
    if (!rc) rc = export_net_txt(&s, err);
    iflow_dataset_free(s.data);
    iflow_net_free(s.net);
    return rc;
}
