#!/usr/bin/env bash
# Builds the count-table fuzz target with clang's libFuzzer (+ ASan, UBSan) and fuzzes for
# SECONDS (default 300) on tests/fuzz/table_corpus, adding new interesting inputs there.
#   tests/fuzz/run_table.sh [SECONDS]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT="$ROOT/build/fuzz"
mkdir -p "$OUT" "$ROOT/tests/fuzz/table_corpus"
clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$ROOT/include" -I"$ROOT/src" \
  "$ROOT/tests/fuzz/table_fuzz.cpp" "$ROOT/src/spatial/count_table.cpp" "$ROOT/src/spatial/delimited_table.cpp" \
  -lcsv -lfmt -lz -o "$OUT/table_fuzz"
"$OUT/table_fuzz" -max_total_time="${1:-300}" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  "$ROOT/tests/fuzz/table_corpus"
