/* dist: the ranks of an MPI job, or one process. Without MPI in the build, or when the program
 * was not started by an MPI launcher (mpirun, srun), every call here is the single-process
 * no-op (rank 0 of 1), so the rest of the code needs no #ifdef. Internal header.
 *
 * Collective calls (agree, allgather, gather, barrier) must be made by every rank of the
 * current group, in the same order. The group is MPI_COMM_WORLD, or this process alone while
 * `solo` is on: a rank working on a unit of work of its own (an (epoch, layer) of an estimate,
 * a seed) turns it on so that the estimators inside do not split their sums over the ranks. */
#ifndef IFLOW_DIST_H
#define IFLOW_DIST_H

#include <stddef.h>

#include "infoflow/error.h"

/* Starts MPI (thread level FUNNELED: only the thread that called init calls MPI) if the build
 * has it and an MPI launcher started this process; else nothing. 0 or IFLOW_EIO. */
int iflow_dist_init(int *argc, char ***argv, iflow_error *err);

/* Ends MPI. rc is the process's exit status: an error every rank agreed on (iflow_dist_agree)
 * ends normally; an error of this rank alone aborts the whole job (MPI_Abort), since the other
 * ranks may wait for it in a collective call. */
void iflow_dist_finalize(int rc);

/* This process in the current group (0 and 1 when solo or single-process). */
int iflow_dist_rank(void);
int iflow_dist_size(void);
/* In the whole job, whatever solo says. */
int iflow_dist_world_rank(void);
int iflow_dist_world_size(void);

/* Turns solo mode on or off; returns the previous setting (to restore it). */
int iflow_dist_solo(int on);

/* The owner of item u of a list dealt round-robin to the ranks of the current group. */
int iflow_dist_owner(size_t u);

/* Every rank passes its rc (0 or IFLOW_E*). Returns 0 if all are 0; else, on every rank, the
 * code of the lowest failing rank, with its message (prefixed "rank R: ") copied into err.
 * Once an agree has returned an error, every later one returns it again at once, without
 * communicating: a rank leaving after an error may pass more agree calls than another, and
 * none of them waits for a rank that has gone. */
int iflow_dist_agree(int rc, iflow_error *err);

/* bytes of buf from rank 0 of the group to every other rank. */
int iflow_dist_bcast(void *buf, size_t bytes, iflow_error *err);

/* counts[r] doubles from each rank r of the group; all receives them on every rank, in rank
 * order (mine may lie inside all). */
int iflow_dist_allgather(const double *mine, const size_t *counts, double *all, iflow_error *err);

/* counts[r] bytes from each rank r; on rank 0, all receives them in rank order (other ranks
 * may pass all = NULL). */
int iflow_dist_gather(const void *mine, const size_t *counts, void *all, iflow_error *err);

/* 1 after iflow_dist_agree returned an error: every rank knows it (so rank 0 alone needs to
 * print it). */
int iflow_dist_error_shared(void);

/* Payload bytes this process has sent to other ranks so far (for the cost model). */
unsigned long long iflow_dist_bytes_sent(void);

/* What this rank is working on, e.g. "epoch 100, layers 2,4", for the messages of the command
 * line when a job stops; iflow_dist_task() returns it ("" when idle). */
void iflow_dist_set_task(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *iflow_dist_task(void);

#endif
