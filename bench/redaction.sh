#!/usr/bin/env bash
# Redaction overhead on top of plain ingest (issue #4 target: ≤ 20 %).
# GONGKAI_BENCH_ROWS=N sets the size of the generated subsidy list.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p gongkai-ingest --bench redaction
