"""infoflow.torch.measure on a PyTorch copy of an infoflow net measures what `infoflow estimate`
measures on the run, within standard errors."""

import os

import numpy as np
import pytest

import infoflow

if os.environ.get("IFLOW_REQUIRE_TORCH"):  # set by meson test: CI must run these
    import torch
else:
    torch = pytest.importorskip("torch")
import infoflow.torch as iftorch  # noqa: E402

R, MC, K = 16, 16, 5


@pytest.fixture(scope="module")
def estimated(tiny_run, cli):
    """`infoflow estimate` of the tiny run's last epoch with seeds 1..K: for each seed, its
    mi-estimate rows by layer."""
    run_dir, x, y = tiny_run
    out = []
    for seed in range(1, K + 1):
        proc = cli("estimate", run_dir, "--epochs", 5, "--replicas", R, "--mc", MC,
                   "--tolerance", 1e-6, "--seed", seed, "--out", f"mi-seed{seed}.csv", "--quiet")
        assert proc.returncode == 0, proc.stderr
        rows = infoflow.read_csv(run_dir / f"mi-seed{seed}.csv")
        out.append({int(r["layer"]): r for r in rows})
    return out


def test_torch_mlp_measures_what_infoflow_estimate_measures(tiny_run, estimated):
    run_dir, x, y = tiny_run
    model, hidden, beta = iftorch.mlp_from_checkpoint(run_dir / "checkpoints" /
                                                      "epoch-000005.ckpt")
    assert hidden == ["1", "3"] and beta == [0.2, 0.2]
    got = [iftorch.measure(model, x, y, hidden, beta, replicas=R, mc=MC, tolerance=1e-6,
                           seed=seed, noise_seed=seed) for seed in range(1, K + 1)]
    # Layer 1 sees no noise before it: its samples are the m clean outputs, the same in both
    # (one per input, as in src/estimators/mi.c), so the Monte Carlo SE is the whole error.
    for g, ref in zip(got, estimated):
        g, ref = g["1"], ref[1]
        assert g["samples_per_input"] == 1 and g["width"] == ref["width"] == 6
        for key in ("I_XT", "I_YT"):
            assert abs(g[key] - ref[key]) <= 4 * np.hypot(g[key + "_se"], ref[key + "_se"])
    # Layer 2's samples come from noisy passes, so its SE (given the samples) leaves out their
    # own randomness: compare the means of K independent measurements on each side with the
    # standard error of the means from their spread (which holds both parts).
    for key in ("I_XT", "I_YT"):
        a = np.array([g["3"][key] for g in got])
        b = np.array([ref[2][key] for ref in estimated])
        se = np.sqrt(a.var(ddof=1) / K + b.var(ddof=1) / K)
        assert abs(a.mean() - b.mean()) <= 4 * se, (key, a, b)
        assert np.median([g["3"][key + "_se"] for g in got]) < 4 * se  # the spread is real
    assert all(g["3"]["samples_per_input"] == R for g in got)
    # The comparison can fail: the same net with twice the noise carries much less information.
    louder = iftorch.measure(model, x, y, hidden, 0.4, replicas=R, mc=MC, tolerance=1e-6)
    for layer, name in enumerate(hidden, start=1):
        ref, g = estimated[0][layer], louder[name]
        assert ref["I_XT"] - g["I_XT"] > 8 * np.hypot(g["I_XT_se"], ref["I_XT_se"])


def test_measure_is_reproducible_and_leaves_the_model_as_it_was(tiny_run):
    run_dir, x, y = tiny_run
    model, hidden, beta = iftorch.mlp_from_checkpoint(run_dir / "checkpoints" /
                                                      "epoch-000001.ckpt")
    model.train()
    clean = model(torch.from_numpy(x)).detach().clone()
    a = iftorch.measure(model, x, y, hidden, beta, replicas=4, mc=2, threads=1)
    b = iftorch.measure(model, torch.from_numpy(x), torch.from_numpy(y), hidden, beta,
                        replicas=4, mc=2, threads=2, batch_size=4096)
    c = iftorch.measure(model, x, y, hidden, beta, replicas=4, mc=2, batch_size=8)
    # Noise-free first layer: batching changes at most the rounding of the matrix products.
    assert c["1"]["I_XT"] == pytest.approx(a["1"]["I_XT"], rel=1e-9)
    assert c["3"] != a["3"] and abs(c["3"]["I_XT"] - a["3"]["I_XT"]) < 0.2  # other noise draws
    assert a == b
    # Measuring one layer measures the same noisy net: the same numbers for that layer.
    assert iftorch.measure(model, x, y, hidden, beta, replicas=4, mc=2, measured=["3"]) == {
        "3": a["3"]}
    assert model.training and not model._forward_hooks
    assert all(not m._forward_hooks for m in model.modules())
    assert torch.equal(model(torch.from_numpy(x)), clean)  # no noise left behind


def test_measure_errors(tiny_run):
    run_dir, x, y = tiny_run
    model, hidden, beta = iftorch.mlp_from_checkpoint(run_dir / "checkpoints" /
                                                      "epoch-000001.ckpt")
    with pytest.raises(ValueError, match="not modules of the model"):
        iftorch.measure(model, x, y, ["7"], 0.1, replicas=2)
    with pytest.raises(ValueError, match="must be finite and > 0"):
        iftorch.measure(model, x, y, hidden, 0.0, replicas=2)
    with pytest.raises(ValueError, match="one label each"):
        iftorch.measure(model, x, y[:3], hidden, 0.1, replicas=2)
    with pytest.raises(ValueError, match=r"measured: \['5'\] not in layers"):
        iftorch.measure(model, x, y, hidden, 0.1, replicas=2, measured=["5"])
    reused = torch.nn.Sequential(model[0], model[1], model[2], model[1], model[4])
    with pytest.raises(ValueError, match=r"layer '1' gave 192 output rows for 96 rows in"):
        iftorch.measure(reused, x, y, ["1"], 0.1, replicas=2)  # the same Tanh twice a pass
    with pytest.raises(ValueError, match="2 values for 1 layers"):
        iftorch.measure(model, x, y, ["1"], [0.1, 0.2], replicas=2)
