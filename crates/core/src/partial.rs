//! Partial writes (spec Part D.1): when the operator allows it, a batch with rejected lines
//! is split into the lines InfluxDB's parser accepted (forwarded or stored, plain) and the
//! rejected ones (kept in a quarantine), and answered with the whole batch's 400 under a
//! first line giving the counts.
//!
//! The split is data ([`Split`]): the accepted body, the counts, and the rejected lines with
//! line number, bytes and InfluxDB's reason, so that other rules (a series quota) can move
//! more lines to the rejected side before the answer is made ([`Splitter`]).

use std::borrow::Cow;

use crate::answers::Rejection;
use crate::batch::{BatchReport, Item, ParseOptions, Parser};
use crate::error::LineError;
use crate::limits::Limits;
use crate::pipeline::{self, Endpoint, Lookup, Resolved};
use crate::pipeline::{prepare, Request};
use crate::point::Point;
use crate::query::Query;

/// The switch of spec Part D.1, the same at every door.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PartialWrites {
    /// Whole batches only, as OSS (the default); `accept_partial` is ignored.
    #[default]
    Off,
    /// Partial when the query string has `accept_partial=true` (first value, exactly).
    Request,
    /// Every write is partial.
    Always,
}

impl PartialWrites {
    /// `off`, `request` or `always` (the spelling of flags, variables and config keys).
    pub fn parse(s: &str) -> Option<PartialWrites> {
        match s {
            "off" => Some(PartialWrites::Off),
            "request" => Some(PartialWrites::Request),
            "always" => Some(PartialWrites::Always),
            _ => None,
        }
    }

    /// The switch's spelling in configuration (`off`, `request`, `always`).
    pub fn name(self) -> &'static str {
        match self {
            PartialWrites::Off => "off",
            PartialWrites::Request => "request",
            PartialWrites::Always => "always",
        }
    }

    /// Whether a write with this raw query string (without `?`) is partial.
    pub fn applies(self, query: &[u8]) -> bool {
        match self {
            PartialWrites::Off => false,
            PartialWrites::Always => true,
            PartialWrites::Request => {
                Query::parse(query).get("accept_partial") == Some(b"true".as_slice())
            }
        }
    }
}

/// Default age past which quarantined lines are dropped: 168 h (spec Part D.1.5).
pub const DEFAULT_QUARANTINE_AGE_SECS: u64 = 168 * 3600;

/// The destination a quarantined line is recorded under: the path and the query string
/// without the `u` and `p` pairs (v1 credentials), pairs otherwise kept as sent.
pub fn destination(path: &str, query: &[u8]) -> Vec<u8> {
    let mut out = path.as_bytes().to_vec();
    let mut first = true;
    for pair in query.split(|&b| b == b'&') {
        let key = pair.split(|&b| b == b'=').next().unwrap_or_default();
        if pair.is_empty() || key == b"u" || key == b"p" {
            continue;
        }
        out.push(if first { b'?' } else { b'&' });
        first = false;
        out.extend_from_slice(pair);
    }
    out
}

/// Default bound on the rejected lines one split keeps, in bytes (the quarantine's default
/// per destination, spec Part D.1.5): a flood of bad lines cannot grow memory past it.
pub const DEFAULT_KEEP: usize = 64 << 20;

/// One rejected logical line, as the quarantine keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedLine {
    /// 1-based physical line where it starts.
    pub line: u64,
    /// Its bytes, as InfluxDB quotes them (`unable to parse '<text>'`).
    pub text: Vec<u8>,
    /// InfluxDB's reason, as in the message (raw bytes: it may quote the line).
    pub reason: Vec<u8>,
}

impl RejectedLine {
    /// What keeping it costs, for the bound.
    pub fn cost(&self) -> usize {
        self.text.len() + self.reason.len() + 32
    }

    /// The JSON members `"line":N,"reason":"…","text":"…"` (Go's escaping; bytes that are
    /// not UTF-8 become U+FFFD here: the line-protocol export gives them back exactly).
    pub fn write_json_members(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("\"line\":{},\"reason\":", self.line).as_bytes());
        out.extend_from_slice(&crate::json::quote(&self.reason));
        out.extend_from_slice(b",\"text\":");
        out.extend_from_slice(&crate::json::quote(&self.text));
    }
}

/// Builds a [`Split`] line by line, in body order.
#[derive(Clone, Debug)]
pub struct Splitter {
    body: Vec<u8>,
    lens: Vec<usize>,
    accepted: u64,
    rejected: u64,
    kept: Vec<RejectedLine>,
    kept_bytes: usize,
    keep: usize,
}

impl Splitter {
    /// Keeps rejected lines up to `keep` bytes ([`RejectedLine::cost`]); the rest are
    /// counted only.
    pub fn new(keep: usize) -> Splitter {
        Splitter {
            body: Vec::new(),
            lens: Vec::new(),
            accepted: 0,
            rejected: 0,
            kept: Vec::new(),
            kept_bytes: 0,
            keep,
        }
    }

    /// An accepted line: its text (no LF) goes to the body, followed by LF.
    pub fn accept(&mut self, text: &[u8]) {
        self.accepted += 1;
        self.lens.push(text.len());
        self.body.extend_from_slice(text);
        self.body.push(b'\n');
    }

    /// `n` accepted lines that sit one after the other in the body: their bytes, each text
    /// ending at the LF that starts the next, the last without its LF (see [`Run`]).
    fn accept_lines(&mut self, bytes: &[u8], n: u64) {
        self.accepted += n;
        self.body.extend_from_slice(bytes);
        self.body.push(b'\n');
    }

    /// A rejected line, with its reason.
    pub fn reject(&mut self, line: u64, text: &[u8], reason: Vec<u8>) {
        self.rejected += 1;
        let cost = text.len() + reason.len() + 32;
        if self.kept_bytes + cost <= self.keep {
            self.kept_bytes += cost;
            self.kept.push(RejectedLine {
                line,
                text: text.to_vec(),
                reason,
            });
        }
    }

    /// A line the parser rejected (`body` is what its positions refer to).
    pub fn reject_error(&mut self, e: &LineError, body: &[u8]) {
        let text = e.text(body);
        let mut reason = Vec::new();
        e.kind.write_reason(text, &mut reason);
        self.reject(e.line, text, reason);
    }

    /// Accepted lines so far.
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Rejected lines so far.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Takes the accepted body built so far (a door may send it on while the rest is read).
    pub fn take_body(&mut self) -> Vec<u8> {
        // The next piece is likely as large: room for it now rather than grown step by step.
        let room = self.body.capacity();
        std::mem::replace(&mut self.body, Vec::with_capacity(room))
    }

    /// The split, given the whole batch's 400 (`None` when the parser rejected nothing).
    pub fn finish(self, whole: Option<Rejection>) -> Split {
        Split {
            body: self.body,
            lens: self.lens,
            accepted: self.accepted,
            rejected: self.rejected,
            kept: self.kept,
            whole,
            series: 0,
            series_line: None,
        }
    }
}

/// Accepted lines gathered while they follow one another in the body (each text ending at
/// the LF before the next one's first byte), so the accepted body is copied in pieces, not
/// line by line: the same bytes, at a fraction of the cost.
#[derive(Default)]
pub(crate) struct Run {
    start: usize,
    end: usize,
    lines: u64,
}

impl Run {
    /// The accepted line whose text is `body[a..b]`.
    pub(crate) fn add(&mut self, split: &mut Splitter, body: &[u8], a: usize, b: usize) {
        split.lens.push(b - a);
        if self.lines > 0 && a == self.end + 1 && body.get(self.end) == Some(&b'\n') {
            self.end = b;
            self.lines += 1;
            return;
        }
        self.flush(split, body);
        *self = Run {
            start: a,
            end: b,
            lines: 1,
        };
    }

    /// Copies what is gathered (before `body` changes, and at the end).
    pub(crate) fn flush(&mut self, split: &mut Splitter, body: &[u8]) {
        if self.lines > 0 {
            split.accept_lines(&body[self.start..self.end], self.lines);
            self.lines = 0;
        }
    }
}

/// A parsed batch split into accepted and rejected lines.
#[derive(Clone, Debug, Default)]
pub struct Split {
    /// The accepted lines, each followed by LF, in input order (what is left of it, when a
    /// door took parts with [`Splitter::take_body`]).
    pub body: Vec<u8>,
    /// The length of each accepted line's text in the body (without its LF), in order.
    pub lens: Vec<usize>,
    /// Logical lines the parser returned a point for (A).
    pub accepted: u64,
    /// Logical lines it rejected (R).
    pub rejected: u64,
    /// The rejected lines kept (all of them unless the bound was reached).
    pub kept: Vec<RejectedLine>,
    /// The whole batch's 400 (spec Part A §1), when the parser rejected a line.
    pub whole: Option<Rejection>,
    /// Lines of new series the series quota refused (spec D.2's `<S>`), counted in
    /// `rejected` too: moved there by [`refuse_series`](crate::quota::refuse_series).
    pub series: u64,
    /// The first of those lines.
    pub series_line: Option<u64>,
}

/// What a door does with a split (spec Part D.1.2–3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// R = 0: the body as received, exactly as without the switch.
    Forward,
    /// A = 0: the whole batch's 400; nothing is forwarded.
    Reject(Rejection),
    /// Forward or store [`Split::body`] (plain), then answer this.
    Partial(Rejection),
}

impl Split {
    /// Rejected lines counted but not kept (the bound was reached).
    pub fn dropped(&self) -> u64 {
        self.rejected - self.kept.len() as u64
    }

    /// What the door does with the batch: forward it whole, reject it whole, or forward the
    /// accepted lines and answer D.1.2's 400 (with D.2's line when the series quota refused
    /// lines: then the accepted lines are forwarded even when the parser rejected none).
    pub fn decision(&self) -> Decision {
        if let Some(first) = self.series_line {
            return match &self.whole {
                // Nothing left: the parser's 400 when it rejected a line (OSS checks syntax
                // first), else the series 429.
                w if self.accepted == 0 => {
                    Decision::Reject(w.clone().unwrap_or_else(Rejection::series_quota))
                }
                w => Decision::Partial(Rejection::partial_series(
                    (self.accepted, self.rejected),
                    w.as_ref(),
                    self.series,
                    first,
                )),
            };
        }
        match &self.whole {
            None if self.rejected == 0 => Decision::Forward,
            // Lines rejected by another rule than the parser's have no whole-batch 400 here:
            // that rule answers for them.
            None => Decision::Forward,
            Some(w) if self.accepted == 0 => Decision::Reject(w.clone()),
            Some(w) => Decision::Partial(Rejection::partial_parse(self.accepted, self.rejected, w)),
        }
    }
}

/// Reads a whole decoded body as [`read_batch`](crate::read_batch) does (same report, same
/// points to `on_point`: those of the accepted lines) and splits it; `keep` bounds the
/// rejected lines kept.
pub fn split_batch<'a>(
    body: &'a [u8],
    opts: &ParseOptions,
    max_message: usize,
    keep: usize,
    mut on_point: impl FnMut(&Point<'a>),
) -> (BatchReport, Split) {
    let mut parser = Parser::new(body, opts);
    let mut report = BatchReport::empty(max_message);
    let mut split = Splitter::new(keep);
    // At most the body: reserved once rather than grown (and copied) step by step.
    split.body.reserve(body.len());
    let mut run = Run::default();
    loop {
        let accepted = match parser.next_item() {
            None => break,
            Some(Item::Point(p)) => {
                on_point(p);
                true
            }
            Some(Item::Error(e)) => {
                report.add_error(e, body);
                split.reject_error(&e, body);
                false
            }
        };
        if accepted {
            report.points += 1;
            let (a, b) = parser.point_span();
            run.add(&mut split, body, a, b);
        }
    }
    run.flush(&mut split, body);
    report.lines = parser.physical_lines();
    let whole = pipeline::parse_rejection(&report);
    (report, split.finish(whole))
}

/// Steps 8 and 9 of a resolved request, split: the decoded body (for a door that forwards
/// it whole when nothing was rejected) and the split; a rejection before parsing as `Err`.
pub fn read_resolved<'b, L: Lookup>(
    resolved: &Resolved<L>,
    body: &'b [u8],
    limits: &Limits,
    now: i64,
    keep: usize,
    on_point: impl FnMut(&Point<'_>),
) -> Result<(Cow<'b, [u8]>, Split), Rejection> {
    let decoded = resolved.decode(body, limits)?;
    let opts = resolved.time.options(now);
    let (_, split) = split_batch(&decoded, &opts, limits.max_message, keep, on_point);
    Ok((decoded, split))
}

/// The whole edge check of a live write ([`check_request`](crate::check_request) for either
/// endpoint), split: `Err` for a rejection before parsing.
pub fn check_request(
    endpoint: Endpoint,
    req: &Request<'_>,
    limits: &Limits,
    now: i64,
    keep: usize,
) -> Result<Split, Rejection> {
    let prepared = prepare(endpoint, req, limits)?;
    let opts = prepared.time.options(now);
    let (_, split) = split_batch(&prepared.body, &opts, limits.max_message, keep, |_| {});
    Ok(split)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(body: &[u8]) -> Split {
        split_batch(
            body,
            &ParseOptions::default(),
            1 << 20,
            DEFAULT_KEEP,
            |_| {},
        )
        .1
    }

    #[test]
    fn switch() {
        assert_eq!(
            PartialWrites::parse("request"),
            Some(PartialWrites::Request)
        );
        assert_eq!(PartialWrites::parse("On"), None);
        let r = PartialWrites::Request;
        assert!(r.applies(b"org=o&accept_partial=true"));
        assert!(!r.applies(b"accept_partial=True"));
        assert!(!r.applies(b"accept_partial=false&accept_partial=true"));
        assert!(!PartialWrites::Off.applies(b"accept_partial=true"));
        assert!(PartialWrites::Always.applies(b""));
    }

    #[test]
    fn answers() {
        let s = split(b"  m f=1 1\n# c\nbad\n\tm f=2 2 \n");
        assert_eq!((s.accepted, s.rejected), (2, 1));
        assert_eq!(s.body, b"m f=1 1\nm f=2 2 \n");
        assert_eq!(s.kept[0].line, 3);
        assert_eq!(s.kept[0].reason, b"missing fields");
        let Decision::Partial(r) = s.decision() else {
            panic!()
        };
        assert_eq!(
            r.body,
            br#"{"code":"invalid","message":"partial write error (2 accepted): 1 out of 3 lines rejected\nunable to parse 'bad': missing fields","line":3}"#
        );
        assert_eq!(split(b"m f=1\n").decision(), Decision::Forward);
        assert!(matches!(split(b"bad\n").decision(), Decision::Reject(_)));
    }

    #[test]
    fn destination_drops_credentials() {
        assert_eq!(
            destination("/write", b"db=x&u=me&p=secret&rp=r"),
            b"/write?db=x&rp=r"
        );
        assert_eq!(destination("/api/v2/write", b""), b"/api/v2/write");
    }

    #[test]
    fn runs_copy_the_same_bytes() {
        let body = b"a f=1 1\nb f=2 2\r\n  c f=3 3\nbad\nd f=4 4\ne f=\"x\ny\" 5\nf f=6 6";
        let s = split(body);
        let mut one = Vec::new();
        let mut n = 0;
        let mut p = Parser::new(body, &ParseOptions::default());
        while let Some(item) = p.next_item() {
            if let Item::Point(_) = item {
                let (a, b) = p.point_span();
                one.extend_from_slice(&body[a..b]);
                one.push(b'\n');
                n += 1;
            }
        }
        assert_eq!((s.body, s.accepted), (one, n));
        assert_eq!(n, 5);
    }

    #[test]
    fn keeps_within_bound() {
        let body = b"bad\n".repeat(1000);
        let s = split_batch(&body, &ParseOptions::default(), 1 << 20, 3600, |_| {}).1;
        assert_eq!(s.rejected, 1000);
        assert_eq!(s.kept.len(), 3600 / (3 + 14 + 32));
        assert_eq!(s.dropped(), 1000 - s.kept.len() as u64);
    }
}
