#!/usr/bin/env bash
# Installs what linegate needs to build, run and test, from the registries only (Debian apt,
# crates.io via cargo/rustup, npm). Idempotent: what is already there is left alone.
#   scripts/setup.sh            build + main job + tests
#   scripts/setup.sh --fuzz     also cargo-fuzz (the tests' fuzz smoke run; nightly toolchain)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }
WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' Cargo.toml | head -n1)"

# Debian packages: Chromium and its driver for the browser tests, strace for the backend's
# durability test, python3 for the benchmark data generator.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v strace >/dev/null || missing+=(strace)
command -v python3 >/dev/null || missing+=(python3)
# python3 -m venv needs ensurepip (Debian's python3-venv) for the clients' venv below.
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v node >/dev/null || missing+=(nodejs npm)
# Real databases the `realdb` tests put behind the Worker and the relay (issue 24). Their
# services are not started here: the tests run them on free ports with temporary data.
command -v influxd >/dev/null || missing+=(influxdb)
command -v victoria-metrics >/dev/null || missing+=(victoria-metrics)
# The quota test that plants a Durable Object's old-version series set edits its SQLite file.
command -v sqlite3 >/dev/null || missing+=(sqlite3)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  say "apt-get install ${missing[*]}"
  # Update the package lists only when apt cannot see a package yet.
  for p in "${missing[@]}"; do
    apt-cache show "$p" >/dev/null 2>&1 || { $sudo apt-get update -qq; break; }
  done
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# The wasm-bindgen CLI must be the exact version the crate pins. Not --locked: its lockfile
# wants a crate version the registry lacks.
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  say "cargo install wasm-bindgen-cli --version $WASM_BINDGEN_VERSION (about 3 minutes)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if [ "${1:-}" = "--fuzz" ]; then
  if ! rustup toolchain list | grep -q '^nightly'; then
    say "rustup toolchain install nightly --profile minimal"
    rustup toolchain install nightly --profile minimal
  fi
  if ! command -v cargo-fuzz >/dev/null; then
    say "cargo install cargo-fuzz"
    cargo install cargo-fuzz
  fi
fi

# npm packages (wrangler, miniflare, playwright-core, binaryen, the npm peers), exactly as
# locked. Reinstalled only when the lockfile changed.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund
fi
# The bundlers, compilers and runtimes the package's toolchain test builds and runs a user's
# project with (webpack, esbuild, Vite, Rollup, TypeScript, Bun, Deno — the two runtimes'
# binaries are npm packages too): their own folder and lockfile, so the root's stays small.
# Reinstalled only when that lockfile changed.
tc=tests/toolchains
if [ ! -f $tc/node_modules/.package-lock.json ] || [ $tc/package-lock.json -nt $tc/node_modules/.package-lock.json ]; then
  say "npm ci (tests/toolchains)"
  (cd $tc && npm ci --no-audit --no-fund)
fi
# The official Python InfluxDB clients the `clients` test stage drives (the Node ones are
# devDependencies above), in a venv of their own; reinstalled only when the pins change.
CLIENTS_PY="influxdb-client==1.50.* influxdb==5.3.*"
if [ "$(cat .venv-clients/.pins 2>/dev/null)" != "$CLIENTS_PY" ]; then
  say "python3 -m venv .venv-clients && pip install $CLIENTS_PY"
  rm -rf .venv-clients
  python3 -m venv .venv-clients
  # shellcheck disable=SC2086 # the pins are separate words on purpose
  .venv-clients/bin/pip install --quiet --disable-pip-version-check $CLIENTS_PY
  echo "$CLIENTS_PY" > .venv-clients/.pins
fi
say "ready"
