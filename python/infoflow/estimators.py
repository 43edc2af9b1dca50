"""Entropy and mutual-information estimators of libinfoflow on NumPy arrays (all in nats).

Every function takes samples as an (n, d) array, one sample per row (a 1-D array is n samples
of dimension 1). A C-contiguous float64 array is handed to the library as it is, without a
copy; any other array is converted first. Errors of the library are raised with its message:
ValueError for bad values (InfoflowValueError), MemoryError (InfoflowMemoryError).

The numbers are those of the command line for the same arguments: `sp_entropy(x, sigma, ...)`
prints like `infoflow entropy --sigma SIGMA ...` on the same array saved as .npy, `sp_mi`
like `infoflow mi --group-col ...`. The thread count never changes a number.
"""

import ctypes
import math
import warnings

from . import _native
from ._native import address, as_groups, as_samples, as_sigma, call, sp_options

__all__ = ["sp_entropy", "sp_mi", "sp_mi_terms", "sp_mi2", "sp_cmi", "pairwise_bounds",
           "bin_entropy", "bin_mi", "knn_entropy", "gaussian_entropy"]


def gaussian_entropy(d, sigma):
    """Differential entropy of N(0, sigma^2 I_d) in nats: (d/2) ln(2 pi e sigma^2)."""
    return float(_native.lib().iflow_gaussian_entropy(_native._size(d, "d"), float(sigma)))


SE_KINDS = ("total", "exact", "n/a")  # iflow_se_kind


def _estimate(e, name):
    """An iflow_estimate as the dict entries name, name_se, name_se_mc, name_se_kind, name_bias
    (NaN when not estimated) and name_corrected (value - bias). A total se that cannot be
    estimated (one sample per group) is NaN with kind "n/a", and a warning says so."""
    kind = SE_KINDS[e.se_kind] if 0 <= e.se_kind < len(SE_KINDS) else "?"
    if kind == "n/a":
        warnings.warn(f"{name}: the total standard error is n/a (a group holds a single sample); "
                      f"{name}_se_mc covers the Monte Carlo draws only", stacklevel=3)
    bias = e.bias if e.has_bias else math.nan
    return {name: e.value, f"{name}_se": e.se if kind != "n/a" else math.nan,
            f"{name}_se_mc": e.se_mc, f"{name}_se_kind": kind, f"{name}_bias": bias,
            f"{name}_corrected": e.value - bias}


def sp_entropy_terms(samples, sigma, mc=1, seed=1, tolerance=1e-6, threads=0, weights=None,
                     normals="v2", bias=True):
    """sp_entropy with every part of its error: dict with h, h_se (total: draws and samples),
    h_se_mc (draws only), h_se_kind, h_bias (finite-sample bias, NaN with bias=False) and
    h_corrected = h - h_bias (ESTIMATION.md section 11)."""
    s = as_samples(samples)
    n, d = s.shape
    beta, sig, cols = as_sigma(sigma, n, d)
    w = None
    if weights is not None:
        if sig is not None:
            raise ValueError("weights: not with a per-sample sigma (give equal-weight samples)")
        w = as_samples(weights, "weights").reshape(-1)
        if w.shape[0] != n:
            raise ValueError(f"weights: need one per sample ({n}), got {w.shape[0]}")
    opt = sp_options(beta, mc, seed, tolerance, threads, normals=normals, bias=bias)
    out = _native.Estimate()
    if sig is not None:
        call("iflow_sp_entropy_hetero", address(s), address(sig), cols, n, d, ctypes.byref(opt),
             ctypes.byref(out))
    else:
        call("iflow_sp_entropy", address(s), None if w is None else address(w), n, d,
             ctypes.byref(opt), ctypes.byref(out))
    return _estimate(out, "h")


def sp_entropy(samples, sigma, mc=1, seed=1, tolerance=1e-6, threads=0, weights=None,
               normals="v2", bias=True):
    """SP estimate of h(P * N(0, sigma^2 I)) from samples of P: the entropy of the Gaussian
    mixture with one component N(s_j, sigma^2 I) per sample (ESTIMATION.md section 3), by Monte
    Carlo with `mc` draws around every sample.

    Args:
        samples: (n, d) array of samples s_j.
        sigma: noise std (> 0): a scalar, or heteroscedastic noise (ESTIMATION.md section 12)
            N(0, diag(sigma_j^2)) around sample j: an (n,) array (a std per sample) or an
            (n, d) array (a std per coordinate), e.g. Gaussian dropout T = S * eps,
            eps ~ N(1, v): sigma = sqrt(v) * abs(samples). As `--sigma-file` on the CLI.
        mc: draws per sample (>= 1). The defaults (mc, tolerance, normals) are those of a
            run's [estimate] and of `infoflow entropy` / `mi`: the same numbers on every path.
        seed: seed of the draws (the draws around sample i come from stream i of this seed).
        tolerance: 0 for exact mixture sums; > 0 skips far samples so that every log-density is
            within `tolerance` of its exact value.
        threads: OpenMP threads, 0 = OpenMP's default; never changes the result.
        weights: optional n non-negative weights of the samples (None = equal).
        normals: generator of the draws, "v2" (default, as runs) or "v1" (configs/README.md);
            other draws of the same estimate.

        bias: also estimate the finite-sample bias (sp_entropy_terms; half as much work again).

    Returns:
        (h, se): the estimate and its total standard error (the draws and the samples, taken as
        i.i.d.), in nats; sp_entropy_terms gives the parts.
    """
    t = sp_entropy_terms(samples, sigma, mc, seed, tolerance, threads, weights, normals, bias)
    return t["h"], t["h_se"]


def _mi_terms(e, samples_exact=False):
    """An iflow_mi_estimate as the dict sp_mi_terms returns. samples_exact: the samples are not
    random (one per input of a layer no noise precedes): the total se is the Monte Carlo se."""
    t = {"n_groups": int(e.n_groups)}
    for name in ("mi", "h", "h_cond"):
        q = getattr(e, name)
        if samples_exact:
            q.se, q.se_kind, q.bias, q.has_bias = q.se_mc, 1, 0.0, 1
        t.update(_estimate(q, name))
    return t


def sp_mi_terms(samples, groups, sigma, mc=1, seed=1, tolerance=1e-6, threads=0,
                query_stride=1, stream=0, normals="v2", bias=True):
    """Grouped mutual information I(G;T) = h(T) - sum_g p_g h(T | G = g) with T = S + Z,
    Z ~ N(0, sigma^2 I), S drawn from the samples, G the group of the sample (p_g the fraction
    of samples in group g), by SP with common random numbers, and its terms.

    Args:
        samples, sigma, mc, seed, tolerance, threads, normals: as in sp_entropy.
        groups: one integer id per sample (any integers; renumbered in increasing order, as
            `infoflow mi --group-col` does).
        query_stride: 1 draws around every sample; s > 1 around samples 0, s, 2s, ... only
            (every mixture sum still runs over all samples): with the R samples of each input
            stored together, s = R / q keeps q queries per input.
        stream: first random stream of the draws (the CLI uses 0).
        bias: also estimate the finite-sample bias (half as much work again).

    Returns:
        dict with, for q in mi, h, h_cond (nats): q, q_se (total: the draws and the samples of
        each group, taken as i.i.d. given the group), q_se_mc (draws only), q_se_kind, q_bias,
        q_corrected (ESTIMATION.md section 11); and n_groups.
    """
    s = as_samples(samples)
    n, d = s.shape
    g, n_groups = as_groups(groups, n)
    beta, sig, cols = as_sigma(sigma, n, d)
    opt = sp_options(beta, mc, seed, tolerance, threads, stream, query_stride, normals, bias)
    out = _native.MiEstimate()
    if sig is not None:
        call("iflow_sp_grouped_hetero", address(s), address(sig), cols, n, d, address(g),
             n_groups, None, 0, ctypes.byref(opt), ctypes.byref(out), None, None)
    else:
        call("iflow_sp_grouped_mi", address(s), n, d, address(g), n_groups, ctypes.byref(opt),
             ctypes.byref(out))
    return _mi_terms(out)


def sp_mi(samples, groups, sigma, mc=1, seed=1, tolerance=1e-6, threads=0, normals="v2",
          bias=True):
    """SP estimate of the grouped mutual information I(G;T) (see sp_mi_terms), e.g. I(X;T) with
    groups = the input each sample came from, or I(Y;T) with groups = labels.

    Returns:
        (mi, se) in nats.
    """
    t = sp_mi_terms(samples, groups, sigma, mc, seed, tolerance, threads, normals=normals,
                    bias=bias)
    return t["mi"], t["mi_se"]


def sp_mi2(samples, groups_a, groups_b, sigma, mc=1, seed=1, tolerance=1e-6, threads=0,
           query_stride=1, stream=0, normals="v2", bias=True, samples_exact=False):
    """Two groupings of the same samples at once (e.g. by input for I(X;T) and by label for
    I(Y;T)), sharing the draws and the sums over all samples: the cost of one sp_mi_terms.
    Every standard error is stratified by groups_a (the inputs), so terms_b's se differ from
    sp_mi_terms(samples, groups_b)'s. samples_exact: the samples are exact given groups_a (one
    per input before any noise): the total se is the Monte Carlo se.

    Returns:
        (terms_a, terms_b): two dicts as returned by sp_mi_terms.
    """
    a, b, _ = _grouped2(samples, groups_a, groups_b, sigma, mc, seed, tolerance, threads,
                        query_stride, stream, normals, bias, samples_exact, conditional=False)
    return a, b


def sp_cmi(samples, groups_x, groups_y, sigma, mc=1, seed=1, tolerance=1e-6, threads=0,
           query_stride=1, stream=0, normals="v2", bias=True, samples_exact=False):
    """Conditional information I(X;T|Y) = I(X;T) - I(Y;T) for Y a function of X (every group
    of groups_x inside one group of groups_y, e.g. inputs and their labels), from the draws of
    sp_mi2: per draw the difference of the two integrands, so its standard error is that of one
    average (the two estimates' covariance included), stratified by groups_x like sp_mi2's.
    Arguments as in sp_mi2 (sigma may be per sample, as in sp_entropy).

    Returns:
        dict with cmi, cmi_se (total), cmi_se_mc, cmi_se_kind, cmi_bias, cmi_corrected (nats,
        as the terms of sp_mi_terms), x and y: the dicts of sp_mi2 (cmi equals
        x["mi"] - y["mi"] up to rounding).
    """
    a, b, c = _grouped2(samples, groups_x, groups_y, sigma, mc, seed, tolerance, threads,
                        query_stride, stream, normals, bias, samples_exact, conditional=True)
    if samples_exact:
        c.se, c.se_kind, c.bias, c.has_bias = c.se_mc, 1, 0.0, 1
    t = _estimate(c, "cmi")
    t.update({"x": a, "y": b})
    return t


def _grouped2(samples, groups_a, groups_b, sigma, mc, seed, tolerance, threads, query_stride,
              stream, normals, bias, samples_exact, conditional):
    """The two groupings' terms and, when conditional, I(A;T|B) (an Estimate, else None)."""
    s = as_samples(samples)
    n, d = s.shape
    ga, na = as_groups(groups_a, n, "groups_a")
    gb, nb = as_groups(groups_b, n, "groups_b")
    beta, sig, cols = as_sigma(sigma, n, d)
    opt = sp_options(beta, mc, seed, tolerance, threads, stream, query_stride, normals, bias)
    out_a, out_b = _native.MiEstimate(), _native.MiEstimate()
    cond = _native.Estimate() if conditional else None
    if sig is not None:
        call("iflow_sp_grouped_hetero", address(s), address(sig), cols, n, d, address(ga), na,
             address(gb), nb, ctypes.byref(opt), ctypes.byref(out_a), ctypes.byref(out_b),
             ctypes.byref(cond) if conditional else None)
    elif conditional:
        call("iflow_sp_grouped_cmi", address(s), n, d, address(ga), na, address(gb), nb,
             ctypes.byref(opt), ctypes.byref(out_a), ctypes.byref(out_b), ctypes.byref(cond))
    else:
        call("iflow_sp_grouped_mi2", address(s), n, d, address(ga), na, address(gb), nb,
             ctypes.byref(opt), ctypes.byref(out_a), ctypes.byref(out_b))
    return _mi_terms(out_a, samples_exact), _mi_terms(out_b, samples_exact), cond


def pairwise_bounds(samples, sigma, threads=0):
    """Kolchinsky-Tracey pairwise bounds on the entropy of the Gaussian mixture of sp_entropy
    (exact, no sampling), with D_ij = ||s_i - s_j||^2 and H_c = (d/2) ln(2 pi e sigma^2):
    upper = H_c - mean_i ln mean_j exp(-D_ij / (2 sigma^2)), lower the same with 8 sigma^2.

    Returns:
        (lower, upper) in nats.
    """
    s = as_samples(samples)
    n, d = s.shape
    lower, upper = ctypes.c_double(), ctypes.c_double()
    call("iflow_pairwise_bounds", address(s), n, d, float(sigma), _native._threads(threads),
         ctypes.byref(lower), ctypes.byref(upper))
    return lower.value, upper.value


def _binning(bin_width, bins, origin):
    """The iflow_binning for bin_width (with origin) or bins='szt30'; exactly one is given."""
    if (bin_width is None) == (bins is None):
        raise ValueError("give one of bin_width (a width > 0) and bins='szt30'")
    if bins is not None:
        if bins != "szt30":
            raise ValueError(f"bins accepts only 'szt30', got {bins!r}")
        return _native.Binning(_native.IFLOW_BIN_SZT30, 0.0, 0.0)
    return _native.Binning(_native.IFLOW_BIN_WIDTH, float(bin_width), float(origin))


def bin_entropy(samples, bin_width=None, bins=None, origin=0.0):
    """Plug-in entropy H(Bin(T)) of the binned samples: every coordinate is quantised (bin index
    floor((v - origin) / bin_width), or bins='szt30': Shwartz-Ziv & Tishby's 30 edges on
    [-1, 1]), and each row's vector of indices is one symbol.

    Returns:
        H in nats.
    """
    s = as_samples(samples)
    n, d = s.shape
    b = _binning(bin_width, bins, origin)
    h = ctypes.c_double()
    call("iflow_bin_entropy", address(s), n, d, ctypes.byref(b), ctypes.byref(h))
    return h.value


def bin_mi(samples, groups, bin_width=None, bins=None, origin=0.0):
    """Binned mutual information I(G; Bin T) = H(Bin T) - sum_g p_g H(Bin T | G = g), binning
    as in bin_entropy, groups as in sp_mi.

    Returns:
        (mi, h, h_cond) in nats.
    """
    s = as_samples(samples)
    n, d = s.shape
    g, n_groups = as_groups(groups, n)
    b = _binning(bin_width, bins, origin)
    h, h_cond = ctypes.c_double(), ctypes.c_double()
    call("iflow_bin_grouped", address(s), n, d, ctypes.byref(b), address(g), n_groups,
         ctypes.byref(h), ctypes.byref(h_cond))
    return h.value - h_cond.value, h.value, h_cond.value


def knn_entropy(samples, k=3, threads=0):
    """Kozachenko-Leonenko k-nearest-neighbour estimate of the differential entropy of the
    distribution the samples come from (no smoothing):
    h = psi(n) - psi(k) + ln V_d + (d/n) sum_i ln eps_i, eps_i the distance to the k-th neighbour.

    Returns:
        h in nats.
    """
    s = as_samples(samples)
    n, d = s.shape
    h = ctypes.c_double()
    call("iflow_knn_entropy", address(s), n, d, _native._size(k, "k"), _native._threads(threads),
         ctypes.byref(h))
    return h.value


# ---- sliced SP and clustering measures ------------------------------------------------------
# Sliced SP (ESTIMATION.md section 7) and the clustering measures (section 8) are in the C
# library; wrappers for them would belong here, written like sp_mi_terms: a signature in
# _native._SIGNATURES, arrays through as_samples/as_groups, the call through `call`, and a test
# against the CLI's JSON in python/tests/test_estimators.py.
