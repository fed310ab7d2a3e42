//! One call for tools that check a batch (the CLI, the npm package's `validate` and `parse`,
//! the page): InfluxDB's answer plus everything linegate adds (spec Part A §3 and §6).

use crate::answers::Reason;
use crate::answers::Rejection;
use crate::batch::{read_batch_split, read_batch_until, BatchReport, Join};
use crate::diagnostics::{diagnose, Diagnostic, Summary, SummaryBuilder, Warning, Warnings};
use crate::limits::{Limits, DEFAULT_LIMITS};
use crate::pipeline::Endpoint;
use crate::pipeline::{prepare_batch, verdict, Prepared, Verdict};
use crate::point::Point;
use crate::Precision;

const PROGRESS_STEP: usize = 1 << 20;

/// What a tool checks a batch with: the raw `precision` parameter and `Content-Encoding`
/// header (absent = not sent; both taken verbatim), the clock, the limits, and which extras
/// to compute.
#[derive(Clone, Copy, Debug)]
pub struct ValidateOptions<'a> {
    /// The endpoint the batch is checked for (`/api/v2/write` or v1's `/write`).
    pub endpoint: Endpoint,
    /// The `precision` parameter as given (absent: nanoseconds).
    pub precision: Option<&'a [u8]>,
    /// The `Content-Encoding` as given (`gzip` decodes the body).
    pub content_encoding: Option<&'a [u8]>,
    /// "Now" in ns; lines without a timestamp get it, truncated to the precision.
    pub now: i64,
    /// Size limits.
    pub limits: Limits,
    /// Look for what storage would reject (costs a map lookup per new field shape).
    pub warnings: bool,
    /// Build a summary with a histogram of this many bars.
    pub summary_buckets: Option<usize>,
}

impl Default for ValidateOptions<'_> {
    fn default() -> Self {
        ValidateOptions {
            endpoint: Endpoint::V2,
            precision: None,
            content_encoding: None,
            now: 0,
            limits: DEFAULT_LIMITS,
            warnings: false,
            summary_buckets: None,
        }
    }
}

/// The outcome of [`validate`].
#[derive(Clone, Debug)]
pub struct Validation {
    /// 204 when InfluxDB would accept the batch, else the error status.
    pub status: u16,
    /// The exact HTTP body (empty for 204; parse errors carry `"line"`).
    pub body: Vec<u8>,
    /// InfluxDB's error code, for errors.
    pub code: Option<&'static str>,
    /// Which decision rejected the batch, for errors.
    pub reason: Option<Reason>,
    /// First rejected line, for parse errors.
    pub line: Option<u64>,
    /// The precision read, when it was valid.
    pub precision: Option<Precision>,
    /// Points parsed (also on rejected batches: the valid lines').
    pub points: u64,
    /// Physical lines in the decoded body.
    pub lines: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// Rejected lines explained (capped like the message; `rejected` has the total).
    pub diagnostics: Vec<Diagnostic>,
    /// Warnings kept (at most the cap).
    pub warnings: Vec<Warning>,
    /// Warnings found, kept or not.
    pub warnings_total: u64,
    /// The summary, when asked for.
    pub summary: Option<Summary>,
}

impl Validation {
    /// Whether the batch would be written (204).
    pub fn accepted(&self) -> bool {
        self.status == 204
    }

    pub(crate) fn rejected_early(r: Rejection) -> Validation {
        Validation {
            status: r.status,
            body: r.body,
            code: Some(r.code),
            line: r.line,
            reason: Some(r.reason),
            precision: None,
            points: 0,
            lines: 0,
            rejected: 0,
            diagnostics: Vec::new(),
            warnings: Vec::new(),
            warnings_total: 0,
            summary: None,
        }
    }
}

/// Checks a batch as the server would answer an authorized write naming an existing org and
/// bucket, and explains the answer. `on_point` sees every parsed point (with the body after
/// gzip decoding), also when other lines are rejected.
pub fn validate(
    body: &[u8],
    opts: &ValidateOptions<'_>,
    on_point: impl FnMut(&Point<'_>),
) -> Validation {
    validate_with_progress(body, opts, on_point, |_, _| true)
}

/// [`validate`] that also reports progress: `on_progress(bytes_read, bytes_total)` of the
/// decoded body, about every 1 MiB and once at the end. Returning `false` cancels the
/// check, which then ends as if the body stopped there (callers that cancel discard it).
pub fn validate_with_progress(
    body: &[u8],
    opts: &ValidateOptions<'_>,
    mut on_point: impl FnMut(&Point<'_>),
    mut on_progress: impl FnMut(usize, usize) -> bool,
) -> Validation {
    let prepared = match prepare(body, opts) {
        Ok(p) => p,
        Err(r) => return Validation::rejected_early(r),
    };
    let options = prepared.time.options(opts.now);
    let mut warnings = opts.warnings.then(|| {
        let w = Warnings::new(prepared.precision, 1000);
        match (prepared.time.ignores_unit(), opts.precision) {
            (true, Some(param)) => w.with_v1_unit(param, options.now),
            _ => w,
        }
    });
    let mut summary = opts.summary_buckets.map(|_| SummaryBuilder::new());
    let total = prepared.body.len();
    let mut next_report = PROGRESS_STEP;
    let report = read_batch_until(
        &prepared.body,
        &options,
        opts.limits.max_message,
        |p| {
            if let Some(w) = warnings.as_mut() {
                w.observe(p);
            }
            if let Some(s) = summary.as_mut() {
                s.observe(p);
            }
            on_point(p);
        },
        |pos| {
            if pos >= next_report {
                next_report = pos + PROGRESS_STEP;
                return on_progress(pos, total);
            }
            true
        },
    );
    on_progress(total, total);
    let (warnings, warnings_total) = warnings.map_or((Vec::new(), 0), |w| (w.list, w.total));
    let summary = summary.map(|s| s.finish(opts.summary_buckets.unwrap_or(0)));
    finish(
        &prepared.body,
        prepared.precision,
        &report,
        warnings,
        warnings_total,
        summary,
    )
}

/// [`validate`] for callers that want only the verdict and the diagnostics: no points, no
/// progress. The body is read in two halves through `join` (see
/// [`read_batch_split`](crate::read_batch_split)), which the CLI runs on two threads. With
/// warnings or a summary asked for, it reads the body in one pass like [`validate`].
pub fn validate_split(body: &[u8], opts: &ValidateOptions<'_>, join: Join<'_>) -> Validation {
    if opts.warnings || opts.summary_buckets.is_some() {
        return validate(body, opts, |_| {});
    }
    let prepared = match prepare(body, opts) {
        Ok(p) => p,
        Err(r) => return Validation::rejected_early(r),
    };
    let report = read_batch_split(
        &prepared.body,
        &prepared.time.options(opts.now),
        opts.limits.max_message,
        join,
    );
    finish(
        &prepared.body,
        prepared.precision,
        &report,
        Vec::new(),
        0,
        None,
    )
}

fn prepare<'a>(body: &'a [u8], opts: &ValidateOptions<'_>) -> Result<Prepared<'a>, Rejection> {
    prepare_batch(
        opts.endpoint,
        opts.precision,
        opts.content_encoding,
        body,
        &opts.limits,
    )
}

fn finish(
    body: &[u8],
    precision: Precision,
    report: &BatchReport,
    warnings: Vec<Warning>,
    warnings_total: u64,
    summary: Option<Summary>,
) -> Validation {
    let diagnostics = report
        .errors
        .iter()
        .map(|e| diagnose(e, body, precision))
        .collect();
    let (status, body, code, line, reason) = match verdict(report) {
        Verdict::Forward { .. } => (204, Vec::new(), None, None, None),
        Verdict::Reject(r) => (r.status, r.body, Some(r.code), r.line, Some(r.reason)),
    };
    Validation {
        status,
        body,
        code,
        line,
        reason,
        precision: Some(precision),
        points: report.points,
        lines: report.lines,
        rejected: report.rejected,
        diagnostics,
        warnings,
        warnings_total,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_precision_trap_is_warned_about() {
        let body = b"m f=1\ncpu v=1 1700000000\n";
        let opts = |p: &'static [u8]| ValidateOptions {
            endpoint: Endpoint::V1,
            precision: Some(p),
            warnings: true,
            now: 1_700_000_000_123_456_789,
            ..ValidateOptions::default()
        };
        let v = validate(body, &opts(b"h"), |_| {});
        assert!(v.accepted());
        let w = v
            .warnings
            .iter()
            .find(|w| w.kind == crate::diagnostics::WarningKind::V1Precision)
            .expect("a v1-precision warning");
        assert_eq!(w.line, 2);
        assert!(w.message.contains("as nanoseconds") && w.message.contains("precision=s"));
        for ok in [&b"s"[..], b"us", b"ns", b"n"] {
            let v = validate(body, &opts(ok), |_| {});
            assert!(v
                .warnings
                .iter()
                .all(|w| w.kind != crate::diagnostics::WarningKind::V1Precision));
        }
        // v2 rejects what v1 takes.
        let v2 = ValidateOptions {
            endpoint: Endpoint::V2,
            ..opts(b"h")
        };
        assert_eq!(
            validate(body, &v2, |_| {}).reason,
            Some(Reason::InvalidPrecision)
        );
    }
}
