#!/usr/bin/env bash
# One-command set-up for infoflow on Debian 12 (as root): installs what is missing, builds, then
#   tools/setup.sh run   trains the default experiment (configs/szt-tanh.ini -> results/runs/szt-tanh)
#   tools/setup.sh test  runs the test suite, then again under ASan + UBSan (build-asan)
# Safe to re-run: installs only what is missing, rebuilds incrementally, and `run` resumes.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
case "$mode" in
  run|test) ;;
  *) echo "usage: tools/setup.sh run|test" >&2; exit 2 ;;
esac

packages=(gcc meson ninja-build pkg-config libopenblas-dev zlib1g-dev libpng-dev libinih-dev
          libcairo2-dev check fonts-dejavu-core dataset-fashion-mnist libopenmpi-dev openmpi-bin
          python3-numpy python3-pytest python3-torch clang-format)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "infoflow setup: missing packages: ${missing[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "infoflow setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# With MPI (Open MPI): `mpirun -np N build/infoflow estimate|run|entropy|mi ...` (docs/SCALING.md).
if [ -f build/build.ninja ]; then
  meson setup --reconfigure build -Dmpi=enabled >/dev/null
else
  # -march=native: this build runs this machine's experiments (an installed library should not)
  meson setup build -Dnative=true -Dmpi=enabled
fi
ninja -C build

if [ "$mode" = run ]; then
  # Into results/runs/ (not tracked): results/szt-tanh holds the committed reference outputs.
  exec build/infoflow run configs/szt-tanh.ini --resume --out results/runs/szt-tanh
else
  # The tree stays formatted (.clang-format; tools/format applies it).
  tools/format --check
  meson test -C build --no-suite slow --print-errorlogs
  # The same tests under AddressSanitizer + UndefinedBehaviorSanitizer (and LeakSanitizer); no
  # -march=native, so the build also runs under valgrind. UB halts, so it fails the test.
  if [ -f build-asan/build.ninja ]; then
    meson setup --reconfigure build-asan -Dmpi=enabled >/dev/null
  else
    meson setup build-asan -Dsanitize=true -Dnative=false -Dmpi=enabled
  fi
  ninja -C build-asan
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0" \
    meson test -C build-asan --no-suite slow --print-errorlogs
  # One closing line over both builds (each suite is a Check program; a failure exits above).
  count() { grep -h "^$1: " build/meson-logs/testlog.txt build-asan/meson-logs/testlog.txt |
            awk '{s += $2} END {print s + 0}'; }
  checks=$(grep -h "Checks: " build/meson-logs/testlog.txt build-asan/meson-logs/testlog.txt |
           sed 's/.*Checks: \([0-9]*\).*/\1/' | awk '{s += $1} END {print s + 0}')
  pytests=$(grep -h "^[0-9]* passed" build/meson-logs/testlog.txt | awk '{s += $1} END {print s + 0}')
  echo "infoflow: $checks Check tests in $(count Ok) suite runs (normal and sanitizer builds)," \
       "$pytests Python tests (python/tests, normal build)"
  echo "tests: $(count Ok) passed, $(( $(count Fail) + $(count Timeout) )) failed"
fi
