/* Internal: the coverage study of `infoflow validate` (docs/ESTIMATION.md section 11): SP
 * estimates with their standard errors and bias on channels whose information is known by
 * quadrature or in closed form, over many independent sample sets. */
#ifndef IFLOW_VALIDATE_H
#define IFLOW_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "infoflow/error.h"

/* The channels. TANH: X uniform on a product grid of g points per coordinate in [-1, 1]^d,
 * U = tanh(2 x + 0.1) + N(0, beta1^2), S = tanh(1.5 U - 0.2), T = S + N(0, beta^2) per
 * coordinate (beta1 = beta): I(X;T) = d * I_1 by 1-D quadrature. CUBE: X uniform on {-1,1}^d,
 * S = X (the R replicas of an input coincide, as in a net's first layer), T = S + N(0, beta^2 I):
 * I = d * C(beta), C the binary-input AWGN capacity by quadrature; only the draws are random.
 * GAUSS: entropy of n = 16 R i.i.d. S ~ N(0, I_d), h(S + Z) = (d/2) ln(2 pi e (1 + beta^2)). */
typedef enum validate_channel {
    VALIDATE_TANH,
    VALIDATE_CUBE,
    VALIDATE_GAUSS,
    VALIDATE_CHANNEL_COUNT
} validate_channel;

const char *validate_channel_name(validate_channel c);
/* The two noise levels of channel c (level 0 or 1). */
double validate_beta(validate_channel c, int level);
/* Grid points per coordinate of TANH in d dimensions (m = g^d inputs). */
size_t validate_grid(size_t d);

/* The exact value of channel c in d dimensions at noise beta (nats); step: quadrature step in
 * units of the narrowest noise (1/25 is the default; the test halves it to check). */
double validate_truth(validate_channel c, size_t d, double beta, double step);

typedef struct validate_cell {
    validate_channel channel;
    size_t d, replicas, queries; /* queries per input (0 = all replicas) */
    int level;
    size_t sets, mc;
    uint64_t seed;
    int threads;
} validate_cell;

/* Summary over the sets: mean estimate, sd over sets, rms reported se and se_mc, mean
 * estimated bias, sd of the corrected values, coverage of value +- 1.96 se and of the corrected
 * value +- 1.96 se; n_na: sets whose se was not available (left out of the se and coverage). */
typedef struct validate_row {
    double beta, truth, mean, sd, se, se_mc, bias, sd_corrected, cover, cover_corrected;
    size_t n_na, n_bias;
    size_t n_values; /* per-centre values the estimate averages (queried samples) */
    double seconds;
} validate_row;

int validate_run(const validate_cell *cell, validate_row *row, iflow_error *err);

#endif
