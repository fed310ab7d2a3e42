#!/usr/bin/env bash
# The main job, from a fresh machine: set up, build, then run linegate end to end on
# 127.0.0.1 until Ctrl-C:
#   - linegate-backend on its embedded storage (SQLite) at :8086, with an org, a bucket and a
#     token made on first start;
#   - the Worker under `wrangler dev` at :8787, checking writes at the edge and forwarding the
#     valid ones to the backend, with SPOOL=fallback: while the backend is down, accepted
#     batches are kept in a Durable Object (persisted under .linegate/wrangler) and delivered
#     when it is back;
#   - the validation page at :8080;
# and sends the sample batches through the CLI and the Worker to show each part working,
# then stops the backend, writes through the Worker, restarts the backend and shows that
# write arriving.
# Ports and names: BACKEND_PORT, WORKER_PORT, PAGE_PORT, LINEGATE_DATA, LINEGATE_TOKEN,
# LINEGATE_SPOOL_ADMIN (the spool admin endpoint's dev token), LINEGATE_SPOOL_KEY (the spool's
# SPOOL_KEY; by default a random one kept in .linegate/spool-key).
# BACKEND=influxdb1 puts a real InfluxDB 1.x (Debian's influxd, data in .linegate/influxdb1,
# auth off) behind the Worker instead of linegate-backend (BACKEND_KIND=influxdb1): v2
# writes land in database $BUCKET, read back with InfluxQL.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
bash scripts/build.sh

BACKEND_PORT="${BACKEND_PORT:-8086}"
WORKER_PORT="${WORKER_PORT:-8787}"
PAGE_PORT="${PAGE_PORT:-8080}"
DATA="${LINEGATE_DATA:-$root/.linegate/data}"
TOKEN="${LINEGATE_TOKEN:-linegate-dev-token}"
SPOOL_ADMIN="${LINEGATE_SPOOL_ADMIN:-linegate-dev-spool-admin}"
ORG=linegate
BUCKET=metrics
mkdir -p "$(dirname "$DATA")" "$root/.linegate/logs"
logs="$root/.linegate/logs"
say() { printf '\033[1mlinegate:\033[0m %s\n' "$*" >&2; }

BACKEND="${BACKEND:-linegate}"
case "$BACKEND" in linegate | influxdb1) ;; *) say "BACKEND must be linegate or influxdb1"; exit 2 ;; esac

pids=()
stop() {
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

wait_for() { # url, what, log
  for _ in $(seq 1 240); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.5
  done
  say "$2 did not come up; its log: $3"
  tail -n 40 "$3" >&2
  exit 1
}

start_influxdb1() {
  local d="$root/.linegate/influxdb1"
  mkdir -p "$d"
  cat >"$d/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$((BACKEND_PORT + 2))"
[meta]
  dir = "$d/meta"
[data]
  dir = "$d/data"
  wal-dir = "$d/wal"
[http]
  bind-address = "127.0.0.1:$BACKEND_PORT"
  log-enabled = false
[monitor]
  store-enabled = false
CONF
  setsid influxd -config "$d/influxdb.conf" >>"$logs/backend.log" 2>&1 &
  backend_pid=$!
  pids+=("$backend_pid")
  wait_for "http://127.0.0.1:$BACKEND_PORT/ping" influxd "$logs/backend.log"
  curl -sS -o /dev/null -XPOST "http://127.0.0.1:$BACKEND_PORT/query" --data-urlencode "q=CREATE DATABASE $BUCKET"
}
# What the backend holds: linegate-backend's export, or InfluxQL on 1.x.
stored() {
  if [ "$BACKEND" = influxdb1 ]; then
    curl -sS "http://127.0.0.1:$BACKEND_PORT/query" --data-urlencode "db=$BUCKET" \
      --data-urlencode "q=SELECT * FROM /.*/ ORDER BY time DESC LIMIT ${1:-5}"; echo
  else
    target/release/linegate-backend export --data "$DATA" --bucket "$BUCKET" | head -n "${1:-5}"
  fi
}

start_backend() {
  if [ "$BACKEND" = influxdb1 ]; then start_influxdb1; return; fi
  setsid target/release/linegate-backend serve --data "$DATA" --bind "127.0.0.1:$BACKEND_PORT" \
    --setup-org "$ORG" --setup-bucket "$BUCKET" --setup-token "$TOKEN" >>"$logs/backend.log" 2>&1 &
  backend_pid=$!
  pids+=("$backend_pid")
  wait_for "http://127.0.0.1:$BACKEND_PORT/health" backend "$logs/backend.log"
}
say "backend ($BACKEND): http://127.0.0.1:$BACKEND_PORT (log $logs/backend.log)"
start_backend

# The spool seals the credentials it keeps under SPOOL_KEY (a spool mode refuses to run
# without it): a dev key made once and kept beside the spool it seals, so batches spooled
# by an earlier run can still be delivered. Given to wrangler as a secret (--env-file), so
# its banner and log do not print it.
keyfile="$root/.linegate/spool-key"
if [ ! -s "$keyfile" ]; then
  (umask 077 && head -c 32 /dev/urandom | base64 >"$keyfile")
fi
envfile="$root/.linegate/worker.env"
(umask 077 && printf 'SPOOL_KEY=%s\n' "${LINEGATE_SPOOL_KEY:-$(cat "$keyfile")}" >"$envfile")

say "Worker (wrangler dev): http://127.0.0.1:$WORKER_PORT (log $logs/worker.log)"
setsid npx wrangler dev --ip 127.0.0.1 --port "$WORKER_PORT" --persist-to "$root/.linegate/wrangler" \
  --var "BACKEND_URL:http://127.0.0.1:$BACKEND_PORT" --var "BACKEND_KIND:${BACKEND/linegate/influxdb2}" \
  --var SPOOL:fallback --var SPOOL_OPEN:on --var "SPOOL_ADMIN_TOKEN:$SPOOL_ADMIN" --env-file "$envfile" \
  --var "CORS_ORIGINS:http://127.0.0.1:$PAGE_PORT" >"$logs/worker.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$WORKER_PORT/ping" Worker "$logs/worker.log"

say "page: http://127.0.0.1:$PAGE_PORT (log $logs/page.log)"
setsid node scripts/serve-www.mjs --port "$PAGE_PORT" >"$logs/page.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$PAGE_PORT/" page "$logs/page.log"

say "the CLI on the sample batches:"
target/release/linegate check --format human samples/good.lp samples/bad.lp || true

write="http://127.0.0.1:$WORKER_PORT/api/v2/write?org=$ORG&bucket=$BUCKET&precision=ns"
for f in samples/good.lp samples/bad.lp; do
  say "POST $f through the Worker:"
  curl -sS -w '  -> HTTP %{http_code}\n' -H "Authorization: Token $TOKEN" --data-binary "@$f" "$write"
done
say "stored in the backend:"
stored 5

# The spool: a write accepted while the backend is down arrives once it is back.
spool() { curl -sS -H "Authorization: Bearer $SPOOL_ADMIN" "http://127.0.0.1:$WORKER_PORT/spool"; }
queued() { spool | sed -n 's/^ *"queued": \([0-9]*\),$/\1/p' | awk '{s+=$1} END {print s+0}'; }
say "stopping the backend, then writing through the Worker (SPOOL=fallback):"
kill -TERM -- "-$backend_pid"
wait "$backend_pid" 2>/dev/null || true
mark="spool_demo,host=run survived=1i $(date +%s)000000000"
curl -sS -D - -o /dev/null -H "Authorization: Token $TOKEN" --data-binary "$mark" "$write" |
  grep -iE '^(HTTP|x-linegate-spooled)' | sed 's/^/  /' >&2
say "held in the spool (GET /spool): $(queued) batch(es) queued"
say "starting the backend again"
start_backend
for _ in $(seq 1 120); do [ "$(queued)" = 0 ] && break; sleep 0.5; done
say "after the restart: $(queued) queued; the backend has:"
if [ "$BACKEND" = influxdb1 ]; then stored 1; else stored 1000000 | grep '^spool_demo' | tail -n 1; fi

cat >&2 <<MSG

  linegate is running:
    page     http://127.0.0.1:$PAGE_PORT/
    Worker   $write
    backend  http://127.0.0.1:$BACKEND_PORT  (org $ORG, bucket $BUCKET, token $TOKEN)
    spool    curl -H 'Authorization: Bearer $SPOOL_ADMIN' http://127.0.0.1:$WORKER_PORT/spool

  Try:  curl -i -H 'Authorization: Token $TOKEN' --data-binary 'cpu,host=a usage=1' '$write'
  Ctrl-C stops everything.
MSG
wait
