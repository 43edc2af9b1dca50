/* kdtree: a static k-d tree over n points in R^d (median split on the widest dimension, leaves
 * of up to leaf_size points stored contiguously and dimension-major) with ball and
 * k-nearest-neighbour queries. Internal to libinfoflow (mixture.c, knn.c). */
#ifndef IFLOW_KDTREE_H
#define IFLOW_KDTREE_H

#include <stddef.h>

typedef struct iflow_kdnode {
    size_t begin, end;  /* the node's points are tree positions [begin, end) */
    size_t left, right; /* child node indices; 0 for a leaf (the root is never a child) */
    size_t dim;         /* split dimension (inner nodes) */
    double split;       /* left child: coordinate <= split, right: >= split */
} iflow_kdnode;

typedef struct iflow_kdtree {
    size_t n, d;
    double *x;    /* d x n, coordinate c of the point at tree position p at x[c * n + p] */
    size_t *perm; /* perm[p] = the point's index in the input */
    iflow_kdnode *nodes;
    double *box; /* per node 2d doubles: lower corner, then upper corner (tight) */
    size_t n_nodes;
} iflow_kdtree;

/* A growable list of tree positions. Zero-initialise; the owner frees v. */
typedef struct iflow_kd_list {
    size_t *v;
    size_t n, cap;
} iflow_kd_list;

/* Builds the tree over pts (n x d, row-major; copied). NULL if out of memory or n == 0. */
iflow_kdtree *iflow_kdtree_new(const double *pts, size_t n, size_t d, size_t leaf_size);
/* The same tree, node for node and bit for bit, built with up to `threads` OpenMP threads
 * (subtrees as tasks; threads <= 1: sequential). */
iflow_kdtree *iflow_kdtree_new_threads(const double *pts, size_t n, size_t d, size_t leaf_size,
                                       int threads);
void iflow_kdtree_free(iflow_kdtree *t);

/* Appends to out the tree position of every point with ||x_p - q||^2 <= r2, in tree order.
 * Returns 0 or IFLOW_ENOMEM. */
int iflow_kdtree_ball(const iflow_kdtree *t, const double *q, double r2, iflow_kd_list *out);

/* Appends to out pairs (begin, end) of tree-position ranges, in tree order, whose union holds
 * every point with ||x_p - q||^2 <= r2: whole subtrees whose box lies inside the ball and whole
 * leaves that meet it (so a range may hold some points outside the ball). Returns 0 or
 * IFLOW_ENOMEM. */
int iflow_kdtree_ball_ranges(const iflow_kdtree *t, const double *q, double r2, iflow_kd_list *out);

/* The k nearest points to q, skipping the point whose input index is `skip` (pass (size_t)-1
 * to skip none): d2[0..k) squared distances ascending, idx[0..k) input indices. k <= n (or
 * n - 1 with a skip); ties resolved by the visiting order. */
void iflow_kdtree_knn(const iflow_kdtree *t, const double *q, size_t k, size_t skip, double *d2,
                      size_t *idx);

#endif
