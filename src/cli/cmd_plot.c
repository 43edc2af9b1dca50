/* infoflow plot: not written yet. */
#include <stdio.h>

#include "commands.h"

int cmd_plot(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "infoflow plot: not available in this build yet\n");
    return 1;
}
