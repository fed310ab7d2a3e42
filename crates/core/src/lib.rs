//! # linegate-core
//!
//! InfluxDB OSS v2's write path, as a pure function: the line-protocol parser with every
//! check in InfluxDB's order and every message byte for byte, and the request check that
//! turns a write request into "forward" or "reject with this exact answer".
//!
//! ```
//! use linegate_core::{check_request, Limits, Request, Verdict};
//!
//! let req = Request {
//!     query: b"org=acme&bucket=metrics&precision=s",
//!     authorization: Some(b"Token secret"),
//!     content_encoding: None,
//!     body: b"cpu,host=a usage=0.5 1700000000\ncpu,host=b usage=oops 1700000000\n",
//! };
//! match check_request(&req, &Limits::default(), 1_700_000_000_000_000_000) {
//!     Verdict::Forward { points, .. } => println!("forward {points} points"),
//!     Verdict::Reject(r) => {
//!         assert_eq!(r.status, 400);
//!         assert_eq!(r.line, Some(2));
//!         assert_eq!(
//!             String::from_utf8(r.body).unwrap(),
//!             r#"{"code":"invalid","message":"unable to parse 'cpu,host=b usage=oops 1700000000': invalid boolean","line":2}"#
//!         );
//!     }
//! }
//! ```
//!
//! Points borrow from the body; nothing is unescaped until asked:
//!
//! ```
//! use linegate_core::{read_batch, ParseOptions, Precision, FieldValue};
//!
//! let body = b"weather,city=K\\ nigsberg temp=21.5,ok=true\n";
//! let mut temps = Vec::new();
//! let report = read_batch(body, &ParseOptions::new(Precision::Ns, 0), 1 << 20, |p| {
//!     assert_eq!(&*p.tags()[0].value(), b"K nigsberg");
//!     if let FieldValue::Float(t) = p.fields()[0].value() {
//!         temps.push(t);
//!     }
//! });
//! assert!(report.is_ok());
//! assert_eq!(temps, [21.5]);
//! ```
//!
//! No I/O, no threads, no panics on input: errors are data ([`LineError`], [`Rejection`]).

pub mod answers;
mod batch;
pub mod diagnostics;
mod error;
mod fast;
mod find;
pub mod gzip;
pub mod json;
pub mod lp;
mod number;
pub mod pipeline;
mod point;
mod precision;
mod query;
mod reference;
mod request;
pub mod storage;
pub mod time;
mod validate;

pub use batch::{
    read_batch, read_batch_split, read_batch_split_at, read_batch_until, BatchReport, Item, Join,
    Message, ParseOptions, Parser,
};
pub use error::{ErrorKind, LineError, ReservedTagKey};
pub use pipeline::Endpoint;
pub use point::{EscapedStr, Field, FieldType, FieldValue, Point, Tag};
pub use precision::{Precision, MAX_NANO_TIME, MIN_NANO_TIME};
pub use query::{encode_value as encode_query_value, Query};
pub use request::{
    check_gzip_header, check_request, is_gzip, prepare, prepare_at, prepare_batch,
    prepare_batch_at, read_body, verdict, Limits, Prepared, Rejection, Request, Verdict,
    DEFAULT_LIMITS,
};
pub use validate::{validate, validate_split, validate_with_progress, ValidateOptions, Validation};

/// Default cap on the escaped parse-error message: 16 MiB (spec Part A §1).
pub const DEFAULT_MAX_MESSAGE: usize = 16 << 20;
