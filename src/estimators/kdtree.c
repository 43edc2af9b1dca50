/* kdtree: static k-d tree for the truncated mixture sums (ball queries) and the
 * Kozachenko-Leonenko estimator (k nearest neighbours). */
#include "kdtree.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "infoflow/error.h"

typedef struct builder {
    const double *pts; /* row-major input */
    size_t d, leaf_size;
    iflow_kdtree *t;
    int parallel; /* children's indices from an atomic counter, renumbered afterwards */
} builder;

/* Subtrees over at least this many points become OpenMP tasks in a parallel build. */
#define PAR_MIN_POINTS 8192

/* Tight bounding box of the points perm[begin..end) into box (lo[d], hi[d]). */
static void node_box(const builder *b, size_t begin, size_t end, double *box) {
    size_t d = b->d;
    for (size_t c = 0; c < d; c++) {
        box[c] = INFINITY;
        box[d + c] = -INFINITY;
    }
    for (size_t p = begin; p < end; p++) {
        const double *x = b->pts + b->t->perm[p] * d;
        for (size_t c = 0; c < d; c++) {
            box[c] = x[c] < box[c] ? x[c] : box[c];
            box[d + c] = x[c] > box[d + c] ? x[c] : box[d + c];
        }
    }
}

/* Quickselect with a three-way partition (robust to repeated coordinates) on perm[begin..end)
 * by coordinate dim: afterwards position mid holds the median, with every point left of it
 * <= and every point right of it >=. */
static void select_median(const builder *b, size_t begin, size_t end, size_t mid, size_t dim) {
    size_t *perm = b->t->perm, d = b->d;
    const double *pts = b->pts;
    size_t lo = begin, hi = end;
    while (hi - lo > 1) {
        double pivot = pts[perm[lo + (hi - lo) / 2] * d + dim];
        size_t lt = lo, i = lo, gt = hi; /* [lo,lt) <, [lt,i) ==, [gt,hi) > pivot */
        while (i < gt) {
            double v = pts[perm[i] * d + dim];
            size_t tmp = perm[i];
            if (v < pivot) {
                perm[i++] = perm[lt];
                perm[lt++] = tmp;
            } else if (v > pivot) {
                perm[i] = perm[--gt];
                perm[gt] = tmp;
            } else {
                i++;
            }
        }
        if (mid < lt)
            hi = lt;
        else if (mid >= gt)
            lo = gt;
        else
            return;
    }
}

/* Builds the subtree over [begin, end) at node index `node` (already allocated). */
static void build_node(builder *b, size_t node, size_t begin, size_t end) {
    iflow_kdtree *t = b->t;
    size_t d = b->d;
    double *box = t->box + node * 2 * d;
    node_box(b, begin, end, box);
    iflow_kdnode *nd = &t->nodes[node];
    nd->begin = begin;
    nd->end = end;
    nd->left = nd->right = 0;
    nd->dim = 0; /* unused in a leaf; set so that trees compare equal byte for byte */
    nd->split = 0;
    if (end - begin <= b->leaf_size) return;
    size_t dim = 0;
    for (size_t c = 1; c < d; c++)
        if (box[d + c] - box[c] > box[d + dim] - box[dim]) dim = c;
    if (!(box[d + dim] > box[dim])) return; /* all points coincide: keep one big leaf */
    size_t mid = begin + (end - begin) / 2;
    select_median(b, begin, end, mid, dim);
    nd->dim = dim;
    nd->split = b->pts[t->perm[mid] * d + dim];
    size_t left, right;
    if (b->parallel) {
        size_t first;
#pragma omp atomic capture
        {
            first = t->n_nodes;
            t->n_nodes += 2;
        }
        left = first;
        right = first + 1;
    } else {
        left = t->n_nodes++;
        right = t->n_nodes++;
    }
    nd->left = left;
    nd->right = right;
    /* The halves are disjoint ranges of perm: building them at once changes no point's place. */
    if (b->parallel && end - begin >= PAR_MIN_POINTS) {
#pragma omp task
        build_node(b, left, begin, mid);
        build_node(b, right, mid, end);
#pragma omp taskwait
    } else {
        build_node(b, left, begin, mid);
        build_node(b, right, mid, end);
    }
}

/* Copies node `old` of a parallel build (and its subtree) to index `node` of t, numbering
 * children as the sequential build does: both children of a node when it is visited, depth
 * first, left before right. */
static void renumber(const iflow_kdnode *nodes, const double *box, iflow_kdtree *t, size_t old,
                     size_t node) {
    size_t d2 = 2 * t->d;
    t->nodes[node] = nodes[old];
    memcpy(t->box + node * d2, box + old * d2, d2 * sizeof(double));
    if (!nodes[old].left) return;
    size_t left = t->n_nodes++, right = t->n_nodes++;
    t->nodes[node].left = left;
    t->nodes[node].right = right;
    renumber(nodes, box, t, nodes[old].left, left);
    renumber(nodes, box, t, nodes[old].right, right);
}

/* Builds t's nodes with `threads` threads into scratch arrays, then renumbers them into t. */
static int build_parallel(builder *b, size_t max_nodes, int threads) {
    iflow_kdtree *t = b->t;
    iflow_kdnode *final_nodes = t->nodes;
    double *final_box = t->box;
    t->nodes = malloc(max_nodes * sizeof(iflow_kdnode));
    t->box = malloc(max_nodes * 2 * t->d * sizeof(double));
    if (!t->nodes || !t->box) {
        free(t->nodes);
        free(t->box);
        t->nodes = final_nodes;
        t->box = final_box;
        return -1;
    }
    b->parallel = 1;
    t->n_nodes = 1;
#pragma omp parallel num_threads(threads)
#pragma omp single
    build_node(b, 0, 0, t->n);
    iflow_kdnode *nodes = t->nodes;
    double *box = t->box;
    t->nodes = final_nodes;
    t->box = final_box;
    t->n_nodes = 1;
    renumber(nodes, box, t, 0, 0);
    free(nodes);
    free(box);
    return 0;
}

iflow_kdtree *iflow_kdtree_new(const double *pts, size_t n, size_t d, size_t leaf_size) {
    return iflow_kdtree_new_threads(pts, n, d, leaf_size, 1);
}

iflow_kdtree *iflow_kdtree_new_threads(const double *pts, size_t n, size_t d, size_t leaf_size,
                                       int threads) {
    if (n == 0 || d == 0) return NULL;
    if (leaf_size < 1) leaf_size = 1;
    iflow_kdtree *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    /* Splits halve the count, so a tree over n points has < 4n / leaf_size + 1 nodes. */
    size_t max_nodes = 4 * (n / leaf_size + 1) + 1;
    t->n = n;
    t->d = d;
    /* 64-byte aligned: the mixture kernel runs on this storage directly, and a fixed alignment
     * keeps its vector lanes (and so its sums) the same from run to run. */
    t->x = aligned_alloc(64, (n * d * sizeof(double) + 63) & ~(size_t)63);
    t->perm = malloc(n * sizeof(size_t));
    t->nodes = malloc(max_nodes * sizeof(iflow_kdnode));
    t->box = malloc(max_nodes * 2 * d * sizeof(double));
    if (!t->x || !t->perm || !t->nodes || !t->box) {
        iflow_kdtree_free(t);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) t->perm[i] = i;
    builder b = {pts, d, leaf_size, t, 0};
    if (threads > 1 && n >= 2 * PAR_MIN_POINTS) {
        if (build_parallel(&b, max_nodes, threads)) {
            iflow_kdtree_free(t);
            return NULL;
        }
    } else {
        t->n_nodes = 1;
        build_node(&b, 0, 0, n);
    }
#pragma omp parallel for num_threads(threads > 1 ? threads : 1) schedule(static)
    for (size_t c = 0; c < d; c++)
        for (size_t p = 0; p < n; p++) t->x[c * n + p] = pts[t->perm[p] * d + c];
    return t;
}

void iflow_kdtree_free(iflow_kdtree *t) {
    if (!t) return;
    free(t->x);
    free(t->perm);
    free(t->nodes);
    free(t->box);
    free(t);
}

/* Squared distance from q to the node's box (0 inside). */
static double box_dist2(const iflow_kdtree *t, size_t node, const double *q) {
    const double *lo = t->box + node * 2 * t->d, *hi = lo + t->d;
    double s = 0;
    for (size_t c = 0; c < t->d; c++) {
        double e = q[c] < lo[c] ? lo[c] - q[c] : q[c] > hi[c] ? q[c] - hi[c] : 0.0;
        s += e * e;
    }
    return s;
}

static double point_dist2(const iflow_kdtree *t, size_t p, const double *q) {
    double s = 0;
    for (size_t c = 0; c < t->d; c++) {
        double e = t->x[c * t->n + p] - q[c];
        s += e * e;
    }
    return s;
}

static int list_push(iflow_kd_list *l, size_t v) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        size_t *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) return IFLOW_ENOMEM;
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
    return 0;
}

/* Depth is at most ~log2(n / leaf) + 1 < 64 for any n that fits in memory. */
enum { STACK = 128 };

int iflow_kdtree_ball(const iflow_kdtree *t, const double *q, double r2, iflow_kd_list *out) {
    size_t stack[STACK], top = 0;
    stack[top++] = 0;
    while (top) {
        size_t node = stack[--top];
        if (box_dist2(t, node, q) > r2) continue;
        const iflow_kdnode *nd = &t->nodes[node];
        if (nd->left) {
            stack[top++] = nd->right; /* left is popped first: output stays in tree order */
            stack[top++] = nd->left;
            continue;
        }
        for (size_t p = nd->begin; p < nd->end; p++)
            if (point_dist2(t, p, q) <= r2 && list_push(out, p)) return IFLOW_ENOMEM;
    }
    return 0;
}

/* Squared distance from q to the farthest corner of the node's box. */
static double box_far2(const iflow_kdtree *t, size_t node, const double *q) {
    const double *lo = t->box + node * 2 * t->d, *hi = lo + t->d;
    double s = 0;
    for (size_t c = 0; c < t->d; c++) {
        double e = fmax(fabs(q[c] - lo[c]), fabs(q[c] - hi[c]));
        s += e * e;
    }
    return s;
}

/* Appends [begin, end) to the range list, merged with the last range when they touch. */
static int range_push(iflow_kd_list *l, size_t begin, size_t end) {
    if (l->n >= 2 && l->v[l->n - 1] == begin) {
        l->v[l->n - 1] = end;
        return 0;
    }
    return list_push(l, begin) || list_push(l, end) ? IFLOW_ENOMEM : 0;
}

int iflow_kdtree_ball_ranges(const iflow_kdtree *t, const double *q, double r2,
                             iflow_kd_list *out) {
    size_t stack[STACK], top = 0;
    stack[top++] = 0;
    while (top) {
        size_t node = stack[--top];
        if (box_dist2(t, node, q) > r2) continue;
        const iflow_kdnode *nd = &t->nodes[node];
        if (nd->left && box_far2(t, node, q) > r2) {
            stack[top++] = nd->right; /* left is popped first: ranges stay in tree order */
            stack[top++] = nd->left;
            continue;
        }
        if (range_push(out, nd->begin, nd->end)) return IFLOW_ENOMEM;
    }
    return 0;
}

/* Inserts (dist2, idx) into the ascending list of the best k so far (len entries). */
static size_t best_insert(double *d2, size_t *idx, size_t len, size_t k, double dist, size_t i) {
    if (len == k && dist >= d2[k - 1]) return len;
    size_t pos = len < k ? len++ : k - 1;
    while (pos > 0 && d2[pos - 1] > dist) {
        d2[pos] = d2[pos - 1];
        idx[pos] = idx[pos - 1];
        pos--;
    }
    d2[pos] = dist;
    idx[pos] = i;
    return len;
}

void iflow_kdtree_knn(const iflow_kdtree *t, const double *q, size_t k, size_t skip, double *d2,
                      size_t *idx) {
    size_t stack[STACK], top = 0, len = 0;
    stack[top++] = 0;
    while (top) {
        size_t node = stack[--top];
        if (len == k && box_dist2(t, node, q) >= d2[k - 1]) continue;
        const iflow_kdnode *nd = &t->nodes[node];
        if (nd->left) {
            /* Push the far child first so the near one is searched first. */
            int go_left = q[nd->dim] <= nd->split;
            stack[top++] = go_left ? nd->right : nd->left;
            stack[top++] = go_left ? nd->left : nd->right;
            continue;
        }
        for (size_t p = nd->begin; p < nd->end; p++) {
            if (t->perm[p] == skip) continue;
            len = best_insert(d2, idx, len, k, point_dist2(t, p, q), t->perm[p]);
        }
    }
}
