//! The request body in wasm memory.

use wasm_bindgen::prelude::*;

/// A request body held in wasm memory. The JS API copies a `Uint8Array` or string into one
/// per call; a page reading a large file can fill one chunk by chunk instead, so the file is
/// never held twice and the reading itself can show progress.
#[wasm_bindgen]
#[derive(Default)]
pub struct BodyBuffer {
    bytes: Vec<u8>,
}

#[wasm_bindgen]
impl BodyBuffer {
    /// An empty buffer with room for `capacity` bytes (the file size, when known).
    #[wasm_bindgen(constructor)]
    pub fn new(capacity: Option<usize>) -> BodyBuffer {
        BodyBuffer {
            bytes: Vec::with_capacity(capacity.unwrap_or(0)),
        }
    }

    /// Takes the bytes as they are (one copy, into wasm memory, done by the glue).
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: Vec<u8>) -> BodyBuffer {
        BodyBuffer { bytes }
    }

    /// Takes a string as its UTF-8 bytes. (`npm/api.js` replaces this with a faster path
    /// over `grow`; this is the glue's own, kept for direct callers of the raw exports.)
    #[wasm_bindgen(js_name = fromString)]
    pub fn from_string(text: String) -> BodyBuffer {
        BodyBuffer {
            bytes: text.into_bytes(),
        }
    }

    /// Appends a chunk.
    pub fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
    }

    /// Empties the buffer, keeping its memory for the next body.
    pub fn clear(&mut self) {
        self.bytes.clear();
    }

    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.bytes.len()
    }

    /// Grows the body by `n` zero bytes and returns their address in wasm memory. The JS
    /// side encodes a string straight there with `TextEncoder.encodeInto`, then truncates to
    /// what it wrote: wasm-bindgen's own string passing copies ASCII one character at a time
    /// in JS first, ~10× slower on large bodies.
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __grow)]
    pub fn grow(&mut self, n: usize) -> usize {
        let start = self.bytes.len();
        self.bytes.resize(start + n, 0);
        self.bytes[start..].as_mut_ptr() as usize
    }

    /// Cuts the body to `len` bytes (the end of what the JS side wrote after `grow`).
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __truncate)]
    pub fn truncate(&mut self, len: usize) {
        self.bytes.truncate(len);
    }
}

impl BodyBuffer {
    /// The bytes held, for native callers and tests.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}
