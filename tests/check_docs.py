#!/usr/bin/env python3
"""Runs the shell and Python examples of README.md and docs/PYTHON.md against a build, so a
stale example fails `meson test` (suite `docs`).

Usage: check_docs.py SRCDIR BUILDDIR [--no-python] [FILE.md ...]

Fenced blocks tagged ```sh are run line by line with bash (a line ending in `\\` continues), in
a temporary copy of the parts of the tree the examples read (configs/, datasets/, python/,
tools/, results/szt-tanh/), with `build` a link to BUILDDIR; a line whose comment starts with
`# slow` is skipped, and so is Python with --no-python (a sanitizer build's library
cannot be loaded into an uninstrumented python3). Blocks tagged ```python are run with PYTHONPATH=python and the build's
library; when the next fenced block is tagged ```output, stdout must equal it. A block tagged
```output-lines after a shell block lists lines its last command must print (durations such as
`(18.4 s)` and `...` lines aside). Other tags
(```sh-skip for set-up commands that need root or minutes, ```ini, ```c, plain ```) are not run.
Exit status 1, naming the file, line and command, if any example fails.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```([A-Za-z0-9_-]*)\s*$")


def blocks(path):
    """(tag, first line number, [lines]) of every fenced block of a Markdown file."""
    out, cur = [], None
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            m = FENCE.match(line.rstrip("\n"))
            if cur is None and m:
                cur = (m.group(1), no + 1, [])
            elif cur is not None and line.rstrip("\n") == "```":
                out.append(cur)
                cur = None
            elif cur is not None:
                cur[2].append(line.rstrip("\n"))
    if cur is not None:
        sys.exit(f"{path}:{cur[1] - 1}: unterminated code block")
    return out


def commands(lines, first):
    """(line number, command) of a shell block; continuation lines joined."""
    cmd, start = "", None
    for i, line in enumerate(lines):
        if start is None:
            start = first + i
        if line.endswith("\\"):
            cmd += line[:-1] + " "
            continue
        cmd += line
        if cmd.strip() and not cmd.lstrip().startswith("#"):
            yield start, cmd
        cmd, start = "", None


def times(text):
    """Text with durations such as '(18.4 s)' made equal: they differ from run to run."""
    return re.sub(r"\(\d+(\.\d+)? s\)", "(T s)", text)


def is_slow(cmd):
    return re.search(r"#\s*slow\b", cmd) is not None


def sandbox(src, build):
    tmp = tempfile.mkdtemp(prefix="infoflow-docs-")
    for d in ("configs", "datasets", "python", "tools"):
        shutil.copytree(os.path.join(src, d), os.path.join(tmp, d),
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(os.path.join(src, "results", "szt-tanh"),
                    os.path.join(tmp, "results", "szt-tanh"),
                    ignore=shutil.ignore_patterns("checkpoints"))
    os.symlink(os.path.abspath(build), os.path.join(tmp, "build"))
    return tmp


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    python = "--no-python" not in sys.argv
    if len(args) < 2:
        sys.exit(__doc__)
    src, build, files = args[0], args[1], args[2:] or ["README.md", "docs/PYTHON.md"]
    tmp = sandbox(src, build)
    env = dict(os.environ, PYTHONPATH="python", PYTHONDONTWRITEBYTECODE="1",
               INFOFLOW_LIBRARY=os.path.join(os.path.abspath(build), "libinfoflow.so"))
    failed = ran = skipped = 0
    try:
        for name in files:
            bl = blocks(os.path.join(src, name))
            for k, (tag, first, lines) in enumerate(bl):
                if tag == "sh":
                    last = None
                    for no, cmd in commands(lines, first):
                        if is_slow(cmd) or (not python and "python3" in cmd):
                            why = "slow" if is_slow(cmd) else "--no-python"
                            print(f"{name}:{no}: skipped ({why}): {cmd}")
                            skipped += 1
                            continue
                        r = subprocess.run(["bash", "-c", "set -eo pipefail; " + cmd], cwd=tmp,
                                           env=env, capture_output=True, text=True)
                        ran += 1
                        if r.returncode != 0:
                            failed += 1
                            print(f"{name}:{no}: FAILED (exit {r.returncode}): {cmd}\n"
                                  f"{r.stdout[-2000:]}{r.stderr[-2000:]}")
                        else:
                            print(f"{name}:{no}: ok: {cmd}")
                        last = r.stdout + r.stderr
                    if last is not None and k + 1 < len(bl) and bl[k + 1][0] == "output-lines":
                        missing = [l for l in bl[k + 1][2]
                                   if l.strip() != "..." and times(l) not in times(last)]
                        if missing:
                            failed += 1
                            print(f"{name}:{bl[k + 1][1]}: FAILED: the command above did not print\n"
                                  + "\n".join(missing) + f"\nbut printed\n{last[-3000:]}")
                elif tag == "python":
                    if not python:
                        print(f"{name}:{first}: skipped (--no-python): python block")
                        skipped += 1
                        continue
                    r = subprocess.run(["/usr/bin/python3", "-"], input="\n".join(lines) + "\n",
                                       cwd=tmp, env=env, capture_output=True, text=True)
                    ran += 1
                    want = None
                    if k + 1 < len(bl) and bl[k + 1][0] == "output":
                        want = "\n".join(bl[k + 1][2]) + "\n"
                    if r.returncode != 0:
                        failed += 1
                        print(f"{name}:{first}: FAILED (exit {r.returncode}): python block\n"
                              f"{r.stderr[-3000:]}")
                    elif want is not None and r.stdout != want:
                        failed += 1
                        print(f"{name}:{first}: FAILED: the python block printed\n{r.stdout}"
                              f"but {name}:{bl[k + 1][1]} shows\n{want}")
                    else:
                        print(f"{name}:{first}: ok: python block"
                              + (" (output as shown)" if want is not None else ""))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"docs: {ran} run, {skipped} skipped, {failed} failed")
    return 1 if failed or not ran else 0


if __name__ == "__main__":
    sys.exit(main())
