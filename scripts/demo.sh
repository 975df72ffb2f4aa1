#!/usr/bin/env bash
# The main job: groups the ion images of an MSI section by shared spatial structure with both
# pipelines of Zhang et al. (Anal Bioanal Chem 413:2803, 2021) — ImageNet ResNet-50 features
# → UMAP 3-D → clusters, and UMAP on the raw ion images → clusters, with the library's defaults
# (docs/results.md; `--preset paper` for the published configuration) — and writes a self-contained
# report. Input: the real mouse-kidney imzML from $SPATIALEMBED_DATA (default ../shared/data)
# when it is there, otherwise a simulated tissue section with ground truth.
# Extra arguments go to `spatialembed cluster-ions` (e.g. --threads 2).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# Set-up prints one line per stage (several minutes on a fresh machine, seconds when up to date).
scripts/setup.sh
DATA=${SPATIALEMBED_DATA:-$ROOT/../shared/data}
KIDNEY=$DATA/msi/mouse_kidney/mouse_kidney_nyakas2013.imzML
OUT=results/cluster-ions
if [ -f "$KIDNEY" ]; then
  # Linear-TOF profile spectra: peaks span a few points, hence the small peak window.
  # The library's defaults (HDBSCAN, no eps or neighbourhood sizes to tune for 60 ion images).
  .venv/bin/spatialembed cluster-ions "$KIDNEY" --method both --top-n 60 --snr 2 --half-window 5 \
    --out "$OUT/mouse_kidney" --overwrite "$@"
  REPORT=$OUT/mouse_kidney/report.html
else
  echo "demo: $KIDNEY not found; clustering a simulated tissue section instead"
  .venv/bin/spatialembed simulate "$OUT/simulated/tissue.imzML" --width 128 --height 96 --n-molecules 60 --overwrite
  .venv/bin/spatialembed cluster-ions "$OUT/simulated/tissue.imzML" --method both --top-n 200 --snr 2 \
    --reference "$OUT/simulated/tissue_truth.json" --out "$OUT/simulated/run" --overwrite "$@"
  REPORT=$OUT/simulated/run/report.html
fi
echo "demo: report at $ROOT/$REPORT"
