"""Choosing OpenBLAS's kernels before the library is loaded (docs/PERFORMANCE.md).

A DYNAMIC_ARCH OpenBLAS older than the CPU falls back to generic SSE3 kernels ("Prescott"),
about 4x slower than its AVX-512 ones, and reads OPENBLAS_CORETYPE only once, when it is loaded
(by NumPy or by libinfoflow, whichever comes first). So this runs before anything imports NumPy:
if OPENBLAS_CORETYPE is unset (a value the user set, any value, is kept), it is set from the CPU
flags the kernel reports. After libinfoflow is loaded, check() says in one warning if OpenBLAS
still runs generic kernels on a CPU that has faster ones (NumPy had loaded OpenBLAS before).
"""

import os

CORE_ENV = "OPENBLAS_CORETYPE"
_chosen = None


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def core_for_flags(flags):
    """The OPENBLAS_CORETYPE for a CPU with these /proc/cpuinfo flags (the rule of
    iflow_blas_better_core), or None."""
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return None


def choose():
    """Sets OPENBLAS_CORETYPE if unset and the CPU has AVX2 or AVX-512; returns the value set."""
    global _chosen
    if CORE_ENV not in os.environ:
        core = core_for_flags(_cpu_flags())
        if core:
            os.environ[CORE_ENV] = core
            _chosen = core
    return _chosen


def check(lib):
    """After loading libinfoflow: one warning if OpenBLAS runs generic kernels where the CPU has
    faster ones and the user did not choose them."""
    import warnings
    better = lib.iflow_blas_better_core()
    if better and (_chosen or CORE_ENV not in os.environ):
        warnings.warn(f"infoflow: OpenBLAS runs its generic {lib.iflow_blas_core().decode()} "
                      f"kernels (it was loaded before infoflow); set {CORE_ENV}="
                      f"{better.decode()} before starting Python for faster matrix products",
                      RuntimeWarning, stacklevel=3)
