#!/usr/bin/env bash
# Builds pkg/ (the npm package `linegate`) from a clean checkout:
#   1. the root crate for wasm32-unknown-unknown (release, simd128),
#   2. wasm-bindgen (the CLI version pinned in Cargo.toml) → JS glue for the web target,
#   3. wasm-opt from the npm `binaryen` package, when installed (Debian's is too old),
#   4. the hand-written package sources from npm/, with the version stamped from Cargo, and
#      types.d.ts generated from the Rust types (tests/dts.rs, host build).
# Honours CARGO_TARGET_DIR. LINEGATE_WASM_OPT=0 skips step 3; LINEGATE_SIMD=0 builds
# without simd128 (for engines that lack it); LINEGATE_PKG_DIR writes elsewhere than pkg/
# (benchmark variants).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
out="${LINEGATE_PKG_DIR:-$root/pkg}"
stage="$root/pkg.build.$$"
trap 'rm -rf "$stage"' EXIT

say() { printf 'build-pkg: %s\n' "$*" >&2; }

# The glue wasm-bindgen writes must come from the same version as the crate.
want="$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' Cargo.toml | head -n1)"
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" || true
if [ -z "$have" ]; then
  say "wasm-bindgen CLI not found; install it with: cargo install wasm-bindgen-cli --version $want"
  exit 1
fi
if [ "$have" != "$want" ]; then
  say "wasm-bindgen CLI is $have but the crate pins $want; run: cargo install wasm-bindgen-cli --version $want"
  exit 1
fi

flags="${RUSTFLAGS:-}"
opt_features=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-reference-types --enable-multivalue --enable-mutable-globals)
if [ "${LINEGATE_SIMD:-1}" != 0 ]; then
  flags="$flags -C target-feature=+simd128"
  opt_features+=(--enable-simd)
fi
say "cargo build (wasm32-unknown-unknown, RUSTFLAGS='${flags# }')"
RUSTFLAGS="${flags# }" cargo build --release --target wasm32-unknown-unknown -p linegate
wasm="$target_dir/wasm32-unknown-unknown/release/linegate.wasm"

mkdir -p "$stage"
say "wasm-bindgen $have"
wasm-bindgen --target web --no-typescript --out-dir "$stage" --out-name glue "$wasm"
mv "$stage/glue_bg.wasm" "$stage/linegate.wasm"
# Ship only reachable code: npm/api.js instantiates through the glue's initSync and fetches
# nothing itself, so the glue's async default init goes, and with it its
# `new URL('glue_bg.wasm', import.meta.url)` for a file that is not shipped (webpack fails
# to resolve it; Vite warns). Checked, so a wasm-bindgen that writes it otherwise fails here.
node - "$stage/glue.js" <<'JS'
const fs = require("fs"), f = process.argv[2];
let s = fs.readFileSync(f, "utf8");
const cut = (from, to) => {
  const a = s.indexOf(from), b = s.indexOf(to, a);
  if (a < 0 || b < 0) throw new Error(`build-pkg: glue.js no longer has ${JSON.stringify(from)}`);
  s = s.slice(0, a) + s.slice(b);
};
cut("async function __wbg_load(", "function initSync(");
cut("let __wbg_init_promise;", "export { initSync, __wbg_init as default };");
s = s.replace("export { initSync, __wbg_init as default };", "export { initSync };");
if (s.includes("import.meta") || s.includes("glue_bg.wasm") || s.includes("__wbg_init(")) {
  throw new Error("build-pkg: glue.js still refers to its default init");
}
fs.writeFileSync(f, s);
JS

wasm_opt="$root/node_modules/binaryen/bin/wasm-opt"
if [ "${LINEGATE_WASM_OPT:-1}" = 0 ]; then
  say "wasm-opt skipped (LINEGATE_WASM_OPT=0)"
elif [ -x "$wasm_opt" ]; then
  # -O3 for speed; --converge reruns it until the module stops shrinking. The rest only
  # shrink: no Rust pointer ever wraps into the low 1 KiB (the stack sits under 1 MiB and
  # grows down), and the producers/target_features sections are read by no engine.
  say "wasm-opt -O3 --converge ($("$wasm_opt" --version))"
  "$wasm_opt" --low-memory-unused --converge -O3 --strip-producers --strip-target-features \
    "${opt_features[@]}" "$stage/linegate.wasm" -o "$stage/linegate.opt.wasm"
  mv "$stage/linegate.opt.wasm" "$stage/linegate.wasm"
else
  say "wasm-opt not found (npm install brings the binaryen package); the module is left unoptimised"
fi

cp npm/*.js npm/*.d.ts npm/README.md npm/package.json npm/LICENSE-MIT npm/LICENSE-APACHE "$stage/"
# The data types of index.d.ts (types.d.ts) generated from the Rust types, on the host:
# the `ts` feature never reaches the wasm build above. tests/dts.rs (the same run without
# LINEGATE_DTS_WRITE) fails when the committed npm/types.d.ts differs from them.
say "types.d.ts from the Rust types (cargo test --features ts --test dts)"
LINEGATE_DTS_WRITE="$stage/types.d.ts" cargo test --quiet -p linegate --features ts --test dts >&2
version="$(cargo metadata --no-deps --format-version 1 |
  node -e 'const m=JSON.parse(require("fs").readFileSync(0,"utf8"));process.stdout.write(m.packages.find(p=>p.name==="linegate").version)')"
node -e '
  const fs = require("fs"), f = process.argv[1];
  const p = JSON.parse(fs.readFileSync(f, "utf8"));
  p.version = process.argv[2];
  fs.writeFileSync(f, JSON.stringify(p, null, 2) + "\n");
' "$stage/package.json" "$version"

# Swap the finished package in at once: tests of other parts may be importing pkg/.
rm -rf "$out.old"
[ -d "$out" ] && mv "$out" "$out.old"
mv "$stage" "$out"
rm -rf "$out.old"
size=$(wc -c <"$out/linegate.wasm")
gz=$(gzip -9c "$out/linegate.wasm" | wc -c)
say "pkg/ linegate@$version: linegate.wasm $size bytes, $gz gzipped"
