#!/usr/bin/env bash
# SQL query service benchmark (issue #6): Gongkai's HTTP endpoint vs DuckDB
# in-process on the same Parquet files vs Datasette on the same data in SQLite,
# in the same run. Targets: ≤ 1.3× DuckDB, ≥ 10× faster than Datasette.
#
#   ROWS=10000000 bench/query.sh          # the issue's figure (default 1000000)
#
# Environment: ROWS, RUNS (5), SECONDS_PER_CONC (20), CLIENTS (16),
# GONGKAI_BIN (default: the release build, else the debug build with a warning),
# OUT (directory of gongkai-query-bench.json, default /tmp), KEEP_WORK=1.
# Build the binary first (`cargo build --release --bin gongkai`): this script
# does not run cargo.
set -euo pipefail
cd "$(dirname "$0")/.."

export ROWS="${ROWS:-1000000}"
export RUNS="${RUNS:-5}"
export SECONDS_PER_CONC="${SECONDS_PER_CONC:-20}"
export CLIENTS="${CLIENTS:-16}"
export OUT="${OUT:-/tmp}"
PYTHON="${PYTHON:-python3}"

target="${CARGO_TARGET_DIR:-$HOME/.cache/gongkai/target}"
if [[ -z "${GONGKAI_BIN:-}" ]]; then
  if [[ -x "$target/release/gongkai" ]]; then
    GONGKAI_BIN="$target/release/gongkai"
  elif [[ -x "$target/debug/gongkai" ]]; then
    GONGKAI_BIN="$target/debug/gongkai"
    echo "WARNING: no release build at $target/release/gongkai; using the debug build," >&2
    echo "         whose figures say nothing about Gongkai's speed." >&2
  else
    echo "no gongkai binary under $target: run 'cargo build --release --bin gongkai' or set GONGKAI_BIN" >&2
    exit 2
  fi
fi
if [[ ! -x "$GONGKAI_BIN" ]]; then
  echo "GONGKAI_BIN=$GONGKAI_BIN is not executable" >&2
  exit 2
fi
export GONGKAI_BIN

echo "== Python dependencies"
# duckdb-extension-sqlite-scanner lets DuckDB write the SQLite file (there is no
# network for DuckDB's own extension download); without it the benchmark falls
# back to Python's sqlite3, which is slower but gives the same file.
"$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  'duckdb==1.5.5' 'duckdb-extension-sqlite-scanner==1.5.5' 'datasette==0.65.5'

echo "== benchmark (ROWS=$ROWS RUNS=$RUNS CLIENTS=$CLIENTS SECONDS_PER_CONC=$SECONDS_PER_CONC)"
exec "$PYTHON" bench/query_bench.py
