#!/usr/bin/env bash
# Builds the imzML fuzz target with clang's libFuzzer (+ ASan, UBSan) and fuzzes for
# SECONDS (default 300) on the corpus in tests/fuzz/corpus, adding new interesting inputs there.
#   tests/fuzz/run.sh [SECONDS]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT="$ROOT/build/fuzz"
mkdir -p "$OUT" "$ROOT/tests/fuzz/corpus"
clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$ROOT/include" -I"$ROOT/src" \
  "$ROOT/tests/fuzz/imzml_fuzz.cpp" "$ROOT/src/msi/imzml_parse.cpp" "$ROOT/src/msi/imzml_reader.cpp" \
  -lpugixml -lfmt -lz -lcrypto -o "$OUT/imzml_fuzz"
"$OUT/imzml_fuzz" -max_total_time="${1:-300}" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
  -dict="$ROOT/tests/fuzz/imzml.dict" "$ROOT/tests/fuzz/corpus"
