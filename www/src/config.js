// Replaced by the build (scripts/build-www.mjs) with the package's wasm file and the build id.
export const WASM = 'pkg/linegate_bg.wasm';
export const BUILD = 'dev';
