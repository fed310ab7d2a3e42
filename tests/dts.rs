//! `npm/types.d.ts` is generated from the Rust types the wasm side serializes
//! (`linegate::dts::typescript`, ts-rs): this test fails when the two differ. With
//! `LINEGATE_DTS_WRITE=<path>` it writes the declarations there instead (what
//! `scripts/build-pkg.sh` does for the package, and how the committed file is refreshed).
#![cfg(all(feature = "ts", not(target_arch = "wasm32")))]

#[test]
fn types_d_ts_is_generated_from_the_rust_types() {
    let generated = linegate::dts::typescript();
    if let Ok(path) = std::env::var("LINEGATE_DTS_WRITE") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/npm/types.d.ts"))
        .unwrap_or_default();
    assert!(
        committed == generated,
        "npm/types.d.ts differs from the Rust types; write it again with \
         LINEGATE_DTS_WRITE=npm/types.d.ts cargo test -p linegate --features ts --test dts\n\
         --- generated ---\n{generated}"
    );
}
