//! The TypeScript declarations of everything that crosses between JS and the wasm side
//! (`npm/types.d.ts`): the shapes of `results`, the option objects of `options`, and the
//! unions of core's tables (`ts`). Host only (`--features ts`); `tests/dts.rs` fails when
//! the committed file and these differ, and `scripts/build-pkg.sh` writes the package's copy.

use crate::options::*;
use crate::results::*;
use crate::ts::*;

ts_union! {
    /// The kinds of `answer` ([`ANSWER_KINDS`]).
    AnswerKind = ANSWER_KINDS.iter().map(|k| format!("{k:?}"))
}

/// The TypeScript declarations of the shapes and options, as `npm/types.d.ts` holds them
/// (`--features ts`, host only): `index.d.ts` re-exports them, `tests/dts.rs` fails when
/// the file and the Rust types differ, and `scripts/build-pkg.sh` writes the package's copy.
pub fn typescript() -> String {
    use linegate_core::answers::BATCH_CHECK_ANSWERS;
    use ts_rs::TS;
    let mut out = String::from(
        "// Generated from the Rust types of src/results.rs (ts-rs) and linegate-core's tables\n\
         // of answers by tests/dts.rs: do not edit. `LINEGATE_DTS_WRITE=npm/types.d.ts cargo\n\
         // test -p linegate --features ts --test dts` writes it again; index.d.ts re-exports\n\
         // these types.\n\n\
         import type { Text } from \"./index.js\";\n",
    );
    // The header an error answer carries, from core's list (`answers::error_headers`): the
    // error code's own value is the type parameter.
    let headers = {
        const MARK: &str = "\u{0}code";
        let fields: Vec<String> = linegate_core::answers::error_headers(MARK)
            .into_iter()
            .map(|(name, value)| {
                let value = if value == MARK {
                    "C".to_string()
                } else {
                    format!("{value:?}")
                };
                format!("{name:?}: {value}, ")
            })
            .collect();
        format!(
            "type ErrorHeaders<C extends ErrorCode = ErrorCode> = {{ {}}};",
            fields.concat()
        )
    };
    let variant = |name: &str, action: &str| {
        format!("type {name} = Extract<CheckAnswer, {{ \"action\": \"{action}\" }}>;")
    };
    let batch_codes = union(BATCH_CHECK_ANSWERS.iter().map(|a| format!("{:?}", a.1)));
    let validations = format!(
        "type AcceptedValidation = Explained & {{ action: \"forward\", status: 204, \
         headers: null, body: \"\", code: null, line: null, \n\
         /**\n * The precision used.\n */\nprecision: Precision, }};\n\n\
         /**\n * A batch InfluxDB would reject, with its exact answer.\n */\n\
         export type RejectedValidation = Explained & {{ action: \"reject\", status: {}, \n\
         /**\n * The error response headers.\n */\nheaders: ErrorHeaders<{batch_codes}>, \n\
         /**\n * The exact response body.\n */\nbody: string, \n\
         /**\n * InfluxDB's error code.\n */\ncode: {batch_codes}, \n\
         /**\n * First rejected line, for parse errors; null otherwise.\n */\nline: number | null, \n\
         /**\n * The precision used; null when the request failed before (bad precision, gzip, size).\n */\n\
         precision: Precision | null, }};",
        union(BATCH_CHECK_ANSWERS.iter().map(|a| a.0.to_string())),
    );
    let doc = |text: &str| Some(format!("/**\n * {text}\n */\n"));
    // The rate quota's 429 as core makes it; a header whose value differs between two
    // answers (`Retry-After`) is a string.
    let rate_answer = {
        use linegate_core::answers::Rejection;
        let (a, b) = (
            Rejection::rate_quota(b"t", 1),
            Rejection::rate_quota(b"t", 2),
        );
        let fields: Vec<String> = (a.headers().into_iter().zip(b.headers()))
            .map(|((name, x), (_, y))| {
                let value = if x == y {
                    format!("{x:?}")
                } else {
                    "string".into()
                };
                format!("{name:?}: {value}, ")
            })
            .collect();
        format!(
            "type RateAnswer = {{ status: {}, headers: {{ {}}}, body: string, }};",
            a.status,
            fields.concat()
        )
    };
    let quota = linegate_core::answers::Rejection::series_quota();
    let quota_reject =
        format!(
        "type SeriesQuotaReject = Omit<Reject, \"status\" | \"code\" | \"headers\" | \"line\"> & \
         {{ status: {}, code: {:?}, headers: ErrorHeaders<{:?}>, line: {}, }};",
        quota.status,
        quota.code,
        quota.code,
        quota.line.map_or("null".to_string(), |_| "number".to_string()),
    );
    for (docs, decl) in [
        (ErrorCode::docs(), ErrorCode::decl()),
        (Precision::docs(), Precision::decl()),
        (UpstreamKind::docs(), UpstreamKind::decl()),
        (DeadLetterReason::docs(), DeadLetterReason::decl()),
        (doc("The headers of an error answer."), headers),
        (RejectStatus::docs(), RejectStatus::decl()),
        (PartialStatus::docs(), PartialStatus::decl()),
        (PartialCode::docs(), PartialCode::decl()),
        (CheckAnswer::docs(), CheckAnswer::decl()),
        (
            doc("A write to forward as it is."),
            variant("Forward", "forward"),
        ),
        (
            doc("A write to answer instead of forwarding."),
            variant("Reject", "reject"),
        ),
        (
            doc(
                "The series quota's 429 (spec D.2, `Rejection::series_quota`), as\n \
                 * `Checker.refuseSeries` answers it.",
            ),
            quota_reject,
        ),
        (
            doc(
                "A partial write (spec Part D.1): send `forward` (the accepted lines, plain: no\n \
                 * Content-Encoding, same path and query) and, once it is stored, answer with\n \
                 * `status`, `headers` and `body`; keep `rejectedLines`.",
            ),
            variant("PartialWrite", "partial"),
        ),
        (
            doc("What a batch's validation explains beyond InfluxDB's answer."),
            JsValidation::decl(),
        ),
        (doc("A batch InfluxDB would accept (204)."), validations),
        (
            doc(
                "The 429 of the rate quota (`Rejection::rate_quota`): with `Retry-After` (whole\n \
                 * seconds to the window's end).",
            ),
            rate_answer,
        ),
        (JsDiagnostic::docs(), JsDiagnostic::decl()),
        (JsWarning::docs(), JsWarning::decl()),
        (JsSummary::docs(), JsSummary::decl()),
        (JsRejectedLine::docs(), JsRejectedLine::decl()),
        (JsCredentials::docs(), JsCredentials::decl()),
        (
            crate::options::JsLimits::docs(),
            crate::options::JsLimits::decl(),
        ),
        (JsPrecisionRule::docs(), JsPrecisionRule::decl()),
        (JsUpstreamWrite::docs(), JsUpstreamWrite::decl()),
        (JsAnswer::docs(), JsAnswer::decl()),
        (AnswerKind::docs(), AnswerKind::decl()),
        (JsQuotaNames::docs(), JsQuotaNames::decl()),
        (JsRateUsage::docs(), JsRateUsage::decl()),
        (JsSeriesAdmission::docs(), JsSeriesAdmission::decl()),
        (JsDeliveryPolicy::docs(), JsDeliveryPolicy::decl()),
        (JsDeliveryHistory::docs(), JsDeliveryHistory::decl()),
        (JsDeliveryAttempt::docs(), JsDeliveryAttempt::decl()),
        (JsDeliveryDecision::docs(), JsDeliveryDecision::decl()),
    ] {
        out.push('\n');
        if let Some(d) = docs {
            out.push_str(&d);
        }
        out.push_str("export ");
        out.push_str(&decl);
        out.push('\n');
    }
    out
}
