"""The package imports without torch, and finds (or clearly fails to find) the library."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import infoflow

PACKAGE = Path(infoflow.__file__).resolve().parent


def python(code, env_update, cwd=None):
    env = {k: v for k, v in os.environ.items() if k != "INFOFLOW_LIBRARY"}
    env.update(env_update)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


def test_core_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"  # makes `import torch` fail
            "import infoflow, numpy as np\n"
            "print(infoflow.sp_entropy(np.arange(10.0), 0.5)[0] > 0)\n"
            "try:\n    import infoflow.torch\nexcept ImportError:\n    print('no torch')\n")
    p = python(code, {"PYTHONPATH": str(PACKAGE.parent),
                      "INFOFLOW_LIBRARY": infoflow.library_path()})
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["True", "no", "torch"]


def copy_package(tmp_path, installed=None):
    """A copy of the package outside the source tree (so no build tree next to it), with an
    _installed.py as `meson install` writes it when `installed` is given."""
    dst = tmp_path / "site" / "infoflow"
    shutil.copytree(PACKAGE, dst, ignore=shutil.ignore_patterns("__pycache__", "_installed.py"))
    if installed:
        (dst / "_installed.py").write_text(f"LIBRARY = {installed!r}\n")
    return dst.parent


def test_library_lookup_order(tmp_path):
    lib = infoflow.library_path()
    code = "import infoflow; print(infoflow.library_path())"
    # Installed: the path recorded at install time.
    site = copy_package(tmp_path, installed=lib)
    p = python(code, {"PYTHONPATH": str(site)})
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == lib
    # INFOFLOW_LIBRARY wins over it; a copy proves which file was loaded.
    other = tmp_path / "copy" / "libinfoflow.so"
    other.parent.mkdir()
    shutil.copy(lib, other)
    p = python(code, {"PYTHONPATH": str(site), "INFOFLOW_LIBRARY": str(other)})
    assert p.stdout.strip() == str(other), p.stderr


def test_missing_library_names_every_path_tried(tmp_path):
    code = "import infoflow, numpy as np; infoflow.sp_entropy(np.zeros((3, 1)), 1.0)"
    site = copy_package(tmp_path, installed=str(tmp_path / "gone" / "libinfoflow.so"))
    p = python(code, {"PYTHONPATH": str(site)})
    assert p.returncode != 0
    assert "cannot load libinfoflow.so; tried:" in p.stderr
    assert f"{tmp_path}/gone/libinfoflow.so (meson install): no such file" in p.stderr
    assert f"{tmp_path}/build/libinfoflow.so.0 (build tree): no such file" in p.stderr
    assert "INFOFLOW_LIBRARY" in p.stderr
    # Set but wrong: only that path, and why it failed.
    bad = tmp_path / "not-a-library.so"
    bad.write_text("hello")
    p = python(code, {"PYTHONPATH": str(site), "INFOFLOW_LIBRARY": str(bad)})
    tried = p.stderr.split("tried:\n")[1].splitlines()
    assert tried[0].startswith(f"  {bad} ($INFOFLOW_LIBRARY): ")
    assert not tried[1].startswith("  ")  # the only path tried: no fallback


def test_meson_install_puts_a_working_package_on_the_path(tmp_path):
    """`meson install` into a DESTDIR: the package lands in a directory /usr/bin/python3 searches
    (for the prefix /usr/local), records where the library went, and works from there."""
    build = os.environ.get("IFLOW_BUILD_ROOT")
    if not build:
        pytest.skip("IFLOW_BUILD_ROOT not set (meson test sets it)")
    dest = tmp_path / "dest"
    p = subprocess.run(["meson", "install", "-C", build, "--no-rebuild", "--quiet",
                        "--destdir", str(dest)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    [installed] = list(dest.rglob("infoflow/_installed.py"))
    site = installed.parent.parent
    library = installed.read_text().split("LIBRARY = ")[1].strip().strip("'")
    assert (dest / library.lstrip("/")).is_file()
    prefix = library.split("/lib/")[0]
    if prefix == "/usr/local":
        in_path = subprocess.run(["/usr/bin/python3", "-c", "import sys; print(sys.path)"],
                                 capture_output=True, text=True, env={}).stdout
        assert "'/" + str(site.relative_to(dest)) + "'" in in_path
    code = ("import infoflow, numpy as np; print(infoflow.__file__); "
            "print(infoflow.sp_entropy(np.arange(5.0), 1.0, tolerance=0))")
    p = python(code, {"PYTHONPATH": str(site), "INFOFLOW_LIBRARY": str(dest / library.lstrip("/"))})
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == str(site / "infoflow" / "__init__.py")
    assert p.stdout.splitlines()[1] == str(infoflow.sp_entropy(np.arange(5.0), 1.0, tolerance=0))


def test_out_of_memory_is_memory_error():
    """A real IFLOW_ENOMEM: the address space capped just above what the process holds, in a
    subprocess, so that the library's first large allocation fails."""
    code = """
import resource, numpy as np, infoflow
infoflow.library_path()
x = np.random.default_rng(0).normal(size=(2_000_000, 1))
vm = int([l for l in open('/proc/self/status') if l.startswith('VmSize')][0].split()[1]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + 4 * 2**20, resource.RLIM_INFINITY))
for f in (lambda: infoflow.knn_entropy(x, threads=1),
          lambda: infoflow.sp_entropy(x, 0.1, threads=1)):
    try:
        f()
        print('no error')
    except MemoryError as e:
        print(type(e).__name__, e.code, e)
"""
    p = python(code, {"PYTHONPATH": str(PACKAGE.parent), "OMP_NUM_THREADS": "1",
                      "INFOFLOW_LIBRARY": infoflow.library_path()})
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        "InfoflowMemoryError -4 iflow_knn_entropy: out of memory (n = 2000000)",
        "InfoflowMemoryError -4 iflow_sp_entropy: out of memory (n = 2000000)"]


class _Stream:
    """A text stream that says whether it is a terminal."""

    def __init__(self, tty):
        self.tty, self.text = tty, ""

    def isatty(self):
        return self.tty

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_progress_as_the_command_line_shows_it(monkeypatch):
    from infoflow import _progress
    # Off a terminal: nothing before EVERY seconds (a short call stays silent), then plain lines.
    quiet = _Stream(False)
    p = _progress.Progress("measure", 4, stream=quiet)
    for done in range(5):
        p.update(done, f"layer {done}")
    p.close()
    assert quiet.text == ""
    monkeypatch.setattr(_progress, "EVERY", 0.0)
    log = _Stream(False)
    p = _progress.Progress("measure", 4, stream=log)
    p.update(1, "layer 'b' (2/4)")
    p.update(4, "done")
    p.close()
    lines = log.text.splitlines()
    assert len(lines) == 2 and "\r" not in log.text and "\033" not in log.text
    assert lines[0].startswith("measure: layer 'b' (2/4)  [ 25%") and "ETA" in lines[0]
    assert lines[1].startswith("measure: done  [100%") and lines[1].endswith("ETA 0s]")
    # On a terminal: one refreshing line, cleared at the end; progress=False: nothing.
    term = _Stream(True)
    p = _progress.Progress("measure", 2, stream=term)
    p.update(2, "done")
    p.close()
    assert term.text.startswith("\r\033[Kmeasure: done  [100%") and term.text.endswith("\r\033[K")
    off = _Stream(True)
    p = _progress.Progress("measure", 2, enabled=False, stream=off)
    p.update(2, "done")
    p.close()
    assert off.text == ""


def test_openblas_core_rule():
    from infoflow._blas_core import core_for_flags
    assert core_for_flags({"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx2", "fma"}) == \
        "SkylakeX"
    assert core_for_flags({"avx512f", "avx2", "fma"}) == "Haswell"  # no BW/DQ/VL: AVX2 kernels
    assert core_for_flags({"avx2", "fma"}) == "Haswell"
    assert core_for_flags({"avx", "sse3"}) is None


def test_openblas_core_set_before_loading():
    """Importing infoflow sets OPENBLAS_CORETYPE from the CPU when unset, before NumPy and the
    library load OpenBLAS (which then runs that core), and keeps a value the user set."""
    from infoflow._blas_core import _cpu_flags, core_for_flags
    code = ("import os, infoflow\n"
            "from infoflow._native import lib\n"
            "print(os.environ.get('OPENBLAS_CORETYPE', '-'), lib().iflow_blas_core().decode())\n")
    base = {"PYTHONPATH": str(PACKAGE.parent), "INFOFLOW_LIBRARY": infoflow.library_path()}
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    env.update(base)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    want = core_for_flags(_cpu_flags())
    chosen, running = p.stdout.split()
    assert chosen == (want or "-")
    if want:
        assert running == want
    p = python(code, dict(base, OPENBLAS_CORETYPE="Core2"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["Core2", "Core2"]
