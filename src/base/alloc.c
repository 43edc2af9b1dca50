/* Checked array allocation: overflow and plausibility of n * size before malloc. */
#include "alloc.h"

#include <stdlib.h>

int iflow_check_array(size_t n, size_t size, const char *what, iflow_error *err) {
    size_t bytes;
    if (iflow_size_mul(n, size, &bytes) || bytes > IFLOW_ALLOC_MAX)
        return iflow_error_set(err, IFLOW_EINVAL,
                               "%s: %zu entries of %zu bytes is too large to allocate", what, n,
                               size);
    return 0;
}

void *iflow_alloc_array(size_t n, size_t size, const char *what, iflow_error *err) {
    if (iflow_check_array(n, size, what, err)) return NULL;
    void *p = malloc(n && size ? n * size : 1);
    if (!p)
        iflow_error_set(err, IFLOW_ENOMEM, "%s: out of memory for %zu entries of %zu bytes", what,
                        n, size);
    return p;
}
