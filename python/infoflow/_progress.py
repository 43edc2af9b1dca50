"""Progress on stderr, as the command line shows it: a refreshing line on a terminal; off one
(a log file, nohup, Slurm, a pipe) a plain line at most every EVERY seconds, none before."""

import sys
import time

EVERY = 30.0  # seconds between two lines off a terminal (the first after as long)


def _duration(s):
    t = int(s + 0.5)
    if t >= 3600:
        return f"{t // 3600}h{t // 60 % 60:02d}m"
    if t >= 60:
        return f"{t // 60}m{t % 60:02d}s"
    return f"{t}s"


class Progress:
    """Shows `what: stage [pct, elapsed, ETA]`; the ETA extrapolates the units done so far.

    enabled: True (show), False (silent), None (True). stream: default sys.stderr.
    """

    def __init__(self, what, total, enabled=None, stream=None):
        self.what, self.total = what, max(int(total), 1)
        self.on = enabled is None or bool(enabled)
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.start = self.last = time.monotonic()
        self.drawn = False

    def update(self, done, stage):
        if not self.on:
            return
        now = time.monotonic()
        if self.tty:
            if now - self.last < 0.1 and done < self.total:
                return
        elif now - self.start < EVERY or now - self.last < EVERY:
            return
        self.last = now
        fraction = min(done / self.total, 1.0)
        elapsed = now - self.start
        eta = _duration(elapsed * (1 - fraction) / fraction) if fraction > 0 else "?"
        line = (f"{self.what}: {stage}  [{100 * fraction:3.0f}%  {_duration(elapsed)} elapsed, "
                f"ETA {eta}]")
        self.stream.write("\r\033[K" + line if self.tty else line + "\n")
        self.stream.flush()
        self.drawn = self.tty

    def close(self):
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.drawn = False
