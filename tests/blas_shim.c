/* Preloaded into the CLI by test_blas: an OpenBLAS that says it runs its generic Prescott core
 * unless OPENBLAS_CORETYPE names one, as Debian 12's does on CPUs newer than itself. */
#include <stdlib.h>

char *openblas_get_corename(void);

char *openblas_get_corename(void) {
    char *chosen = getenv("OPENBLAS_CORETYPE");
    return chosen ? chosen : "Prescott";
}
