//! The command line, parsed by clap (derive, as `linegate-backend` parses its own).

use std::ffi::OsString;
use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use linegate_core::{Endpoint, Limits};

#[derive(Parser)]
#[command(
    name = "linegate",
    version,
    about = "Check InfluxDB v2 line-protocol files before uploading them",
    subcommand_required = true,
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check line-protocol files as InfluxDB OSS v2 would answer a write of each (an
    /// authorized request naming an existing org and bucket).
    #[command(after_help = AFTER_HELP)]
    Check(Check),
}

const AFTER_HELP: &str = "\
Environment:
  LINEGATE_SPLIT_MIN=N   with json/jsonl and no --points, bodies of N bytes or more
                         (default 4 MiB) are read in two halves on two threads
  LINEGATE_STREAM_MIN=N  files of N bytes or more (default 1 GiB), .gz files and standard
                         input are checked as they are read, in memory bounded by the
                         longest line (--points still keeps the points of each file)

Exit status: 0 every file accepted, 1 some file rejected, 2 usage error";

/// The output format.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A report for people (default on a terminal).
    Human,
    /// One JSON array of every file's record.
    Json,
    /// One JSON record a line (default otherwise).
    Jsonl,
}

/// `linegate check`'s options. Valued options take the next argument verbatim, even one
/// starting with `-`, as InfluxDB takes the parameter or header verbatim.
#[derive(clap::Args)]
struct Check {
    /// Answer as v1's `POST /write?db=…` (precision never rejected; given timestamps
    /// scaled only for us, ms and s).
    #[arg(long)]
    v1: bool,
    /// The `precision` query parameter, verbatim (absent: not sent; empty: ns; on
    /// /api/v2/write anything but ns, us, ms, s is 400).
    #[arg(long, value_name = "P", allow_hyphen_values = true)]
    precision: Option<OsString>,
    /// The server clock in ns, for lines without a timestamp (default: the current time).
    #[arg(long, value_name = "NS", allow_hyphen_values = true)]
    now: Option<i64>,
    /// The Content-Encoding header, verbatim (default: gzip for files ending in .gz, none
    /// otherwise).
    #[arg(long, value_name = "E", allow_hyphen_values = true)]
    content_encoding: Option<OsString>,
    /// Reject bodies of N bytes or more (413).
    #[arg(long, value_name = "N")]
    max_body: Option<usize>,
    /// Reject bodies of N bytes or more after decompression (413).
    #[arg(long, value_name = "N")]
    max_batch: Option<usize>,
    /// Cap the error message at N escaped bytes.
    #[arg(long, value_name = "N")]
    max_message: Option<usize>,
    /// human (default on a terminal), jsonl (default otherwise) or json.
    #[arg(long, value_name = "F", value_enum, hide_possible_values = true)]
    format: Option<Format>,
    /// With json/jsonl: include the parsed points of accepted files.
    #[arg(long)]
    points: bool,
    /// Answer as a partial write (spec Part D.1): the accepted lines go on, the rejected
    /// ones are kept.
    #[arg(long)]
    accept_partial: bool,
    /// With --accept-partial: write every file's accepted lines here.
    #[arg(
        long,
        value_name = "A.lp",
        requires = "accept_partial",
        allow_hyphen_values = true
    )]
    accepted: Option<OsString>,
    /// With --accept-partial: write every rejected line here, one JSON object a line (file,
    /// line, reason, text).
    #[arg(
        long,
        value_name = "R.jsonl",
        requires = "accept_partial",
        allow_hyphen_values = true
    )]
    rejected: Option<OsString>,
    /// The files to check; `-` is standard input.
    #[arg(value_name = "FILE|-", required = true)]
    files: Vec<OsString>,
}

/// What `linegate check` was asked.
pub struct Args {
    pub endpoint: Endpoint,
    pub precision: Option<Vec<u8>>,
    pub now: Option<i64>,
    pub content_encoding: Option<Vec<u8>>,
    pub limits: Limits,
    pub format: Option<Format>,
    pub points: bool,
    pub accept_partial: bool,
    pub accepted: Option<OsString>,
    pub rejected: Option<OsString>,
    pub files: Vec<OsString>,
}

#[cfg(unix)]
fn os_bytes(s: OsString) -> Vec<u8> {
    use std::os::unix::ffi::OsStringExt;
    s.into_vec()
}

#[cfg(not(unix))]
fn os_bytes(s: OsString) -> Vec<u8> {
    s.to_string_lossy().into_owned().into_bytes()
}

impl From<Check> for Args {
    fn from(c: Check) -> Args {
        let mut limits = Limits::default();
        if let Some(n) = c.max_body {
            limits.max_body = n;
        }
        if let Some(n) = c.max_batch {
            limits.max_batch = n;
        }
        if let Some(n) = c.max_message {
            limits.max_message = n;
        }
        Args {
            endpoint: if c.v1 { Endpoint::V1 } else { Endpoint::V2 },
            precision: c.precision.map(os_bytes),
            now: c.now,
            content_encoding: c.content_encoding.map(os_bytes),
            limits,
            format: c.format,
            points: c.points,
            accept_partial: c.accept_partial,
            accepted: c.accepted,
            rejected: c.rejected,
            files: c.files,
        }
    }
}

/// The process's arguments, or the exit status when there is nothing to check: 0 after
/// help or the version, 2 after a usage error (printed on standard error).
pub fn parse() -> Result<Args, ExitCode> {
    match Cli::try_parse() {
        Ok(Cli { cmd: Cmd::Check(c) }) => Ok(c.into()),
        Err(e) => {
            let e = match (e.kind(), e.get(ContextKind::InvalidArg)) {
                // An option this command does not have is named as such.
                (ErrorKind::UnknownArgument, Some(ContextValue::String(arg))) => {
                    let mut cmd = Cli::command();
                    cmd.build();
                    let check = cmd.find_subcommand_mut("check").expect("check command");
                    check.error(ErrorKind::UnknownArgument, format!("unknown option {arg}"))
                }
                _ => e,
            };
            let _ = e.print();
            Err(ExitCode::from(e.exit_code().clamp(0, 255) as u8))
        }
    }
}
