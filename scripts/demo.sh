#!/usr/bin/env bash
# The main job, as far as it exists: until the ion-image clustering pipeline lands, this
# segments a real MSI section (barley seed, $SPATIALEMBED_DATA/msi/barley_png) by clustering
# its pixel spectra with spatialembed.DBSCAN, and writes the figure to results/barley.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
scripts/setup.sh >/dev/null
.venv/bin/python examples/python/segment_barley_pixels.py --out results/barley "$@"
