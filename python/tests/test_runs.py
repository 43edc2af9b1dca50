"""read_run on a run made by `infoflow run`, checked against the files' text; checkpoints."""

import csv
import math
import shutil

import numpy as np
import pytest

import infoflow


def raw_rows(path):
    """The file as lists of cell strings (header first): the independent reading."""
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_read_run_matches_the_files(tiny_run):
    run_dir, x, y = tiny_run
    run = infoflow.read_run(run_dir)
    for name in ["metrics", "mi", "binned", "activations", "scatter", "info", "config"]:
        assert name in run, name
    for name in ["metrics", "mi", "binned", "activations", "scatter"]:
        rows = raw_rows(run_dir / f"{name}.csv")
        table = run[name]
        assert list(table.dtype.names) == rows[0]
        assert len(table) == len(rows) - 1 > 0
        for j, col in enumerate(rows[0]):
            for i, r in enumerate(rows[1:]):
                v = table[col][i]
                if table.dtype[col].kind == "U":
                    assert v == r[j]
                elif r[j] == "":
                    assert math.isnan(v)  # "not applicable"
                else:
                    assert v == float(r[j]) and (table.dtype[col].kind == "f" or
                                                 str(v) == r[j])
    metrics, mi = run["metrics"], run["mi"]
    assert metrics["epoch"].dtype == np.int64 and list(metrics["epoch"]) == [0, 1, 2, 3, 4, 5]
    assert list(mi["epoch"]) == [1, 1, 5, 5] and list(mi["layer"]) == [1, 2, 1, 2]
    assert np.isnan(mi["kde_lower_h_T"][1]) and not np.isnan(mi["kde_lower_h_T"][0])
    assert set(run["binned"]["bin"]) == {"szt30", "0.07"}
    assert set(run["binned"]["noise"]) == {"noisy", "clean"}
    info = run["info"]
    assert info["m"] == len(x) == 48 and info["activation"] == "tanh"
    assert info["ln_m"] == pytest.approx(math.log(48), rel=1e-9) and info["beta"] == 0.2
    assert "layers = 4,6,3,2" in run["config"].replace(" ", "").replace("=", " = ")


def test_extra_columns_and_files_are_read(tiny_run, tmp_path):
    run_dir, _, _ = tiny_run
    rows = raw_rows(run_dir / "mi.csv")
    with open(tmp_path / "mi.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(rows[0] + ["note", "I_new"])
        for i, r in enumerate(rows[1:]):
            w.writerow(r + [f"row{i}", ""])
    (tmp_path / "extra.csv").write_text("a,b\n1,2.5\n")
    run = infoflow.read_run(tmp_path)
    assert list(run["mi"]["note"]) == ["row0", "row1", "row2", "row3"]
    assert np.isnan(run["mi"]["I_new"]).all()
    assert run["extra"]["a"][0] == 1 and run["extra"]["b"][0] == 2.5


def test_bad_files_name_file_and_line(tmp_path):
    (tmp_path / "mi.csv").write_text("epoch,layer\n1,2\n3\n")
    with pytest.raises(ValueError, match=r"mi\.csv: line 3: 1 cells, the header has 2"):
        infoflow.read_run(tmp_path)
    (tmp_path / "mi.csv").write_text("")
    with pytest.raises(ValueError, match="empty file"):
        infoflow.read_csv(tmp_path / "mi.csv")
    with pytest.raises(ValueError, match="not a run directory"):
        infoflow.read_run(tmp_path / "missing")
    header_only = tmp_path / "h.csv"
    header_only.write_text("epoch,I_XT\n")
    assert infoflow.read_csv(header_only).dtype.names == ("epoch", "I_XT")


def test_read_run_of_repeats(tiny_run, tmp_path):
    """A directory of repeats: seed-S subdirectories as run["seeds"][S]."""
    run_dir, _, _ = tiny_run
    for s in (1, 2):
        shutil.copytree(run_dir, tmp_path / f"seed-{s}",
                        ignore=shutil.ignore_patterns("checkpoints"))
    shutil.copy(run_dir / "info.csv", tmp_path / "info.csv")
    run = infoflow.read_run(tmp_path)
    assert sorted(run["seeds"]) == [1, 2]
    mi, ref = run["seeds"][2]["mi"], infoflow.read_run(run_dir)["mi"]
    assert mi.dtype == ref.dtype
    for name in ref.dtype.names:
        np.testing.assert_array_equal(mi[name], ref[name])  # NaN == NaN here


def test_load_checkpoint_gives_the_net_of_the_run(tiny_run):
    """Weights read through the C library reproduce the run's own noiseless activations
    (scatter.csv, printed with 6 significant digits) when applied in NumPy."""
    run_dir, x, _ = tiny_run
    scatter = infoflow.read_run(run_dir)["scatter"]
    for epoch in sorted(set(scatter["epoch"])):
        ck = infoflow.load_checkpoint(run_dir / "checkpoints" / f"epoch-{epoch:06d}.ckpt")
        assert ck["epoch"] == epoch and ck["widths"] == [4, 6, 3, 2]
        assert ck["activation"] == "tanh" and ck["beta"] == [0.2, 0.2]
        t = x
        for layer, (w, b) in enumerate(ck["weights"][:-1], start=1):
            assert w.shape == (ck["widths"][layer], ck["widths"][layer - 1])
            t = np.tanh(t @ w.T + b)
            rows = scatter[(scatter["epoch"] == epoch) & (scatter["layer"] == layer)]
            if len(rows):  # layers of width <= 3
                got = np.column_stack([rows[f"u{k + 1}"] for k in range(t.shape[1])])
                np.testing.assert_allclose(got, t[rows["input"]], rtol=2e-6, atol=1e-6)
    assert len(scatter) > 0


def test_load_checkpoint_errors(tiny_run, tmp_path):
    run_dir, _, _ = tiny_run
    data = (run_dir / "checkpoints" / "epoch-000005.ckpt").read_bytes()
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(data[:-3])
    with pytest.raises(ValueError, match=f"{bad}: truncated"):
        infoflow.load_checkpoint(bad)
    with pytest.raises(OSError, match="cannot open checkpoint"):
        infoflow.load_checkpoint(tmp_path / "missing.ckpt")
