/* Progress on stderr: a refreshing line on a terminal; off a terminal (a log file, nohup, Slurm,
 * a pipe) a plain line every tenth of the work or every 30 s. */
#ifndef IFLOW_CLI_PROGRESS_H
#define IFLOW_CLI_PROGRESS_H

/* Off a terminal, seconds between two lines at most (a line also at every tenth of the work). */
#define CLI_PROGRESS_EVERY 30.0

typedef struct cli_progress {
    int tty;      /* a refreshing line on a terminal */
    int quiet;    /* nothing at all */
    double start; /* monotonic seconds */
    double last_draw;
    int drawn;      /* a progress line is on screen (terminal) */
    int last_tenth; /* off a terminal: the tenth of the work of the last line */
    /* Off a terminal, no line before this many seconds: a short command prints nothing (the
     * estimator commands wait CLI_PROGRESS_EVERY; a run prints from the start). */
    double quiet_start;
} cli_progress;

/* quiet: no progress and no messages. Off a terminal the first line waits quiet_start
 * seconds (CLI_PROGRESS_EVERY unless changed). */
void cli_progress_init(cli_progress *p, int quiet);
/* iflow_progress_fn: "stage" with a completion fraction in [0, 1] (ETA from the elapsed time). */
void cli_progress_update(void *user, const char *stage, double fraction);
/* Prints a message line (clearing the progress line first). */
void cli_progress_message(void *user, const char *line);
/* Clears the progress line. */
void cli_progress_done(cli_progress *p);

#endif
