# Shared by the backend's benchmark scripts (bench.sh, quota-bench.sh, realdb-bench.sh):
# paths, a scratch folder removed on exit with every server it started, the release
# binaries, the cpu.lp data and `start`. Sourced, not run:
#   . "$(dirname "$0")/bench-lib.sh" SIZE_MB
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
WORK="$(mktemp -d)"
DATA="${BENCH_DATA:-/tmp/linegate-bench-data}"
cleanup() { for f in "$WORK"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

cargo build --release -q -p linegate-backend --bin linegate-backend --example load
BIN="$CARGO_TARGET_DIR/release/linegate-backend"
LOAD="$CARGO_TARGET_DIR/release/examples/load"
if [ ! -f "$DATA/cpu.lp" ]; then
  mkdir -p "$DATA"
  python3 "$SHARED/bench/gen.py" --out "$DATA" --size-mb "${1:-50}" --datasets cpu >/dev/null
fi

# Starts a server in the background (its PID in $WORK/NAME.pid); prints its address.
start() {
  local name="$1" log="$WORK/$1.log"; shift
  LINEGATE_LOG=warn "$@" >"$log" 2>&1 &
  echo $! >"$WORK/$name.pid"
  for _ in $(seq 100); do
    if grep -q "listening on http://" "$log"; then
      sed -n 's/.*listening on http:\/\///p' "$log" | head -1; return
    fi
    sleep 0.1
  done
  echo "server did not start: $(cat "$log")" >&2; exit 1
}
