/* Progress with elapsed time and ETA: a refreshing line on a terminal, plain lines off one. */
#include "progress.h"

#include <stdio.h>
#include <unistd.h>
#include "dist.h"
#include "io.h"

static void clear(cli_progress *p) {
    if (p->drawn) fprintf(stderr, "\r\033[K");
    p->drawn = 0;
}

void cli_progress_init(cli_progress *p, int quiet) {
    p->tty = isatty(STDERR_FILENO) && !quiet;
    p->quiet = quiet;
    p->start = iflow_now_seconds();
    p->last_draw = p->start;
    p->drawn = 0;
    p->last_tenth = 0;
    p->quiet_start = CLI_PROGRESS_EVERY;
}

static void format_duration(double s, char *buf, size_t n) {
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, n, "%lds", t);
}

void cli_progress_update(void *user, const char *stage, double fraction) {
    cli_progress *p = user;
    if (p->quiet) return;
    double t = iflow_now_seconds();
    int tenth = (int)(10 * fraction);
    if (p->tty) {
        if (t - p->last_draw < 0.1 && fraction < 1) return; /* at most 10 redraws a second */
    } else if (t - p->start < p->quiet_start ||
               (t - p->last_draw < CLI_PROGRESS_EVERY && tenth <= p->last_tenth)) {
        return;
    }
    p->last_draw = t;
    p->last_tenth = tenth;
    char elapsed[32], eta[32] = "?";
    format_duration(t - p->start, elapsed, sizeof elapsed);
    if (fraction > 0.001)
        format_duration((t - p->start) * (1 - fraction) / fraction, eta, sizeof eta);
    /* Rounded down: 100% only when all is done. */
    fprintf(stderr, "%s%s  [%3d%%  %s elapsed, ETA %s]%s", p->tty ? "\r\033[K" : "", stage,
            (int)(100 * fraction), elapsed, eta, p->tty ? "" : "\n");
    fflush(stderr);
    p->drawn = p->tty;
}

void cli_progress_message(void *user, const char *line) {
    cli_progress *p = user;
    if (p->quiet) return;
    clear(p);
    if (iflow_dist_world_size() > 1) /* whose line it is, among the ranks' */
        fprintf(stderr, "[rank %d] ", iflow_dist_world_rank());
    fprintf(stderr, "%s\n", line);
}

void cli_progress_done(cli_progress *p) { clear(p); }
