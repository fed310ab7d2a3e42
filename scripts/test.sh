#!/usr/bin/env bash
# Sets up and runs every test of linegate (what CI runs through .ci/run):
#   style      cargo fmt --check, cargo clippy -D warnings
#   rust       cargo test --workspace (and tests/dts.rs: npm/types.d.ts against the Rust
#              types, with --features ts): core (unit, corpus parity, properties), CLI (corpus
#              through the binary), backend (the real binary on 127.0.0.1: corpus over HTTP,
#              auth, strace durability, SIGKILL crash, relay)
#   wasm       wasm-bindgen-test of the binding layer in Node and in headless Chromium
#   node       the built npm package in Node: the whole corpus through checkWrite/parse
#   worker     the Worker in workerd (miniflare) before the real backend; wrangler dry-run
#   browser    the page in headless Chromium (playwright-core)
#   clients    the official InfluxDB clients (Python influxdb-client and influxdb, Node
#              @influxdata/influxdb-client and influx) against the backend and the Worker
#   fuzz       a short run of each fuzz target (cargo +nightly fuzz)
# Tests that need ../shared say so and skip when it is absent.
# LINEGATE_TEST_ONLY="rust node" runs only the named stages.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CI="${CI:-}"
bash scripts/setup.sh --fuzz
bash scripts/build.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
only="${LINEGATE_TEST_ONLY:-}"
want() { [ -z "$only" ] || [[ " $only " == *" $1 "* ]]; }
timings=()
stage() { # name, command...
  local name="$1"
  shift
  want "$name" || return 0
  say "$name: $*"
  local t0=$SECONDS
  "$@"
  timings+=("$(printf '%-8s %4ss' "$name" $((SECONDS - t0)))")
}

export LINEGATE_BACKEND_BIN="$root/target/release/linegate-backend"

stage style bash -c 'cargo fmt --all -- --check && cargo clippy --workspace --all-targets -- -D warnings && cargo clippy -p linegate --features ts --all-targets -- -D warnings'
stage rust bash -c 'cargo test --workspace && cargo test -p linegate --features ts --test dts'
stage wasm bash -c '
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
  cargo test --target wasm32-unknown-unknown -p linegate --test wasm
  WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=/usr/bin/chromedriver \
    cargo test --target wasm32-unknown-unknown -p linegate --test wasm'
stage node node --test tests/node/
stage worker node --test tests/worker/
stage browser node --test tests/browser/
stage clients node --test tests/clients/
stage fuzz bash -c '
  fuzz/seed.sh
  cd fuzz
  for t in request differential stream pipeline policies checkonly crc; do
    cargo +nightly fuzz run "$t" -- -max_total_time="${LINEGATE_FUZZ_SECONDS:-30}" -rss_limit_mb=2048
  done'

say "all tests passed"
printf '  %s\n' "${timings[@]}" >&2
