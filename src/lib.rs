//! The wasm-bindgen layer over `linegate-core`: what the npm package (`pkg/`, built from
//! `npm/` by `scripts/build-pkg.sh`) calls. Thin by design: every check, message and count
//! comes from the core crate; this crate only moves bytes in and shapes answers as JS
//! values. One module per concern:
//!
//! - [`body`]: [`BodyBuffer`], the request body held in wasm memory;
//! - [`options`]: the options objects, read and validated here once (the JS side passes
//!   what the user gave);
//! - [`js`]: how a Rust value becomes a JS value ([`js::ToJs`], the plain-object builder);
//! - [`results`]: verdicts, validations and diagnostics as typed JS objects
//!   (`tests/node/dts-drift.test.mjs` checks real answers against their TypeScript);
//! - `dts` (`--features ts`, host only): `npm/types.d.ts`, generated from the shapes of
//!   `results`, the option objects of `options` and core's tables (`ts`); `tests/dts.rs`
//!   fails when the committed file and they differ;
//! - [`columns`]: the parsed points as flat arrays, and their field-type codes;
//! - [`progress`]: progress callbacks and cancellation (`AbortSignal`, `onProgress` → false);
//! - [`answers`]: InfluxDB's answers to requests the doors answer themselves;
//! - [`stream`]: [`StreamChecker`], the check fed chunk by chunk as the body arrives;
//! - [`delivery`]: the spool's delivery decisions and Go's gzip reader, for the JS doors;
//! - [`quota`]: the write quotas' decisions (spec Part D.2) for a Worker's own storage;
//! - [`known`]: [`KnownSeries`], an isolate's memory of admitted series, held in wasm.

pub mod answers;
pub mod body;
pub mod columns;
pub mod delivery;
#[cfg(feature = "ts")]
pub mod dts;
pub mod js;
pub mod known;
pub mod options;
pub mod progress;
pub mod quota;
pub mod results;
pub mod stream;
#[cfg(feature = "ts")]
mod ts;

use linegate_core::pipeline;
use linegate_core::{validate_with_progress, Request, Verdict};
use wasm_bindgen::prelude::*;

pub use answers::answer;
pub use body::BodyBuffer;
pub use columns::FieldCode;
pub use known::KnownSeries;
pub use linegate_core as core;
pub use stream::StreamChecker;

use columns::PointColumns;
use js::{to_js, OwnedText, ToJs};
use options::{BatchOptions, CheckOptions};
use progress::Progress;
use results::{CheckAnswer, JsCredentials, JsPrecisionRule, JsUpstreamWrite, JsValidation};

/// The whole request check of a live write request, at either endpoint (spec Part A for
/// `/api/v2/write`, Part C for v1's `/write`), as an edge judges it.
#[wasm_bindgen(js_name = checkWrite)]
pub fn check_write(body: &BodyBuffer, opts: JsValue) -> Result<JsValue, JsValue> {
    let o = CheckOptions::read(opts)?;
    let req = Request {
        query: o.query.as_deref().unwrap_or_default().as_bytes(),
        authorization: o.authorization.as_deref().map(str::as_bytes),
        content_encoding: o.content_encoding.as_deref().map(str::as_bytes),
        body: body.bytes(),
    };
    let keep = o
        .is_partial()
        .then_some(linegate_core::partial::DEFAULT_KEEP);
    match pipeline::check_write(o.endpoint, &req, &o.limits, o.now, keep) {
        (v, Some(split)) => stream::split_answer(&split, o.destination(), v),
        (v, None) => to_js(&CheckAnswer::from(v)),
    }
}

/// A head-only call's rejection as a verdict (one copy of the conversion for all of them).
#[inline(never)]
fn rejected(r: linegate_core::Rejection) -> Result<JsValue, JsValue> {
    to_js(&CheckAnswer::from(Verdict::Reject(r)))
}

/// The credentials of a write request as its endpoint reads them (for `/write`, spec Part C
/// step 1: `u`/`p`, `Token [user:]secret`, Basic), or null when it has none: what an edge
/// compares with the tokens it lets through. Given a `path` (any request's), the rule is
/// the one InfluxDB reads credentials by at that path (`pipeline::credentials_rule`).
#[wasm_bindgen(js_name = writeCredentials)]
pub fn write_credentials(opts: JsValue) -> Result<JsValue, JsValue> {
    use linegate_core::pipeline::{credentials, credentials_rule, Credentials, Head};
    let o = CheckOptions::read(opts)?;
    let head = Head {
        endpoint: o.path.as_deref().map_or(o.endpoint, credentials_rule),
        query: o.query.as_deref().unwrap_or_default().as_bytes(),
        authorization: o.authorization.as_deref().map(str::as_bytes),
        content_encoding: None,
    };
    let found = match credentials(&head, &linegate_core::Query::parse(head.query)) {
        None => return Ok(JsValue::NULL),
        Some(Credentials::Token(t)) => JsCredentials {
            user: None,
            secret: OwnedText(t.to_vec()),
        },
        Some(Credentials::Password { user, password }) => JsCredentials {
            user: Some(OwnedText(user)),
            secret: OwnedText(password),
        },
    };
    to_js(&found)
}

/// Step 1 of a write as the request alone decides it, before a byte of the body is read
/// (`pipeline::given_credentials`): null when it goes on, or the 401 verdict when it has no
/// credentials (on v2 also a blank `Authorization`; on v1 none, unless `opts.upstream` is
/// InfluxDB 1.x, which decides itself).
#[wasm_bindgen(js_name = credentialsCheck)]
pub fn credentials_check(opts: JsValue) -> Result<JsValue, JsValue> {
    use linegate_core::pipeline::{given_credentials, Head};
    use linegate_core::upstream::EdgeFor;
    let o = CheckOptions::read(opts)?;
    let head = Head {
        endpoint: o.endpoint,
        query: o.query.as_deref().unwrap_or_default().as_bytes(),
        authorization: o.authorization.as_deref().map(str::as_bytes),
        content_encoding: None,
    };
    let query = linegate_core::Query::parse(head.query);
    match given_credentials(&head, &query, &EdgeFor(o.upstream)) {
        Ok(_) => Ok(JsValue::NULL),
        Err(r) => rejected(r),
    }
}

/// The `precision` values clients of `endpoint` send, each with how the endpoint reads
/// given timestamps under it: `[{ value, unit, ignoresUnit }]` (`unit` is `ns`, `us`, `ms`
/// or `s`; `ignoresUnit`: a coarser 1.x unit read as nanoseconds, `/write`'s silent trap).
#[wasm_bindgen]
pub fn precisions(endpoint: &str) -> Result<JsValue, JsValue> {
    use linegate_core::pipeline::{precision_params, TimeRule};
    let ep = linegate_core::Endpoint::from_path(endpoint).ok_or_else(|| {
        options::type_error("linegate: endpoint must be \"/api/v2/write\" or \"/write\"")
    })?;
    let out = js_sys::Array::new();
    for p in precision_params(ep) {
        let Some(rule) = TimeRule::of(ep, p.as_bytes()) else {
            continue;
        };
        let rule = JsPrecisionRule {
            value: p,
            unit: rule.precision.as_str(),
            ignores_unit: rule.ignores_unit(),
        };
        out.push(&rule.to_js());
    }
    Ok(out.into())
}

/// Where a checked v2 write goes on the upstream (`opts.upstream`): `{ path, authorization }`
/// (`authorization` null: send none), null when it goes unchanged, or a rejection verdict
/// when the upstream cannot take it (a bucket 1.x cannot map).
#[wasm_bindgen(js_name = upstreamWrite)]
pub fn upstream_write(opts: JsValue) -> Result<JsValue, JsValue> {
    let o = CheckOptions::read(opts)?;
    match linegate_core::upstream::v2_request(
        o.upstream,
        o.query.as_deref().unwrap_or_default().as_bytes(),
        o.authorization.as_deref().map(str::as_bytes),
    ) {
        Ok(None) => Ok(JsValue::NULL),
        Ok(Some(out)) => to_js(&JsUpstreamWrite {
            path: out.path,
            authorization: out.authorization,
        }),
        Err(r) => rejected(r),
    }
}

/// A batch checked as the server would answer an authorized write to an existing bucket,
/// explained: diagnostics for rejected lines, storage warnings, and an optional summary.
/// `opts.onProgress` and `opts.signal` report and cancel (see [`progress`]).
#[wasm_bindgen]
pub fn validate(body: &BodyBuffer, opts: JsValue) -> Result<JsValue, JsValue> {
    let v = check_batch(body, BatchOptions::read(opts, true)?, &mut |_| {})?;
    to_js(&JsValidation::from(v))
}

/// The check of `validate` and `parse`, with progress and cancellation. One copy for both:
/// the point sink is a `dyn` (a copy of the batch reader per caller cost 1.4 KB of the
/// gzipped wasm; the indirect call per point is lost beside parsing the point).
#[inline(never)]
fn check_batch(
    body: &BodyBuffer,
    o: BatchOptions,
    on_point: &mut dyn FnMut(&linegate_core::Point<'_>),
) -> Result<linegate_core::Validation, JsValue> {
    let mut progress = Progress::new(o.on_progress.clone(), o.signal.clone())?;
    let v = validate_with_progress(body.bytes(), &o.core(), on_point, |done, total| {
        progress.report(done, total)
    });
    progress.check()?;
    Ok(v)
}

/// The points of an accepted batch (`points`, as [`PointColumns`]), or, when InfluxDB
/// would reject it, `points: null`; `validation` explains the answer either way. Warnings
/// and the summary are not looked for here.
#[wasm_bindgen]
pub fn parse(body: &BodyBuffer, opts: JsValue) -> Result<JsValue, JsValue> {
    let mut columns = PointColumns::default();
    let v = check_batch(body, BatchOptions::read(opts, false)?, &mut |p| {
        columns.push(p)
    })?;
    let points = if v.accepted() {
        columns.into_js()?
    } else {
        JsValue::NULL
    };
    let out = js_sys::Object::new();
    js::set(&out, "points", &points)?;
    js::set(&out, "validation", &to_js(&JsValidation::from(v))?)?;
    Ok(out.into())
}

/// The header an edge sets to its client's address when it forwards a request (core's
/// `pipeline::CLIENT_ADDRESS_HEADER`; the backend believes it from its trusted proxies only).
#[wasm_bindgen(js_name = clientAddressHeader)]
pub fn client_address_header() -> String {
    linegate_core::pipeline::CLIENT_ADDRESS_HEADER.to_string()
}

/// The header that names a batch on every attempt to deliver it (core's
/// `delivery::BATCH_ID_HEADER`): linegate-backend stores a batch whose id it has stored
/// before only once.
#[wasm_bindgen(js_name = batchIdHeader)]
pub fn batch_id_header() -> String {
    linegate_core::delivery::BATCH_ID_HEADER.to_string()
}

/// The most bytes a gzip member header can take before core decides on it (core's
/// `limits::MAX_GZIP_HEADER`): enough of a body for every check before the size check.
#[wasm_bindgen(js_name = maxGzipHeader)]
pub fn max_gzip_header() -> usize {
    linegate_core::limits::MAX_GZIP_HEADER
}

/// The version of the series hash (core's `quota::SERIES_HASH_VERSION`) that `seriesHashes`
/// gives: a stored set of another version was made by another hash.
#[wasm_bindgen(js_name = seriesHashVersion)]
pub fn series_hash_version() -> u32 {
    linegate_core::quota::SERIES_HASH_VERSION
}

/// How much of a request body to read and hold, from its `Content-Length` value (null when
/// it has none: "", which is no number either) and `max_body` (core's `limits::BodyRead`).
#[wasm_bindgen(js_name = bodyRead)]
pub fn body_read(content_length: &str, max_body: f64) -> JsValue {
    // `as` saturates: a NaN or negative limit is 0, a huge one usize::MAX.
    let r = linegate_core::limits::BodyRead::of(Some(content_length.as_bytes()), max_body as usize);
    results::JsBodyRead::from(r).to_js()
}

/// The query parameters that name a write's queue in an edge spool (core's
/// `spool::naming_params`), comma-separated.
#[wasm_bindgen(js_name = spoolParams)]
pub fn spool_params(path: &str) -> String {
    linegate_core::spool::naming_params(path).join(",")
}

/// The crate version (the npm package's version is stamped from the same Cargo field).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
