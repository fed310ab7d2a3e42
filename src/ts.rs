//! TypeScript unions of core's tables (error codes, statuses, precisions, upstream kinds,
//! dead-letter reasons, warning names), for the `ts-rs` derives of the shapes in `results`
//! and `options` (`#[ts(as = ...)]`) and for the declarations `dts` writes. Host only
//! (`--features ts`): nothing here reaches the wasm build.

/// `a | b | c`.
pub(crate) fn union(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(" | ")
}

/// A TypeScript union named `$name`, of the literals `$members` gives (from core's tables).
macro_rules! ts_union {
    ($(#[doc = $doc:literal])* $name:ident = $members:expr) => {
        $(#[doc = $doc])*
        pub(crate) struct $name;

        impl ts_rs::TS for $name {
            type WithoutGenerics = Self;
            type OptionInnerType = Self;
            fn docs() -> Option<String> {
                let lines: Vec<&str> = vec![$($doc),*];
                Some(format!("/**\n *{}\n */\n", lines.join("\n *")))
            }
            fn name() -> String {
                stringify!($name).to_string()
            }
            fn inline() -> String {
                union($members)
            }
            fn inline_flattened() -> String {
                Self::inline()
            }
            fn decl() -> String {
                format!("type {} = {};", stringify!($name), Self::inline())
            }
            fn decl_concrete() -> String {
                Self::decl()
            }
        }
    };
}

ts_union! {
    /// InfluxDB's error codes, as in the body's `code` and the `X-Platform-Error-Code`
    /// header: the write check's (`linegate_core::answers::WRITE_CHECK_ANSWERS`) and the
    /// series quota's.
    ErrorCode = linegate_core::answers::WRITE_CHECK_ANSWERS
        .iter()
        .map(|a| a.1)
        .chain([linegate_core::answers::Rejection::series_quota().code])
        .map(|c| format!("{c:?}"))
}

ts_union! {
    /// The statuses of a rejected write (`linegate_core::answers::WRITE_CHECK_ANSWERS`).
    RejectStatus = linegate_core::answers::WRITE_CHECK_ANSWERS.iter().map(|a| a.0.to_string())
}

ts_union! {
    /// A partial write's status: the parse errors' (`Rejection::parse_errors`).
    PartialStatus = std::iter::once(
        linegate_core::answers::Rejection::parse_errors(Vec::new(), None).status.to_string()
    )
}

ts_union! {
    /// A partial write's error code: the parse errors'.
    PartialCode = std::iter::once(format!(
        "{:?}",
        linegate_core::answers::Rejection::parse_errors(Vec::new(), None).code
    ))
}

ts_union! {
    /// A timestamp precision, as the `precision` parameter names it (`Precision::ALL`).
    Precision = linegate_core::Precision::ALL.iter().map(|p| format!("{:?}", p.as_str()))
}

ts_union! {
    /// What an edge forwards to: InfluxDB OSS v2 (as linegate), InfluxDB 1.x, or
    /// VictoriaMetrics (`upstream::Kind::ALL`).
    UpstreamKind = linegate_core::upstream::Kind::ALL
        .iter()
        .map(|k| format!("{:?}", k.as_str()))
}

ts_union! {
    /// Why a stored batch became a dead letter (`delivery::DeadReason::ALL`).
    DeadLetterReason = linegate_core::delivery::DeadReason::ALL
        .iter()
        .map(|r| format!("{:?}", r.as_str()))
}

/// A warning's kind in TypeScript: the union of core's names (`WarningKind::name`).
pub(crate) struct WarningName;

impl ts_rs::TS for WarningName {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;
    fn name() -> String {
        Self::inline()
    }
    fn inline() -> String {
        let names: Vec<String> = linegate_core::diagnostics::WarningKind::ALL
            .iter()
            .map(|k| format!("\"{}\"", k.name()))
            .collect();
        names.join(" | ")
    }
    fn inline_flattened() -> String {
        Self::inline()
    }
    fn decl() -> String {
        format!("type WarningName = {};", Self::inline())
    }
    fn decl_concrete() -> String {
        Self::decl()
    }
}

pub(crate) use ts_union;

/// Core's write endpoints, listed by a match that fails to compile when one is added.
fn endpoints() -> [linegate_core::Endpoint; 2] {
    use linegate_core::Endpoint;
    let _every = |e: Endpoint| match e {
        Endpoint::V2 | Endpoint::V1 => (),
    };
    [Endpoint::V2, Endpoint::V1]
}

ts_union! {
    /// The write endpoint: InfluxDB v2's, or the v1-compatibility `/write` (`db`, `rp`,
    /// `u`/`p`) (`Endpoint::path`).
    Endpoint = endpoints().into_iter().map(|e| format!("{:?}", e.path()))
}

/// Core's partial-write switches, listed by a match that fails to compile when one is added.
fn partial_writes() -> [linegate_core::partial::PartialWrites; 3] {
    use linegate_core::partial::PartialWrites as P;
    let _every = |p: P| match p {
        P::Off | P::Request | P::Always => (),
    };
    [P::Off, P::Request, P::Always]
}

ts_union! {
    /// `acceptPartial`'s values (spec Part D.1): a boolean (`true` is `"always"`) or the
    /// switch's names (`PartialWrites::name`).
    AcceptPartial = std::iter::once("boolean".to_string())
        .chain(partial_writes().into_iter().map(|p| format!("{:?}", p.name())))
}
