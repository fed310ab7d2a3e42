//! Every answer InfluxDB OSS v2 gives on the paths linegate serves, as data: the rejections
//! of a write (spec Part B §1, Part C §C.1), the storage outcomes (§6), `/ping`, `/health`,
//! `/ready`, and unknown paths and methods. The doors (backend, Worker, CLI, package) send
//! these unchanged; no answer text is written anywhere else.

use crate::json;

/// Why a request was rejected: one variant per decision InfluxDB makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Step 1: no credentials, or credentials that match nothing.
    Unauthorized,
    /// v2 step 2: `precision` not exactly `ns`, `us`, `ms` or `s`.
    InvalidPrecision,
    /// v2 step 3: an empty `bucket` parameter.
    BucketParamMissing,
    /// Step 4: a bad first gzip header (the generic 500).
    GzipHeader,
    /// v2 step 5: neither `org` nor `orgID`.
    MissingOrg,
    /// v2 step 5: an `orgID` that is not an ID (Go's `platform.IDFromString` text).
    InvalidId(&'static str),
    /// v2 step 5: no org with that name.
    OrgNameNotFound(Vec<u8>),
    /// v2 step 5: no org with that ID.
    OrgIdNotFound,
    /// v2 step 6: no bucket with that ID or name in the org.
    BucketNotFound(Vec<u8>),
    /// v1 step 3: an empty `db` parameter.
    MissingDb,
    /// v1 step 5: no DBRP mapping for `db` (and `rp`).
    NoDbrp,
    /// Write permission missing on the bucket.
    ForbiddenWrite,
    /// Read permission missing (export, dead letters).
    ForbiddenRead,
    /// Step 8: a size limit reached.
    TooLarge,
    /// Step 8: reading the (gzip) body failed; Go's error text.
    ReadData {
        /// 400 or 500, as OSS maps the error.
        status: u16,
        /// Go's error text.
        go_text: String,
    },
    /// Step 9: rejected lines.
    ParseErrors,
    /// Step 10: storage dropped or changed points (422).
    PartialWrite(Vec<u8>),
    /// Step 10: storage failed (500).
    WriteFailed(Vec<u8>),
    /// linegate's edge: the write backend cannot be reached (503).
    Unavailable,
    /// linegate's edge spool: the destination's queue is at its capacity (503).
    SpoolFull,
    /// linegate's edge spool: the durable queue could not take the batch (503).
    SpoolUnavailable,
    /// Spec D.2: the tenant's write rate is at or above its quota in this window (429, sent
    /// with `Retry-After: <retry_after>`).
    RateQuota {
        /// Whole seconds to the window's end.
        retry_after: u64,
    },
    /// Spec D.2: a new series does not fit the bucket's series quota (429, no `Retry-After`).
    SeriesQuota,
    /// linegate's edge: the isolate's budget of bodies in flight is spent (503, sent with
    /// `Retry-After`).
    Busy,
    /// linegate-backend: a v1 password that would wait for hashing behind more than the
    /// hashing pool's queue holds (503, sent with `Retry-After`), answered unhashed.
    PasswordChecksBusy,
    /// Any other failure of the server itself (500, generic text).
    Internal,
    /// A method the path does not serve (405); the methods it does, sent as `Allow`.
    MethodNotAllowed(String),
    /// A path nothing serves (404).
    NotFound,
    /// A request to a linegate API that InfluxDB would answer with `invalid` (400).
    Invalid(Vec<u8>),
}

/// A rejection: what to answer instead of forwarding or storing. Data first (`reason`,
/// `status`, `code`, `line`, `retry_after`); `body` is the exact bytes to send and
/// [`Rejection::headers`] every header that goes with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The step or condition that decided this answer.
    pub reason: Reason,
    /// The HTTP status.
    pub status: u16,
    /// InfluxDB's error code (`invalid`, `not found`, …); also the `X-Platform-Error-Code`.
    pub code: &'static str,
    /// The exact response body.
    pub body: Vec<u8>,
    /// The first rejected line, for parse errors.
    pub line: Option<u64>,
    /// The seconds sent as `Retry-After`: the rate quota's own, or what the door that
    /// answers a 503 gives ([`Rejection::with_retry_after`]).
    pub retry_after: Option<u64>,
}

/// The InfluxDB OSS version linegate answers as, as a literal (for `concat!`).
#[macro_export]
macro_rules! influx_version {
    () => {
        "v2.9.1"
    };
}

/// InfluxDB Cloud's text for the series-cardinality 429 (spec Part D.2).
pub const SERIES_MESSAGE: &str = "Series cardinality exceeds your plan's service quota";

/// The InfluxDB OSS version linegate answers as (`X-Influxdb-Version`, `/health`), written
/// once: the backend appends its own, the Worker and the page send it as it is.
pub const INFLUX_VERSION: &str = influx_version!();

/// What storage's 422 message starts with, before its reason.
const PARTIAL_WRITE_PREFIX: &[u8] = b"failure writing points to database: partial write: ";

/// Content type of every JSON answer.
pub const JSON_TYPE: &str = "application/json; charset=utf-8";

/// Content type of a plain-text answer (line protocol out, `/ready`).
pub const TEXT_TYPE: &str = "text/plain; charset=utf-8";

impl Rejection {
    fn new(reason: Reason, status: u16, code: &'static str, message: &[u8]) -> Rejection {
        Rejection {
            reason,
            status,
            code,
            body: json::error_body(code, message),
            line: None,
            retry_after: None,
        }
    }

    /// An answer of linegate's own APIs in InfluxDB's error shape, with its own status,
    /// code and text (the write path's answers are the constructors below).
    pub fn other(status: u16, code: &'static str, message: &[u8]) -> Rejection {
        Rejection::new(Reason::Invalid(message.to_vec()), status, code, message)
    }

    /// The response headers, in the order they are sent: those InfluxDB sends with every
    /// error (`Content-Type`, `X-Platform-Error-Code`), then `Allow` on a 405 and
    /// `Retry-After` when the rejection carries it.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h: Vec<(&'static str, String)> = error_headers(self.code)
            .iter()
            .map(|&(k, v)| (k, v.to_string()))
            .collect();
        if let Reason::MethodNotAllowed(allow) = &self.reason {
            h.push(("Allow", allow.clone()));
        }
        if let Some(secs) = self.retry_after {
            h.push(("Retry-After", secs.to_string()));
        }
        h
    }

    /// This rejection sent with `Retry-After: <secs>` (the 503s of a door that knows when
    /// to come back).
    pub fn with_retry_after(self, secs: u64) -> Rejection {
        Rejection {
            retry_after: Some(secs),
            ..self
        }
    }

    /// The message, as sent (JSON-escaped), for logs and people.
    pub fn message_escaped(&self) -> &[u8] {
        let b = &self.body;
        let start = b"{\"code\":\"".len() + json::escaped_len(self.code.as_bytes());
        let start = start + b"\",\"message\":\"".len();
        let end = b.iter().rposition(|&c| c == b'"').unwrap_or(b.len());
        b.get(start..end.max(start)).unwrap_or_default()
    }

    /// 401 `unauthorized`: no credentials, or credentials nobody accepts.
    pub fn unauthorized() -> Rejection {
        Rejection::new(
            Reason::Unauthorized,
            401,
            "unauthorized",
            b"unauthorized access",
        )
    }
    /// 400 for a `precision` OSS does not know.
    pub fn invalid_precision() -> Rejection {
        Rejection::new(
            Reason::InvalidPrecision,
            400,
            "invalid",
            b"invalid precision; valid precision units are ns, us, ms, and s",
        )
    }
    /// 404 for a missing or empty `bucket` parameter.
    pub fn bucket_not_found() -> Rejection {
        Rejection::new(
            Reason::BucketParamMissing,
            404,
            "not found",
            b"bucket not found",
        )
    }
    /// OSS's generic 500 `internal error`.
    pub fn internal() -> Rejection {
        Rejection::new(
            Reason::Internal,
            500,
            "internal error",
            b"An internal error has occurred - check server logs",
        )
    }
    /// Step 4: the 500 for a body whose gzip header cannot be read.
    pub fn gzip_header() -> Rejection {
        Rejection {
            reason: Reason::GzipHeader,
            ..Rejection::internal()
        }
    }
    /// 400 when neither `org` nor `orgID` is given.
    pub fn missing_org() -> Rejection {
        Rejection::new(
            Reason::MissingOrg,
            400,
            "invalid",
            b"Please provide either orgID or org",
        )
    }
    /// 400 for a malformed `orgID` or `bucket` ID (`text` is Go's).
    pub fn invalid_id(text: &'static str) -> Rejection {
        Rejection::new(Reason::InvalidId(text), 400, "invalid", text.as_bytes())
    }
    /// 404 for an `org` name that does not exist.
    pub fn org_name_not_found(name: &[u8]) -> Rejection {
        let mut m = b"organization name \"".to_vec();
        m.extend_from_slice(name);
        m.extend_from_slice(b"\" not found");
        Rejection::new(Reason::OrgNameNotFound(name.to_vec()), 404, "not found", &m)
    }
    /// 404 for an `orgID` that does not exist.
    pub fn org_id_not_found() -> Rejection {
        Rejection::new(
            Reason::OrgIdNotFound,
            404,
            "not found",
            b"organization not found",
        )
    }
    /// 404 for a `bucket` (name or ID) that does not exist in the org.
    pub fn bucket_named_not_found(value: &[u8]) -> Rejection {
        let mut m = b"bucket \"".to_vec();
        m.extend_from_slice(value);
        m.extend_from_slice(b"\" not found");
        Rejection::new(Reason::BucketNotFound(value.to_vec()), 404, "not found", &m)
    }
    /// v1: 404 for a missing `db` parameter.
    pub fn missing_db() -> Rejection {
        Rejection::new(Reason::MissingDb, 400, "invalid", b"missing db")
    }
    /// v1: 404 when no DBRP mapping (explicit or virtual) matches `db`/`rp`.
    pub fn no_dbrp() -> Rejection {
        Rejection::new(Reason::NoDbrp, 404, "not found", b"no dbrp mapping found")
    }
    /// 403 when the authorization may not write the bucket.
    pub fn forbidden_write() -> Rejection {
        Rejection::new(
            Reason::ForbiddenWrite,
            403,
            "forbidden",
            b"insufficient permissions for write",
        )
    }
    /// 403 when the authorization may not read the bucket.
    pub fn forbidden_read() -> Rejection {
        Rejection::new(
            Reason::ForbiddenRead,
            403,
            "forbidden",
            b"insufficient permissions for read",
        )
    }
    /// 413 for a body (as received or decoded) at or above a size limit.
    pub fn too_large() -> Rejection {
        Rejection::new(
            Reason::TooLarge,
            413,
            "request too large",
            b"unable to read data: points batch is too large",
        )
    }
    /// Step 8's read errors: 400 for Go's data errors (bad checksum, bad second header),
    /// 500 for the rest, `unable to read data: <go error>`.
    pub fn read_data(status: u16, go_text: String) -> Rejection {
        let code = if status == 400 {
            "invalid"
        } else {
            "internal error"
        };
        let message = format!("unable to read data: {go_text}");
        Rejection::new(
            Reason::ReadData { status, go_text },
            status,
            code,
            message.as_bytes(),
        )
    }
    /// The 400 of a batch with rejected lines, from its escaped joined message.
    pub fn parse_errors(body: Vec<u8>, line: Option<u64>) -> Rejection {
        Rejection {
            reason: Reason::ParseErrors,
            status: 400,
            code: "invalid",
            body,
            line,
            retry_after: None,
        }
    }
    /// The 400 of a partial write (spec Part D.1.2): the whole batch's 400 (`whole`, from
    /// [`parse_errors`](Rejection::parse_errors)) with `partial write error (<A> accepted):
    /// <R> out of <T> lines rejected` as the message's first line; same `line`.
    pub fn partial_parse(accepted: u64, rejected: u64, whole: &Rejection) -> Rejection {
        let head = b"{\"code\":\"invalid\",\"message\":\"";
        let rest = whole
            .body
            .strip_prefix(head.as_slice())
            .unwrap_or(&whole.body);
        let first = format!(
            "partial write error ({accepted} accepted): {rejected} out of {} lines rejected\\n",
            accepted + rejected
        );
        let mut body = Vec::with_capacity(whole.body.len() + first.len());
        body.extend_from_slice(head);
        body.extend_from_slice(first.as_bytes());
        body.extend_from_slice(rest);
        Rejection::parse_errors(body, whole.line)
    }
    /// The 400 of a partial write whose lines of new series did not fit the series quota
    /// (spec D.2 with D.1.2): D.1.2's first line with `(accepted, rejected)` (`rejected`
    /// counting those lines), then the whole batch's message when the parser rejected a line
    /// (`whole`), then `<series> lines of new series rejected: <SERIES_MESSAGE>`; `line` is
    /// the first rejected line of either kind (`series_line` the first of new series).
    pub fn partial_series(
        (accepted, rejected): (u64, u64),
        whole: Option<&Rejection>,
        series: u64,
        series_line: u64,
    ) -> Rejection {
        let head = b"{\"code\":\"invalid\",\"message\":\"";
        let mut body = head.to_vec();
        body.extend_from_slice(
            format!(
                "partial write error ({accepted} accepted): {rejected} out of {} lines rejected\\n",
                accepted + rejected
            )
            .as_bytes(),
        );
        let mut line = series_line;
        if let Some(w) = whole {
            // The whole batch's escaped message: between the head and `","line":N}`.
            let rest = w.body.strip_prefix(head.as_slice()).unwrap_or(&w.body);
            let tail = b"\",\"line\":";
            let end = (rest.windows(tail.len()))
                .rposition(|w| w == tail)
                .unwrap_or(rest.len());
            body.extend_from_slice(&rest[..end]);
            body.extend_from_slice(b"\\n");
            line = line.min(w.line.unwrap_or(u64::MAX));
        }
        body.extend_from_slice(
            format!("{series} lines of new series rejected: {SERIES_MESSAGE}\",\"line\":{line}}}")
                .as_bytes(),
        );
        Rejection::parse_errors(body, Some(line))
    }
    /// Storage's 422 (spec Part B §6): `reason` is what follows `partial write: `.
    pub fn partial_write(reason: &[u8]) -> Rejection {
        let mut m = PARTIAL_WRITE_PREFIX.to_vec();
        m.extend_from_slice(reason);
        Rejection::new(
            Reason::PartialWrite(reason.to_vec()),
            422,
            "unprocessable entity",
            &m,
        )
    }
    /// Storage's 422 from the whole message [`storage::apply`](crate::storage::apply)
    /// gives (`Applied::error`, which already starts with what
    /// [`partial_write`](Rejection::partial_write) puts first).
    pub fn storage_partial_write(message: &[u8]) -> Rejection {
        Rejection::partial_write(
            message
                .strip_prefix(PARTIAL_WRITE_PREFIX)
                .unwrap_or(message),
        )
    }
    /// Storage's 500 (spec Part B §6).
    pub fn write_failed(error: &[u8]) -> Rejection {
        let mut m = b"unexpected error writing points to database: ".to_vec();
        m.extend_from_slice(error);
        Rejection::new(
            Reason::WriteFailed(error.to_vec()),
            500,
            "internal error",
            &m,
        )
    }
    /// The edge's 503 when the write backend cannot be reached; send `Retry-After` with it.
    pub fn unavailable() -> Rejection {
        Rejection::new(
            Reason::Unavailable,
            503,
            "unavailable",
            b"write backend unavailable",
        )
    }
    /// The edge spool's 503 when a destination's queue is full; send `Retry-After` with it.
    pub fn spool_full() -> Rejection {
        Rejection::new(Reason::SpoolFull, 503, "unavailable", b"write spool full")
    }
    /// The edge spool's 503 when its durable store failed; send `Retry-After` with it.
    pub fn spool_unavailable() -> Rejection {
        Rejection::new(
            Reason::SpoolUnavailable,
            503,
            "unavailable",
            b"write spool unavailable",
        )
    }
    /// Spec D.2's rate 429 (InfluxDB Cloud's text), with `Retry-After: <retry_after>`.
    pub fn rate_quota(tenant: &[u8], retry_after: u64) -> Rejection {
        let mut m = b"org ".to_vec();
        m.extend_from_slice(tenant);
        m.extend_from_slice(b" has exceeded limited_write plan limit");
        Rejection::new(
            Reason::RateQuota { retry_after },
            429,
            "too many requests",
            &m,
        )
        .with_retry_after(retry_after)
    }
    /// Spec D.2's series-cardinality 429 (InfluxDB Cloud's text); it has no `Retry-After`.
    pub fn series_quota() -> Rejection {
        Rejection::new(
            Reason::SeriesQuota,
            429,
            "too many requests",
            SERIES_MESSAGE.as_bytes(),
        )
    }
    /// The edge's 503 when the isolate's budget of bodies in flight is spent; send
    /// `Retry-After` with it.
    pub fn busy() -> Rejection {
        Rejection::new(
            Reason::Busy,
            503,
            "unavailable",
            b"too many writes in flight",
        )
    }
    /// linegate-backend's 503 for a v1 password it cannot hash now: the hashing pool and its
    /// bounded queue are full (a flood of guesses); a second later there may be room.
    pub fn password_checks_busy() -> Rejection {
        Rejection::new(
            Reason::PasswordChecksBusy,
            503,
            "unavailable",
            b"too many password checks in progress",
        )
        .with_retry_after(1)
    }
    /// A 400 `invalid` with linegate's own text (its APIs' bad parameters).
    pub fn invalid(message: &[u8]) -> Rejection {
        Rejection::new(Reason::Invalid(message.to_vec()), 400, "invalid", message)
    }
    /// 405 on a path served with other methods, with `Allow: <allow>`.
    pub fn method_not_allowed(allow: &str) -> Rejection {
        let m = format!("allow: {allow}");
        Rejection::new(
            Reason::MethodNotAllowed(allow.to_string()),
            405,
            "method not allowed",
            m.as_bytes(),
        )
    }
    /// 404 of a path nothing serves. InfluxDB's API router writes it through its indenting
    /// JSON encoder, so it is the one error body with tabs and newlines.
    pub fn not_found() -> Rejection {
        Rejection {
            reason: Reason::NotFound,
            status: 404,
            code: "not found",
            body: b"{\n\t\"code\": \"not found\",\n\t\"message\": \"path not found\"\n}".to_vec(),
            line: None,
            retry_after: None,
        }
    }
}

/// A complete answer that is not a rejection: status, headers, body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The headers, in the order they are sent.
    pub headers: Vec<(&'static str, String)>,
    /// The body, sent as it is.
    pub body: Vec<u8>,
}

impl From<Rejection> for Answer {
    fn from(r: Rejection) -> Answer {
        Answer {
            status: r.status,
            headers: r.headers(),
            body: r.body,
        }
    }
}

impl Answer {
    /// 204, no body (a write stored, a mapping deleted).
    pub fn no_content() -> Answer {
        Answer {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// 200 with a body of `content_type` (such as [`JSON_TYPE`] or [`TEXT_TYPE`]).
    pub fn ok(content_type: &str, body: Vec<u8>) -> Answer {
        Answer::with_type(200, content_type, body)
    }

    /// A JSON answer of linegate's own APIs (a listing, a created record).
    pub fn json(status: u16, body: Vec<u8>) -> Answer {
        Answer::with_type(status, JSON_TYPE, body)
    }

    fn with_type(status: u16, content_type: &str, body: Vec<u8>) -> Answer {
        Answer {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body,
        }
    }

    /// The answer as a server sends it: InfluxDB's root handler adds the build headers of
    /// `version` ([`build_headers`]) to every response, before the answer's own.
    pub fn built(self, version: &str) -> Answer {
        let mut headers = build_headers(version);
        headers.extend(self.headers);
        Answer { headers, ..self }
    }
}

/// The headers InfluxDB sends with every error, whose code is `code`.
pub fn error_headers(code: &'static str) -> [(&'static str, &'static str); 2] {
    [("Content-Type", JSON_TYPE), ("X-Platform-Error-Code", code)]
}

/// The headers InfluxDB's root handler adds to every response.
pub fn build_headers(version: &str) -> Vec<(&'static str, String)> {
    vec![
        ("X-Influxdb-Build", "OSS".into()),
        ("X-Influxdb-Version", version.into()),
    ]
}

/// `GET|HEAD /ping`: 204 with the build headers.
pub fn ping(version: &str) -> Answer {
    Answer::no_content().built(version)
}

/// `GET /health`: InfluxDB's fixed text, with its spacing and trailing newline.
pub fn health(version: &str, commit: &str) -> Answer {
    let mut body = b"{\"name\":\"influxdb\", \"message\":\"ready for queries and writes\", \
\"status\":\"pass\", \"checks\":[], \"version\": "
        .to_vec();
    body.extend_from_slice(&json::quote(version.as_bytes()));
    body.extend_from_slice(b", \"commit\": ");
    body.extend_from_slice(&json::quote(commit.as_bytes()));
    body.extend_from_slice(b"}\n");
    Answer::ok(JSON_TYPE, body).built(version)
}

/// `GET /ready`: when the server started (ns since the epoch) and how long it has been up.
/// InfluxDB encodes it with a four-space indent and writes the status before any header,
/// so Go sniffs the type as plain text.
pub fn ready(version: &str, started_ns: i64, up_ns: i64) -> Answer {
    let body = format!(
        "{{\n    \"status\": \"ready\",\n    \"started\": \"{}\",\n    \"up\": \"{}\"\n}}\n",
        crate::time::format_rfc3339_nano(started_ns),
        crate::time::go_duration(up_ns),
    );
    Answer::ok(TEXT_TYPE, body.into_bytes()).built(version)
}

// The tables below come after the code: adding them moved no line the wasm refers to
// (its panic locations), so the wasm stayed byte for byte the same.
/// The rejections linegate's write check answers (the package's `checkWrite` and
/// `Checker`), as (status, InfluxDB error code): the package's TypeScript `Reject` is
/// generated from this list (the series quota's 429, [`Rejection::series_quota`], is
/// answered apart), and a test below fails when a constructor of the check answers
/// something it does not hold.
pub const WRITE_CHECK_ANSWERS: [(u16, &str); 5] = [
    (400, "invalid"),
    (401, "unauthorized"),
    (404, "not found"),
    (413, "request too large"),
    (500, "internal error"),
];

/// The rejections of a batch checked alone (the package's `validate`: no credentials,
/// bucket or quota), as (status, error code): its `RejectedValidation` is generated from it.
pub const BATCH_CHECK_ANSWERS: [(u16, &str); 3] = [
    (400, "invalid"),
    (413, "request too large"),
    (500, "internal error"),
];

#[cfg(test)]
mod tests {
    #[test]
    fn the_check_answers_only_what_its_tables_list() {
        let batch = [
            Rejection::invalid_precision(),
            Rejection::internal(),
            Rejection::gzip_header(),
            Rejection::too_large(),
            Rejection::read_data(400, String::new()),
            Rejection::read_data(500, String::new()),
            Rejection::parse_errors(Vec::new(), Some(1)),
        ];
        let write_only = [
            Rejection::unauthorized(),
            Rejection::bucket_not_found(),
            Rejection::missing_org(),
            Rejection::invalid_id("x"),
            Rejection::org_name_not_found(b"o"),
            Rejection::org_id_not_found(),
            Rejection::bucket_named_not_found(b"b"),
            Rejection::missing_db(),
            Rejection::no_dbrp(),
        ];
        for r in &batch {
            assert!(BATCH_CHECK_ANSWERS.contains(&(r.status, r.code)), "{r:?}");
        }
        for r in batch.iter().chain(&write_only) {
            assert!(WRITE_CHECK_ANSWERS.contains(&(r.status, r.code)), "{r:?}");
        }
        for a in BATCH_CHECK_ANSWERS {
            assert!(WRITE_CHECK_ANSWERS.contains(&a));
        }
    }

    use super::*;

    #[test]
    fn bodies_and_messages() {
        let r = Rejection::org_name_not_found(b"a\"b");
        assert_eq!(
            r.body,
            br#"{"code":"not found","message":"organization name \"a\"b\" not found"}"#
        );
        assert_eq!(
            r.message_escaped(),
            br#"organization name \"a\"b\" not found"#
        );
        assert_eq!(
            Rejection::read_data(400, "gzip: invalid checksum".into()).body,
            br#"{"code":"invalid","message":"unable to read data: gzip: invalid checksum"}"#
        );
        assert_eq!(
            Rejection::method_not_allowed("POST").body,
            br#"{"code":"method not allowed","message":"allow: POST"}"#
        );
        let full = b"failure writing points to database: partial write: x dropped=1";
        let r = Rejection::storage_partial_write(full);
        assert_eq!(
            (r.status, &r.reason),
            (422, &Reason::PartialWrite(b"x dropped=1".to_vec()))
        );
        assert_eq!(r.message_escaped(), full);
        let h = |r: Rejection| Answer::from(r).headers;
        assert_eq!(
            h(Rejection::method_not_allowed("POST")),
            [
                ("Content-Type", JSON_TYPE.to_string()),
                ("X-Platform-Error-Code", "method not allowed".into()),
                ("Allow", "POST".into()),
            ]
        );
        assert_eq!(
            h(Rejection::unavailable().with_retry_after(5))[2],
            ("Retry-After", "5".into())
        );
        assert_eq!(h(Rejection::series_quota()).len(), 2);
        assert_eq!(
            Answer::from(Rejection::unauthorized()).built("v").headers[..3],
            [
                ("X-Influxdb-Build", "OSS".into()),
                ("X-Influxdb-Version", "v".into()),
                ("Content-Type", JSON_TYPE.to_string()),
            ]
        );
        let h = health("v2.9.1", "x");
        assert!(h.body.ends_with(b"\"commit\": \"x\"}\n"));
        let r = ready("v", 0, 1_500_000_000);
        assert!(String::from_utf8(r.body)
            .unwrap()
            .contains("\"up\": \"1.5s\""));
    }
}
