/* infoflow: dispatches to the subcommands in src/cli/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"run", cmd_run, "train a noisy network from a config and measure its information flow"},
    {"estimate", cmd_estimate, "(re)measure information flow from a run's saved checkpoints"},
    {"entropy", cmd_entropy, "estimate the entropy of samples in a CSV or .npy file"},
    {"mi", cmd_mi, "estimate grouped mutual information I(G;T) of tagged samples"},
    {"plot", cmd_plot, "draw the PNG figures of a run directory"},
    {"export", cmd_export, "write a run's net and activations as NumPy .npy files"},
};

static void usage(FILE *out) {
    fprintf(out, "Usage: infoflow <command> [options]\n\n"
                 "Trains noisy deep networks and measures the information that flows through "
                 "them\n(Goldfeld et al., ICML 2019).\n\nCommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'infoflow <command> --help' for a command's options.\n"
                 "Options: --help, --version\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("infoflow %s\n", IFLOW_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "infoflow: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
