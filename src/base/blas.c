/* OpenBLAS thread count, scoped (blas.h). */
#include "blas.h"

/* Not declared by every cblas.h. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

int iflow_blas_serial_begin(void) {
    int previous = openblas_get_num_threads();
    if (previous != 1) openblas_set_num_threads(1);
    return previous;
}

void iflow_blas_serial_end(int previous) {
    if (previous != 1 && previous > 0) openblas_set_num_threads(previous);
}
