//! The incremental check: feed a body in chunks of any size as it arrives, then finish, and
//! get exactly the answer of the one-shot check ([`validate`](crate::validate) for a batch,
//! [`check_request`](crate::check_request) for a live request): status, body, `line`,
//! counts, diagnostics, warnings, summary, and the same points in the same order.
//!
//! Memory is bounded by the longest logical line (plus the chunk being read), the 64 KiB
//! inflate window, a gzip member header (at most 66,573 bytes) and the message cap (warnings
//! and a summary, when asked for, keep their own bounded samples); never by the body. Lines are parsed as soon as they are provably whole, and parsed straight from
//! the caller's chunk when no partial line is pending, so a large chunk is not copied.

use crate::answers::Rejection;
use crate::batch::{Item, Message, ParseOptions, Parser};
use crate::diagnostics::{diagnose, Diagnostic, SummaryBuilder, Warnings};
use crate::error::LineError;
use crate::gzip::{self, Decoder, HeaderError, ReadError};
use crate::limits::Limits;
use crate::limits::MAX_GZIP_HEADER;
use crate::partial::{Run, Split, Splitter};
use crate::pipeline::Verdict;
use crate::pipeline::{self, Batch, Head, Lookup, Resolved, TimeRule};
use crate::point::Point;
use crate::reference::LineScan;
use crate::upstream::EdgeFor;
use crate::upstream::{self, Kind};
use crate::validate::{ValidateOptions, Validation};

/// What the parsed lines add up to, as [`BatchReport`](crate::BatchReport) and
/// [`validate`](crate::validate) compute it, with positions in the whole decoded body.
struct Tally {
    opts: ParseOptions,
    points: u64,
    rejected: u64,
    first_error: Option<LineError>,
    message: Message,
    diagnostics: Vec<Diagnostic>,
    warnings: Option<Warnings>,
    summary: Option<SummaryBuilder>,
    /// The partial-write split (spec Part D.1), when asked for.
    split: Option<Splitter>,
    /// Someone sees the points (`push_with` and the other `_with` calls): floats are
    /// converted; otherwise only validated (`Parser::check_only`).
    values: bool,
}

impl Tally {
    /// Parses the whole lines of `bytes` (decoded body from offset `base`, starting at a line
    /// start on physical line `line`); returns the bytes consumed and the line reached.
    fn parse(
        &mut self,
        bytes: &[u8],
        base: usize,
        line: u64,
        eof: bool,
        on_point: &mut dyn FnMut(&Point<'_>),
    ) -> (usize, u64) {
        let mut parser = Parser::prefix(bytes, &self.opts, line, eof);
        if !self.values {
            parser = parser.check_only();
        }
        let mut run = Run::default();
        loop {
            let accepted = match parser.next_item() {
                None => break,
                Some(Item::Point(p)) => {
                    self.points += 1;
                    if let Some(w) = self.warnings.as_mut() {
                        w.observe(p);
                    }
                    if let Some(s) = self.summary.as_mut() {
                        s.observe(p);
                    }
                    on_point(p);
                    true
                }
                Some(Item::Error(e)) => {
                    self.rejected += 1;
                    self.first_error.get_or_insert(LineError {
                        line_start: e.line_start + base,
                        text_start: e.text_start + base,
                        ..e
                    });
                    if self.message.push(&e, bytes) {
                        let mut d = diagnose(&e, bytes, self.opts.precision);
                        d.text_start += base;
                        self.diagnostics.push(d);
                    }
                    if let Some(s) = self.split.as_mut() {
                        s.reject_error(&e, bytes);
                    }
                    false
                }
            };
            if let (true, Some(s)) = (accepted, self.split.as_mut()) {
                let (a, b) = parser.point_span();
                run.add(s, bytes, a, b);
            }
        }
        if let Some(s) = self.split.as_mut() {
            run.flush(s, bytes);
        }
        let end = if eof {
            parser.physical_lines() + 1
        } else {
            parser.line()
        };
        (parser.position(), end)
    }
}

/// The decoded body, cut into logical lines as it arrives.
struct Lines {
    tally: Tally,
    /// The pending partial line (bytes from `base` on), when a chunk ended inside one.
    buf: Vec<u8>,
    base: usize,
    /// Physical line number at `base`.
    line: u64,
    /// `scan_line` over `buf` so far, paused where the bytes end, so a logical line longer
    /// than a chunk (a stray quote swallows the rest of the body) is scanned once, not once
    /// per chunk.
    scan: LineScan,
    scanned: usize,
    /// Chunks are gathered until this many bytes are pending before a parse: a parser
    /// started per 4 KiB chunk (what a socket often gives) costs a quarter of the speed.
    gather: usize,
}

/// See [`Lines::gather`].
const GATHER: usize = 32 << 10;

impl Lines {
    fn new(tally: Tally) -> Lines {
        Lines {
            tally,
            buf: Vec::new(),
            base: 0,
            line: 1,
            scan: LineScan::default(),
            scanned: 0,
            gather: GATHER,
        }
    }

    /// Parses the pending line(s) in `buf`, unless the paused scan shows the first cannot
    /// have ended yet.
    fn drain(&mut self, on_point: &mut dyn FnMut(&Point<'_>)) {
        let stop = self.buf.len().saturating_sub(2);
        let (at, ended) = self.scan.run(&self.buf, self.scanned, stop);
        if !ended {
            self.scanned = at;
            return;
        }
        let (used, line) = self
            .tally
            .parse(&self.buf, self.base, self.line, false, on_point);
        self.buf.drain(..used);
        self.base += used;
        self.line = line;
        self.scan = LineScan::default();
        self.scanned = 0;
    }

    fn push(&mut self, mut data: &[u8], on_point: &mut dyn FnMut(&Point<'_>)) {
        if self.buf.len() + data.len() < self.gather {
            self.buf.extend_from_slice(data);
            return;
        }
        if !self.buf.is_empty() {
            // Finish the pending line with as few copied bytes as will do: up to the next LF
            // and the two bytes that must follow it; all of the chunk if that was not enough.
            let end = self.base + self.buf.len();
            let k = memchr::memchr(b'\n', data).map_or(data.len(), |f| (f + 3).min(data.len()));
            self.buf.extend_from_slice(&data[..k]);
            self.drain(on_point);
            if self.base < end && k < data.len() {
                self.buf.extend_from_slice(&data[k..]);
                self.drain(on_point);
            }
            if self.base < end || self.base >= end + data.len() {
                return;
            }
            // The pending line is done and the parser stands inside `data`: go on from there
            // without the copy.
            data = &data[self.base - end..];
            self.buf.clear();
            self.scan = LineScan::default();
            self.scanned = 0;
        }
        let (used, line) = self
            .tally
            .parse(data, self.base, self.line, false, on_point);
        self.base += used;
        self.line = line;
        self.buf.extend_from_slice(&data[used..]);
    }

    fn finish(
        mut self,
        buckets: usize,
        on_point: &mut dyn FnMut(&Point<'_>),
    ) -> (Validation, Option<Splitter>) {
        let (used, line) = self
            .tally
            .parse(&self.buf, self.base, self.line, true, on_point);
        debug_assert_eq!(used, self.buf.len());
        let t = self.tally;
        let (status, body, code, first, reason) = match &t.first_error {
            None => (204, Vec::new(), None, None, None),
            Some(e) => {
                let report = crate::BatchReport {
                    points: t.points,
                    lines: line - 1,
                    rejected: t.rejected,
                    first_error: Some(*e),
                    errors: Vec::new(),
                    message: t.message.clone(),
                };
                let r = pipeline::parse_rejection(&report).expect("a rejected line");
                (r.status, r.body, Some(r.code), r.line, Some(r.reason))
            }
        };
        let (warnings, warnings_total) = t.warnings.map_or((Vec::new(), 0), |w| (w.list, w.total));
        let v = Validation {
            status,
            body,
            code,
            reason,
            line: first,
            precision: Some(t.opts.precision),
            points: t.points,
            lines: line - 1,
            rejected: t.rejected,
            diagnostics: t.diagnostics,
            warnings,
            warnings_total,
            summary: t.summary.map(|s| s.finish(buckets)),
        };
        (v, t.split)
    }
}

/// What a tool asks for beyond the verdict (see [`ValidateOptions`]).
#[derive(Default)]
struct Extras {
    warnings: bool,
    /// The raw `precision` parameter, for the v1 unit warning.
    precision_param: Option<Vec<u8>>,
    summary_buckets: Option<usize>,
}

enum Phase {
    /// Gathering the first gzip member header (spec Part B §1 step 4).
    Header,
    /// Reading the body (step 8) and parsing it (step 9).
    Body,
    /// The answer is known, whatever bytes follow.
    Done(Rejection),
}

/// The incremental checker. Create it with [`Checker::new`] (a batch, as
/// [`validate`](crate::validate) checks it) or [`Checker::for_request`] (a live write, as
/// [`check_request`](crate::check_request)); [`push`](Checker::push) the body as it arrives;
/// [`finish`](Checker::finish).
///
/// ```
/// use linegate_core::{validate, Checker, ValidateOptions};
///
/// let body = b"cpu,host=a usage=0.5 1\ncpu,host=b usage=oops 2\n";
/// let opts = ValidateOptions::default();
/// let mut c = Checker::new(&opts);
/// for chunk in body.chunks(5) {
///     c.push(chunk);
/// }
/// let v = c.finish();
/// assert_eq!((v.status, v.line, v.points), (400, Some(2), 1));
/// assert_eq!(v.body, validate(body, &opts, |_| {}).body);
/// ```
pub struct Checker {
    phase: Phase,
    limits: Limits,
    /// Bytes of the body as received.
    received: usize,
    /// The gzip header as gathered so far, in the `Header` phase.
    head: Vec<u8>,
    /// Whether the body is gzip (`Content-Encoding` says so).
    gz: bool,
    gzip: Option<Box<Decoder>>,
    gzip_error: Option<ReadError>,
    /// The answer owed once the gzip header is good (a live request without org: step 5).
    after_header: Option<Rejection>,
    lines: Option<Lines>,
    summary_buckets: usize,
    /// The upstream whose rules screen each point ([`upstream::refuse_point`]).
    upstream: Kind,
    /// The first point the upstream could not store as sent.
    refused: Option<Rejection>,
    /// The clock the upstream's rules read (ns; VictoriaMetrics drops points more than two
    /// days ahead of it).
    upstream_now: i64,
    /// A caller asked to see the points (see `Tally::values`).
    values: bool,
    /// The callers of the `_with` calls read keys and types only ([`Checker::without_values`]).
    keys_only: bool,
}

impl Checker {
    /// A batch checked as [`validate`](crate::validate) checks it: an authorized write
    /// naming an existing org and bucket.
    pub fn new(opts: &ValidateOptions<'_>) -> Checker {
        // The head `pipeline::prepare_batch` builds: only the precision parameter and the encoding.
        let mut query = Vec::new();
        if let Some(p) = opts.precision {
            query.extend_from_slice(b"precision=");
            query.extend_from_slice(crate::query::encode_value(p).as_bytes());
        }
        let head = Head {
            endpoint: opts.endpoint,
            query: &query,
            authorization: None,
            content_encoding: opts.content_encoding,
        };
        let extras = Extras {
            warnings: opts.warnings,
            precision_param: opts.precision.map(<[u8]>::to_vec),
            summary_buckets: opts.summary_buckets,
        };
        Checker::admit(&head, &mut Batch, opts.limits, opts.now, extras)
    }

    /// A live write request at an edge, judged from its head before the body (steps 1–3:
    /// a refusal is [`decided`](Checker::decided) at once), then step 4 on the first bytes,
    /// the org parameter, and the body, as [`check_request`](crate::check_request) judges it
    /// (or [`pipeline::prepare`](crate::pipeline::prepare) for the v1 endpoint).
    pub fn for_request(head: &Head<'_>, limits: &Limits, now: i64) -> Checker {
        Checker::for_request_to(head, limits, now, Kind::InfluxDb2)
    }

    /// [`for_request`](Checker::for_request) at an edge in front of an upstream of `kind`:
    /// its credential rule ([`EdgeFor`]) and, once the body checks, the first point it
    /// could not store as sent ([`upstream::refuse_point`]) as the answer.
    pub fn for_request_to(head: &Head<'_>, limits: &Limits, now: i64, kind: Kind) -> Checker {
        let mut c = Checker::admit(head, &mut EdgeFor(kind), *limits, now, Extras::default());
        c.upstream = kind;
        c.upstream_now = now;
        c
    }

    /// The body of a request a server has taken through steps 1–7
    /// ([`pipeline::admit`], [`Admitted::resolve_with`](pipeline::Admitted::resolve_with)):
    /// push the body from its first byte (the gzip header again, already known good).
    pub fn for_resolved<L: Lookup>(resolved: &Resolved<L>, limits: &Limits, now: i64) -> Checker {
        let time = Ok(resolved.time);
        let gz = resolved.gzip_start.is_some();
        Checker::start(time, gz, None, *limits, now, Extras::default())
    }

    fn admit<L: Lookup>(
        head: &Head<'_>,
        lookup: &mut L,
        limits: Limits,
        now: i64,
        extras: Extras,
    ) -> Checker {
        let admitted = match pipeline::admit(head, lookup) {
            Ok(a) => a,
            Err(r) => return Checker::start(Err(r), false, None, limits, now, extras),
        };
        let (gz, time) = (admitted.gzip, admitted.time);
        // Steps 5–7 read nothing of the body for an edge or a batch (only the org
        // parameter), but their answer comes after step 4's, which needs the first bytes.
        match admitted.resolve_with(None, lookup) {
            Ok(_) => Checker::start(Ok(time), gz, None, limits, now, extras),
            Err(r) if gz => Checker::start(Ok(time), gz, Some(r), limits, now, extras),
            Err(r) => Checker::start(Err(r), gz, None, limits, now, extras),
        }
    }

    fn start(
        first: Result<TimeRule, Rejection>,
        gz: bool,
        after_header: Option<Rejection>,
        limits: Limits,
        now: i64,
        extras: Extras,
    ) -> Checker {
        let (phase, lines) = match first {
            Err(r) => (Phase::Done(r), None),
            Ok(time) => {
                let opts = time.options(now);
                let warnings = extras.warnings.then(|| {
                    let w = Warnings::new(time.precision, 1000);
                    match (time.ignores_unit(), &extras.precision_param) {
                        (true, Some(param)) => w.with_v1_unit(param, opts.now),
                        _ => w,
                    }
                });
                let tally = Tally {
                    opts,
                    points: 0,
                    rejected: 0,
                    first_error: None,
                    message: Message::new(limits.max_message),
                    diagnostics: Vec::new(),
                    warnings,
                    summary: extras.summary_buckets.map(|_| SummaryBuilder::new()),
                    split: None,
                    values: false,
                };
                let phase = if gz { Phase::Header } else { Phase::Body };
                (phase, Some(Lines::new(tally)))
            }
        };
        Checker {
            phase,
            limits,
            received: 0,
            head: Vec::new(),
            gz,
            gzip: None,
            gzip_error: None,
            after_header,
            lines,
            summary_buckets: extras.summary_buckets.unwrap_or(0),
            upstream: Kind::InfluxDb2,
            refused: None,
            upstream_now: 0,
            values: false,
            keys_only: false,
        }
    }

    /// The answer, when it is already known whatever else arrives (a refusal before the
    /// body, a bad gzip header, a body reaching a size limit): the caller may stop reading.
    pub fn decided(&self) -> Option<&Rejection> {
        match &self.phase {
            Phase::Done(r) => Some(r),
            _ => None,
        }
    }

    /// Bytes of the body received so far.
    pub fn received(&self) -> usize {
        self.received
    }

    /// Parses every chunk as it comes, however small, instead of gathering 32 KiB first:
    /// same answers, slower; for tests that exercise every chunk boundary.
    #[doc(hidden)]
    pub fn eager(mut self) -> Checker {
        if let Some(l) = self.lines.as_mut() {
            l.gather = 0;
        }
        self
    }

    /// Splits the batch for a partial write (spec Part D.1) as it is checked: the accepted
    /// lines are gathered as they are parsed (take them with
    /// [`take_accepted`](Checker::take_accepted)), the rejected ones kept up to `keep`
    /// bytes; [`finish_split`](Checker::finish_split) gives the split.
    pub fn accept_partial(mut self, keep: usize) -> Checker {
        if let Some(l) = self.lines.as_mut() {
            l.tally.split = Some(Splitter::new(keep));
        }
        self
    }

    /// The accepted lines parsed since the last call (each followed by LF), when splitting.
    pub fn take_accepted(&mut self) -> Vec<u8> {
        self.lines
            .as_mut()
            .and_then(|l| l.tally.split.as_mut())
            .map(Splitter::take_body)
            .unwrap_or_default()
    }

    /// The points the `_with` calls hand over are read for their keys, tags and field types
    /// only: a float's value may then be NaN (validated, not converted, as
    /// [`check_batch`](crate::check_batch) reads it). For callers that note series or types;
    /// the answer is the same.
    pub fn without_values(mut self) -> Checker {
        self.keys_only = true;
        self
    }

    /// Feeds the next bytes of the body.
    pub fn push(&mut self, chunk: &[u8]) {
        self.push_inner(chunk, &mut |_| {});
    }

    /// Feeds the next bytes of the body; `on_point` sees each point parsed from them, in
    /// body order (as [`validate`](crate::validate)'s callback does). Points come as their
    /// lines arrive, so a body that later fails as a whole (a gzip error, a size limit:
    /// the answer then has no `precision`) has shown points the one-shot check never
    /// parses: discard them then.
    pub fn push_with(&mut self, chunk: &[u8], on_point: &mut dyn FnMut(&Point<'_>)) {
        self.values |= !self.keys_only;
        self.push_inner(chunk, on_point);
    }

    fn push_inner(&mut self, chunk: &[u8], on_point: &mut dyn FnMut(&Point<'_>)) {
        if matches!(self.phase, Phase::Done(_)) {
            return;
        }
        if self.upstream != Kind::InfluxDb2 {
            let (kind, now, mut refused) = (self.upstream, self.upstream_now, self.refused.take());
            self.push_points(chunk, &mut |p| {
                if refused.is_none() {
                    refused = upstream::refuse_point(kind, p, now);
                }
                on_point(p)
            });
            self.refused = refused;
            return;
        }
        self.push_points(chunk, on_point);
    }

    fn push_points(&mut self, chunk: &[u8], on_point: &mut dyn FnMut(&Point<'_>)) {
        self.received = self.received.saturating_add(chunk.len());
        if let Phase::Header = self.phase {
            let take = (MAX_GZIP_HEADER - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            match gzip::read_header(&self.head) {
                Err(HeaderError::Empty | HeaderError::Truncated) => return,
                Err(HeaderError::Invalid) => return self.decide(Rejection::gzip_header()),
                Ok(n) => {
                    if let Some(r) = self.after_header.take() {
                        return self.decide(r);
                    }
                    self.phase = Phase::Body;
                    self.gzip = Some(Box::new(Decoder::new(self.limits.max_batch)));
                    let head = std::mem::take(&mut self.head);
                    if !self.too_large() {
                        self.body(&head[n..], on_point);
                        self.body(&chunk[take..], on_point);
                    }
                    return;
                }
            }
        }
        if !self.too_large() {
            self.body(chunk, on_point);
        }
    }

    /// Step 8's size limits on the body as received so far; a 413 is final.
    fn too_large(&mut self) -> bool {
        let over = self.received >= self.limits.max_body
            || (!self.gz && self.received >= self.limits.max_batch);
        if over {
            self.decide(Rejection::too_large());
        }
        over
    }

    fn decide(&mut self, r: Rejection) {
        self.phase = Phase::Done(r);
        self.gzip_error = None;
        self.lines = None;
        self.gzip = None;
        self.head = Vec::new();
    }

    fn body(&mut self, data: &[u8], on_point: &mut dyn FnMut(&Point<'_>)) {
        if data.is_empty() || self.gzip_error.is_some() {
            return;
        }
        let Some(lines) = self.lines.as_mut() else {
            return;
        };
        lines.tally.values |= self.values;
        let Some(dec) = self.gzip.as_mut() else {
            return lines.push(data, on_point);
        };
        if let Err(e) = dec.push(data, &mut |d| lines.push(d, on_point)) {
            self.gzip_failed(e);
        }
    }

    fn gzip_failed(&mut self, e: ReadError) {
        if e == ReadError::TooLarge {
            return self.decide(Rejection::too_large());
        }
        // Not final: a body that goes on to reach `max_body` gets 413 instead.
        self.gzip_error = Some(e);
        self.lines = None;
        self.gzip = None;
    }

    /// Ends the body and gives the answer, equal to the one-shot check's.
    pub fn finish(self) -> Validation {
        self.finish_all(&mut |_| {}).0
    }

    /// [`finish`](Checker::finish), with `on_point` seeing the points of the last lines.
    pub fn finish_with(self, on_point: &mut dyn FnMut(&Point<'_>)) -> Validation {
        self.finish_split_with(on_point).0
    }

    /// [`finish`](Checker::finish) and the split asked for with
    /// [`accept_partial`](Checker::accept_partial) (`None` when the body was rejected before
    /// it was parsed, or no split was asked for). Its `body` holds the accepted lines not
    /// yet taken.
    pub fn finish_split(self) -> (Validation, Option<Split>) {
        let (v, split, _) = self.finish_all(&mut |_| {});
        (v, split)
    }

    /// [`finish_split`](Checker::finish_split) with `on_point`.
    pub fn finish_split_with(
        mut self,
        on_point: &mut dyn FnMut(&Point<'_>),
    ) -> (Validation, Option<Split>) {
        self.values |= !self.keys_only;
        let (v, split, _) = self.finish_all(on_point);
        (v, split)
    }

    /// [`finish_split_with`](Checker::finish_split_with), and the bytes of the body after
    /// gzip decoding (what the write quota counts, spec D.2).
    fn finish_all(
        mut self,
        on_point: &mut dyn FnMut(&Point<'_>),
    ) -> (Validation, Option<Split>, usize) {
        if let Phase::Header = self.phase {
            // The body ended inside the first header (or was empty).
            self.decide(Rejection::gzip_header());
        }
        if let Some(lines) = self.lines.as_mut() {
            lines.tally.values |= self.values;
        }
        if let (Some(dec), Some(lines)) = (self.gzip.as_mut(), self.lines.as_mut()) {
            if let Err(e) = dec.finish(&mut |d| lines.push(d, on_point)) {
                self.gzip_failed(e);
            }
        }
        let decoded = match &self.gzip {
            Some(dec) => dec.decoded(),
            None => self.received,
        };
        if let Some(e) = self.gzip_error {
            self.decide(pipeline::read_error(e));
        }
        match (self.phase, self.lines) {
            (Phase::Done(r), _) => (Validation::rejected_early(r), None, decoded),
            (_, Some(lines)) => {
                let (v, split) = lines.finish(self.summary_buckets, on_point);
                let whole = v
                    .code
                    .map(|_| Rejection::parse_errors(v.body.clone(), v.line));
                (v, split.map(|s| s.finish(whole)), decoded)
            }
            (_, None) => (
                Validation::rejected_early(Rejection::gzip_header()),
                None,
                decoded,
            ),
        }
    }

    /// [`finish`](Checker::finish) as a live request's verdict, equal to
    /// [`check_request`](crate::check_request)'s.
    pub fn finish_request(self) -> Verdict {
        self.finish_request_split().0
    }

    /// [`finish_request`](Checker::finish_request) and the split asked for with
    /// [`accept_partial`](Checker::accept_partial) (see [`finish_split`](Checker::finish_split)).
    pub fn finish_request_split(self) -> (Verdict, Option<Split>) {
        let (v, split, _) = self.finish_request_inner(&mut |_| {});
        (v, split)
    }

    /// [`finish_request_split`](Checker::finish_request_split) with `on_point` seeing the
    /// points of the last lines, and the bytes of the body after gzip decoding (what the
    /// write quota counts, spec D.2).
    pub fn finish_request_all(
        mut self,
        on_point: &mut dyn FnMut(&Point<'_>),
    ) -> (Verdict, Option<Split>, usize) {
        self.values |= !self.keys_only;
        self.finish_request_inner(on_point)
    }

    fn finish_request_inner(
        mut self,
        on_point: &mut dyn FnMut(&Point<'_>),
    ) -> (Verdict, Option<Split>, usize) {
        let (kind, now, mut refused) = (self.upstream, self.upstream_now, self.refused.take());
        let (v, split, decoded) = self.finish_all(&mut |p| {
            if refused.is_none() && kind != Kind::InfluxDb2 {
                refused = upstream::refuse_point(kind, p, now);
            }
            on_point(p);
        });
        // A partial write holding a point the upstream would refuse or lose is refused whole
        // (there is no per-line rule for these), as linegate-backend refuses it: otherwise
        // the point would be forwarded with the accepted lines and lost behind a 2xx.
        if let (Some(_), Some(r)) = (&split, &refused) {
            return (Verdict::Reject(r.clone()), None, decoded);
        }
        let verdict = match v.code {
            // The body is good line protocol, but the upstream would refuse or lose a point.
            None if refused.is_some() => Verdict::Reject(refused.expect("checked")),
            None => Verdict::Forward {
                points: v.points,
                lines: v.lines,
            },
            Some(code) => Verdict::Reject(Rejection {
                reason: v.reason.expect("a rejection has its reason"),
                status: v.status,
                code,
                body: v.body,
                line: v.line,
                retry_after: None,
            }),
        };
        (verdict, split, decoded)
    }
}
