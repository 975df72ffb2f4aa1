#!/usr/bin/env bash
# Builds the image-decoder fuzz target with clang's libFuzzer (+ ASan, UBSan; OpenSlide left
# out) and fuzzes for SECONDS (default 300) on tests/fuzz/image_corpus, adding new
# interesting inputs there. Needs clang and libclang-rt-dev (not installed by setup.sh).
#   tests/fuzz/run_image.sh [SECONDS]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT="$ROOT/build/fuzz"
mkdir -p "$OUT" "$ROOT/tests/fuzz/image_corpus"
clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$ROOT/include" -I"$ROOT/src" \
  "$ROOT/tests/fuzz/image_fuzz.cpp" "$ROOT"/src/spatial/image.cpp "$ROOT"/src/spatial/image_jpeg.cpp \
  "$ROOT"/src/spatial/image_png.cpp "$ROOT"/src/spatial/image_tiff.cpp \
  -ljpeg -lpng -ltiff -lfmt -lpthread -o "$OUT/image_fuzz"
"$OUT/image_fuzz" -max_total_time="${1:-300}" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  "$ROOT/tests/fuzz/image_corpus"
