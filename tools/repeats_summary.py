#!/usr/bin/env python3
"""Summary table of runs over seeds ([output] repeats): for each run directory, the clean
(noiseless) accuracy at the last epoch and, per layer, I(X;T_l) at the peak of the mean curve and
at the last epoch, read from the mi-mean.csv and metrics-mean.csv that `infoflow run` writes.

Usage: repeats_summary.py RUN_DIR [RUN_DIR ...]

Every +- is the sample sd over the seeds (the seed-to-seed spread, `runs` of them), not a
standard error of the mean. "peak" is the epoch at which the mean over seeds of I(X;T_l) is
largest, and "drop" the mean curve's fall from there to the last epoch: a layer compresses in
the mean when its drop exceeds the sd of its end value. Standard library only.
"""
import csv
import os
import sys


def read(path):
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        sys.exit(f"repeats_summary: cannot read {path}: {e.strerror}")
    if not rows:
        sys.exit(f"repeats_summary: {path} has no rows")
    return rows


def num(row, key, path):
    try:
        return float(row[key])
    except KeyError:
        sys.exit(f"repeats_summary: {path} has no column '{key}'")
    except ValueError:
        sys.exit(f"repeats_summary: {path}: '{key}' = '{row[key]}' is not a number")


def main(argv):
    if len(argv) < 2 or argv[1].startswith("-"):
        print(__doc__ if argv[1:] in (["-h"], ["--help"]) else __doc__.split("\n\n")[1],
              file=sys.stdout if argv[1:] in (["-h"], ["--help"]) else sys.stderr)
        return 0 if argv[1:] in (["-h"], ["--help"]) else 2
    for run in argv[1:]:
        for name in ("mi-mean.csv", "metrics-mean.csv"):
            if not os.path.isfile(os.path.join(run, name)):
                sys.exit(f"repeats_summary: {os.path.join(run, name)} not found")
    print(f"{'run':<28} {'seeds':>5} {'epoch':>6} {'train acc':>17} {'test acc':>17}")
    for run in argv[1:]:
        path = os.path.join(run, "metrics-mean.csv")
        last = read(path)[-1]
        tr = f"{num(last, 'train_acc_clean_mean', path):.4f} +- {num(last, 'train_acc_clean_sd', path):.4f}"
        te = f"{num(last, 'test_acc_clean_mean', path):.4f} +- {num(last, 'test_acc_clean_sd', path):.4f}"
        print(f"{os.path.basename(os.path.normpath(run)):<28} {int(num(last, 'runs', path)):>5} "
              f"{int(num(last, 'epoch', path)):>6} {tr:>17} {te:>17}")
    print()
    print(f"{'run':<28} {'layer':>5} {'peak epoch':>10} {'I at peak':>16} {'I at end':>16} {'drop':>7}")
    for run in argv[1:]:
        path = os.path.join(run, "mi-mean.csv")
        rows = read(path)
        for layer in sorted({int(r["layer"]) for r in rows}):
            lr = [r for r in rows if int(r["layer"]) == layer and r["I_XT_mean"] != ""]
            if not lr:
                continue
            lr.sort(key=lambda r: int(r["epoch"]))
            peak = max(lr, key=lambda r: num(r, "I_XT_mean", path))
            end = lr[-1]
            p, e = num(peak, "I_XT_mean", path), num(end, "I_XT_mean", path)
            ps, es = num(peak, "I_XT_sd", path), num(end, "I_XT_sd", path)
            print(f"{os.path.basename(os.path.normpath(run)):<28} {layer:>5} {int(peak['epoch']):>10} "
                  f"{f'{p:.3f} +- {ps:.3f}':>16} {f'{e:.3f} +- {es:.3f}':>16} {p - e:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
