/* The exact kernel for a compile-time d, included by mixture_kernel.c once per group size:
 * KF_NAME (the function), KF_NQ (queries per group), KF_QS(X) (X(q) for q = 0 .. KF_NQ - 1)
 * and KF_RED (the reduction variables s, pa, pb of every query) are defined by the includer.
 * The loop over centres j is the vectorised one (8 centres per AVX-512 register); the d-loop is
 * unrolled so the distances stay in registers; the exps of the group's queries are issued step
 * by step across the queries (EXPN). Every query's arithmetic and summation order are the same
 * whatever the group size: only how many run side by side changes. */
INLINE void KF_NAME(const centre_run *r, query_group *g, size_t d, int ng) {
    const double *x = r->x, *lw = r->lw, *ga = r->ga, *gb = r->gb;
    const size_t ld = r->ld, m = r->m;
    const double inv = g->inv;
    KF_QS(KF_LOCALS)
#pragma omp simd reduction(+ : KF_RED)
    for (size_t j = 0; j < m; j++) {
        KF_QS(KF_DIST0)
#pragma GCC unroll 16
        for (size_t k = 0; k < d; k++) {
            double xk = x[k * ld + j];
            KF_QS(KF_DIFF)
            KF_QS(KF_DIST)
        }
        double l = lw[j];
        KF_QS(KF_ARG)
        EXPN(KF_QS)
        KF_QS(KF_ACC)
    }
    KF_QS(KF_STORE)
}
