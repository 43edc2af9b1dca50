/* infoflow mi: not written yet. */
#include <stdio.h>

#include "commands.h"

int cmd_mi(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "infoflow mi: not available in this build yet\n");
    return 1;
}
