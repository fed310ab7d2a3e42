#!/usr/bin/env bash
# Builds everything the main job and the tests use: the CLI and the backend (release), the
# npm package in pkg/ (wasm), and the page in www/dist/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { printf '\033[1mbuild:\033[0m %s\n' "$*" >&2; }
say "cargo build --release (linegate, linegate-backend)"
cargo build --release --bin linegate --bin linegate-backend
say "npm run build (pkg/)"
npm run --silent build
say "npm run build:www (www/dist/)"
npm run --silent build:www
