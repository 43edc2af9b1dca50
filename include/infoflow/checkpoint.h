/* Checkpoints: everything needed to resume training bit-for-bit.
 *
 * File format (little-endian): magic "IFLOWCKP", u32 format version, u32 flags, u64
 * uncompressed payload length, u64 compressed length, u32 CRC-32 (zlib crc32) of the
 * uncompressed payload, then the zlib-compressed payload. The payload holds epoch, config hash,
 * the net's shape (layer count, widths, activation, betas; from version 2 also the input shape
 * and every block, docs/FORMATS.md) and parameters, the optimiser's kind, step, m and v, and the
 * RNG state with its normal generator version (u32: 1 = v1, 2 = v2; format 2). Version 1 files
 * (MLPs, normals v1) still load. Written to PATH.tmp, fsync'ed, then renamed onto PATH. */
#ifndef IFLOW_CHECKPOINT_H
#define IFLOW_CHECKPOINT_H

#include "infoflow/api.h"

#include <stdint.h>

#include "infoflow/error.h"
#include "infoflow/net.h"
#include "infoflow/optim.h"
#include "infoflow/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iflow_checkpoint_meta {
    long epoch;           /* epochs completed */
    uint64_t config_hash; /* hash of the effective config that produced it */
} iflow_checkpoint_meta;

/* opt may be NULL (a weights-only checkpoint); rng may be NULL. */
IFLOW_API int iflow_checkpoint_save(const char *path, const iflow_checkpoint_meta *meta,
                                    const iflow_net *net, const iflow_optim *opt,
                                    const iflow_rng *rng, iflow_error *err);

/* Loads into an existing net (and opt, rng if not NULL) of the same architecture. Every check
 * failing (missing file, bad magic, unknown version, truncation, CRC mismatch, shape different from
 * net, optimiser state missing or of another size) returns an error naming the file and what is
 * wrong, and leaves net, opt and rng unchanged. */
IFLOW_API int iflow_checkpoint_load(const char *path, iflow_checkpoint_meta *meta, iflow_net *net,
                                    iflow_optim *opt, iflow_rng *rng, iflow_error *err);

/* Loads the net of a checkpoint into a new net of the shape the file records (widths,
 * activation, leaky slope, beta), e.g. to read a run's weights without its config (the Python
 * package does this). The same checks as iflow_checkpoint_load; *out is the caller's
 * (iflow_net_free) and NULL on error. meta may be NULL. */
IFLOW_API int iflow_checkpoint_load_net(const char *path, iflow_checkpoint_meta *meta,
                                        iflow_net **out, iflow_error *err);

#ifdef __cplusplus
}
#endif

#endif
