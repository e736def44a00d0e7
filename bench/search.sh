#!/usr/bin/env bash
# Catalogue search latency over 100,000 generated datasets (issue #5: p99 < 20 ms).
#   SEARCH_DATASETS=100000 bench/search.sh
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench -p gongkai-catalog --bench search
