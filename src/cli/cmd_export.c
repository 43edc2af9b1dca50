/* infoflow export RUN_DIR --epoch E [--inputs N] --out DIR [--force]: a run's net and activations
 * as .npy files for NumPy or PyTorch. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli_util.h"
#include "commands.h"
#include "infoflow/run.h"

static void usage(FILE *out) {
    fprintf(out, "Usage: infoflow export RUN_DIR --epoch E [--inputs N] --out DIR [--force]\n\n"
                 "Writes the net of RUN_DIR at epoch E (from its checkpoint) to DIR as NumPy .npy\n"
                 "files (little-endian float64, C order; docs/FORMATS.md), in PyTorch's layouts:\n"
                 "  weight-J.npy, bias-J.npy  every weighted block J = 1..L (conv weight\n"
                 "                            (C_out, C_in, KH, KW), dense weight (out, in))\n"
                 "  inputs.npy, labels.npy    the first N rows of the data file, (N, C, H, W) for\n"
                 "                            image input or (N, D); labels int64\n"
                 "  S-L.npy                   noiseless output of every hidden block L for them\n"
                 "  net.txt                   the block list, one line per block\n\n"
                 "Options:\n"
                 "  -e, --epoch E    epoch whose checkpoint to export (required)\n"
                 "  -n, --inputs N   number of inputs (default 100)\n"
                 "  -o, --out DIR    output directory (required): new or empty, outside RUN_DIR;\n"
                 "                   written in full, then put in place\n"
                 "  -f, --force      replace DIR if it holds an earlier export (never any other\n"
                 "                   files)\n"
                 "  -h, --help       show this help\n");
}

int cmd_export(int argc, char **argv) {
    // clang-format off
    static const struct option longopts[] = {{"epoch", required_argument, NULL, 'e'},
                                             {"inputs", required_argument, NULL, 'n'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"force", no_argument, NULL, 'f'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    // clang-format on
    const char *out = NULL;
    long epoch = -1;
    long long n_inputs = 100;
    int c, force = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":e:n:o:fh", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'e':
            epoch = strtol(optarg, &end, 10);
            if (end == optarg || *end || epoch < 0)
                return cli_usage_error("export", "--epoch needs an integer >= 0, not '%s'", optarg);
            break;
        case 'n':
            n_inputs = strtoll(optarg, &end, 10);
            if (end == optarg || *end || n_inputs < 1 || n_inputs > (1LL << 32))
                return cli_usage_error("export", "--inputs needs an integer in 1..2^32, not '%s'",
                                       optarg);
            break;
        case 'o': out = optarg; break;
        case 'f': force = 1; break;
        case 'h': usage(stdout); return 0;
        case ':': return cli_usage_error("export", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("export", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("export",
                               optind >= argc ? "missing RUN_DIR" : "one RUN_DIR expected");
    if (epoch < 0) return cli_usage_error("export", "missing --epoch E");
    if (!out) return cli_usage_error("export", "missing --out DIR");
    iflow_error err = {0};
    if (iflow_run_export(argv[optind], epoch, (size_t)n_inputs, out, force, &err))
        return cli_fail(&err);
    return 0;
}
