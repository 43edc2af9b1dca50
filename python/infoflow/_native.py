"""Loading libinfoflow.so and calling it through ctypes.

Everything that knows about the C side lives here: where the library is looked for, the
argument types of the functions used, the layout of the few structs passed by pointer, the
conversion of NumPy arrays (no copy when already C-contiguous float64) and the mapping of the
library's IFLOW_E* codes (include/infoflow/error.h) to Python exceptions.
"""

import ctypes
import os
import threading
from pathlib import Path

import numpy as np

from . import _blas_core

__all__ = ["lib", "library_path", "call", "as_samples", "as_groups", "InfoflowError"]

LIBRARY_ENV = "INFOFLOW_LIBRARY"
_LIBRARY_NAME = "libinfoflow.so"

# ---- errors ----------------------------------------------------------------------------------

# Codes of include/infoflow/error.h.
IFLOW_EIO, IFLOW_EPARSE, IFLOW_EINVAL, IFLOW_ENOMEM = -1, -2, -3, -4
IFLOW_ECORRUPT, IFLOW_ENUMERIC, IFLOW_EBUSY = -5, -6, -7


class InfoflowError(Exception):
    """Base of every error the C library reports; ``code`` is its IFLOW_E* code (negative)."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


class InfoflowValueError(InfoflowError, ValueError):
    """Bad value, shape, option or file content (IFLOW_EINVAL, EPARSE, ECORRUPT, ENUMERIC)."""


class InfoflowMemoryError(InfoflowError, MemoryError):
    """The library could not allocate what the call needs (IFLOW_ENOMEM)."""


class InfoflowOSError(InfoflowError, OSError):
    """A file could not be read or written, or is in use (IFLOW_EIO, IFLOW_EBUSY)."""


_ERROR_CLASS = {
    IFLOW_EIO: InfoflowOSError,
    IFLOW_EPARSE: InfoflowValueError,
    IFLOW_EINVAL: InfoflowValueError,
    IFLOW_ENOMEM: InfoflowMemoryError,
    IFLOW_ECORRUPT: InfoflowValueError,
    IFLOW_ENUMERIC: InfoflowValueError,
    IFLOW_EBUSY: InfoflowOSError,
}


def error_for(code, message):
    """The exception for a negative IFLOW_E* code and the C message (ValueError for unknown
    codes, so that no failure passes silently)."""
    return _ERROR_CLASS.get(code, InfoflowValueError)(message, code)


# ---- structs (the layouts of the public headers) ---------------------------------------------

# Room after every struct the library fills: if a field is appended to a C struct before this
# file is updated, the library writes into the reserve instead of past the Python object.
_RESERVE = 256


class Error(ctypes.Structure):
    """iflow_error (error.h)."""
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 1024),
                ("_reserve", ctypes.c_char * _RESERVE)]


class SpOptions(ctypes.Structure):
    """iflow_sp_options (entropy.h); filled by iflow_sp_options_default, then set field by field."""
    _fields_ = [("beta", ctypes.c_double), ("mc", ctypes.c_size_t), ("seed", ctypes.c_uint64),
                ("stream", ctypes.c_uint64), ("tolerance", ctypes.c_double),
                ("threads", ctypes.c_int), ("query_stride", ctypes.c_size_t),
                ("normals", ctypes.c_int), ("bias", ctypes.c_int),
                ("_reserve", ctypes.c_char * _RESERVE)]


class Estimate(ctypes.Structure):
    """iflow_estimate (entropy.h)."""
    _fields_ = [("value", ctypes.c_double), ("se", ctypes.c_double), ("se_mc", ctypes.c_double),
                ("bias", ctypes.c_double), ("se_kind", ctypes.c_int), ("has_bias", ctypes.c_int)]


class MiEstimate(ctypes.Structure):
    """iflow_mi_estimate (entropy.h)."""
    _fields_ = [("mi", Estimate), ("h", Estimate), ("h_cond", Estimate),
                ("n_groups", ctypes.c_size_t), ("_reserve", ctypes.c_char * _RESERVE)]


class Binning(ctypes.Structure):
    """iflow_binning (binning.h)."""
    _fields_ = [("kind", ctypes.c_int), ("width", ctypes.c_double), ("origin", ctypes.c_double)]


class CheckpointMeta(ctypes.Structure):
    """iflow_checkpoint_meta (checkpoint.h)."""
    _fields_ = [("epoch", ctypes.c_long), ("config_hash", ctypes.c_uint64),
                ("_reserve", ctypes.c_char * _RESERVE)]


IFLOW_BIN_WIDTH, IFLOW_BIN_SZT30 = 0, 1

# ---- signatures ------------------------------------------------------------------------------

_P = ctypes.c_void_p  # arrays are passed as their data address (see as_samples)
_SZ = ctypes.c_size_t
_D = ctypes.c_double
_ERR = ctypes.POINTER(Error)

_SIGNATURES = {
    "iflow_sp_options_default": (None, [ctypes.POINTER(SpOptions)]),
    "iflow_gaussian_entropy": (_D, [_SZ, _D]),
    "iflow_sp_entropy": (ctypes.c_int, [_P, _P, _SZ, _SZ, ctypes.POINTER(SpOptions),
                                        ctypes.POINTER(Estimate), _ERR]),
    "iflow_pairwise_bounds": (ctypes.c_int, [_P, _SZ, _SZ, _D, ctypes.c_int,
                                             ctypes.POINTER(_D), ctypes.POINTER(_D), _ERR]),
    "iflow_knn_entropy": (ctypes.c_int, [_P, _SZ, _SZ, _SZ, ctypes.c_int, ctypes.POINTER(_D),
                                         _ERR]),
    "iflow_sp_grouped_mi": (ctypes.c_int, [_P, _SZ, _SZ, _P, _SZ, ctypes.POINTER(SpOptions),
                                           ctypes.POINTER(MiEstimate), _ERR]),
    "iflow_sp_grouped_mi2": (ctypes.c_int, [_P, _SZ, _SZ, _P, _SZ, _P, _SZ,
                                            ctypes.POINTER(SpOptions), ctypes.POINTER(MiEstimate),
                                            ctypes.POINTER(MiEstimate), _ERR]),
    "iflow_sp_grouped_cmi": (ctypes.c_int, [_P, _SZ, _SZ, _P, _SZ, _P, _SZ,
                                            ctypes.POINTER(SpOptions), ctypes.POINTER(MiEstimate),
                                            ctypes.POINTER(MiEstimate), ctypes.POINTER(Estimate),
                                            _ERR]),
    "iflow_sp_entropy_hetero": (ctypes.c_int, [_P, _P, _SZ, _SZ, _SZ, ctypes.POINTER(SpOptions),
                                               ctypes.POINTER(Estimate), _ERR]),
    "iflow_sp_grouped_hetero": (ctypes.c_int, [_P, _P, _SZ, _SZ, _SZ, _P, _SZ, _P, _SZ,
                                               ctypes.POINTER(SpOptions),
                                               ctypes.POINTER(MiEstimate),
                                               ctypes.POINTER(MiEstimate),
                                               ctypes.POINTER(Estimate), _ERR]),
    "iflow_bin_entropy": (ctypes.c_int, [_P, _SZ, _SZ, ctypes.POINTER(Binning),
                                         ctypes.POINTER(_D), _ERR]),
    "iflow_bin_grouped": (ctypes.c_int, [_P, _SZ, _SZ, ctypes.POINTER(Binning), _P, _SZ,
                                         ctypes.POINTER(_D), ctypes.POINTER(_D), _ERR]),
    "iflow_checkpoint_load_net": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(CheckpointMeta),
                                                 ctypes.POINTER(_P), _ERR]),
    "iflow_net_shape": (_SZ, [_P, _P, _P, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(_D)]),
    "iflow_net_layer_params": (ctypes.c_int, [_P, _SZ, _P, _P, _ERR]),
    "iflow_net_block_info": (ctypes.c_int, [_P, _SZ, _P, _ERR]),
    "iflow_net_free": (None, [_P]),
    "iflow_activation_name": (ctypes.c_char_p, [ctypes.c_int]),
    "iflow_strerror": (ctypes.c_char_p, [ctypes.c_int]),
    "iflow_blas_core": (ctypes.c_char_p, []),
    "iflow_blas_better_core": (ctypes.c_char_p, []),
}

# ---- finding the library ---------------------------------------------------------------------


def _candidates():
    """(description, path) in the order they are tried: $INFOFLOW_LIBRARY alone when set, else
    where `meson install` put the library (recorded in _installed.py at install), else the
    build tree of the source checkout this package sits in (python/infoflow -> build/)."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return [(f"${LIBRARY_ENV}", env)]
    found = []
    try:
        from . import _installed  # written by meson install (python/meson.build)
        found.append(("meson install", _installed.LIBRARY))
    except ImportError:
        pass
    root = Path(__file__).resolve().parent.parent.parent
    # The build tree holds the versioned names only (meson makes the plain .so link at install).
    found.append(("build tree", str(root / "build" / (_LIBRARY_NAME + ".0"))))
    return found


_lock = threading.Lock()
_lib = None
_path = None


def _load():
    """Loads the first candidate that exists and has every function of _SIGNATURES; raises
    OSError listing each path tried and why it failed."""
    global _lib, _path
    tried = []
    for what, path in _candidates():
        if not os.path.isfile(path):
            tried.append(f"  {path} ({what}): no such file")
            continue
        try:
            handle = ctypes.CDLL(path)
            for name, (restype, argtypes) in _SIGNATURES.items():
                fn = getattr(handle, name)
                fn.restype, fn.argtypes = restype, argtypes
        except (OSError, AttributeError) as e:
            tried.append(f"  {path} ({what}): {e}")
            continue
        _lib, _path = handle, path
        _blas_core.check(handle)
        return
    hint = (f"build it (meson setup build && ninja -C build), run `meson install -C build`, or set "
            f"{LIBRARY_ENV} to the path of {_LIBRARY_NAME}")
    raise OSError(f"infoflow: cannot load {_LIBRARY_NAME}; tried:\n" + "\n".join(tried) +
                  f"\n{hint}")


def lib():
    """The loaded library (a ctypes.CDLL with typed functions), loaded on first use."""
    if _lib is None:
        with _lock:
            if _lib is None:
                _load()
    return _lib


def library_path():
    """Path of the libinfoflow.so in use (loads it if needed)."""
    lib()
    return _path


def call(name, *args):
    """Calls the library function `name` with args and a fresh iflow_error appended; raises the
    mapped exception with the C message when it returns a negative code. Returns its result."""
    err = Error()
    rc = getattr(lib(), name)(*args, ctypes.byref(err))
    if rc != 0:
        msg = err.msg.decode("utf-8", "replace") or lib().iflow_strerror(rc).decode()
        raise error_for(rc, msg)
    return rc


# ---- arrays ----------------------------------------------------------------------------------


def as_samples(samples, name="samples"):
    """samples as an (n, d) C-contiguous float64 array: the same object (no copy) when it is
    one already, else a converted copy. A 1-D array is n samples of dimension 1."""
    a = np.asarray(samples)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2:
        raise ValueError(f"{name}: need a 2-D array (n samples x d), got shape {a.shape}")
    if a.dtype.kind not in "fiub":
        raise ValueError(f"{name}: need numbers, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float64)


def as_groups(groups, n, name="groups"):
    """One integer id per sample -> (ids renumbered 0..G-1 in increasing order of value, as
    size_t, and G). The CLI's `mi --group-col` renumbers the same way, so results match."""
    g = np.asarray(groups)
    if g.ndim != 1 or g.shape[0] != n:
        raise ValueError(f"{name}: need one id per sample ({n}), got shape {g.shape}")
    if g.dtype.kind == "f":
        if not np.all(np.isfinite(g)) or np.any(g != np.floor(g)):
            raise ValueError(f"{name}: ids must be integers")
    elif g.dtype.kind not in "iub":
        raise ValueError(f"{name}: ids must be integers, got dtype {g.dtype}")
    values, inverse = np.unique(g, return_inverse=True)
    return np.ascontiguousarray(inverse, dtype=np.uintp), len(values)


def as_sigma(sigma, n, d):
    """The noise std of the SP estimators: a scalar -> (float, None, 0) (isotropic); an (n,) or
    (n, 1) array (a std per sample) or an (n, d) array (a std per coordinate) -> (1.0, the
    C-contiguous float64 array, its column count) (heteroscedastic)."""
    a = np.asarray(sigma)
    if a.ndim == 0:
        return float(a), None, 0
    if a.dtype.kind not in "fiu":
        raise ValueError(f"sigma: need numbers, got dtype {a.dtype}")
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2 or a.shape[0] != n or a.shape[1] not in (1, d):
        raise ValueError(f"sigma: need a scalar, an ({n},) or an ({n}, 1) or ({n}, {d}) array, "
                         f"got shape {np.asarray(sigma).shape}")
    return 1.0, np.ascontiguousarray(a, dtype=np.float64), a.shape[1]


def address(a):
    """The data address of a C-contiguous array, as passed to the library."""
    return a.ctypes.data


NORMALS = {"v1": 0, "v2": 1}  # iflow_normals


def sp_options(sigma, mc, seed, tolerance, threads, stream=0, query_stride=1, normals="v2",
               bias=True):
    """An iflow_sp_options with the library's defaults, then these fields."""
    if normals not in NORMALS:
        raise ValueError(f"normals: must be 'v1' or 'v2', got {normals!r}")
    opt = SpOptions()
    lib().iflow_sp_options_default(ctypes.byref(opt))
    opt.beta = float(sigma)
    opt.mc = _size(mc, "mc")
    opt.seed = _size(seed, "seed")
    opt.stream = _size(stream, "stream")
    opt.tolerance = float(tolerance)
    opt.threads = _threads(threads)
    opt.query_stride = _size(query_stride, "query_stride")
    opt.normals = NORMALS[normals]
    opt.bias = 1 if bias else 0
    return opt


def _size(v, name):
    """v as an int in [0, 2^64) (size_t, uint64; ctypes would wrap larger values silently), or
    ValueError naming the argument."""
    if isinstance(v, (bool, np.bool_)) or int(v) != v or not 0 <= v < 2**64:
        raise ValueError(f"{name} must be an integer in [0, 2^64), got {v!r}")
    return int(v)


def _threads(v):
    """A thread count in [0, 4096] (the CLI's range)."""
    t = _size(v, "threads")
    if t > 4096:
        raise ValueError(f"threads must be in [0, 4096], got {v!r}")
    return t
