/* infoflow plot RUN_DIR [--out DIR] [--units nats|bits] [--png-only]: draws a run directory's
 * figures (PNG and PDF) and prints what was left out. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "infoflow/plot.h"

static void usage(FILE *out) {
    fprintf(out,
            "Usage: infoflow plot RUN_DIR [--out DIR] [--units nats|bits] [--png-only]\n\n"
            "Draws figures from the CSV logs of a run directory (metrics.csv, mi.csv,\n"
            "binned.csv, activations.csv, scatter.csv, clustering.csv, cosine_hist.csv,\n"
            "info.csv): info_plane, mi_epochs, binned_vs_sp, loss_acc, activations, scatter,\n"
            "summary, info_plane_sliced, mi_epochs_sliced, clustering and cosine_hist, each as\n"
            "NAME.png and NAME.pdf (vector). Figures whose data are missing are skipped with\n"
            "a note, and so is any part of the data a figure leaves out.\n\n"
            "Options:\n"
            "  -o, --out DIR       write the figures to DIR (default: RUN_DIR)\n"
            "  -u, --units UNITS   information in nats (default) or bits\n"
            "  -p, --png-only      no .pdf beside each .png\n"
            "  -h, --help          show this help\n");
}

int cmd_plot(int argc, char **argv) {
    // clang-format off
    static const struct option longopts[] = {{"out", required_argument, NULL, 'o'},
                                             {"units", required_argument, NULL, 'u'},
                                             {"png-only", no_argument, NULL, 'p'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    // clang-format on
    const char *out = NULL;
    iflow_plot_options opt = {.bits = 0, .verbose_notes = 1};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:u:ph", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'u':
            if (!strcmp(optarg, "bits"))
                opt.bits = 1;
            else if (!strcmp(optarg, "nats"))
                opt.bits = 0;
            else
                return cli_usage_error("plot", "--units must be 'nats' or 'bits', not '%s'",
                                       optarg);
            break;
        case 'p': opt.png_only = 1; break;
        case 'h': usage(stdout); return 0;
        case ':': return cli_usage_error("plot", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("plot", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("plot", optind >= argc ? "missing RUN_DIR" : "one RUN_DIR expected");
    const char *run_dir = argv[optind];
    if (!out) out = run_dir;
    char notes[4096];
    int n = 0;
    iflow_error err = {0};
    if (iflow_plot_run(run_dir, out, &opt, notes, sizeof notes, &n, &err) != 0)
        return cli_fail(&err);
    fputs(notes, stdout);
    if (n == 0) {
        fprintf(stderr, "infoflow plot: %s: no figure could be drawn (the notes above say why)\n",
                run_dir);
        return 1;
    }
    printf("wrote %d figure%s to %s\n", n, n == 1 ? "" : "s", out);
    return 0;
}
