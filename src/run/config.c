/* Run configuration: a table of every INI key drives parsing (inih, strict numbers, ranges,
 * "did you mean"), validation, writing back (exact doubles, absolute paths) and hashing. */
#include "infoflow/config.h"
#include "infoflow/entropy.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "config_layers.h"
#include "io.h"

/* ---- the key table ---------------------------------------------------------------------- */

// clang-format off
enum key_id {
    D_FILE, D_FORMAT, D_LABELS, D_TEST_SPLIT, D_TEST_FRACTION, D_SPLIT_SEED, D_MAX_ROWS,
    D_TEST_FILE, D_TEST_LABELS,
    N_LAYERS, N_INPUT, N_ACTIVATION, N_LEAKY_SLOPE, N_BETA, N_BETA_LAYERS, N_INIT,
    T_OPTIMIZER, T_LR, T_MOMENTUM, T_WEIGHT_DECAY, T_BETA1, T_BETA2, T_EPS, T_BATCH, T_EPOCHS,
    T_SEED, T_ORTHONORMAL, T_NOISE_GENERATOR, T_PRECISION, T_KEEP,
    E_EPOCHS, E_REPLICAS, E_MC, E_INPUTS, E_QUERIES, E_TOLERANCE, E_SEED, E_BINS, E_THREADS,
    E_RESAMPLE, E_BIAS,
    E_SLICES, E_SLICE_DIM, E_CLUSTER_INPUTS, E_CLUSTER_K,
    O_DIR, O_PLOT_EVERY, O_REPEATS,
    N_KEYS
};
// clang-format on

/* K_PATH values are resolved against the config file's directory; K_CUSTOM ones have their own
 * parser and formatter below. */
enum kind { K_PATH, K_STR, K_DOUBLE, K_SIZE, K_LONG, K_INT, K_U64, K_CUSTOM };

enum {
    HAS_LO = 1,   /* value >= lo */
    LO_OPEN = 2,  /* value > lo */
    HAS_HI = 4,   /* value < hi (all our upper bounds are open) */
    NO_HASH = 8,  /* in [data]/[net]/[train] but cannot change training results */
    HI_INCL = 16, /* value <= hi: the caps on counts that size allocations */
};

typedef struct key_def {
    const char *section, *name;
    enum kind kind;
    size_t offset, size; /* field in iflow_config; size for strings */
    double lo, hi;
    unsigned flags;
} key_def;

#define F(field)    offsetof(iflow_config, field), sizeof(((iflow_config *)0)->field)
#define GE(x)       (x), 0, HAS_LO
#define GT(x)       (x), 0, HAS_LO | LO_OPEN
#define UNIT        0, 1, HAS_LO | HAS_HI /* [0, 1) */
#define ANY         0, 0, 0
#define CAP(lo, hi) (lo), (hi), HAS_LO | HAS_HI | HI_INCL /* [lo, hi] */

// clang-format off
static const key_def keys[N_KEYS] = {
    [D_FILE] = {"data", "file", K_PATH, F(data_file), ANY},
    [D_FORMAT] = {"data", "format", K_CUSTOM, F(data_format), ANY},
    [D_LABELS] = {"data", "labels", K_PATH, F(data_labels), ANY},
    [D_TEST_SPLIT] = {"data", "test_split", K_PATH, F(test_split), ANY},
    [D_TEST_FRACTION] = {"data", "test_fraction", K_DOUBLE, F(test_fraction), UNIT},
    [D_SPLIT_SEED] = {"data", "split_seed", K_U64, F(split_seed), ANY},
    [D_MAX_ROWS] = {"data", "max_rows", K_SIZE, F(max_rows), GE(0)},
    [D_TEST_FILE] = {"data", "test_file", K_PATH, F(test_file), ANY},
    [D_TEST_LABELS] = {"data", "test_labels", K_PATH, F(test_labels), ANY},
    [N_LAYERS] = {"net", "layers", K_CUSTOM, F(widths), ANY},
    [N_INPUT] = {"net", "input", K_CUSTOM, F(input), ANY},
    [N_ACTIVATION] = {"net", "activation", K_CUSTOM, F(activation), ANY},
    [N_LEAKY_SLOPE] = {"net", "leaky_slope", K_DOUBLE, F(leaky_slope), UNIT},
    [N_BETA] = {"net", "beta", K_DOUBLE, F(beta), CAP(0, IFLOW_MAX_BETA)},
    [N_BETA_LAYERS] = {"net", "beta_layers", K_CUSTOM, F(beta_layers), ANY},
    [N_INIT] = {"net", "init", K_CUSTOM, F(init), ANY},
    [T_OPTIMIZER] = {"train", "optimizer", K_CUSTOM, F(optim.kind), ANY},
    [T_LR] = {"train", "lr", K_DOUBLE, F(optim.lr), GT(0)},
    [T_MOMENTUM] = {"train", "momentum", K_DOUBLE, F(optim.momentum), UNIT},
    [T_WEIGHT_DECAY] = {"train", "weight_decay", K_DOUBLE, F(optim.weight_decay), GE(0)},
    [T_BETA1] = {"train", "adam_beta1", K_DOUBLE, F(optim.beta1), UNIT},
    [T_BETA2] = {"train", "adam_beta2", K_DOUBLE, F(optim.beta2), UNIT},
    [T_EPS] = {"train", "adam_eps", K_DOUBLE, F(optim.eps), GT(0)},
    [T_BATCH] = {"train", "batch", K_SIZE, F(batch), GE(1)},
    [T_EPOCHS] = {"train", "epochs", K_LONG, F(epochs), CAP(1, IFLOW_MAX_EPOCHS)},
    [T_SEED] = {"train", "seed", K_U64, F(seed), ANY},
    [T_ORTHONORMAL] = {"train", "orthonormal", K_DOUBLE, F(orthonormal), GE(0)},
    [T_NOISE_GENERATOR] = {"train", "noise_generator", K_CUSTOM, F(noise_generator), ANY},
    [T_PRECISION] = {"train", "precision", K_CUSTOM, F(precision), ANY},
    [T_KEEP] = {"train", "checkpoint_keep", K_CUSTOM, F(checkpoint_keep), 0, 0, NO_HASH},
    [E_EPOCHS] = {"estimate", "epochs", K_CUSTOM, F(mi_epochs), ANY},
    [E_REPLICAS] = {"estimate", "replicas", K_SIZE, F(replicas), CAP(1, IFLOW_MAX_REPLICAS)},
    [E_MC] = {"estimate", "mc", K_SIZE, F(mc), CAP(1, IFLOW_MAX_MC)},
    [E_INPUTS] = {"estimate", "inputs", K_SIZE, F(mi_inputs), GE(0)},
    [E_QUERIES] = {"estimate", "queries_per_input", K_SIZE, F(queries_per_input), GE(0)},
    [E_TOLERANCE] = {"estimate", "tolerance", K_DOUBLE, F(tolerance), GE(0)},
    [E_SEED] = {"estimate", "seed", K_U64, F(mi_seed), ANY},
    [E_BINS] = {"estimate", "bins", K_CUSTOM, F(bins), ANY},
    [E_THREADS] = {"estimate", "threads", K_INT, F(threads), CAP(0, IFLOW_MAX_THREADS)},
    [E_RESAMPLE] = {"estimate", "resample", K_CUSTOM, F(resample), ANY},
    [E_BIAS] = {"estimate", "bias", K_CUSTOM, F(mi_bias), ANY},
    [E_SLICES] = {"estimate", "slices", K_SIZE, F(slices), CAP(1, IFLOW_MAX_SLICES)},
    [E_SLICE_DIM] = {"estimate", "slice_dim", K_SIZE, F(slice_dim), CAP(0, IFLOW_MAX_WIDTH)},
    [E_CLUSTER_INPUTS] = {"estimate", "cluster_inputs", K_SIZE, F(cluster_inputs),
                          CAP(0, IFLOW_MAX_CLUSTER_INPUTS)},
    [E_CLUSTER_K] = {"estimate", "cluster_k", K_SIZE, F(cluster_k), CAP(1, IFLOW_MAX_CLUSTER_K)},
    [O_DIR] = {"output", "dir", K_STR, F(out_dir), ANY},
    [O_PLOT_EVERY] = {"output", "plot_every", K_LONG, F(plot_every), GE(0)},
    [O_REPEATS] = {"output", "repeats", K_SIZE, F(repeats), CAP(1, IFLOW_MAX_REPEATS)},
};
// clang-format on

static const char *const sections[] = {"data", "net", "train", "estimate", "output"};
#define N_SECTIONS (sizeof sections / sizeof sections[0])

static void *field(iflow_config *cfg, int id) { return (char *)cfg + keys[id].offset; }
static const void *cfield(const iflow_config *cfg, int id) {
    return (const char *)cfg + keys[id].offset;
}

/* ---- defaults and small helpers --------------------------------------------------------- */

void iflow_config_defaults(iflow_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->data_format, "csv");
    cfg->test_fraction = 0.2;
    cfg->activation = IFLOW_ACT_TANH;
    cfg->leaky_slope = 0.01;
    cfg->init = IFLOW_INIT_PYTORCH;
    cfg->optim = (iflow_optim_params){
        .kind = IFLOW_OPT_ADAM, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    cfg->batch = 256;
    cfg->seed = 1;
    cfg->noise_generator = IFLOW_SP_DEFAULT_NORMALS;
    strcpy(cfg->checkpoint_keep, "last");
    strcpy(cfg->mi_epochs, "log:20");
    cfg->replicas = 100;
    cfg->mc = IFLOW_SP_DEFAULT_MC;
    cfg->tolerance = IFLOW_SP_DEFAULT_TOLERANCE;
    cfg->mi_seed = 1;
    cfg->n_bins = 2;
    cfg->slices = 16;
    cfg->slice_dim = 0;
    cfg->cluster_inputs = 2000;
    cfg->cluster_k = 10;
    cfg->bins[0] = 0; /* szt30 */
    cfg->bins[1] = 0.07;
    strcpy(cfg->out_dir, "results/runs/default");
    cfg->repeats = 1;
}

double iflow_config_beta(const iflow_config *cfg, size_t l) {
    if (l >= 1 && l <= cfg->n_beta_layers) return cfg->beta_layers[l - 1];
    return cfg->beta;
}

/* Levenshtein distance of two short names (longer ones are simply "far"). */
static size_t edit_distance(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b), row[33];
    if (na > 32 || nb > 32) return 99;
    for (size_t j = 0; j <= nb; j++) row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t sub = diag + (a[i - 1] != b[j - 1]);
            size_t best = (up < row[j - 1] ? up : row[j - 1]) + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    return row[nb];
}

static int find_key(const char *section, const char *name) {
    for (int i = 0; i < N_KEYS; i++)
        if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name)) return i;
    return -1;
}

/* "> 0", ">= 1", "in [0, 1)": the allowed range of a numeric key, for messages. */
static const char *range_text(const key_def *k, char *buf, size_t n) {
    if ((k->flags & HAS_LO) && (k->flags & HAS_HI))
        snprintf(buf, n, "in [%.15g, %.15g%c", k->lo, k->hi, (k->flags & HI_INCL) ? ']' : ')');
    else if (k->flags & HAS_LO)
        snprintf(buf, n, "%s %g", (k->flags & LO_OPEN) ? ">" : ">=", k->lo);
    else
        snprintf(buf, n, "a number");
    return buf;
}

static int in_range(const key_def *k, double v) {
    if (!isfinite(v)) return 0;
    if ((k->flags & HAS_LO) && ((k->flags & LO_OPEN) ? !(v > k->lo) : !(v >= k->lo))) return 0;
    if (!(k->flags & HAS_HI)) return 1;
    return (k->flags & HI_INCL) ? v <= k->hi : v < k->hi;
}

static int range_error(int id, const char *got, char *msg, size_t n) {
    char r[64];
    snprintf(msg, n, "[%s] %s must be %s, got %s", keys[id].section, keys[id].name,
             range_text(&keys[id], r, sizeof r), got);
    return IFLOW_EINVAL;
}

/* Strict numbers: the whole value must be one number (no trailing text, no empty string).
 * -1: malformed; OUT_OF_RANGE: a well-formed number beyond double or long long (1e400). */
#define OUT_OF_RANGE (-2)
static int parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    if (end == s || *end || isnan(*out)) return -1;
    return ((errno == ERANGE && fabs(*out) > 1) || !isfinite(*out)) ? OUT_OF_RANGE : 0;
}

static int parse_ll(const char *s, long long *out) {
    char *end;
    errno = 0;
    *out = strtoll(s, &end, 10);
    if (end == s || *end) return -1;
    return errno == ERANGE ? OUT_OF_RANGE : 0;
}

/* The message for a value parse_double/parse_ll refused: malformed, or beyond the type. */
static int number_error(int id, const char *v, int why, char *msg, size_t n);

static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (strchr(s, '-')) return -1;
    unsigned long long v = strtoull(s, &end, 10);
    *out = v;
    return (end == s || *end || errno == ERANGE) ? -1 : 0;
}

static int copy_str(char *dst, size_t n, const char *src) {
    return snprintf(dst, n, "%s", src) >= (int)n ? -1 : 0;
}

/* Splits a comma list into trimmed entries (in buf); an empty entry is an error. */
static int split_list(const char *s, char *buf, size_t bufsz, char **items, size_t max, size_t *n) {
    *n = 0;
    if (copy_str(buf, bufsz, s)) return -1;
    if (!*buf) return 0;
    for (char *p = buf;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        while (*p == ' ' || *p == '\t') p++;
        char *e = p + strlen(p);
        while (e > p && (e[-1] == ' ' || e[-1] == '\t')) *--e = '\0';
        if (!*p || *n >= max) return -1;
        items[(*n)++] = p;
        if (!comma) return 0;
        p = comma + 1;
    }
}

/* ---- custom keys ------------------------------------------------------------------------ */

/* "all", "last", "every:N" (N >= 1) or "log:K" (K >= 2). */
static int keep_spec_ok(const char *s) {
    long long v;
    if (!strcmp(s, "all") || !strcmp(s, "last")) return 1;
    if (!strncmp(s, "every:", 6)) return !parse_ll(s + 6, &v) && v >= 1;
    if (!strncmp(s, "log:", 4)) return !parse_ll(s + 4, &v) && v >= 2;
    return 0;
}

static int malformed(int id, const char *v, char *msg, size_t n) {
    snprintf(msg, n, "[%s] %s: malformed number '%.200s'", keys[id].section, keys[id].name, v);
    return IFLOW_EPARSE;
}

static int number_error(int id, const char *v, int why, char *msg, size_t n) {
    if (why != OUT_OF_RANGE) return malformed(id, v, msg, n);
    if (id == N_LAYERS) {
        snprintf(msg, n, "[net] layers: width %.200s is out of range (must be in [1, %d])", v,
                 IFLOW_MAX_WIDTH);
        return IFLOW_EINVAL;
    }
    char r[64];
    snprintf(msg, n, "[%s] %s: %.200s is out of range (must be %s)", keys[id].section,
             keys[id].name, v, range_text(&keys[id], r, sizeof r));
    return IFLOW_EINVAL;
}

/* layers = 12,10,7,2: 2 to IFLOW_MAX_LAYERS + 1 widths >= 1; or typed blocks, one per entry, if
 * the first entry starts with a letter. Shapes are checked once [net] input is known. */
static int parse_layers(iflow_config *cfg, const char *v, char *msg, size_t n) {
    char buf[IFLOW_PATH_MAX], *items[IFLOW_MAX_LAYERS + 1];
    size_t cnt;
    long long w;
    int typed = (*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z');
    size_t max = typed ? IFLOW_MAX_LAYERS : IFLOW_MAX_LAYERS + 1;
    if (split_list(v, buf, sizeof buf, items, max, &cnt) || cnt < (typed ? 1u : 2u)) {
        snprintf(msg, n,
                 "[net] layers must list 2 to %d positive widths, or 1 to %d blocks, got "
                 "'%.200s'",
                 IFLOW_MAX_LAYERS + 1, IFLOW_MAX_LAYERS, v);
        return IFLOW_EINVAL;
    }
    for (size_t i = 0; typed && i < cnt; i++) {
        int rc = iflow_config_parse_block(items[i], &cfg->blocks[i], msg, n);
        if (rc) return rc;
    }
    if (typed) {
        cfg->n_blocks = cnt;
        cfg->n_widths = 0; /* derived from the shapes after the whole file is read */
        return 0;
    }
    for (size_t i = 0; i < cnt; i++) {
        int why = parse_ll(items[i], &w);
        if (why) return number_error(N_LAYERS, items[i], why, msg, n);
        if (w < 1 || w > IFLOW_MAX_WIDTH) {
            snprintf(msg, n, "[net] layers: width %lld must be in [1, %d]", w, IFLOW_MAX_WIDTH);
            return IFLOW_EINVAL;
        }
        cfg->widths[i] = (size_t)w;
    }
    cfg->n_widths = cnt;
    cfg->n_blocks = 0;
    return 0;
}

/* beta_layers = 0.1,0.2 (each >= 0) or bins = szt30,0.07 (widths > 0; szt30 is stored as 0,
 * meaning Shwartz-Ziv & Tishby's 30 equal bins on [-1, 1]). Empty = no entries. */
static int parse_double_list(iflow_config *cfg, int id, const char *v, char *msg, size_t n) {
    int bins = id == E_BINS;
    size_t max = bins ? IFLOW_MAX_BINS : IFLOW_MAX_LAYERS, cnt;
    double *out = bins ? cfg->bins : cfg->beta_layers;
    char buf[IFLOW_PATH_MAX], *items[IFLOW_MAX_LAYERS];
    if (split_list(v, buf, sizeof buf, items, max, &cnt)) {
        snprintf(msg, n, "[%s] %s: expected a comma list of at most %zu entries, got '%.200s'",
                 keys[id].section, keys[id].name, max, v);
        return IFLOW_EPARSE;
    }
    for (size_t i = 0; i < cnt; i++) {
        if (bins && !strcmp(items[i], "szt30")) {
            out[i] = 0;
            continue;
        }
        int why = parse_double(items[i], &out[i]);
        if (why) return number_error(id, items[i], why, msg, n);
        if (bins ? !(out[i] > 0) : !(out[i] >= 0 && out[i] <= IFLOW_MAX_BETA)) {
            snprintf(msg, n, "[%s] %s: entry %s must be %s", keys[id].section, keys[id].name,
                     items[i], bins ? "'szt30' or a width > 0" : "in [0, 1e+100]");
            return IFLOW_EINVAL;
        }
    }
    *(bins ? &cfg->n_bins : &cfg->n_beta_layers) = cnt;
    return 0;
}

/* [estimate] epochs: syntax only here; the range depends on [train] epochs, checked once the
 * whole file is read. */
static int parse_mi_epochs(iflow_config *cfg, const char *v, char *msg, size_t n) {
    long *ep = NULL;
    size_t cnt;
    iflow_error e;
    int rc = iflow_epochs_expand(v, 1, &ep, &cnt, &e);
    free(ep);
    if (rc) {
        snprintf(msg, n, "[estimate] epochs: %.800s", e.msg);
        return rc;
    }
    if (copy_str(cfg->mi_epochs, sizeof cfg->mi_epochs, v)) {
        snprintf(msg, n, "[estimate] epochs: spec longer than %zu characters",
                 sizeof cfg->mi_epochs - 1);
        return IFLOW_EINVAL;
    }
    return 0;
}

/* Parses a custom key's value into cfg: IFLOW_EPARSE for bad syntax, IFLOW_EINVAL for a value
 * that is well formed but not allowed. */
static int parse_custom(iflow_config *cfg, int id, const char *v, char *msg, size_t n) {
    const char *allowed = "";
    switch (id) {
    case N_LAYERS: return parse_layers(cfg, v, msg, n);
    case N_INPUT: return iflow_config_parse_input(v, &cfg->input, msg, n);
    case N_BETA_LAYERS:
    case E_BINS: return parse_double_list(cfg, id, v, msg, n);
    case E_EPOCHS: return parse_mi_epochs(cfg, v, msg, n);
    case D_FORMAT:
        if (!strcmp(v, "csv") || !strcmp(v, "idx")) return copy_str(cfg->data_format, 8, v);
        allowed = "csv or idx";
        break;
    case N_ACTIVATION:
        if (!iflow_activation_parse(v, &cfg->activation)) return 0;
        allowed = "tanh, relu, leaky_relu, sigmoid or linear";
        break;
    case N_INIT:
        if (!iflow_init_parse(v, &cfg->init)) return 0;
        allowed = "pytorch, xavier or truncnormal";
        break;
    case T_OPTIMIZER:
        if (!iflow_optimizer_parse(v, &cfg->optim.kind)) return 0;
        allowed = "adam or sgd";
        break;
    case T_NOISE_GENERATOR: {
        int g = iflow_normals_parse(v);
        if (g >= 0) {
            cfg->noise_generator = (iflow_normals)g;
            cfg->noise_generator_given = 1;
            return 0;
        }
        allowed = "v1 or v2";
        break;
    }
    case T_PRECISION: {
        int p = iflow_precision_parse(v);
        if (p >= 0) {
            cfg->precision = (iflow_precision)p;
            return 0;
        }
        allowed = "float64 or float32";
        break;
    }
    case T_KEEP:
        if (keep_spec_ok(v) && !copy_str(cfg->checkpoint_keep, sizeof cfg->checkpoint_keep, v))
            return 0;
        allowed = "all, last, every:N (N >= 1) or log:K (K >= 2)";
        break;
    case E_RESAMPLE:
        if (!strcmp(v, "none") || !strcmp(v, "bootstrap")) {
            cfg->resample = v[0] == 'b' ? IFLOW_RESAMPLE_BOOTSTRAP : IFLOW_RESAMPLE_NONE;
            return 0;
        }
        allowed = "none or bootstrap";
        break;
    case E_BIAS:
        if (!strcmp(v, "on") || !strcmp(v, "off")) {
            cfg->mi_bias = v[1] == 'n';
            return 0;
        }
        allowed = "on or off";
        break;
    }
    snprintf(msg, n, "[%s] %s: '%.200s' is not allowed; use %s", keys[id].section, keys[id].name, v,
             allowed);
    return IFLOW_EINVAL;
}

/* ---- parsing ---------------------------------------------------------------------------- */

typedef struct parse_state {
    iflow_config *cfg;
    FILE *f;
    char dir[IFLOW_PATH_MAX]; /* config directory with its trailing '/', or "" */
    int lineno;               /* physical line being handled (counted by read_line) */
    int indented;             /* that line starts with white space */
    int line[N_KEYS];         /* line where each key was given, 0 = not given */
    int relative[N_KEYS];     /* a K_PATH value given as a relative path */
    int err_line, err_code;
    char msg[900];
} parse_state;

/* inih's line reader, wrapped so the handler knows the line number (needed for errors found
 * after the whole file is read) and so over-long lines fail instead of being split. */
static char *read_line(char *buf, int size, void *stream) {
    parse_state *st = stream;
    /* getc, not fgets: after a NUL byte fgets' strlen would hide the rest of the line, which
     * then came back as a line of its own (e.g. "; x\0...lr = 7" set lr). */
    size_t len = 0;
    for (int c; len + 1 < (size_t)size && (c = getc(st->f)) != EOF;) {
        if (c == '\0') {
            if (!st->err_line) {
                st->err_line = st->lineno + 1;
                st->err_code = IFLOW_EPARSE;
                snprintf(st->msg, sizeof st->msg, "NUL byte: not a text file");
            }
            return NULL;
        }
        buf[len++] = (char)c;
        if (c == '\n') break;
    }
    if (len == 0) return NULL;
    buf[len] = '\0';
    st->lineno++;
    st->indented = buf[0] == ' ' || buf[0] == '\t';
    if (len + 1 == (size_t)size && buf[len - 1] != '\n') {
        int c = getc(st->f);
        if (c == '\r') c = getc(st->f);
        if (c != '\n' && c != EOF) {
            if (!st->err_line) {
                st->err_line = st->lineno;
                st->err_code = IFLOW_EPARSE;
                snprintf(st->msg, sizeof st->msg, "line longer than %d characters", size - 1);
            }
            return NULL;
        }
    }
    return buf;
}

static int unknown_key(const char *section, const char *name, char *msg, size_t n) {
    int in_section = 0, best = -1, other = -1;
    size_t best_d = 3;
    for (size_t s = 0; s < N_SECTIONS; s++) in_section |= !strcmp(sections[s], section);
    if (!in_section) {
        const char *guess = NULL;
        for (size_t s = 0; s < N_SECTIONS; s++)
            if (edit_distance(section, sections[s]) < best_d)
                best_d = edit_distance(section, sections[s]), guess = sections[s];
        if (!*section)
            snprintf(msg, n, "key '%s' is outside any [section]", name);
        else if (guess)
            snprintf(msg, n, "unknown section [%s]; did you mean [%s]?", section, guess);
        else
            snprintf(msg, n, "unknown section [%s] (known: data, net, train, estimate, output)",
                     section);
        return IFLOW_EPARSE;
    }
    for (int i = 0; i < N_KEYS; i++) {
        if (strcmp(keys[i].section, section) != 0) {
            if (!strcmp(keys[i].name, name) && other < 0) other = i;
        } else if (edit_distance(name, keys[i].name) < best_d) {
            best_d = edit_distance(name, keys[i].name);
            best = i;
        }
    }
    if (other >= 0)
        snprintf(msg, n, "unknown key '%s' in [%s]; it belongs in [%s]", name, section,
                 keys[other].section);
    else if (best >= 0)
        snprintf(msg, n, "unknown key '%s' in [%s]; did you mean '%s'?", name, section,
                 keys[best].name);
    else
        snprintf(msg, n, "unknown key '%s' in [%s]", name, section);
    return IFLOW_EPARSE;
}

/* Stores one value (already stripped of any inline comment) into its field. */
static int store_value(parse_state *st, int id, const char *v, char *msg, size_t n) {
    const key_def *k = &keys[id];
    void *p = field(st->cfg, id);
    long long ll;
    double d;
    int why;
    switch (k->kind) {
    case K_PATH:
        st->relative[id] = *v && *v != '/';
        if (*v && *v != '/' ? snprintf(p, k->size, "%s%s", st->dir, v) >= (int)k->size
                            : copy_str(p, k->size, v))
            break;
        return 0;
    case K_STR:
        if (copy_str(p, k->size, v)) break;
        return 0;
    case K_CUSTOM: return parse_custom(st->cfg, id, v, msg, n);
    case K_U64:
        if (parse_u64(v, p)) return malformed(id, v, msg, n);
        return 0;
    case K_DOUBLE:
        if ((why = parse_double(v, &d))) return number_error(id, v, why, msg, n);
        if (!in_range(k, d)) return range_error(id, v, msg, n);
        *(double *)p = d;
        return 0;
    default: /* K_SIZE, K_LONG, K_INT */
        if ((why = parse_ll(v, &ll))) return number_error(id, v, why, msg, n);
        if (!in_range(k, (double)ll) || (k->kind == K_INT && ll > INT_MAX) ||
            (k->kind == K_LONG && ll > LONG_MAX))
            return range_error(id, v, msg, n);
        if (k->kind == K_SIZE) *(size_t *)p = (size_t)ll;
        if (k->kind == K_LONG) *(long *)p = (long)ll;
        if (k->kind == K_INT) *(int *)p = (int)ll;
        return 0;
    }
    snprintf(msg, n, "[%s] %s: value longer than %zu characters", k->section, k->name, k->size - 1);
    return IFLOW_EINVAL;
}

static int handle_key(parse_state *st, const char *section, const char *name, const char *value) {
    char v[IFLOW_PATH_MAX];
    int id = find_key(section, name);
    if (id < 0) return unknown_key(section, name, st->msg, sizeof st->msg);
    if (st->line[id]) {
        if (st->indented)
            snprintf(st->msg, sizeof st->msg,
                     "indented line continues [%s] %s; multi-line values are not supported",
                     section, name);
        else
            snprintf(st->msg, sizeof st->msg, "duplicate key '%s' in [%s] (first on line %d)", name,
                     section, st->line[id]);
        return IFLOW_EPARSE;
    }
    st->line[id] = st->lineno;
    /* inih strips " ; comment" only when built with inline comments; do it either way. */
    copy_str(v, sizeof v, value);
    for (char *c = v; *c; c++)
        if (*c == ';' && c > v && (c[-1] == ' ' || c[-1] == '\t')) {
            *c = '\0';
            break;
        }
    for (size_t len = strlen(v); len && (v[len - 1] == ' ' || v[len - 1] == '\t');) v[--len] = 0;
    return store_value(st, id, v, st->msg, sizeof st->msg);
}

static int on_key(void *user, const char *section, const char *name, const char *value) {
    parse_state *st = user;
    if (st->err_line) return 1; /* only the first error is reported */
    int rc = handle_key(st, section, name, value);
    if (!rc) return 1;
    st->err_line = st->lineno;
    st->err_code = rc;
    return 0;
}

/* ---- formatting values ------------------------------------------------------------------ */

/* Shortest of %.15g..%.17g that reads back as the same double (17 digits always do). */
static void fmt_double(double x, char *buf, size_t n) {
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
}

static void join_doubles(const double *x, size_t n, int szt, char *buf, size_t bufsz) {
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < bufsz; i++) {
        char num[40];
        if (szt && x[i] == 0)
            strcpy(num, "szt30");
        else
            fmt_double(x[i], num, sizeof num);
        len += (size_t)snprintf(buf + len, bufsz - len, "%s%s", i ? "," : "", num);
    }
}

/* realpath, or (for a file that does not exist yet) the path made absolute with the cwd. */
static void absolute_path(const char *p, char *out, size_t n) {
    char *real = realpath(p, NULL), cwd[IFLOW_PATH_MAX];
    if (real)
        snprintf(out, n, "%s", real);
    else if (*p != '/' && getcwd(cwd, sizeof cwd))
        snprintf(out, n, "%s/%s", cwd, p);
    else
        snprintf(out, n, "%s", p);
    free(real);
}

/* p (absolute) relative to the directory dir (absolute, canonical) when the two share a first
 * component: /a/b/datasets/x.csv from /a/b/results/run gives ../../datasets/x.csv. Otherwise,
 * e.g. /work/x.csv from /tmp/run, p itself. */
static void relative_path(const char *p, const char *dir, char *out, size_t n) {
    size_t i = 0, last = 0;
    for (; p[i] && dir[i] && p[i] == dir[i]; i++)
        if (p[i] == '/') last = i;
    if (!dir[i] && p[i] == '/') last = i; /* dir is an ancestor of p */
    if (last == 0 || p[0] != '/') {
        snprintf(out, n, "%s", p);
        return;
    }
    size_t len = 0, ups = 0;
    for (const char *c = dir + last; *c; c++)
        if (*c == '/' && c[1] && c[1] != '/') ups++;
    out[0] = '\0';
    for (size_t u = 0; u < ups && len + 3 < n; u++)
        len += (size_t)snprintf(out + len, n - len, "../");
    snprintf(out + len, n - len, "%s", p + last + 1);
}

/* The value of key id as written to an INI file; data paths made absolute if `absolute`. */
static void format_value(const iflow_config *cfg, int id, int absolute, char *buf, size_t n) {
    const void *p = cfield(cfg, id);
    size_t len = 0;
    switch (keys[id].kind) {
    case K_PATH:
        if (absolute && *(const char *)p)
            absolute_path(p, buf, n);
        else
            snprintf(buf, n, "%s", (const char *)p);
        return;
    case K_STR: snprintf(buf, n, "%s", (const char *)p); return;
    case K_DOUBLE: fmt_double(*(const double *)p, buf, n); return;
    case K_SIZE: snprintf(buf, n, "%zu", *(const size_t *)p); return;
    case K_LONG: snprintf(buf, n, "%ld", *(const long *)p); return;
    case K_INT: snprintf(buf, n, "%d", *(const int *)p); return;
    case K_U64: snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)p); return;
    case K_CUSTOM: break;
    }
    switch (id) {
    case N_ACTIVATION: snprintf(buf, n, "%s", iflow_activation_name(cfg->activation)); return;
    case N_INIT: snprintf(buf, n, "%s", iflow_init_name(cfg->init)); return;
    case T_OPTIMIZER: snprintf(buf, n, "%s", iflow_optimizer_name(cfg->optim.kind)); return;
    case T_NOISE_GENERATOR:
        snprintf(buf, n, "%s", iflow_normals_name(cfg->noise_generator));
        return;
    case T_PRECISION: snprintf(buf, n, "%s", iflow_precision_name(cfg->precision)); return;
    case N_BETA_LAYERS: join_doubles(cfg->beta_layers, cfg->n_beta_layers, 0, buf, n); return;
    case E_BINS: join_doubles(cfg->bins, cfg->n_bins, 1, buf, n); return;
    case E_RESAMPLE:
        snprintf(buf, n, "%s", cfg->resample == IFLOW_RESAMPLE_BOOTSTRAP ? "bootstrap" : "none");
        return;
    case E_BIAS: snprintf(buf, n, "%s", cfg->mi_bias ? "on" : "off"); return;
    case N_INPUT:
        if (cfg->input.c)
            snprintf(buf, n, "%zux%zux%zu", cfg->input.c, cfg->input.h, cfg->input.w);
        else
            buf[0] = '\0';
        return;
    case N_LAYERS:
        buf[0] = '\0';
        for (size_t i = 0; i < cfg->n_blocks && len < n; i++) {
            char text[128];
            iflow_block_format(&cfg->blocks[i], text, sizeof text);
            len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", text);
        }
        for (size_t i = 0; !cfg->n_blocks && i < cfg->n_widths && len < n; i++)
            len += (size_t)snprintf(buf + len, n - len, "%s%zu", i ? "," : "", cfg->widths[i]);
        return;
    default: snprintf(buf, n, "%s", (const char *)p); return; /* format, specs */
    }
}

/* ---- validation ------------------------------------------------------------------------- */

/* Sets err to "path:LINE: message", where LINE is where key id was given (if known). */
static int fail_at(iflow_error *err, int code, const iflow_config *cfg, const int *line, int id,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int fail_at(iflow_error *err, int code, const iflow_config *cfg, const int *line, int id,
                   const char *fmt, ...) {
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cfg->path[0] && line && id >= 0 && line[id])
        return iflow_error_set(err, code, "%s:%d: %s", cfg->path, line[id], msg);
    if (cfg->path[0]) return iflow_error_set(err, code, "%s: %s", cfg->path, msg);
    return iflow_error_set(err, code, "%s", msg);
}

/* Range of one key as stored in cfg (for configs built in code; load checks while parsing). */
static int check_key(const iflow_config *cfg, int id, char *msg, size_t n) {
    const key_def *k = &keys[id];
    const void *p = cfield(cfg, id);
    char got[64];
    double v;
    switch (k->kind) {
    case K_DOUBLE: v = *(const double *)p; break;
    case K_SIZE: v = (double)*(const size_t *)p; break;
    case K_LONG: v = (double)*(const long *)p; break;
    case K_INT: v = *(const int *)p; break;
    case K_CUSTOM: {
        char text[IFLOW_PATH_MAX];
        iflow_config tmp;
        format_value(cfg, id, 0, text, sizeof text);
        return parse_custom(&tmp, id, text, msg, n); /* what it would parse to */
    }
    default: return 0;
    }
    snprintf(got, sizeof got, "%.17g", v);
    return in_range(k, v) ? 0 : range_error(id, got, msg, n);
}

/* Typed blocks: their shapes on [net] input, checked, and the flattened widths (n_blocks + 1).
 * The plain form: input, if given, must hold widths[0] values. *id gets the key to blame. */
static int net_shapes(const iflow_config *cfg, size_t *widths, int *id, char *msg, size_t n) {
    const iflow_shape *in = &cfg->input;
    *id = N_INPUT;
    if (!cfg->n_blocks) {
        size_t count = 0; /* parsed products are checked; a wrap-around is a mismatch too */
        if (in->c && cfg->n_widths &&
            (iflow_size_mul3(in->c, in->h, in->w, &count) || count != cfg->widths[0])) {
            snprintf(msg, n, "[net] input %zux%zux%zu has %zu values but layers starts with %zu",
                     in->c, in->h, in->w, count, cfg->widths[0]);
            return IFLOW_EINVAL;
        }
        return 0;
    }
    *id = N_LAYERS;
    if (!in->c) {
        snprintf(msg, n, "[net] layers of conv/dense blocks need [net] input = CxHxW");
        return IFLOW_EINVAL;
    }
    iflow_shape sh[IFLOW_MAX_LAYERS + 1];
    iflow_error e = {0};
    if (iflow_net_block_shapes(*in, cfg->n_blocks, cfg->blocks, sh, &e)) {
        snprintf(msg, n, "[net] layers: %.800s", e.msg);
        return IFLOW_EINVAL;
    }
    for (size_t l = 0; l <= cfg->n_blocks; l++) widths[l] = sh[l].c * sh[l].h * sh[l].w;
    return 0;
}

int iflow_config_net(const iflow_config *cfg, iflow_net **out, iflow_error *err) {
    double beta[IFLOW_MAX_LAYERS];
    for (size_t l = 1; l + 1 < cfg->n_widths; l++) beta[l - 1] = iflow_config_beta(cfg, l);
    if (!cfg->n_blocks)
        return iflow_net_new(cfg->n_widths, cfg->widths, cfg->activation, cfg->leaky_slope, beta,
                             out, err);
    return iflow_net_new_blocks(cfg->input, cfg->n_blocks, cfg->blocks, cfg->activation,
                                cfg->leaky_slope, beta, out, err);
}

/* What the measurements will need, known from the config alone, refused before any training:
 * at least 2 inputs, and inputs x replicas samples of the widest hidden layer (checked: a CNN's
 * hidden layers hold thousands of values each) within what can be allocated. */
static int check_measured_sizes(const iflow_config *cfg, const int *line, iflow_error *err) {
    if (cfg->mi_inputs == 1)
        return fail_at(err, IFLOW_EINVAL, cfg, line, E_INPUTS,
                       "[estimate] inputs = 1: the information measures need at least 2 inputs "
                       "(0 = all of them)");
    size_t widest = 0, samples, bytes;
    for (size_t l = 1; l + 1 < cfg->n_widths; l++)
        widest = cfg->widths[l] > widest ? cfg->widths[l] : widest;
    if (cfg->mi_inputs &&
        (iflow_size_mul3(cfg->mi_inputs, cfg->replicas, widest, &samples) ||
         iflow_size_mul(samples, sizeof(double), &bytes) || bytes > IFLOW_ALLOC_MAX))
        return fail_at(err, IFLOW_EINVAL, cfg, line, E_INPUTS,
                       "[estimate] inputs = %zu x replicas = %zu x %zu values of the widest "
                       "hidden layer is too many samples to hold; lower inputs or replicas",
                       cfg->mi_inputs, cfg->replicas, widest);
    return 0;
}

/* Required keys, ranges and cross-field rules; line (may be NULL) gives error line numbers. */
static int check_config(const iflow_config *cfg, const int *line, iflow_error *err) {
    char msg[900];
    int rc, blame;
    size_t widths[IFLOW_MAX_LAYERS + 1];
    if (!cfg->data_file[0])
        return fail_at(err, IFLOW_EINVAL, cfg, NULL, -1, "missing key [data] file");
    if (cfg->n_blocks > IFLOW_MAX_LAYERS)
        return fail_at(err, IFLOW_EINVAL, cfg, line, N_LAYERS, "[net] layers: too many blocks");
    if ((rc = net_shapes(cfg, widths, &blame, msg, sizeof msg)))
        return fail_at(err, rc, cfg, line, blame, "%s", msg);
    if (cfg->n_blocks && (cfg->n_widths != cfg->n_blocks + 1 ||
                          memcmp(widths, cfg->widths, cfg->n_widths * sizeof *widths) != 0))
        return fail_at(err, IFLOW_EINVAL, cfg, line, N_LAYERS,
                       "[net] widths do not match the blocks of layers");
    if (cfg->n_widths == 0)
        return fail_at(err, IFLOW_EINVAL, cfg, NULL, -1, "missing key [net] layers");
    if (cfg->epochs == 0)
        return fail_at(err, IFLOW_EINVAL, cfg, NULL, -1, "missing key [train] epochs");
    /* Counts and enums first: formatting a custom key for check_key relies on them. */
    if (cfg->n_widths < 2 || cfg->n_widths > IFLOW_MAX_LAYERS + 1)
        return fail_at(err, IFLOW_EINVAL, cfg, line, N_LAYERS,
                       "[net] layers must have 2 to %d entries, has %zu", IFLOW_MAX_LAYERS + 1,
                       cfg->n_widths);
    if (cfg->n_beta_layers > IFLOW_MAX_LAYERS || cfg->n_bins > IFLOW_MAX_BINS)
        return fail_at(err, IFLOW_EINVAL, cfg, line, -1, "too many beta_layers or bins");
    if ((unsigned)cfg->activation > IFLOW_ACT_LINEAR ||
        (unsigned)cfg->init > IFLOW_INIT_TRUNCNORMAL ||
        (cfg->optim.kind != IFLOW_OPT_SGD && cfg->optim.kind != IFLOW_OPT_ADAM))
        return fail_at(err, IFLOW_EINVAL, cfg, line, -1, "activation, init or optimizer unknown");
    if ((unsigned)cfg->resample > IFLOW_RESAMPLE_BOOTSTRAP)
        return fail_at(err, IFLOW_EINVAL, cfg, line, E_RESAMPLE, "[estimate] resample unknown");
    for (int id = 0; id < N_KEYS; id++)
        if ((rc = check_key(cfg, id, msg, sizeof msg)))
            return fail_at(err, rc, cfg, line, id, "%s", msg);
    if (cfg->n_beta_layers && cfg->n_beta_layers + 2 != cfg->n_widths)
        return fail_at(err, IFLOW_EINVAL, cfg, line, N_BETA_LAYERS,
                       "[net] beta_layers has %zu entries but layers has %zu hidden layers",
                       cfg->n_beta_layers, cfg->n_widths - 2);
    int idx = !strcmp(cfg->data_format, "idx");
    if (idx && !cfg->data_labels[0])
        return fail_at(err, IFLOW_EINVAL, cfg, line, line && line[D_FORMAT] ? D_FORMAT : D_FILE,
                       "[data] format idx needs [data] labels (the IDX labels file)");
    if (idx && cfg->test_file[0] && !cfg->test_labels[0])
        return fail_at(err, IFLOW_EINVAL, cfg, line, D_TEST_FILE,
                       "[data] test_file of format idx needs [data] test_labels");
    if (cfg->test_file[0] && cfg->test_split[0])
        return fail_at(err, IFLOW_EINVAL, cfg, line, D_TEST_FILE,
                       "[data] give test_split or test_file, not both");
    if (cfg->slice_dim > 0 && cfg->slices < 2)
        return fail_at(err, IFLOW_EINVAL, cfg, line, E_SLICES,
                       "[estimate] slices must be >= 2 with slice_dim > 0 (the standard error "
                       "comes from the spread across slices)");
    if (cfg->cluster_inputs > 0 && cfg->cluster_inputs <= cfg->cluster_k)
        return fail_at(err, IFLOW_EINVAL, cfg, line, E_CLUSTER_K,
                       "[estimate] cluster_k = %zu needs cluster_inputs > cluster_k (got %zu)",
                       cfg->cluster_k, cfg->cluster_inputs);
    long *ep = NULL;
    size_t n_ep;
    iflow_error e;
    rc = iflow_epochs_expand(cfg->mi_epochs, cfg->epochs, &ep, &n_ep, &e);
    free(ep);
    if (rc) return fail_at(err, rc, cfg, line, E_EPOCHS, "[estimate] epochs: %s", e.msg);
    return n_ep ? check_measured_sizes(cfg, line, err) : 0;
}

int iflow_config_validate(const iflow_config *cfg, iflow_error *err) {
    return check_config(cfg, NULL, err);
}

/* The defaults that depend on other keys or on the file name. */
static void fill_derived(parse_state *st, const char *path) {
    iflow_config *cfg = st->cfg;
    if (!st->line[D_FORMAT]) {
        const char *base = strrchr(cfg->data_file, '/');
        base = base ? base + 1 : cfg->data_file;
        strcpy(cfg->data_format, strstr(base, "idx") || strstr(base, "-ubyte") ? "idx" : "csv");
    }
    if (!st->line[E_SEED]) cfg->mi_seed = cfg->seed;
    if (!st->line[O_DIR]) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        size_t len = strlen(base);
        if (len > 4 && !strcmp(base + len - 4, ".ini")) len -= 4;
        snprintf(cfg->out_dir, sizeof cfg->out_dir, "results/runs/%.*s", (int)len, base);
    }
}

int iflow_config_load(const char *path, iflow_config *cfg, iflow_error *err) {
    static parse_state zero;
    parse_state st = zero;
    iflow_config_defaults(cfg);
    st.cfg = cfg;
    if (copy_str(cfg->path, sizeof cfg->path, path))
        return iflow_error_set(err, IFLOW_EINVAL, "%s: path too long", path);
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(st.dir, sizeof st.dir, "%.*s", (int)(slash - path + 1), path);
    int regular = 0; /* a pipe (<(...)) is read once, fully; a FIFO with no writer is empty */
    st.f = iflow_open_read(path, &regular, err);
    if (!st.f) return err ? err->code : IFLOW_EIO;
    if (!regular) st.dir[0] = '\0'; /* /dev/fd/63 has no directory: paths from the cwd */
    int ret = ini_parse_stream(read_line, &st, on_key, &st);
    int read_failed = ferror(st.f);
    fclose(st.f);
    if (read_failed) return iflow_error_set(err, IFLOW_EIO, "%s: read error", path);
    /* ret > 0 with no handler message (or an earlier line) is inih's own syntax error. */
    if (ret > 0 && (!st.err_line || ret < st.err_line))
        return iflow_error_set(err, IFLOW_EPARSE,
                               "%s:%d: syntax error: expected '[section]' or 'key = value'", path,
                               ret);
    if (ret < 0) return iflow_error_set(err, IFLOW_ENOMEM, "%s: inih failed (%d)", path, ret);
    if (st.err_line)
        return iflow_error_set(err, st.err_code, "%s:%d: %s", path, st.err_line, st.msg);
    fill_derived(&st, path);
    cfg->layers_line = st.line[N_LAYERS];
    cfg->checkpoint_keep_given = st.line[T_KEEP] != 0;
    static const int path_ids[5] = {D_FILE, D_LABELS, D_TEST_SPLIT, D_TEST_FILE, D_TEST_LABELS};
    for (int i = 0; i < 5; i++) {
        cfg->path_line[i] = st.line[path_ids[i]];
        cfg->path_relative[i] = st.relative[path_ids[i]];
    }
    if (cfg->n_blocks) { /* the widths of typed layers follow from the shapes */
        char msg[900];
        int id;
        int rc = net_shapes(cfg, cfg->widths, &id, msg, sizeof msg);
        if (rc) return fail_at(err, rc, cfg, st.line, id, "%s", msg);
        cfg->n_widths = cfg->n_blocks + 1;
    }
    return check_config(cfg, st.line, err);
}

/* ---- writing and hashing ---------------------------------------------------------------- */

int iflow_config_write(const iflow_config *cfg, const char *path, iflow_error *err) {
    iflow_atomic a;
    int rc = iflow_atomic_open(&a, path, err);
    if (rc) return rc;
    /* Data paths relative to this file's directory (the run directory), so that a run
     * committed to or cloned with a repository finds its data; absolute if nothing is shared. */
    char dir[IFLOW_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    char *real_dir = realpath(dir, NULL);
    fprintf(a.f,
            "; Effective infoflow %s configuration: every key; data paths relative to this "
            "file.\n",
            IFLOW_VERSION);
    for (size_t s = 0; s < N_SECTIONS; s++) {
        fprintf(a.f, "%s[%s]\n", s ? "\n" : "", sections[s]);
        for (int id = 0; id < N_KEYS; id++) {
            if (strcmp(keys[id].section, sections[s]) != 0) continue;
            if (id == N_INPUT && !cfg->input.c) continue; /* MLP configs read as before */
            char v[2 * IFLOW_PATH_MAX];
            format_value(cfg, id, 1, v, sizeof v);
            if (keys[id].kind == K_PATH && real_dir && v[0]) {
                char abs[2 * IFLOW_PATH_MAX];
                snprintf(abs, sizeof abs, "%s", v);
                relative_path(abs, real_dir, v, sizeof v);
            }
            size_t len = strlen(v);
            /* What inih could not read back: over-long lines, comments, surrounding blanks. */
            int bad = strlen(keys[id].name) + 3 + len > INI_MAX_LINE - 3 || strchr(v, '\n') ||
                      strstr(v, " ;") || strstr(v, "\t;") ||
                      (len && (v[0] == ' ' || v[len - 1] == ' '));
            if (bad) {
                free(real_dir);
                iflow_atomic_abort(&a);
                return iflow_error_set(err, IFLOW_EINVAL,
                                       "%s: [%s] %s = '%s' cannot be written as one INI line "
                                       "(at most %d characters, no ' ;')",
                                       path, sections[s], keys[id].name, v, INI_MAX_LINE - 3);
            }
            fprintf(a.f, "%s =%s%s\n", keys[id].name, *v ? " " : "", v);
        }
    }
    free(real_dir);
    return iflow_atomic_commit(&a, err);
}

/* FNV-1a, 64 bit. */
/* FNV-1a of a file's bytes, so a data file hashes the same wherever the repository or run
 * directory lives; 0 if it cannot be read (the caller then hashes the path). */
static uint64_t file_hash(const char *path) {
    uint64_t h;
    return iflow_fnv1a64_file(path, &h) == 0 ? h : 0;
}

uint64_t iflow_config_hash(const iflow_config *cfg) {
    uint64_t h = iflow_fnv1a64(IFLOW_FNV1A64_INIT, "infoflow-config-v2\n");
    for (int id = 0; id < N_KEYS; id++) {
        const char *sec = keys[id].section;
        if ((strcmp(sec, "data") != 0 && strcmp(sec, "net") != 0 && strcmp(sec, "train") != 0) ||
            (keys[id].flags & NO_HASH) || (id == N_INPUT && !cfg->input.c))
            continue; /* no input: the hash of an MLP config is what it always was */
        /* v1 is what every run made before the key existed used: left out, their hash stays. */
        if (id == T_NOISE_GENERATOR && cfg->noise_generator == IFLOW_NORMALS_V1) continue;
        /* Likewise float64, the arithmetic of every run made before the key existed. */
        if (id == T_PRECISION && cfg->precision == IFLOW_PRECISION_FLOAT64) continue;
        char v[2 * IFLOW_PATH_MAX];
        uint64_t fh = keys[id].kind == K_PATH ? file_hash((const char *)cfield(cfg, id)) : 0;
        if (fh)
            snprintf(v, sizeof v, "file:%016llx", (unsigned long long)fh);
        else
            format_value(cfg, id, 1, v, sizeof v);
        h = iflow_fnv1a64(
            iflow_fnv1a64(iflow_fnv1a64(iflow_fnv1a64(iflow_fnv1a64(h, sec), " "), keys[id].name),
                          "="),
            v);
        h = iflow_fnv1a64(h, "\n");
    }
    return h;
}

void iflow_mi_options_from_config(const iflow_config *cfg, iflow_mi_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->replicas = cfg->replicas;
    opt->mc = cfg->mc;
    opt->queries_per_input = cfg->queries_per_input;
    opt->tolerance = cfg->tolerance;
    opt->seed = cfg->mi_seed;
    opt->normals = cfg->noise_generator;
    opt->threads = cfg->threads;
    opt->resample = cfg->resample;
    opt->bias = cfg->mi_bias;
    opt->n_bins = cfg->n_bins;
    memcpy(opt->bins, cfg->bins, sizeof opt->bins);
    opt->slice_dim = cfg->slice_dim;
    opt->slices = cfg->slices;
}
