/* Internal: the clustering measures of a run (cluster.h) per hidden layer and measured epoch,
 * written to clustering.csv and cosine_hist.csv (docs/FORMATS.md). */
#ifndef IFLOW_RUN_CLUSTER_H
#define IFLOW_RUN_CLUSTER_H

#include <stddef.h>

#include "infoflow/data.h"
#include "infoflow/error.h"
#include "infoflow/net.h"
#include "runlog.h"

extern const char *const RUN_CLUSTER_HEADER;
extern const char *const RUN_COSINE_HIST_HEADER;

/* Bins of the cosine histograms on [-1, 1]. */
#define RUN_COSINE_BINS 40

/* The fixed subset the measures use: min(m, all->n) rows of all, drawn without replacement
 * from iflow_rng(seed, stream). */
int run_cluster_subset(const iflow_dataset *all, size_t m, uint64_t seed, uint64_t stream,
                       iflow_dataset **out, iflow_error *err);

/* 1 if the measures are defined on set with k neighbours (more than k rows, two classes
 * present); else 0 and why (e.g. "12 inputs, cluster_k = 10 needs more"). */
int run_cluster_usable(const iflow_dataset *set, size_t k, char *why, size_t n);

/* Measures every hidden layer of net on the noiseless activations of set and appends one
 * clustering.csv row per layer, and (hist not NULL) the cosine histogram rows. */
int run_cluster_epoch(const iflow_net *net, const iflow_dataset *set, long epoch, size_t knn,
                      int threads, runlog *csv, runlog *hist, iflow_error *err);

#endif
