//! The Rust peers of `../shared/bench/README.md` as wasm, for `bench/wasm.mjs`: a body is
//! loaded into wasm memory once, then each parser runs over every line (full parse, values
//! typed), as the README's figures measure.

use std::hint::black_box;

use wasm_bindgen::prelude::*;

/// A dataset held in wasm memory, so the timed calls measure parsing only.
#[wasm_bindgen]
pub struct Data(String);

#[wasm_bindgen]
impl Data {
    /// Takes the bytes (UTF-8, as every dataset is).
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: Vec<u8>) -> Result<Data, JsError> {
        String::from_utf8(bytes)
            .map(Data)
            .map_err(|_| JsError::new("dataset is not UTF-8"))
    }

    /// tremor-influx: lines decoded (it is not a validator; it rejects `u` integers).
    pub fn tremor(&self) -> u32 {
        let mut ok = 0;
        for line in self.0.split('\n') {
            if let Ok(Some(v)) = tremor_influx::decode::<simd_json::BorrowedValue>(line, 0) {
                black_box(&v);
                ok += 1;
            }
        }
        ok
    }

    /// influxdb-line-protocol (InfluxDB 3's parser): lines parsed.
    pub fn influxdb3(&self) -> u32 {
        let mut ok = 0;
        for l in influxdb_line_protocol::parse_lines(&self.0).flatten() {
            black_box(&l);
            ok += 1;
        }
        ok
    }
}
