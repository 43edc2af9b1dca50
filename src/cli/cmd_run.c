/* infoflow run: train a noisy network from a config, measuring information as it trains. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "dist.h"
#include "infoflow/config.h"
#include "infoflow/run.h"
#include "progress.h"

static void usage(FILE *out) {
    fprintf(out,
            "Usage: infoflow run CONFIG [options]\n"
            "       infoflow run --resume --out DIR [options]\n\n"
            "Trains the network CONFIG describes (see configs/README.md), checkpointing every\n"
            "epoch, and measures I(X;T_l), I(Y;T_l) and binned entropies at the configured\n"
            "epochs. Writes DIR/config.ini, config.hash, net.txt, metrics.csv, mi.csv,\n"
            "binned.csv, activations.csv, scatter.csv, info.csv, clustering.csv,\n"
            "cosine_hist.csv, checkpoints/, log.txt and figures as PNG and PDF\n"
            "(docs/FORMATS.md).\n"
            "With [output] repeats = N, runs seeds S..S+N-1 into DIR/seed-S and writes the\n"
            "mean and sd across seeds to DIR/mi-mean.csv and metrics-mean.csv, with figures.\n"
            "Under MPI, `mpirun -np N infoflow run CONFIG` runs seed r on rank r mod N;\n"
            "a single run is trained by every rank and its measurements are split over\n"
            "them. Rank 0 writes the same files as one process (docs/SCALING.md).\n\n"
            "Options:\n"
            "  --out DIR      run directory (default: [output] dir of the config)\n"
            "  --seed N       training seed (overrides [train] seed; the first of repeats)\n"
            "  --epochs N     number of epochs (overrides [train] epochs)\n"
            "  --resume       continue the run in DIR from its last good checkpoint\n"
            "  --threads N    threads for the estimators (default 0: all cores, or\n"
            "                 $OMP_NUM_THREADS when set; results do not depend on it)\n"
            "  --no-plot      do not draw figures at the end\n"
            "  --quiet        no progress or messages on the terminal\n"
            "  --stop-after N stop after N epochs of this invocation (for testing resume)\n"
            "  -h, --help     this help\n");
}

int cmd_run(int argc, char **argv) {
    // clang-format off
    static const struct option longopts[] = {
        {"out", required_argument, 0, 'o'},     {"seed", required_argument, 0, 's'},
        {"epochs", required_argument, 0, 'e'},  {"resume", no_argument, 0, 'r'},
        {"threads", required_argument, 0, 't'}, {"no-plot", no_argument, 0, 'P'},
        {"quiet", no_argument, 0, 'q'},         {"stop-after", required_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    // clang-format on
    const char *out = NULL;
    uint64_t seed = 0;
    long epochs = 0, stop_after = 0, threads = -1;
    int have_seed = 0, resume = 0, plot = 1, quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 's':
            if (cli_parse_u64(optarg, &seed))
                return cli_usage_error("run", "bad --seed '%s'", optarg);
            have_seed = 1;
            break;
        case 'e':
            if (cli_parse_long(optarg, &epochs) || epochs < 1 || epochs > IFLOW_MAX_EPOCHS)
                return cli_usage_error("run", "--epochs must be an integer in [1, %d], got '%s'",
                                       IFLOW_MAX_EPOCHS, optarg);
            break;
        case 'S':
            if (cli_parse_long(optarg, &stop_after) || stop_after < 1)
                return cli_usage_error("run", "--stop-after must be a positive integer");
            break;
        case 't':
            if (cli_parse_long(optarg, &threads) || threads < 0 || threads > IFLOW_MAX_THREADS)
                return cli_usage_error("run", "--threads must be an integer in [0, %d]",
                                       IFLOW_MAX_THREADS);
            break;
        case 'r': resume = 1; break;
        case 'P': plot = 0; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: return cli_usage_error("run", "unknown option");
        }
    }
    if (argc - optind > 1)
        return cli_usage_error("run", "expected one CONFIG, got %d", argc - optind);
    if (argc - optind == 0 && !(resume && out))
        return cli_usage_error("run", "missing CONFIG (or --resume --out DIR)");
    iflow_config cfg;
    iflow_error err = {0};
    int rc = argc - optind == 1 ? iflow_config_load(argv[optind], &cfg, &err)
                                : iflow_run_load_config(out, &cfg, &err);
    if (iflow_dist_agree(rc, &err)) return cli_fail(&err); /* every rank stops, rank 0 says why */
    if (out) snprintf(cfg.out_dir, sizeof cfg.out_dir, "%s", out);
    if (have_seed) {
        if (cfg.mi_seed == cfg.seed)
            cfg.mi_seed = seed; /* [estimate] seed follows, as documented */
        cfg.seed = seed;
    }
    if (epochs) cfg.epochs = epochs;
    if (threads >= 0) cfg.threads = (int)threads;
    cli_progress prog;
    cli_progress_init(&prog, quiet);
    prog.quiet_start = 0; /* off a terminal too: a line every tenth or 30 s from the start */
    iflow_run_options opts = {.resume = resume,
                              .plot = plot,
                              .stop_after = stop_after,
                              .progress = cli_progress_update,
                              .progress_user = &prog,
                              .message = cli_progress_message};
    rc = iflow_run_repeats(&cfg, &opts, &err);
    cli_progress_done(&prog);
    if (rc) return cli_fail(&err);
    if (!quiet && iflow_dist_world_rank() == 0) fprintf(stderr, "done: %s\n", cfg.out_dir);
    return 0;
}
