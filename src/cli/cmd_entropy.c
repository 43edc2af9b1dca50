/* infoflow entropy: not written yet. */
#include <stdio.h>

#include "commands.h"

int cmd_entropy(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "infoflow entropy: not available in this build yet\n");
    return 1;
}
