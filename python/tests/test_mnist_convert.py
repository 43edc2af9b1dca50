"""tools/mnist_convert.py on a small package of made-up digits: the split, the class
interleaving, the pixel bytes and the refusal of values that are not byte / 255."""

import gzip
import json
import struct
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

CONVERT = ROOT / "tools" / "mnist_convert.py"


def make_package(tmp_path, counts, rng):
    digits = tmp_path / "pkg" / "src" / "digits"
    digits.mkdir(parents=True)
    images = {}
    for d, n in enumerate(counts):
        raw = rng.integers(0, 256, size=(n, 784))
        images[d] = raw
        values = [round(int(b) / 255, 3) for b in raw.ravel()]
        (digits / f"{d}.json").write_text(json.dumps({"data": values}))
    return tmp_path / "pkg", images


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    if magic == 0x803:
        n, h, w = struct.unpack(">III", data[4:16])
        return np.frombuffer(data[16:], dtype=np.uint8).reshape(n, h * w)
    assert magic == 0x801
    (n,) = struct.unpack(">I", data[4:8])
    return np.frombuffer(data[8:], dtype=np.uint8)


def test_split_interleave_and_bytes(tmp_path):
    rng = np.random.default_rng(7)
    counts = [7, 5, 6, 5, 5, 5, 5, 5, 5, 11]
    pkg, images = make_package(tmp_path, counts, rng)
    out = tmp_path / "out"
    subprocess.run([sys.executable, CONVERT, pkg, out], check=True, capture_output=True)
    for name, is_test in (("train", False), ("t10k", True)):
        x = read_idx(out / f"{name}-images-idx3-ubyte.gz")
        y = read_idx(out / f"{name}-labels-idx1-ubyte.gz")
        assert len(x) == len(y)
        # Expected: every fifth image of a class (index 4, 9, ...) is a test image; the rows are
        # interleaved by class, round by round.
        parts = {d: [images[d][k] for k in range(counts[d]) if (k % 5 == 4) == is_test]
                 for d in range(10)}
        want_x, want_y = [], []
        for k in range(max(len(p) for p in parts.values())):
            for d in range(10):
                if k < len(parts[d]):
                    want_x.append(parts[d][k])
                    want_y.append(d)
        assert list(y) == want_y
        np.testing.assert_array_equal(x, np.array(want_x, dtype=np.uint8))


def test_refuses_values_off_the_byte_grid(tmp_path):
    rng = np.random.default_rng(8)
    pkg, _ = make_package(tmp_path, [5] * 10, rng)
    bad = pkg / "src" / "digits" / "3.json"
    values = json.loads(bad.read_text())["data"]
    values[10] = 0.5  # 127.5 / 255: no byte maps to it
    bad.write_text(json.dumps({"data": values}))
    proc = subprocess.run([sys.executable, CONVERT, pkg, tmp_path / "out"], capture_output=True,
                          text=True)
    assert proc.returncode == 1
    assert "3.json: value 10 = 0.5" in proc.stderr
    assert not (tmp_path / "out" / "train-images-idx3-ubyte.gz").exists()
