#!/usr/bin/env bash
# The main job, as far as it exists: until the IonImageClustering pipeline and its report
# land, this runs the NN-based ion-image clustering by hand on real data: the mouse bladder
# and kidney MSI sections ($SPATIALEMBED_DATA/msi) → ImageNet ResNet-50 features (real
# weights) → UMAP (3-D) → DBSCAN, writing features and a picture of the groups to
# results/embed; then DBSCAN segments the barley section's pixels (results/barley).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
scripts/setup.sh >/dev/null
.venv/bin/python examples/python/embed_ion_images.py --out results/embed "$@"
.venv/bin/python examples/python/segment_barley_pixels.py --out results/barley
echo "demo: figures in $ROOT/results/embed and $ROOT/results/barley"
