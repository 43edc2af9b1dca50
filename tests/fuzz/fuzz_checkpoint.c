/* libFuzzer harness: checkpoints. Byte 0 picks the mode: even = the rest is a whole checkpoint
 * file; odd = the rest is a payload, wrapped in a valid header (length, zlib, CRC) so the fuzzer
 * gets past the CRC to the field parser. A failed load must leave net, optimiser and RNG
 * untouched (checkpoint.h promises it); a successful one must give finite parameters. */
#include <math.h>
#include <zlib.h>

#include "fuzz_util.h"
#include "infoflow/checkpoint.h"

static void put_le(unsigned char *p, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* A checkpoint file around payload: the format of include/infoflow/checkpoint.h. */
static unsigned char *wrap(const uint8_t *payload, size_t n, size_t *out_len) {
    uLongf comp_len = compressBound((uLong)n);
    unsigned char *f = malloc(36 + comp_len);
    if (!f || compress(f + 36, &comp_len, payload, (uLong)n) != Z_OK) abort();
    memcpy(f, "IFLOWCKP", 8);
    put_le(f + 8, 1, 4);
    put_le(f + 12, 0, 4);
    put_le(f + 16, n, 8);
    put_le(f + 24, comp_len, 8);
    put_le(f + 32, crc32_z(0L, payload, n), 4);
    *out_len = 36 + comp_len;
    return f;
}

static int same_state(const iflow_net *a, const iflow_net *b, const iflow_optim *oa,
                      const iflow_optim *ob, const iflow_rng *ra, const iflow_rng *rb) {
    size_t n = a->n_params * sizeof *a->params;
    return !memcmp(a->params, b->params, n) && !memcmp(oa->m, ob->m, n) &&
           !memcmp(oa->v, ob->v, n) && oa->step == ob->step &&
           !memcmp(&oa->p, &ob->p, sizeof oa->p) && !memcmp(ra, rb, sizeof *ra);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static iflow_net *net, *ref;
    static iflow_optim *opt, *ref_opt;
    if (!net) {
        const size_t widths[] = {5, 6, 4, 3, 2};
        const double beta[] = {0.05, 0.05, 0.05};
        iflow_optim_params p = {IFLOW_OPT_ADAM, 0.01, 0, 0, 0.9, 0.999, 1e-8};
        if (iflow_net_new(5, widths, IFLOW_ACT_TANH, 0.01, beta, &net, NULL) ||
            iflow_net_new(5, widths, IFLOW_ACT_TANH, 0.01, beta, &ref, NULL) ||
            iflow_optim_new(&p, net->n_params, &opt, NULL) ||
            iflow_optim_new(&p, net->n_params, &ref_opt, NULL))
            abort();
    }
    /* A known state to compare against after a failed load. */
    for (size_t i = 0; i < net->n_params; i++) net->params[i] = opt->m[i] = opt->v[i] = (double)i;
    opt->step = 7;
    memcpy(ref->params, net->params, net->n_params * sizeof *net->params);
    memcpy(ref_opt->m, opt->m, net->n_params * sizeof *opt->m);
    memcpy(ref_opt->v, opt->v, net->n_params * sizeof *opt->v);
    ref_opt->step = opt->step;
    ref_opt->p = opt->p;
    iflow_rng rng, ref_rng;
    iflow_rng_init(&rng, 3, 4);
    ref_rng = rng;

    char path[256];
    if (data[0] & 1) {
        size_t len;
        unsigned char *file = wrap(data + 1, size - 1, &len);
        fuzz_write("epoch-000001.ckpt", file, len, path);
        free(file);
    } else {
        fuzz_write("epoch-000001.ckpt", data + 1, size - 1, path);
    }
    iflow_checkpoint_meta meta;
    iflow_error err = {0};
    int rc = iflow_checkpoint_load(path, &meta, net, opt, &rng, &err);
    fuzz_check_message(rc, err.msg);
    if (rc && !same_state(net, ref, opt, ref_opt, &rng, &ref_rng)) abort();
    if (!rc) {
        for (size_t i = 0; i < net->n_params; i++)
            if (!isfinite(net->params[i]) || !isfinite(opt->m[i]) || !isfinite(opt->v[i])) abort();
        if (meta.epoch < 0 || opt->step < 0) abort();
    }
    rc = iflow_checkpoint_load(path, &meta, net, NULL, NULL, &err); /* weights only */
    fuzz_check_message(rc, err.msg);
    return 0;
}
