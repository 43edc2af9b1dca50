"""Reading run directories (docs/FORMATS.md) and checkpoints, without pandas."""

import csv
import ctypes
import os
from pathlib import Path

import numpy as np

from . import _native

__all__ = ["read_csv", "read_info", "read_run", "load_checkpoint"]


def _column(name, cells, path):
    """One column's cells as int64 (all integers), float64 (numbers; an empty cell, meaning
    "not applicable", becomes NaN) or str (anything else)."""
    if cells and all(c and c.lstrip("+-").isdigit() for c in cells):
        try:
            return np.array([int(c) for c in cells], dtype=np.int64)
        except OverflowError:
            pass
    try:
        return np.array([float(c) if c else np.nan for c in cells], dtype=np.float64)
    except ValueError:
        return np.array(cells, dtype=str)


def read_csv(path):
    """A CSV file of infoflow (one header line, comma-separated, no quoting) as a NumPy
    structured array with one field per column, in the file's order, whatever the columns are:
    int64 for columns of integers, float64 for numbers (empty cells are NaN), str otherwise.
    Raises ValueError naming the file and line for a row with the wrong number of cells."""
    path = Path(path)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{path}: empty file (no header line)")
    header = rows[0]
    if len(set(header)) != len(header) or not all(header):
        raise ValueError(f"{path}: line 1: empty or repeated column names in {header}")
    body = rows[1:]
    for i, r in enumerate(body):
        if len(r) != len(header):
            raise ValueError(f"{path}: line {i + 2}: {len(r)} cells, the header has "
                             f"{len(header)}")
    columns = [_column(name, [r[j] for r in body], path) for j, name in enumerate(header)]
    dtype = [(name, col.dtype if len(body) else np.float64) for name, col in zip(header, columns)]
    out = np.empty(len(body), dtype=dtype)
    for name, col in zip(header, columns):
        out[name] = col
    return out


def _number(v):
    """v as int, else float, else the string itself."""
    for kind in (int, float):
        try:
            return kind(v)
        except ValueError:
            pass
    return v


def read_info(path):
    """info.csv (key,value rows) as a dict; values that are numbers become int or float."""
    table = read_csv(path)
    if table.dtype.names[:2] != ("key", "value"):
        raise ValueError(f"{path}: expected columns key,value, got {','.join(table.dtype.names)}")
    return {str(k): _number(str(v)) for k, v in zip(table["key"], table["value"])}


def read_run(directory):
    """The CSV files of a run directory (docs/FORMATS.md) as a dict: each FILE.csv under the key
    FILE (e.g. "metrics", "mi", "binned", "activations", "scatter", "mi-estimate", "mi-mean")
    as a structured array from read_csv, except "info", a dict from read_info. "config" holds the
    text of config.ini when present, and "seeds" a dict {seed: read_run(seed-S)} for a directory
    of repeats. Unknown extra columns or files are read the same way."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory}: not a run directory")
    run = {}
    for p in sorted(directory.glob("*.csv")):
        run[p.stem] = read_info(p) if p.name == "info.csv" else read_csv(p)
    config = directory / "config.ini"
    if config.is_file():
        run["config"] = config.read_text()
    seeds = sorted(p for p in directory.glob("seed-*") if p.is_dir() and p.name[5:].isdigit())
    if seeds:
        run["seeds"] = {int(p.name[5:]): read_run(p) for p in seeds}
    if not run:
        raise ValueError(f"{directory}: no CSV files or config.ini: not a run directory")
    return run


# iflow_net_block_info (net.h): IFLOW_BLOCK_INFO_N numbers per block.
_BLOCK_INFO_N = 16
_POOLS = {0: None, 1: "max", 2: "avg"}


def _block(net, layer):
    """Block `layer` of a loaded net: its description (a dict) and its (W, b), W in PyTorch's
    layout: (C_out, C_in, KH, KW) as nn.Conv2d.weight, (out, in) as nn.Linear.weight."""
    info = np.zeros(_BLOCK_INFO_N, dtype=np.uintp)
    _native.call("iflow_net_block_info", net, layer, info.ctypes.data)
    (kind, units, kh, kw, stride, pad, pool, pool_size, oc, oh, ow, rows, cols,
     ic, ih, iw) = (int(v) for v in info)
    w = np.empty((rows, cols), dtype=np.float64)
    b = np.empty(rows, dtype=np.float64)
    _native.call("iflow_net_layer_params", net, layer, w.ctypes.data, b.ctypes.data)
    desc = {"kind": "conv" if kind == 1 else "dense", "units": units,
            "input_shape": (ic, ih, iw), "output_shape": (oc, oh, ow)}
    if kind == 1:
        if rows != units or cols != ic * kh * kw:
            raise ValueError(f"block {layer}: W is {rows} x {cols}, not {units} x {ic}*{kh}*{kw}")
        desc.update(kernel=(kh, kw), stride=stride, padding=pad, pool=_POOLS.get(pool),
                    pool_size=pool_size if pool else 0)
        w = w.reshape(units, ic, kh, kw)
    return desc, (w, b)


def load_checkpoint(path):
    """The network of an infoflow checkpoint (checkpoints/epoch-NNNNNN.ckpt of a run), read and
    checked by the C library (a damaged file raises ValueError with its message).

    Returns:
        dict with "epoch", "activation" (e.g. "tanh"), "leaky_slope", "widths" (flattened sizes:
        input, every block's output; the last is the classes), "beta" (one noise std per hidden
        layer), "input_shape" (C, H, W; (D, 1, 1) for an MLP), "blocks" (per weighted block a
        dict: "kind" "dense" or "conv", "units", "input_shape" and "output_shape" (C, H, W), and
        for conv "kernel" (KH, KW), "stride", "padding", "pool" (None, "max" or "avg") and
        "pool_size"), and "weights": a list of (W, b) per block in PyTorch's layouts, the same as
        `infoflow export` writes: a dense W of shape (out, in) as nn.Linear.weight (after a conv
        block, `in` is its output flattened in (C, H, W) order), a conv W of shape
        (C_out, C_in, KH, KW) as nn.Conv2d.weight; b of shape (out,) or (C_out,).
    """
    lib = _native.lib()
    net = ctypes.c_void_p()
    meta = _native.CheckpointMeta()
    _native.call("iflow_checkpoint_load_net", os.fsencode(path), ctypes.byref(meta),
                 ctypes.byref(net))
    try:
        n_layers = lib.iflow_net_shape(net, None, None, None, None)
        widths = np.zeros(n_layers + 1, dtype=np.uintp)
        beta = np.zeros(n_layers + 1, dtype=np.float64)
        act, slope = ctypes.c_int(), ctypes.c_double()
        lib.iflow_net_shape(net, widths.ctypes.data, beta.ctypes.data, ctypes.byref(act),
                            ctypes.byref(slope))
        blocks, weights = zip(*(_block(net, l) for l in range(1, n_layers + 1)))
    finally:
        lib.iflow_net_free(net)
    return {"epoch": int(meta.epoch), "activation": lib.iflow_activation_name(act.value).decode(),
            "leaky_slope": slope.value, "widths": [int(x) for x in widths],
            "beta": [float(x) for x in beta[1:n_layers]],
            "input_shape": blocks[0]["input_shape"], "blocks": list(blocks),
            "weights": list(weights)}
