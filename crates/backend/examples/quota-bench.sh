#!/usr/bin/env bash
# The backend's points/s with the series quota on and half full (BENCHMARKS.md, "Write
# quotas"): two servers, each filled with the same 500k distinct series first (100 batches
# of 5,000 one-line series), one with `--quota-series 1000000` (so 500k known of a 1M
# quota), one without; then 5,000-line batches of cpu.lp (1,000 series, known after the
# first batch) at concurrency 1 and 16, the two servers interleaved, ROUNDS times (the
# machine is shared: compare medians).
#   bash crates/backend/examples/quota-bench.sh [SECONDS] [ROUNDS]
set -euo pipefail
SECS="${1:-10}"
ROUNDS="${2:-3}"
. "$(dirname "$0")/bench-lib.sh" 50

setup=(--setup-org o --setup-bucket b --setup-token t)
echo "linegate-backend series-quota benchmark: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), ${SECS}s per run"
OFF=$(start off "$BIN" serve --data "$WORK/off" --bind 127.0.0.1:0 "${setup[@]}")
ON=$(start on "$BIN" serve --data "$WORK/on" --bind 127.0.0.1:0 "${setup[@]}" --quota-series 1000000)
# BIN_BEFORE (another build of the server): a third, quota on, to compare builds in one run.
SERVERS="off on"
if [ -n "${BIN_BEFORE:-}" ]; then
  BEFORE=$(start before "$BIN_BEFORE" serve --data "$WORK/before" --bind 127.0.0.1:0 "${setup[@]}" --quota-series 1000000)
  SERVERS="off on before"
fi

# 500k distinct series into each.
for b in $(seq 0 99); do
  seq $((b * 5000)) $((b * 5000 + 4999)) | sed 's/.*/fill,n=& v=1i 1/' >"$WORK/fill.lp"
  for url in "$OFF" "$ON" ${BEFORE:+"$BEFORE"}; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Token t' \
      --data-binary @"$WORK/fill.lp" "http://$url/api/v2/write?org=o&bucket=b")
    [ "$code" = 204 ] || { echo "fill: $code" >&2; exit 1; }
  done
done
echo "filled; series known by the quota: $(curl -s -H 'Authorization: Token t' "http://$ON/api/v2/quota" | tr -d ' \n' | grep -o '"series":[0-9]*' | head -1)"

for round in $(seq "$ROUNDS"); do
for c in 1 16; do
  for which in $SERVERS; do
    url=$OFF; [ "$which" = on ] && url=$ON; [ "$which" = before ] && url=$BEFORE
    printf '%-34s ' "quota $which, c=$c"
    "$LOAD" --url "http://$url" --token t --org o --bucket b --file "$DATA/cpu.lp" \
      --batch-lines 5000 --concurrency "$c" --seconds "$SECS"
  done
done
done
echo "after: $(curl -s -H 'Authorization: Token t' "http://$ON/api/v2/quota" | tr -d ' \n' | grep -o '"series":[0-9]*' | head -1)"
