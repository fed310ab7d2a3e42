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
//! [`check_request`] (and [`pipeline::prepare`]) is the same for a whole request at once, as
//! an edge checks it:
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
//! - [`partial`]: partial writes (spec Part D.1): the split of a batch into accepted and
//!   rejected lines, and the answer.
//! - [`limits`]: every limit and its default ([`Limits`] for the ones a caller sets).
//! - [`answers`]: every answer as data ([`Rejection`] with its [`answers::Reason`], and
//!   `/ping`, `/health`, `/ready`, unknown paths and methods), sent unchanged by the doors.
//! - [`read_batch`] and [`Parser`]: the parser (a fast path, and InfluxDB's own algorithm for
//!   everything else). [`validate`]: the answer plus diagnostics, warnings and a summary.
//! - [`storage`]: shard groups, retention, field types, `time` fields, long strings, and the
//!   422 texts; [`lp`]: line protocol out; [`time`]: RFC 3339 and Go durations.
//! - [`quota`]: the write quotas of spec Part D.2 (rate window, series admission, 429s).
//! - [`gzip`], [`json`]: Go's gzip reader and JSON escaping, byte for byte.
//! - [`delivery`]: store-and-forward's policy (deliver, retry when, split where, dead
//!   letter why) for the doors that hold acknowledged batches.
//! - [`spool`]: the name of a write's queue in an edge spool (the parameters that name its
//!   bucket).
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

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(rust_2018_idioms, unreachable_pub)]

// The request: one way in (three stages, or the whole request at once), its answers and
// the limits it is read under.
pub mod answers;
pub mod limits;
pub mod partial;
pub mod pipeline;

pub use answers::Rejection;
pub use limits::Limits;
pub use pipeline::{check_request, Endpoint, Request, Verdict};

// Line protocol in: the parser and the points it borrows from the body.
mod batch;
mod error;
mod fast;
mod find;
pub mod known;
mod number;
mod point;
mod precision;
mod query;
pub mod quota;
mod reference;
pub mod series;
mod set64;
mod sort;
#[doc(hidden)]
#[allow(missing_docs)]
pub mod stages;

pub use batch::{
    check_batch, check_batch_portable, check_batch_with_values, read_batch, read_batch_split,
    read_batch_split_at, read_batch_until, BatchReport, Item, Join, Message, ParseOptions, Parser,
};
pub use error::{ErrorKind, LineError, ReservedTagKey};
pub use point::{EscapedStr, Field, FieldType, FieldValue, Point, Tag};
pub use precision::{Precision, MAX_NANO_TIME, MIN_NANO_TIME};
pub use query::{encode_value as encode_query_value, Query};

// A batch checked for a person: the answer plus diagnostics, warnings and a summary, at
// once or as the body arrives.
pub mod diagnostics;
mod stream;
mod validate;

/// The hash state for maps keyed by request data (a small hasher on wasm, `RandomState`
/// natively); the wasm layer uses it too.
pub use diagnostics::hasher::MapState;
pub use stream::Checker;
pub use validate::{validate, validate_split, validate_with_progress, ValidateOptions, Validation};

// Store-and-forward: what a door does with an upstream's answer (the relay and the spool),
// and what each kind of upstream (InfluxDB v2, InfluxDB 1.x, VictoriaMetrics) reads.
pub mod delivery;
pub mod spool;
pub mod upstream;

// What storage decides, and the formats InfluxDB speaks byte for byte.
pub mod crc;
pub mod gzip;
pub mod json;
pub mod lp;
pub mod storage;
pub mod time;
