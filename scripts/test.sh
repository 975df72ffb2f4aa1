#!/usr/bin/env bash
# The whole test suite: set-up (incremental), C++ tests, Python tests, the find_package
# consumer example and the Python examples.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

scripts/setup.sh

echo "== C++ tests (ctest)"
ctest --test-dir build/cpp --output-on-failure -j "$(nproc)"

echo "== Python tests (pytest)"
.venv/bin/python -m pytest -q tests/python

echo "== find_package consumer against the installed tree"
cmake -S examples/cpp/consumer -B build/consumer -G Ninja -DCMAKE_PREFIX_PATH="$ROOT/build/install" >/dev/null
cmake --build build/consumer >/dev/null
build/consumer/consumer

echo "== Python examples"
for example in examples/python/*.py; do
  echo "-- $example"
  .venv/bin/python "$example" --quick --out build/examples
done
