"""The estimators from Python give the numbers the command line prints for the same arrays,
pass C-contiguous float64 arrays without a copy, and raise the library's errors."""

import math
import re

import numpy as np
import pytest

import infoflow
from infoflow import _native
from conftest import cli_json, printed


def samples(n=300, d=3, seed=1):
    """Two clusters, so that neighbours, bins and groups all matter."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * 0.3
    x[: n // 2] += 1.0
    return x


@pytest.fixture
def npy(tmp_path):
    """Saves an array as .npy for the CLI: npy(array) -> path."""
    count = [0]

    def save(a):
        count[0] += 1
        p = tmp_path / f"a{count[0]}.npy"
        np.save(p, a)
        return p
    return save


SP_CASES = [  # sigma, mc, seed, tolerance
    (0.1, 16, 1, 1e-6),
    (0.1, 16, 1, 0.0),
    (0.5, 3, 12345, 1e-3),
    (0.02, 1, 7, 1e-6),
    (0.3, 2, 2**64 - 1, 1e-6),  # the largest seed, as a uint64 on both sides
]


@pytest.mark.parametrize("sigma,mc,seed,tol", SP_CASES)
def test_sp_entropy_equals_cli(cli, npy, sigma, mc, seed, tol):
    x = samples()
    h, se = infoflow.sp_entropy(x, sigma, mc=mc, seed=seed, tolerance=tol)
    j = cli_json(cli("entropy", "--sigma", sigma, "--mc", mc, "--seed", seed, "--tolerance", tol,
                     npy(x)))
    assert (printed(h), printed(se)) == (j["h"], j["h_se"])


@pytest.mark.parametrize("sigma,mc,seed,tol", SP_CASES)
def test_sp_mi_equals_cli(cli, npy, sigma, mc, seed, tol):
    x = samples(d=2)
    # Sparse, unsorted ids: both sides renumber them in increasing order.
    ids = np.array([1000, 3, 77, 5])[np.arange(len(x)) % 4]
    mi, se = infoflow.sp_mi(x, ids, sigma, mc=mc, seed=seed, tolerance=tol)
    t = infoflow.sp_mi_terms(x, ids, sigma, mc=mc, seed=seed, tolerance=tol)
    j = cli_json(cli("mi", "--group-col", 0, "--sigma", sigma, "--mc", mc, "--seed", seed,
                     "--tolerance", tol, npy(np.column_stack([ids, x]))))
    assert (printed(mi), printed(se)) == (j["mi"], j["mi_se"])
    for key, json_key in [("h", "h"), ("h_se", "h_se"), ("h_cond", "h_cond"),
                          ("h_cond_se", "h_cond_se"), ("mi_bias", "mi_bias"),
                          ("mi_se_mc", "mi_se_mc")]:
        assert printed(t[key]) == j[json_key]
    assert str(t["n_groups"]) == j["groups"] == "4"


@pytest.mark.parametrize("normals", ["v1", "v2"])
def test_normals_equal_cli(cli, npy, normals):
    x = samples()
    h, se = infoflow.sp_entropy(x, 0.1, normals=normals)
    j = cli_json(cli("entropy", "--sigma", 0.1, "--normals", normals, npy(x)))
    assert (printed(h), printed(se)) == (j["h"], j["h_se"])
    ids = np.arange(len(x)) % 3
    mi, se = infoflow.sp_mi(x, ids, 0.1, normals=normals)
    j = cli_json(cli("mi", "--group-col", 0, "--sigma", 0.1, "--normals", normals,
                     npy(np.column_stack([ids, x]))))
    assert (printed(mi), printed(se)) == (j["mi"], j["mi_se"])


def test_normals_v2_is_the_default_and_v1_other_draws():
    x = samples()
    assert infoflow.sp_entropy(x, 0.1) == infoflow.sp_entropy(x, 0.1, normals="v2")
    assert infoflow.sp_entropy(x, 0.1) != infoflow.sp_entropy(x, 0.1, normals="v1")
    with pytest.raises(ValueError, match="normals"):
        infoflow.sp_entropy(x, 0.1, normals="v3")


def test_same_defaults_in_every_path(cli, npy):
    """Python's keyword defaults are the library's (iflow_sp_options_default), and the CLI
    prints those settings and the same numbers when given no option."""
    import ctypes
    import inspect
    opt = _native.SpOptions()
    _native.lib().iflow_sp_options_default(ctypes.byref(opt))
    names = {v: k for k, v in _native.NORMALS.items()}
    for fn in (infoflow.sp_entropy, infoflow.sp_entropy_terms, infoflow.sp_mi, infoflow.sp_mi_terms,
               infoflow.sp_mi2, infoflow.sp_cmi):
        p = inspect.signature(fn).parameters
        assert (p["mc"].default, p["tolerance"].default, p["normals"].default) == \
            (opt.mc, opt.tolerance, names[opt.normals]), fn.__name__
    x = samples()
    h, se = infoflow.sp_entropy(x, 0.1)
    j = cli_json(cli("entropy", "--sigma", 0.1, npy(x)))
    assert (printed(h), printed(se)) == (j["h"], j["h_se"])
    assert (j["mc"], j["normals"], float(j["tolerance"]), j["seed"], j["plan"]) == \
        (str(opt.mc), names[opt.normals], opt.tolerance, "1", "greedy")


def test_sp_mi2_is_two_sp_mi(npy):
    """Two groupings at once give what each gives alone (same draws, same sums)."""
    x = samples(d=2)
    ga, gb = np.arange(len(x)) // 3, np.arange(len(x)) % 2
    a, b = infoflow.sp_mi2(x, ga, gb, 0.1, mc=4, tolerance=0)
    assert a == infoflow.sp_mi_terms(x, ga, 0.1, mc=4, tolerance=0)
    alone = infoflow.sp_mi_terms(x, gb, 0.1, mc=4, tolerance=0)
    # b's standard errors are stratified by ga (the inputs), alone's by gb: the rest agrees.
    for key in ("mi", "h", "h_cond"):
        assert b[key] == alone[key] and b[key + "_se_mc"] == alone[key + "_se_mc"]


@pytest.mark.parametrize("per_coordinate", [False, True])
def test_sp_sigma_array_equals_cli(cli, npy, per_coordinate):
    """A per-sample sigma ((n,) or (n, d)) is `--sigma-file`: the same numbers for entropy and
    grouped MI."""
    x = samples(d=2)
    rng = np.random.default_rng(4)
    sig = rng.uniform(0.05, 0.5, size=(len(x), 2) if per_coordinate else len(x))
    h, se = infoflow.sp_entropy(x, sig, mc=8)
    j = cli_json(cli("entropy", "--sigma-file", npy(sig), "--mc", 8, npy(x)))
    assert (printed(h), printed(se)) == (j["h"], j["h_se"])
    ids = np.arange(len(x)) % 4
    t = infoflow.sp_mi_terms(x, ids, sig, mc=8)
    j = cli_json(cli("mi", "--group-col", 0, "--sigma-file", npy(sig), "--mc", 8,
                     npy(np.column_stack([ids, x]))))
    for key in ("mi", "mi_se", "mi_se_mc", "mi_bias", "h_cond", "h_cond_se"):
        assert printed(t[key]) == j[key]


def test_sp_sigma_array_isotropic_limit_and_shapes():
    """sigma = beta everywhere is the scalar estimate (up to rounding); bad shapes and values
    raise ValueError naming sigma."""
    x = samples()
    h, se = infoflow.sp_entropy(x, 0.2, tolerance=0)
    h1, se1 = infoflow.sp_entropy(x, np.full(len(x), 0.2), tolerance=0)
    assert abs(h1 - h) < 1e-10 and abs(se1 - se) < 1e-10
    with pytest.raises(ValueError, match="sigma"):
        infoflow.sp_entropy(x, np.ones((len(x), 2)))
    with pytest.raises(ValueError, match="sigma"):
        infoflow.sp_entropy(x, np.zeros(len(x)))
    with pytest.raises(ValueError, match="weights"):
        infoflow.sp_entropy(x, np.ones(len(x)), weights=np.ones(len(x)))


@pytest.mark.parametrize("hetero", [False, True])
def test_sp_cmi_is_the_paired_difference(hetero):
    """I(X;T|Y) from the draws of sp_mi2: the difference of its two columns, >= 0 here, and
    refused when Y is not a function of X."""
    x = samples(d=2)
    gx = np.arange(len(x)) // 2
    gy = (gx % 3)
    sigma = np.full(len(x), 0.3) if hetero else 0.3
    c = infoflow.sp_cmi(x, gx, gy, sigma, mc=8)
    a, b = infoflow.sp_mi2(x, gx, gy, sigma, mc=8)
    assert (c["x"], c["y"]) == (a, b)
    assert abs(c["cmi"] - (a["mi"] - b["mi"])) < 1e-12
    assert c["cmi"] > 0 and 0 < c["cmi_se"] <= a["mi_se"] + b["mi_se"]
    assert 0 < c["cmi_se_mc"] <= a["mi_se_mc"] + b["mi_se_mc"] and c["cmi_se_kind"] == "total"
    assert math.isfinite(c["cmi_bias"]) and c["cmi_corrected"] == c["cmi"] - c["cmi_bias"]
    with pytest.raises(ValueError, match="function of group_a"):
        infoflow.sp_cmi(x, gx, np.arange(len(x)) % 2, sigma)


@pytest.mark.parametrize("sigma", [0.05, 0.4])
def test_pairwise_bounds_equal_cli(cli, npy, sigma):
    x = samples()
    lower, upper = infoflow.pairwise_bounds(x, sigma)
    p = npy(x)
    assert printed(lower) == cli_json(cli("entropy", "--estimator", "kde-lower", "--sigma", sigma,
                                          p))["h"]
    assert printed(upper) == cli_json(cli("entropy", "--estimator", "kde-upper", "--sigma", sigma,
                                          p))["h"]
    h, se = infoflow.sp_entropy(x, sigma, mc=64, tolerance=0)
    assert lower - 4 * se <= h <= upper + 4 * se  # the bounds bracket h(g) (ESTIMATION.md 4)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_knn_entropy_equals_cli(cli, npy, k):
    x = samples(d=2)
    h = infoflow.knn_entropy(x, k=k)
    assert printed(h) == cli_json(cli("entropy", "--estimator", "knn", "--k", k, npy(x)))["h"]


@pytest.mark.parametrize("bins", [("--bin-width", "0.25"), ("--bins", "szt30")])
def test_binned_equal_cli(cli, npy, bins):
    x = np.tanh(samples())
    kw = {"bin_width": float(bins[1])} if bins[0] == "--bin-width" else {"bins": "szt30"}
    h = infoflow.bin_entropy(x, **kw)
    assert printed(h) == cli_json(cli("entropy", "--estimator", "bin", *bins, npy(x)))["h"]
    ids = np.arange(len(x)) % 3
    mi, hb, h_cond = infoflow.bin_mi(x, ids, **kw)
    j = cli_json(cli("mi", "--group-col", 0, "--estimator", "bin", *bins,
                     npy(np.column_stack([ids, x]))))
    assert (printed(mi), printed(hb), printed(h_cond)) == (j["mi"], j["h"], j["h_cond"])
    assert hb == h


def test_gaussian_entropy_closed_form():
    assert infoflow.gaussian_entropy(3, 0.1) == pytest.approx(
        1.5 * math.log(2 * math.pi * math.e * 0.01), rel=1e-15)


def test_threads_never_change_numbers():
    x = samples(n=2000, d=3)
    ids = np.arange(len(x)) // 10
    one = [infoflow.sp_entropy(x, 0.1, threads=1), infoflow.sp_mi_terms(x, ids, 0.1, threads=1),
           infoflow.pairwise_bounds(x, 0.1, threads=1), infoflow.knn_entropy(x, threads=1)]
    two = [infoflow.sp_entropy(x, 0.1, threads=2), infoflow.sp_mi_terms(x, ids, 0.1, threads=2),
           infoflow.pairwise_bounds(x, 0.1, threads=2), infoflow.knn_entropy(x, threads=2)]
    assert one == two


# ---- arrays: no copy when possible, converted otherwise ----

@pytest.fixture
def spy(monkeypatch):
    """Records the samples address each call of iflow_sp_entropy receives."""
    lib = _native.lib()
    real = lib.iflow_sp_entropy
    seen = []

    def recording(s, *args):
        seen.append(s)
        return real(s, *args)
    monkeypatch.setattr(lib, "iflow_sp_entropy", recording)
    return seen


def test_c_contiguous_float64_is_passed_by_pointer(spy):
    x = samples()
    infoflow.sp_entropy(x, 0.1, mc=2)
    assert spy == [x.ctypes.data]
    # A C-contiguous row slice is a view whose data pointer goes through unchanged too.
    view = x[10:200]
    infoflow.sp_entropy(view, 0.1, mc=2)
    assert spy[-1] == view.ctypes.data


@pytest.mark.parametrize("convert", [np.asfortranarray, lambda a: a.astype(np.float32),
                                     lambda a: np.repeat(a, 2, axis=0)[::2],
                                     lambda a: a.tolist()])
def test_other_arrays_are_converted(spy, convert):
    x = samples().astype(np.float32).astype(np.float64)  # exact in float32 too
    other = convert(x)
    assert infoflow.sp_entropy(other, 0.1, mc=2) == infoflow.sp_entropy(x, 0.1, mc=2)
    if isinstance(other, np.ndarray):
        assert spy[0] != other.ctypes.data  # a converted copy went to the library


def test_one_dimensional_is_n_samples_of_dimension_one():
    x = samples(d=1)[:, 0]
    h, se = infoflow.sp_entropy(x, 0.1)
    assert (h, se) == infoflow.sp_entropy(x.reshape(-1, 1), 0.1)


# ---- errors: the library's message, as the CLI prints it ----

def test_errors_carry_the_c_message(cli, npy):
    x = samples()
    x[3, 1] = np.nan
    with pytest.raises(ValueError) as e:
        infoflow.sp_entropy(x, 0.1)
    assert isinstance(e.value, infoflow.InfoflowError) and e.value.code == _native.IFLOW_EINVAL
    assert str(e.value) == "iflow_sp_entropy: sample 3, coordinate 1 is nan"
    # An error that gets past the CLI's own file checks: the same message on both sides.
    x = samples(n=40, d=2)
    x[10:20] = x[10]
    with pytest.raises(ValueError) as e:
        infoflow.knn_entropy(x, k=3)
    assert "sample 10 has 3 or more exact duplicates" in str(e.value)
    proc = cli("entropy", "--estimator", "knn", "--k", 3, npy(x))
    assert proc.returncode == 1 and str(e.value) in proc.stderr


@pytest.mark.parametrize("call,text", [
    (lambda x: infoflow.sp_entropy(x, 0.0), "beta must be finite and > 0 (got 0)"),
    (lambda x: infoflow.sp_entropy(x, -1.0), "beta must be finite and > 0 (got -1)"),
    (lambda x: infoflow.sp_entropy(x, 0.1, mc=0), "mc (draws per centre) must be in [1, "),
    (lambda x: infoflow.sp_mi(x, np.zeros(len(x)), 0.1, tolerance=-1),
     "tolerance must be finite and >= 0"),
    (lambda x: infoflow.bin_entropy(x, bin_width=-0.5), "width must be finite and > 0"),
    (lambda x: infoflow.knn_entropy(x[:3], k=5), "iflow_knn_entropy: need"),
    (lambda x: infoflow.sp_entropy(x, 0.1, weights=np.zeros(len(x))), "weights are 0"),
])
def test_bad_arguments_raise_value_error(call, text):
    with pytest.raises(ValueError, match=re.escape(text)):
        call(samples())


def test_python_side_checks():
    x = samples()
    with pytest.raises(ValueError, match="one id per sample"):
        infoflow.sp_mi(x, [0, 1], 0.1)
    with pytest.raises(ValueError, match="integers"):
        infoflow.sp_mi(x, np.full(len(x), 0.5), 0.1)
    with pytest.raises(ValueError, match="2-D"):
        infoflow.sp_entropy(np.zeros((2, 2, 2)), 0.1)
    with pytest.raises(ValueError, match="one of bin_width"):
        infoflow.bin_entropy(x)
    for bad in (-1, 2**64, 1.5, True):
        with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\^64\)"):
            infoflow.sp_entropy(x, 0.1, seed=bad)
    assert infoflow.sp_entropy(x, 0.1, seed=2**64 - 1, mc=1)  # the largest seed is fine


def test_error_codes_map_to_exceptions():
    assert isinstance(_native.error_for(_native.IFLOW_ENOMEM, "m"), MemoryError)
    assert isinstance(_native.error_for(_native.IFLOW_EINVAL, "m"), ValueError)
    assert isinstance(_native.error_for(_native.IFLOW_EIO, "m"), OSError)
    assert isinstance(_native.error_for(-99, "m"), ValueError)  # unknown: still an error
    for code in range(-7, 0):
        assert _native.error_for(code, "msg").code == code
