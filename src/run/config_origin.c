/* Errors met reading a config's data files, rewritten to name the config line they came from
 * and the directory a relative path was resolved against. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infoflow/config.h"

static const char *const path_keys[5] = {"file", "labels", "test_split", "test_file",
                                         "test_labels"};

static int path_index(const iflow_config *cfg, const char *field) {
    const char *fields[5] = {cfg->data_file, cfg->data_labels, cfg->test_split, cfg->test_file,
                             cfg->test_labels};
    for (int i = 0; i < 5; i++)
        if (field == fields[i]) return i;
    return -1;
}

/* The config file's directory, absolute when it can be resolved ("." for a bare name). */
static void config_dir(const iflow_config *cfg, char *out, size_t n) {
    char dir[IFLOW_PATH_MAX];
    const char *slash = strrchr(cfg->path, '/');
    if (slash)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - cfg->path + (slash == cfg->path)),
                 cfg->path);
    else
        snprintf(dir, sizeof dir, ".");
    char real[PATH_MAX];
    snprintf(out, n, "%s", realpath(dir, real) ? real : dir);
}

/* A run directory's config.ini: written by the run (absolute paths), config.hash beside it. */
static int is_run_config(const iflow_config *cfg) {
    const char *slash = strrchr(cfg->path, '/');
    const char *base = slash ? slash + 1 : cfg->path;
    if (strcmp(base, "config.ini") != 0) return 0;
    char hash[IFLOW_PATH_MAX + 16];
    snprintf(hash, sizeof hash, "%.*sconfig.hash", (int)(base - cfg->path), cfg->path);
    return access(hash, F_OK) == 0;
}

int iflow_config_blame_path(const iflow_config *cfg, const char *field, iflow_error *err) {
    int i = path_index(cfg, field);
    if (!err || !cfg->path[0] || i < 0) return err ? err->code : 0;
    char msg[sizeof err->msg], where[IFLOW_PATH_MAX + 48],
        hint[PATH_MAX + IFLOW_PATH_MAX + 160] = "";
    snprintf(msg, sizeof msg, "%s", err->msg);
    if (cfg->path_line[i])
        snprintf(where, sizeof where, "%s:%d", cfg->path, cfg->path_line[i]);
    else
        snprintf(where, sizeof where, "%s", cfg->path);
    int run = is_run_config(cfg);
    size_t len = 0;
    if (cfg->path_relative[i]) {
        char dir[PATH_MAX];
        config_dir(cfg, dir, sizeof dir);
        len = (size_t)snprintf(hint, sizeof hint, " (a relative path, resolved against the %s, %s)",
                               run ? "run directory" : "config's directory", dir);
    }
    if (run && len < sizeof hint)
        snprintf(hint + len, sizeof hint - len,
                 "; if the data moved, edit [data] %s in %s to where they are now (the run "
                 "checks the files by their contents)",
                 path_keys[i], cfg->path);
    return iflow_error_set(err, err->code, "%s: [data] %s: %s%s", where, path_keys[i], msg, hint);
}
