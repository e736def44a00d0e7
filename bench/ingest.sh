#!/usr/bin/env bash
# Ingest throughput (issue #3): `gongkai convert` vs DuckDB (CSV → Parquet) and
# vs pandas + openpyxl + pyarrow (XLSX → Parquet), same files, same run.
#
#   bench/ingest.sh                                 # 1M CSV rows, 100k XLSX rows
#   CSV_ROWS=100000 XLSX_ROWS=20000 RUNS=1 bench/ingest.sh   # a quick check
#   MODE=stream bench/ingest.sh                     # peak RSS on 100 MB, 300 MB, 1 GB CSV
#
# Build the release binary first (`cargo build --release --bin gongkai`).
set -euo pipefail
cd "$(dirname "$0")/.."
for t in "$HOME/.cache/gongkai/release-target" "${CARGO_TARGET_DIR:-$HOME/.cache/gongkai/target}"; do
  if [[ -z "${GONGKAI_BIN:-}" && -x "$t/release/gongkai" ]]; then GONGKAI_BIN="$t/release/gongkai"; fi
done
[[ -n "${GONGKAI_BIN:-}" ]] || { echo "no release build: run 'cargo build --release --bin gongkai' or set GONGKAI_BIN" >&2; exit 2; }
export GONGKAI_BIN
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  'duckdb==1.5.5' 'pandas' 'openpyxl' 'pyarrow' 'xlsxwriter'
exec python3 bench/ingest_bench.py
