/* libFuzzer harness: INI configs. Any input must load or fail with a message; a config that loads
 * and validates must write back to a file that loads to the same hash (config.h promises it), or
 * fail to write with a clear message. */
#include "fuzz_util.h"
#include "infoflow/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[256], out[256];
    fuzz_write("run.ini", data, size, path);
    iflow_config cfg, back;
    iflow_error err = {0};
    int rc = iflow_config_load(path, &cfg, &err);
    fuzz_check_message(rc, err.msg);
    if (rc) return 0;
    rc = iflow_config_validate(&cfg, &err);
    fuzz_check_message(rc, err.msg);
    if (rc) return 0;
    snprintf(out, sizeof out, "%s/written.ini", fuzz_tmpdir());
    rc = iflow_config_write(&cfg, out, &err);
    /* A relative path can outgrow an INI line once made absolute: a clear error is enough. */
    if (rc && !(rc == IFLOW_EINVAL && strstr(err.msg, "cannot be written as one INI line")))
        abort();
    if (rc) return 0;
    if (iflow_config_load(out, &back, &err) != 0) {
        fprintf(stderr, "written config does not load back: %s\n", err.msg);
        abort();
    }
    if (iflow_config_hash(&back) != iflow_config_hash(&cfg)) {
        fprintf(stderr, "written config loads back with another hash\n");
        abort();
    }
    return 0;
}
