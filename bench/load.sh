#!/usr/bin/env bash
# Load and soak test (issue #9) with wrk against a running release server on
# loopback: catalogue pages, search, downloads, the row API and SQL, each on
# its own and mixed; then (mode `soak`) the mix for SOAK_SECONDS with the
# server's RSS sampled every 10 s.
#
#   bench/load.sh                  # per-endpoint runs + a mixed run
#   SOAK_SECONDS=600 bench/load.sh soak
#
# Environment: SECONDS_PER_RUN (15), CONNECTIONS (16), THREADS (2), ROWS (rows
# of the generated download/SQL dataset, 100000), GONGKAI_BIN (default: the
# release build), OUT (directory of load.json / soak.json, default /tmp),
# KEEP_WORK=1. Needs wrk (apt-get install wrk) and curl. Loopback only.
#
# The server runs with rate limits off: one client address (this script) is
# measuring capacity, not quotas (tests/it/limits.rs checks the quotas).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE="${1:-load}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-15}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}"
ROWS="${ROWS:-100000}"
SOAK_SECONDS="${SOAK_SECONDS:-600}"
OUT="${OUT:-/tmp}"
target="${CARGO_TARGET_DIR:-$HOME/.cache/gongkai/target}"
for t in "$HOME/.cache/gongkai/release-target" "$target"; do
  if [[ -z "${GONGKAI_BIN:-}" && -x "$t/release/gongkai" ]]; then GONGKAI_BIN="$t/release/gongkai"; fi
done
if [[ -z "${GONGKAI_BIN:-}" ]]; then
  echo "no release build: run 'cargo build --release --bin gongkai' or set GONGKAI_BIN" >&2
  exit 2
fi
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

WORK="$(mktemp -d /tmp/gongkai-load.XXXXXX)"
TOKEN="gk_load_admin_token_0123456789"
cleanup() {
  [[ -n "${PID:-}" ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [[ "${KEEP_WORK:-}" == 1 ]] || rm -rf "$WORK"
}
trap cleanup EXIT

printf '[rate_limit]\nenabled = false\n' > "$WORK/config.toml"
GONGKAI_ADMIN_TOKEN="$TOKEN" "$GONGKAI_BIN" serve --data-dir "$WORK/data" \
  --listen 127.0.0.1:0 --config "$WORK/config.toml" > "$WORK/stdout" 2> "$WORK/server.log" &
PID=$!
for _ in $(seq 1 100); do
  BASE="$(sed -n 's/^gongkai: listening on //p' "$WORK/stdout")"
  [[ -n "$BASE" ]] && break
  sleep 0.2
done
[[ -n "$BASE" ]] || { echo "server did not start"; cat "$WORK/server.log"; exit 1; }
echo "== server $GONGKAI_BIN at $BASE (pid $PID)"

api() { curl -sf -H "authorization: Bearer $1" "${@:2}"; }
echo "== publishing a generated ${ROWS}-row procurement table"
python3 - "$WORK/procurement.csv" "$ROWS" <<'EOF'
import random, sys
random.seed(7)
path, rows = sys.argv[1], int(sys.argv[2])
towns = ["城关镇", "石墙镇", "大束镇", "香城镇", "邵庄镇", "黄楼街道"]
ways = ["公开招标", "竞争性磋商", "询价", "单一来源"]
with open(path, "w", encoding="utf-8") as f:
    f.write("项目编号,乡镇,采购方式,中标金额(万元),公告日期\n")
    for i in range(rows):
        f.write(f"ZFCG-{i:07d},{random.choice(towns)},{random.choice(ways)},{random.randint(100, 900000)/100:.2f},2024-{random.randint(1,12):02d}-{random.randint(1,28):02d}\n")
EOF
api "$TOKEN" -X POST "$BASE/api/v1/users" -H 'content-type: application/json' -d '{"name":"load-reviewer","role":"admin"}' >/dev/null
REVIEWER="$(api "$TOKEN" -X POST "$BASE/api/v1/tokens" -H 'content-type: application/json' -d '{"user":"load-reviewer"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
api "$TOKEN" -X POST "$BASE/api/v1/datasets" -H 'content-type: application/json' -d '{"slug":"load-procurement","title":"负载测试采购数据"}' >/dev/null
api "$TOKEN" -X POST "$BASE/api/v1/datasets/load-procurement/uploads?filename=p.csv" --data-binary @"$WORK/procurement.csv" >/dev/null
api "$TOKEN" -X POST "$BASE/api/v1/datasets/load-procurement/versions/1/submit" >/dev/null
api "$REVIEWER" -X POST "$BASE/api/v1/datasets/load-procurement/versions/1/approve" -H 'content-type: application/json' -d '{"confidentiality_reviewed":true,"redaction_confirmed":true}' >/dev/null
api "$REVIEWER" -X POST "$BASE/api/v1/datasets/load-procurement/versions/1/publish" >/dev/null

enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="/?=&"))' "$1"; }
SQL="$(python3 -c 'import urllib.parse; print(urllib.parse.quote("SELECT xiang_zhen, count(*) AS n, sum(zhong_biao_jin_e) AS total FROM \"load-procurement\" GROUP BY xiang_zhen ORDER BY total DESC"))')"
declare -A ENDPOINTS=(
  [home_page]="/"
  [search_page]="$(enc '/datasets?q=采购')"
  [dataset_page]="/datasets/budget-2024"
  [search_api]="$(enc '/api/v1/datasets?q=预算')"
  [rows_api]="/api/v1/datasets/load-procurement/rows?_size=50&_sort=-zhong_biao_jin_e"
  [download_csv_small]="/api/v1/datasets/budget-2024/data.csv"
  [download_parquet_large]="/api/v1/datasets/load-procurement/data.parquet"
  [sql_group_by]="/api/v1/sql?q=$SQL"
)
MIX_LUA="$WORK/mix.lua"
{
  echo "paths = {"
  for k in "${!ENDPOINTS[@]}"; do echo "  \"${ENDPOINTS[$k]}\","; done
  echo "}"
  cat <<'EOF'
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
EOF
} > "$MIX_LUA"
REPORT_LUA="$WORK/report.lua"
cat > "$REPORT_LUA" <<'EOF'
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT %d %.1f %.2f %.2f %.2f %d\n", summary.requests,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, errors))
end
EOF
cat "$MIX_LUA" > "$WORK/mix-report.lua"; cat "$REPORT_LUA" >> "$WORK/mix-report.lua"

run() { # name path-or-empty seconds script
  local out
  out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$3s" --timeout 30s -s "$4" "$BASE$2" 2>&1)"
  local line; line="$(grep '^RESULT' <<<"$out" || true)"
  [[ -n "$line" ]] || { echo "$out"; exit 1; }
  read -r _ n rps p50 p99 max errors <<<"$line"
  printf '%-24s %8s req/s  p50 %8s ms  p99 %8s ms  max %8s ms  errors %s  (%s requests)\n' "$1" "$rps" "$p50" "$p99" "$max" "$errors" "$n"
  echo "{\"endpoint\": \"$1\", \"requests\": $n, \"rps\": $rps, \"p50_ms\": $p50, \"p99_ms\": $p99, \"max_ms\": $max, \"errors\": $errors}" >> "$WORK/results.ndjson"
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }

if [[ "$MODE" == soak ]]; then
  echo "== warm-up (30 s of the mix)"
  run warm-up "" 30 "$WORK/mix-report.lua" >/dev/null
  start_rss="$(rss_kib)"
  echo "== soak: the mix for ${SOAK_SECONDS}s, ${CONNECTIONS} connections; RSS after warm-up ${start_rss} KiB"
  ( while kill -0 "$PID" 2>/dev/null; do echo "$(date +%s) $(rss_kib)"; sleep 10; done ) > "$WORK/rss.txt" &
  SAMPLER=$!
  run soak "" "$SOAK_SECONDS" "$WORK/mix-report.lua"
  kill "$SAMPLER" 2>/dev/null || true
  end_rss="$(rss_kib)"
  max_rss="$(awk '{ if ($2 > m) m = $2 } END { print m }' "$WORK/rss.txt")"
  growth="$(python3 -c "print(round(100 * ($end_rss - $start_rss) / $start_rss, 1))")"
  echo "RSS: after warm-up ${start_rss} KiB, end ${end_rss} KiB, max ${max_rss} KiB: growth ${growth}% (target < 10%)"
  python3 - "$WORK/results.ndjson" "$OUT/soak.json" "$start_rss" "$end_rss" "$max_rss" "$growth" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
json.dump({"soak": rows[-1], "rss_kib": {"after_warmup": int(sys.argv[3]), "end": int(sys.argv[4]), "max": int(sys.argv[5])}, "rss_growth_percent": float(sys.argv[6])}, open(sys.argv[2], "w"), indent=1)
EOF
  echo "wrote $OUT/soak.json"
  exit 0
fi

echo "== per endpoint: ${SECONDS_PER_RUN}s each, ${CONNECTIONS} connections, ${THREADS} threads"
for name in home_page search_page dataset_page search_api rows_api download_csv_small download_parquet_large sql_group_by; do
  run "$name" "${ENDPOINTS[$name]}" "$SECONDS_PER_RUN" "$REPORT_LUA"
done
echo "== mixed"
run mixed "" "$SECONDS_PER_RUN" "$WORK/mix-report.lua"
echo "server RSS after the runs: $(rss_kib) KiB"
python3 -c "import json,sys; json.dump([json.loads(l) for l in open(sys.argv[1])], open(sys.argv[2],'w'), indent=1)" "$WORK/results.ndjson" "$OUT/load.json"
echo "wrote $OUT/load.json"
