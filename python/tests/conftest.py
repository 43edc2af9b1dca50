"""Shared fixtures: the infoflow executable and a tiny run made by it."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cli():
    """Runs the infoflow executable ($IFLOW_BIN, as meson test sets it, else build/infoflow):
    cli(*args) -> CompletedProcess with text stdout and stderr."""
    exe = os.environ.get("IFLOW_BIN", str(ROOT / "build" / "infoflow"))
    if not os.path.isfile(exe):
        pytest.fail(f"no infoflow executable at {exe}: build first or set IFLOW_BIN")

    def run(*args):
        return subprocess.run([exe, *map(str, args)], capture_output=True, text=True,
                              timeout=300)
    return run


def cli_json(proc):
    """The JSON line of `infoflow entropy|mi`, numbers kept as the exact text printed."""
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout, parse_float=str, parse_int=str)


def printed(x):
    """A number as the CLI prints it in JSON (%.10g)."""
    return "%.10g" % x


TINY_CONFIG = """[data]
file = data.csv
test_fraction = 0.25
[net]
layers = 4,6,3,2
activation = tanh
beta = 0.2
[train]
lr = 0.01
batch = 16
epochs = 5
[estimate]
epochs = 1,5
replicas = 4
mc = 2
bins = szt30,0.07
"""


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, cli):
    """A 4-6-3-2 tanh net (beta 0.2) trained 5 epochs on 48 random inputs, measured at epochs 1
    and 5: (run directory, inputs x (48 x 4, the data file's rows in order), labels y)."""
    d = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, size=(48, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    np.savetxt(d / "data.csv", np.column_stack([x, y]), delimiter=",", fmt="%.17g")
    (d / "tiny.ini").write_text(TINY_CONFIG)
    proc = cli("run", d / "tiny.ini", "--out", d / "run")
    assert proc.returncode == 0, proc.stderr
    # The rows as the library parsed them (%.17g round-trips exactly).
    data = np.loadtxt(d / "data.csv", delimiter=",")
    return d / "run", data[:, :4], data[:, 4].astype(np.int64)
