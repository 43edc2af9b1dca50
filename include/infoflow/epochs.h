/* Epoch specifications ("log:100", "every:50", "1,10,100", "all", "none"): which epochs a run
 * measures and which checkpoints it keeps ([estimate] epochs, [output] checkpoint_keep). */
#ifndef IFLOW_EPOCHS_H
#define IFLOW_EPOCHS_H

#include "infoflow/api.h"

#include <stddef.h>

#include "infoflow/error.h"

#define IFLOW_MAX_EPOCHS 10000000 /* [train] epochs */

#ifdef __cplusplus
extern "C" {
#endif

/* Expands an epoch spec into an ascending, duplicate-free list of epochs in [0, last]:
 *   "none" -> empty; "all" -> 1..last; "every:N" -> N, 2N, ... and last;
 *   "log:K" -> round(10^(j * log10(last) / (K-1))), j = 0..K-1, deduplicated (so log:100 over
 *              9999 gives the authors' 84 epochs... over [1, last]);
 *   "0,1,5,10" -> that list (entries > last dropped).
 * *epochs is malloc'ed (caller frees). */
IFLOW_API int iflow_epochs_expand(const char *spec, long last, long **epochs, size_t *n,
                                  iflow_error *err);

#ifdef __cplusplus
}
#endif

#endif
