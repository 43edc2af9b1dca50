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

R, MC = 16, 16


@pytest.fixture(scope="module")
def estimated(tiny_run, cli):
    """`infoflow estimate` of the tiny run's last epoch: its mi-estimate.csv rows by layer."""
    run_dir, x, y = tiny_run
    proc = cli("estimate", run_dir, "--epochs", 5, "--replicas", R, "--mc", MC, "--tolerance",
               1e-6, "--seed", 3, "--quiet")
    assert proc.returncode == 0, proc.stderr
    rows = infoflow.read_run(run_dir)["mi-estimate"]
    return {int(r["layer"]): r for r in rows}


def test_torch_mlp_measures_what_infoflow_estimate_measures(tiny_run, estimated):
    run_dir, x, y = tiny_run
    model, hidden, beta = iftorch.mlp_from_checkpoint(run_dir / "checkpoints" /
                                                      "epoch-000005.ckpt")
    assert hidden == ["1", "3"] and beta == [0.2, 0.2]
    got = iftorch.measure(model, x, y, hidden, beta, replicas=R, mc=MC, tolerance=1e-6, seed=1,
                          noise_seed=1)
    for layer, name in enumerate(hidden, start=1):
        ref, g = estimated[layer], got[name]
        assert g["width"] == ref["width"]
        # Layer 1 sees no noise before it: one sample per input, as in src/estimators/mi.c.
        assert g["samples_per_input"] == (1 if layer == 1 else R)
        for key in ("I_XT", "I_YT"):
            se = np.hypot(g[key + "_se"], ref[key + "_se"])
            assert abs(g[key] - ref[key]) <= 4 * se, (layer, key, g[key], ref[key], se)
        assert g["I_XT"] - g["I_XT_se"] * 4 <= np.log(len(x))
    # The comparison can fail: the same net with twice the noise carries much less information.
    louder = iftorch.measure(model, x, y, hidden, 0.4, replicas=R, mc=MC, tolerance=1e-6)
    for layer, name in enumerate(hidden, start=1):
        ref, g = estimated[layer], louder[name]
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
    assert a == b
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
    with pytest.raises(ValueError, match="2 values for 1 layers"):
        iftorch.measure(model, x, y, ["1"], [0.1, 0.2], replicas=2)
