/* Atomic file writes and directory helpers. */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int iflow_atomic_open(iflow_atomic *a, const char *path, iflow_error *err) {
    a->f = NULL;
    if (snprintf(a->path, sizeof a->path, "%s", path) >= (int)sizeof a->path ||
        snprintf(a->tmp, sizeof a->tmp, "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof a->tmp)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: path too long", path);
    a->f = fopen(a->tmp, "wb");
    if (!a->f)
        return iflow_error_set(err, IFLOW_EIO, "%s: cannot write: %s", a->tmp, strerror(errno));
    return 0;
}

int iflow_atomic_commit(iflow_atomic *a, iflow_error *err) {
    int bad = ferror(a->f) || fflush(a->f) != 0 || fsync(fileno(a->f)) != 0;
    int saved = errno;
    if (fclose(a->f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    a->f = NULL;
    if (bad) {
        remove(a->tmp);
        return iflow_error_set(err, IFLOW_EIO, "%s: write failed: %s", a->path,
                               strerror(saved ? saved : EIO));
    }
    if (rename(a->tmp, a->path) != 0) {
        saved = errno;
        remove(a->tmp);
        return iflow_error_set(err, IFLOW_EIO, "%s: cannot rename from %s: %s", a->path, a->tmp,
                               strerror(saved));
    }
    return 0;
}

void iflow_atomic_abort(iflow_atomic *a) {
    if (a->f) fclose(a->f);
    a->f = NULL;
    remove(a->tmp);
}

int iflow_mkdirs(const char *path, iflow_error *err) {
    char buf[1100];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return iflow_error_set(err, IFLOW_EINVAL, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return iflow_error_set(err, IFLOW_EIO, "%s: cannot create directory: %s", buf,
                                   strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return iflow_error_set(err, IFLOW_EIO, "%s: cannot create directory: %s", buf,
                               strerror(errno));
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return iflow_error_set(err, IFLOW_EIO, "%s: not a directory", buf);
    return 0;
}

int iflow_path_join(char *out, size_t n, const char *dir, const char *name, iflow_error *err) {
    int len = (dir && *dir) ? snprintf(out, n, "%s/%s", dir, name) : snprintf(out, n, "%s", name);
    if (len < 0 || (size_t)len >= n)
        return iflow_error_set(err, IFLOW_EINVAL, "%s/%s: path too long", dir, name);
    return 0;
}

double iflow_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

FILE *iflow_open_read(const char *path, int *regular, iflow_error *err) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        iflow_error_set(err, IFLOW_EIO, "%s: cannot open: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    *regular = S_ISREG(st.st_mode);
    int flags = fcntl(fd, F_GETFL);
    FILE *f = flags >= 0 && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        iflow_error_set(err, IFLOW_EIO, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

uint64_t iflow_fnv1a64(uint64_t h, const char *s) {
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

int iflow_fnv1a64_file(const char *path, uint64_t *out) {
    int regular = 0;
    FILE *f = path[0] ? iflow_open_read(path, &regular, NULL) : NULL;
    if (f && !regular) fclose(f);
    if (!f || !regular) return -1;
    uint64_t h = IFLOW_FNV1A64_INIT;
    unsigned char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < got; i++) h = (h ^ buf[i]) * 1099511628211ULL;
    int bad = ferror(f);
    fclose(f);
    if (bad) return -1;
    *out = h;
    return 0;
}
