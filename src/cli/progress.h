/* A one-line progress display on a terminal (stderr), silent otherwise. */
#ifndef IFLOW_CLI_PROGRESS_H
#define IFLOW_CLI_PROGRESS_H

typedef struct cli_progress {
    int tty;      /* draw only on a terminal */
    int quiet;    /* no messages either */
    double start; /* monotonic seconds */
    double last_draw;
    int drawn; /* a progress line is on screen */
} cli_progress;

void cli_progress_init(cli_progress *p, int quiet);
/* iflow_progress_fn: "stage" with a completion fraction in [0, 1] (ETA from the elapsed time). */
void cli_progress_update(void *user, const char *stage, double fraction);
/* Prints a message line (clearing the progress line first). */
void cli_progress_message(void *user, const char *line);
/* Clears the progress line. */
void cli_progress_done(cli_progress *p);

#endif
