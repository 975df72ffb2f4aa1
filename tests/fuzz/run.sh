#!/usr/bin/env bash
# Builds one libFuzzer target with clang (+ ASan, UBSan) and fuzzes it for SECONDS (default 300)
# on its corpus, adding new interesting inputs there. Needs clang and libclang-rt-14-dev (not
# installed by setup.sh).
#   tests/fuzz/run.sh [imzml|table|image] [SECONDS]     (default target: imzml)
#   imzml: the imzML XML parser and offset checks        corpus tests/fuzz/corpus
#   table: the her2st / STimage-1K4M count-table parser  corpus tests/fuzz/table_corpus
#   image: the JPEG / PNG / TIFF decoders (no OpenSlide) corpus tests/fuzz/image_corpus
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=imzml
if [[ $# -gt 0 && ! $1 =~ ^[0-9]+$ ]]; then TARGET=$1; shift; fi
SECONDS_TO_RUN=${1:-300}
S="$ROOT/src"
case "$TARGET" in
  imzml) SOURCES=("$S/msi/imzml_parse.cpp" "$S/msi/imzml_reader.cpp"); LIBS=(-lpugixml -lfmt -lz -lcrypto)
         CORPUS=corpus; OPTIONS=(-max_len=16384 "-dict=$ROOT/tests/fuzz/imzml.dict") ;;
  table) SOURCES=("$S/spatial/count_table.cpp" "$S/spatial/delimited_table.cpp"); LIBS=(-lcsv -lfmt -lz)
         CORPUS=table_corpus; OPTIONS=(-max_len=4096) ;;
  image) SOURCES=("$S/spatial/image.cpp" "$S/spatial/image_jpeg.cpp" "$S/spatial/image_png.cpp" "$S/spatial/image_tiff.cpp")
         LIBS=(-ljpeg -lpng -ltiff -lfmt -lpthread); CORPUS=image_corpus; OPTIONS=(-max_len=65536) ;;
  *) echo "usage: tests/fuzz/run.sh [imzml|table|image] [SECONDS]" >&2; exit 2 ;;
esac
OUT="$ROOT/build/fuzz"
mkdir -p "$OUT" "$ROOT/tests/fuzz/$CORPUS"
clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$ROOT/include" -I"$ROOT/src" "$ROOT/tests/fuzz/${TARGET}_fuzz.cpp" "${SOURCES[@]}" "${LIBS[@]}" \
  -o "$OUT/${TARGET}_fuzz"
"$OUT/${TARGET}_fuzz" -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048 "${OPTIONS[@]}" \
  "$ROOT/tests/fuzz/$CORPUS"
