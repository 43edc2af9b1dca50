#!/usr/bin/env python3
"""Compression as clustering: over each layer's compression phase, the correlation of I(X;T_l)
with each clustering measure, read from a run's committed mi.csv and clustering.csv.

Usage: compression_clustering.py [--spread] RUN_DIR [RUN_DIR ...]

Compression phase of layer l (defined from the data): the measured epochs from the epoch at which
I(X;T_l) is largest to the last epoch that has both I(X;T_l) and the clustering measures. Only
epochs present in both files count. For every layer the table gives the phase, its number of
epochs n, the drop dI = I(X;T_l) at the maximum minus at the last epoch with its standard error
(the two epochs' I_XT_se combined as independent: the total se in the v3 layout of mi.csv, the
Monte Carlo se in older ones), then Pearson's r (and Spearman's rho in
brackets) of I(X;T_l) with cos_within, cos_between, the gap cos_within - cos_between, the
silhouette and the k-NN label agreement. Runs with sliced SP (I_XT_sliced in mi.csv) get a second
block with that column as I(X;T_l). A layer whose drop dI is within two standard errors or
below 0.01 nats does not compress: 'no drop' is printed instead of correlations. A correlation is printed only when n >= 4 and neither series
is constant ('n<4' or 'const' otherwise): with three points any two monotone series correlate
near +-1. The correlations describe co-movement over the phase, not a cause, and carry no error
bar: n is printed beside them as the only guide to their weight. With --spread (for the seeds
of one experiment), a last table gives each Pearson r's mean and sample sd over the runs that have
one: the seed spread. Standard library only.
"""
import csv
import math
import os
import sys

MEASURES = ["cos_within", "cos_between", "gap", "silhouette", "knn_agreement"]
MIN_POINTS = 4
MIN_DROP = 0.01  # nats


def read_rows(path):
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError as e:
        sys.exit(f"compression_clustering: cannot read {path}: {e.strerror}")


def number(row, key, path):
    v = row.get(key)
    if v is None:
        sys.exit(f"compression_clustering: {path} has no column '{key}'")
    if v == "":
        return None
    try:
        x = float(v)
    except ValueError:
        sys.exit(f"compression_clustering: {path}: '{key}' = '{v}' is not a number")
    if not math.isfinite(x):
        sys.exit(f"compression_clustering: {path}: '{key}' = '{v}' is not finite")
    return x


def standard_error(v):
    """An *_se cell: None when absent, empty or not a finite number (the v3 layout writes the
    total se as n/a when it cannot be estimated); then only the 0.01-nat floor applies."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def pearson(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def ranks(x):
    order = sorted(range(len(x)), key=lambda i: x[i])
    r = [0.0] * len(x)
    i = 0
    while i < len(order):  # ties share their mean rank
        j = i
        while j + 1 < len(order) and x[order[j + 1]] == x[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2
        i = j + 1
    return r


def corr_text(x, y):
    if len(x) < MIN_POINTS:
        return "n<4"
    r = pearson(x, y)
    if r is None:
        return "const"
    rho = pearson(ranks(x), ranks(y))
    return f"{r:+.2f} ({rho:+.2f})" if rho is not None else f"{r:+.2f} (const)"


def table(run, mi_rows, cl, column, mi_path, pooled):
    layers = sorted({int(r["layer"]) for r in mi_rows})
    print(f"{run}: I(X;T_l) = {column}")
    head = f"{'layer':>5} {'phase':>12} {'n':>3} {'dI':>8} {'se(dI)':>8}"
    print(head + "".join(f" {m:>15}" for m in MEASURES))
    for layer in layers:
        pts = []
        for r in mi_rows:
            if int(r["layer"]) != layer:
                continue
            e = int(r["epoch"])
            i = number(r, column, mi_path)
            se_col = column + "_se"
            se = standard_error(r.get(se_col))
            if i is not None and (e, layer) in cl:
                pts.append((e, i, se))
        if not pts:
            print(f"{layer:>5} {'no data':>12}")
            continue
        pts.sort()
        top = max(range(len(pts)), key=lambda k: pts[k][1])
        phase = pts[top:]
        d = phase[0][1] - phase[-1][1]
        ses = [p[2] for p in (phase[0], phase[-1])]
        se = "" if None in ses else f"{math.hypot(*ses):8.3f}"
        line = f"{layer:>5} {f'{phase[0][0]}-{phase[-1][0]}':>12} {len(phase):>3} {d:8.3f} {se:>8}"
        xs = [p[1] for p in phase]
        sed = math.hypot(*ses) if None not in ses else 0.0
        for m in MEASURES:
            ys = [cl[(p[0], layer)][m] for p in phase]
            # a drop within two standard errors or below MIN_DROP is no compression: the
            # correlation would be one of estimator noise (or of a negligible drift) with clustering
            text = "no drop" if d <= max(2 * sed, MIN_DROP) else corr_text(xs, ys)
            if text[0] in "+-":
                pooled.setdefault((column, layer, m), []).append(pearson(xs, ys))
            line += f" {text:>15}"
        print(line)
    print()


def main(argv):
    if len(argv) > 1 and argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    spread = len(argv) > 1 and argv[1] == "--spread"
    runs = argv[2:] if spread else argv[1:]
    if not runs or any(r.startswith("-") for r in runs):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    for run in runs:  # every path checked before anything is printed
        for name in ("mi.csv", "clustering.csv"):
            if not os.path.isfile(os.path.join(run, name)):
                sys.exit(f"compression_clustering: {os.path.join(run, name)} not found")
    print("Pearson r (Spearman rho) of I(X;T_l) with each clustering measure over the compression")
    print("phase (epoch of max I(X;T_l) to last epoch); gap = cos_within - cos_between;")
    print(f"n<4: fewer than {MIN_POINTS} epochs in the phase; dI: I at the max minus I at the last epoch (nats);")
    print("no drop: dI <= 2 se(dI) or dI <= 0.01 nats, the layer does not compress")
    print()
    pooled = {}
    for run in runs:
        mi_path = os.path.join(run, "mi.csv")
        cl_path = os.path.join(run, "clustering.csv")
        mi_rows = read_rows(mi_path)
        cl = {}
        for r in read_rows(cl_path):
            v = {m: number(r, m, cl_path) for m in MEASURES if m != "gap"}
            if None in v.values():
                continue
            v["gap"] = v["cos_within"] - v["cos_between"]
            cl[(int(r["epoch"]), int(r["layer"]))] = v
        if not mi_rows or "I_XT" not in mi_rows[0]:
            sys.exit(f"compression_clustering: {mi_path} has no I_XT column")
        if all(r["I_XT"] == "" for r in mi_rows):
            print(f"{run}: no I(X;T) measured (deterministic net)\n")
            continue
        table(run, mi_rows, cl, "I_XT", mi_path, pooled)
        if "I_XT_sliced" in mi_rows[0]:
            table(run, mi_rows, cl, "I_XT_sliced", mi_path, pooled)
    if spread and pooled:
        summary(pooled, len(runs))
    return 0


def summary(pooled, runs):
    print(f"Pearson r over the {runs} runs above: mean +- sample sd over the runs (count) that have one")
    print(f"{'column':>12} {'layer':>5}" + "".join(f" {m:>20}" for m in MEASURES))
    for column, layer in sorted({(c, l) for c, l, _ in pooled}):
        line = f"{column:>12} {layer:>5}"
        for m in MEASURES:
            rs = pooled.get((column, layer, m), [])
            if len(rs) >= 2:
                mean = sum(rs) / len(rs)
                sd = math.sqrt(sum((r - mean) ** 2 for r in rs) / (len(rs) - 1))
                line += f" {f'{mean:+.2f} +- {sd:.2f} ({len(rs)})':>20}"
            else:
                line += f" {f'{rs[0]:+.2f} (1)' if rs else '-':>20}"
        print(line)
    print()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
