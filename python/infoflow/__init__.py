"""infoflow: the information-flow estimators of libinfoflow (C) on NumPy arrays.

    import numpy as np, infoflow
    h, se = infoflow.sp_entropy(np.random.default_rng(1).normal(size=(2000, 3)), sigma=0.1)

Estimators: sp_entropy, sp_entropy_terms, sp_mi, sp_mi_terms, sp_mi2, sp_cmi, pairwise_bounds,
bin_entropy, bin_mi, knn_entropy, gaussian_entropy (all in nats). Run directories: read_run,
read_csv, read_info,
load_checkpoint. PyTorch models: infoflow.torch.measure (imports torch; this module does not).
The library is found through $INFOFLOW_LIBRARY, else where `meson install` put it, else the
build tree (library_path() says which). Importing it sets OPENBLAS_CORETYPE when unset and
OpenBLAS would otherwise run generic kernels on this CPU (docs/PERFORMANCE.md).
"""

from . import _blas_core

_blas_core.choose()  # before anything loads NumPy, and with it OpenBLAS

from ._native import (InfoflowError, InfoflowMemoryError, InfoflowOSError, InfoflowValueError,
                      library_path)
from .estimators import (bin_entropy, bin_mi, gaussian_entropy, knn_entropy, pairwise_bounds,
                         sp_cmi, sp_entropy, sp_entropy_terms, sp_mi, sp_mi2, sp_mi_terms)
from .runs import load_checkpoint, read_csv, read_info, read_run

__version__ = "0.1.0"

__all__ = ["sp_entropy", "sp_entropy_terms", "sp_mi", "sp_mi_terms", "sp_mi2", "sp_cmi",
           "pairwise_bounds", "bin_entropy", "bin_mi", "knn_entropy", "gaussian_entropy",
           "read_run", "read_csv", "read_info",
           "load_checkpoint", "library_path", "InfoflowError", "InfoflowValueError",
           "InfoflowMemoryError", "InfoflowOSError"]
