/* Shared by the libFuzzer harnesses: the loaders take paths, so each input is written to a file
 * in one private temporary directory (created on first use, under /dev/shm when it exists). */
#ifndef IFLOW_FUZZ_UTIL_H
#define IFLOW_FUZZ_UTIL_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir[64];

/* At exit: the directory holds only files the harness wrote. */
static void fuzz_remove_tmpdir(void) {
    DIR *d = opendir(fuzz_dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        char path[400];
        snprintf(path, sizeof path, "%s/%s", fuzz_dir, e->d_name);
        if (e->d_name[0] != '.' || e->d_name[1] > '.') remove(path);
    }
    closedir(d);
    rmdir(fuzz_dir);
}

static const char *fuzz_tmpdir(void) {
    if (!fuzz_dir[0]) {
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/iflow-fuzz-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(fuzz_dir)) abort();
        atexit(fuzz_remove_tmpdir);
    }
    return fuzz_dir;
}

/* Writes data to <tmpdir>/name and puts that path in path (size 256). */
static void fuzz_write(const char *name, const uint8_t *data, size_t size, char *path) {
    snprintf(path, 256, "%s/%s", fuzz_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) abort();
}

/* An error message must be a non-empty, terminated string naming something: a loader that fails
 * without saying why is a bug too. */
static void fuzz_check_message(int rc, const char *msg) {
    if (rc != 0 && (msg[0] == '\0' || strlen(msg) >= 1024)) abort();
}

#endif
