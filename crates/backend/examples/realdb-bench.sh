#!/usr/bin/env bash
# linegate-backend beside the real databases (issue 24), on the same 5,000-line batches of
# cpu.lp: points/s stored by linegate-backend, InfluxDB 1.x and VictoriaMetrics at
# concurrency 1 and 16, and the Worker's added latency in front of each (p50 at
# concurrency 1, through Miniflare's workerd, BACKEND_KIND set). See BENCHMARKS.md.
#   bash crates/backend/examples/realdb-bench.sh [SECONDS]
set -euo pipefail
SECS="${1:-10}"
. "$(dirname "$0")/bench-lib.sh" 20
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
up() { for _ in $(seq 200); do curl -fso /dev/null "$1" && return; sleep 0.1; done; echo "$1 did not come up" >&2; exit 1; }

BP=$(port); IP=$(port); VP=$(port); RP=$(port)
LINEGATE_LOG=warn "$BIN" serve --data "$WORK/lg" --bind "127.0.0.1:$BP" --setup-org o --setup-bucket b \
  --setup-token tok >"$WORK/lg.log" 2>&1 & echo $! >"$WORK/lg.pid"
cat >"$WORK/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$RP"
[meta]
  dir = "$WORK/ix/meta"
[data]
  dir = "$WORK/ix/data"
  wal-dir = "$WORK/ix/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$IP"
  log-enabled = false
[monitor]
  store-enabled = false
CONF
influxd -config "$WORK/influxdb.conf" >"$WORK/ix.log" 2>&1 & echo $! >"$WORK/ix.pid"
victoria-metrics -storageDataPath="$WORK/vm" -httpListenAddr="127.0.0.1:$VP" -loggerLevel=ERROR \
  >"$WORK/vm.log" 2>&1 & echo $! >"$WORK/vm.pid"
up "http://127.0.0.1:$BP/health"; up "http://127.0.0.1:$IP/ping"; up "http://127.0.0.1:$VP/health"
curl -fsS -o /dev/null -XPOST "http://127.0.0.1:$IP/query" --data-urlencode "q=CREATE DATABASE b"

load() { "$LOAD" --token tok --org o --bucket b --file "$DATA/cpu.lp" --seconds "$SECS" "$@" | grep concurrency; }
for c in 1 16; do
  printf '%-26s ' "linegate-backend"; load --url "http://127.0.0.1:$BP" --concurrency $c
  printf '%-26s ' "InfluxDB 1.6.7"; load --url "http://127.0.0.1:$IP" --path "/write?db=b&precision=n" --concurrency $c
  printf '%-26s ' "VictoriaMetrics 1.79.5"; load --url "http://127.0.0.1:$VP" --path "/write?db=b&precision=n" --concurrency $c
done
# The Worker in front of each (the same v2 writes; BACKEND_KIND translates them).
for t in "linegate-backend influxdb2 $BP" "InfluxDB-1.6.7 influxdb1 $IP" "VictoriaMetrics victoriametrics $VP"; do
  set -- $t
  node "$ROOT/bench/worker-front.mjs" "http://127.0.0.1:$3" "$2" >"$WORK/w.url" 2>"$WORK/w.log" & echo $! >"$WORK/w.pid"
  for _ in $(seq 300); do [ -s "$WORK/w.url" ] && break; sleep 0.1; done
  printf '%-26s ' "Worker -> $1"; load --url "$(cat "$WORK/w.url")" --concurrency 1
  kill "$(cat "$WORK/w.pid")"; wait "$(cat "$WORK/w.pid")" 2>/dev/null || true; : >"$WORK/w.url"
done
