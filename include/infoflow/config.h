/* Run configuration: one INI file (parsed with inih) describing data, network, training,
 * information estimation and output. Every key is documented in configs/README.md. */
#ifndef IFLOW_CONFIG_H
#define IFLOW_CONFIG_H

#include "infoflow/api.h"

#include <stddef.h>
#include <stdint.h>

#include "infoflow/epochs.h"
#include "infoflow/error.h"
#include "infoflow/mi.h"
#include "infoflow/net.h"
#include "infoflow/optim.h"
#include "infoflow/train.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IFLOW_PATH_MAX 1024
/* Caps on the config's counts that size allocations (see configs/README.md); [estimate] mc
 * and threads are capped by IFLOW_MAX_MC and IFLOW_MAX_THREADS of entropy.h. */
#define IFLOW_MAX_REPEATS        10000    /* [output] repeats */
#define IFLOW_MAX_SLICES         100000   /* [estimate] slices */
#define IFLOW_MAX_CLUSTER_INPUTS 1000000  /* [estimate] cluster_inputs (a Gram matrix in blocks) */
#define IFLOW_MAX_CLUSTER_K      1000     /* [estimate] cluster_k */
#define IFLOW_MAX_WIDTH          16777216 /* a [net] layers width (2^24, as iflow_net_new) */
#define IFLOW_MAX_BETA           1e100 /* [net] beta(_layers): beyond, squares overflow in training */

typedef struct iflow_config {
    char path[IFLOW_PATH_MAX]; /* the file it was read from ("" if built in code) */

    /* [data] */
    char data_file[IFLOW_PATH_MAX];   /* CSV, or IDX images; relative paths are resolved
                                         against the config file's directory */
    char data_format[8];              /* "csv" or "idx" (default: "idx" if the name contains
                                         "idx" or "-ubyte", else "csv") */
    char data_labels[IFLOW_PATH_MAX]; /* IDX labels file (required for idx) */
    char test_split[IFLOW_PATH_MAX];  /* file of 0-based test row indices; "" = use fraction */
    double test_fraction;             /* default 0.2; used when test_split is "" */
    uint64_t split_seed;              /* default 0 */
    size_t max_rows;                  /* 0 = all rows (IDX: first max_rows) */
    /* For IDX: a separate test set (images, labels); "" = split data_file instead. */
    char test_file[IFLOW_PATH_MAX];
    char test_labels[IFLOW_PATH_MAX];
    /* Where the five paths above came from (file, labels, test_split, test_file, test_labels),
     * for errors found when the files are read: the line of the key (0: not given) and whether
     * its value was relative (then resolved against the config file's directory). */
    int path_line[5];
    int path_relative[5];

    /* [net] */
    size_t n_widths;                      /* layers = 12,10,7,5,4,3,2 (>= 2 entries); for */
    size_t widths[IFLOW_MAX_LAYERS + 1];  /* typed layers the flattened widths, derived */
    iflow_shape input;                    /* input = CxHxW; all 0 when not given */
    size_t n_blocks;                      /* typed layers = conv 16 5x5 pad 2 maxpool 2, */
    iflow_block blocks[IFLOW_MAX_LAYERS]; /* ..., dense 10; 0 blocks for the plain form */
    int layers_line;                      /* line of [net] layers (0: unknown), for errors
                                             found when the data are read */
    iflow_activation activation;          /* default tanh */
    double leaky_slope;                   /* default 0.01 */
    double beta;                          /* noise std for every hidden layer, >= 0 */
    size_t n_beta_layers;                 /* beta_layers = per-hidden-layer override list */
    double beta_layers[IFLOW_MAX_LAYERS]; /* (n_widths - 2 entries when given) */
    iflow_init init;                      /* default pytorch */

    /* [train] */
    iflow_optim_params optim;      /* optimizer = adam|sgd, lr, momentum, weight_decay,
                                      adam_beta1 (0.9), adam_beta2 (0.999), adam_eps (1e-8) */
    size_t batch;                  /* default 256 */
    long epochs;                   /* required, >= 1 */
    uint64_t seed;                 /* default 1 */
    double orthonormal;            /* Parseval step size alpha after each update; 0 = off */
    iflow_normals noise_generator; /* normal generator version of training noise and estimate
                                      draws: v1 or v2 (see rng.h); default v2 for a new run, a
                                      resumed one keeps its own (see iflow_run_load_config) */
    int noise_generator_given;     /* 1 if the file named noise_generator */
    iflow_precision precision;     /* arithmetic of training: float64 (default) or float32 */
    char checkpoint_keep[64];      /* which checkpoints to keep: "all", "last" (default),
                                      "every:N", "log:K" (always also the last and MI epochs);
                                      a resumed run keeps its own when the config names none */
    int checkpoint_keep_given;     /* 1 if the file named checkpoint_keep */

    /* [estimate] */
    char mi_epochs[256];      /* epoch spec (see iflow_epochs_expand); "none" = no estimation */
    size_t replicas;          /* R noisy passes per input, default 100 */
    size_t mc;                /* k Monte Carlo draws per centre, default 1 */
    size_t mi_inputs;         /* 0 = all inputs; else a random subset of this many */
    size_t queries_per_input; /* MC query centres per input: 0 = all R replicas; else q (raised
                                 to the next divisor of R) */
    double tolerance; /* truncation tolerance of the mixture sums; 0 = exact; default 1e-6 */
    uint64_t mi_seed; /* default: seed */
    size_t n_bins;    /* bins = szt30, 0.07 (default) */
    double bins[IFLOW_MAX_BINS]; /* 0 stands for "szt30" (30 equal edges on [-1,1]) */
    int threads;                 /* 0 = all cores */
    iflow_resample resample;     /* none (default) or bootstrap; not hashed, as no [estimate] key */
    int mi_bias;                 /* [estimate] bias = on: the SP estimates' finite-sample bias
                                    (half-replica estimates, +50% of the SP work); off (default) */
    size_t slice_dim;            /* k-sliced SP in k dimensions; 0 = off (default) */
    size_t slices;               /* M slices per layer and epoch, default 16 (>= 2 when slicing) */
    size_t cluster_inputs; /* clustering measures on this many inputs; 0 = off; default 2000 */
    size_t cluster_k;      /* neighbours of the k-NN class agreement, default 10 */

    /* [output] */
    char out_dir[IFLOW_PATH_MAX]; /* default results/runs/<config name>; relative to cwd */
    long plot_every;              /* re-plot after every N measured epochs; 0 = only at end */
    size_t repeats;               /* runs with seeds seed..seed+repeats-1; default 1 */
} iflow_config;

/* Fills cfg with the defaults above (no data file, no layers, epochs 0). */
IFLOW_API void iflow_config_defaults(iflow_config *cfg);

/* Parses an INI file into cfg (defaults first). Unknown sections or keys, malformed or
 * out-of-range values and missing required keys ([data] file, [net] layers, [train] epochs)
 * return IFLOW_EPARSE/IFLOW_EINVAL with "path:line: message" (or "path: missing key
 * [section] key"). */
IFLOW_API int iflow_config_load(const char *path, iflow_config *cfg, iflow_error *err);

/* Checks cross-field consistency (e.g. beta_layers length, idx needs labels). */
IFLOW_API int iflow_config_validate(const iflow_config *cfg, iflow_error *err);

/* Writes the effective config as INI (every key, absolute data paths) to path atomically; the
 * result loads back to an equal config. */
IFLOW_API int iflow_config_write(const iflow_config *cfg, const char *path, iflow_error *err);

/* Rewrites err, an error met reading the file of one of cfg's [data] paths (field is
 * cfg->data_file, data_labels, test_split, test_file or test_labels), so that it names the
 * config: "CONFIG:LINE: [data] KEY: <message>", then the directory a relative path was resolved
 * against, or for a run directory's config.ini (absolute paths) where to change it. Returns
 * err->code. */
IFLOW_API int iflow_config_blame_path(const iflow_config *cfg, const char *field, iflow_error *err);

/* A 64-bit hash of everything that affects training results (not output paths). Data files
 * count by their contents, not their paths, so a moved or re-cloned run still resumes. */
IFLOW_API uint64_t iflow_config_hash(const iflow_config *cfg);

/* Noise std of hidden layer l (1-based): beta_layers[l-1] if given, else beta. */
IFLOW_API double iflow_config_beta(const iflow_config *cfg, size_t l);

/* The net the config describes (typed blocks, or the MLP of layers), parameters zero. */
IFLOW_API int iflow_config_net(const iflow_config *cfg, iflow_net **out, iflow_error *err);

/* The estimator options of the config's [estimate] section. */
IFLOW_API void iflow_mi_options_from_config(const iflow_config *cfg, iflow_mi_options *opt);

#ifdef __cplusplus
}
#endif

#endif
