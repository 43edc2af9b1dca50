/* infoflow validate: the coverage study of the SP standard errors and bias on channels with
 * exact values (src/run/validate.c), printed as one table row per channel, d, noise and R. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "validate.h"

#define CMD "validate"

static void usage(FILE *out) {
    fprintf(out,
            "Usage: infoflow validate [options]\n\n"
            "Coverage study of the SP estimates' standard errors and bias (docs/ESTIMATION.md\n"
            "section 11): for each channel with a known value, d = 1..3, two noise levels and\n"
            "R = 4, 16, 100 replicas per input, estimates on independent sample sets, and\n"
            "prints truth, mean estimate, sd over sets, rms se, sd/se, bias and 95%% coverage.\n\n"
            "Options:\n"
            "  --sets N       independent sample sets per row (default 100)\n"
            "  --fast         a small study (d = 1, 2; R = 16; 40 sets): seconds\n"
            "  --mc K         draws per centre (default 1, as the experiments)\n"
            "  --seed S       seed of the sets (default 1)\n"
            "  --threads N    threads (0 = all; never changes the numbers)\n"
            "  --check        exit 1 unless every row has sd/se in [0.75, 1.33] and, where\n"
            "                 the estimate averages >= 100 values (a normal interval is\n"
            "                 meant to hold), a bias-corrected coverage >= 90%% (--fast:\n"
            "                 [0.6, 1.67] and 80%%, for the sampling error of 40 sets)\n"
            "  -h, --help     this help\n");
}

enum { OPT_SETS = 256, OPT_FAST, OPT_MC, OPT_SEED, OPT_THREADS, OPT_CHECK };

static const struct option long_options[] = {{"sets", required_argument, NULL, OPT_SETS},
                                             {"fast", no_argument, NULL, OPT_FAST},
                                             {"mc", required_argument, NULL, OPT_MC},
                                             {"seed", required_argument, NULL, OPT_SEED},
                                             {"threads", required_argument, NULL, OPT_THREADS},
                                             {"check", no_argument, NULL, OPT_CHECK},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};

typedef struct args {
    size_t sets, mc;
    uint64_t seed;
    int threads, fast, check, sets_given;
} args;

static int parse(int argc, char **argv, args *a) {
    *a = (args){.sets = 100, .mc = 1, .seed = 1};
    int c;
    size_t v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        switch (c) {
        case OPT_SETS:
            if (cli_parse_size(optarg, &a->sets) || a->sets < 2 || a->sets > 100000)
                return cli_usage_error(CMD, "--sets must be an integer in [2, 100000], got '%s'",
                                       optarg);
            a->sets_given = 1;
            break;
        case OPT_FAST: a->fast = 1; break;
        case OPT_MC:
            if (cli_parse_size(optarg, &a->mc) || a->mc < 1 || a->mc > 100000)
                return cli_usage_error(CMD, "--mc must be an integer in [1, 100000], got '%s'",
                                       optarg);
            break;
        case OPT_SEED:
            if (cli_parse_u64(optarg, &a->seed))
                return cli_usage_error(CMD, "--seed must be an integer in [0, 2^64), got '%s'",
                                       optarg);
            break;
        case OPT_THREADS:
            if (cli_parse_size(optarg, &v) || v > 1024)
                return cli_usage_error(CMD, "--threads must be an integer in [0, 1024], got '%s'",
                                       optarg);
            a->threads = (int)v;
            break;
        case OPT_CHECK: a->check = 1; break;
        case 'h': usage(stdout); return 0;
        default: return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (a->fast && !a->sets_given) a->sets = 40;
    return -1;
}

int cmd_validate(int argc, char **argv) {
    args a;
    int rc = parse(argc, argv, &a);
    if (rc >= 0) return rc;
    static const size_t full_r[] = {4, 16, 100}, fast_r[] = {16};
    const size_t *rs = a.fast ? fast_r : full_r;
    size_t n_r = a.fast ? 1 : 3, max_d = a.fast ? 2 : 3, failed = 0;
    double lo = a.fast ? 0.6 : 0.75, hi = a.fast ? 1.67 : 1.33, min_cover = a.fast ? 0.8 : 0.9;
    printf("# infoflow validate: %zu sets per row, mc = %zu, seed = %llu; se: rms of the reported\n"
           "# total se; cover: truth in value +- 1.96 se; cover_c: in (value - bias) +- 1.96 se\n",
           a.sets, a.mc, (unsigned long long)a.seed);
    printf("%-6s %1s %5s %4s %4s %9s %9s %8s %8s %8s %6s %6s %9s %9s %6s %6s %7s %s\n", "chan", "d",
           "beta", "R", "q", "truth", "mean", "sd", "se", "se_mc", "sd/se", "sdc/se", "bias_est",
           "bias_obs", "cover", "cov_c", "sec", "");
    for (int ch = 0; ch < VALIDATE_CHANNEL_COUNT; ch++)
        for (size_t d = 1; d <= max_d; d++)
            for (int level = 0; level < 2; level++)
                for (size_t ri = 0; ri < n_r; ri++)
                    for (size_t q = 0; q <= 4; q += 4) {
                        /* the query subsample rows: tanh only, R > 4 */
                        if (q && (ch != VALIDATE_TANH || rs[ri] <= 4)) continue;
                        validate_cell cell = {.channel = (validate_channel)ch,
                                              .d = d,
                                              .replicas = rs[ri],
                                              .queries = q,
                                              .level = level,
                                              .sets = a.sets,
                                              .mc = a.mc,
                                              .seed = a.seed,
                                              .threads = a.threads};
                        validate_row r;
                        iflow_error err = {0};
                        if (validate_run(&cell, &r, &err)) return cli_fail(&err);
                        double ratio = r.sd / r.se, ratio_c = r.sd_corrected / r.se;
                        int judged = r.n_values >= 100; /* coverage: see --check */
                        int ok = ratio >= lo && ratio <= hi &&
                                 (!judged || r.cover_corrected >= min_cover);
                        failed += !ok;
                        printf("%-6s %1zu %5.2f %4zu %4zu %9.5f %9.5f %8.5f %8.5f %8.5f %6.2f "
                               "%6.2f %9.5f %9.5f %6.2f %6.2f %7.2f %s\n",
                               validate_channel_name(cell.channel), d, r.beta, cell.replicas,
                               q ? q : cell.replicas, r.truth, r.mean, r.sd, r.se, r.se_mc, ratio,
                               ratio_c, r.bias, r.mean - r.truth, r.cover, r.cover_corrected,
                               r.seconds,
                               !ok      ? "FAIL"
                               : judged ? ""
                                        : "(few values)");
                        if (r.n_na) printf("#   %zu sets had no total se (n/a)\n", r.n_na);
                        fflush(stdout);
                    }
    if (failed)
        printf("# %zu rows outside sd/se in [%.2f, %.2f], or with >= 100 values and a corrected "
               "coverage below %.0f%%\n",
               failed, lo, hi, 100 * min_cover);
    return a.check && failed ? 1 : 0;
}
