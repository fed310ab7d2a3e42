//! The wasm-bindgen layer over `linegate-core` (see the npm package in `pkg/`).
//! Thin by design: every check lives in the core crate.

pub use linegate_core as core;
