/* infoflow estimate: not written yet. */
#include <stdio.h>

#include "commands.h"

int cmd_estimate(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "infoflow estimate: not available in this build yet\n");
    return 1;
}
