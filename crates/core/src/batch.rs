//! Walking a whole body: logical lines, skipped lines, physical line numbers, and the joined
//! InfluxDB message with its cap (spec Part A §1, Part B §3–§4).

use crate::error::LineError;
use crate::fast;
use crate::json;
use crate::limits::DEFAULT_MAX_MESSAGE;
use crate::point::Point;
use crate::precision::Precision;
use crate::reference::{self, is_ws, Scratch};

/// How lines are read: the precision of their timestamps and the server's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseOptions {
    /// Multiplier of given timestamps.
    pub precision: Precision,
    /// "Now" in nanoseconds since the epoch; lines without a timestamp get it, truncated to
    /// the precision.
    pub now: i64,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            precision: Precision::Ns,
            now: 0,
        }
    }
}

impl ParseOptions {
    /// Options for `precision`, giving lines without a timestamp the time `now` (ns).
    pub fn new(precision: Precision, now: i64) -> Self {
        ParseOptions { precision, now }
    }
}

/// One logical line's outcome.
#[derive(Debug)]
pub enum Item<'p, 'a> {
    /// A parsed point (borrowed from the body).
    Point(&'p Point<'a>),
    /// A rejected line.
    Error(LineError),
}

/// Reads a body line by line. Points borrow from the body and are handed out by reference to
/// a buffer that is reused, so reading a batch allocates nothing per line; clone a point to
/// keep it.
pub struct Parser<'a> {
    body: &'a [u8],
    pos: usize,
    /// Physical line number at `pos`.
    line: u64,
    precision: Precision,
    default_time: i64,
    point: Point<'a>,
    scratch: Scratch,
    fast: bool,
    cache: fast::Cache<'a>,
    /// The body is a prefix of one still arriving: stop before a line that might not end
    /// where it seems to (see [`Parser::prefix`]).
    prefix: bool,
    /// Where the text of the last point's line lies in the body (see [`Parser::point_span`]).
    span: (usize, usize),
}

impl<'a> Parser<'a> {
    /// A parser over `body`, fast path first.
    pub fn new(body: &'a [u8], opts: &ParseOptions) -> Self {
        Parser {
            body,
            pos: 0,
            line: 1,
            precision: opts.precision,
            default_time: opts.precision.truncate(opts.now),
            point: Point::default(),
            scratch: Scratch::default(),
            fast: true,
            cache: fast::Cache::default(),
            prefix: false,
            span: (0, 0),
        }
    }

    /// A parser over bytes that are a prefix of the body, starting at a line start whose
    /// physical line number is `first_line`. It stops (`next_item` gives `None`) before the
    /// first logical line it cannot prove whole: one whose end is not followed by two more
    /// bytes, since InfluxDB's scanners treat a backslash within two bytes of the body's end
    /// differently. Every item it gives is the one a parser over the whole body gives.
    pub(crate) fn prefix(body: &'a [u8], opts: &ParseOptions, first_line: u64, eof: bool) -> Self {
        Parser {
            line: first_line,
            prefix: !eof,
            ..Parser::new(body, opts)
        }
    }

    /// This parser for a reader that only counts points and errors: the points it gives
    /// have the right types but a float's value may be NaN (see `number::scan_valid`); the
    /// errors and counts are exactly those of [`Parser::new`].
    pub(crate) fn check_only(mut self) -> Self {
        self.cache.skip_values = true;
        self
    }

    /// [`Parser::check_only`] for a reader that looks at no point at all, only counts them
    /// (`check_batch`, `read_batch_split_at`): the fast path leaves a point's fields out and
    /// its tags unsorted. Which lines are points and which are errors is unchanged.
    fn counts_only(mut self) -> Self {
        self.cache.unseen = true;
        self.check_only()
    }

    /// Physical line number at the current position.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// A parser that starts at `pos`, the start of a line, counting physical lines from 1
    /// there (for reading the second half of a split body).
    fn starting_at(body: &'a [u8], opts: &ParseOptions, pos: usize) -> Self {
        Parser {
            pos,
            ..Parser::new(body, opts)
        }
    }

    /// A parser that runs InfluxDB's multi-pass algorithm on every line, without the fast
    /// path. Same answers, slower; for differential tests and fuzzing.
    #[doc(hidden)]
    pub fn reference_only(body: &'a [u8], opts: &ParseOptions) -> Self {
        Parser {
            fast: false,
            ..Parser::new(body, opts)
        }
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos.min(self.body.len())
    }

    /// Physical lines read so far (all of them once `next_item` has returned `None`).
    pub fn physical_lines(&self) -> u64 {
        let n = self.position();
        let partial = n > 0 && self.body[n - 1] != b'\n';
        self.line - 1 + partial as u64
    }

    /// The bytes of the line the last point came from, as InfluxDB quotes a line: from its
    /// first byte that is not whitespace to its end, without the LF that ends it (start and
    /// end offsets in the body). What a partial write forwards (spec Part D.1.1).
    pub fn point_span(&self) -> (usize, usize) {
        self.span
    }

    /// The next point or rejected line; `None` at the end of the body.
    pub fn next_item(&mut self) -> Option<Item<'_, 'a>> {
        self.next_item_inline()
    }

    /// `next_item`'s body, inlined into each compiled copy of `read_into`'s loop.
    #[inline(always)]
    fn next_item_inline(&mut self) -> Option<Item<'_, 'a>> {
        let body = self.body;
        let n = body.len();
        loop {
            if self.pos >= n {
                return None;
            }
            let b = body[self.pos];
            if b == b'\n' {
                self.pos += 1;
                self.line += 1;
                continue;
            }
            if self.fast && !is_ws(b) && b != b'#' {
                if let Some(end) = fast::parse(
                    body,
                    self.pos,
                    self.precision,
                    self.default_time,
                    &mut self.point,
                    &mut self.cache,
                ) {
                    if self.prefix && end + 2 >= n {
                        return None;
                    }
                    self.point.line = self.line;
                    self.span = (self.pos, end);
                    self.pos = end + 1;
                    self.line += (end < n) as u64;
                    return Some(Item::Point(&self.point));
                }
            }
            let start = self.pos;
            let end = reference::scan_line(body, start);
            if self.prefix && end + 2 >= n {
                return None;
            }
            let line = self.line;
            let block = &body[start..end];
            let inner_lfs = if memchr::memchr(b'\n', block).is_some() {
                memchr::memchr_iter(b'\n', block).count() as u64
            } else {
                0
            };
            self.line += inner_lfs + (end < n) as u64;
            self.pos = end + 1;
            let lead = reference::skip_ws(block, 0);
            if lead >= block.len() || block[lead] == b'#' {
                continue;
            }
            let mut text = &block[lead..];
            if text.last() == Some(&b'\n') {
                text = &text[..text.len() - 1];
            }
            match reference::parse_line(
                text,
                self.precision,
                self.default_time,
                &mut self.point,
                &mut self.scratch,
            ) {
                Ok(()) => {
                    self.point.line = line;
                    self.span = (start + lead, start + lead + text.len());
                    return Some(Item::Point(&self.point));
                }
                Err((kind, at)) => {
                    let spans = 1 + memchr::memchr_iter(b'\n', text).count() as u32;
                    return Some(Item::Error(LineError {
                        line,
                        line_start: start,
                        text_start: start + lead,
                        text_len: text.len(),
                        spans,
                        at,
                        kind,
                    }));
                }
            }
        }
    }
}

/// The joined message of a rejected batch, built as lines fail, kept within a cap.
///
/// Entries are `unable to parse '<text>': <reason>` joined by LF, held JSON-escaped (Go's
/// escaping) because that is how they leave. Past `cap` escaped bytes the message stops after
/// the last whole entry that fits and ends with `\n… and <K> more rejected lines`.
#[derive(Clone, Debug)]
pub struct Message {
    escaped: Vec<u8>,
    cap: usize,
    kept: u64,
    dropped: u64,
    entry: Vec<u8>,
}

impl Message {
    /// An empty message that keeps at most `cap` escaped bytes.
    pub fn new(cap: usize) -> Self {
        Message {
            escaped: Vec::new(),
            cap,
            kept: 0,
            dropped: 0,
            entry: Vec::new(),
        }
    }

    /// Adds a rejected line; returns whether it fit (was kept).
    pub fn push(&mut self, err: &LineError, body: &[u8]) -> bool {
        if self.dropped > 0 {
            self.dropped += 1;
            return false;
        }
        let sep = if self.kept > 0 { 2 } else { 0 };
        let room = self.cap.saturating_sub(self.escaped.len() + sep);
        // The quoted text can be huge (a stray quote swallows the rest of the body): measure
        // it before building anything.
        let text_len = json::escaped_len(err.text(body));
        if text_len + 20 > room {
            self.dropped += 1;
            return false;
        }
        self.entry.clear();
        err.write_entry(body, &mut self.entry);
        let len = json::escaped_len(&self.entry);
        if len > room {
            self.dropped += 1;
            return false;
        }
        if sep > 0 {
            self.escaped.extend_from_slice(b"\\n");
        }
        json::escape_into(&mut self.escaped, &self.entry);
        self.kept += 1;
        true
    }

    /// Counts rejected lines that were left out without being offered (they came after one
    /// that did not fit, so they could not have fitted either).
    fn add_dropped(&mut self, n: u64) {
        self.dropped += n;
    }

    /// Entries kept in the message.
    pub fn kept(&self) -> u64 {
        self.kept
    }

    /// Rejected lines left out of the message.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Whether no error was pushed.
    pub fn is_empty(&self) -> bool {
        self.kept == 0 && self.dropped == 0
    }

    /// The message, JSON-escaped, ready to sit between the quotes of `"message"`.
    pub fn escaped(&self) -> Vec<u8> {
        let mut out = self.escaped.clone();
        if self.dropped > 0 {
            if self.kept > 0 {
                out.extend_from_slice(b"\\n");
            }
            out.extend_from_slice(format!("… and {} more rejected lines", self.dropped).as_bytes());
        }
        out
    }
}

impl Default for Message {
    fn default() -> Self {
        Message::new(DEFAULT_MAX_MESSAGE)
    }
}

/// What reading a whole body found.
#[derive(Clone, Debug)]
pub struct BatchReport {
    /// Points parsed (of all valid lines, also when others failed).
    pub points: u64,
    /// Physical lines in the body.
    pub lines: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// The first rejected line (kept even when it did not fit in the message).
    pub first_error: Option<LineError>,
    /// The rejected lines that made it into the message, in body order.
    pub errors: Vec<LineError>,
    /// The joined message (empty when nothing was rejected).
    pub message: Message,
}

impl BatchReport {
    /// Whether InfluxDB would accept the batch.
    pub fn is_ok(&self) -> bool {
        self.rejected == 0
    }

    /// 1-based physical line of the first rejected line.
    pub fn first_error_line(&self) -> Option<u64> {
        self.first_error.map(|e| e.line)
    }

    /// The exact 400 body linegate answers for a rejected batch:
    /// `{"code":"invalid","message":…,"line":N}`; `None` when the batch is accepted.
    pub fn error_body(&self) -> Option<Vec<u8>> {
        let line = self.first_error_line()?;
        let msg = self.message.escaped();
        let mut out = Vec::with_capacity(msg.len() + 64);
        out.extend_from_slice(b"{\"code\":\"invalid\",\"message\":\"");
        out.extend_from_slice(&msg);
        out.extend_from_slice(b"\",\"line\":");
        out.extend_from_slice(line.to_string().as_bytes());
        out.push(b'}');
        Some(out)
    }
}

/// Reads a whole body, calling `on_point` for each parsed point, and reports the outcome.
/// `max_message` caps the message (and the list of errors kept) as spec Part A §1 says.
pub fn read_batch<'a>(
    body: &'a [u8],
    opts: &ParseOptions,
    max_message: usize,
    on_point: impl FnMut(&Point<'a>),
) -> BatchReport {
    read_batch_until(body, opts, max_message, on_point, |_| true)
}

/// [`read_batch`] without points: the same report, but floats are only validated, not
/// converted, where their value cannot change the answer (the request check).
pub fn check_batch(body: &[u8], opts: &ParseOptions, max_message: usize) -> BatchReport {
    count_batch(body, opts, max_message, false)
}

/// The points of `body` counted, not kept, through the parser loop the CPU runs best, or
/// through the portable one.
fn count_batch(
    body: &[u8],
    opts: &ParseOptions,
    max_message: usize,
    portable: bool,
) -> BatchReport {
    let mut parser = Parser::new(body, opts).counts_only();
    let mut report = BatchReport::empty(max_message);
    if portable {
        read_loop(
            &mut parser,
            &mut report,
            &mut |_| {},
            &mut |_| true,
            Parser::next_item,
        );
    } else {
        read_into(&mut parser, &mut report, &mut |_| {}, &mut |_| true);
    }
    report.lines = parser.physical_lines();
    report
}

/// [`read_batch`] with every float converted (what [`check_batch`] skips), for the
/// differential fuzz target of that fast path: the same report.
#[doc(hidden)]
pub fn check_batch_with_values(
    body: &[u8],
    opts: &ParseOptions,
    max_message: usize,
) -> BatchReport {
    read_batch(body, opts, max_message, |_| {})
}

/// [`check_batch`] through the portable build of the parser loop only (natively, the loop
/// compiled for x86-64-v3 is used where the CPU has it): for the differential tests of that
/// copy.
#[doc(hidden)]
pub fn check_batch_portable(body: &[u8], opts: &ParseOptions, max_message: usize) -> BatchReport {
    count_batch(body, opts, max_message, true)
}

/// [`read_batch`] that calls `keep_going(bytes_read)` after each line and stops early when
/// it returns `false`.
pub fn read_batch_until<'a>(
    body: &'a [u8],
    opts: &ParseOptions,
    max_message: usize,
    mut on_point: impl FnMut(&Point<'a>),
    mut keep_going: impl FnMut(usize) -> bool,
) -> BatchReport {
    let mut parser = Parser::new(body, opts);
    let mut report = BatchReport::empty(max_message);
    read_into(&mut parser, &mut report, &mut on_point, &mut keep_going);
    report.lines = parser.physical_lines();
    report
}

impl BatchReport {
    pub(crate) fn empty(max_message: usize) -> Self {
        BatchReport {
            points: 0,
            lines: 0,
            rejected: 0,
            first_error: None,
            errors: Vec::new(),
            message: Message::new(max_message),
        }
    }

    /// Counts a rejected line (`body` is what its positions refer to).
    pub(crate) fn add_error(&mut self, e: LineError, body: &[u8]) {
        self.rejected += 1;
        self.first_error.get_or_insert(e);
        if self.message.push(&e, body) {
            self.errors.push(e);
        }
    }

    /// Appends the report of the rest of the body, read from a line start where this one
    /// stopped after `line_offset` physical lines, as if one parser had read both.
    fn append(&mut self, rest: BatchReport, line_offset: u64, body: &[u8]) {
        self.points += rest.points;
        self.rejected += rest.rejected;
        self.lines = line_offset + rest.lines;
        if self.first_error.is_none() {
            self.first_error = rest.first_error.map(|e| LineError {
                line: e.line + line_offset,
                ..e
            });
        }
        // The rest's message kept a prefix of its rejected lines; offered again here, with
        // no more room than it had, they fit up to the same point or sooner.
        let offered = rest.errors.len() as u64;
        for e in rest.errors {
            let e = LineError {
                line: e.line + line_offset,
                ..e
            };
            if self.message.push(&e, body) {
                self.errors.push(e);
            }
        }
        self.message.add_dropped(rest.rejected - offered);
    }
}

fn read_into<'a>(
    parser: &mut Parser<'a>,
    report: &mut BatchReport,
    on_point: &mut impl FnMut(&Point<'a>),
    keep_going: &mut impl FnMut(usize) -> bool,
) {
    #[cfg(target_arch = "x86_64")]
    if x86_64_v3() {
        // SAFETY: the CPU has every feature `read_into_v3` is compiled for (checked just
        // above).
        return unsafe { read_into_v3(parser, report, on_point, keep_going) };
    }
    read_loop(parser, report, on_point, keep_going, Parser::next_item)
}

/// Whether this CPU has what `read_into_v3` is compiled for (x86-64-v3's integer part).
#[cfg(target_arch = "x86_64")]
#[inline]
fn x86_64_v3() -> bool {
    use std::arch::is_x86_feature_detected as has;
    has!("avx2") && has!("bmi1") && has!("bmi2") && has!("lzcnt") && has!("popcnt")
}

/// The same loop compiled for CPUs with AVX2 and BMI1/2: the parser's variable shifts (the
/// structural bitmap's cursor, the digit reader) become one-uop `shrx`/`shlx`, and the
/// 128-bit compares get VEX encodings. Same code, same answers: no float operation changes
/// with these features (no FMA is enabled, and Rust never contracts without it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,popcnt")]
fn read_into_v3<'a>(
    parser: &mut Parser<'a>,
    report: &mut BatchReport,
    on_point: &mut impl FnMut(&Point<'a>),
    keep_going: &mut impl FnMut(usize) -> bool,
) {
    // SAFETY: this function runs only where `next_item_v3`'s features are present.
    read_loop(parser, report, on_point, keep_going, |p| unsafe {
        next_item_v3(p)
    })
}

/// `next_item` compiled for x86-64-v3 (kept out of the loop, as `next_item` is).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,popcnt")]
#[inline(never)]
unsafe fn next_item_v3<'p, 'a>(parser: &'p mut Parser<'a>) -> Option<Item<'p, 'a>> {
    parser.next_item_inline()
}

#[inline(always)]
fn read_loop<'a>(
    parser: &mut Parser<'a>,
    report: &mut BatchReport,
    on_point: &mut impl FnMut(&Point<'a>),
    keep_going: &mut impl FnMut(usize) -> bool,
    next: impl for<'p> Fn(&'p mut Parser<'a>) -> Option<Item<'p, 'a>>,
) {
    let body = parser.body;
    while let Some(item) = next(parser) {
        match item {
            Item::Point(p) => {
                report.points += 1;
                on_point(p);
            }
            Item::Error(e) => {
                report.rejected += 1;
                report.first_error.get_or_insert(e);
                if report.message.push(&e, body) {
                    report.errors.push(e);
                }
            }
        }
        if !keep_going(parser.position()) {
            break;
        }
    }
}

/// Runs two tasks, possibly at the same time, and returns when both are done: what
/// [`read_batch_split`] needs from its caller to use a second thread (the core has none).
pub type Join<'j> = &'j (dyn Fn(&mut (dyn FnMut() + Send), &mut (dyn FnMut() + Send)) + Sync);

/// [`read_batch`] without points, reading the two halves of the body through `join` (on
/// two threads, if `join` runs its tasks on two). Same report as [`read_batch`]: the second
/// half counts only if the first ends exactly where it starts; when a logical line runs
/// across the split (an open quote, an escaped newline), the first half reads on alone.
pub fn read_batch_split(
    body: &[u8],
    opts: &ParseOptions,
    max_message: usize,
    join: Join<'_>,
) -> BatchReport {
    let mid = body.len() / 2;
    match memchr::memchr(b'\n', &body[mid..]) {
        Some(i) => read_batch_split_at(body, opts, max_message, mid + i + 1, join),
        None => check_batch(body, opts, max_message),
    }
}

/// [`read_batch_split`] at a chosen split, which must follow a LF; for tests.
#[doc(hidden)]
pub fn read_batch_split_at(
    body: &[u8],
    opts: &ParseOptions,
    max_message: usize,
    split: usize,
    join: Join<'_>,
) -> BatchReport {
    if split == 0 || split > body.len() || body[split - 1] != b'\n' {
        return check_batch(body, opts, max_message);
    }
    let mut first = Parser::new(body, opts).counts_only();
    let mut report = BatchReport::empty(max_message);
    let mut rest_parser = Parser::starting_at(body, opts, split).counts_only();
    let mut rest = BatchReport::empty(max_message);
    join(
        &mut || read_into(&mut first, &mut report, &mut |_| {}, &mut |pos| pos < split),
        &mut || read_into(&mut rest_parser, &mut rest, &mut |_| {}, &mut |_| true),
    );
    if first.position() == split {
        rest.lines = rest_parser.physical_lines();
        report.append(rest, first.physical_lines(), body);
    } else {
        read_into(&mut first, &mut report, &mut |_| {}, &mut |_| true);
        report.lines = first.physical_lines();
    }
    report
}
