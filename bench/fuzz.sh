#!/usr/bin/env bash
# Fuzzing (issue #9): runs each cargo-fuzz target for a bounded time and fails
# if any crashes. Not part of CI (it builds its own instrumented copy of the
# ingest and query crates, which takes a while); run it before releases.
#
#   bench/fuzz.sh                    # 120 s per target
#   FUZZ_SECONDS=600 bench/fuzz.sh csv_sniffer
#
# cargo-fuzz needs nightly compiler flags; this machine has one stable
# toolchain, so the script sets RUSTC_BOOTSTRAP=1 (the usual way to use them on
# stable). Crashes land in fuzz/artifacts/<target>/, corpora in fuzz/corpus/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
FUZZ_SECONDS="${FUZZ_SECONDS:-120}"
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(csv_sniffer shape_detector stream_ingest pii_detectors row_filter_parser)
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/gongkai/fuzz-target}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --version 0.13.1 --locked
fi
# Seed the corpora with the example files and a few real-looking inputs.
mkdir -p corpus/csv_sniffer corpus/shape_detector corpus/stream_ingest corpus/pii_detectors corpus/row_filter_parser
for f in ../examples/*.csv; do for t in csv_sniffer shape_detector stream_ingest; do cp -n "$f" "corpus/$t/" 2>/dev/null || true; done; done
printf '110105194912310021' > corpus/pii_detectors/id
printf '13800138000 张三 6222021234567890123' > corpus/pii_detectors/mixed
printf 'filter=amount.gt.10&_sort=-amount&_size=5&_count=1' > corpus/row_filter_parser/basic
printf 'filter=name.in.(a,b)&select=a,b&_next=eyJ2IjoxfQ' > corpus/row_filter_parser/in
# The row-filter target needs the query crate (DataFusion, a long instrumented
# build); the others build without it when it is not among the targets.
features=()
for t in "${TARGETS[@]}"; do
  if [[ $t == row_filter_parser ]]; then features=(--features query); fi
done
status=0
for t in "${TARGETS[@]}"; do
  echo "== $t (${FUZZ_SECONDS}s)"
  # One feature set for every target, so switching targets rebuilds nothing.
  if cargo fuzz run --sanitizer address "${features[@]}" "$t" "corpus/$t" -- -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=4096 -max_len=65536 2>&1 | tail -n 8; then
    echo "$t: no crash in ${FUZZ_SECONDS}s"
  else
    echo "$t: CRASH — see fuzz/artifacts/$t/"
    status=1
  fi
done
exit $status
