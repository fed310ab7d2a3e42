#!/usr/bin/env bash
# Load benchmark of linegate-backend: pass-through server, embedded storage (zstd, LZ4, raw),
# relay mode; concurrency 1 and 16; 5,000-line batches of cpu.lp. See BENCHMARKS.md.
#   bash crates/backend/examples/bench.sh [SECONDS]
set -euo pipefail
SECS="${1:-15}"
. "$(dirname "$0")/bench-lib.sh" 50

run() {
  local url="$1" label="$2"
  for c in 1 16; do
    printf '%-28s ' "$label"
    "$LOAD" --url "http://$url" --token t --org o --bucket b --file "$DATA/cpu.lp" \
      --batch-lines 5000 --concurrency "$c" --seconds "$SECS"
  done
}

setup=(--setup-org o --setup-bucket b --setup-token t)
nproc_line="$(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "linegate-backend load benchmark: $nproc_line, ${SECS}s per run"

A=$(start null "$LOAD" --null-server 127.0.0.1:0)
run "$A" "pass-through (stores nothing)"
kill "$(cat "$WORK/null.pid")"; rm "$WORK/null.pid"

stop() { kill "$(cat "$WORK/$1.pid")"; rm "$WORK/$1.pid"; sleep 0.5; }
for comp in zstd lz4 none; do
  A=$(start "$comp" "$BIN" serve --data "$WORK/$comp" --bind 127.0.0.1:0 --compression "$comp" "${setup[@]}")
  run "$A" "embedded, $comp"
  stop "$comp"
  du -sh "$WORK/$comp" | sed 's/^/  on disk: /'
  rm -rf "$WORK/$comp"
done

U=$(start up "$BIN" serve --data "$WORK/up" --bind 127.0.0.1:0 "${setup[@]}")
R=$(start relay "$BIN" serve --data "$WORK/relay" --bind 127.0.0.1:0 "${setup[@]}" \
  --upstream "http://$U" --upstream-token t)
run "$R" "relay (+ upstream backend)"
t0=$(date +%s.%N)
for _ in $(seq 600); do
  d=$(curl -s "http://$R/metrics" | sed -n 's/^linegate_relay_queue_depth //p')
  [ "$d" = "0" ] && break
  sleep 0.5
done
t1=$(date +%s.%N)
printf '  relay queue drained %.1fs after the load stopped; upstream points: %s\n' \
  "$(echo "$t1 - $t0" | bc)" \
  "$(curl -s "http://$R/metrics" | sed -n 's/^linegate_upstream_points_total //p')"
