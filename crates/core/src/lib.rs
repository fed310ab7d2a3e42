//! # linegate-core
//!
//! Every decision InfluxDB OSS v2 makes on its write path, as pure functions over data: the
//! order of checks of a write request (`/api/v2/write` and v1's `/write`), every answer it
//! gives, its line-protocol parser with every message byte for byte, and its storage rules.
//! The doors of linegate (the backend, the Worker, the npm package, the page, the CLI) only
//! move bytes around these functions.
//!
//! ## The pipeline
//!
//! [`pipeline`] runs OSS's steps in their order, in three stages so that nothing is read
//! before it may be: the head ([`pipeline::admit`]: credentials, `precision`, `bucket` or
//! `db`), the first bytes of the body and the lookups ([`pipeline::Admitted::resolve`]: gzip
//! header, org, bucket, permission), then the body ([`pipeline::Resolved::read`]). The caller
//! supplies a [`pipeline::Lookup`]: a server's knows its tokens and buckets; an edge's
//! ([`pipeline::Edge`]) knows none, so only what the request itself decides is judged and
//! the rest is forwarded.
//!
//! ```
//! use linegate_core::pipeline::{self, Edge, Endpoint, Head};
//! use linegate_core::Limits;
//!
//! let head = Head {
//!     endpoint: Endpoint::V2,
//!     query: b"org=acme&bucket=metrics&precision=s",
//!     authorization: Some(b"Token secret"),
//!     content_encoding: None,
//! };
//! let body = b"cpu,host=a usage=0.5 1700000000\ncpu,host=b usage=oops 1700000000\n";
//! // The head is judged before a byte of the body is read.
//! let admitted = pipeline::admit(&head, &mut Edge).expect("head accepted");
//! let resolved = admitted.resolve(body, &mut Edge).expect("forwardable");
//! match resolved.read(body, &Limits::default(), 1_700_000_000_000_000_000, |_| {}) {
//!     Ok(read) => println!("forward {} points", read.report.points),
//!     Err(r) => {
//!         assert_eq!((r.status, r.code, r.line), (400, "invalid", Some(2)));
//!         assert_eq!(
//!             String::from_utf8(r.body).unwrap(),
//!             r#"{"code":"invalid","message":"unable to parse 'cpu,host=b usage=oops 1700000000': invalid boolean","line":2}"#
//!         );
//!     }
//! }
//! ```
//!
//! [`check_request`] is the same for a whole request at once, as an edge checks it:
//!
//! ```
//! use linegate_core::{check_request, Limits, Request, Verdict};
//!
//! let req = Request {
//!     query: b"org=acme&bucket=metrics",
//!     authorization: None,
//!     content_encoding: None,
//!     body: b"cpu usage=1\n",
//! };
//! let Verdict::Reject(r) = check_request(&req, &Limits::default(), 0) else { panic!() };
//! assert_eq!(r.status, 401);
//! ```
//!
//! ## The rest
//!
//! - [`answers`]: every answer as data ([`Rejection`] with its [`answers::Reason`], and
//!   `/ping`, `/health`, `/ready`, unknown paths and methods), sent unchanged by the doors.
//! - [`read_batch`] and [`Parser`]: the parser (a fast path, and InfluxDB's own algorithm for
//!   everything else). [`validate`]: the answer plus diagnostics, warnings and a summary.
//! - [`storage`]: shard groups, retention, field types, `time` fields, long strings, and the
//!   422 texts; [`lp`]: line protocol out; [`time`]: RFC 3339 and Go durations.
//! - [`gzip`], [`json`]: Go's gzip reader and JSON escaping, byte for byte.
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
mod stream;
pub mod time;
pub mod upstream;
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
pub use stream::Checker;
pub use validate::{validate, validate_split, validate_with_progress, ValidateOptions, Validation};

/// Default cap on the escaped parse-error message: 16 MiB (spec Part A §1).
pub const DEFAULT_MAX_MESSAGE: usize = 16 << 20;
