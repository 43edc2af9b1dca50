/* mixture_tree: the truncated driver of the mixture sums. Queries are answered in blocks of
 * nearby centres planned over a k-d tree, each block over the tree ranges of one ball, with a
 * proved bound on the error of every ln. */
#include <assert.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "mixture_tree.h"

#include "dist.h"
#include "kdtree.h"
#include "mixture_hetero.h"

/* Truncation radius. For a draw t = s_i + z the own term is T_i = w_i e^{-||z||^2/2beta^2}.
 * A centre j with ||t - s_j||^2 > ||z||^2 + rho^2 beta^2 has a term below
 * (w_j / w_i) e^{-rho^2/2} T_i, so the dropped mass is D <= ((W - w_i)/w_i) e^{-rho^2/2} T_i,
 * and T_i <= S_kept (also for the own-group partial sums, which contain T_i). Hence
 *     0 <= ln S - ln S_kept = ln(1 + D/S_kept) <= ((W - w_i)/w_i) e^{-rho^2/2} = tol
 * for rho^2 = 2 ln((W - w_i) / (w_i tol)) (equal weights: 2 ln((n-1)/tol)); the same bound
 * holds for L, L + A, L + B, and |error of A| <= tol as a difference of two errors in [0, tol].
 * Returns r_i such that every centre some draw of centre i keeps lies within r_i of s_i: with
 * Z = max_j ||z_ij||, r_i = Z + sqrt(Z^2 + rho^2 beta^2) (triangle inequality). t holds the k
 * draws of centre i. Keeping more centres than needed only makes the sums more exact. */
static double truncation_radius(const mc_ctx *cx, size_t i, const double *t) {
    const iflow_mix_mc *p = cx->p;
    double wi = exp(p->lw ? p->lw[i] : 0.0), rest = cx->wsum - wi;
    double rho2 = rest > 0 ? 2.0 * log(rest / (wi * p->tolerance)) : 0.0;
    double r2max = 0;
    for (size_t j = 0; j < p->k; j++) {
        double z2 = 0;
        for (size_t c = 0; c < p->d; c++) {
            double e = t[j * p->d + c] - p->s[i * p->d + c];
            z2 += e * e;
        }
        r2max = fmax(r2max, z2);
    }
    return sqrt(r2max) + sqrt(r2max + fmax(rho2, 0.0) * p->beta * p->beta);
}

/* The ranges (pairs of tree positions) as runs over the tree's own dimension-major storage:
 * no copy. Long ranges are cut into tiles so that each piece stays in L1 while every query of
 * the block passes over it. */
static int range_runs(const mc_ctx *cx, workspace *w, size_t *n_runs) {
    size_t nr = w->hits.n / 2, nt = cx->tree->n, tile = iflow_mix_tile_size(cx->p->d), count = 0;
    for (size_t r = 0; r < nr; r++)
        count += (w->hits.v[2 * r + 1] - w->hits.v[2 * r] + tile - 1) / tile;
    if (count > w->cap_runs) {
        free(w->runs);
        w->cap_runs = count + count / 2 + 8;
        w->runs = malloc(w->cap_runs * sizeof *w->runs);
        if (!w->runs) {
            w->cap_runs = 0;
            return IFLOW_ENOMEM;
        }
    }
    count = 0;
    for (size_t r = 0; r < nr; r++) {
        for (size_t b = w->hits.v[2 * r], e = w->hits.v[2 * r + 1]; b < e; b += tile) {
            centre_run run = {cx->tree->x + b,
                              cx->tlw + b,
                              cx->tga ? cx->tga + b : NULL,
                              cx->tgb ? cx->tgb + b : NULL,
                              nt,
                              e - b < tile ? e - b : tile,
                              cx->tw ? cx->tw + b : NULL};
            w->runs[count++] = run;
        }
    }
    *n_runs = count;
    return 0;
}

/* ---- truncated mode: blocks of nearby queries -------------------------------------------- */

/* Queries are answered in blocks: the query centres of one k-d tree node, with one ball that
 * holds every centre any of their draws keeps (ball centre c, radius max_i ||c - s_i|| + r_i).
 * All draws of a block run over the centres of that ball, so the kernel's groups of QG draws
 * are full and each tile of centres is reused by up to BLOCK_DRAWS draws. A node becomes a
 * block when that costs at most (1 + PLAN_SLACK) times what its two children cost apart
 * (cost = padded draws x centres in the ball): for widely spread centres (beta large against
 * their spacing) whole nodes of BLOCK_DRAWS draws are blocks; for separated clusters a block
 * is one cluster. This greedy plan over-merges clustered data (2.0x the pairs of every query
 * centre alone in its own ball on the quick szt-tanh run); IFLOW_MIX_PLAN_BEST chooses each
 * node's split bottom-up instead (plan_best: 1.66x there), but plans twice as long and cost
 * more CPU in all, so the estimators keep the greedy plan (entropy.c). Either plan depends only
 * on the data, never on the thread count. */
enum { BLOCK_DRAWS = 64 };
#define PLAN_SLACK 0.1

typedef struct tblock {
    size_t q0, q1; /* query centres qpos[q0..q1) */
    double r2;     /* squared ball radius */
} tblock;

/* Blocks and their ball centres (d doubles each), in tree order. */
typedef struct block_list {
    tblock *b;
    double *ctr;
    size_t n, cap;
} block_list;

typedef struct plan {
    const mc_ctx *cx;
    const double *rad; /* r_i per centre index (query centres only) */
    size_t *qpos;      /* tree positions of the query centres, in tree order */
    size_t *qcount;    /* qcount[p] = query centres among tree positions [0, p) */
    size_t per_block;  /* max query centres per block */
    size_t *frontier;  /* the highest nodes with at most per_block query centres (or
                          leaves), in tree order: planned independently, in parallel */
    size_t n_frontier, cap_frontier;
    block_list all; /* the plan */
} plan;

/* One thread's planning state. */
typedef struct planner {
    const plan *pl;
    block_list out;
    double *tmp; /* d: a ball centre being costed */
    iflow_kd_list scratch;
} planner;

static void plan_free(plan *pl) {
    free(pl->qpos);
    free(pl->qcount);
    free(pl->frontier);
    free(pl->all.b);
    free(pl->all.ctr);
}

/* The ball of the query centres qpos[a..b), around the midpoint of their bounding box (one
 * centre: its own ball). */
static void block_ball(const plan *pl, size_t a, size_t b, double *ctr, double *r2) {
    const iflow_kdtree *t = pl->cx->tree;
    size_t d = t->d;
    for (size_t c = 0; c < d; c++) {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t u = a; u < b; u++) {
            double v = t->x[c * t->n + pl->qpos[u]];
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
        ctr[c] = 0.5 * (lo + hi);
    }
    double r = 0;
    for (size_t u = a; u < b; u++) {
        size_t p = pl->qpos[u];
        double e2 = 0;
        for (size_t c = 0; c < d; c++) {
            double e = t->x[c * t->n + p] - ctr[c];
            e2 += e * e;
        }
        r = fmax(r, sqrt(e2) + pl->rad[t->perm[p]]);
    }
    *r2 = r * r * (1.0 + 1e-10); /* rounding in the tree's distances must not drop a centre */
}

/* Centres of the tree's ranges within the ball (ctr, r2), found in scratch; -1 if out of
 * memory. */
static double ball_centres(const iflow_kdtree *t, const double *ctr, double r2,
                           iflow_kd_list *scratch) {
    scratch->n = 0;
    if (iflow_kdtree_ball_ranges(t, ctr, r2, scratch)) return -1;
    size_t centres = 0;
    for (size_t r = 0; r < scratch->n; r += 2) centres += scratch->v[r + 1] - scratch->v[r];
    return (double)centres;
}

/* The draws of nq query centres, padded to the kernel's groups of QG. */
static double padded_draws(const mc_ctx *cx, size_t nq) {
    size_t draws = nq * cx->p->k;
    return (double)((draws + QG - 1) / QG * QG);
}

/* Padded draws x centres in the ball (ctr, r2) for a block of nq query centres; -1 if out of
 * memory. */
static double ball_cost(planner *pr, const double *ctr, double r2, size_t nq) {
    double centres = ball_centres(pr->pl->cx->tree, ctr, r2, &pr->scratch);
    return centres < 0 ? -1 : padded_draws(pr->pl->cx, nq) * centres;
}

/* Cost of answering the query centres of node as one block (0 if it has none); -1 if out of
 * memory. */
static double node_cost(planner *pr, size_t node) {
    const plan *pl = pr->pl;
    const iflow_kdnode *nd = &pl->cx->tree->nodes[node];
    size_t a = pl->qcount[nd->begin], b = pl->qcount[nd->end];
    if (a == b) return 0;
    double r2;
    block_ball(pl, a, b, pr->tmp, &r2);
    return ball_cost(pr, pr->tmp, r2, b - a);
}

static int list_grow(block_list *l, size_t d) {
    if (l->n < l->cap) return 0;
    size_t cap = l->cap ? 2 * l->cap : 16;
    tblock *nb = realloc(l->b, cap * sizeof *nb);
    if (!nb) return IFLOW_ENOMEM;
    l->b = nb;
    double *nc = realloc(l->ctr, cap * d * sizeof *nc);
    if (!nc) return IFLOW_ENOMEM;
    l->ctr = nc;
    l->cap = cap;
    return 0;
}

/* Appends the query centres qpos[a..b) as blocks of at most per centres each. */
static int emit(planner *pr, size_t a, size_t b, size_t per) {
    size_t d = pr->pl->cx->p->d;
    for (size_t u = a; u < b; u += per) {
        if (list_grow(&pr->out, d)) return IFLOW_ENOMEM;
        tblock *bl = &pr->out.b[pr->out.n];
        bl->q0 = u;
        bl->q1 = b - u < per ? b : u + per;
        block_ball(pr->pl, bl->q0, bl->q1, pr->out.ctr + pr->out.n * d, &bl->r2);
        pr->out.n++;
    }
    return 0;
}

/* A node whose box is more than WIDE times as wide as the largest radius of its query centres
 * qpos[a..b): one ball for it would hold far more than its halves' balls, so it is split
 * without costing (and a leaf answers its centres one by one). */
#define WIDE 8.0
static int wide_node(const plan *pl, size_t node, size_t a, size_t b) {
    const iflow_kdtree *t = pl->cx->tree;
    const double *lo = t->box + node * 2 * t->d, *hi = lo + t->d;
    double diag2 = 0, rmax = 0;
    for (size_t c = 0; c < t->d; c++) diag2 += (hi[c] - lo[c]) * (hi[c] - lo[c]);
    for (size_t u = a; u < b; u++) rmax = fmax(rmax, pl->rad[t->perm[pl->qpos[u]]]);
    return diag2 > WIDE * WIDE * rmax * rmax;
}

/* A leaf: one block, or a block per query centre when the leaf is wide against its radii
 * (sparse points: a small beta in many dimensions) or holds more query centres than a block
 * (then each centre has k >= BLOCK_DRAWS / 32 draws, which fill the kernel's groups on their
 * own, while chunks of the leaf would all get the whole leaf's ball). Costing singles by their
 * pair counts misleads here: single blocks pay a ball query and a kernel pass each. */
static int plan_leaf(planner *pr, size_t node, size_t a, size_t b) {
    if (b - a > pr->pl->per_block || (b - a > 1 && wide_node(pr->pl, node, a, b)))
        return emit(pr, a, b, 1);
    return emit(pr, a, b, pr->pl->per_block);
}

/* Splits a node with at most per_block query centres (or a leaf) into blocks; cost is its
 * node_cost if known, else < 0. */
static int plan_node(planner *pr, size_t node, double cost) {
    const plan *pl = pr->pl;
    const iflow_kdnode *nd = &pl->cx->tree->nodes[node];
    size_t a = pl->qcount[nd->begin], b = pl->qcount[nd->end];
    if (a == b) return 0;
    if (!nd->left) return plan_leaf(pr, node, a, b);
    if (wide_node(pl, node, a, b)) { /* surely split: skip the costing */
        int rc = plan_node(pr, nd->left, -1);
        return rc ? rc : plan_node(pr, nd->right, -1);
    }
    if (cost < 0) cost = node_cost(pr, node);
    double cl = node_cost(pr, nd->left), cr = cl < 0 ? -1 : node_cost(pr, nd->right);
    if (cost < 0 || cl < 0 || cr < 0) return IFLOW_ENOMEM;
    if (cost <= (1.0 + PLAN_SLACK) * (cl + cr)) return emit(pr, a, b, pr->pl->per_block);
    int rc = plan_node(pr, nd->left, cl);
    return rc ? rc : plan_node(pr, nd->right, cr);
}

/* The bottom-up plan (IFLOW_MIX_PLAN_BEST): best(node) = min(one block, best(left) +
 * best(right)), each block costing its pairs plus PLAN_BLOCK_COST for its ball query and kernel
 * pass. Measured on the 60 (epoch, layer) sums of configs/exp-szt-tanh-quick.ini: 0, 512,
 * 2048, 8192 and 32768 gave 1691, 1692, 1712, 1830 and 2122 M pairs, and the sums' CPU time
 * grew with the pairs, not with the blocks (145k at 0, 80k at 32768): the fixed cost is small,
 * 512 only keeps equal-cost splits from fragmenting. Leaves and wide nodes keep the rules
 * above. Appends node's blocks to pr->out and sets *best to their cost. Every node of a
 * frontier subtree with query centres in both halves is costed once (one ball query each:
 * about twice the greedy's planning time). */
#define PLAN_BLOCK_COST 512.0
static int plan_best(planner *pr, size_t node, double *best) {
    const plan *pl = pr->pl;
    const iflow_kdnode *nd = &pl->cx->tree->nodes[node];
    size_t a = pl->qcount[nd->begin], b = pl->qcount[nd->end], d = pl->cx->p->d;
    size_t mark = pr->out.n;
    *best = 0;
    if (a == b) return 0;
    if (!nd->left) {
        int rc = plan_leaf(pr, node, a, b);
        for (size_t u = mark; !rc && u < pr->out.n; u++) {
            const tblock *bl = &pr->out.b[u];
            double c = ball_cost(pr, pr->out.ctr + u * d, bl->r2, bl->q1 - bl->q0);
            if (c < 0) return IFLOW_ENOMEM;
            *best += c + PLAN_BLOCK_COST;
        }
        return rc;
    }
    /* A node whose query centres all lie in one half has that half's ball and plan: go down
     * without costing it (a sparse query subset makes long chains of such nodes). */
    size_t split = pl->qcount[pl->cx->tree->nodes[nd->left].end];
    if (split == a || split == b) return plan_best(pr, split == b ? nd->left : nd->right, best);
    double bl, br;
    int rc = plan_best(pr, nd->left, &bl);
    if (!rc) rc = plan_best(pr, nd->right, &br);
    if (rc) return rc;
    *best = bl + br;
    if (wide_node(pl, node, a, b)) return 0; /* surely split */
    double one = node_cost(pr, node);
    if (one < 0) return IFLOW_ENOMEM;
    if (one + PLAN_BLOCK_COST > *best) return 0;
    pr->out.n = mark; /* one block beats the halves' plans */
    *best = one + PLAN_BLOCK_COST;
    return emit(pr, a, b, pl->per_block);
}

/* Collects the frontier below node, in tree order. */
static int find_frontier(plan *pl, size_t node) {
    const iflow_kdnode *nd = &pl->cx->tree->nodes[node];
    size_t a = pl->qcount[nd->begin], b = pl->qcount[nd->end];
    if (a == b) return 0;
    if (nd->left && b - a > pl->per_block) {
        int rc = find_frontier(pl, nd->left);
        return rc ? rc : find_frontier(pl, nd->right);
    }
    if (pl->n_frontier == pl->cap_frontier) {
        size_t cap = pl->cap_frontier ? 2 * pl->cap_frontier : 256;
        size_t *nf = realloc(pl->frontier, cap * sizeof *nf);
        if (!nf) return IFLOW_ENOMEM;
        pl->frontier = nf;
        pl->cap_frontier = cap;
    }
    pl->frontier[pl->n_frontier++] = node;
    return 0;
}

/* The plan: frontier nodes planned in parallel, their blocks concatenated in tree order, so
 * the plan does not depend on the thread count. */
static int plan_build(plan *pl, const mc_ctx *cx, const double *rad, size_t nqc) {
    const iflow_kdtree *t = cx->tree;
    size_t d = t->d;
    memset(pl, 0, sizeof *pl);
    pl->cx = cx;
    pl->rad = rad;
    pl->per_block = cx->p->k >= BLOCK_DRAWS ? 1 : BLOCK_DRAWS / cx->p->k;
    pl->qpos = malloc((nqc ? nqc : 1) * sizeof *pl->qpos);
    pl->qcount = malloc((t->n + 1) * sizeof *pl->qcount);
    if (!pl->qpos || !pl->qcount) return IFLOW_ENOMEM;
    size_t q = 0;
    for (size_t p = 0; p < t->n; p++) {
        pl->qcount[p] = q;
        if (t->perm[p] < nqc) pl->qpos[q++] = p;
    }
    pl->qcount[t->n] = q;
    /* Blocks exist to fill the kernel's groups of QG draws and to reuse tiles. When a centre's
     * own k >= QG draws fill the groups, its own ball (the tightest) wins: merging by the cost
     * model below was measured to do up to 2x more pairs there (bench_estimators, k = 16). */
    if (cx->p->k >= QG) {
        planner pr = {.pl = pl};
        int rc = emit(&pr, 0, q, 1);
        pl->all = pr.out;
        return rc;
    }
    int rc = find_frontier(pl, 0);
    block_list *lists = rc ? NULL : calloc(pl->n_frontier ? pl->n_frontier : 1, sizeof *lists);
    if (!rc && !lists) rc = IFLOW_ENOMEM;
    int fail = rc != 0;
#pragma omp parallel num_threads(iflow_mix_threads(cx->p->threads)) if (!fail)
    {
        planner pr = {.pl = pl, .tmp = fail ? NULL : malloc(d * sizeof(double))};
        int ok = !fail && pr.tmp;
#pragma omp for schedule(dynamic, 4)
        for (size_t f = 0; f < pl->n_frontier; f++) {
            if (!ok) continue;
            memset(&pr.out, 0, sizeof pr.out);
            double cost;
            ok = (cx->p->plan == IFLOW_MIX_PLAN_BEST ? plan_best(&pr, pl->frontier[f], &cost)
                                                     : plan_node(&pr, pl->frontier[f], -1)) == 0;
            lists[f] = pr.out;
        }
        if (!ok) {
#pragma omp atomic write
            fail = 1;
        }
        free(pr.tmp);
        free(pr.scratch.v);
    }
    size_t total = 0;
    for (size_t f = 0; lists && f < pl->n_frontier; f++) total += lists[f].n;
    if (!fail) {
        pl->all.b = malloc((total ? total : 1) * sizeof *pl->all.b);
        pl->all.ctr = malloc((total ? total : 1) * d * sizeof *pl->all.ctr);
        fail = !pl->all.b || !pl->all.ctr;
    }
    for (size_t f = 0; lists && f < pl->n_frontier; f++) {
        if (!fail) {
            memcpy(pl->all.b + pl->all.n, lists[f].b, lists[f].n * sizeof *pl->all.b);
            memcpy(pl->all.ctr + pl->all.n * d, lists[f].ctr, lists[f].n * d * sizeof(double));
            pl->all.n += lists[f].n;
        }
        free(lists[f].b);
        free(lists[f].ctr);
    }
    free(lists);
    return fail ? IFLOW_ENOMEM : 0;
}

/* The blocks of the plan for splitting over MPI ranks: block b holds the query centres
 * perm[qpos[q0 .. q1)], and the blocks tile qpos in order. */
static int share_blocks(mc_ctx *cx, const plan *pl, size_t nqc) {
    cx->n_blk = pl->all.n;
    cx->blk_start = malloc((pl->all.n + 1) * sizeof *cx->blk_start);
    cx->blk_order = malloc((nqc ? nqc : 1) * sizeof *cx->blk_order);
    if (!cx->blk_start || !cx->blk_order) return IFLOW_ENOMEM;
    for (size_t b = 0; b < pl->all.n; b++) {
        assert(pl->all.b[b].q0 == (b ? pl->all.b[b - 1].q1 : 0));
        cx->blk_start[b] = pl->all.b[b].q0;
    }
    cx->blk_start[pl->all.n] = pl->all.n ? pl->all.b[pl->all.n - 1].q1 : 0;
    for (size_t u = 0; u < cx->blk_start[pl->all.n]; u++)
        cx->blk_order[u] = cx->tree->perm[pl->qpos[u]];
    return 0;
}

/* Fills st for the plan (the same on every rank and thread count). */
static int measure_plan(const mc_ctx *cx, const plan *pl, size_t nqc, iflow_mix_plan_stats *st) {
    const iflow_kdtree *t = cx->tree;
    size_t d = t->d;
    iflow_kd_list hits = {0};
    double *ctr = malloc(d * sizeof *ctr), c = ctr ? 0 : -1;
    *st = (iflow_mix_plan_stats){(double)pl->all.n, 0, 0};
    for (size_t b = 0; c >= 0 && b < pl->all.n; b++) {
        c = ball_centres(t, pl->all.ctr + b * d, pl->all.b[b].r2, &hits);
        st->pairs += padded_draws(cx, pl->all.b[b].q1 - pl->all.b[b].q0) * c;
    }
    for (size_t u = 0; c >= 0 && u < nqc; u++) {
        size_t pos = pl->qpos[u];
        double r = pl->rad[t->perm[pos]];
        for (size_t e = 0; e < d; e++) ctr[e] = t->x[e * t->n + pos];
        c = ball_centres(t, ctr, r * r * (1.0 + 1e-10), &hits);
        st->own_ball_pairs += (double)cx->p->k * c;
    }
    free(ctr);
    free(hits.v);
    return c < 0 ? IFLOW_ENOMEM : 0;
}

/* The radius of every query centre, a plan of blocks, then per block one
 * ball query for ranges of the tree and the same kernel on them. In an MPI job every rank
 * makes the same plan and computes the blocks it owns (round-robin). */
static int run_blocks(mc_ctx *cx, iflow_mix_stats *stats) {
    const iflow_mix_mc *p = cx->p;
    size_t nqc = p->n_query ? p->n_query : p->n;
    double *rad = malloc((nqc ? nqc : 1) * sizeof *rad);
    if (!rad) return IFLOW_ENOMEM;
    int fail = 0;
#pragma omp parallel num_threads(iflow_mix_threads(p->threads))
    {
        workspace w;
        int ok = iflow_mix_ws_init(&w, p->k, p->d) == 0;
#pragma omp for schedule(static)
        for (size_t i = 0; i < nqc; i++) {
            if (!ok) continue;
            if (cx->hlv) {
                iflow_mixh_draw(cx, NULL, i, i + 1, &w);
                rad[i] = iflow_mixh_radius(cx, i, w.t);
            } else {
                iflow_mix_draw(cx, NULL, i, i + 1, &w);
                rad[i] = truncation_radius(cx, i, w.t);
            }
        }
        if (!ok) {
#pragma omp atomic write
            fail = 1;
        }
        iflow_mix_ws_free(&w);
    }
    plan pl;
    if (!fail)
        fail = plan_build(&pl, cx, rad, nqc) != 0;
    else
        memset(&pl, 0, sizeof pl);
    if (!fail) fail = share_blocks(cx, &pl, nqc) != 0;
    size_t rank = (size_t)iflow_dist_rank(), size = (size_t)iflow_dist_size();
    size_t mine = !fail && pl.all.n > rank ? (pl.all.n - rank + size - 1) / size : 0;
    if (!fail && p->plan_stats) fail = measure_plan(cx, &pl, nqc, p->plan_stats) != 0;
#pragma omp parallel num_threads(iflow_mix_threads(p->threads)) if (!fail)
    {
        workspace w = {0};
        size_t *idx = fail ? NULL : malloc(pl.per_block * sizeof *idx);
        int ok = !fail && idx && iflow_mix_ws_init(&w, pl.per_block * p->k, p->d) == 0;
#pragma omp for schedule(dynamic)
        for (size_t bb = 0; bb < mine; bb++) {
            if (!ok) continue;
            size_t b = rank + bb * size;
            const tblock *bl = &pl.all.b[b];
            size_t nc = bl->q1 - bl->q0, n_runs = 0;
            for (size_t u = 0; u < nc; u++) idx[u] = cx->tree->perm[pl.qpos[bl->q0 + u]];
            size_t nq =
                cx->hlv ? iflow_mixh_draw(cx, idx, 0, nc, &w) : iflow_mix_draw(cx, idx, 0, nc, &w);
            w.hits.n = 0;
            ok = iflow_kdtree_ball_ranges(cx->tree, pl.all.ctr + b * p->d, bl->r2, &w.hits) == 0 &&
                 range_runs(cx, &w, &n_runs) == 0;
            if (!ok) continue;
            if (cx->hlv) {
                iflow_mixh_shift_fallback(cx, w.runs, n_runs, &w, nq);
                iflow_mixh_sweep(cx, w.runs, n_runs, &w, nq);
            } else {
                iflow_mix_shift_fallback(cx, w.runs, n_runs, &w, nq);
                iflow_mix_sweep(cx, w.runs, n_runs, &w, nq);
            }
            iflow_mix_finish(cx, &w, idx, 0, nc, stats);
            iflow_mix_tick(p, mine);
        }
        if (!ok) {
#pragma omp atomic write
            fail = 1;
        }
        iflow_mix_ws_free(&w);
        free(idx);
    }
    plan_free(&pl);
    free(rad);
    return fail ? IFLOW_ENOMEM : 0;
}

/* Builds the k-d tree and the per-centre arrays in tree order. */
static int setup_tree(mc_ctx *cx) {
    const iflow_mix_mc *p = cx->p;
    cx->tree = iflow_kdtree_new_threads(p->s, p->n, p->d, 32, iflow_mix_threads(p->threads));
    cx->tlw = iflow_mix_alloc_aligned(p->n);
    cx->tga = p->ga ? iflow_mix_alloc_aligned(p->n) : NULL;
    cx->tgb = p->gb ? iflow_mix_alloc_aligned(p->n) : NULL;
    if (!cx->tree || !cx->tlw || (p->ga && !cx->tga) || (p->gb && !cx->tgb)) return IFLOW_ENOMEM;
    if (cx->hlv && !(cx->tw = iflow_mixh_tree_coefs(cx, cx->tree->perm))) return IFLOW_ENOMEM;
    for (size_t pos = 0; pos < p->n; pos++) {
        size_t i = cx->tree->perm[pos];
        cx->tlw[pos] = cx->hlv ? cx->hlv[i] : p->lw ? p->lw[i] : 0.0;
        if (p->ga) cx->tga[pos] = p->ga[i];
        if (p->gb) cx->tgb[pos] = p->gb[i];
    }
    return 0;
}

int iflow_mix_run_truncated(mc_ctx *cx, iflow_mix_stats *stats) {
    int rc = setup_tree(cx);
    if (rc == 0) rc = run_blocks(cx, stats);
    iflow_kdtree_free(cx->tree);
    free(cx->tlw);
    free(cx->tga);
    free(cx->tgb);
    cx->tree = NULL;
    cx->tlw = cx->tga = cx->tgb = NULL;
    return rc;
}
