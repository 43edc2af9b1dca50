/* infoflow run: not written yet. */
#include <stdio.h>

#include "commands.h"

int cmd_run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "infoflow run: not available in this build yet\n");
    return 1;
}
