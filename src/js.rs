//! The one way a Rust value becomes a JS value here: [`ToJs`], implemented for the
//! primitives, and [`Obj`], a plain object filled key by key. Built directly rather than
//! through serde (whose machinery cost the package about 12 KB of wasm for a handful of
//! shapes); the shapes themselves are in `results`.

use wasm_bindgen::JsValue;

/// Data that crosses to JS as a plain value, built directly (serde's machinery cost the
/// package ≈12 KB of wasm for a handful of shapes): i64 becomes BigInt (exact), `None`
/// becomes `null`; counts are f64 on purpose so they stay plain numbers.
pub(crate) trait ToJs {
    fn to_js(&self) -> JsValue;
}

/// Converts `v` for a `#[wasm_bindgen]` return.
pub(crate) fn to_js<T: ToJs>(v: &T) -> Result<JsValue, JsValue> {
    Ok(v.to_js())
}

/// Sets `o[k] = v`.
pub(crate) fn set(o: &js_sys::Object, k: &str, v: &JsValue) -> Result<(), JsValue> {
    js_sys::Reflect::set(o, &JsValue::from_str(k), v).map(drop)
}

/// A plain object, filled key by key in the order JS will list them.
pub(crate) struct Obj(js_sys::Object);

impl Obj {
    pub(crate) fn new() -> Self {
        Obj(js_sys::Object::new())
    }

    pub(crate) fn put(self, k: &str, v: impl ToJs) -> Self {
        self.set(k, v.to_js())
    }

    // One copy of the set for every value type `put` is instantiated for (smaller wasm).
    #[inline(never)]
    fn set(self, k: &str, v: JsValue) -> Self {
        // Setting an own data property of a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&self.0, &JsValue::from_str(k), &v);
        self
    }

    pub(crate) fn done(self) -> JsValue {
        self.0.into()
    }
}

impl<T: ToJs + ?Sized> ToJs for &T {
    fn to_js(&self) -> JsValue {
        (**self).to_js()
    }
}

impl ToJs for f64 {
    fn to_js(&self) -> JsValue {
        JsValue::from_f64(*self)
    }
}

impl ToJs for u16 {
    fn to_js(&self) -> JsValue {
        JsValue::from_f64(f64::from(*self))
    }
}

impl ToJs for u32 {
    fn to_js(&self) -> JsValue {
        JsValue::from_f64(f64::from(*self))
    }
}

impl ToJs for i64 {
    fn to_js(&self) -> JsValue {
        JsValue::from(*self)
    }
}

impl ToJs for bool {
    fn to_js(&self) -> JsValue {
        JsValue::from_bool(*self)
    }
}

impl ToJs for str {
    fn to_js(&self) -> JsValue {
        JsValue::from_str(self)
    }
}

impl ToJs for String {
    fn to_js(&self) -> JsValue {
        JsValue::from_str(self)
    }
}

impl ToJs for std::borrow::Cow<'_, str> {
    fn to_js(&self) -> JsValue {
        JsValue::from_str(self)
    }
}

impl<T: ToJs> ToJs for Option<T> {
    fn to_js(&self) -> JsValue {
        self.as_ref().map_or(JsValue::NULL, ToJs::to_js)
    }
}

impl<T: ToJs> ToJs for [T] {
    fn to_js(&self) -> JsValue {
        self.iter()
            .map(ToJs::to_js)
            .collect::<js_sys::Array>()
            .into()
    }
}

impl<T: ToJs> ToJs for Vec<T> {
    fn to_js(&self) -> JsValue {
        self.as_slice().to_js()
    }
}

/// Bytes as a `Uint8Array` (borrowed).
impl ToJs for [u8] {
    fn to_js(&self) -> JsValue {
        js_sys::Uint8Array::from(self).into()
    }
}

/// Borrowed text from the body, as [`text`] makes it.
pub(crate) struct Text<'a>(pub &'a [u8]);

impl ToJs for Text<'_> {
    fn to_js(&self) -> JsValue {
        text(self.0)
    }
}

/// Text from the body: a string when it is valid UTF-8, else the raw bytes (`Uint8Array`),
/// so nothing is lost to replacement characters.
pub(crate) fn text(b: &[u8]) -> JsValue {
    match std::str::from_utf8(b) {
        Ok(t) => JsValue::from_str(t),
        Err(_) => js_sys::Uint8Array::from(b).into(),
    }
}

pub(crate) fn utf8(bytes: Vec<u8>) -> String {
    // Bodies are Go-escaped JSON, always valid UTF-8; lossy only as a guard.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Bytes as a `Uint8Array`.
pub(crate) struct Bytes(pub Vec<u8>);

impl ToJs for Bytes {
    fn to_js(&self) -> JsValue {
        js_sys::Uint8Array::from(self.0.as_slice()).into()
    }
}

/// Owned text for the summary (measurement names outlive the body there).
pub(crate) struct OwnedText(pub Vec<u8>);

impl ToJs for OwnedText {
    fn to_js(&self) -> JsValue {
        text(&self.0)
    }
}

/// A value already built.
pub(crate) struct Raw(pub JsValue);

impl ToJs for Raw {
    fn to_js(&self) -> JsValue {
        self.0.clone()
    }
}
