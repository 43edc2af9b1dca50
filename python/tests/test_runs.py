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


CNN_CONFIG = """[data]
file = img.csv
test_fraction = 0.25
[net]
input = 2x8x8
layers = conv 4 3x3 pad 1 maxpool 2, conv 3 2x2 stride 2 avgpool 2, conv 2 1x1, dense 5, dense 2
activation = relu
beta = 0.1
[train]
lr = 0.01
batch = 8
epochs = 2
[estimate]
epochs = none
"""


def test_load_checkpoint_every_block_kind_matches_export(tmp_path, cli):
    """A conv net with every block kind (conv with padding and max pooling, with stride and
    average pooling, plain; dense after conv; dense logits): load_checkpoint gives each W and b
    in the shapes and with the values `infoflow export` writes (PyTorch's layouts), and the
    described shapes chain from the input to the classes."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, size=(32, 128))
    y = (x[:, :64].mean(axis=1) > x[:, 64:].mean(axis=1)).astype(np.int64)
    np.savetxt(tmp_path / "img.csv", np.column_stack([x, y]), delimiter=",", fmt="%.17g")
    (tmp_path / "cnn.ini").write_text(CNN_CONFIG)
    proc = cli("run", tmp_path / "cnn.ini", "--out", tmp_path / "run", "--quiet", "--no-plot")
    assert proc.returncode == 0, proc.stderr
    proc = cli("export", tmp_path / "run", "--epoch", 2, "--inputs", 3, "--out", tmp_path / "ex")
    assert proc.returncode == 0, proc.stderr
    ck = infoflow.load_checkpoint(tmp_path / "run" / "checkpoints" / "epoch-000002.ckpt")
    assert ck["epoch"] == 2 and ck["input_shape"] == (2, 8, 8)
    kinds = [(b["kind"], b.get("pool")) for b in ck["blocks"]]
    assert kinds == [("conv", "max"), ("conv", "avg"), ("conv", None), ("dense", None),
                     ("dense", None)]
    shapes = [(4, 2, 3, 3), (3, 4, 2, 2), (2, 3, 1, 1), (5, 2), (2, 5)]
    outputs = [(4, 4, 4), (3, 1, 1), (2, 1, 1), (5, 1, 1), (2, 1, 1)]
    previous = ck["input_shape"]
    for j, (block, (w, b)) in enumerate(zip(ck["blocks"], ck["weights"]), start=1):
        assert w.shape == shapes[j - 1] and b.shape == (shapes[j - 1][0],)
        assert block["input_shape"] == previous and block["output_shape"] == outputs[j - 1]
        assert ck["widths"][j] == int(np.prod(block["output_shape"]))
        previous = block["output_shape"]
        np.testing.assert_array_equal(w, np.load(tmp_path / "ex" / f"weight-{j}.npy"))
        np.testing.assert_array_equal(b, np.load(tmp_path / "ex" / f"bias-{j}.npy"))
    assert ck["blocks"][0]["padding"] == 1 and ck["blocks"][1]["stride"] == 2
    assert ck["blocks"][1]["kernel"] == (2, 2) and ck["blocks"][1]["pool_size"] == 2
    # S_1 recomputed from the loaded kernel by direct loops (conv, relu, 2 x 2 max pool).
    s1 = np.load(tmp_path / "ex" / "S-1.npy")
    xin = np.pad(np.load(tmp_path / "ex" / "inputs.npy"), ((0, 0), (0, 0), (1, 1), (1, 1)))
    w, b = ck["weights"][0]
    conv = np.zeros((3, 4, 8, 8))
    for i in range(8):
        for j in range(8):
            conv[:, :, i, j] = np.einsum("nckl,ockl->no", xin[:, :, i:i + 3, j:j + 3], w) + b
    pooled = np.maximum(conv, 0).reshape(3, 4, 4, 2, 4, 2).max(axis=(3, 5))
    np.testing.assert_allclose(s1, pooled, rtol=0, atol=1e-12)


def test_mlp_from_checkpoint_refuses_a_conv_net(tmp_path):
    torch = pytest.importorskip("torch")  # noqa: F841
    from infoflow.torch import mlp_from_checkpoint
    ck = {"blocks": [{"kind": "conv"}], "weights": [], "activation": "relu"}
    with pytest.raises(ValueError, match="block 1 is a conv block"):
        mlp_from_checkpoint(ck)
