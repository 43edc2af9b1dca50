/* dist: the thin layer between infoflow and MPI (see dist.h). With IFLOW_HAVE_MPI undefined,
 * or in a process no MPI launcher started, it is rank 0 of 1 and every call is a no-op. */
#include "dist.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef IFLOW_HAVE_MPI
#include <mpi.h>
#endif

/* Open MPI keeps allocations of MPI_Init and MPI_Finalize to the end of the process, many in
 * plug-ins it has unloaded by then (LeakSanitizer reports them as "<unknown module>", which no
 * suppression can name): in the sanitizer build those two calls are left out of leak checks. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LSAN_OFF() __lsan_disable()
#define LSAN_ON()  __lsan_enable()
#else
#define LSAN_OFF() ((void)0)
#define LSAN_ON()  ((void)0)
#endif

static struct {
    int inited;     /* MPI_Init was called */
    int rank, size; /* in MPI_COMM_WORLD */
    int solo;
    int shared_error; /* an agree found an error: every rank knows it */
    int shared_code;  /* and its code and message, returned by every later agree */
    char shared_msg[sizeof((iflow_error *)0)->msg];
    unsigned long long bytes;
    char task[160];
} g = {.size = 1};

int iflow_dist_rank(void) { return g.solo ? 0 : g.rank; }
int iflow_dist_size(void) { return g.solo ? 1 : g.size; }
int iflow_dist_world_rank(void) { return g.rank; }
int iflow_dist_world_size(void) { return g.size; }
unsigned long long iflow_dist_bytes_sent(void) { return g.bytes; }
int iflow_dist_error_shared(void) { return g.shared_error; }
const char *iflow_dist_task(void) { return g.task; }

int iflow_dist_solo(int on) {
    int was = g.solo;
    g.solo = on;
    return was;
}

int iflow_dist_owner(size_t u) { return (int)(u % (size_t)iflow_dist_size()); }

void iflow_dist_set_task(const char *fmt, ...) {
    char buf[sizeof g.task];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(g.task, buf, sizeof buf); /* whole: a signal handler may read it at any time */
}

/* Started by an MPI launcher: Open MPI's mpirun, a PMIx or PMI launcher (srun --mpi=pmix,
 * MPICH's hydra). IFLOW_MPI=1 forces MPI_Init, e.g. for a launcher not listed here. Without
 * one, MPI_Init would make a singleton job: slow to start and of no use. */
static int launched_by_mpi(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK",
                                       "IFLOW_MPI"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v && strcmp(v, "0") != 0) return 1;
    }
    return 0;
}

#ifdef IFLOW_HAVE_MPI

int iflow_dist_init(int *argc, char ***argv, iflow_error *err) {
    if (g.inited || !launched_by_mpi()) return 0;
    int provided = 0;
    LSAN_OFF();
    int mrc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    LSAN_ON();
    if (mrc != MPI_SUCCESS) return iflow_error_set(err, IFLOW_EIO, "MPI_Init_thread failed");
    g.inited = 1;
    /* Errors come back as codes (a lost rank is reported, not an abort inside MPI). */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g.size);
    return 0;
}

void iflow_dist_finalize(int rc) {
    if (!g.inited) return;
    g.inited = 0;
    if (rc != 0 && g.size > 1 && !g.shared_error) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, rc > 0 ? rc : 1);
    }
    LSAN_OFF();
    MPI_Finalize();
    LSAN_ON();
}

static int mpi_fail(int mrc, const char *what, iflow_error *err) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(mrc, msg, &len);
    return iflow_error_set(err, IFLOW_EIO, "rank %d of %d: %s failed: %s", g.rank, g.size, what,
                           msg);
}

/* Waits for a collective call to complete without burning the core: MPI's blocking calls poll
 * until the other ranks arrive, which costs a whole core on a rank waiting for another that
 * computes or writes (rank 0 recording an estimate's results, training's evaluation: up to
 * seconds), taking it from the ranks or threads that have work on a shared machine. So: a
 * short spin (ranks arriving together: the common case inside an estimator), then naps
 * growing from 20 us to 1 ms, testing between them; the late rank itself, arriving last, does
 * not wait. */
static int wait_gently(MPI_Request *req) {
    double t0 = MPI_Wtime();
    long nap_ns = 0;
    for (;;) {
        int done = 0, mrc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (mrc != MPI_SUCCESS || done) return mrc;
        if (MPI_Wtime() - t0 < 200e-6) continue;
        nap_ns = nap_ns ? (nap_ns < 500000 ? 2 * nap_ns : 1000000) : 20000;
        struct timespec ts = {0, nap_ns};
        nanosleep(&ts, NULL);
    }
}

int iflow_dist_agree(int rc, iflow_error *err) {
    if (iflow_dist_size() == 1) return rc;
    /* Every rank learnt of the error in the same call: from then on none of them communicates,
     * so a rank that meets another agree on its way out does not wait for the others. */
    if (g.shared_error) return iflow_error_set(err, g.shared_code, "%s", g.shared_msg);
    int me = rc ? g.rank : g.size, first = g.size;
    MPI_Request req;
    int mrc = MPI_Iallreduce(&me, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &req);
    if (mrc == MPI_SUCCESS) mrc = wait_gently(&req);
    if (mrc != MPI_SUCCESS) return mpi_fail(mrc, "MPI_Iallreduce", err);
    if (first == g.size) return 0;
    struct {
        int code;
        char msg[sizeof err->msg];
    } m = {rc, ""};
    if (g.rank == first) snprintf(m.msg, sizeof m.msg, "%s", err ? err->msg : "error");
    mrc = MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, first, MPI_COMM_WORLD);
    if (mrc != MPI_SUCCESS) return mpi_fail(mrc, "MPI_Bcast", err);
    g.shared_error = 1;
    g.shared_code = m.code;
    snprintf(g.shared_msg, sizeof g.shared_msg, "rank %d: %.1000s", first, m.msg);
    return iflow_error_set(err, m.code, "%s", g.shared_msg);
}

int iflow_dist_bcast(void *buf, size_t bytes, iflow_error *err) {
    if (iflow_dist_size() == 1) return 0;
    if (bytes > (size_t)INT_MAX)
        return iflow_error_set(err, IFLOW_EINVAL, "%zu bytes exceed one MPI message", bytes);
    int mrc = MPI_Bcast(buf, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (mrc != MPI_SUCCESS) return mpi_fail(mrc, "MPI_Bcast", err);
    if (g.rank == 0) g.bytes += (unsigned long long)bytes * (unsigned)(g.size - 1);
    return 0;
}

/* MPI counts are ints: counts[] and their displacements, checked. */
static int int_counts(const size_t *counts, size_t unit, int *cnt, int *disp, iflow_error *err) {
    size_t off = 0;
    for (int r = 0; r < g.size; r++) {
        if (counts[r] > (size_t)INT_MAX / unit || off > (size_t)INT_MAX)
            return iflow_error_set(err, IFLOW_EINVAL, "rank %d: %zu items exceed one MPI message",
                                   r, counts[r]);
        cnt[r] = (int)counts[r];
        disp[r] = (int)off;
        off += counts[r];
    }
    return 0;
}

int iflow_dist_allgather(const double *mine, const size_t *counts, double *all, iflow_error *err) {
    if (iflow_dist_size() == 1) {
        memmove(all, mine, counts[0] * sizeof *all);
        return 0;
    }
    int *cnt = malloc(2 * (size_t)g.size * sizeof *cnt);
    if (!cnt) return iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    int rc = int_counts(counts, sizeof(double), cnt, cnt + g.size, err);
    if (!rc) {
        /* MPI_IN_PLACE: each rank's block already sits at its displacement in all. */
        memmove(all + cnt[g.size + g.rank], mine, counts[g.rank] * sizeof *all);
        int mrc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all, cnt, cnt + g.size,
                                 MPI_DOUBLE, MPI_COMM_WORLD);
        if (mrc != MPI_SUCCESS) rc = mpi_fail(mrc, "MPI_Allgatherv", err);
        g.bytes += (unsigned long long)counts[g.rank] * sizeof(double) * (unsigned)(g.size - 1);
    }
    free(cnt);
    return rc;
}

int iflow_dist_gather(const void *mine, const size_t *counts, void *all, iflow_error *err) {
    if (iflow_dist_size() == 1) {
        if (all != mine) memmove(all, mine, counts[0]);
        return 0;
    }
    int *cnt = malloc(2 * (size_t)g.size * sizeof *cnt);
    if (!cnt) return iflow_error_set(err, IFLOW_ENOMEM, "out of memory");
    int rc = int_counts(counts, 1, cnt, cnt + g.size, err);
    if (!rc) {
        int mrc = MPI_Gatherv(mine, cnt[g.rank], MPI_BYTE, all, cnt, cnt + g.size, MPI_BYTE, 0,
                              MPI_COMM_WORLD);
        if (mrc != MPI_SUCCESS) rc = mpi_fail(mrc, "MPI_Gatherv", err);
        if (g.rank != 0) g.bytes += counts[g.rank];
    }
    free(cnt);
    return rc;
}

#else /* no MPI in the build: one process */

int iflow_dist_init(int *argc, char ***argv, iflow_error *err) {
    (void)argc;
    (void)argv;
    if (launched_by_mpi() && getenv("OMPI_COMM_WORLD_SIZE") &&
        strcmp(getenv("OMPI_COMM_WORLD_SIZE"), "1") != 0)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "started by mpirun with %s ranks, but this "
                               "infoflow was built without MPI (meson setup -Dmpi=enabled)",
                               getenv("OMPI_COMM_WORLD_SIZE"));
    return 0;
}

void iflow_dist_finalize(int rc) { (void)rc; }

int iflow_dist_agree(int rc, iflow_error *err) {
    (void)err;
    return rc;
}

int iflow_dist_bcast(void *buf, size_t bytes, iflow_error *err) {
    (void)buf;
    (void)bytes;
    (void)err;
    return 0;
}

int iflow_dist_allgather(const double *mine, const size_t *counts, double *all, iflow_error *err) {
    (void)err;
    memmove(all, mine, counts[0] * sizeof *all);
    return 0;
}

int iflow_dist_gather(const void *mine, const size_t *counts, void *all, iflow_error *err) {
    (void)err;
    if (all != mine) memmove(all, mine, counts[0]);
    return 0;
}

#endif
