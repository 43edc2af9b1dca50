/* infoflow estimate: measure information flow after the fact from a run's checkpoints. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "dist.h"
#include "infoflow/run.h"
#include "progress.h"

static void usage(FILE *out) {
    fprintf(
        out,
        "Usage: infoflow estimate RUN_DIR [options]\n\n"
        "Measures I(X;T_l), I(Y;T_l) and binned entropies from the checkpoints saved in\n"
        "RUN_DIR, e.g. with more replicas than during training. Writes RUN_DIR/mi-estimate.csv\n"
        "(and binned-, activations-, scatter-estimate.csv) unless --replace or --out.\n"
        "Under MPI, `mpirun -np N infoflow estimate RUN_DIR` spreads the (epoch, layer)\n"
        "units over the ranks; rank 0 writes the same bytes as one process\n"
        "(docs/SCALING.md).\n\n"
        "Options (defaults: the run's [estimate] section):\n"
        "  --epochs SPEC     epochs to measure: 1,10,100 | every:N | log:K | all\n"
        "  --layers LIST     hidden layers to measure, e.g. 1,5 (default: all)\n"
        "  --replicas R      noisy passes per input\n"
        "  --mc K            Monte Carlo draws per centre\n"
        "  --queries Q       draw around Q of each input's R samples (0 = all)\n"
        "  --tolerance TOL   truncation tolerance of the mixture sums (0 = exact)\n"
        "  --slice-dim K     also the k-sliced I_k(X;T), I_k(Y;T) (0 = off; mi rows gain\n"
        "                    the sliced columns, docs/FORMATS.md)\n"
        "  --slices M        random projections per layer and epoch (>= 2)\n"
        "  --seed S          estimator seed\n"
        "  --bias on|off     also estimate the finite-sample bias of every SP estimate\n"
        "                    (I_XT_bias, I_YT_bias; half as much work again)\n"
        "  --resample MODE   none (default) | bootstrap: draw the m inputs with replacement at\n"
        "                    every epoch (labels with them), as the paper's authors did; only\n"
        "                    to reproduce their numbers (results/REPRODUCTION.md section 2)\n"
        "  --threads N       threads (default 0: all cores, or $OMP_NUM_THREADS when set;\n"
        "                    results do not depend on it)\n"
        "  --out NAME        file name (a .csv in RUN_DIR, none of the run's own files)\n"
        "                    for the MI rows\n"
        "  --replace         replace the run's mi.csv, binned.csv, activations.csv, scatter.csv\n"
        "  --quiet           no progress display\n"
        "  -h, --help        this help\n\n"
        "Epochs beyond the run, layers beyond the net, or an --out naming the run's files\n"
        "are refused before anything is written. Checkpoints must be this run's (config\n"
        "hash) and of the epoch their name says.\n");
}

static int parse_layers(const char *s, iflow_mi_options *mi) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    mi->layer_mask_n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        size_t l;
        if (cli_parse_size(tok, &l) || l < 1 || mi->layer_mask_n == IFLOW_MAX_LAYERS) return -1;
        mi->layers[mi->layer_mask_n++] = l;
    }
    return mi->layer_mask_n ? 0 : -1;
}

int cmd_estimate(int argc, char **argv) {
    // clang-format off
    static const struct option longopts[] = {
        {"epochs", required_argument, 0, 'e'},  {"layers", required_argument, 0, 'l'},
        {"replicas", required_argument, 0, 'R'}, {"mc", required_argument, 0, 'k'},
        {"queries", required_argument, 0, 'Q'},
        {"tolerance", required_argument, 0, 'T'}, {"seed", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'}, {"out", required_argument, 0, 'o'},
        {"resample", required_argument, 0, 'B'}, {"bias", required_argument, 0, 'b'},
        {"slice-dim", required_argument, 0, 'K'}, {"slices", required_argument, 0, 'M'},
        {"replace", no_argument, 0, 'r'},       {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    // clang-format on
    const char *epochs = NULL, *layers = NULL, *outname = NULL;
    size_t replicas = 0, mc = 0, queries = 0, slice_dim = 0, slices = 0;
    int have_queries = 0, have_slice_dim = 0;
    double tol = -1;
    uint64_t seed = 0;
    long threads = -1;
    int have_seed = 0, replace = 0, quiet = 0, c, resample = -1, bias = -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': epochs = optarg; break;
        case 'l': layers = optarg; break;
        case 'o': outname = optarg; break;
        case 'R':
            if (cli_parse_size(optarg, &replicas) || replicas < 1 || replicas > IFLOW_MAX_REPLICAS)
                return cli_usage_error("estimate",
                                       "--replicas must be an integer in [1, %d], "
                                       "got '%s'",
                                       IFLOW_MAX_REPLICAS, optarg);
            break;
        case 'k':
            if (cli_parse_size(optarg, &mc) || mc < 1 || mc > IFLOW_MAX_MC)
                return cli_usage_error("estimate", "--mc must be an integer in [1, %d], got '%s'",
                                       IFLOW_MAX_MC, optarg);
            break;
        case 'Q':
            if (cli_parse_size(optarg, &queries))
                return cli_usage_error("estimate", "--queries must be an integer >= 0");
            have_queries = 1;
            break;
        case 'K':
            if (cli_parse_size(optarg, &slice_dim))
                return cli_usage_error("estimate", "--slice-dim must be an integer >= 0");
            have_slice_dim = 1;
            break;
        case 'M':
            if (cli_parse_size(optarg, &slices) || slices < 2 || slices > 100000)
                return cli_usage_error("estimate", "--slices must be an integer in [2, 100000]");
            break;
        case 'T':
            if (cli_parse_double(optarg, &tol) || tol < 0)
                return cli_usage_error("estimate", "--tolerance must be a number >= 0");
            break;
        case 's':
            if (cli_parse_u64(optarg, &seed)) return cli_usage_error("estimate", "bad --seed");
            have_seed = 1;
            break;
        case 't':
            if (cli_parse_long(optarg, &threads) || threads < 0 || threads > IFLOW_MAX_THREADS)
                return cli_usage_error("estimate", "--threads must be an integer in [0, %d]",
                                       IFLOW_MAX_THREADS);
            break;
        case 'B':
            if (strcmp(optarg, "none") != 0 && strcmp(optarg, "bootstrap") != 0)
                return cli_usage_error("estimate", "--resample must be none or bootstrap");
            resample = optarg[0] == 'b' ? IFLOW_RESAMPLE_BOOTSTRAP : IFLOW_RESAMPLE_NONE;
            break;
        case 'b':
            if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0)
                return cli_usage_error("estimate", "--bias must be on or off");
            bias = optarg[1] == 'n';
            break;
        case 'r': replace = 1; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: return cli_usage_error("estimate", "unknown option");
        }
    }
    if (argc - optind != 1) return cli_usage_error("estimate", "expected one RUN_DIR");
    if (replace && outname)
        return cli_usage_error("estimate", "--replace and --out exclude each other");
    const char *dir = argv[optind];
    iflow_config cfg;
    iflow_error err = {0};
    if (iflow_run_load_config(dir, &cfg, &err)) return cli_fail(&err);
    iflow_estimate_options o = {.epochs = epochs, .out_file = outname, .replace = replace};
    iflow_mi_options_from_config(&cfg, &o.mi);
    if (replicas) o.mi.replicas = replicas;
    if (mc) o.mi.mc = mc;
    if (have_queries) o.mi.queries_per_input = queries;
    if (tol >= 0) o.mi.tolerance = tol;
    if (have_seed) o.mi.seed = seed;
    if (threads >= 0) o.mi.threads = (int)threads;
    if (resample >= 0) o.mi.resample = (iflow_resample)resample;
    if (bias >= 0) o.mi.bias = bias;
    if (have_slice_dim) o.mi.slice_dim = slice_dim;
    if (slices) o.mi.slices = slices;
    if (o.mi.slice_dim > 0 && o.mi.slices < 2)
        return cli_usage_error("estimate", "--slice-dim needs --slices M >= 2");
    if (layers && parse_layers(layers, &o.mi))
        return cli_usage_error("estimate", "--layers must be a list of layer numbers >= 1");
    cli_progress prog;
    cli_progress_init(&prog, quiet);
    prog.quiet_start = 0; /* off a terminal too: a line every tenth or 30 s from the start */
    o.progress = cli_progress_update;
    o.progress_user = &prog;
    int rc = iflow_run_estimate(dir, &o, &err);
    cli_progress_done(&prog);
    if (rc) return cli_fail(&err);
    if (!quiet && iflow_dist_world_rank() == 0)
        fprintf(stderr, "wrote %s/%s\n", dir,
                replace   ? "mi.csv"
                : outname ? outname
                          : "mi-estimate.csv");
    return 0;
}
